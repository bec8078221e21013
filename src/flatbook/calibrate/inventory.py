"""Mean reversion of an inventory path: the OU fit on a regular time grid (no scipy)."""

from __future__ import annotations

import numpy as np

from ..sim.metrics import ou_fit, pool_moments
from . import jsonable
from .volatility import sample_previous_tick


def inventory_ou(ts_ns, q, *, grid_s: float, time_unit_s: float) -> dict:
    """OU fit of an inventory path (lots) at ``ts_ns`` (int64 ns), sampled every ``grid_s`` s.

    κ per time unit, half-life in time units and seconds (None when the reversion
    is not significant; see :func:`flatbook.sim.metrics.ou_fit`).
    """
    s = sample_previous_tick(np.asarray(ts_ns, dtype=np.int64), np.asarray(q, dtype=float), grid_s)
    if s.size < 4:
        return {
            "ok": False,
            "reason": f"only {s.size} samples of {grid_s:g} s",
            "kappa": None,
            "half_life": None,
            "half_life_s": None,
            "phi": None,
            "t_stat": None,
            "n": int(max(s.size - 1, 0)),
        }
    x, y = s[:-1], np.diff(s)
    xc, yc = x - x.mean(), y - y.mean()
    mom = pool_moments(np.array([x.size, x.mean(), y.mean(), xc @ xc, xc @ yc, yc @ yc]))
    dt = grid_s / time_unit_s
    fit = ou_fit(mom, dt)
    ok = fit.half_life is not None
    reason = (
        None
        if ok
        else (
            "q has no variation" if fit.phi is None else f"no significant mean reversion (t = {fit.t_stat:.3g} ≥ −2.86)"
        )
    )
    return jsonable(
        {
            "ok": ok,
            "reason": reason,
            "kappa": fit.kappa,
            "half_life": fit.half_life,
            "half_life_s": None if fit.half_life is None else fit.half_life * time_unit_s,
            "phi": fit.phi,
            "t_stat": fit.t_stat,
            "n": int(x.size),
            "dt": dt,
        }
    )
