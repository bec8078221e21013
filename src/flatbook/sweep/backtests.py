"""Backtest many data files (days) in one run, fanned out over the sweep's Dask engine, resumable.

- **Files.** ``DATA`` is a directory (every file in it whose name is a data format,
  :func:`flatbook.data.load.detect_format`; README, SHA256SUMS, licences are left out) or a glob
  (every file it matches), sorted by name. Each file is one *day*: one task, loaded, its
  defaults derived from its own data (:func:`flatbook.backtest.backtester.data_defaults`) and
  replayed with the same policy, parameters and options.
- **Ids.** A file's id is a SHA-256 of (its absolute path, size, mtime in ns, the policy and its
  key, the parameters, the options' full ``repr`` and the loading options): the same file with
  the same run has the same id, an edited file or another run gets a new one.
- **Engine.** The cluster, the store and the user-policy shipping are the sweep's
  (:mod:`flatbook.sweep.runner`: :func:`dask_client`, :class:`PointStore`,
  :func:`policy_sources`): a local cluster by default (one single-threaded process per core),
  ``scheduler`` for an existing one. One task per file.
- **Store and resume.** With ``out``, each file's row is written the moment its task finishes
  (one Parquet file, atomically: whole or absent, :meth:`PointStore.write`); the same run again
  into the same ``out`` reads the stored rows back by id and replays only the others (none:
  no cluster is started). Ctrl-C raises :class:`BatchInterrupted` with the finished files saved;
  a killed process leaves only whole files.
- **Files that do not load** (missing, unreadable, a malformed row, a size below the lot…):
  the file's row records the one-line error (``ok`` False) and the run goes on with the
  others; such a row is never stored, so the next run tries the file again. A run in which no
  file replays is refused by the API (:func:`flatbook.api.backtest_files`).
- **Rows.** One per file: id, file, ``ok``/``error``, the key figures (``pnl_final``, ``fills``,
  ``max_abs_q``, ``fees``, ...: settlement currency, lots of the data's quantity unit), the
  whole result as JSON (``result``: ``BacktestResult.to_dict()``) and the
  wall-clock fields under ``timing``. Everything outside ``timing`` is a deterministic function
  of the file and the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from glob import glob, has_magic
from pathlib import Path
from typing import Any

import numpy as np

from ..backtest import BacktestOptions, replay_config, run_backtest
from ..data.events import DataError
from ..data.generic import PARQUET_SUFFIXES
from ..data.load import detect_format, load
from ..data.tardis import file_kind
from ..errors import InputError
from ..extras import require
from ..timing import group_timing
from .runner import (
    _SIM_LOCK,
    RETRIES,
    PointStore,
    PolicySource,
    _canon,
    dask_client,
    ensure_policies,
    one_numba_thread,
    policy_key,
    policy_sources,
)

__all__ = [
    "BatchInterrupted",
    "blas_as_here",
    "BatchProgress",
    "FileJob",
    "across_days",
    "data_files",
    "is_batch",
    "run_files",
]

#: the per-file figures kept as columns of a row (and of ``files.parquet``), beside the whole result
DAY_KEYS = (
    "pnl_final",
    "pnl_liquidated",
    "fills",
    "maker_volume",
    "max_abs_q",
    "final_q",
    "fees",
    "max_drawdown",
    "events",
    "duration_s",
)


def is_batch(data: str | os.PathLike) -> bool:
    """Whether ``data`` names several files: a directory, or a glob pattern that is not itself a file. A
    directory of Tardis CSVs only (a book, trades and quotes file of one market) is one data set, read
    together (:func:`flatbook.data.tardis.load_tardis`), not a batch."""
    p = Path(data).expanduser()
    if p.is_file():
        return False
    if p.is_dir():
        files = [f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and _is_data_name(f)]
        return not (files and all(f.name.lower().endswith((".csv", ".csv.gz")) and file_kind(f) for f in files))
    return has_magic(str(data))


def _is_data_name(p: Path) -> bool:
    try:
        detect_format(p)
    except DataError:
        return p.name.lower().endswith(PARQUET_SUFFIXES)  # an unreadable .parquet is data: its load says why
    return True


def data_files(data: str | os.PathLike, field: str = "data") -> list[Path]:
    """The files ``data`` names (see the module docstring), sorted by name; :class:`InputError` naming
    ``field`` when there is none."""
    text = os.path.expanduser(os.fspath(data))
    p = Path(text)
    if p.is_dir():
        files = [f for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith(".") and _is_data_name(f)]
        if not files:
            raise InputError(field, f"{p}: no data file in this directory (.zip, .gz, .csv, .parquet)")
        return files
    if has_magic(text):
        files = sorted({Path(f) for f in glob(text, recursive=True) if Path(f).is_file()}, key=str)
        if not files:
            raise InputError(field, f"{text!r} matches no file")
        return files
    if p.is_file():
        return [p]
    raise InputError(field, f"{text}: no such file or directory")


@dataclass(frozen=True)
class FileJob:
    """One file of a batch: what to load and how to replay it (picklable, small)."""

    path: str
    policy: str
    values: tuple[tuple[str, Any], ...]
    options: BacktestOptions
    load_kw: tuple[tuple[str, Any], ...] = ()
    policy_key: str = ""
    stamp: tuple[int, int] = (0, 0)  # (size in bytes, mtime in ns) when the run was planned
    where: str = ""  # the absolute path (``path`` is as the user gave it)

    @property
    def id(self) -> str:
        """sha256 of (absolute path, size, mtime, policy, parameters, options, loading options[, policy key]),
        16 hex digits."""
        ident: list[object] = [
            self.where or os.path.abspath(self.path),
            list(self.stamp),
            self.policy,
            [
                [k, _canon(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)]
                for k, v in self.values
            ],
            repr(self.options),
            [[k, str(v)] for k, v in self.load_kw if k != "cache"],  # the parse cache changes no number
        ]
        if self.policy_key:
            ident.append(self.policy_key)
        return hashlib.sha256(json.dumps(ident, separators=(",", ":")).encode()).hexdigest()[:16]


def make_jobs(
    files: Sequence[Path],
    policy: str,
    values: Mapping[str, Any],
    options: BacktestOptions,
    load_kw: Mapping[str, Any] | None = None,
) -> list[FileJob]:
    """One job per file (absolute paths, stamped with size and mtime)."""
    key = policy_key(policy)
    vals = tuple(sorted(values.items()))
    kw = tuple(sorted((k, v) for k, v in (load_kw or {}).items() if v is not None))
    jobs = []
    for f in files:
        a = Path(f).resolve()
        try:
            st = a.stat()
            stamp = (int(st.st_size), int(st.st_mtime_ns))
        except OSError:
            stamp = (-1, -1)
        jobs.append(FileJob(str(f), policy, vals, options, kw, key, stamp, str(a)))
    return jobs


#: the thread-count variables Dask's nanny sets to 1 in every local worker (``distributed.nanny.pre-spawn-environ``)
BLAS_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def blas_as_here():
    """Local workers started inside run BLAS on as many threads as this process does (its own environment,
    not Dask's 1). The replay's summary takes time-weighted means with ``numpy.dot``, whose summation order
    follows the BLAS threads: so a file replayed on a local worker gives the numbers of ``flatbook backtest
    FILE`` bit for bit (a remote cluster's machines may differ in their last bits)."""
    require("sweep", "distributed", field="a Dask cluster")  # missing: one line naming the extra
    import dask  # an optional dependency (the extra sweep): imported when a cluster starts
    import distributed  # noqa: F401 - registers its configuration first, so that the restore below keeps it

    env = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items()}
    for k in BLAS_VARS:
        env.pop(k, None)
        if k in os.environ:
            env[k] = os.environ[k]
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        yield


# --------------------------------------------------------------------------- worker side


class _TeardownNoise(logging.Filter):
    """Drops what a Dask worker logs when its scheduler goes away under it (a Ctrl-C or kill of the client
    while a task runs): the failed heartbeat and the closed-connection tracebacks. Other records pass."""

    CLOSED = ("CommClosedError", "StreamClosedError", "CancelledError")

    def filter(self, record: logging.LogRecord) -> bool:
        if "heartbeat" in record.getMessage():
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ in self.CLOSED)


