"""Market stages (flatbook.market): the built-in stages' rules, the packers, and a user's mid-price stage
(its interface, validation, common random numbers and determinism in the Monte Carlo kernel)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from conftest import Z, cfg
from flatbook.errors import InputError
from flatbook.market import layout as L
from flatbook.market.flow.intensity import fill
from flatbook.market.mid.binomial import move
from flatbook.market.mid.jumps import gap
from flatbook.market.mid.regimes import switch, vol_mult
from flatbook.market.pack import pack_market
from flatbook.market.stage import load_stage_file, load_stages, mid_stage, normals, uniforms, unit
from flatbook.sim.simulator import simulate

HEADER = "import math\nfrom flatbook.market.stage import Param, mid_stage, normals, uniforms\n\n"
# an ABM written as a user stage, with the same floating-point operations as the built-in abm
ABM = """
@mid_stage(params={"vol": Param(unit="price/√time", default=2.0, ge=0, doc="σ")})
def my_abm(p, t, dt, s, m, x):
    z, _ = normals(x)
    return s + p.vol * math.sqrt(dt) * m * z
"""
OU = """
@mid_stage(params={"kappa": Param(unit="per time unit", default=2.0, ge=0, doc="mean reversion"),
                   "mean": Param(unit="price", default=100.0, doc="long-run mid"),
                   "vol": Param(unit="price/√time", default=2.0, ge=0, doc="volatility")})
def ou_mid(p, t, dt, s, m, x):
    z, _ = normals(x)
    return s + p.kappa * (p.mean - s) * dt + m * p.vol * math.sqrt(dt) * z
"""


def _file(tmp_path, body: str, name: str = "stages.py", header: str = HEADER):
    """A user's stage file: ``header`` (the imports), then ``body``."""
    f = tmp_path / name
    f.write_text(header + textwrap.dedent(body))
    return f


def _same(a, b):
    assert a.per_path.keys() == b.per_path.keys()
    for k in a.per_path:
        np.testing.assert_array_equal(a.per_path[k], b.per_path[k], err_msg=k)


# ---------------------------------------------------------------------------------- built-in stages
def test_stage_rules_with_numbers():
    sq_dt = 2.0 * math.sqrt(0.005)
    assert move(np.uint64(0b1011), True, 0.0, 3.0, sq_dt) == sq_dt  # bit 0 set: up
    assert move(np.uint64(0b1010), True, 1.0, 3.0, sq_dt) == -3.0 * sq_dt  # volatile regime: × 3
    assert move(np.uint64(0b1011), False, 0.0, 3.0, sq_dt) == 0.0  # not the binomial mid
    assert vol_mult(1.0, 2.5) == 2.5 and vol_mult(0.0, 2.5) == 1.0
    assert switch(0.01, 0.0, 0.02, 0.5) == 1.0 and switch(0.03, 0.0, 0.02, 0.5) == 0.0  # calm → volatile
    assert switch(0.4, 1.0, 0.02, 0.5) == 0.0 and switch(0.6, 1.0, 0.02, 0.5) == 1.0  # volatile → calm
    assert gap(100.0, 1.5, False, 100.0) == 101.5
    assert gap(100.0, 1.5, True, 100.0) == pytest.approx(100.0 * math.exp(0.015), rel=1e-15)
    # A–S fill rule: u beats A·dt·e^(−kδ) = 140·0.005·e^(−1.5·0.5) = 0.33066
    assert fill(0.33, math.inf, 1.0, 0.7, 1.5, 0.5) == 1.0
    assert fill(0.331, math.inf, 1.0, 0.7, 1.5, 0.5) == 0.0
    assert fill(0.1, 0.25, 1.0, 0.7, 1.5, 0.5) == 0.25  # an order smaller than the quote


def test_pack_market_each_stage_writes_its_slots():
    v = dict(cfg("mini-project", "stoll").values)
    v.update(jump_rate=2.0, jump_mean=0.1, jump_std=0.5, regime_up_rate=3.0, regime_down_rate=5.0)
    v.update(regime_sigma_mult=2.0, informed_frac=0.2, informed_move=0.05, maker_fee=0.01, max_loss=7.0)
    mp = pack_market(v)
    expect = {
        L.MP_DT: v["dt"],
        L.MP_T: v["T"],
        L.MP_S0: v["s0"],
        L.MP_Q0: v["q0"],
        L.MP_SIGMA: v["sigma"],
        L.MP_MODEL: L.MODEL_GBM,
        L.MP_JRATE: 2.0,
        L.MP_JMEAN: 0.1,
        L.MP_JSTD: 0.5,
        L.MP_RMULT: 2.0,
        L.MP_RUP: 3.0,
        L.MP_RDOWN: 5.0,
        L.MP_FLOW: L.FLOW_ORDERS,
        L.MP_A: v["A"],
        L.MP_K: v["k"],
        L.MP_BIAS: v["flow_bias"],
        L.MP_BIAS_STD: v["flow_bias_std"],
        L.MP_BIAS_STEPS: v["flow_regime_steps"],
        L.MP_OSIZE: v["order_size_mean"],
        L.MP_ODIST: ("fixed", "exponential").index(v["order_size_dist"]),
        L.MP_INF_FRAC: 0.2,
        L.MP_INF_MOVE: 0.05,
        L.MP_FIN_L: v["financing_long"],
        L.MP_FIN_S: v["financing_short"],
        L.MP_FEE: 0.01,
        L.MP_MAX_LOSS: 7.0,
        L.MP_MAX_DD: v["max_drawdown"],
    }
    assert sorted(expect) == list(range(L.MP_LEN))  # every slot has an owner
    assert {k: mp[k] for k in expect} == expect


