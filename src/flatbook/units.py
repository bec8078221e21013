"""Units and number formats: what every face (tables, HTML report, result objects) prints beside a number.

One table per kind of result: :data:`SUMMARY_UNITS` (simulate and compare summaries),
:data:`QUOTE_UNITS` (a quote), :func:`backtest_units` (a replay, in the data's own units) and
:data:`MULTI_UNITS` (several instruments). ``{time}`` in a unit is the preset's time unit
(:func:`unit` fills it in). Standard library only: the command line reads it at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .params import PARAMS

PNL_UNIT = "price units × lots"

#: summary key → unit; "{time}" is replaced by the preset's time unit.
SUMMARY_UNITS: dict[str, str] = {
    "paths": "paths",
    "steps": "steps per path",
    "pnl_mean": PNL_UNIT,
    "pnl_std": PNL_UNIT,
    "pnl_se": PNL_UNIT,
    "sharpe": "ratio (mean/std)",
    "final_q_mean": "lots",
    "final_q_std": "lots",
    "max_abs_q_mean": "lots",
    "max_abs_q_max": "lots",
    "q_std_mean": "lots",
    "spread_mean": "price units",
    "fills_mean": "fills per path",
    "volume_mean": "lots per path",
    "spread_given_up_mean": PNL_UNIT,
    "time_at_limit_frac": "fraction of steps",
    "time_in_yellow_frac": "fraction of steps",
    "time_in_red_frac": "fraction of steps",
    "time_in_critical_frac": "fraction of steps",
    "hedge_requests_mean": "requests per path",
    "kill_frac": "fraction of paths",
    "kill_loss_frac": "fraction of paths",
    "kill_drawdown_frac": "fraction of paths",
    "financing_mean": PNL_UNIT,
    "fees_mean": PNL_UNIT,
    "max_drawdown_mean": PNL_UNIT,
    "var_95": PNL_UNIT + " (loss)",
    "es_95": PNL_UNIT + " (loss)",
    "pnl_spread": PNL_UNIT + " (fills vs the mid)",
    "pnl_inventory": PNL_UNIT + " (the position's mark)",
    "pnl_adverse": PNL_UNIT + " (fills' markout)",
    "pnl_hedge": PNL_UNIT + " (hedge spread + impact)",
    "pnl_financing": PNL_UNIT + " (financing, borrow, funding, capital)",
    "pnl_fees": PNL_UNIT + " (fees and rebates)",
    "hedge_count": "hedge programs per path",
    "hedge_trades": "hedge child orders per path",
    "hedge_cost": PNL_UNIT + " (spread + impact)",
    "hedge_volume": "lots of the hedge instrument per path",
    "residual_risk": PNL_UNIT + " (std of hedged PnL)",
    "price_pnl_std": PNL_UNIT + " (inventory's price PnL)",
    "basis_pnl_std": PNL_UNIT + " (inventory + hedge leg)",
    "financing_cost": PNL_UNIT + " (long)",
    "borrow_cost": PNL_UNIT + " (short)",
    "funding_cost": PNL_UNIT + " (perp leg; < 0 received)",
    "capital_cost": PNL_UNIT + " (haircut + margin)",
    "ou_phi": "AR(1) coefficient per step",
    "ou_t": "t-statistic (half-life if < −2.86)",
    "ou_kappa": "per time unit: {time}",
    "half_life": "time units: {time}",
    "unhedged_pnl_mean": PNL_UNIT + " (same paths, no hedge trades)",
    "unhedged_pnl_std": PNL_UNIT + " (same paths, no hedge trades)",
    "hedge_pnl_mean_change": PNL_UNIT + " (hedged − unhedged, paired; < 0: what the hedge costs)",
    "hedge_pnl_mean_change_se": PNL_UNIT + " (SE, paired paths)",
    "hedge_pnl_std_change": PNL_UNIT + " (hedged − unhedged, paired; < 0: risk removed)",
    "hedge_pnl_std_change_se": PNL_UNIT + " (SE, delta method, paired paths)",
    "elapsed_s": "s",
    "path_steps_per_s": "path-steps/s",
}
QUOTE_UNITS: dict[str, str] = {
    "mid": "price units",
    "q": "lots",
    "t": "time units: {time}",
    "bid": "price units",
    "ask": "price units",
    "bid_depth": "price units below mid",
    "ask_depth": "price units above mid",
    "bid_size": "lots",
    "ask_size": "lots",
    "centre": "price units",
    "reservation": "price units",
    "half_spread": "price units",
    "skew": "price units (centre − mid)",
    "zone": "-",
}


def unit(table: Mapping[str, str], key: str, time_unit: str) -> str:
    """The unit of ``key`` (empty when unknown), with the time unit filled in."""
    return table.get(key, "").replace("{time}", time_unit)


def per_unit(qty_unit: str) -> str:
    """A quantity unit after "per": lots → lot, shares → share, BTC → BTC."""
    return qty_unit[:-1] if qty_unit in ("lots", "shares", "contracts", "units") else qty_unit


def backtest_units(summary: Mapping, price_unit: str, qty_unit: str) -> dict[str, str]:
    """Unit of each key of a backtest summary, in the data's price and quantity units."""
    pu, qu = price_unit, qty_unit
    return {
        "duration_s": "s",
        "elapsed_s": "s",
        "events_per_s": "events/s",
        "maker_volume": qu,
        "fill_depth_max_ticks": "ticks behind the touch",
        "maker_notional": pu,
        "pnl_final": pu,
        "pnl_liquidated": pu,
        "final_q": qu,
        "q_mean": qu,
        "q_std": qu,
        "max_abs_q": qu,
        "spread_mean": pu,
        "spread_given_up": pu,
        "financing": pu,
        "fees": pu,
        "max_drawdown": pu,
        "var_95_60s": f"{pu} per 60 s (loss)",
        "es_95_60s": f"{pu} per 60 s (loss)",
        "ou_kappa": "per s",
        "half_life": "s",
        "kill_time_s": "s after start",
        **{k: f"{pu} per {per_unit(qu)}" for k in summary if k.startswith("markout_")},
        **{k: pu for k in summary if k.startswith("pnl_") and k not in ("pnl_final", "pnl_liquidated")},
    }


