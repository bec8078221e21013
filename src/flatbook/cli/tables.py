"""Presentation for the CLI: rich tables (units and number formats: :mod:`flatbook.units`).

The catalogues (:func:`flatbook.api.catalogue.presets_data`, ``policies_data``, ``params_data``)
are JSON-ready dicts; the ``--json`` output and the rich tables here are both built from them,
so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text

from ..units import PNL_UNIT, QUOTE_UNITS, SUMMARY_UNITS, backtest_units, fmt, fmt_pm, per_unit, unit  # noqa: F401  (re-exported)

#: summary keys the tables leave out (``warnings`` go to stderr, one ``warning:`` line each)
NOT_IN_TABLES = ("warnings",)


def _text(x: object, digits: int = 6) -> Text:
    """Plain text (never parsed as rich markup)."""
    return Text(x if isinstance(x, str) else fmt(x, digits))


# --------------------------------------------------------------------------- catalogues


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


def quote_table(summary: Mapping, title: str) -> Table:
    """One state's quotes (a :class:`~flatbook.results.QuoteResult`'s summary): field, value, unit."""
    from ..controls.zones import zone_name  # lazy: start-up (numpy)

    t = Table(title=Text(title), title_justify="left")
    t.add_column("field")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for key, q in summary.items():
        val = q.value
        if key == "zone":
            name = zone_name(val)
            val = f"{val} ({name if name != 'unknown' else '?'})"
        elif val is None and key in ("bid", "ask", "bid_depth", "ask_depth"):
            val = "not quoted"
        t.add_row(key, _text(val, 10), _text(q.unit))
    return t


def quote_levels_table(levels: Sequence[Mapping], title: str) -> Table:
    """A ladder's levels (a :class:`~flatbook.results.QuoteResult`'s ``levels``), nearest the mid first:
    bid and ask price, depth (price units) and size (lots) of each level."""
    t = Table(title=Text(title), title_justify="left")
    for col in ("level", "bid size", "bid", "bid depth", "ask depth", "ask", "ask size"):
        t.add_column(col, justify="right")
    for lv in levels:
        cells = [lv["bid_size"], lv["bid"], lv["bid_depth"], lv["ask_depth"], lv["ask"], lv["ask_size"]]
        t.add_row(str(lv["level"]), *(_text("not quoted" if x is None else x, 10) for x in cells))
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
            f"{name} (rung {p['rung']}"
            + (f", a ladder of {p['levels']} levels per side" if "levels" in p else "")
            + f") — {p['summary']}",
            p["params"],
            "default",
            "default",
            f"source: {p['source']}",
        )
        for name, p in data.items()
    ]


def params_tables(data: Mapping) -> list[Table]:
    """One table per parameter group."""
    return [_param_table(f"{group} parameters", rows, "default", "default") for group, rows in data.items()]