_QUIETED: list[bool] = []


def quiet_teardown() -> None:
    """In a Dask worker process (once): :class:`_TeardownNoise` on the handlers of the ``distributed`` loggers,
    so that interrupting the client never prints a worker's traceback."""
    if _QUIETED:
        return
    _QUIETED.append(True)
    noise = _TeardownNoise()
    for name in ("", "distributed"):
        for h in logging.getLogger(name).handlers:
            h.addFilter(noise)


@contextlib.contextmanager
def silent_distributed():
    """This process's ``distributed``, ``tornado`` and ``asyncio`` loggers off while a cluster is torn down after an
    interrupt (restored on exit)."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _mute() -> None:
    for n in ("distributed", "tornado", "asyncio"):
        logging.getLogger(n).setLevel(logging.CRITICAL + 1)


#: ``loader(path, **load_kw)`` → an EventTable (the API passes :func:`flatbook.api.load_data`, so that every
#: loading option it has joins a batch unchanged)
Loader = Callable[..., Any]


def _core_load(path: str, **kw):
    return load(path, fmt=kw.pop("format", "auto"), **kw)


def backtest_file(
    job: FileJob, loader: Loader | None = None, to_dict: Callable[[Any, Any], dict] | None = None
) -> dict:
    """Load (``loader``, default :func:`flatbook.data.load.load`) and replay one file; its row (see the
    module docstring). A file that does not load or replay (:class:`InputError`, :class:`DataError`,
    an OS error) gives a row with ``ok`` False and the one-line ``error``. ``to_dict(raw, events)``:
    the result's JSON object (default: the replay's summary with its meta)."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"point_id": job.id, "file": job.path, "name": Path(job.path).name}
    try:
        ev = (loader or _core_load)(job.path, **dict(job.load_kw))
        cfg = replay_config(ev, job.policy, dict(job.values), seed=job.options.seed)
        raw = run_backtest(ev, cfg, job.options)
    except (InputError, OSError) as e:  # DataError is an InputError
        row.update(ok=False, error=str(e) or type(e).__name__, result="")
        row.update({k: math.nan for k in DAY_KEYS})
        row.update(instrument="", settlement_currency="", qty_unit="")
        row["wall_s"] = time.perf_counter() - t0
        return group_timing(row)
    obj = to_dict(raw, ev) if to_dict is not None else {**raw.summary, **raw.meta}
    s = raw.summary
    m = ev.meta
    row.update(
        ok=True, error="", instrument=m.instrument, settlement_currency=m.settlement_currency, qty_unit=m.qty_unit
    )
    for k in DAY_KEYS:
        v = s.get(k)
        row[k] = math.nan if v is None else float(v)
    row["result"] = json.dumps(_without_timing(obj), allow_nan=True)
    row["elapsed_s"] = (s.get("timing") or {}).get("elapsed_s")
    row["wall_s"] = time.perf_counter() - t0
    return group_timing(row)


