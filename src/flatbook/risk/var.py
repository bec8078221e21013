"""Portfolio VaR and ES by three methods, marginal and component VaR, and a correlation report.

Conventions (all methods):

- The book is a vector w of **exposures**, w_j = cash P&L per 1 price-unit move of instrument j
  (delta-equivalent lots × lot multiplier); price moves ΔS over a horizon of h **days** have
  covariance h·Σ, Σ in (price units)²/day; drift is taken as zero (Jorion, *Value at Risk*,
  3rd ed., §5.2: over short horizons the mean is negligible against the volatility).
- Loss L = −ΔP (cash). VaR_α is the α-quantile of L, ES_α = E[L | L >= VaR_α]; both are
  reported as positive losses (a negative value is a profit at that quantile). For samples the
  quantile is ``numpy.quantile`` (linear interpolation) and ES the mean of the samples >= VaR,
  clamped to >= VaR so that ES >= VaR holds exactly in floating point (the same rule as
  :func:`flatbook.sim.metrics.var_es`).
- **parametric** (delta-normal): ΔP = wᵀΔS ~ N(0, h·wᵀΣw), so VaR = z_α·σ_P·√h and
  ES = φ(z_α)/(1 − α)·σ_P·√h, σ_P = √(wᵀΣw) (the √h scaling is exact for i.i.d. normal daily
  moves). Options enter through their delta only: gamma and theta are ignored (use the Monte
  Carlo method with full revaluation for them).
- **historical**: each observed daily change D_s (price units) is scaled to the horizon as
  √h·D_s (Jorion's square-root-of-time rule) and applied to today's book.
- **Monte Carlo**: ΔS = √h·L·Z, Σ = L·Lᵀ (Cholesky; an eigen-factor when Σ is only semi-definite),
  Z standard normal from ``numpy.random.default_rng(seed)`` (fixed seed: reproducible).
- Historical and Monte Carlo either use the linear P&L wᵀΔS or, with a :class:`Revaluation`,
  revalue every option by Black–Scholes at S + ΔS with expiries rolled down by h days (full
  revaluation: gamma and theta included).

Allocation (Euler; D. Tasche, "Risk contributions and performance measurement", 2000; Jorion
ch. 7): marginal VaR ∂VaR/∂w_i, component VaR w_i·∂VaR/∂w_i, Σ_i component = VaR because VaR is
homogeneous of degree 1 in w. Parametric: ∂VaR/∂w = z_α·√h·Σw/σ_P (exact). Historical and
Monte Carlo: ∂VaR/∂w_i = E[−ΔS_i | L = VaR] (Gouriéroux, Laurent & Scaillet 2000), estimated by
the mean over the 2m + 1 scenarios whose loss ranks are centred on the VaR order statistic,
m = max(2, ⌊√n/4⌋) (Hallerbach 2003); the window mean of the loss is close to, not equal to,
VaR, so the estimates are scaled by VaR/(window mean loss) to sum to VaR exactly. ES
components are E[−ΔP_i | L >= VaR] (exact Euler allocation of the sample ES, scaled likewise
when the clamp is active). With full revaluation, component_i is the P&L of every position on
instrument i and marginal_i = component_i/w_i (NaN where w_i = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtri

from ..errors import InputError
from ..jsonutil import readonly
from .greeks import OptionSet, book_greeks
from .memory import MC_CHUNK_VALUES, mc_bytes, require

METHODS = ("parametric", "historical", "monte-carlo")
CI_Z = 1.959963984540054
"""z of the two-sided 95% interval for VaR (distribution-free, from order statistics)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class VaRResult:
    """VaR and ES (cash, positive = loss) at ``confidence`` α over ``horizon`` days, with the
    Euler allocation per instrument: ``marginal`` ∂VaR/∂w_i (price units: VaR per unit of
    exposure), ``component`` w_i·∂VaR/∂w_i (cash, sums to ``var``), ``component_es`` (cash, sums
    to ``es``). ``var_ci``: 95% interval of a sample VaR from order statistics (None for
    parametric); ``n_scenarios``: sample size (None for parametric)."""

    method: str
    confidence: float
    horizon: float
    var: float
    es: float
    marginal: np.ndarray
    component: np.ndarray
    component_es: np.ndarray
    n_scenarios: int | None = None
    var_ci: tuple[float, float] | None = None
    full_revaluation: bool = False
    note: str = ""
    label: str = ""
    """What the method is, as the table shows it: e.g. ``historical (from history.csv)`` or ``historical
    (simulated history: no [history] file given)``; the method name when empty."""

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.method)

    def as_dict(self, names: list[str] | None = None) -> dict:
        names = names if names is not None else [str(i) for i in range(self.component.size)]
        return {
            "method": self.method,
            "label": self.label,
            "confidence": self.confidence,
            "horizon_days": self.horizon,
            "var": self.var,
            "es": self.es,
            "n_scenarios": self.n_scenarios,
            "var_ci95": list(self.var_ci) if self.var_ci is not None else None,
            "full_revaluation": self.full_revaluation,
            "note": self.note,
            "contributions": [
                {"instrument": n, "marginal_var": float(mv), "component_var": float(c), "component_es": float(ce)}
                for n, mv, c, ce in zip(names, self.marginal, self.component, self.component_es)
            ],
        }


