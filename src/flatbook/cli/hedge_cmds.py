"""``flatbook hedge-frontier``: the hedge threshold swept from tight to loose, on identical flow.

Each threshold is one simulation of the same preset, policy, seed and paths (common random
numbers), with ``hedge_trigger=threshold``; the table gives what hedging costs against the
risk it leaves: hedge cost, hedge count and volume, the std of hedged PnL (residual risk),
the net price risk of inventory and hedge leg, and the mean PnL.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from .. import api
from ..errors import InputError
from ..results.hedging import FRONTIER_KEYS, PNL_UNIT
from . import output
from .common import (
    ConfigOpt,
    JsonOpt,
    OutOpt,
    PathsOpt,
    PresetOpt,
    SeedOpt,
    SetOpt,
    _print_json,
    _resolve,
    _stdout,
    _write,
    _wrote,
    compile_first,
    flag_errors,
)
from .progress import ProgressBar

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

DEFAULT_THRESHOLDS = "0.5,1,2,4,8,inf"


def _thresholds(raw: str) -> list[float]:
    out = []
    for item in raw.split(","):
        try:
            val = float(item)
        except ValueError:
            raise InputError(
                "--thresholds", f"got {item!r} in {raw!r}; allowed: comma-separated numbers >= 0 (lots; inf = no hedge)"
            ) from None
        if math.isnan(val) or val < 0:
            raise InputError("--thresholds", f"got {item!r}; allowed: numbers >= 0 (lots; inf = no hedge)")
        out.append(val)
    if not out or len(set(out)) != len(out):
        raise InputError("--thresholds", f"got {raw!r}; give distinct thresholds")
    return sorted(out)


@app.command("hedge-frontier")
def hedge_frontier(
    thresholds: Annotated[
        str,
        typer.Option(
            "--thresholds",
            metavar="LIST",
            help=f"Hedge thresholds on |x − q*| in lots, comma-separated (default {DEFAULT_THRESHOLDS}; inf = no hedge).",
        ),
    ] = DEFAULT_THRESHOLDS,
    preset: PresetOpt = None,
    policy: Annotated[
        str | None, typer.Option("--policy", metavar="NAME", help="Quoting policy (default linear-skew).")
    ] = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Hedge cost against residual PnL risk, the hedge threshold swept from tight to loose."""
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    pol = policy or run.get("policy", "linear-skew")
    thr = _thresholds(thresholds)
    with flag_errors({"thresholds": "--thresholds"}):
        cfgs = api.hedge_frontier_configs(thr, preset_name, pol, paths=n, seed=s, params=overrides)
    out_dir = output.check_out_dir(out) if out is not None else None
    compile_first(cfgs[0], json_)
    n_paths = cfgs[0].paths
    with ProgressBar(len(cfgs) * n_paths, enabled=not json_) as bar:
        cb = bar.callback(f"threshold {thr[0]:g}", 0)

        def progress(done: int, total: int) -> None:  # the bar's text: the threshold being simulated
            bar.update(description=f"threshold {thr[min((done - 1) // n_paths, len(thr) - 1)]:g}")
            cb(done, total)

        res = api.hedge_frontier(thr, preset_name, pol, paths=n, seed=s, params=overrides, progress=progress)
    _write(res, out_dir, None)
    if json_:
        _print_json(res)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(res.title), title_justify="left")
    table.add_column("threshold (lots)", justify="right")
    for k in FRONTIER_KEYS:
        table.add_column(k, justify="right")
    for r in res.rows:
        table.add_row(
            "no hedge" if math.isinf(r["threshold"]) else f"{r['threshold']:g}",
            *("—" if r[k] is None else f"{r[k]:.4g}" for k in FRONTIER_KEYS),
        )
    con = _stdout()
    con.print(table)
    con.print(
        f"units: costs, risks and PnL in {PNL_UNIT}; time unit: {res.time_unit}",
        markup=False,
        highlight=False,
    )
    _wrote(con, out_dir)
