"""Summary statistics of a run, from per-path summaries.

- PnL: mean, std, standard error, Sharpe-like ratio mean/std (per run).
- 95% VaR and ES of terminal PnL, as positive losses L = −PnL:
  VaR = quantile_0.95(L) (linear interpolation), ES = mean(L | L ≥ VaR).
- Inventory mean reversion: the AR(1) regression Δq_t = a + b·q_t + ε_t pooled
  over every path and step with one common intercept, read as an Ornstein–Uhlenbeck
  process by :func:`flatbook.estimators.ou.ou_fit` (κ, half-life, and the Dickey–Fuller
  test that leaves a random-walk inventory with no half-life). A common intercept, not
  one per path: demeaning each path biases φ̂ by −3/n under a random walk (the Nickell
  bias), which reads as a half-life of about 0.23·T.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..estimators.ou import ou_fit
from ..jsonutil import jsonable


def influence(x: np.ndarray, stat: str) -> np.ndarray:
    """Per-path influence function of ``stat`` ("mean" or "std") of the sample ``x``.

    The standard error of the statistic is std(ψ)/√n (delta method); of a paired difference of two
    statistics on common random numbers, std(ψ_a − ψ_b)/√n. For the sample std s,
    ψ = ((x − x̄)² − s²)/(2s) (e.g. van der Vaart 1998, *Asymptotic Statistics*, §20.1).
    """
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean()
    if stat == "mean":
        return d
    s = x.std(ddof=1) if x.size > 1 else 0.0
    return (d * d - s * s) / (2.0 * s) if s > 0 else np.zeros_like(d)


def var_es(pnl: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """(VaR, ES) of the loss −pnl at ``level``, both as positive losses."""
    loss = -np.asarray(pnl, dtype=float)
    var = float(np.quantile(loss, level))
    tail = loss[loss >= var]
    # interpolation can put VaR an ulp above every sample (e.g. all equal)
    es = float(tail.mean()) if tail.size else var
    return var, max(es, var)


ATTRIBUTION = ("pnl_spread", "pnl_inventory", "pnl_adverse", "pnl_hedge", "pnl_financing", "pnl_fees")


def attribution(per_path: Mapping[str, np.ndarray | np.float64]) -> dict[str, np.ndarray | np.float64]:
    """Each path's PnL split into parts that sum to it (price units × lots; per path, or one run's scalars):

    - ``pnl_spread``: fills valued against the mid when they happened, Σ(a·δa + b·δb);
    - ``pnl_adverse``: the markout of fills, Σ_t (fills of the last ``markout_steps`` steps)·ΔS_t;
    - ``pnl_hedge``: −(half-spread + impact paid by hedge orders);
    - ``pnl_financing``: −(financing of longs + borrow of shorts + funding + capital);
    - ``pnl_fees``: −maker fees (+ rebates);
    - ``pnl_inventory``: the rest, what the mid's moves did to the position (its mark to
      market, less the part already counted as adverse), so the six sum to the PnL.
    """
    zeros = np.zeros_like(per_path["pnl"])
    parts = {
        "pnl_spread": per_path["spread_capture"],
        "pnl_adverse": per_path["adverse"],
        "pnl_hedge": -per_path.get("hedge_cost", zeros),
        "pnl_financing": -(
            per_path["financing"]
            + per_path.get("borrow", zeros)
            + per_path.get("funding", zeros)
            + per_path.get("capital", zeros)
        ),
        "pnl_fees": -per_path["fees"],
    }
    rest = sum(parts.values())
    return {"pnl_inventory": per_path["pnl"] - rest, **parts}


def _mean(per_path: dict, key: str) -> float:
    return float(per_path[key].mean()) if key in per_path else 0.0


def _std(per_path: dict, key: str) -> float | None:
    x = per_path.get(key)
    return float(x.std(ddof=1)) if x is not None and x.size > 1 else None


def _pnl_q(per_path: dict[str, np.ndarray]) -> dict:
    """PnL and inventory keys of a summary, full or lean: pnl mean/std/SE/Sharpe, final q, max |q| (per path, lots)."""
    pnl = per_path["pnl"]
    n = pnl.size
    mean, std = float(pnl.mean()), float(pnl.std(ddof=1)) if n > 1 else 0.0
    return {
        "pnl_mean": mean,
        "pnl_std": std,
        "pnl_se": std / math.sqrt(n),
        "sharpe": mean / std if std > 0 else None,
        "final_q_mean": float(per_path["final_q"].mean()),
        "final_q_std": float(per_path["final_q"].std(ddof=1)) if n > 1 else 0.0,
        "max_abs_q_mean": float(per_path["max_abs_q"].mean()),
        "max_abs_q_max": float(per_path["max_abs_q"].max()),
    }


def _spread_mean(per_path: dict[str, np.ndarray]) -> float | None:
    """Mean over paths of each path's mean quoted spread (price units; None if no path quoted both sides)."""
    spread = per_path["spread_mean"]
    return float(np.nanmean(spread)) if np.isfinite(spread).any() else None


