"""Compare the five built-in policies on the same paths (a researcher's first hour, step 1).

Avellaneda & Stoikov (2008, §3): a binomial mid with σ = 2, fills λ(δ) = A·e^(−kδ) with A = 140,
k = 1.5, risk aversion γ = 0.1, horizon T = 1. Every policy sees the same random numbers (same
seed), so the differences between them are paired: their standard errors are far smaller than
those of two independent runs (common random numbers).

Run: python examples/01_compare_policies.py [paths]
"""

import sys

import flatbook

paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
res = flatbook.compare(
    ["avellaneda-stoikov", "symmetric", "linear-skew", "stoll", "glft"], preset="as2008", paths=paths, seed=0, gamma=0.1
)

print(f"{'policy':<20} {'mean PnL':>22} {'std PnL':>10} {'std final q':>12}")
for name, s in res.summary.items():
    pnl = s["pnl_mean"]
    print(f"{name:<20} {pnl.value:>12.3f} ± {pnl.se:<7.3f} {s['pnl_std'].value:>10.3f} {s['final_q_std'].value:>12.3f}")
print(f"(PnL in {res.summary['glft']['pnl_mean'].unit}, inventory in {res.summary['glft']['final_q_std'].unit})")

print(f"\npaired differences against {res.baseline} (common random numbers):")
for name, d in res.differences.items():
    m, s = d["pnl_mean"], d["pnl_std"]
    print(
        f"  {name:<18} mean PnL {m.value:+8.3f} ± {m.se:.3f} (independent runs: ± {m.se_unpaired:.3f}); "
        f"std PnL {s.value:+7.3f} ± {s.se:.3f}"
    )

frames = res.to_pandas()  # summary, per_path, series DataFrames
print(f"\nper-path table: {frames.per_path.shape[0]:,} rows × {frames.per_path.shape[1]} columns")
