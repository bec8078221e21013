"""The live engine: tick-to-quote latency, and a soak run over whole LOBSTER days.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_live.py            # AAPL and AMZN (5 levels), whole days
    .venv/bin/python benchmarks/bench_live.py --quick    # AAPL only

Each run is ``flatbook live`` in trade mode, in process: the replay feed plays the whole
2012-06-21 session (09:30–16:00) at maximum speed, the paper venue fills our linear-skew
quotes against it (1 ms order latency, pro-rata queue), every request and fill is journaled in
SQLite (WAL, a commit per request batch and per fill batch) before it is acted on.

What it reports:

1. **Tick-to-quote** latency, in process: from a market event's arrival at the engine to the
   order handed to the venue adapter, including the pre-trade checks and the journal commit
   of the request. Targets: p50 < 20 µs, p99 < 100 µs (PASS/FAIL; exit 1 on FAIL).
   The same samples feed the ``flatbook_tick_to_quote_seconds`` histogram of ``/metrics``.
2. **Soak**: events per second over the day, the resident memory sampled every 20,000 events
   (flat: the growth from the first quarter of the day to its end is printed, PASS if under
   20 MB), and journal errors (must be 0), fills, requests.

Results go to ``results/bench/live.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402
from flatbook.live.runner import run  # noqa: E402
from flatbook.live.settings import parse_settings  # noqa: E402

DATA = Path("../shared/data/lobster")
DAYS = {
    "AAPL (level 1)": "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip",
    "AMZN (5 levels)": "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
}
P50_US, P99_US, RSS_GROWTH_MB = 20.0, 100.0, 20.0


def soak(path: Path, journal: Path) -> dict:
    s = parse_settings(
        {
            "run": {"policy": "linear-skew"},
            "feed": {"kind": "replay", "path": str(path)},
            "venue": {"kind": "paper", "order_latency": 1.0},
            "journal": {"path": str(journal)},
            "api": {"enabled": False},
        }
    )
    r = asyncio.run(run(s))
    return {**r, **r["timing"]}  # wall-clock fields (wall_s, events_per_s, tick_to_quote, rss_mb)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="AAPL only")
    ap.add_argument("--json", type=Path, default=Path("results/bench/live.json"))
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # rejected-order and zone alerts would flood the console
    console = Console(width=160)
    days = dict(list(DAYS.items())[:1]) if args.quick else DAYS
    table = Table(
        caption=machine_tag(),
        caption_justify="left",
        title="flatbook live: whole-day replay at maximum speed (paper venue, journaled)",
    )
    for col in (
        "day",
        "events",
        "events/s",
        "fills",
        "requests",
        "t2q p50 µs",
        "p99 µs",
        "p99.9 µs",
        "RSS MB (¼ day → end)",
        "journal errors",
    ):
        table.add_column(col, justify="right")
    out = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpu": _cpu_name(),
            "machine": machine(),
            "targets": {"p50_us": P50_US, "p99_us": P99_US, "rss_growth_mb": RSS_GROWTH_MB},
        },
        "runs": {},
    }
    ok = True
    for name, fname in days.items():
        with tempfile.TemporaryDirectory() as tmp:
            r = soak(DATA / fname, Path(tmp) / "journal.sqlite")
        lat = r["tick_to_quote"]
        rss = r["rss_mb"]
        quarter = next(b for a, b in rss if a >= r["events"] // 4)
        growth = rss[-1][1] - quarter
        passed = (
            lat["p50_us"] < P50_US and lat["p99_us"] < P99_US and r["journal_errors"] == 0 and growth < RSS_GROWTH_MB
        )
        ok &= passed
        table.add_row(
            name,
            f"{r['events']:,}",
            f"{r['events_per_s']:,.0f}",
            f"{r['fills']:,}",
            f"{r['orders']:,}",
            f"{lat['p50_us']:.1f}",
            f"{lat['p99_us']:.1f}",
            f"{lat['p999_us']:.0f}",
            f"{quarter:.0f} → {rss[-1][1]:.0f}",
            str(r["journal_errors"]),
        )
        out["runs"][name] = {
            **{
                k: r[k]
                for k in (
                    "events",
                    "events_per_s",
                    "wall_s",
                    "fills",
                    "orders",
                    "rejected_orders",
                    "journal_errors",
                    "journal_commits",
                    "tick_to_quote",
                    "rss_mb",
                    "position",
                    "pnl",
                )
            },
            "rss_growth_mb": growth,
            "pass": passed,
        }
    console.print(f"Machine: {machine_tag()}")
    console.print(table)
    console.print(
        f"targets: tick-to-quote p50 < {P50_US:g} µs and p99 < {P99_US:g} µs, memory growth < "
        f"{RSS_GROWTH_MB:g} MB, 0 journal errors: [bold]{'PASS' if ok else 'FAIL'}[/bold]"
    )
    write_results(args.json, out, console)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
