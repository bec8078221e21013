"""The Monte Carlo simulator: determinism, common random numbers, closed forms, accounting."""

from __future__ import annotations

import math

import numpy as np
import pytest

import flatbook.sim.simulator as simulator
from conftest import AS_DT, AS_SIGMA, EPS, Z, fill_prob, mean_se, run, std_se, var_se
from flatbook.policies.quote import quotes

# Every optional market feature switched on, so every random draw of the kernel is exercised:
# mini-project (GBM mid, one market order per step, exponential sizes, buy-bias regimes,
# financing, limit 500, red zone) plus jumps, volatility regimes, informed flow, fees, a kill switch.
RICH = dict(
    T=200.0,
    jump_rate=0.02,
    jump_std=1.0,
    regime_sigma_mult=2.0,
    regime_up_rate=0.01,
    regime_down_rate=0.05,
    informed_frac=0.3,
    informed_move=0.05,
    maker_fee=0.001,
    max_drawdown=3000.0,
    yellow=50.0,
    red=150.0,
    critical=300.0,
)
# as2008 with an arithmetic mid (one Gaussian draw per step) and jumps instead of the binomial.
AS_ABM = dict(mid_model="abm", jump_rate=2.0, jump_std=0.5, informed_frac=0.2, informed_move=0.05)

VOLATILE_KEYS = ("elapsed_s", "path_steps_per_s")


def _assert_same_paths(a: dict, b: dict, n: int | None = None):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k][:n], b[k][:n]
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


# ------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("setup", [("mini-project", "stoll", RICH), ("as2008", "avellaneda-stoikov", AS_ABM)])
def test_same_seed_is_bit_identical(setup):
    preset, policy, ov = setup
    a = run(preset, policy, paths=1500, seed=42, **ov)
    b = run(preset, policy, paths=1500, seed=42, **ov)
    _assert_same_paths(a.per_path, b.per_path)
    sa = {k: v for k, v in a.summary.items() if k not in VOLATILE_KEYS}
    sb = {k: v for k, v in b.summary.items() if k not in VOLATILE_KEYS}
    assert sa == sb
    c = run(preset, policy, paths=1500, seed=43, **ov)
    assert not np.array_equal(a.per_path["pnl"], c.per_path["pnl"])


@pytest.mark.parametrize("setup", [("mini-project", "stoll", RICH), ("as2008", "avellaneda-stoikov", AS_ABM)])
def test_path_i_does_not_depend_on_the_number_of_paths(setup):
    preset, policy, ov = setup
    small = run(preset, policy, paths=1000, seed=7, **ov)
    big = run(preset, policy, paths=3000, seed=7, **ov)
    _assert_same_paths(small.per_path, big.per_path, n=1000)


def test_chunking_does_not_change_any_path(monkeypatch):
    """The simulator runs paths in chunks; the chunk size is invisible in the results."""
    base = run("mini-project", "stoll", paths=2000, seed=9, **RICH)
    monkeypatch.setattr(simulator, "CHUNK_PATH_STEPS", 512 * 200)  # one 512-path block per chunk
    chunked = run("mini-project", "stoll", paths=2000, seed=9, **RICH)
    _assert_same_paths(base.per_path, chunked.per_path)
    # the pooled OU sums are added in a different order: equal up to rounding
    assert chunked.summary["ou_kappa"] == pytest.approx(base.summary["ou_kappa"], rel=1e-9)


def test_thread_count_does_not_change_any_path(numba_threads):
    numba_threads(1)
    one = run("mini-project", "stoll", paths=3000, seed=3, **RICH)
    numba_threads(2)
    two = run("mini-project", "stoll", paths=3000, seed=3, **RICH)
    _assert_same_paths(one.per_path, two.per_path)


