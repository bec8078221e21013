"""Calibration: σ, A, k recovered from data made by the simulator's own market model,
refusals with reasons, Stoll's g, the γ search, and real-data sanity.

Every statistical assertion is |estimate − truth| ≤ Z·SE (Z = 4, conftest) or "the truth
lies in the reported 95% interval" for one fixed seed; interval calibration itself is
checked by a coverage study whose tolerance is the binomial SE of the coverage.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from conftest import AS_A, AS_DT, AS_K, AS_SIGMA, AS_T, Z, shared_data
from flatbook.calibrate import (
    CalibrationError,
    calibrate,
    fit_intensity,
    fit_reach,
    fit_stoll_gamma,
    realized_volatility,
    stoll_gamma_from_quotes,
    suggest_gamma,
)
from flatbook.calibrate.gamma_target import simulated_std
from flatbook.config import build_config
from flatbook.data.events import QUOTE, TRADE, EventMeta, EventTable, empty_columns
from flatbook.data.load import load
from flatbook.sim.simulator import simulate

LEVEL = 0.95
ZQ = float(stats.norm.ppf(0.975))  # 1.96
CRIT = float(stats.chi2.ppf(LEVEL, 1))  # 3.84 = ZQ²
T0_NS = 1_700_000_000_000_000_000

# the synthetic market, in seconds: A–S intensity flow at A per s, k per price unit,
# binomial mid with σ price units per √s, on steps of DT s
TRUE_A, TRUE_K, TRUE_SIGMA, DT, HORIZON = 4.0, 20.0, 0.05, 0.05, 500.0


def synthetic_events(
    *, A=TRUE_A, k=TRUE_K, sigma=TRUE_SIGMA, dt=DT, horizon=HORIZON, seed=1, s0=100.0, spread=0.01, tick=math.nan
) -> EventTable:
    """An event table from the core's market model (flatbook.market.pack, ``intensity`` flow).

    Each step of dt seconds: a QUOTE row (book mid ± spread/2); on each side, independently,
    the step's market order reaches depth D where P(D ≥ δ) = min(1, A·dt·e^(−kδ)) — exactly the
    kernel's fill rule "uniform u < A·e^(−kδ)·dt", i.e. D = ln(A·dt/u)/k when u < A·dt — and
    prints a TRADE at mid ∓ D (seller-initiated on the bid side, buyer-initiated on the ask
    side); then the mid moves ±σ√dt (binomial, A–S 2008 §3).
    """
    assert A * dt <= 1.0
    rng = np.random.default_rng(seed)
    n = int(round(horizon / dt))
    mid = s0 + np.concatenate([[0.0], np.cumsum(sigma * math.sqrt(dt) * (2 * rng.integers(0, 2, n - 1) - 1))])
    u = rng.random((n, 2))
    hit = u < A * dt
    reach = np.log(A * dt / u) / k
    per_step = 1 + hit.sum(1)
    first = np.concatenate([[0], np.cumsum(per_step)[:-1]])
    c = empty_columns(int(per_step.sum()))
    ts = T0_NS + np.round(np.arange(n) * dt * 1e9).astype(np.int64)
    c["ts"][first], c["kind"][first] = ts, QUOTE
    for col, side in ((0, -1), (1, +1)):
        steps = np.flatnonzero(hit[:, col])
        rows = first[steps] + 1 + (hit[steps, 0] if col == 1 else 0)
        c["ts"][rows] = ts[steps] + 1 + col
        c["kind"][rows], c["side"][rows], c["qty"][rows] = TRADE, side, 1.0
        c["px"][rows] = mid[steps] + side * reach[steps, col]
    step_of_row = np.repeat(np.arange(n), per_step)
    c["bid_px"], c["ask_px"] = mid[step_of_row] - spread / 2, mid[step_of_row] + spread / 2
    c["bid_sz"][:], c["ask_sz"][:] = 1.0, 1.0
    return EventTable(**c, meta=EventMeta("SYN", "synthetic", tick, 1.0))


@pytest.fixture(scope="module")
def events() -> EventTable:
    return synthetic_events()


def _check_ci(fit, k_true: float, a_true: float) -> None:
    """Truth inside the 95% intervals, and the intervals consistent with the reported SEs.

    k: the profile-likelihood interval, on a deviance scaled by c = (SE_Fisher/SE)², has width
    2·z·SE·(1 + O(z²/(c·n))) (expand n(e^u − 1 − u) = z²/2c around u = 0), so the relative
    difference is bounded by z²/(c·n). A: exp(ln Â ± z·SE(ln Â)) with SE(Â) = Â·SE(ln Â), exactly.
    """
    assert fit.ok, fit.reason
    assert fit.k_lo <= k_true <= fit.k_hi, (fit.side, fit.k_lo, k_true, fit.k_hi)
    assert fit.A_lo <= a_true <= fit.A_hi, (fit.side, fit.A_lo, a_true, fit.A_hi)
    inv_c = (fit.k_se / fit.k_se_fisher) ** 2
    assert abs((fit.k_hi - fit.k_lo) / (2 * ZQ * fit.k_se) - 1) <= CRIT * inv_c / fit.n_tail
    assert fit.k_lo < fit.k < fit.k_hi
    assert math.log(fit.A_hi / fit.A_lo) == pytest.approx(2 * ZQ * fit.A_se / fit.A, rel=1e-12)
    assert abs(fit.k - k_true) <= Z * fit.k_se
    assert abs(fit.A - a_true) <= Z * fit.A_se


# ---------------------------------------------------------------- intensity
@pytest.mark.parametrize("delta0", [None, 0.0], ids=["floor-quantile", "known-floor"])
def test_intensity_recovers_A_and_k_within_ci(events, delta0):
    fit = fit_intensity(events, delta0=delta0)
    assert fit.reach["dropped"] == {}
    assert fit.reach["orders"] == int(events.is_trade.sum())
    for side in (fit.bid, fit.ask, fit.pooled):
        assert side.lattice == 0.0  # no tick: continuous model
        _check_ci(side, TRUE_K, TRUE_A)  # pooled A is per side
    assert fit.pooled.n_trades == fit.bid.n_trades + fit.ask.n_trades


def test_intensity_time_unit_scales_A_only(events):
    s = fit_intensity(events).pooled
    m = fit_intensity(events, time_unit_s=60.0).pooled
    assert m.k == s.k and m.k_lo == s.k_lo
    assert m.A == pytest.approx(60.0 * s.A, rel=1e-12)
    assert m.A_lo == pytest.approx(60.0 * s.A_lo, rel=1e-12)
    assert m.duration == pytest.approx(s.duration / 60.0, rel=1e-12)
    _check_ci(m, TRUE_K, 60.0 * TRUE_A)


@pytest.mark.parametrize("lattice", [False, True], ids=["continuous", "tick-lattice"])
@pytest.mark.parametrize("with_times", [False, True], ids=["poisson-se", "cluster-robust"])
def test_intensity_interval_coverage(lattice, with_times):
    """Coverage of the 95% intervals over R independent data sets (Poisson arrivals, exponential
    reach; on a lattice the reach is floored to the tick, i.e. geometric). Tolerance: Z binomial
    SEs of the coverage. The time-bin inflations only ever widen, so with times the intervals may
    over-cover: only the lower bound is asserted there."""
    A, k, T, h, R = 2.0, 5.0, 100.0, 0.05, 1000
    rng = np.random.default_rng(11 + 2 * lattice + with_times)
    hits = np.zeros(2)
    for _ in range(R):
        n = rng.poisson(A * T)
        t = np.sort(rng.uniform(0.0, T, n))
        d = rng.exponential(1.0 / k, n)
        if lattice:
            d = h * np.floor(d / h)
        f = fit_reach(d, T, times_s=t if with_times else None, tick=h if lattice else None)
        assert f.ok and f.lattice == (h if lattice else 0.0)
        hits += (f.k_lo <= k <= f.k_hi, f.A_lo <= A <= f.A_hi)
    cov, tol = hits / R, Z * math.sqrt(LEVEL * (1 - LEVEL) / R)
    assert np.all(cov >= LEVEL - tol), cov
    if not with_times:
        assert np.all(cov <= LEVEL + tol), cov


def test_intensity_tick_lattice_from_events():
    """Trades on a tick grid, mid on the half-tick grid, and every market order prints at least at
    the touch (half a tick from the mid): the geometric model with h = tick is detected from
    meta.tick_size; the touch is censored (it also collects the orders that would have reached
    less), so the fit starts one tick above it and recovers k and A."""
    tick = 0.01
    ev = synthetic_events(seed=3, spread=tick, tick=tick)
    c = ev.columns()
    tr = c["kind"] == TRADE
    mid = 0.5 * (c["bid_px"] + c["ask_px"])
    touch = mid + c["side"] * tick / 2
    # latent reach D from the mid → printed at the touch plus ⌊(D − tick/2)/tick⌋ whole ticks (at least 0)
    j = np.maximum(np.floor(c["side"] * (c["px"] - touch) / tick), 0.0)
    c["px"] = np.where(tr, touch + c["side"] * j * tick, c["px"])
    ev = EventTable(**c, meta=ev.meta)
    p = fit_intensity(ev).pooled
    assert p.ok and p.lattice == pytest.approx(tick)
    assert p.floor == pytest.approx(tick / 2) and p.delta0 == pytest.approx(1.5 * tick)
    _check_ci(p, TRUE_K, TRUE_A)
    # keeping the censored touch in the fit (δ0 given as the touch) biases k up ...
    assert fit_intensity(ev, delta0=tick / 2).pooled.k_lo > TRUE_K
    # ... and so does treating the ticks as continuous
    assert fit_intensity(ev, lattice="continuous").pooled.k_lo > TRUE_K


def _geometric_reaches(rng, n, k, h, floor=0.05):
    """n reaches on the lattice floor + h·j, j geometric with P(j) = (1 − p)p^j, p = e^(−kh)."""
    return floor + h * rng.geometric(1.0 - math.exp(-k * h), n).astype(float) - h


def test_touch_fit_is_the_censored_geometric_mle():
    """window = m: the closed form k̂ = ln(1 + n_e/S)/h maximises the Type I censored geometric
    likelihood n_e·ln(1 − p) + S·ln p (checked numerically), A = (N/T)·e^(k̂·floor) per side, and
    the law reproduces the observed rate at the floor exactly."""
    rng = np.random.default_rng(21)
    h, T, floor = 0.1, 300.0, 0.05
    d = np.concatenate([np.full(800, floor), _geometric_reaches(rng, 200, 0.5, h, floor)])  # heavy tail
    for m in (1, 3, 7):
        f = fit_reach(d, T, tick=h, window=m, n_sides=2)
        assert f.ok and f.window == m and f.delta0 == pytest.approx(floor) and f.lattice == h
        j = np.rint((d - floor) / h)
        n_e, S = int((j < m).sum()), float(np.minimum(j, m).sum())
        nll = lambda kk, n_e=n_e, S=S: -(n_e * math.log(-math.expm1(-kk * h)) - kk * h * S)  # noqa: E731
        num = optimize.minimize_scalar(nll, bounds=(1e-6, 1e3), method="bounded", options={"xatol": 1e-10})
        assert f.k == pytest.approx(num.x, rel=1e-6) and f.k == pytest.approx(math.log1p(n_e / S) / h, rel=1e-12)
        assert f.A == pytest.approx(d.size / (T * 2) * math.exp(f.k * floor), rel=1e-12)
        assert f.floor_ratio == pytest.approx(1.0, rel=1e-12)
        assert f.k_lo < f.k < f.k_hi
    # the tail law (no window) decays far more slowly than the law at the touch
    assert fit_reach(d, T, tick=h).k_hi < fit_reach(d, T, tick=h, window="auto").k_lo


def test_touch_fit_auto_window_is_the_smallest_holding_95_percent():
    """Exponential from the touch on: the near-touch law is the same law (k within Z·SE of the
    truth), and the auto window m is the smallest with m·h·k̂(m) >= ln 20."""
    rng = np.random.default_rng(22)
    k, h, T = 4.0, 0.05, 1000.0
    d = _geometric_reaches(rng, 5000, k, h)
    f = fit_reach(d, T, tick=h, window="auto")
    assert f.ok and abs(f.k - k) <= Z * f.k_se
    assert f.window * h * f.k >= math.log(20)
    prev = fit_reach(d, T, tick=h, window=f.window - 1) if f.window > 1 else None
    assert prev is None or (f.window - 1) * h * prev.k < math.log(20)
    assert abs(fit_reach(d, T, tick=h).k - f.k) <= Z * math.hypot(f.k_se, fit_reach(d, T, tick=h).k_se)


def test_touch_fit_needs_a_lattice_and_checks_window():
    d = np.random.default_rng(23).exponential(0.2, 500)
    f = fit_reach(d, 100.0, window="auto")
    assert not f.ok and "lattice" in f.reason
    for bad in (0, -1, 2.5, "wide"):
        with pytest.raises(CalibrationError) as e:
            fit_reach(d, 100.0, tick=0.1, window=bad)
        assert e.value.field == "window"


def test_too_few_trades_refused():
    ev = synthetic_events(horizon=2.0, seed=5)  # ~8 orders a side
    fit = fit_intensity(ev)
    for side in (fit.bid, fit.ask, fit.pooled):
        assert not side.ok and side.reason.startswith("only") and "need at least 30" in side.reason
        assert math.isnan(side.k) and math.isnan(side.A)
        with pytest.raises(CalibrationError) as e:
            side.require()
        assert e.value.field == "trades"
    # the threshold is a parameter
    assert fit_intensity(ev, min_trades=3, min_tail=3).pooled.ok
    out = calibrate(ev)
    assert out["ok"] is False and "A" not in out["set"] and "k" not in out["set"]
    assert any("only" in w for w in out["warnings"])


@pytest.mark.parametrize("floor", [0.0, 0.07])
def test_degenerate_distances_refused(floor):
    d = np.full(500, floor)
    f = fit_reach(d, 100.0)
    assert not f.ok and f.reason.startswith("degenerate") and "k is not identified" in f.reason
    with pytest.raises(CalibrationError) as e:
        f.require()
    assert e.value.field == "k"
    # on a tick lattice too (there the floor is censored and the fit starts a tick above it)
    f = fit_reach(np.full(500, floor + 0.05), 100.0, tick=0.1)
    assert not f.ok and f.reason.startswith("degenerate")
    # a handful beyond the floor is still not enough (min_tail)
    d[:5] += 0.01
    f = fit_reach(d, 100.0, delta0=floor)
    assert not f.ok and f.reason.startswith("degenerate") and "only 5 of 500" in f.reason


def test_insignificant_k_refused():
    """Three excesses: k̂/SE(k̂) = √3 < 1.96, so k is not significantly positive."""
    f = fit_reach([0.1, 0.2, 0.3], 10.0, delta0=0.0, min_trades=2, min_tail=2)
    assert not f.ok and "not significantly positive" in f.reason
    with pytest.raises(CalibrationError) as e:
        f.require()
    assert e.value.field == "k"
    assert fit_reach([0.1, 0.2, 0.3, 0.4], 10.0, delta0=0.0, min_trades=2, min_tail=2).ok  # √4 = 2 > 1.96


def test_reach_groups_sweeps_and_drops_bad_rows():
    """A sweep (same ts and side) is one market order reaching its furthest price, measured
    from the book before its first trade; unknown sides and books through the mid are dropped."""
    c = empty_columns(6)
    c["ts"] = T0_NS + np.array([0, 10, 10, 10, 20, 30])
    c["kind"] = np.array([QUOTE, TRADE, TRADE, TRADE, TRADE, TRADE], np.int8)
    c["side"] = np.array([0, 1, 1, -1, 0, -1], np.int8)
    c["px"] = np.array([np.nan, 100.05, 100.15, 99.90, 100.0, 100.10])
    c["qty"] = np.array([0, 1, 1, 1, 1, 1.0])
    c["bid_px"] = np.array([99.95, 99.95, 99.95, 99.85, 99.85, 99.85])
    c["ask_px"] = np.array([100.05, 100.15, 100.25, 100.25, 100.25, 100.25])
    ev = EventTable(**c, meta=EventMeta("X", "test", 0.05, 1.0))
    from flatbook.calibrate import reach_distances

    r = reach_distances(ev)
    # order 1: buy sweep 100.05 → 100.15 from mid 100.00 → reach 0.15; order 2: sell at 99.90 from
    # the book after the sweep (mid 100.10) → 0.20; row 4: side unknown; row 5: sell at 100.10
    # above the mid 100.05 → dropped
    assert r.delta == pytest.approx([0.15, 0.20])
    assert r.side.tolist() == [1, -1]
    assert r.dropped == {
        "trade side unknown": 1,
        "traded on the far side of the mid (stale book, misclassified side, or a hidden order inside the spread)": 1,
    }
    r2 = reach_distances(ev, group_sweeps=False)
    assert r2.delta == pytest.approx([0.05, 0.10, 0.20])  # each print against the book just before it


# ---------------------------------------------------------------- volatility
def test_volatility_recovers_sigma(events):
    v = realized_volatility(events)
    assert v.ok and v.n == int(HORIZON) - 1
    assert abs(v.sigma - TRUE_SIGMA) <= Z * v.sigma_se
    assert v.sigma_se == pytest.approx(v.sigma / math.sqrt(2 * v.n))
    assert v.sigma_day == pytest.approx(v.sigma * math.sqrt(86_400))
    assert v.sigma_annual == pytest.approx(v.sigma * math.sqrt(365.25 * 86_400))
    # log returns: ln(m'/m) = (m' − m)/ξ with ξ between m and m' (mean value theorem), so
    # σ/max(mid) <= σ_log <= σ/min(mid) exactly
    mid = events.mid
    assert v.sigma / mid.max() <= v.sigma_log <= v.sigma / mid.min()
    assert v.per_time_unit(60.0) == pytest.approx(v.sigma * math.sqrt(60.0))
    # a coarser grid estimates the same σ (fewer increments)
    v5 = realized_volatility(events, grid_s=5.0)
    assert abs(v5.sigma - TRUE_SIGMA) <= Z * v5.sigma_se and v5.n == int(HORIZON / 5) - 1


def test_volatility_irregular_times_previous_tick():
    """ABM mid observed at Poisson times: previous-tick sampling on a 1-s grid recovers σ."""
    rng = np.random.default_rng(2)
    sigma, horizon = 0.3, 3000.0
    t = np.sort(rng.uniform(0, horizon, 30_000))
    dt = np.diff(np.concatenate([[0.0], t]))
    mid = 50.0 + np.cumsum(sigma * np.sqrt(dt) * rng.standard_normal(t.size))
    v = realized_volatility(T0_NS + (t * 1e9).astype(np.int64), mid)
    assert v.ok and abs(v.sigma - sigma) <= Z * v.sigma_se


def test_volatility_refuses_short_or_flat():
    ts = T0_NS + np.arange(10) * 1_000_000_000
    v = realized_volatility(ts, np.linspace(100, 101, 10))
    assert not v.ok and "only 9 increments" in v.reason
    with pytest.raises(CalibrationError):
        v.require()
    ts = T0_NS + np.arange(100) * 1_000_000_000
    flat = realized_volatility(ts, np.full(100, 100.0))
    assert not flat.ok and "never changed" in flat.reason
    with pytest.raises(CalibrationError) as e:
        realized_volatility(ts, np.full(100, 100.0), grid_s=0.0)
    assert e.value.field == "grid_s"


# ---------------------------------------------------------------- Stoll γ
def test_stoll_gamma_exact_from_simulated_stoll_path():
    """The stoll policy's own quotes (recorded by the simulator) give back stoll_gamma and half_spread."""
    g, h0 = 0.07, 0.4
    res = simulate(
        build_config("as2008", "stoll", {"stoll_gamma": g, "half_spread": h0}, paths=64, seed=3), record_paths=[0]
    )
    s = res.path_series(0)
    q, bid, ask, mid = s["q"][:-1], s["bid"][:-1], s["ask"][:-1], s["mid"][:-1]
    assert np.ptp(q) > 0
    fit = stoll_gamma_from_quotes(q, bid, ask, mid)
    assert fit.ok
    assert fit.stoll_gamma == pytest.approx(g, abs=1e-9)
    assert fit.g_spread == pytest.approx(g, abs=1e-9) and fit.g_centre == pytest.approx(g, abs=1e-9)
    assert fit.half_spread == pytest.approx(h0, abs=1e-9)
    assert fit.spread_fit.r2 == pytest.approx(1.0, abs=1e-9)