def fmt(x: object, digits: int = 6) -> str:
    """A number (or anything) for display, with ``digits`` significant digits."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return "n/a"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 1e6:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def fmt_pm(x: float | None, se: float | None) -> str:
    """``x ± se`` with the SE to two significant digits and ``x`` to the same decimal place."""
    if x is None:
        return "n/a"
    if se is None or not math.isfinite(se):
        return fmt(x)
    if se <= 1e-12 * max(abs(x), 1.0):  # zero up to rounding (an exact fit): no 17-decimal noise
        return f"{fmt(x)} ± 0"
    dec = max(0, 1 - math.floor(math.log10(se)))
    return f"{x:,.{dec}f} ± {se:,.{dec}f}"


# --------------------------------------------------------------------------- several instruments (flatbook multi)

#: the portfolio rows of the table and the report, in order
PORTFOLIO_KEYS = (
    "pnl_mean",
    "pnl_std",
    "pnl_se",
    "var_95",
    "es_95",
    "final_risk_mean",
    "final_q_corr",
    "paths",
    "steps",
)
#: the per-instrument columns (keys of ``per_instrument``)
INSTRUMENT_COLUMNS = ("final_q_mean", "final_q_std", "max_abs_q_mean", "fills_mean", "spread_capture_mean")
#: units of the multi summary's own keys; the rest as in ``simulate`` (:data:`SUMMARY_UNITS`)
MULTI_UNITS = {
    "final_risk_mean": "(price units × lots)² per time unit: {time} (qᵀΣq at T)",
    "final_q_corr": "correlation of the final inventories across paths",
    "spread_capture_mean": PNL_UNIT,
    "path_steps_per_s": "path-steps/s (all instruments)",
}


def multi_unit(key: str, time_unit: str) -> str:
    """The unit of a multi summary key or an instrument parameter, with the time unit filled in."""
    u = unit({**SUMMARY_UNITS, **MULTI_UNITS}, key, time_unit)
    return u or (PARAMS[key].unit if key in PARAMS else "")
