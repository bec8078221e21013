"""Results of :func:`flatbook.backtest_files` (many days) and :func:`flatbook.ensemble` (many models)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..jsonutil import jsonable
from ._base import FramesResult
from .summary import Summary

__all__ = ["BatchBacktestResult", "EnsembleResult"]

#: per-file columns of :attr:`BatchBacktestResult.files`, in order
FILE_COLUMNS = (
    "name",
    "ok",
    "error",
    "instrument",
    "settlement_currency",
    "qty_unit",
    "pnl_final",
    "pnl_liquidated",
    "fills",
    "maker_volume",
    "max_abs_q",
    "final_q",
    "fees",
    "max_drawdown",
    "events",
    "duration_s",
    "file",
    "point_id",
)


def _day_units(cur: str, qty: str = "") -> dict[str, str]:
    money = cur or "settlement currency"
    qty = qty or "quantity units"
    mixed_money = "," in money  # the figures are n/a: no exchange rate is assumed
    day = f"{money}: currencies differ, not added" if mixed_money else f"{money} per day"
    money = f"{money}: currencies differ, not added" if mixed_money else money
    return {
        "pnl_total": money,
        "pnl_mean_per_day": day,
        "pnl_std_per_day": day,
        "pnl_se": day,
        "sharpe_per_day": "per day (mean/std of daily PnL)",
        "worst_day_pnl": money,
        "best_day_pnl": money,
        "fees_total": money,
        "max_abs_q": f"{qty}: units differ, not compared" if "," in qty else f"{qty} (largest over the days)",
        "fills_total": "fills",
        "fills_mean_per_day": "fills per day",
        "days": "files",
        "files_failed": "files",
        "computed": "files",
        "resumed": "files",
    }


class BatchBacktestResult(FramesResult):
    """A policy backtested on many files (each a day), merged per file and across days.

    Attributes
    ----------
    summary : Summary
        Across the days that replayed: ``days``, ``pnl_total``, ``pnl_mean_per_day`` ± ``pnl_se``,
        ``pnl_std_per_day`` (ddof 1), ``sharpe_per_day``, ``worst_day_pnl`` (and ``worst_day``, its file),
        ``best_day_pnl``, ``fills_total``, ``fees_total``, ``max_abs_q``; and ``computed``/``resumed``
        (files replayed now / read back from ``out``), ``files_failed``. Money in the files' settlement
        currency (None when they differ: no exchange rate is assumed), ``max_abs_q`` in their quantity
        unit (None when they differ).
    files : pandas.DataFrame
        One row per file (:data:`FILE_COLUMNS`): its figures, or ``ok`` False and the one-line ``error``.
    results : list of dict
        Each file's whole backtest result (``BacktestResult.to_dict()`` without
        ``timing``), None for a file that failed.
    """

    _key_figures = (
        "days",
        "pnl_total",
        "pnl_mean_per_day",
        "pnl_std_per_day",
        "sharpe_per_day",
        "worst_day_pnl",
        "worst_day",
        "fills_total",
        "fees_total",
        "max_abs_q",
        "files_failed",
    )

    def __init__(self, rows: Sequence[Mapping[str, Any]], across: Mapping[str, Any], meta: Mapping[str, Any]):
        self._rows = [dict(r) for r in rows]
        self.meta = dict(meta)
        per_file = [{k: r.get(k) for k in FILE_COLUMNS} for r in self._rows]
        warn = [
            f"not backtested: {r['error']}"
            if r["name"] in str(r["error"])
            else f"{r['name']}: not backtested: {r['error']}"
            for r in self._rows
            if not r.get("ok")
        ]
        if across.get("days") and "," in str(across.get("settlement_currency", "")):
            warn.append(
                f"the files settle in different currencies ({across['settlement_currency']}): "
                "no money figures across them (each file's are in its row, in its currency)"
            )
        if across.get("days") and "," in str(across.get("qty_unit", "")):
            warn.append(f"the files' quantities are in different units ({across['qty_unit']}): no max |q| across them")
        self._obj = jsonable({**across, "files": per_file, **self.meta, "warnings": warn})
        figures = {k: v for k, v in across.items() if k not in ("settlement_currency", "qty_unit")}
        units = _day_units(str(across.get("settlement_currency") or ""), str(across.get("qty_unit") or ""))
        self.summary = Summary.build(figures, units, f"backtest {self.meta.get('policy', '')} — {len(rows)} files")

    @property
    def results(self) -> list[dict[str, Any] | None]:
        return [json.loads(r["result"]) if r.get("ok") and r.get("result") else None for r in self._rows]

    @property
    def files(self):
        """The per-file table (a pandas DataFrame)."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame([{k: r.get(k) for k in FILE_COLUMNS} for r in self._rows], columns=list(FILE_COLUMNS))

    def to_pandas(self):
        """The per-file table (:attr:`files`)."""
        return self.files

    def _frames(self) -> Mapping[str, Any]:
        return {"files": self.files}