def test_stoll_gamma_with_noise_within_se():
    rng = np.random.default_rng(4)
    g, h0, q_star, n, noise = 0.002, 0.05, 3.0, 4000, 0.01
    q = np.cumsum(rng.choice([-1.0, 1.0], n))
    inv = q - q_star
    half = h0 + g * np.abs(inv) + noise * rng.standard_normal(n)
    centre = -2 * g * inv + noise * rng.standard_normal(n)
    fit = fit_stoll_gamma(q, half, centre, q_target=q_star)
    assert fit.ok
    for est, se in (
        (fit.g_spread, fit.g_spread_se),
        (fit.g_centre, fit.g_centre_se),
        (fit.stoll_gamma, fit.stoll_gamma_se),
    ):
        assert se > 0 and abs(est - g) <= Z * se
    assert fit.stoll_gamma_se < min(fit.g_spread_se, fit.g_centre_se)  # the combination helps
    assert abs(fit.half_spread - h0) <= Z * fit.spread_fit.intercept_se


def test_stoll_gamma_refuses_constant_q():
    q = np.full(100, 5.0)
    fit = fit_stoll_gamma(q, np.full(100, 0.1), np.zeros(100))
    assert not fit.ok and "no variation" in fit.reason
    with pytest.raises(CalibrationError):
        fit.require()
    # |q| constant but q varies: only the centre regression is possible
    q = np.tile([-2.0, 2.0], 50)
    fit = fit_stoll_gamma(q, np.full(100, 0.1), -2 * 0.01 * q)
    assert fit.ok and fit.stoll_gamma == pytest.approx(0.01, abs=1e-12) and math.isnan(fit.g_spread)


