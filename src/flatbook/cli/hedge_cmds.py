"""``flatbook hedge-frontier``: the hedge threshold swept from tight to loose, on identical flow.

Each threshold is one simulation of the same preset, policy, seed and paths (common random
numbers), with ``hedge_trigger=threshold``; the table gives what hedging costs against the
risk it leaves: hedge cost, hedge count and volume, the std of hedged PnL (residual risk),
the net price risk of inventory and hedge leg, and the mean PnL.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ..config import build_config
from ..errors import InputError
from ..presets import PRESETS
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
    compile_first,
)
from .progress import ProgressBar

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

FRONTIER_KEYS = (
    "hedge_count",
    "hedge_trades",
    "hedge_cost",
    "hedge_volume",
    "residual_risk",
    "price_pnl_std",
    "basis_pnl_std",
    "pnl_mean",
    "pnl_se",
)
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


def _write(tmp: Path, obj: dict, rows: list[dict], title: str, unit: str) -> list[str]:
    import pandas as pd

    from ..report.hedge_frontier import write_hedge_frontier

    (tmp / "frontier.json").write_text(output.dumps(obj) + "\n", encoding="utf-8")
    pd.DataFrame(rows).to_parquet(tmp / "frontier.parquet", index=False, engine="pyarrow")
    write_hedge_frontier(tmp / "hedge_frontier.png", rows, title=title, pnl_unit=unit)
    return ["frontier.json", "frontier.parquet", "hedge_frontier.png"]


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
    from ..sim.simulator import simulate

    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    pol = policy or run.get("policy", "linear-skew")
    thr = _thresholds(thresholds)
    cfgs = []
    for t in thr:
        try:
            cfgs.append(
                build_config(
                    preset_name, pol, {**overrides, "hedge_trigger": "threshold", "hedge_threshold": t}, paths=n, seed=s
                )
            )
        except InputError as e:
            if e.field != "hedge_threshold":
                raise
            raise InputError("--thresholds", f"threshold {t:g}: {str(e).split(': ', 1)[-1]}") from None
    out_dir = output.check_out_dir(out) if out is not None else None
    rows = []
    compile_first(cfgs[0], json_)
    with ProgressBar(sum(c.paths for c in cfgs), enabled=not json_) as bar:
        for i, cfg in enumerate(cfgs):
            res = simulate(
                cfg, progress=bar.callback(f"threshold {thr[i]:g}", i * cfg.paths), counterfactual=False
            )  # the frontier has its own "no hedge" row
            rows.append({"threshold": thr[i], **{k: res.summary[k] for k in FRONTIER_KEYS}})
    unit = "price units × lots"
    obj = output.jsonable({"frontier": rows, "config": {**cfgs[0].as_dict(), "thresholds": thr}})
    c0 = cfgs[0]
    title = (
        f"hedge frontier — preset {preset_name}, policy {pol}, {c0.paths:,} paths, seed {c0.seed}; "
        f"exec {cfgs[0].values['hedge_exec']}, instrument {cfgs[0].values['hedge_instrument']}"
    )
    if out_dir is not None:
        output.publish_dir(out_dir, lambda tmp: _write(tmp, obj, rows, title, unit))
    if json_:
        _print_json(obj)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    table.add_column("threshold (lots)", justify="right")
    for k in FRONTIER_KEYS:
        table.add_column(k, justify="right")
    for r in rows:
        table.add_row(
            "no hedge" if math.isinf(r["threshold"]) else f"{r['threshold']:g}",
            *("—" if r[k] is None else f"{r[k]:.4g}" for k in FRONTIER_KEYS),
        )
    con = _stdout()
    con.print(table)
    con.print(
        f"units: costs, risks and PnL in {unit}; time unit: {PRESETS[preset_name].time_unit}",
        markup=False,
        highlight=False,
    )
    if out_dir is not None:
        con.print(f"wrote {out_dir}", markup=False, highlight=False)
