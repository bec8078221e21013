"""``flatbook multi``: one maker quoting several correlated instruments (preset ``multi-asset``)."""
from __future__ import annotations

from typing import Annotated

import typer

from ..config import check_int
from .app import JsonOpt, _number, _print_json, _stdout, app
from .output import jsonable


@app.command()
def multi(
    preset: Annotated[str, typer.Option("--preset", metavar="NAME", help="Multi-instrument preset (multi-asset).")] = "multi-asset",
    correlation: Annotated[str | None, typer.Option("--correlation", metavar="RHO", help="Correlation of the two mids (−1 to 1).")] = None,
    own_skew: Annotated[bool, typer.Option("--own-skew", help="Skew each instrument on its own inventory, not the portfolio's risk.")] = False,
    paths: Annotated[str, typer.Option("--paths", metavar="N", help="Monte Carlo paths (default 10,000).")] = "10000",
    seed: Annotated[str, typer.Option("--seed", metavar="S", help="Random seed (default 0).")] = "0",
    json_: JsonOpt = False,
) -> None:
    """Several correlated instruments: portfolio PnL and risk, and each instrument's inventory."""
    from rich.table import Table
    from rich.text import Text

    from ..multi.simulator import multi_preset, simulate_multi

    mc = multi_preset(preset, _number("--correlation", correlation), False if own_skew else None,
                      check_int("--paths", paths, 1, 100_000_000), check_int("--seed", seed, 0, 2**63 - 1))
    res = simulate_multi(mc)
    s = res.summary
    if json_:
        _print_json(jsonable({**s, "config": mc.as_dict()}))
        return
    con = _stdout()
    t = Table(title=Text(f"multi — {preset}, {mc.paths:,} paths, ρ = {mc.correlation[0, -1]:g}, "
                         f"{'portfolio' if mc.portfolio_skew else 'own'} skew"), title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for k, unit in (("pnl_mean", "price units × lots"), ("pnl_std", "price units × lots"), ("var_95", "loss"),
                    ("es_95", "loss"), ("final_risk_mean", "qᵀΣq at T, price units² per time unit"),
                    ("final_q_corr", "correlation of final inventories")):
        v = s[k]
        t.add_row(k, "—" if v is None else f"{v:.4g}", unit)
    con.print(t)
    t2 = Table(title=Text("per instrument"), title_justify="left")
    for c in ("instrument", "final q mean", "final q std", "max |q| mean", "fills", "spread capture"):
        t2.add_column(c, justify="right" if c != "instrument" else "left")
    for name, d in s["per_instrument"].items():
        t2.add_row(name, *(f"{d[k]:.4g}" for k in ("final_q_mean", "final_q_std", "max_abs_q_mean", "fills_mean",
                                                    "spread_capture_mean")))
    con.print(t2)
