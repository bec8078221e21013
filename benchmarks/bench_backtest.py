"""flatbook's historical backtester against hftbacktest on the same data and strategies.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_backtest.py            # full: about 2-3 min on 2 cores
    .venv/bin/python benchmarks/bench_backtest.py --quick    # 10 ms latency only, fewer repeats

Data: Binance USDⓈ-M BTCUSDT, 2024-08-08, about 6 minutes (``../shared/data/binance/
usdm_btcusdt_20240808.gz``, from hftbacktest's own examples). flatbook reads the
file itself (bookTicker + trade streams); hftbacktest reads it after its own
converter (``hftbacktest.data.utils.binancefutures.convert``: depth diff +
snapshot + trade streams), written under ``results/bench/cache/``.

Two strategies, in both tools (``benchmarks/hftbacktest_strategies.py`` for
hftbacktest): linear skew with a position limit, and a one-level GLFT closed-form
quote; both requote at most every 100 ms, one post-only order a side. See
benchmarks/README.md for the parameters and for every modelling difference.

What it measures:

1. Replay-loop throughput, in process, best of ``--repeat``: flatbook's own
   ``summary["events_per_s"]`` (the compiled replay only) and, for hftbacktest,
   rows of its converted data ÷ the time of the compiled strategy loop (after
   compilation; the backtest is built outside the timing). Also the time of one
   replay of the same ~6 minutes of market, which does not depend on what an
   "event" is.
2. End-to-end wall time of a fresh process (``flatbook backtest FILE ... --json``
   vs a script that loads the converted data, builds the backtest and runs the
   numba strategy): run 1 with empty numba and data caches, run 2, then the best
   of ``--e2e-repeat`` warm runs.
3. Peak memory (``ru_maxrss`` of each child, from ``os.wait4`` in a small
   launcher process, so the benchmark's own memory does not leak into it).
4. Fills, volume, final position and PnL side by side (they are not expected
   to match; README explains why).
5. Three targets, each printed PASS/FAIL: flatbook replay-loop throughput ≥
   hftbacktest's; flatbook warm end-to-end wall < 1.5 s; flatbook peak memory ≤
   hftbacktest's.

If hftbacktest cannot be imported, the flatbook half still runs and the script
exits 0. Results: ``results/bench/backtest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import hftbacktest_strategies as H  # noqa: E402  (benchmarks/hftbacktest_strategies.py)
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (one CPU-name helper for both benchmarks)

DATA = ROOT.parent / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"
TICK, LOT = 0.1, 0.001
MAKER_FEE_BPS = -0.5  # Binance's best USDⓈ-M maker rebate, as in hftbacktest's examples
REQUOTE_MS = 100.0
LATENCIES_MS = (0.0, 10.0)  # constant feed and order latency, both tools
MAIN_LATENCY_MS = 10.0  # the end-to-end and memory runs
QUEUE_FLATBOOK = "prorata"  # = hftbacktest's PowerProbQueueFunc(n = 1), see README
QUEUE_POWER_HBT = 1.0
#: strategy name -> flatbook policy and parameters (instrument units: USDT, BTC, seconds)
STRATEGIES = {
    "linear-skew": {"policy": "linear-skew", "params": {"half_spread": 1.0, "skew": 20.0, "size": 0.01, "limit": 0.1}},
    "glft": {"policy": "glft", "params": {"sigma": 7.5, "A": 1.5, "k": 5.0, "gamma": 0.1, "size": 0.01, "limit": 0.1}},
}
TARGET_WALL_S = 1.5
M = 1e6

# A tiny launcher: spawns the command with stdout/stderr to files and reports the
# child's own rusage (os.wait4). Run with -I -S so that its own memory (which a
# spawned child's ru_maxrss inherits on Linux) stays small.
LAUNCHER = r"""
import json, os, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t0 = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, dict(os.environ),
                     file_actions=[(os.POSIX_SPAWN_DUP2, fo, 1), (os.POSIX_SPAWN_DUP2, fe, 2)])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "maxrss_kb": ru.ru_maxrss, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
                  "returncode": os.waitstatus_to_exitcode(status)}))
