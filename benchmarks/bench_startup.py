"""Start-up time of the ``flatbook`` command: ``--version``, ``--help`` and ``quote``.

Each command runs as a whole process (the console script beside this interpreter, else
``python -m flatbook``), after one warm-up run, ``--runs`` times; the script prints the
median, minimum and maximum wall-clock seconds, and the median CPU seconds (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``), which a busy machine inflates less than the wall clock.
Targets (issue 14 §7): ``--version`` and ``--help`` <= 0.3 s, ``quote`` <= 1 s warm (numba's
cache already filled by the warm-up run). A quote of a built-in formula policy runs the formula
and the controls as plain Python (:func:`flatbook.policies.quote.python_form`): it imports numba
but neither compiles nor loads numba's cache, which would cost about 0.5 s of numba's set-up.

    python benchmarks/bench_startup.py            # 9 runs each
    python benchmarks/bench_startup.py --quick    # 3 runs each

To see what a command imports and what each import costs:
``python -X importtime -m flatbook --help 2>&1 | sort -t'|' -k2 -n | tail``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    from _machine import machine_tag  # the benchmarks' shared CPU / vector-extension line
except ImportError:  # pragma: no cover - an older checkout without benchmarks/_machine.py
    import platform

    def machine_tag() -> str:
        return platform.processor() or platform.machine()


COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "quote": ["quote", "--q", "3"],
    "quote glft": ["quote", "--preset", "as2008", "--policy", "glft", "--q", "3"],
}
TARGETS_S = {"--version": 0.3, "--help": 0.3, "quote": 1.0, "quote glft": 1.0}


def flatbook_argv() -> list[str]:
    script = Path(sys.executable).with_name("flatbook")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flatbook"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9, help="counted runs per command (default 9)")
    ap.add_argument("--quick", action="store_true", help="3 runs per command")
    args = ap.parse_args()
    runs = 3 if args.quick else max(1, args.runs)
    base = flatbook_argv()
    print(
        f"start-up of {' '.join(base)}: {runs} runs after 1 warm-up; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(machine_tag())
    print(f"{'command':<12}{'wall median':>12}{'min':>8}{'max':>8}{'cpu median':>12}{'target':>8}")
    for name, extra in COMMANDS.items():
        argv = [*base, *extra]
        run_once(argv)  # warm-up: numba's on-disk cache, the OS page cache
        walls, cpus = zip(*(run_once(argv) for _ in range(runs)))
        print(
            f"{name:<12}{statistics.median(walls):>11.3f}s{min(walls):>7.3f}s{max(walls):>7.3f}s"
            f"{statistics.median(cpus):>11.3f}s{TARGETS_S[name]:>7.1f}s"
        )


if __name__ == "__main__":
    main()
