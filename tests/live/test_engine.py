"""The live engine on real data: one formula with the simulator, pre-trade risk, throttle, flatten."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_data
from flatbook.config import build_config
from flatbook.live import risk as R
from flatbook.live.engine import Engine
from flatbook.live.journal import Journal
from flatbook.live.runner import run
from flatbook.live.settings import parse_settings
from flatbook.live.types import BUY, QUOTE, SELL, Fill, MarketEvent, OrderRequest
from flatbook.policies.quote import quote as sim_quote

AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"  # under ../shared/data (conftest.shared_data)
NS = 1_000_000_000


def replay_settings(tmp: Path, **over) -> dict:
    d = {
        "run": {"policy": "linear-skew"},
        "feed": {"kind": "replay", "path": str(shared_data(AAPL)), "stop": 20_000},
        "venue": {"kind": "paper"},
        "journal": {"path": str(tmp / "journal.sqlite")},
        "api": {"enabled": False},
    }
    for key, val in over.items():
        d.setdefault(key, {}).update(val)
    return d


def run_replay(tmp: Path, **over):
    s = parse_settings(replay_settings(tmp, **over))
    box = {}
    summary = asyncio.run(run(s, ready=lambda eng, url: box.setdefault("eng", eng)))
    return summary, box["eng"], tmp / "journal.sqlite"


# ---------------------------------------------------------------- one formula, one place
POLICIES = ("symmetric", "linear-skew", "avellaneda-stoikov", "glft")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    policy=st.sampled_from(POLICIES),
    q=st.integers(-20, 20),
    mid=st.floats(50.0, 150.0),
    spread_ticks=st.integers(1, 40),
    t=st.floats(0.0, 3599.0),
)
def test_live_quotes_equal_the_simulators(tmp_path_factory, policy, q, mid, spread_ticks, t):
    """Same state (q, mid, t, market touch) ⇒ the engine's quotes equal flatbook.policies.quote.quote's."""
    tick = 0.01
    mid = round(mid / tick) * tick + (tick / 2 if spread_ticks % 2 else 0.0)
    spread = spread_ticks * tick
    params = {
        "s0": 100.0,
        "tick": tick,
        "half_spread": 0.05,
        "skew": 0.004,
        "size": 1.0,
        "limit": 20.0,
        "yellow": 8.0,
        "red": 12.0,
        "critical": 16.0,
        "yellow_action": "widen",
        "red_action": "skew",
        "critical_action": "flatten",
        "sigma": 0.02,
        "gamma": 0.5,
        "A": 1.0,
        "k": 40.0,
        "T": 3600.0,
        "market_spread": spread,
    }
    cfg = build_config("replay", policy, params, paths=1)
    j = Journal(tmp_path_factory.mktemp("j") / "j.sqlite")
    eng = Engine(cfg, j, None, tick=tick, lot=1.0, t0_ns=0)
    if q:
        eng.on_fills([Fill("f", "", BUY if q > 0 else SELL, mid, abs(q), 0.0, 0)])
    ts = int(round(t * NS))
    eng.on_market(MarketEvent(0, ts, QUOTE, mid - spread / 2, 1.0, mid + spread / 2, 1.0))
    live = eng.quote
    ref = sim_quote(cfg, float(q), mid, ts / NS)
    for side in ("bid", "ask"):
        if getattr(ref, side) is None:
            assert live[side] is None
        else:
            assert live[side] == pytest.approx(getattr(ref, side), abs=1e-9)
    assert live["bid_size"] == ref.bid_size and live["ask_size"] == ref.ask_size
    assert eng.zone == ref.zone
    if ref.half_spread == ref.half_spread and math.isfinite(ref.half_spread):
        assert live["half_spread"] == pytest.approx(ref.half_spread, rel=1e-12, abs=1e-12)
        assert live["centre"] == pytest.approx(ref.centre, rel=1e-12)
    j.close()


# ---------------------------------------------------------------- pre-trade risk
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    q=st.integers(-30, 30),
    exposure=st.integers(0, 10),
    size=st.integers(0, 10),
    side=st.sampled_from((BUY, SELL)),
    killed=st.booleans(),
)
def test_pre_trade_limit_check_is_the_worst_case(q, exposure, size, side, killed):
    """A request passes the limit check iff every same-side order filling in full keeps |q| ≤ limit."""
    risk = R.PreTradeRisk(limit=20.0, max_per_s=1e9, lot=1.0)
    why = risk.check(side, float(size), float(q), float(exposure), 0, killed)
    worst = q + side * (exposure + size)
    reduces = abs(q + side * size) < abs(q) and abs(worst) <= abs(q)
    if size == 0:
        assert why is None  # cancels always pass
    elif killed and not reduces:
        assert why == R.KILLED
    elif abs(worst) > 20:
        assert why == R.LIMIT
    else:
        assert why is None


def test_rejection_at_the_limit_is_journaled_counted_and_alerted(tmp_path):
    cfg = build_config(
        "replay",
        "linear-skew",
        {
            "s0": 100.0,
            "tick": 0.01,
            "size": 5.0,
            "limit": 10.0,
            "yellow": math.inf,
            "red": math.inf,
            "critical": math.inf,
        },
        paths=1,
    )
    j = Journal(tmp_path / "j.sqlite")

    class Venue:  # records hand-offs; the engine needs nothing else here
        name = "record"
        sent: list = []

        def set_listeners(self, *a):
            pass

        def submit(self, req):
            self.sent.append(req)

    eng = Engine(cfg, j, Venue(), tick=0.01, lot=1.0, t0_ns=0)
    eng.on_fills([Fill("f1", "", BUY, 100.0, 8.0, 0.0, 0)])  # q = 8: 2 lots of room
    eng.on_market(MarketEvent(0, 1, QUOTE, 99.99, 5.0, 100.01, 5.0))
    bids = [r for r in Venue.sent if r.side == BUY and r.size > 0]
    assert bids and all(r.size <= 2.0 for r in bids)  # sized to the room, not rejected
    assert eng.rejected == 0
    # a request that could take q past the limit (resting 2 + 3 more at q = 8) is refused
    bad = OrderRequest(eng.cid_prefix + "999", BUY, 99.9, 3.0, 2)
    assert not eng._check(bad, eng._exposure(BUY))
    assert eng.rejected == 1
    row = j.db.execute("SELECT client_id, size, reason FROM rejects").fetchall()
    assert row == [(bad.client_id, 3.0, R.LIMIT)]
    assert eng.alerts.recent[-1].kind == "order_rejected" and "hard limit" in eng.alerts.recent[-1].message
    j.close()


def test_position_never_passes_the_limit_on_real_data(tmp_path):
    """AAPL replay with a 3-clip limit: the journaled fills never take |q| past it; sizing avoids rejections."""
    summary, eng, path = run_replay(tmp_path, params={"limit": 300.0, "yellow": 100.0, "red": 200.0, "critical": 300.0})
    db = sqlite3.connect(path)
    sq = np.array([s * q for s, q in db.execute("SELECT side, qty FROM fills ORDER BY id")])
    assert sq.size > 100
    path_q = np.cumsum(sq)
    assert np.abs(path_q).max() <= 300.0
    assert np.abs(path_q).max() == 300.0  # it does reach the limit on this tape
    assert summary["rejected_orders"] == 0
    assert path_q[-1] == summary["position"]


# ---------------------------------------------------------------- throttle
def test_throttle_unit():
    risk = R.PreTradeRisk(limit=1e9, max_per_s=5, lot=1.0)
    got = [risk.check(BUY, 1.0, 0.0, 0.0, i * 1000, False) for i in range(8)]
    assert got == [None] * 5 + [R.THROTTLE] * 3
    assert risk.check(BUY, 0.0, 0.0, 0.0, 9000, False) is None  # a cancel passes
    assert risk.check(BUY, 1.0, 0.0, 0.0, NS + 500, False) == R.THROTTLE  # 1000..4000 and the cancel: 5 in the last 1 s
    assert risk.check(BUY, 1.0, 0.0, 0.0, NS + 9000, False) is None  # the window has moved on


def test_engine_never_exceeds_the_order_rate(tmp_path):
    summary, eng, path = run_replay(tmp_path, risk={"max_orders_per_s": 4})
    db = sqlite3.connect(path)
    ts = np.array([r[0] for r in db.execute("SELECT ts FROM orders WHERE size > 0 ORDER BY n")], np.int64)
    assert ts.size > 100
    # requests in the 1 s window ending at each request (the window is (t − 1 s, t])
    in_window = np.arange(ts.size) - np.searchsorted(ts, ts - NS, side="right") + 1
    assert in_window.max() <= 4
    assert summary["rejected_orders"] == 0 and eng.deferred > 0  # the engine paced itself


# ---------------------------------------------------------------- end-of-session flatten
def test_end_of_session_flatten(tmp_path):
    summary, eng, path = run_replay(tmp_path, risk={"session_end_s": 600.0})
    end = eng.t0 + 600 * NS
    db = sqlite3.connect(path)
    assert summary["position"] == 0.0
    assert summary["fills"] > 50
    # after the session end: only cancels and immediate-or-cancel orders, and q reached 0
    late = db.execute("SELECT size, taker FROM orders WHERE ts >= ?", (end,)).fetchall()
    assert late and all(size == 0.0 or taker == 1 for size, taker in late)
    takers = db.execute("SELECT COUNT(*) FROM fills WHERE liquidity = 'taker'").fetchone()[0]
    q_before = db.execute("SELECT COALESCE(SUM(side * qty), 0) FROM fills WHERE ts < ?", (end,)).fetchone()[0]
    assert (takers > 0) == (q_before != 0)
    kinds = [a.kind for a in eng.alerts.recent]
    assert "flatten" in kinds
    assert not eng.open


def test_ccxt_settings_build_the_ccxt_adapters_without_touching_the_network(tmp_path, monkeypatch):
    """LIVE.toml with feed and venue kind = "ccxt" wires CcxtFeed and CcxtVenue (nothing connects before start)."""
    from flatbook.live.adapters.ccxt_adapter import CcxtFeed, CcxtVenue
    from flatbook.live.runner import build

    monkeypatch.setenv("FLATBOOK_API_KEY", "k")
    monkeypatch.setenv("FLATBOOK_API_SECRET", "s")
    s = parse_settings(
        {
            "run": {"policy": "linear-skew"},
            "params": {
                "s0": 60000.0,
                "tick": 0.01,
                "size": 0.001,
                "limit": 0.01,
                "yellow": 0.004,
                "red": 0.006,
                "critical": 0.008,
            },
            "live": {"lot": 0.00001},
            "feed": {"kind": "ccxt", "exchange": "binance", "symbol": "BTC/USDT", "poll_s": 0.5},
            "venue": {"kind": "ccxt", "exchange": "binance", "symbol": "BTC/USDT", "sandbox": False},
            "journal": {"path": str(tmp_path / "j.sqlite")},
            "api": {"enabled": False},
        }
    )
    eng, venue, feed, ev = build(s)
    assert isinstance(venue, CcxtVenue) and isinstance(feed, CcxtFeed) and ev is None
    assert eng.mode == "trade" and eng.venue is venue and eng.lot == 0.00001
    eng.journal.close()


@pytest.mark.parametrize(
    "tables, field",
    [
        (
            {"feed": {"kind": "ccxt", "symbol": "BTC/USDT"}, "venue": {"kind": "none"}, "live": {"mode": "monitor"}},
            "feed.exchange",
        ),
        ({"feed": {"kind": "api"}}, "feed.kind"),
        ({"live": {"mode": "monitor"}, "feed": {"kind": "api"}, "venue": {"kind": "paper"}}, "venue.kind"),
        ({"feed": {"kind": "replay"}}, "feed.path"),
        ({"risk": {"max_orders_per_s": 0}}, "risk.max_orders_per_s"),
        ({"journal": {"synchronous": "sometimes"}}, "journal.synchronous"),
        ({"alerts": {"webhook": "ftp://x"}}, "alerts.webhook"),
        ({"venue": {"order_latency": "weird:1"}}, "venue.order_latency"),
    ],
)
def test_bad_settings_name_the_field(tables, field):
    from flatbook.errors import InputError

    base = {"feed": {"kind": "replay", "path": str(shared_data(AAPL))}}
    for k, v in tables.items():
        base[k] = {**base.get(k, {}), **v} if k != "feed" else v
    with pytest.raises(InputError) as e:
        parse_settings(base)
    assert e.value.field == field
