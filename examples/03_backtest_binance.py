"""Backtest on real data: Binance USDⓈ-M BTCUSDT, 2024-08-08 (about 6 minutes of quotes and trades).

Every parameter not given is derived from the data (tick, size, half-spread, σ, A, k, ...; see
flatbook.backtest.backtester.data_defaults); queue position and latency are modelled. Money is
in the settlement currency (USDT), inventory in BTC.

Run: python examples/03_backtest_binance.py
(the last lines save the run as `flatbook backtest --out DIR --report FILE.html` would: res.save, res.report)
"""

import tempfile
from pathlib import Path

import flatbook

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"

events = flatbook.load_data(DATA)  # load once, replay several policies
for policy, extra in (("linear-skew", {}), ("glft", {}), ("glft", {"latency_ms": 5})):
    res = flatbook.backtest(events, policy=policy, **extra)
    s = res.summary
    label = policy + (" (latency 5 ms)" if extra else "")
    print(
        f"{label:<24} fills {s['fills'].value:>5,}  pnl_final {s['pnl_final'].value:>10.2f} {s['pnl_final'].unit}  "
        f"q_std {s['q_std'].value:.3f} {s['q_std'].unit}  markout 1 s {s['markout_1s'].value:+.3f} "
        f"{s['markout_1s'].unit}"
    )
    for w in res.warnings:
        print("   warning:", w)

fills = res.to_pandas().fills
print(f"\nlast run: {len(fills):,} fills; first at {fills['time'].iloc[0]}")

# what `flatbook backtest DATA --out DIR --report FILE.html` writes, from Python (here into a temporary directory)
with tempfile.TemporaryDirectory() as tmp:
    written = res.save(Path(tmp) / "bt")  # all files or none
    report = res.report(Path(tmp) / "bt.html")  # self-contained interactive HTML, opens offline
    print(f"saved: {', '.join(p.name for p in written)}; report {report.stat().st_size / 1e6:.1f} MB")
