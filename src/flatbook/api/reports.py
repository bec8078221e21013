"""``flatbook.rebuild_report``: the HTML report of a saved run, rebuilt without running anything again."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

__all__ = ["rebuild_report"]


def rebuild_report(results_dir: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Rebuild the self-contained HTML report (``flatbook report``) from a directory that ``save(dir)`` (the
    command line's ``--out``) wrote for a simulate, compare, backtest or multi run; rendering is deterministic,
    so it equals the report the run itself would write (``result.report(path)``).

    Parameters
    ----------
    results_dir : path
        The saved run (summary.json and the parquet files).
    path : path, optional
        The report file, ending in .html (default ``results_dir/report.html``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    flatbook.errors.InputError
        ``results_dir`` (not a saved run, a missing or malformed file) or ``path``; plotly missing (the extra
        ``flatbook[report]``).
    """
    from ..extras import require  # lazy: start-up

    require("report", "plotly", field="report")
    from ..report.html import check_report_path, load_dir, render, write_report  # lazy: start-up (plotly)

    try:
        data = load_dir(results_dir)  # checked first: the default path lives in it
    except InputError as e:
        if e.field != "RESULTS_DIR":
            raise
        raise InputError("results_dir", str(e)[len(e.field) + 2 :]) from None
    target = check_report_path(str(path) if path is not None else str(Path(results_dir) / "report.html"), "path")
    return write_report(target, render(data), field="path")
