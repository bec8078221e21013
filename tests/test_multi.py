"""The multi-instrument simulator: correlated mids, portfolio skew, one cash account."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import Z, mean_se, run
from flatbook.errors import InputError
from flatbook.multi.simulator import MULTI_ASSET, build_multi, multi_preset, simulate_multi


def two(rho, skew=True, paths=4000, seed=1, **extra):
    ins = [dict(i, params={**i["params"], **extra}) for i in MULTI_ASSET["instruments"]]
    return simulate_multi(build_multi(ins, [[1.0, rho], [rho, 1.0]], skew, paths, seed))


def test_uncorrelated_portfolio_skew_is_each_instruments_own():
    """ρ = 0: the risk-equivalent inventory q̃ = R·q is q itself, so the runs are identical."""
    a, b = two(0.0, True), two(0.0, False)
    np.testing.assert_array_equal(a.pnl, b.pnl)


def test_one_instrument_matches_the_single_instrument_simulator():
    """One A–S instrument on an ABM mid: the same PnL law as flatbook.sim (independent random
    numbers, so the means agree within 4 SE of their difference)."""
    mc = build_multi([{"preset": "as2008", "policy": "avellaneda-stoikov", "params": {}}], [[1.0]], True, 20000, 3)
    m = simulate_multi(mc)
    single = run(policy="avellaneda-stoikov", paths=20000, seed=3, mid_model="abm")
    a, sa = mean_se(m.pnl)
    b, sb = mean_se(single.per_path["pnl"])
    assert abs(a - b) < Z * math.hypot(sa, sb)
    qa = m.per_instrument["instrument 0"]["final_q"].std(ddof=1)
    qb = single.summary["final_q_std"]
    assert abs(qa - qb) < Z * math.hypot(qa, qb) / math.sqrt(2 * 20000)


def test_portfolio_skew_lowers_the_portfolio_risk_of_correlated_books():
    """ρ = 0.8: skewing on Σ·q makes the two inventories offset each other (negative correlation
    of final positions) and lowers the terminal risk qᵀΣq, by more than 4 SE of the difference
    (same seed: common random numbers)."""
    own, port = two(0.8, False, paths=6000), two(0.8, True, paths=6000)
    assert port.summary["final_q_corr"] < -0.3 < own.summary["final_q_corr"] + 0.3
    fq = lambda r: np.stack([r.per_instrument[n]["final_q"] for n in ("A", "B")])  # noqa: E731
    cov = port.config.covariance
    risk = lambda r: np.einsum("ip,ij,jp->p", fq(r), cov, fq(r))  # noqa: E731
    d, se = mean_se(risk(own) - risk(port))
    assert d > 4 * se


def test_negative_correlation_pairs_same_sign_inventories():
    r = two(-0.8, True, paths=4000)
    assert r.summary["final_q_corr"] > 0.3


def test_determinism_and_cli_json():
    import json

    from typer.testing import CliRunner

    from flatbook.cli import root as cli_app

    a, b = two(0.5, paths=500, seed=9), two(0.5, paths=500, seed=9)
    np.testing.assert_array_equal(a.pnl, b.pnl)
    r = CliRunner().invoke(cli_app.app, ["multi", "--paths", "300", "--correlation", "0.5", "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["instruments"] == ["A", "B"] and d["config"]["correlation"] == [[1.0, 0.5], [0.5, 1.0]]
    bad = CliRunner().invoke(cli_app.app, ["multi", "--correlation", "1.5"])
    assert bad.exit_code == 2 and "--correlation" in bad.stderr


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(correlation=[[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]), "correlation"),
        (dict(correlation=[[1.0, 0.2], [0.3, 1.0]]), "correlation"),
        (dict(instruments=[{"params": {"dt": 0.01}}, {"params": {}}]), "instruments[1].dt"),
        (dict(instruments=[{"params": {"flow": "orders"}}]), "instruments[0].flow"),
        (dict(instruments=[{"params": {"gamma": -1}}]), "instruments[0].gamma"),
    ],
)
def test_bad_multi_config(kw, field):
    ins = kw.get(
        "instruments", [{"params": {}}, {"params": {}}, {"params": {}}][: len(kw.get("correlation", [[1]] * 2))]
    )
    rho = kw.get("correlation", np.eye(len(ins)))
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build_multi(ins, rho, True, 10, 0)


def test_unknown_multi_preset():
    with pytest.raises(InputError, match="--preset"):
        multi_preset("three-assets")
