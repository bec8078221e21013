"""Diffusive mids: arithmetic or geometric Brownian motion, stepped exactly.

- ``abm``: s += σ·√dt·Z;
- ``gbm``: s *= exp(a·Z − a²/2), a = (σ/s0)·√dt (σ is the volatility at s0; the
  log-normal step has mean 1, so E[s] stays s0).

σ is scaled by the regime's multiplier (:mod:`.regimes`).
Draws: one word per path-step, after the book step (fills) and before jumps: its
Box–Muller first normal is Z (:func:`flatbook.numerics.rng.box_muller`).
Reads ``W_HIVOL``; writes ``W_S``.
"""

from __future__ import annotations

import math

import numba as nb

from ...numerics.rng import box_muller, next_u64
from ..layout import BLOCK, MODEL_ABM, W_HIVOL, W_S
from .regimes import vol_mult


@nb.njit(inline="always", cache=True, error_model="numpy")
def step(w, st, xs, model, rmult, sq_dt, rel_sq_dt):
    """Move the block's mids (row ``W_S`` of the block state ``w``; ``st`` the paths' streams, ``xs``
    a scratch array of BLOCK words): ABM if ``model == MODEL_ABM``, else GBM. sq_dt = σ√dt, rel_sq_dt = σ√dt/s0.

    Two loops: the draws (SplitMix64 vectorises) and the move (libm's log, cos and exp, scalar);
    in one loop the libm calls keep the draws scalar too."""
    for j in range(BLOCK):
        stj, xn = next_u64(st[j])
        st[j] = stj
        xs[j] = xn
    for j in range(BLOCK):
        zn1, _ = box_muller(xs[j])
        mult = vol_mult(w[W_HIVOL, j], rmult)
        if model == MODEL_ABM:
            w[W_S, j] += sq_dt * mult * zn1
        else:
            a_ = rel_sq_dt * mult
            w[W_S, j] *= math.exp(a_ * zn1 - 0.5 * a_ * a_)
