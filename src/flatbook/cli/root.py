"""The root of the ``flatbook`` command line (typer + rich): it mounts the subcommand modules.

Each command module owns a ``typer.Typer`` of its commands and imports what it shares with
the others from :mod:`flatbook.cli.common`, never from here: this root imports them, they
do not import it, so the command line has no import cycle. Commands: simulate, compare,
quote, presets, policies, params (:mod:`~flatbook.cli.sim_cmds`); data, backtest
(:mod:`~flatbook.cli.replay_cmds`); ensemble; calibrate, schedule, hedge-frontier, report, multi,
risk, stress, app, sweep, live. Bad input of any kind exits 2 with one line
``error: <field>: <message>`` on stderr; Ctrl-C exits 130 with ``interrupted``; nothing
is written to ``--out`` in either case. The console script enters through
:mod:`flatbook.cli.entry`, which covers Ctrl-C during these imports too.

Start-up: the command modules import typer, rich and light core modules only at module
level; numpy, numba, the kernels, scipy, dash... are imported inside the command that
needs them, so ``flatbook --help`` and ``--version`` load none of them.
"""

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer.core import TyperGroup

from .._version import __version__
from ..errors import InputError
from . import (
    app_cmd,
    calibrate_cmd,
    ensemble_cmd,
    hedge_cmds,
    live_cmd,
    multi_cmd,
    replay_cmds,
    report_cmd,
    risk_cmds,
    schedule_cmd,
    sim_cmds,
    sweep_cmd,
)
from .common import (
    EXIT_INPUT,
    Abort,
    ClickException,
    UsageError,
    error_line,
    kernels_need_compiling,  # noqa: F401  (re-exported: tests and scripts import it from here)
)
from .interrupt import EXIT_INTERRUPTED, interrupted


class _Group(TyperGroup):
    """Runs the app non-standalone so that every failure is reported as one line with the right exit code."""

    # click's main also takes windows_expand_args, which reaches it here through **extra
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except InputError as e:
            error_line(str(e))
            code = EXIT_INPUT
        except UsageError as e:
            msg = e.format_message()
            if msg.strip():  # empty when typer has already printed the help (no arguments at all)
                hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
                error_line(msg + hint)
            code = e.exit_code
        except ClickException as e:
            error_line(e.format_message())
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
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Inventory management for market makers: quote, simulate and compare policies."""


# the sub-apps, in the order 'flatbook --help' lists their commands
for _sub in (
    sim_cmds,
    replay_cmds,
    ensemble_cmd,
    calibrate_cmd,
    schedule_cmd,
    hedge_cmds,
    report_cmd,
    multi_cmd,
    risk_cmds,
    app_cmd,
    sweep_cmd,
    live_cmd,
):
    app.add_typer(_sub.app)
app.add_typer(replay_cmds.data_app, name="data")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``flatbook`` script enters through :func:`flatbook.cli.entry.main`)."""
    app(args=list(argv) if argv is not None else None, prog_name="flatbook")
