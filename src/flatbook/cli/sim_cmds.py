"""``flatbook simulate``, ``compare``, ``quote``, ``presets``, ``policies`` and ``params``.

The Monte Carlo commands and the listings; mounted on the root by :mod:`flatbook.cli.root`.
"""

from collections.abc import Callable
from typing import Annotated

import typer

from .. import api
from ..api import catalogue  # noqa: F401  (api.catalogue: start-up, light)
from ..errors import InputError
from ..params import check_stats
from . import output, tables
from .common import (
    DEFAULT_POLICY,
    ConfigOpt,
    JsonOpt,
    OutOpt,
    PathsOpt,
    PresetOpt,
    ReportOpt,
    SeedOpt,
    SetOpt,
    _check_report,
    _one_policy,
    _print_json,
    _resolve,
    _stdout,
    _title,
    _write,
    _wrote,
    compile_first,
    flag_errors,
    print_warnings,
)
from .market_file import (
    CostOpt,
    CostSetOpt,
    FillOpt,
    FillSetOpt,
    ImpactOpt,
    ImpactSetOpt,
    MarketFileOpt,
    MidOpt,
    MidSetOpt,
    load_stages,
)
from .policy_file import PolicyFileOpt, load_policy_files
from .progress import ProgressBar

app = typer.Typer()

StatsOpt = Annotated[
    str | None,
    typer.Option(
        "--stats",
        metavar="full|lean",
        help="Per-path statistics: full (every column, the default), or lean (pnl, final_q, max_abs_q, fills, "
        "spread_mean only: the same numbers, 1.5-2x as fast). Also [run] stats in --config, or --set run.stats=.",
    ),
]


def _stats(stats: str | None, run: dict, overrides: dict) -> str:
    """The run's statistics: --stats, else --set run.stats=, else the TOML's [run] stats, else full."""
    field = "--stats"
    if stats is None:
        field, stats = ("--set run.stats", overrides["run.stats"]) if "run.stats" in overrides else ("run.stats", None)
    overrides.pop("run.stats", None)
    return check_stats(stats if stats is not None else run.get("stats", "full"), field)


@app.command()
def simulate(
    preset: PresetOpt = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy", metavar="NAME", help=f"Quoting policy (default {DEFAULT_POLICY}); see 'flatbook policies'."
        ),
    ] = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    policy_file: PolicyFileOpt = None,
    market_file: MarketFileOpt = None,
    mid: MidOpt = None,
    mid_set: MidSetOpt = None,
    fill: FillOpt = None,
    fill_set: FillSetOpt = None,
    stats: StatsOpt = None,
    cost: CostOpt = None,
    cost_set: CostSetOpt = None,
    impact: ImpactOpt = None,
    impact_set: ImpactSetOpt = None,
) -> None:
    """Monte Carlo simulation of one policy: summary table (or JSON), optional output files and HTML report."""
    load_policy_files(policy_file)
    stages = load_stages(market_file, mid, mid_set, fill, fill_set, cost, cost_set, impact, impact_set)
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    stats = _stats(stats, run, overrides)
    cfg = api.run_config(preset_name, _one_policy(policy, run), paths=n, seed=s, params=overrides)
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    compile_first(cfg, json_, stats)
    with ProgressBar(cfg.paths, enabled=not json_) as bar:
        res = api.simulate(config=cfg, progress=bar.callback(cfg.policy, 0), stats=stats, **stages)
    print_warnings(res.warnings)
    _write(res, out_dir, report_path)
    if json_:
        _print_json(res)
    else:
        con = _stdout()
        con.print(tables.summary_table(res.raw.summary, res.time_unit, _title(cfg, f"simulate {cfg.policy}")))
        _wrote(con, out_dir, report_path)


