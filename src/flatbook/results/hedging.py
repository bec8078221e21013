"""The result of :func:`flatbook.hedge_frontier`: hedge cost against residual risk, threshold by threshold."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..presets import PRESETS
from ..units import SUMMARY_UNITS, unit
from ._base import SavedResult, write_frames
from ._files import dumps
from .summary import Quantity, Summary

__all__ = ["FRONTIER_KEYS", "HedgeFrontierResult"]

#: the columns of the frontier besides the threshold (summary figures of each simulation)
FRONTIER_KEYS = (
    "hedge_count",
    "hedge_trades",
    "hedge_cost",
    "hedge_volume",
    "residual_risk",
    "price_pnl_std",
    "basis_pnl_std",
    "pnl_mean",
    "pnl_se",
)
PNL_UNIT = "price units × lots"


class HedgeFrontierResult(SavedResult):
    """The hedge threshold swept from tight to loose on identical flow (common random numbers).

    Attributes
    ----------
    rows : list of dict
        One per threshold (lots on |x − q*|, ascending; ``inf`` = no hedge): hedge_count, hedge_trades (per
        path), hedge_cost, residual_risk (std of hedged PnL), price_pnl_std, basis_pnl_std, pnl_mean, pnl_se
        (price units × lots), hedge_volume (lots per path).
    summary : Summary
        ``<threshold>.<key>`` for every row and key, with units.
    config : flatbook.config.RunConfig
        The run of the first threshold (every other differs only in ``hedge_threshold``).
    title : str
        The table's and the figure's title.
    """

    _key_figures = ()

    def __init__(self, rows: Sequence[Mapping[str, Any]], configs: Sequence[Any], thresholds: Sequence[float]):
        self.rows = [dict(r) for r in rows]
        self.config = configs[0]
        self.thresholds = list(thresholds)
        self._obj = {"frontier": self.rows, "config": {**self.config.as_dict(), "thresholds": self.thresholds}}
        from ..jsonutil import jsonable  # lazy: start-up

        self._obj = jsonable(self._obj)
        c0 = self.config
        self.time_unit = PRESETS[c0.preset].time_unit
        self.title = (
            f"hedge frontier — preset {c0.preset}, policy {c0.policy}, {c0.paths:,} paths, seed {c0.seed}; "
            f"exec {c0.values['hedge_exec']}, instrument {c0.values['hedge_instrument']}"
        )
        q = {}
        for r in self.rows:
            label = "no_hedge" if math.isinf(r["threshold"]) else f"{r['threshold']:g}"
            for k in FRONTIER_KEYS:
                q[f"{label}.{k}"] = Quantity(r[k], unit(SUMMARY_UNITS, k, self.time_unit))
        self.summary = Summary(q, self.title)

    def to_pandas(self):
        """One row per threshold (the ``frontier.parquet`` of ``flatbook hedge-frontier --out``)."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame(self.rows)

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write frontier.parquet into ``directory``."""
        return write_frames(directory, {"frontier": self.to_pandas()})

    def plot(self):
        """Hedge cost against residual risk, one labelled point per threshold: a Figure, not written anywhere."""
        from ..report.hedge_frontier import hedge_frontier_figure  # lazy: start-up (matplotlib)

        return hedge_frontier_figure(self.rows, title=self.title, pnl_unit=PNL_UNIT)

    def _files(self, tmp: Path) -> list[str]:
        """frontier.json, frontier.parquet and hedge_frontier.png (``flatbook hedge-frontier --out``)."""
        from ..report.hedge_frontier import write_hedge_frontier  # lazy: start-up (matplotlib)

        (tmp / "frontier.json").write_text(dumps(self._obj) + "\n", encoding="utf-8")
        self.to_pandas().to_parquet(tmp / "frontier.parquet", index=False, engine="pyarrow")
        write_hedge_frontier(tmp / "hedge_frontier.png", self.rows, title=self.title, pnl_unit=PNL_UNIT)
        return ["frontier.json", "frontier.parquet", "hedge_frontier.png"]
