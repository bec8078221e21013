"""``flatbook multi``: one maker quoting several correlated instruments (preset ``multi-asset``).

Takes ``--set``, ``--config``, ``--out`` and ``--json`` through the same code paths as
``simulate``: :func:`flatbook.cli.app._resolve` merges the TOML file and the flags,
:func:`flatbook.cli.output.publish_dir` writes all files or none.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from ..jsonutil import jsonable
from ..timing import group_timing
from . import output
from .app import (ConfigOpt, JsonOpt, OutOpt, PathsOpt, SeedOpt, _number, _print_json, _resolve, _stdout, app,
                  compiling, print_warnings)
from .progress import ProgressBar

DEFAULT_MULTI_PRESET = "multi-asset"
PNL_UNIT = "price units × lots"


def multi_object(res) -> dict:
    """``multi --json`` and ``summary.json``: the summary (wall-clock fields under ``timing``) plus ``config``."""
    return jsonable(group_timing({**res.summary, "config": res.config.as_dict()}))


def _per_path_frame(res):
    import pandas as pd

    cols = {"pnl": res.pnl}
    for name, d in res.per_instrument.items():
        cols.update({f"{name}.{k}": v for k, v in d.items()})
    return pd.DataFrame(cols)


def _build(tmp: Path, res, obj: dict) -> list[str]:
    (tmp / output.SUMMARY_JSON).write_text(output.dumps(obj) + "\n", encoding="utf-8")
    _per_path_frame(res).to_parquet(tmp / output.PER_PATH_PARQUET, index=False, engine="pyarrow")
    return [output.SUMMARY_JSON, output.PER_PATH_PARQUET]


def _tables(res, title: str) -> list:
    from rich.table import Table
    from rich.text import Text

    from .tables import fmt

    s = res.summary
    t = Table(title=Text(title), title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for k, unit in (("pnl_mean", PNL_UNIT), ("pnl_std", PNL_UNIT), ("pnl_se", PNL_UNIT),
                    ("var_95", PNL_UNIT + " (loss)"), ("es_95", PNL_UNIT + " (loss)"),
                    ("final_risk_mean", "qᵀΣq at T, price units² per time unit"),
                    ("final_q_corr", "correlation of final inventories"),
                    ("elapsed_s", "s"), ("path_steps_per_s", "path-steps/s (all instruments)")):
        t.add_row(k, Text(fmt(s[k])), unit)
    t2 = Table(title=Text("per instrument"), title_justify="left")
    cols = (("final_q_mean", "lots"), ("final_q_std", "lots"), ("max_abs_q_mean", "lots"),
            ("fills_mean", "fills per path"), ("spread_capture_mean", PNL_UNIT))
    t2.add_column("instrument")
    for c, unit in cols:
        t2.add_column(Text(f"{c} ({unit})"), justify="right")
    for name, d in s["per_instrument"].items():
        t2.add_row(Text(name), *(Text(fmt(d[k])) for k, _ in cols))
    return [t, t2]


@app.command()
def multi(
    preset: Annotated[str | None, typer.Option("--preset", metavar="NAME", help=f"Multi-instrument preset (default {DEFAULT_MULTI_PRESET}).")] = None,
    correlation: Annotated[str | None, typer.Option("--correlation", metavar="RHO", help="Correlation of the two mids (−1 to 1).")] = None,
    own_skew: Annotated[bool, typer.Option("--own-skew", help="Skew each instrument on its own inventory, not the portfolio's risk.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                    help="Override a parameter of every instrument (KEY=VALUE) or of one (NAME.KEY=VALUE, e.g. B.sigma=3); repeatable; see 'flatbook params'.")] = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Several correlated instruments: portfolio PnL and risk, and each instrument's inventory."""
    from ..multi import kernel as MK
    from ..multi.simulator import multi_preset, simulate_multi

    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed,
                                                 default_preset=DEFAULT_MULTI_PRESET)
    if "policy" in run:
        raise InputError("run.policy", "multi takes each instrument's policy from the multi-instrument preset")
    mc = multi_preset(preset_name, _number("--correlation", correlation), False if own_skew else None,
                      n, s, overrides)
    out_dir = output.check_out_dir(out) if out is not None else None
    with compiling([MK.simulate_multi], enabled=not json_) as need:
        if need:
            simulate_multi(replace(mc, paths=1))
    with ProgressBar(mc.paths, description="simulating", enabled=not json_) as bar:
        res = simulate_multi(mc, progress=bar.callback("simulating", 0))
    obj = multi_object(res)
    print_warnings(obj.get("warnings"))
    if out_dir is not None:
        output.publish_dir(out_dir, lambda tmp: _build(tmp, res, obj))
    if json_:
        _print_json(obj)
        return
    con = _stdout()
    title = (f"multi — {preset_name}, {mc.paths:,} paths × {mc.configs[0].steps:,} steps, seed {mc.seed}, "
             f"ρ = {mc.correlation[0, -1]:g}, {'portfolio' if mc.portfolio_skew else 'own'} skew")
    for t in _tables(res, title):
        con.print(t)
    if out_dir is not None:
        con.print(f"wrote {out_dir}", markup=False, highlight=False)
