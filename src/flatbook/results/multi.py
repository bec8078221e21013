"""The result of :func:`flatbook.multi`: one maker quoting several correlated instruments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..jsonutil import jsonable
from ..multi.simulator import MultiResult as MultiRun
from ..presets import PRESETS
from ..timing import group_timing
from ..units import INSTRUMENT_COLUMNS, PORTFOLIO_KEYS, multi_unit
from ._base import ReportedResult, SavedResult, write_frames
from ._files import dumps
from .summary import Summary

__all__ = ["MultiResult", "multi_object", "per_path_columns"]


def multi_object(raw: MultiRun, preset: str | None = None) -> dict:
    """``multi --json`` and ``summary.json``: the summary (wall-clock fields under ``timing``) plus
    ``config`` (with the multi-instrument preset's name when given)."""
    cfg = {**({"preset": preset} if preset is not None else {}), **raw.config.as_dict()}
    return jsonable(group_timing({**raw.summary, "config": cfg}))


def per_path_columns(raw: MultiRun) -> dict[str, np.ndarray]:
    """The per-path columns of ``per_path.parquet`` and the report: ``pnl`` (price units × lots) and
    ``NAME.final_q``, ``NAME.max_abs_q`` (lots), ``NAME.fills``, ``NAME.spread_capture``."""
    cols = {"pnl": raw.pnl}
    for name, d in raw.per_instrument.items():
        cols.update({f"{name}.{k}": v for k, v in d.items()})
    return cols


class MultiResult(SavedResult, ReportedResult):
    """Several correlated instruments quoted by one maker (portfolio or own skew).

    Attributes
    ----------
    summary : Summary
        The portfolio's figures (PnL mean ± SE, std, VaR/ES in price units × lots, ...) and
        ``NAME.<column>`` per instrument (final and max |q| in lots, fills, spread capture).
    config : flatbook.multi.simulator.MultiConfig
        The instruments' runs, their correlation matrix, portfolio skew, paths and seed.
    preset : str
        The multi-instrument preset's name.
    raw : flatbook.multi.simulator.MultiResult
        The simulator's own output (per-path PnL and per-instrument arrays).
    """

    _key_figures = tuple(k for k in PORTFOLIO_KEYS if k not in ("paths", "steps"))

    def __init__(self, raw: MultiRun, preset: str):
        self.raw, self.preset, self.config = raw, preset, raw.config
        self._obj = multi_object(raw, preset)
        self.time_unit = PRESETS[raw.config.configs[0].preset].time_unit
        mc = raw.config
        self.title = (
            f"multi — {preset}, {mc.paths:,} paths × {mc.configs[0].steps:,} steps, seed {mc.seed}, "
            f"ρ = {mc.correlation[0, -1]:g}, {'portfolio' if mc.portfolio_skew else 'own'} skew"
        )
        figures: dict[str, Any] = {k: self._obj[k] for k in PORTFOLIO_KEYS if k in self._obj}
        units = {k: multi_unit(k, self.time_unit) for k in figures}
        for name, d in (self._obj.get("per_instrument") or {}).items():
            for c in INSTRUMENT_COLUMNS:
                if c in d:
                    figures[f"{name}.{c}"] = d[c]
                    units[f"{name}.{c}"] = multi_unit(c, self.time_unit)
        self.summary = Summary.build(figures, units, self.title)

    @property
    def per_path(self) -> Mapping[str, np.ndarray]:
        """``pnl`` and ``NAME.<column>`` per path (see :func:`per_path_columns`)."""
        return MappingProxyType(per_path_columns(self.raw))

    def to_pandas(self):
        """One row per path (the ``per_path.parquet`` of ``flatbook multi --out``)."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame(per_path_columns(self.raw))

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write per_path.parquet into ``directory``."""
        return write_frames(directory, {"per_path": self.to_pandas()})

    def plot(self):
        """The portfolio PnL and each instrument's final inventory over all paths (histograms): a Figure, not
        written anywhere."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: start-up (matplotlib)
        from matplotlib.figure import Figure

        names = list(self.raw.per_instrument)
        fig = Figure(figsize=(4.0 * (1 + len(names)), 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 1 + len(names))
        axes[0].hist(self.raw.pnl, bins=50)
        axes[0].set_xlabel("portfolio PnL (price units × lots)")
        axes[0].set_ylabel("count (paths)")
        for ax, name in zip(axes[1:], names, strict=True):
            ax.hist(self.raw.per_instrument[name]["final_q"], bins=50)
            ax.set_xlabel(f"{name}: final inventory (lots)")
        fig.suptitle(self.title, fontsize=9)
        return fig

    def _files(self, tmp: Path) -> list[str]:
        """summary.json and per_path.parquet (``flatbook multi --out``)."""
        (tmp / "summary.json").write_text(dumps(self._obj) + "\n", encoding="utf-8")
        self.to_pandas().to_parquet(tmp / "per_path.parquet", index=False, engine="pyarrow")
        return ["summary.json", "per_path.parquet"]

    def _report_html(self) -> str:
        from ..report.html import multi_report  # lazy: start-up (plotly)

        return multi_report(self._obj, per_path_columns(self.raw))
