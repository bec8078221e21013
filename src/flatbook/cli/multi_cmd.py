"""``flatbook multi``: one maker quoting several correlated instruments (preset ``multi-asset``).

Takes ``--set``, ``--config``, ``--out``, ``--json`` and ``--report`` as ``simulate`` does: the flags
and the TOML file are merged and checked (:func:`flatbook.api.multi_config`) before any work, the run is
:func:`flatbook.api.multi`, and its result writes ``--out`` (``save``: all files or none) and ``--report``
(``report``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from .. import api
from ..errors import InputError
from ..units import INSTRUMENT_COLUMNS, PORTFOLIO_KEYS, multi_unit
from . import output
from .common import (
    ConfigOpt,
    JsonOpt,
    OutOpt,
    PathsOpt,
    ReportOpt,
    SeedOpt,
    _check_report,
    _number,
    _print_json,
    _resolve,
    _stdout,
    _write,
    _wrote,
    compiling,
    print_warnings,
    warm_up,
)
from .progress import ProgressBar
from .tables import fmt

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

DEFAULT_MULTI_PRESET = "multi-asset"  # flatbook.api.simulation.DEFAULT_MULTI_PRESET


def _tables(s: dict, title: str, time_unit: str) -> list:
    t = Table(title=Text(title), title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for k in (*(k for k in PORTFOLIO_KEYS if k not in ("paths", "steps")), "elapsed_s", "path_steps_per_s"):
        t.add_row(k, Text(fmt(s[k])), multi_unit(k, time_unit))
    t2 = Table(title=Text("per instrument"), title_justify="left")
    t2.add_column("instrument")
    for c in INSTRUMENT_COLUMNS:
        t2.add_column(Text(f"{c} ({multi_unit(c, time_unit)})"), justify="right")
    for name, d in s["per_instrument"].items():
        t2.add_row(Text(name), *(Text(fmt(d[k])) for k in INSTRUMENT_COLUMNS))
    return [t, t2]


@app.command()
def multi(
    preset: Annotated[
        str | None,
        typer.Option("--preset", metavar="NAME", help=f"Multi-instrument preset (default {DEFAULT_MULTI_PRESET})."),
    ] = None,
    correlation: Annotated[
        str | None, typer.Option("--correlation", metavar="RHO", help="Correlation of the two mids (−1 to 1).")
    ] = None,
    own_skew: Annotated[
        bool, typer.Option("--own-skew", help="Skew each instrument on its own inventory, not the portfolio's risk.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a parameter of every instrument (KEY=VALUE) or of one (NAME.KEY=VALUE, e.g. B.sigma=3); repeatable; see 'flatbook params'.",
        ),
    ] = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
) -> None:
    """Several correlated instruments: portfolio PnL and risk, and each instrument's inventory."""
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed, default_preset=DEFAULT_MULTI_PRESET)
    if "policy" in run:
        raise InputError("run.policy", "multi takes each instrument's policy from the multi-instrument preset")
    mc = api.multi_config(
        preset_name,
        correlation=_number("--correlation", correlation),
        portfolio_skew=False if own_skew else None,
        paths=n,
        seed=s,
        params=overrides,
    )
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    with compiling("multi", enabled=not json_) as need:
        if need:
            warm_up("multi", mc)
    with ProgressBar(mc.paths, description="simulating", enabled=not json_) as bar:
        res = api.multi(preset_name, config=mc, progress=bar.callback("simulating", 0))
    print_warnings(res.warnings)
    _write(res, out_dir, report_path)
    if json_:
        _print_json(res)
        return
    con = _stdout()
    for t in _tables(res.raw.summary, res.title, res.time_unit):
        con.print(t)
    _wrote(con, out_dir, report_path)
