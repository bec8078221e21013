"""``flatbook risk`` and ``flatbook stress``: the portfolio risk of a multi-asset book (TOML).

``risk``: positions, Greeks (delta, gamma, vega; delta-equivalent inventory per instrument),
limit breaches, VaR and ES by method (parametric, historical, Monte Carlo) with marginal and
component VaR per instrument, and a correlation report. ``stress``: the loss per scenario (the
seed scenarios and the book's own), the liquidation check, the survivable common hard limit
Q_max and the scenario that binds it. See :mod:`flatbook.risk` for the models and units.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from .. import api
from ..errors import InputError
from .common import JsonOpt, _number, _print_json, _stdout, flag_errors

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

BookOpt = Annotated[
    str,
    typer.Option(
        "--config",
        metavar="BOOK.toml",
        help="The book: instruments, covariance, options, limits, capital, scenarios (see examples/books/).",
    ),
]
TABLE_ROWS = 25
"""Tables list at most this many instruments or positions (the largest first); --json has them all."""


def _int_opt(field: str, raw: str | None, lo: int) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw)
    except ValueError:
        raise InputError(field, f"got {raw!r}; allowed: an integer >= {lo}") from None
    if v < lo:
        raise InputError(field, f"got {raw!r}; allowed: an integer >= {lo}")
    return v


def _g(x) -> str:
    """A quantity: 4 significant digits, or whole numbers with separators from 10,000 up."""
    if x is None or not math.isfinite(x) or abs(x) < 1e4:
        return _f(x, ",.4g")
    return f"{x:,.0f}"


def _f(x, spec: str = ",.2f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return format(x, spec)


def _table(title: str, columns: list[str], text: tuple[str, ...] = ()):
    """A rich table: the first column and those named in ``text`` left-aligned, numbers right."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(title), title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 or c in text else "right")
    return t


def _note(con, text: str) -> None:
    con.print(text, markup=False, highlight=False)


# --------------------------------------------------------------------------- risk


def _top(values, k: int = TABLE_ROWS) -> list[int]:
    """Indices of the k largest |values| (descending), or all in order when there are few."""
    import numpy as np

    a = np.abs(np.nan_to_num(np.asarray(values, dtype=float)))
    if a.size <= k:
        return list(range(a.size))
    idx = np.argpartition(-a, k - 1)[:k]
    return [int(i) for i in idx[np.argsort(-a[idx], kind="stable")]]


