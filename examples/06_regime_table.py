"""A regime-aware policy deployed as a table: GLFT's closed form for each volatility regime, on a (t, q, regime) grid.

The market switches between a calm regime (σ) and a volatile one (σ × 3), a two-state Markov chain
(``regime_up_rate``, ``regime_down_rate`` per time unit). GLFT tuned to the calm σ keeps quoting as if
it were calm; the table below holds GLFT's asymptotic depths (Guéant, Lehalle & Fernandez-Tapia 2013,
closed form after Prop. 3) for each regime's own σ, and the simulator hands it each path's regime. The
same table runs in the backtester and the live engine, which estimate the regime online from the mids
(flatbook.estimators.regime: exponentially weighted realised volatility against ``regime_sigma``), and in
``flatbook.quote(..., regime=1)``. This is how a solver's or a learner's regime-aware output is deployed.

Run: python examples/06_regime_table.py [paths]
"""

import sys

import numpy as np

import flatbook
from flatbook.policies.glft_solution import glft_closed_form_depths
from flatbook.policies.table import table_policy

paths = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
gamma, sigma, A, k, mult = 0.1, 2.0, 140.0, 1.5, 3.0  # as2008's γ, σ (price units/√time), A, k; σ × 3 when volatile
market = {"regime_up_rate": 1.0, "regime_down_rate": 2.0, "regime_sigma_mult": mult, "limit": 20.0}

# GLFT's depths for each regime's σ, on q = −20..20 (one row: the closed form does not move with time)
q = np.arange(-20.0, 21.0)
bid = np.empty((1, q.size, 2))
ask = np.empty((1, q.size, 2))
for m, s in enumerate((sigma, sigma * mult)):
    bid[0, :, m], ask[0, :, m] = glft_closed_form_depths(q, gamma, s, A, k)
regime_glft = table_policy(None, q, bid, ask, name="regime_glft", regime_halflife=60.0, regime_sigma=2.0 * sigma)

for r in (0, 1):
    qt = flatbook.quote(5.0, regime=r, preset="as2008", policy=regime_glft, **market).summary
    print(
        f"q = 5, regime {r}: bid depth {qt['bid_depth'].value:.4f}, ask depth {qt['ask_depth'].value:.4f} price units"
    )

# against GLFT with the calm σ, on the same paths (common random numbers)
res = flatbook.compare(["glft", regime_glft], preset="as2008", paths=paths, seed=0, **market)
for name, s in res.summary.items():
    print(
        f"{name:<12} mean PnL {s['pnl_mean'].value:8.3f}, std PnL {s['pnl_std'].value:7.3f}, "
        f"q std {s['q_std_mean'].value:6.3f} lots"
    )
d = res.differences["regime_glft"]
print(
    f"regime_glft − glft: mean PnL {d['pnl_mean'].value:+.3f} ± {d['pnl_mean'].se:.3f}, "
    f"std PnL {d['pnl_std'].value:+.3f} ± {d['pnl_std'].se:.3f} ({d['pnl_std'].unit})"
)
