"""How the cost of a backtest grows with the number of events: flatbook and hftbacktest, 6 minutes to 3 hours.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_backtest_scaling.py                  # ×1, ×4, ×16, ×32: ~4 min
    .venv/bin/python benchmarks/bench_backtest_scaling.py --quick          # ×1, ×4, ×16, 2 runs each
    .venv/bin/python benchmarks/bench_backtest_scaling.py --hbt-python /opt/hbt/bin/python

No longer capture of the same market exists here, so the 344 s capture is
tiled: copy i is shifted by i·(span + 1 ms), for both tools' inputs (flatbook's
EventTable, written as flatbook's own event Parquet; hftbacktest's converted
rows, both time columns). ×32 is 3.07 hours of market. The strategy is
linear-skew at 10 ms latency, as in ``bench_backtest.py`` (same flags, same
options: ``--flatbook-book``, ``--flatbook-queue``, ``--input``, ``--hbt-python``).

For each size, each tool runs as a fresh whole process (the compiled code in
the cache: one untimed run fills it), ``--repeat`` times, interleaved; the
median wall time and peak RSS (``ru_maxrss``, from ``os.wait4`` in a launcher)
are kept. The script prints, per size, both tools' wall times and peaks, their
ratio, and a least-squares line through (events, cost) per tool: the marginal
cost per event (ns and bytes) and the fixed cost (s and MB).

Nothing is asserted. Results: ``results/bench/backtest_scaling.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_backtest as B  # noqa: E402  (benchmarks/bench_backtest.py: the commands and the launcher)
from _machine import machine, machine_tag  # noqa: E402
from bench_simulator import write_results  # noqa: E402

TILES = (1, 4, 16, 32)
STRATEGY = "linear-skew"


def _fit(x: list[float], y: list[float]) -> tuple[float, float] | tuple[None, None]:
    """Least-squares (slope, intercept) of y on x, or (None, None) with fewer than 2 points."""
    if len(x) < 2:
        return None, None
    a, b = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(a), float(b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_mode_args(ap)
    ap.add_argument("--quick", action="store_true", help="tiles 1, 4, 16 and 2 runs each")
    ap.add_argument("--tiles", default=None, help="comma-separated copies of the capture (default 1,4,16,32)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per tool and size; medians kept (default 3)")
    ap.add_argument("--json", type=Path, default=B.ROOT / "results" / "bench" / "backtest_scaling.json")
    args = ap.parse_args(argv)
    tiles = [int(x) for x in args.tiles.split(",")] if args.tiles else list(TILES[:3] if args.quick else TILES)
    repeat = args.repeat or (2 if args.quick else 3)
    console = Console()
    if not console.is_terminal:
        console.width = 160
    lat = B.MAIN_LATENCY_MS
    hbt_py = B.find_hbt_python(args.hbt_python)
    hbt_ver, hbt_np = B.hbt_version(hbt_py) if hbt_py else (None, "no interpreter with hftbacktest found")
    if hbt_ver is None:
        console.print(f"[red]hftbacktest not available[/] ({hbt_np}): flatbook only")
        hbt_py = None
    if not args.data.is_file():
        console.print(f"[red]data file not found: {args.data}[/]; nothing to do")
        return 0
    console.print(f"Machine: {machine_tag()}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    console.print(
        f"[bold]Backtest cost vs events[/]: {STRATEGY}, {lat:g} ms latency, the capture tiled ×{', ×'.join(map(str, tiles))}; "
        f"median of {repeat} whole-process runs per tool and size (warm caches). load average "
        f"{'/'.join(f'{x:.2f}' for x in load) if load else '-'}; hftbacktest {hbt_ver or '-'}"
    )
    npz1 = B.hbt_npz(hbt_py, args.data, lat)[0] if hbt_py else None
    ev = B.load_flatbook_events(args, B.flatbook_input(args, npz1) if args.input == "npz" else args.data)
    span1 = (int(ev.ts[-1]) - int(ev.ts[0])) / 1e9
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="flatbook-bench-scaling-"))
    try:
        envs = {tool: B._scratch_env(scratch, f"warm-{tool}") for tool in ("flatbook", "hftbacktest")}
        for n in tiles:
            npz = B.hbt_npz(hbt_py, args.data, lat, tile=n) if hbt_py else None
            fb_path = B.flatbook_tiled(args, ev, n, npz[0] if npz else None)
            cmds = {"flatbook": B.flatbook_cmd(STRATEGY, lat, fb_path, B.flatbook_flags(args))}
            if npz:
                cmds["hftbacktest"] = B.hbt_cmd(hbt_py, STRATEGY, lat, npz[0])
            rec: dict = {"tiles": n, "span_h": n * span1 / 3600.0}
            for tool, cmd in cmds.items():  # untimed: compile or load from the cache
                r = B._slim(B.spawn(cmd, envs[tool], scratch, f"prime-{tool}-{n}"), tool)
                if r.get("returncode") != 0:
                    console.print(f"[red]{tool} ×{n} failed[/]: {r.get('stderr', '')[-800:]}")
                    rec[tool] = {"error": r.get("stderr")}
            runs: dict[str, list] = {t: [] for t in cmds}
            for i in range(repeat):
                for tool, cmd in cmds.items():
                    if "error" in rec.get(tool, {}):
                        continue
                    runs[tool].append(B._slim(B.spawn(cmd, envs[tool], scratch, f"{tool}-{n}-{i}"), tool))
            for tool, rs in runs.items():
                ok = [r for r in rs if r.get("returncode") == 0]
                if not ok:
                    continue
                res = ok[-1].get("result") or {}
                rec[tool] = {
                    "wall_s": B._median([r["wall_s"] for r in ok]),
                    "peak_kb": B._median([r["maxrss_kb"] for r in ok]),
                    "events": res.get("events"),
                    "fills": res.get("fills"),
                    "runs": [{k: v for k, v in r.items() if k != "result"} for r in rs],
                }
            rows.append(rec)
            fb, hb = rec.get("flatbook", {}), rec.get("hftbacktest", {})
            console.print(
                f"  ×{n}: flatbook {B._f(fb.get('wall_s'), '.2f')} s, {B._f(B._mb(fb.get('peak_kb')), ',.0f')} MB; "
                f"hftbacktest {B._f(hb.get('wall_s'), '.2f')} s, {B._f(B._mb(hb.get('peak_kb')), ',.0f')} MB"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"Whole-process cost vs size ({STRATEGY}, {lat:g} ms; medians of {repeat}, warm caches)",
        title_justify="left",
    )
    for col in (
        "copies",
        "market\nhours",
        "flatbook\nevents",
        "flatbook\nwall s",
        "flatbook\npeak MB",
        "hftbacktest\nrows",
        "hftbacktest\nwall s",
        "hftbacktest\npeak MB",
        "wall\nhbt ÷ flatbook",
        "peak\nflatbook ÷ hbt",
    ):
        t.add_column(col, justify="right")
    for r in rows:
        fb, hb = r.get("flatbook", {}), r.get("hftbacktest", {})
        t.add_row(
            f"×{r['tiles']}",
            f"{r['span_h']:.2f}",
            B._f(fb.get("events"), ","),
            B._f(fb.get("wall_s"), ".2f"),
            B._f(B._mb(fb.get("peak_kb")), ",.0f"),
            B._f(hb.get("events"), ","),
            B._f(hb.get("wall_s"), ".2f"),
            B._f(B._mb(hb.get("peak_kb")), ",.0f"),
            B._f(hb["wall_s"] / fb["wall_s"] if hb.get("wall_s") and fb.get("wall_s") else None, ".2f"),
            B._f(fb["peak_kb"] / hb["peak_kb"] if hb.get("peak_kb") and fb.get("peak_kb") else None, ".2f"),
        )
    console.print(t)
    fits = {}
    for tool in ("flatbook", "hftbacktest"):
        pts = [
            (r[tool]["events"], r[tool]["wall_s"], r[tool]["peak_kb"]) for r in rows if r.get(tool, {}).get("events")
        ]
        a_t, b_t = _fit([p[0] for p in pts], [p[1] for p in pts])
        a_m, b_m = _fit([p[0] for p in pts], [p[2] * 1024.0 for p in pts])
        hours = [r["span_h"] for r in rows if r.get(tool, {}).get("events")]
        a_h, _ = _fit(hours, [p[1] for p in pts])
        fits[tool] = {
            "ns_per_event": a_t * 1e9 if a_t is not None else None,
            "fixed_s": b_t,
            "bytes_per_event": a_m,
            "fixed_mb": b_m / 1e6 if b_m is not None else None,
            "s_per_market_hour": a_h,
        }
        if a_t is not None:
            console.print(
                f"{tool}: {a_t * 1e9:,.0f} ns and {a_m:,.0f} B per event at the margin "
                f"({a_h:.2f} s per hour of market); fixed cost {b_t:.2f} s and {b_m / 1e6:,.0f} MB "
                "(least squares over the sizes)"
            )
    out = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "loadavg_at_start": load,
            "hftbacktest": hbt_ver,
            "hftbacktest_python": hbt_py,
            "mode": {"flatbook_book": args.flatbook_book, "flatbook_queue": args.flatbook_queue, "input": args.input},
            "strategy": STRATEGY,
            "latency_ms": lat,
            "repeat": repeat,
        },
        "sizes": rows,
        "fits": fits,
    }
    write_results(args.json, out, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
