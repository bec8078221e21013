"""``flatbook multi``: one maker quoting several correlated instruments (preset ``multi-asset``).

Takes ``--set``, ``--config``, ``--out``, ``--json`` and ``--report`` through the same code
paths as ``simulate``: :func:`flatbook.cli.root._resolve` merges the TOML file and the flags,
:func:`flatbook.cli.output.publish_dir` writes all files or none, ``--report`` is checked
before any work and written by :func:`flatbook.report.html.write_report`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ..jsonutil import jsonable
from ..presets import PRESETS
from ..timing import group_timing
from ..units import INSTRUMENT_COLUMNS, PORTFOLIO_KEYS, multi_unit  # noqa: F401  (re-exported)
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
    compiling,
    print_warnings,
)
from .progress import ProgressBar
from .tables import fmt

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

DEFAULT_MULTI_PRESET = "multi-asset"


def multi_object(res, preset: str | None = None) -> dict:
    """``multi --json`` and ``summary.json``: the summary (wall-clock fields under ``timing``) plus
    ``config`` (with the multi-instrument preset's name when given)."""
    cfg = {**({"preset": preset} if preset is not None else {}), **res.config.as_dict()}
    return jsonable(group_timing({**res.summary, "config": cfg}))


def per_path_columns(res) -> dict:
    """The per-path columns of ``per_path.parquet`` and the report: ``pnl`` (price units × lots) and
    ``NAME.final_q``, ``NAME.max_abs_q`` (lots), ``NAME.fills``, ``NAME.spread_capture``."""
    cols = {"pnl": res.pnl}
    for name, d in res.per_instrument.items():
        cols.update({f"{name}.{k}": v for k, v in d.items()})
    return cols


def _build(tmp: Path, res, obj: dict) -> list[str]:
    import pandas as pd

    (tmp / output.SUMMARY_JSON).write_text(output.dumps(obj) + "\n", encoding="utf-8")
    pd.DataFrame(per_path_columns(res)).to_parquet(tmp / output.PER_PATH_PARQUET, index=False, engine="pyarrow")
    return [output.SUMMARY_JSON, output.PER_PATH_PARQUET]


def _tables(res, title: str, time_unit: str) -> list:
    s = res.summary
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
    from ..multi import kernel as MK
    from ..multi.simulator import check_read, multi_preset, simulate_multi

    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed, default_preset=DEFAULT_MULTI_PRESET)
    if "policy" in run:
        raise InputError("run.policy", "multi takes each instrument's policy from the multi-instrument preset")
    mc = multi_preset(preset_name, _number("--correlation", correlation), False if own_skew else None, n, s, overrides)
    check_read(overrides, mc)
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    with compiling([MK.simulate_multi], enabled=not json_) as need:
        if need:
            simulate_multi(replace(mc, paths=1))
    with ProgressBar(mc.paths, description="simulating", enabled=not json_) as bar:
        res = simulate_multi(mc, progress=bar.callback("simulating", 0))
    obj = multi_object(res, preset_name)
    print_warnings(obj.get("warnings"))
    if out_dir is not None:
        output.publish_dir(out_dir, lambda tmp: _build(tmp, res, obj))
    if report_path is not None:
        from ..report.html import multi_report, write_report

        write_report(report_path, multi_report(obj, per_path_columns(res)))
    if json_:
        _print_json(obj)
        return
    con = _stdout()
    title = (
        f"multi — {preset_name}, {mc.paths:,} paths × {mc.configs[0].steps:,} steps, seed {mc.seed}, "
        f"ρ = {mc.correlation[0, -1]:g}, {'portfolio' if mc.portfolio_skew else 'own'} skew"
    )
    for t in _tables(res, title, PRESETS[mc.configs[0].preset].time_unit):
        con.print(t)
    for written in (out_dir, report_path):
        if written is not None:
            con.print(f"wrote {written}", markup=False, highlight=False)
