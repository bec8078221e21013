"""Rung 1 (seed 001, "linear inventory skew"): shift the quote centre against q.

    centre = s - skew * (q - q_target),   bid/ask = centre -/+ h

``skew`` is the seed's k (price units per lot), h = ``half_spread`` (price
units), ``q_target`` in lots: ``p = (half_spread, skew, q_target)``
(:mod:`flatbook.policies.base`).
"""

from __future__ import annotations

from .base import policy


@policy(
    ["half_spread", "skew", "q_target"],
    name="linear-skew",
    rung=1,
    source="seed 001, rung 1",
    summary="centre = mid − skew·(q − q_target); bid/ask = centre ∓ half_spread",
)
def linear_skew(p, t, tau, s, q):
    """(bid depth, ask depth) = (h + skew·(q−q*), h − skew·(q−q*))."""
    c = p.skew * (q - p.q_target)
    return p.half_spread + c, p.half_spread - c