@app.command()
def compare(
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", metavar="NAME", help="A policy to compare (repeat: --policy A --policy B)."),
    ] = None,
    preset: PresetOpt = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    policy_file: PolicyFileOpt = None,
    market_file: MarketFileOpt = None,
    mid: MidOpt = None,
    mid_set: MidSetOpt = None,
    fill: FillOpt = None,
    fill_set: FillSetOpt = None,
    stats: StatsOpt = None,
    cost: CostOpt = None,
    cost_set: CostSetOpt = None,
    impact: ImpactOpt = None,
    impact_set: ImpactSetOpt = None,
) -> None:
    """Several policies on identical order flow (same seed ⇒ same random numbers): metrics × policies."""
    load_policy_files(policy_file)
    stages = load_stages(market_file, mid, mid_set, fill, fill_set, cost, cost_set, impact, impact_set)
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    stats = _stats(stats, run, overrides)
    names = policy if policy else run.get("policy")
    if isinstance(names, str):
        names = [names]
    if not names:
        raise InputError("--policy", "give at least one policy (repeat --policy for several)")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError("run.policy", f"expected a policy name or a list of names; got {names!r}")
    seen: set = set()
    for name in names:
        if name in seen:
            raise InputError("--policy", f"duplicate policy {name!r}; give each policy once")
        seen.add(name)
    cfgs = [api.run_config(preset_name, name, paths=n, seed=s, params=overrides) for name in names]
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    compile_first(cfgs[0], json_, stats)
    n_paths = cfgs[0].paths
    with ProgressBar(len(cfgs) * n_paths, enabled=not json_) as bar:
        cb = bar.callback(names[0], 0)

        def progress(done: int, total: int) -> None:  # the bar's text: the policy being simulated
            bar.update(description=names[min((done - 1) // n_paths, len(names) - 1)])
            cb(done, total)

        res = api.compare(
            names, preset_name, paths=n, seed=s, params=overrides, progress=progress, stats=stats, **stages
        )
    print_warnings(res.warnings)
    _write(res, out_dir, report_path)
    if json_:
        _print_json(res)
    else:
        con = _stdout()
        tu = res.time_unit
        con.print(
            tables.compare_table({n: r.raw.summary for n, r in res.results.items()}, tu, _title(cfgs[0], "compare"))
        )
        diffs = res.summary_object().get("differences")
        if diffs:
            con.print(
                tables.differences_table(diffs, tu, f"paired differences vs {res.baseline} (common random numbers)")
            )
        _wrote(con, out_dir, report_path)


@app.command()
def quote(
    q: Annotated[str, typer.Option("--q", metavar="Q", help="Inventory q (lots).")],
    policy: Annotated[
        str | None, typer.Option("--policy", metavar="NAME", help=f"Quoting policy (default {DEFAULT_POLICY}).")
    ] = None,
    mid: Annotated[
        str | None, typer.Option("--mid", metavar="S", help="Mid price (price units; default the preset's s0).")
    ] = None,
    t: Annotated[
        str | None, typer.Option("--t", metavar="T", help="Time since the start (time units; default 0).")
    ] = None,
    regime: Annotated[
        str,
        typer.Option(
            "--regime", metavar="R", help="Volatility regime, 0 calm or 1 volatile (a regime table policy's axis)."
        ),
    ] = "0",
    preset: PresetOpt = None,
    set_: SetOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    policy_file: PolicyFileOpt = None,
) -> None:
    """The quotes of one policy for one state (inventory, mid, time, regime)."""
    from ..api.quoting import quote as quote_state  # lazy: start-up (numba; not the simulator)

    load_policy_files(policy_file)
    run, preset_name, overrides, _, _ = _resolve(config, preset, set_, None, None)
    with flag_errors({"q": "--q", "mid": "--mid", "t": "--t", "regime": "--regime"}):
        res = quote_state(
            q, mid=mid, t=t, regime=regime, preset=preset_name, policy=_one_policy(policy, run), params=overrides
        )
    if json_:
        _print_json(res)
    else:
        con = _stdout()
        con.print(tables.quote_table(res.summary, res.summary.title))
        if res.levels:  # a ladder policy: every level (the hard limit caps the sum of a side's sizes)
            con.print(tables.quote_levels_table(res.levels, f"{len(res.levels)} levels per side (1 nearest the mid)"))


def _listing(data: dict, json_: bool, make_tables: Callable[[dict], list]) -> None:
    if json_:
        _print_json(data)
        return
    con = _stdout()
    for table in make_tables(data):
        con.print(table)
        con.print()


@app.command()
def presets(json_: JsonOpt = False) -> None:
    """The presets: description, time unit, and every parameter each sets (value, unit, allowed range)."""
    _listing(api.catalogue.presets_data(), json_, tables.presets_tables)


@app.command()
def policies(json_: JsonOpt = False, policy_file: PolicyFileOpt = None) -> None:
    """The policies: formula, source, and every parameter each reads (default, unit, allowed range)."""
    load_policy_files(policy_file)
    _listing(api.catalogue.policies_data(), json_, tables.policies_tables)


@app.command()
def params(
    json_: JsonOpt = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="run|live|book",
            help="Print the JSON schema of a run config TOML (run), LIVE.toml (live) or a risk book (book), "
            "for editors that complete TOML files.",
        ),
    ] = None,
) -> None:
    """Every parameter --set can reach, grouped: run, policy, market, controls, hedge, costs."""
    if schema is not None:
        with flag_errors({"kind": "--schema"}):
            obj = api.catalogue.config_schema(schema)
        _print_json(obj)
        return
    _listing(api.catalogue.params_data(), json_, tables.params_tables)