# ---------------------------------------------------------------- γ for a target std
AS = dict(sigma=AS_SIGMA, A=AS_A, k=AS_K, T=AS_T, dt=AS_DT)  # 200 steps


def test_suggest_gamma_hits_target():
    target = 3.0
    r = suggest_gamma(target_q_std=target, paths=4000, seed=0, **AS)
    assert r.ok, r.reason
    assert abs(r.achieved - target) <= r.achieved_se
    assert r.bracket[0] < r.gamma < r.bracket[1] and r.steps == 200
    assert any("Brent" in line for line in r.reasoning) and any("bracket" in line for line in r.reasoning)
    # an independent seed at the suggested γ: the std is the target within the two runs' SEs
    s, se = simulated_std(gamma=r.gamma, paths=4000, seed=12345, **AS)
    assert abs(s - target) <= Z * math.hypot(se, r.achieved_se)
    # more risk aversion, less inventory (the grid is monotone here, within the runs' SEs)
    ev_ = sorted(r.evaluations)
    assert all(b[1] <= a[1] + Z * math.hypot(a[2], b[2]) for a, b in zip(ev_, ev_[1:]))


def test_suggest_gamma_refuses_unreachable_target_and_saturated_dt():
    r = suggest_gamma(target_q_std=50.0, paths=2000, seed=0, **AS)
    assert not r.ok and "unreachable" in r.reason and math.isnan(r.gamma)
    with pytest.raises(CalibrationError):
        r.require()
    with pytest.raises(CalibrationError) as e:
        suggest_gamma(**{**AS, "dt": 0.01}, target_q_std=3.0, paths=100)  # A·dt = 1.4
    assert e.value.field == "dt"
    with pytest.raises(CalibrationError):
        suggest_gamma(**AS, target_q_std=3.0, statistic="pnl")