def _without_timing(obj: Mapping) -> dict:
    return {k: (_without_timing(v) if isinstance(v, Mapping) else v) for k, v in obj.items() if k != "timing"}


def run_file_task(
    jobs: Sequence[FileJob],
    sources: Mapping[str, PolicySource] | None = None,
    loader: Loader | None = None,
    to_dict: Callable[[Any, Any], dict] | None = None,
) -> list[dict]:
    """A Dask task: replay its files one after another on one numba thread (the sweep's
    :func:`~flatbook.sweep.runner.run_task` for files); ``timing`` gets the worker and the UTC time."""
    try:
        from distributed import get_worker

        where = get_worker().address
        quiet_teardown()
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    rows = []
    with _SIM_LOCK:
        one_numba_thread()
        ensure_policies(sources or {})
        for job in jobs:
            row = backtest_file(job, loader, to_dict)
            row["timing"]["worker"] = where
            row["timing"]["finished_utc"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- client side


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM: ``signum``) during a batch with ``out``: ``saved`` of ``total`` files are stored there,
    the manifest says ``"interrupted"``; the same run resumes."""

    def __init__(self, saved: int, total: int, out: Path, signum: int = signal.SIGINT):
        super().__init__()
        self.saved, self.total, self.out, self.signum = saved, total, out, int(signum)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the batch stops the same way."""


