"""A user's fill stage (flatbook.market.fill_stage): the built-in A·e^(−kδ)·dt rule written as a stage gives the
built-in's numbers bit for bit, a power law fills at its closed-form rate, runs are deterministic whatever the
paths, chunks and threads, and bad stages are one line each."""

from __future__ import annotations

import math
import textwrap

import numba
import numpy as np
import pytest

from conftest import Z, cfg
from flatbook.errors import InputError
from flatbook.market.fill_stage import fill_stage
from flatbook.market.stage import load_market_file, load_stage_file, load_stages
from flatbook.sim import simulator
from flatbook.sim.simulator import simulate
from test_market_stages import _file as stage_file
from test_market_stages import _same

HEADER = "import math\nfrom flatbook.market.fill_stage import Param, fast_exp, fill_stage\n\n"
# the A–S rule written as a user stage, with the built-in's floating-point operations: (A·dt)·e^(−k·δ)
EXP = """
@fill_stage(params={"A": Param(unit="per time unit", default=140.0, gt=0), "k": Param(unit="per price unit", default=1.5, gt=0)})
def as_exp(p, t, dt, s, depth, side, m):
    return p.A * dt * fast_exp(-p.k * depth)
"""
POWER = """
@fill_stage(params={"A": Param(unit="per time unit", default=140.0, gt=0, doc="rate at the mid"),
                    "k": Param(unit="per price unit", default=1.5, gt=0, doc="scale"),
                    "alpha": Param(unit="1", default=2.0, gt=0, doc="tail exponent")})
def power_law(p, t, dt, s, depth, side, m):
    return p.A * dt / (1.0 + p.k * max(depth, 0.0)) ** p.alpha

@fill_stage(params={"A_b": Param(unit="per time unit", default=140.0, gt=0), "k_b": Param(unit="per price unit", default=1.5, gt=0),
                    "A_a": Param(unit="per time unit", default=60.0, gt=0), "k_a": Param(unit="per price unit", default=0.5, gt=0)})
def two_sided(p, t, dt, s, depth, side, m):
    if side > 0.0:
        return p.A_b * dt * math.exp(-p.k_b * depth)
    return p.A_a * dt * math.exp(-p.k_a * depth)
"""


def _file(tmp_path, body: str, name: str = "fills.py"):
    return stage_file(tmp_path, body, name, HEADER)


def _sides(r, steps: int):
    """Fills per side per step, pooled over paths (size-1 quotes from q0 = 0: bids − asks = final q)."""
    vol, q = r.per_path["volume"], r.per_path["final_q"]
    n = vol.size * steps
    return float((vol + q).sum() / 2.0 / n), float((vol - q).sum() / 2.0 / n), n


# ---------------------------------------------------------------------------------- the built-in rule, bit for bit
@pytest.mark.parametrize(
    ("preset", "policy", "over"),
    [
        # controls that act (hard limit, zones, tick: the general controls pass), informed flow reading the fills
        (
            "as2008",
            "avellaneda-stoikov",
            dict(limit=4.0, yellow=2.0, red=3.0, tick=0.01, informed_frac=0.3, informed_move=0.05, regime_up_rate=3.0),
        ),
        ("as2008", "glft", {}),  # the lean controls pass
        ("mini-project", "stoll", {}),  # the orders flow: one market order per step, sizes min(order, quote)
    ],
)
def test_exp_stage_is_the_builtin_rule_bit_for_bit(tmp_path, preset, policy, over):
    stage = load_stage_file(_file(tmp_path, EXP), kind="fill")
    c = cfg(preset, policy, 700, 3, **over)
    builtin = simulate(c, record_paths=[0, 5, 699])
    user = simulate(c, record_paths=[0, 5, 699], fill=stage.bind(A=c.values["A"], k=c.values["k"]))
    _same(builtin, user)
    for k in builtin.series:
        np.testing.assert_array_equal(builtin.series[k], user.series[k], err_msg=k)
    drop = {"fill_stage", "elapsed_s", "path_steps_per_s"}
    assert {k: v for k, v in user.summary.items() if k not in drop} == {
        k: v for k, v in builtin.summary.items() if k not in drop
    }
    assert user.summary["fill_stage"]["name"] == "as_exp" and "fill_stage" not in builtin.summary


