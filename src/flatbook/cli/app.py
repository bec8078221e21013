"""The ``flatbook`` command line (typer + rich).

Commands: simulate, compare, quote, presets, policies, params (here), and data,
backtest, calibrate (:mod:`flatbook.cli.replay_cmds`). Bad input of any
kind exits 2 with one line ``error: <field>: <message>`` on stderr; Ctrl-C exits
130 with ``interrupted``; nothing is written to ``--out`` in either case. The
console script enters through :mod:`flatbook.cli.entry`, which covers Ctrl-C
during these imports too.
"""
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import __version__
from ..config import RunConfig, build_config, load_toml, parse_set
from ..errors import InputError
from ..params import BIG, bound_text
from ..presets import PRESETS
from . import output, tables
from .interrupt import EXIT_INTERRUPTED, interrupted
from .progress import ProgressBar, spinner

# click's exception classes (typer may vendor click, so take them from typer's own BadParameter)
_click_exc = sys.modules[typer.BadParameter.__module__]
ClickException, UsageError = _click_exc.ClickException, _click_exc.UsageError
Abort = typer.Abort

DEFAULT_PRESET = "as2008"
DEFAULT_POLICY = "avellaneda-stoikov"
DEFAULT_PATHS = 10_000
DEFAULT_SEED = 0
EXIT_INPUT = 2


def _error_line(msg: str) -> None:
    """One plain line on stderr (never rich-wrapped)."""
    sys.stderr.write("error: " + " ".join(str(msg).split()) + "\n")
    sys.stderr.flush()


class _Group(TyperGroup):
    """Runs the app non-standalone so that every failure is reported as one line with the right exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except InputError as e:
            _error_line(str(e))
            code = EXIT_INPUT
        except UsageError as e:
            msg = e.format_message()
            if msg.strip():  # empty when typer has already printed the help (no arguments at all)
                hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
                _error_line(msg + hint)
            code = e.exit_code
        except ClickException as e:
            _error_line(e.format_message())
            code = e.exit_code
        except (Abort, KeyboardInterrupt):
            code = EXIT_INTERRUPTED
        if code == EXIT_INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130); nothing else exits 130
            interrupted()
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Group,
    name="flatbook",
    help="Inventory management for market makers: quote, simulate and compare policies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"flatbook {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Inventory management for market makers: quote, simulate and compare policies."""


# --------------------------------------------------------------------------- shared options

