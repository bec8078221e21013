"""Where a warm backtest's bytes per event go, phase by phase, at the margin (issue 15 §6).

Two child processes replay the USDⓈ-M capture tiled ×A and ×B (default 4 and 16, flatbook's event Parquet as the
data cache serves it; ``bench_backtest.tile_events``) with bench_backtest's linear-skew at 10 ms. After each phase
each child records its resident set (VmRSS), its high-water mark (VmHWM) and the bytes numpy holds (tracemalloc:
current, and the phase's peak). The table gives (child B − child A) ÷ (events B − events A) per phase: bytes per
event at the margin, free of the import and compile baseline.

Phases: read (``EventTable.from_parquet``), config (``replay_config``: the data's defaults), the backtest
(``run_backtest``: latency draws, the replay kernel, path, markouts, summary), JSON (the result's ``to_json``).

Run: ``PYTHONPATH=src python benchmarks/profile_backtest_memory.py [--tiles 4,16]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(path: str) -> None:
    import tracemalloc

    sys.path.insert(0, str(HERE))
    import bench_backtest as B
    from flatbook.backtest import backtester as BT
    from flatbook.backtest.latency import Latency
    from flatbook.data.events import EventTable
    from flatbook.results import BacktestResult

    rows = []

    def mark(name: str) -> None:
        st = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    st[k] = int(v.split()[0]) * 1024
        cur, peak = tracemalloc.get_traced_memory()
        rows.append([name, st["VmRSS"], st["VmHWM"], cur, peak])
        tracemalloc.reset_peak()

    tracemalloc.start()
    mark("import")
    ev = EventTable.from_parquet(path)
    mark("read")
    lat = Latency("const", B.MAIN_LATENCY_MS)
    opts = BT.BacktestOptions(feed_latency=lat, order_latency=lat, queue="prorata", min_requote_ms=B.REQUOTE_MS)
    cfg = BT.replay_config(ev, "linear-skew", B.flatbook_sets("linear-skew"))
    mark("config")
    res = BT.run_backtest(ev, cfg, opts)
    mark("backtest")
    BacktestResult(res, ev).to_json()
    mark("json")
    print(json.dumps({"n": len(ev), "rows": rows}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiles", default="4,16", help="two tilings of the capture, e.g. 4,16")
    ap.add_argument("--data", type=Path, default=None, help="a Binance capture (default: bench_backtest's)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    sys.path.insert(0, str(HERE))
    import bench_backtest as B
    from flatbook.data.load import load

    a, b = (int(x) for x in args.tiles.split(","))
    ev = load(args.data or B.DATA, cache=True)
    got = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in (a, b):
            p = Path(tmp) / f"x{t}.parquet"
            B.tile_events(ev, t).to_parquet(p)
            cmd = [sys.executable, __file__, "--child", str(p)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ))
            got.append(json.loads(out.stdout.strip().splitlines()[-1]))
    dn = got[1]["n"] - got[0]["n"]
    print(f"bytes per event at the margin (×{a} → ×{b}: {got[0]['n']:,} → {got[1]['n']:,} events)")
    print(f"{'after phase':<10} {'RSS':>7} {'peak RSS':>9} {'numpy now':>10} {'numpy peak':>11}")
    for ra, rb in zip(got[0]["rows"], got[1]["rows"]):
        print(f"{ra[0]:<10}", *(f"{(rb[i] - ra[i]) / dn:{w}.1f}" for i, w in zip(range(1, 5), (7, 9, 10, 11))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
