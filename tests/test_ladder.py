"""Ladder policies (``@policy(..., levels=L)``): the probe, quote's levels, the hard limit on a side's summed
sizes, the engines' one-line refusal, and ``levels=1`` as today's policy bit for bit.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flatbook
from conftest import REPO, prop
from flatbook.controls.quote_controls import pack_controls
from flatbook.errors import InputError
from flatbook.params import PARAMS
from flatbook.policies import Param, load_policy_file, policy
from flatbook.policies.compile import python_form
from flatbook.policies.quote import ladder_controls

LADDER_FILE = REPO / "examples" / "my_ladder.py"
#: the run of the hand-computed quote: h = 0.5, skew = 0.01, step = 0.25, size 1, limit 6, q = 3, mid 100
RUN = {"half_spread": 0.5, "skew": 0.01, "q_target": 0.0, "level_step": 0.25, "level_size": 1.0, "limit": 6.0}


@pytest.fixture(scope="module")
def three_levels():
    return load_policy_file(LADDER_FILE, "three_levels")


def test_quote_of_a_three_level_ladder_against_hand_computed_prices(three_levels):
    r = flatbook.quote(3, mid=100.0, policy=three_levels, preset="as2008", **RUN)
    # c = 0.01·3 = 0.03: bid depths 0.53, 0.78, 1.03; ask depths 0.47, 0.72, 0.97
    bids = [100 - 0.53, 100 - 0.78, 100 - 1.03]
    asks = [100 + 0.47, 100 + 0.72, 100 + 0.97]
    assert [lv["level"] for lv in r.levels] == [1, 2, 3]
    assert [lv["bid"] for lv in r.levels] == pytest.approx(bids, abs=1e-12)
    assert [lv["ask"] for lv in r.levels] == pytest.approx(asks, abs=1e-12)
    assert [lv["bid_depth"] for lv in r.levels] == pytest.approx([0.53, 0.78, 1.03], abs=1e-12)
    assert [lv["ask_depth"] for lv in r.levels] == pytest.approx([0.47, 0.72, 0.97], abs=1e-12)
    # the hard limit caps the bid side's sum at limit − q = 3 lots (sizes asked: 1, 1, 2); the ask side
    # may sell 4 (room limit + q = 9)
    assert [lv["bid_size"] for lv in r.levels] == [1.0, 1.0, 1.0]
    assert [lv["ask_size"] for lv in r.levels] == [1.0, 1.0, 2.0]
    assert (r.bid, r.ask, r.bid_size) == (r.levels[0]["bid"], r.levels[0]["ask"], 1.0)
    assert r.summary["bid_size_total"].value == 3.0 and r.summary["ask_size_total"].value == 4.0
    assert r.to_dict()["levels"][2]["ask_size"] == 2.0
    # quotes(): the same numbers per level, for arrays of states
    a = flatbook.quotes([3.0, 6.0], mid=100.0, policy=three_levels, preset="as2008", **RUN).arrays
    for k in (1, 2, 3):
        assert a[f"bid_{k}"][0] == r.levels[k - 1]["bid"] and a[f"ask_size_{k}"][0] == r.levels[k - 1]["ask_size"]
        assert a[f"bid_size_{k}"][1] == 0.0 and math.isnan(a[f"bid_{k}"][1])  # at the limit: no bid at all
    assert [a[f"ask_size_{k}"][1] for k in (1, 2, 3)] == [1.0, 1.0, 2.0]


def test_cli_quote_prints_the_levels(three_levels):
    p = _cli("quote", "--policy-file", str(LADDER_FILE), "--policy", "three_levels", "--q", "3", "--mid", "100",
             *(x for k, v in RUN.items() for x in ("--set", f"{k}={v}")))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "3 levels per side" in p.stdout
    rows = [ln for ln in p.stdout.splitlines() if ln.startswith("│") and ln.split("│")[1].strip() in "123"]
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in rows if ln.split("│")[1].strip()]
    assert [c[2] for c in cells[-3:]] == ["99.47", "99.22", "98.97"]
    assert [c[5] for c in cells[-3:]] == ["100.47", "100.72", "100.97"]
    assert [c[6] for c in cells[-3:]] == ["1", "1", "2"]


LINEAR_BODY = """
    c = p.skew * (q - p.q_target) + p.cubic * (q - p.q_target) ** 3
    return p.half_spread + c, p.half_spread - c
