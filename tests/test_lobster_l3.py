"""LOBSTER order rows and ``entry_ts`` (the L3 time priority of issue 15 §1), on the real AMZN 5-level file.

The check is a reconstruction: from the message rows alone (their price, size, side and ``entry_ts``) the
volume resting at each price is rebuilt as (the orders that entered in the file) + (one block of orders resting
before the file starts, ``ENTRY_BEFORE``, whose size is read off the orderbook file the first time that price is
in view); every later orderbook row must then agree with it at every visible level.
"""

from __future__ import annotations

import numpy as np

from conftest import shared_data
from flatbook.data.events import ENTRY_BEFORE, ENTRY_NONE, QUOTE, TRADE
from flatbook.data.lobster import entry_times, load_lobster


def test_entry_times_hand_example():
    # rows: new 7 @1, new 8 @2, cancel 7 @3, exec 9 (resting before) @4, hidden exec id 0 @5, delete 8 @6,
    # cross id -1 @7, new 7 again @8 (an id reused), delete 7 @9, hidden exec with an id @10
    ts = np.arange(1, 11, dtype=np.int64) * 10
    typ = np.array([1, 1, 2, 4, 5, 3, 6, 1, 3, 5])
    oid = np.array([7, 8, 7, 9, 0, 8, -1, 7, 7, 8])
    got = entry_times(ts, typ, oid)
    want = [10, 20, 10, ENTRY_BEFORE, ENTRY_NONE, 20, ENTRY_NONE, 80, 80, ENTRY_NONE]
    np.testing.assert_array_equal(got, want)


def test_amzn5_order_rows_and_l3_reconstruction():
    ev = load_lobster(shared_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"))
    n = len(ev)
    assert n == 155_935 and ev.entry_ts is not None and ev.depth is not None
    code, e = ev.code, ev.entry_ts
    order = np.isin(code, (1, 2, 3))
    # order rows: QUOTE rows with the message's price (USD), size (shares) and book side; trades as before
    assert (ev.kind[order] == QUOTE).all() and (ev.kind[~order] == TRADE).all()  # no type 6/7 on this day
    assert np.isfinite(ev.px[order]).all() and (ev.qty[order] > 0).all() and np.isin(ev.side[order], (-1, 1)).all()
    new = code == 1
    np.testing.assert_array_equal(e[new], ev.ts[new])  # a new order enters now
    assert (e[code == 5] == ENTRY_NONE).all()  # hidden executions carry order id 0
    ref = np.isin(code, (2, 3, 4))
    assert ((e[ref] == ENTRY_BEFORE) | (e[ref] <= ev.ts[ref])).all()
    before = ref & (e == ENTRY_BEFORE)
    assert 0 < before.sum() < ref.sum()

    # Rebuild the FIFO queue at each (book side, price in ticks) from the messages alone: the orders that entered
    # in the file, by entry time, and one block of orders of unknown entry resting there when the price comes into
    # the file's 5 levels (this file, like every LOBSTER N-level file, holds only the messages that change the
    # first N levels: a price coming into view brings volume placed while it was out of view). While a price stays
    # in view, the orderbook file's size there must equal the queue's total, and every cancel or execution must
    # name (by entry_ts) orders that entered at that price and side, never taking more than they hold. (The block
    # itself can go below 0: orders that entered in view and were cancelled out of view stay in the queue.)
    book_side = np.where(ev.kind == TRADE, -ev.side, ev.side).astype(np.int64)  # an execution's is the aggressor's
    ticks = np.where(np.isfinite(ev.px), np.rint(np.nan_to_num(ev.px) * 100), 0).astype(np.int64)
    d = ev.depth  # (n, 5, 4): bid_px, bid_sz, ask_px, ask_sz (USD, shares)
    bid_t = np.where(np.isfinite(d[:, :, 0]), np.rint(np.nan_to_num(d[:, :, 0]) * 100), 0).astype(np.int64)
    ask_t = np.where(np.isfinite(d[:, :, 2]), np.rint(np.nan_to_num(d[:, :, 2]) * 100), 0).astype(np.int64)
    queue: dict[tuple[int, int], dict[int, int]] = {}  # (side, tick) -> {entry_ts: shares}; ENTRY_BEFORE = block
    checked = mismatched = unmatched = negative = 0
    prev: set[tuple[int, int]] = set()
    rows = zip(
        code.tolist(),
        e.tolist(),
        book_side.tolist(),
        ticks.tolist(),
        ev.qty.astype(np.int64).tolist(),
        bid_t.tolist(),
        d[:, :, 1].astype(np.int64).tolist(),
        ask_t.tolist(),
        d[:, :, 3].astype(np.int64).tolist(),
    )
    for c, et, bs, tk, sz, bts, bss, ats, ass in rows:
        if c <= 4:
            q = queue.setdefault((bs, tk), {})
            if c == 1:
                q[et] = q.get(et, 0) + sz
            else:
                if et not in q:
                    unmatched += 1
                q[et] = q.get(et, 0) - sz
                negative += et != ENTRY_BEFORE and q[et] < 0
        cur = set()
        for side, tks, szs in ((1, bts, bss), (-1, ats, ass)):
            for t, shown in zip(tks, szs):
                if shown == 0:
                    continue
                key = (side, t)
                cur.add(key)
                q = queue.setdefault(key, {})
                if key not in prev:  # comes into view: what is not accounted for is the unknown block
                    q[ENTRY_BEFORE] = shown - sum(v for k, v in q.items() if k != ENTRY_BEFORE)
                    continue
                checked += 1
                mismatched += sum(q.values()) != shown
        prev = cur
    assert checked == 1_490_114  # (side, price) pairs checked while in view
    assert (mismatched, unmatched, negative) == (0, 0, 0)
