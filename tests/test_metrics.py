"""Run metrics: VaR/ES of terminal PnL and the pooled OU (AR(1)) fit of inventory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import signal
from scipy.stats import norm
from scipy.stats import t as student_t

from conftest import EPS, Z, mean_se, prop, run
from flatbook.estimators.ou import ou_fit, pool_moments
from flatbook.sim.metrics import STOLL_BUCKETS, stoll_regression, summarize, var_es


# ------------------------------------------------------------------------------ VaR / ES
def test_var_es_by_hand():
    """pnl = −1..−100 → losses 1..100. numpy's linear quantile at 0.95: position 0.95·99 = 94.05
    → 95 + 0.05·(96 − 95) = 95.05; ES = mean of the losses >= 95.05 = mean(96..100) = 98."""
    var, es = var_es(-np.arange(1.0, 101.0))
    assert var == pytest.approx(95.05, abs=1e-12)
    assert es == pytest.approx(98.0, abs=1e-12)
    var99, es99 = var_es(-np.arange(1.0, 101.0), level=0.99)  # 99 + 0.01 → mean(100) = 100
    assert (var99, es99) == (pytest.approx(99.01, abs=1e-12), pytest.approx(100.0, abs=1e-12))


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_var_es_normal_closed_form(level):
    """pnl ~ N(μ, σ²) ⇒ loss L ~ N(−μ, σ²): VaR = −μ + σ·z, ES = −μ + σ·φ(z)/(1 − level).

    Asymptotic standard errors from the sample (n iid draws, tail probability a = 1 − level):
    SE(VaR) = sqrt(level·a/n) / f(VaR) with f the density (estimated as φ(z)/σ̂ — the only
    place the model enters), SE(ES) = sqrt((Var(L | L ≥ VaR) + level·(ES − VaR)²)/(n·a))
    with the conditional moments taken from the sample's tail.
    """
    mu, sigma, n = 3.0, 2.5, 400_000
    pnl = np.random.default_rng(2024).normal(mu, sigma, n)
    var, es = var_es(pnl, level)
    z = norm.ppf(level)
    a = 1.0 - level
    exp_var = -mu + sigma * z
    exp_es = -mu + sigma * norm.pdf(z) / a
    s_hat = pnl.std(ddof=1)
    se_var = math.sqrt(level * a / n) / (norm.pdf(z) / s_hat)
    tail = -pnl[-pnl >= var]
    se_es = math.sqrt((tail.var(ddof=1) + level * (tail.mean() - var) ** 2) / (n * a))
    assert abs(var - exp_var) < Z * se_var
    assert abs(es - exp_es) < Z * se_es
    assert es >= var


@prop(max_examples=300)
@given(pnl=arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)), level=st.floats(0.5, 0.999))
def test_es_at_least_var(pnl, level):
    """ES is a mean of the losses ≥ VaR: VaR ≤ ES ≤ worst loss (the upper bound up to the
    rounding of that mean: n additions and one division, ≤ (n+1)·eps·max|loss|)."""
    var, es = var_es(pnl, level)
    assert math.isfinite(var) and math.isfinite(es)
    assert -pnl.max() <= var <= -pnl.min()
    assert es >= var
    assert es <= -pnl.min() + (pnl.size + 1) * EPS * float(np.max(np.abs(pnl)))


def test_es_never_below_var_in_floating_point():
    """Three equal losses of 3.3: VaR = 3.3, and the plain mean of the tail rounds to
    3.2999999999999994 — ES must still not come out below VaR."""
    assert float(np.mean(np.array([3.3, 3.3, 3.3]))) < 3.3  # the rounding this guards against
    var, es = var_es(np.array([-3.3, -3.3, -3.3]))
    assert var == 3.3 and es >= var


# ---------------------------------------------------------------------------- OU fit
def _moments(q: np.ndarray) -> np.ndarray:
    """(n, x̄, ȳ, Cxx, Cxy, Cyy) of x = q_t, y = Δq_t pooled over all paths (rows) and
    steps — computed here directly from the definition, in one pass over all the data
    (the kernel merges per-path running sums instead)."""
    x, y = q[:, :-1].ravel(), np.diff(q, axis=1).ravel()
    xc, yc = x - x.mean(), y - y.mean()
    return np.array([x.size, x.mean(), y.mean(), xc @ xc, xc @ yc, yc @ yc])


def _ar1(phi: float, paths: int, n: int, seed: int) -> np.ndarray:
    eps = np.random.default_rng(seed).standard_normal((paths, n))
    q = signal.lfilter([1.0], [1.0, -phi], eps, axis=1)  # q_t = φ q_{t−1} + ε_t
    return np.concatenate((np.zeros((paths, 1)), q), axis=1)


@pytest.mark.parametrize("phi,dt", [(0.95, 1.0), (0.99, 0.01), (0.5, 0.2)])
def test_ou_fit_recovers_kappa(phi, dt):
    """An AR(1) with coefficient φ sampled every dt is an OU process with κ = −ln φ / dt.

    Tolerance: the OLS SE of the pooled slope, SE(φ̂) = sqrt(s²/Cxx), which is
    |b̂/t|, carried to κ by the delta method, SE(κ̂) = SE(φ̂)/(φ̂·dt).
    """
    q = _ar1(phi, paths=400, n=2000, seed=int(phi * 1000))
    fit = ou_fit(_moments(q), dt)
    se_phi = abs((fit.phi - 1.0) / fit.t_stat)
    assert fit.t_stat < -10  # clearly significant
    se_kappa = se_phi / (fit.phi * dt)
    true_kappa = -math.log(phi) / dt
    assert abs(fit.kappa - true_kappa) < Z * se_kappa
    assert fit.half_life == pytest.approx(math.log(2.0) / fit.kappa, rel=1e-12)


def test_ou_fit_edge_cases():
    assert ou_fit((0, 0, 0, 0, 0, 0), 1.0) == (None, None, None, None)  # no data
    assert ou_fit((100, 0, 0, 0.0, 0.0, 1.0), 1.0).kappa is None  # constant inventory
    rw = ou_fit((100, 0, 0, 10.0, 0.0, 5.0), 1.0)  # b = 0: random walk
    assert rw.kappa == 0.0 and rw.half_life is None and rw.t_stat == 0.0
    assert ou_fit((100, 0, 0, 10.0, 1.0, 5.0), 1.0).half_life is None  # φ > 1: explosive
    k = ou_fit((100, 0, 0, 10.0, -10.0, 10.0), 1.0)  # φ = 0, exact fit
    assert (k.kappa, k.half_life, k.phi) == (math.inf, 0.0, 0.0) and k.t_stat == -math.inf
    h = ou_fit((1000, 0, 0, 10.0, -5.0, 2.6), 0.5)  # φ = 0.5, s² = .1/998
    assert h.phi == 0.5 and h.kappa == pytest.approx(2 * math.log(2.0)) and h.half_life == pytest.approx(0.5)
    assert h.t_stat == pytest.approx(-0.5 / math.sqrt(0.1 / 998 / 10.0), rel=1e-12)


def test_ou_fit_insignificant_reversion_has_no_half_life():
    """b̂ < 0 but t = −2 > −2.86: κ̂ is reported, the half-life is not."""
    # Cxx = 100, Cxy = −0.2 → b = −0.002; Cyy = 0.0104: s² = (0.0104 − 0.0004)/100 = 1e−4,
    # SE = √(s²/Cxx) = 0.001, t = −2
    fit = ou_fit((102, 0, 0, 100.0, -0.2, 0.0104), 1.0)
    assert fit.t_stat == pytest.approx(-2.0, rel=1e-9) and fit.kappa > 0 and fit.half_life is None


@given(rows=arrays(float, (7, 6), elements=st.floats(-50, 50)), counts=arrays(float, 7, elements=st.integers(0, 40)))
@prop(max_examples=60)
def test_pool_moments_equals_one_pass(rows, counts):
    """Merging groups' moments equals the moments of the concatenated data."""
    rng = np.random.default_rng(int(abs(rows).sum() * 1000) % 2**32)
    groups = [rng.normal(r[0], 1 + abs(r[1]), size=(int(c), 2)) for r, c in zip(rows, counts)]
    data = np.vstack([g for g in groups if len(g)] or [np.zeros((0, 2))])

    def mom(d):
        if not len(d):
            return np.zeros(6)
        xc, yc = d[:, 0] - d[:, 0].mean(), d[:, 1] - d[:, 1].mean()
        return np.array([len(d), d[:, 0].mean(), d[:, 1].mean(), xc @ xc, xc @ yc, yc @ yc])

    pooled = pool_moments(np.array([mom(g) for g in groups]))
    scale = 1.0 + float(np.abs(data).max(initial=0.0)) ** 2 * max(len(data), 1)
    np.testing.assert_allclose(pooled, mom(data), rtol=1e-9, atol=1e-12 * scale)


