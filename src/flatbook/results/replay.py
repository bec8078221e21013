"""Results of :func:`flatbook.backtest` and :func:`flatbook.calibrate` (real market data)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..backtest.backtester import BacktestResult as Replay
from ..backtest.summaries import figure_series, flat_summary, table_units
from ..jsonutil import jsonable
from ._base import FramesResult, ReportedResult, SavedResult, write_frames
from ._files import dumps
from .summary import Summary

__all__ = ["BacktestFrames", "BacktestResult", "CalibrationResult", "DataInspection"]


class BacktestFrames(NamedTuple):
    """The DataFrames of a backtest, as ``flatbook backtest --out`` writes them."""

    fills: Any
    """One row per fill: time (UTC), ts (ns), side (+1 we bought), px, qty, q after, fee, mid, markouts."""
    inventory: Any
    """One row per event: time (UTC), ts, mid, our bid/ask (NaN: no quote), q, pnl (settlement currency)."""


class BacktestResult(SavedResult, ReportedResult):
    """A policy replayed on real quotes and trades.

    Attributes
    ----------
    summary : Summary
        Every figure of ``flatbook backtest`` (nested ones as ``outer.inner``), money in the contract's
        settlement currency, prices in the data's price unit, quantities in its quantity unit.
    fills, path : mapping of str to numpy.ndarray
        The fills and the per-event path (see :class:`flatbook.backtest.backtester.BacktestResult`).
    meta : dict
        ``data`` (instrument, units, contract, ...), ``options`` (latency, queue, ...), ``config``.
    raw : flatbook.backtest.backtester.BacktestResult
        The backtester's own output.
    """

    _key_figures = (
        "events",
        "fills",
        "maker_volume",
        "pnl_final",
        "pnl_liquidated",
        "final_q",
        "q_std",
        "max_abs_q",
        "spread_mean",
        "market_spread_mean",
        "fees",
        "max_drawdown",
        "var_95_60s",
        "markout_1s",
        "markout_60s",
    )

    def __init__(self, raw: Replay, events):
        self.raw = raw
        self.config = raw.config
        self.meta = raw.meta
        self._obj = jsonable(
            {**raw.summary, "data": raw.meta["data"], "options": raw.meta["options"], "config": raw.meta["config"]}
        )
        figures = {
            k: v
            for k, v in flat_summary(self._obj).items()
            if k.partition(".")[0] not in ("timing", "data", "options", "config")
        }
        units = table_units(raw.summary, events.meta)
        self._units = units
        title = f"backtest {raw.config.policy} — {raw.meta['data']['instrument']}"
        self.summary = Summary.build(figures, units, title)

    @property
    def fills(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.fills)

    @property
    def path(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.path)

    def to_pandas(self) -> BacktestFrames:
        """``(fills, inventory)`` DataFrames (the files ``flatbook backtest --out`` writes)."""
        import pandas as pd  # lazy: start-up

        fills = pd.DataFrame({k: np.asarray(v) for k, v in self.raw.fills.items()})
        fills.insert(0, "time", pd.to_datetime(fills["ts"], unit="ns", utc=True))
        path = pd.DataFrame({k: self.raw.path[k] for k in ("ts", "mid", "bid", "ask", "q", "pnl")})
        path.insert(0, "time", pd.to_datetime(path["ts"], unit="ns", utc=True))
        return BacktestFrames(fills, path)

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write fills.parquet and inventory.parquet into ``directory``; returns name → path."""
        return write_frames(directory, self.to_pandas()._asdict())

    def _six_panel_args(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        r, v, d = self.raw, self.config.values, self.meta["data"]
        title = (
            f"flatbook backtest — {d['instrument']}, policy {r.config.policy}\n"
            f"{r.summary['events']:,} events, {r.summary['fills']:,} fills; "
            f"latency feed {r.options.feed_latency.describe()}, order {r.options.order_latency.describe()}; "
            f"queue {r.options.queue}"
        )
        return figure_series(r), {
            "limit": v["limit"],
            "zones": (v["yellow"], v["red"], v["critical"]),
            "q_target": v["q_target"],
            "title": title,
            "time_unit": "s",
            "hist_title": "Inventory at evenly spaced events",
            "hist_ylabel": "count (events)",
            "price_unit": d["price_unit"],
            "qty_unit": d["qty_unit"],
            "pnl_unit": d["settlement_currency"],
            "tick": d["tick_size"],
        }

    def plot(self):
        """The six-panel figure of the replay (at most 20 000 evenly spaced events); not written anywhere."""
        from ..report.six_panel import six_panel_figure  # lazy: start-up (matplotlib, only for a figure)

        series, kwargs = self._six_panel_args()
        return six_panel_figure(series, **kwargs)

    def _files(self, tmp: Path) -> list[str]:
        """summary.json, fills.parquet, inventory.parquet and six_panel.png (``flatbook backtest --out``)."""
        (tmp / "summary.json").write_text(dumps(self._obj) + "\n", encoding="utf-8")
        frames = self.to_pandas()
        frames.fills.to_parquet(tmp / "fills.parquet", index=False, engine="pyarrow")
        frames.inventory.to_parquet(tmp / "inventory.parquet", index=False, engine="pyarrow")
        from ..report.six_panel import write_six_panel  # lazy: start-up (matplotlib, only for a figure)

        series, kwargs = self._six_panel_args()
        write_six_panel(tmp / "six_panel.png", series, **kwargs)
        return ["summary.json", "fills.parquet", "inventory.parquet", "six_panel.png"]

    def _report_html(self) -> str:
        from ..report.html import backtest_report  # lazy: start-up (plotly)

        return backtest_report(self.raw, self._obj)

    def table(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The rows of the command line's table: ``(figures, units)``, nested figures as ``outer.inner`` and
        wall-clock fields included (the table shows them; :attr:`summary` keeps them apart)."""
        return flat_summary(self.raw.summary), dict(self._units)


def _calibration_units(res: Mapping[str, Any]) -> dict[str, str]:
    pu, qu = res.get("price_unit", "price units"), res.get("qty_unit", "lots")
    tu = (res.get("time_unit") or {}).get("label", "1 s")
    units = {
        "volatility.sigma_per_time_unit": f"{pu} per √({tu})",
        "volatility.sigma_se": f"{pu} per √s",
        "volatility.sigma_day": f"{pu} per √day",
        "volatility.sigma_log_annual": "per √year",
        "tick_size": pu,
        "gamma.gamma": f"per ({pu} × {qu})",
        "gamma.achieved": qu,
        "gamma.achieved_se": qu,
        "gamma.target_q_std": qu,
    }
    for side in ("bid", "ask", "pooled", "touch"):
        for suffix in ("", "_lo", "_hi", "_se"):
            units[f"intensity.{side}.A{suffix}"] = f"per {tu}"
            units[f"intensity.{side}.k{suffix}"] = f"per {pu}"
    return units


class CalibrationResult(FramesResult):
    """σ, A and k (with confidence intervals) fitted on real data, and optionally a suggested γ.

    Attributes
    ----------
    summary : Summary
        Every figure of ``flatbook calibrate --json`` (nested ones as ``outer.inner``) with units.
    suggested : dict
        The parameter values to run with (``backtest_set`` when a γ was suggested and replayed, else ``set``):
        pass them on as ``flatbook.backtest(data, params=cal.suggested)``.
    """

    _key_figures = (
        "volatility.sigma_per_time_unit",
        "intensity.pooled.A",
        "intensity.pooled.k",
        "intensity.touch.A",
        "intensity.touch.k",
        "quoting_law",
        "gamma.gamma",
        "gamma.achieved",
    )

    def __init__(self, res: Mapping[str, Any]):
        self._obj = jsonable(dict(res))
        figures = {k: v for k, v in self._obj.items() if k not in ("warnings",)}
        self.summary = Summary.build(
            figures, _calibration_units(self._obj), f"calibrate — {self._obj.get('instrument', '')}"
        )

    @property
    def suggested(self) -> dict[str, Any]:
        return dict(self._obj.get("backtest_set") or self._obj.get("set") or {})

    def to_pandas(self):
        """The summary as a DataFrame (key → value, se, unit)."""
        return self.summary.to_pandas()

    def _frames(self) -> Mapping[str, Any]:
        """``save(dir)``: summary.json (``flatbook calibrate --json``) and summary.parquet (key, value, se, unit)."""
        return {"summary": self.to_pandas().reset_index()}


#: the inspection's units shown even when the figure is absent
_ALWAYS = (
    "duration_s",
    "tick_size",
    "lot_size",
    "contract_size",
    "spread_mean_ticks",
    "spread_median_ticks",
    "mid_vol_annualized",
    "mid_vol_per_s",
)


class DataInspection(FramesResult):
    """What a market data file holds (``flatbook data inspect``): instrument, time span, tick and lot, contract,
    event counts, spread and volatility, and every stream (or file) in it, used or ignored, and why.

    Attributes
    ----------
    summary : Summary
        The figures with units (duration in s, tick in the price unit, lot in the quantity unit, spread in
        ticks, volatility per √year and per √s).
    streams : dict
        Per stream: messages, used (bool) and a note.
    events : flatbook.data.events.EventTable
        The loaded table (to backtest or calibrate without loading again).
    """

    _key_figures = (
        "instrument",
        "events",
        "duration_s",
        "tick_size",
        "lot_size",
        "contract",
        "spread_mean_ticks",
        "mid_vol_annualized",
    )

    def __init__(self, events, info: Mapping[str, Any]):
        self.events = events
        m = events.meta
        self.info = dict(info)
        self.streams = dict(m.streams or {})
        self.units = {
            "duration_s": "s",
            "tick_size": m.price_unit,
            "lot_size": m.qty_unit,
            "contract_size": m.price_unit if m.inverse else "",
            "spread_mean_ticks": "ticks, time-weighted",
            "spread_median_ticks": "ticks",
            "mid_vol_annualized": "per √year",
            "mid_vol_per_s": f"{m.price_unit} per √s",
            **{k: "rows" for k in ("events", "quotes", "levels", "clears", "trades", "buy_trades", "sell_trades")},
            **{k: "rows" for k in ("level_rows", "clear_rows")},
            "depth_gaps": "sequence gaps",
            "latency_messages": "messages in the sample",
            "latency_lognormal_log_sd": "log-ms",
            "latency_ks": "KS statistic (0–1)",
            **{k: "ms" for k in self.info if k.startswith("latency_") and k.endswith("_ms")},
        }
        self.units = {k: v for k, v in self.units.items() if k in self.info or k in _ALWAYS}
        self._obj = {**self.info, "streams": m.streams}
        self.summary = Summary.build(self.info, self.units, f"data — {m.instrument}")

    def to_pandas(self):
        """The streams: one row per stream (messages, used, note), indexed by name."""
        import pandas as pd  # lazy: start-up

        rows = [{"stream": k, **v} for k, v in self.streams.items()]
        return pd.DataFrame(rows, columns=["stream", "messages", "used", "note"]).set_index("stream")

    def _frames(self) -> Mapping[str, Any]:
        """``save(dir)``: summary.json (``flatbook data inspect --json``) and streams.parquet."""
        return {"streams": self.to_pandas().reset_index()}
