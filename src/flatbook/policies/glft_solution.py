"""Exact and closed-form solutions of the Guéant–Lehalle–Fernandez-Tapia model.

Reference: O. Guéant, C.-A. Lehalle, J. Fernandez-Tapia (2013), "Dealing with the
inventory risk: a solution to the market making problem", Math. Financ. Econ. 7,
477–507 (GLFT below; section and result numbers as in arXiv:1105.3115v5).

Model: mid dS = σ dW, fill intensity λ(δ) = A·e^{−kδ} per side, CARA risk aversion
γ, inventory −Q ≤ q ≤ Q lots, horizon T, unit orders. With

    α = (k/2)·γ·σ²,   η = A·(1 + γ/k)^{−(1 + k/γ)},   c = (1/γ)·ln(1 + γ/k),

the value function is u = −exp(−γ(x + qs))·v_q(t)^{−γ/k} where v solves the linear
ODE v̇ = M·v, v(T) = 1, with M tridiagonal on q = −Q..Q, M[q,q] = α·q²,
M[q,q±1] = −η (GLFT §3, Props 1–2), so v(t) = expm(−M(T−t))·1 and

    δb(t,q) = c + (1/k)·ln(v_q/v_{q+1})   (q < Q; no bid at q = Q),
    δa(t,q) = c + (1/k)·ln(v_q/v_{q−1})   (q > −Q; no ask at q = −Q)

(GLFT §3, Thm 1). Depths are in price units from the mid: bid = s − δb, ask = s + δa.
As T − t → ∞, v ∝ f, the ground state (smallest-eigenvalue eigenvector) of M
(GLFT §4, Thm 2); replacing it by the Gaussian minimiser of the continuous problem
(GLFT §4, Prop 3), f_q ≈ exp(−q²·sqrt(α/η)/2), gives the closed form, ω = sqrt(α/η)/k
(GLFT §4, the display following Prop 3).

Units: σ price/√time, A 1/time, k 1/price, γ 1/(price·lot), T time, q lots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flatbook.errors import InputError
from flatbook.validate import check_count, check_real

__all__ = [
    "GLFTDifference",
    "glft_closed_form_depths",
    "glft_constants",
    "glft_difference",
    "glft_exact_table",
    "glft_stationary_exact_depths",
]


# --------------------------------------------------------------------- validation
def _real(name: str, x, *, positive: bool) -> float:
    return check_real(name, x, lo=0.0, lo_open=positive)


def _count(name: str, n) -> int:
    return check_count(name, n, 1)


def _model(gamma, sigma, A, k) -> tuple[float, float, float, float]:
    return (
        _real("gamma", gamma, positive=True),
        _real("sigma", sigma, positive=False),
        _real("A", A, positive=True),
        _real("k", k, positive=True),
    )


def _table_args(gamma, sigma, A, k, Q, T, n_steps):
    return (*_model(gamma, sigma, A, k), _count("Q", Q), _real("T", T, positive=True), _count("n_steps", n_steps))


def _alpha_eta(gamma: float, sigma: float, A: float, k: float) -> tuple[float, float]:
    """α = (k/2)γσ² and η = A(1+γ/k)^{−(1+k/γ)}, both 1/time (q is a count of lots)."""
    return 0.5 * k * gamma * sigma**2, A * math.exp(-(1.0 + k / gamma) * math.log1p(gamma / k))


# ------------------------------------------------------------------- closed form
def glft_constants(gamma: float, sigma: float, A: float, k: float) -> tuple[float, float]:
    """Return ``(c, omega)`` of the GLFT closed form (GLFT §4, after Prop 3).

    c = (1/γ)·ln(1 + γ/k)                          (price), the half-spread at zero skew;
    ω = sqrt(σ²γ/(2kA)·(1 + γ/k)^{1+k/γ})          (price/lot), the skew per lot.

    gamma: risk aversion, 1/(price·lot), > 0.   sigma: mid volatility, price/√time, >= 0.
    A: fill intensity at zero depth, 1/time, > 0.   k: intensity decay, 1/price, > 0.
    """
    gamma, sigma, A, k = _model(gamma, sigma, A, k)
    lg = math.log1p(gamma / k)
    omega = math.sqrt(sigma**2 * gamma / (2.0 * k * A) * math.exp((1.0 + k / gamma) * lg))
    return lg / gamma, omega


def glft_closed_form_depths(q, gamma: float, sigma: float, A: float, k: float):
    """Asymptotic closed-form depths ``(delta_bid, delta_ask)`` (price), GLFT §4 (after Prop 3).

    δb(q) = c + (2q+1)/2·ω,   δa(q) = c − (2q−1)/2·ω,   with (c, ω) = glft_constants(...).

    q: inventory (lots), array-like, broadcast; non-integers allowed (no bound Q is applied).
    Other parameters and units as in :func:`glft_constants`.
    """
    c, omega = glft_constants(gamma, sigma, A, k)
    q = np.asarray(q, dtype=float)
    return c + (q + 0.5) * omega, c - (q - 0.5) * omega


# ------------------------------------------------------------------ exact solution
def _ground_state_log_ratios(alpha: float, eta: float, Q: int) -> tuple[float, np.ndarray]:
    """Smallest eigenvalue λ0 of M and ln(f_{q−1}/f_q) for q = 1..Q (f = ground state).

    λ0 comes from bisection (``eigh_tridiagonal``). The ratios r_q = f_{q−1}/f_q come from
    row q of (M − λ0)f = 0 read from the boundary inwards,
        r_Q = (αQ² − λ0)/η,   r_q = (αq² − λ0)/η − 1/r_{q+1},
    which is the stable direction (errors shrink by 1/r² per step) and never forms f
    itself, so tails far below the float64 range are fine. f is even in q.
    """
    from scipy.linalg import eigh_tridiagonal  # here, not at import: the closed form needs no scipy

    q = np.arange(-Q, Q + 1, dtype=float)
    lam0 = float(
        eigh_tridiagonal(alpha * q**2, np.full(2 * Q, -eta), eigvals_only=True, select="i", select_range=(0, 0))[0]
    )
    r = np.empty(Q)
    r[Q - 1] = (alpha * Q**2 - lam0) / eta
    for j in range(Q - 1, 0, -1):
        r[j - 1] = (alpha * j**2 - lam0) / eta - 1.0 / r[j]
    return lam0, np.log(r)


def glft_stationary_exact_depths(gamma: float, sigma: float, A: float, k: float, Q: int):
    """Exact T → ∞ depths ``(delta_bid, delta_ask)`` (price) over q = −Q..Q (GLFT §4, Thm 2).

    δb(q) = c + (1/k)·ln(f_q/f_{q+1}),  δa(q) = c + (1/k)·ln(f_q/f_{q−1}), with f the
    ground state (smallest-eigenvalue eigenvector) of M; +inf where the side is not quoted
    (bid at q = Q, ask at q = −Q). Q: inventory bound, integer lots >= 1; other parameters
    as in :func:`glft_constants`.
    """
    (gamma, sigma, A, k), Q = _model(gamma, sigma, A, k), _count("Q", Q)
    alpha, eta = _alpha_eta(gamma, sigma, A, k)
    _, lr = _ground_state_log_ratios(alpha, eta, Q)  # lr[j-1] = ln(f_{j-1}/f_j), j = 1..Q
    c = math.log1p(gamma / k) / gamma
    # ln(f_q/f_{q+1}) over q = −Q..Q−1: −ln r_{−q} for q < 0, +ln r_{q+1} for q >= 0.
    step = np.concatenate((-lr[::-1], lr)) / k
    bid = np.append(c + step, np.inf)
    return bid, bid[::-1].copy()


def glft_exact_table(
    gamma: float, sigma: float, A: float, k: float, Q: int, T: float, n_steps: int, q_target: float = 0.0
):
    """Exact finite-horizon depths ``(delta_bid, delta_ask)`` (price), GLFT §3, Prop 2 and Thm 1.

    Arrays of shape (n_steps+1, 2Q+1): row i is t_i = i·T/n_steps, column j is q = j − Q;
    +inf where the side is not quoted (bid at q = Q, ask at q = −Q). The last row is the
    terminal condition v = 1, i.e. δ = c at every quoted q.

    v(t) = expm(−M(T−t))·1 is stepped backwards with one E = expm(−(M − λ0)·dt): the shift by
    the ground eigenvalue λ0 gives ‖E‖₂ = 1 (no overflow for any T), v is renormalised to
    max 1 after every step (only ratios enter δ) and the depths are differences of ln v.
    Q: inventory bound, integer lots >= 1. T: horizon, time > 0. n_steps: integer >= 1.
    q_target: target inventory q* (lots, |q*| < Q): the running penalty is α(q − q*)², so
    M[q,q] = α(q − q*)² while the bounds stay at q = ±Q (the hard limit is absolute).
    Other parameters as in :func:`glft_constants`.

    Raises InputError (a ValueError) if v_q/max(v) drops below the float64 range, which
    needs ln(f_0/f_Q) ≳ 700 for the ground state f, i.e. a Q far beyond where quotes matter.
    """
    gamma, sigma, A, k, Q, T, n_steps = _table_args(gamma, sigma, A, k, Q, T, n_steps)
    from scipy.linalg import eigh_tridiagonal, expm  # here, not at import: the closed form needs no scipy

    q_target = float(q_target)
    if not abs(q_target) < Q:  # also rejects NaN
        raise InputError("q_target", f"must lie strictly inside the inventory bound ±Q = ±{Q} lots; got {q_target:g}")
    alpha, eta = _alpha_eta(gamma, sigma, A, k)
    q = np.arange(-Q, Q + 1, dtype=float)
    diag = alpha * (q - q_target) ** 2
    lam0 = float(eigh_tridiagonal(diag, np.full(2 * Q, -eta), eigvals_only=True, select="i", select_range=(0, 0))[0])
    shifted = np.diag(diag - lam0) - eta * (np.eye(2 * Q + 1, k=1) + np.eye(2 * Q + 1, k=-1))
    E = expm(-shifted * (T / n_steps))

    V = np.empty((n_steps + 1, 2 * Q + 1))
    V[n_steps] = 1.0
    for i in range(n_steps - 1, -1, -1):
        v = E @ V[i + 1]
        V[i] = v / v.max()
    if not V.min() >= np.finfo(float).tiny:
        raise InputError(
            "Q",
            f"Q={Q} is too large for these parameters: the value function "
            "v_q spans more than the float64 range; use a smaller Q",
        )

    c = math.log1p(gamma / k) / gamma
    step = -np.diff(np.log(V), axis=1) / k  # ln(v_q/v_{q+1})/k, q = −Q..Q−1
    inf = np.full((n_steps + 1, 1), np.inf)
    return np.hstack((c + step, inf)), np.hstack((inf, c - step))  # last row: step = 0 ⇒ c


# ------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class GLFTDifference:
    """Exact minus closed-form depths (price) over q = −Q..Q (NaN where a side is not quoted).

    ``finite_*``: exact table row t = 0 (horizon T) minus closed form;
    ``stationary_*``: ground-state (T → ∞) depths minus closed form;
    ``*_max_abs``: max |difference| over both sides and |q| <= Q−1;
    ``xi`` = sqrt(η/α) (inf if σ = 0): f_q ≈ exp(−q²/(2ξ)), so the ground state is ~sqrt(ξ)
    lots wide; the closed form is accurate for ξ ≫ 1 and |q| well inside ±Q (its skew is
    low by a relative 3/(16ξ) + O(1/ξ²) near q = 0, see tests/test_glft_solution.py).
    """

    q: np.ndarray
    finite_bid: np.ndarray
    finite_ask: np.ndarray
    stationary_bid: np.ndarray
    stationary_ask: np.ndarray
    finite_max_abs: float
    stationary_max_abs: float
    xi: float


def glft_difference(gamma: float, sigma: float, A: float, k: float, Q: int, T: float, n_steps: int) -> GLFTDifference:
    """Compare closed form with exact (t = 0 of :func:`glft_exact_table`) and ground state.

    Parameters and units as in :func:`glft_exact_table`.
    """
    gamma, sigma, A, k, Q, T, n_steps = _table_args(gamma, sigma, A, k, Q, T, n_steps)
    q = np.arange(-Q, Q + 1)
    cb, ca = glft_closed_form_depths(q, gamma, sigma, A, k)
    fb, fa = (d[0] for d in glft_exact_table(gamma, sigma, A, k, Q, T, n_steps))
    sb, sa = glft_stationary_exact_depths(gamma, sigma, A, k, Q)

    def diff(exact, closed):
        out = exact - closed
        out[~np.isfinite(exact)] = np.nan
        return out

    d = [diff(fb, cb), diff(fa, ca), diff(sb, cb), diff(sa, ca)]
    inner = np.abs(q) <= Q - 1
    alpha, eta = _alpha_eta(gamma, sigma, A, k)
    return GLFTDifference(
        q=q,
        finite_bid=d[0],
        finite_ask=d[1],
        stationary_bid=d[2],
        stationary_ask=d[3],
        finite_max_abs=float(np.max(np.abs(np.concatenate((d[0][inner], d[1][inner]))))),
        stationary_max_abs=float(np.max(np.abs(np.concatenate((d[2][inner], d[3][inner]))))),
        xi=math.sqrt(eta / alpha) if alpha > 0 else math.inf,
    )
