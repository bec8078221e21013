"""Presentation for the CLI: number formatting, units, catalogue data and rich tables.

The catalogue functions (:func:`presets_data`, :func:`policies_data`,
:func:`params_data`) return JSON-ready dicts; the ``--json`` output and the
rich tables are both built from them, so the two never disagree.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from ..params import PARAMS, defaults
from ..policies.registry import POLICIES
from ..presets import PRESETS, Preset

GROUPS = ("run", "policy", "market", "controls", "hedging", "costs")
ZONE_NAMES = ("none", "yellow", "red", "critical")

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
#: summary keys the tables leave out (``warnings`` go to stderr, one ``warning:`` line each)
NOT_IN_TABLES = ("warnings",)

QUOTE_UNITS: dict[str, str] = {
    "mid": "price units", "q": "lots", "t": "time units: {time}",
    "bid": "price units", "ask": "price units",
    "bid_depth": "price units below mid", "ask_depth": "price units above mid",
    "bid_size": "lots", "ask_size": "lots",
    "centre": "price units", "reservation": "price units",
    "half_spread": "price units", "skew": "price units (centre − mid)", "zone": "-",
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
        "duration_s": "s", "elapsed_s": "s", "events_per_s": "events/s", "maker_volume": qu,
        "maker_notional": pu, "pnl_final": pu, "pnl_liquidated": pu, "final_q": qu,
        "q_mean": qu, "q_std": qu, "max_abs_q": qu,
        "spread_mean": pu, "spread_given_up": pu, "financing": pu, "fees": pu,
        "max_drawdown": pu, "var_95_60s": f"{pu} per 60 s (loss)", "es_95_60s": f"{pu} per 60 s (loss)",
        "ou_kappa": "per s", "half_life": "s", "kill_time_s": "s after start",
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


def _text(x: object, digits: int = 6) -> Text:
    """Plain text (never parsed as rich markup)."""
    return Text(x if isinstance(x, str) else fmt(x, digits))


# --------------------------------------------------------------------------- catalogues

def _preset_values(p: Preset) -> tuple[dict, set[str]]:
    """The preset's resolved values (registry defaults + preset + derived) and the derived names."""
    class _Recording(dict):
        def __setitem__(self, key, value):
            written.add(key)
            super().__setitem__(key, value)

    written: set[str] = set()
    v = _Recording(defaults())
    v.update(p.values)  # dict.update bypasses __setitem__: only derive's writes are recorded
    if p.derive is not None:
        p.derive(v, set())
    return dict(v), written


def presets_data() -> dict:
    """Every preset: description, source, time unit, and each parameter it sets."""
    out = {}
    for name, p in PRESETS.items():
        v, derived = _preset_values(p)
        params = {}
        for key in [*p.values, *sorted(derived - set(p.values))]:
            spec = PARAMS[key]
            params[key] = {"value": v[key], "unit": spec.unit, "allowed": spec.allowed(),
                           "group": spec.group, "derived": key in derived, "doc": spec.doc}
        out[name] = {"description": p.description, "source": p.source, "time_unit": p.time_unit,
                     "params": params}
    return out


def policies_data() -> dict:
    """Every policy: rung, summary, source, and each parameter its formula reads."""
    out = {}
    for name, s in POLICIES.items():
        params = {k: {"default": PARAMS[k].default, "unit": PARAMS[k].unit, "allowed": PARAMS[k].allowed(),
                      "group": PARAMS[k].group, "doc": PARAMS[k].doc} for k in s.params}
        out[name] = {"rung": s.rung, "summary": s.summary, "source": s.source, "params": params}
    return out


def params_data() -> dict:
    """The whole parameter registry, grouped (run, policy, market, controls, costs)."""
    out: dict[str, dict] = {g: {} for g in GROUPS}
    for name, p in PARAMS.items():
        out.setdefault(p.group, {})[name] = {"default": p.default, "unit": p.unit, "allowed": p.allowed(),
                                             "doc": p.doc}
    return out


# --------------------------------------------------------------------------- tables

