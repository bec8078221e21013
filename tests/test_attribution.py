"""PnL attribution: spread capture, inventory, adverse selection, hedge, financing, fees."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run
from flatbook.sim.metrics import ATTRIBUTION

CASES = [
    ("as2008", "avellaneda-stoikov", {}),
    ("as2008", "linear-skew", dict(maker_fee=-0.01, financing_long=0.3, financing_short=0.5)),
    ("mini-project", "stoll", dict(markout_steps=10)),
    ("worked-example", "linear-skew", dict(limit=30.0)),
    ("hedging", "linear-skew", {}),
    (
        "as2008",
        "glft",
        dict(
            hedge_trigger="threshold",
            hedge_threshold=2.0,
            hedge_exec="twap",
            hedge_eta=0.01,
            hedge_perm=0.001,
            borrow_htb=0.2,
            htb_above=1.0,
            funding_rate=1e-4,
            haircut=0.1,
            capital_rate=0.05,
        ),
    ),
]


@pytest.mark.parametrize("preset,policy,ov", CASES)
def test_parts_sum_to_the_pnl_on_every_path(preset, policy, ov):
    res = run(preset=preset, policy=policy, paths=600, seed=3, **ov)
    pp = res.per_path
    total = sum(pp[k] for k in ATTRIBUTION)
    scale = 1.0 + np.abs(np.stack([pp[k] for k in ATTRIBUTION])).sum(axis=0)
    np.testing.assert_allclose(total, pp["pnl"], rtol=0, atol=1e-12 * scale.max())
    s = res.summary
    assert sum(s[k] for k in ATTRIBUTION) == pytest.approx(s["pnl_mean"], rel=1e-12, abs=1e-12)


def test_inventory_and_adverse_are_the_position_times_the_mid_moves():
    """No hedge: over a step the position after the fills, q_{t+1}, is marked over the mid's
    move s_{t+1} − s_t. Summed, that is pnl_inventory + pnl_adverse — checked here from the
    recorded paths, independently of the kernel's sums."""
    res = run(preset="as2008", policy="linear-skew", paths=200, seed=4, record=range(200))
    q, s = res.series["q"], res.series["mid"]
    mtm = (q[:, 1:] * np.diff(s, axis=1)).sum(axis=1)
    pp = res.per_path
    np.testing.assert_allclose(pp["pnl_inventory"] + pp["pnl_adverse"], mtm, rtol=0, atol=1e-9)
    # and the adverse part is the fills' own step: (q_{t+1} − q_t)·(s_{t+1} − s_t)
    adv = (np.diff(q, axis=1) * np.diff(s, axis=1)).sum(axis=1)
    np.testing.assert_allclose(pp["pnl_adverse"], adv, rtol=0, atol=1e-9)


def test_spread_capture_of_symmetric_quotes_is_half_spread_per_fill():
    """Symmetric quotes, a fixed mid (σ = 0), one-lot fills: every fill earns the half-spread,
    nothing else moves."""
    res = run(preset="worked-example", policy="symmetric", paths=300, seed=5, half_spread=0.05)
    pp = res.per_path
    np.testing.assert_allclose(pp["pnl_spread"], 0.05 * pp["fills"], rtol=1e-12)
    np.testing.assert_allclose(pp["pnl_inventory"], 0.0, atol=1e-9)
    np.testing.assert_allclose(pp["pnl_adverse"], 0.0, atol=1e-12)


def test_a_markout_as_long_as_the_run_leaves_no_inventory_pnl():
    """With markout_steps ≥ the number of steps and q0 = 0, every unit of inventory came from
    a fill still inside its markout window: all of the position's mark is adverse selection."""
    res = run(preset="as2008", policy="avellaneda-stoikov", paths=300, seed=6, markout_steps=200)
    np.testing.assert_allclose(res.per_path["pnl_inventory"], 0.0, atol=1e-9)
    assert np.abs(res.per_path["pnl_adverse"]).max() > 1.0


def test_informed_flow_shows_up_as_adverse_selection():
    """Informed flow moves the mid against each fill: the mean adverse part is negative and
    grows with the informed fraction (same seed: common random numbers)."""
    a = run(preset="as2008", policy="symmetric", paths=3000, seed=7, informed_frac=0.3, informed_move=0.2)
    b = run(preset="as2008", policy="symmetric", paths=3000, seed=7, informed_frac=0.6, informed_move=0.2)
    assert b.summary["pnl_adverse"] < a.summary["pnl_adverse"] < 0


def test_summary_json_has_the_attribution_keys():
    import json

    from typer.testing import CliRunner

    from flatbook.cli import root as cli_app

    r = CliRunner().invoke(cli_app.app, ["simulate", "--paths", "200", "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(ATTRIBUTION) <= set(d)
    assert sum(d[k] for k in ATTRIBUTION) == pytest.approx(d["pnl_mean"], rel=1e-12)
