"""flatbook's historical backtester against hftbacktest on the same data and strategies.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_backtest.py                 # full: about 5-6 min on 2 cores
    .venv/bin/python benchmarks/bench_backtest.py --quick         # 10 ms latency only, fewer repeats
    .venv/bin/python benchmarks/bench_backtest.py --hbt-python /opt/hbt/bin/python   # hftbacktest elsewhere

hftbacktest 2.4 pins ``numpy<2.3``, so it usually lives in a venv of its own. It
always runs in child processes: ``--hbt-python`` (or ``$FLATBOOK_HBT_PYTHON``)
names that venv's interpreter; without it, the running interpreter is used if it
can import hftbacktest. flatbook runs in this interpreter (in process) and in
its own ``flatbook`` executable (end to end).

Data: Binance USDⓈ-M BTCUSDT, 2024-08-08, about 6 minutes (``../shared/data/binance/
usdm_btcusdt_20240808.gz``, from hftbacktest's own examples). flatbook reads the
file itself; hftbacktest reads it after its own converter
(``hftbacktest.data.utils.binancefutures.convert``: depth diff + snapshot +
trade streams), cached under ``results/bench/cache/``. The flatbook side is an
option: ``--flatbook-book touch|depth`` (the bookTicker touch, or the book
rebuilt from the depth stream), ``--flatbook-queue MODEL`` (``--queue`` of
``flatbook backtest``) and ``--input gz|npz`` (flatbook reads the ``.gz``, or
the very ``.npz`` that hftbacktest reads).

Two strategies, in both tools (``benchmarks/hftbacktest_strategies.py`` for
hftbacktest): linear skew with a position limit, and a one-level GLFT closed-form
quote; both requote at most every 100 ms, one post-only order a side. See
benchmarks/README.md for the parameters and for every modelling difference.

What it measures, all in one run:

1. Replay-loop throughput, in process, best of ``--repeat``: flatbook's own
   ``summary["events_per_s"]`` and, for hftbacktest, rows ÷ the time of its
   compiled strategy loop (in its child, after compilation).
2. Fill agreement (``benchmarks/fill_agreement.py``): the share of each tool's
   fills that the other matches at the same side and price within 1 s, and the
   classes of the unmatched ones, with counts.
3. Whole-process wall time of fresh processes, medians of ``--e2e-repeat``:
   warm (caches filled) and cold (empty numba cache and empty data cache:
   flatbook parses the ``.gz``, hftbacktest runs its converter first).
4. Memory per event: peak RSS of a run's child (``os.wait4`` in a small
   launcher) minus that of a baseline child that imports the same and loads
   nothing, ÷ the tool's own events.
5. Targets, each printed PASS/FAIL (the exit status does not depend on them):
   warm ≥ 5×, cold ≥ 3× hftbacktest's speed, memory per event ≤ hftbacktest's,
   ≥ 80 % of hftbacktest's fills matched.

If no hftbacktest is found, the flatbook half still runs and the script exits 0.
Results: ``results/bench/backtest.json``. Scaling with the number of events:
``benchmarks/bench_backtest_scaling.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import fill_agreement as FA  # noqa: E402  (benchmarks/fill_agreement.py)
import hftbacktest_strategies as H  # noqa: E402  (benchmarks/hftbacktest_strategies.py)
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (one CPU-name helper for both benchmarks)

DATA = ROOT.parent / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"
CACHE = ROOT / "results" / "bench" / "cache"
TICK, LOT = 0.1, 0.001
MAKER_FEE_BPS = -0.5  # Binance's best USDⓈ-M maker rebate, as in hftbacktest's examples
REQUOTE_MS = 100.0
LATENCIES_MS = (0.0, 10.0)  # constant feed and order latency, both tools
MAIN_LATENCY_MS = 10.0  # the fill agreement, end-to-end and memory runs
QUEUE_FLATBOOK = "prorata"  # = hftbacktest's PowerProbQueueFunc(n = 1), see README
QUEUE_POWER_HBT = 1.0
HBT_ENV = "FLATBOOK_HBT_PYTHON"  # an interpreter with hftbacktest (when this one has none)
#: strategy name -> flatbook policy and parameters (instrument units: USDT, BTC, seconds)
STRATEGIES = {
    "linear-skew": {"policy": "linear-skew", "params": {"half_spread": 1.0, "skew": 20.0, "size": 0.01, "limit": 0.1}},
    "glft": {"policy": "glft", "params": {"sigma": 7.5, "A": 1.5, "k": 5.0, "gamma": 0.1, "size": 0.01, "limit": 0.1}},
}
#: strategies for the fill agreement only: linear-skew without skew isolates the engines from the feedback of
#: the position on the quotes (one different fill moves every later quote of a skewed strategy)
DIAGNOSTIC = {
    "no-skew": {"policy": "linear-skew", "params": {"half_spread": 1.0, "skew": 0.0, "size": 0.01, "limit": 0.1}},
}
ALL = {**STRATEGIES, **DIAGNOSTIC}
#: the issue's targets: warm and cold whole-process speed-ups, share of hftbacktest's fills matched (%)
TARGET_WARM, TARGET_COLD, TARGET_AGREE = 5.0, 3.0, 80.0
#: the marginal memory per event is measured between the capture once and tiled this many times
MEM_TILES = 4
#: what a flatbook replay imports (the memory baseline imports these and loads nothing)
FLATBOOK_IMPORTS = (
    "numpy, numba, pyarrow.parquet, flatbook.cli.entry, flatbook.cli.replay_cmds, flatbook.data.load, "
    "flatbook.backtest.backtester"
)
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


def _median(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(statistics.median(xs)) if xs else None


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


def _last_json(text: str) -> dict | None:
    try:
        return json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- the modes and the two tools
def add_mode_args(ap: argparse.ArgumentParser) -> None:
    """The options shared with fill_agreement.py and bench_backtest_scaling.py."""
    ap.add_argument("--data", type=Path, default=DATA, help="the Binance USDⓈ-M capture (default: %(default)s)")
    ap.add_argument(
        "--hbt-python",
        default=None,
        help=f"a Python interpreter with hftbacktest 2.4 (default: ${HBT_ENV}, else this one if it has it)",
    )
    ap.add_argument(
        "--flatbook-book",
        choices=("touch", "depth"),
        default="touch",
        help="flatbook's book: the bookTicker touch, or rebuilt from the depth stream (--book depth)",
    )
    ap.add_argument(
        "--flatbook-queue",
        default=QUEUE_FLATBOOK,
        metavar="MODEL",
        help="flatbook's queue model, as 'flatbook backtest --queue' takes it (default %(default)s)",
    )
    ap.add_argument(
        "--hbt-clock",
        choices=("interval", "events"),
        default="interval",
        help="hftbacktest's decision clock in the fill agreement: interval (every 100 ms, as in the speed runs) or "
        "events (flatbook's rule: at feed events, at most every 100 ms, when mid, spread or position changed)",
    )
    ap.add_argument(
        "--input",
        choices=("gz", "npz"),
        default="gz",
        help="what flatbook reads: the .gz capture, or hftbacktest's converted .npz (the file hftbacktest reads)",
    )


def find_hbt_python(arg: str | None) -> str | None:
    """The interpreter that runs hftbacktest: ``arg``, else ``$FLATBOOK_HBT_PYTHON``, else this one if it
    can import hftbacktest, else None."""
    cand = arg or os.environ.get(HBT_ENV)
    if cand:
        return cand
    import importlib.util

    return sys.executable if importlib.util.find_spec("hftbacktest") is not None else None


def hbt_version(hbt_py: str) -> tuple[str | None, str | None]:
    """(hftbacktest's version, numpy's) in ``hbt_py``, or (None, the error)."""
    p = subprocess.run(
        [hbt_py, "-c", "import hftbacktest, numpy; print(hftbacktest.__version__, numpy.__version__)"],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["?"])[-1]
    v = p.stdout.split()
    return v[0], v[1]


def hbt_npz(hbt_py: str, data: Path, latency_ms: float, tile: int = 1) -> tuple[Path, dict]:
    """hftbacktest's converted ``data`` with a constant feed latency (ms), tiled ``tile`` times, cached in
    results/bench/cache/ (keyed on the source's size and modification time). Returns the path and the
    conversion's figures (convert_s, rows, …; ``cached`` True when it was already there)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    st = data.stat()
    stem = data.name.split(".")[0]
    npz = CACHE / f"{stem}_feed{latency_ms:g}ms{'' if tile == 1 else f'_x{tile}'}.npz"
    side = npz.with_suffix(".json")
    key = {"source": str(data.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "tile": tile}
    if npz.is_file() and side.is_file():
        info = json.loads(side.read_text())
        if info.get("key") == key:
            return npz, {**info, "cached": True}
    cmd = [hbt_py, str(HERE / "hftbacktest_strategies.py"), "convert", str(data)]
    cmd += ["--feed-latency-ms", f"{latency_ms:g}", "--out", str(npz), "--tile", str(tile)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"hftbacktest's converter failed: {p.stderr[-1500:]}")
    info = {**(_last_json(p.stdout) or {}), "key": key}
    side.write_text(json.dumps(info))
    return npz, {**info, "cached": False}


def flatbook_input(args, npz: Path | None) -> Path:
    """The file flatbook reads: the capture (``--input gz``) or hftbacktest's npz (``--input npz``)."""
    if args.input == "npz":
        if npz is None:
            raise SystemExit("--input npz needs hftbacktest (its converter writes the npz): pass --hbt-python")
        return npz
    return args.data


def flatbook_flags(args) -> list[str]:
    """``flatbook backtest`` flags for the mode: ``--book depth`` when asked, and the queue model."""
    return (["--book", "depth"] if args.flatbook_book == "depth" else []) + ["--queue", args.flatbook_queue]


def load_flatbook_events(args, path: Path | None = None, cache: bool = True):
    """flatbook's EventTable of ``path`` (default: the capture) in the mode's book."""
    from flatbook.data.load import load as fb_load
    from flatbook.errors import InputError

    path = path or args.data
    try:
        if args.flatbook_book == "depth":
            return fb_load(path, cache=cache, book="depth")
        return fb_load(path, cache=cache)
    except TypeError as exc:
        raise SystemExit(f"--flatbook-book depth: this flatbook's loader has no depth book ({exc})") from None
    except InputError as exc:
        raise SystemExit(f"flatbook cannot read {path} (--input {args.input}): {exc}") from None


def flatbook_sets(name: str) -> dict:
    s = ALL[name]
    sets = dict(s["params"])
    if s["policy"] == "glft":
        sets["solution"] = "closed"
    sets["maker_fee_bps"] = MAKER_FEE_BPS
    return sets


def flatbook_cmd(name: str, latency_ms: float, data: Path, flags: list[str]) -> list[str]:
    exe = Path(sys.executable).parent / "flatbook"
    cmd = [str(exe), "backtest", str(data), "--policy", ALL[name]["policy"]]
    for k, v in flatbook_sets(name).items():
        cmd += ["--set", f"{k}={v}"]
    cmd += ["--feed-latency-ms", f"{latency_ms:g}", "--order-latency-ms", f"{latency_ms:g}"]
    cmd += [*flags, "--min-requote-ms", f"{REQUOTE_MS:g}", "--json"]
    return cmd


def flatbook_baseline_cmd() -> list[str]:
    """A child that imports what a replay imports (FLATBOOK_IMPORTS) and loads nothing: the memory floor."""
    return [sys.executable, "-c", f"import {FLATBOOK_IMPORTS}"]


def hbt_cmd(hbt_py: str, name: str, latency_ms: float, npz: Path, extra: list[str] | None = None) -> list[str]:
    cmd = [hbt_py, str(HERE / "hftbacktest_strategies.py"), str(npz), "--strategy", ALL[name]["policy"]]
    for k, v in ALL[name]["params"].items():
        cmd += ["--set", f"{k}={v}"]
    cmd += ["--order-latency-ms", f"{latency_ms:g}", "--maker-fee-bps", f"{MAKER_FEE_BPS:g}"]
    cmd += ["--interval-ms", f"{REQUOTE_MS:g}", "--queue-power", f"{QUEUE_POWER_HBT:g}", *(extra or [])]
    return cmd


def hbt_baseline_cmd(hbt_py: str) -> list[str]:
    """hftbacktest_strategies.py's ``baseline``: imports hftbacktest, numba and the script, loads nothing."""
    return [hbt_py, str(HERE / "hftbacktest_strategies.py"), "baseline"]


def hbt_convert_cmd(hbt_py: str, data: Path, latency_ms: float, out: Path) -> list[str]:
    cmd = [hbt_py, str(HERE / "hftbacktest_strategies.py"), "convert", str(data)]
    return cmd + ["--feed-latency-ms", f"{latency_ms:g}", "--out", str(out)]


def tile_events(ev, times: int):
    """``ev`` (a flatbook EventTable) repeated ``times`` times end to end: copy i shifted by i·(span + 1 ms)
    on ``ts`` and ``local_ts``, and on ``entry_ts`` where it is a time (not ENTRY_BEFORE / ENTRY_NONE)."""
    from flatbook.data.events import COLUMNS, ENTRY_BEFORE, ENTRY_NONE, EventTable

    if times <= 1:
        return ev
    span = int(ev.ts[-1]) - int(ev.ts[0]) + 1_000_000
    shift = np.repeat(np.arange(times, dtype=np.int64) * span, len(ev))
    cols = {c: np.tile(getattr(ev, c), times) for c in COLUMNS}
    cols["ts"] = cols["ts"] + shift
    opt = {}
    if ev.local_ts is not None:
        opt["local_ts"] = np.tile(ev.local_ts, times) + shift
    if ev.entry_ts is not None:
        e = np.tile(ev.entry_ts, times)
        real = (e != ENTRY_BEFORE) & (e != ENTRY_NONE)
        opt["entry_ts"] = np.where(real, e + shift, e)
    depth = None if ev.depth is None else np.concatenate([ev.depth] * times, axis=0)
    return EventTable(**cols, meta=replace(ev.meta), depth=depth, **opt)


def flatbook_tiled(args, ev, times: int, npz_tiled: Path | None) -> Path:
    """The file flatbook reads at this size: hftbacktest's tiled npz (``--input npz``), else flatbook's own
    event Parquet of the tiled table (cached in results/bench/cache/)."""
    if args.input == "npz":
        if npz_tiled is None:
            raise SystemExit("--input npz needs hftbacktest (its converter writes the npz): pass --hbt-python")
        return npz_tiled
    CACHE.mkdir(parents=True, exist_ok=True)
    st = args.data.stat()
    stem = args.data.name.split(".")[0]
    path = CACHE / f"{stem}_{args.flatbook_book}_{st.st_size}_{st.st_mtime_ns}_x{times}.parquet"
    if not path.is_file():
        tile_events(ev, times).to_parquet(path)
    return path


# --------------------------------------------------------------------------- in-process runs
def flatbook_run(ev, name: str, latency_ms: float, queue: str, repeat: int = 0):
    """One replay after an untimed one (compile or cache load), then ``repeat`` timed ones; returns the last
    result and the replay-loop times (s)."""
    from flatbook.backtest.backtester import BacktestOptions, replay_config, run_backtest
    from flatbook.backtest.latency import Latency

    lat = Latency("const", float(latency_ms))
    opts = BacktestOptions(feed_latency=lat, order_latency=lat, queue=queue, min_requote_ms=REQUOTE_MS, seed=0)
    cfg = replay_config(ev, ALL[name]["policy"], flatbook_sets(name))
    res = run_backtest(ev, cfg, opts)
    first = res.summary["timing"]["elapsed_s"]
    times = []
    for _ in range(repeat):
        res = run_backtest(ev, cfg, opts)
        times.append(res.summary["timing"]["elapsed_s"])
    return res, times, first


def flatbook_inprocess(ev, name: str, latency_ms: float, repeat: int, queue: str) -> dict:
    """Best of ``repeat`` replays (after one untimed replay: compile or cache load, first touch)."""
    res, times, first = flatbook_run(ev, name, latency_ms, queue, repeat)
    s = res.summary
    best = min(times)
    return {
        "events": s["events"],
        "duration_s": s["duration_s"],
        "loop_s_best": best,
        "loop_s_all": times,
        "loop_s_first_call": first,
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


def hbt_inprocess(hbt_py: str, npz: Path, name: str, latency_ms: float, repeat: int) -> dict:
    """In hftbacktest's own child: compile on a slice, then ``repeat`` runs of the compiled strategy loop, each
    on a freshly built backtest; the best loop time."""
    p = subprocess.run(
        hbt_cmd(hbt_py, name, latency_ms, npz, ["--repeat", str(repeat)]), capture_output=True, text=True, cwd=ROOT
    )
    r = _last_json(p.stdout) if p.returncode == 0 else None
    if r is None:
        return {"error": p.stderr[-1500:]}
    times = r["loop_s_all"]
    best = min(times)
    return {
        "events": r["events"],
        "loop_s_best": best,
        "loop_s_all": times,
        "build_s_best": min(r["build_s_all"]),
        "compile_s": r["compile_s"],
        "events_per_s": r["events"] / best,
        "summary": {
            k: v
            for k, v in r.items()
            if k not in ("loop_s", "build_s", "events_per_s", "events", "loop_s_all", "build_s_all", "compile_s")
        },
    }


# --------------------------------------------------------------------------- fill agreement
def fill_agreement_case(ev, name: str, latency_ms: float, args, hbt_py: str, npz: Path) -> dict:
    """Both tools on ``name`` at ``latency_ms``; flatbook in process, hftbacktest in its child with its fill
    and order logs; the agreement and the classes of the unmatched fills (fill_agreement.agreement)."""
    res, _, _ = flatbook_run(ev, name, latency_ms, args.flatbook_queue)
    limit = float(ALL[name]["params"]["limit"])
    with tempfile.TemporaryDirectory(prefix="flatbook-bench-agree-") as tmp:
        log = Path(tmp) / "log.npz"
        p = subprocess.run(
            hbt_cmd(hbt_py, name, latency_ms, npz, ["--log", str(log), "--clock", args.hbt_clock]),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if p.returncode != 0:
            return {"error": p.stderr[-1500:]}
        with np.load(log) as z:
            fl, ol = z["fills"], z["orders"]
    fb = FA.flatbook_state(res, ev, limit, TICK)
    hb = FA.hftbacktest_state(fl, ol, round(latency_ms * 1e6), limit, TICK)
    rec = FA.agreement(fb, hb, skew_per_q(name))
    rec.update(strategy=name, latency_ms=latency_ms, hbt_clock=args.hbt_clock, hbt_summary=_last_json(p.stdout))
    return rec


def skew_per_q(name: str) -> float:
    """The strategy's quote shift per unit of position (USDT per BTC): linear-skew's skew, GLFT's ω."""
    p = ALL[name]["params"]
    if ALL[name]["policy"] == "glft":
        return H.glft_constants(p["gamma"], p["sigma"], p["A"], p["k"])[1]
    return float(p["skew"])


def print_agreement(name: str, rec: dict, console: Console | None = None) -> None:
    console = console or Console()
    if "error" in rec:
        console.print(f"[red]{name}: hftbacktest failed[/] {escape(rec['error'])}")
        return
    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=(
            f"Fill agreement, {name}, {rec['latency_ms']:g} ms (hftbacktest clock: {rec['hbt_clock']}): one-to-one "
            f"matches within {rec['window_s']:g} s, greedy by time"
        ),
        title_justify="left",
    )
    t.add_column("")
    t.add_column("hftbacktest's fills", justify="right")
    t.add_column("flatbook's fills", justify="right")
    t.add_row("fills", f"{rec['hftbacktest_fills']:,}", f"{rec['flatbook_fills']:,}")
    t.add_row(
        "matched: same side and price",
        f"{rec['hftbacktest_matched_pct']:.1f} %",
        f"{rec['flatbook_matched_pct']:.1f} %",
    )
    t.add_row(
        "matched: same side", f"{rec['hftbacktest_same_side_pct']:.1f} %", f"{rec['flatbook_same_side_pct']:.1f} %"
    )
    t.add_row(
        "matched where both positions were equal",
        f"{rec['hftbacktest_matched_same_q_pct']:.1f} % of {rec['hftbacktest_same_q_fills']:,}",
        "",
    )
    t.add_row("[bold]unmatched, by what the other tool did[/]", "", "")
    for k in FA.CLASSES:
        t.add_row(
            f"  {k}",
            _f(rec["hftbacktest_unmatched"].get(k), ","),
            _f(rec["flatbook_unmatched"].get(k), ","),
        )
    console.print(t)


# --------------------------------------------------------------------------- whole processes
def _scratch_env(base: Path, tag: str) -> dict:
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(base / tag / "numba")
    env["FLATBOOK_CACHE_DIR"] = str(base / tag / "events")
    env.pop("NUMBA_DISABLE_JIT", None)
    return env


def whole_process(
    fb_cmds: dict[str, list[str]],
    hb_cmds: dict[str, list[str]],
    hbt_cold_prefix: list[str] | None,
    repeat: int,
    scratch: Path,
    console: Console,
) -> dict:
    """Warm and cold whole-process runs of every command, interleaved (flatbook, hftbacktest, next strategy)
    so that both tools see the same load; and the baselines for memory.

    Warm: one untimed run fills a cache dir kept for the tool, then ``repeat`` timed runs. Cold: ``repeat``
    runs each with fresh, empty numba and data caches; hftbacktest's cold run is its converter
    (``hbt_cold_prefix``, a separate process, when flatbook parses the .gz) then the run.
    """
    recs: dict = {"flatbook": {}, "hftbacktest": {}}
    # the baselines: imports, nothing loaded
    recs["flatbook_baseline_kb"] = _median(
        [
            spawn(flatbook_baseline_cmd(), _scratch_env(scratch, "base"), scratch, f"bfb{i}").get("maxrss_kb")
            for i in range(repeat)
        ]
    )
    if hb_cmds:
        hb_base = next(iter(hb_cmds.values()))[0]
        recs["hftbacktest_baseline_kb"] = _median(
            [
                spawn(hbt_baseline_cmd(hb_base), _scratch_env(scratch, "base"), scratch, f"bhb{i}").get("maxrss_kb")
                for i in range(repeat)
            ]
        )
    for tool, cmds in (("flatbook", fb_cmds), ("hftbacktest", hb_cmds)):
        for name, cmd in cmds.items():
            env = _scratch_env(scratch, f"warm-{tool}-{name}")
            r = spawn(cmd, env, scratch, f"prime-{tool}-{name}")  # fills the warm caches
            recs[tool][name] = {"command": cmd, "warm": [], "cold": [], "prime": _slim(r, tool)}
            if r.get("returncode") != 0:
                console.print(
                    f"[red]{tool} {name} failed (exit {r.get('returncode')})[/]\n"
                    f"{escape((r.get('error') or r.get('stderr') or '')[-1500:])}"
                )
                recs[tool][name]["error"] = (r.get("error") or r.get("stderr") or "")[-1500:]
    for i in range(repeat):
        for name in fb_cmds:
            for tool, cmds in (("flatbook", fb_cmds), ("hftbacktest", hb_cmds)):
                if name not in cmds or "error" in recs[tool][name]:
                    continue
                rec = recs[tool][name]
                rec["warm"].append(
                    _slim(
                        spawn(
                            cmds[name], _scratch_env(scratch, f"warm-{tool}-{name}"), scratch, f"warm-{tool}-{name}-{i}"
                        ),
                        tool,
                    )
                )
                cold_tag = f"cold-{tool}-{name}-{i}"
                env = _scratch_env(scratch, cold_tag)
                if tool == "hftbacktest" and hbt_cold_prefix is not None:
                    npz = scratch / cold_tag / "data.npz"
                    npz.parent.mkdir(parents=True, exist_ok=True)
                    conv = _slim(spawn([*hbt_cold_prefix, str(npz)], env, scratch, cold_tag + "-conv"), tool)
                    cmd = list(cmds[name])
                    cmd[2] = str(npz)  # [python, script, NPZ, ...]
                    run = _slim(spawn(cmd, env, scratch, cold_tag), tool)
                    run["convert_wall_s"] = conv.get("wall_s")
                    run["convert_maxrss_kb"] = conv.get("maxrss_kb")
                    run["run_wall_s"] = run.get("wall_s")
                    if run.get("wall_s") is not None and conv.get("wall_s") is not None:
                        run["wall_s"] = run["wall_s"] + conv["wall_s"]
                    npz.unlink(missing_ok=True)
                else:
                    run = _slim(spawn(cmds[name], env, scratch, cold_tag), tool)
                rec["cold"].append(run)
                shutil.rmtree(scratch / cold_tag, ignore_errors=True)
    for tool in ("flatbook", "hftbacktest"):
        for rec in recs[tool].values():
            ok_w = [r for r in rec["warm"] if r.get("returncode") == 0]
            ok_c = [r for r in rec["cold"] if r.get("returncode") == 0]
            rec["warm_wall_s"] = _median([r["wall_s"] for r in ok_w])
            rec["cold_wall_s"] = _median([r["wall_s"] for r in ok_c])
            rec["cold_run_only_wall_s"] = _median([r.get("run_wall_s", r["wall_s"]) for r in ok_c])
            rec["warm_peak_kb"] = _median([r["maxrss_kb"] for r in ok_w])
            rec["cold_peak_kb"] = _median([r["maxrss_kb"] for r in ok_c])
            res = (ok_w[-1].get("result") if ok_w else None) or {}
            rec["fills"] = res.get("fills")
            rec["pnl_final"] = res.get("pnl_final")
            rec["events"] = res.get("events")
    return recs


def marginal_memory(
    args, ev, hbt_py: str | None, name: str, repeat: int, scratch: Path, times: int = MEM_TILES
) -> dict:
    """Peak RSS of warm whole processes on the capture tiled ``times`` times (and on it once), per tool, ``name``
    only: the marginal bytes per event = (peak×times − peak×1) ÷ ((times − 1)·events), medians of ``repeat``."""
    out: dict = {"tiles": times}
    cmds: dict[str, dict[int, list[str]]] = {"flatbook": {}, "hftbacktest": {}}
    for n in (1, times):
        npz = hbt_npz(hbt_py, args.data, MAIN_LATENCY_MS, tile=n)[0] if hbt_py else None
        cmds["flatbook"][n] = flatbook_cmd(
            name, MAIN_LATENCY_MS, flatbook_tiled(args, ev, n, npz), flatbook_flags(args)
        )
        if npz is not None:
            cmds["hftbacktest"][n] = hbt_cmd(hbt_py, name, MAIN_LATENCY_MS, npz)
    for tool, by_n in cmds.items():
        if not by_n:
            continue
        env = _scratch_env(scratch, f"mem-{tool}")
        spawn(by_n[1], env, scratch, f"mem-prime-{tool}")  # compile or fill the cache
        peaks: dict[int, list] = {n: [] for n in by_n}
        events: dict[int, int | None] = {}
        for i in range(repeat):
            for n, cmd in by_n.items():
                r = _slim(spawn(cmd, env, scratch, f"mem-{tool}-{n}-{i}"), tool)
                if r.get("returncode") == 0:
                    peaks[n].append(r["maxrss_kb"])
                    events[n] = (r.get("result") or {}).get("events")
        p1, pn = _median(peaks[1]), _median(peaks[times])
        e1, en = events.get(1), events.get(times)
        out[tool] = {
            "peak_kb": {str(n): _median(v) for n, v in peaks.items()},
            "events": {str(n): events.get(n) for n in by_n},
            "bytes_per_event": (pn - p1) * 1024.0 / (en - e1) if p1 and pn and e1 and en and en > e1 else None,
        }
    return out


def _slim(rec: dict, tool: str) -> dict:
    """A launcher record without the child's whole output (its JSON result parsed, the end of stderr kept)."""
    out = {k: v for k, v in rec.items() if k not in ("stdout", "stderr")}
    if rec.get("returncode") == 0:
        out["result"] = _last_json(rec.get("stdout", "")) if tool == "hftbacktest" else _json(rec.get("stdout", ""))
    else:
        out["stderr"] = (rec.get("error") or rec.get("stderr") or "")[-800:]
    return out


def _json(text: str) -> dict | None:
    try:
        return json.loads(text)
    except ValueError:
        return _last_json(text)


def _slim_result(res: dict | None) -> dict | None:
    if not res:
        return res
    keep = ("fills", "pnl_final", "events", "maker_volume", "final_q", "vmhwm_kb", "loop_s", "load_s")
    return {k: res.get(k) for k in keep if k in res}


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_mode_args(ap)
    ap.add_argument(
        "--quick", action="store_true", help="10 ms latency only; 3 in-process repeats, 2 whole-process repeats"
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="in-process replays per case; the best is kept (default 7; 3 quick)"
    )
    ap.add_argument(
        "--e2e-repeat",
        type=int,
        default=None,
        help="warm and cold whole-process runs per case; medians are kept (default 3; 2 with --quick)",
    )
    ap.add_argument("--no-e2e", action="store_true", help="skip the whole-process and memory runs")
    ap.add_argument("--no-agreement", action="store_true", help="skip the fill agreement")
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
    hbt_py = find_hbt_python(args.hbt_python)
    hbt_ver, hbt_np = hbt_version(hbt_py) if hbt_py else (None, "no interpreter with hftbacktest found")
    if hbt_ver is None:
        hbt_err, hbt_py = hbt_np, None
    else:
        hbt_err = None
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
        "hftbacktest": hbt_ver,
        "hftbacktest_python": hbt_py,
        "hftbacktest_numpy": hbt_np if hbt_ver else None,
        "hftbacktest_error": hbt_err,
        "loadavg_at_start": load,
        "quick": args.quick,
        "repeat": repeat,
        "e2e_repeat": e2e_repeat,
        "mode": {"flatbook_book": args.flatbook_book, "flatbook_queue": args.flatbook_queue, "input": args.input},
    }
    console.print(f"Machine: {machine_tag()}")
    console.print(
        f"[bold]flatbook vs hftbacktest: historical backtest benchmark[/]  {meta['cpu']}, "
        f"{meta['cpu_count']} CPUs, Python {meta['python']}, numpy {np.__version__}, numba {numba.__version__}; "
        + (
            f"hftbacktest {hbt_ver} (numpy {hbt_np}) in {hbt_py}"
            if hbt_ver
            else f"[bold red]hftbacktest not available[/] ({escape(str(hbt_err))}): the flatbook half only; "
            f"pass --hbt-python or set ${HBT_ENV}"
        )
    )
    if load is not None:
        msg = f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        console.print(
            f"[yellow]{msg}: other processes share the CPUs, figures may be low and noisy[/]" if load[0] > 0.5 else msg
        )
    if not args.data.is_file():
        console.print(f"[red]data file not found: {args.data}[/] (see ../shared/data/PROVENANCE.md); nothing to do")
        return 0
    console.print(
        f"Data: {args.data}. flatbook: book {args.flatbook_book}, queue {args.flatbook_queue}, reads the "
        f"{'.gz capture' if args.input == 'gz' else 'converted .npz'}. Strategies requote at most every "
        f"{REQUOTE_MS:g} ms; maker fee {MAKER_FEE_BPS:g} bps; constant feed = order latency "
        f"{', '.join(f'{x:g}' for x in latencies)} ms; hftbacktest PowerProbQueueModel(n={QUEUE_POWER_HBT:g}) "
        f"with NoPartialFillExchange. In-process figures: best of {repeat}; whole processes: medians of "
        f"{e2e_repeat}.\n"
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
            "queue_flatbook": args.flatbook_queue,
            "book_flatbook": args.flatbook_book,
            "input_flatbook": args.input,
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

    # ---- data: hftbacktest's converter (cached), then flatbook's loader (with its cache)
    conv: dict = {}
    npz: dict[float, Path] = {}
    if hbt_py:
        for lat in latencies:
            npz[lat], info = hbt_npz(hbt_py, args.data, lat)
            conv[f"hftbacktest_{lat:g}ms"] = info
    npz_main = npz.get(MAIN_LATENCY_MS)
    fb_path = flatbook_input(args, npz_main)
    load_flatbook_events(args, fb_path)  # fills flatbook's data cache if it is empty
    t0 = time.perf_counter()
    ev = load_flatbook_events(args, fb_path)
    fb_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_parsed = len(load_flatbook_events(args, fb_path, cache=False))
    fb_parse_s = time.perf_counter() - t0
    assert n_parsed == len(ev)
    conv.update(flatbook_events=len(ev), flatbook_load_s=fb_load_s, flatbook_parse_s=fb_parse_s)
    out["data"] = conv
    hinfo = conv.get(f"hftbacktest_{MAIN_LATENCY_MS:g}ms", {})
    t = Table(caption=machine_tag(), caption_justify="left", title="Data", title_justify="left")
    t.add_column("")
    t.add_column("flatbook", justify="right")
    t.add_column("hftbacktest", justify="right")
    t.add_row(
        "input read",
        f"{fb_path.name} ({ev.meta.book}; streams: {', '.join(ev.meta.streams) or '-'})",
        "depth diff + snapshot + trade",
    )
    t.add_row("events (rows) replayed", f"{len(ev):,}", _f(hinfo.get("rows"), ","))
    t.add_row(
        "parse / convert the input",
        f"{fb_parse_s:.2f} s (load, cache=False)",
        _f(hinfo.get("convert_s"), ".2f") + " s (binancefutures.convert, when cached)" if hinfo else "-",
    )
    t.add_row("load again", f"{fb_load_s:.3f} s (flatbook's Parquet cache)", "np.load of the npz")
    t.add_row("span", f"{(int(ev.ts[-1]) - int(ev.ts[0])) / 1e9:.1f} s", _f(hinfo.get("span_s"), ".1f") + " s")
    console.print(t)
    console.print()

    # ---- 1. in-process: throughput and results, every strategy × latency
    cases = []
    for lat in latencies:
        for name in STRATEGIES:
            rec = {
                "strategy": name,
                "latency_ms": lat,
                "flatbook": flatbook_inprocess(ev, name, lat, repeat, args.flatbook_queue),
            }
            if hbt_py:
                h = hbt_inprocess(hbt_py, npz[lat], name, lat, repeat)
                if "error" in h:
                    console.print(f"[red]hftbacktest {name} {lat:g} ms failed[/]: {escape(h['error'])}")
                else:
                    rec["hftbacktest"] = h
                    rec["ratio_events_per_s"] = rec["flatbook"]["events_per_s"] / h["events_per_s"]
                    rec["ratio_replay_time"] = h["loop_s_best"] / rec["flatbook"]["loop_s_best"]
            cases.append(rec)
    out["inprocess"] = cases
    _print_inprocess(cases, repeat, len(ev), console)

    # ---- 2. fill agreement at the main latency
    agree = []
    if hbt_py and npz_main is not None and not args.no_agreement:
        for name in ALL:
            rec = fill_agreement_case(ev, name, MAIN_LATENCY_MS, args, hbt_py, npz_main)
            print_agreement(name, rec, console)
            agree.append(rec)
        console.print(
            "[dim]Classes (benchmarks/fill_agreement.py): timing = the other tool has an unmatched fill at the same "
            "side and price within 5 s; again = it filled there within 5 s, but once only (those fills are matched); "
            "post-only = its order there was refused (would have crossed); queue = its order "
            "rested there and did not fill; partial = another piece of the same flatbook order was matched; "
            "price = its order on that side rested (or filled within 1 s) at another price, because the positions "
            "differed (position) or the mids quoted around did (mid); limit = no order, position at the limit; "
            "no order = none resting on that side.[/]\n"
        )
    out["agreement"] = agree

    # ---- 3 + 4. whole processes: warm, cold, memory
    wp = None
    if not args.no_e2e:
        scratch = Path(tempfile.mkdtemp(prefix="flatbook-bench-backtest-"))
        try:
            console.print(
                f"[bold]Whole processes[/], {MAIN_LATENCY_MS:g} ms latency: warm (caches filled by an untimed run) "
                f"and cold (empty numba and data caches), {e2e_repeat} of each, interleaved ..."
            )
            fb_cmds = {n: flatbook_cmd(n, MAIN_LATENCY_MS, fb_path, flatbook_flags(args)) for n in STRATEGIES}
            hb_cmds = (
                {n: hbt_cmd(hbt_py, n, MAIN_LATENCY_MS, npz_main) for n in STRATEGIES}
                if hbt_py and npz_main is not None
                else {}
            )
            prefix = (
                hbt_convert_cmd(hbt_py, args.data, MAIN_LATENCY_MS, Path("OUT"))[:-1]
                if hbt_py and args.input == "gz"
                else None
            )
            wp = whole_process(fb_cmds, hb_cmds, prefix, e2e_repeat, scratch, console)
            console.print(f"Marginal memory: linear-skew on the capture ×1 and ×{MEM_TILES} ...")
            wp["marginal_memory"] = marginal_memory(args, ev, hbt_py, "linear-skew", e2e_repeat, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        out["whole_process"] = wp
        _print_whole_process(wp, e2e_repeat, args, console)

    # ---- 5. targets
    out["targets"] = _targets(cases, agree, wp, args)
    t = Table(caption=machine_tag(), caption_justify="left", title="Targets (issue 15)", title_justify="left")
    t.add_column("target")
    t.add_column("measured")
    t.add_column("check", justify="right")
    for x in out["targets"]:
        t.add_row(x["target"], x["detail"] or "not measured", _verdict(x["pass"]))
    console.print(t)

    meta["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    write_results(args.json, out, console)
    failed = wp is not None and any("error" in r for tool in ("flatbook", "hftbacktest") for r in wp[tool].values())
    return 1 if failed else 0


def _print_inprocess(cases: list[dict], repeat: int, n_ev: int, console: Console) -> None:
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
        f"[dim]flatbook: summary['events_per_s'] (compiled replay only; {n_ev:,} events). hftbacktest: rows of "
        "its converted data ÷ time of the compiled strategy loop, in its own child (the loop compiled first, the "
        "backtest built outside the timing). 'ms / replay' times the same ~6 minutes of market in both.[/]\n"
    )
    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title="Results side by side (see benchmarks/README.md and the fill agreement below)",
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


def _per_event(peak_kb, base_kb, events) -> float | None:
    """(peak − baseline) ÷ events, bytes per event."""
    if peak_kb is None or base_kb is None or not events:
        return None
    return (peak_kb - base_kb) * (1 if sys.platform == "darwin" else 1024) / events


def _print_whole_process(wp: dict, repeat: int, args, console: Console) -> None:
    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"Whole processes at {MAIN_LATENCY_MS:g} ms latency (medians of {repeat})",
        title_justify="left",
    )
    for col in (
        "strategy",
        "tool",
        "warm",
        "warm\nhbt ÷ flatbook",
        "cold",
        "cold\nhbt ÷ flatbook",
        "peak RSS MB\nwarm",
        "baseline\nMB",
        "events",
        "B / event",
        "fills",
        "PnL USDT",
    ):
        t.add_column(col, justify="left" if col in ("strategy", "tool") else "right")
    for name in STRATEGIES:
        fb, hb = wp["flatbook"].get(name), wp["hftbacktest"].get(name)
        for tool, x in (("flatbook", fb), ("hftbacktest", hb)):
            if not x or "error" in x:
                continue
            base = wp.get(f"{tool}_baseline_kb")
            rw = rc = ""
            if tool == "flatbook" and hb and "error" not in hb and x["warm_wall_s"] and hb["warm_wall_s"]:
                rw = f"{hb['warm_wall_s'] / x['warm_wall_s']:.2f}×"
                rc = f"{hb['cold_wall_s'] / x['cold_wall_s']:.2f}×"
            cold = f"{x['cold_wall_s']:.2f} s"
            if tool == "hftbacktest" and x["cold_run_only_wall_s"] != x["cold_wall_s"]:
                cold += f"\n(run alone {x['cold_run_only_wall_s']:.2f} s)"
            t.add_row(
                name if tool == "flatbook" else "",
                tool,
                f"{x['warm_wall_s']:.2f} s",
                rw,
                cold,
                rc,
                _f(_mb(x["warm_peak_kb"]), ",.0f"),
                _f(_mb(base), ",.0f"),
                _f(x["events"], ","),
                _f(_per_event(x["warm_peak_kb"], base, x["events"]), ",.0f"),
                _f(x["fills"], ","),
                _f(x["pnl_final"], "+.2f"),
            )
    console.print(t)
    console.print(
        "[dim]Wall time from spawn to exit (imports, data load, compile or cache load, replay, summary, JSON). "
        "Cold: fresh NUMBA_CACHE_DIR and FLATBOOK_CACHE_DIR"
        + (
            "; hftbacktest's cold run is its converter on the .gz, then its run (both processes' wall times)"
            if args.input == "gz"
            else ""
        )
        + ". hftbacktest compiles its strategy loop in every process (numba cannot cache a loop that calls the "
        "Rust library through ctypes). Peak RSS: ru_maxrss of the child (os.wait4 in a launcher); baseline: a "
        "child that imports the same and loads nothing; B / event = (peak − baseline) ÷ the tool's own events "
        "(flatbook: events of its table; hftbacktest: rows of its converted data).[/]"
    )
    mm = wp.get("marginal_memory") or {}
    for tool in ("flatbook", "hftbacktest"):
        x = mm.get(tool)
        if not x:
            continue
        pk, evs = x["peak_kb"], x["events"]
        console.print(
            f"Marginal memory, {tool} (linear-skew, capture ×1 → ×{mm['tiles']}): "
            + " → ".join(f"{_f(_mb(pk.get(k)), ',.0f')} MB for {_f(evs.get(k), ',')} events" for k in pk)
            + f": [bold]{_f(x['bytes_per_event'], ',.0f')} B per event[/]"
        )
    console.print()


def _targets(cases: list[dict], agree: list[dict], wp: dict | None, args) -> list[dict]:
    targets = []
    pairs = []
    if wp:
        for name in STRATEGIES:
            fb, hb = wp["flatbook"].get(name), wp["hftbacktest"].get(name)
            if fb and hb and "error" not in fb and "error" not in hb and fb["warm_wall_s"] and hb["warm_wall_s"]:
                pairs.append((name, fb, hb))
    warm = [(n, hb["warm_wall_s"] / fb["warm_wall_s"]) for n, fb, hb in pairs]
    targets.append(
        {
            "target": f"warm whole process ≥ {TARGET_WARM:g}× hftbacktest's speed",
            "pass": all(r >= TARGET_WARM for _, r in warm) if warm else None,
            "detail": ", ".join(f"{n}: {r:.2f}×" for n, r in warm),
        }
    )
    cold = [
        (n, hb["cold_wall_s"] / fb["cold_wall_s"], hb["cold_run_only_wall_s"] / fb["cold_wall_s"])
        for n, fb, hb in pairs
    ]
    incl = " (hftbacktest's converter included; without it: {})" if args.input == "gz" else "{}"
    targets.append(
        {
            "target": f"cold whole process (empty caches) ≥ {TARGET_COLD:g}× hftbacktest's speed",
            "pass": all(r >= TARGET_COLD for _, r, _ in cold) if cold else None,
            "detail": ", ".join(f"{n}: {r:.2f}×" for n, r, _ in cold)
            + (incl.format(", ".join(f"{n}: {r:.2f}×" for n, _, r in cold)) if cold and args.input == "gz" else ""),
        }
    )
    mem = []
    for n, fb, hb in pairs:
        a = _per_event(fb["warm_peak_kb"], wp["flatbook_baseline_kb"], fb["events"])
        b = _per_event(hb["warm_peak_kb"], wp.get("hftbacktest_baseline_kb"), hb["events"])
        if a is not None and b is not None:
            mem.append((n, a, b))
    mm = (wp or {}).get("marginal_memory") or {}
    m_fb = (mm.get("flatbook") or {}).get("bytes_per_event")
    m_hb = (mm.get("hftbacktest") or {}).get("bytes_per_event")
    targets.append(
        {
            "target": f"memory per event ≤ hftbacktest's (at the margin: ×1 → ×{mm.get('tiles', MEM_TILES)} of the "
            "capture, own events)",
            "pass": (m_fb <= m_hb) if m_fb is not None and m_hb is not None else None,
            "detail": (
                f"linear-skew: {m_fb:,.0f} B vs {m_hb:,.0f} B per event"
                if m_fb is not None and m_hb is not None
                else ""
            )
            + (
                "; (peak − import-only baseline) ÷ events, which counts the compiled code: "
                + ", ".join(f"{n}: {a:,.0f} B vs {b:,.0f} B" for n, a, b in mem)
                if mem
                else ""
            ),
        }
    )
    ok = [r for r in agree if "error" not in r]
    targets.append(
        {
            "target": f"≥ {TARGET_AGREE:g} % of hftbacktest's fills matched (same side and price, 1 s)",
            "pass": all(r["hftbacktest_matched_pct"] >= TARGET_AGREE for r in ok) if ok else None,
            "detail": ", ".join(
                f"{r['strategy']}: {r['hftbacktest_matched_pct']:.1f} % (same side: {r['hftbacktest_same_side_pct']:.1f} %)"
                for r in ok
            ),
        }
    )
    main_cases = [r for r in cases if r["latency_ms"] == MAIN_LATENCY_MS and "hftbacktest" in r]
    targets.append(
        {
            "target": "replay-loop time ≤ hftbacktest's (same 6 minutes of market, in process)",
            "pass": all(r["ratio_replay_time"] >= 1.0 for r in main_cases) if main_cases else None,
            "detail": ", ".join(f"{r['strategy']}: {r['ratio_replay_time']:.2f}× faster" for r in main_cases),
        }
    )
    return targets


if __name__ == "__main__":
    sys.exit(main())
