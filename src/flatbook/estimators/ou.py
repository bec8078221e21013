"""Mean reversion of an inventory path: the AR(1) regression read as an Ornstein–Uhlenbeck process.

The regression Δq_t = a + b·q_t + ε_t (one common intercept), φ = 1 + b, is read as a discretely
sampled Ornstein–Uhlenbeck process: κ = −ln φ / dt (per time unit), half-life = ln 2 / κ (time
units). The half-life is reported only when the reversion is significant: the t-statistic of b
below the Dickey–Fuller 5% critical value with a constant, −2.86 (Fuller 1976, Table 8.5.2),
which is conservative for many paths (pooled, the t-statistic is asymptotically N(0, 1) under a
random walk). A random-walk inventory gets None, not a spurious number.

- :func:`pool_moments` merges the regression's moments of groups (blocks of simulated paths);
- :func:`ou_fit` is the OLS fit from those moments (the simulator's ``ou_kappa``/``ou_half_life``);
- :func:`inventory_ou` fits one timestamped path (a replay's, or one given to ``flatbook calibrate``)
  previous-tick sampled on a regular grid.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..jsonutil import jsonable
from .volatility import sample_previous_tick

OU_T_CRIT = -2.86  # Dickey–Fuller 5% critical value, regression with a constant
MOMENTS = ("n", "mean_x", "mean_y", "cxx", "cxy", "cyy")


class OUFit(NamedTuple):
    """κ (per time unit), half-life (time units), φ̂ and the t-statistic of b = φ̂ − 1."""

    kappa: float | None
    half_life: float | None
    phi: float | None
    t_stat: float | None


def pool_moments(rows: np.ndarray) -> np.ndarray:
    """Merge rows of (n, x̄, ȳ, Cxx, Cxy, Cyy) — counts, means and centred
    co-moments of groups — into the same six numbers for their union.

    C = Σ_g C_g + Σ_g n_g (x̄_g − x̄)(ȳ_g − ȳ) (Chan, Golub & LeVeque 1979, eq. 2.1),
    with the grand means taken first, so nothing cancels catastrophically.
    """
    rows = np.asarray(rows, dtype=float).reshape(-1, 6)
    n = rows[:, 0]
    total = float(n.sum())
    if total == 0.0:
        return np.zeros(6)
    mx = float((n * rows[:, 1]).sum() / total)
    my = float((n * rows[:, 2]).sum() / total)
    dx, dy = rows[:, 1] - mx, rows[:, 2] - my
    return np.array(
        [
            total,
            mx,
            my,
            float(rows[:, 3].sum() + (n * dx * dx).sum()),
            float(rows[:, 4].sum() + (n * dx * dy).sum()),
            float(rows[:, 5].sum() + (n * dy * dy).sum()),
        ]
    )


def ou_fit(moments, dt: float) -> OUFit:
    """OLS of y = Δq on x = q with an intercept, from pooled moments (see :func:`pool_moments`).

    b = Cxy/Cxx, φ = 1 + b, s² = (Cyy − b·Cxy)/(n − 2), t = b / √(s²/Cxx);
    κ = −ln φ / dt when 0 < φ < 1 (∞ when φ ≤ 0, 0 when φ ≥ 1); half-life = ln 2/κ
    only when t < ``OU_T_CRIT``, else None.
    """
    n, _, _, cxx, cxy, cyy = (float(x) for x in moments)
    if n < 3 or not cxx > 0.0:
        return OUFit(None, None, None, None)
    b = cxy / cxx
    phi = 1.0 + b
    s2 = max(cyy - b * cxy, 0.0) / (n - 2.0)
    se = math.sqrt(s2 / cxx)
    t = b / se if se > 0.0 else math.copysign(math.inf, b) if b != 0.0 else 0.0
    kappa = 0.0 if phi >= 1.0 else math.inf if phi <= 0.0 else -math.log(phi) / dt
    if not t < OU_T_CRIT or kappa == 0.0:
        return OUFit(kappa, None, phi, t)
    return OUFit(kappa, math.log(2.0) / kappa, phi, t)


def inventory_ou(ts_ns, q, *, grid_s: float, time_unit_s: float) -> dict:
    """OU fit of an inventory path (lots) at ``ts_ns`` (int64 ns), sampled every ``grid_s`` s.

    κ per time unit, half-life in time units and seconds (None when the reversion
    is not significant; see :func:`ou_fit`).
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
    mom = pool_moments(np.array([x.size, x.mean(), y.mean(), np.sum(xc * xc), np.sum(xc * yc), np.sum(yc * yc)]))
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
