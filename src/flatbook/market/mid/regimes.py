"""Volatility regimes: a two-state Markov chain that scales the mid's σ.

Calm → volatile with probability ``regime_up_rate``·dt per step, back with
``regime_down_rate``·dt; in the volatile state σ is multiplied by ``regime_sigma_mult``
(a discretised two-state Markov-switching volatility, Hamilton 1989).

State: row ``W_HIVOL`` (1.0 volatile, 0.0 calm); it starts calm.
Draws: none of its own. The switch reads ``mid31`` of the jumps stage's word
(:func:`flatbook.market.mid.jumps.step`), after any jump.
"""

from __future__ import annotations

from collections.abc import Mapping

import numba as nb
import numpy as np

from ..layout import MP_RDOWN, MP_RMULT, MP_RUP


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the regime rates (per time unit) and the σ multiplier (×)."""
    mp[MP_RMULT], mp[MP_RUP], mp[MP_RDOWN] = v["regime_sigma_mult"], v["regime_up_rate"], v["regime_down_rate"]


@nb.njit(inline="always", cache=True, error_model="numpy")
def vol_mult(hivol, rmult):
    """σ's multiplier in the path's regime: ``rmult`` if volatile, else 1."""
    return rmult if hivol > 0.0 else 1.0


@nb.njit(inline="always", cache=True, error_model="numpy")
def switch(u, hivol, rup_p, rdown_p):
    """The next regime (1.0 volatile, 0.0 calm) from a uniform ``u`` on [0, 1):
    volatile stays unless u < rdown_p; calm turns volatile if u < rup_p (probabilities per step)."""
    hv = hivol > 0.0
    return (u >= rdown_p) * 1.0 if hv else (u < rup_p) * 1.0