@dataclass(frozen=True, eq=False)
class Revaluation:
    """Full revaluation of a book with options: per-instrument P&L for a price move ΔS is
    ``linear``_j·ΔS_j plus, for the options on j, V(S + ΔS, T − h/days_per_year) − V(S, T)
    (cash). ``linear`` is the stock exposure q_j·m_j (cash per price unit)."""

    options: OptionSet
    prices: np.ndarray
    linear: np.ndarray
    days_per_year: float = 252.0

    def pnl(self, dS: np.ndarray, horizon: float) -> np.ndarray:
        """Per-instrument P&L (n, d) for price-move rows dS (n, d)."""
        el = horizon / self.days_per_year
        v0 = self.options.value_by_instrument(self.prices)
        v1 = self.options.value_by_instrument(self.prices + dS, elapsed_years=el)
        return dS * self.linear + (v1 - v0)


# --------------------------------------------------------------------------- checks


def _confidence(alpha) -> float:
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise InputError("confidence", f"got {alpha!r}; allowed: a number strictly between 0 and 1")
    return a


def _horizon(h) -> float:
    x = float(h)
    if not (x > 0 and math.isfinite(x)):
        raise InputError("horizon", f"got {h!r}; allowed: a number > 0 (days)")
    return x


def _vec(w) -> np.ndarray:
    w = np.asarray(w, dtype=float).reshape(-1)
    if not np.all(np.isfinite(w)):
        raise InputError("w", "allowed: finite exposures (cash per price unit)")
    return w


def _cov(cov, d: int) -> np.ndarray:
    c = np.asarray(cov, dtype=float)
    if c.shape != (d, d) or not np.all(np.isfinite(c)):
        raise InputError("cov", f"got shape {c.shape}; allowed: a finite {d}×{d} covariance ((price units)²/day)")
    return c


# --------------------------------------------------------------------------- sample VaR/ES


def var_es(pnl, confidence: float = 0.99) -> tuple[float, float]:
    """(VaR, ES) of the loss −pnl at ``confidence``: VaR = numpy.quantile (linear), ES = mean of
    the losses >= VaR, clamped so that ES >= VaR exactly (as :func:`flatbook.sim.metrics.var_es`)."""
    a = _confidence(confidence)
    loss = -np.asarray(pnl, dtype=float).reshape(-1)
    if loss.size == 0:
        raise InputError("pnl", "allowed: at least one P&L value")
    v = float(np.quantile(loss, a))
    tail = loss[loss >= v]
    es = float(tail.mean()) if tail.size else v
    return v, max(es, v)


def quantile_ci(loss: np.ndarray, confidence: float, z: float = CI_Z) -> tuple[float, float]:
    """Distribution-free interval for the α-quantile from order statistics: ranks
    nα ± z·√(nα(1 − α)) (normal approximation to the binomial count below the quantile)."""
    n = loss.size
    half = z * math.sqrt(n * confidence * (1.0 - confidence))
    lo = int(min(max(math.floor(n * confidence - half), 0), n - 1))
    hi = int(min(max(math.ceil(n * confidence + half), 0), n - 1))
    part = np.partition(loss, (lo, hi))
    return float(part[lo]), float(part[hi])


