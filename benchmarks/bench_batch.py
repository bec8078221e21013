"""Scaling of ``flatbook backtest DIR_OR_GLOB``: the same files on a local Dask cluster of 1 worker and of 2.

Run from the repository root:

    .venv/bin/python benchmarks/bench_batch.py              # the 8 real files of ../shared/data, best of 2
    .venv/bin/python benchmarks/bench_batch.py --quick      # one run each
    .venv/bin/python benchmarks/bench_batch.py --copies 3   # each file 3 times (copies under a temporary dir)

The files: every data file of ``../shared/data/binance`` and ``../shared/data/lobster`` (4 Binance
captures of about 6 minutes, 4 LOBSTER sample days), each a day, backtested with linear-skew and
the default options, one Dask task per file, as ``flatbook backtest`` runs them
(:func:`flatbook.backtest_files`). Each file is parsed in the timed part (flatbook's parsed-data
cache is off, as for a month of fresh captures; ``--cache`` turns it on). Each cluster is a
:class:`distributed.LocalCluster` of single-threaded worker processes, started and warmed up
(every worker loads the compiled replay kernel) before the clock starts; the timed part is the
whole batch: planning, submission, loading, replaying, streaming each finished file back and
storing it in a fresh directory. Best of ``--repeat`` runs.

Reported: wall seconds, files and events per second, the speed-up t(1 worker)/t(2 workers) against
the ideal min(2, cores)×, the parallel efficiency, and a check that both runs give bit-identical
per-file results. No assertion on time. Results go to ``results/bench/batch.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import flatbook
from flatbook.api.batch import _result_dict
from flatbook.api.replay import backtest_options, load_data
from flatbook.sweep import runner
from flatbook.sweep.backtests import blas_as_here, data_files, make_jobs, run_file_task

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (shared benchmark helpers)

ROOT = HERE.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()


def _files(copies: int, tmp: Path) -> list[Path]:
    src = [*data_files(DATA / "binance"), *data_files(DATA / "lobster")]
    if copies == 1:
        return src
    out = []
    for k in range(copies):
        for f in src:
            dst = tmp / f"{k}-{f.name}"
            shutil.copyfile(f, dst)
            out.append(dst)
    return out


def run_once(client, files: list[Path], cache: bool) -> tuple[float, object]:
    """One timed batch on ``client`` into a fresh store: (seconds, result)."""
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        t0 = time.perf_counter()
        res = flatbook.backtest_files(files, "linear-skew", client=client, out=Path(tmp) / "out", cache=cache)
        return time.perf_counter() - t0, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one run per cluster size")
    ap.add_argument("--copies", type=int, default=1, help="each file this many times (default 1)")
    ap.add_argument("--cache", action="store_true", help="reuse flatbook's parsed-data cache (parse not timed)")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per cluster size (default 2; 1 with --quick)")
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "results" / "bench" / "batch.json",
        help="where to write the results (default results/bench/batch.json)",
    )
    args = ap.parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console.width = 160
    repeat = args.repeat or (1 if args.quick else 2)
    cores = runner.local_cores()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="bench-batch-files-") as ftmp:
        files = _files(args.copies, Path(ftmp))
        if args.cache:  # parse once here, so that the timed runs read the cache
            for f in files:
                load_data(f)
        events = sum(len(load_data(f)) for f in files[: len(files) // args.copies])
        events *= args.copies
        console.print(f"Machine: {machine_tag()}")
        console.print(
            f"[bold]Batch backtest scaling[/]: {len(files)} files ({events:,} events), linear-skew, one task per "
            f"file, parse {'cached' if args.cache else 'timed'}; {cores} cores ({_cpu_name()})"
            + (f", load average {load[0]:.2f}" if load else "")
        )
        smallest = min(files, key=lambda f: f.stat().st_size)
        [warm_job] = make_jobs([smallest], "linear-skew", {}, backtest_options())
        results, res_by_n = {}, {}
        for n in (1, 2):
            t0 = time.perf_counter()
            with blas_as_here():
                cm = runner.dask_client(workers=n)
                client = cm.__enter__()
            try:
                client.wait_for_workers(n, timeout=120)
                client.run(run_file_task, [warm_job], None, load_data, _result_dict)  # load the kernel everywhere
                startup = time.perf_counter() - t0
                best = None
                for _ in range(repeat):
                    secs, res = run_once(client, files, args.cache)
                    best = secs if best is None else min(best, secs)
                res_by_n[n] = res
            finally:
                cm.__exit__(None, None, None)
            results[n] = {
                "workers": n,
                "seconds": best,
                "startup_s": startup,
                "files_per_s": len(files) / best,
                "events_per_s": events / best,
            }
            console.print(
                f"  {n} worker{'s' if n > 1 else ''}: {best:.2f} s (cluster start and warm-up {startup:.1f} s)"
            )
    ideal = float(min(2, cores))
    speedup = results[1]["seconds"] / results[2]["seconds"]
    same = res_by_n[1].results == res_by_n[2].results
    table = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"flatbook backtest on {len(files)} files, local Dask cluster, best of {repeat}",
        title_justify="left",
    )
    for c in ("workers", "seconds", "files/s", "M events/s", "speed-up", "ideal", "efficiency"):
        table.add_column(c, justify="right")
    for n in (1, 2):
        r = results[n]
        sp = r["seconds"] and results[1]["seconds"] / r["seconds"]
        table.add_row(
            str(n),
            f"{r['seconds']:.2f}",
            f"{r['files_per_s']:.2f}",
            f"{r['events_per_s'] / 1e6:.2f}",
            f"{sp:.2f}×",
            f"{min(n, ideal):g}×",
            f"{sp / min(n, ideal):.0%}",
        )
    console.print(table)
    console.print(f"identical per-file results on 1 and 2 workers: {'[green]yes[/]' if same else '[red]NO[/]'}")
    if cores < 2:
        console.print("[yellow]only one core: 2 workers cannot run faster than 1 here[/]")
    rec = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine(),
            "cpu": _cpu_name(),
            "cores": cores,
            "python": sys.version.split()[0],
            "load_average_at_start": load[0] if load else None,
        },
        "batch": {"files": len(files), "events": events, "copies": args.copies, "cache": args.cache, "repeat": repeat},
        "runs": [results[1], results[2]],
        "speedup": speedup,
        "ideal": ideal,
        "efficiency": speedup / ideal,
        "identical_results": same,
    }
    write_results(args.json, rec, console)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
