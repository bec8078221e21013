"""Results of :func:`flatbook.simulate` and :func:`flatbook.compare`.

Both wrap the simulator's own output (:class:`flatbook.sim.simulator.SimResult`) and
build their summaries, frames and figures with the very code the command line uses, so
``result.to_dict()`` equals ``flatbook simulate --json`` (and ``compare --json``) bit for
bit outside the ``timing`` key, and ``to_parquet`` writes the same files as ``--out``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, cast

import numpy as np

from ..errors import InputError
from ..presets import PRESETS
from ..sim.simulator import SimResult
from ..sim.summaries import (
    compare_object,
    per_path_frame,
    series_frame,
    simulate_object,
    summary_frame,
)
from ..units import SUMMARY_UNITS, fmt, unit
from ._base import ReportedResult, SavedResult, write_frames
from ._files import dumps
from .summary import Difference, Summary, html_table

__all__ = ["ComparisonResult", "SimulationFrames", "SimulationResult"]

#: The figures a notebook shows first (all are in ``.summary``).
KEY_FIGURES = (
    "paths",
    "steps",
    "pnl_mean",
    "pnl_std",
    "sharpe",
    "final_q_mean",
    "final_q_std",
    "max_abs_q_max",
    "spread_mean",
    "fills_mean",
    "var_95",
    "es_95",
    "time_at_limit_frac",
    "kill_frac",
    "hedge_pnl_mean_change",
    "hedge_pnl_std_change",
)
_NOT_FIGURES = ("timing", "warnings", "config")


class SimulationFrames(NamedTuple):
    """The DataFrames of a simulation (or a comparison: one row block per policy, column ``policy``)."""

    summary: Any
    """One row per policy: every summary figure (wall-clock fields in the ``timing`` column)."""
    per_path: Any
    """One row per simulated path: pnl, final_q, fills, ... (the simulator's per-path outputs)."""
    series: Any
    """The recorded sample path over time: t, mid, bid, ask, q, pnl, zone."""


def _units(time_unit: str, keys) -> dict[str, str]:
    return {k: unit(SUMMARY_UNITS, k, time_unit) for k in keys}


def _check_series(res: SimResult) -> None:
    if res.record_paths.size == 0:
        raise InputError("record_paths", "no path was recorded; simulate with record_paths=(0,) for series and plots")


def _six_panel_args(res: SimResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The six-panel figure's series (recorded path 0) and keyword arguments for one simulation."""
    from ..report.six_panel import figure_title  # lazy: start-up (matplotlib, only for a figure)

    _check_series(res)
    v, s = res.config.values, res.path_series(0)
    return {k: s[k] for k in ("t", "mid", "bid", "ask", "q", "pnl")}, {
        "limit": v["limit"],
        "zones": (v["yellow"], v["red"], v["critical"]),
        "q_target": v["q_target"],
        "q_hist": res.per_path["final_q"],
        "title": figure_title(res),
        "time_unit": PRESETS[res.config.preset].time_unit,
        "hist_title": "Final inventory over all paths",
        "hist_ylabel": "count (paths)",
    }


def _write_png(path: Path, res: SimResult) -> None:
    from ..report.six_panel import write_six_panel  # lazy: start-up (matplotlib, only for a figure)

    series, kwargs = _six_panel_args(res)
    write_six_panel(path, series, **kwargs)


#: the files of ``flatbook simulate/compare --out`` (and ``save``), besides the six-panel PNG(s)
SUMMARY_JSON, SUMMARY_PARQUET, PER_PATH_PARQUET, SERIES_PARQUET = (
    "summary.json",
    "summary.parquet",
    "per_path.parquet",
    "series.parquet",
)


def _write_run_files(tmp: Path, raws: Sequence[SimResult], obj: Mapping, compare: bool) -> list[str]:
    """summary.json, the three parquet files and one six-panel PNG per policy, into ``tmp``; their names."""
    (tmp / SUMMARY_JSON).write_text(dumps(obj) + "\n", encoding="utf-8")
    summary_frame(raws).to_parquet(tmp / SUMMARY_PARQUET, index=False, engine="pyarrow")
    per_path_frame(raws, with_policy=compare).to_parquet(tmp / PER_PATH_PARQUET, index=False, engine="pyarrow")
    series_frame(raws).to_parquet(tmp / SERIES_PARQUET, index=False, engine="pyarrow")
    names = [SUMMARY_JSON, SUMMARY_PARQUET, PER_PATH_PARQUET, SERIES_PARQUET]
    for r in raws:
        png = f"six_panel_{r.config.policy}.png" if compare else "six_panel.png"
        _write_png(tmp / png, r)
        names.append(png)
    return names


class SimulationResult(SavedResult, ReportedResult):
    """One policy simulated over many paths.

    Attributes
    ----------
    config : flatbook.config.RunConfig
        The validated run (preset, policy, parameter values, paths, seed).
    summary : Summary
        Every figure of ``flatbook simulate`` with its unit (and SE where there is one);
        PnL in price units × lots, inventory in lots, time in the preset's time unit.
    per_path : mapping of str to numpy.ndarray
        Per-path outputs (length ``paths``): ``pnl``, ``final_q``, ``max_abs_q``, ``fills``, ...
    series : mapping of str to numpy.ndarray
        The first recorded path over time (``t``, ``mid``, ``bid``, ``ask``, ``q``, ``pnl``, ``zone``).
    raw : flatbook.sim.simulator.SimResult
        The simulator's own output.
    """

    _key_figures = KEY_FIGURES

    def __init__(self, raw: SimResult):
        self.raw = raw
        self.config = raw.config
        self._obj = simulate_object(raw)
        self.time_unit = PRESETS[raw.config.preset].time_unit
        figures = {k: v for k, v in self._obj.items() if k not in _NOT_FIGURES}
        cfg = raw.config
        title = (
            f"simulate {cfg.policy} — preset {cfg.preset}, {cfg.paths:,} paths × {cfg.steps:,} steps, seed {cfg.seed}"
        )
        self.summary = Summary.build(figures, _units(self.time_unit, figures), title)

    @property
    def policy(self) -> str:
        """The policy's name."""
        return self.config.policy

    @property
    def per_path(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.per_path)

    @property
    def series(self) -> Mapping[str, np.ndarray]:
        _check_series(self.raw)
        return MappingProxyType(self.raw.path_series(0))

    def to_pandas(self) -> SimulationFrames:
        """``(summary, per_path, series)`` DataFrames, the tables ``flatbook simulate --out`` writes."""
        _check_series(self.raw)
        return SimulationFrames(
            summary_frame([self.raw]), per_path_frame([self.raw], with_policy=False), series_frame([self.raw])
        )

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write summary.parquet, per_path.parquet and series.parquet into ``directory`` (created if needed),
        as ``flatbook simulate --out`` does; returns name → path."""
        return write_frames(directory, self.to_pandas()._asdict())

    def plot(self):
        """The six-panel figure of the recorded path (:func:`flatbook.report.six_panel.six_panel_figure`):
        a :class:`matplotlib.figure.Figure`, not written anywhere (``fig.savefig(...)`` to keep it)."""
        series, kwargs = _six_panel_args(self.raw)
        from ..report.six_panel import six_panel_figure  # lazy: start-up (matplotlib)

        return six_panel_figure(series, **kwargs)

    def _files(self, tmp: Path) -> list[str]:
        """summary.json, summary/per_path/series.parquet and six_panel.png (``flatbook simulate --out``)."""
        return _write_run_files(tmp, [self.raw], self._obj, compare=False)

    def _report_html(self) -> str:
        from ..report.html import simulate_report  # lazy: start-up (plotly)

        return simulate_report([self.raw], compare=False, obj=self._obj)


class ComparisonResult(SavedResult, ReportedResult):
    """Several policies on the same paths (same seed: common random numbers).

    Attributes
    ----------
    results : mapping of str to SimulationResult
        Each policy's own result, in the order given.
    summary : mapping of str to Summary
        Each policy's summary (as ``results[name].summary``).
    differences : mapping of str to Summary
        For each policy after the first (the ``baseline``), the paired difference policy − baseline
        of each metric of :data:`flatbook.sim.summaries.PAIRED_METRICS`, as a :class:`Difference`
        (value, unit, ``se`` over paired paths, ``se_unpaired`` as if the runs were independent).
    """

    _key_figures = KEY_FIGURES
    summary: Mapping[str, Summary]  # type: ignore[assignment]  # one Summary per policy

    def __init__(self, raws: Sequence[SimResult]):
        self.raw = tuple(raws)
        self.results = MappingProxyType({r.config.policy: SimulationResult(r) for r in raws})
        self._obj = compare_object(raws)
        cfg = raws[0].config
        self.config = cfg
        self.time_unit = PRESETS[cfg.preset].time_unit
        self.title = f"compare — preset {cfg.preset}, {cfg.paths:,} paths × {cfg.steps:,} steps, seed {cfg.seed}"
        self.summary = MappingProxyType({name: r.summary for name, r in self.results.items()})
        d = self._obj.get("differences")
        self.baseline = cfg.policy
        self.method = d["method"] if d else ""
        diffs = {}
        for name, rows in d["policies"].items() if d else ():
            units = _units(self.time_unit, rows)
            diffs[name] = Summary(
                {k: Difference(r["diff"], units[k], r["se"], r["se_unpaired"]) for k, r in rows.items()},
                f"{name} − {self.baseline} (paired, common random numbers)",
            )
        self.differences = MappingProxyType(diffs)

    @property
    def policies(self) -> tuple[str, ...]:
        """The policies, baseline first."""
        return tuple(self.results)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"{n}: {w}" for n, r in self.results.items() for w in r.warnings)

    @property
    def timing(self) -> dict[str, Any]:
        return {n: r.timing for n, r in self.results.items()}

    def to_pandas(self) -> SimulationFrames:
        """``(summary, per_path, series)`` DataFrames with a ``policy`` column, as ``flatbook compare --out``
        writes them; the paired differences are :meth:`differences_frame`."""
        for r in self.raw:
            _check_series(r)
        return SimulationFrames(
            summary_frame(self.raw), per_path_frame(self.raw, with_policy=True), series_frame(self.raw)
        )

    def differences_frame(self):
        """The paired differences: one row per (policy, metric) with diff, se, se_unpaired, unit."""
        import pandas as pd  # lazy: start-up

        rows = [
            {
                "policy": n,
                "metric": k,
                "diff": q.value,
                "se": q.se,
                "se_unpaired": cast(Difference, q).se_unpaired,
                "unit": q.unit,
            }
            for n, s in self.differences.items()
            for k, q in s.items()
        ]
        return pd.DataFrame(rows, columns=["policy", "metric", "diff", "se", "se_unpaired", "unit"])

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write summary, per_path and series parquet files (as ``compare --out``) and differences.parquet."""
        return write_frames(directory, {**self.to_pandas()._asdict(), "differences": self.differences_frame()})

    def _files(self, tmp: Path) -> list[str]:
        """summary.json, the parquet files (a ``policy`` column) and six_panel_<policy>.png per policy
        (``flatbook compare --out``)."""
        return _write_run_files(tmp, self.raw, self._obj, compare=True)

    def _report_html(self) -> str:
        from ..report.html import simulate_report  # lazy: start-up (plotly)

        return simulate_report(list(self.raw), compare=True, obj=self._obj)

    def plot(self, policy: str | None = None):
        """The six-panel figure of one policy's recorded path (default: the baseline); not written anywhere."""
        name = self.baseline if policy is None else policy
        if name not in self.results:
            from ..suggest import unknown  # lazy: only on bad input

            raise unknown("policy", "policy", name, self.results)
        return self.results[name].plot()

    def _repr_html_(self) -> str:
        names = self.policies
        keys = [k for k in KEY_FIGURES if any(k in self.summary[n] for n in names)]
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        rows = []
        for k in keys:
            cells = "".join(
                f"<td style='text-align:right'>{html.escape(_pm(self.summary[n].get(k)))}</td>" for n in names
            )
            unit = next((self.summary[n][k].unit for n in names if k in self.summary[n]), "")
            rows.append(
                f"<tr><td style='text-align:left'>{html.escape(k)}</td>{cells}"
                f"<td style='text-align:left'>{html.escape(unit)}</td></tr>"
            )
        out = (
            f"<p><b>ComparisonResult</b>: {html.escape(self.title)}</p><table><thead><tr><th>key</th>{head}"
            f"<th>unit</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        for s in self.differences.values():
            out += html_table(s)
        out += "".join(f"<p style='color:#b35900'>warning: {html.escape(w)}</p>" for w in self.warnings)
        return out

    def __repr__(self) -> str:
        lines = [f"<ComparisonResult: {self.title}>"]
        for n, r in self.results.items():
            lines.append(f"  {n}: pnl_mean {r.summary['pnl_mean']}, pnl_std {r.summary['pnl_std']}")
        for s in self.differences.values():
            lines.append(f"  {s.title}: pnl_mean {s['pnl_mean']}" if "pnl_mean" in s else f"  {s.title}")
        return "\n".join(lines)


def _pm(q) -> str:
    if q is None:
        return "—"
    return fmt(q.value) + (f" ± {fmt(q.se, 2)}" if q.se is not None else "")