def test_ou_fit_random_walk_has_no_half_life():
    q = np.concatenate(
        (np.zeros((200, 1)), np.cumsum(np.random.default_rng(5).standard_normal((200, 500)), axis=1)), axis=1
    )
    fit = ou_fit(_moments(q), 1.0)
    assert fit.half_life is None and fit.t_stat > -2.86


def test_symmetric_inventory_reports_no_half_life():
    """The symmetric policy's inventory is a driftless random walk: no half-life (the old
    per-path-demeaned fit reported ≈ 0.23·T here)."""
    s = run(policy="symmetric", paths=2000, seed=1).summary
    assert s["half_life"] is None and s["ou_t"] > -2.86


def test_kernel_ou_moments_match_the_recorded_inventory():
    """summary['ou_kappa'] equals ou_fit of the moments recomputed from every path's
    recorded inventory series (checks the kernel's running sums and merges)."""
    res = run(policy="linear-skew", paths=700, seed=13, record=range(700))
    fit = ou_fit(_moments(res.series["q"]), res.config.values["dt"])
    assert res.summary["ou_kappa"] == pytest.approx(fit.kappa, rel=1e-9)
    assert res.summary["ou_t"] == pytest.approx(fit.t_stat, rel=1e-9)
    assert res.summary["half_life"] == pytest.approx(fit.half_life, rel=1e-9)
    # linear skew pulls inventory back: clearly mean-reverting
    assert res.summary["half_life"] < 0.1 * res.config.values["T"]


