"""Speed of the portfolio risk layer (flatbook.risk) on a 1,000-instrument random book.

Run from the repository root (``make bench`` does):

    .venv/bin/python benchmarks/bench_risk.py            # best of 5 (MC: best of 3), ~30 s
    .venv/bin/python benchmarks/bench_risk.py --quick    # best of 3 (MC: one run)

What it measures (see benchmarks/README.md):

1. Parametric (delta-normal) VaR and ES with marginal and component VaR: the book's Greeks
   (exposures, delta-equivalent inventory) and :func:`flatbook.risk.var.parametric_var`.
2. The full stress set: :func:`flatbook.risk.stress.run_stress` — the four seed scenarios
   (overnight gap, no liquidity, worst case, liquidation) and three user scenarios, all with full
   revaluation of the options, and the survivability search for Q_max.
   Target: 1 + 2 together in under 1 s.
3. Monte Carlo VaR/ES with 100,000 scenarios and component VaR, with full Black–Scholes
   revaluation of the options (what ``flatbook risk`` runs) and linear (delta) for comparison.
   Target: under 5 s.

Each timing is the best of ``--repeat`` runs after one untimed warm-up. A correctness check
runs alongside: the linear Monte Carlo VaR and ES must agree with the parametric closed form
within 4 standard errors, and every component vector must sum to its VaR (the script exits 1
otherwise). Results are written to ``results/bench/risk.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scipy
from rich.console import Console
from rich.table import Table
from scipy.stats import norm

from _machine import machine, machine_tag  # noqa: E402  (CPU, vector extensions, numba target)
from bench_simulator import _cpu_name, write_results  # noqa: E402  (one CPU-name helper for the benchmarks)
from flatbook.risk.book import book_from_dict
from flatbook.risk.greeks import book_greeks
from flatbook.risk.stress import run_stress
from flatbook.risk.var import Revaluation, monte_carlo_var, parametric_var

ROOT = Path(__file__).resolve().parent.parent
TARGET_FAST_S = 1.0  # parametric VaR/ES + components + full stress set, 1,000 instruments
TARGET_MC_S = 5.0  # Monte Carlo VaR, 100,000 scenarios
AGREE_SE = 4.0


def random_book(d: int, n_options: int, seed: int = 0) -> dict:
    """A random book as a TOML-like dict: d instruments (prices 10–200, annual vols 15–60%,
    positions −500…500 lots, ADV 10⁴–10⁶ lots/day), a market + 8-sector factor correlation,
    ``n_options`` option positions on random underlyings, and three user scenarios."""
    rng = np.random.default_rng(seed)
    sector = rng.integers(0, 8, d)
    B = np.zeros((d, 9))
    B[:, 0] = rng.uniform(0.3, 0.6, d)  # market
    B[np.arange(d), 1 + sector] = rng.uniform(0.2, 0.5, d)
    C = B @ B.T
    C += np.diag(np.maximum(1.0 - np.diag(C), 0.05))  # idiosyncratic
    s = np.sqrt(np.diag(C))
    C = C / np.outer(s, s)
    np.fill_diagonal(C, 1.0)
    price = rng.uniform(10.0, 200.0, d)
    ins = [
        {
            "name": f"S{j:04d}",
            "price": float(price[j]),
            "vol_annual": float(rng.uniform(0.15, 0.6)),
            "position": float(rng.integers(-500, 501)),
            "multiplier": 1.0,
            "limit": 1000.0,
            "adv": float(10 ** rng.uniform(4, 6)),
            "half_spread": float(0.0005 * price[j]),
            "eta": float(10 ** rng.uniform(-6, -4)),
        }
        for j in range(d)
    ]
    under = rng.integers(0, d, n_options)
    opts = [
        {
            "underlying": f"S{j:04d}",
            "type": "call" if rng.random() < 0.5 else "put",
            "strike": float(price[j] * rng.uniform(0.85, 1.15)),
            "expiry": float(rng.uniform(0.05, 1.0)),
            "vol": float(rng.uniform(0.2, 0.5)),
            "contracts": float(rng.integers(-10, 11)),
            "multiplier": 100.0,
        }
        for j in under
    ]
    big = {f"S{j:04d}": -0.15 for j in range(0, d, 10)}
    return {
        "book": {"name": f"random {d}", "capital": 5e6, "rate": 0.03},
        "risk": {"confidence": 0.99, "horizon": 1.0, "mc_scenarios": 100_000, "seed": 0},
        "instruments": ins,
        "correlation": {"matrix": C.tolist()},
        "options": opts,
        "scenarios": [
            {"name": "crash", "price": -0.1, "vol": 0.8, "correlation": 0.9, "hours": 4.0},
            {"name": "rotation", "price": big, "both_directions": True},
            {"name": "vol-spike", "vol": 1.0, "hours": 2.0},
        ],
    }


def best_of(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up (imports, caches)
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]FAIL[/]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="best of 3 for the fast set, one Monte Carlo run each")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per workload (default 5; MC 3)")
    ap.add_argument("--instruments", type=int, default=1000)
    ap.add_argument("--options", type=int, default=200)
    ap.add_argument("--scenarios", type=int, default=100_000, help="Monte Carlo scenarios")
    ap.add_argument("--json", type=Path, default=ROOT / "results" / "bench" / "risk.json")
    args = ap.parse_args(argv)
    rep_fast = args.repeat or (3 if args.quick else 5)
    rep_mc = args.repeat or (1 if args.quick else 3)

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
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "loadavg_at_start": load,
        "instruments": args.instruments,
        "options": args.options,
        "mc_scenarios": args.scenarios,
        "repeat": rep_fast,
        "repeat_mc": rep_mc,
        "quick": args.quick,
    }
    console.print(f"Machine: {machine_tag()}")
    console.print(
        f"[bold]flatbook risk benchmark[/]  {meta['cpu']}, {meta['cpu_count']} CPUs, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, Python {meta['python']}"
    )
    if load is not None and load[0] > 0.5:
        console.print(
            f"[yellow]load average {load[0]:.2f} at start: other processes share the CPUs, figures may be high[/]"
        )

    t0 = time.perf_counter()
    book = book_from_dict(random_book(args.instruments, args.options))
    t_build = time.perf_counter() - t0
    a, h = book.risk.confidence, book.risk.horizon
    console.print(
        f"Book: {book.d:,} instruments, {len(book.options)} option positions, {len(book.scenarios)} user "
        f"scenarios; built and validated from a TOML-like dict in {t_build:.2f} s (not timed below). "
        f"α = {a}, horizon {h:g} day. Best of {rep_fast} (Monte Carlo: best of {rep_mc}).\n"
    )

    def fast_param():
        g = book_greeks(book)
        return parametric_var(g.exposure, book.cov, a, h)

    t_param, par = best_of(fast_param, rep_fast)
    t_stress, srep = best_of(lambda: run_stress(book), rep_fast)
    t_both, _ = best_of(lambda: (fast_param(), run_stress(book)), rep_fast)
    g = book_greeks(book)
    rev = Revaluation(book.option_set(), book.prices, g.linear_exposure, book.days_per_year)
    n = args.scenarios
    t_mc_rev, mc_rev = best_of(lambda: monte_carlo_var(g.exposure, book.cov, a, h, n, 0, revaluation=rev), rep_mc)
    t_mc_lin, mc_lin = best_of(lambda: monte_carlo_var(g.exposure, book.cov, a, h, n, 0), rep_mc)

    ok_fast = t_both < TARGET_FAST_S
    ok_mc = t_mc_rev < TARGET_MC_S
    t = Table(
        caption=machine_tag(),
        caption_justify="left",
        title=f"Risk timings, {book.d:,} instruments, {len(book.options)} options",
        title_justify="left",
    )
    for c in ("workload", "seconds", "target", ""):
        t.add_column(c, justify="left" if c == "workload" else "right")
    t.add_row("parametric VaR/ES + marginal/component (incl. Greeks)", f"{t_param:.4f}", "", "")
    t.add_row(f"full stress set ({len(srep.scenarios)} scenarios + survivability)", f"{t_stress:.4f}", "", "")
    t.add_row("both together", f"{t_both:.4f}", f"< {TARGET_FAST_S:g} s", verdict(ok_fast))
    t.add_row(
        f"Monte Carlo {n:,} scenarios, full revaluation of the options",
        f"{t_mc_rev:.3f}",
        f"< {TARGET_MC_S:g} s",
        verdict(ok_mc),
    )
    t.add_row(
        f"Monte Carlo {n:,} scenarios, linear (delta) P&L",
        f"{t_mc_lin:.3f}",
        f"< {TARGET_MC_S:g} s",
        verdict(t_mc_lin < TARGET_MC_S),
    )
    console.print(t)
    console.print()

    # correctness alongside: linear MC vs the closed form (4 SE), Euler sums
    s = par.var / norm.ppf(a)
    z = norm.ppf(a)
    lam = norm.pdf(z) / (1 - a)
    se_q = math.sqrt(a * (1 - a) / n) / (norm.pdf(z) / s)
    se_es = math.sqrt((s * s * (1 + z * lam - lam * lam) + a * (lam * s - z * s) ** 2) / (n * (1 - a)))
    checks = [
        ("MC (linear) VaR vs parametric", mc_lin.var, par.var, se_q),
        ("MC (linear) ES vs parametric", mc_lin.es, par.es, se_es),
    ]
    c = Table(caption=machine_tag(), caption_justify="left", title="Checks", title_justify="left")
    for col in ("check", "value", "reference", "diff / SE", ""):
        c.add_column(col, justify="left" if col == "check" else "right")
    rows, ok_all = [], True
    for label, v, ref, se in checks:
        ok = abs(v - ref) <= AGREE_SE * se
        ok_all &= ok
        c.add_row(label, f"{v:,.2f}", f"{ref:,.2f}", f"{(v - ref) / se:+.2f}", verdict(ok))
        rows.append({"check": label, "value": v, "reference": ref, "se": se, "pass": ok})
    for label, res in (("parametric", par), ("MC full revaluation", mc_rev), ("MC linear", mc_lin)):
        err = abs(math.fsum(res.component) - res.var) / abs(res.var)
        ok = err <= 1e-12
        ok_all &= ok
        c.add_row(
            f"Σ component VaR = VaR ({label})",
            f"{math.fsum(res.component):,.2f}",
            f"{res.var:,.2f}",
            f"rel {err:.1e}",
            verdict(ok),
        )
        rows.append({"check": f"component sum {label}", "relative_error": err, "pass": ok})
    console.print(c)
    sv = srep.survivability
    console.print(
        f"VaR 99% 1 day: parametric {par.var:,.0f}, MC full revaluation {mc_rev.var:,.0f}, MC linear "
        f"{mc_lin.var:,.0f}; worst stress scenario {srep.worst.name} ({srep.worst.loss:,.0f}); "
        f"Q_max {sv.q_max:,.4g} lots (binding: {sv.binding})"
    )

    out = {
        "meta": meta,
        "build_s": t_build,
        "timings_s": {
            "parametric": t_param,
            "stress": t_stress,
            "parametric_plus_stress": t_both,
            "monte_carlo_full_revaluation": t_mc_rev,
            "monte_carlo_linear": t_mc_lin,
        },
        "targets_s": {"parametric_plus_stress": TARGET_FAST_S, "monte_carlo": TARGET_MC_S},
        "pass": {"parametric_plus_stress": ok_fast, "monte_carlo": ok_mc},
        "results": {
            "var_parametric": par.var,
            "es_parametric": par.es,
            "var_mc_full": mc_rev.var,
            "es_mc_full": mc_rev.es,
            "var_mc_linear": mc_lin.var,
            "es_mc_linear": mc_lin.es,
            "stress": {x.name: x.loss for x in srep.scenarios},
            "q_max": sv.q_max,
            "binding": sv.binding,
        },
        "checks": rows,
    }
    write_results(args.json, out, console)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
