"""Where a cold ``flatbook backtest`` spends its seconds: imports, the data parse, numba compilation.

Run from the repository root:

    .venv/bin/python benchmarks/profile_backtest_cold.py            # empty caches (a fresh temp dir each)
    .venv/bin/python benchmarks/profile_backtest_cold.py --warm     # the same, caches left as they are

It runs the CLI's own entry point (``flatbook backtest FILE ... --json``) in this
process, with ``NUMBA_CACHE_DIR`` and ``FLATBOOK_CACHE_DIR`` pointing at fresh
temporary directories (so numba compiles every kernel and the ``.gz`` is parsed),
and records:

* the wall time of the whole run and of its import of ``flatbook.cli.entry``;
* every numba compilation (numba's ``numba:compile`` events: one per function and
  signature, nested; "self" excludes the compilations it triggered), grouped by
  function;
* numba's cache loads (not an event: the time spent in ``Cache.load_overload``
  is measured by wrapping it);
* the top cumulative entries of a cProfile of the run (``--profile``).

Nothing is asserted; the output is a breakdown to read.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: the modules a replay imports, timed one after another (cumulative cost: each excludes the ones before)
IMPORTS = (
    "numpy",
    "numba",
    "pyarrow",
    "pyarrow.parquet",
    "rich",
    "typer",
    "flatbook",
    "flatbook.data.load",
    "flatbook.backtest.backtester",
    "flatbook.cli.entry",
    "flatbook.cli.replay_cmds",
)
DATA = ROOT.parent / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--warm", action="store_true", help="keep the caches as they are (default: fresh, empty ones)")
    ap.add_argument("--profile", action="store_true", help="also print cProfile's top 30 cumulative entries")
    ap.add_argument("--top", type=int, default=25, help="compiled functions listed (default 25)")
    args = ap.parse_args(argv)
    if not args.warm:
        tmp = tempfile.mkdtemp(prefix="flatbook-cold-")
        os.environ["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")
        os.environ["FLATBOOK_CACHE_DIR"] = str(Path(tmp) / "events")
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    import numpy  # noqa: F401

    t_numpy = time.perf_counter() - t0
    t0 = time.perf_counter()
    import numba.core.event as nev

    t_numba = time.perf_counter() - t0

    compiles: list[tuple[str, float, float]] = []  # (name, start, end), wall clock

    class Rec(nev.Listener):
        def __init__(self):
            self.stack: list[tuple[str, float]] = []

        def on_start(self, event):
            d = event.data or {}
            disp = d.get("dispatcher")
            name = getattr(getattr(disp, "py_func", None), "__qualname__", None) or str(disp)
            mod = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
            self.stack.append((f"{mod}.{name}", time.perf_counter()))

        def on_end(self, event):
            if self.stack:
                name, t0 = self.stack.pop()
                compiles.append((name, t0, time.perf_counter()))

    nev.register("numba:compile", Rec())
    loads: list[tuple[str, float]] = []
    from numba.core import caching

    orig_load = caching.Cache.load_overload

    def timed_load(self, sig, target_context):
        t0 = time.perf_counter()
        try:
            return orig_load(self, sig, target_context)
        finally:
            loads.append((getattr(self, "_name", "?"), time.perf_counter() - t0))

    caching.Cache.load_overload = timed_load
    # a policy's depths loop is a CFunc (flatbook.policies.compile.depths_loop): its compile is no
    # numba:compile event, so it is timed by wrapping CFunc._compile_uncached
    from numba.core import ccallback

    orig_cf = ccallback.CFunc._compile_uncached

    def timed_cf(self):
        t = time.perf_counter()
        try:
            return orig_cf(self)
        finally:
            name = getattr(self._pyfunc, "__qualname__", "?")
            compiles.append((f"{getattr(self._pyfunc, '__module__', '')}.{name} (cfunc)", t, time.perf_counter()))

    ccallback.CFunc._compile_uncached = timed_cf
    import importlib

    t_mods = {"numpy": t_numpy, "numba": t_numba}
    for mod in IMPORTS[2:]:  # what a replay imports, in this order (the CLI imports lazily)
        t0 = time.perf_counter()
        importlib.import_module(mod)
        t_mods[mod] = time.perf_counter() - t0
    from flatbook.cli.entry import main as cli_main

    t_import = sum(t_mods.values())
    cmd = [
        "backtest",
        str(args.data),
        "--policy",
        "linear-skew",
        "--set",
        "half_spread=1.0",
        "--set",
        "skew=20.0",
        "--set",
        "size=0.01",
        "--set",
        "limit=0.1",
        "--set",
        "maker_fee_bps=-0.5",
        "--feed-latency-ms",
        "10",
        "--order-latency-ms",
        "10",
        "--queue",
        "prorata",
        "--min-requote-ms",
        "100",
        "--json",
    ]
    import cProfile
    import pstats

    prof = cProfile.Profile() if args.profile else None
    load_mod = importlib.import_module("flatbook.data.load")

    parse_t: list[float] = []
    orig_parse = load_mod._parse

    def timed_parse(*a, **k):
        t = time.perf_counter()
        try:
            return orig_parse(*a, **k)
        finally:
            parse_t.append(time.perf_counter() - t)

    load_mod._parse = timed_parse
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if prof:
            prof.enable()
        try:
            cli_main(cmd)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
        finally:
            if prof:
                prof.disable()
    t_run = time.perf_counter() - t0
    total = time.perf_counter() - t_start

    # self time of each compilation: its span minus the spans of the compilations nested in it
    by_name: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # total(outermost), self, count
    spans = sorted(compiles, key=lambda x: (x[1], -x[2]))
    for i, (name, a, b) in enumerate(spans):
        child = 0.0
        j = i + 1
        end_child = a
        while j < len(spans) and spans[j][1] < b:
            ca, cb = spans[j][1], spans[j][2]
            if ca >= end_child:  # a direct child (not nested in an earlier child)
                child += cb - ca
                end_child = cb
            j += 1
        by_name[name][1] += (b - a) - child
        by_name[name][2] += 1
    outer = 0.0
    last_end = -1.0
    for _, a, b in spans:
        if a >= last_end:
            outer += b - a
            last_end = b
    print(f"mode: {'warm (caches as they are)' if args.warm else 'cold (empty numba and data caches)'}")
    print(f"total wall (this process, after interpreter start): {total:.2f} s")
    print(f"  imports (each after the ones before it): {t_import:.2f} s")
    for mod, t in t_mods.items():
        print(f"    {t:6.3f} s  {mod}")
    print(f"  the backtest command: {t_run:.2f} s")
    print(f"    data parse (flatbook.data.load._parse): {sum(parse_t):.2f} s ({len(parse_t)} call(s))")
    print(f"    numba compilation (outermost spans): {outer:.2f} s in {len(compiles)} compile events")
    print(f"    numba cache loads: {sum(t for _, t in loads):.2f} s in {len(loads)} loads")
    rows = sorted(by_name.items(), key=lambda kv: -kv[1][1])
    print(f"\ncompiled functions by self time (top {args.top}; s, count):")
    for name, (_, self_s, n) in rows[: args.top]:
        print(f"  {self_s:7.3f} s  {n:3d}×  {name}")
    rest = sum(v[1] for _, v in rows[args.top :])
    print(f"  {rest:7.3f} s  the other {max(len(rows) - args.top, 0)} functions")
    # the replay kernel's own compile, by numba's pipeline stages (cres.metadata of each overload)
    from flatbook.backtest import engine

    for cres in engine.replay.overloads.values():
        md = cres.metadata or {}
        timers = md.get("timers") or {}
        print(
            "\nflatbook.backtest.engine.replay: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in timers.items())
            + " (llvm_lock: LLVM optimisation and code generation)"
        )
        stages = []
        for pipeline, passes in (md.get("pipeline_times") or {}).items():
            for pname, pt in passes.items():
                tot = getattr(pt, "init", 0.0) + getattr(pt, "run", 0.0) + getattr(pt, "finalize", 0.0)
                stages.append((tot, f"{pipeline}: {pname.split('_', 1)[-1]}"))
        for tot, label in sorted(stages, reverse=True)[:8]:
            print(f"  {tot:7.3f} s  {label}")
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
        print(s.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
