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
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, overload

import typer
from rich.console import Console

from ..config import load_toml, parse_set
from ..errors import InputError
from . import output
from .progress import ProgressBar, spinner

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
    sys.stdout.write(output.dumps(obj) + "\n")
    sys.stdout.flush()


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
    from ..sim import kernel as K  # lazy: start-up (numba and the kernel)
    from ..sim.simulator import simulate

    with compiling([K.simulate_paths], enabled=not json_) as need:
        if need:
            simulate(replace(cfg, paths=1))


def _run_all(cfgs: Sequence[RunConfig], json_: bool = False):
    """Simulate each config (same seed/paths ⇒ common random numbers), recording sample path 0,
    with a progress bar on a terminal (not under ``--json``), after :func:`compile_first`."""
    from ..sim.simulator import simulate  # lazy: start-up (numba and the kernel)

    compile_first(cfgs[0], json_)
    results = []
    with ProgressBar(sum(c.paths for c in cfgs), enabled=not json_) as bar:
        for i, cfg in enumerate(cfgs):
            results.append(simulate(cfg, record_paths=(0,), progress=bar.callback(cfg.policy, i * cfg.paths)))
    return results


def _title(cfg: RunConfig, what: str) -> str:
    return f"{what} — preset {cfg.preset}, {cfg.paths:,} paths × {cfg.steps:,} steps, seed {cfg.seed}"
