"""Summary statistics of a run, from per-path summaries.

- PnL: mean, std, standard error, Sharpe-like ratio mean/std (per run).
- 95% VaR and ES of terminal PnL, as positive losses L = −PnL:
  VaR = quantile_0.95(L) (linear interpolation), ES = mean(L | L ≥ VaR).
- Inventory mean reversion: the pooled AR(1) fit of Δq on q, demeaned per path,
  φ = 1 + Σ(q−q̄)Δq / Σ(q−q̄)², read as a discretely sampled Ornstein–Uhlenbeck
  process: κ = −ln φ / dt (per time unit), half-life = ln 2 / κ (time units);
  κ = 0 and half-life = None when φ ≥ 1 (no mean reversion: a random walk).
"""
from __future__ import annotations

import math

import numpy as np


def var_es(pnl: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """(VaR, ES) of the loss −pnl at ``level``, both as positive losses."""
    loss = -np.asarray(pnl, dtype=float)
    var = float(np.quantile(loss, level))
    tail = loss[loss >= var]
    # interpolation can put VaR an ulp above every sample (e.g. all equal)
    es = float(tail.mean()) if tail.size else var
    return var, max(es, var)


def ou_fit(sxx: float, sxy: float, dt: float) -> tuple[float | None, float | None]:
    """(κ per time unit, half-life in time units) from pooled regression sums."""
    if not sxx > 0.0:
        return None, None
    phi = 1.0 + sxy / sxx
    if phi >= 1.0:
        return 0.0, None
    if phi <= 0.0:
        return math.inf, 0.0
    kappa = -math.log(phi) / dt
    return kappa, math.log(2.0) / kappa


def _clean(x):
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def summarize(per_path: dict[str, np.ndarray], ou_sums: tuple[float, float], *, steps: int,
              dt: float, limit: float, elapsed_s: float) -> dict:
    """The run's summary dictionary (JSON-ready: non-finite numbers become None)."""
    pnl = per_path["pnl"]
    n = pnl.size
    mean, std = float(pnl.mean()), float(pnl.std(ddof=1)) if n > 1 else 0.0
    var, es = var_es(pnl)
    kappa, half_life = ou_fit(*ou_sums, dt)
    path_steps = n * steps
    kill = per_path["kill_reason"]
    spread = per_path["spread_mean"]
    out = {
        "paths": n,
        "steps": steps,
        "pnl_mean": mean,
        "pnl_std": std,
        "pnl_se": std / math.sqrt(n),
        "sharpe": mean / std if std > 0 else None,
        "final_q_mean": float(per_path["final_q"].mean()),
        "final_q_std": float(per_path["final_q"].std(ddof=1)) if n > 1 else 0.0,
        "max_abs_q_mean": float(per_path["max_abs_q"].mean()),
        "max_abs_q_max": float(per_path["max_abs_q"].max()),
        "q_std_mean": float(per_path["q_std"].mean()),
        "spread_mean": float(np.nanmean(spread)) if np.isfinite(spread).any() else None,
        "fills_mean": float(per_path["fills"].mean()),
        "volume_mean": float(per_path["volume"].mean()),
        "spread_given_up_mean": float(per_path["spread_given_up"].mean()),
        "time_at_limit_frac": float(per_path["steps_at_limit"].sum(dtype=np.int64)) / path_steps if math.isfinite(limit) else 0.0,
        "time_in_yellow_frac": float(per_path["steps_yellow"].sum(dtype=np.int64)) / path_steps,
        "time_in_red_frac": float(per_path["steps_red"].sum(dtype=np.int64)) / path_steps,
        "time_in_critical_frac": float(per_path["steps_critical"].sum(dtype=np.int64)) / path_steps,
        "hedge_requests_mean": float(per_path["hedge_requests"].mean()),
        "kill_frac": float((kill > 0).mean()),
        "kill_loss_frac": float((kill == 1).mean()),
        "kill_drawdown_frac": float((kill == 2).mean()),
        "financing_mean": float(per_path["financing"].mean()),
        "fees_mean": float(per_path["fees"].mean()),
        "max_drawdown_mean": float(per_path["max_drawdown"].mean()),
        "var_95": var,
        "es_95": es,
        "ou_kappa": kappa,
        "half_life": half_life,
        "elapsed_s": elapsed_s,
        "path_steps_per_s": path_steps / elapsed_s if elapsed_s > 0 else None,
    }
    return {k: _clean(v) for k, v in out.items()}