def summarize(
    per_path: dict[str, np.ndarray], ou_moments, *, steps: int, dt: float, limit: float, elapsed_s: float
) -> dict:
    """The run's summary dictionary (JSON-ready: non-finite numbers become None)."""
    pnl = per_path["pnl"]
    n = pnl.size
    core = _pnl_q(per_path)
    std = core["pnl_std"]
    var, es = var_es(pnl)
    ou = ou_fit(ou_moments, dt)
    path_steps = n * steps
    kill = per_path["kill_reason"]
    out = {
        "paths": n,
        "steps": steps,
        **core,
        "q_std_mean": float(per_path["q_std"].mean()),
        "spread_mean": _spread_mean(per_path),
        "fills_mean": float(per_path["fills"].mean()),
        "volume_mean": float(per_path["volume"].mean()),
        "spread_given_up_mean": float(per_path["spread_given_up"].mean()),
        "time_at_limit_frac": float(per_path["steps_at_limit"].sum(dtype=np.int64)) / path_steps
        if math.isfinite(limit)
        else 0.0,
        "time_in_yellow_frac": float(per_path["steps_yellow"].sum(dtype=np.int64)) / path_steps,
        "time_in_red_frac": float(per_path["steps_red"].sum(dtype=np.int64)) / path_steps,
        "time_in_critical_frac": float(per_path["steps_critical"].sum(dtype=np.int64)) / path_steps,
        "hedge_requests_mean": float(per_path["hedge_requests"].mean()),
        "kill_frac": float((kill > 0).mean()),
        "kill_loss_frac": float((kill == 1).mean()),
        "kill_drawdown_frac": float((kill == 2).mean()),
        "financing_mean": float(per_path["financing"].mean()) + _mean(per_path, "borrow"),
        "fees_mean": float(per_path["fees"].mean()),
        "max_drawdown_mean": float(per_path["max_drawdown"].mean()),
        "var_95": var,
        "es_95": es,
        # PnL attribution (sums to pnl_mean; see attribution())
        **{k: _mean(per_path, k) for k in ATTRIBUTION},
        # hedging and carry (flatbook.hedging.model); zero when the run neither hedges nor carries
        "hedge_count": _mean(per_path, "hedge_count"),
        "hedge_trades": _mean(per_path, "hedge_trades"),
        "hedge_cost": _mean(per_path, "hedge_cost"),
        "hedge_volume": _mean(per_path, "hedge_volume"),
        "residual_risk": std,
        "price_pnl_std": _std(per_path, "price_pnl"),
        "basis_pnl_std": (
            float((per_path["price_pnl"] + per_path["hedge_pnl"]).std(ddof=1))
            if "price_pnl" in per_path and n > 1
            else None
        ),
        "financing_cost": float(per_path["financing"].mean()),
        "borrow_cost": _mean(per_path, "borrow"),
        "funding_cost": _mean(per_path, "funding"),
        "capital_cost": _mean(per_path, "capital"),
        "ou_kappa": ou.kappa,
        "ou_phi": ou.phi,
        "ou_t": ou.t_stat,
        "half_life": ou.half_life,
        "elapsed_s": elapsed_s,
        "path_steps_per_s": path_steps / elapsed_s if elapsed_s > 0 else None,
    }
    return {k: jsonable(v) for k, v in out.items()}


