"""Rung 1 (seed 001, "linear inventory skew"): shift the quote centre against q.

    centre = s - skew * (q - q_target),   bid/ask = centre -/+ h

``skew`` is the seed's k (price units per lot), h = ``half_spread`` (price
units), ``q_target`` in lots. Packed ``pp = [h, skew, q_target]``.
"""
from __future__ import annotations

import numba as nb


@nb.njit(inline="always", cache=True, error_model="numpy")
def depths(pp, tab, i, tau, s, q):
    """(bid depth, ask depth) = (h + skew·(q−q*), h − skew·(q−q*))."""
    c = pp[1] * (q - pp[2])
    return pp[0] + c, pp[0] - c