PresetOpt = Annotated[str | None, typer.Option("--preset", metavar="NAME", help=f"Market preset (default {DEFAULT_PRESET}); see 'flatbook presets'.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                  help="Override any parameter (repeatable); see 'flatbook params'.")]
PathsOpt = Annotated[str | None, typer.Option("--paths", metavar="N", help=f"Monte Carlo paths, an integer >= 1 (default {DEFAULT_PATHS}).")]
SeedOpt = Annotated[str | None, typer.Option("--seed", metavar="S", help=f"Random seed, an integer >= 0 (default {DEFAULT_SEED}).")]
ConfigOpt = Annotated[str | None, typer.Option("--config", metavar="FILE.toml",
                                               help="TOML file with run and params tables; flags override it.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
OutOpt = Annotated[str | None, typer.Option("--out", metavar="DIR",
                                            help="Write summary.json, parquet files and the six-panel PNG into DIR.")]
ReportOpt = Annotated[str | None, typer.Option("--report", metavar="FILE.html",
                                               help="Write a self-contained interactive HTML report (opens offline).")]


def _check_report(report: str | None):
    """Validate ``--report`` before any work (None when not given)."""
    if report is None:
        return None
    from ..report.html import check_report_path

    return check_report_path(report)


def _resolve(config: str | None, preset: str | None, set_: list[str] | None,
             paths: str | None, seed: str | None,
             default_preset: str = DEFAULT_PRESET) -> tuple[dict, str, dict, object, object]:
    """Merge the TOML file (if any) with the flags: (run table, preset, overrides, paths, seed)."""
    run, params = load_toml(config) if config is not None else ({}, {})
    overrides = {**params, **parse_set(set_)}
    return (run,
            preset if preset is not None else run.get("preset", default_preset),
            overrides,
            paths if paths is not None else run.get("paths", DEFAULT_PATHS),
            seed if seed is not None else run.get("seed", DEFAULT_SEED))


def _one_policy(policy: str | None, run: dict) -> object:
    if policy is not None:
        return policy
    val = run.get("policy", DEFAULT_POLICY)
    if isinstance(val, list):
        raise InputError("run.policy", "expected one policy name here; give a list only to 'compare'")
    return val


def _stdout() -> Console:
    """Console for tables: the terminal's width, or wide enough not to wrap when piped."""
    con = Console()
    return con if con.is_terminal else Console(width=160)


def print_warnings(lines: Sequence[str] | None, prefix: str = "") -> None:
    """Each of a summary's ``"warnings"`` as one ``warning: ...`` line on stderr (also under --json)."""
    for line in lines or ():
        sys.stderr.write("warning: " + prefix + " ".join(str(line).split()) + "\n")
    sys.stderr.flush()


def _print_json(obj: object) -> None:
    sys.stdout.write(output.dumps(obj) + "\n")
    sys.stdout.flush()


def _number(field: str, raw: str | None, default: float | None = None) -> float | None:
    if raw is None:
        return default
    try:
        val = float(raw)
    except ValueError:
        raise InputError(field, f"got {raw!r}, not a number") from None
    if not math.isfinite(val):
        raise InputError(field, f"got {raw!r}; allowed: a finite number")
    return val


# --------------------------------------------------------------------------- progress

COMPILING = "compiling kernels (first run only)…"


def kernels_need_compiling(*dispatchers) -> bool:
    """Will calling these numba dispatchers compile rather than load machine code?

    True when a dispatcher has no compiled signature in this process and numba's on-disk
    cache index holds no entry for its current source (numba invalidates the index when
    the source file changes). False when this cannot be told (numba internals moved):
    the spinner then claims nothing.
    """
    for d in dispatchers:
        if d.signatures:
            continue
        try:
            index = d._cache._cache_file._load_index()
        except AttributeError:
            return False
        if not index:
            return True
    return False


@contextmanager
def compiling(dispatchers: Sequence, enabled: bool = True) -> Iterator[bool]:
    """A "compiling kernels (first run only)…" spinner while the body runs, if numba must compile
    ``dispatchers`` (see :func:`kernels_need_compiling`); yields whether it must."""
    need = kernels_need_compiling(*dispatchers)
    if not need:
        yield False
        return
    with spinner(COMPILING, enabled=enabled):
        yield True


def compile_first(cfg: RunConfig, json_: bool = False) -> None:
    """On the first run, compile the simulator's kernel under the "compiling kernels" spinner,
    by simulating one path of ``cfg`` (the kernel every config uses; no number changes)."""
    from ..sim import kernel as K
    from ..sim.simulator import simulate

    with compiling([K.simulate_paths], enabled=not json_) as need:
        if need:
            simulate(replace(cfg, paths=1))


def _run_all(cfgs: Sequence[RunConfig], json_: bool = False):
    """Simulate each config (same seed/paths ⇒ common random numbers), recording sample path 0,
    with a progress bar on a terminal (not under ``--json``), after :func:`compile_first`."""
    from ..sim.simulator import simulate

    compile_first(cfgs[0], json_)
    results = []
    with ProgressBar(sum(c.paths for c in cfgs), enabled=not json_) as bar:
        for i, cfg in enumerate(cfgs):
            results.append(simulate(cfg, record_paths=(0,), progress=bar.callback(cfg.policy, i * cfg.paths)))
    return results


def _title(cfg: RunConfig, what: str) -> str:
    return f"{what} — preset {cfg.preset}, {cfg.paths:,} paths × {cfg.steps:,} steps, seed {cfg.seed}"


# --------------------------------------------------------------------------- commands

@app.command()
def simulate(
    preset: PresetOpt = None,
    policy: Annotated[str | None, typer.Option("--policy", metavar="NAME", help=f"Quoting policy (default {DEFAULT_POLICY}); see 'flatbook policies'.")] = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
) -> None:
    """Monte Carlo simulation of one policy: summary table (or JSON), optional output files and HTML report."""
    run, preset_name, overrides, n, s = _resolve(config, preset, set_, paths, seed)
    cfg = build_config(preset_name, _one_policy(policy, run), overrides, paths=n, seed=s)
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    (res,) = _run_all([cfg], json_)
    obj = output.simulate_object(res)
    print_warnings(obj.get("warnings"))
    if out_dir is not None:
        output.write_outputs(out_dir, [res], obj, compare=False)
    if report_path is not None:
        from ..report.html import simulate_report, write_report

        write_report(report_path, simulate_report([res], compare=False, obj=obj))
    if json_:
        _print_json(obj)
    else:
        con = _stdout()
        con.print(tables.summary_table(res.summary, PRESETS[cfg.preset].time_unit,
                                       _title(cfg, f"simulate {cfg.policy}")))
        if out_dir is not None:
            con.print(f"wrote {out_dir}", markup=False, highlight=False)
        if report_path is not None:
            con.print(f"wrote {report_path}", markup=False, highlight=False)


@app.command()
def compare(
    policy: Annotated[list[str] | None, typer.Option("--policy", metavar="NAME", help="A policy to compare (repeat: --policy A --policy B).")] = None,
    preset: PresetOpt = None,
    set_: SetOpt = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
) -> None:
    """Several policies on identical order flow (same seed ⇒ same random numbers): metrics × policies."""
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
    obj = output.compare_object(results)
    for name, summary in obj["policies"].items():
        print_warnings(summary.get("warnings"), prefix=f"{name}: ")
    if out_dir is not None:
        output.write_outputs(out_dir, results, obj, compare=True)
    if report_path is not None:
        from ..report.html import simulate_report, write_report

        write_report(report_path, simulate_report(results, compare=True, obj=obj))
    if json_:
        _print_json(obj)
    else:
        con = _stdout()
        tu = PRESETS[cfgs[0].preset].time_unit
        con.print(tables.compare_table({r.config.policy: r.summary for r in results}, tu, _title(cfgs[0], "compare")))
        if "differences" in obj:
            con.print(tables.differences_table(obj["differences"], tu,
                                               f"paired differences vs {obj['differences']['baseline']} "
                                               "(common random numbers)"))
        if out_dir is not None:
            con.print(f"wrote {out_dir}", markup=False, highlight=False)
        if report_path is not None:
            con.print(f"wrote {report_path}", markup=False, highlight=False)


@app.command()
def quote(
    q: Annotated[str, typer.Option("--q", metavar="Q", help="Inventory q (lots).")],
    policy: Annotated[str | None, typer.Option("--policy", metavar="NAME", help=f"Quoting policy (default {DEFAULT_POLICY}).")] = None,
    mid: Annotated[str | None, typer.Option("--mid", metavar="S", help="Mid price (price units; default the preset's s0).")] = None,
    t: Annotated[str | None, typer.Option("--t", metavar="T", help="Time since the start (time units; default 0).")] = None,
    preset: PresetOpt = None,
    set_: SetOpt = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The quotes of one policy for one state (inventory, mid, time)."""
    from ..policies.quote import quote as quote_one

    run, preset_name, overrides, _, _ = _resolve(config, preset, set_, None, None)
    cfg = build_config(preset_name, _one_policy(policy, run), overrides, paths=1, seed=0)
    qv = _number("--q", q)
    if abs(qv) > BIG:
        raise InputError("--q", f"got {q}; allowed: a number from -{bound_text(BIG)} to {bound_text(BIG)} "
                                "(lots; flatbook's largest inventory, flatbook.params.BIG)")
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
        _stdout().print(tables.quote_table(qd, PRESETS[cfg.preset].time_unit,
                                           f"quote — {cfg.policy}, preset {cfg.preset}"))


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
def policies(json_: JsonOpt = False) -> None:
    """The policies: formula, source, and every parameter each reads (default, unit, allowed range)."""
    _listing(tables.policies_data(), json_, tables.policies_tables)


@app.command()
def params(json_: JsonOpt = False) -> None:
    """Every parameter --set can reach, grouped: run, policy, market, controls, costs."""
    _listing(tables.params_data(), json_, tables.params_tables)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``flatbook`` script enters through :func:`flatbook.cli.entry.main`)."""
    app(args=list(argv) if argv is not None else None, prog_name="flatbook")


from . import replay_cmds  # noqa: E402,F401  (registers data and backtest)
from . import calibrate_cmd  # noqa: E402,F401  (registers calibrate)
from . import schedule_cmd  # noqa: E402,F401  (registers schedule)
from . import hedge_cmds  # noqa: E402,F401  (registers hedge-frontier)
from . import report_cmd  # noqa: E402,F401  (registers report)
from . import multi_cmd  # noqa: E402,F401  (registers multi)
from . import risk_cmds  # noqa: E402,F401  (registers risk and stress)
from . import app_cmd  # noqa: E402,F401  (registers app)
from . import sweep_cmd  # noqa: E402,F401  (registers sweep)
from . import live_cmd  # noqa: E402,F401  (registers live)
