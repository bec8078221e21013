"""A policy replayed on one file across an ensemble of models: how much of the result is the model.

An *ensemble* is the product of axes of the backtester's options (queue model × latency ×
fill rule × …: any field of :class:`flatbook.backtest.BacktestOptions`, each value checked by
:func:`flatbook.api.backtest_options` before any work). Every member replays the same parsed
table with the same config and the **same seed** (common random numbers: the members differ by
their model only). In this process the members run one after another on the one compiled
kernel; on a Dask cluster (the sweep's :func:`~flatbook.sweep.runner.dask_client`) the table is
sent once to every worker (``scatter``, ``broadcast``) and each member is one task.

The spread of a figure across the members: min, max, mean, std (over the members, ddof 0: they
are a designed set, not a sample), the range (max − min) and the range as a percentage of
|mean|. The effect of an axis: the figure's mean over the members at each of its values, and
the range of those means (the main effect, in the sense of a factorial design; Box, Hunter &
Hunter, *Statistics for Experimenters*, 2nd ed., ch. 5).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..backtest import BacktestOptions, run_backtest
from ..config import RunConfig
from ..extras import require
from .backtests import _mute, blas_as_here, quiet_teardown, silent_distributed
from .runner import _SIM_LOCK, RETRIES, dask_client, ensure_policies, one_numba_thread, policy_sources

__all__ = ["SPREAD_KEYS", "axis_effects", "member_grid", "run_members", "spread"]

#: the figures whose spread across the members is reported (settlement currency; lots; counts)
SPREAD_KEYS = ("pnl_final", "pnl_liquidated", "fills", "max_abs_q", "final_q", "q_std", "fees", "max_drawdown")


def member_grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest (``itertools.product``)."""
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(axes[k]) for k in names))]


def _strip_timing(s: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in s.items() if k != "timing"}


def run_member(ev, cfg: RunConfig, opts: BacktestOptions, sources: Mapping | None = None) -> dict[str, Any]:
    """One member: the replay's summary (wall-clock fields dropped). A Dask task as well."""
    quiet_teardown()
    with _SIM_LOCK:
        one_numba_thread()
        ensure_policies(sources or {})
        return _strip_timing(run_backtest(ev, cfg, opts).summary)


def run_members(
    ev,
    cfg: RunConfig,
    options: Sequence[BacktestOptions],
    *,
    cluster: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    client=None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The summaries of ``cfg`` replayed on ``ev`` with each of ``options``, in order: in this process
    (default), or on a Dask cluster (``cluster``, ``scheduler``/``workers``, or ``client``). The
    numbers are the same either way."""
    n = len(options)
    out: list[dict[str, Any] | None] = [None] * n
    if not cluster and client is None:
        for i, o in enumerate(options):
            out[i] = _strip_timing(run_backtest(ev, cfg, o).summary)
            if progress is not None:
                progress(i + 1, n)
        return [r for r in out if r is not None]
    require("sweep", "distributed", field="a Dask cluster")  # missing: one line naming the extra
    from distributed import as_completed  # an optional dependency (the extra sweep): imported when members run

    with contextlib.ExitStack() as stack:
        stack.enter_context(silent_distributed())  # restored last, after the cluster is closed
        if client is None:
            with blas_as_here():
                client = stack.enter_context(dask_client(scheduler, workers))
        sources = policy_sources([cfg.policy])
        [ev_f] = client.scatter([ev], broadcast=True, hash=False)
        tag = secrets.token_hex(3)
        futures = {
            client.submit(run_member, ev_f, cfg, o, sources, key=f"flatbook-ensemble-{tag}-{i}", retries=RETRIES): i
            for i, o in enumerate(options)
        }
        done = 0
        try:
            for fut in as_completed(list(futures), loop=client.loop):
                out[futures[fut]] = fut.result()
                done += 1
                if progress is not None:
                    progress(done, n)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                _mute()  # the cluster's teardown says nothing (restored when this returns)
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
            raise
    return [r for r in out if r is not None]


def _num(v: Any) -> float:
    return math.nan if v is None or isinstance(v, bool) else float(v)


def spread(values: Sequence[Any]) -> dict[str, float | None]:
    """min, max, mean, std (ddof 0), range and ``range_pct_of_mean`` (100·range/|mean|; None when the mean
    is 0) of ``values`` (None/NaN left out; all None when none is finite)."""
    x = np.array([_num(v) for v in values], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return dict.fromkeys(("min", "max", "mean", "std", "range", "range_pct_of_mean"))
    mean = float(x.mean())
    rng = float(x.max() - x.min())
    return {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": mean,
        "std": float(x.std()),
        "range": rng,
        "range_pct_of_mean": 100.0 * rng / abs(mean) if mean != 0.0 else None,
    }


def axis_effects(
    members: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], key: str
) -> dict[str, dict[str, Any]]:
    """For each axis with two values or more: ``key``'s mean over the members at each value (``means``,
    value → mean, values as the member labels write them) and the ``range`` of those means."""
    out: dict[str, dict[str, Any]] = {}
    axes = list(members[0]) if members else []
    for ax in axes:
        levels = list(dict.fromkeys(str(m[ax]) for m in members))
        if len(levels) < 2:
            continue
        means = {}
        for lv in levels:
            x = np.array([_num(r.get(key)) for m, r in zip(members, rows) if str(m[ax]) == lv])
            x = x[np.isfinite(x)]
            means[lv] = float(x.mean()) if x.size else None
        fin = [v for v in means.values() if v is not None]
        out[ax] = {"means": means, "range": (max(fin) - min(fin)) if fin else None}
    return out