# ---------------------------------------------------------------------------------- a user's mid stage
def test_user_abm_stage_is_the_builtin_abm_bit_for_bit(tmp_path):
    """The draw order is the interface: a user ABM with the built-in's operations gives the built-in's
    numbers, path by path, with jumps, regimes and informed flow on (they still apply after the stage)."""
    stage = load_stage_file(_file(tmp_path, ABM), "my_abm")
    over = dict(
        mid_model="abm",
        jump_rate=5.0,
        jump_std=0.5,
        regime_up_rate=3.0,
        regime_down_rate=5.0,
        regime_sigma_mult=2.0,
        informed_frac=0.3,
        informed_move=0.05,
    )
    c = cfg("as2008", "avellaneda-stoikov", 700, 3, **over)
    builtin = simulate(c, record_paths=[0, 5, 699])
    user = simulate(c, record_paths=[0, 5, 699], mid=stage.bind(vol=c.values["sigma"]))
    _same(builtin, user)
    np.testing.assert_array_equal(builtin.series["mid"], user.series["mid"])
    assert user.summary["mid_stage"]["name"] == "my_abm" and user.summary["mid_stage"]["params"] == {"vol": 2.0}
    assert "mid_stage" not in builtin.summary


def test_user_stage_common_random_numbers_and_determinism(tmp_path):
    stage = load_stage_file(_file(tmp_path, OU))
    b = stage.bind(kappa=5.0)
    a_s = simulate(cfg("as2008", "avellaneda-stoikov", 300, 11), record_paths=range(300), mid=b)
    glft = simulate(cfg("as2008", "glft", 300, 11), record_paths=range(300), mid=b)
    np.testing.assert_array_equal(a_s.series["mid"], glft.series["mid"])  # every policy sees the same mids
    assert not np.array_equal(a_s.per_path["pnl"], glft.per_path["pnl"])
    again = simulate(cfg("as2008", "avellaneda-stoikov", 300, 11), record_paths=range(300), mid=b)
    _same(a_s, again)
    more = simulate(cfg("as2008", "avellaneda-stoikov", 1000, 11), mid=b)  # a path's numbers do not depend on n
    for k in a_s.per_path:
        np.testing.assert_array_equal(a_s.per_path[k], more.per_path[k][:300], err_msg=k)
    other_seed = simulate(cfg("as2008", "avellaneda-stoikov", 300, 12), mid=b)
    assert not np.array_equal(a_s.per_path["pnl"], other_seed.per_path["pnl"])


def test_user_ou_stage_reverts_to_its_mean(tmp_path):
    """Euler OU from s0 = 100 toward 110, κ = 5, dt = 0.005, 200 steps:
    E[s_T] = 110 − 10·(1 − κdt)^200 = 109.9368, Var = σ²dt·(1 − (1 − κdt)^400)/(1 − (1 − κdt)²) = 0.40506."""
    stage = load_stage_file(_file(tmp_path, OU), "ou_mid")
    n = 2000
    r = simulate(cfg("as2008", "symmetric", n, 5), record_paths=range(n), mid=stage.bind(kappa=5.0, mean=110.0))
    end = r.series["mid"][:, -1]
    phi = 1.0 - 5.0 * 0.005
    mean = 110.0 - 10.0 * phi**200
    var = 4.0 * 0.005 * (1.0 - phi**400) / (1.0 - phi**2)
    assert abs(end.mean() - mean) < Z * math.sqrt(var / n)
    assert abs(end.var(ddof=1) - var) < Z * var * math.sqrt(2.0 / (n - 1))
    assert r.series["mid"][0, 0] == 100.0


def test_user_stage_python_call_and_helpers(tmp_path):
    stage = load_stage_file(_file(tmp_path, OU))
    x = 0x9E3779B97F4A7C15
    z, _ = normals(np.uint64(x))
    want = 100.0 + 2.0 * (100.0 - 100.0) * 0.01 + 1.0 * 2.0 * math.sqrt(0.01) * z
    assert stage(0.0, 0.01, 100.0, 1.0, x) == want
    u1, u2 = uniforms(np.uint64(x))
    assert 0.0 <= u1 < 1.0 and 0.0 <= u2 < 1.0 and u1 != u2
    assert 0.0 < unit(np.uint64(0)) < 1e-15
    assert stage.params == ("kappa", "mean", "vol")


