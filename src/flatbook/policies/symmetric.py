"""Rung 0 of the ladder (seed 001): symmetric quotes around the mid.

    bid = s - h,   ask = s + h        (whatever the inventory)

h = ``half_spread`` in price units. A policy like any other
(:mod:`flatbook.policies.base`): ``p = (half_spread,)``.
"""

from __future__ import annotations

from .base import policy


@policy(
    ["half_spread"],
    name="symmetric",
    rung=0,
    source="seed 001, rung 0",
    summary="bid/ask = mid ∓ half_spread, whatever the position",
)
def symmetric(p, t, tau, s, q):
    """(bid depth, ask depth) from the mid, price units: (h, h)."""
    return p.half_spread, p.half_spread
