"""Tests for flatbook.policies.glft_solution (GLFT 2013 exact and closed-form quotes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import eigh_tridiagonal, expm

from flatbook.errors import InputError
from flatbook.policies.glft_solution import (
    GLFTDifference,
    glft_closed_form_depths,
    glft_constants,
    glft_difference,
    glft_exact_table,
    glft_stationary_exact_depths,
)

# Worked example: γ = 0.1 /(price·lot), σ = 2 price/√time, A = 140 /time, k = 1.5 /price.
EX = dict(gamma=0.1, sigma=2.0, A=140.0, k=1.5)
# c = (1/0.1)·ln(1 + 0.1/1.5) = 10·ln(16/15)
C_EX = 0.6453852113757117
# (1+γ/k)^(1+k/γ) = (16/15)^16 = 2.8084039655764466;  σ²γ/(2kA) = 4·0.1/(2·1.5·140) = 1/1050
# ω = sqrt(2.8084039655764466/1050)
OMEGA_EX = 0.051717216121965996
# α = (k/2)γσ² = 0.75·0.1·4 = 0.3;  η = A·(16/15)^(−16) = 140/2.8084039655764466 = 49.850378263251
# ξ = sqrt(η/α) = sqrt(166.16792754417) = 12.890613932011538
XI_EX = 12.890613932011538


def alpha_eta(gamma, sigma, A, k):
    """α and η recomputed here independently of the module (plain math)."""
    return 0.5 * k * gamma * sigma**2, A * (1.0 + gamma / k) ** (-(1.0 + k / gamma))


def params_for_xi(xi, gamma=0.1, A=140.0, k=1.5):
    """Model parameters with ξ = sqrt(η/α) = xi, obtained by solving α = η/ξ² for σ."""
    _, eta = alpha_eta(gamma, 1.0, A, k)
    return dict(gamma=gamma, sigma=math.sqrt(2.0 * eta / (xi**2 * k * gamma)), A=A, k=k)


def reference_matrix(Q, alpha, eta):
    q = np.arange(-Q, Q + 1, dtype=float)
    return np.diag(alpha * q**2) - eta * (np.eye(2 * Q + 1, k=1) + np.eye(2 * Q + 1, k=-1))


# ----------------------------------------------------------------------- closed form
def test_constants_match_hand_computation():
    c, omega = glft_constants(**EX)
    assert c == pytest.approx(C_EX, rel=1e-14)
    assert omega == pytest.approx(OMEGA_EX, rel=1e-14)
    a, e = alpha_eta(**EX)
    assert math.sqrt(e / a) == pytest.approx(XI_EX, rel=1e-14)
    assert omega == pytest.approx(1.0 / (XI_EX * EX["k"]), rel=1e-14)  # ω = sqrt(α/η)/k


def test_closed_form_depths_match_hand_computation():
    q = np.array([0, 1, -1, 3, -3])
    # δb(q) = c + (2q+1)/2·ω,  δa(q) = c − (2q−1)/2·ω  with c, ω above:
    expected_bid = [
        0.6712438194366946,  # q=0:  c + 0.5·ω
        0.7229610355586606,  # q=1:  c + 1.5·ω
        0.6195266033147288,  # q=−1: c − 0.5·ω
        0.8263954678025927,  # q=3:  c + 3.5·ω
        0.5160921710707967,  # q=−3: c − 2.5·ω
    ]
    expected_ask = [
        0.6712438194366946,  # q=0:  c + 0.5·ω
        0.6195266033147288,  # q=1:  c − 0.5·ω
        0.7229610355586606,  # q=−1: c + 1.5·ω
        0.5160921710707967,  # q=3:  c − 2.5·ω
        0.8263954678025927,  # q=−3: c + 3.5·ω
    ]
    bid, ask = glft_closed_form_depths(q, **EX)
    np.testing.assert_allclose(bid, expected_bid, rtol=1e-14)
    np.testing.assert_allclose(ask, expected_ask, rtol=1e-14)


def test_closed_form_spread_and_centre_broadcast_over_fractional_q():
    q = np.linspace(-2.5, 2.5, 12).reshape(3, 4)
    bid, ask = glft_closed_form_depths(q, **EX)
    assert bid.shape == ask.shape == (3, 4)
    np.testing.assert_allclose((bid + ask) / 2, C_EX + OMEGA_EX / 2, rtol=1e-14)
    # quote centre (ask − bid)/2 relative to the mid moves by −ω per lot
    np.testing.assert_allclose((ask - bid) / 2, -OMEGA_EX * q, atol=1e-14)


# ---------------------------------------------------------------------- exact table
def test_exact_table_layout_and_terminal_row():
    Q, n = 4, 7
    bid, ask = glft_exact_table(**EX, Q=Q, T=2.0, n_steps=n)
    assert bid.shape == ask.shape == (n + 1, 2 * Q + 1)
    assert np.all(np.isposinf(bid[:, -1])) and np.all(np.isposinf(ask[:, 0]))
    assert np.all(np.isfinite(bid[:, :-1])) and np.all(np.isfinite(ask[:, 1:]))
    # t = T: v = 1 ⇒ δ = c exactly (bit for bit the module's c) at every quoted q
    c, _ = glft_constants(**EX)
    assert c == pytest.approx(C_EX, rel=1e-15)
    np.testing.assert_array_equal(bid[-1, :-1], np.full(2 * Q, c))
    np.testing.assert_array_equal(ask[-1, 1:], np.full(2 * Q, c))


def test_exact_table_matches_direct_matrix_exponential():
    """Every row against v(t_i) = expm(−M(T−t_i))·1 formed directly (no renormalisation)."""
    Q, T, n = 3, 0.2, 5
    alpha, eta = alpha_eta(**EX)
    M = reference_matrix(Q, alpha, eta)
    bid, ask = glft_exact_table(**EX, Q=Q, T=T, n_steps=n)
    for i in range(n + 1):
        v = expm(-M * (T - i * T / n)) @ np.ones(2 * Q + 1)
        np.testing.assert_allclose(bid[i, :-1], C_EX + np.log(v[:-1] / v[1:]) / EX["k"], rtol=1e-11)
        np.testing.assert_allclose(ask[i, 1:], C_EX + np.log(v[1:] / v[:-1]) / EX["k"], rtol=1e-11)


model = dict(
    gamma=st.floats(0.01, 1.0),
    sigma=st.floats(0.05, 5.0),
    A=st.floats(0.5, 200.0),
    k=st.floats(0.1, 10.0),
)


@settings(max_examples=60, deadline=None)
@given(**model, Q=st.integers(1, 8), T=st.floats(0.05, 50.0), n_steps=st.integers(1, 6))
def test_exact_table_is_symmetric_in_inventory(gamma, sigma, A, k, Q, T, n_steps):
    bid, ask = glft_exact_table(gamma, sigma, A, k, Q, T, n_steps)
    np.testing.assert_allclose(bid, ask[:, ::-1], rtol=1e-10, atol=1e-12)  # δb(t,q) = δa(t,−q)
    sb, sa = glft_stationary_exact_depths(gamma, sigma, A, k, Q)
    np.testing.assert_array_equal(sb, sa[::-1])


@settings(max_examples=60, deadline=None)
@given(**model, Q=st.integers(1, 8), T=st.floats(0.05, 50.0), n_steps=st.integers(1, 6), q=st.floats(-20.0, 20.0))
def test_skew_direction(gamma, sigma, A, k, Q, T, n_steps, q):
    """Long inventory ⇒ bid further away, ask closer (and vice versa), in every solution."""
    b0, a0 = glft_closed_form_depths(q, gamma, sigma, A, k)
    b1, a1 = glft_closed_form_depths(q + 1.0, gamma, sigma, A, k)
    assert b1 > b0 and a1 < a0

    bid, ask = glft_exact_table(gamma, sigma, A, k, Q, T, n_steps)
    assert np.all(np.diff(bid[:-1, :-1], axis=1) > 0)  # every t < T, quoted q
    assert np.all(np.diff(ask[:-1, 1:], axis=1) < 0)
    sb, sa = glft_stationary_exact_depths(gamma, sigma, A, k, Q)
    assert np.all(np.diff(sb[:-1]) > 0) and np.all(np.diff(sa[1:]) < 0)


def test_finite_horizon_converges_to_ground_state_at_spectral_gap_rate():
    """v(τ) = Σ_n e^{−λ_n τ} φ_n (φ_n·1); 1 is even in q so odd φ_n drop out and the t = 0 row
    approaches the ground-state depths like e^{−(λ₂−λ₀)T}, λ₂ the next even eigenvalue (the
    third smallest). Checked on the ratio of successive errors, then at T with (λ₂−λ₀)T ≈ 90."""
    Q = 5
    alpha, eta = alpha_eta(**EX)
    lam = eigh_tridiagonal(alpha * np.arange(-Q, Q + 1.0) ** 2, np.full(2 * Q, -eta), eigvals_only=True)
    gap = lam[2] - lam[0]
    sb, _ = glft_stationary_exact_depths(**EX, Q=Q)

    def err(T):
        return np.max(np.abs(glft_exact_table(**EX, Q=Q, T=T, n_steps=1)[0][0, :-1] - sb[:-1]))

    Ts = [0.1, 0.2, 0.3, 0.4]
    errs = [err(T) for T in Ts]
    assert errs[0] > 1e-3  # T = 0.1 is visibly not stationary
    for e0, e1 in zip(errs, errs[1:]):
        assert e1 / e0 == pytest.approx(math.exp(-gap * 0.1), rel=0.1)
    assert err(90.0 / gap) < 1e-12


def test_large_horizon_neither_overflows_nor_underflows():
    # e^{−λ₀T} with λ₀ ≈ −2η + sqrt(αη) ≈ −96 and T = 1e5 is far outside float64
    bid, ask = glft_exact_table(**EX, Q=20, T=1e5, n_steps=7)
    sb, sa = glft_stationary_exact_depths(**EX, Q=20)
    np.testing.assert_allclose(bid[:-1], np.broadcast_to(sb, bid[:-1].shape), rtol=1e-12)
    np.testing.assert_allclose(ask[:-1], np.broadcast_to(sa, ask[:-1].shape), rtol=1e-12)


# ---------------------------------------------------------------------- ground state
def test_stationary_matches_dense_eigenvector():
    Q = 6
    alpha, eta = alpha_eta(**EX)
    w, V = np.linalg.eigh(reference_matrix(Q, alpha, eta))
    f = np.abs(V[:, np.argmin(w)])
    sb, sa = glft_stationary_exact_depths(**EX, Q=Q)
    np.testing.assert_allclose(sb[:-1], C_EX + np.log(f[:-1] / f[1:]) / EX["k"], rtol=1e-12)
    np.testing.assert_allclose(sa[1:], C_EX + np.log(f[1:] / f[:-1]) / EX["k"], rtol=1e-12)
    assert np.isposinf(sb[-1]) and np.isposinf(sa[0])


def test_sigma_zero_ground_state_is_the_sine_mode():
    """σ = 0 ⇒ α = 0, M = −η·(path adjacency), ground state f_q = sin(π(q+Q+1)/(2Q+2))."""
    Q = 6
    bid, ask = glft_closed_form_depths(np.arange(-Q, Q + 1), 0.1, 0.0, 140.0, 1.5)
    np.testing.assert_allclose(bid, np.full(2 * Q + 1, C_EX), rtol=1e-15)  # ω = 0: no skew
    np.testing.assert_array_equal(ask, bid)
    q = np.arange(-Q, Q)
    th = math.pi / (2 * Q + 2)
    expected = C_EX + np.log(np.sin(th * (q + Q + 1)) / np.sin(th * (q + Q + 2))) / 1.5
    sb, _ = glft_stationary_exact_depths(0.1, 0.0, 140.0, 1.5, Q)
    np.testing.assert_allclose(sb[:-1], expected, rtol=1e-13)
    tb, _ = glft_exact_table(0.1, 0.0, 140.0, 1.5, Q, 100.0, 3)
    np.testing.assert_allclose(tb[0, :-1], expected, rtol=1e-12)


def test_float64_range_exceeded_is_reported_not_silent():
    # α/η ≈ 1.5e4, Q = 100: ln(f_0/f_Q) ≈ Σ ln(αq²/η) ≈ 100·ln(1.5e4) + 2·ln(100!) ≈ 1700 > 709
    p = dict(gamma=1.0, sigma=20.0, A=1.0, k=1.5)
    with pytest.raises(ValueError, match="Q"):
        glft_exact_table(**p, Q=100, T=1.0, n_steps=10)
    sb, sa = glft_stationary_exact_depths(**p, Q=100)  # log-ratio recursion needs no f itself
    assert np.all(np.isfinite(sb[:-1])) and np.all(np.diff(sb[:-1]) > 0)


# --------------------------------------------------- closed form vs exact ground state
def relative_skew_error(xi, q=0):
    """ρ = (δb(q+1) − δb(q))/ω − 1 for the exact ground state, Q so large (10·sqrt(ξ)) that the
    truncation, of relative size ~exp(−Q²/ξ) = e^{−100}, is invisible."""
    p = params_for_xi(xi)
    Q = math.ceil(10 * math.sqrt(xi)) + 2
    sb, _ = glft_stationary_exact_depths(**p, Q=Q)
    _, omega = glft_constants(**p)
    return (sb[Q + q + 1] - sb[Q + q]) / omega - 1.0


def test_closed_form_skew_error_is_three_sixteenths_over_xi():
    """Where the closed form is good, and by how much — derivation of the tolerance.

    Divide row q of M f = λ f by η and write ε = 1/ξ = sqrt(α/η):
        ε² q² f_q − (f_{q+1} + f_{q−1}) = (λ/η) f_q.
    With x = q·sqrt(ε), h = sqrt(ε): f(x+h) + f(x−h) = 2f + ε f'' + (ε²/12) f'''' + O(ε³), so
        −f'' + x² f − (ε/12) f'''' = E f,   E = (λ/η + 2)/ε.
    At ε → 0 this is the harmonic oscillator, f = e^{−x²/2}: GLFT's Gaussian, i.e. the
    closed form. First order in ε: put ln f = −x²/2 + ε φ(x); using f'''' = (x⁴−6x²+3) f at
    order 0, the ε-terms give 2xφ' − φ'' − (x⁴ − 6x² + 3)/12 = E₁, solved by
    φ = x⁴/96 − 3x²/32 (E₁ = −1/16). Back in q:
        ln f_q = −(ε/2)(1 + 3ε/16) q² + ε³ q⁴/96 + O(ε³ q²).
    The exact skew δb(q+1) − δb(q) = −(1/k)·Δ² ln f at q+1 is therefore (ε/k)(1 + 3ε/16) +
    O(ε³) for |q| = O(1), against the closed form ω = ε/k:
        ρ(ξ) = 3/(16ξ) + O(1/ξ²),  the exact skew being the larger.
    Tolerance: the O(1/ξ²) remainder is asserted as |ξρ − 3/16| ≤ 0.5/ξ (measured:
    ξ²(ρ − 3/(16ξ)) = −0.110, −0.084, −0.079, −0.077 at ξ = 4, 16, 64, 256, converging to
    ≈ −0.077; 0.5 leaves a ×4.5 margin). At ξ = 16 this gives the concrete bound
    0 < ρ ≤ 3/256 ≈ 1.2 % (measured ρ(16) = 1.139 %), and ρ ≈ 1.4 % at the worked example.
    """
    xis = [4.0, 16.0, 64.0, 256.0]
    rhos = [relative_skew_error(xi) for xi in xis]
    for xi, rho in zip(xis, rhos):
        assert 0.0 < rho <= 3.0 / (16.0 * xi)
        assert abs(xi * rho - 3.0 / 16.0) <= 0.5 / xi
    assert all(r1 < r0 / 3.5 for r0, r1 in zip(rhos, rhos[1:]))  # ~1/ξ: ×4 in ξ ⇒ ≈ ÷4 in ρ
    # the same first-order law one lot either side of the centre
    for q in (-1, 1):
        assert abs(16.0 * relative_skew_error(16.0, q) - 3.0 / 16.0) <= 0.5 / 16.0
    # worked example, ξ = 12.89: skew within 3/(16ξ) = 1.45 % of the closed form
    Q = 40
    sb, _ = glft_stationary_exact_depths(**EX, Q=Q)
    rho_ex = (sb[Q + 1] - sb[Q]) / OMEGA_EX - 1.0
    assert abs(XI_EX * rho_ex - 3.0 / 16.0) <= 0.5 / XI_EX
    # the level at q = 0: δb(0) − (c + ω/2) = (1/k)ln(f_0/f_1) − ε/(2k) = (ω/2)·(3/(16ξ) + O(1/ξ²))
    level = 2.0 * (sb[Q] - C_EX - OMEGA_EX / 2) / OMEGA_EX
    assert abs(XI_EX * level - 3.0 / 16.0) <= 0.5 / XI_EX


def test_closed_form_is_poor_near_the_inventory_bound():
    """Near ±Q the exact quotes feel the bound (no quotes beyond it) and, for large |q|, the
    lattice: f_{Q−1}/f_Q = (αQ² − λ₀)/η exactly, not a Gaussian ratio. The difference there
    is many times the central one, and larger than the skew of a lot."""
    for Q in (5, 30):  # Q below and well above the ground-state width sqrt(ξ) ≈ 3.6 lots
        d = glft_difference(**EX, Q=Q, T=50.0, n_steps=2)
        centre = abs(d.stationary_bid[Q])
        edge_bid = abs(d.stationary_bid[2 * Q - 1])  # q = Q − 1
        edge_ask = abs(d.stationary_ask[1])  # q = −(Q − 1)
        assert edge_bid == pytest.approx(edge_ask, rel=1e-10)
        assert edge_bid > 10 * centre
        assert edge_bid > OMEGA_EX
        assert d.stationary_max_abs == pytest.approx(edge_bid, rel=1e-12)
    # with the bound inside the ground-state width even the centre is off by ~12 % of ω
    assert abs(glft_difference(**EX, Q=5, T=50.0, n_steps=2).stationary_bid[5]) > 0.1 * OMEGA_EX


def test_difference_report_layout():
    Q, T, n = 4, 0.05, 3
    d = glft_difference(**EX, Q=Q, T=T, n_steps=n)
    assert isinstance(d, GLFTDifference)
    np.testing.assert_array_equal(d.q, np.arange(-Q, Q + 1))
    cb, ca = glft_closed_form_depths(d.q, **EX)
    tb, ta = glft_exact_table(**EX, Q=Q, T=T, n_steps=n)
    sb, sa = glft_stationary_exact_depths(**EX, Q=Q)
    np.testing.assert_allclose(d.finite_bid[:-1], tb[0, :-1] - cb[:-1], rtol=1e-14)
    np.testing.assert_allclose(d.finite_ask[1:], ta[0, 1:] - ca[1:], rtol=1e-14)
    np.testing.assert_allclose(d.stationary_bid[:-1], sb[:-1] - cb[:-1], rtol=1e-14)
    assert np.isnan(d.finite_bid[-1]) and np.isnan(d.finite_ask[0])
    assert np.isnan(d.stationary_bid[-1]) and np.isnan(d.stationary_ask[0])
    inner = slice(1, -1)  # |q| <= Q − 1
    assert d.finite_max_abs == max(np.abs(d.finite_bid[inner]).max(), np.abs(d.finite_ask[inner]).max())
    # T = 0.05 is short: the t = 0 row is still far from stationary
    assert d.finite_max_abs != pytest.approx(d.stationary_max_abs, rel=0.01)
    assert d.xi == pytest.approx(XI_EX, rel=1e-13)
    with pytest.raises(AttributeError):
        d.xi = 1.0  # frozen
    assert glft_difference(0.1, 0.0, 140.0, 1.5, 2, 1.0, 1).xi == math.inf


# ------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("gamma", 0.0, "> 0"),
        ("gamma", -1.0, "> 0"),
        ("gamma", math.nan, "> 0"),
        ("sigma", -0.1, ">= 0"),
        ("sigma", math.inf, ">= 0"),
        ("A", 0.0, "> 0"),
        ("k", -2.0, "> 0"),
        ("Q", 0, ">= 1"),
        ("Q", 2.0, "integer"),
        ("Q", True, "integer"),
        ("T", 0.0, "> 0"),
        ("T", math.inf, "> 0"),
        ("n_steps", 0, ">= 1"),
        ("n_steps", 1.5, "integer"),
    ],
)
def test_invalid_inputs_name_parameter_and_range(name, value, allowed):
    args = dict(**EX, Q=3, T=1.0, n_steps=2)
    args[name] = value
    with pytest.raises(ValueError, match=rf"^{name}: .*{allowed}"):
        glft_exact_table(**args)
    with pytest.raises(ValueError, match=rf"^{name}: "):
        glft_difference(**args)
    if name in EX:
        with pytest.raises(ValueError, match=rf"^{name}: .*{allowed}"):
            glft_constants(**{**EX, name: value})
        with pytest.raises(ValueError, match=rf"^{name}: "):
            glft_closed_form_depths(0, **{**EX, name: value})
    if name in (*EX, "Q"):
        with pytest.raises(ValueError, match=rf"^{name}: "):
            glft_stationary_exact_depths(**{k: v for k, v in args.items() if k not in ("T", "n_steps")})


def test_numpy_integers_are_accepted():
    bid, _ = glft_exact_table(**EX, Q=np.int64(2), T=1.0, n_steps=np.int32(3))
    assert bid.shape == (4, 5)


def test_exact_table_with_a_target_is_the_shifted_problem():
    """With q* = an integer m, the penalty α(q − m)² makes the problem on q = −Q..Q the
    target-0 problem on q − m ∈ −Q−m..Q−m. The bounds' influence decays like the ground
    state's tail, so away from both bounds (|q − m| ≤ 10, Q = 30) the depths at q equal
    the target-0 depths at q − m."""
    g, sig, A, k, Q, T, n = 0.1, 2.0, 140.0, 1.5, 30, 1.0, 50
    b0, a0 = glft_exact_table(g, sig, A, k, Q, T, n)
    m = 3
    bm, am = glft_exact_table(g, sig, A, k, Q, T, n, q_target=float(m))
    inner = np.arange(-10, 11)  # q − m, far from ±Q
    np.testing.assert_allclose(bm[:, inner + m + Q], b0[:, inner + Q], rtol=0, atol=1e-9)
    np.testing.assert_allclose(am[:, inner + m + Q], a0[:, inner + Q], rtol=0, atol=1e-9)
    # the bound stays absolute: no bid at q = +Q, no ask at q = −Q
    assert np.all(np.isinf(bm[:, -1])) and np.all(np.isinf(am[:, 0]))


@pytest.mark.parametrize("bad", [30.0, -30.0, 31.5, float("nan")])
def test_exact_table_rejects_a_target_outside_the_bound(bad):
    with pytest.raises(InputError, match="q_target"):
        glft_exact_table(0.1, 2.0, 140.0, 1.5, 30, 1.0, 10, q_target=bad)
