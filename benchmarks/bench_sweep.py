"""Scaling of ``flatbook sweep``: the same sweep on a local Dask cluster of 1 worker and of 2 workers.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_sweep.py            # 32 points × 200,000 paths, best of 2 (~1 min)
    .venv/bin/python benchmarks/bench_sweep.py --quick    # 16 points × 100,000 paths, one run

The sweep: linear-skew ``skew`` over 32 values on the as2008 preset (200 steps), every point on
seed 0 (common random numbers), 4 points per task (about 2 s of work each). Each cluster is a
:class:`distributed.LocalCluster` of single-threaded worker processes with ``NUMBA_NUM_THREADS=1``,
as ``flatbook sweep`` makes it. The clusters are started and every worker loads the compiled
kernel before the clock starts; the timed part is the whole sweep as the command runs it:
planning, submission, the simulations, streaming each finished task back and writing it to a
fresh Parquet directory. Best of ``--repeat`` runs.

Reported: wall seconds, path-steps per second, the speed-up t(1 worker)/t(2 workers) against the
ideal 2× (the workers are processes, so only cores limit it), the parallel efficiency, and a check
that both runs give bit-identical points. Results go to ``results/bench/sweep.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from flatbook.sweep import runner

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (shared benchmark helpers)

ROOT = HERE.parent
M = 1e6


def run_once(client, points, per_task: int) -> tuple[float, list[dict], int]:
    """One timed sweep on ``client`` into a fresh directory: (seconds, rows, tasks)."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        t0 = time.perf_counter()
        with runner.SweepRunner(Path(tmp) / "out", per_task=per_task, client=client) as r:
            rows = r.run(points)
            tasks = r.tasks_run
        return time.perf_counter() - t0, rows, tasks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="16 points × 100,000 paths, one run")
    ap.add_argument("--points", type=int, default=None, help="sweep points (default 32; 16 with --quick)")
    ap.add_argument("--paths", type=int, default=None, help="paths per point (default 200,000; 100,000 with --quick)")
    ap.add_argument("--per-task", type=int, default=4, help="points per Dask task (default 4)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed runs per cluster size; the best is kept (default 2; 1 with --quick)",
    )
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "results" / "bench" / "sweep.json",
        help="where to write the results (default results/bench/sweep.json)",
    )
    args = ap.parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console.width = 160
    n_points = args.points or (16 if args.quick else 32)
    paths = args.paths or (100_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 2)
    cores = runner.local_cores()
    points = [
        runner.make_point("as2008", "linear-skew", {"skew": float(k)}, paths, 0)
        for k in np.geomspace(0.005, 1.0, n_points)
    ]
    steps = points[0].config().steps
    path_steps = n_points * paths * steps
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    console.print(f"Machine: {machine_tag()}")
    console.print(
        f"[bold]Sweep scaling[/]: as2008 / linear-skew, skew over {n_points} values, {paths:,} paths × "
        f"{steps} steps per point ({path_steps / 1e9:.2f}G path-steps), {args.per_task} points per task; "
        f"{cores} cores ({_cpu_name()}), load average {load[0]:.2f}"
        if load
        else ""
    )
    results = {}
    rows_by_n = {}
    for n in (1, 2):
        t0 = time.perf_counter()
        with runner.dask_client(workers=n) as client:
            client.wait_for_workers(n, timeout=120)
            client.run(runner.warm_up)
            startup = time.perf_counter() - t0
            best = None
            for _ in range(repeat):
                secs, rows, tasks = run_once(client, points, args.per_task)
                best = secs if best is None else min(best, secs)
            rows_by_n[n] = rows
        results[n] = {
            "workers": n,
            "seconds": best,
            "startup_s": startup,
            "tasks": tasks,
            "path_steps_per_s": path_steps / best,
            "seconds_per_task": best * n / tasks,
        }
        console.print(f"  {n} worker{'s' if n > 1 else ''}: {best:.2f} s (cluster start and warm-up {startup:.1f} s)")
    ideal = float(min(2, cores))
    speedup = results[1]["seconds"] / results[2]["seconds"]
    same = all(
        a["point_id"] == b["point_id"] and a["pnl_mean"] == b["pnl_mean"] and a["pnl_std"] == b["pnl_std"]
        for a, b in zip(rows_by_n[1], rows_by_n[2])
    )
    table = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"flatbook sweep on a local Dask cluster: {n_points} points × {paths:,} paths × {steps} steps, "
        f"best of {repeat}",
        title_justify="left",
    )
    for c in ("workers", "tasks", "seconds", "s per task", "M path-steps/s", "speed-up", "ideal", "efficiency"):
        table.add_column(c, justify="right")
    table.add_row(
        "1",
        str(results[1]["tasks"]),
        f"{results[1]['seconds']:.2f}",
        f"{results[1]['seconds_per_task']:.2f}",
        f"{results[1]['path_steps_per_s'] / M:,.1f}",
        "1.00×",
        "1×",
        "",
    )
    table.add_row(
        "2",
        str(results[2]["tasks"]),
        f"{results[2]['seconds']:.2f}",
        f"{results[2]['seconds_per_task']:.2f}",
        f"{results[2]['path_steps_per_s'] / M:,.1f}",
        f"{speedup:.2f}×",
        f"{ideal:g}×",
        f"{speedup / ideal:.0%}",
    )
    console.print(table)
    console.print(f"identical points on 1 and 2 workers: {'[green]yes[/]' if same else '[red]NO[/]'}")
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
        "sweep": {
            "preset": "as2008",
            "policy": "linear-skew",
            "param": "skew",
            "points": n_points,
            "paths": paths,
            "steps": steps,
            "path_steps": path_steps,
            "per_task": args.per_task,
            "repeat": repeat,
        },
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
