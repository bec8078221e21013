"""The seed-000 mini-project flow: one market order per step.

A buy with probability 0.5 + ``flow_bias`` + μ (clipped to [0, 1]), μ ~ N(0,
``flow_bias_std``²) redrawn every ``flow_regime_steps`` steps; its size is
``order_size_mean`` (fixed) or exponential with that mean. It executes against our
quote on its side with probability min(1, A·e^(−kδ)·dt) (:func:`.intensity.fill`),
so a skewed, closer quote attracts the flattening flow; the fill is
min(order size, quote size).

Draws, per path-step, the step's first: one word (``hi31``: the side; ``mid31``: the
fill uniform; bit 0: the binomial mid's sign); on a redraw step, then one word for μ
(Box–Muller first normal); with exponential sizes, then one word for the size
(``unit53``). Reads/writes ``W_MU``; writes ``W_UB``, ``W_UA`` (+inf on the side the
order is not on), ``W_OSZ``, ``W_DS``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numba as nb
import numpy as np

from ...numerics.rng import box_muller, hi31, mid31, next_u64, unit53
from ..layout import (
    BLOCK,
    MP_BIAS,
    MP_BIAS_STD,
    MP_BIAS_STEPS,
    MP_ODIST,
    MP_OSIZE,
    W_DS,
    W_HIVOL,
    W_MU,
    W_OSZ,
    W_UA,
    W_UB,
)
from ..mid.binomial import move

#: the order-size distributions, in the order of their numbers (``MP_ODIST``)
SIZES = ("fixed", "exponential")


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the bias (probability), its std and regime length (steps), and the order size (lots)."""
    mp[MP_BIAS], mp[MP_BIAS_STD], mp[MP_BIAS_STEPS] = v["flow_bias"], v["flow_bias_std"], v["flow_regime_steps"]
    mp[MP_OSIZE] = v["order_size_mean"]
    mp[MP_ODIST] = SIZES.index(v["order_size_dist"])


@nb.njit(inline="always", cache=True, error_model="numpy")
def draw(w, st, redraw, bias, bias_std, osize, oexp, binomial, rmult, sq_dt):
    """The block's orders for the step (``redraw``: a new μ this step; ``oexp``: exponential sizes)."""
    for j in range(BLOCK):
        stj, x = next_u64(st[j])
        if redraw:
            stj, xm = next_u64(stj)
            zmu, _ = box_muller(xm)
            w[W_MU, j] = zmu * bias_std
        osz = osize
        if oexp:
            stj, xs = next_u64(stj)
            osz = -osize * math.log(unit53(xs))
        st[j] = stj
        buy = hi31(x) < min(max(0.5 + bias + w[W_MU, j], 0.0), 1.0)
        w[W_UB, j] = math.inf if buy else mid31(x)
        w[W_UA, j] = mid31(x) if buy else math.inf
        w[W_OSZ, j] = osz
        w[W_DS, j] = move(x, binomial, w[W_HIVOL, j], rmult, sq_dt)
