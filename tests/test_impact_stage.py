"""A user's impact stage (flatbook.hedging.impact_stage): the built-in linear execution model written as a stage gives
the built-in's numbers bit for bit, a quadratic temporary cost c·n² per trade lowers the hedged PnL by exactly
c·Σn² (doubling c doubles the loss), and bad stages are one line each, on the command line too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cfg
from flatbook.errors import InputError
from flatbook.hedging.impact_stage import impact_stage
from flatbook.market.stage import load_stage_file
from flatbook.sim.simulator import simulate
from test_market_stages import _file as stage_file
from test_market_stages import _same

HEADER = "import math\nfrom flatbook.hedging.impact_stage import Param, impact_stage\n\n"
# the built-in linear law (flatbook.hedging.execution.execution_price) with its floating-point operations
BUILTIN = """
@impact_stage(params={"eps": Param(unit="price units", default=0.0),
                      "eta": Param(unit="price units per (lot per time unit)", default=0.0),
                      "gamma": Param(unit="price units per lot", default=0.0)})
def linear(p, t, dt, h, n, J, vol, m):
    sg = 1.0 if n > 0.0 else -1.0
    temp = p.eta / dt * abs(n)
    return h + J + sg * (p.eps + temp), sg * temp, p.gamma * n

@impact_stage(params={"c": Param(unit="price units per lot", default=0.0, ge=0)})
def quadratic(p, t, dt, h, n, J, vol, m):
    return h + p.c * n, 0.0, 0.0
