"""Hedging in the simulator: triggers, schedules, caps, the daily reset, proxy hedges, carry costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from conftest import Z, mean_se, run
from flatbook.config import build_config
from flatbook.errors import InputError
from flatbook.hedging.model import target_from_costs
from flatbook.hedging.schedules import trade_fractions
from flatbook.sim.simulator import simulate

# a held position with no quoting fills (A = 0): q changes only by hedging
HELD = dict(A=0.0, q0=10.0, hedge_trigger="threshold", hedge_threshold=1.0, hedge_half_spread=0.0)


def q_path(res, r=0):
    return res.path_series(r)["q"]


@pytest.mark.parametrize(
    "exec_,extra", [("twap", {}), ("almgren-chriss", dict(hedge_eta=0.05, hedge_risk_aversion=5.0)), ("immediate", {})]
)
def test_hedge_program_follows_its_schedule(exec_, extra):
    """q0 = 10, threshold 1, size to the target 0: the program sells x0 = 10 lots; child k is
    x0·w_k with w the schedule's trade fractions (flatbook.hedging.schedules), the last child
    whatever is left. σ = 0 keeps the path deterministic."""
    res = run(
        policy="symmetric",
        paths=4,
        seed=1,
        sigma=0.0,
        hedge_exec=exec_,
        hedge_horizon=0.05,
        record=[0],
        **HELD,
        **extra,
    )
    q = q_path(res)
    dq = -np.diff(q)[:10]
    dt = res.config.values["dt"]
    nh = 1 if exec_ == "immediate" else round(0.05 / dt)
    w = trade_fractions(
        exec_,
        nh,
        tau=dt,
        sigma=0.0,
        eta=extra.get("hedge_eta", 0.0),
        risk_aversion=extra.get("hedge_risk_aversion", 0.0),
    )
    np.testing.assert_allclose(dq[:nh], 10.0 * w, rtol=1e-12, atol=1e-12)
    assert q[nh] == pytest.approx(0.0, abs=1e-12) and np.all(q[nh:] == q[nh])
    assert res.summary["hedge_count"] == 1.0 and res.summary["hedge_trades"] == nh


def test_hedge_cost_is_half_spread_plus_linear_impact():
    """One immediate market order of n = 10 lots: cost n·(ε + η·n/dt), charged to cash."""
    eps, eta = 0.1, 0.002
    res = run(
        policy="symmetric",
        paths=8,
        seed=2,
        sigma=0.0,
        hedge_exec="immediate",
        **{**HELD, "hedge_half_spread": eps},
        hedge_eta=eta,
    )
    dt = res.config.values["dt"]
    cost = 10.0 * (eps + eta * 10.0 / dt)
    np.testing.assert_allclose(res.per_path["hedge_cost"], cost, rtol=1e-12)
    np.testing.assert_allclose(res.per_path["pnl"], -cost, rtol=1e-12)
    assert res.summary["hedge_volume"] == 10.0


def test_temporary_impact_decays_with_its_half_life():
    """TWAP over 10 steps with decay half-life = one step: child k pays ε + η n/dt plus J_k, where
    J decays by ½ a step and each child adds η·n/dt: J_k = Σ_{j<k} a·½^(k−j), a = η n/dt."""
    eta = 0.01
    res = run(
        policy="symmetric",
        paths=2,
        seed=3,
        sigma=0.0,
        hedge_exec="twap",
        hedge_horizon=0.05,
        hedge_eta=eta,
        **HELD,
        hedge_decay=0.005,
    )
    dt, n = 0.005, 1.0
    a = eta * n / dt
    J = [sum(a * 0.5 ** (k - j) for j in range(k)) for k in range(10)]
    expected = sum(n * (a + Jk) for Jk in J)
    np.testing.assert_allclose(res.per_path["hedge_cost"], expected, rtol=1e-12)


def test_participation_cap_is_never_exceeded():
    """VWAP of 10 lots over 0.05 (10 steps) with a market of 100 lots per time unit, i.e.
    0.5 lot per step on average, and a 30% cap: no step trades more than 0.3 × its volume,
    and what the cap holds back is traded later."""
    res = run(
        policy="symmetric",
        paths=3,
        seed=4,
        sigma=0.0,
        hedge_exec="vwap",
        hedge_horizon=0.05,
        market_volume=100.0,
        hedge_participation=0.3,
        volume_curve="u",
        record=[0],
        **HELD,
    )
    cfg = res.config
    from flatbook.hedging.model import pack_hedge

    _, _, hvol, _ = pack_hedge(cfg.values, cfg.steps)
    dq = -np.diff(q_path(res))
    assert np.all(dq <= 0.3 * hvol[: dq.size] * (1 + 1e-12))
    assert dq.max() == pytest.approx(0.3 * hvol[np.argmax(dq)], rel=1e-12)  # the cap binds
    assert dq.sum() == pytest.approx(9.0 + 1.0, rel=1e-12)  # all 10 lots are sold in the end


def test_daily_reset_leaves_q_zero_at_every_close():
    """Sessions of 0.25 (50 steps), flattening 0.05 before each close: every path is flat
    at every close, and quotes only flatten inside the window."""
    res = run(policy="linear-skew", paths=300, seed=5, session_length=0.25, session_flatten=0.05, record=range(300))
    q = res.series["q"]
    closes = np.arange(50, 201, 50)
    assert np.all(q[:, closes] == 0.0)
    assert np.abs(q).max() > 1.0  # inventory does build up in between
    # inside the window |q| never grows
    for c in closes:
        win = np.abs(q[:, c - 10 : c + 1])
        assert np.all(np.diff(win, axis=1) <= 1e-12)


def test_daily_reset_without_a_window_flattens_at_the_close():
    res = run(policy="avellaneda-stoikov", paths=200, seed=6, session_length=0.5, record=range(200))
    assert np.all(res.series["q"][:, [100, 200]] == 0.0)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_perfect_proxy_hedge_removes_price_risk(beta):
    """H moves exactly β·ΔS (no basis noise). Hedging every step to zero exposure leaves the
    net price PnL Σ(q·ΔS + y·ΔH) equal to the part earned before each step's hedge only:
    the fills' inventory over the step's mid move. With no fills (A = 0) and q0 hedged after
    the first move, it is exactly q0·ΔS_0 — the price risk after that is gone."""
    res = run(
        policy="symmetric",
        paths=500,
        seed=7,
        A=0.0,
        q0=10.0,
        hedge_trigger="threshold",
        hedge_threshold=0.0,
        hedge_instrument="proxy",
        hedge_beta=beta,
        hedge_basis_sigma=0.0,
        hedge_half_spread=0.0,
        record=range(500),
    )
    s = res.series["mid"]
    basis = res.per_path["price_pnl"] + res.per_path["hedge_pnl"]
    np.testing.assert_allclose(basis, 10.0 * (s[:, 1] - s[:, 0]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.per_path["final_y"], -10.0 / beta, rtol=1e-12)
    # unhedged, the same position carries the full price risk q0·σ·√T
    assert res.summary["price_pnl_std"] == pytest.approx(10.0 * 2.0 * 1.0, rel=4 / math.sqrt(500))


def test_proxy_with_basis_noise_turns_price_risk_into_basis_risk():
    """With basis noise σ_b, the hedged book's net price PnL has variance
    Σ_t y_t²σ_b²dt + (pre-hedge terms); with y ≈ −h*q0 held all along it is ≈ (h* q0 σ_b)²T."""
    sb = 1.0
    res = run(
        policy="symmetric",
        paths=4000,
        seed=8,
        A=0.0,
        q0=10.0,
        hedge_trigger="threshold",
        hedge_threshold=0.0,
        hedge_instrument="proxy",
        hedge_beta=1.0,
        hedge_basis_sigma=sb,
        hedge_half_spread=0.0,
    )
    hr = 4.0 / (4.0 + sb * sb)  # h* = βσ²/(β²σ² + σ_b²), σ = 2
    # exposure: q0 + y/h* = 0 ⇒ y = −h*·q0; net PnL per step: q0ΔS + yΔH = q0(1 − h*)ΔS − h*q0·basis
    var_step = (10 * (1 - hr)) ** 2 * 4.0 + (hr * 10 * sb) ** 2
    expect = math.sqrt(var_step * (1.0 - 0.005) + 10.0**2 * 4.0 * 0.005)
    got = res.summary["basis_pnl_std"]
    assert got == pytest.approx(expect, rel=4 / math.sqrt(2 * 4000))
    assert got < res.summary["price_pnl_std"]


# ------------------------------------------------------------------------------ carry costs
def test_every_cost_accrues_with_its_sign_and_units():
    """No fills, fixed mid. Long q0 = 10: financing 0.01·10·T. Short −10 with easy borrow 0.02 and
    hard-to-borrow 0.5 beyond 4 lots: borrow (0.02·10 + 0.5·6)·T. Funding 1e−4 of notional per
    time unit on the perp (the inventory here): a long pays +1e−4·10·100·T, a short receives.
    Capital: 2% a time unit on a 10% haircut of |q|·s."""
    T, s0 = 1.0, 100.0
    long_ = run(
        policy="symmetric",
        paths=4,
        seed=1,
        q0=10.0,
        A=0.0,
        sigma=0.0,
        financing_long=0.01,
        funding_rate=1e-4,
        haircut=0.1,
        capital_rate=0.02,
    )
    short = run(
        policy="symmetric",
        paths=4,
        seed=1,
        q0=-10.0,
        A=0.0,
        sigma=0.0,
        financing_short=0.02,
        borrow_htb=0.5,
        htb_above=4.0,
        funding_rate=1e-4,
    )
    sl, ss = long_.summary, short.summary
    assert sl["financing_cost"] == pytest.approx(0.01 * 10 * T, rel=1e-12)
    assert sl["funding_cost"] == pytest.approx(1e-4 * 10 * s0 * T, rel=1e-12)
    assert sl["capital_cost"] == pytest.approx(0.02 * 0.1 * 10 * s0 * T, rel=1e-12)
    assert ss["borrow_cost"] == pytest.approx((0.02 * 10 + 0.5 * 6) * T, rel=1e-12)
    assert ss["funding_cost"] == pytest.approx(-1e-4 * 10 * s0 * T, rel=1e-12)  # received
    assert ss["financing_cost"] == 0.0 and sl["borrow_cost"] == 0.0
    # PnL = cash + q·s: ±1000 that cancel, after 200 steps of adding costs to cash; rounding
    # of that is ~200·ulp(1000) ≈ 2.3e−11, so compare to 1e−9 absolute
    total_l = sl["financing_cost"] + sl["funding_cost"] + sl["capital_cost"]
    np.testing.assert_allclose(long_.per_path["pnl"], -total_l, rtol=0, atol=1e-9)
    np.testing.assert_allclose(short.per_path["pnl"], -(ss["borrow_cost"] + ss["funding_cost"]), rtol=0, atol=1e-9)


def test_cost_target_leans_long_when_shorts_cost_more():
    """Critical fractile: Φ(q*/s) = c_short/(c_long + c_short)."""
    assert target_from_costs(1.0, 3.0, 2.0) == pytest.approx(2.0 * norm.ppf(0.75))
    assert target_from_costs(1.0, 3.0, 2.0) > 0 > target_from_costs(3.0, 1.0, 2.0)
    assert target_from_costs(0.0, 0.0, 2.0) == 0.0
    # the simulator hedges to that target
    res = run(
        policy="symmetric",
        paths=2,
        seed=1,
        sigma=0.0,
        q0=-5.0,
        A=0.0,
        hedge_trigger="threshold",
        hedge_threshold=0.0,
        hedge_target_mode="cost",
        hedge_q_std=2.0,
        financing_long=1.0,
        financing_short=3.0,
        hedge_half_spread=0.0,
    )
    assert res.per_path["final_q"][0] == pytest.approx(2.0 * norm.ppf(0.75), rel=1e-12)


def test_urgency_trigger_fires_at_alpha_q_sigma2_one():
    """urgency = α·|q|·σ² ≥ 1 with σ = 2: α = 1/(4·q) fires at q, not below."""
    hit = run(
        policy="symmetric", paths=2, seed=1, q0=5.0, A=0.0, sigma=2.0, hedge_trigger="urgency", hedge_urgency=1.0 / 20.0
    )
    miss = run(
        policy="symmetric",
        paths=2,
        seed=1,
        q0=5.0,
        A=0.0,
        sigma=2.0,
        hedge_trigger="urgency",
        hedge_urgency=1.0 / 20.0 * 0.99,
    )
    assert hit.summary["hedge_count"] == 1.0 and miss.summary["hedge_count"] == 0.0


def test_zone_trigger_follows_hedge_requests():
    res = run(
        policy="symmetric", paths=500, seed=9, red=3.0, red_action="hedge", hedge_trigger="zone", hedge_half_spread=0.0
    )
    pp = res.per_path
    assert res.summary["hedge_count"] > 0
    assert np.all(pp["hedge_count"] <= pp["hedge_requests"])


# ---------------------------------------------------------------------------- presets / CRN
def test_hedging_preset_runs_and_hedges():
    res = simulate(build_config("hedging", "linear-skew", {}, paths=400, seed=1))
    s = res.summary
    assert s["hedge_count"] > 1 and s["hedge_cost"] > 0 and s["basis_pnl_std"] is not None
    assert s["funding_cost"] < 0  # short perp, positive funding: received
    assert s["financing_cost"] > 0  # long spot pays for its capital


def test_pausing_before_the_earnings_gap_cuts_the_risk():
    """Seed 000's edge case: with a gap of std 5 at t = 1, holding through exposes the inventory
    to it; pausing quotes and flattening 30 minutes before removes that exposure. Same seed:
    common random numbers. The PnL std falls by more than 4 standard errors of the difference."""
    hold = run(preset="earnings-gap", policy="linear-skew", paths=3000, seed=10)
    pause = run(
        preset="earnings-gap", policy="linear-skew", paths=3000, seed=10, pause_before=30 / 390, pause_flatten="yes"
    )
    sh, sp = hold.summary["pnl_std"], pause.summary["pnl_std"]
    se = math.sqrt(sh**2 + sp**2) / math.sqrt(2 * 3000)
    assert sh - sp > 4 * se
    m, mse = mean_se(hold.per_path["pnl"] - pause.per_path["pnl"])
    assert abs(m) < Z * mse + 10.0  # the pause costs some spread capture, not a fortune


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "ov,field",
    [
        (dict(hedge_exec="almgren-chriss", hedge_trigger="threshold", hedge_threshold=1.0), "hedge_eta"),
        (dict(hedge_trigger="sometimes"), "hedge_trigger"),
        (dict(hedge_fraction=0.0), "hedge_fraction"),
        (dict(hedge_participation=1.5), "hedge_participation"),
        (dict(session_length=0.1, session_flatten=0.2), "session_flatten"),
        (dict(hedge_instrument="index"), "hedge_instrument"),
        (dict(funding_rate=2.0), "funding_rate"),
    ],
)
def test_bad_hedging_config(ov, field):
    with pytest.raises(InputError, match=field):
        simulate(build_config("as2008", "symmetric", ov, paths=2))


# ------------------------------------------------------------------------------------- CLI
def test_simulate_json_has_the_hedging_keys():
    from typer.testing import CliRunner

    from flatbook.cli import root as cli_app

    r = CliRunner().invoke(
        cli_app.app, ["simulate", "--preset", "hedging", "--policy", "linear-skew", "--paths", "300", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    import json

    d = json.loads(r.stdout)
    for k in (
        "hedge_count",
        "hedge_cost",
        "hedge_volume",
        "residual_risk",
        "basis_pnl_std",
        "financing_cost",
        "borrow_cost",
        "funding_cost",
    ):
        assert isinstance(d[k], float), k
    assert d["residual_risk"] == d["pnl_std"] and d["hedge_count"] > 0


def test_hedge_frontier_table_json_and_figure(tmp_path):
    import json

    from typer.testing import CliRunner

    from flatbook.cli import root as cli_app

    runner = CliRunner()
    out = tmp_path / "hf"
    r = runner.invoke(
        cli_app.app, ["hedge-frontier", "--thresholds", "1,2,inf", "--paths", "500", "--json", "--out", str(out)]
    )
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["frontier"]
    assert [x["threshold"] for x in rows] == [1.0, 2.0, None]  # inf → null in strict JSON
    # tighter thresholds hedge more and pay more; no threshold, no hedge
    assert rows[0]["hedge_cost"] > rows[1]["hedge_cost"] > rows[2]["hedge_cost"] == 0.0
    assert rows[0]["hedge_count"] > rows[1]["hedge_count"] > 0
    assert {p.name for p in out.iterdir()} == {"frontier.json", "frontier.parquet", "hedge_frontier.png"}
    assert (out / "hedge_frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(cli_app.app, ["hedge-frontier", "--thresholds", "1,x"])
    assert bad.exit_code == 2 and "--thresholds" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    bad = runner.invoke(cli_app.app, ["simulate", "--set", "hedge_exec=pov"])
    assert bad.exit_code == 2 and "hedge_exec" in bad.stderr
