"""One Strategy for backtest and live (issue 14 §5): the two engines make the same decisions on the same tape.

The replay loop (:mod:`flatbook.backtest.engine`) and the live engine (:mod:`flatbook.live.engine`, paper venue,
replay feed) both decide with :mod:`flatbook.strategy`: the policy and controls (zones and their actions, the kill
switch's flatten-only quotes), the requote rule (min_requote, refresh ticks), the room under the limit, financing.
Here they run on the same 30,000 events of Binance USDⓈ-M BTCUSDT (2024-08-08, about 140 s) with zero latency,
and every order request (decision time, side, price, size; cancels included) and every fill (time, side, price,
size, fee) must be the same, in the same order, bit for bit. The live run goes through the runner, as
``flatbook live`` does (settings, journal, paper venue); its requests are read back from its journal.

The engines still differ where their worlds do, so the settings keep those out of the way: the live engine sizes
an order to the room left after its resting orders (worst case) while the replay cuts it when it arrives, so the
limit is set where it never binds (the critical zone flattens first); the live order throttle and session flatten
are off (``max_orders_per_s`` 1e6, ``session_end_s`` 1e9).
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data
from flatbook.backtest.backtester import BacktestOptions, replay_config, run_backtest
from flatbook.data.load import load
from flatbook.live.runner import run
from flatbook.live.settings import parse_settings
from flatbook.policies.compile import python_form as py
from flatbook.strategy import accrual, flatten, requote

USDM = "binance/usdm_btcusdt_20240808.gz"
N_EVENTS = 30_000
ZONES = {"yellow": 0.3, "red": 0.6, "critical": 1.0, "red_action": "skew", "critical_action": "flatten"}
CASES = {
    # linear skew through every zone, financing both ways; the drawdown kill switch fires near the end
    "linear-skew": (
        {**ZONES, "limit": 5.0, "financing_long": 0.5, "financing_short": 0.3, "max_drawdown": 100.0},
        {"min_requote_ms": 20.0, "refresh_ticks": 2.0},
    ),
    # finite-horizon Avellaneda–Stoikov: quotes that move with time alone (a decision at every due event,
    # the step and the time to go from the event's time); the market parameters are set, not fitted
    "avellaneda-stoikov": (
        {**ZONES, "limit": 5.0, "sigma": 4.7, "A": 31.6, "k": 34.4, "gamma": 3.2e-4, "red_action": "widen"},
        {"min_requote_ms": 50.0, "refresh_ticks": 1.0},
    ),
}


@pytest.fixture(scope="module")
def tape(tmp_path_factory):
    """The first 30,000 events, and the same events as a flatbook events file for the live replay feed."""
    ev = load(shared_data(USDM)).take(np.arange(N_EVENTS))
    path = ev.to_parquet(tmp_path_factory.mktemp("tape") / "events.parquet")
    return ev, path


def live_run(
    tmp: Path,
    events: Path,
    policy: str,
    params: dict,
    requote_ms: float,
    refresh_ticks: float,
    policy_file: str | None = None,
):
    """``flatbook live``'s run on the events file (paper venue, zero latency); (summary, orders, fills) from its
    journal: orders as rows (ts, side, price, size, taker), fills as rows (ts, side, price, qty, fee)."""
    s = parse_settings(
        {
            "run": {"policy": policy, **({"policy_file": policy_file} if policy_file else {})},
            "params": params,
            "feed": {"kind": "replay", "path": str(events), "format": "events"},
            "venue": {"kind": "paper", "feed_latency": 0.0, "order_latency": 0.0},
            "risk": {
                "min_requote_ms": requote_ms,
                "refresh_ticks": refresh_ticks,
                "session_end_s": 1e9,
                "max_orders_per_s": 1e6,
            },
            "journal": {"path": str(tmp / "journal.sqlite")},
            "api": {"enabled": False},
        }
    )
    summary = asyncio.run(run(s))
    db = sqlite3.connect(tmp / "journal.sqlite")
    orders = np.array(db.execute("SELECT ts, side, price, size, taker FROM orders ORDER BY n").fetchall(), float)
    fills = np.array(db.execute("SELECT ts, side, price, qty, fee FROM fills ORDER BY id").fetchall(), float)
    db.close()
    return summary, orders.reshape(-1, 5), fills.reshape(-1, 5)


@pytest.mark.parametrize("policy", list(CASES))
def test_backtest_and_live_make_the_same_decisions_on_the_same_tape(tmp_path, tape, policy):
    ev, events = tape
    params, risk = CASES[policy]
    bt = run_backtest(
        ev,
        replay_config(ev, policy, params),
        BacktestOptions(min_requote_ms=risk["min_requote_ms"], refresh_ticks=risk["refresh_ticks"]),
    )
    live, orders, fills = live_run(tmp_path, events, policy, params, risk["min_requote_ms"], risk["refresh_ticks"])
    r, f, s = bt.requests, bt.fills, bt.summary

    # the same order requests, one by one: decision time (ns), side (+1 buy), price, size (0 = cancel)
    assert not orders[:, 4].any()  # no immediate-or-cancel order: no session flatten, no exit flatten
    want = np.column_stack([r["ts"], r["side"], r["px"], r["size"]]).astype(float)
    assert orders.shape[0] == want.shape[0] == s["requests"] > 300
    assert np.array_equal(orders[:, :4], want)
    # the same fills: time, side, price, size and fee
    got_f = np.column_stack([f["ts"], f["side"], f["px"], f["qty"], f["fee"]]).astype(float)
    assert fills.shape[0] == got_f.shape[0] == s["fills"] == live["fills"] > 100
    assert np.array_equal(fills, got_f)
    # hence the same position, financing and PnL, bit for bit
    assert live["position"] == s["final_q"]
    assert -live["pnl"]["financing"] == s["financing"]
    assert live["pnl"]["total"] == s["pnl_final"]
    assert live["killed"] == (s["kill_reason"] is not None)

    # the decisions were not trivial: every zone was reached, prices moved both ways
    assert s["time_in_yellow_frac"] > 0 and s["time_in_red_frac"] > 0 and s["time_in_critical_frac"] > 0
    assert len(np.unique(r["px"][r["side"] > 0])) > 20 and len(np.unique(r["px"][r["side"] < 0])) > 20
    if policy == "linear-skew":
        assert s["kill_reason"] == "drawdown" and s["financing"] > 0
        t_kill = ev.ts[0] + round(s["kill_time_s"] * 1e9)
        after = r["ts"] >= t_kill
        assert after.any()
        # after the kill switch: only flatten-side orders, never larger than the position they flatten
        q_at = f["q"][np.searchsorted(f["ts"], r["ts"][after], side="right") - 1]  # q when the request was made
        assert np.all(r["size"][after] <= np.abs(q_at) + 1e-12)
        live_side = r["size"][after] > 0
        assert np.all(r["side"][after][live_side] == -np.sign(q_at[live_side]))  # only the side that reduces |q|
        assert (r["size"][after][live_side] < 0.1 - 1e-12).any()  # sized to |q| once it is below the clip


def test_the_rules_live_calls_are_the_replays_compiled_rules():
    """The live engine runs each scalar rule's Python source (:func:`~flatbook.policies.compile.python_form`), the
    replay its compiled copy: on the same inputs they give the same numbers (IEEE arithmetic, no fastmath),
    including the edge cases; and the Python source calls no numba dispatcher (it would cost ~1.5 µs a call)."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        q, dt = float(rng.choice([0.0, -0.3, 1.7, rng.normal()])), float(rng.exponential())
        fl, fs = float(rng.exponential()), float(rng.exponential())
        assert accrual.financing(q, dt, fl, fs) == py(accrual.financing)(q, dt, fl, fs)
        sz, want = float(rng.choice([0.0, 0.1, 0.3])), float(rng.choice([0.0, 0.1, 0.3]))
        p_t, want_p = int(rng.integers(990, 1010)), int(rng.integers(990, 1010))
        room = float(rng.choice([math.inf, 0.25, -0.1, 0.0, 0.3]))
        args = (sz, p_t, want, want_p, 2.0 * (1 - 1e-9), room, 0.1)
        assert tuple(requote.requote_side(*args)) == py(requote.requote_side)(*args)
        bid, ask = 100.0 + float(rng.integers(0, 5)) / 10, 100.5 + float(rng.integers(0, 5)) / 10
        assert tuple(flatten.flatten_order(q, bid, ask, 1.0, 0.1)) == py(flatten.flatten_order)(q, bid, ask, 1.0, 0.1)
    # the requote rule: a quoted side moved by less than the refresh is kept, a size change is always sent,
    # a cut to the room under the limit that leaves the size unchanged sends nothing
    assert py(requote.requote_side)(0.1, 1001, 0.1, 1000, 2.0 * (1 - 1e-9), math.inf, 0.1) == (False, 0.1)
    assert py(requote.requote_side)(0.1, 1002, 0.1, 1000, 2.0 * (1 - 1e-9), math.inf, 0.1) == (True, 0.1)
    assert py(requote.requote_side)(0.0, 0, 0.1, 1000, 2.0, math.inf, 0.1) == (True, 0.0)  # a cancel
    assert py(requote.requote_side)(0.3, 1000, 0.2, 1000, 1.0, 0.25, 0.1)[1] == pytest.approx(0.2)
    assert py(requote.requote_side)(0.3, 1000, 0.2, 1000, 1.0, 0.25, 0.1)[0] is False
    # a decision is due min_requote after the last request, and then only when an input changed (or timed/forced)
    last = (100.0, 0.2, 0.3, 0.0)
    for timed in (False, True):
        for force in (False, True):
            for state in ((100.0, 0.2, 0.3, False), (100.1, 0.2, 0.3, False), (100.0, 0.2, 0.3, True)):
                for t in (1_000, 5_000):
                    args = (timed, force, last, *state, t, 0, 2_000)
                    due = py(requote.decision_due)(*args)
                    assert requote.decision_due(*args) == due
                    assert due == (t >= 2_000 and (timed or force or state != (100.0, 0.2, 0.3, False)))
    assert not hasattr(py(requote.decision_due).__globals__["inputs_unchanged"], "py_func")
    assert not hasattr(py(requote.requote_side).__globals__["room_size"], "py_func")
    assert py(flatten.flatten_order)(0.0, 100.0, 100.5, 1.0, 0.1) == (-1, 0, 0.0)
    assert py(flatten.flatten_order)(2.0, 100.0, 100.5, 1.0, 0.1) == (1, 990, 2.0)  # sell at bid − 1
    assert py(flatten.flatten_order)(-2.0, 100.0, 100.5, 1.0, 0.1) == (0, 1015, 2.0)  # buy at ask + 1


def test_paper_venue_cache_key_follows_the_replay_matching_it_inlines():
    """The paper venue inlines the replay's matching (backtest/engine.py): its on-disk cache key holds that file's
    contents beside the model digest, so an edit to the matching can never leave a stale compiled venue."""
    from flatbook.backtest import engine as E
    from flatbook.live.adapters import paper_venue as PV
    from flatbook.policies import compile as C

    want = C._combine(C.model_digest(), [E.__file__])
    assert want != C.model_digest()
    for d in (PV._arrive, PV._match):
        assert d._cache._token == want
