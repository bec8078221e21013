"""``flatbook backtest DIR_OR_GLOB``: many files (days) on the sweep's Dask engine, resumable.

``flatbook backtest`` hands DATA here when it names several files (a directory or a glob that is
not itself a file, :func:`flatbook.api.batch.is_batch`); one file keeps the one-file path. The
files fan out one task per file over a local Dask cluster (``--workers N``, default one per core)
or the cluster at ``--scheduler tcp://HOST:PORT``. With ``--out DIR`` each file's row is stored
under ``DIR/points/`` the moment it finishes; the same command again skips the stored files
(Ctrl-C: exit 130, the finished files kept). A file that does not load is one ``warning:`` line
naming it, and the run goes on; exit 2 when no file replays. ``DIR`` gets ``summary.json`` (the
``--json``) and ``files.parquet`` (one row per file) at the end.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from ..errors import InputError
from . import output
from .common import _print_json, _stdout, flag_errors, print_warnings
from .progress import ProgressBar

__all__ = ["backtest_many", "is_batch"]

#: the API's keywords → the flags, in errors
_FLAGS = {
    "workers": "--workers",
    "scheduler": "--scheduler",
    "dir": "--out",
    "data": "DATA",
    "format": "--format",
    "on_error": "--on-error",
    "trades": "--trades",
    "contract": "--contract",
    "contract_size": "--contract-size",
    "lot_size": "--lot-size",
    "book": "--book",
    "on_gap": "--on-gap",
    "latency_ms": "--latency-ms",
    "feed_latency_ms": "--feed-latency-ms",
    "order_latency_ms": "--order-latency-ms",
}


def is_batch(data: str) -> bool:
    """Whether DATA names several files (a directory, or a glob that is not itself a file)."""
    from ..api.batch import is_batch as names_files  # lazy: start-up (the backtester)

    return names_files(data)


def _int(flag: str, raw: str | None, lo: int, hi: int) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw)
    except ValueError:
        raise InputError(flag, f"got {raw!r}; allowed: an integer from {lo} to {hi:,}") from None
    if not lo <= v <= hi:
        raise InputError(flag, f"got {raw!r}; allowed: an integer from {lo} to {hi:,}")
    return v


def backtest_many(
    data: str,
    policy: str,
    overrides: dict[str, Any],
    options: Any,
    load_kw: dict[str, Any],
    workers: str | None,
    scheduler: str | None,
    out: str | None,
    report: str | None,
    json_: bool,
) -> None:
    """Run the batch and print (or ``--json``) the table across days and the table per file."""
    from ..api import batch as B  # lazy: start-up (the backtester, dask)

    if report is not None:
        raise InputError("--report", "draws one backtest; DATA names several files (give one file, or drop --report)")
    n_workers = _int("--workers", workers, 1, 1024)
    out_dir = output.check_out_dir(out) if out is not None else None
    state: dict[str, Any] = {"bar": None}

    def tick(st) -> None:
        if state["bar"] is None:
            b = ProgressBar(st.total, description="backtesting", unit="files", enabled=not json_)
            b.__enter__()
            state["bar"] = b
        state["bar"].update(st.done)

    try:
        with flag_errors(_FLAGS):
            res = B.backtest_files(
                data,
                policy,
                params=overrides,
                options=options,
                workers=n_workers,
                scheduler=scheduler,
                out=out_dir,
                progress=tick,
                **load_kw,
            )
    except B.BatchInterrupted as e:
        _close(state)
        if out_dir is not None:
            sys.stderr.write(f"{e.saved} of {e.total} files saved in {e.out}; rerun the same command to resume\n")
        if e.signum == signal.SIGTERM:  # killed: end as a killed process does (exit 143), the store closed
            sys.stderr.flush()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
        raise KeyboardInterrupt from None
    finally:
        _close(state)
    if out_dir is not None:
        with flag_errors({"dir": "--out"}):
            res.save(out_dir)
    print_warnings(res.warnings)
    if json_:
        _print_json(res)
        return
    con = _stdout()
    _tables(con, res)
    if out_dir is not None:
        con.print(
            f"wrote {out_dir}: points/, manifest.json, summary.json, files.parquet", markup=False, highlight=False
        )


def _close(state: dict) -> None:
    b = state.get("bar")
    if b is not None:
        state["bar"] = None
        b.__exit__(None, None, None)


def _tables(con, res) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..units import fmt

    t = Table(title=Text(f"{res.summary.title}: across days"), title_justify="left")
    t.add_column("key")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for k, q in res.summary.items():
        t.add_row(k, Text(fmt(q.value) if not isinstance(q.value, str) else q.value), Text(q.unit))
    con.print(t)
    f = Table(title=Text("per file (day): money in the file's currency, quantities in its unit"), title_justify="left")
    cols = ("name", "pnl_final", "fees", "currency", "fills", "max_abs_q", "final_q", "qty unit")
    for c in cols:
        f.add_column(c, justify="left" if c in ("name", "currency", "qty unit") else "right")
    for _, r in res.files.iterrows():
        if not r["ok"]:
            f.add_row(Text(str(r["name"])), Text("not backtested (see the warning)"), *[""] * (len(cols) - 2))
            continue
        f.add_row(
            Text(str(r["name"])),
            fmt(r["pnl_final"]),
            fmt(r["fees"]),
            Text(str(r["settlement_currency"] or "")),
            fmt(r["fills"]),
            fmt(r["max_abs_q"]),
            fmt(r["final_q"]),
            Text(str(r.get("qty_unit") or "quantity units")),
        )
    con.print(f)
