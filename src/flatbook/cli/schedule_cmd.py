"""``flatbook schedule``: an execution schedule for a hedge (immediate, TWAP, VWAP, Almgren–Chriss)
with its expected cost and variance, or the Almgren–Chriss efficient frontier.

The defaults are the worked example of Almgren & Chriss, "Optimal execution of portfolio
transactions", J. Risk 3(2), 2000, §3.4 and Table 1: X = 10⁶ shares sold over T = 5 days in
N = 5 daily steps, σ = 0.95 ($/share)/√day (30% annual volatility at S₀ = $50, 250 days a
year), ε = 0.0625 $/share (half the 1/8 spread), η = 2.5·10⁻⁶ ($/share)/(share/day),
γ = 2.5·10⁻⁷ ($/share)/share, λ = 10⁻⁶ /$ (κ ≈ 0.6/day, κT ≈ 3 in the paper).
Units map one-to-one onto the simulator's: shares ↔ lots, $/share ↔ price units, days ↔ time units.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, overload

import typer

from .. import api
from ..errors import InputError
from ..hedging.schedule_methods import (
    AC_EPSILON,
    AC_ETA,
    AC_GAMMA,
    AC_HORIZON,
    AC_LAMBDA,
    AC_SHARES,
    AC_SIGMA,
    AC_STEPS,
    DEFAULT_CURVE,
    DEFAULT_METHOD,
    METHODS,
    UNITS,
    VOLUME_CURVES,
)
from .common import JsonOpt, _print_json, _stdout, flag_errors

if TYPE_CHECKING:
    from ..hedging.schedules import Schedule

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

MAX_STEPS = 1_000_000
TABLE_EDGE = 20  # with more than 2·TABLE_EDGE steps the table shows the first and last TABLE_EDGE

#: :func:`flatbook.schedule`'s keywords → the flags, in errors
API_FLAGS = {
    "shares": "--shares",
    "horizon": "--horizon",
    "steps": "--steps",
    "sigma": "--sigma",
    "eta": "--eta",
    "epsilon": "--epsilon",
    "gamma": "--gamma",
    "risk_aversion": "--risk-aversion",
    "volume_curve": "--volume-curve",
    "participation": "--participation",
    "market_volume": "--market-volume",
    "risk_aversions": "--risk-aversion",
}


def _opt(flag: str, metavar: str, help_: str):
    return typer.Option(flag, metavar=metavar, help=help_)


ALLOWED = {
    "--shares": "a finite number of shares (lots), < 0 to buy",
    "--horizon": "a finite number > 0 (days = time units)",
    "--sigma": "a finite number >= 0 ($/share per √day)",
    "--eta": "a finite number >= 0 ($/share per share/day; > 0 for almgren-chriss)",
    "--epsilon": "a finite number >= 0 ($/share)",
    "--gamma": "a finite number >= 0 ($/share per share)",
    "--risk-aversion": "a finite number >= 0 (1/$)",
    "--participation": "a number > 0 and <= 1",
    "--market-volume": "a finite number > 0 (shares over the horizon)",
}


@overload
def _num(flag: str, raw: str, default: float | None = None) -> float: ...
@overload
def _num(flag: str, raw: str | None, default: float) -> float: ...
@overload
def _num(flag: str, raw: str | None, default: None = None) -> float | None: ...


def _num(flag: str, raw: str | None, default: float | None = None) -> float | None:
    """A finite number from a flag; the error names the flag and what it allows."""
    if raw is None:
        return default
    try:
        val = float(raw)
    except ValueError:
        val = math.nan
    if not math.isfinite(val):
        raise InputError(flag, f"got {raw!r}; allowed: {ALLOWED[flag]}")
    return val


def _steps(raw: str | None) -> int:
    if raw is None:
        return AC_STEPS
    try:
        n = int(raw.strip())
    except ValueError:
        n = None
    if n is None or not 1 <= n <= MAX_STEPS:
        raise InputError("--steps", f"got {raw!r}; allowed: an integer from 1 to {MAX_STEPS:,}")
    return n


def _fmt(v: float | None) -> str:
    """Thousands separators, about six significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-4 <= a < 1e15:
        d = min(6, max(0, 5 - math.floor(math.log10(a))))
        out = f"{v:,.{d}f}"
        return out.rstrip("0").rstrip(".") if "." in out else out
    return f"{v:.6g}"


