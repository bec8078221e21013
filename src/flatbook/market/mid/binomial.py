"""Binomial mid (Avellaneda & Stoikov 2008, §3): s += ±σ√dt with probability ½ each.

Draws: none of its own. The sign is bit 0 of the flow stage's word
(:mod:`flatbook.market.flow.intensity`, :mod:`flatbook.market.flow.orders`), whose
other bits give the fill uniforms, so the A–S market costs one draw per path-step.
Reads: ``W_HIVOL`` (regimes). The flow stage writes the move to ``W_DS``; the book
step adds it to ``W_S`` after the fills (the quotes fill at the old mid).
The mid is not floored: with σ√T comparable to s0 it can reach zero or below, as in the model.
"""

from __future__ import annotations

import numba as nb

from ...numerics.rng import low_bit
from .regimes import vol_mult


@nb.njit(inline="always", cache=True, error_model="numpy")
def move(x, binomial, hivol, rmult, sq_dt):
    """The step ±σ√dt (× rmult in the volatile regime) from bit 0 of the word x; 0 if not ``binomial``."""
    mult = vol_mult(hivol, rmult)
    return sq_dt * mult * (2.0 * low_bit(x) - 1.0) if binomial else 0.0
