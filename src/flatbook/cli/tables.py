"""Presentation for the CLI: catalogue data and rich tables (units and number formats: :mod:`flatbook.units`).

The catalogue functions (:func:`presets_data`, :func:`policies_data`,
:func:`params_data`) return JSON-ready dicts; the ``--json`` output and the
rich tables are both built from them, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text

from ..controls.zones import zone_name
from ..params import PARAMS, defaults
from ..presets import PRESETS, Preset
from ..units import PNL_UNIT, QUOTE_UNITS, SUMMARY_UNITS, backtest_units, fmt, fmt_pm, per_unit, unit  # noqa: F401  (re-exported)

GROUPS = ("run", "policy", "market", "controls", "hedging", "costs")

#: summary keys the tables leave out (``warnings`` go to stderr, one ``warning:`` line each)
NOT_IN_TABLES = ("warnings",)


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
            params[key] = {
                "value": v[key],
                "unit": spec.unit,
                "allowed": spec.allowed(),
                "group": spec.group,
                "derived": key in derived,
                "doc": spec.doc,
            }
        out[name] = {"description": p.description, "source": p.source, "time_unit": p.time_unit, "params": params}
    return out


def policies_data() -> dict:
    """Every policy: rung, summary, source, and each parameter its formula reads."""
    from ..policies.registry import POLICIES  # lazy: start-up (the registry imports numba)

    out = {}
    for name, s in POLICIES.items():
        params = {
            k: {
                "default": PARAMS[k].default,
                "unit": PARAMS[k].unit,
                "allowed": PARAMS[k].allowed(),
                "group": PARAMS[k].group,
                "doc": PARAMS[k].doc,
            }
            for k in s.params
        }
        out[name] = {"rung": s.rung, "summary": s.summary, "source": s.source, "params": params}
    return out


def params_data() -> dict:
    """The whole parameter registry, grouped (run, policy, market, controls, costs)."""
    out: dict[str, dict] = {g: {} for g in GROUPS}
    for name, p in PARAMS.items():
        out.setdefault(p.group, {})[name] = {"default": p.default, "unit": p.unit, "allowed": p.allowed(), "doc": p.doc}
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
        t.add_row(key, *(_text(s.get(key)) for s in summaries.values()), _text(unit(SUMMARY_UNITS, key, time_unit)))
    return t


def differences_table(diff: Mapping, time_unit: str, title: str) -> Table:
    """Paired differences against the baseline policy: metric × policy, ``diff ± SE`` (paired) and the unpaired SE."""
    base = diff["baseline"]
    t = Table(
        title=Text(title),
        title_justify="left",
        caption=Text("± 1 SE, paired over paths; std metrics: delta method; [SE if the runs were independent]"),
        caption_justify="left",
    )
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
            cells.append(Text("n/a" if d is None else f"{fmt_pm(d['diff'], d['se'])} [{fmt(d['se_unpaired'], 2)}]"))
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
            name = zone_name(val)
            val = f"{val} ({name if name != 'unknown' else '?'})"
        elif val is None and key in ("bid", "ask", "bid_depth", "ask_depth"):
            val = "not quoted"
        t.add_row(key, _text(val, 10), _text(unit(QUOTE_UNITS, key, time_unit)))
    return t


def _param_table(
    title: str, rows: Mapping[str, Mapping], value_key: str, value_label: str, caption: str | None = None
) -> Table:
    t = Table(
        title=Text(title), title_justify="left", caption=Text(caption) if caption else None, caption_justify="left"
    )
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
    return [
        _param_table(
            f"{name} — time unit: {p['time_unit']}",
            p["params"],
            "value",
            "value",
            f"{p['description']}\nsource: {p['source']}",
        )
        for name, p in data.items()
    ]


def policies_tables(data: Mapping) -> list[Table]:
    """One table per policy."""
    return [
        _param_table(
            f"{name} (rung {p['rung']}) — {p['summary']}", p["params"], "default", "default", f"source: {p['source']}"
        )
        for name, p in data.items()
    ]


def params_tables(data: Mapping) -> list[Table]:
    """One table per parameter group."""
    return [_param_table(f"{group} parameters", rows, "default", "default") for group, rows in data.items()]