# ---------------------------------------------------------------- calibrate()
def test_calibrate_dict_and_set_values(events):
    tu = 10.0
    rng = np.random.default_rng(8)
    phi, n = 0.9, 3000  # AR(1) inventory on a 1-s grid: κ = −ln φ per s
    q = np.zeros(n)
    for i in range(1, n):
        q[i] = phi * q[i - 1] + rng.standard_normal()
    ts_q = T0_NS + np.arange(n, dtype=np.int64) * 1_000_000_000
    out = calibrate(events, time_unit_s=tu, inventory=(ts_q, q), target_q_std=2.0, T=20.0, size=1.0, paths=1000)
    json.dumps(out, allow_nan=False)
    assert out["ok"] is True and out["warnings"] == []
    # no tick: the near-touch law cannot be fitted, so the suggestion is the pooled law
    assert out["quoting_law"] == "pooled" and not out["intensity"]["touch"]["ok"]
    st = out["set"]
    v, p = out["volatility"], out["intensity"]["pooled"]
    assert st["sigma"] == pytest.approx(v["sigma"] * math.sqrt(tu))
    assert abs(st["sigma"] - TRUE_SIGMA * math.sqrt(tu)) <= Z * v["sigma_se"] * math.sqrt(tu)
    assert p["A_lo"] <= TRUE_A * tu <= p["A_hi"] and st["A"] == p["A"]
    assert p["k_lo"] <= TRUE_K <= p["k_hi"] and st["k"] == p["k"]
    assert st["gamma"] == out["gamma"]["gamma"] and out["gamma"]["ok"]
    # A–S as the backtest runs it: stationary, rolling horizon 60 s = 6 time units, size 1 (given),
    # limit the backtest's default (20 × 100 lots of 1)
    assert (st["variant"], st["horizon"], st["size"], st["limit"]) == ("stationary", 6.0, 1.0, 2000.0)
    assert out["set_args"] == [f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in st.items()]
    assert out["set_args"][0].startswith("sigma=") and "variant=stationary" in out["set_args"]
    assert out["gamma"]["statistic"] == "q_std_mean" and out["gamma"]["run"]["T"] == 20.0
    chk = out["backtest_check"]
    assert chk["fills"] > 0 and chk["latency_ms"] == 0.0
    assert out["time_unit"]["seconds"] == tu
    ou = out["inventory_ou"]
    se_phi = math.sqrt((1 - phi**2) / (n - 1))  # AR(1) OLS: Var φ̂ ≈ (1 − φ²)/n
    assert ou["ok"] and abs(ou["kappa"] - (-math.log(phi) * tu)) <= Z * se_phi / phi * tu
    assert ou["half_life"] == pytest.approx(math.log(2) / ou["kappa"])
    assert ou["half_life_s"] == pytest.approx(ou["half_life"] * tu)
    # the γ run honours A·dt <= 0.5 by default
    g = out["gamma"]
    assert st["A"] * (20.0 / g["steps"]) <= 0.5 + 1e-12


