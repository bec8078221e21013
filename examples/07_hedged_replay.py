"""A spot maker hedged in the perpetual, on real data: Binance spot and USDⓈ-M BTCUSDT, 2024-08-08.

The policy quotes spot (its parameters derived from the data); its inventory is hedged in the perpetual by
market orders filled against the perpetual's replayed book. Compares a hedge ratio of 1 with the
minimum-variance ratio, and prints the PnL split (legs, edges, fees, net delta, basis) and hedged against
unhedged risk. Money in USDT, quantities in BTC. ``res.plot()`` draws the PnL paths and the net delta
(``--out``/``--report`` on the command line write it). See "Hedged replay (spot + perp)" in the README.

Run: python examples/07_hedged_replay.py [SECONDS]   (only the first SECONDS of the overlap; default all)
"""

import sys
from pathlib import Path

import flatbook
from flatbook.api.replay import backtest_hedged

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "binance"

spot = flatbook.load_data(DATA / "spot_btcusdt_20240808.gz")
perp = flatbook.load_data(DATA / "usdm_btcusdt_20240808.gz")
if len(sys.argv) > 1:  # a slice: from where both start, SECONDS long (exchange time, ns)
    t0 = max(int(spot.ts[0]), int(perp.ts[0]))
    t1 = t0 + int(float(sys.argv[1]) * 1e9)
    spot, perp = spot.between(t0, t1), perp.between(t0, t1)

for ratio in (1.0, "auto"):
    res = backtest_hedged(spot, perp, "linear-skew", hedge_ratio=ratio, hedge_threshold=0.0)
    s = res.summary
    print(f"ratio {s['hedge.ratio'].value:.4f} ({s['hedge.ratio_source'].value}), {s['hedge.orders'].value} orders")
    for key in ("pnl.unhedged", "pnl.hedged", "pnl.hedge_edge", "pnl.net_delta", "pnl.basis"):
        print(f"  {key:<28} {s[key].value:>10.4f} {s[key].unit}")
    for key in ("risk.pnl_std_1s_unhedged", "risk.pnl_std_1s_hedged"):
        print(f"  {key:<28} {s[key].value:>10.4f} ± {s[key].se:.4f} {s[key].unit}")
    vr, th = s["risk.variance_reduction_1s"].value, s["risk.theory_variance_reduction"].value
    print(f"  variance reduction (1 s)     {vr:.3f}  (theory for this ratio {th:.3f})")
    x, q = s["risk.max_abs_net_delta"].value, s["risk.max_abs_q"].value
    print(f"  max |net delta|              {x:.5f} BTC (unhedged: max |q| {q:.5f} BTC)")
    # what the perpetual's visible book could not fill (each remainder once; our orders never take a level's
    # displayed size twice before it changes)
    filled, unfilled = s["hedge.volume_filled"].value, s["hedge.volume_unfilled"].value
    print(f"  hedge volume                 {filled:.3f} BTC filled, {unfilled:.3f} BTC found no visible liquidity")
