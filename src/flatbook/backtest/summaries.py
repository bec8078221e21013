"""A backtest's summary as the faces show it: flat rows with their units, and the path for figures.

Shared by the command line (``flatbook backtest``), the HTML report and the result objects of
the Python API, so they print the same rows with the same units.
"""

from __future__ import annotations

import numpy as np

from ..units import backtest_units, per_unit
from .backtester import MONEY_KEYS


def figure_series(res, max_points: int = 20_000) -> dict[str, np.ndarray]:
    """The replay's path on at most ``max_points`` events (evenly spaced), time in seconds."""
    p = res.path
    n = p["ts"].size
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))
    t = (p["ts"][idx] - p["ts"][0]) / 1e9
    return {
        "t": t,
        "mid": p["mid"][idx],
        "bid": p["bid"][idx],
        "ask": p["ask"][idx],
        "q": p["q"][idx],
        "pnl": p["pnl"][idx],
    }


def flat_summary(summary: dict) -> dict:
    """The summary for the table: nested mappings (timing, adverse by horizon) as ``key.sub`` rows,
    the warnings left out (they are printed on stderr)."""
    out = {}
    for k, v in summary.items():
        if k == "warnings":
            continue
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def table_units(summary: dict, meta) -> dict[str, str]:
    """Units of the table's rows: :func:`~flatbook.units.backtest_units`, with money in the
    settlement currency (it differs from the price unit for inverse contracts)."""
    bu = backtest_units(summary, meta.price_unit, meta.qty_unit)
    cur = meta.settlement_currency
    u = {}
    for k in flat_summary(summary):
        top, _, sub = k.partition(".")
        if top == "timing":
            u[k] = bu.get(sub, "")
        elif top in MONEY_KEYS or top.startswith("pnl_"):
            u[k] = cur
        elif top.startswith("markout_"):
            u[k] = f"{cur} per {'contract' if meta.inverse else per_unit(meta.qty_unit)}"
        else:
            u[k] = bu.get(top, "")
    u.update(
        {
            "pnl_final_quote": f"{meta.price_unit} (at the last mid)",
            "pnl_liquidated_quote": f"{meta.price_unit} (at the last mid)",
            "pnl_adverse_horizon_s": "s",
            "contract_size": meta.price_unit if meta.inverse else "",
            "quote_depth_mean": meta.price_unit,
            "market_spread_mean": meta.price_unit,
        }
    )
    return u
