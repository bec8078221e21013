"""The result of :func:`flatbook.api.replay.backtest_hedged`: inventory in one instrument, hedged in another."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..backtest.hedged import HedgedRun, units
from ._base import ReportedResult, SavedResult, write_frames
from ._files import dumps
from .replay import BacktestResult
from .summary import Summary, html_table

__all__ = ["HedgedBacktestFrames", "HedgedBacktestResult"]


class HedgedBacktestFrames(NamedTuple):
    """The DataFrames of a hedged backtest, as ``flatbook backtest --hedge-data … --out`` writes them."""

    fills: Any
    """The inventory leg's fills (as :class:`~flatbook.results.BacktestFrames`)."""
    hedge_fills: Any
    """One row per level taken by a hedge order: time, ts (arrival, ns), side, px, qty, fee, mid, order."""
    hedge_orders: Any
    """One row per hedge order: time, ts (decision, ns), arrival (ns), qty (signed), limit (NaN: market)."""
    risk_path: Any
    """The 1 s grid from the window's start: time, ts, q, y, x (net delta), pnl_unhedged, pnl_hedged."""


class HedgedBacktestResult(SavedResult, ReportedResult):
    """A policy replayed on S's data with its inventory hedged in H's (``flatbook backtest --hedge-data``).

    Attributes
    ----------
    summary : Summary
        ``window.*``, ``pnl.*`` (the decomposition: legs, edges, fees, net delta, basis), ``risk.*`` (hedged
        against unhedged: std of PnL increments per 1 s and 60 s with SEs, max drawdown, max |net delta|,
        variance reduction beside the theory), ``hedge.*`` (ratio, orders, fills, volume) and ``inventory.*``;
        money in the common settlement currency. See :mod:`flatbook.backtest.hedged`.
    inventory : BacktestResult
        The inventory leg alone: the normal replay on S (its numbers are ``flatbook backtest`` on S's file).
    hedge_fills, hedge_orders, path : mapping of str to numpy.ndarray
        See :class:`flatbook.backtest.hedged.HedgedRun`.
    raw : flatbook.backtest.hedged.HedgedRun
    """

    _key_figures = (
        "pnl.hedged",
        "pnl.unhedged",
        "pnl.basis",
        "pnl.taker_fees",
        "risk.pnl_std_1s_hedged",
        "risk.pnl_std_1s_unhedged",
        "risk.variance_reduction_1s",
        "risk.price_variance_reduction_1s",
        "risk.theory_variance_reduction",
        "risk.max_abs_net_delta",
        "hedge.ratio",
        "hedge.orders",
    )

    def __init__(self, raw: HedgedRun, events, hedge_events):
        self.raw = raw
        self.inventory = BacktestResult(raw.inventory, events)
        self.config = raw.inventory.config
        self.meta = raw.meta
        self._obj = {**raw.summary, "meta": raw.meta, "timing": self.inventory.timing}
        mi, mh = events.meta, hedge_events.meta
        self._units = dict(units(mi.settlement_currency, mh.price_unit, mi.qty_unit, mh.qty_unit))
        self.title = (
            f"hedged backtest {raw.inventory.config.policy} — {mi.instrument} hedged in {mh.instrument} "
            f"(ratio {raw.ratio:.6g}, {raw.spec.order})"
        )
        self.summary = Summary.build(self._table_values(), self._units, self.title)

    def _table_values(self) -> dict[str, Any]:
        s = self.raw.summary
        out: dict[str, Any] = {}
        for group in ("window", "pnl", "risk", "hedge", "inventory"):
            for k, v in s[group].items():
                if not isinstance(v, dict):
                    out[f"{group}.{k}"] = v
        return out

    def table(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(figures, units) of the command line's table (the SEs have rows of their own)."""
        return self._table_values(), self._units

    @property
    def hedge_fills(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.hedge_fills)

    @property
    def hedge_orders(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.hedge_orders)

    @property
    def path(self) -> Mapping[str, np.ndarray]:
        return MappingProxyType(self.raw.path)

    def to_pandas(self) -> HedgedBacktestFrames:
        """``(fills, hedge_fills, hedge_orders, risk_path)`` DataFrames (the files ``--out`` writes)."""
        import pandas as pd  # lazy: start-up

        def frame(d: Mapping[str, np.ndarray]):
            df = pd.DataFrame({k: np.asarray(v) for k, v in d.items()})
            df.insert(0, "time", pd.to_datetime(df["ts"], unit="ns", utc=True))
            return df

        return HedgedBacktestFrames(
            self.inventory.to_pandas().fills,
            frame(self.raw.hedge_fills),
            frame(self.raw.hedge_orders),
            frame(self.raw.path),
        )

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write fills, hedge_fills, hedge_orders and risk_path as parquet files into ``directory``."""
        return write_frames(directory, self.to_pandas()._asdict())

    def plot(self):
        """The hedge at work, on the 1 s grid from the window's start (``path``): the PnL hedged and unhedged
        (settlement currency), then the inventory q, the hedge in units of S (y/h) and the net delta
        x = q + y/h (quantity units of S). A :class:`matplotlib.figure.Figure`, not written anywhere."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: start-up (matplotlib)
        from matplotlib.figure import Figure

        p, s = self.raw.path, self.raw.summary
        cur = s.get("settlement_currency", "")
        qu = self._units.get("risk.max_abs_q", "quantity units")
        t = (np.asarray(p["ts"]) - p["ts"][0]) / 1e9 if len(p["ts"]) else np.zeros(0)
        fig = Figure(figsize=(8.0, 6.0), layout="constrained")
        FigureCanvasAgg(fig)
        a1, a2 = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        r = s["risk"]
        std_u, std_h = r.get("pnl_std_1s_unhedged"), r.get("pnl_std_1s_hedged")

        def std(v):
            return f"{v:.3g}" if v is not None else "n/a"

        a1.plot(t, p["pnl_unhedged"], color="0.45", lw=1.0, label=f"unhedged (std 1 s: {std(std_u)} {cur})")
        a1.plot(t, p["pnl_hedged"], color="tab:blue", lw=1.2, label=f"hedged (std 1 s: {std(std_h)} {cur})")
        a1.axhline(0.0, color="0.8", lw=0.8)
        a1.set_ylabel(f"PnL ({cur})")
        a1.legend(fontsize=8, loc="best")
        a1.grid(alpha=0.3)
        a1.set_title(self.title, fontsize=9)
        a2.step(t, p["q"], where="post", color="0.45", lw=1.0, label="inventory q")
        a2.step(t, p["y"] / self.raw.ratio, where="post", color="tab:orange", lw=1.0, label="hedge y/h")
        a2.step(t, p["x"], where="post", color="tab:blue", lw=1.2, label="net delta x = q + y/h")
        a2.axhline(0.0, color="0.8", lw=0.8)
        a2.set_ylabel(f"position ({qu} of S)")
        a2.set_xlabel(f"time from {s['window']['start']} (s)")
        a2.legend(fontsize=8, loc="best")
        a2.grid(alpha=0.3)
        return fig

    def _png(self) -> bytes:
        fh = io.BytesIO()
        self.plot().savefig(fh, format="png", dpi=110)
        return fh.getvalue()

    def _files(self, tmp: Path) -> list[str]:
        """summary.json (the ``--json``), the four frames as parquet and hedged.png (:meth:`plot`)."""
        (tmp / "summary.json").write_text(dumps(self._obj) + "\n", encoding="utf-8")
        names = ["summary.json"]
        for name, df in self.to_pandas()._asdict().items():
            df.to_parquet(tmp / f"{name}.parquet", index=False, engine="pyarrow")
            names.append(f"{name}.parquet")
        (tmp / "hedged.png").write_bytes(self._png())
        names.append("hedged.png")
        return names

    def _report_html(self) -> str:
        """A self-contained page: the figure (:meth:`plot`, an embedded PNG), the summary table (value ± SE,
        unit) and the warnings."""
        warn = "".join(f"<p style='color:#b35900'>warning: {html.escape(w)}</p>" for w in self.warnings)
        img = base64.b64encode(self._png()).decode("ascii")
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>"
            + html.escape(self.title)
            + "</title></head><body style='font-family:sans-serif'>"
            + f"<img alt='hedged and unhedged PnL, net delta' src='data:image/png;base64,{img}'>"
            + html_table(self.summary)
            + warn
            + "</body></html>"
        )