def test_calibrate_gamma_run_defaults_and_bad_arguments(events):
    """T defaults to the data's span, dt to T/max(200, ⌈2AT⌉), the horizon to 60 s; glft takes
    no horizon; bad values name their field. ``progress`` hears of every simulation."""
    calls = []
    out = calibrate(events, target_q_std=2.0, size=1.0, paths=50, progress=calls.append)
    run, g = out["gamma"]["run"], out["gamma"]
    span = (int(events.ts[-1]) - int(events.ts[0])) / 1e9
    assert run["T"] == pytest.approx(span) and run["horizon"] == 60.0
    assert run["dt"] == pytest.approx(span / max(200, math.ceil(2 * out["set"]["A"] * span)))
    assert len(calls) == len(g["evaluations"]) and all(c.startswith("searching γ: simulation") for c in calls)
    with pytest.raises(CalibrationError) as e:
        calibrate(events, target_q_std=2.0, policy="glft", horizon=10.0)
    assert e.value.field == "horizon"
    for field, kw in (
        ("T", {"T": 0.0}),
        ("horizon", {"horizon": -1.0}),
        ("size", {"size": math.inf}),
        ("policy", {"policy": "stoll"}),
    ):
        with pytest.raises(CalibrationError) as e:
            calibrate(events, target_q_std=2.0, **kw)
        assert e.value.field == field


