"""The volatility regime of a tape, estimated online: what a (t, q, regime) table policy reads on real data.

The Monte Carlo simulator knows each path's regime (:mod:`flatbook.market.mid.regimes`); a tape does
not show it. The backtester and the live engine estimate it from the mids they observe, with the
same compiled rule (one home):

- an exponentially weighted realised variance per unit time, over the mid changes Δs_i observed at
  times t_i (seconds), with time constant τ = half-life / ln 2:

      V(t) = Σ_i e^(−(t − t_i)/τ) Δs_i²,   W(t) = ∫_{t_first}^{t} e^(−(t − u)/τ) du,   σ̂² = V/W

  (price units²/s; W is the exponentially weighted time observed, so σ̂² is unbiased for a
  Brownian mid with constant σ once W is well above 0: E[Δs²] = σ²·Δt; the realised-variance
  estimator of Andersen & Bollerslev 1998, with exponential weights as RiskMetrics 1996);
- the regime is volatile (1) when σ̂ > σ*, the table's ``regime_sigma`` (price units/√s), else
  calm (0): ``V > σ*²·W``, which needs no division and is calm before any change is seen.

Both functions are inlined into the replay (:mod:`flatbook.backtest.engine`); the live engine runs
their Python source (:func:`flatbook.policies.compile.python_form`), the same IEEE arithmetic.
"""

from __future__ import annotations

import math

import numba as nb

from ..errors import InputError


@nb.njit(inline="always", cache=True, error_model="numpy")
def ew_update(v, w, dt, ds, inv_tau):
    """(V, W) after ``dt`` seconds (≥ 0) that end with a mid change ``ds`` (price units); ``inv_tau`` = ln 2 /
    half-life (1/s). V decays by e^(−dt/τ) and adds ds²; W decays and adds τ·(1 − e^(−dt/τ)), the weight of
    the elapsed time."""
    d = math.exp(-dt * inv_tau)
    return v * d + ds * ds, w * d + (1.0 - d) / inv_tau


@nb.njit(inline="always", cache=True, error_model="numpy")
def regime_of(v, w, sigma2):
    """The regime (1.0 volatile, 0.0 calm) of the estimate (V, W) against the threshold σ*² (price units²/s)."""
    return 1.0 if v > sigma2 * w else 0.0


def inv_tau(halflife_s: float) -> float:
    """ln 2 / half-life (1/s): the decay rate of :func:`ew_update`."""
    return math.log(2.0) / halflife_s


def classifier(regime: tuple[float, float] | None) -> tuple[bool, float, float]:
    """(on, ln 2/half-life in 1/s, σ*² in price units²/s) of a bound policy's ``regime`` (half-life s, σ* in
    price units/√s; :attr:`flatbook.policies.base.Bound.regime`), for the engines that estimate the regime.
    None (a policy with no regime axis): off. Raises :class:`~flatbook.errors.InputError` when σ* is not set."""
    if regime is None:
        return False, 0.0, 0.0
    halflife, sigma = regime
    if not math.isfinite(sigma):
        raise InputError(
            "regime_sigma",
            "a (t, q, regime) table needs regime_sigma (price units/√s: the realised volatility above which the "
            "tape is volatile) to run on real data; give it to table_policy()",
        )
    return True, inv_tau(halflife), sigma * sigma


__all__ = ["classifier", "ew_update", "inv_tau", "regime_of"]
