"""Load test of ``flatbook live``'s API: external fills posted to a monitor-mode engine.

Run from the repository root:

    .venv/bin/python benchmarks/bench_live_load.py             # 10 s per run
    .venv/bin/python benchmarks/bench_live_load.py --quick     # 3 s per run
    .venv/bin/python benchmarks/bench_live_load.py --seconds 30 --clients 8 --batch 500

What it does, per run:

1. writes a monitor-mode config (examples/live/monitor.toml, lot 0.001, with a fresh journal in a
   temporary folder) and starts ``flatbook live --config <it> --port 0`` as a subprocess, the
   API token in ``FLATBOOK_LIVE_TOKEN``; the address is read from its first line
   (``flatbook live: API on http://127.0.0.1:PORT ...``);
2. for ``--seconds``, ``--clients`` concurrent aiohttp sessions on loopback each post batches of
   fills (``--batch`` per POST; a second run posts 1 fill per POST) with unique ids and
   quantities on the lot grid (integers × 0.001);
3. checks ``GET /api/state``: ``counters.fills`` equals the fills posted, ``duplicate_fills`` is 0,
   and the position equals the exact sum of the signed quantities (within 1e-9 × fills); then
   sends SIGTERM and checks that the journal's ``fills`` table has exactly that many rows.

Printed: fills/s, requests/s and the p50/p99 request latency of each run. The batched run must
sustain at least 10,000 fills/s (PASS/FAIL; exit 1 on FAIL or on any correctness failure).
Results are written to ``results/bench/live_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import aiohttp
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (the benchmarks' shared helpers)

ROOT = Path(__file__).resolve().parent.parent
TARGET_FILLS_PER_S = 10_000  # batched run
LOT = 0.001
MAX_UNITS = 1000  # quantities: 1..1000 grid units (0.001 .. 1 lot)
BAND_UNITS = 2000  # each client keeps its own net position within ±2 lots (no zone alerts)
TOKEN = "bench-live-load-token-0123456789"
LINE = re.compile(r"flatbook live: API on (http://[^\s]+)")


def _toml(d: dict) -> str:
    """A flat two-level mapping as TOML (strings, numbers, booleans)."""

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)

    out = []
    for tab, kv in d.items():
        out.append(f"[{tab}]")
        out += [f"{k} = {val(v)}" for k, v in kv.items()]
        out.append("")
    return "\n".join(out)


def write_config(workdir: Path) -> tuple[Path, Path]:
    """A monitor config (examples/live/monitor.toml with a journal in ``workdir``); (config, journal)."""
    d = tomllib.loads((ROOT / "examples/live/monitor.toml").read_text())
    journal = workdir / "journal.sqlite"
    d["live"] = {**d.get("live", {}), "mode": "monitor", "lot": LOT}
    d["feed"], d["venue"] = {"kind": "api"}, {"kind": "none"}
    d["journal"] = {"path": str(journal)}
    d["api"] = {"host": "127.0.0.1", "port": 0, "token_env": "FLATBOOK_LIVE_TOKEN"}
    d.pop("alerts", None)
    cfg = workdir / "live.toml"
    cfg.write_text(_toml(d))
    return cfg, journal


def _flatbook_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("flatbook")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "flatbook"]


def start_live(cfg: Path, workdir: Path, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start ``flatbook live --config cfg --port 0``; (process, API url) once it listens."""
    env = {**os.environ, "FLATBOOK_LIVE_TOKEN": TOKEN}
    err = open(workdir / "live.stderr", "wb")
    proc = subprocess.Popen(
        [*_flatbook_cmd(), "live", "--config", str(cfg), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=err,
        env=env,
        cwd=ROOT,
        text=True,
    )
    err.close()
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        line = proc.stdout.readline()
        if not line:
            break
        m = LINE.search(line)
        if m:
            return proc, m.group(1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"flatbook live did not start: {(workdir / 'live.stderr').read_text()[-2000:]}")


async def _client(url: str, cid: int, batch: int, deadline: float, seed: int, rec: dict) -> None:
    """Post batches of unique fills until ``deadline``; adds to rec: fills, units (Σ side·k), latencies."""
    rng = np.random.default_rng([seed, cid])
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    pos = n = 0
    lat = rec["lat"]
    conn = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as http:
        while time.perf_counter() < deadline:
            ks = rng.integers(1, MAX_UNITS + 1, batch).tolist()
            up = (rng.random(batch) < 0.5).tolist()
            prices = rng.integers(9990, 10011, batch).tolist()
            items = []
            for k, u, p in zip(ks, up, prices):
                s = 1 if u else -1
                if abs(pos + s * k) > BAND_UNITS:
                    s = -s
                pos += s * k
                items.append(
                    {"fill_id": f"c{cid}-{n}", "side": "buy" if s > 0 else "sell", "price": p / 100, "qty": k * LOT}
                )
                n += 1
            body = json.dumps(items[0] if batch == 1 else items).encode()
            t0 = time.perf_counter()
            async with http.post(f"{url}/api/fills", data=body) as r:
                out = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"POST /api/fills answered {r.status}: {out}")
            lat.append(time.perf_counter() - t0)
            if out["accepted"] != batch or out["duplicates"] != 0:
                raise RuntimeError(f"client {cid}: {out}")
            rec["fills"] += batch
            rec["requests"] += 1
    rec["units"] += pos


