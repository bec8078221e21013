"""JSON helpers and the ``--out DIR`` writer (all files or none).

Everything is first written into a fresh temporary directory next to DIR (same
parent, so the final moves are renames on one file system), then published: a
single directory rename when DIR does not exist yet, otherwise one
``os.replace`` per file. Any failure or Ctrl-C before publishing removes the
temporary directory (and any parent directories this run created), so DIR never
holds a half-written or partial set of outputs. Ctrl-C during the (very short)
publishing step is deferred until it has finished.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import make_parents, remove_dirs
from ..jsonutil import jsonable
from ..policies.registry import policy_spec
from ..presets import PRESETS
from ..sim.metrics import influence
from ..sim.simulator import SimResult
from ..timing import TIMING_KEYS, group_timing

SUMMARY_JSON = "summary.json"
SUMMARY_PARQUET = "summary.parquet"
PER_PATH_PARQUET = "per_path.parquet"
SERIES_PARQUET = "series.parquet"


# --------------------------------------------------------------------------- JSON

def dumps(obj: object) -> str:
    """Strict JSON (no NaN/Infinity), indented."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False)


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
PAIRED_METHOD = ("paired over paths (common random numbers): mean metrics: SE = std(x_i − x_0)/√n; "
                 "std metrics: delta method, SE = std(ψ_i − ψ_0)/√n with the influence function "
                 "ψ = ((x − x̄)² − s²)/(2s) of the sample std; se_unpaired: the same, as if the runs were "
                 "independent, √(SE_i² + SE_0²)")


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
            rows[key] = {"diff": b - a, "se": _se(pb - pa),
                         "se_unpaired": math.hypot(sa, sb) if sa is not None and sb is not None else None}
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


# --------------------------------------------------------------------------- --out checks

def check_out_dir(out: str) -> Path:
    """Validate ``--out`` before any work: DIR is a directory or can be created there."""
    if not str(out).strip():
        raise InputError("--out", "empty path; give a directory")
    p = Path(os.path.abspath(os.path.expanduser(out)))
    if p.exists() and not p.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory")
    anc = p
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise InputError("--out", f"{anc} is not a directory, so {out} cannot be created")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise InputError("--out", f"{anc} is not writable")
    if p.exists() and not os.access(p.parent, os.W_OK | os.X_OK):
        raise InputError("--out", f"{p.parent} is not writable (needed for the temporary directory)")
    return p


# --------------------------------------------------------------------------- file builders

def _summary_frame(results: Sequence[SimResult]):
    import pandas as pd

    rows = [{"policy": r.config.policy,
             **{k: v for k, v in r.summary.items() if k not in TIMING_KEYS and k != "warnings"}}
            for r in results]
    df = pd.DataFrame(rows)
    for col in df.columns[1:]:
        df[col] = pd.to_numeric(df[col])  # None → NaN; keeps ints as int64
        if df[col].dtype == object:
            df[col] = df[col].astype("float64")
    # wall-clock fields in one struct column, as in summary.json (flatbook.timing)
    df["timing"] = [{k: (float(v) if v is not None else None) for k, v in r.summary.items() if k in TIMING_KEYS}
                    for r in results]
    if any(r.summary.get("warnings") for r in results):
        df["warnings"] = [[str(w) for w in r.summary.get("warnings") or []] for r in results]
    return df


