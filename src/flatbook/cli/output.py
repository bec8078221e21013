"""JSON helpers and the ``--out DIR`` writer (all files or none).

Everything is first written into a fresh temporary directory next to DIR (same
parent, so the final moves are renames on one file system), then published: a
single directory rename when DIR does not exist yet, otherwise one
``os.replace`` per file (:func:`flatbook.fileio.publish_files`). Any failure or Ctrl-C before publishing removes the
temporary directory (and any parent directories this run created), so DIR never
holds a half-written or partial set of outputs. Ctrl-C during the (very short)
publishing step is deferred until it has finished.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..fileio import make_parents, publish_files, remove_dirs, sigint_deferred  # noqa: F401  (re-exported)
from ..jsonutil import jsonable
from ..presets import PRESETS

if TYPE_CHECKING:  # the simulator loads in the functions that use it: start-up ('flatbook --help')
    from ..sim.simulator import SimResult

SUMMARY_JSON = "summary.json"
SUMMARY_PARQUET = "summary.parquet"
PER_PATH_PARQUET = "per_path.parquet"
SERIES_PARQUET = "series.parquet"


# --------------------------------------------------------------------------- JSON


def dumps(obj: object) -> str:
    """Strict JSON (no NaN/Infinity), indented."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False)


# The run's JSON objects and compare's paired differences live with the simulator
# (flatbook.sim.summaries); re-exported here on first use (PEP 562), as that module imports numpy:
# start-up ('flatbook --help' imports this module).
_MOVED = {
    **{
        n: ("flatbook.sim.summaries", n)
        for n in (
            "PAIRED_METHOD",
            "PAIRED_METRICS",
            "compare_object",
            "paired_differences",
            "simulate_object",
            "summary_frame",
            "per_path_frame",
            "series_frame",
        )
    },
    **{f"_{n}": ("flatbook.sim.summaries", n) for n in ("summary_frame", "per_path_frame", "series_frame")},
    "figure_title": ("flatbook.report.six_panel", "figure_title"),
}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib

        module, attr = _MOVED[name]
        return getattr(importlib.import_module(module), attr)  # lazy: start-up (numpy)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _write_png(path: Path, res: SimResult) -> None:
    from ..report.six_panel import figure_title, write_six_panel  # lazy: start-up (matplotlib)

    v = res.config.values
    s = res.path_series(0)
    write_six_panel(
        path,
        {k: s[k] for k in ("t", "mid", "bid", "ask", "q", "pnl")},
        limit=v["limit"],
        zones=(v["yellow"], v["red"], v["critical"]),
        q_target=v["q_target"],
        q_hist=res.per_path["final_q"],
        title=figure_title(res),
        time_unit=PRESETS[res.config.preset].time_unit,
        hist_title="Final inventory over all paths",
        hist_ylabel="count (paths)",
    )


def _build(tmp: Path, results: Sequence[SimResult], obj: Mapping, compare: bool) -> list[str]:
    (tmp / SUMMARY_JSON).write_text(dumps(obj) + "\n", encoding="utf-8")
    from ..sim.summaries import per_path_frame, series_frame, summary_frame  # lazy: start-up (numpy)

    summary_frame(results).to_parquet(tmp / SUMMARY_PARQUET, index=False, engine="pyarrow")
    per_path_frame(results, with_policy=compare).to_parquet(tmp / PER_PATH_PARQUET, index=False, engine="pyarrow")
    series_frame(results).to_parquet(tmp / SERIES_PARQUET, index=False, engine="pyarrow")
    names = [SUMMARY_JSON, SUMMARY_PARQUET, PER_PATH_PARQUET, SERIES_PARQUET]
    for r in results:
        png = f"six_panel_{r.config.policy}.png" if compare else "six_panel.png"
        _write_png(tmp / png, r)
        names.append(png)
    return names


# --------------------------------------------------------------------------- atomic publishing


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
            publish_files(tmp, out, names)
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
