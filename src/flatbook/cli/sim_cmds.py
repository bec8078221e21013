"""``flatbook simulate``, ``compare``, ``quote``, ``presets``, ``policies`` and ``params``.

The Monte Carlo commands and the listings; mounted on the root by :mod:`flatbook.cli.root`.
"""

from collections.abc import Callable
from typing import Annotated

import typer

from ..config import build_config
from ..errors import InputError
from ..params import BIG, bound_text
from ..presets import PRESETS
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
    _number,
    _one_policy,
    _print_json,
    _resolve,
    _run_all,
    _stdout,
    _title,
    print_warnings,
)
from .policy_file import PolicyFileOpt, load_policy_files

app = typer.Typer()


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
) -> None:
    """Monte Carlo simulation of one policy: summary table (or JSON), optional output files and HTML report."""
    load_policy_files(policy_file)
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    cfg = build_config(preset_name, _one_policy(policy, run), overrides, paths=n, seed=s)
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    (res,) = _run_all([cfg], json_)
    from ..sim.summaries import simulate_object  # lazy: start-up (numpy)

    obj = simulate_object(res)
    print_warnings(obj.get("warnings"))
    if out_dir is not None:
        output.write_outputs(out_dir, [res], obj, compare=False)
    if report_path is not None:
        from ..report.html import simulate_report, write_report  # lazy: start-up

        write_report(report_path, simulate_report([res], compare=False, obj=obj))
    if json_:
        _print_json(obj)
    else:
        con = _stdout()
        con.print(
            tables.summary_table(res.summary, PRESETS[cfg.preset].time_unit, _title(cfg, f"simulate {cfg.policy}"))
        )
        if out_dir is not None:
            con.print(f"wrote {out_dir}", markup=False, highlight=False)
        if report_path is not None:
            con.print(f"wrote {report_path}", markup=False, highlight=False)


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
) -> None:
    """Several policies on identical order flow (same seed ⇒ same random numbers): metrics × policies."""
    load_policy_files(policy_file)
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
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
    cfgs = [build_config(preset_name, name, overrides, paths=n, seed=s) for name in names]
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    results = _run_all(cfgs, json_)
    from ..sim.summaries import compare_object  # lazy: start-up (numpy)

    obj = compare_object(results)
    for name, summary in obj["policies"].items():
        print_warnings(summary.get("warnings"), prefix=f"{name}: ")
    if out_dir is not None:
        output.write_outputs(out_dir, results, obj, compare=True)
    if report_path is not None:
        from ..report.html import simulate_report, write_report  # lazy: start-up

        write_report(report_path, simulate_report(results, compare=True, obj=obj))
    if json_:
        _print_json(obj)
    else:
        con = _stdout()
        tu = PRESETS[cfgs[0].preset].time_unit
        con.print(tables.compare_table({r.config.policy: r.summary for r in results}, tu, _title(cfgs[0], "compare")))
        if "differences" in obj:
            con.print(
                tables.differences_table(
                    obj["differences"],
                    tu,
                    f"paired differences vs {obj['differences']['baseline']} (common random numbers)",
                )
            )
        if out_dir is not None:
            con.print(f"wrote {out_dir}", markup=False, highlight=False)
        if report_path is not None:
            con.print(f"wrote {report_path}", markup=False, highlight=False)


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
    preset: PresetOpt = None,
    set_: SetOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    policy_file: PolicyFileOpt = None,
) -> None:
    """The quotes of one policy for one state (inventory, mid, time)."""
    from ..policies.quote import quote as quote_one  # lazy: start-up (numba)

    load_policy_files(policy_file)
    run, preset_name, overrides, _, _ = _resolve(config, preset, set_, None, None)
    cfg = build_config(preset_name, _one_policy(policy, run), overrides, paths=1, seed=0)
    qv = _number("--q", q)
    if abs(qv) > BIG:
        raise InputError(
            "--q",
            f"got {q}; allowed: a number from -{bound_text(BIG)} to {bound_text(BIG)} "
            "(lots; flatbook's largest inventory, flatbook.params.BIG)",
        )
    s = _number("--mid", mid, cfg.values["s0"])
    if not 0 < s <= BIG:
        raise InputError("--mid", f"got {mid}; allowed: a number > 0 and <= {bound_text(BIG)} (price units)")
    tv = _number("--t", t, 0.0)
    T = cfg.values["T"]
    if not 0.0 <= tv <= T:
        raise InputError("--t", f"got {t}; allowed: a number from 0 to T = {T:g} (time units)")
    qd = quote_one(cfg, qv, s, tv).as_dict()
    if json_:
        run_cfg = {k: v for k, v in cfg.as_dict().items() if k not in ("paths", "seed")}
        _print_json({**qd, "preset": cfg.preset, "policy": cfg.policy, "config": run_cfg})
    else:
        _stdout().print(
            tables.quote_table(qd, PRESETS[cfg.preset].time_unit, f"quote — {cfg.policy}, preset {cfg.preset}")
        )


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
    _listing(tables.presets_data(), json_, tables.presets_tables)


@app.command()
def policies(json_: JsonOpt = False, policy_file: PolicyFileOpt = None) -> None:
    """The policies: formula, source, and every parameter each reads (default, unit, allowed range)."""
    load_policy_files(policy_file)
    _listing(tables.policies_data(), json_, tables.policies_tables)


@app.command()
def params(json_: JsonOpt = False) -> None:
    """Every parameter --set can reach, grouped: run, policy, market, controls, costs."""
    _listing(tables.params_data(), json_, tables.params_tables)