"""
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_impact.py"


def _file(tmp_path, body: str = BUILTIN, name: str = "impact.py"):
    return stage_file(tmp_path, body, name, HEADER)


@pytest.mark.parametrize(
    "over",
    [
        {},  # the preset: a proxy hedge (the perpetual), half spread only
        dict(hedge_eta=0.5, hedge_perm=0.3, hedge_half_spread=0.1),  # temporary (decaying) and permanent impact
        # hedging in the instrument itself: the permanent impact moves the mid the quotes stand around
        dict(hedge_instrument="same", hedge_eta=0.2, hedge_perm=0.05, hedge_exec="immediate"),
    ],
)
def test_builtin_model_as_a_stage_is_the_builtin_bit_for_bit(tmp_path, over):
    c = cfg("hedging", "linear-skew", 128, 5, **over)
    v = c.values
    st = load_stage_file(_file(tmp_path), "linear", kind="impact")
    plain = simulate(c)
    staged = simulate(c, impact=st.bind(eps=v["hedge_half_spread"], eta=v["hedge_eta"], gamma=v["hedge_perm"]))
    _same(plain, staged)
    assert plain.per_path["hedge_trades"].sum() > 0 and plain.per_path["hedge_cost"].sum() > 0.0
    for k in ("unhedged_pnl_mean", "hedge_pnl_mean_change", "hedge_pnl_std_change"):  # the counterfactual too
        assert plain.summary[k] == staged.summary[k], k
    assert staged.summary["impact_stage"]["params"]["gamma"] == v["hedge_perm"]


def test_quadratic_cost_lowers_the_hedged_pnl_by_c_sum_n2(tmp_path):
    """price = h + c·n: the trade costs n·(price − h) = c·n², nothing else moves (no temporary or permanent
    displacement, no kill switch: the trades and the fills are the same), so with Σn² read off c = 1,
    hedge_cost(c) = c·Σn² and PnL(0) − PnL(c) = c·Σn², path by path; doubling c doubles the loss (to the rounding
    of prices near h ≈ 6e4: relative 1e-6)."""
    c = cfg("hedging", "linear-skew", 160, 2, hedge_exec="immediate")
    st = load_stage_file(_file(tmp_path), "quadratic", kind="impact")
    runs = {k: simulate(c, impact=st.bind(c=k), counterfactual=False) for k in (0.0, 1.0, 0.02, 0.04)}
    for k in ("hedge_trades", "hedge_volume", "final_y", "fills", "final_q"):
        for r in runs.values():
            np.testing.assert_array_equal(r.per_path[k], runs[0.0].per_path[k], err_msg=k)
    sum_n2 = runs[1.0].per_path["hedge_cost"]
    assert np.all(sum_n2 >= 0.0) and sum_n2.mean() > 0.0
    assert np.all(runs[0.0].per_path["hedge_cost"] == 0.0)
    for k in (0.02, 0.04):
        pp = runs[k].per_path
        np.testing.assert_allclose(pp["hedge_cost"], k * sum_n2, rtol=1e-6, atol=0.0)  # (h + c·n) − h: h ≈ 6e4
        np.testing.assert_allclose(runs[0.0].per_path["pnl"] - pp["pnl"], k * sum_n2, rtol=1e-6, atol=1e-10)
    loss = runs[0.0].summary["pnl_mean"] - runs[0.04].summary["pnl_mean"]
    assert loss == pytest.approx(2.0 * (runs[0.0].summary["pnl_mean"] - runs[0.02].summary["pnl_mean"]), rel=1e-6)
    assert loss == pytest.approx(0.04 * sum_n2.mean(), rel=1e-6) and loss > 0.0


def test_impact_stage_python_call_and_probe_errors(tmp_path):
    f = _file(tmp_path)
    st = load_stage_file(f, "linear", kind="impact")
    assert st(0.0, 0.5, 100.0, 2.0, J=0.1, eps=0.05, eta=0.25, gamma=0.3) == (
        pytest.approx(101.15),
        pytest.approx(1.0),
        pytest.approx(0.6),
    )
    src = """
    @impact_stage()
    def two(p, t, dt, h, n, J, vol, m):
        return h, 0.0

    @impact_stage()
    def nan_perm(p, t, dt, h, n, J, vol, m):
        return h, 0.0, math.sqrt(n)

    @impact_stage()
    def not_numba(p, t, dt, h, n, J, vol, m):
        return str(h), 0.0, 0.0
    """
    g = _file(tmp_path, src, "broken.py")
    c = cfg("hedging", "linear-skew", 64, 0)
    with pytest.raises(InputError) as e:
        simulate(c, impact=load_stage_file(g, "two", kind="impact"))
    assert str(e.value) == (
        "impact stage two: must return three numbers (price, temporary, permanent); got (61830.0, 0.0)"
    )
    with pytest.raises(InputError, match=r"impact stage nan_perm: returned permanent = nan for a trade of -100 lots "):
        simulate(c, impact=load_stage_file(g, "nan_perm", kind="impact"))
    with pytest.raises(InputError, match="impact stage not_numba: numba cannot compile it: ") as e:
        simulate(c, impact=load_stage_file(g, "not_numba", kind="impact"))
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"impact stage bad: must take 8 arguments \(p, t, dt, h, n, J, vol, m\)"):

        @impact_stage()
        def bad(p, t, dt, h, n, m):
            return h, 0.0, 0.0

    with pytest.raises(InputError, match=r"impact stage linear: unknown parameter 'eat'; did you mean eta\?"):
        st.bind(eat=1.0)
    with pytest.raises(InputError, match="--impact: unknown impact stage 'liner'; did you mean linear"):
        load_stage_file(f, "liner", kind="impact")
    with pytest.raises(InputError, match=r"^impact: expected an impact stage \(@impact_stage, bound or not\); got 'x'"):
        simulate(c, impact="x")


# ---------------------------------------------------------------------------------- the command line
def test_cli_impact_stage_runs_and_equals_the_api():
    from typer.testing import CliRunner

    import flatbook
    from flatbook.api.catalogue import load_impact_stage
    from flatbook.cli import root

    imp = ["--market-file", str(EXAMPLE), "--impact", "sqrt_impact", "--impact-set", "y=2"]
    args = ["simulate", "--preset", "hedging", "--paths", "128", "--seed", "3", "--json"]
    r = CliRunner().invoke(root.app, [*args, *imp])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["impact_stage"]["name"] == "sqrt_impact" and got["impact_stage"]["params"]["y"] == 2.0
    api = flatbook.simulate("hedging", paths=128, seed=3, impact=load_impact_stage(EXAMPLE, None, {"y": 2}))
    assert got["pnl_mean"] == api.summary["pnl_mean"].value
    plain = json.loads(CliRunner().invoke(root.app, args).stdout)
    assert got["hedge_cost"] > plain["hedge_cost"] > 0.0  # a costlier execution than the preset's half spread alone
    cmp = ["compare", "--preset", "hedging", "--policy", "symmetric", "--policy", "linear-skew", "--paths", "64"]
    r = CliRunner().invoke(root.app, [*cmp, "--json", *imp])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["policies"]["linear-skew"]["impact_stage"]["name"] == "sqrt_impact"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--impact", "sqrt_impct"], "--impact: unknown impact stage 'sqrt_impct'; did you mean sqrt_impact?"),
        (["--impact-set", "gama=1"], "impact stage sqrt_impact: unknown parameter 'gama'; did you mean gamma?"),
        (["--impact", "sqrt_impact", "--impact-set", "y=-1"], "y: got '-1'; allowed: a finite number >= 0"),
    ],
)
def test_cli_impact_stage_errors_are_one_line(extra, says):
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["simulate", "--paths", "64", "--market-file", str(EXAMPLE), *extra])
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {says}"), line


def test_cli_impact_without_market_file_is_refused():
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["compare", "--policy", "glft", "--paths", "64", "--impact", "sqrt_impact"])
    assert r.exit_code == 2 and r.stderr.strip() == "error: --impact: give the stage's file with --market-file FILE.py"


# ---------------------------------------------------------------------------------- every stage at once
FILL = """
from flatbook.market.cost_stage import cost_stage
from flatbook.market.fill_stage import fast_exp, fill_stage