def test_exp_stage_with_another_A_moves_the_fills(tmp_path):
    stage = load_stage_file(_file(tmp_path, EXP), kind="fill")
    c = cfg("as2008", "avellaneda-stoikov", 256, 1)
    base, more = simulate(c), simulate(c, fill=stage.bind(A=280.0))
    assert more.per_path["fills"].sum() > base.per_path["fills"].sum()


# ---------------------------------------------------------------------------------- closed forms
def test_power_law_fills_at_its_closed_form_rate(tmp_path):
    """Symmetric quotes at δ = 0.7454 (as2008): each side fills with p(δ) = A·dt/(1 + kδ)^α per step,
    0.7/(1 + 1.5·0.7454)² = 0.15603; 2,000 paths × 200 steps per side, within 4 binomial SEs."""
    stage = load_stage_file(_file(tmp_path, POWER), "power_law", kind="fill")
    c = cfg("as2008", "symmetric", 2000, 9)
    delta = c.values["half_spread"]
    r = simulate(c, fill=stage.bind())
    p = 140.0 * 0.005 / (1.0 + 1.5 * delta) ** 2
    assert p == pytest.approx(0.15603, abs=1e-5)
    bid, ask, n = _sides(r, c.steps)
    se = math.sqrt(p * (1.0 - p) / n)
    assert abs(bid - p) < Z * se and abs(ask - p) < Z * se, (bid, ask, p, se)
    assert stage(0.0, 0.005, 100.0, delta) == pytest.approx(p, rel=1e-15)  # the Python call, same formula


def test_asymmetric_stage_reads_the_side(tmp_path):
    """A_b = 140, k_b = 1.5 on the bid; A_a = 60, k_a = 0.5 on the ask: at δ = 0.7454 the bid fills with
    0.7·e^(−1.1181) = 0.22884, the ask with 0.3·e^(−0.3727) = 0.20666 per step."""
    stage = load_stage_file(_file(tmp_path, POWER), "two_sided", kind="fill")
    c = cfg("as2008", "symmetric", 2000, 4)
    delta = c.values["half_spread"]
    r = simulate(c, fill=stage.bind())
    pb, pa = 0.7 * math.exp(-1.5 * delta), 0.3 * math.exp(-0.5 * delta)
    bid, ask, n = _sides(r, c.steps)
    assert abs(bid - pb) < Z * math.sqrt(pb * (1 - pb) / n), (bid, pb)
    assert abs(ask - pa) < Z * math.sqrt(pa * (1 - pa) / n), (ask, pa)


# ---------------------------------------------------------------------------------- determinism
def test_fill_stage_is_deterministic_whatever_the_paths_chunks_and_threads(tmp_path, monkeypatch):
    b = load_stage_file(_file(tmp_path, POWER), "power_law", kind="fill").bind(alpha=1.5)
    c = cfg("as2008", "avellaneda-stoikov", 300, 11)
    first = simulate(c, record_paths=range(0, 300, 7), fill=b)
    _same(first, simulate(c, record_paths=range(0, 300, 7), fill=b))  # same seed, same bits
    more = simulate(cfg("as2008", "avellaneda-stoikov", 1000, 11), fill=b)  # a path's numbers do not depend on n
    for k in first.per_path:
        np.testing.assert_array_equal(first.per_path[k], more.per_path[k][:300], err_msg=k)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        monkeypatch.setattr(simulator, "CHUNK_PATH_STEPS", 64 * 200)  # one block per chunk
        _same(first, simulate(c, fill=b))
    finally:
        numba.set_num_threads(threads)
    glft = simulate(cfg("as2008", "glft", 300, 11), record_paths=range(0, 300, 7), fill=b)
    np.testing.assert_array_equal(first.series["mid"], glft.series["mid"])  # the flow's draws are the policy's own
    assert not np.array_equal(
        first.per_path["pnl"], simulate(cfg("as2008", "avellaneda-stoikov", 300, 12), fill=b).per_path["pnl"]
    )


