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

from . import costs
from . import layout as L
from . import mid as mid_
from .flow import informed, intensity, orders
from .flow import pack as pack_flow
from .mid import jumps, regimes


def pack_market(v) -> np.ndarray:
    """Pack validated parameter values into the kernel's ``mp`` array; each stage packs its own slots."""
    mp = np.empty(L.MP_LEN)
    mp[L.MP_DT], mp[L.MP_T], mp[L.MP_S0], mp[L.MP_Q0] = v["dt"], v["T"], v["s0"], v["q0"]
    mid_.pack(v, mp)
    jumps.pack(v, mp)
    regimes.pack(v, mp)
    pack_flow(v, mp)
    intensity.pack(v, mp)
    orders.pack(v, mp)
    informed.pack(v, mp)
    costs.pack(v, mp)
    mp[L.MP_MAX_LOSS], mp[L.MP_MAX_DD] = v["max_loss"], v["max_drawdown"]  # the kill switch (controls)
    return mp