"""


def test_levels_1_is_the_plain_policy_bit_for_bit():
    specs = {
        "half_spread": Param(unit="price units", default=0.5, ge=0),
        "skew": Param(unit="price units per lot", default=0.01, ge=0),
        "q_target": Param(unit="lots", default=0.0),
        "cubic": Param(unit="price units per lot³", default=0.0, ge=0),
    }

    def plain_ladder1(p, t, tau, s, q):
        c = p.skew * (q - p.q_target) + p.cubic * (q - p.q_target) ** 3
        return p.half_spread + c, p.half_spread - c

    def plain_default(p, t, tau, s, q):
        c = p.skew * (q - p.q_target) + p.cubic * (q - p.q_target) ** 3
        return p.half_spread + c, p.half_spread - c

    one = policy(params=specs, levels=1)(plain_ladder1)
    plain = policy(params=specs)(plain_default)
    assert one.levels == plain.levels == 1
    grid = {"q": np.linspace(-12, 12, 49), "t": np.linspace(0, 1, 5)[:, None], "preset": "as2008"}
    kw = {"cubic": 1e-3, "limit": 10, "yellow": 4, "tick": 0.01}
    a = flatbook.quotes(policy=one, **grid, **kw).arrays
    b = flatbook.quotes(policy=plain, **grid, **kw).arrays
    assert a.keys() == b.keys() and "bid_1" not in a
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    qa = flatbook.quote(3.5, policy=one, preset="as2008", **kw).to_dict()
    qb = flatbook.quote(3.5, policy=plain, preset="as2008", **kw).to_dict()
    assert "levels" not in qa and qa.pop("policy") == "plain_ladder1" and qb.pop("policy") == "plain_default"
    qa["config"].pop("policy")
    qb["config"].pop("policy")
    assert qa == qb


# ------------------------------------------------------------------ the hard limit on a side's summed sizes
def _cp(limit: float, yellow: float, action: str) -> np.ndarray:
    v = {k: p.default for k, p in PARAMS.items()}
    v.update(limit=limit, yellow=yellow, red=math.inf, critical=math.inf, yellow_action=action, market_spread=math.inf)
    v.update(tick=0.0, min_spread=0.0, size=1.0, zone_widen=1.5, zone_skew=2.0)
    return pack_controls(v)


sizes = st.floats(0.0, 50.0, allow_nan=False)
depths = st.one_of(st.floats(0.0, 5.0, allow_nan=False), st.just(math.inf))  # inf: level not quoted


@prop(max_examples=300)
@given(
    L=st.integers(1, 5),
    data=st.data(),
    q=st.floats(-60.0, 60.0, allow_nan=False),
    limit=st.one_of(st.floats(0.0, 40.0), st.just(math.inf)),
    killed=st.booleans(),
    yellow=st.one_of(st.floats(0.0, 30.0), st.just(math.inf)),
    action=st.sampled_from(["none", "widen", "skew", "flatten"]),
)
def test_a_sides_summed_sizes_never_take_q_past_the_limit(L, data, q, limit, killed, yellow, action):
    db = np.cumsum(data.draw(st.lists(depths, min_size=L, max_size=L)))
    da = np.cumsum(data.draw(st.lists(depths, min_size=L, max_size=L)))
    nb = data.draw(st.lists(sizes, min_size=L, max_size=L))
    na = data.draw(st.lists(sizes, min_size=L, max_size=L))
    raw = np.array([*db, *da, *nb, *na], float)[:, None].copy()
    cp = _cp(limit, yellow, action)
    args = (cp, L, raw, np.array([100.0]), np.array([q]), np.array([killed]))
    out = np.empty((4 * L + 2, 1))
    ladder_controls(*args, out)
    bid, ask = out[2 * L : 3 * L, 0], out[3 * L : 4 * L, 0]
    tol = 4 * math.ulp(max(abs(q), limit if math.isfinite(limit) else 0.0, 1.0))
    # every bid level filled: q rises by the bid sizes' sum; every ask level: q falls by theirs
    assert q + math.fsum(bid) <= max(limit, q) + tol
    assert q - math.fsum(ask) >= min(-limit, q) - tol
    assert (bid >= 0).all() and (ask >= 0).all() and (bid <= nb).all() and (ask <= na).all()
    if killed or out[4 * L + 1, 0] == 4:  # flatten: only the side that reduces |q|, never through zero
        assert math.fsum(bid) <= max(-q, 0.0) + tol and math.fsum(ask) <= max(q, 0.0) + tol
    assert not np.isnan(out).any()
    assert all(bid[k] == 0.0 for k in range(L) if db[k] == math.inf)  # a level not quoted has no size
    assert all(ask[k] == 0.0 for k in range(L) if da[k] == math.inf)
    # depths stay non-decreasing outwards after the controls
    for side in (out[:L, 0], out[L : 2 * L, 0]):
        assert (side[1:] >= side[:-1]).all()
    # the plain-Python form of the controls gives the same bits (quote's python and compiled paths agree)
    out_py = np.empty_like(out)
    with np.errstate(invalid="ignore"):  # a zone's widen/skew of a +inf depth computes inf − inf (then: not quoted)
        python_form(ladder_controls)(*args, out_py)
    assert np.array_equal(out, out_py)


# ------------------------------------------------------------------ probe errors and the engines' refusal
def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flatbook", *args], capture_output=True, text=True, check=False, timeout=300, cwd=cwd
    )


BAD = {
    "arity": ("return 0.5, 0.5, 1.0, 1.0", "declares levels=2, so must return 8 numbers"),
    "nan": ("return 0.5, math.nan, 0.5, 0.6, 1.0, 1.0, 1.0, 1.0", "returned NaN: db_2 = nan"),
    "negative depth": ("return 0.5, 0.7, -0.1 * q, 0.6, 1.0, 1.0, 1.0, 1.0", "a negative depth: da_1 = "),
    "decreasing": ("return 0.5, 0.4, 0.5, 0.6, 1.0, 1.0, 1.0, 1.0", "db_2 = 0.4 < db_1 = 0.5"),
    "negative size": ("return 0.5, 0.7, 0.5, 0.6, 1.0, -1.0, 1.0, 1.0", "nb_2 = -1"),
    "infinite size": ("return 0.5, 0.7, 0.5, 0.6, 1.0, 1.0, math.inf, 1.0", "na_1 = inf"),
    "levels": ("return 0.5, 0.5", "levels must be a whole number from 1 to 50; got 0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_ladder_is_one_line_exit_2(tmp_path, case):
    body, needle = BAD[case]
    f = tmp_path / "bad_ladder.py"
    f.write_text(
        textwrap.dedent(f"""
        import math
        from flatbook.policies import Param, policy

        @policy(params={{"h": Param(unit="price units", default=0.5, ge=0)}}, levels={0 if case == "levels" else 2})
        def bad(p, t, tau, s, q):
            {body}
        """)
    )
    p = _cli("quote", "--policy-file", str(f), "--policy", "bad", "--q", "1", cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], p.stderr


def test_engines_refuse_a_ladder_in_one_line(three_levels):
    msg = "three_levels: quotes 3 levels per side; the simulator, the live engine, sweeps and the multi-instrument"
    with pytest.raises(InputError, match=msg):
        flatbook.simulate(policy=three_levels, preset="as2008", paths=10)
    with pytest.raises(InputError, match=msg):
        flatbook.compare([three_levels, "glft"], preset="as2008", paths=10)
    # the backtester replays a ladder (tests/test_replay_ladder.py)
    for args in (("simulate", "--paths", "10"), ("sweep", "--grid", "skew=0,0.01")):
        p = _cli(*args, "--policy-file", str(LADDER_FILE), "--policy", "three_levels")
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and msg in lines[0] and "Traceback" not in p.stderr, p.stderr


def test_multi_and_sweep_refuse_a_ladder_before_any_work(three_levels):
    """The sweep checks every point before it submits a task, and the multi-instrument simulator checks each
    instrument's policy: both refuse a ladder in one line naming it."""
    from flatbook.multi.simulator import build_multi
    from flatbook.sweep import runner as SR

    with pytest.raises(InputError, match="three_levels: quotes 3 levels per side"):
        SR.make_point("as2008", "three_levels", {}, 10, 0)
    ins = [{"name": "A", "policy": "avellaneda-stoikov"}, {"name": "B", "policy": "three_levels"}]
    with pytest.raises(InputError, match=r"^instruments\[1\]\.policy: quotes 3 levels per side"):
        build_multi(ins, ((1.0, 0.5), (0.5, 1.0)), paths=10)


def test_policies_listing_names_a_ladder_and_only_a_ladder():
    """``flatbook policies`` says how many levels a ladder quotes per side; a one-level policy's entry is unchanged."""
    p = _cli("policies", "--policy-file", str(LADDER_FILE), "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["three_levels"]["levels"] == 3
    assert "levels" not in got["glft"] and "levels" not in got["linear-skew"]
    table = _cli("policies", "--policy-file", str(LADDER_FILE))
    assert "three_levels (rung" in table.stdout and "a ladder of 3 levels per side" in table.stdout