def _schedule_tables(s: Schedule) -> list:
    from rich.table import Table
    from rich.text import Text

    title = (
        f"{s.method}: X = {_fmt(s.X)} shares, T = {_fmt(s.T)} days, N = {s.N:,} "
        f"step{'s' if s.N != 1 else ''} of τ = {_fmt(s.tau)} days"
    )
    t = Table(title=Text(title), title_justify="left")
    for c in ("step k", "time t_k (days)", "trade n_k (shares)", "holdings x_k after (shares)"):
        t.add_column(c, justify="right")
    rows = range(s.N + 1)
    shown = (
        list(rows) if s.N <= 2 * TABLE_EDGE else [*range(TABLE_EDGE + 1), None, *range(s.N - TABLE_EDGE + 1, s.N + 1)]
    )
    for k in shown:
        if k is None:
            t.add_row("…", "…", "…", "…")
        else:
            t.add_row(
                str(k),
                _fmt(float(s.times[k])),
                "—" if k == 0 else _fmt(float(s.trades[k - 1])),
                _fmt(float(s.holdings[k])),
            )
    cost = Table(title=Text("cost (Almgren & Chriss 2000, eqs. 5 and 8)"), title_justify="left")
    for col in ("quantity", "value", "unit"):
        cost.add_column(col, justify="right" if col == "value" else "left")
    cost.add_row("expected cost E", _fmt(s.expected_cost), "$")
    cost.add_row("variance V", _fmt(s.variance), "$²")
    cost.add_row("std √V", _fmt(s.std), "$")
    if s.kappa is not None:
        cost.add_row("κ", _fmt(s.kappa), "1/day")
        if 0 < s.kappa < math.inf:
            cost.add_row("half-life 1/κ", _fmt(1.0 / s.kappa), "days")
    cost.add_row("η̃ = η − γτ/2", _fmt(s.eta_tilde), "($/share)/(share/day)")
    if s.method == "vwap":
        cost.add_row("unfilled at T", _fmt(s.unfilled), "shares")
    return [t, cost]


def _frontier_table(rows: list[dict], lam: float, title: str):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(title), title_justify="left")
    for col in ("λ (1/$)", "κ (1/day)", "E ($)", "√V ($)", "V ($²)", ""):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            f"{r['risk_aversion']:.4g}",
            f"{r['kappa']:.4g}",
            _fmt(r["expected_cost"]),
            _fmt(r["std"]),
            f"{r['variance']:.6g}",
            "◀ --risk-aversion" if r["risk_aversion"] == lam else "",
        )
    return t


