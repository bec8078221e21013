"""The scheduled event's gap (earnings): at ``event_time`` the mid gaps by
G ~ N(event_jump_mean, event_jump_std²) price units (for a GBM mid, s *= exp(G/s0)).

Draws: one word per path at the event's step only (its Box–Muller first normal), after
jumps and informed flow. Writes ``W_S``. Its parameters are packed with the hedging
model's (``HP_EVENT``, ``HP_EJ_MEAN``, ``HP_EJ_STD``: :func:`flatbook.hedging.model.pack_hedge`),
because the event also drives the pause and the flatten around it.
"""

from __future__ import annotations

import numba as nb

from ...numerics.rng import box_muller, next_u64
from ..layout import BLOCK, W_S
from .jumps import gap


@nb.njit(inline="always", cache=True, error_model="numpy")
def step(w, st, mean, std, gbm, s0):
    """Gap the block's mids once."""
    for j in range(BLOCK):
        stj, xe = next_u64(st[j])
        st[j] = stj
        ze, _ = box_muller(xe)
        w[W_S, j] = gap(w[W_S, j], mean + std * ze, gbm, s0)
