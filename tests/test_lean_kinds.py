"""Lean statistics (``stats="lean"``) with every kind of policy and every user stage: the lean copy inlines a
table policy's and a user's formula, and composes with a user's mid, fill and cost stages, each run's lean
columns bit for bit the full run's (tests/test_lean_stats.py: the model's features, the faces). A file of its
own so that the suite's two workers compile these kernel copies beside the other file's."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import cfg
from flatbook.policies import Param, policy
from flatbook.policies.registry import POLICIES, register
from flatbook.sim.simulator import simulate
from test_cost_stage import _file as cost_file
from test_fill_stage import EXP
from test_fill_stage import _file as fill_file
from test_lean_stats import _same_lean
from test_market_stages import _file as mid_file


# parameters the registry already knows (a new name would join the global registry for the session's other tests)
@policy(
    params={
        "half_spread": Param(unit="price units", default=0.5, ge=0),
        "skew": Param(unit="price units per lot", default=0.01, ge=0),
    }
)
def lean_user_pol(p, t, tau, s, q):
    return p.half_spread + p.skew * q + 0.1 * tau, p.half_spread - p.skew * q + 0.1 * tau


@pytest.mark.parametrize(
    ("policy", "over"),
    [
        ("glft", dict(solution="exact", limit=5.0, regime_up_rate=2.0, regime_down_rate=2.0)),  # a table policy
        ("lean_user_pol", {}),  # a user's @policy: the lean copy inlines its formula too
    ],
)
def test_every_kind_of_policy_is_inlined_bit_for_bit(policy, over):
    register(lean_user_pol)
    try:
        c = cfg("as2008", policy, 1000, 6, T=0.5, **over)
        _same_lean(simulate(c, record_paths=(0,)), simulate(c, record_paths=(0,), stats="lean"))
    finally:
        POLICIES.pop("lean_user_pol", None)  # leave the registry as the other tests expect it


def test_lean_with_user_mid_and_fill_stages(tmp_path):
    mid = """
    @mid_stage(params={"vol": Param(unit="price/√time", default=2.0, ge=0)})
    def my_abm(p, t, dt, s, m, x):
        z, _ = normals(x)
        return s + p.vol * math.sqrt(dt) * m * z
    """
    from flatbook.market.stage import load_market_file, load_stage_file

    m = load_stage_file(mid_file(tmp_path, mid), "my_abm").bind()
    fill = load_market_file(fill_file(tmp_path, EXP), fill="as_exp")[1]
    for kw in ({"fill": fill}, {"mid": m}, {"mid": m, "fill": fill}):
        c = cfg("as2008", "avellaneda-stoikov", 2000, 4, limit=5.0, mid_model="abm")
        _same_lean(simulate(c, record_paths=(0,), **kw), simulate(c, record_paths=(0,), stats="lean", **kw))


def test_lean_with_a_user_cost_stage(tmp_path):
    """A cost stage in a lean run (the LEAN+USER_COST copy: the general lean step, the stage's charges after it)."""
    from flatbook.market.stage import load_stage_file

    cost = load_stage_file(cost_file(tmp_path), "mixed", kind="cost").bind()
    c = cfg("as2008", "avellaneda-stoikov", 2000, 4, limit=5.0)
    full, lean = simulate(c, cost=cost), simulate(c, stats="lean", cost=cost)
    _same_lean(full, lean)
    assert np.all(full.per_path["fees"] != 0.0) and lean.summary["cost_stage"]["name"] == "mixed"