def test_mid_and_fill_stages_from_one_file(tmp_path):
    mid = """
    from flatbook.market.stage import mid_stage, normals

    @mid_stage(params={"vol": Param(unit="price/√time", default=2.0, ge=0)})
    def my_abm(p, t, dt, s, m, x):
        z, _ = normals(x)
        return s + p.vol * math.sqrt(dt) * m * z
    """
    f = _file(tmp_path, EXP + textwrap.dedent(mid), "both.py")
    with pytest.raises(InputError, match=r"--market-file: both.py defines 2 stages \(as_exp, my_abm\); name one"):
        load_market_file(f)
    m, fl = load_market_file(f, mid="my_abm", fill="as_exp", fill_params={"A": 100.0})
    assert m.stage.name == "my_abm" and fl.values == {"A": 100.0, "k": 1.5}
    none, fl2 = load_market_file(f, fill_params={"k": 2.0})  # parameters alone ask for the file's only fill stage
    assert none is None and fl2.values == {"A": 140.0, "k": 2.0}
    c = cfg("as2008", "glft", 128, 2, mid_model="abm")
    both = simulate(c, mid=m, fill=load_market_file(f, fill="as_exp")[1])
    _same(simulate(c), both)
    assert {both.summary["mid_stage"]["name"], both.summary["fill_stage"]["name"]} == {"my_abm", "as_exp"}


# ---------------------------------------------------------------------------------- errors: one line each
def test_fill_stage_errors_are_one_line(tmp_path):
    with pytest.raises(
        InputError, match=r"fill stage bad: must take 7 arguments \(p, t, dt, s, depth, side, m\); got 5"
    ):

        @fill_stage()
        def bad(p, t, dt, depth, m):
            return 0.1

    f = _file(tmp_path, POWER)
    stage = load_stage_file(f, "power_law", kind="fill")
    with pytest.raises(InputError, match=r"fill stage power_law: unknown parameter 'alfa'; did you mean alpha\?"):
        stage.bind(alfa=1.0)
    with pytest.raises(InputError, match=r"alpha: got 0.0; allowed: a finite number > 0 \(1\)"):
        stage.bind(alpha=0.0)
    with pytest.raises(InputError, match="--fill: unknown fill stage 'power'; did you mean power_law"):
        load_stage_file(f, "power", kind="fill")
    with pytest.raises(InputError, match=r"--fill: fills.py defines 2 fill stages \(power_law, two_sided\); name one"):
        load_stage_file(f, kind="fill")
    with pytest.raises(
        InputError, match=r"--mid: fills.py defines no mid stage \(decorate a function with @mid_stage\)"
    ):
        load_stage_file(f, kind="mid")
    with pytest.raises(InputError, match="defines no market stage"):
        load_stages(_file(tmp_path, "x = 1\n", "empty.py"))
    c = cfg("as2008", "symmetric", 64, 0)
    with pytest.raises(
        InputError, match=r"mid: expected a mid stage \(@mid_stage, bound or not\); got fill stage power_law"
    ):
        simulate(c, mid=stage)


