"""Issue 15 §1: the replay reads a full-depth tape (LEVEL/CLEAR rows, ``meta.book == "depth"``): queue position
behind the touch from the displayed book, cancels at every level, the depth's unknown stretches, and the fill rules.

Hand-made tapes, hand-computed fills. The policy is ``symmetric`` with half-spread 2 around the mid 100: our bid at
98 sits one tick behind the best bid 99 (our ask at 102 behind 101). ``refresh_ticks`` 10 keeps our orders where
they are when the touch moves.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import shared_data
from flatbook import api
from flatbook.backtest import BacktestOptions, Latency, run_backtest
from flatbook.backtest import engine as E
from flatbook.backtest.backtester import replay_config
from flatbook.config import build_config
from flatbook.data.events import CLEAR, LEVEL, QUOTE, TRADE, EventMeta, EventTable, empty_columns
from flatbook.errors import InputError

NS = 1_000_000_000


class DepthTape:
    """A tape row by row: the touch columns carried forward, LEVEL/CLEAR rows for the depth book."""

    def __init__(self):
        self.book = dict(bid_px=99.0, bid_sz=5.0, ask_px=101.0, ask_sz=5.0)
        self.rows: list[dict] = []

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

    def clear(self, t, snapshot=True):
        self.rows.append(dict(ts=int(t * NS), kind=CLEAR, qty=1.0 if snapshot else 0.0, **self.book))
        return self

    def snapshot(self, t, bids, asks):
        self.clear(t)
        for px, q in bids:
            self.level(t, 1, px, q)
        for px, q in asks:
            self.level(t, -1, px, q)
        return self

    def table(self, book="depth") -> EventTable:
        cols = empty_columns(len(self.rows))
        for i, r in enumerate(self.rows):
            for k, v in r.items():
                cols[k][i] = v
        return EventTable(**cols, meta=EventMeta("TEST", "hand", 1.0, 0.5, book=book))


def _run(ev, **opts):
    cfg = build_config("replay", "symmetric", dict(half_spread=2.0, T=100.0, s0=100.0, tick=1.0, size=2.0), paths=1)
    opts = {"refresh_ticks": 10.0, "order_latency": Latency("const", 500.0), **opts}  # orders arrive 0.5 s later
    return run_backtest(ev, cfg, BacktestOptions(**opts))


def _bid_fills(res):
    f = res.fills
    b = f["side"] > 0
    return [(int(t) / NS, float(q), float(p)) for t, q, p in zip(f["ts"][b], f["qty"][b], f["px"][b])]


def _behind_the_touch() -> DepthTape:
    """Our bid joins 98 behind its displayed 8 (the snapshot); 2 join behind us, then the level falls to 5 with
    no print: 5 cancelled of 10, pro rata ahead 8·(1 − 5/10) = 4. The touch comes down to 98 (size 5); a print
    of 4 there takes the queue, the next print of 1 fills 1 lot of ours at 98."""
    tp = DepthTape().snapshot(0, [(99.0, 5.0), (98.0, 8.0)], [(101.0, 5.0), (102.0, 4.0)])
    tp.quote(1).level(2, 1, 98.0, 10.0).level(3, 1, 98.0, 5.0)
    tp.level(4, 1, 99.0, 0.0).quote(4, bid_px=98.0, bid_sz=5.0)
    return tp.trade(5, 98.0, 4.0, -1).trade(6, 98.0, 1.0, -1)


def test_queue_position_and_cancels_behind_the_touch_come_from_the_depth_book():
    assert _bid_fills(_run(_behind_the_touch().table())) == [(6.0, 1.0, 98.0)]


def test_the_same_tape_read_at_the_touch_only_joins_the_level_when_it_shows():
    """Without the depth book (a touch tape) the bid's queue is unknown until 98 becomes the touch (size 5): it
    joins behind 5, the prints of 4 and 1 leave it first in line, unfilled."""
    assert _bid_fills(_run(_behind_the_touch().table(book="touch"))) == []


def test_level_rows_elsewhere_keep_the_printed_volume_and_the_touch_columns_rule_at_the_touch():
    """At the touch 98 (size 5, ahead 4) a print of 2 (ahead 2). A LEVEL row at 97 (another price) and one at 98
    (our level, but the touch: its size is the touch columns') change nothing; the touch's fall to 3 is that
    print, not cancels (ahead stays 2). A print of 3 then fills 1 lot. (Had a LEVEL row at another price
    forgotten the print, the fall would count as 2 cancels: ahead 2·(1 − 2/5) = 1.2 and a fill of 1.5.)"""
    tp = DepthTape().snapshot(0, [(99.0, 5.0), (98.0, 8.0)], [(101.0, 5.0), (102.0, 4.0)])
    tp.quote(1).level(2, 1, 98.0, 10.0).level(3, 1, 98.0, 5.0)
    tp.level(4, 1, 99.0, 0.0).quote(4, bid_px=98.0, bid_sz=5.0)
    tp.trade(5, 98.0, 2.0, -1).level(5.5, 1, 97.0, 6.0).level(5.6, 1, 98.0, 3.0).quote(6, bid_sz=3.0)
    tp.trade(7, 98.0, 3.0, -1)
    assert _bid_fills(_run(tp.table())) == [(7.0, 1.0, 98.0)]


def test_unknown_depth_leaves_the_queue_unknown_until_a_snapshot_shows_the_level():
    """A CLEAR 0 (a sequence gap) makes the depth unknown: the bid arrives with no queue position, a print at 98
    does not fill it. A CLEAR 1 and its snapshot (98: 6) make it known after the snapshot's rows: the bid joins
    behind 6; the touch comes down to 98, prints of 6 and 1 fill 1 lot."""
    tp = DepthTape().snapshot(0, [(99.0, 5.0), (98.0, 8.0)], [(101.0, 5.0), (102.0, 4.0)])
    tp.clear(0.2, snapshot=False).quote(1).trade(2, 98.0, 3.0, -1)
    tp.snapshot(3, [(99.0, 5.0), (98.0, 6.0)], [(101.0, 5.0), (102.0, 4.0)]).quote(4)
    tp.quote(5, bid_px=98.0, bid_sz=6.0).trade(6, 98.0, 6.0, -1).trade(7, 98.0, 1.0, -1)
    assert _bid_fills(_run(tp.table())) == [(7.0, 1.0, 98.0)]


def test_fill_rule_through_fills_only_on_a_print_through_our_price():
    """The tape of the first test with ``through``: the prints at 98 fill nothing; a print at 97 (through our
    bid) fills all 2 lots at 98."""
    tp = _behind_the_touch().trade(7, 97.0, 1.0, -1)
    assert _bid_fills(_run(tp.table(), fill_rule="through")) == [(7.0, 2.0, 98.0)]
    assert _bid_fills(_run(tp.table())) == [(6.0, 1.0, 98.0), (7.0, 1.0, 98.0)]  # queue: the rest at 97


def test_depth_book_spans_the_level_rows_and_refuses_a_book_too_wide():
    kind = np.array([QUOTE, LEVEL, LEVEL, TRADE], np.int8)
    book, bst = E.depth_book(kind, np.array([np.nan, 99.0, 103.0, 50.0]), 1.0)
    assert book.shape == (2, 5) and tuple(bst) == (99, E.DEPTH_UNKNOWN, 0)
    assert E.depth_book(kind[[0, 3]], np.array([np.nan, 50.0]), 1.0)[0].shape == (2, 0)
    tp = DepthTape().snapshot(0, [(99.0, 5.0), (1.0, 1.0)], [(1e9, 1.0)]).quote(1)
    with pytest.raises(InputError, match=r"^data: the LEVEL rows' prices span 1,000,000,000 ticks"):
        _run(tp.table())


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--fill-rule", "maybe"], "--fill-rule: got 'maybe'; allowed: queue, through"),
        (["--queue", "l4"], "--queue: unknown queue model 'l4'"),
        (["--queue", "l3"], "--queue: l3 needs each order's entry time"),
    ],
)
def test_bad_queue_flags_are_one_line_and_exit_2(tmp_path, flags, message):
    path = tmp_path / "tape.parquet"
    _behind_the_touch().table().to_parquet(path)
    r = subprocess.run(
        [sys.executable, "-m", "flatbook", "backtest", str(path), "--policy", "symmetric", *flags],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr


def as_level_rows(ev: EventTable) -> EventTable:
    """A LOBSTER table with ``depth`` rewritten as a full-depth tape: a CLEAR 1, then before each event the LEVEL
    rows that turn the levels of the event before into its own (a price that leaves the file's window of levels
    becomes NaN: unknown, as the LOBSTER levels say), carrying the touch of the event before."""
    d = ev.depth
    idx, extra = [0], [(CLEAR, 0, np.nan, 1.0)]
    prev: dict = {1: {}, -1: {}}
    for e in range(len(ev)):
        cur: dict = {1: {}, -1: {}}
        for lvl in range(d.shape[1]):
            for s, c in ((1, 0), (-1, 2)):
                if d[e, lvl, c] == d[e, lvl, c]:
                    cur[s][round(d[e, lvl, c] * 100)] = d[e, lvl, c + 1]
        for s in (1, -1):
            rows = [(p, q) for p, q in cur[s].items() if prev[s].get(p) != q]
            rows += [(p, np.nan) for p in prev[s] if p not in cur[s]]
            for p, q in rows:
                idx.append(e)
                extra.append((LEVEL, s, p / 100, q))
        idx.append(e)
        extra.append(None)
        prev = cur
    idx_a = np.array(idx)
    cols = {c: v[idx_a].copy() for c, v in ev.columns().items()}
    before = np.maximum(idx_a - 1, 0)
    for i, x in enumerate(extra):
        if x is not None:
            cols["kind"][i], cols["side"][i], cols["px"][i], cols["qty"][i] = x
            for c in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
                cols[c][i] = getattr(ev, c)[before[i]]
    m = ev.meta
    meta = EventMeta(m.instrument, m.source, m.tick_size, m.lot_size, m.price_unit, m.qty_unit, book="depth")
    return EventTable(**cols, meta=meta)


@pytest.fixture(scope="module")
def amzn5_slice():
    """The AMZN 5-level file from 10:00 for 20 min."""
    ev = api.load_data(shared_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"))
    t0 = int(ev.ts[0]) + 1800 * NS
    return ev.between(t0, t0 + 1200 * NS)


def test_level_rows_give_the_fills_of_lobsters_own_levels(amzn5_slice):
    """20 min of the AMZN 5-level file, replayed once with its 5 levels (the ``depth`` array) and once as
    LEVEL rows through the dense book: the same queue behind the touch, so the same fills, bit for bit (and not
    those of the touch alone)."""
    ev = amzn5_slice
    lev = as_level_rows(ev)
    cfg = replay_config(ev, "linear-skew")  # parameters from the data, the same for both
    a = run_backtest(ev, cfg, BacktestOptions(queue="prorata"))
    b = run_backtest(lev, cfg, BacktestOptions(queue="prorata"))
    assert a.summary["fills"] > 50
    for k in ("ts", "side", "px", "qty", "q"):
        assert np.array_equal(a.fills[k], b.fills[k]), k
    # the touch alone (no level behind it) queues otherwise
    c = run_backtest(EventTable(**ev.columns(), meta=ev.meta), cfg, BacktestOptions(queue="prorata"))
    assert not np.array_equal(a.fills["ts"], c.fills["ts"])
