"""Stoll (1978) dealer quotes, as seed 000 describes them, made consistent.

Stoll, H. R. (1978), "The Supply of Dealer Services in Securities Markets",
J. Finance 33(4). A dealer with holding cost C(I) = g·I² (I = q − q_target)
charges the marginal cost dC/dI = 2gI on top of the fair price, so the whole
quote shades against inventory, and the half-spread widens with |I| (the
seed's "S = S0 + 2γI" spread/inventory relation):

    centre = s − 2g·(q − q*)
    h(q)   = h0 + g·|q − q*|
    bid = centre − h(q),  ask = centre + h(q)

Long by I > 0: ask = s + h0 − g·I and bid = s − h0 − 3g·I, so both quotes
fall and the flattening side (the ask) becomes the keener one. Seed 000's own
code has "newAsk = mid + halfSpread + γ×I", which *raises* the ask when long;
that is a slip, not Stoll.

Parameters: h0 = ``half_spread`` (price units), g = ``stoll_gamma`` (price
units per lot; the seed's inventory cost parameter γ, renamed because
``gamma`` is risk aversion throughout flatbook), q* = ``q_target`` (lots).
``p = (half_spread, stoll_gamma, q_target)`` (:mod:`flatbook.policies.base`).
"""

from __future__ import annotations

from .base import policy


@policy(
    ["half_spread", "stoll_gamma", "q_target"],
    name="stoll",
    rung=1,
    source="Stoll (1978); seed 000",
    summary="centre = mid − 2·stoll_gamma·(q − q*); half-spread = half_spread + stoll_gamma·|q − q*|",
)
def stoll(p, t, tau, s, q):
    """(bid depth, ask depth) = (h(q) + 2g·(q−q*), h(q) − 2g·(q−q*)), price units."""
    inv = q - p.q_target
    h = p.half_spread + p.stoll_gamma * abs(inv)
    c = 2.0 * p.stoll_gamma * inv
    return h + c, h - c
