"""A user's cost stage (flatbook.market.cost_stage): the built-in fee and financing rule written as a stage gives the
built-in's numbers bit for bit, a stage's charges are exactly what the PnL loses (the fills do not move), and bad
stages are one line each, on the command line too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cfg
from flatbook.errors import InputError
from flatbook.market.cost_stage import cost_stage
from flatbook.market.stage import load_stage_file
from flatbook.sim.simulator import simulate
from test_market_stages import _file as stage_file
from test_market_stages import _same

HEADER = "import math\nfrom flatbook.market.cost_stage import Param, cost_stage\n\n"
# the built-in rule (flatbook.market.costs.fill_costs) with its floating-point operations: rates × dt, then × q
BUILTIN = """
@cost_stage(params={"fee": Param(unit="price units per lot", default=0.0),
                    "fin_l": Param(unit="per lot per time unit", default=0.0),
                    "fin_s": Param(unit="per lot per time unit", default=0.0)})
def builtin(p, t, dt, s, q, bought, sold, value, m):
    return p.fee * (bought + sold), p.fin_l * dt * max(q, 0.0), p.fin_s * dt * max(-q, 0.0)

@cost_stage(params={"bps": Param(unit="1e-4", default=-1.0), "rate": Param(unit="per time unit", default=0.2, ge=0),
                    "per_lot": Param(unit="price units per lot", default=0.003)})
def mixed(p, t, dt, s, q, bought, sold, value, m):
    return p.bps * 1e-4 * value + p.per_lot * (bought + sold), p.rate * dt * abs(q) * s * m, 0.25 * p.rate * dt
"""
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_costs.py"


def _file(tmp_path, body: str = BUILTIN, name: str = "costs.py"):
    return stage_file(tmp_path, body, name, HEADER)


def _as_builtin(tmp_path, c):
    """The built-in rule as a stage, bound to the run's maker_fee and financing rates."""
    v = c.values
    st = load_stage_file(_file(tmp_path), "builtin", kind="cost")
    return st.bind(fee=v["maker_fee"], fin_l=v["financing_long"], fin_s=v["financing_short"])


@pytest.mark.parametrize(
    ("preset", "policy", "over"),
    [
        # the orders flow, financing long and short, a maker rebate (fees < 0)
        ("mini-project", "stoll", dict(maker_fee=-0.002, financing_short=0.0002)),
        # the intensity flow, the general controls pass, a fee, a regime switch
        (
            "as2008",
            "avellaneda-stoikov",
            dict(
                maker_fee=0.01,
                financing_long=0.3,
                financing_short=0.5,
                limit=4.0,
                yellow=2.0,
                red=3.0,
                regime_up_rate=3.0,
            ),
        ),  # fmt: skip
        # a hedged run that carries (the borrow column is reported; the carry's hard-to-borrow charge adds to it)
        ("hedging", "linear-skew", dict(maker_fee=0.5, financing_short=0.001, borrow_htb=0.002)),
    ],
)
def test_builtin_rule_as_a_stage_is_the_builtin_bit_for_bit(tmp_path, preset, policy, over):
    c = cfg(preset, policy, 160, 4, **over)
    plain = simulate(c)
    staged = simulate(c, cost=_as_builtin(tmp_path, c))
    _same(plain, staged)
    assert np.any(plain.per_path["fees"] != 0.0) and np.any(plain.per_path["financing"] != 0.0)
    assert staged.summary["cost_stage"]["name"] == "builtin" and "cost_stage" not in plain.summary
    if "borrow" in plain.per_path:
        assert np.any(plain.per_path["borrow"] != 0.0)


def test_a_stage_charges_exactly_what_the_pnl_loses(tmp_path):
    """The costs do not move the fills (no kill switch), so the PnL without costs minus the PnL with the stage is
    the stage's fees + financing + borrow, path by path; the rebate (bps < 0) enters the fees with its sign."""
    c = cfg("as2008", "glft", 200, 7, regime_up_rate=2.0, regime_down_rate=2.0, regime_sigma_mult=3.0)
    free = simulate(c)
    st = load_stage_file(_file(tmp_path), "mixed", kind="cost").bind()
    run = simulate(c, cost=st)
    for k in ("volume", "final_q", "fills", "q_mean"):
        np.testing.assert_array_equal(free.per_path[k], run.per_path[k], err_msg=k)
    pp = run.per_path
    steps = c.steps
    borrow = 0.25 * 0.2 * c.values["dt"] * steps  # the stage's constant borrow, charged every step
    lost = free.per_path["pnl"] - pp["pnl"]
    np.testing.assert_allclose(lost, pp["fees"] + pp["financing"] + borrow, rtol=1e-9, atol=1e-9)
    # per lot 0.003 and −1 bp of the traded value (≈ s0 = 100 a lot): fees ≈ (0.003 − 0.01)·volume
    np.testing.assert_allclose(pp["fees"], (0.003 - 1e-4 * 100.0) * pp["volume"], rtol=0.15, atol=1e-12)
    assert np.all(pp["financing"] >= 0.0) and pp["financing"].mean() > 0.0