@contextlib.contextmanager
def _term_as_interrupt():
    """While the batch runs (main thread only): SIGTERM raises :class:`_Terminated` (a KeyboardInterrupt), so
    a ``kill`` ends it as Ctrl-C does (cluster closed, manifest ``"interrupted"``); SIGKILL cannot be caught
    (the manifest then stays ``"running"``; resume works the same)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise _Terminated()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class BatchProgress:
    """Counts for a progress callback: files done (replayed now, resumed or failed) of the total."""

    done: int = 0
    total: int = 0
    resumed: int = 0
    failed: int = 0
    last: str = ""  # the file that finished last
    failures: list[tuple[str, str]] = field(default_factory=list)


def run_files(
    jobs: Sequence[FileJob],
    out: Path | None = None,
    *,
    cluster: bool = True,
    scheduler: str | None = None,
    workers: int | None = None,
    client=None,
    progress: Callable[[BatchProgress], None] | None = None,
    loader: Loader | None = None,
    to_dict: Callable[[Any, Any], dict] | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> tuple[list[dict], BatchProgress]:
    """Rows of ``jobs`` in order: stored ones from ``out`` as they are, the others replayed now, on a
    Dask cluster (``cluster``; the sweep's :func:`dask_client`, or ``client``) or in this process one
    after another (the numbers are the same). Each finished file is stored at once (``out``)."""
    store = PointStore(out) if out is not None else None
    created = out is not None and not Path(out).exists()
    st = BatchProgress(total=len(jobs))
    rows: dict[str, dict] = {}
    outcome = "interrupted"
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(silent_distributed())  # restored last, after the cluster is closed
            stack.enter_context(_term_as_interrupt())
            if store is not None:
                store.open()
                stack.callback(store.close)
                rows.update(store.read())
                store.write_manifest({**(manifest or {}), "status": "running"})
            unique: dict[str, FileJob] = {}  # by id (a job holds its options, which need not be hashable)
            for j in jobs:
                unique.setdefault(j.id, j)
            todo = [j for j in unique.values() if j.id not in rows]
            st.resumed = st.done = len({j.id for j in jobs}) - len(todo)

            def finished(new: Iterable[dict]) -> None:
                keep = []
                for r in new:
                    if r["ok"]:
                        keep.append(r)
                    else:
                        st.failed += 1
                        st.failures.append((r["file"], r["error"]))
                    rows[r["point_id"]] = r
                    st.done += 1
                    st.last = r["name"]
                if store is not None and keep:
                    store.write(keep, keep[0]["point_id"][:12])
                if progress is not None:
                    progress(st)

            if progress is not None:
                progress(st)
            try:
                if todo and not cluster and client is None:
                    for j in todo:
                        finished(run_file_task([j], None, loader, to_dict))
                elif todo:
                    if client is None:
                        with blas_as_here():
                            client = stack.enter_context(dask_client(scheduler, workers))
                    _on_cluster(client, todo, loader, to_dict, finished)
            except KeyboardInterrupt as e:
                _mute()  # the cluster's teardown below says nothing (restored when the run ends)
                signum = signal.SIGTERM if isinstance(e, _Terminated) else signal.SIGINT
                if store is not None and out is not None:
                    store.write_manifest({**(manifest or {}), "status": "interrupted"})
                    saved = sum(1 for j in jobs if rows.get(j.id, {}).get("ok"))
                    raise BatchInterrupted(saved, len(jobs), out, signum) from None
                if signum == signal.SIGTERM:
                    raise BatchInterrupted(0, len(jobs), Path(), signum) from None
                raise
            except Exception:
                outcome = "failed"
                if store is not None:
                    store.write_manifest({**(manifest or {}), "status": "failed"})
                raise
            outcome = "done"
            if store is not None:
                nothing = not any(r.get("ok") for r in rows.values())
                store.write_manifest({**(manifest or {}), "status": "failed" if nothing else "complete"})
    finally:
        if created and out is not None and outcome != "interrupted" and not any(r.get("ok") for r in rows.values()):
            shutil.rmtree(out, ignore_errors=True)  # a new store with no file in it: nothing half-written is left
    return [rows[j.id] for j in jobs], st


def _on_cluster(client, todo: Sequence[FileJob], loader, to_dict, finished: Callable[[list[dict]], None]) -> None:
    """One task per file on ``client``; ``finished(rows)`` as each completes."""
    from distributed import as_completed  # an optional dependency (the extra sweep): imported when files run

    sources = policy_sources(j.policy for j in todo)
    futures = {}
    for j in todo:
        fut = client.submit(
            run_file_task,
            [j],
            {j.policy: sources[j.policy]} if j.policy in sources else {},
            loader,
            to_dict,
            key=f"flatbook-backtest-{j.id}-{secrets.token_hex(3)}",
            retries=RETRIES,
            pure=False,
        )
        futures[fut] = j
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            finished(fut.result())
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        raise
    finally:
        futures.clear()


# --------------------------------------------------------------------------- across days


def across_days(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Figures across the files that replayed (each a day): ``days``, ``pnl_total``, ``pnl_mean_per_day``,
    ``pnl_std_per_day`` (sample std, ddof 1), ``pnl_se`` (std/√days), ``sharpe_per_day`` (mean/std),
    ``worst_day_pnl`` and ``worst_day`` (its file), ``best_day_pnl``, ``fills_total``, ``fees_total``,
    ``max_abs_q`` (largest over the days) and ``fills_mean_per_day``. Money in the settlement
    currency; with files in different currencies the money figures are None (they do not add: no
    exchange rate is assumed; each file's figure stays in the per-file rows with its currency).
    ``max_abs_q`` in the files' quantity unit (``qty_unit``), None when they differ (BTC beside ETH)."""
    ok = [r for r in rows if r.get("ok")]
    n = len(ok)
    out: dict[str, Any] = {"days": n, "files_failed": len(rows) - n}
    curs = sorted({str(r.get("settlement_currency", "")) for r in ok})
    out["settlement_currency"] = curs[0] if len(curs) == 1 else ", ".join(curs)
    pnl = np.array([float(r["pnl_final"]) for r in ok], dtype=float)
    fills = np.array([float(r["fills"]) for r in ok], dtype=float)
    out["fills_total"] = int(fills.sum()) if n else 0
    out["fills_mean_per_day"] = float(fills.mean()) if n else None
    units = sorted({str(r.get("qty_unit") or "quantity units") for r in ok})
    out["qty_unit"] = units[0] if len(units) == 1 else ", ".join(units)
    out["max_abs_q"] = float(np.max([float(r["max_abs_q"]) for r in ok])) if n and len(units) == 1 else None
    money = n > 0 and len(curs) == 1 and bool(np.all(np.isfinite(pnl)))
    std = float(pnl.std(ddof=1)) if money and n > 1 else None
    mean = float(pnl.mean()) if money else None
    worst = int(np.argmin(pnl)) if money else None
    out.update(
        {
            "pnl_total": float(pnl.sum()) if money else None,
            "pnl_mean_per_day": mean,
            "pnl_std_per_day": std,
            "pnl_se": std / math.sqrt(n) if std is not None else None,
            "sharpe_per_day": mean / std if mean is not None and std else None,
            "worst_day_pnl": float(pnl[worst]) if worst is not None else None,
            "worst_day": ok[worst]["name"] if worst is not None else None,
            "best_day_pnl": float(pnl.max()) if money else None,
            "fees_total": float(sum(float(r["fees"]) for r in ok)) if money else None,
        }
    )
    order = (
        "days",
        "pnl_total",
        "pnl_mean_per_day",
        "pnl_std_per_day",
        "pnl_se",
        "sharpe_per_day",
        "worst_day_pnl",
        "worst_day",
        "best_day_pnl",
        "fills_total",
        "fills_mean_per_day",
        "fees_total",
        "max_abs_q",
        "files_failed",
        "settlement_currency",
        "qty_unit",
    )
    return {k: out[k] for k in order}
