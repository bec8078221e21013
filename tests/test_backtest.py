"""The event-driven backtester on hand-made tapes: queue position, latency, limits, one policy interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import prop
from flatbook.backtest import BacktestOptions, Latency, run_backtest
from flatbook.config import build_config
from flatbook.data.events import QUOTE, TRADE, EventMeta, EventTable, empty_columns
from flatbook.errors import InputError
from flatbook.policies.quote import quote

NS = 1_000_000_000
MS = 1_000_000


class Tape:
    """Build a tape row by row; the book is carried forward between rows."""

    def __init__(self, bid=99.0, ask=101.0, bid_sz=5.0, ask_sz=5.0):
        self.book = dict(bid_px=bid, ask_px=ask, bid_sz=bid_sz, ask_sz=ask_sz)
        self.rows: list[dict] = []

    def quote(self, ts, **book):
        alias = {"bid": "bid_px", "ask": "ask_px"}
        self.book.update({alias.get(k, k): v for k, v in book.items()})
        self.rows.append(dict(ts=ts, kind=QUOTE, **self.book))
        return self

    def trade(self, ts, px, qty, side):
        self.rows.append(dict(ts=ts, kind=TRADE, px=px, qty=qty, side=side, **self.book))
        return self

    def table(self, tick=1.0, lot=0.5) -> EventTable:
        cols = empty_columns(len(self.rows))
        for i, r in enumerate(self.rows):
            for k, v in r.items():
                cols[k][i] = v
        return EventTable(**cols, meta=EventMeta("TEST", "hand", tick, lot))


def cfg(policy="symmetric", **ov):
    base = dict(half_spread=1.0, T=100.0, s0=100.0, tick=1.0, size=2.0)
    base.update(ov)
    return build_config("replay", policy, base, paths=1)


def run(tape, c=None, **opts):
    return run_backtest(tape.table(), c or cfg(), BacktestOptions(**opts))


# ------------------------------------------------------------------------ queue position
@prop(max_examples=40)
@given(ahead=st.integers(0, 12), size=st.integers(1, 4), clip=st.integers(1, 3))
def test_quote_behind_a_size_fills_only_after_that_much_volume(ahead, size, clip):
    """We join the bid at 99 behind ``ahead`` lots. Sell prints of ``clip`` lots at 99: the
    first fill comes when the cumulative printed volume passes ``ahead``, and the fill sizes
    are exactly the volume beyond it, up to our size."""
    tape = Tape(bid_sz=float(ahead)).quote(0)
    for i in range(1, 40):
        tape.trade(i * NS, 99.0, float(clip), -1)
    res = run(tape, cfg(size=float(size)))
    f = res.fills
    cum = np.arange(1, 40) * clip  # volume printed after each trade
    expect = np.clip(np.minimum(cum, ahead + size) - np.maximum(cum - clip, ahead), 0, None)
    expect_ts = (np.flatnonzero(expect > 0) + 1) * NS
    m = expect_ts.size  # the first order's fills (then a new order)
    assert np.array_equal(f["ts"][:m], expect_ts)
    assert np.allclose(f["qty"][:m], expect[expect > 0])
    assert f["qty"][:m].sum() == size and np.all(f["side"] == 1) and np.all(f["px"] == 99.0)


def test_trade_through_fills_regardless_of_queue():
    tape = Tape(bid_sz=1000.0).quote(0).trade(NS, 98.0, 1.0, -1)
    res = run(tape)
    assert res.fills["qty"].tolist() == [2.0] and res.fills["px"].tolist() == [99.0]


def test_inside_the_spread_we_are_first_in_line():
    """Spread 97/103, our half-spread 1 around 100: bid 99 is inside, so the first print there fills us."""
    tape = Tape(bid=97.0, ask=103.0, bid_sz=50.0).quote(0).trade(NS, 99.0, 1.0, -1)
    res = run(tape)
    assert res.fills["qty"].tolist() == [1.0] and res.fills["ts"].tolist() == [NS]


def test_prorata_cancels_move_us_up():
    """Level 10 ahead of us; the visible size falls to 6 with no trade: 4 lots cancelled,
    pro rata ahead ← 10·(1 − 4/10) = 6. Then prints of 6 leave us first; the 7th lot fills us."""
    tape = Tape(bid_sz=10.0).quote(0).quote(NS, bid_sz=6.0)
    tape.trade(2 * NS, 99.0, 6.0, -1).trade(3 * NS, 99.0, 1.0, -1)
    res = run(tape, queue="prorata")
    assert res.fills["ts"].tolist() == [3 * NS] and res.fills["qty"].tolist() == [1.0]


def test_prorata_partial_cancel():
    """ahead 8 of 10 visible (we joined when 8 were there, 2 more came behind): a cancel of 5 →
    ahead = 8·(1 − 5/10) = 4."""
    tape = Tape(bid_sz=8.0).quote(0).quote(NS, bid_sz=10.0).quote(2 * NS, bid_sz=5.0)
    tape.trade(3 * NS, 99.0, 4.0, -1).trade(4 * NS, 99.0, 1.0, -1)
    res = run(tape, queue="prorata")
    assert res.fills["ts"].tolist() == [4 * NS]


def test_printed_volume_is_not_counted_twice_as_cancels():
    """Binance-style: a trade row keeps the old book; the next book update shows the level
    down by the printed size. That drop is the trade, not cancels: ahead stays 10 − 3 = 7."""
    tape = Tape(bid_sz=10.0).quote(0).trade(NS, 99.0, 3.0, -1).quote(2 * NS, bid_sz=7.0)
    tape.trade(3 * NS, 99.0, 7.0, -1).trade(4 * NS, 99.0, 1.0, -1)
    res = run(tape, queue="prorata")
    assert res.fills["ts"].tolist() == [4 * NS]


def test_prob_queue_takes_cancels_ahead_with_probability_ahead_over_level():
    """One cancel of 4 from a level of 10 with us behind 6 (4 joined behind us):
    it is ahead of us with probability 6/10. Over seeds, the share of runs in which the
    next print of 2 fills us (ahead 6 − 4 = 2 → print of 2 exhausts it, then 1 fills)
    estimates 0.6; tolerance 4 binomial SE."""
    tape = Tape(bid_sz=6.0).quote(0).quote(NS, bid_sz=10.0).quote(2 * NS, bid_sz=6.0)
    tape.trade(3 * NS, 99.0, 2.0, -1).trade(4 * NS, 99.0, 1.0, -1)
    ev = tape.table()
    n = 400
    hits = sum(run_backtest(ev, cfg(), BacktestOptions(queue="prob", seed=s)).summary["fills"] > 0 for s in range(n))
    se = math.sqrt(0.6 * 0.4 / n)
    assert abs(hits / n - 0.6) < 4 * se


def test_book_reaching_our_price_fills_us():
    tape = Tape().quote(0).quote(NS, ask=99.0, bid=98.0)
    res = run(tape)
    assert res.fills["qty"].tolist() == [2.0] and res.fills["px"].tolist() == [99.0]


# ------------------------------------------------------------------------------ latency
@pytest.mark.parametrize("feed_ms,order_ms", [(0, 0), (0, 7), (3, 0), (3, 7), (20, 35)])
def test_latency_shifts_fills_exactly(feed_ms, order_ms):
    """Inside-spread bid of 1 lot (first in line), a sell print of ½ lot every ms. An order
    decided on the event at t is live from t + feed + order latency (a request arriving at a
    print's ns is there for it); each order fills on two prints, and the event of its last
    fill triggers the next order. So, from t = 0, the fill times follow by hand."""
    tape = Tape(bid=97.0, ask=103.0).quote(0)
    for i in range(1, 100):
        tape.trade(i * MS, 99.0, 0.5, -1)
    res = run(tape, cfg(size=1.0), feed_latency=Latency("const", feed_ms), order_latency=Latency("const", order_ms))
    lat = (feed_ms + order_ms) * MS
    expect, decided = [], 0
    while True:
        # the first print after the deciding event and at or after the request's arrival
        first = max(decided + MS, -(-(decided + lat) // MS) * MS)
        if first + MS > 99 * MS:
            break
        expect += [first, first + MS]
        decided = first + MS
    n = len(expect)
    assert res.fills["ts"][:n].tolist() == expect
    assert res.fills["ts"][0] == max(lat, MS)


def test_random_latency_is_reproducible_and_seeded():
    tape = Tape(bid=97.0, ask=103.0).quote(0)
    for i in range(1, 300):
        tape.trade(i * MS, 99.0 if i % 2 else 101.0, 0.5, -1 if i % 2 else 1)
        tape.quote(i * MS + 1, bid=97.0 + (i % 3 == 0), ask=103.0)
    ev = tape.table()
    o = dict(feed_latency=Latency.parse("f", "exp:2"), order_latency=Latency.parse("o", "uniform:1,5"), queue="prob")
    a = run_backtest(ev, cfg(), BacktestOptions(seed=7, **o))
    b = run_backtest(ev, cfg(), BacktestOptions(seed=7, **o))
    c = run_backtest(ev, cfg(), BacktestOptions(seed=8, **o))
    assert a.summary["fills"] > 20
    for k in a.fills:
        assert np.array_equal(a.fills[k], b.fills[k], equal_nan=True)
    for k in ("q", "cash", "bid", "ask"):
        assert np.array_equal(a.path[k], b.path[k], equal_nan=True)
    assert not np.array_equal(a.fills["ts"], c.fills["ts"])


@pytest.mark.parametrize(
    "spec,msg",
    [
        ("exp", "needs 1 number"),
        ("gamma:3", "unknown latency"),
        ("uniform:5,2", "LO <= HI"),
        ("-1", "from 0"),
        ("abc", "not a number"),
        ("const:nan", "from 0"),
    ],
)
def test_bad_latency_specs(spec, msg):
    with pytest.raises(InputError, match=msg):
        Latency.parse("--latency-ms", spec)


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(queue="fifo"), "--queue"),
        (dict(min_requote_ms=-1.0), "--min-requote-ms"),
        (dict(refresh_ticks=math.inf), "--refresh-ticks"),
    ],
)
def test_bad_options(kw, field):
    with pytest.raises(InputError, match=field):
        BacktestOptions(**kw)


# --------------------------------------------------------------------------- controls
def test_hard_limit_under_one_sided_flow():
    """Every event is a sell print through our bid: we buy until the limit and never past it."""
    tape = Tape(bid_sz=0.0).quote(0)
    for i in range(1, 200):
        tape.trade(i * MS, 90.0, 3.0, -1)
        tape.quote(i * MS + 1)
    res = run(tape, cfg(policy="linear-skew", skew=0.01, limit=7.0, size=3.0))
    q = res.path["q"]
    assert q.max() == 7.0 and np.all(q <= 7.0)
    assert res.summary["time_at_limit_frac"] > 0.9


def test_requote_rules():
    """min_requote_ms spaces the requests; refresh_ticks keeps an order whose price moved less."""
    tape = Tape().quote(0)
    for i in range(1, 101):
        tape.quote(i * MS, bid=99.0 + (i % 2), ask=101.0 + (i % 2))  # mid flips 100 ↔ 101 every ms
    base = run(tape)
    spaced = run(tape, min_requote_ms=10.0)
    lazy = run(tape, refresh_ticks=2.0)
    assert base.summary["requests"] == 2 * 101  # both sides, every event

    # the rule by hand: a request when ≥ 10 ms since the last one and the quote moved
    last, want, sent = -(10**18), None, 0
    for i in range(101):
        mid = 100.0 + (i % 2)
        if i * MS - last >= 10 * MS and mid != want:
            sent, last, want = sent + 2, i * MS, mid
    assert spaced.summary["requests"] == sent and sent < base.summary["requests"]
    assert lazy.summary["requests"] == 2  # a 1-tick move is never worth a resend


def test_quotes_are_the_policy_objects_quotes():
    """One policy interface: the backtester's quotes equal flatbook.policies.quote.quote for
    the same state (mid, q, t, the market spread as the touch) — here A–S with its skew. With
    zero latency the order decided on event e is the live order on event e + 1; on the book
    rows after each trade nothing fills, so that order is what the path shows."""
    tape = Tape(bid=99.0, ask=101.0, bid_sz=0.0, ask_sz=0.0).quote(0)
    for i in range(1, 30):
        tape.trade(i * NS, 98.0 if i % 3 else 102.0, 1.0, -1 if i % 3 else 1)
        tape.quote(i * NS + 1)
    c = cfg(policy="avellaneda-stoikov", gamma=0.05, sigma=0.5, A=1.0, k=1.0, T=40.0, tick=0.01, size=1.0)
    res = run(tape, c, refresh_ticks=0.0)
    ev = tape.table()
    qc = build_config(
        "replay",
        "avellaneda-stoikov",
        {**{k: v for k, v in c.values.items() if k in c.user_keys}, "market_spread": 2.0},
        paths=1,
    )
    rows = [e for e in range(1, len(ev)) if ev.kind[e] == QUOTE]
    assert len(rows) == 29 and len(set(res.path["q"][rows])) > 3  # the skew is exercised
    for e in rows:
        x = quote(qc, float(res.path["q"][e - 1]), 100.0, (ev.ts[e - 1] - ev.ts[0]) / NS)
        assert res.path["bid"][e] == pytest.approx(x.bid, abs=1e-9)
        assert res.path["ask"][e] == pytest.approx(x.ask, abs=1e-9)


def test_kill_switch_flattens():
    tape = Tape(bid_sz=0.0).quote(0)
    for i in range(1, 50):
        tape.trade(i * MS, 99.0 - i, 1.0, -1)  # we keep buying as the market falls
        tape.quote(i * MS + 1, bid=98.0 - i, ask=100.0 - i)
    res = run(tape, cfg(max_loss=5.0, size=1.0))
    s = res.summary
    assert s["kill_reason"] == "loss" and s["kill_time_s"] is not None
    after = res.path["ts"] > int(s["kill_time_s"] * NS)
    assert np.all(np.isnan(res.path["bid"][after][1:]))  # no bid once killed while long


def test_summary_accounting():
    """PnL = cash + q·mid; fees and markouts by hand."""
    tape = Tape(bid_sz=0.0).quote(0).trade(NS, 99.0, 1.0, -1).quote(2 * NS, bid=100.0, ask=102.0)
    tape.quote(20 * NS)
    res = run_backtest(tape.table(), cfg(size=1.0, maker_fee=0.1), BacktestOptions())
    s = res.summary
    assert s["fills"] == 1 and s["fees"] == pytest.approx(0.1)
    # bought 1 at 99, paid 0.1; the mid is 101 from t = 2 s: markout at 1 s (t = 2 s) = 101 − 99
    assert s["markout_1s"] == pytest.approx(2.0) and s["markout_10s"] == pytest.approx(2.0)
    assert s["markout_60s"] is None  # past the data's end
    # long 1 bought at 99 with a 0.1 fee, marked at the final mid 101
    assert s["final_q"] == 1.0 and s["pnl_final"] == pytest.approx(101.0 - 99.0 - 0.1, abs=1e-12)
    # liquidation sells at the final best bid 100 (no taker fee set)
    assert s["pnl_liquidated"] == pytest.approx(100.0 - 99.0 - 0.1, abs=1e-12)


def test_a_print_at_an_invisible_level_does_not_put_us_first():
    """Our bid at 98 sits behind the visible touch (99, top of book only), so the queue ahead
    of it is unknown. A print at 98 is assumed to be ahead of us; once the level shows (best
    bid 98, size 4) we join its back, and only volume beyond those 4 lots fills us."""
    tape = Tape(bid=99.0, ask=101.0, bid_sz=5.0).quote(0)
    tape.trade(NS, 98.0, 3.0, -1).quote(2 * NS, bid=98.0, ask=101.0, bid_sz=4.0)
    tape.trade(3 * NS, 98.0, 4.0, -1).trade(4 * NS, 98.0, 1.0, -1)
    res = run(tape, cfg(half_spread=2.0, size=1.0), refresh_ticks=5.0)
    assert res.fills["ts"].tolist() == [4 * NS] and res.fills["qty"].tolist() == [1.0]


def test_event_tables_from_parquet_are_writable(tmp_path):
    """Zero-copy Parquet columns are read-only; the table copies them, so the replay kernel
    sees the same array types whether the data came from a loader or from the cache."""
    ev = Tape().quote(0).trade(NS, 99.0, 1.0, -1).table()
    back = EventTable.from_parquet(ev.to_parquet(tmp_path / "ev.parquet"))
    assert all(getattr(back, c).flags.writeable for c in ("ts", "kind", "bid_px", "px", "qty", "side"))
    assert np.array_equal(back.px, ev.px, equal_nan=True)


def test_fill_prices_are_on_the_decimal_grid():
    tape = Tape(bid=99.7, ask=99.9, bid_sz=0.0).quote(0).trade(NS, 99.7, 1.0, -1)
    res = run_backtest(tape.table(tick=0.1), cfg(half_spread=0.1, s0=99.8, tick=0.1, size=1.0), BacktestOptions())
    assert res.fills["px"].tolist() == [99.7]  # not 99.70000000000002