def test_fill_stage_that_returns_nan_or_negative_or_does_not_compile(tmp_path):
    src = """
    @fill_stage(params={"c": Param(unit="1", default=0.1)})
    def negative(p, t, dt, s, depth, side, m):
        return p.c * side

    @fill_stage()
    def nan_at_zero(p, t, dt, s, depth, side, m):
        return depth / depth * 0.1

    @fill_stage()
    def not_numba(p, t, dt, s, depth, side, m):
        return str(depth)
    """
    f = _file(tmp_path, src, "broken.py")
    c = cfg("as2008", "symmetric", 64, 0)
    with pytest.raises(InputError) as e:
        simulate(c, fill=load_stage_file(f, "negative", kind="fill").bind())
    assert str(e.value) == (
        "fill stage negative: returned -0.1 at depth 0 on the ask (s = 100, t = 0, dt = 0.005, m = 1, "
        "parameters {'c': 0.1}); allowed: a probability >= 0 (above 1 counts as 1)"
    )
    with pytest.raises(InputError, match=r"fill stage nan_at_zero: returned nan at depth 0 on the bid"):
        simulate(c, fill=load_stage_file(f, "nan_at_zero", kind="fill").bind())
    with pytest.raises(InputError, match="fill stage not_numba: numba cannot compile it: ") as e:
        simulate(c, fill=load_stage_file(f, "not_numba", kind="fill").bind())
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------- the command line
EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "my_market.py"


def test_cli_fill_stage_runs_and_equals_the_api():
    """``flatbook simulate|compare --market-file examples/my_market.py --fill power_law --fill-set alpha=3`` runs the
    user's fill stage (named in the summary) and gives the numbers of ``flatbook.simulate|compare(fill=...)``."""
    import json

    from typer.testing import CliRunner

    import flatbook
    from flatbook.api.catalogue import load_fill_stage
    from flatbook.cli import root

    fill = ["--market-file", str(EXAMPLE), "--fill", "power_law", "--fill-set", "alpha=3"]
    args = ["simulate", "--preset", "as2008", "--policy", "glft", "--paths", "256", "--seed", "3", "--json"]
    r = CliRunner().invoke(root.app, [*args, *fill])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["fill_stage"]["name"] == "power_law" and got["fill_stage"]["params"]["alpha"] == 3.0
    assert "mid_stage" not in got
    stage = load_fill_stage(EXAMPLE, "power_law", {"alpha": 3})
    api = flatbook.simulate("as2008", "glft", paths=256, seed=3, fill=stage)
    assert got["pnl_mean"] == api.summary["pnl_mean"].value and got["fills_mean"] == api.summary["fills_mean"].value
    plain = json.loads(CliRunner().invoke(root.app, args).stdout)
    assert plain["fills_mean"] != got["fills_mean"]  # the stage is what moved the fills
    cmp = ["compare", "--policy", "symmetric", "--policy", "glft", "--paths", "128", "--seed", "1", "--json"]
    r = CliRunner().invoke(root.app, [*cmp, *fill, "--mid", "ou_mid"])
    assert r.exit_code == 0, r.output
    res = flatbook.compare(
        ["symmetric", "glft"],
        paths=128,
        seed=1,
        fill=stage,
        mid=flatbook.api.catalogue.load_mid_stage(EXAMPLE, "ou_mid"),
    )
    want = res.to_dict()
    got = json.loads(r.stdout)
    for name in ("symmetric", "glft"):
        assert got["policies"][name]["fills_mean"] == want["policies"][name]["fills_mean"]
        assert got["policies"][name]["fill_stage"]["name"] == "power_law"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (
            ["--fill", "power_law", "--fill-set", "alfa=1"],
            "fill stage power_law: unknown parameter 'alfa'; did you mean alpha?",
        ),
        (["--fill", "powr_law"], "--fill: unknown fill stage 'powr_law'; did you mean power_law?"),
        (["--fill", "power_law", "--fill-set", "alpha=0"], "alpha: got '0'; allowed: a finite number > 0 (1)"),
        ([], "--market-file: my_market.py defines 2 stages (ou_mid, power_law); name one"),
    ],
)
def test_cli_fill_stage_errors_are_one_line(extra, says):
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["simulate", "--paths", "64", "--market-file", str(EXAMPLE), *extra])
    assert r.exit_code == 2
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {says}"), line


def test_cli_fill_without_market_file_is_refused():
    from typer.testing import CliRunner

    from flatbook.cli import root

    r = CliRunner().invoke(root.app, ["compare", "--policy", "glft", "--paths", "64", "--fill", "power_law"])
    assert r.exit_code == 2 and r.stderr.strip() == "error: --fill: give the stage's file with --market-file FILE.py"
