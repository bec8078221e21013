"""Calibrate on real data, then backtest with the fitted parameters.

σ is the mid's realised volatility; A and k fit the fill intensity λ(δ) = A·e^(−kδ)
(Avellaneda & Stoikov 2008, §2.4) to how far the trades reached beyond the touch. With a
target inventory std, a risk aversion γ is searched by simulation so that GLFT's inventory
std matches it (here 0.5 BTC); the suggestion is then replayed on the same data.

Run: python examples/04_calibrate_then_backtest.py [paths]
"""

import sys
from pathlib import Path

import flatbook

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"
paths = int(sys.argv[1]) if len(sys.argv) > 1 else 100

events = flatbook.load_data(DATA)
cal = flatbook.calibrate(events, target_q_std=0.5, policy="glft", paths=paths)
for key in (
    "volatility.sigma_per_time_unit",
    "intensity.touch.A",
    "intensity.touch.k",
    "gamma.gamma",
    "gamma.achieved",
):
    print(f"{key:<32} {cal.summary[key]}")
print("suggested:", ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in cal.suggested.items()))

res = flatbook.backtest(events, policy="glft", params=cal.suggested)
s = res.summary
print(
    f"\nbacktest glft with the fitted parameters: fills {s['fills'].value:,}, q_std {s['q_std']}, "
    f"pnl_final {s['pnl_final']}"
)
