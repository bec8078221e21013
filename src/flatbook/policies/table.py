"""Table policies: depths given on a (t, q) grid, interpolated the same way in every engine.

This is how a solver's or a learner's output is deployed; the exact GLFT policy
(:mod:`flatbook.policies.glft`) is one. The table holds ``bid[r, j]`` and
``ask[r, j]`` (price units, +inf: side not quoted) at times ``t_r`` and inventories
``q_j = q0 + j·dq`` (a uniform grid, lots). At state (t, q):

- time: the row in force at t, ``r = ⌊(t − t0)/Δt⌋`` (piecewise constant, clamped to the
  table), or, for a table built on the run's own step grid (``t_grid=None``), the row of the
  current step i;
- inventory: linear interpolation between the two nearest columns, clamped at the ends
  (beyond the grid the end column's depths hold); if either neighbour is +inf the side is
  not quoted.

Packed ``p = (steps, t0, inv_dt, q0, inv_dq, nq)``: steps = 1 when the rows are the run's
steps; the rows themselves are the kernel's ``tab`` (``[bid row | ask row]``).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba as nb
import numpy as np

from ..errors import InputError
from .base import Bound, Policy, _make_as_params

FIELDS = ("steps", "t0", "inv_dt", "q0", "inv_dq", "nq")
_TOKEN = "flatbook.policies.table"  # the code is in the model digest; the data is not compiled in


@nb.njit(inline="always", cache=True, error_model="numpy")
def interp(row, off, n, x):
    """Linear interpolation of row[off : off+n] at fractional index x (clamped); +inf if a neighbour is."""
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
def depths(p, tab, i, t, tau, s, q):
    """Table depths at step i / time t and inventory q (see the module docstring)."""
    n = np.int64(p[5])
    x = (q - p[3]) * p[4]
    r = i if p[0] > 0.5 else np.int64(math.floor((t - p[1]) * p[2] + 1e-9))
    ii = min(max(r, 0), tab.shape[0] - 1)
    row = tab[ii]
    return interp(row, 0, n, x), interp(row, n, n, x)


_AS_PARAMS = _make_as_params(namedtuple("table_params", FIELDS), len(FIELDS))


def _uniform(name: str, grid, n: int) -> tuple[float, float]:
    g = np.asarray(grid, float)
    if g.ndim != 1 or g.size != n or not np.all(np.isfinite(g)):
        raise InputError(name, f"must be {n} finite numbers (one per table {'row' if name == 't_grid' else 'column'})")
    if n == 1:
        return float(g[0]), 0.0
    d = np.diff(g)
    if not (np.all(d > 0) and np.allclose(d, d[0], rtol=1e-9, atol=0.0)):
        raise InputError(name, "must be increasing and evenly spaced")
    return float(g[0]), float(1.0 / d[0])


def _table(bid, ask) -> np.ndarray:
    b, a = np.asarray(bid, float), np.asarray(ask, float)
    if b.ndim == 1:
        b, a = b[None, :], a[None, :]
    if b.shape != a.shape or b.ndim != 2:
        raise InputError("bid", f"bid and ask must be 2-D arrays of the same shape (t, q); got {b.shape} and {a.shape}")
    if np.isnan(b).any() or np.isnan(a).any() or (b == -np.inf).any() or (a == -np.inf).any():
        raise InputError("bid", "the table holds NaN or -inf; allowed: numbers, or +inf where a side is not quoted")
    both = np.isfinite(b) & np.isfinite(a)
    if (b[both] + a[both] < 0).any():
        raise InputError("bid", "bid + ask depth < 0 somewhere in the table (crossed quotes)")
    return np.ascontiguousarray(np.hstack([b, a]))


def table_bound(pol: Policy, t_grid, q_grid, bid, ask, check: bool = True) -> Bound:
    """``pol`` (a table policy) bound to arrays: see :func:`table_policy`. ``check=False``
    skips the validation of the depths (a built-in solver's table)."""
    tab = _table(bid, ask) if check else np.ascontiguousarray(np.hstack([bid, ask]), float)
    nt, nq = tab.shape[0], tab.shape[1] // 2
    steps = t_grid is None
    t0, inv_dt = (0.0, 0.0) if steps else _uniform("t_grid", t_grid, nt)
    q0, inv_dq = _uniform("q_grid", q_grid, nq)
    if nq == 1:
        inv_dq = 0.0
    pp = np.array([1.0 if steps else 0.0, t0, inv_dt, q0, inv_dq, float(nq)])
    return Bound(pol, pp, tab, nt > 1)


def table_policy(t_grid, q_grid, bid, ask, *, name: str = "table", summary: str = "") -> Policy:
    """A policy whose depths are given on a (t, q) grid (see the module docstring).

    t_grid: row times (time units, evenly spaced, increasing), or None for one row per step
    of the run (row i at t = i·dt). q_grid: column inventories (lots, evenly spaced,
    increasing). bid, ask: depths (price units; +inf: not quoted), shape (len(t_grid), len(q_grid)).
    """
    holder: dict = {}

    def pack(values, nsteps):
        return holder["bound"]

    pol = Policy(
        name=name,
        param_specs={},
        fields=FIELDS,
        depths=depths,
        token=_TOKEN,
        moves_with_time=False,
        packer=pack,
        summary=summary or "depths on a (t, q) grid",
        source="flatbook.policies.table",
        builtin=False,
        as_params=_AS_PARAMS,
    )
    holder["bound"] = table_bound(pol, t_grid, q_grid, bid, ask)
    return pol


def table_kernel_policy(name: str, pack, moves_with_time=True, summary: str = "", source: str = "") -> Policy:
    """A table policy whose table a ``pack(values, nsteps) -> Bound`` hook builds per run (exact GLFT)."""
    return Policy(
        name=name,
        param_specs={},
        fields=FIELDS,
        depths=depths,
        token=_TOKEN,
        moves_with_time=moves_with_time,
        packer=pack,
        summary=summary,
        source=source,
        builtin=True,
        as_params=_AS_PARAMS,
    )


__all__ = ["FIELDS", "depths", "interp", "table_bound", "table_kernel_policy", "table_policy"]