# ------------------------------------------------------------ common random numbers
@pytest.mark.parametrize("preset,extra", [("as2008", {}), ("mini-project", RICH)])
def test_policies_with_identical_quotes_give_identical_paths(preset, extra):
    """linear-skew with skew = 0 and Stoll with g = 0 quote exactly like symmetric with the
    same half-spread, and see the same flow: every per-path number is bit-identical."""
    ov = dict(extra, half_spread=0.3)
    sym = run(preset, "symmetric", paths=1200, seed=5, **ov)
    lin = run(preset, "linear-skew", paths=1200, seed=5, skew=0.0, **ov)
    sto = run(preset, "stoll", paths=1200, seed=5, stoll_gamma=0.0, **ov)
    _assert_same_paths(sym.per_path, lin.per_path)
    _assert_same_paths(sym.per_path, sto.per_path)


# ------------------------------------------------------------------------ closed forms
def test_fixed_mid_fill_counts_and_pnl():
    """σ = 0, symmetric depth δ, intensity flow: each side fills independently with
    p = min(1, A·e^(−kδ)·dt) per step, so fills ~ Binomial(2n, p); with the mid fixed the
    mark-to-market PnL of every path is exactly δ × volume."""
    res = run(policy="symmetric", paths=20_000, seed=21, sigma=0.0)
    c = res.config.values
    delta, n = c["half_spread"], res.config.steps
    p = fill_prob(c["A"], c["k"], delta, c["dt"])
    fills = res.per_path["fills"]
    m, se = mean_se(fills)
    assert abs(m - 2 * n * p) < Z * se
    v, vse = var_se(fills)
    assert abs(v - 2 * n * p * (1 - p)) < Z * vse  # the two sides are independent
    pp = res.per_path
    assert np.array_equal(pp["volume"], fills.astype(float))  # unit quote size
    # rounding bound of n cash updates of size ≤ s0·(|q|+2): a few eps each
    tol = 4 * EPS * n * c["s0"] * (pp["max_abs_q"] + 2.0)
    assert np.all(np.abs(pp["pnl"] - delta * pp["volume"]) <= tol)
    assert res.summary["pnl_mean"] == pytest.approx(delta * float(pp["volume"].mean()), rel=1e-9)


def test_symmetric_expected_pnl_is_spread_capture():
    """A mid-relative symmetric quote earns δ per fill; the inventory term Σ q·Δs is a
    martingale. So E[PnL] = 2·n·p·δ (A–S 2008's symmetric benchmark), within Z·SE."""
    res = run(policy="symmetric", paths=20_000, seed=22)
    c = res.config.values
    delta, n = c["half_spread"], res.config.steps
    p = fill_prob(c["A"], c["k"], delta, c["dt"])
    m, se = mean_se(res.per_path["pnl"])
    assert abs(m - 2 * n * p * delta) < Z * se


def test_binomial_mid_without_fills():
    res = run(policy="symmetric", paths=3000, seed=4, record=range(3000), A=0.0, T=0.5)
    pp, ser = res.per_path, res.series
    assert np.all(pp["pnl"] == 0.0) and np.all(pp["final_q"] == 0.0) and np.all(pp["fills"] == 0)
    assert np.all(pp["max_abs_q"] == 0.0) and np.all(ser["q"] == 0.0)
    step = AS_SIGMA * math.sqrt(AS_DT)
    np.testing.assert_allclose(np.abs(np.diff(ser["mid"], axis=1)), step, rtol=1e-9)
    # s_T − s0 = σ√dt·(2B − n), B ~ Binomial(n, ½): mean 0, variance σ²T
    x = ser["mid"][:, -1] - 100.0
    m, se = mean_se(x)
    assert abs(m) < Z * se
    v, vse = var_se(x)
    assert abs(v - AS_SIGMA**2 * 0.5) < Z * vse


def test_gbm_mid_is_a_martingale():
    """GBM: s_T = s0·exp(Σ(aZ − a²/2)), a = (σ/s0)√dt: E[s_T] = s0, Var(ln s_T/s0) = a²n."""
    res = run(policy="symmetric", paths=4000, seed=8, record=range(4000), A=0.0, T=0.5, mid_model="gbm", sigma=30.0)
    sT = res.series["mid"][:, -1]
    m, se = mean_se(sT)
    assert abs(m - 100.0) < Z * se
    n, a = res.config.steps, 0.3 * math.sqrt(AS_DT)
    lr = np.log(sT / 100.0)
    lm, lse = mean_se(lr)
    assert abs(lm + 0.5 * a * a * n) < Z * lse
    v, vse = var_se(lr)
    assert abs(v - a * a * n) < Z * vse


