"""Issue 15 §1: the L3 FIFO queue (``--queue l3``) on a tape whose order rows carry their order's entry time.

A hand-made LOBSTER-like tape with hand-computed fills, then the real AMZN 5-level file, whose ``entry_ts`` is
built here from its message file (the time of each order id's type-1 message; ``ENTRY_BEFORE`` if none).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from conftest import shared_data
from flatbook import api
from flatbook.backtest import BacktestOptions, Latency, run_backtest
from flatbook.config import build_config
from flatbook.data.events import ENTRY_BEFORE, ENTRY_NONE, QUOTE, TRADE, EventMeta, EventTable, empty_columns

NS = 1_000_000_000
AMZN5 = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def _tape() -> EventTable:
    """Bid 99 holds A (6, resting before the file) and B (4, entered at 0.5 s); our bid arrives at 0.8 s behind
    both: ahead 10. C (5) joins behind us at 1 s and is deleted at 2 s (ahead stays 10); A is cut by 2 at 3 s
    (ahead 8); B executes at 4 s (ahead 4); D (3) joins behind us at 5 s; A's last 4 execute at 6 s (ahead 0);
    D executes at 7 s: nobody is ahead of us, so we fill min(3, our 2) = 2 lots at 99 then."""
    rows = [  # t (s), kind, code, px, qty, side, entry (s; None: ENTRY_BEFORE; "none": no order), bid size after
        (0.0, QUOTE, 1, 101.0, 10.0, -1, "none", 6.0),
        (0.5, QUOTE, 1, 99.0, 4.0, 1, "none", 10.0),
        (1.0, QUOTE, 1, 99.0, 5.0, 1, "none", 15.0),
        (2.0, QUOTE, 3, 99.0, 5.0, 1, 1.0, 10.0),
        (3.0, QUOTE, 2, 99.0, 2.0, 1, None, 8.0),
        (4.0, TRADE, 4, 99.0, 4.0, -1, 0.5, 4.0),
        (5.0, QUOTE, 1, 99.0, 3.0, 1, "none", 7.0),
        (6.0, TRADE, 4, 99.0, 4.0, -1, None, 3.0),
        (7.0, TRADE, 4, 99.0, 3.0, -1, 5.0, 0.0),
    ]
    cols = empty_columns(len(rows))
    entry = np.empty(len(rows), np.int64)
    for i, (t, kind, code, px, qty, side, ent, bid_sz) in enumerate(rows):
        cols["ts"][i], cols["kind"][i], cols["code"][i] = int(t * NS), kind, code
        cols["px"][i], cols["qty"][i], cols["side"][i] = px, qty, side
        cols["bid_px"][i], cols["bid_sz"][i], cols["ask_px"][i], cols["ask_sz"][i] = 99.0, bid_sz, 101.0, 10.0
        entry[i] = ENTRY_NONE if ent == "none" else ENTRY_BEFORE if ent is None else int(ent * NS)
    return EventTable(**cols, meta=EventMeta("TEST", "hand", 1.0, 0.5), entry_ts=entry)


def _bid_fills(ev, queue, **opts):
    cfg = build_config("replay", "symmetric", dict(half_spread=1.0, T=100.0, s0=100.0, tick=1.0, size=2.0), paths=1)
    o = BacktestOptions(queue=queue, refresh_ticks=10.0, order_latency=Latency("const", 800.0), **opts)
    f = run_backtest(ev, cfg, o).fills
    b = f["side"] > 0
    return [(int(t) / NS, float(q), float(p)) for t, q, p in zip(f["ts"][b], f["qty"][b], f["px"][b])]


def test_l3_follows_time_priority_order_by_order():
    assert _bid_fills(_tape(), "l3") == [(7.0, 2.0, 99.0)]


def test_the_level_queue_on_the_same_tape_guesses_and_fills_a_second_earlier():
    """prorata: C's delete is 5 of 15 cancelled (ahead 10·(1 − 5/15) = 6.67), A's cut 2 of 10 (5.33); B's print
    of 4 leaves 1.33, and A's print of 4 at 6 s fills our 2 lots (4 − 1.33 = 2.67 ≥ 2)."""
    assert _bid_fills(_tape(), "prorata") == [(6.0, 2.0, 99.0)]
    assert _bid_fills(_tape(), "l2") == [(6.0, 2.0, 99.0)]


def test_l3_under_the_through_rule_waits_for_a_print_through_our_price():
    assert _bid_fills(_tape(), "l3", fill_rule="through") == []


def with_entry_ts(ev: EventTable, path) -> EventTable:
    """``ev`` (a LOBSTER table) with ``entry_ts`` and its order rows' price, size and side, from the message file:
    entry = the time of the order id's type-1 message (``ENTRY_BEFORE`` if none) on rows of types 2–5."""
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if "_message_" in n)
        msg = np.loadtxt(io.BytesIO(z.read(name)), delimiter=",")
    assert len(msg) == len(ev)
    typ, oid = msg[:, 1].astype(int), msg[:, 2].astype(np.int64)
    new = np.flatnonzero(typ == 1)
    ids, first = np.unique(oid[new], return_index=True)
    ref = np.isin(typ, (2, 3, 4, 5))
    pos = np.minimum(np.searchsorted(ids, oid[ref]), ids.size - 1)
    entry = np.full(len(ev), ENTRY_NONE, np.int64)
    entry[ref] = np.where(ids[pos] == oid[ref], ev.ts[new[first[pos]]], ENTRY_BEFORE)
    cols = ev.columns()
    o = typ <= 3
    cols["px"] = np.where(o, msg[:, 4] / 10_000, ev.px)
    cols["qty"] = np.where(o, msg[:, 3], ev.qty)
    cols["side"] = np.where(o, msg[:, 5], ev.side).astype(np.int8)
    return EventTable(**cols, meta=ev.meta, depth=ev.depth, entry_ts=entry)


@pytest.fixture(scope="module")
def amzn5():
    path = shared_data(AMZN5)
    return with_entry_ts(api.load_data(path), path)


def test_l3_on_amzn_5_against_the_level_queue(amzn5):
    """linear-skew on the AMZN 5-level file, 1 ms latency. The queue models agree where the queue does not
    matter (``through``: the same fills bit for bit) and part where it does: L3 and prorata give different fills,
    and each fills at least what ``through`` fills (a print through our price fills under every rule)."""
    runs = {
        (q, rule): api.backtest(
            amzn5, "linear-skew", options=api.backtest_options(queue=q, latency_ms=1, fill_rule=rule)
        )
        for q in ("l3", "prorata")
        for rule in ("queue", "through")
    }
    s = {k: r.raw.summary for k, r in runs.items()}
    assert np.array_equal(runs["l3", "through"].fills["ts"], runs["prorata", "through"].fills["ts"])
    assert s["l3", "through"]["pnl_final"] == s["prorata", "through"]["pnl_final"]
    assert s["l3", "queue"]["fills"] != s["prorata", "queue"]["fills"]
    for q in ("l3", "prorata"):
        assert s[q, "queue"]["maker_volume"] >= s[q, "through"]["maker_volume"] > 0
        assert s[q, "queue"]["max_abs_q"] <= 2000.0  # the limit: 20 clips of 100 shares
