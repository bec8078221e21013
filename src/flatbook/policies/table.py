"""Table policies: depths given on a (t, q) grid, or a (t, q, regime) grid, read the same way in every engine.

This is how a solver's or a learner's output is deployed; the exact GLFT policy
(:mod:`flatbook.policies.glft`) is one. The table holds ``bid[r, j]`` and
``ask[r, j]`` (price units, +inf: side not quoted) at times ``t_r`` and inventories
``q_j = q0 + j·dq`` (a uniform grid, lots), and optionally a third axis, the volatility
regime (``bid[r, j, m]``, m = 0 calm, 1 volatile). At state (t, q, regime):

- time: the row in force at t, ``r = ⌊(t − t0)/Δt⌋`` (piecewise constant, clamped to the
  table), or, for a table built on the run's own step grid (``t_grid=None``), the row of the
  current step i;
- inventory: linear interpolation between the two nearest columns, clamped at the ends
  (beyond the grid the end column's depths hold); if either neighbour is +inf the side is
  not quoted;
- regime: the block of the regime the engine reports (the feature ``x`` of the engines'
  calling form, :data:`flatbook.policies.compile.LOOP_SIG`), no interpolation. The Monte Carlo
  simulator reports each path's own regime (:mod:`flatbook.market.mid.regimes`, observed, as in
  a regime-switching optimal-control model); the backtester and the live engine, which cannot see
  a regime in real data, classify it online from the mids they observe with
  :mod:`flatbook.estimators.regime` (an exponentially weighted realised volatility against a
  threshold, both given by the table: ``regime_halflife``, ``regime_sigma``). ``quote`` takes it as
  an argument. A (t, q) table has one block and reads no feature.

Packed ``p = (steps, t0, inv_dt, q0, inv_dq, nq, nm)``: steps = 1 when the rows are the run's
steps; nm the number of regime blocks (1 or 2); the rows themselves are the kernel's ``tab``
(``[bid block 0 | … | bid block nm−1 | ask block 0 | … | ask block nm−1]``, nq columns each).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba as nb
import numpy as np

from ..errors import InputError
from .base import Bound, Policy, _make_as_params

FIELDS = ("steps", "t0", "inv_dt", "q0", "inv_dq", "nq", "nm")
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
def depths(p, tab, i, t, tau, s, q, x):
    """Table depths at step i / time t, inventory q and regime x (see the module docstring)."""
    n = np.int64(p[5])
    nm = np.int64(p[6])
    m = np.int64(min(max(x, 0.0), p[6] - 1.0))  # the regime's block (0 for a (t, q) table)
    y = (q - p[3]) * p[4]
    r = i if p[0] > 0.5 else np.int64(math.floor((t - p[1]) * p[2] + 1e-9))
    ii = min(max(r, 0), tab.shape[0] - 1)
    row = tab[ii]
    return interp(row, m * n, n, y), interp(row, (nm + m) * n, n, y)


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


def _blocks(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The kernel's rows from (t, q, regime) arrays: [bid block 0 | … | ask block 0 | …] (module docstring)."""
    return np.ascontiguousarray(
        np.concatenate([b[:, :, m] for m in range(b.shape[2])] + [a[:, :, m] for m in range(a.shape[2])], axis=1)
    )


def _table(bid, ask) -> tuple[np.ndarray, np.ndarray]:
    b, a = np.asarray(bid, float), np.asarray(ask, float)
    if b.ndim == 1:
        b, a = b[None, :], a[None, :]
    if b.ndim == 2:
        b, a = b[:, :, None], a[:, :, None]
    if b.shape != a.shape or b.ndim != 3 or b.shape[2] not in (1, 2):
        raise InputError(
            "bid",
            "bid and ask must be arrays of the same shape, (t, q) or (t, q, regime) with 2 regimes "
            f"(0 calm, 1 volatile); got {b.shape} and {a.shape}",
        )
    if np.isnan(b).any() or np.isnan(a).any() or (b == -np.inf).any() or (a == -np.inf).any():
        raise InputError("bid", "the table holds NaN or -inf; allowed: numbers, or +inf where a side is not quoted")
    both = np.isfinite(b) & np.isfinite(a)
    if (b[both] + a[both] < 0).any():
        raise InputError("bid", "bid + ask depth < 0 somewhere in the table (crossed quotes)")
    return b, a


def table_bound(
    pol: Policy, t_grid, q_grid, bid, ask, check: bool = True, regime: tuple[float, float] | None = None
) -> Bound:
    """``pol`` (a table policy) bound to arrays: see :func:`table_policy`. ``check=False``
    skips the validation of the depths (a built-in solver's (t, q) table). ``regime``: the
    (half-life s, σ threshold price/√s) of a (t, q, regime) table's online classifier."""
    if check:
        b, a = _table(bid, ask)
    else:
        b, a = np.asarray(bid, float)[:, :, None], np.asarray(ask, float)[:, :, None]
    nt, nq, nm = b.shape
    tab = _blocks(b, a)
    steps = t_grid is None
    t0, inv_dt = (0.0, 0.0) if steps else _uniform("t_grid", t_grid, nt)
    q0, inv_dq = _uniform("q_grid", q_grid, nq)
    if nq == 1:
        inv_dq = 0.0
    pp = np.array([1.0 if steps else 0.0, t0, inv_dt, q0, inv_dq, float(nq), float(nm)])
    return Bound(pol, pp, tab, nt > 1, regime if nm > 1 else None)


def table_policy(
    t_grid,
    q_grid,
    bid,
    ask,
    *,
    regime_halflife: float = 60.0,
    regime_sigma: float | None = None,
    name: str = "table",
    summary: str = "",
) -> Policy:
    """A policy whose depths are given on a (t, q) or (t, q, regime) grid (see the module docstring).

    Parameters
    ----------
    t_grid : array or None
        Row times (time units, evenly spaced, increasing), or None for one row per step of the run
        (row i at t = i·dt).
    q_grid : array
        Column inventories (lots, evenly spaced, increasing).
    bid, ask : array
        Depths from the mid (price units; +inf: not quoted), shape (len(t_grid), len(q_grid)), or
        (len(t_grid), len(q_grid), 2) with a regime axis (0 calm, 1 volatile).
    regime_halflife : float
        Half-life of the backtester's and live engine's realised-volatility estimate (seconds), a
        regime table only (:mod:`flatbook.estimators.regime`).
    regime_sigma : float or None
        The σ above which they classify the tape as volatile (price units/√s). Required to backtest or
        run live a regime table; the simulator reads each path's own regime and needs neither.
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
    if not (math.isfinite(regime_halflife) and regime_halflife > 0):
        raise InputError("regime_halflife", f"must be a number of seconds > 0; got {regime_halflife!r}")
    if regime_sigma is not None and not (math.isfinite(regime_sigma) and regime_sigma > 0):
        raise InputError("regime_sigma", f"must be a volatility > 0 (price units/√s), or None; got {regime_sigma!r}")
    # σ* NaN when not given: the simulator reads each path's regime, the backtester and the live engine refuse
    # to run without it (flatbook.estimators.regime.classifier)
    sigma = math.nan if regime_sigma is None else float(regime_sigma)
    holder["bound"] = table_bound(pol, t_grid, q_grid, bid, ask, regime=(float(regime_halflife), sigma))
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
