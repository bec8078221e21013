"""Rung 0 of the ladder (seed 001): symmetric quotes around the mid.

    bid = s - h,   ask = s + h        (whatever the inventory)

Packed parameters ``pp = [h]``, h = ``half_spread`` in price units.
"""
from __future__ import annotations

import numba as nb


@nb.njit(inline="always", cache=True, error_model="numpy")
def depths(pp, tab, i, tau, s, q):
    """(bid depth, ask depth) from the mid, price units: (h, h)."""
    return pp[0], pp[0]