class EnsembleResult(FramesResult):
    """One policy on one file across an ensemble of models (queue × latency × fill rule × …).

    Attributes
    ----------
    summary : Summary
        For each figure of :data:`flatbook.sweep.ensemble.SPREAD_KEYS`, ``<figure>.min``, ``.max``,
        ``.mean``, ``.std`` (ddof 0), ``.range`` and ``.range_pct_of_mean`` across the members; ``members``.
    members : pandas.DataFrame
        One row per member: its axis values and its figures.
    spread, effects : dict
        The spread per figure; for each axis with several values, the figure's mean at each value and the
        range of those means (``effects[figure][axis]``).
    """

    _key_figures = (
        "members",
        "pnl_final.min",
        "pnl_final.max",
        "pnl_final.range_pct_of_mean",
        "fills.min",
        "fills.max",
        "max_abs_q.min",
        "max_abs_q.max",
    )

    def __init__(
        self,
        axes: Mapping[str, Sequence[str]],
        members: Sequence[Mapping[str, str]],
        rows: Sequence[Mapping[str, Any]],
        spread: Mapping[str, Mapping[str, Any]],
        effects: Mapping[str, Mapping[str, Any]],
        meta: Mapping[str, Any],
        units: Mapping[str, str],
        warnings: Sequence[str] = (),
    ):
        self.axes = {k: list(v) for k, v in axes.items()}
        self._members = [dict(m) for m in members]
        self._rows = [dict(r) for r in rows]
        self.spread = {k: dict(v) for k, v in spread.items()}
        self.effects = {k: dict(v) for k, v in effects.items()}
        self.meta = dict(meta)
        table = [{**m, **{k: r.get(k) for k in units if k in r}} for m, r in zip(self._members, self._rows)]
        self._obj = jsonable(
            {
                "members": len(self._members),
                "axes": self.axes,
                "spread": self.spread,
                "effects": self.effects,
                "table": table,
                **self.meta,
                "units": dict(units),
                "warnings": list(warnings),
            }
        )
        su = {}
        for k, s in self.spread.items():
            for stat in s:
                su[f"{k}.{stat}"] = "%" if stat == "range_pct_of_mean" else units.get(k, "")
        su["members"] = "members"
        self.summary = Summary.build(
            {"members": len(self._members), **self.spread}, su, f"ensemble {self.meta.get('policy', '')}"
        )
        self._units = dict(units)

    @property
    def units(self) -> dict[str, str]:
        """Each figure's unit (settlement currency, the data's quantity unit, fills)."""
        return dict(self._units)

    @property
    def members(self):
        """One row per member: axis values, then figures (a pandas DataFrame)."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame([{**m, **r} for m, r in zip(self._members, self._rows)])

    @property
    def results(self) -> list[dict[str, Any]]:
        """Each member's whole replay summary (wall-clock fields dropped), in member order."""
        return [dict(r) for r in self._rows]

    def to_pandas(self):
        """The per-member table (:attr:`members`)."""
        return self.members

    def _frames(self) -> Mapping[str, Any]:
        df = self.members
        # nested or list-valued figures (warnings, adverse by horizon) as JSON text, so the frame is flat Parquet
        for c in df.columns:
            if df[c].map(lambda v: isinstance(v, (dict, list))).any():
                df[c] = df[c].map(lambda v: json.dumps(jsonable(v)))
        return {"members": df}