# ---------------------------------------------------------------- real data
LOBSTER_AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
BINANCE_BTC = "binance/usdm_btcusdt_20240808.gz"


def _load(rel: str) -> EventTable:
    """A real file from ../shared/data (missing: a failure in CI, a skip elsewhere)."""
    return load(shared_data(rel))


@pytest.mark.parametrize(
    "path,sigma_range,k_range,a_range",
    [
        # AAPL ~ $580 in 2012: σ of a few cents per √s; reaches of a few cents (k per USD); ~1 order/s a side
        (LOBSTER_AAPL, (0.005, 0.5), (1.0, 500.0), (0.01, 50.0)),
        # BTC ~ $60 000: σ 0.1–100 USD per √s; reaches of ticks to dollars; several orders/s a side
        (BINANCE_BTC, (0.1, 100.0), (0.01, 100.0), (0.1, 500.0)),
    ],
    ids=["lobster-aapl", "binance-btcusdt"],
)
def test_real_data_calibration_is_sane(path, sigma_range, k_range, a_range):
    ev = _load(path)
    out = calibrate(ev)
    json.dumps(out, allow_nan=False)
    # both files have enough trades and price moves: calibration succeeds
    assert out["ok"] is True, (out["volatility"]["reason"], out["intensity"]["pooled"]["reason"])
    st = out["set"]
    assert sigma_range[0] < st["sigma"] < sigma_range[1]
    assert k_range[0] < st["k"] < k_range[1]
    assert a_range[0] < st["A"] < a_range[1]
    for side in ("bid", "ask", "pooled"):
        f = out["intensity"][side]
        assert f["ok"] and 0 < f["k_lo"] < f["k"] < f["k_hi"] and 0 < f["A_lo"] < f["A"] < f["A_hi"]
        # prices on a tick grid: the geometric (lattice) model, h = tick or tick/2
        assert f["lattice"] in (pytest.approx(ev.meta.tick_size), pytest.approx(ev.meta.tick_size / 2))
        # trades happen at the touch: the floor is at most a typical half-spread, and the fit
        # starts one lattice step above it
        assert 0 <= f["floor"] <= f["delta_median"] + 1e-9
        assert f["delta0"] == pytest.approx(f["floor"] + f["lattice"])