# ---------------------------------------------------------------------------- costs
def test_financing_long_and_short():
    """A position held with no fills (A = 0) and a fixed mid pays financing·q0·T when long
    (summary financing_cost) and borrow·|q0|·T when short (borrow_cost), each accrued
    separately; financing_mean is their sum."""
    for q0, fl, fs, long_cost, short_cost in (
        (10.0, 0.01, 0.5, 0.01 * 10 * 1.0, 0.0),
        (-10.0, 0.5, 0.02, 0.0, 0.02 * 10 * 1.0),
    ):
        base = dict(q0=q0, A=0.0, sigma=0.0)
        a = run(policy="symmetric", paths=50, seed=1, financing_long=fl, financing_short=fs, **base)
        b = run(policy="symmetric", paths=50, seed=1, **base)
        np.testing.assert_allclose(a.per_path["financing"], long_cost, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a.per_path["borrow"], short_cost, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a.per_path["pnl"] - b.per_path["pnl"], -(long_cost + short_cost), rtol=1e-9)
        assert a.summary["financing_cost"] == pytest.approx(long_cost, rel=1e-12, abs=1e-15)
        assert a.summary["borrow_cost"] == pytest.approx(short_cost, rel=1e-12, abs=1e-15)
        assert a.summary["financing_mean"] == pytest.approx(long_cost + short_cost, rel=1e-12)


def test_pnl_of_an_initial_position_is_only_its_cost():
    res = run(policy="symmetric", paths=10, seed=1, q0=10.0, A=0.0, sigma=0.0, financing_long=0.01)
    np.testing.assert_allclose(res.per_path["pnl"], -0.01 * 10 * 1.0, rtol=1e-9)


def test_short_initial_position_does_not_trip_the_kill_switch():
    res = run(policy="symmetric", paths=10, seed=1, q0=-10.0, A=0.0, sigma=0.0, max_loss=5.0)
    assert res.summary["kill_frac"] == 0.0


def test_maker_fee_and_rebate():
    """Fees change no quote and no random draw: the same fills, PnL lower by fee × volume
    (a negative fee, a rebate, raises it)."""
    base = run(policy="symmetric", paths=2000, seed=12)
    vol = base.per_path["volume"]
    assert vol.mean() > 0
    for fee in (0.01, -0.01):
        res = run(policy="symmetric", paths=2000, seed=12, maker_fee=fee)
        assert np.array_equal(res.per_path["fills"], base.per_path["fills"])
        np.testing.assert_allclose(res.per_path["fees"], fee * vol, rtol=1e-12)
        diff = res.per_path["pnl"] - base.per_path["pnl"]
        tol = 4 * EPS * res.config.steps * 100.0 * (base.per_path["max_abs_q"] + 2.0)
        assert np.all(np.abs(diff + fee * vol) <= tol)
        assert np.all(np.sign(diff[vol > 0]) == -np.sign(fee))


def test_informed_flow_is_adverse_selection():
    """After a fill the mid moves m against us with probability f. With symmetric quotes
    the fills are state-independent, so E[ΔPnL] = Σ E[q_after·(±m)·1{informed}] =
    −2·n·m·f·p(1−p) (unit fills, p the per-side fill probability). Paths are iid pairs,
    so the SE of the paired difference is the sample's."""
    f, mv = 0.5, 0.2
    base = run(policy="symmetric", paths=20_000, seed=31)
    inf = run(policy="symmetric", paths=20_000, seed=31, informed_frac=f, informed_move=mv)
    d = inf.per_path["pnl"] - base.per_path["pnl"]
    m, se = mean_se(d)
    assert m + Z * se < 0.0  # informed flow costs money ...
    c = base.config.values
    p = fill_prob(c["A"], c["k"], c["half_spread"], c["dt"])
    expected = -2 * base.config.steps * mv * f * p * (1 - p)
    assert abs(m - expected) < Z * se  # ... exactly the closed-form amount