#: the summary keys of a lean run (``simulate(stats="lean")``): those :func:`summarize` computes from the lean
#: columns alone (pnl, final_q, max_abs_q, fills, spread_mean), plus ``stats``
LEAN_SUMMARY_KEYS = (
    "paths",
    "steps",
    "stats",
    "pnl_mean",
    "pnl_std",
    "pnl_se",
    "sharpe",
    "final_q_mean",
    "final_q_std",
    "max_abs_q_mean",
    "max_abs_q_max",
    "spread_mean",
    "fills_mean",
    "var_95",
    "es_95",
    "residual_risk",
    "elapsed_s",
    "path_steps_per_s",
)


def summarize_lean(per_path: dict[str, np.ndarray], *, steps: int, elapsed_s: float) -> dict:
    """The summary of a lean run: :data:`LEAN_SUMMARY_KEYS`, each computed as :func:`summarize` computes it (the
    same value, bit for bit, as the full run's same key), and ``stats = "lean"``."""
    pnl = per_path["pnl"]
    n = pnl.size
    core = _pnl_q(per_path)
    std = core["pnl_std"]
    var, es = var_es(pnl)
    path_steps = n * steps
    out = {
        "paths": n,
        "steps": steps,
        "stats": "lean",
        **core,
        "spread_mean": _spread_mean(per_path),
        "fills_mean": float(per_path["fills"].mean()),
        "var_95": var,
        "es_95": es,
        "residual_risk": std,
        "elapsed_s": elapsed_s,
        "path_steps_per_s": path_steps / elapsed_s if elapsed_s > 0 else None,
    }
    return {k: jsonable(v) for k, v in out.items()}


# ------------------------------------------------------------------------------ Stoll regression
STOLL_BUCKETS = 20  # time fixed effects: equal-time buckets of the path, also the SE's clusters
STOLL_MIN_PER_BUCKET = 20  # fewer buckets for short paths: at least this many points each on average


class StollFit(NamedTuple):
    """Time-controlled Stoll regression of the quoted spread on |q − q*| (see :func:`stoll_regression`).

    ``b`` and ``se`` in price units per lot of |q − q*|; ``c`` in price units per time unit;
    ``level`` is the mean spread (price units) and ``x_mean`` the mean |q − q*| (lots), so the
    fitted line at the path's average time is ``level + b·(|q − q*| − x_mean)``. ``buckets``
    time buckets are the fixed effects and the clusters of ``se``: compare b/se with Student's
    t on ``buckets − 1`` degrees of freedom.
    """

    b: float
    se: float
    c: float
    level: float
    x_mean: float
    n: int
    buckets: int

    def at(self, q, q_target: float = 0.0) -> np.ndarray:
        """The fitted spread at inventory ``q`` and the path's average time (price units)."""
        return self.level + self.b * (np.abs(np.asarray(q, dtype=float) - q_target) - self.x_mean)


