"""``flatbook report RESULTS_DIR``: rebuild the HTML report from a saved ``--out`` directory."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import api
from ..extras import require
from .common import _stdout, flag_errors

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it


@app.command()
def report(
    results_dir: Annotated[
        str,
        typer.Argument(
            metavar="RESULTS_DIR", help="A directory written by simulate, compare, backtest or multi --out."
        ),
    ],
    out: Annotated[
        str | None,
        typer.Option("--out", metavar="FILE.html", help="The report file (default RESULTS_DIR/report.html)."),
    ] = None,
) -> None:
    """Rebuild the self-contained HTML report from saved results, without simulating again."""
    require("report", field="flatbook report")
    with flag_errors({"results_dir": "RESULTS_DIR", "path": "--out"}):
        target = api.rebuild_report(results_dir, out)
    _stdout().print(f"wrote {target}", markup=False, highlight=False)