# ---------------------------------------------------------------------------------- errors: one line each
def test_stage_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match=r"mid stage bad: must take 6 arguments \(p, t, dt, s, m, x\); got 2"):

        @mid_stage()
        def bad(p, s):
            return s

    stage = load_stage_file(_file(tmp_path, OU))
    with pytest.raises(InputError, match=r"kappa: got -1.0; allowed: a finite number >= 0 \(per time unit\)"):
        stage.bind(kappa=-1.0)
    with pytest.raises(InputError, match=r"mid stage ou_mid: unknown parameter 'kapa'; did you mean kappa\?"):
        stage.bind(kapa=1.0)
    with pytest.raises(InputError, match="--mid: unknown mid stage 'ou'"):
        load_stage_file(_file(tmp_path, OU), "ou")
    with pytest.raises(InputError, match="is not a file"):
        load_stages(tmp_path / "missing.py")
    with pytest.raises(InputError, match="defines no market stage"):
        load_stages(_file(tmp_path, "x = 1\n", "empty.py"))
    with pytest.raises(InputError, match="syntax.py line 4"):
        load_stages(_file(tmp_path, "def f(:\n", "syntax.py"))


def test_stage_that_returns_nan_or_does_not_compile(tmp_path):
    src = """
    @mid_stage()
    def blows_up(p, t, dt, s, m, x):
        return (s - s) / (t - t)

    @mid_stage()
    def not_numba(p, t, dt, s, m, x):
        return str(s)
    """
    f = _file(tmp_path, src, "broken.py")
    c = cfg("as2008", "symmetric", 64, 0)
    with pytest.raises(InputError, match=r"mid stage blows_up: returned a non-finite mid \(nan\) from s0 = 100"):
        simulate(c, mid=load_stage_file(f, "blows_up").bind())
    with pytest.raises(InputError, match="mid stage not_numba: numba cannot compile it: ") as e:
        simulate(c, mid=load_stage_file(f, "not_numba").bind())
    assert "\n" not in str(e.value)


def test_stage_typed_at_a_prompt_runs():
    """A stage whose source cannot be read (defined at a prompt) is keyed on its code object."""
    ns: dict = {}
    exec(compile(HEADER + textwrap.dedent(ABM), "<stdin>", "exec"), ns)  # noqa: S102 - the test's own source
    c = cfg("as2008", "avellaneda-stoikov", 128, 2, mid_model="abm")
    _same(simulate(c), simulate(c, mid=ns["my_abm"]))  # a MidStage runs with its defaults (vol = σ = 2)


EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "my_market.py"


def test_cli_market_file_runs_the_stage_and_equals_the_api():
    """``flatbook simulate --market-file examples/my_market.py --mid ou_mid --mid-set kappa=5`` runs the user's
    stage (named in the summary) and gives the numbers of ``flatbook.simulate(mid=...)``."""
    import json

    from typer.testing import CliRunner

    import flatbook
    from flatbook.api.catalogue import load_mid_stage
    from flatbook.cli import root

    args = ["simulate", "--preset", "as2008", "--policy", "glft", "--paths", "256", "--seed", "3", "--json"]
    r = CliRunner().invoke(root.app, [*args, "--market-file", str(EXAMPLE), "--mid", "ou_mid", "--mid-set", "kappa=5"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["mid_stage"]["name"] == "ou_mid" and got["mid_stage"]["params"]["kappa"] == 5.0
    api = flatbook.simulate("as2008", "glft", paths=256, seed=3, mid=load_mid_stage(EXAMPLE, "ou_mid", {"kappa": 5}))
    assert got["pnl_mean"] == api.summary["pnl_mean"].value and got["pnl_std"] == api.summary["pnl_std"].value
    plain = json.loads(CliRunner().invoke(root.app, args).stdout)
    assert plain["pnl_mean"] != got["pnl_mean"]  # the stage is what moved the mid


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        (["--mid-set", "kapa=1"], "mid stage ou_mid", "did you mean kappa"),
        (["--mid", "ou_mdi"], "--mid", "ou_mid"),
        (["--mid-set", "kappa=-1"], "kappa", "allowed: a finite number >= 0 (per time unit)"),
    ],
)
def test_cli_market_file_errors_are_one_line(extra, field, says):
    from typer.testing import CliRunner

    from flatbook.cli import root

    base = ["simulate", "--paths", "64", "--market-file", str(EXAMPLE)]
    r = CliRunner().invoke(root.app, [*base, *(["--mid", "ou_mid"] if "--mid" not in extra else []), *extra])
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {field}:") and says in line, line


def test_cli_mid_without_market_file_is_refused():
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["simulate", "--paths", "64", "--mid", "ou_mid"])
    assert r.exit_code == 2 and r.stderr.strip() == "error: --mid: give the stage's file with --market-file FILE.py"
