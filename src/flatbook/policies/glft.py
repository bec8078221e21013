"""Guéant, Lehalle & Fernandez-Tapia (2013) quotes, closed form or exact.

"Dealing with the inventory risk: a solution to the market making problem",
Math. Financ. Econ. 7, 477–507. With c = (1/γ)ln(1+γ/k) and
ω = sqrt(σ²γ/(2kA)·(1+γ/k)^(1+k/γ)) the asymptotic closed form is

    δb(q) = c + (2(q−q*)+1)/2·ω,     δa(q) = c − (2(q−q*)−1)/2·ω

(``solution=closed``, the default). ``solution=exact`` quotes from the exact
finite-horizon solution v_q(t) = [expm(−M(T−t))·1]_q of the linear ODE system
(see :mod:`flatbook.policies.glft_solution`), tabulated on the simulation's
time grid and interpolated linearly in q. The inventory bound Q is the hard
``limit`` (lots); the exact solution needs it finite.

Packed parameters: closed ``pp = [c, ω, q*]``; exact ``pp = [Q]`` with
``tab[i] = [δb(t_i, −Q..Q), δa(t_i, −Q..Q)]`` (+inf where a side is not quoted),
solved with the penalty α(q − q*)² (so q* is in the table, and q indexes it
absolutely: the bound ±Q is the hard limit, whatever q*).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(inline="always", cache=True, error_model="numpy")
def depths_closed(pp, tab, i, tau, s, q):
    """Closed-form GLFT depths (price units) at inventory q (lots)."""
    x = q - pp[2]
    return pp[0] + (x + 0.5) * pp[1], pp[0] - (x - 0.5) * pp[1]


@nb.njit(inline="always", cache=True, error_model="numpy")
def _interp(row, off, n, x):
    """Linear interpolation of row[off : off+n] at fractional index x (clamped)."""
    x = min(max(x, 0.0), n - 1.0)
    j = np.int64(math.floor(x))
    f = x - j
    lo = row[off + j]
    if f <= 0.0:
        return lo
    hi = row[off + j + 1]
    if math.isinf(lo) or math.isinf(hi):
        return math.inf
    return lo + f * (hi - lo)


@nb.njit(inline="always", cache=True, error_model="numpy")
def depths_exact(pp, tab, i, tau, s, q):
    """Exact finite-horizon GLFT depths, from the table row of time step i."""
    n = 2 * np.int64(pp[0]) + 1
    x = q + pp[0]
    ii = min(max(i, 0), tab.shape[0] - 1)
    row = tab[ii]
    return _interp(row, 0, n, x), _interp(row, n, n, x)