def stoll_regression(q, spread, t, q_target: float = 0.0, buckets: int = STOLL_BUCKETS) -> StollFit | None:
    """Does the quoted spread widen with inventory, with time held fixed?

    Stoll (1978): a dealer's spread widens with the size of the position, S = S0 + 2γ·|I|,
    I = q − q*. Along a path, q and time are correlated (a finite-horizon A–S spread
    shrinks with τ = T − t while |q| diffuses), so a plain fit of spread on q measures
    time, not inventory. The model here is

        spread_i = α_k(i) + b·|q_i − q*| + c·t_i + ε_i,

    with a fixed effect α_k for each of K equal-time buckets (K = ``buckets``, fewer for
    short paths: at least :data:`STOLL_MIN_PER_BUCKET` points per bucket on average) and a
    common linear time trend c inside them (a linear τ term absorbs A–S's time dependence
    exactly). OLS after demeaning within buckets (Frisch–Waugh–Lovell). The standard error
    of b is cluster-robust by bucket (CR1: Cameron & Miller 2015, J. Human Resources 50(2),
    eq. 11, with the small-sample factor G/(G − 1)·(n − 1)/(n − K − 2)), as a path's
    residuals are autocorrelated and its regressor |q| is persistent; a Newey–West SE
    understates it by 10–70% here. Test b/SE against t(K − 1).

    Points where q, spread or t is not finite (a side not quoted) are left out. Returns
    None when fewer than 3 points remain or |q − q*| does not vary within buckets; a
    spread constant up to float noise gives b = 0 with SE 0 (exactly no dependence).
    A spread independent of q gives b ≈ 0; Stoll's policy, spread = 2h0 + 2g·|q − q*|,
    gives b = 2g.
    """
    q, spread, t = (np.asarray(a, dtype=float).ravel() for a in (q, spread, t))
    ok = np.isfinite(q) & np.isfinite(spread) & np.isfinite(t)
    x, y, tt = np.abs(q[ok] - q_target), spread[ok], t[ok]
    n = int(y.size)
    if n < 3 or np.ptp(x) == 0.0:
        return None
    k = max(1, min(int(buckets), n // STOLL_MIN_PER_BUCKET))
    if np.ptp(y) <= 1e-9 * max(1.0, float(np.abs(y).max())):
        # constant up to float noise: no dependence on anything, b = 0 exactly
        return StollFit(0.0, 0.0, 0.0, float(y.mean()), float(x.mean()), n, k)
    if np.ptp(tt) > 0.0:
        edges = np.linspace(tt.min(), tt.max(), k + 1)
        g = np.clip(np.searchsorted(edges, tt, side="right") - 1, 0, k - 1)
    else:
        g = np.zeros(n, dtype=np.int64)
    counts = np.bincount(g, minlength=k)
    present = counts > 0
    k_used = int(present.sum())

    def within(v: np.ndarray) -> np.ndarray:
        means = np.bincount(g, weights=v, minlength=k)
        return v - means[g] / np.where(present, counts, 1)[g]

    xd, td, yd = within(x), within(tt), within(y)
    X = np.column_stack([xd, td]) if np.ptp(td) > 0.0 else xd[:, None]  # one time only: no trend term
    dof = n - k_used - X.shape[1]
    if dof < 1 or np.ptp(xd) <= 1e-12 * max(1.0, float(x.max())):
        return None
    try:
        xtx_inv = np.linalg.inv(X.T @ X)
    except np.linalg.LinAlgError:
        return None
    beta = xtx_inv @ (X.T @ yd)
    e = yd - X @ beta
    # clusters: the buckets; a single bucket (a short path) falls back to one cluster per point (HC1)
    cl, n_cl = (g, k) if k_used > 1 else (np.arange(n), n)
    scores = np.stack([np.bincount(cl, weights=X[:, j] * e, minlength=n_cl) for j in range(X.shape[1])], axis=1)
    meat = scores.T @ scores
    g_eff = k_used if k_used > 1 else n
    small = (g_eff / (g_eff - 1.0)) * ((n - 1.0) / dof)
    cov = xtx_inv @ meat @ xtx_inv * small
    se = math.sqrt(max(float(cov[0, 0]), 0.0))
    c = float(beta[1]) if beta.size > 1 else 0.0
    return StollFit(float(beta[0]), se, c, float(y.mean()), float(x.mean()), n, k_used)