def summary_table(summary: Mapping, time_unit: str, title: str) -> Table:
    """One run's summary: metric, value, unit."""
    t = Table(title=Text(title), title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for key, val in summary.items():
        if key not in NOT_IN_TABLES:
            t.add_row(key, _text(val), _text(unit(SUMMARY_UNITS, key, time_unit)))
    return t


def compare_table(summaries: Mapping[str, Mapping], time_unit: str, title: str) -> Table:
    """Metrics × policies, with a unit column."""
    t = Table(title=Text(title), title_justify="left")
    t.add_column("metric")
    for name in summaries:
        t.add_column(_text(name), justify="right")
    t.add_column("unit")
    keys: list[str] = []
    for s in summaries.values():
        keys += [k for k in s if k not in keys and k not in NOT_IN_TABLES]
    for key in keys:
        t.add_row(key, *(_text(s.get(key)) for s in summaries.values()),
                  _text(unit(SUMMARY_UNITS, key, time_unit)))
    return t


def fmt_pm(x: float | None, se: float | None) -> str:
    """``x ± se`` with the SE to two significant digits and ``x`` to the same decimal place."""
    if x is None:
        return "n/a"
    if se is None or not math.isfinite(se):
        return fmt(x)
    if se <= 1e-12 * max(abs(x), 1.0):   # zero up to rounding (an exact fit): no 17-decimal noise
        return f"{fmt(x)} ± 0"
    dec = max(0, 1 - math.floor(math.log10(se)))
    return f"{x:,.{dec}f} ± {se:,.{dec}f}"


def differences_table(diff: Mapping, time_unit: str, title: str) -> Table:
    """Paired differences against the baseline policy: metric × policy, ``diff ± SE`` (paired) and the unpaired SE."""
    base = diff["baseline"]
    t = Table(title=Text(title), title_justify="left",
              caption=Text("± 1 SE, paired over paths; std metrics: delta method; [SE if the runs were independent]"),
              caption_justify="left")
    t.add_column("metric")
    for name in diff["policies"]:
        t.add_column(Text(f"{name} − {base}"), justify="right")
    t.add_column("unit")
    keys: list[str] = []
    for rows in diff["policies"].values():
        keys += [k for k in rows if k not in keys]
    for key in keys:
        cells = []
        for rows in diff["policies"].values():
            d = rows.get(key)
            cells.append(Text("n/a" if d is None else
                              f"{fmt_pm(d['diff'], d['se'])} [{fmt(d['se_unpaired'], 2)}]"))
        t.add_row(key, *cells, _text(unit(SUMMARY_UNITS, key, time_unit)))
    return t


def quote_table(q: Mapping, time_unit: str, title: str) -> Table:
    """One state's quotes: field, value, unit."""
    t = Table(title=Text(title), title_justify="left")
    t.add_column("field")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for key, val in q.items():
        if key == "zone":
            val = f"{val} ({ZONE_NAMES[val] if 0 <= val < len(ZONE_NAMES) else '?'})"
        elif val is None and key in ("bid", "ask", "bid_depth", "ask_depth"):
            val = "not quoted"
        t.add_row(key, _text(val, 10), _text(unit(QUOTE_UNITS, key, time_unit)))
    return t


def _param_table(title: str, rows: Mapping[str, Mapping], value_key: str, value_label: str,
                 caption: str | None = None) -> Table:
    t = Table(title=Text(title), title_justify="left", caption=Text(caption) if caption else None,
              caption_justify="left")
    t.add_column("parameter")
    t.add_column(value_label, justify="right")
    t.add_column("unit")
    t.add_column("allowed")
    t.add_column("meaning")
    for name, r in rows.items():
        val = fmt(r[value_key]) + (" (derived)" if r.get("derived") else "")
        t.add_row(_text(name), _text(val), _text(r["unit"]), _text(r["allowed"]), _text(r["doc"]))
    return t


def presets_tables(data: Mapping) -> list[Table]:
    """One table per preset."""
    return [_param_table(f"{name} — time unit: {p['time_unit']}", p["params"], "value", "value",
                         f"{p['description']}\nsource: {p['source']}")
            for name, p in data.items()]


def policies_tables(data: Mapping) -> list[Table]:
    """One table per policy."""
    return [_param_table(f"{name} (rung {p['rung']}) — {p['summary']}", p["params"], "default", "default",
                         f"source: {p['source']}")
            for name, p in data.items()]


def params_tables(data: Mapping) -> list[Table]:
    """One table per parameter group."""
    return [_param_table(f"{group} parameters", rows, "default", "default") for group, rows in data.items()]
