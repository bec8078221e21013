"""Execution schedules for working a hedge: immediate, TWAP, VWAP and Almgren–Chriss.

A schedule sells (X > 0) or buys (X < 0) a position of X over a horizon T cut
into N steps of length τ = T/N, at times t_k = k·τ. ``holdings`` are
x_0 = X, …, x_N (what is left after step k; x_N = 0 unless a VWAP participation
cap left some of it unfilled) and ``trades`` are n_k = x_{k−1} − x_k,
k = 1…N (Almgren & Chriss 2000, §1.1).

Every schedule is priced with the Almgren–Chriss linear cost model
(R. Almgren & N. Chriss, "Optimal execution of portfolio transactions",
J. Risk 3(2), 2000, 5–39; equation numbers below are theirs):

- temporary impact h(v) = ε·sgn(v) + η·v per share at trading rate v = n_k/τ (eq. 7),
- permanent impact g(v) = γ·v (eq. 6),
- expected cost E = ½γX² + ε·Σ|n_k| + (η̃/τ)·Σn_k², η̃ = η − ½γτ (eq. 8),
- variance V = σ²·τ·Σ_{k=1..N} x_k² (eq. 5).

Units. Almgren–Chriss quote shares, $/share and days; flatbook's simulator uses
lots, price units and time units. The mapping is one-to-one:

=================  =============================  ==========================================
symbol             Almgren–Chriss                 flatbook
=================  =============================  ==========================================
X, x_k, n_k        shares                         lots
T, τ, t_k          days                           time units
σ                  ($/share)/√day                 price units/√(time unit)
ε                  $/share                        price units
η                  ($/share)/(share/day)          price units/(lot per time unit)
γ                  ($/share)/share                price units/lot
λ (risk aversion)  1/$                            1/(price units × lots)
E, √V              $                              price units × lots (cash)
V                  $²                             (price units × lots)²
κ                  1/day                          1/time unit
=================  =============================  ==========================================

Everything here is pure numpy and validates its arguments: bad input raises
:class:`~flatbook.errors.InputError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np

from ..errors import InputError
from ..jsonutil import readonly
from ..validate import check_count, check_real
from .schedule_methods import METHODS, VOLUME_CURVES

U_CURVATURE = 8.0
"""c in the U-shaped intraday volume density v(u) ∝ 1 + c·(u − ½)², u ∈ [0, 1]: with c = 8 the
market trades 3× as much per unit time at the open and the close (u = 0, 1) as at midday."""
FRONTIER_POINTS = 25
FRONTIER_DECADES = (-2.0, 4.0)
"""Default frontier grid: λ = 0 and FRONTIER_POINTS values log-spaced over λ*·10^(−2…4),
λ* = η̃/(σ²T²) (where κ̃T = 1), i.e. κ̃T from 0.1 to 100."""
_LINEAR_BELOW = 1e-100  # κT below this: sinh(κ(T − t))/sinh(κT) = (T − t)/T to O((κT)²), i.e. exactly in doubles


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Schedule:
    """One execution schedule and its Almgren–Chriss cost (units: see the module docstring).

    ``times`` t_k = k·τ, ``holdings`` x_k (N+1 values, x_0 = X), ``trades`` n_k = x_{k−1} − x_k
    (N values, same sign as X); ``expected_cost`` E (eq. 8, $) and ``variance`` V (eq. 5, $²) of
    the implementation shortfall; ``kappa`` κ (1/day): 0 for TWAP, +inf for immediate, None for
    VWAP; ``eta_tilde`` η̃ = η − ½γτ; ``unfilled`` what a VWAP participation cap left (= x_N,
    same sign as X; 0 otherwise).
    """

    method: str
    X: float
    T: float
    N: int
    tau: float
    sigma: float
    eta: float
    epsilon: float
    gamma: float
    risk_aversion: float | None
    times: np.ndarray
    holdings: np.ndarray
    trades: np.ndarray
    expected_cost: float
    variance: float
    kappa: float | None
    eta_tilde: float
    unfilled: float = 0.0

    @property
    def std(self) -> float:
        """√V ($)."""
        return math.sqrt(self.variance) if self.variance >= 0 else math.nan

    @property
    def fractions(self) -> np.ndarray:
        """n_k / X (sums to 1 − unfilled/X); zeros when X = 0."""
        return self.trades / self.X if self.X != 0 else np.zeros_like(self.trades)

    def params(self) -> dict:
        return {
            "X": self.X,
            "T": self.T,
            "N": self.N,
            "tau": self.tau,
            "sigma": self.sigma,
            "eta": self.eta,
            "epsilon": self.epsilon,
            "gamma": self.gamma,
            "risk_aversion": self.risk_aversion,
        }

    def as_dict(self) -> dict:
        """Plain Python values (lists, floats; +inf stays a float: JSON writers map it to null)."""
        return {
            "method": self.method,
            "params": self.params(),
            "times": self.times.tolist(),
            "holdings": self.holdings.tolist(),
            "trades": self.trades.tolist(),
            "expected_cost": self.expected_cost,
            "variance": self.variance,
            "std": self.std,
            "kappa": self.kappa,
            "eta_tilde": self.eta_tilde,
            "tau": self.tau,
            "unfilled": self.unfilled,
        }


@dataclass(frozen=True, eq=False)
class Frontier:
    """The efficient frontier (Almgren & Chriss 2000, §2.1, §2.4): for each risk aversion λ (1/$,
    ascending) the expected cost E ($, non-decreasing) and variance V ($², non-increasing) of the
    optimal trajectory, and its κ (1/day)."""

    risk_aversion: np.ndarray
    expected_cost: np.ndarray
    variance: np.ndarray
    kappa: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def rows(self) -> list[dict]:
        """[{risk_aversion, expected_cost, variance, std, kappa}, …] in ascending λ."""
        return [
            {
                "risk_aversion": float(lam),
                "expected_cost": float(e),
                "variance": float(v),
                "std": float(math.sqrt(v)),
                "kappa": float(k),
            }
            for lam, e, v, k in zip(self.risk_aversion, self.expected_cost, self.variance, self.kappa)
        ]


# --------------------------------------------------------------------------- validation


def _real(
    field: str, value, *, lo: float | None = None, lo_open: bool = False, hi: float | None = None, what: str = ""
) -> float:
    return check_real(field, value, lo=lo, lo_open=lo_open, hi=hi, unit=what)


def _steps(field: str, value) -> int:
    return check_count(field, value, 1, "number of steps")


def _common(X, T, N, sigma, eta, epsilon, gamma) -> tuple[float, float, int, float, float, float, float, float]:
    X = _real("X", X, what="shares = lots; < 0 buys")
    T = _real("T", T, lo=0.0, lo_open=True, what="days = time units")
    N = _steps("N", N)
    sigma = _real("sigma", sigma, lo=0.0, what="$/share per √day")
    eta = _real("eta", eta, lo=0.0, what="$/share per share/day")
    epsilon = _real("epsilon", epsilon, lo=0.0, what="$/share")
    gamma = _real("gamma", gamma, lo=0.0, what="$/share per share")
    return X, T, N, T / N, sigma, eta, epsilon, gamma


def _eta_tilde(eta: float, gamma: float, tau: float) -> float:
    """η̃ = η − ½γτ (eq. 8), required > 0 for the Almgren–Chriss optimum (E strictly convex)."""
    et = eta - 0.5 * gamma * tau
    if not et > 0:
        if gamma == 0:
            raise InputError("eta", f"got {eta:g}; allowed: a number > 0 for almgren-chriss (η̃ = η − γτ/2 must be > 0)")
        raise InputError(
            "gamma",
            f"got {gamma:g}; allowed: gamma < 2·eta/tau = {2 * eta / tau:g} "
            f"(η̃ = η − γτ/2 must be > 0; eta = {eta:g}, tau = {tau:g})",
        )
    return et


# --------------------------------------------------------------------------- the Almgren–Chriss trajectory


def ac_kappa(tau: float, sigma: float, eta_tilde: float, risk_aversion: float) -> float:
    """κ of the discrete trajectory: (2/τ²)(cosh κτ − 1) = κ̃² = λσ²/η̃ (Almgren & Chriss 2000, §2.2,
    after eq. 16), solved as κ = (2/τ)·asinh(κ̃τ/2) (cosh a − 1 = 2 sinh²(a/2): no cancellation
    for small κτ, no overflow for large). 1/day; 0 when λσ² = 0; +inf if λσ²/η̃ overflows."""
    kt2 = risk_aversion * sigma * sigma / eta_tilde
    if kt2 == 0:
        return 0.0
    k = 2.0 / tau * math.asinh(math.sqrt(kt2) * tau / 2.0)
    return k if math.isfinite(k) else math.inf


def _linear(X: float, N: int) -> np.ndarray:
    """X·(N − k)/N, k = 0…N: the straight line (eq. 9), exact at both ends."""
    return X * np.arange(N, -1, -1, dtype=float) / N


def _ac_ratio(kappa_tau: float, N: int) -> np.ndarray:
    """x_k/X = sinh(κ(T − t_k))/sinh(κT), k = 0…N (eq. 17), with a = κτ(N − k), b = κτN written as
    e^(−κτk)·(1 − e^(−2a))/(1 − e^(−2b)): no overflow for large κT. Exactly 1 at k = 0 and 0 at
    k = N; the straight line when κT < 1e-100 (the difference is O((κT)²)); [1, 0, …, 0] for κ = ∞."""
    if not math.isfinite(kappa_tau):
        r = np.zeros(N + 1)
        r[0] = 1.0
        return r
    if kappa_tau * N < _LINEAR_BELOW:
        return _linear(1.0, N)
    k = np.arange(N + 1, dtype=float)
    e = np.expm1(-2.0 * kappa_tau * (N - k))
    r = np.exp(-kappa_tau * k) * (e / e[0])
    r[0] = 1.0  # e^0·e_0/e_0, written out: no rounding
    return r


# --------------------------------------------------------------------------- costs


def _expected_cost(
    X: float, trades: np.ndarray, remaining: float, tau: float, epsilon: float, eta_tilde: float, gamma: float
) -> float:
    """E = ½γ(X² − x_N²) + ε·Σ|n_k| + (η̃/τ)·Σn_k² (eq. 8; x_N = 0 there). The ½γ term is
    γ·Σ x_k·n_k summed by parts (§1.5), which with a remainder x_N ≠ 0 is ½γ(X² − x_N²) − ½γΣn_k²."""
    e = 0.5 * gamma * X * X - 0.5 * gamma * remaining * remaining
    if epsilon:
        e += epsilon * float(np.sum(np.abs(trades)))
    if eta_tilde:
        e += eta_tilde / tau * float(np.sum(trades * trades))
    return float(e)


def _variance(holdings: np.ndarray, tau: float, sigma: float) -> float:
    """V = σ²·τ·Σ_{k=1..N} x_k² (eq. 5), summed as Σ(σ√τ·x_k)² (0, not NaN, when σ = 0)."""
    s = sigma * math.sqrt(tau) * holdings[1:]
    return float(np.sum(s * s))


def _schedule(
    method: str,
    X: float,
    T: float,
    N: int,
    tau: float,
    sigma: float,
    eta: float,
    epsilon: float,
    gamma: float,
    holdings: np.ndarray,
    *,
    trades: np.ndarray | None = None,
    risk_aversion: float | None = None,
    kappa: float | None = None,
    unfilled: float = 0.0,
) -> Schedule:
    if trades is None:
        trades = holdings[:-1] - holdings[1:]
    et = eta - 0.5 * gamma * tau
    return Schedule(
        method=method,
        X=X,
        T=T,
        N=N,
        tau=tau,
        sigma=sigma,
        eta=eta,
        epsilon=epsilon,
        gamma=gamma,
        risk_aversion=risk_aversion,
        times=readonly(T * np.arange(N + 1) / N),
        holdings=readonly(holdings),
        trades=readonly(trades),
        expected_cost=_expected_cost(X, trades, float(holdings[-1]), tau, epsilon, et, gamma),
        variance=_variance(holdings, tau, sigma),
        kappa=kappa,
        eta_tilde=et,
        unfilled=unfilled,
    )


# --------------------------------------------------------------------------- schedules


def almgren_chriss(
    X: float,
    T: float,
    N: int,
    sigma: float,
    eta: float,
    epsilon: float = 0.0,
    gamma: float = 0.0,
    risk_aversion: float = 0.0,
) -> Schedule:
    """The mean–variance optimal static schedule minimising E + λV (Almgren & Chriss 2000, eq. 15):
    x_k = X·sinh(κ(T − t_k))/sinh(κT) (eq. 17), κ from (2/τ²)(cosh κτ − 1) = λσ²/η̃. λ = 0 gives
    the straight line x_k = X(N − k)/N exactly (eq. 9); λ → ∞ tends to selling everything in the
    first step (eq. 12). Requires η̃ = η − ½γτ > 0 and λ >= 0 (the paper's risk-loving λ < 0 is
    not offered). Units: see the module docstring."""
    X, T, N, tau, sigma, eta, epsilon, gamma = _common(X, T, N, sigma, eta, epsilon, gamma)
    lam = _real("risk_aversion", risk_aversion, lo=0.0, what="λ, 1/$")
    et = _eta_tilde(eta, gamma, tau)
    kappa = ac_kappa(tau, sigma, et, lam)
    holdings = _linear(X, N) if kappa * T < _LINEAR_BELOW else X * _ac_ratio(kappa * tau, N)
    return _schedule(
        "almgren-chriss", X, T, N, tau, sigma, eta, epsilon, gamma, holdings, risk_aversion=lam, kappa=kappa
    )


def twap(
    X: float, T: float, N: int, sigma: float = 0.0, eta: float = 0.0, epsilon: float = 0.0, gamma: float = 0.0
) -> Schedule:
    """Equal slices n_k = X/N, x_k = X(N − k)/N (Almgren & Chriss 2000, eq. 9): the λ = 0 optimum.
    E = ½γX² + εX + η̃X²/T (eq. 10), V = ⅓σ²X²T(1 − 1/N)(1 − 1/(2N)) (eq. 11). κ = 0."""
    X, T, N, tau, sigma, eta, epsilon, gamma = _common(X, T, N, sigma, eta, epsilon, gamma)
    return _schedule("twap", X, T, N, tau, sigma, eta, epsilon, gamma, _linear(X, N), kappa=0.0)


def immediate(
    X: float, T: float = 1.0, N: int = 1, sigma: float = 0.0, eta: float = 0.0, epsilon: float = 0.0, gamma: float = 0.0
) -> Schedule:
    """Everything in the first of N steps of length τ = T/N: n_1 = X, x_1 = … = x_N = 0 (Almgren &
    Chriss 2000, eq. 12), the λ → ∞ limit. E = εX + ηX²/τ, V = 0 (eq. 13). κ = +inf."""
    X, T, N, tau, sigma, eta, epsilon, gamma = _common(X, T, N, sigma, eta, epsilon, gamma)
    holdings = np.zeros(N + 1)
    holdings[0] = X
    return _schedule("immediate", X, T, N, tau, sigma, eta, epsilon, gamma, holdings, kappa=math.inf)


def volume_curve(kind: str, N: int) -> np.ndarray:
    """The market's share of the horizon's volume in each of N equal steps (sums to 1).

    ``flat``: 1/N each. ``u``: a stylised U-shaped intraday profile, density
    v(u) ∝ 1 + c·(u − ½)² over the elapsed fraction u ∈ [0, 1] of the horizon, c = 8
    (:data:`U_CURVATURE`: 3× the midday rate at the open and close; a choice, not a fit),
    integrated exactly over each step: w_k = [Δu + c/3·((u_k − ½)³ − (u_{k−1} − ½)³)]/(1 + c/12)."""
    N = _steps("N", N)
    if kind == "flat":
        return np.full(N, 1.0 / N)
    if kind == "u":
        u = np.arange(N + 1, dtype=float) / N - 0.5
        c = U_CURVATURE
        w = np.diff(u) + c / 3.0 * np.diff(u**3)
        return w / w.sum()
    raise InputError("volume_curve", f"got {kind!r}; allowed: {', '.join(VOLUME_CURVES)} or an array of N weights")


def _curve(curve, N: int) -> np.ndarray:
    if isinstance(curve, str):
        return volume_curve(curve, N)
    try:
        w = np.asarray(curve, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "volume_curve", f"got {curve!r}; allowed: {', '.join(VOLUME_CURVES)} or an array of N weights >= 0"
        ) from None
    if w.shape != (N,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise InputError(
            "volume_curve",
            f"got an array of shape {w.shape}; allowed: {N} finite weights (one per step) >= 0 with a positive sum",
        )
    return w / w.sum()


def vwap(
    X: float,
    T: float,
    N: int,
    volume_curve: str | Sequence[float] | np.ndarray = "u",
    participation_cap: float | None = None,
    market_volume: float | Sequence[float] | np.ndarray | None = None,
    sigma: float = 0.0,
    eta: float = 0.0,
    epsilon: float = 0.0,
    gamma: float = 0.0,
) -> Schedule:
    """Slices proportional to the market's volume curve: n_k = X·w_k (w: ``"flat"``, ``"u"``, see
    :func:`volume_curve`, or N weights, normalised).

    With ``participation_cap`` P ∈ (0, 1] and ``market_volume`` (shares over the whole horizon,
    spread by the curve, or N per-step volumes) each step trades at most P·m_k: the wanted
    |X|·w_k plus whatever earlier steps could not do, capped. What is still left after step N is
    ``unfilled`` (= x_N, same sign as X); |n_k| <= P·m_k always. E and V are those of the realised
    trades (eqs. 5, 8; with x_N ≠ 0, E = ½γ(X² − x_N²) + ε·Σ|n_k| + (η̃/τ)·Σn_k²), for the part
    done: the remainder's cost and any risk after T are not included."""
    X, T, N, tau, sigma, eta, epsilon, gamma = _common(X, T, N, sigma, eta, epsilon, gamma)
    w = _curve(volume_curve, N)
    if participation_cap is None:
        if market_volume is not None:
            raise InputError("market_volume", "only used with participation_cap; give both or neither")
        trades = X * w
        holdings = np.empty(N + 1)
        holdings[0] = X
        holdings[N] = 0.0
        holdings[1:N] = np.cumsum(trades[::-1])[::-1][1:]  # x_k = Σ_{j>k} n_j (§1.1)
        return _schedule("vwap", X, T, N, tau, sigma, eta, epsilon, gamma, holdings, trades=trades)
    cap = _real(
        "participation_cap", participation_cap, lo=0.0, lo_open=True, hi=1.0, what="fraction of the market volume"
    )
    if market_volume is None:
        raise InputError(
            "market_volume",
            "required with participation_cap: the market volume over the horizon (shares), or one volume per step",
        )
    if isinstance(market_volume, Real) and not isinstance(market_volume, bool):
        m = _real("market_volume", market_volume, lo=0.0, lo_open=True, what="shares over the horizon") * w
    else:
        try:
            m = np.asarray(market_volume, dtype=float)
        except (TypeError, ValueError):
            m = np.full(1, np.nan)
        if m.shape != (N,) or not np.all(np.isfinite(m)) or np.any(m < 0):
            raise InputError(
                "market_volume",
                f"got {market_volume!r}; allowed: a number > 0 (shares over the "
                f"horizon) or {N} finite per-step volumes >= 0",
            )
    limit = cap * m
    want = abs(X) * w
    done = np.empty(N)
    carry = 0.0
    for k in range(N):  # N is a schedule's length: a plain loop is clearer than a cumulative-min trick
        d = want[k] + carry
        done[k] = min(d, limit[k])
        carry = d - done[k]
    if carry <= 16.0 * N * np.finfo(float).eps * abs(X):  # rounding of the carried sums, not volume held back
        carry = 0.0
    sign = 1.0 if X >= 0 else -1.0
    trades = sign * done
    remaining = sign * carry
    holdings = np.empty(N + 1)
    holdings[0] = X
    holdings[N] = remaining
    holdings[1:N] = remaining + np.cumsum(trades[::-1])[::-1][1:]
    return _schedule("vwap", X, T, N, tau, sigma, eta, epsilon, gamma, holdings, trades=trades, unfilled=remaining)