def _per_path_frame(results: Sequence[SimResult], with_policy: bool):
    import pandas as pd

    frames = []
    for r in results:
        cols = {k: np.asarray(v) for k, v in r.per_path.items()}
        df = pd.DataFrame(cols)
        if with_policy:
            df.insert(0, "policy", r.config.policy)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _series_frame(results: Sequence[SimResult]):
    import pandas as pd

    frames = []
    for r in results:
        s = r.path_series(0)
        df = pd.DataFrame({"policy": r.config.policy, "t": s["t"],
                           **{k: s[k] for k in ("mid", "bid", "ask", "q", "pnl", "zone")}})
        if np.isfinite(df["zone"]).all():
            df["zone"] = df["zone"].astype("int64")
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def figure_title(res: SimResult) -> str:
    """Preset, policy and the key parameters (those the policy's formula reads, plus the limit)."""
    cfg, v = res.config, res.config.values
    keys = [k for k in policy_spec(cfg.policy).params if k != "T"]
    if "limit" not in keys and math.isfinite(v["limit"]):
        keys.append("limit")
    par = ", ".join(f"{k}={v[k]:g}" if isinstance(v[k], float) else f"{k}={v[k]}" for k in keys)
    return (f"flatbook — preset {cfg.preset}, policy {cfg.policy} (sample path 0)\n"
            f"{par}; T={v['T']:g}, dt={v['dt']:g}; {cfg.paths:,} paths, seed {cfg.seed}")


def _write_png(path: Path, res: SimResult) -> None:
    from ..report.six_panel import write_six_panel

    v = res.config.values
    s = res.path_series(0)
    write_six_panel(path, {k: s[k] for k in ("t", "mid", "bid", "ask", "q", "pnl")},
                    limit=v["limit"], zones=(v["yellow"], v["red"], v["critical"]),
                    q_target=v["q_target"], q_hist=res.per_path["final_q"], title=figure_title(res),
                    time_unit=PRESETS[res.config.preset].time_unit,
                    hist_title="Final inventory over all paths", hist_ylabel="count (paths)")


def _build(tmp: Path, results: Sequence[SimResult], obj: Mapping, compare: bool) -> list[str]:
    (tmp / SUMMARY_JSON).write_text(dumps(obj) + "\n", encoding="utf-8")
    _summary_frame(results).to_parquet(tmp / SUMMARY_PARQUET, index=False, engine="pyarrow")
    _per_path_frame(results, with_policy=compare).to_parquet(tmp / PER_PATH_PARQUET, index=False, engine="pyarrow")
    _series_frame(results).to_parquet(tmp / SERIES_PARQUET, index=False, engine="pyarrow")
    names = [SUMMARY_JSON, SUMMARY_PARQUET, PER_PATH_PARQUET, SERIES_PARQUET]
    for r in results:
        png = f"six_panel_{r.config.policy}.png" if compare else "six_panel.png"
        _write_png(tmp / png, r)
        names.append(png)
    return names


# --------------------------------------------------------------------------- atomic publishing

@contextmanager
def sigint_deferred() -> Iterator[list]:
    """Hold back Ctrl-C for the duration; the yielded list is non-empty if one arrived."""
    pending: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    old = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, old)


def _publish(tmp: Path, out: Path, names: list[str]) -> None:
    if not out.exists():
        try:
            os.rename(tmp, out)  # one atomic step
            return
        except OSError:
            if not out.is_dir():  # e.g. created concurrently as a file
                raise
    for name in names:
        os.replace(tmp / name, out / name)
    os.rmdir(tmp)


def write_outputs(out: Path, results: Sequence[SimResult], obj: Mapping, *, compare: bool) -> list[Path]:
    """Write summary.json, the parquet files and the PNG(s) into ``out``: all of them or none."""
    return publish_dir(out, lambda tmp: _build(tmp, results, obj, compare))


def publish_dir(out: Path, build: Callable[[Path], list[str]]) -> list[Path]:
    """Run ``build(tmp)`` (it writes files into the fresh directory tmp and returns
    their names), then publish them into ``out``: all of them or none."""
    created: list[Path] = []
    tmp: Path | None = None
    try:
        make_parents(out.parent, created)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        os.mkdir(tmp)
        names = build(tmp)
        with sigint_deferred() as pending:
            _publish(tmp, out, names)
    except BaseException as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        remove_dirs(created)
        if isinstance(e, OSError):
            raise InputError("--out", f"cannot write {out}: {e.strerror or e}") from None
        raise
    if pending:  # Ctrl-C arrived while publishing: the outputs are complete; stop now
        raise KeyboardInterrupt
    return [out / n for n in names]
