"""What every ``flatbook`` subcommand shares: option types, defaults, input parsing, printing, progress.

The command modules (``*_cmd.py``, ``*_cmds.py``) import from here, never from the root
:mod:`flatbook.cli.root`, which only mounts them: the command line has no import cycle.
Start-up: this module imports typer and rich only (and the light core modules); anything
that pulls numpy, numba or a kernel is imported inside the function that needs it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, overload

import typer
from rich.console import Console

from ..api.kernels import kernels_need_compiling, needs_compiling, warm_up  # noqa: F401  (re-exported)
from ..config import load_toml, parse_set
from ..errors import InputError
from . import output
from .progress import spinner

if TYPE_CHECKING:
    from ..config import RunConfig

# click's exception classes (typer may vendor click, so take them from typer's own BadParameter)
_click_exc = sys.modules[typer.BadParameter.__module__]
ClickException, UsageError = _click_exc.ClickException, _click_exc.UsageError
Abort = typer.Abort

DEFAULT_PRESET = "as2008"
DEFAULT_POLICY = "avellaneda-stoikov"
DEFAULT_PATHS = 10_000
DEFAULT_SEED = 0
EXIT_INPUT = 2


def error_line(msg: str) -> None:
    """One plain line on stderr (never rich-wrapped)."""
    sys.stderr.write("error: " + " ".join(str(msg).split()) + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- shared options

PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", metavar="NAME", help=f"Market preset (default {DEFAULT_PRESET}); see 'flatbook presets'."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE", help="Override any parameter (repeatable); see 'flatbook params'."),
]
PathsOpt = Annotated[
    str | None,
    typer.Option("--paths", metavar="N", help=f"Monte Carlo paths, an integer >= 1 (default {DEFAULT_PATHS})."),
]
SeedOpt = Annotated[
    str | None, typer.Option("--seed", metavar="S", help=f"Random seed, an integer >= 0 (default {DEFAULT_SEED}).")
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE.toml", help="TOML file with run and params tables; flags override it."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
OutOpt = Annotated[
    str | None,
    typer.Option("--out", metavar="DIR", help="Write summary.json, parquet files and the six-panel PNG into DIR."),
]
ReportOpt = Annotated[
    str | None,
    typer.Option(
        "--report", metavar="FILE.html", help="Write a self-contained interactive HTML report (opens offline)."
    ),
]


def _check_report(report: str | None):
    """Validate ``--report`` before any work (None when not given)."""
    if report is None:
        return None
    from ..report.html import check_report_path  # lazy: start-up (the report pulls numpy and plotting)

    return check_report_path(report)


def _resolve(
    config: str | None,
    preset: str | None,
    set_: list[str] | None,
    paths: str | None,
    seed: str | None,
    default_preset: str = DEFAULT_PRESET,
) -> tuple[dict, str, dict, Any, Any]:
    """Merge the TOML file (if any) with the flags: (run table, preset, overrides, paths, seed).

    paths and seed are raw (flag text or a TOML value): build_config / build_multi validate them.
    """
    run, params = load_toml(config) if config is not None else ({}, {})
    overrides = {**params, **parse_set(set_)}
    return (
        run,
        preset if preset is not None else run.get("preset", default_preset),
        overrides,
        paths if paths is not None else run.get("paths", DEFAULT_PATHS),
        seed if seed is not None else run.get("seed", DEFAULT_SEED),
    )


def _one_policy(policy: str | None, run: dict) -> Any:  # a name, or the raw TOML value: build_config checks it
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
    """``obj`` (a result object: its :meth:`~flatbook.results._base.Result.to_json`; or a plain object) on stdout."""
    text = obj.to_json() if hasattr(obj, "to_json") else output.dumps(obj)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _write(res, out_dir, report_path) -> None:
    """A result's ``--out`` files (``res.save``) and ``--report`` (``res.report``); errors name the flags."""
    if out_dir is not None:
        with flag_errors({"dir": "--out"}):
            res.save(out_dir)
    if report_path is not None:
        with flag_errors({"path": "--report"}):
            res.report(report_path)


def _wrote(con: Console, *written) -> None:
    """``wrote PATH`` on stdout for each path written (None: not asked for)."""
    for w in written:
        if w is not None:
            con.print(f"wrote {w}", markup=False, highlight=False)


@contextmanager
def flag_errors(names: dict[str, str]) -> Iterator[None]:
    """An :class:`InputError` naming an API keyword in ``names`` (``{"dir": "--out"}``) re-raised naming the flag,
    with the same message (the API checks; the command line names its own flags)."""
    try:
        yield
    except InputError as e:
        if e.field not in names:
            raise
        raise InputError(names[e.field], str(e).partition(": ")[2]) from None


@overload
def _number(field: str, raw: str, default: float | None = None) -> float: ...
@overload
def _number(field: str, raw: str | None, default: float) -> float: ...
@overload
def _number(field: str, raw: str | None, default: None = None) -> float | None: ...


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


@contextmanager
def compiling(engine: str, enabled: bool = True, stats: str = "full", config: Any = None) -> Iterator[bool]:
    """A "compiling kernels (first run only)…" spinner while the body runs, if ``engine``'s kernels must be
    compiled (:func:`flatbook.api.kernels.needs_compiling`); yields whether they must."""
    need = needs_compiling(engine, stats, config)
    if not need:
        yield False
        return
    with spinner(COMPILING, enabled=enabled):
        yield True


def compile_first(cfg: RunConfig, json_: bool = False, stats: str = "full") -> None:
    """On the first run, compile the simulator's kernel (for ``stats``, full or lean) under the "compiling
    kernels" spinner (:func:`flatbook.api.kernels.warm_up`: one path of ``cfg``; no number changes)."""
    with compiling("simulate", enabled=not json_, stats=stats, config=cfg) as need:
        if need:
            warm_up("simulate", cfg, stats)


def _title(cfg: RunConfig, what: str) -> str:
    return f"{what} — preset {cfg.preset}, {cfg.paths:,} paths × {cfg.steps:,} steps, seed {cfg.seed}"
