"""A–S intensity flow (Avellaneda & Stoikov 2008, eq. 2, discretised): each side fills
with probability min(1, A·e^(−kδ)·dt), δ the quote's depth from the mid; both sides
may fill in one step; a fill is the quote's size.

Draws: one word per path-step, the step's first: ``hi31`` is the bid's uniform,
``mid31`` the ask's, bit 0 the binomial mid's sign (:mod:`flatbook.market.mid.binomial`).
Writes ``W_UB``, ``W_UA`` (the uniforms a fill must beat), ``W_OSZ`` (+inf: no size
cap from the flow) and ``W_DS`` (the binomial move). :func:`fill` is the fill rule the
book step applies, for this flow and for :mod:`.orders`; :func:`filled`, the same rule on
any probability (a user's fill stage, :mod:`flatbook.market.fill_stage`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numba as nb
import numpy as np

from ...numerics.fastexp import fast_exp
from ...numerics.rng import hi31, mid31, next_u64
from ..layout import BLOCK, MP_A, MP_K, W_DS, W_HIVOL, W_OSZ, W_UA, W_UB
from ..mid.binomial import move


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write A (per time unit) and k (per price unit)."""
    mp[MP_A], mp[MP_K] = v["A"], v["k"]


@nb.njit(inline="always", cache=True, error_model="numpy")
def draw_one(x, binomial, hivol, rmult, sq_dt):
    """One path's flow from its step word ``x``: (bid uniform, ask uniform, binomial mid move). The one home of
    this flow's use of the word, for :func:`draw` and the lean kernel's fused step."""
    return hi31(x), mid31(x), move(x, binomial, hivol, rmult, sq_dt)


@nb.njit(inline="always", cache=True, error_model="numpy")
def draw(w, st, binomial, rmult, sq_dt):
    """The block's flow for the step (see the module docstring)."""
    for j in range(BLOCK):
        stj, x = next_u64(st[j])
        st[j] = stj
        ub, ua, ds = draw_one(x, binomial, w[W_HIVOL, j], rmult, sq_dt)
        w[W_UB, j] = ub
        w[W_UA, j] = ua
        w[W_OSZ, j] = math.inf
        w[W_DS, j] = ds


@nb.njit(inline="always", cache=True, error_model="numpy")
def filled(u, osz, qsize, prob):
    """Lots filled on one side: min(order size, quote size) if the flow's uniform u (in [0, 1)) beats
    the fill probability ``prob`` (so above 1 counts as 1, NaN as 0), else 0."""
    return min(osz, qsize) if u < prob else 0.0


@nb.njit(inline="always", cache=True, error_model="numpy")
def fill(u, osz, qsize, Adt, kk, depth):
    """Lots filled on one side at probability A·dt·e^(−k·depth) (:func:`filled`;
    :func:`~flatbook.numerics.fastexp.fast_exp`)."""
    return filled(u, osz, qsize, Adt * fast_exp(-kk * depth))