def test_avellaneda_stoikov_2008_table_1_ordering():
    """A&S (2008) Table 1, γ = 0.1 (1000 paths): inventory strategy profit 62.94 (std 5.89),
    final q std 2.80; symmetric strategy 67.21 (std 13.43), final q std 8.66. Discretisation
    details differ, so only the robust part is asserted: the inventory strategy has a much
    smaller PnL std and final-q std, and a lower mean (paired difference, same flow)."""
    n = 20_000
    sym = run(policy="symmetric", paths=n, seed=2008)
    ast = run(policy="avellaneda-stoikov", paths=n, seed=2008)
    for key in ("pnl", "final_q"):
        s1, e1 = std_se(sym.per_path[key])
        s2, e2 = std_se(ast.per_path[key])
        assert s1 - s2 > Z * math.hypot(e1, e2), key
        assert s2 < 0.6 * s1, key  # A&S: 5.89/13.43 = 0.44 and 2.80/8.66 = 0.32
    d, se = mean_se(sym.per_path["pnl"] - ast.per_path["pnl"])
    assert d > Z * se


def test_per_path_memory_does_not_grow_with_steps():
    short = run(policy="avellaneda-stoikov", paths=1000, seed=1, T=0.05)  # 10 steps
    long_ = run(policy="avellaneda-stoikov", paths=1000, seed=1, T=5.0)  # 1000 steps
    assert (short.config.steps, long_.config.steps) == (10, 1000)
    assert sum(a.nbytes for a in short.per_path.values()) == sum(a.nbytes for a in long_.per_path.values())
    assert all(a.shape == (1000,) for a in long_.per_path.values())
    assert long_.series["q"].shape == (0, 1001)


def test_glft_exact_pnl_is_finite():
    res = run(policy="glft", paths=200, seed=1, solution="exact", limit=3.0)
    for key in ("pnl", "spread_given_up"):
        assert np.all(np.isfinite(res.per_path[key])), key


# --------------------------------------------------------------------- recorded series
@pytest.mark.parametrize(
    "policy,extra",
    [
        ("avellaneda-stoikov", {}),
        ("glft", {"solution": "exact", "limit": 6.0, "q_target": 1.0}),
        ("linear-skew", dict(limit=4.0, tick=0.01, market_spread=0.5, yellow=2.0, yellow_action="skew")),
    ],
)
def test_recorded_series_agree_with_per_path_and_quotes(policy, extra):
    rec = [0, 511, 512, 1499]  # block boundaries
    res = run(policy=policy, paths=1500, seed=17, record=rec, **extra)
    plain = run(policy=policy, paths=1500, seed=17, **extra)
    alone = run(policy=policy, paths=1500, seed=17, record=[512], **extra)
    _assert_same_paths(res.per_path, plain.per_path)  # recording changes nothing
    np.testing.assert_array_equal(res.series["q"][2], alone.series["q"][0])
    pp, ser, n = res.per_path, res.series, res.config.steps
    assert list(res.record_paths) == rec
    np.testing.assert_allclose(ser["t"], np.arange(n + 1) * AS_DT)
    for r, p in enumerate(rec):
        q = ser["q"][r]
        assert ser["mid"][r, 0] == 100.0 and q[0] == 0.0 and ser["pnl"][r, 0] == 0.0
        assert q[-1] == pp["final_q"][p]
        assert np.isnan(pp["pnl"][p]) or ser["pnl"][r, -1] == pp["pnl"][p]
        assert np.max(np.abs(q)) == pp["max_abs_q"][p]
        # q moves only by fills: at most one net change per fill, by at most the volume traded
        assert np.count_nonzero(np.diff(q)) <= pp["fills"][p]
        assert np.sum(np.abs(np.diff(q))) <= pp["volume"][p] * (1 + 1e-12)
        # the recorded quotes are the quotes the policy + controls give in that state
        qq = quotes(res.config, ser["mid"][r, :n], q[:n], ser["t"][:n])
        np.testing.assert_array_equal(ser["bid"][r, :n], qq["bid"])
        np.testing.assert_array_equal(ser["ask"][r, :n], qq["ask"])
        np.testing.assert_array_equal(ser["zone"][r, :n], qq["zone"])
