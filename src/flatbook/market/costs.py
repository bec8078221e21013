"""Costs: fees and financing on the quotes' fills and position, and the carry of a book.

Per step dt (rates per time unit, packed × dt):

- maker fee: ``maker_fee`` per lot filled (price units per lot);
- financing: ``financing_long``·max(q, 0) + ``financing_short``·max(−q, 0), on the
  position after the step's fills (price units per lot per time unit);
- carry (:func:`carry`, on only when a rate is set): hard-to-borrow
  ``borrow_htb``·max(−q − htb_above, 0); funding ``funding_rate`` on the notional
  (q·s, or y·h for a proxy hedge: the perp leg); capital ``haircut``·|q|·s +
  ``hedge_margin``·|y|·h. The carry's rates are packed with the hedging model's
  (:func:`flatbook.hedging.model.pack_hedge`: ``HP_HTB``, ``HP_FUND``, ``HP_CAPRATE``…).

A user's cost stage (:mod:`flatbook.market.cost_stage`) replaces the maker fee and the
financing (:func:`fill_costs`), not the carry.

Draws: none. :func:`fill_costs` is called by the book step per path; :func:`carry`
reads ``W_Q``, ``W_S``, ``WH_Y``, ``WH_H`` and charges ``W_CASH``, ``W_BORROW``,
``WH_FUND``, ``WH_CAP``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numba as nb
import numpy as np

from .layout import BLOCK, MP_FEE, MP_FIN_L, MP_FIN_S, W_BORROW, W_CASH, W_Q, W_S, WH_CAP, WH_FUND, WH_H, WH_Y


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the financing rates (per lot per time unit) and the maker fee (per lot)."""
    mp[MP_FIN_L], mp[MP_FIN_S], mp[MP_FEE] = v["financing_long"], v["financing_short"], v["maker_fee"]


@nb.njit(inline="always", cache=True, error_model="numpy")
def fill_costs(fee, fin_l, fin_s, a, b, qn):
    """(fee, financing of a long, borrow of a short) for a step with fills a (ask), b (bid) lots
    and position qn after them; fin_l, fin_s are the rates × dt."""
    fee_j = fee * (a + b)
    fl = fin_l * max(qn, 0.0)  # financing of a long, borrow of a short (easy tier)
    fs = fin_s * max(-qn, 0.0)
    return fee_j, fl, fs


@nb.njit(inline="always", cache=True, error_model="numpy")
def carry(w, wh, proxy, htb_dt, htb_above, fund_dt, cap_dt, haircut, margin):
    """Charge the block's carrying costs for the step (rates × dt; see the module docstring)."""
    for j in range(BLOCK):
        q = w[W_Q, j]
        s_ = w[W_S, j]
        y = wh[WH_Y, j]
        h = wh[WH_H, j]
        htb = htb_dt * max(-q - htb_above, 0.0)
        fund = fund_dt * (y * h if proxy else q * s_)
        capc = cap_dt * (haircut * abs(q) * s_ + margin * abs(y) * h)
        w[W_CASH, j] -= htb + fund + capc
        w[W_BORROW, j] += htb
        wh[WH_FUND, j] += fund
        wh[WH_CAP, j] += capc