def _print_risk(book, greeks, results: dict, corr: dict) -> None:
    from rich.markup import escape

    con = _stdout()
    r0 = next(iter(results.values()))
    head = (
        f"risk — book {book.name}: {book.d} instrument(s), {len(book.options)} option position(s); "
        f"α = {r0.confidence:g}, horizon {r0.horizon:g} day(s)"
    )
    # positions
    rows = greeks.rows
    idx = _top([abs(x["value"]) for x in rows])
    t = _table(
        f"{head}\npositions" + (f" (largest {len(idx)} of {len(rows)} by |value|)" if len(idx) < len(rows) else ""),
        [
            "position",
            "underlying",
            "quantity",
            "price",
            "value",
            "delta (lots)",
            "gamma (lots/px)",
            "vega (per 1.00 vol)",
        ],
        text=("underlying",),
    )
    for i in idx:
        x = rows[i]
        t.add_row(
            x["name"],
            x["underlying"],
            f"{_f(x['quantity'], ',.4g')} {x['quantity_unit']}",
            _f(x["price"], ",.4f"),
            _f(x["value"]),
            _f(x["delta"], ",.2f"),
            _f(x["gamma"], ",.4g"),
            _f(x["vega"]),
        )
    con.print(t)
    # per instrument
    idx = _top(greeks.exposure)
    t = _table(
        "inventory per instrument" + (f" (largest {len(idx)} of {book.d} by |exposure|)" if len(idx) < book.d else ""),
        ["instrument", "position", "delta-equivalent", "limit", "gamma", "gamma limit", "vega", "vega limit"],
    )
    for j in idx:
        i = book.instruments[j]
        t.add_row(
            i.name,
            _f(i.position, ",.2f"),
            _f(float(greeks.delta_equivalent[j]), ",.2f"),
            _g(i.limit),
            _f(float(greeks.gamma[j]), ",.4g"),
            _g(i.gamma_limit),
            _f(float(greeks.vega[j])),
            _g(i.vega_limit),
        )
    con.print(t)
    tot = greeks.totals
    _note(
        con,
        f"book: value {_f(tot['value'])}, delta {_f(tot['delta_cash'])} cash per 100% move, "
        f"vega {_f(tot['vega'])} per 1.00 vol",
    )
    if greeks.breaches:
        for b in greeks.breaches:
            _note(
                con,
                f"LIMIT BREACH: {b['instrument'] or 'book'} {b['limit']} = {b['value']:,.4g} "
                f"(allowed ±{b['allowed']:,.4g})",
            )
    else:
        _note(con, "limits: no breach")
    con.print()
    # VaR
    t = _table(
        "VaR and ES (cash, positive = loss)",
        ["method", "VaR", "ES", "VaR 95% CI", "scenarios", "note"],
        text=("method", "note"),
    )
    for _m, res in results.items():
        ci = f"{_f(res.var_ci[0])} – {_f(res.var_ci[1])}" if res.var_ci else "exact"
        t.add_row(
            escape(res.label),
            _f(res.var),
            _f(res.es),
            ci,
            _f(res.n_scenarios, ",d") if res.n_scenarios else "—",
            escape(res.note),
        )
    con.print(t)
    # contributions
    base = results.get("parametric", r0)
    idx = _top(base.component)
    cols = ["instrument", "exposure", f"marginal VaR ({base.method})"] + [f"component {m}" for m in results] + ["share"]
    t = _table(
        "VaR contributions (Euler: components sum to VaR)"
        + (f"; largest {len(idx)} of {book.d} by |{base.method} component|" if len(idx) < book.d else ""),
        cols,
    )
    for j in idx:
        t.add_row(
            book.names[j],
            _g(float(greeks.exposure[j])),
            _f(float(base.marginal[j]), ",.4g"),
            *(_f(float(res.component[j])) for res in results.values()),
            _f(float(base.component[j] / base.var) if base.var else None, ".1%"),
        )
    t.add_row("total", "", "", *(_f(float(res.component.sum())) for res in results.values()), "")
    con.print(t)
    # correlation
    ev = corr["eigenvalues"]
    _note(
        con,
        f"correlation: eigenvalues {', '.join(f'{x:.3g}' for x in ev[:6])}{' …' if len(ev) > 6 else ''}; "
        f"largest share {_f(corr['largest_eigenvalue_share'], '.1%')}; "
        f"effective factors {_f(corr['effective_factors'], '.3g')}",
    )
    if corr["top_pairs"]:
        _note(
            con, "most correlated pairs: " + ", ".join(f"{p['a']}/{p['b']} {p['rho']:+.2f}" for p in corr["top_pairs"])
        )
    _note(
        con,
        "units: cash = price units × units; delta in lots; gamma in lots per price unit; vega per 1.00 vol; "
        "time unit: day",
    )


