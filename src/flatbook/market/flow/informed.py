"""Informed flow (adverse selection): after each fill, with probability ``informed_frac``
the mid moves ``informed_move`` price units in the taker's direction (up after our ask
fills, down after our bid fills); Glosten & Milgrom 1985 in its simplest form.

Draws: one word per path-step when on, after the jumps stage: ``hi31`` for the ask
side, ``mid31`` for the bid side. Reads ``W_FA``, ``W_FB`` (this step's fills);
writes ``W_S``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numba as nb
import numpy as np

from ...numerics.rng import hi31, mid31, next_u64
from ..layout import BLOCK, MP_INF_FRAC, MP_INF_MOVE, W_FA, W_FB, W_S


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the informed fraction (probability) and move (price units)."""
    mp[MP_INF_FRAC], mp[MP_INF_MOVE] = v["informed_frac"], v["informed_move"]


@nb.njit(inline="always", cache=True, error_model="numpy")
def step(w, st, inf_frac, inf_move):
    """Move the block's mids after this step's fills."""
    for j in range(BLOCK):
        stj, xi = next_u64(st[j])
        st[j] = stj
        if w[W_FA, j] > 0.0 and hi31(xi) < inf_frac:
            w[W_S, j] += inf_move
        if w[W_FB, j] > 0.0 and mid31(xi) < inf_frac:
            w[W_S, j] -= inf_move