# ---------------------------------------------------------------------------- summary
def test_summary_agrees_with_per_path():
    res = run(policy="avellaneda-stoikov", paths=3000, seed=3, limit=5.0, yellow=3.0, max_drawdown=4.0)
    s, pp, n = res.summary, res.per_path, 3000
    m, se = mean_se(pp["pnl"])
    assert s["pnl_mean"] == pytest.approx(m, rel=1e-12) and s["pnl_se"] == pytest.approx(se, rel=1e-12)
    assert s["sharpe"] == pytest.approx(m / pp["pnl"].std(ddof=1), rel=1e-12)
    assert (s["var_95"], s["es_95"]) == var_es(pp["pnl"])
    assert s["time_at_limit_frac"] == pp["steps_at_limit"].sum() / (n * res.config.steps) > 0
    assert s["kill_frac"] == pytest.approx(np.mean(pp["kill_reason"] > 0)) and s["kill_frac"] > 0
    assert s["max_abs_q_max"] == pp["max_abs_q"].max() <= 5.0


def test_summary_non_finite_numbers_become_none():
    pp = {
        k: np.zeros(4)
        for k in (
            "pnl",
            "final_q",
            "max_abs_q",
            "q_std",
            "fills",
            "volume",
            "spread_given_up",
            "financing",
            "fees",
            "max_drawdown",
        )
    }
    pp["spread_mean"] = np.full(4, np.nan)
    for k in ("steps_at_limit", "steps_yellow", "steps_red", "steps_critical", "hedge_requests", "kill_reason"):
        pp[k] = np.zeros(4, np.int32)
    s = summarize(pp, np.zeros(6), steps=10, dt=0.1, limit=math.inf, elapsed_s=0.0)
    assert s["sharpe"] is None and s["spread_mean"] is None and s["ou_kappa"] is None
    assert s["half_life"] is None and s["path_steps_per_s"] is None
    assert s["pnl_std"] == 0.0 and s["time_at_limit_frac"] == 0.0


# ------------------------------------------------------------------------------ Stoll regression
def _path(policy: str, **overrides):
    res = run("as2008", policy, paths=50, seed=0, record=(0,), **overrides)
    s = res.path_series(0)
    return s["t"], s["q"], s["ask"] - s["bid"], res.config.values


