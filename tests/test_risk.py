"""Tests of the portfolio risk layer (flatbook.risk) and ``flatbook risk`` / ``flatbook stress``.

Statistical assertions read |estimate − exact| <= Z·SE with Z = 4 (conftest), fixed seeds:

- sample quantile: SE = √(α(1 − α)/n)/f(q), f the loss density at the quantile (for a normal
  loss N(0, s²): f(q) = φ(z_α)/s);
- sample ES: SE² = [Var(L | L >= q) + α·(ES − q)²]/(n(1 − α)) (Manistre & Hancock 2005); for a
  normal loss Var(L | L >= q) = s²·(1 + z·λ − λ²), λ = φ(z)/(1 − α).

Finite differences: the tolerance is the truncation error bound of the scheme (h²/6·|f'''| for a
central first difference, h²/12·|f''''| for the second) with the higher derivative taken
analytically (speed ∂Γ/∂S, ultima ∂³V/∂σ³) at x − h, x, x + h, times 2, plus the rounding error
c·ε·(S + K)/h^k of the differenced prices.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from typer.testing import CliRunner

import flatbook.cli.risk_cmds  # noqa: F401  (registers risk and stress)
from conftest import EPS, Z, prop
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.hedging.schedules import almgren_chriss, immediate, twap
from flatbook.risk.book import SEED_SCENARIOS, book_from_dict, load_book
from flatbook.risk.greeks import book_greeks, bs_greeks, bs_price
from flatbook.risk.stress import liquidation_costs, run_stress
from flatbook.risk.var import (
    Revaluation,
    book_var,
    correlation_report,
    historical_var,
    monte_carlo_var,
    parametric_var,
    simulated_history,
    var_es,
)
from flatbook.sim.metrics import var_es as sim_var_es

ROOT = Path(__file__).resolve().parents[1]
BOOKS = ROOT / "examples" / "books"
runner = CliRunner()


def rand_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    A = rng.standard_normal((d, d))
    return A @ A.T / d + np.diag(rng.uniform(0.1, 1.0, d))


# --------------------------------------------------------------------------- Black–Scholes


def _d1(S, K, T, v, r):
    return (np.log(S / K) + (r + 0.5 * v * v) * T) / (v * np.sqrt(T))


def speed(S, K, T, v, r):
    """∂Γ/∂S = −Γ/S·(1 + d₁/(σ√T)) (Hull ch. 19; Haug)."""
    g = bs_greeks(S, K, T, v, r).gamma
    return -g / S * (1.0 + _d1(S, K, T, v, r) / (v * np.sqrt(T)))


def ultima(S, K, T, v, r):
    """∂³V/∂σ³ = −vega/σ²·(d₁d₂(1 − d₁d₂) + d₁² + d₂²) (ultima; E. G. Haug, *The Complete Guide to
    Option Pricing Formulas*, 2nd ed., 2007)."""
    d1 = _d1(S, K, T, v, r)
    d2 = d1 - v * np.sqrt(T)
    vega = bs_greeks(S, K, T, v, r).vega
    return -vega / (v * v) * (d1 * d2 * (1.0 - d1 * d2) + d1 * d1 + d2 * d2)


option_args = st.tuples(
    st.floats(20.0, 200.0),
    st.floats(0.7, 1.4),
    st.floats(0.05, 2.0),
    st.floats(0.1, 0.8),
    st.floats(-0.01, 0.08),
    st.booleans(),
)


@prop(80)
@given(option_args)
def test_greeks_match_finite_differences(args):
    S, kk, T, v, r, call = args
    K = S * kk
    g = bs_greeks(S, K, T, v, r, call)
    px = lambda s=S, vol=v: float(bs_price(s, K, T, vol, r, call))  # noqa: E731
    scale = S + K  # magnitude of the two terms whose difference is the price
    # delta: central difference, truncation h²/6·|V'''|, V''' = speed (same for call and put)
    h = 1e-4 * S
    fd = (px(S + h) - px(S - h)) / (2 * h)
    v3 = max(abs(float(speed(s, K, T, v, r))) for s in (S - h, S, S + h))
    assert abs(fd - float(g.delta)) <= 2 * (h * h / 6 * v3) + 8 * EPS * scale / h
    # gamma: second difference, truncation h²/12·|V''''| (V'''' = ∂speed/∂S, by a difference of speed)
    h = 1e-3 * S
    fd2 = (px(S + h) - 2 * px() + px(S - h)) / (h * h)
    v4 = max(abs(float(speed(s + h, K, T, v, r) - speed(s - h, K, T, v, r))) / (2 * h) for s in (S - h, S, S + h))
    assert abs(fd2 - float(g.gamma)) <= 2 * (h * h / 12 * v4) + 16 * EPS * scale / (h * h)
    # vega (per 1.00 vol): central difference in σ, truncation h²/6·|ultima|
    h = 1e-4
    fdv = (px(vol=v + h) - px(vol=v - h)) / (2 * h)
    u = max(abs(float(ultima(S, K, T, x, r))) for x in (v - h, v, v + h))
    assert abs(fdv - float(g.vega)) <= 2 * (h * h / 6 * u) + 8 * EPS * scale / h


@prop(80)
@given(option_args)
def test_put_call_parity(args):
    S, kk, T, v, r, _ = args
    K = S * kk
    c, p = bs_greeks(S, K, T, v, r, True), bs_greeks(S, K, T, v, r, False)
    assert abs(float(c.price - p.price) - (S - K * math.exp(-r * T))) <= 1e-12 * (S + K)
    assert abs(float(c.delta - p.delta) - 1.0) <= 4 * EPS
    assert float(c.gamma) == float(p.gamma)
    assert float(c.vega) == float(p.vega)


def test_bs_edge_cases():
    # expired: intrinsic; S = 0: call 0, put K·e^(−rT); vectorised shapes broadcast
    assert float(bs_price(110.0, 100.0, 0.0, 0.2, 0.0, True)) == 10.0
    assert float(bs_price(90.0, 100.0, -0.1, 0.2, 0.0, False)) == 10.0
    assert float(bs_price(0.0, 100.0, 1.0, 0.2, 0.05, True)) == 0.0
    assert float(bs_price(0.0, 100.0, 1.0, 0.2, 0.05, False)) == pytest.approx(100 * math.exp(-0.05), rel=1e-15)
    out = bs_price(np.full((3, 1), 100.0), np.array([90.0, 100.0]), 0.5, 0.3, 0.0, np.array([True, False]))
    assert out.shape == (3, 2)
    # Hull's worked example (ch. "The Black–Scholes–Merton model"): S = 42, K = 40, r = 10%, σ = 20%,
    # T = 0.5 → c = 4.76, p = 0.81
    assert float(bs_price(42.0, 40.0, 0.5, 0.2, 0.1, True)) == pytest.approx(4.7594, abs=5e-5)
    assert float(bs_price(42.0, 40.0, 0.5, 0.2, 0.1, False)) == pytest.approx(0.8086, abs=5e-5)


# --------------------------------------------------------------------------- the book's Greeks

OPT_BOOK = {
    "book": {"rate": 0.02, "capital": 1e6},
    "limits": {"gamma": 5.0, "vega": 1e6, "book_vega": 1e9},
    "instruments": [
        {"name": "A", "price": 100.0, "vol": 2.0, "position": 50.0, "multiplier": 10.0, "limit": 400.0},
        {"name": "B", "price": 20.0, "vol_annual": 0.4, "position": -30.0},
    ],
    "correlation": {"default": 0.3},
    "options": [
        {
            "underlying": "A",
            "type": "call",
            "strike": 105.0,
            "expiry": 0.5,
            "vol": 0.25,
            "contracts": -3.0,
            "multiplier": 10.0,
        },
        {
            "underlying": "A",
            "type": "put",
            "strike": 95.0,
            "expiry": 0.25,
            "vol": 0.3,
            "contracts": 2.0,
            "multiplier": 10.0,
        },
        {"underlying": "B", "type": "call", "strike": 20.0, "expiry": 1.0, "vol": 0.4, "contracts": 4.0},
    ],
}


def test_delta_equivalent_inventory():
    b = book_from_dict(OPT_BOOK)
    g = book_greeks(b)
    exp_q, exp_g, exp_v = np.array([50.0, -30.0]), np.zeros(2), np.zeros(2)
    for o in OPT_BOOK["options"]:
        j = 0 if o["underlying"] == "A" else 1
        S = OPT_BOOK["instruments"][j]["price"]
        m = OPT_BOOK["instruments"][j].get("multiplier", 1.0)
        x = bs_greeks(S, o["strike"], o["expiry"], o["vol"], 0.02, o["type"] == "call")
        lots = o["contracts"] * o.get("multiplier", 1.0)
        exp_q[j] += float(x.delta) * lots  # stock + Σ option delta × contracts × multiplier
        exp_g[j] += float(x.gamma) * lots
        exp_v[j] += float(x.vega) * lots * m
    np.testing.assert_allclose(g.delta_equivalent, exp_q, rtol=1e-14)
    np.testing.assert_allclose(g.gamma, exp_g, rtol=1e-14)
    np.testing.assert_allclose(g.vega, exp_v, rtol=1e-14)
    np.testing.assert_allclose(g.exposure, exp_q * np.array([10.0, 1.0]), rtol=1e-14)
    # vol_annual converted explicitly: σ_day = 0.4·20/√252
    assert b.vols[1] == pytest.approx(0.4 * 20 / math.sqrt(252), rel=1e-15)
    # limits: a breach exactly where |value| > limit (position on q_eq, gamma, vega; book vega)
    lim = {"position": (400.0, 60.0), "gamma": (0.1, 0.1), "vega": (1e3, 1e3)}
    d = json.loads(json.dumps(OPT_BOOK))
    d["limits"] = {"gamma": 0.1, "vega": 1e3, "book_vega": 1.0}
    d["instruments"][1]["limit"] = 60.0
    g2 = book_greeks(book_from_dict(d))
    vals = {"position": exp_q, "gamma": exp_g, "vega": exp_v}
    want = [(n, k) for j, n in enumerate("AB") for k in ("position", "gamma", "vega") if abs(vals[k][j]) > lim[k][j]]
    got = [(x["instrument"], x["limit"]) for x in g2.breaches]
    assert got == want + [(None, "book_vega")]
    assert 0 < len(want) < 6


# --------------------------------------------------------------------------- parametric VaR

cov_books = st.tuples(st.integers(1, 8), st.integers(0, 2**32 - 1), st.floats(0.9, 0.999), st.floats(0.1, 20.0))


@prop(60)
@given(cov_books)
def test_parametric_closed_form_and_euler(args):
    d, seed, a, h = args
    rng = np.random.default_rng(seed)
    C = rand_cov(rng, d)
    w = rng.standard_normal(d) * rng.uniform(1, 100)
    res = parametric_var(w, C, a, h)
    sig = math.sqrt(float(w @ C @ w) * h)
    z = norm.ppf(a)
    assert res.var == pytest.approx(z * sig, rel=1e-12)
    assert res.es == pytest.approx(norm.pdf(z) / (1 - a) * sig, rel=1e-12)
    assert res.es >= res.var
    # Euler: components sum to VaR (and ES), exact to 1e-12 relative
    assert abs(math.fsum(res.component) - res.var) <= 1e-12 * res.var
    assert abs(math.fsum(res.component_es) - res.es) <= 1e-12 * res.es
    np.testing.assert_allclose(res.component, w * res.marginal, rtol=1e-15)


def test_parametric_marginal_is_the_derivative():
    rng = np.random.default_rng(3)
    C = rand_cov(rng, 5)
    w = rng.standard_normal(5) * 10
    res = parametric_var(w, C, 0.99, 2.0)
    for i in range(5):
        e = np.zeros(5)
        e[i] = 1e-4
        fd = (parametric_var(w + e, C, 0.99, 2.0).var - parametric_var(w - e, C, 0.99, 2.0).var) / 2e-4
        assert fd == pytest.approx(res.marginal[i], rel=1e-7, abs=1e-9)


# --------------------------------------------------------------------------- sample VaR and ES


def normal_se(s: float, a: float, n: int) -> tuple[float, float]:
    """SE of the sample VaR and ES of a N(0, s²) loss (module docstring)."""
    z = norm.ppf(a)
    lam = norm.pdf(z) / (1 - a)
    se_q = math.sqrt(a * (1 - a) / n) / (norm.pdf(z) / s)
    var_tail = s * s * (1 + z * lam - lam * lam)
    es, q = lam * s, z * s
    return se_q, math.sqrt((var_tail + a * (es - q) ** 2) / (n * (1 - a)))


@pytest.mark.parametrize("a", [0.95, 0.99])
def test_monte_carlo_converges_to_parametric(a):
    rng = np.random.default_rng(11)
    C = rand_cov(rng, 4)
    w = np.array([30.0, -10.0, 5.0, 12.0])
    p = parametric_var(w, C, a, 1.0)
    n = 100_000
    mc = monte_carlo_var(w, C, a, 1.0, n, seed=5)
    s = math.sqrt(float(w @ C @ w))
    se_q, se_es = normal_se(s, a, n)
    assert abs(mc.var - p.var) <= Z * se_q
    assert abs(mc.es - p.es) <= Z * se_es
    assert mc.var_ci[0] <= mc.var <= mc.var_ci[1]
    assert abs(math.fsum(mc.component) - mc.var) <= 1e-12 * abs(mc.var)
    assert abs(math.fsum(mc.component_es) - mc.es) <= 1e-12 * abs(mc.es)
    # components: E[−P_i | L = VaR] over a window of 2m + 1 scenarios; for a normal book
    # E[−P_i | L = l] = β_i·l, β_i = Cov(P_i, L)/Var(L), with conditional variance
    # Var(P_i) − Cov²/Var(L); the error of the sample VaR adds β_i·SE_q
    m = max(2, math.isqrt(n) // 4)
    cov_iL = w * (C @ w)
    beta = cov_iL / s**2
    cond_sd = np.sqrt(np.maximum(w * w * np.diag(C) - cov_iL**2 / s**2, 0.0))
    tol = Z * np.sqrt(cond_sd**2 / (2 * m + 1) + (beta * se_q) ** 2)
    assert np.all(np.abs(mc.component - p.component) <= tol)


def test_historical_converges_to_parametric_with_sqrt_h():
    rng = np.random.default_rng(21)
    C = rand_cov(rng, 3)
    w = np.array([10.0, 4.0, -7.0])
    n, a, h = 20_000, 0.99, 4.0
    D = simulated_history(C, n, seed=9)
    res = historical_var(w, D, a, h)
    p = parametric_var(w, C, a, h)
    s = math.sqrt(float(w @ C @ w) * h)
    se_q, se_es = normal_se(s, a, n)
    assert abs(res.var - p.var) <= Z * se_q
    assert abs(res.es - p.es) <= Z * se_es
    assert abs(math.fsum(res.component) - res.var) <= 1e-12 * res.var
    # the linear P&L of historical simulation is the sample's: VaR of −√h·D·w by var_es
    assert (res.var, res.es) == pytest.approx(var_es(math.sqrt(h) * D @ w, a), rel=1e-13)


def _monotone_book():
    """Long stock + long calls on one underlying: book value increasing in S, so the loss
    quantile is the loss at the (1 − α) quantile of the price move (exact, for full revaluation)."""
    return book_from_dict(
        {
            "instruments": [{"name": "X", "price": 100.0, "vol": 2.5, "position": 10.0}],
            "options": [
                {"underlying": "X", "type": "call", "strike": 100.0, "expiry": 0.05, "vol": 0.4, "contracts": 30.0}
            ],
            "book": {"rate": 0.01},
        }
    )


@pytest.mark.parametrize("h", [1.0, 3.0])
def test_full_revaluation_monte_carlo_matches_exact_quantile(h):
    b = _monotone_book()
    g = book_greeks(b)
    os_ = b.option_set()
    rev = Revaluation(os_, b.prices, g.linear_exposure, b.days_per_year)
    a, n = 0.99, 100_000
    sig = b.vols[0] * math.sqrt(h)
    z = norm.ppf(a)
    S0, dS = b.prices, -z * sig

    def value(S):
        return float(S[0] * 10.0 + os_.value(S, elapsed_years=h / b.days_per_year).sum())

    v0 = float(S0[0] * 10.0 + os_.value(S0).sum())
    exact = v0 - value(S0 + dS)
    eps = 1e-4
    dens_slope = (value(S0 + dS + eps) - value(S0 + dS - eps)) / (2 * eps)  # |dL/dΔS| at the quantile
    se_q = math.sqrt(a * (1 - a) / n) / (norm.pdf(z) / (sig * dens_slope))
    mc = monte_carlo_var(g.exposure, b.cov, a, h, n, seed=2, revaluation=rev)
    assert abs(mc.var - exact) <= Z * se_q
    assert mc.full_revaluation
    # gamma: long convexity makes the full-revaluation VaR smaller than the delta-normal one
    assert mc.var < parametric_var(g.exposure, b.cov, a, h).var


def test_revaluation_pnl_by_hand():
    b = book_from_dict(OPT_BOOK)
    g = book_greeks(b)
    rev = Revaluation(b.option_set(), b.prices, g.linear_exposure, b.days_per_year)
    dS = np.array([[-3.0, 0.5], [2.0, -1.0]])
    P = rev.pnl(dS, 2.0)
    for row in range(2):
        want = g.linear_exposure * dS[row]
        for o in OPT_BOOK["options"]:
            j = 0 if o["underlying"] == "A" else 1
            m = OPT_BOOK["instruments"][j].get("multiplier", 1.0)
            c = o["type"] == "call"
            S = b.prices[j]
            v1 = bs_price(S + dS[row, j], o["strike"], o["expiry"] - 2.0 / 252, o["vol"], 0.02, c)
            v0 = bs_price(S, o["strike"], o["expiry"], o["vol"], 0.02, c)
            want[j] += float(v1 - v0) * o["contracts"] * o.get("multiplier", 1.0) * m
        np.testing.assert_allclose(P[row], want, rtol=1e-12)


pnl_values = st.one_of(
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, -1.0, 0.1, 0.1 + 2**-55, 1e-300, -7.25, 3.0]),
)


@prop(200)
@given(st.lists(pnl_values, min_size=1, max_size=60), st.floats(0.5, 0.9999))
def test_es_at_least_var(pnl, a):
    v, es = var_es(pnl, a)
    assert es >= v
    assert (v, es) == sim_var_es(np.array(pnl), a)  # the simulator's definition, exactly
    if len(pnl) >= 2:
        res = historical_var([1.0], np.array(pnl)[:, None], a, 1.0)
        assert res.es >= res.var
        assert (res.var, res.es) == (v, es)


def test_es_at_least_var_ties():
    for pnl in ([5.0] * 10, [1.0, 1.0, 1.0, 2.0], [0.1] * 3 + [0.1 + 2**-55] * 4):
        for a in (0.5, 0.9, 0.99):
            v, es = var_es(pnl, a)
            assert es >= v


def test_correlation_report():
    C = np.array([[1.0, 0.9, -0.2], [0.9, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    rep = correlation_report(C, ["a", "b", "c"], top=2)
    assert [(p["a"], p["b"]) for p in rep["top_pairs"]] == [("a", "b"), ("a", "c")]
    assert sum(rep["eigenvalues"]) == pytest.approx(3.0, rel=1e-12)
    assert list(rep["eigenvalues"]) == sorted(rep["eigenvalues"], reverse=True)
    assert 1.0 <= rep["effective_factors"] <= 3.0


# --------------------------------------------------------------------------- stress

LIN_BOOK = {
    "book": {"capital": 50_000.0, "hours_per_day": 6.5},
    "limits": {"position": 300.0},
    "stress": {"gap": 0.05, "drought_hours": 2.0, "sigmas": 3.0, "max_move_sigmas": 5.0},
    "instruments": [
        {
            "name": "A",
            "price": 50.0,
            "vol": 1.0,
            "position": 100.0,
            "multiplier": 2.0,
            "adv": 5000.0,
            "half_spread": 0.02,
            "eta": 1e-3,
            "max_daily_move": 0.1,
        },
        {"name": "B", "price": 20.0, "vol": 0.5, "position": -60.0, "adv": 2000.0, "half_spread": 0.01, "eta": 5e-4},
        {"name": "C", "price": 80.0, "vol": 1.5, "position": 10.0, "limit": 50.0},
    ],
    "correlation": {"matrix": [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]},
    "scenarios": [
        {"name": "shock", "price": {"A": -0.1, "B": 0.04}, "vol": 0.5, "correlation": 0.8, "hours": 3.0},
        {"name": "both", "price": 0.02, "both_directions": True},
    ],
}


def test_linear_book_scenarios_closed_forms():
    b = book_from_dict(LIN_BOOK)
    rep = run_stress(b)
    loss = {s.name: s.loss for s in rep.scenarios}
    assert [s.name for s in rep.scenarios] == list(SEED_SCENARIOS) + ["shock", "both"]
    w = b.positions * b.multipliers
    S, C = b.prices, b.cov
    sig = math.sqrt(float(w @ C @ w))
    assert loss["overnight-gap"] == pytest.approx(0.05 * abs(float(w @ S)), rel=1e-12)
    assert loss["no-liquidity"] == pytest.approx(3.0 * sig * math.sqrt(2.0 / 6.5), rel=1e-12)
    moves = np.array([0.1 * 50.0, 5 * 0.5, 5 * 1.5])
    assert loss["worst-case"] == pytest.approx(
        float(np.sum(np.array([300.0, 300.0, 50.0]) * b.multipliers * moves)), rel=1e-12
    )
    # user: −Σ w·S·shock, then held 3 h with vols × 1.5 and every correlation 0.8
    shock = np.array([-0.1, 0.04, 0.0])
    Cs = np.full((3, 3), 0.8)
    np.fill_diagonal(Cs, 1.0)
    vs = b.vols * 1.5
    sig_s = math.sqrt(float(w @ (Cs * np.outer(vs, vs)) @ w))
    assert loss["shock"] == pytest.approx(-float(w @ (S * shock)) + 3.0 * sig_s * math.sqrt(3.0 / 6.5), rel=1e-12)
    assert loss["both"] == pytest.approx(0.02 * abs(float(w @ S)), rel=1e-12)


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_scenarios_other_than_liquidation_are_linear_in_book_size(scale):
    b = book_from_dict(OPT_BOOK | {"scenarios": [{"name": "u", "price": -0.07, "vol": 0.3, "hours": 1.0}]})
    r1 = {s.name: s for s in run_stress(b).scenarios}
    r2 = {s.name: s for s in run_stress(b.with_positions(scale)).scenarios}
    for n in ("overnight-gap", "no-liquidity", "u"):
        assert r1[n].linear
        assert r2[n].loss == pytest.approx(scale * r1[n].loss, rel=1e-10)


liq_cases = st.tuples(
    st.floats(-5e4, 5e4).filter(lambda x: abs(x) > 1e-6),
    st.floats(0.01, 3.0),
    st.sampled_from([0.0, 1e-4, 3e-3]),
    st.floats(0.0, 0.05),
    st.sampled_from([1e3, 1e5, math.inf]),
    st.sampled_from([0.0, 1e-6, 1e-3]),
    st.integers(1, 30),
)


@prop(60)
@given(liq_cases)
def test_liquidation_costs_match_schedules(args):
    X, sigma, eta, eps, adv, lam, N = args
    step = 5.0 / 390.0
    c = liquidation_costs(
        [X],
        sigma,
        eta,
        eps,
        adv,
        method="almgren-chriss",
        participation=0.1,
        steps=N,
        risk_aversion=lam,
        step_days=step,
    )
    T = max(abs(X) / (0.1 * adv), step)
    assert c["T"][0] == pytest.approx(T, rel=1e-15)
    if eta > 0:
        ref = almgren_chriss(X, T, N, sigma, eta, eps, 0.0, lam)
    elif lam * sigma * sigma > 0:
        ref = immediate(X, T, N, sigma, eta, eps)  # κ → ∞: the Almgren–Chriss limit without impact
    else:
        ref = twap(X, T, N, sigma, eta, eps)  # κ = 0: the straight line
    assert c["expected_cost"][0] == pytest.approx(ref.expected_cost, rel=1e-12, abs=1e-300)
    assert c["variance"][0] == pytest.approx(ref.variance, rel=1e-12, abs=1e-300)
    ci = liquidation_costs([X], sigma, eta, eps, adv, method="immediate", step_days=step)
    ri = immediate(X, step, 1, sigma, eta, eps)
    assert ci["expected_cost"][0] == pytest.approx(ri.expected_cost, rel=1e-12)
    assert ci["variance"][0] == 0.0 == ri.variance


def _check_survivability(b):
    rep = run_stress(b)
    sv = rep.survivability
    cap = b.capital
    assert sv.binding is not None
    Q = sv.q_max
    # independently: the book scaled to max |q_eq| = Q, every scenario rerun from scratch
    at = {s.name: s.loss for s in run_stress(b.with_positions(Q / sv.reference)).scenarios}
    # the worst case at the limit: the scaled book's |q_eq| × max daily move, every one adverse
    qeq = book_greeks(b).delta_equivalent * (Q / sv.reference)
    at["worst-case"] = float(
        np.sum(
            np.abs(qeq)
            * b.multipliers
            * np.array(
                [
                    i.max_daily_move * i.price if i.max_daily_move else b.stress.max_move_sigmas * s
                    for i, s in zip(b.instruments, b.vols)
                ]
            )
        )
    )
    tol = 1e-9 if sv.binding == "liquidation" else 1e-12
    assert at[sv.binding] == pytest.approx(cap, rel=tol)
    for n, x in at.items():
        assert x <= cap * (1 + 1e-12), n
    row = {r["name"]: r for r in sv.per_scenario}
    assert row[sv.binding]["q_max"] == Q
    assert all(r["q_max"] >= Q for r in sv.per_scenario)
    # a little past Q_max the binding scenario breaks the capital
    past = {s.name: s.loss for s in run_stress(b.with_positions(Q * (1 + 1e-6) / sv.reference)).scenarios}
    past["worst-case"] = at["worst-case"] * (1 + 1e-6)
    assert past[sv.binding] > cap
    return sv


def test_survivability_closed_form_binding():
    sv = _check_survivability(book_from_dict(LIN_BOOK))
    assert "closed form" in next(r["method"] for r in sv.per_scenario if r["name"] == sv.binding)


def test_survivability_bisection_binding():
    d = json.loads(json.dumps(LIN_BOOK))
    for i in d["instruments"]:
        i.update(adv=50.0, eta=2.0, half_spread=0.5)  # illiquid: liquidation binds
    d["stress"]["max_move_sigmas"] = 0.5
    d["instruments"][0]["max_daily_move"] = 0.001
    sv = _check_survivability(book_from_dict(d))
    assert sv.binding == "liquidation"
    assert "bisection" in next(r["method"] for r in sv.per_scenario if r["name"] == "liquidation")


def test_examples_load_and_survive():
    for f in ("two_stocks.toml", "options_hedged.toml"):
        b = load_book(BOOKS / f)
        assert b.capital is not None
        _check_survivability(b)


# --------------------------------------------------------------------------- CLI


def cli(*args: str):
    return runner.invoke(cli_app.app, list(args))


def test_cli_risk_json_keys():
    for f in ("two_stocks.toml", "options_hedged.toml"):
        r = cli("risk", "--config", str(BOOKS / f), "--json", "--mc-scenarios", "20000")
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        assert set(d) == {
            "book",
            "settings",
            "units",
            "positions",
            "instruments",
            "greeks",
            "limit_breaches",
            "var",
            "correlation",
        }
        assert set(d["var"]) == {"parametric", "historical", "monte-carlo"}
        for _m, v in d["var"].items():
            assert v["es"] >= v["var"]
            assert math.fsum(c["component_var"] for c in v["contributions"]) == pytest.approx(v["var"], rel=1e-12)
            assert {c["instrument"] for c in v["contributions"]} == {x["instrument"] for x in d["instruments"]}
        assert d["settings"]["mc_scenarios"] == 20000
        assert {"delta", "gamma", "vega", "value"} <= set(d["positions"][0])
        assert {"delta_equivalent", "gamma", "vega", "exposure"} <= set(d["instruments"][0])
        assert {"matrix", "eigenvalues", "top_pairs"} <= set(d["correlation"])


def test_cli_risk_flags_and_table():
    r = cli(
        "risk",
        "--config",
        str(BOOKS / "two_stocks.toml"),
        "--json",
        "--confidence",
        "0.95",
        "--horizon",
        "5",
        "--mc-scenarios",
        "5000",
        "--seed",
        "3",
    )
    d = json.loads(r.stdout)
    assert d["var"]["parametric"]["confidence"] == 0.95 and d["var"]["parametric"]["horizon_days"] == 5
    r = cli("risk", "--config", str(BOOKS / "options_hedged.toml"), "--mc-scenarios", "5000")
    assert r.exit_code == 0, r.stderr
    assert "VaR and ES" in r.stdout and "LIMIT BREACH" in r.stdout


def test_cli_stress_json_and_selection():
    r = cli("stress", "--config", str(BOOKS / "two_stocks.toml"), "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {"book", "units", "capital", "settings", "scenarios", "worst_scenario", "survivability"}
    names = [s["name"] for s in d["scenarios"]]
    assert names == list(SEED_SCENARIOS) + ["sector-selloff"]
    sv = d["survivability"]
    assert sv["binding"] in names and sv["q_max"] > 0
    assert {"name", "q_max", "method", "loss_at_q_max"} <= set(sv["per_scenario"][0])
    r = cli(
        "stress",
        "--config",
        str(BOOKS / "options_hedged.toml"),
        "--scenario",
        "liquidation",
        "--scenario",
        "overnight-gap",
        "--json",
    )
    d = json.loads(r.stdout)
    assert [s["name"] for s in d["scenarios"]] == ["liquidation", "overnight-gap"]
    assert d["scenarios"][0]["details"]["passes"] in (True, False)
    r = cli("stress", "--config", str(BOOKS / "options_hedged.toml"))
    assert r.exit_code == 0 and "Q_max" in r.stdout


# one bad input per validation branch: (mutation of a valid book, command, key named in the error)
def _toml(value, key: str = "") -> str:
    """A minimal TOML writer for these tests (tables, arrays of tables, numbers, strings, booleans,
    nested arrays, inline tables)."""

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {scalar(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return repr(float(v)) if isinstance(v, float) else str(v)

    out = []
    for k, v in value.items():
        if isinstance(v, dict):
            out.append(f"[{k}]")
            out += [f"{json.dumps(kk)} = {scalar(x)}" for kk, x in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for t in v:
                out.append(f"[[{k}]]")
                out += [f"{json.dumps(kk)} = {scalar(x)}" for kk, x in t.items()]
        else:
            out.insert(0, f"{json.dumps(k)} = {scalar(v)}")
    return "\n".join(out) + "\n"


def _set(path: tuple, value):
    def f(d):
        x = d
        for p in path[:-1]:
            x = x.setdefault(p, {}) if isinstance(x, dict) else x[p]
        if value is _DEL:
            del x[path[-1]]
        else:
            x[path[-1]] = value

    return f


_DEL = object()
BAD = [
    (_set(("foo",), {"a": 1}), "risk", "foo"),
    (_set(("book", "capital"), -1.0), "risk", "book.capital"),
    (_set(("book", "rate"), "x"), "risk", "book.rate"),
    (_set(("book", "days_per_year"), 400), "risk", "book.days_per_year"),
    (_set(("risk", "confidence"), 1.5), "risk", "risk.confidence"),
    (_set(("risk", "mc_scenarios"), 10), "risk", "risk.mc_scenarios"),
    (_set(("risk", "full_revaluation"), 1), "risk", "risk.full_revaluation"),
    (_set(("risk", "horizon"), 0), "risk", "risk.horizon"),
    (_set(("limits", "position"), 0), "risk", "limits.position"),
    (_set(("stress", "liquidation"), "twap"), "stress", "stress.liquidation"),
    (_set(("stress", "unknown"), 1), "stress", "stress.unknown"),
    (_set(("stress", "gap"), 1.5), "stress", "stress.gap"),
    (_set(("instruments",), _DEL), "risk", "instruments"),
    (_set(("instruments", 1, "vol"), -1.0), "risk", "instruments[1].vol"),
    (_set(("instruments", 0, "price"), _DEL), "risk", "instruments[0].price"),
    (_set(("instruments", 0, "vol_annual"), 0.2), "risk", "instruments[0].vol_annual"),
    (_set(("instruments", 1, "name"), "A"), "risk", "instruments[1].name"),
    (_set(("instruments", 0, "bogus"), 1), "risk", "instruments[0].bogus"),
    (_set(("instruments", 2, "adv"), -5.0), "risk", "instruments[2].adv"),
    (_set(("instruments", 2, "limit"), "big"), "risk", "instruments[2].limit"),
    (_set(("correlation", "matrix"), [[1.0, 0.5], [0.5, 1.0]]), "risk", "correlation.matrix"),
    (
        _set(("correlation", "matrix"), [[1.0, 0.99, -0.99], [0.99, 1.0, 0.99], [-0.99, 0.99, 1.0]]),
        "risk",
        "correlation.matrix",
    ),
    (
        _set(("correlation", "matrix"), [[2.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]),
        "risk",
        "correlation.matrix",
    ),
    (
        _set(("correlation", "matrix"), [[1.0, 0.5, 0.2], [0.4, 1.0, 0.3], [0.2, 0.3, 1.0]]),
        "risk",
        "correlation.matrix",
    ),
    (lambda d: d.update(correlation={"pairs": [{"a": "Z", "b": "A", "rho": 0.1}]}), "risk", "correlation.pairs[0].a"),
    (lambda d: d.update(correlation={"pairs": [{"a": "A", "b": "B", "rho": 1.1}]}), "risk", "correlation.pairs[0].rho"),
    (
        lambda d: d.update(covariance={"matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}),
        "risk",
        "covariance",
    ),
    (
        lambda d: (
            d.pop("correlation"),
            d.update(covariance={"matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}),
        ),
        "risk",
        "instruments[0].vol",
    ),
    (
        lambda d: d.update(
            options=[
                {"underlying": "A", "type": "straddle", "strike": 50.0, "expiry": 0.5, "vol": 0.3, "contracts": 1.0}
            ]
        ),
        "risk",
        "options[0].type",
    ),
    (
        lambda d: d.update(
            options=[{"underlying": "Q", "type": "call", "strike": 50.0, "expiry": 0.5, "vol": 0.3, "contracts": 1.0}]
        ),
        "risk",
        "options[0].underlying",
    ),
    (
        lambda d: d.update(
            options=[{"underlying": "A", "type": "put", "strike": 50.0, "expiry": 0.0, "vol": 0.3, "contracts": 1.0}]
        ),
        "risk",
        "options[0].expiry",
    ),
    (
        lambda d: d.update(options=[{"underlying": "A", "type": "put", "strike": 50.0, "expiry": 1.0, "vol": 0.3}]),
        "risk",
        "options[0].contracts",
    ),
    (_set(("scenarios", 0, "price"), {"ZZZ": 0.1}), "stress", "scenarios[0].price.ZZZ"),
    (_set(("scenarios", 0, "price"), -1.0), "stress", "scenarios[0].price"),
    (_set(("scenarios", 0, "hours"), _DEL), "stress", "scenarios[0].hours"),
    (_set(("scenarios", 1, "name"), "worst-case"), "stress", "scenarios[1].name"),
    (_set(("scenarios", 1, "name"), "shock"), "stress", "scenarios[1].name"),
    (_set(("scenarios", 0, "correlation"), -0.9), "stress", "scenarios[0].correlation"),
    (_set(("scenarios", 0, "vol"), -1.0), "stress", "scenarios[0].vol"),
    (_set(("scenarios", 1, "both_directions"), "yes"), "stress", "scenarios[1].both_directions"),
    (_set(("book", "capital"), _DEL), "stress", "book.capital"),
    (lambda d: d.update(history={"file": "nope.csv"}), "risk", "history.file"),
    (lambda d: d.update(history={"file": "h.csv", "kind": "levels"}), "risk", "history.kind"),
]


@pytest.mark.parametrize("mutate,cmd,key", BAD, ids=[b[2] + f"-{i}" for i, b in enumerate(BAD)])
def test_cli_bad_input_names_the_key(tmp_path, mutate, cmd, key):
    d = json.loads(json.dumps(LIN_BOOK))
    mutate(d)
    p = tmp_path / "book.toml"
    p.write_text(_toml(d), encoding="utf-8")
    (tmp_path / "h.csv").write_text("A,B,C\n1,2,3\n0.5,-1,2\n-1,0,1\n", encoding="utf-8")
    r = cli(cmd, "--config", str(p), "--mc-scenarios", "1000") if cmd == "risk" else cli(cmd, "--config", str(p))
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}:"), r.stderr


def test_cli_bad_flags_and_files(tmp_path):
    good = tmp_path / "book.toml"
    good.write_text(_toml(LIN_BOOK), encoding="utf-8")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[book\n", encoding="utf-8")
    cases = [
        (("risk", "--config", str(good), "--confidence", "2"), "--confidence"),
        (("risk", "--config", str(good), "--horizon", "-1"), "--horizon"),
        (("risk", "--config", str(good), "--mc-scenarios", "abc"), "--mc-scenarios"),
        (("risk", "--config", str(good), "--seed", "-3"), "--seed"),
        (("stress", "--config", str(good), "--scenario", "nope"), "--scenario"),
        (("risk", "--config", str(tmp_path / "missing.toml")), "--config"),
        (("stress", "--config", str(bad_toml)), "--config"),
    ]
    for args, key in cases:
        r = cli(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {key}:"), (args, r.stderr)


def test_history_file_kinds(tmp_path):
    prices = np.array([[100.0, 20.0, 80.0], [101.0, 19.5, 80.5], [99.0, 20.5, 79.0], [100.5, 20.0, 81.0]])
    (tmp_path / "p.csv").write_text("C,A,B\n" + "\n".join(f"{r[2]},{r[0]},{r[1]}" for r in prices), encoding="utf-8")
    d = json.loads(json.dumps(LIN_BOOK)) | {"history": {"file": "p.csv", "kind": "prices"}}
    b = book_from_dict(d, base_dir=tmp_path)
    # kind = prices: relative returns applied to today's prices (50, 20, 80), columns matched by name
    np.testing.assert_allclose(b.history, (prices[1:] / prices[:-1] - 1) * np.array([50.0, 20.0, 80.0]), rtol=1e-14)
    res = book_var(b, ("historical",))["historical"]
    assert res.n_scenarios == 3 and "p.csv" in res.note
    with pytest.raises(InputError, match="history.file"):  # no file given
        book_from_dict(json.loads(json.dumps(LIN_BOOK)) | {"history": {"kind": "changes"}}, base_dir=tmp_path)
