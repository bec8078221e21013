"""Write your own policy and compare it against GLFT, then backtest it on real data, unchanged.

A policy is a small compiled function of the state (time t, time left tau, mid s, inventory q)
returning the bid and ask depths (distances below and above the mid, price units); its
parameters are typed, validated and carry units (flatbook.policies.base documents the
interface). This one skews the quotes by a cubic in the inventory:

    centre = s − skew·x − cubic·x³,  x = q − q*,   bid/ask = centre ∓ half_spread

With cubic = 0 it is the built-in linear-skew, number for number.

Run: python examples/02_write_your_own_policy.py [paths]
"""

import sys
from pathlib import Path

import flatbook
from flatbook import Param

paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000


@flatbook.policy(
    params={
        "half_spread": Param(unit="price units", default=0.5, ge=0, doc="half-spread around centre"),
        "skew": Param(unit="price units per lot", default=0.01, ge=0, doc="linear skew per lot"),
        "q_target": Param(unit="lots", default=0.0, doc="target inventory q*"),
        "cubic": Param(unit="price units per lot³", default=0.0, ge=0, doc="cubic skew per lot³"),
    }
)
def cubic_skew(p, t, tau, s, q):
    """Cubic inventory skew: centre = s − skew·x − cubic·x³, x = q − q*; bid/ask = centre ∓ half_spread."""
    x = q - p.q_target
    c = p.skew * x + p.cubic * x * x * x
    return p.half_spread + c, p.half_spread - c


# 1. the same numbers as the built-in linear-skew when cubic = 0
mine = flatbook.simulate(preset="as2008", policy=cubic_skew, paths=200, seed=0, cubic=0.0)
ref = flatbook.simulate(preset="as2008", policy="linear-skew", paths=200, seed=0)
print("cubic = 0 equals linear-skew bit for bit:", mine.summary.to_dict() == ref.summary.to_dict())

# 2. against GLFT on the same paths (common random numbers); as2008's linear-skew defaults for the rest
res = flatbook.compare(["glft", cubic_skew], preset="as2008", paths=paths, seed=0, cubic=0.002)
d = res.differences["cubic_skew"]
for name, s in res.summary.items():
    print(
        f"{name:<12} mean PnL {s['pnl_mean']}, std PnL {s['pnl_std'].value:.3f}, "
        f"max |q| {s['max_abs_q_max'].value:g} {s['max_abs_q_max'].unit}"
    )
print(
    f"cubic_skew − glft: mean PnL {d['pnl_mean'].value:+.3f} ± {d['pnl_mean'].se:.3f}, "
    f"std PnL {d['pnl_std'].value:+.3f} ± {d['pnl_std'].se:.3f} ({d['pnl_std'].unit})"
)

# 3. the same function on real data (Binance BTCUSDT perpetual, 2024-08-08), no change
data = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "binance" / "usdm_btcusdt_20240808.gz"
bt = flatbook.backtest(data, policy=cubic_skew, cubic=50.0)
s = bt.summary
print(f"backtest cubic_skew: fills {s['fills'].value:,}, q_std {s['q_std']}, pnl_final {s['pnl_final']}")