@fill_stage(params={"A": Param(unit="per time unit", default=140.0, gt=0), "k": Param(unit="per price unit", default=1.5, gt=0)})
def as_exp(p, t, dt, s, depth, side, m):
    return p.A * dt * fast_exp(-p.k * depth)

@cost_stage(params={"fee": Param(unit="price units per lot", default=0.0),
                    "fin_l": Param(unit="per lot per time unit", default=0.0),
                    "fin_s": Param(unit="per lot per time unit", default=0.0)})
def costs(p, t, dt, s, q, bought, sold, value, m):
    return p.fee * (bought + sold), p.fin_l * dt * max(q, 0.0), p.fin_s * dt * max(-q, 0.0)
"""


def test_fill_cost_and_impact_stages_together_are_the_builtin_and_deterministic(tmp_path, monkeypatch):
    """The copy of the kernel with all three switches (``USER_COST``, ``USER_FILL``, ``USER_IMPACT``) and the three
    built-in rules as stages gives the default kernel's numbers bit for bit, whatever the chunks and threads."""
    import numba

    from flatbook.market.stage import load_market_stages
    from flatbook.sim import simulator

    over = dict(maker_fee=-0.2, financing_short=0.001, hedge_eta=0.3, hedge_perm=0.1, regime_up_rate=1.0)
    c = cfg("hedging", "linear-skew", 96, 9, **over)
    v = c.values
    f = _file(tmp_path, BUILTIN + FILL, "all.py")
    chosen = {
        "fill": ("as_exp", {"A": v["A"], "k": v["k"]}),
        "cost": ("costs", {"fee": v["maker_fee"], "fin_l": v["financing_long"], "fin_s": v["financing_short"]}),
        "impact": ("linear", {"eps": v["hedge_half_spread"], "eta": v["hedge_eta"], "gamma": v["hedge_perm"]}),
    }
    stages = load_market_stages(f, chosen)
    assert stages["mid"] is None
    plain = simulate(c)
    staged = simulate(c, **stages)
    _same(plain, staged)
    assert {staged.summary[f"{k}_stage"]["name"] for k in chosen} == {"as_exp", "costs", "linear"}
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        monkeypatch.setattr(simulator, "CHUNK_PATH_STEPS", 64 * c.steps)  # one block per chunk
        _same(plain, simulate(c, **stages))
    finally:
        numba.set_num_threads(threads)