def test_cost_stage_python_call_and_probe_errors(tmp_path):
    f = _file(tmp_path)
    st = load_stage_file(f, "builtin", kind="cost")
    assert st(0.0, 0.5, 100.0, -4.0, 1.0, 2.0, fee=0.1, fin_s=2.0) == (pytest.approx(0.3), 0.0, 4.0)
    src = """
    @cost_stage()
    def two(p, t, dt, s, q, bought, sold, value, m):
        return 0.0, 0.0

    @cost_stage(params={"c": Param(unit="1", default=1.0)})
    def nan_short(p, t, dt, s, q, bought, sold, value, m):
        return 0.0, math.sqrt(q) * p.c, 0.0

    @cost_stage()
    def inf_fee(p, t, dt, s, q, bought, sold, value, m):
        return (bought + sold) / sold, 0.0, 0.0

    @cost_stage()
    def not_numba(p, t, dt, s, q, bought, sold, value, m):
        return str(q), 0.0, 0.0
    """
    g = _file(tmp_path, src, "broken.py")
    c = cfg("as2008", "symmetric", 64, 0)
    with pytest.raises(InputError) as e:
        simulate(c, cost=load_stage_file(g, "two", kind="cost"))
    assert str(e.value) == "cost stage two: must return three numbers (fee, financing, borrow); got (0.0, 0.0)"
    with pytest.raises(InputError) as e:
        simulate(c, cost=load_stage_file(g, "nan_short", kind="cost"))
    assert str(e.value) == (
        "cost stage nan_short: returned financing = nan at q = -100, bought 0, sold 0 (s = 100, t = 0, dt = 0.005, "
        "m = 1, parameters {'c': 1.0}); allowed: finite numbers (price units; < 0 a credit)"
    )
    with pytest.raises(InputError, match=r"cost stage inf_fee: returned fee = (nan|inf) at q = "):
        simulate(c, cost=load_stage_file(g, "inf_fee", kind="cost"))
    with pytest.raises(InputError, match="cost stage not_numba: numba cannot compile it: ") as e:
        simulate(c, cost=load_stage_file(g, "not_numba", kind="cost"))
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"cost stage bad: must take 9 arguments \(p, t, dt, s, q, bought, sold, "):

        @cost_stage()
        def bad(p, t, dt, s, q, bought, sold, m):
            return 0.0, 0.0, 0.0

    with pytest.raises(InputError, match=r"cost stage mixed: unknown parameter 'rat'; did you mean rate\?"):
        load_stage_file(f, "mixed", kind="cost").bind(rat=1.0)
    with pytest.raises(InputError, match=r"rate: got -1.0; allowed: a finite number >= 0"):
        load_stage_file(f, "mixed", kind="cost").bind(rate=-1.0)
    with pytest.raises(InputError, match="--cost: unknown cost stage 'mixd'; did you mean mixed"):
        load_stage_file(f, "mixd", kind="cost")
    with pytest.raises(InputError, match=r"^fill: expected a fill stage \(@fill_stage, bound or not\); got cost stage"):
        simulate(c, fill=load_stage_file(f, "mixed", kind="cost"))


# ---------------------------------------------------------------------------------- the command line
def test_cli_cost_stage_runs_and_equals_the_api():
    from typer.testing import CliRunner

    import flatbook
    from flatbook.api.catalogue import load_cost_stage
    from flatbook.cli import root

    cost = ["--market-file", str(EXAMPLE), "--cost", "bps_costs", "--cost-set", "fee_bps=-2"]
    args = ["simulate", "--preset", "as2008", "--policy", "glft", "--paths", "128", "--seed", "3", "--json"]
    r = CliRunner().invoke(root.app, [*args, *cost])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["cost_stage"]["name"] == "bps_costs" and got["cost_stage"]["params"]["fee_bps"] == -2.0
    api = flatbook.simulate("as2008", "glft", paths=128, seed=3, cost=load_cost_stage(EXAMPLE, None, {"fee_bps": -2}))
    assert got["pnl_mean"] == api.summary["pnl_mean"].value
    plain = json.loads(CliRunner().invoke(root.app, args).stdout)
    assert plain["fills_mean"] == got["fills_mean"] and plain["pnl_mean"] != got["pnl_mean"]
    cmp = ["compare", "--policy", "symmetric", "--policy", "glft", "--paths", "64", "--seed", "1", "--json", *cost]
    r = CliRunner().invoke(root.app, cmp)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["policies"]["glft"]["cost_stage"]["name"] == "bps_costs"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--cost", "bps_cost"], "--cost: unknown cost stage 'bps_cost'; did you mean bps_costs?"),
        (["--cost-set", "fee=1"], "cost stage bps_costs: unknown parameter 'fee'; did you mean fee_bps?"),
        (["--cost", "bps_costs", "--cost-set", "funding=-1"], "funding: got '-1'; allowed: a finite number >= 0"),
        (["--fill", "bps_costs"], "--fill: unknown fill stage 'bps_costs'"),
    ],
)
def test_cli_cost_stage_errors_are_one_line(extra, says):
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["simulate", "--paths", "64", "--market-file", str(EXAMPLE), *extra])
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {says}"), line


def test_cli_cost_without_market_file_is_refused():
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["simulate", "--paths", "64", "--cost-set", "fee_bps=1"])
    assert r.exit_code == 2 and r.stderr.strip() == "error: --cost: give the stage's file with --market-file FILE.py"