@app.command()
def risk(
    config: BookOpt,
    json_: JsonOpt = False,
    confidence: Annotated[
        str | None,
        typer.Option(
            "--confidence", metavar="A", help="VaR/ES confidence α in (0.5, 1) (default: the book's [risk], 0.99)."
        ),
    ] = None,
    horizon: Annotated[
        str | None,
        typer.Option("--horizon", metavar="DAYS", help="VaR horizon in days (default: the book's [risk], 1)."),
    ] = None,
    mc_scenarios: Annotated[
        str | None,
        typer.Option("--mc-scenarios", metavar="N", help="Monte Carlo scenarios (default: the book's [risk], 100000)."),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", metavar="S", help="Random seed (default: the book's [risk], 0).")
    ] = None,
) -> None:
    """Positions, Greeks, VaR/ES by method (parametric, historical, Monte Carlo) and contributions."""
    book = _load_book(config)
    a = _number("--confidence", confidence)
    if a is not None and not 0.5 < a < 1.0:
        raise InputError("--confidence", f"got {confidence}; allowed: a number > 0.5 and < 1")
    h = _number("--horizon", horizon)
    if h is not None and not h > 0:
        raise InputError("--horizon", f"got {horizon}; allowed: a number > 0 (days)")
    n = _int_opt("--mc-scenarios", mc_scenarios, 100)
    s = _int_opt("--seed", seed, 0)
    with flag_errors({"mc_scenarios": "--mc-scenarios"}):
        res = api.risk(book, confidence=a, horizon=h, mc_scenarios=n, seed=s)
    if json_:
        _print_json(res)
    else:
        _print_risk(res.book, res.greeks, dict(res.methods), dict(res.corr))


def _load_book(config: str):
    with flag_errors({"book": "--config"}):
        return api.load_book(config)


# --------------------------------------------------------------------------- stress


def _print_stress(book, report) -> None:
    con = _stdout()
    cap = report.capital
    t = _table(
        f"stress — book {book.name}: {book.d} instrument(s), {len(book.options)} option position(s); "
        f"capital {cap:,.2f}",
        ["scenario", "loss", "loss / capital", "breach", "what"],
        text=("what",),
    )
    for s in report.scenarios:
        t.add_row(s.name, _f(s.loss), _f(s.loss / cap, ".1%"), "BREACH" if s.loss > cap else "ok", s.description)
    con.print(t)
    w = report.worst
    _note(con, f"worst scenario: {w.name} ({_f(w.loss)})")
    liq = next((s for s in report.scenarios if s.kind == "liquidation"), None)
    if liq is not None:
        d = liq.details
        verdict = {True: "yes", False: "NO", None: "—"}[d["passes"]]
        _note(
            con,
            f"could the book be liquidated without breaching limits? {verdict}: loss {_f(liq.loss)} "
            f"(expected cost {_f(d['expected_cost'])} + risk {_f(d['risk'])}) vs {d['limit_source']} "
            f"{_f(d['limit'])}; longest horizon {d['longest_horizon_days']:.3g} days",
        )
    con.print()
    sv = report.survivability
    t = _table(
        "survivability: the largest common hard limit Q (lots) at which each scenario's loss ≤ capital",
        ["scenario", "Q_s (lots)", "loss at Q_max", "method"],
        text=("method",),
    )
    for r in sv.per_scenario:
        t.add_row(
            r["name"] + ("  ← binds" if r["name"] == sv.binding else ""),
            _g(r["q_max"]),
            _f(r["loss_at_q_max"]),
            r["method"],
        )
    con.print(t)
    head = (
        f"Q_max = {_g(sv.q_max)} lots, binding scenario: {sv.binding}" if sv.binding else "Q_max = ∞: no scenario loses"
    )
    _note(
        con,
        f"{head}; current max |delta-equivalent inventory| {sv.reference:,.4g} lots"
        + (f" (headroom ×{sv.q_max / sv.reference:.3g})" if sv.reference > 0 and math.isfinite(sv.q_max) else ""),
    )
    _note(
        con,
        "each scenario is evaluated on the book scaled so that its largest |q_eq| equals Q (the worst case: "
        "those positions × max daily moves)",
    )


@app.command()
def stress(
    config: BookOpt,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            metavar="NAME",
            help="Run only this scenario (repeatable): overnight-gap, no-liquidity, worst-case, liquidation, or the name of one of the book's own scenarios.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Loss per stress scenario, the liquidation check, the binding scenario and the survivable Q_max."""
    book = _load_book(config)
    with flag_errors({"scenarios": "--scenario"}):
        res = api.stress(book, scenario)
    if json_:
        _print_json(res)
    else:
        _print_stress(res.book, res.stress_report)
