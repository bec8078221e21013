"""Tests of the execution schedules (flatbook.hedging.schedules) and ``flatbook schedule``.

Reference: R. Almgren & N. Chriss, "Optimal execution of portfolio transactions", J. Risk 3(2),
2000 (December 2000 preprint; equation and table numbers below are the paper's). Closed forms are
re-derived here independently of the module (κ through arccosh instead of asinh, sinh/cosh taken
directly, eq. 18 for the trades, eq. 20 for E and V, Decimal arithmetic where sinh overflows).

Floating-point tolerances: every closed form below is a few tens of correctly rounded operations
on O(1) ratios with condition number ≲ κT + N, so the two sides differ by ≲ 100 ulps
(≈ 2e-14); RTOL = 1e-12 leaves a factor 50 of headroom and is still far below any modelling
difference that could hide a bug (an error in τ, η̃ or an index shifts results by ≥ 1e-3).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import prop
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.hedging import (
    Frontier,
    Schedule,
    almgren_chriss,
    efficient_frontier,
    immediate,
    trade_fractions,
    twap,
    volume_curve,
    vwap,
)

EPS = float(np.finfo(float).eps)
RTOL = 1e-12

# Almgren & Chriss (2000), §3.4 and Table 1: X = 10⁶ shares, T = 5 days, N = 5 (τ = 1 day),
# σ = 0.95 ($/share)/√day, ε = 1/16 $/share, η = 2.5e-6 ($/share)/(share/day), γ = 2.5e-7 $/share², λ = 1e-6 /$.
X0, T0, N0, SIG, ETA, EPSILON, GAM, LAM = 1e6, 5.0, 5, 0.95, 2.5e-6, 0.0625, 2.5e-7, 1e-6
TAU0 = T0 / N0
ETA_T0 = ETA - 0.5 * GAM * TAU0  # η̃ = η − ½γτ (eq. 8) = 2.375e-6
PAPER = dict(sigma=SIG, eta=ETA, epsilon=EPSILON, gamma=GAM)

runner = CliRunner()


# --------------------------------------------------------------------------- independent closed forms


def kappa_closed(lam: float, sigma: float, eta_t: float, tau: float) -> float:
    """κ from (2/τ²)(cosh κτ − 1) = λσ²/η̃ (§2.2), solved with arccosh."""
    return math.acosh(1.0 + lam * sigma * sigma / eta_t * tau * tau / 2.0) / tau


def holdings_closed(X: float, T: float, N: int, kappa: float) -> np.ndarray:
    """Eq. 17: x_j = X·sinh(κ(T − t_j))/sinh(κT)."""
    t = T * np.arange(N + 1) / N
    return X * np.sinh(kappa * (T - t)) / math.sinh(kappa * T)


def trades_closed(X: float, T: float, N: int, kappa: float) -> np.ndarray:
    """Eq. 18: n_j = 2·sinh(½κτ)/sinh(κT)·cosh(κ(T − t_{j−½}))·X."""
    tau = T / N
    t_half = (np.arange(1, N + 1) - 0.5) * tau
    return 2.0 * math.sinh(0.5 * kappa * tau) / math.sinh(kappa * T) * np.cosh(kappa * (T - t_half)) * X


def ev_closed(X, T, N, sigma, eta, epsilon, gamma, kappa) -> tuple[float, float]:
    """Eq. 20: E and V of the optimal trajectory (X > 0)."""
    tau = T / N
    et = eta - 0.5 * gamma * tau
    sh = math.sinh(kappa * T)
    E = (
        0.5 * gamma * X * X
        + epsilon * X
        + et
        * X
        * X
        * math.tanh(0.5 * kappa * tau)
        * (tau * math.sinh(2 * kappa * T) + 2 * T * math.sinh(kappa * tau))
        / (2 * tau * tau * sh * sh)
    )
    V = (
        0.5
        * sigma**2
        * X
        * X
        * (tau * sh * math.cosh(kappa * (T - tau)) - T * math.sinh(kappa * tau))
        / (sh * sh * math.sinh(kappa * tau))
    )
    return E, V


def cost_eq4(X, holdings, trades, tau, epsilon, eta, gamma) -> float:
    """Eq. 4 with the linear impacts (6, 7), not summed by parts: Σ τ·x_k·g(n_k/τ) + Σ n_k·h(n_k/τ)."""
    x = np.asarray(holdings[1:])
    n = np.asarray(trades)
    return float(np.sum(gamma * x * n) + np.sum(epsilon * np.abs(n) + eta / tau * n * n))


# --------------------------------------------------------------------------- the paper's example


def test_paper_example_kappa_and_closed_forms():
    s = almgren_chriss(X0, T0, N0, risk_aversion=LAM, **PAPER)
    assert isinstance(s, Schedule) and s.method == "almgren-chriss"
    # §3.4: "for the optimal strategy, κ ≈ 0.6/day, so κT ≈ 3"
    assert round(s.kappa, 1) == 0.6 and round(s.kappa * T0) == 3
    assert s.kappa == pytest.approx(kappa_closed(LAM, SIG, ETA_T0, TAU0), rel=RTOL)
    assert s.eta_tilde == pytest.approx(2.375e-6, rel=1e-15)
    # the discrete κ solves (2/τ²)(cosh κτ − 1) = κ̃² exactly (not only κ ≈ κ̃ = √(λσ²/η̃) = 0.6165, eq. 19)
    assert 2 / TAU0**2 * (math.cosh(s.kappa * TAU0) - 1) == pytest.approx(LAM * SIG**2 / ETA_T0, rel=RTOL)
    np.testing.assert_allclose(s.holdings, holdings_closed(X0, T0, N0, s.kappa), rtol=RTOL, atol=RTOL * X0)
    np.testing.assert_allclose(s.trades, trades_closed(X0, T0, N0, s.kappa), rtol=RTOL)
    E, V = ev_closed(X0, T0, N0, SIG, ETA, EPSILON, GAM, s.kappa)
    assert s.expected_cost == pytest.approx(E, rel=RTOL) and s.variance == pytest.approx(V, rel=RTOL)
    # the values themselves (eq. 20 with Table 1): E ≈ $911,227, V ≈ 3.6413e11 $², √V ≈ $603,431
    assert s.expected_cost == pytest.approx(911_226.986, rel=1e-8)
    assert s.variance == pytest.approx(3.641285720e11, rel=1e-8)
    assert s.std == pytest.approx(603_430.669, rel=1e-8)
    assert s.holdings[0] == X0 and s.holdings[-1] == 0.0
    np.testing.assert_array_equal(s.times, [0, 1, 2, 3, 4, 5])


def test_paper_naive_and_minimum_variance_strategies():
    """Eqs. 10–11 (sell at a constant rate) and 13 (sell at once) with Table 1, by hand:
    E_lin = ½γX² + εX + η̃X²/T = 125,000 + 62,500 + 475,000 = $662,500,
    V_lin = ⅓σ²X²T(1 − 1/N)(1 − 1/(2N)) = ⅓·0.9025e12·5·0.8·0.9 = 1.083e12 $²,
    E_now = εX + ηX²/τ = 62,500 + 2,500,000 = $2,562,500, V_now = 0."""
    lin = twap(X0, T0, N0, **PAPER)
    assert lin.expected_cost == pytest.approx(662_500.0, rel=1e-14)
    assert lin.variance == pytest.approx(1.083e12, rel=1e-14)
    assert lin.kappa == 0.0
    now = immediate(X0, T0, N0, **PAPER)
    assert now.expected_cost == pytest.approx(2_562_500.0, rel=1e-14)
    assert now.variance == 0.0 and now.kappa == math.inf
    np.testing.assert_array_equal(now.holdings, [X0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(now.trades, [X0, 0, 0, 0, 0])


def test_third_party_cross_check_drip_small_lambda():
    """Cross-check against a third-party implementation (the DROP/DRIP library's Almgren–Chriss
    coverage run on Table 1; its printout gives, at λ = 1e-9 /$: E/X = 0.6625 $/share,
    V/X² = 1.0812 $²/share², half-life 1/κ = 51.30 days), to the digits printed."""
    s = almgren_chriss(X0, T0, N0, risk_aversion=1e-9, **PAPER)
    assert round(s.expected_cost / X0, 4) == 0.6625
    assert round(s.variance / X0**2, 4) == 1.0812
    assert round(1.0 / s.kappa, 2) == 51.30


# --------------------------------------------------------------------------- trajectory vs closed form


@prop(max_examples=80)
@given(
    N=st.integers(1, 60),
    log_ratio=st.floats(-3.0, 1.5),
    X=st.floats(1.0, 1e9),
    sign=st.sampled_from([1.0, -1.0]),
    T=st.floats(0.01, 100.0),
    sigma=st.floats(0.01, 10.0),
    eta=st.floats(1e-8, 1e-2),
    gfrac=st.floats(0.0, 0.99),
)
def test_ac_trajectory_matches_sinh_closed_form(N, log_ratio, X, sign, T, sigma, eta, gfrac):
    """Eqs. 17, 18, 20 for κ̃T = 10^(log_ratio/2) from ~0.03 to ~5.6 (where direct sinh is accurate),
    either sign of X (a buy program mirrors a sell)."""
    tau = T / N
    gamma = gfrac * 2 * eta / tau  # γτ/2 = gfrac·η < η
    et = eta - 0.5 * gamma * tau
    lam = et / (sigma * T) ** 2 * 10.0**log_ratio  # κ̃T = 10^(log_ratio/2)
    s = almgren_chriss(sign * X, T, N, sigma, eta, 0.01, gamma, lam)
    k = kappa_closed(lam, sigma, et, tau)
    assert s.kappa == pytest.approx(k, rel=1e-10)  # acosh(1+u) loses ~eps/u for small u = κ̃²τ²/2 ≥ 1e-7
    np.testing.assert_allclose(s.holdings, sign * holdings_closed(X, T, N, s.kappa), rtol=RTOL, atol=RTOL * X)
    np.testing.assert_allclose(s.trades, sign * trades_closed(X, T, N, s.kappa), rtol=1e-10, atol=RTOL * X)
    assert s.holdings[0] == sign * X and s.holdings[-1] == 0.0
    assert np.all(sign * s.trades > 0)  # a sell program never buys (§2.2)
    E, V = ev_closed(X, T, N, sigma, eta, 0.01, gamma, s.kappa)
    # E − ½γX² − εX is a small difference only when it is tiny compared with them: compare in absolute terms
    assert s.expected_cost == pytest.approx(
        E, rel=RTOL, abs=1e-11 * (0.5 * gamma * X * X + 0.01 * X + et * X * X / tau)
    )
    assert s.variance == pytest.approx(V, rel=1e-10, abs=1e-12 * sigma**2 * X * X * T)


def test_lambda_zero_is_exactly_linear():
    for N in (1, 2, 3, 7, 10, 97):
        s = almgren_chriss(1234.5, 3.0, N, 0.3, 1e-3, 0.01, 1e-4, 0.0)
        np.testing.assert_array_equal(s.holdings, 1234.5 * np.arange(N, -1, -1) / N)
        np.testing.assert_array_equal(s.holdings, twap(1234.5, 3.0, N, 0.3, 1e-3, 0.01, 1e-4).holdings)
        assert s.kappa == 0.0
    # σ = 0 (no risk to reduce) gives the line for any λ
    np.testing.assert_array_equal(
        almgren_chriss(10.0, 1.0, 4, 0.0, 1e-3, risk_aversion=5.0).holdings, [10.0, 7.5, 5.0, 2.5, 0.0]
    )


def test_tiny_lambda_tends_to_the_line():
    """x_j/X − (N − j)/N = O((κT)²): with κT ≈ 1e-7 the difference is ≲ 1e-14·X (+ rounding)."""
    s = almgren_chriss(X0, T0, N0, risk_aversion=1e-20, **PAPER)
    assert 0 < s.kappa * T0 < 1e-6
    np.testing.assert_allclose(
        s.holdings, X0 * np.arange(N0, -1, -1) / N0, rtol=0, atol=(s.kappa * T0) ** 2 * X0 + 8 * EPS * X0
    )


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0, 1e3, 1e8])
def test_large_lambda_tends_to_immediate(lam):
    """x_1/X = sinh(κ(T − τ))/sinh(κT) ≤ e^(−κτ) (sinh a/sinh b ≤ e^(a−b) for 0 ≤ a ≤ b), and
    e^(κτ/2) = κ̃τ/2 + √(1 + κ̃²τ²/4) > κ̃τ, so x_1 < X·η̃/(λσ²τ²) (the bound shrinks like 1/λ).
    Then, all n_k ≥ 0 with Σ_{k≥2} n_k = x_1: |E − E_now| = (η̃/τ)|Σn_k² − X²| ≤ (η̃/τ)·2X·x_1,
    and V = σ²τΣx_k² ≤ σ²τ(N − 1)·x_1²."""
    s = almgren_chriss(X0, T0, N0, risk_aversion=lam, **PAPER)
    now = immediate(X0, T0, N0, **PAPER)
    bound = X0 * ETA_T0 / (lam * SIG**2 * TAU0**2)
    x1 = s.holdings[1]
    assert 0 <= x1 < bound * (1 + 4 * EPS)
    assert (
        abs(s.expected_cost - now.expected_cost)
        <= ETA_T0 / TAU0 * 2 * X0 * x1 * (1 + 1e-9) + 8 * EPS * now.expected_cost
    )
    assert s.variance <= SIG**2 * TAU0 * (N0 - 1) * x1 * x1 * (1 + 1e-12)


def test_extreme_kappa_no_overflow_matches_decimal():
    """κT ≈ 1900 (sinh overflows in doubles): compare with eq. 17 in 60-digit Decimal arithmetic."""
    N, T, sigma, eta = 400, 400.0, 1.0, 1e-3
    lam = 1e-3 * 25.0  # κ̃ = 5/day, κτ = 2·asinh(2.5) ≈ 3.29, κT ≈ 1300
    s = almgren_chriss(1e6, T, N, sigma, eta, 0.0, 0.0, lam)
    assert math.isfinite(s.expected_cost) and math.isfinite(s.variance)
    assert s.kappa * T > 710  # math.sinh(κT) would overflow
    getcontext().prec = 60
    k = Decimal(repr(s.kappa))
    tau = Decimal(repr(T)) / N

    def sinh(x: Decimal) -> Decimal:
        return (x.exp() - (-x).exp()) / 2

    den = sinh(k * Decimal(repr(T)))
    ref = [float(Decimal(10) ** 6 * sinh(k * tau * (N - j)) / den) for j in range(N + 1)]
    np.testing.assert_allclose(s.holdings, ref, rtol=1e-11, atol=1e-300)
    assert np.all(np.diff(s.holdings) <= 0)
    # κ = ∞ (λσ²/η̃ overflows) is the immediate sale, not NaN
    inf = almgren_chriss(1.0, 1.0, 3, 1e200, 1e-300, 0.0, 0.0, 1e100)
    np.testing.assert_array_equal(inf.holdings, [1.0, 0.0, 0.0, 0.0])
    assert inf.variance == 0.0


def test_two_step_by_hand():
    """N = 2, τ = 1: E + λV = ½γX² + εX + η̃[(X − x₁)² + x₁²] + λσ²x₁² is a parabola in x₁,
    minimal at x₁ = X/(2 + λσ²τ²/η̃). With X = 1000, σ = 0.5, η = 0.01, γ = 0.002, ε = 0.05,
    λ = 0.01: η̃ = 0.009, λσ²/η̃ = 5/18, x₁ = 18000/41, n = (23000/41, 18000/41),
    E = 1000 + 50 + 0.009·(23000² + 18000²)/41² , V = 0.25·(18000/41)²."""
    s = almgren_chriss(1000.0, 2.0, 2, 0.5, 0.01, 0.05, 0.002, 0.01)
    x1 = Fraction(18000, 41)
    E = 1000 + 50 + Fraction(9, 1000) * (Fraction(23000, 41) ** 2 + x1**2)
    V = Fraction(1, 4) * x1**2
    assert s.holdings[1] == pytest.approx(float(x1), rel=RTOL)
    np.testing.assert_allclose(s.trades, [23000 / 41, 18000 / 41], rtol=RTOL)
    assert s.expected_cost == pytest.approx(float(E), rel=RTOL)
    assert s.variance == pytest.approx(float(V), rel=RTOL)

    # and it is the minimum: moving x₁ either way by 1 share raises E + λV by (2η̃ + λσ²)·1² = 0.0205
    def objective(x):
        return 1000 + 50 + 0.009 * ((1000 - x) ** 2 + x**2) + 0.01 * 0.25 * x * x

    for d in (-1.0, 1.0):
        assert objective(float(x1) + d) - objective(float(x1)) == pytest.approx(0.0205, rel=1e-6)


@prop(max_examples=40)
@given(N=st.integers(2, 30), log_ratio=st.floats(-2.0, 3.0), seed=st.integers(0, 2**32 - 1))
def test_ac_minimises_mean_variance(N, log_ratio, seed):
    """E + λV is a strictly convex quadratic in x₁…x_{N−1} (§2.2): any perturbation of the optimal
    trajectory raises it by δᵀHδ > 0 (δ of 1% of X: far above rounding, ~1e-4 relative)."""
    X, T, sigma, eta, gamma, eps = 1e5, 2.0, 0.3, 1e-4, 1e-5, 0.01
    tau = T / N
    et = eta - 0.5 * gamma * tau
    lam = et / (sigma * T) ** 2 * 10.0**log_ratio
    s = almgren_chriss(X, T, N, sigma, eta, eps, gamma, lam)

    def objective(x):
        n = x[:-1] - x[1:]
        return (
            0.5 * gamma * X * X
            + eps * np.abs(n).sum()
            + et / tau * (n * n).sum()
            + lam * sigma**2 * tau * (x[1:] ** 2).sum()
        )

    base = objective(s.holdings)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        x = s.holdings.copy()
        x[1:-1] += rng.normal(0, 0.01 * X, N - 1)
        assert objective(x) > base
    assert base <= objective(twap(X, T, N).holdings) * (1 + 1e-14)
    assert base <= objective(immediate(X, T, N).holdings) * (1 + 1e-14)


# --------------------------------------------------------------------------- frontier


@prop(max_examples=40)
@given(
    N=st.integers(1, 40),
    X=st.floats(1.0, 1e8),
    T=st.floats(0.05, 50.0),
    sigma=st.floats(0.0, 5.0),
    eta=st.floats(1e-8, 1.0),
    gfrac=st.floats(0.0, 0.99),
    eps=st.floats(0.0, 1.0),
)
def test_frontier_monotone(N, X, T, sigma, eta, gfrac, eps):
    """λ ↑ ⇒ E non-decreasing and V non-increasing (exactly true of the optima, eqs. 14–15: for
    λ₁ < λ₂ the two optimality inequalities add to (λ₂ − λ₁)(V₁ − V₂) ≥ 0, then E₂ ≥ E₁); here up
    to rounding of the sums, ≤ 8·N·eps relative."""
    gamma = gfrac * 2 * eta / (T / N)
    f = efficient_frontier(X, T, N, sigma, eta, eps, gamma)
    assert isinstance(f, Frontier) and f.risk_aversion.size == 26 and f.risk_aversion[0] == 0.0
    assert np.all(np.diff(f.risk_aversion) > 0)
    tol = 8 * N * EPS
    assert np.all(np.diff(f.expected_cost) >= -tol * f.expected_cost[1:])
    assert np.all(np.diff(f.variance) <= tol * f.variance[:-1] + 1e-300)
    lin = twap(X, T, N, sigma, eta, eps, gamma)
    assert f.expected_cost[0] == lin.expected_cost and f.variance[0] == lin.variance
    # no point of the frontier is beaten at its own λ by another point
    for lam, e, v in zip(f.risk_aversion, f.expected_cost, f.variance):
        assert np.all(e + lam * v <= (f.expected_cost + lam * f.variance) * (1 + tol) + 1e-300)


def test_frontier_default_grid_spans_line_to_immediate():
    f = efficient_frontier(X0, T0, N0, **PAPER)
    lam_star = ETA_T0 / (SIG * T0) ** 2
    np.testing.assert_allclose(f.risk_aversion[1:], lam_star * np.logspace(-2, 4, 25), rtol=1e-15)
    now = immediate(X0, T0, N0, **PAPER)
    assert f.expected_cost[-1] < now.expected_cost and f.expected_cost[-1] > 0.99 * now.expected_cost
    assert f.variance[-1] < 1e-5 * f.variance[0]
    assert f.variance[0] > f.variance[-1] and f.expected_cost[0] < f.expected_cost[-1]  # strictly, end to end
    rows = f.rows()
    assert set(rows[0]) == {"risk_aversion", "expected_cost", "variance", "std", "kappa"}
    g = efficient_frontier(X0, T0, N0, risk_aversions=[1e-6, 0.0, 1e-6, 1e-7], **PAPER)
    np.testing.assert_array_equal(g.risk_aversion, [0.0, 1e-7, 1e-6])
    assert g.expected_cost[2] == almgren_chriss(X0, T0, N0, risk_aversion=1e-6, **PAPER).expected_cost


# --------------------------------------------------------------------------- VWAP


def test_volume_curves_by_hand():
    np.testing.assert_array_equal(volume_curve("flat", 4), [0.25] * 4)
    assert volume_curve("u", 1).tolist() == [1.0]
    # N = 5: ∫(1 + 8(u − ½)²) over fifths = 0.2 + 8/3·Δ(u − ½)³ = 0.46133…, 0.26933…, 0.20533…; total 1 + 8/12
    w = volume_curve("u", 5)
    np.testing.assert_allclose(w, np.array([0.2768, 0.1616, 0.1232, 0.1616, 0.2768]), rtol=1e-14)
    w = volume_curve("u", 1000)
    assert w.sum() == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(w, w[::-1], rtol=1e-12)
    assert w[0] / w[500] == pytest.approx(3.0, rel=1e-2)  # 3× the midday rate at the open (discretised)
    with pytest.raises(InputError) as e:
        volume_curve("w", 5)
    assert e.value.field == "volume_curve"


@pytest.mark.parametrize("curve", ["flat", "u", [1.0, 0.0, 2.0, 5.0, 2.0]])
def test_vwap_slices_proportional_to_curve(curve):
    X = -3.0e4  # a buy program
    s = vwap(X, T0, 5, curve, **PAPER)
    w = volume_curve(curve, 5) if isinstance(curve, str) else np.asarray(curve) / 10.0
    np.testing.assert_allclose(s.trades, X * w, rtol=1e-15)
    np.testing.assert_allclose(s.holdings[:-1] - s.holdings[1:], s.trades, rtol=0, atol=8 * EPS * abs(X))
    assert s.holdings[0] == X and s.holdings[-1] == 0.0 and s.unfilled == 0.0 and s.kappa is None
    assert s.expected_cost == pytest.approx(cost_eq4(X, s.holdings, s.trades, TAU0, EPSILON, ETA, GAM), rel=RTOL)
    assert s.variance == pytest.approx(SIG**2 * TAU0 * np.sum(s.holdings[1:] ** 2), rel=RTOL)
    if curve == "flat":
        np.testing.assert_allclose(s.holdings, twap(X, T0, 5).holdings, rtol=1e-15, atol=4 * EPS * abs(X))


def test_vwap_cap_by_hand():
    """X = 90, flat curve (30 each), market volumes (100, 10, 100), cap 0.5 → limits (50, 5, 50):
    step 1 does 30; step 2 does 5 (25 carried); step 3 wants 55, does 50: 5 unfilled."""
    s = vwap(90.0, 3.0, 3, "flat", 0.5, [100.0, 10.0, 100.0], sigma=1.0, eta=0.1, epsilon=0.5, gamma=0.02)
    np.testing.assert_allclose(s.trades, [30.0, 5.0, 50.0], rtol=1e-15)
    np.testing.assert_allclose(s.holdings, [90.0, 60.0, 55.0, 5.0], rtol=1e-15)
    assert s.unfilled == pytest.approx(5.0, rel=1e-15)
    # E from eq. 4 directly: γΣx_k n_k + Σ(ε|n_k| + ηn_k²/τ) = 0.02·(60·30 + 55·5 + 5·50) + 0.5·85 + 0.1·(900 + 25 + 2500)
    assert s.expected_cost == pytest.approx(0.02 * (1800 + 275 + 250) + 42.5 + 342.5, rel=RTOL)
    assert s.variance == pytest.approx(60.0**2 + 55.0**2 + 5.0**2, rel=RTOL)
    # a scalar market volume is spread by the curve: 300 over 3 flat steps = 100 each, cap 0.2 → 20 per step
    t = vwap(90.0, 3.0, 3, "flat", 0.2, 300.0)
    np.testing.assert_allclose(t.trades, [20.0, 20.0, 20.0], rtol=1e-15)
    assert t.unfilled == pytest.approx(30.0, rel=1e-15)


@prop(max_examples=150)
@given(
    data=st.data(),
    N=st.integers(1, 30),
    X=st.floats(1e-3, 1e9),
    sign=st.sampled_from([1.0, -1.0]),
    cap=st.floats(1e-4, 1.0),
    scalar=st.booleans(),
)
def test_vwap_participation_cap_never_exceeded(data, N, X, sign, cap, scalar):
    """|n_k| ≤ P·m_k exactly; Σ|n_k| + |unfilled| = |X|; and the unfilled part is the final value of
    the carry recursion c_k = max(0, c_{k−1} + want_k − P·m_k) (a Lindley recursion), whose closed
    form is max(0, max_j Σ_{i>j}(want_i − P·m_i)) — computed here that way, independently."""
    # no subnormal weights: the test and the code normalise in different orders, which at 1e-311
    # differs by the whole value
    weights = data.draw(
        st.lists(st.floats(0.0, 10.0, allow_subnormal=False), min_size=N, max_size=N).filter(lambda w: sum(w) > 0)
    )
    if scalar:
        mv = data.draw(st.floats(1e-3, 1e10))
        w = np.asarray(weights)
        m = mv * (w / w.sum())  # m_k = V·w_k, the curve normalised first (as documented)
    else:
        mv = data.draw(st.lists(st.floats(0.0, 1e10), min_size=N, max_size=N))
        m = np.asarray(mv)
    s = vwap(sign * X, 1.0, N, weights, cap, mv, sigma=0.2, eta=1e-6, epsilon=0.01, gamma=1e-7)
    limit = cap * m
    assert np.all(np.abs(s.trades) <= limit)  # never past the cap, not even by rounding
    assert np.all(sign * s.trades >= 0)
    want = X * np.asarray(weights) / np.sum(weights)
    excess = want - limit
    tails = np.concatenate((np.cumsum(excess[::-1])[::-1], [0.0]))  # Σ_{i>j}, j = 0…N
    expected_unfilled = max(0.0, float(tails.max()))
    tol = 16 * N * EPS * (X + limit.sum())
    assert sign * s.unfilled == pytest.approx(expected_unfilled, abs=tol)
    assert np.abs(s.trades).sum() + abs(s.unfilled) == pytest.approx(X, rel=16 * N * EPS)
    assert s.holdings[-1] == s.unfilled and s.holdings[0] == sign * X
    assert s.expected_cost == pytest.approx(
        cost_eq4(sign * X, s.holdings, s.trades, 1.0 / N, 0.01, 1e-6, 1e-7),
        rel=1e-9,
        abs=1e-9 * (0.01 * X + 1e-6 * N * X * X),
    )


def test_vwap_bad_arguments():
    cases = [
        (dict(volume_curve=[1.0, 2.0]), "volume_curve"),
        (dict(volume_curve=[0.0, 0.0, 0.0]), "volume_curve"),
        (dict(volume_curve=[1.0, -1.0, 1.0]), "volume_curve"),
        (dict(volume_curve="x"), "volume_curve"),
        (dict(participation_cap=0.5), "market_volume"),
        (dict(market_volume=10.0), "market_volume"),
        (dict(participation_cap=0.0, market_volume=10.0), "participation_cap"),
        (dict(participation_cap=1.5, market_volume=10.0), "participation_cap"),
        (dict(participation_cap=0.5, market_volume=-1.0), "market_volume"),
        (dict(participation_cap=0.5, market_volume=[1.0, 2.0]), "market_volume"),
        (dict(participation_cap=0.5, market_volume=[1.0, math.nan, 1.0]), "market_volume"),
    ]
    for kw, field in cases:
        with pytest.raises(InputError) as e:
            vwap(10.0, 1.0, 3, **kw)
        assert e.value.field == field, kw


# --------------------------------------------------------------------------- trade fractions


@pytest.mark.parametrize("method", ["immediate", "twap", "vwap", "almgren-chriss"])
def test_trade_fractions_sum_to_one_and_match_schedules(method):
    N, T = 7, 3.5
    kw = dict(sigma=SIG, eta=ETA, gamma=GAM)
    f = trade_fractions(method, N, T=T, risk_aversion=LAM, **kw)
    assert f.shape == (N,) and np.all(f >= 0)
    assert f.sum() == pytest.approx(1.0, abs=4 * N * EPS)
    for X in (1.0, -250.0, 1e6):
        s = {
            "immediate": lambda: immediate(X, T, N, **kw),
            "twap": lambda: twap(X, T, N, **kw),
            "vwap": lambda: vwap(X, T, N, "u", **kw),
            "almgren-chriss": lambda: almgren_chriss(X, T, N, risk_aversion=LAM, **kw),
        }[method]()
        np.testing.assert_allclose(X * f, s.trades, rtol=1e-13, atol=4 * EPS * abs(X))
        np.testing.assert_allclose(s.fractions, f, rtol=1e-13, atol=4 * EPS)


def test_trade_fractions_ac_depends_on_kappa_tau_only():
    a = trade_fractions("almgren-chriss", 5, tau=1.0, risk_aversion=LAM, **dict(sigma=SIG, eta=ETA, gamma=GAM))
    k = almgren_chriss(X0, T0, N0, risk_aversion=LAM, **PAPER).kappa
    np.testing.assert_array_equal(a, trade_fractions("almgren-chriss", 5, tau=1.0, kappa=k))
    np.testing.assert_array_equal(a, trade_fractions("almgren-chriss", 5, T=5.0, kappa=k))
    # κ in 1/day, τ in days: the same κτ in other time units gives the same fractions
    np.testing.assert_allclose(a, trade_fractions("almgren-chriss", 5, tau=24.0, kappa=k / 24.0), rtol=1e-13)
    # the simulator's call: per-step τ = dt, κ from its σ, η, γ, λ
    b = trade_fractions("almgren-chriss", 40, sigma=2.0, eta=1e-3, gamma=0.0, risk_aversion=1e-3, tau=0.005)
    assert b.sum() == pytest.approx(1.0, abs=1e-14) and np.all(np.diff(b) < 0)
    np.testing.assert_array_equal(trade_fractions("almgren-chriss", 4, tau=1.0, kappa=0.0), [0.25] * 4)
    np.testing.assert_array_equal(trade_fractions("almgren-chriss", 3, tau=1.0, kappa=math.inf), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(trade_fractions("vwap", 4, volume_curve="flat"), [0.25] * 4)


@pytest.mark.parametrize(
    "args,kw,field",
    [
        (("almgren-chriss", 5), dict(sigma=1.0, eta=1.0), "tau"),
        (("foo", 5), {}, "method"),
        (("twap", 0), {}, "N"),
        (("almgren-chriss", 5), dict(tau=1.0), "eta"),
        (("almgren-chriss", 5), dict(tau=1.0, kappa=-1.0), "kappa"),
        (("almgren-chriss", 5), dict(tau=1.0, T=3.0, kappa=1.0), "T"),
    ],
)
def test_trade_fractions_bad_arguments(args, kw, field):
    with pytest.raises(InputError) as e:
        trade_fractions(*args, **kw)
    assert e.value.field == field


# --------------------------------------------------------------------------- validation and results


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(X=math.nan), "X"),
        (dict(X=math.inf), "X"),
        (dict(X="1"), "X"),
        (dict(T=0.0), "T"),
        (dict(T=-1.0), "T"),
        (dict(N=0), "N"),
        (dict(N=2.0), "N"),
        (dict(N=True), "N"),
        (dict(sigma=-0.1), "sigma"),
        (dict(eta=-1e-6), "eta"),
        (dict(epsilon=-1.0), "epsilon"),
        (dict(gamma=-1.0), "gamma"),
        (dict(risk_aversion=-1e-6), "risk_aversion"),
        (dict(risk_aversion=math.inf), "risk_aversion"),
        (dict(gamma=5e-6), "gamma"),  # γτ/2 = η exactly: η̃ = 0
        (dict(gamma=1e-5), "gamma"),  # η̃ < 0
        (dict(eta=0.0, gamma=0.0), "eta"),
    ],
)
def test_almgren_chriss_bad_arguments(kw, field):
    args = dict(X=X0, T=T0, N=N0, sigma=SIG, eta=ETA, epsilon=EPSILON, gamma=GAM, risk_aversion=LAM)
    args.update(kw)
    with pytest.raises(InputError) as e:
        almgren_chriss(**args)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")


def test_results_are_frozen():
    s = twap(10.0, 1.0, 2)
    with pytest.raises(AttributeError):
        s.expected_cost = 0.0
    with pytest.raises(ValueError):
        s.holdings[0] = 1.0
    d = s.as_dict()
    assert d["holdings"] == [10.0, 5.0, 0.0] and d["trades"] == [5.0, 5.0] and d["method"] == "twap"


def test_zero_position():
    s = almgren_chriss(0.0, T0, N0, risk_aversion=LAM, **PAPER)
    assert not s.holdings.any() and s.expected_cost == 0.0 and s.variance == 0.0
    assert not s.fractions.any()


# --------------------------------------------------------------------------- CLI


def cli(*args: str):
    return runner.invoke(cli_app.app, ["schedule", *args])


def cli_json(*args: str) -> dict:
    r = cli(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_cli_json_paper_example():
    d = cli_json()
    assert {
        "method",
        "params",
        "holdings",
        "trades",
        "times",
        "expected_cost",
        "variance",
        "std",
        "kappa",
        "eta_tilde",
        "units",
    } <= set(d)
    assert d["method"] == "almgren-chriss"
    p = d["params"]
    assert (p["X"], p["T"], p["N"], p["sigma"], p["eta"], p["epsilon"], p["gamma"], p["risk_aversion"]) == (
        X0,
        T0,
        N0,
        SIG,
        ETA,
        EPSILON,
        GAM,
        LAM,
    )  # Almgren & Chriss (2000), Table 1
    assert round(d["kappa"], 1) == 0.6  # §3.4
    assert len(d["holdings"]) == 6 and len(d["trades"]) == 5
    assert d["holdings"][0] == X0 and d["holdings"][-1] == 0.0
    np.testing.assert_allclose(d["holdings"], holdings_closed(X0, T0, N0, d["kappa"]), rtol=RTOL, atol=RTOL * X0)
    assert sum(d["trades"]) == pytest.approx(X0, rel=1e-14)
    E, V = ev_closed(X0, T0, N0, SIG, ETA, EPSILON, GAM, d["kappa"])
    assert d["expected_cost"] == pytest.approx(E, rel=RTOL) and d["variance"] == pytest.approx(V, rel=RTOL)
    assert d["std"] == pytest.approx(math.sqrt(V), rel=RTOL)


def test_cli_json_other_methods():
    lin = cli_json("--method", "twap")
    assert lin["expected_cost"] == pytest.approx(662_500.0, rel=1e-14)  # eq. 10, Table 1
    assert lin["variance"] == pytest.approx(1.083e12, rel=1e-14)  # eq. 11
    assert lin["kappa"] == 0.0
    now = cli_json("--method", "immediate")
    assert now["expected_cost"] == pytest.approx(2_562_500.0, rel=1e-14) and now["variance"] == 0.0  # eq. 13
    assert now["kappa"] is None  # +inf → null (strict JSON)
    v = cli_json(
        "--method",
        "vwap",
        "--volume-curve",
        "flat",
        "--participation",
        "0.03",
        "--market-volume",
        "25e6",
        "--shares",
        "1e6",
    )
    # flat: 200,000 wanted a step, cap 0.03·5e6 = 150,000: 250,000 left at T
    np.testing.assert_allclose(v["trades"], [150_000.0] * 5, rtol=1e-15)
    assert v["unfilled"] == pytest.approx(250_000.0, rel=1e-15) and v["holdings"][-1] == v["unfilled"]
    assert v["params"]["participation_cap"] == 0.03 and v["params"]["volume_curve"] == "flat"
    custom = cli_json("--shares", "-500", "--horizon", "2", "--steps", "4", "--risk-aversion", "0")
    np.testing.assert_array_equal(custom["holdings"], [-500.0, -375.0, -250.0, -125.0, 0.0])


def test_cli_frontier():
    d = cli_json("--frontier")
    rows = d["frontier"]
    assert len(rows) == 27  # λ = 0, 25 log-spaced, and --risk-aversion 1e-6
    assert all({"risk_aversion", "expected_cost", "variance"} <= set(r) for r in rows)
    lam = [r["risk_aversion"] for r in rows]
    E = [r["expected_cost"] for r in rows]
    V = [r["variance"] for r in rows]
    assert lam == sorted(lam) and lam[0] == 0.0 and LAM in lam
    assert all(b >= a for a, b in zip(E, E[1:])) and all(b <= a for a, b in zip(V, V[1:]))
    assert E[0] == pytest.approx(662_500.0, rel=1e-14) and V[0] == pytest.approx(1.083e12, rel=1e-14)
    chosen = rows[lam.index(LAM)]
    assert chosen["expected_cost"] == pytest.approx(911_226.986, rel=1e-8)
    r = cli("--frontier")
    assert r.exit_code == 0 and "efficient frontier" in r.stdout and "◀" in r.stdout


def test_cli_table():
    r = cli()
    assert r.exit_code == 0, r.stderr
    for text in (
        "almgren-chriss",
        "holdings",
        "expected cost E",
        "911,227",
        "variance V",
        "$²",
        "603,431",
        "1,000,000",
        "541,956",
        "κ",
        "0.607076",
        "lots",
    ):
        assert text in r.stdout, text
    long = cli("--steps", "100")
    assert long.exit_code == 0 and "…" in long.stdout
    steps = [int(m) for m in re.findall(r"^│\s+(\d+) │", long.stdout, flags=re.M)]
    assert steps == [*range(21), *range(81, 101)]  # the first 21 and the last 20 of the 101 rows


BAD_FLAGS = [
    (["--method", "fast"], "--method"),
    (["--steps", "0"], "--steps"),
    (["--steps", "2.5"], "--steps"),
    (["--steps", "x"], "--steps"),
    (["--shares", "nan"], "--shares"),
    (["--shares", "abc"], "--shares"),
    (["--horizon", "0"], "--horizon"),
    (["--horizon", "-1"], "--horizon"),
    (["--sigma", "-1"], "--sigma"),
    (["--eta", "-1"], "--eta"),
    (["--eta", "0", "--gamma", "0"], "--eta"),
    (["--epsilon", "-0.1"], "--epsilon"),
    (["--gamma", "1e-5"], "--gamma"),
    (["--risk-aversion", "-1e-6"], "--risk-aversion"),
    (["--risk-aversion", "inf"], "--risk-aversion"),
    (["--method", "twap", "--risk-aversion", "1e-6"], "--risk-aversion"),
    (["--method", "twap", "--frontier"], "--frontier"),
    (["--volume-curve", "u"], "--volume-curve"),
    (["--method", "vwap", "--volume-curve", "w"], "--volume-curve"),
    (["--method", "vwap", "--participation", "0.1"], "--market-volume"),
    (["--method", "vwap", "--market-volume", "1e6"], "--market-volume"),
    (["--method", "vwap", "--participation", "0", "--market-volume", "1e6"], "--participation"),
    (["--method", "vwap", "--participation", "1.5", "--market-volume", "1e6"], "--participation"),
    (["--method", "vwap", "--participation", "0.1", "--market-volume", "-1"], "--market-volume"),
    (["--method", "vwap", "--participation", "0.1", "--market-volume", "0"], "--market-volume"),
    (["--frontier", "--gamma", "1"], "--gamma"),
]


@pytest.mark.parametrize("args,flag", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_cli_bad_flags_exit_2_with_one_line(args, flag):
    r = cli(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith(f"error: {flag}: "), lines[0]
    assert "allowed" in lines[0] or "only used with" in lines[0] or "required with" in lines[0], lines[0]
    assert r.stdout == ""
