"""Sweep the linear-skew strength and draw the mean–risk frontier.

Each point is a full Monte Carlo run with the same seed (common random numbers), so the
points' differences are much more precise than their own standard errors. The best point by
the mean–variance utility E[PnL] − (λ/2)·Var[PnL] (λ = the run's γ = 0.1) is starred.

Run: python examples/05_sweep_frontier.py [paths] [figure.png]
"""

import sys

import flatbook

paths = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
res = flatbook.sweep(
    {"skew": [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]}, preset="as2008", policy="linear-skew", paths=paths, seed=0
)

print(f"{'skew':>6} {'mean PnL':>20} {'std PnL':>18}")
for _, row in res.points.iterrows():
    print(
        f"{row['skew']:>6g} {row['pnl_mean']:>10.3f} ± {row['pnl_mean_se']:<7.3f} "
        f"{row['pnl_std']:>8.3f} ± {row['pnl_std_se']:<7.3f}"
    )
print("Pareto frontier (pnl_std):", ", ".join(f"{x:g}" for x in res.frontier("pnl_std")["skew"]))
best = res.best["mv"]
print(f"best mean–variance point: skew = {best['params']['skew']:g}, utility {res.summary['best.mv']}")

fig = res.plot("pnl_std")  # a matplotlib Figure; nothing is written unless asked
if len(sys.argv) > 2:
    fig.savefig(sys.argv[2])
    print("wrote", sys.argv[2])
