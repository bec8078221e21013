"""Seed 000's Stoll γ: the inventory-cost parameter regressed from a quote/inventory path.

Seed 000 (inventory-management-framework, "Empirical Application": "estimate γ
from historical spread-inventory correlation") fits spread on *signed*
inventory (``np.polyfit(inventory, spread, 1)``), which for a spread that
widens with |I| on both sides gives a slope near 0. flatbook's ``stoll`` policy
(:mod:`flatbook.policies.stoll`; Stoll 1978, J. Finance 33(4)) states what to
regress. With I = q − q* (lots), g = ``stoll_gamma`` (price units per lot):

    half-spread  h = (ask − bid)/2        = h0 + g·|I|        →  g = slope of h on |I|
    centre offset c = (bid + ask)/2 − mid = −2g·I (+ const)   →  g = −(slope of c on I)/2

Each is an ordinary least-squares line with an intercept (``scipy.stats.linregress``):
slope b̂ = Sxy/Sxx, SE(b̂) = √(s²/Sxx), s² = RSS/(n − 2), R² = 1 − RSS/Syy. When
both are available the reported g is their inverse-variance-weighted mean
(an exact fit, SE = 0, wins outright). The SEs assume uncorrelated residuals; on
a backtest's autocorrelated path they are too small.

Units: q and q* in lots, prices in price units, g in price units per lot — the
``stoll`` policy's ``stoll_gamma``; h0 its ``half_spread``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from . import CalibrationError, jsonable


@dataclass(frozen=True)
class LinFit:
    """y = intercept + slope·x by OLS: estimates, standard errors, R², n points."""

    slope: float
    slope_se: float
    intercept: float
    intercept_se: float
    r2: float
    n: int


def _ols(x: np.ndarray, y: np.ndarray) -> LinFit:
    r = stats.linregress(x, y)
    return LinFit(
        float(r.slope),
        float(r.stderr),
        float(r.intercept),
        float(r.intercept_stderr),
        float(r.rvalue) ** 2,
        int(x.size),
    )


@dataclass(frozen=True)
class StollGamma:
    """Stoll's g (``stoll_gamma``, price units per lot) from a quote/inventory path.

    ok / reason: False and why when g cannot be estimated (no variation in q or |q|).
    stoll_gamma, stoll_gamma_se: the combined estimate and its SE.
    g_spread, g_spread_se, half_spread: from h = h0 + g|I| (g and h0 = ``half_spread``, price units).
    g_centre, g_centre_se: from c = −2g·I + const. spread_fit / centre_fit: the two OLS lines (or None).
    n: points used; q_target: q* (lots).
    """

    ok: bool
    reason: str | None
    stoll_gamma: float
    stoll_gamma_se: float
    g_spread: float
    g_spread_se: float
    half_spread: float
    g_centre: float
    g_centre_se: float
    spread_fit: LinFit | None
    centre_fit: LinFit | None
    n: int
    q_target: float

    def require(self) -> StollGamma:
        if not self.ok:
            raise CalibrationError("stoll_gamma", self.reason or "not estimated")
        return self

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


def _combine(est: list[tuple[float, float]]) -> tuple[float, float]:
    """Inverse-variance-weighted mean of (estimate, SE) pairs; exact (SE 0) estimates win."""
    exact = [g for g, se in est if se == 0.0]
    if exact:
        return float(np.mean(exact)), 0.0
    w = np.array([1.0 / se**2 for _, se in est])
    g = np.array([g for g, _ in est])
    return float((w * g).sum() / w.sum()), float(1.0 / math.sqrt(w.sum()))


def fit_stoll_gamma(
    q, half_spread=None, centre_offset=None, *, q_target: float = 0.0, min_points: int = 3
) -> StollGamma:
    """Stoll's g from inventory ``q`` (lots) and the quoted ``half_spread`` and/or the quote
    ``centre_offset`` = centre − mid (price units), arrays of one length; non-finite rows are dropped
    per regression. ``ok=False`` when neither regression has variation in its regressor."""
    q = np.asarray(q, dtype=float)
    if half_spread is None and centre_offset is None:
        raise CalibrationError("half_spread", "give half_spread and/or centre_offset")
    nan = math.nan
    reasons: list[str] = []
    spread_fit = centre_fit = None
    est: list[tuple[float, float]] = []
    npts = 0
    for name, y in (("half_spread", half_spread), ("centre_offset", centre_offset)):
        if y is None:
            continue
        y = np.asarray(y, dtype=float)
        if y.shape != q.shape:
            raise CalibrationError(name, f"must have the shape of q {q.shape}; got {y.shape}")
        x = q - q_target
        if name == "half_spread":
            x = np.abs(x)
        good = np.isfinite(x) & np.isfinite(y)
        x, y = x[good], y[good]
        npts = max(npts, int(x.size))
        xlabel = "|q − q*|" if name == "half_spread" else "q − q*"
        if x.size < min_points:
            reasons.append(f"{name}: only {x.size} finite points (need at least {min_points})")
            continue
        if np.ptp(x) == 0.0:
            reasons.append(f"{name}: {xlabel} has no variation (always {x[0]:g} lots)")
            continue
        f = _ols(x, y)
        if name == "half_spread":
            spread_fit = f
            est.append((f.slope, f.slope_se))
        else:
            centre_fit = f
            est.append((-0.5 * f.slope, 0.5 * f.slope_se))
    if not est:
        return StollGamma(False, "; ".join(reasons), nan, nan, nan, nan, nan, nan, nan, None, None, npts, q_target)
    g, se = _combine(est)
    return StollGamma(
        True,
        "; ".join(reasons) or None,
        g,
        se,
        spread_fit.slope if spread_fit else nan,
        spread_fit.slope_se if spread_fit else nan,
        spread_fit.intercept if spread_fit else nan,
        -0.5 * centre_fit.slope if centre_fit else nan,
        0.5 * centre_fit.slope_se if centre_fit else nan,
        spread_fit,
        centre_fit,
        npts,
        q_target,
    )


def stoll_gamma_from_quotes(q, bid, ask, mid, *, q_target: float = 0.0) -> StollGamma:
    """:func:`fit_stoll_gamma` from quoted ``bid``, ``ask`` and the ``mid`` they were quoted at
    (price units; NaN where a side was not quoted — that row is dropped)."""
    bid, ask, mid = (np.asarray(a, dtype=float) for a in (bid, ask, mid))
    return fit_stoll_gamma(q, 0.5 * (ask - bid), 0.5 * (ask + bid) - mid, q_target=q_target)
