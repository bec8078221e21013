"""``flatbook report RESULTS_DIR``: rebuild the HTML report from a saved ``--out`` directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..extras import require
from .common import _stdout

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
    from ..report.html import check_report_path, load_dir, render, write_report

    data = load_dir(results_dir)  # RESULTS_DIR is checked first: the default --out lives in it
    target = check_report_path(out if out is not None else str(Path(results_dir) / "report.html"), field="--out")
    write_report(target, render(data), field="--out")
    _stdout().print(f"wrote {target}", markup=False, highlight=False)
