"""Jumps: with probability ``jump_rate``·dt per step, a gap J ~ N(jump_mean, jump_std²).

J is in price units; for a GBM mid it is applied as s *= exp(J/s0), otherwise s += J
(Merton 1976 in its discrete form: at most one jump per step).

Draws: one word per path-step when jumps or regimes are on (they share it):
``hi31`` decides the jump; if it jumps, a second word's Box–Muller *second* normal
is J's Z; then ``mid31`` of the first word drives the regime switch
(:func:`flatbook.market.mid.regimes.switch`). Reads/writes ``W_S``, ``W_HIVOL``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numba as nb
import numpy as np

from ...numerics.rng import box_muller, hi31, mid31, next_u64
from ..layout import BLOCK, MP_JMEAN, MP_JRATE, MP_JSTD, W_HIVOL, W_S
from .regimes import switch


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the jump rate (per time unit), mean and std (price units)."""
    mp[MP_JRATE], mp[MP_JMEAN], mp[MP_JSTD] = v["jump_rate"], v["jump_mean"], v["jump_std"]


@nb.njit(inline="always", cache=True, error_model="numpy")
def gap(s, g, gbm, s0):
    """The mid s after a gap g (price units): s·exp(g/s0) for a GBM mid, else s + g."""
    return s * math.exp(g / s0) if gbm else s + g


@nb.njit(inline="always", cache=True, error_model="numpy")
def step(w, st, jumps, regimes, jump_p, jmean, jstd, gbm, s0, rup_p, rdown_p):
    """Jumps (probability jump_p per step) and regime switches (rup_p, rdown_p) for the block."""
    for j in range(BLOCK):
        stj, xj = next_u64(st[j])
        if jumps and hi31(xj) < jump_p:
            stj, xn = next_u64(stj)
            _, zj = box_muller(xn)
            jmp = jmean + jstd * zj
            w[W_S, j] = gap(w[W_S, j], jmp, gbm, s0)
        st[j] = stj
        if regimes:
            w[W_HIVOL, j] = switch(mid31(xj), w[W_HIVOL, j], rup_p, rdown_p)