async def _load(url: str, seconds: float, clients: int, batch: int, seed: int) -> dict:
    rec = {"fills": 0, "requests": 0, "units": 0, "lat": []}
    async with aiohttp.ClientSession() as http:  # the API answers before the clock starts
        async with http.get(f"{url}/healthz") as r:
            assert r.status == 200
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(url, c, batch, t0 + seconds, seed, rec) for c in range(clients)))
    rec["wall_s"] = time.perf_counter() - t0
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/state") as r:
            rec["state"] = await r.json()
    return rec


def load_run(
    seconds: float = 10.0, clients: int = 4, batch: int = 200, workdir: Path | None = None, seed: int = 0
) -> dict:
    """One load run against a fresh ``flatbook live`` subprocess; the record includes every check.

    ``ok`` is True when no fill was lost or doubled: the engine's fill count, the journal's rows
    and the position all match what was posted (speed is judged by the caller)."""
    with tempfile.TemporaryDirectory(prefix="flatbook-live-load-") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cfg, journal = write_config(work)
        proc, url = start_live(cfg, work)
        try:
            rec = asyncio.run(_load(url, seconds, clients, batch, seed))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
        with sqlite3.connect(journal) as db:
            rows = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
            units = db.execute(
                "SELECT COALESCE(SUM(side * CAST(ROUND(qty / ?) AS INTEGER)), 0) FROM fills", (LOT,)
            ).fetchone()[0]
        db.close()
    st = rec.pop("state")
    lat = np.array(rec.pop("lat"))
    n = rec["fills"]
    expected_q = rec["units"] * LOT
    checks = {
        "counters.fills == posted": st["counters"]["fills"] == n,
        "duplicate_fills == 0": st["counters"]["duplicate_fills"] == 0,
        "journal_errors == 0": st["counters"]["journal_errors"] == 0,
        "position == sum of signed fills": abs(st["position"] - expected_q) <= 1e-9 * max(n, 1),
        "journal rows == posted": rows == n,
        "journal sum == posted sum": units == rec["units"],
        "clean exit on SIGTERM": proc.returncode == 0,
    }
    return {
        "seconds": seconds,
        "clients": clients,
        "batch": batch,
        "fills": n,
        "requests": rec["requests"],
        "wall_s": rec["wall_s"],
        "fills_per_s": n / rec["wall_s"],
        "requests_per_s": rec["requests"] / rec["wall_s"],
        "latency_p50_ms": float(np.percentile(lat, 50) * 1e3) if lat.size else None,
        "latency_p99_ms": float(np.percentile(lat, 99) * 1e3) if lat.size else None,
        "position": st["position"],
        "expected_position": expected_q,
        "engine_fills": st["counters"]["fills"],
        "duplicate_fills": st["counters"]["duplicate_fills"],
        "journal_rows": rows,
        "exit_code": proc.returncode,
        "checks": checks,
        "ok": all(checks.values()),
        "summary_tail": out[-2000:] if out else "",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="posting time per run (default 10; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="3 s per run")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client sessions (default 4)")
    ap.add_argument("--batch", type=int, default=200, help="fills per POST in the batched run (default 200)")
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "results" / "bench" / "live_load.json",
        help="where to write the results (default results/bench/live_load.json)",
    )
    args = ap.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 10.0)

    console = Console()
    if not console.is_terminal:
        console.width = 160
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "machine": machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "loadavg_at_start": load,
        "quick": args.quick,
        "seconds": seconds,
        "clients": args.clients,
    }
    console.print(f"Machine: {machine_tag()}")
    console.print(
        f"[bold]flatbook live load test[/]  {meta['cpu']}, {meta['cpu_count']} CPUs, Python "
        f"{meta['python']}, aiohttp {aiohttp.__version__}"
    )
    if load is not None and load[0] > 0.5:
        console.print(
            f"[yellow]load average {load[0]:.2f} at start: other processes share the CPUs, figures may be low[/]"
        )
    console.print(
        f"Each run: a fresh `flatbook live` (monitor mode) subprocess, {args.clients} clients posting "
        f"for {seconds:g} s on loopback, then /api/state and the journal are checked.\n"
    )

    runs = []
    for batch in (args.batch, 1):
        console.print(f"  running: {batch} fill{'s' if batch > 1 else ''} per POST ...")
        runs.append(load_run(seconds, args.clients, batch))

    table = Table(
        caption=machine_tag(), caption_justify="left", title="External fills posted to /api/fills", title_justify="left"
    )
    for col in (
        "fills / POST",
        "fills",
        "fills/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "position (= Σ)",
        "journal rows",
        "checks",
        "speed",
    ):
        table.add_column(col, justify="right")
    ok_all = True
    for i, r in enumerate(runs):
        speed_ok = r["fills_per_s"] >= TARGET_FILLS_PER_S if i == 0 else None
        r["speed_pass"] = speed_ok
        ok_all &= r["ok"] and speed_ok is not False
        table.add_row(
            f"{r['batch']:,}",
            f"{r['fills']:,}",
            f"{r['fills_per_s']:,.0f}",
            f"{r['requests_per_s']:,.0f}",
            f"{r['latency_p50_ms']:.2f}",
            f"{r['latency_p99_ms']:.2f}",
            f"{r['position']:.3f}",
            f"{r['journal_rows']:,}",
            "[green]PASS[/]" if r["ok"] else "[red]FAIL[/]",
            "" if speed_ok is None else ("[green]PASS[/]" if speed_ok else "[red]FAIL[/]"),
        )
    console.print(table)
    for r in runs:
        for name, good in r["checks"].items():
            if not good:
                console.print(
                    f"[red]FAIL[/] {r['batch']} per POST: {name} (posted {r['fills']:,}, engine "
                    f"{r['engine_fills']:,}, journal {r['journal_rows']:,}, position {r['position']!r} vs "
                    f"{r['expected_position']!r}, exit {r['exit_code']})"
                )
    b = runs[0]
    console.print(
        f"\nBatched run: {b['fills_per_s']:,.0f} fills/s vs target {TARGET_FILLS_PER_S:,} -> "
        + ("[green]PASS[/]" if b["speed_pass"] else "[red]FAIL[/]")
    )
    console.print("[green]PASS[/]" if ok_all else "[red]FAIL[/]")
    for r in runs:
        r.pop("summary_tail", None)
    write_results(
        args.json, {"meta": meta, "target_fills_per_s": TARGET_FILLS_PER_S, "runs": runs, "pass": ok_all}, console
    )
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