@app.command()
def schedule(
    method: Annotated[str | None, _opt("--method", "NAME", f"{', '.join(METHODS)} (default {DEFAULT_METHOD}).")] = None,
    shares: Annotated[
        str | None, _opt("--shares", "X", f"Position to work off, shares (lots); < 0 buys (default {AC_SHARES:,.0f}).")
    ] = None,
    horizon: Annotated[
        str | None, _opt("--horizon", "T", f"Horizon, days (time units) (default {AC_HORIZON:g}).")
    ] = None,
    steps: Annotated[
        str | None, _opt("--steps", "N", f"Number of equal steps, an integer >= 1 (default {AC_STEPS}).")
    ] = None,
    sigma: Annotated[str | None, _opt("--sigma", "S", f"Volatility σ, ($/share)/√day (default {AC_SIGMA:g}).")] = None,
    eta: Annotated[
        str | None, _opt("--eta", "E", f"Temporary impact η, ($/share)/(share/day) (default {AC_ETA:g}).")
    ] = None,
    epsilon: Annotated[
        str | None, _opt("--epsilon", "E", f"Fixed cost ε (half-spread + fees), $/share (default {AC_EPSILON:g}).")
    ] = None,
    gamma: Annotated[
        str | None, _opt("--gamma", "G", f"Permanent impact γ, ($/share)/share (default {AC_GAMMA:g}).")
    ] = None,
    risk_aversion: Annotated[
        str | None,
        _opt("--risk-aversion", "LAMBDA", f"Almgren–Chriss risk aversion λ >= 0, 1/$ (default {AC_LAMBDA:g})."),
    ] = None,
    curve: Annotated[
        str | None,
        _opt("--volume-curve", "CURVE", f"vwap: the market's volume curve, flat or u (default {DEFAULT_CURVE})."),
    ] = None,
    participation: Annotated[
        str | None, _opt("--participation", "P", "vwap: cap each step at P × the market volume, 0 < P <= 1.")
    ] = None,
    market_volume: Annotated[
        str | None, _opt("--market-volume", "V", "vwap with --participation: market volume over the horizon, shares.")
    ] = None,
    frontier: Annotated[
        bool, typer.Option("--frontier", help="Print the Almgren–Chriss efficient frontier over λ instead.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """An execution schedule (step, time, trade, holdings) with its expected cost and variance
    (Almgren & Chriss 2000); defaults: the paper's worked example."""
    m = DEFAULT_METHOD if method is None else method
    if m not in METHODS:
        raise InputError("--method", f"got {method!r}; allowed: {', '.join(METHODS)}")
    if frontier and m != "almgren-chriss":
        raise InputError(
            "--frontier",
            f"the frontier is over Almgren–Chriss schedules; got --method {m}, "
            "allowed: almgren-chriss (or leave --method out)",
        )
    if m != "almgren-chriss" and risk_aversion is not None:
        raise InputError("--risk-aversion", f"only used with --method almgren-chriss (got --method {m})")
    for flag, raw in (
        ("--volume-curve", curve),
        ("--participation", participation),
        ("--market-volume", market_volume),
    ):
        if raw is not None and m != "vwap":
            raise InputError(flag, f"only used with --method vwap (got --method {m})")
    if curve is not None and curve not in VOLUME_CURVES:
        raise InputError("--volume-curve", f"got {curve!r}; allowed: {', '.join(VOLUME_CURVES)}")
    X = _num("--shares", shares, AC_SHARES)
    T = _num("--horizon", horizon, AC_HORIZON)
    N = _steps(steps)
    cost = dict(
        sigma=_num("--sigma", sigma, AC_SIGMA),
        eta=_num("--eta", eta, AC_ETA),
        epsilon=_num("--epsilon", epsilon, AC_EPSILON),
        gamma=_num("--gamma", gamma, AC_GAMMA),
    )
    lam = _num("--risk-aversion", risk_aversion, AC_LAMBDA)
    cap = _num("--participation", participation)
    mv = _num("--market-volume", market_volume)
    if cap is not None and mv is None:
        raise InputError(
            "--market-volume", "required with --participation: the market volume over the horizon (shares)"
        )
    if mv is not None and cap is None:
        raise InputError("--market-volume", "only used with --participation P (0 < P <= 1)")

    with flag_errors(API_FLAGS):
        res = api.schedule(
            m,
            shares=X,
            horizon=T,
            steps=N,
            risk_aversion=lam if m == "almgren-chriss" else None,
            volume_curve=curve,
            participation=cap,
            market_volume=mv,
            **cost,
        )
        obj = res.frontier_object() if frontier else None
    if obj is not None:
        if json_:
            _print_json(obj)
        else:
            con = _stdout()
            con.print(
                _frontier_table(
                    obj["frontier"],
                    lam,
                    f"efficient frontier (Almgren & Chriss 2000, §2.4) — X = {_fmt(X)} "
                    f"shares, T = {_fmt(T)} days, N = {N:,}",
                )
            )
            con.print(
                "E rises and √V falls with λ; λ = 0 is the straight line (TWAP), large λ tends to selling "
                "at once. Units: " + UNITS["mapping"] + ".",
                markup=False,
                highlight=False,
            )
        return
    if json_:
        _print_json(res)
        return
    con = _stdout()
    for table in _schedule_tables(res.schedule):
        con.print(table)
    con.print("Units: " + UNITS["mapping"] + ".", markup=False, highlight=False)