def test_stoll_regression_as_spread_is_time_not_inventory():
    """A–S (finite horizon): spread = γσ²(T − t) + (2/γ)ln(1 + γ/k), which does not depend on q.
    A plain fit of spread on q on path 0 of as2008 reads the time trend as an inventory effect
    (the issue's b = 0.0228 per lot); with time held fixed, b is 0 within Z·SE (the fit is exact
    up to float rounding, so the SE is of the order of 1e-16: hence the 1e-9·level term), and
    the time slope c is −γσ²."""
    t, q, spread, v = _path("avellaneda-stoikov")
    ok = np.isfinite(spread)
    naive = np.polyfit(q[ok], spread[ok], 1)[0]
    fit = stoll_regression(q, spread, t)
    assert fit is not None and fit.n == ok.sum()
    tol = Z * fit.se + 1e-9 * fit.level
    assert abs(fit.b) <= tol
    assert abs(naive) > 1e3 * tol  # the old, confounded slope was far off
    assert fit.c == pytest.approx(-v["gamma"] * v["sigma"] ** 2, rel=1e-9)


@pytest.mark.parametrize("g", [0.02, 0.1])
def test_stoll_regression_recovers_stoll_policy_closed_form(g):
    """Stoll's policy (flatbook.policies.stoll): h(q) = h0 + g·|q − q*|, so the quoted spread is
    2h0 + 2g·|q − q*| and the regression's slope on |q − q*| is exactly 2g (per lot)."""
    t, q, spread, v = _path("stoll", stoll_gamma=g, q_target=1.0)
    fit = stoll_regression(q, spread, t, q_target=1.0)
    assert fit is not None
    assert fit.b == pytest.approx(2.0 * g, rel=1e-9)
    assert fit.level - fit.b * fit.x_mean == pytest.approx(2.0 * v["half_spread"], rel=1e-9)


@pytest.mark.parametrize("phi", [0.0, 0.9])
def test_stoll_regression_standard_error_has_its_nominal_size(phi):
    """Spread = time trend + AR(1) noise (coefficient ``phi``) independent of a random-walk q:
    over 300 seeds, |b|/SE exceeds the 5% critical value of t(buckets − 1) in about 5% of them
    (SE cluster-robust by time bucket). The rejection count is binomial; allowed: 5% ± Z·SE.
    A Newey–West SE rejected 23% at phi = 0.9."""
    n, reps = 400, 300
    rej = 0
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        t = np.linspace(0.0, 1.0, n)
        q = np.cumsum(rng.choice([-1.0, 0.0, 1.0], n))
        e = signal.lfilter([1.0], [1.0, -phi], rng.normal(0.0, 0.01, n))
        fit = stoll_regression(q, 1.5 - 0.4 * t + e, t)
        assert fit.buckets == STOLL_BUCKETS
        rej += abs(fit.b) > student_t.ppf(0.975, fit.buckets - 1) * fit.se
    rate = rej / reps
    assert abs(rate - 0.05) < Z * math.sqrt(0.05 * 0.95 / reps)


def test_stoll_regression_slope_with_noise_and_time_effects():
    """spread = 1 + 0.5·sin(0.6t) + 0.03·|q| + noise: the time fixed effects absorb the nonlinear
    time pattern and b recovers 0.03 within Z·SE."""
    rng = np.random.default_rng(11)
    n = 3000
    t = np.linspace(0.0, 10.0, n)
    q = np.cumsum(rng.choice([-1.0, 0.0, 1.0], n))
    spread = 1.0 + 0.5 * np.sin(0.6 * t) + 0.03 * np.abs(q) + rng.normal(0.0, 0.01, n)
    fit = stoll_regression(q, spread, t)
    assert abs(fit.b - 0.03) < Z * fit.se
    assert fit.buckets == STOLL_BUCKETS


def test_stoll_regression_degenerate_inputs():
    t = np.arange(50.0)
    assert stoll_regression(np.full(50, 2.0), np.linspace(1, 2, 50), t) is None  # q never moves
    assert stoll_regression(np.array([1.0, 2.0]), np.array([1.0, 1.0]), t[:2]) is None  # too few points
    q = np.arange(50.0) % 5
    fit = stoll_regression(q, np.full(50, 1.3424876388745), t)  # constant spread
    assert fit is not None and (fit.b, fit.se) == (0.0, 0.0)
    nan = np.full(50, np.nan)
    assert stoll_regression(nan, nan, t) is None
    short = stoll_regression(q[:30], 1.0 + 0.01 * q[:30] + np.sin(t[:30]) * 1e-3, t[:30])  # one bucket: HC1
    assert short is not None and short.buckets == 1 and short.se > 0