def _window(n: int, confidence: float) -> tuple[int, int]:
    """Ascending ranks [lo, hi] of the window centred on the VaR order statistic (see module)."""
    p = confidence * (n - 1)
    m = max(2, int(math.isqrt(n) // 4))
    return max(0, math.floor(p) - m), min(n - 1, math.ceil(p) + m)


def _allocate(
    var: float,
    es: float,
    loss_sorted: np.ndarray,
    P_sorted: np.ndarray,
    dS_sorted: np.ndarray | None,
    win: tuple[int, int],
    n_lo: int,
    w: np.ndarray,
    linear: bool,
) -> tuple[np.ndarray, ...]:
    """Marginal, component VaR and component ES from scenarios sorted by ascending loss.

    ``loss_sorted``, ``P_sorted`` (per-instrument P&L) and ``dS_sorted`` cover the ascending ranks
    n_lo … n − 1 (the top of the distribution: the window and the tail)."""
    a, b = win[0] - n_lo, win[1] - n_lo + 1
    wl = loss_sorted[a:b]
    raw = -P_sorted[a:b].mean(axis=0)
    lw = float(wl.mean())
    scale = var / lw if lw != 0 else 1.0
    comp = raw * scale
    if linear and dS_sorted is not None:
        marg = -dS_sorted[a:b].mean(axis=0) * scale
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            marg = np.where(w != 0, comp / np.where(w != 0, w, 1.0), np.nan)
    tail = loss_sorted >= var
    if np.any(tail):
        raw_es = -P_sorted[tail].mean(axis=0)
        tl = float(loss_sorted[tail].mean())
        comp_es = raw_es * (es / tl if tl != 0 else 1.0)
    else:
        comp_es = comp.copy()
    return marg, comp, comp_es


# --------------------------------------------------------------------------- parametric


def parametric_var(w, cov, confidence: float = 0.99, horizon: float = 1.0) -> VaRResult:
    """Delta-normal VaR and ES with exact Euler contributions (see the module docstring).

    VaR = z_α·√(h·wᵀΣw), ES = φ(z_α)/(1 − α)·√(h·wᵀΣw); ∂VaR/∂w = z_α·√h·Σw/σ_P,
    component_i = w_i·∂VaR/∂w_i (Σ = VaR), ES likewise with φ(z_α)/(1 − α) for z_α.
    σ_P² is summed exactly rounded (``math.fsum``), so Σ components = VaR to rounding of the
    components themselves. A flat book (σ_P = 0) has VaR = ES = 0 and marginals z_α·√h·σ_i."""
    a, h = _confidence(confidence), _horizon(horizon)
    w = _vec(w)
    S = _cov(cov, w.size)
    Sw = S @ w
    var_p = max(math.fsum((w * Sw).tolist()), 0.0)
    sig = math.sqrt(var_p)
    z = float(ndtri(a))
    k_es = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) / (1.0 - a)
    sh = math.sqrt(h)
    if sig > 0:
        g = Sw / sig  # ∂σ_P/∂w
    else:
        g = np.sqrt(np.maximum(np.diag(S), 0.0))
    return VaRResult(
        "parametric",
        a,
        h,
        z * sig * sh,
        k_es * sig * sh,
        readonly(z * sh * g),
        readonly(w * (z * sh * g)),
        readonly(w * (k_es * sh * g)),
        note="delta-normal: options by their delta (gamma, theta ignored); zero drift; √h scaling",
    )


# --------------------------------------------------------------------------- historical


def historical_var(
    w, changes, confidence: float = 0.99, horizon: float = 1.0, *, revaluation: Revaluation | None = None
) -> VaRResult:
    """Historical-simulation VaR and ES from a matrix of daily price changes (n × d, price
    units), each scaled by √h; linear P&L wᵀΔS, or full revaluation with ``revaluation``."""
    a, h = _confidence(confidence), _horizon(horizon)
    w = _vec(w)
    D = np.asarray(changes, dtype=float)
    if D.ndim != 2 or D.shape[1] != w.size or D.shape[0] < 2 or not np.all(np.isfinite(D)):
        raise InputError(
            "changes", f"got shape {D.shape}; allowed: a finite n × {w.size} matrix of daily price changes, n >= 2"
        )
    dS = math.sqrt(h) * D
    P = revaluation.pnl(dS, h) if revaluation is not None else dS * w
    loss = -P.sum(axis=1)
    v, es = var_es(-loss, a)
    order = np.argsort(loss, kind="stable")
    n = loss.size
    marg, comp, comp_es = _allocate(v, es, loss[order], P[order], dS[order], _window(n, a), 0, w, revaluation is None)
    return VaRResult(
        "historical",
        a,
        h,
        v,
        es,
        readonly(marg),
        readonly(comp),
        readonly(comp_es),
        n,
        quantile_ci(loss, a),
        revaluation is not None,
        note="historical simulation, daily changes scaled by √h",
    )


# --------------------------------------------------------------------------- Monte Carlo


def _factor(S: np.ndarray) -> tuple[np.ndarray, bool]:
    """(L, lower-triangular?) with L·Lᵀ = S: Cholesky, else the eigen-factor V·√max(λ, 0)."""
    try:
        return np.linalg.cholesky(S), True
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(S)
        return V * np.sqrt(np.maximum(lam, 0.0)), False


def cov_factor(cov) -> np.ndarray:
    """L with L·Lᵀ = Σ: Cholesky, or V·√max(λ, 0) from the eigen-decomposition when Σ is only
    positive semi-definite (e.g. correlations of ±1)."""
    return _factor(np.asarray(cov, dtype=float))[0]


def monte_carlo_var(
    w,
    cov,
    confidence: float = 0.99,
    horizon: float = 1.0,
    n: int = 100_000,
    seed: int = 0,
    *,
    revaluation: Revaluation | None = None,
) -> VaRResult:
    """Monte Carlo VaR and ES: n scenarios ΔS ~ N(0, h·Σ) from a fixed seed.

    Normals are drawn in chunks of ~4M values; per chunk the linear P&L is Z·(√h·Lᵀw). With
    full revaluation the instruments are reordered so that the m option underlyings come first:
    with a Cholesky factor their moves are then √h·Z[:, :m]·L[:m, :m]ᵀ (O(n·m²), not O(n·m·d)),
    and only the options are repriced. Only the top n − (window start) scenarios by loss keep
    their normals, so memory is O(chunk + (1 − α)·n·d) and the allocation (module docstring)
    is exact on those rows."""
    a, h = _confidence(confidence), _horizon(horizon)
    w = _vec(w)
    d = w.size
    S = _cov(cov, d)
    if isinstance(n, bool) or int(n) != n or n < 100:
        raise InputError("mc_scenarios", f"got {n!r}; allowed: an integer >= 100")
    n = int(n)
    n_opt = revaluation.options.n if revaluation is not None else 0
    require("mc_scenarios", n, lambda k: mc_bytes(k, d, n_opt, a), "Monte Carlo scenarios")
    sh = math.sqrt(h)
    if revaluation is not None:
        U = revaluation.options.underlyings
        perm = np.concatenate((U, np.setdiff1d(np.arange(d), U)))
    else:
        U = np.empty(0, dtype=np.intp)
        perm = np.arange(d)
    m = U.size
    L, tri = _factor(S[np.ix_(perm, perm)])
    lin = (revaluation.linear if revaluation is not None else w)[perm]
    a_lin = sh * (L.T @ lin)
    if revaluation is not None:
        cols = m if tri else d  # triangular: the first m moves depend on the first m normals only
        LU = sh * L[:m, :cols]
        sub = replace(revaluation.options, underlying=np.searchsorted(U, revaluation.options.underlying), d=m)
        SU = revaluation.prices[U]
        v0 = sub.value(SU).sum()
        el = h / revaluation.days_per_year
    win = _window(n, a)
    keep = n - win[0]
    rng = np.random.default_rng(seed)
    rows = max(1, MC_CHUNK_VALUES // max(d, 1))
    loss = np.empty(n)
    cand_z = np.empty((0, d))
    cand_loss = np.empty(0)
    cand_idx = np.empty(0, dtype=np.intp)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        Z = rng.standard_normal((stop - start, d))
        pnl = Z @ a_lin
        if revaluation is not None:
            pnl += sub.value(SU + Z[:, :cols] @ LU.T, elapsed_years=el).sum(axis=1) - v0
        lc = -pnl
        loss[start:stop] = lc
        k = min(keep, lc.size)
        top = np.argpartition(lc, lc.size - k)[lc.size - k :] if k < lc.size else np.arange(lc.size)
        cand_z = np.concatenate((cand_z, Z[top]))
        cand_loss = np.concatenate((cand_loss, lc[top]))
        cand_idx = np.concatenate((cand_idx, top + start))
        if cand_loss.size > 2 * keep:
            t = np.argpartition(cand_loss, cand_loss.size - keep)[cand_loss.size - keep :]
            cand_z, cand_loss, cand_idx = cand_z[t], cand_loss[t], cand_idx[t]
    if cand_loss.size > keep:
        t = np.argpartition(cand_loss, cand_loss.size - keep)[cand_loss.size - keep :]
        cand_z, cand_loss, cand_idx = cand_z[t], cand_loss[t], cand_idx[t]
    v, es = var_es(-loss, a)
    order = np.lexsort((cand_idx, cand_loss))
    dS = np.empty((order.size, d))
    dS[:, perm] = (sh * cand_z[order]) @ L.T
    P = revaluation.pnl(dS, h) if revaluation is not None else dS * w
    marg, comp, comp_es = _allocate(v, es, cand_loss[order], P, dS, win, n - keep, w, revaluation is None)
    return VaRResult(
        "monte-carlo",
        a,
        h,
        v,
        es,
        readonly(marg),
        readonly(comp),
        readonly(comp_es),
        n,
        quantile_ci(loss, a),
        revaluation is not None,
        note=f"multivariate normal, seed {seed}",
    )


# --------------------------------------------------------------------------- correlation report


def correlation_report(corr, names: list[str], top: int = 10) -> dict:
    """The correlation matrix, its eigenvalues (descending; their sum is d), the share of the
    largest one, the effective number of independent factors (Σλ)²/Σλ² (participation ratio),
    and the ``top`` pairs by |ρ| (descending)."""
    C = np.asarray(corr, dtype=float)
    d = C.shape[0]
    ev = np.linalg.eigvalsh(C)[::-1]
    ev = np.maximum(ev, 0.0)
    pairs = []
    if d > 1 and top > 0:
        iu, ju = np.triu_indices(d, 1)
        r = C[iu, ju]
        k = min(top, r.size)
        idx = np.argpartition(-np.abs(r), k - 1)[:k]
        idx = idx[np.lexsort((idx, -np.abs(r[idx])))]
        pairs = [{"a": names[iu[t]], "b": names[ju[t]], "rho": float(r[t])} for t in idx]
    s1, s2 = float(ev.sum()), float((ev * ev).sum())
    return {
        "names": list(names),
        "matrix": C,
        "eigenvalues": ev,
        "largest_eigenvalue_share": float(ev[0] / s1) if s1 > 0 else None,
        "effective_factors": s1 * s1 / s2 if s2 > 0 else None,
        "top_pairs": pairs,
    }


# --------------------------------------------------------------------------- a book


def simulated_history(cov, days: int, seed: int) -> np.ndarray:
    """``days`` i.i.d. normal daily price changes N(0, Σ) (a stand-in history, seed ``seed``)."""
    L = cov_factor(cov)
    return np.random.default_rng(seed).standard_normal((days, L.shape[0])) @ L.T


def book_var(
    book,
    methods: tuple[str, ...] = METHODS,
    *,
    confidence: float | None = None,
    horizon: float | None = None,
    mc_scenarios: int | None = None,
    seed: int | None = None,
    greeks=None,
) -> dict[str, VaRResult]:
    """VaR/ES of a :class:`~flatbook.risk.book.Book` by each method in ``methods``; settings default
    to the book's ``[risk]`` table. Historical uses ``[history]`` or, without it, a simulated
    normal history of ``history_days`` days (seed + 1). Options are fully revalued in historical
    and Monte Carlo when ``full_revaluation`` is true (the default)."""
    r = book.risk
    a = r.confidence if confidence is None else confidence
    h = r.horizon if horizon is None else horizon
    n = r.mc_scenarios if mc_scenarios is None else mc_scenarios
    s = r.seed if seed is None else seed
    g = greeks if greeks is not None else book_greeks(book)
    os_ = book.option_set()
    rev = (
        Revaluation(os_, book.prices, g.linear_exposure, book.days_per_year)
        if os_ is not None and r.full_revaluation
        else None
    )
    out: dict[str, VaRResult] = {}
    for m in methods:
        if m == "parametric":
            out[m] = parametric_var(g.exposure, book.cov, a, h)
        elif m == "historical":
            hist = book.history if book.history is not None else simulated_history(book.cov, r.history_days, s + 1)
            res = historical_var(g.exposure, hist, a, h, revaluation=rev)
            if book.history is not None:
                label, src = f"historical (from {book.history_file})", book.history_source
            else:
                label = "historical (simulated history: no [history] file given)"
                src = (
                    f"a simulated normal history N(0, Σ), {r.history_days} days, seed {s + 1}: the book's own "
                    "covariance, not market history"
                )
            out[m] = replace(res, note=f"{res.note}; {src}", label=label)
        elif m == "monte-carlo":
            out[m] = monte_carlo_var(g.exposure, book.cov, a, h, n, s, revaluation=rev)
        else:
            raise InputError("method", f"got {m!r}; allowed: {', '.join(METHODS)}")
    return out
