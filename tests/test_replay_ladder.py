"""Issue 15 §2: the replay of a ladder policy (``levels`` > 1, :mod:`flatbook.backtest.ladder`): every level of every
side is its own resting order with its own queue position; the hard limit counts every resting order of a side.

Hand-made tapes, hand-computed fills. The ladder quotes two levels per side at fixed depths around the mid 100:
level 1 at 2 (bid 98, ask 102), level 2 at 3 (bid 97, ask 103), sizes 1 and 2 lots. The depth book's snapshot
shows bids 99: 5, 98: 8, 97: 6 and asks 101: 5, 102: 4, 103: 3. Orders arrive 0.5 s after the decision.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, shared_data
from flatbook import api
from flatbook.backtest import BacktestOptions, Latency, run_backtest
from flatbook.backtest import backtester as B
from flatbook.backtest.backtester import replay_config
from flatbook.config import build_config
from flatbook.data.events import CLEAR, LEVEL, QUOTE, TRADE, EventMeta, EventTable, empty_columns
from flatbook.errors import InputError
from flatbook.policies import Param, load_policy_file, policy
from flatbook.policies.registry import register

NS = 1_000_000_000


@policy(
    params={
        "h1": Param(unit="price units", default=2.0, ge=0, doc="depth of level 1"),
        "h2": Param(unit="price units", default=3.0, ge=0, doc="depth of level 2"),
        "n1": Param(unit="lots", default=1.0, ge=0, doc="size of level 1"),
        "n2": Param(unit="lots", default=2.0, ge=0, doc="size of level 2"),
    },
    levels=2,
)
def two_fixed_levels(p, t, tau, s, q):
    """Two levels per side at fixed depths h1, h2 with sizes n1, n2."""
    return p.h1, p.h2, p.h1, p.h2, p.n1, p.n2, p.n1, p.n2


@pytest.fixture(scope="module", autouse=True)
def _two_fixed_levels_registered():
    """Known by name for this module only: its parameters leave flatbook's registry afterwards, so that
    tests which compare the registry with a run's parameters (test_cli, test_config_groups) see the
    built-in set whatever ran before them in the same process."""
    from flatbook.params import PARAMS
    from flatbook.policies import registry

    saved = dict(PARAMS), dict(registry.POLICIES), set(registry._ADDED)
    register(two_fixed_levels)
    yield
    PARAMS.clear()
    PARAMS.update(saved[0])
    registry.POLICIES.clear()
    registry.POLICIES.update(saved[1])
    registry._ADDED.clear()
    registry._ADDED.update(saved[2])


class Tape:
    """A depth tape row by row (the touch columns carried forward)."""

    def __init__(self):
        self.book = dict(bid_px=99.0, bid_sz=5.0, ask_px=101.0, ask_sz=5.0)
        self.rows: list[dict] = []
        self.clear(0)
        for px, q in ((99.0, 5.0), (98.0, 8.0), (97.0, 6.0)):
            self.level(0, 1, px, q)
        for px, q in ((101.0, 5.0), (102.0, 4.0), (103.0, 3.0)):
            self.level(0, -1, px, q)

    def quote(self, t, **book):
        self.book.update(book)
        self.rows.append(dict(ts=int(t * NS), kind=QUOTE, **self.book))
        return self

    def trade(self, t, px, qty, side):
        self.rows.append(dict(ts=int(t * NS), kind=TRADE, px=px, qty=qty, side=side, **self.book))
        return self

    def level(self, t, side, px, qty):
        self.rows.append(dict(ts=int(t * NS), kind=LEVEL, px=px, qty=qty, side=side, **self.book))
        return self

    def clear(self, t):
        self.rows.append(dict(ts=int(t * NS), kind=CLEAR, qty=1.0, **self.book))
        return self

    def table(self) -> EventTable:
        cols = empty_columns(len(self.rows))
        for i, r in enumerate(self.rows):
            for k, v in r.items():
                cols[k][i] = v
        return EventTable(**cols, meta=EventMeta("TEST", "hand", 1.0, 1.0, book="depth"))


def _run(ev, limit=10.0, q0=0.0, **opts):
    v = dict(T=100.0, s0=100.0, tick=1.0, limit=limit, q0=q0, h1=2.0, h2=3.0, n1=1.0, n2=2.0)
    cfg = build_config("replay", "two_fixed_levels", v, paths=1)
    opts = {"order_latency": Latency("const", 500.0), **opts}
    return run_backtest(ev, cfg, BacktestOptions(**opts))


def _fills(res, side=1):
    f = res.fills
    b = f["side"] == side
    return [
        (int(t) / NS, float(q), float(p), int(lv))
        for t, q, p, lv in zip(f["ts"][b], f["qty"][b], f["px"][b], f["level"][b])
    ]


def test_a_print_through_both_levels_fills_each_at_its_own_price():
    """Level 1 bids 1 at 98, level 2 bids 2 at 97 (arrived at 1 s); a sell print at 96 goes through both: 1 lot
    at 98 and 2 at 97, q = 3."""
    res = _run(Tape().quote(1).trade(2, 96.0, 20.0, -1).table())
    assert _fills(res) == [(2.0, 1.0, 98.0, 1), (2.0, 2.0, 97.0, 2)]
    assert res.path["q"][-1] == 3.0
    r = res.requests
    # the first decision (0 s): level 1 bid, level 1 ask, level 2 bid, level 2 ask
    assert list(r["level"][:4]) == [1, 1, 2, 2] and list(r["side"][:4]) == [1, -1, 1, -1]
    assert list(r["px"][:4]) == [98.0, 102.0, 97.0, 103.0] and list(r["size"][:4]) == [1.0, 1.0, 2.0, 2.0]


def test_each_level_has_its_own_queue_position():
    """Level 1 joins 98 behind 8, level 2 joins 97 behind 6. A sell print of 9 at 98 takes 8 ahead and fills 1
    (level 1); the decision at 2 s re-sends level 1 (1 at 98, arriving 2.5 s, behind the book's 8 again). A sell
    print of 8 at 97 at 3 s goes through 98 (level 1: 1 lot) and takes level 2's 6 ahead, then fills 2 there."""
    res = _run(Tape().quote(1).trade(2, 98.0, 9.0, -1).quote(2.5).trade(3, 97.0, 8.0, -1).table())
    assert _fills(res) == [(2.0, 1.0, 98.0, 1), (3.0, 1.0, 98.0, 1), (3.0, 2.0, 97.0, 2)]
    assert res.path["q"][-1] == 4.0


def test_the_limit_counts_the_other_resting_levels():
    """limit 3, at most one decision a second. Level 1 (1 at 98) fills at 2 s (q = 1); the controls cap the bid
    side's sum at 2: level 2 shrinks from 2 to 1 (sent first: it frees room), level 1 is sent again (1 lot); both
    arrive at 2.5 s. In flight, a sell print of 7 at 97 (2.2 s) takes level 2's 6 ahead and fills 1 of its 2
    (q = 2). At 3 s they arrive: level 2, 1 lot (room 3 − 2 − 0); level 1: room 3 − 2 − 1 (level 2 resting) = 0,
    cut to 0. The decision at 3 s (room 1: level 1 one lot, level 2 none) cancels level 2 first, then sends level
    1 (1 lot), arriving 3.5 s. A print through everything at 4 s fills level 1's lot at 98: q ends at the limit."""
    tp = Tape().quote(1).trade(2, 98.0, 9.0, -1).trade(2.2, 97.0, 7.0, -1).quote(3)
    res = _run(tp.trade(4, 90.0, 50.0, -1).table(), limit=3.0, min_requote_ms=1000.0)
    assert _fills(res) == [(2.0, 1.0, 98.0, 1), (2.2, 1.0, 97.0, 2), (4.0, 1.0, 98.0, 1)]
    assert res.path["q"][-1] == 3.0 and np.abs(res.path["q"]).max() <= 3.0
    r = res.requests
    for t, levels, sizes in ((2, [2, 1], [1.0, 1.0]), (3, [2, 1], [0.0, 1.0])):
        bid = (r["ts"] == t * NS) & (r["side"] == 1)
        assert list(r["level"][bid]) == levels and list(r["size"][bid]) == sizes  # sizes as sent, before a cut


def test_a_ladder_whose_sizes_breach_the_limit_is_refused_at_configuration():
    with pytest.raises(InputError, match=r"^limit: policy two_fixed_levels's bid sizes nb_1\.\.nb_2 add up to 3 lots"):
        _run(Tape().quote(1).table(), limit=2.0)


def test_cli_refuses_crossing_levels_and_a_breached_limit_in_one_line(tmp_path):
    f = tmp_path / "crossing.py"
    f.write_text(
        "from flatbook.policies import Param, policy\n\n"
        "@policy(params={'h': Param(unit='price units', default=0.5, ge=0)}, levels=2)\n"
        "def crossing(p, t, tau, s, q):\n"
        "    return p.h, 0.5 * p.h, p.h, p.h, 1.0, 1.0, 1.0, 1.0\n"
    )
    data = shared_data("binance/usdm_btcusdt_20240808.gz")
    ladder = REPO / "examples" / "my_ladder.py"
    cases = (
        (("--policy-file", str(f), "--policy", "crossing"), "db_2 = 0.25 < db_1 = 0.5"),
        (("--policy-file", str(ladder), "--policy", "three_levels", "--set", "limit=3"), "limit: policy three_levels"),
    )
    for args, needle in cases:
        p = subprocess.run(
            [sys.executable, "-m", "flatbook", "backtest", str(data), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr, p.stderr


def test_real_depth_data_fills_at_several_levels_and_is_deterministic():
    """The three-level example ladder on the USDⓈ-M BTCUSDT depth capture (limit 6 BTC): fills at every level,
    some behind the touch, q within the limit, and the same numbers bit for bit twice."""
    ev = api.load_data(shared_data("binance/usdm_btcusdt_20240808.gz"), book="depth")
    load_policy_file(REPO / "examples" / "my_ladder.py", "three_levels")
    cfg = replay_config(ev, "three_levels", {"limit": 6.0})
    a, b = (run_backtest(ev, cfg, BacktestOptions(queue="l2")) for _ in range(2))
    s = a.summary
    assert s["fills"] > 1000 and np.abs(a.path["q"]).max() <= 6.0
    assert set(s["fills_by_level"]) == {"1", "2", "3"} and min(s["fills_by_level"].values()) > 0
    assert sum(s["fills_by_level"].values()) == s["fills"] and s["fills_behind_touch"] > 0
    for k in a.fills:
        assert np.array_equal(a.fills[k], b.fills[k], equal_nan=a.fills[k].dtype.kind == "f"), k
    for k in ("q", "cash", "bid", "ask"):
        assert np.array_equal(a.path[k], b.path[k], equal_nan=True), k
    assert {k: v for k, v in a.summary.items() if k != "timing"} == {
        k: v for k, v in b.summary.items() if k != "timing"
    }


def test_too_few_output_rows_rerun_with_more_and_the_same_numbers(monkeypatch):
    """The kernel stops (−1) when its fill or request rows run out; the backtester reruns it with four times more
    rows, and the seeded rerun gives the numbers of a run that never ran out."""
    tp = Tape().quote(1).trade(2, 98.0, 9.0, -1).trade(2.2, 97.0, 7.0, -1).quote(3).trade(4, 90.0, 50.0, -1)
    ref = _run(tp.table(), limit=3.0, min_requote_ms=1000.0)
    out, caps = B._out, []

    def first_too_small(n, cap):
        caps.append(cap)
        return out(n, 1 if cap == 2 * n + 2 else cap)  # the first try of each run: one row only

    monkeypatch.setattr(B, "_out", first_too_small)
    res = _run(tp.table(), limit=3.0, min_requote_ms=1000.0)
    n = len(tp.rows)
    assert caps[-2:] == [2 * n + 2, 4 * (2 * n + 2)]
    for k in ref.fills:
        assert np.array_equal(ref.fills[k], res.fills[k], equal_nan=True), k
    for k in ref.requests:
        assert np.array_equal(ref.requests[k], res.requests[k]), k
    assert np.array_equal(ref.path["q"], res.path["q"]) and np.array_equal(ref.path["cash"], res.path["cash"])
