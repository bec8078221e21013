"""Pack the market parameters into the flat array the simulator's kernel reads; the market models they describe.

Mid price, per step dt (σ = ``sigma`` price units per √time unit):
- ``binomial``: s += ±σ√dt with probability ½ each (Avellaneda & Stoikov 2008, §3).
- ``abm``: s += σ·√dt·Z (arithmetic Brownian motion).
- ``gbm``: s *= exp(a·Z − a²/2), a = (σ/s0)·√dt (geometric; σ is the vol at s0).
- jumps: with probability ``jump_rate``·dt a gap J ~ N(jump_mean, jump_std²)
  (price units; for gbm applied as s *= exp(J/s0)).
- regimes: a two-state Markov chain, calm → volatile with probability
  ``regime_up_rate``·dt, back with ``regime_down_rate``·dt; in the volatile
  state σ is multiplied by ``regime_sigma_mult``.

The binomial and ABM mids (and additive jumps) are not floored: over long
horizons with σ√T comparable to s0 they can reach zero or below, as in the
models themselves. Use ``gbm`` where the price must stay positive.

Order flow:
- ``intensity`` (A–S 2008, eq. 2 discretised): each side fills with
  probability min(1, A·e^(−kδ)·dt), δ the quote's depth from the mid; both
  sides may fill in one step. A fill is the quote ``size``.
- ``orders`` (seed 000 mini-project): one market order per step; a buy with
  probability 0.5 + ``flow_bias`` + μ, μ ~ N(0, ``flow_bias_std``²) redrawn
  every ``flow_regime_steps`` steps; size fixed or exponential with mean
  ``order_size_mean``; it executes against our quote on its side with
  probability min(1, A·e^(−kδ)·dt), so a skewed (closer) quote attracts the
  flattening flow; the fill is min(order size, quote size).
- informed flow: after each fill, with probability ``informed_frac`` the mid
  moves ``informed_move`` in the taker's direction (adverse selection).

Costs: ``financing_long``/``financing_short`` per lot of |q| per time unit on
the position held over each step, and ``maker_fee`` per lot filled.
"""

from __future__ import annotations

import numpy as np

from . import layout as L


def pack_market(v) -> np.ndarray:
    """Pack validated parameter values into the kernel's ``mp`` array."""
    mp = np.empty(L.MP_LEN)
    mp[L.MP_DT], mp[L.MP_T], mp[L.MP_S0], mp[L.MP_Q0] = v["dt"], v["T"], v["s0"], v["q0"]
    mp[L.MP_SIGMA] = v["sigma"]
    mp[L.MP_MODEL] = ("binomial", "abm", "gbm").index(v["mid_model"])
    mp[L.MP_JRATE], mp[L.MP_JMEAN], mp[L.MP_JSTD] = v["jump_rate"], v["jump_mean"], v["jump_std"]
    mp[L.MP_RMULT], mp[L.MP_RUP], mp[L.MP_RDOWN] = v["regime_sigma_mult"], v["regime_up_rate"], v["regime_down_rate"]
    mp[L.MP_FLOW] = ("intensity", "orders").index(v["flow"])
    mp[L.MP_A], mp[L.MP_K] = v["A"], v["k"]
    mp[L.MP_BIAS], mp[L.MP_BIAS_STD], mp[L.MP_BIAS_STEPS] = v["flow_bias"], v["flow_bias_std"], v["flow_regime_steps"]
    mp[L.MP_OSIZE] = v["order_size_mean"]
    mp[L.MP_ODIST] = ("fixed", "exponential").index(v["order_size_dist"])
    mp[L.MP_INF_FRAC], mp[L.MP_INF_MOVE] = v["informed_frac"], v["informed_move"]
    mp[L.MP_FIN_L], mp[L.MP_FIN_S], mp[L.MP_FEE] = v["financing_long"], v["financing_short"], v["maker_fee"]
    mp[L.MP_MAX_LOSS], mp[L.MP_MAX_DD] = v["max_loss"], v["max_drawdown"]
    return mp
