"""flatbook.hedging.basis: the hedge relationship of two instruments from their mids.

Synthetic pairs follow the simulator's proxy-hedge model exactly at the grid
times, ΔH = β·ΔS + σ_b·ΔW, so every estimate is checked against the truth
within Z = 4 of its own standard error (conftest). Real data: Binance spot
BTCUSDT (inventory) vs the USDⓈ-M BTCUSDT perpetual (hedge), 2024-08-08, read in
place from ``../shared/data/binance``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, Z, shared_data, std_se
from flatbook.data.events import EventMeta, EventTable, empty_columns
from flatbook.errors import InputError
from flatbook.hedging.basis import Z95, estimate_basis, estimate_basis_ou
from flatbook.presets import preset

ROOT = REPO
T0 = 1_723_161_256_000_000_000  # ns, any epoch time
SEC = 1_000_000_000


def table(t_s, mid, name="X", half_spread=0.25) -> EventTable:
    """Quote rows at times ``t_s`` (seconds after T0) with mid ``mid`` (bid/ask ± half_spread)."""
    t_s, mid = np.asarray(t_s, dtype=float), np.asarray(mid, dtype=float)
    c = empty_columns(t_s.size)
    c["ts"] = T0 + np.round(t_s * SEC).astype(np.int64)
    c["bid_px"], c["ask_px"] = mid - half_spread, mid + half_spread
    c["bid_sz"][:] = c["ask_sz"][:] = 1.0
    return EventTable(**c, meta=EventMeta(name, "synthetic", 0.25, 1.0))


def proxy_pair(rng, *, beta, sig_s, sig_b, span_s, dt=0.25, lag_s=0.0, h_start=1.75, h_end=3.0):
    """S a random walk (σ_S per √s) on a fine grid of dt seconds, H = 100 + β·S(t − lag_s) + B(t),
    B a random walk (σ_b per √s). H is quoted from h_start s after S's first quote until h_end s
    before its last; S has an unquoted first row (NaN mid). Returns the tables and the fine path."""
    m = int(round(span_s / dt))
    t = dt * np.arange(m + 1)
    s = 1000.0 + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sig_s * math.sqrt(dt), m))])
    b = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sig_b * math.sqrt(dt), m))])
    k = int(round(lag_s / dt))
    s_lag = np.interp(t - lag_s, t, s) if k else s  # exact on the fine grid: lag_s is a multiple of dt
    h = 100.0 + beta * s_lag + b
    keep = (t >= h_start + max(lag_s, 0.0)) & (t <= t[-1] - h_end)
    s_tab = table(np.concatenate([[-0.5], t]), np.concatenate([[np.nan], s]), "S")
    return s_tab, table(t[keep], h[keep], "H"), (t, s, h)


def truth(beta, sig_s, sig_b, tau=1.0):
    var_h = beta**2 * sig_s**2 + sig_b**2
    return {
        "sigma_s": sig_s * math.sqrt(tau),
        "sigma_h": math.sqrt(var_h * tau),
        "sigma_b": sig_b * math.sqrt(tau),
        "rho": beta * sig_s / math.sqrt(var_h),
        "hedge_ratio": beta * sig_s**2 / var_h,
    }


# ------------------------------------------------------------------ (a) synthetic, known truth
@pytest.mark.parametrize(
    "beta, sig_s, sig_b, tau", [(0.95, 0.5, 0.2, 1.0), (1.8, 0.3, 0.6, 60.0), (0.4, 2.0, 0.1, 1.0)]
)
def test_synthetic_estimates_within_their_standard_errors(beta, sig_s, sig_b, tau):
    rng = np.random.default_rng(20240808)
    s_tab, h_tab, (t, s, h) = proxy_pair(rng, beta=beta, sig_s=sig_s, sig_b=sig_b, span_s=3000.0)
    est = estimate_basis(s_tab, h_tab, grid_s=1.0, time_unit_s=tau)
    tr = truth(beta, sig_s, sig_b, tau)

    assert est.n == int(3000.0 - 3.0 - 1.75)  # H's window, in whole 1-s steps
    assert abs(est.beta - beta) < Z * est.beta_se
    assert abs(est.beta - beta) < Z * est.beta_se_hc
    for f in ("sigma_s", "sigma_h", "sigma_b", "hedge_ratio"):
        assert abs(getattr(est, f) - tr[f]) < Z * getattr(est, f + "_se"), f
    assert abs(math.atanh(est.rho) - math.atanh(tr["rho"])) < Z / math.sqrt(est.n - 3)
    # the reported CI is Fisher's z interval
    z, dz = math.atanh(est.rho), Z95 / math.sqrt(est.n - 3)
    assert est.rho_lo == pytest.approx(math.tanh(z - dz), abs=1e-15)
    assert est.rho_hi == pytest.approx(math.tanh(z + dz), abs=1e-15)
    # identities of the estimates (common divisor n − 1)
    assert est.variance_reduction == pytest.approx(est.rho**2, abs=1e-12)
    assert est.rho == pytest.approx(est.beta * est.sigma_s / math.hypot(est.beta * est.sigma_s, est.sigma_b), abs=1e-12)
    assert est.hedge_ratio == pytest.approx(est.rho * est.sigma_s / est.sigma_h, rel=1e-12)
    # lead–lag: no lag in the data
    assert est.best_lag == 0 and est.lag_corr[0] == est.rho and sorted(est.lag_corr) == list(range(-5, 6))
    # the basis level and the simulator values on the grid: grid times are fine-grid times of both
    i0 = int(round(1.75 / 0.25))
    g = i0 + 4 * np.arange(est.n + 1)
    assert est.basis_mean == pytest.approx(float(np.mean(h[g] - s[g])), abs=1e-9)
    assert est.basis_std == pytest.approx(float(np.std(h[g] - s[g], ddof=1)), rel=1e-9)
    assert est.params == {
        "sigma": est.sigma_s,
        "s0": pytest.approx(s[i0], abs=1e-9),
        "hedge_beta": est.beta,
        "hedge_basis_sigma": est.sigma_b,
        "hedge_s0": pytest.approx(h[i0], abs=1e-9),
    }
    assert set(est.param_units) == set(est.params)
    assert est.as_dict()["lag_corr"]["0"] == est.rho


def test_standard_errors_match_the_spread_of_the_estimates():
    """Over 400 independent Gaussian pairs the std of β̂, ĥ* and σ̂_b matches the mean reported SE,
    classical and robust (a std of 400 draws has relative SE ≈ 1/√800 ≈ 3.5 %; Z of those allowed)."""
    rng = np.random.default_rng(7)
    beta, sig_s, sig_b, reps = 1.2, 0.5, 0.4, 400
    ests = [
        estimate_basis(
            *proxy_pair(rng, beta=beta, sig_s=sig_s, sig_b=sig_b, span_s=300.0, dt=1.0, h_start=0.0, h_end=0.0)[:2]
        )
        for _ in range(reps)
    ]
    for f, se in (
        ("beta", "beta_se"),
        ("beta", "beta_se_hc"),
        ("hedge_ratio", "hedge_ratio_se"),
        ("hedge_ratio", "hedge_ratio_se_hc"),
        ("sigma_b", "sigma_b_se"),
    ):
        sd, sd_se = std_se([getattr(e, f) for e in ests])
        mean_se = float(np.mean([getattr(e, se) for e in ests]))
        assert abs(sd - mean_se) < Z * sd_se, (f, sd, mean_se, sd_se)
    # Fisher-z 95 % intervals cover the true ρ at 95 % (binomial SE of a proportion)
    rho = truth(beta, sig_s, sig_b)["rho"]
    cover = np.mean([e.rho_lo <= rho <= e.rho_hi for e in ests])
    assert abs(cover - 0.95) < Z * math.sqrt(0.95 * 0.05 / reps)


@pytest.mark.parametrize("lag_s", [2.0, -3.0])
def test_known_lag_is_found_and_can_be_aligned(lag_s):
    rng = np.random.default_rng(11)
    beta, sig_s, sig_b = 1.0, 0.5, 0.15
    s_tab, h_tab, _ = proxy_pair(rng, beta=beta, sig_s=sig_s, sig_b=sig_b, span_s=2000.0, lag_s=lag_s)
    raw = estimate_basis(s_tab, h_tab)
    k = int(lag_s)
    assert raw.best_lag == k
    assert raw.lag_corr[k] > 0.9 > abs(raw.rho)
    aligned = estimate_basis(s_tab, h_tab, lag_steps=k)
    assert aligned.lag_steps == k and aligned.best_lag == k
    assert aligned.rho == pytest.approx(aligned.lag_corr[k], abs=1e-15)
    assert sorted(aligned.lag_corr) == list(range(k - 5, k + 6))
    assert abs(aligned.beta - beta) < Z * aligned.beta_se
    assert abs(aligned.sigma_b - sig_b) < Z * aligned.sigma_b_se


# ------------------------------------------------------------------ (b) no basis noise
def test_exact_proxy_is_a_perfect_hedge():
    """Dyadic prices: H = 2S + 8 is exact in floating point, so is every moment."""
    rng = np.random.default_rng(3)
    t = np.arange(600.0)
    s = 100.0 + 0.25 * np.cumsum(rng.integers(-4, 5, t.size))
    est = estimate_basis(table(t, s), table(t, 2.0 * s + 8.0))
    assert est.rho == pytest.approx(1.0, abs=1e-12)
    assert est.sigma_b == 0.0 and est.beta == 2.0
    assert est.hedge_ratio == pytest.approx(0.5, abs=1e-12)
    assert est.variance_reduction == pytest.approx(1.0, abs=1e-12)
    assert est.rho_lo == est.rho_hi == est.rho
    assert est.sigma_h == pytest.approx(2.0 * est.sigma_s, rel=1e-12)
    assert est.basis_mean == pytest.approx(float(np.mean(s)) + 8.0, rel=1e-12)


@pytest.mark.parametrize("beta", [1.1, 0.37, -0.5])
def test_noiseless_proxy_any_beta(beta):
    """H = c + β·S computed in float: ΔH = β·ΔS up to rounding of the levels (≈ 1e-14 of H),
    so σ_b is rounding-sized and ρ = ±1, h* = 1/β, VR = 1 to 1e-12."""
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0.0, 900.0, 4000))
    s = 500.0 + np.round(np.cumsum(rng.normal(0.0, 0.3, t.size)), 2)
    est = estimate_basis(table(t, s), table(t, 300.0 + beta * s))
    assert est.rho == pytest.approx(math.copysign(1.0, beta), abs=1e-12)
    assert est.beta == pytest.approx(beta, rel=1e-12)
    assert est.hedge_ratio * beta == pytest.approx(1.0, abs=1e-12)
    assert est.variance_reduction == pytest.approx(1.0, abs=1e-12)
    assert est.sigma_b < 1e-9 * est.sigma_h


# ------------------------------------------------------------------ (c) refusals
def _rw(n, seed=1):
    return 100.0 + np.cumsum(np.random.default_rng(seed).normal(0.0, 0.1, n))


def test_short_or_missing_overlap_is_refused():
    t = np.arange(0.0, 100.0, 0.5)
    with pytest.raises(InputError, match="need at least 30 steps") as ei:
        estimate_basis(table(t, _rw(t.size)), table(t + 80.0, _rw(t.size, 2)))  # 20 s of overlap
    assert ei.value.field == "overlap"
    with pytest.raises(InputError, match="do not overlap") as ei:
        estimate_basis(table(t, _rw(t.size)), table(t + 500.0, _rw(t.size, 2)))
    assert ei.value.field == "overlap"
    # 100 s of overlap are enough at 1 s, not at 5 s; nor when a lag shifts H out of the window
    estimate_basis(table(t, _rw(t.size)), table(t, _rw(t.size, 2)))
    for kw in ({"grid_s": 5.0}, {"lag_steps": 80}):
        with pytest.raises(InputError) as ei:
            estimate_basis(table(t, _rw(t.size)), table(t, _rw(t.size, 2)), **kw)
        assert ei.value.field == "overlap"


@pytest.mark.parametrize("which", ["inventory", "hedge"])
def test_constant_or_unquoted_series_is_refused(which):
    t = np.arange(0.0, 200.0, 0.5)
    moving, flat = table(t, _rw(t.size)), table(t, np.full(t.size, 50.0))
    trend = table(t, 50.0 + np.floor(t))  # +1 every grid step: increments without variance
    unquoted = table(t, np.full(t.size, np.nan))
    for bad, msg in ((flat, "never changes"), (trend, "same amount every step"), (unquoted, "no quotes")):
        pair = (bad, moving) if which == "inventory" else (moving, bad)
        with pytest.raises(InputError, match=msg) as ei:
            estimate_basis(*pair)
        assert ei.value.field == which
        assert str(ei.value).startswith(f"{which}: ")


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"grid_s": 0.0}, "grid_s"),
        ({"grid_s": float("nan")}, "grid_s"),
        ({"time_unit_s": -1.0}, "time_unit_s"),
        ({"lag_steps": 1.5}, "lag_steps"),
        ({"max_lag": -1}, "max_lag"),
        ({"min_increments": 2}, "min_increments"),
    ],
)
def test_bad_arguments_are_refused(kw, field):
    t = np.arange(0.0, 200.0, 0.5)
    with pytest.raises(InputError) as ei:
        estimate_basis(table(t, _rw(t.size)), table(t, _rw(t.size, 2)), **kw)
    assert ei.value.field == field


# ------------------------------------------------------------------ (d) real data
@pytest.fixture(scope="module")
def spot_perp():
    from flatbook.data.load import load

    return (
        load(shared_data("binance/spot_btcusdt_20240808.gz")),
        load(shared_data("binance/usdm_btcusdt_20240808.gz")),
    )


def test_real_spot_vs_perp_btcusdt(spot_perp):
    """Measured on a 1 s grid (344 increments over 344 s): β = 0.961 (SE 0.027, robust 0.051),
    ρ = 0.887 [0.862, 0.908], σ_S = 6.93, σ_H = 7.50, σ_b = 3.46 USD per √s, h* = 0.820,
    VR = 0.787, best lag 0 (next |corr| 0.08 at −1), basis H − S = −22.9 ± 3.6 USD (−3.7 bp)."""
    spot, perp = spot_perp
    est = estimate_basis(spot, perp, grid_s=1.0)
    print(
        f"\nspot→perp BTCUSDT, 1 s: n={est.n} β={est.beta:.4f}±{est.beta_se:.4f} (HC {est.beta_se_hc:.4f}) "
        f"ρ={est.rho:.4f} [{est.rho_lo:.4f}, {est.rho_hi:.4f}] σ_S={est.sigma_s:.3f} σ_H={est.sigma_h:.3f} "
        f"σ_b={est.sigma_b:.3f} USD/√s h*={est.hedge_ratio:.4f}±{est.hedge_ratio_se:.4f} "
        f"VR={est.variance_reduction:.3f} lag={est.best_lag} basis={est.basis_mean:.2f}±{est.basis_std:.2f} USD"
    )
    assert est.n >= 340  # the captures overlap for 344 s
    # same asset in the same quote currency: β = 1 within Z robust SEs (the increments are fat-tailed,
    # so the heteroskedasticity-robust SE, about twice the classical one, is the honest scale)
    assert abs(est.beta - 1.0) < Z * est.beta_se_hc
    # h* = ρ·σ_S/σ_H is below β here: the perp's mid carries more noise than spot's at 1 s (σ_H > σ_S)
    assert est.hedge_ratio == pytest.approx(est.rho * est.sigma_s / est.sigma_h, rel=1e-12)
    # strongly correlated at 1 s: the whole 95 % CI is above 0.5
    assert est.rho_lo > 0.5 and est.variance_reduction > 0.5
    assert est.sigma_b < est.sigma_s  # the basis noise is the smaller part of ΔH
    # the clocks agree to well under a grid step: the correlation peaks at lag 0, every other lag is noise
    assert est.best_lag == 0
    assert all(abs(c) < Z / math.sqrt(est.n) for k, c in est.lag_corr.items() if k != 0)
    # σ: BTC's realised vol (a few % a day), annualised σ/price between 20 % and 200 %
    for sig in (est.sigma_s, est.sigma_h):
        assert 0.2 < sig * math.sqrt(365.25 * 86_400) / est.s_first < 2.0
    # the perp–spot basis is bounded by funding arbitrage to a few basis points of the price
    # (1 bp ≈ 6.2 USD here): measured −3.7 bp, persistent over the window (std ≪ |mean|)
    bp = est.basis_mean / est.s_first * 1e4
    assert 1.0 < abs(bp) < 10.0
    assert est.basis_std < 0.5 * abs(est.basis_mean)
    assert est.params["hedge_s0"] - est.params["s0"] == pytest.approx(est.h_first - est.s_first)


def test_real_basis_mean_reverts(spot_perp):
    """σ_b per √s falls as the grid coarsens (the basis is noise around a level, not a random walk):
    measured 3.46 at 1 s, 1.48 at 10 s; ρ rises (0.887 → 0.980; Epps effect)."""
    spot, perp = spot_perp
    fine, coarse = estimate_basis(spot, perp, grid_s=1.0), estimate_basis(spot, perp, grid_s=10.0, max_lag=2)
    assert coarse.sigma_b + Z * coarse.sigma_b_se < fine.sigma_b - Z * fine.sigma_b_se
    assert coarse.rho_lo > fine.rho
    assert fine.sigma_b * math.sqrt(fine.span_s) > 10 * fine.basis_std


# ------------------------------------------------------------------ (d2) the basis as an OU process
def ou_pair(rng, *, beta, sig_s, half_life, sig_b, span_s, dt=0.25, mean=-20.0):
    """S a random walk (σ_S per √s) and H = 100 + β·S + b on a fine grid of dt s, b an OU process
    (half-life, σ_b per √s) around ``mean``, started from its stationary law and stepped exactly."""
    m = int(round(span_s / dt))
    t = dt * np.arange(m + 1)
    s = 1000.0 + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sig_s * math.sqrt(dt), m))])
    kap = math.log(2.0) / half_life
    phi, sd = math.exp(-kap * dt), sig_b * math.sqrt((1.0 - math.exp(-2.0 * kap * dt)) / (2.0 * kap))
    b = np.empty(m + 1)
    b[0] = rng.normal(0.0, sig_b / math.sqrt(2.0 * kap))
    z = rng.normal(0.0, sd, m)
    for i in range(m):
        b[i + 1] = phi * b[i] + z[i]
    return table(t, s, "S"), table(t, 100.0 + beta * s + mean + b, "H")


@pytest.mark.parametrize(
    "beta, half_life, sig_b, grid_s, tau",
    [(1.0, 3.0, 2.0, 1.0, 1.0), (0.8, 10.0, 0.5, 2.0, 1.0), (1.0, 1.5, 4.0, 0.5, 60.0)],
)
def test_ou_estimates_recover_the_truth_within_their_standard_errors(beta, half_life, sig_b, grid_s, tau):
    rng = np.random.default_rng(8)
    est = estimate_basis_ou(
        *ou_pair(rng, beta=beta, sig_s=5.0, half_life=half_life, sig_b=sig_b, span_s=4000.0),
        beta=beta,
        grid_s=grid_s,
        time_unit_s=tau,
    )
    kap = math.log(2.0) / half_life  # per second
    truth = {
        "half_life": half_life / tau,
        "kappa": kap * tau,
        "sigma": sig_b * math.sqrt(tau),
        "stationary_std": sig_b / math.sqrt(2.0 * kap),
        "phi": math.exp(-kap * grid_s),
    }
    for f, v in truth.items():
        assert abs(getattr(est, f) - v) < Z * getattr(est, f + "_se"), (f, getattr(est, f), v)
    assert abs(est.mean - (100.0 - 20.0)) < Z * est.stationary_std * math.sqrt(2.0 / (kap * 4000.0))
    assert est.params == {"hedge_beta": beta, "hedge_basis_sigma": est.sigma, "hedge_basis_halflife": est.half_life}
    assert est.acf_fit[1] == est.phi and est.acf[1] == pytest.approx(est.phi, abs=Z / math.sqrt(est.n))


def test_ou_standard_errors_match_the_spread_of_the_estimates():
    """Over 200 independent OU samples the std of φ̂, the half-life and σ̂_b matches the mean reported SE
    (a std of 200 draws has a relative SE of 5 %; Z of those allowed)."""
    rng = np.random.default_rng(9)
    ests = [
        estimate_basis_ou(*ou_pair(rng, beta=1.0, sig_s=1.0, half_life=4.0, sig_b=1.0, span_s=1500.0, dt=1.0))
        for _ in range(200)
    ]
    for f in ("phi", "half_life", "sigma", "stationary_std"):
        sd, sd_se = std_se([getattr(e, f) for e in ests])
        mse = float(np.mean([getattr(e, f + "_se") for e in ests]))
        assert abs(sd - mse) < Z * sd_se, (f, sd, mse, sd_se)


def test_ou_refusals_and_the_random_walk_limit():
    rng = np.random.default_rng(10)
    s_tab, h_tab = ou_pair(rng, beta=1.0, sig_s=1.0, half_life=0.3, sig_b=1.0, span_s=600.0)
    with pytest.raises(InputError, match="decorrelates within one grid step") as ei:  # φ = 2^(−5/0.3) ≈ 0
        estimate_basis_ou(s_tab, h_tab, grid_s=5.0)
    assert ei.value.field == "grid_s"
    for bad in (0.0, -1.0, math.nan, True):
        with pytest.raises(InputError) as ei:
            estimate_basis_ou(s_tab, h_tab, beta=bad)
        assert ei.value.field == "beta"
    t = np.arange(0.0, 300.0)
    s = 100.0 + 0.25 * np.cumsum(rng.integers(-4, 5, t.size))
    with pytest.raises(InputError, match="never changes") as ei:
        estimate_basis_ou(table(t, s), table(t, s + 8.0))
    assert ei.value.field == "hedge"
    # a random-walk basis: no reversion on the grid (φ̂ near 1): when φ̂ ≥ 1 the half-life is inf
    rw = estimate_basis_ou(table(t, s), table(t, s + np.cumsum(rng.normal(0.0, 1.0, t.size))))
    assert rw.phi > 0.9
    assert (rw.half_life == math.inf) == (rw.phi >= 1.0)


def test_real_spot_perp_basis_is_an_ou_with_a_one_second_half_life(spot_perp):
    """Spot vs USDⓈ-M perp BTCUSDT, basis H − S on a 1 s grid (344 steps): φ = 0.530 ± 0.046,
    half-life 1.09 ± 0.15 s, σ_b = 4.04 ± 0.21 USD/√s, stationary std 3.59 ± 0.18 USD (sample std 3.58),
    mean −22.9 USD. The level's autocorrelation has a slower tail than one OU (0.15 at 10 s, fit 0.002):
    the basis also has a slow component. The hedging preset uses these values."""
    spot, perp = spot_perp
    est = estimate_basis_ou(spot, perp, grid_s=1.0)
    print(
        f"\nspot→perp basis OU, 1 s: φ={est.phi:.4f}±{est.phi_se:.4f} half-life={est.half_life:.3f}±"
        f"{est.half_life_se:.3f} s σ_b={est.sigma:.3f}±{est.sigma_se:.3f} USD/√s stationary std="
        f"{est.stationary_std:.3f}±{est.stationary_std_se:.3f} (sample {est.level_std:.3f}) mean={est.mean:.2f}"
    )
    assert est.n >= 340
    assert 0.0 < est.phi - Z * est.phi_se and est.phi + Z * est.phi_se < 1.0  # it reverts, within the grid
    assert 0.3 < est.half_life < 5.0
    # one OU's stationary std agrees with the level's sample std
    assert abs(est.stationary_std - est.level_std) < Z * est.stationary_std_se
    assert est.acf[10] > est.acf_fit[10] + 2.0 / math.sqrt(est.n)  # the slow tail, stated above
    v = preset("hedging").values
    assert v["hedge_beta"] == 1.0
    assert v["hedge_basis_halflife"] == pytest.approx(est.half_life, abs=0.005)
    assert v["hedge_basis_sigma"] == pytest.approx(est.sigma, abs=0.005)
    assert v["hedge_s0"] - v["s0"] == pytest.approx(est.mean, abs=0.5)


# ------------------------------------------------------------------ (e) the example
def test_example_script_runs():
    script = ROOT / "examples" / "basis_spot_perp.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "β" in r.stdout and "ρ" in r.stdout
    paste = next(line for line in r.stdout.splitlines() if line.strip().startswith("flatbook simulate"))
    pasted = dict(tok.split("=", 1) for tok in paste.split() if "=" in tok)
    v = preset("hedging").values
    assert float(pasted["hedge_beta"]) == 1.0  # one-for-one: what the preset ships
    # the preset was set from this very fit: the paste line must agree with it
    assert float(pasted["hedge_basis_halflife"]) == pytest.approx(v["hedge_basis_halflife"], abs=0.005)
    assert float(pasted["hedge_basis_sigma"]) == pytest.approx(v["hedge_basis_sigma"], abs=0.005)
    assert "hedge_basis_halflife=inf" in r.stdout  # the stress case is offered
    bad = subprocess.run(
        [sys.executable, str(script), "--hedge", str(ROOT / "no-such-file.gz")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such file" in lines[0]