# --------------------------------------------------------------------------- frontier


def _default_grid(T: float, sigma: float, eta_tilde: float) -> np.ndarray:
    """λ = 0 and λ*·logspace(−2, 4, 25), λ* = η̃/(σ²T²): κ̃T = √(λ/λ*) from 0.1 to 100."""
    lam_star = eta_tilde / (sigma * sigma * T * T) if sigma > 0 else 1.0
    if not (math.isfinite(lam_star) and lam_star > 0):
        lam_star = 1.0
    lo, hi = FRONTIER_DECADES
    return np.concatenate(([0.0], lam_star * np.logspace(lo, hi, FRONTIER_POINTS)))


def efficient_frontier(
    X: float,
    T: float,
    N: int,
    sigma: float,
    eta: float,
    epsilon: float = 0.0,
    gamma: float = 0.0,
    risk_aversions: Sequence[float] | np.ndarray | None = None,
) -> Frontier:
    """The efficient frontier (Almgren & Chriss 2000, §2.1, eqs. 14–15, Fig. 1): E and V of the
    optimal trajectory for each λ, sorted ascending (duplicates dropped). Default λ grid: 0 plus 25
    points log-spaced over λ*·10^(−2…4), λ* = η̃/(σ²T²) (κ̃T = 0.1…100; λ* = 1 if σ = 0, when
    every λ gives the straight line). E is non-decreasing and V non-increasing in λ."""
    X, T, N, tau, sigma, eta, epsilon, gamma = _common(X, T, N, sigma, eta, epsilon, gamma)
    et = _eta_tilde(eta, gamma, tau)
    if risk_aversions is None:
        lams = _default_grid(T, sigma, et)
    else:
        try:
            lams = np.asarray(risk_aversions, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            lams = np.full(1, np.nan)
        if lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
            raise InputError(
                "risk_aversions", f"got {risk_aversions!r}; allowed: one or more finite numbers >= 0 (1/$)"
            )
        lams = np.unique(lams)
    E, V, K = (np.empty(lams.size) for _ in range(3))
    for i, lam in enumerate(lams):
        s = almgren_chriss(X, T, N, sigma, eta, epsilon, gamma, float(lam))
        E[i], V[i], K[i] = s.expected_cost, s.variance, s.kappa
    return Frontier(readonly(lams), readonly(E), readonly(V), readonly(K))


# --------------------------------------------------------------------------- fractions for the simulator


def trade_fractions(
    method: str,
    N: int,
    *,
    tau: float | None = None,
    T: float | None = None,
    kappa: float | None = None,
    sigma: float = 0.0,
    eta: float = 0.0,
    gamma: float = 0.0,
    risk_aversion: float = 0.0,
    volume_curve: str | Sequence[float] | np.ndarray = "u",
) -> np.ndarray:
    """n_k/X, k = 1…N, for a program of N steps of length τ (sums to 1; independent of X):

    - ``immediate``: [1, 0, …, 0]; ``twap``: 1/N each;
    - ``vwap``: the volume curve w_k (see :func:`volume_curve`; no participation cap: a cap is in
      absolute volume, so a capped program depends on X: use :func:`vwap`);
    - ``almgren-chriss``: (x_{k−1} − x_k)/X from eq. 17, a function of κτ and N only; κ is ``kappa``
      (1/time unit) or else computed from σ, η, γ, λ (η̃ = η − ½γτ > 0 required).

    τ is ``tau``, or ``T``/N; one of them is required for almgren-chriss (κ depends on it)."""
    N = _steps("N", N)
    if method not in METHODS:
        raise InputError("method", f"got {method!r}; allowed: {', '.join(METHODS)}")
    if tau is not None:
        tau = _real("tau", tau, lo=0.0, lo_open=True, what="step length, days = time units")
        if T is not None and not math.isclose(_real("T", T, lo=0.0, lo_open=True), N * tau, rel_tol=1e-12):
            raise InputError("T", f"got {T!r} with tau = {tau:g} and N = {N}; give one of them (T = N·tau)")
    elif T is not None:
        tau = _real("T", T, lo=0.0, lo_open=True, what="days = time units") / N
    if method == "immediate":
        f = np.zeros(N)
        f[0] = 1.0
        return f
    if method == "twap":
        return np.full(N, 1.0 / N)
    if method == "vwap":
        return _curve(volume_curve, N)
    if tau is None:
        raise InputError("tau", "required for almgren-chriss: the step length (or give the horizon T)")
    if kappa is None:
        sigma = _real("sigma", sigma, lo=0.0, what="$/share per √day")
        eta = _real("eta", eta, lo=0.0, what="$/share per share/day")
        gamma = _real("gamma", gamma, lo=0.0, what="$/share per share")
        lam = _real("risk_aversion", risk_aversion, lo=0.0, what="λ, 1/$")
        kappa = ac_kappa(tau, sigma, _eta_tilde(eta, gamma, tau), lam)
    elif not (isinstance(kappa, Real) and not isinstance(kappa, bool) and kappa >= 0 and not math.isnan(kappa)):
        raise InputError("kappa", f"got {kappa!r}; allowed: a number >= 0 (1/day), inf for immediate")
    r = _ac_ratio(float(kappa) * tau, N)
    return r[:-1] - r[1:]
