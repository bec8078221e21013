"""The summary objects and tables of ``simulate`` and ``compare`` runs, and compare's paired differences.

What ``--json`` prints, ``summary.json`` holds and the result objects of the Python API carry:
one implementation for every face. Paired differences use common random numbers: the runs
share the seed, so path p of each policy sees the same random numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..jsonutil import jsonable
from ..timing import TIMING_KEYS, group_timing
from .metrics import influence

if TYPE_CHECKING:
    from .simulator import SimResult


def simulate_object(res: SimResult) -> dict:
    """``simulate --json``: the summary keys at top level (wall-clock fields under ``timing``) plus ``config``."""
    return jsonable(group_timing({**res.summary, "config": res.config.as_dict()}))


#: Metrics whose paired difference ``compare`` reports: summary key → (per-path array, statistic).
PAIRED_METRICS: dict[str, tuple[str, str]] = {
    "pnl_mean": ("pnl", "mean"),
    "pnl_std": ("pnl", "std"),
    "final_q_mean": ("final_q", "mean"),
    "final_q_std": ("final_q", "std"),
    "max_abs_q_mean": ("max_abs_q", "mean"),
    "fills_mean": ("fills", "mean"),
    "spread_given_up_mean": ("spread_given_up", "mean"),
}
PAIRED_METHOD = (
    "paired over paths (common random numbers): mean metrics: SE = std(x_i − x_0)/√n; "
    "std metrics: delta method, SE = std(ψ_i − ψ_0)/√n with the influence function "
    "ψ = ((x − x̄)² − s²)/(2s) of the sample std; se_unpaired: the same, as if the runs were "
    "independent, √(SE_i² + SE_0²)"
)


def _se(psi: np.ndarray) -> float | None:
    return float(psi.std(ddof=1) / math.sqrt(psi.size)) if psi.size > 1 else None


def paired_differences(results: Sequence[SimResult]) -> dict:
    """Each policy minus the first, per metric of :data:`PAIRED_METRICS`, with paired standard errors.

    ``diff`` is exactly the difference of the two summary values; ``se`` is its standard error
    over paths paired by index (the runs share the seed, so path p sees the same random
    numbers: common random numbers); ``se_unpaired`` is what it would be for independent runs.
    Units: those of the metric.
    """
    base = results[0]
    out: dict = {"baseline": base.config.policy, "method": PAIRED_METHOD, "policies": {}}
    for r in results[1:]:
        rows = {}
        for key, (arr, stat) in PAIRED_METRICS.items():
            a, b = base.summary.get(key), r.summary.get(key)
            if a is None or b is None or arr not in r.per_path:
                continue
            pa, pb = influence(base.per_path[arr], stat), influence(r.per_path[arr], stat)
            sa, sb = _se(pa), _se(pb)
            rows[key] = {
                "diff": b - a,
                "se": _se(pb - pa),
                "se_unpaired": math.hypot(sa, sb) if sa is not None and sb is not None else None,
            }
        out["policies"][r.config.policy] = rows
    return out


def compare_object(results: Sequence[SimResult]) -> dict:
    """``compare --json``: ``{"policies": {name: summary}, "differences": {...}, "config": {...}}``.

    Each summary's wall-clock fields are under its ``timing`` key; ``differences`` holds
    :func:`paired_differences` (absent for a single policy).
    """
    cfg = dict(results[0].config.as_dict())
    cfg.pop("policy", None)
    cfg["policies"] = [r.config.policy for r in results]
    obj: dict = {"policies": {r.config.policy: group_timing(r.summary) for r in results}}
    if len(results) > 1:
        obj["differences"] = paired_differences(results)
    obj["config"] = cfg
    return jsonable(obj)


# --------------------------------------------------------------------------- tables (pandas, imported on use)


def summary_frame(results: Sequence[SimResult]):
    """``summary.parquet``: one row per policy, the summary's keys as columns (wall-clock fields in ``timing``)."""
    import pandas as pd

    rows = [
        {"policy": r.config.policy, **{k: v for k, v in r.summary.items() if k not in TIMING_KEYS and k != "warnings"}}
        for r in results
    ]
    df = pd.DataFrame(rows)
    for col in df.columns[1:]:
        if col == "stats":  # a lean run's "lean" (flatbook.sim.metrics.summarize_lean): text
            continue
        df[col] = pd.to_numeric(df[col])  # None → NaN; keeps ints as int64
        if df[col].dtype == object:
            df[col] = df[col].astype("float64")
    # wall-clock fields in one struct column, as in summary.json (flatbook.timing)
    df["timing"] = [
        {k: (float(v) if v is not None else None) for k, v in r.summary.items() if k in TIMING_KEYS} for r in results
    ]
    if any(r.summary.get("warnings") for r in results):
        df["warnings"] = [[str(w) for w in r.summary.get("warnings") or []] for r in results]
    return df


def per_path_frame(results: Sequence[SimResult], with_policy: bool):
    """``per_path.parquet``: one row per path (and policy, with ``with_policy``), the per-path arrays as columns."""
    import pandas as pd

    frames = []
    for r in results:
        cols = {k: np.asarray(v) for k, v in r.per_path.items()}
        df = pd.DataFrame(cols)
        if with_policy:
            df.insert(0, "policy", r.config.policy)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def series_frame(results: Sequence[SimResult]):
    """``series.parquet``: sample path 0 of each policy over time (t, mid, bid, ask, q, pnl, zone)."""
    import pandas as pd

    frames = []
    for r in results:
        s = r.path_series(0)
        df = pd.DataFrame(
            {"policy": r.config.policy, "t": s["t"], **{k: s[k] for k in ("mid", "bid", "ask", "q", "pnl", "zone")}}
        )
        if np.isfinite(df["zone"]).all():
            df["zone"] = df["zone"].astype("int64")
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