"""


# --------------------------------------------------------------------------- helpers
def _mb(kb: float | None) -> float | None:
    """ru_maxrss (kB on Linux, bytes on macOS) in MB of 10^6 bytes."""
    if kb is None:
        return None
    return kb * (1 if sys.platform == "darwin" else 1024) / 1e6


def _f(x, fmt: str, dash: str = "-") -> str:
    return dash if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _verdict(ok: bool | None) -> str:
    return "[yellow]n/a[/]" if ok is None else ("[green]PASS[/]" if ok else "[red]FAIL[/]")


def spawn(cmd: list[str], env: dict, workdir: Path, tag: str) -> dict:
    """Run ``cmd`` through the launcher; returns its wall time, ru_maxrss, exit code, stdout and stderr."""
    out, err = workdir / f"{tag}.out", workdir / f"{tag}.err"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, str(out), str(err), *cmd],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        return {"returncode": proc.returncode, "error": proc.stderr[-2000:], "stdout": "", "stderr": ""}
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["stdout"] = out.read_text(errors="replace")
    rec["stderr"] = err.read_text(errors="replace")
    return rec


def flatbook_sets(name: str) -> dict:
    s = STRATEGIES[name]
    sets = dict(s["params"])
    if s["policy"] == "glft":
        sets["solution"] = "closed"
    sets["maker_fee_bps"] = MAKER_FEE_BPS
    return sets


def flatbook_cmd(name: str, latency_ms: float, data: Path) -> list[str]:
    exe = Path(sys.executable).parent / "flatbook"
    cmd = [str(exe), "backtest", str(data), "--policy", STRATEGIES[name]["policy"]]
    for k, v in flatbook_sets(name).items():
        cmd += ["--set", f"{k}={v}"]
    cmd += [
        "--feed-latency-ms",
        f"{latency_ms:g}",
        "--order-latency-ms",
        f"{latency_ms:g}",
        "--queue",
        QUEUE_FLATBOOK,
        "--min-requote-ms",
        f"{REQUOTE_MS:g}",
        "--json",
    ]
    return cmd


def hbt_cmd(name: str, latency_ms: float, npz: Path) -> list[str]:
    cmd = [sys.executable, str(HERE / "hftbacktest_strategies.py"), str(npz), "--strategy", name]
    for k, v in STRATEGIES[name]["params"].items():
        cmd += ["--set", f"{k}={v}"]
    cmd += [
        "--order-latency-ms",
        f"{latency_ms:g}",
        "--maker-fee-bps",
        f"{MAKER_FEE_BPS:g}",
        "--interval-ms",
        f"{REQUOTE_MS:g}",
        "--queue-power",
        f"{QUEUE_POWER_HBT:g}",
    ]
    return cmd


# --------------------------------------------------------------------------- in-process runs
def flatbook_inprocess(ev, name: str, latency_ms: float, repeat: int) -> dict:
    """Best of ``repeat`` replays (after one untimed replay: compile or cache load, first touch)."""
    from flatbook.backtest.backtester import BacktestOptions, replay_config, run_backtest
    from flatbook.backtest.latency import Latency

    lat = Latency("const", float(latency_ms))
    opts = BacktestOptions(feed_latency=lat, order_latency=lat, queue=QUEUE_FLATBOOK, min_requote_ms=REQUOTE_MS, seed=0)
    cfg = replay_config(ev, STRATEGIES[name]["policy"], flatbook_sets(name))
    t0 = time.perf_counter()
    first = run_backtest(ev, cfg, opts)
    first_s = time.perf_counter() - t0
    times = []
    res = first
    for _ in range(repeat):
        res = run_backtest(ev, cfg, opts)
        times.append(res.summary["timing"]["elapsed_s"])
    s = res.summary
    best = min(times)
    return {
        "events": s["events"],
        "duration_s": s["duration_s"],
        "loop_s_best": best,
        "loop_s_all": times,
        "loop_s_first_call": first.summary["timing"]["elapsed_s"],
        "first_call_total_s": first_s,
        "events_per_s": s["events"] / best,
        "summary": {
            k: s.get(k)
            for k in (
                "fills",
                "buy_fills",
                "sell_fills",
                "maker_volume",
                "maker_notional",
                "final_q",
                "max_abs_q",
                "pnl_final",
                "pnl_liquidated",
                "fees",
                "requests",
                "rejected_post_only",
                "spread_mean",
                "markout_1s",
                "markout_10s",
                "time_at_limit_frac",
            )
        },
    }


def hbt_inprocess(data: np.ndarray, name: str, latency_ms: float, repeat: int) -> dict:
    """Best of ``repeat`` runs of the compiled strategy loop, each on a freshly built backtest."""
    runs = [
        H.run(
            data,
            name,
            STRATEGIES[name]["params"],
            order_latency_ns=round(latency_ms * 1e6),
            maker_fee_bps=MAKER_FEE_BPS,
            interval_ns=round(REQUOTE_MS * 1e6),
            queue_power=QUEUE_POWER_HBT,
        )
        for _ in range(repeat)
    ]
    times = [r["loop_s"] for r in runs]
    best = min(times)
    r = runs[-1]
    return {
        "events": r["events"],
        "loop_s_best": best,
        "loop_s_all": times,
        "build_s_best": min(x["build_s"] for x in runs),
        "events_per_s": r["events"] / best,
        "summary": {
            k: (float(v) if isinstance(v, np.floating) else v)
            for k, v in r.items()
            if k not in ("loop_s", "build_s", "events_per_s", "events")
        },
    }


# --------------------------------------------------------------------------- end to end
def end_to_end(tool: str, name: str, cmd: list[str], warm_repeat: int, scratch: Path, console: Console) -> dict:
    """Run 1 with empty caches, run 2, then the best of ``warm_repeat`` warm runs, each a fresh process."""
    cache = scratch / f"{tool}-{name}"
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")  # empty: run 1 compiles everything
    env["FLATBOOK_CACHE_DIR"] = str(cache / "events")  # empty: run 1 parses the Binance file
    env.pop("NUMBA_DISABLE_JIT", None)
    runs = []
    for i in range(2 + warm_repeat):
        rec = spawn(cmd, env, scratch, f"{tool}-{name}-{i}")
        if rec.get("returncode") != 0:
            console.print(
                f"[red]{tool} {name} run {i + 1} failed (exit {rec.get('returncode')})[/]\n"
                f"{(rec.get('error') or rec.get('stderr') or '')[-1500:]}"
            )
            return {
                "tool": tool,
                "strategy": name,
                "command": cmd,
                "error": rec.get("error") or rec.get("stderr"),
                "runs": runs,
            }
        try:
            rec["result"] = json.loads(
                rec["stdout"].strip().splitlines()[-1] if tool == "hftbacktest" else rec["stdout"]
            )
        except (ValueError, IndexError):
            rec["result"] = None
        rec.pop("stdout")
        rec["stderr"] = rec["stderr"][-500:]
        runs.append(rec)
    warm = runs[2:]
    best = min(warm, key=lambda r: r["wall_s"])
    res = best["result"] or {}
    out = {
        "tool": tool,
        "strategy": name,
        "command": cmd,
        "first_wall_s": runs[0]["wall_s"],
        "second_wall_s": runs[1]["wall_s"],
        "warm_wall_s_best": best["wall_s"],
        "warm_wall_s_all": [r["wall_s"] for r in warm],
        "first_peak_mb": _mb(runs[0]["maxrss_kb"]),
        "second_peak_mb": _mb(runs[1]["maxrss_kb"]),
        "warm_peak_mb": max(_mb(r["maxrss_kb"]) for r in warm),
        "runs": [{k: v for k, v in r.items() if k != "result"} for r in runs],
    }
    if tool == "flatbook":
        out["replay_loop_s"] = [((r["result"] or {}).get("timing") or {}).get("elapsed_s") for r in runs]
        out["fills"] = res.get("fills")
        out["pnl_final"] = res.get("pnl_final")
    else:
        out["loop_incl_compile_s"] = [(r["result"] or {}).get("loop_s") for r in runs]
        out["vmhwm_mb"] = [_mb((r["result"] or {}).get("vmhwm_kb")) for r in runs]
        out["fills"] = res.get("fills")
        out["pnl_final"] = res.get("pnl_final")
    return out


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="10 ms latency only; 3 in-process repeats, 2 warm end-to-end runs"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="in-process replays per case; the best is kept (default 7; 3 with --quick)",
    )
    ap.add_argument(
        "--e2e-repeat", type=int, default=None, help="warm end-to-end runs per case (default 3; 2 with --quick)"
    )
    ap.add_argument("--data", type=Path, default=DATA, help="the Binance USDⓈ-M capture (default: %(default)s)")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end and memory runs")
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "results" / "bench" / "backtest.json",
        help="where to write the results (default results/bench/backtest.json)",
    )
    args = ap.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    e2e_repeat = args.e2e_repeat or (2 if args.quick else 3)
    latencies = (MAIN_LATENCY_MS,) if args.quick else LATENCIES_MS

    console = Console()
    if not console.is_terminal:
        console.width = 160
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        import hftbacktest

        hbt_version, hbt_error = hftbacktest.__version__, None
    except Exception as exc:  # ImportError, or a broken install (e.g. its numpy pin)
        hftbacktest, hbt_version, hbt_error = None, None, f"{type(exc).__name__}: {exc}"
    import flatbook

    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "machine": machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "flatbook": flatbook.__version__,
        "hftbacktest": hbt_version,
        "hftbacktest_error": hbt_error,
        "loadavg_at_start": load,
        "quick": args.quick,
        "repeat": repeat,
        "e2e_repeat": e2e_repeat,
    }
    console.print(f"Machine: {machine_tag()}")
    console.print(
        f"[bold]flatbook vs hftbacktest: historical backtest benchmark[/]  {meta['cpu']}, "
        f"{meta['cpu_count']} CPUs, Python {meta['python']}, numpy {np.__version__}, "
        f"numba {numba.__version__}, hftbacktest {hbt_version or 'not available'}"
    )
    if load is not None:
        msg = f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        console.print(
            f"[yellow]{msg}: other processes share the CPUs, figures may be low and noisy[/]" if load[0] > 0.5 else msg
        )
    if hftbacktest is None:
        console.print(
            f"[bold red]hftbacktest cannot be imported[/] ({escape(hbt_error)}). Running the flatbook "
            "half only; install it with: .venv/bin/pip install -e '.\\[bench]' (or make bench)"
        )
    if not args.data.is_file():
        console.print(f"[red]data file not found: {args.data}[/] (see ../shared/data/PROVENANCE.md); nothing to do")
        return 0
    console.print(
        f"Data: {args.data}. Strategies requote at most every {REQUOTE_MS:g} ms; maker fee "
        f"{MAKER_FEE_BPS:g} bps; constant feed = order latency {', '.join(f'{x:g}' for x in latencies)} ms; "
        f"queue: flatbook {QUEUE_FLATBOOK}, hftbacktest PowerProbQueueModel(n={QUEUE_POWER_HBT:g}) "
        "with NoPartialFillExchange. In-process figures are the best of "
        f"{repeat}; end-to-end: run 1 (empty caches), run 2, best of {e2e_repeat} warm runs.\n"
    )

    out: dict = {
        "meta": meta,
        "settings": {
            "data": str(args.data),
            "tick": TICK,
            "lot": LOT,
            "maker_fee_bps": MAKER_FEE_BPS,
            "requote_ms": REQUOTE_MS,
            "latencies_ms": list(latencies),
            "main_latency_ms": MAIN_LATENCY_MS,
            "queue_flatbook": QUEUE_FLATBOOK,
            "queue_hftbacktest": f"PowerProbQueueModel({QUEUE_POWER_HBT:g})",
            "exchange_hftbacktest": "NoPartialFillExchange",
            "strategies": STRATEGIES,
        },
    }

    # GLFT constants: flatbook's own function and the helper's copy must agree
    from flatbook.policies.glft_solution import glft_constants

    gp = STRATEGIES["glft"]["params"]
    c_fb, w_fb = glft_constants(gp["gamma"], gp["sigma"], gp["A"], gp["k"])
    c_h, w_h = H.glft_constants(gp["gamma"], gp["sigma"], gp["A"], gp["k"])
    assert abs(c_fb - c_h) < 1e-12 and abs(w_fb - w_h) < 1e-12, (c_fb, c_h, w_fb, w_h)
    out["settings"]["glft_c"], out["settings"]["glft_omega"] = c_fb, w_fb
    console.print(
        f"GLFT (σ={gp['sigma']:g} USDT/√s, A={gp['A']:g}/s, k={gp['k']:g}/USDT, γ={gp['gamma']:g}): "
        f"c = {c_fb:.4f} USDT, ω = {w_fb:.4f} USDT/BTC → at q = 0 the quotes sit "
        f"{c_fb + w_fb / 2:.3f} USDT from the mid, shifted {w_fb * gp['limit']:.3f} USDT at the limit.\n"
    )

    # ---- data: flatbook's loader (with its cache) and hftbacktest's converter
    from flatbook.data.load import load as fb_load

    fb_load(args.data, cache=True)  # fills flatbook's data cache if it is empty
    t0 = time.perf_counter()
    ev = fb_load(args.data, cache=True)
    fb_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_parsed = len(fb_load(args.data, cache=False))
    fb_parse_s = time.perf_counter() - t0
    assert n_parsed == len(ev)
    hbt_data: dict[float, np.ndarray] = {}
    conv = {"flatbook_events": len(ev), "flatbook_load_s": fb_load_s, "flatbook_parse_s": fb_parse_s}
    cache_dir = ROOT / "results" / "bench" / "cache"
    npz_main = None
    if hftbacktest is not None:
        t0 = time.perf_counter()
        raw = H.convert_raw(args.data)
        conv["hftbacktest_convert_s"] = time.perf_counter() - t0
        conv["hftbacktest_converter_rows"] = len(raw)
        for lat in latencies:
            t0 = time.perf_counter()
            hbt_data[lat] = H.with_feed_latency(raw, round(lat * 1e6))
            conv[f"hftbacktest_feed_latency_{lat:g}ms_s"] = time.perf_counter() - t0
        del raw
        conv["hftbacktest_rows"] = len(hbt_data[MAIN_LATENCY_MS])
        cache_dir.mkdir(parents=True, exist_ok=True)
        npz_main = cache_dir / f"{args.data.name.split('.')[0]}_feed{MAIN_LATENCY_MS:g}ms.npz"
        H.save_npz(npz_main, hbt_data[MAIN_LATENCY_MS])
        conv["hftbacktest_npz"] = str(npz_main)
        conv["hftbacktest_npz_mb"] = npz_main.stat().st_size / 1e6
        t0 = time.perf_counter()
        H.load_npz(npz_main)
        conv["hftbacktest_npz_load_s"] = time.perf_counter() - t0
    out["data"] = conv
    t = Table(caption=machine_tag(), caption_justify="left", title="Data", title_justify="left")
    t.add_column("")
    t.add_column("flatbook", justify="right")
    t.add_column("hftbacktest", justify="right")
    t.add_row("input read", "bookTicker + trade", "depth diff + snapshot + trade")
    t.add_row("events (rows) replayed", f"{len(ev):,}", _f(conv.get("hftbacktest_rows"), ","))
    t.add_row(
        "parse / convert the .gz",
        f"{fb_parse_s:.2f} s (load, cache=False)",
        _f(conv.get("hftbacktest_convert_s"), ".2f") + " s (binancefutures.convert)"
        if "hftbacktest_convert_s" in conv
        else "-",
    )
    t.add_row(
        "load again",
        f"{fb_load_s:.2f} s (flatbook's Parquet cache)",
        _f(conv.get("hftbacktest_npz_load_s"), ".2f")
        + f" s (np.load of the {conv.get('hftbacktest_npz_mb', 0):.0f} MB npz)"
        if "hftbacktest_npz_load_s" in conv
        else "-",
    )
    dur = (int(ev.ts[-1]) - int(ev.ts[0])) / 1e9
    t.add_row(
        "span",
        f"{dur:.1f} s",
        f"{(int(hbt_data[MAIN_LATENCY_MS]['exch_ts'][-1]) - int(hbt_data[MAIN_LATENCY_MS]['exch_ts'][0])) / 1e9:.1f} s"
        if hbt_data
        else "-",
    )
    console.print(t)
    console.print()

    # ---- 1 + 4. in-process: throughput and results, every strategy × latency
    if hftbacktest is not None:
        t0 = time.perf_counter()
        H.warm_up(hbt_data[latencies[0]], order_latency_ns=0, maker_fee_bps=MAKER_FEE_BPS)
        out["hftbacktest_compile_s"] = time.perf_counter() - t0
    cases = []
    for lat in latencies:
        for name in STRATEGIES:
            rec = {"strategy": name, "latency_ms": lat, "flatbook": flatbook_inprocess(ev, name, lat, repeat)}
            if hftbacktest is not None:
                rec["hftbacktest"] = hbt_inprocess(hbt_data[lat], name, lat, repeat)
                rec["ratio_events_per_s"] = rec["flatbook"]["events_per_s"] / rec["hftbacktest"]["events_per_s"]
                rec["ratio_replay_time"] = rec["hftbacktest"]["loop_s_best"] / rec["flatbook"]["loop_s_best"]
            cases.append(rec)
    out["inprocess"] = cases

    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"Replay-loop throughput, in process (best of {repeat})",
        title_justify="left",
    )
    for col in (
        "strategy",
        "latency",
        "flatbook\nM events/s",
        "hftbacktest\nM rows/s",
        "flatbook ÷\nhftbacktest",
        "flatbook\nms / replay",
        "hftbacktest\nms / replay",
        "replay time\nhbt ÷ flatbook",
    ):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for r in cases:
        fb, hb = r["flatbook"], r.get("hftbacktest")
        t.add_row(
            r["strategy"],
            f"{r['latency_ms']:g} ms",
            f"{fb['events_per_s'] / M:,.1f}",
            _f(hb and hb["events_per_s"] / M, ",.1f"),
            _f(r.get("ratio_events_per_s"), ".2f") + ("×" if hb else ""),
            f"{fb['loop_s_best'] * 1e3:.2f}",
            _f(hb and hb["loop_s_best"] * 1e3, ".2f"),
            _f(r.get("ratio_replay_time"), ".2f") + ("×" if hb else ""),
        )
    console.print(t)
    console.print(
        f"[dim]flatbook: summary['events_per_s'] (compiled replay only; {len(ev):,} bookTicker/trade events). "
        f"hftbacktest: rows of its converted data ÷ time of the compiled strategy loop "
        + (
            f"(the backtest built outside the timing, {out['hftbacktest_compile_s']:.1f} s compile before). "
            if "hftbacktest_compile_s" in out
            else "(not available). "
        )
        + "A row is one price level change, an event one top-of-book update or trade: "
        "'ms / replay' times the same ~6 minutes of market in both.[/]\n"
    )

    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title="Results side by side (not expected to match: see benchmarks/README.md)",
        title_justify="left",
    )
    for col in (
        "strategy",
        "latency",
        "tool",
        "fills",
        "volume BTC",
        "final q BTC",
        "max |q| BTC",
        "PnL USDT",
        "fees USDT",
        "orders sent",
        "post-only rejects",
        "mean quoted\nhalf-spread",
    ):
        t.add_column(col, justify="left" if col in ("strategy", "tool") else "right")
    for r in cases:
        s = r["flatbook"]["summary"]
        t.add_row(
            r["strategy"],
            f"{r['latency_ms']:g} ms",
            "flatbook",
            f"{s['fills']:,}",
            _f(s["maker_volume"], ".3f"),
            _f(s["final_q"], "+.3f"),
            _f(s["max_abs_q"], ".3f"),
            _f(s["pnl_final"], "+.2f"),
            _f(s["fees"], "+.2f"),
            f"{s['requests']:,}",
            f"{s['rejected_post_only']:,}",
            _f(s["spread_mean"] and s["spread_mean"] / 2, ".3f"),
        )
        if "hftbacktest" in r:
            h = r["hftbacktest"]["summary"]
            t.add_row(
                "",
                "",
                "hftbacktest",
                f"{h['fills']:,}",
                _f(h["maker_volume"], ".3f"),
                _f(h["final_q"], "+.3f"),
                _f(h["max_abs_q"], ".3f"),
                _f(h["pnl_final"], "+.2f"),
                _f(h["fees"], "+.2f"),
                f"{h['submitted']:,}",
                f"{h['expired_post_only']:,}",
                _f(h["mean_half_spread"], ".3f"),
            )
    console.print(t)
    console.print(
        "[dim]PnL = cash + q·mid at the end of the data, fees included (negative fees: rebates). "
        "orders sent: flatbook requests, hftbacktest new orders (each requote is a cancel + new). "
        "Mean quoted half-spread (USDT) while both sides are quoted: flatbook time-weighted, "
        "hftbacktest over its 100 ms wake-ups; hftbacktest's max |q| as seen at the wake-ups.[/]\n"
    )

    # ---- 2 + 3. end to end and memory, fresh processes, main latency
    e2e = []
    if not args.no_e2e:
        scratch = Path(tempfile.mkdtemp(prefix="flatbook-bench-backtest-"))
        try:
            floor = spawn(["/bin/true"], dict(os.environ), scratch, "floor") if Path("/bin/true").exists() else {}
            out["launcher_floor_mb"] = _mb(floor.get("maxrss_kb"))
            console.print(
                f"[bold]End to end[/], {MAIN_LATENCY_MS:g} ms latency: each run a fresh process "
                f"(run 1 with empty numba and data caches) ..."
            )
            for name in STRATEGIES:
                e2e.append(
                    end_to_end(
                        "flatbook", name, flatbook_cmd(name, MAIN_LATENCY_MS, args.data), e2e_repeat, scratch, console
                    )
                )
                if npz_main is not None:
                    e2e.append(
                        end_to_end(
                            "hftbacktest", name, hbt_cmd(name, MAIN_LATENCY_MS, npz_main), e2e_repeat, scratch, console
                        )
                    )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        out["end_to_end"] = e2e
        t = Table(
            caption=machine_tag(),
            caption_justify="left",
            title=f"End-to-end wall time and peak memory of a fresh process ({MAIN_LATENCY_MS:g} ms latency)",
            title_justify="left",
        )
        for col in (
            "strategy",
            "tool",
            "run 1\n(empty caches)",
            "run 2",
            f"warm\n(best of {e2e_repeat})",
            "warm\nflatbook ÷ hbt",
            "peak RSS MB\nrun 1",
            "peak RSS MB\nwarm",
            "fills",
            "PnL USDT",
        ):
            t.add_column(col, justify="left" if col in ("strategy", "tool") else "right")
        for name in STRATEGIES:
            fb = next((x for x in e2e if x["tool"] == "flatbook" and x["strategy"] == name), None)
            hb = next((x for x in e2e if x["tool"] == "hftbacktest" and x["strategy"] == name), None)
            for x in (fb, hb):
                if x is None or "error" in x:
                    continue
                ratio = ""
                if x is fb and hb and "error" not in hb:
                    ratio = f"{fb['warm_wall_s_best'] / hb['warm_wall_s_best']:.2f}×"
                t.add_row(
                    name if x is fb else "",
                    x["tool"],
                    f"{x['first_wall_s']:.2f} s",
                    f"{x['second_wall_s']:.2f} s",
                    f"{x['warm_wall_s_best']:.2f} s",
                    ratio,
                    f"{x['first_peak_mb']:,.0f}",
                    f"{x['warm_peak_mb']:,.0f}",
                    _f(x["fills"], ","),
                    _f(x["pnl_final"], "+.2f"),
                )
        console.print(t)
        console.print(
            f"[dim]Wall time from spawn to exit (imports, data load, compile or cache load, replay, "
            f"summary, JSON). Peak RSS: ru_maxrss of the child (os.wait4 in a launcher; a child "
            f"started by the launcher alone peaks at {_f(out.get('launcher_floor_mb'), '.0f')} MB). "
            "hftbacktest's strategy loop cannot be cached by numba (ctypes pointers), so every "
            "hftbacktest process compiles it; flatbook's run 2 reads its data from its parsed-data cache "
            "and its kernel from numba's cache.[/]\n"
        )

    # ---- 5. targets
    targets = []
    main_cases = [r for r in cases if r["latency_ms"] == MAIN_LATENCY_MS and "hftbacktest" in r]
    ok1 = (
        all(r["flatbook"]["events_per_s"] >= r["hftbacktest"]["events_per_s"] for r in main_cases)
        if main_cases
        else None
    )
    targets.append(
        {
            "target": "flatbook replay-loop throughput ≥ hftbacktest's (events/s vs rows/s)",
            "pass": ok1,
            "detail": ", ".join(
                f"{r['strategy']}: {r['flatbook']['events_per_s'] / M:,.1f}M vs "
                f"{r['hftbacktest']['events_per_s'] / M:,.1f}M"
                for r in main_cases
            ),
        }
    )
    fb_e2e = [x for x in e2e if x["tool"] == "flatbook" and "error" not in x]
    ok2 = all(x["warm_wall_s_best"] < TARGET_WALL_S for x in fb_e2e) if fb_e2e else None
    targets.append(
        {
            "target": f"flatbook second-run (warm) wall < {TARGET_WALL_S:g} s",
            "pass": ok2,
            "detail": ", ".join(
                f"{x['strategy']}: {x['warm_wall_s_best']:.2f} s (literal run 2: {x['second_wall_s']:.2f} s)"
                for x in fb_e2e
            ),
        }
    )
    pairs = []
    for name in STRATEGIES:
        fb = next((x for x in e2e if x["tool"] == "flatbook" and x["strategy"] == name and "error" not in x), None)
        hb = next((x for x in e2e if x["tool"] == "hftbacktest" and x["strategy"] == name and "error" not in x), None)
        if fb and hb:
            pairs.append((name, fb["warm_peak_mb"], hb["warm_peak_mb"]))
    ok3 = all(a <= b for _, a, b in pairs) if pairs else None
    targets.append(
        {
            "target": "flatbook peak memory ≤ hftbacktest's (warm runs)",
            "pass": ok3,
            "detail": ", ".join(f"{n}: {a:,.0f} MB vs {b:,.0f} MB" for n, a, b in pairs),
        }
    )
    out["targets"] = targets
    t = Table(caption=machine_tag(), caption_justify="left", title="Targets", title_justify="left")
    t.add_column("target")
    t.add_column("measured")
    t.add_column("check", justify="right")
    for x in targets:
        t.add_row(x["target"], x["detail"] or "not measured", _verdict(x["pass"]))
    console.print(t)

    meta["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    write_results(args.json, out, console)
    failed = [x for x in e2e if "error" in x]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
