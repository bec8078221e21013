"""hftbacktest ``.npz`` event files (issue 15 §5): written here with numpy in hftbacktest's ``event_dtype``
(hftbacktest itself pins numpy < 2.3 and is not installed); expectations by hand, and the compiled touch
against a plain-Python replay of the same rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from flatbook.cli import root as cli_app
from flatbook.data import load
from flatbook.data.events import CLEAR, LEVEL, TRADE, DataError
from flatbook.data.hftbacktest_npz import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    FILL_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    load_npz,
)

E = EXCH_EVENT | LOCAL_EVENT
B, S = BUY_EVENT, SELL_EVENT
T0 = 1_723_161_256_000_000_000


def write(path, rows, compressed=True):
    a = np.zeros(len(rows), EVENT_DTYPE)
    for i, (ev, ts, lts, px, qty) in enumerate(rows):
        a[i]["ev"], a[i]["exch_ts"], a[i]["local_ts"], a[i]["px"], a[i]["qty"] = ev, T0 + ts, T0 + lts, px, qty
    (np.savez_compressed if compressed else np.savez)(path, data=a)
    return path


ROWS = [
    (E | DEPTH_CLEAR_EVENT | B, 100, 105, 99.0, 0),
    (E | DEPTH_CLEAR_EVENT | S, 100, 105, 102.0, 0),
    (E | DEPTH_SNAPSHOT_EVENT | B, 100, 105, 100.0, 5),
    (E | DEPTH_SNAPSHOT_EVENT | B, 100, 105, 99.5, 7),
    (E | DEPTH_SNAPSHOT_EVENT | S, 100, 105, 101.0, 3),
    (E | DEPTH_SNAPSHOT_EVENT | S, 100, 105, 101.5, 4),
    (E | DEPTH_EVENT | B, 200, 210, 100.5, 2),  # a better bid
    (E | TRADE_EVENT | S, 300, 305, 100.5, 1),  # seller-initiated
    (LOCAL_EVENT | DEPTH_EVENT | B, 300, 306, 100.5, 9),  # local-only copy: not the exchange's view
    (E | DEPTH_EVENT | B, 310, 320, 100.5, 0),  # the best bid leaves
    (E | FILL_EVENT, 320, 330, 100.0, 1),  # market-by-order: counted, not used
    (E | DEPTH_CLEAR_EVENT | S, 400, 410, 102.0, 0),  # one side cleared: the bids are written back
    (E | DEPTH_SNAPSHOT_EVENT | S, 400, 410, 101.0, 8),
]


def test_hand_example(tmp_path):
    ev = load_npz(write(tmp_path / "x.npz", ROWS))
    nan = np.nan
    np.testing.assert_array_equal(
        ev.kind, [CLEAR, LEVEL, LEVEL, LEVEL, LEVEL, LEVEL, TRADE, LEVEL, CLEAR, LEVEL, LEVEL, LEVEL]
    )
    np.testing.assert_array_equal(ev.ts - T0, [100] * 5 + [200, 300, 310] + [400] * 4)
    np.testing.assert_array_equal(ev.local_ts - T0, [105] * 5 + [210, 305, 320] + [410] * 4)
    np.testing.assert_array_equal(ev.side, [0, 1, 1, -1, -1, 1, -1, 1, 0, 1, 1, -1])
    np.testing.assert_array_equal(ev.px, [nan, 100, 99.5, 101, 101.5, 100.5, 100.5, 100.5, nan, 100, 99.5, 101])
    np.testing.assert_array_equal(ev.qty, [1, 5, 7, 3, 4, 2, 1, 0, 1, 5, 7, 8])
    np.testing.assert_array_equal(ev.bid_px, [nan, 100, 100, 100, 100, 100.5, 100.5, 100, nan, 100, 100, 100])
    np.testing.assert_array_equal(ev.bid_sz, [0, 5, 5, 5, 5, 2, 2, 5, 0, 5, 5, 5])
    np.testing.assert_array_equal(ev.ask_px, [nan, nan, nan, 101, 101, 101, 101, 101, nan, nan, nan, 101])
    np.testing.assert_array_equal(ev.ask_sz, [0, 0, 0, 3, 3, 3, 3, 3, 0, 0, 0, 8])
    np.testing.assert_array_equal(ev.code, [3, 4, 4, 4, 4, 1, 2, 1, 3, 3, 3, 4])
    m = ev.meta
    assert (m.source, m.book, m.tick_size, m.lot_size, m.instrument) == ("hftbacktest", "depth", 0.5, 1.0, "x")
    assert m.streams["event kind 13"] == {
        "messages": 1,
        "used": False,
        "note": "market-by-order (L3) or unknown events: not used by the depth book",
    }
    assert m.streams["DEPTH_EVENT"]["messages"] == 2  # the local-only row is not the exchange's


def replay_by_hand(rows):
    """The touch after each exchange event, by plain dicts and hftbacktest's rules (a crossing level moves the
    other side's best past it; a clear empties its side)."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    bb, ba = -np.inf, np.inf
    out = []
    for ev, _, _, px, qty in rows:
        kind = ev & 0xFF
        if kind == DEPTH_EVENT or kind == DEPTH_SNAPSHOT_EVENT:
            book = bids if ev & B else asks
            if qty > 0:
                book[px] = qty
            else:
                book.pop(px, None)
            if ev & B:
                if qty > 0 and px > bb:
                    bb = px
                    if bb >= ba:
                        ba = min((p for p in asks if p > bb), default=np.inf)
                elif qty <= 0 and px == bb:
                    bb = max((p for p in bids if p < bb), default=-np.inf)
            else:
                if qty > 0 and px < ba:
                    ba = px
                    if bb >= ba:
                        bb = max((p for p in bids if p < ba), default=-np.inf)
                elif qty <= 0 and px == ba:
                    ba = min((p for p in asks if p > ba), default=np.inf)
        out.append((bb, bids.get(bb, 0.0), ba, asks.get(ba, 0.0)))
    return out


def test_the_compiled_touch_matches_a_plain_replay(tmp_path):
    """600 random depth updates and trades on a 40-tick grid, crossings included, read 37 rows at a time."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(600):
        side = B if rng.random() < 0.5 else S
        kind = TRADE_EVENT if rng.random() < 0.1 else DEPTH_EVENT
        px = 1000.0 + 0.25 * int(rng.integers(0, 40))
        qty = float(rng.integers(1, 5)) if kind == TRADE_EVENT or rng.random() < 0.7 else 0.0
        rows.append((E | kind | side, 10 * i, 10 * i + 3, px, qty))
    ev = load_npz(write(tmp_path / "r.npz", rows, compressed=False), chunk_rows=37, tick_size=0.25)
    assert len(ev) == 600 and ev.meta.tick_size == 0.25
    want = np.array(replay_by_hand(rows))
    got = np.column_stack([ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz])
    want[:, 0] = np.where(np.isfinite(want[:, 0]), want[:, 0], np.nan)
    want[:, 2] = np.where(np.isfinite(want[:, 2]), want[:, 2], np.nan)
    np.testing.assert_array_equal(got, want)
    assert np.all(~(ev.bid_px >= ev.ask_px))  # never crossed
    tr = ev.kind == TRADE
    np.testing.assert_array_equal(ev.side[tr], [1 if r[0] & B else -1 for r in rows if r[0] & 0xFF == TRADE_EVENT])


def test_detection_and_errors(tmp_path):
    p = write(tmp_path / "x.npz", ROWS)
    z = tmp_path / "x_as.zip"
    z.write_bytes(p.read_bytes())
    assert len(load(p)) == len(load(z)) == 12  # .npz by its name; a .zip of .npy arrays by its members
    np.savez(tmp_path / "bad.npz", data=np.zeros(3))
    with pytest.raises(DataError, match=r"bad\.npz: not an hftbacktest event array: shape \(3,\), fields none"):
        load_npz(tmp_path / "bad.npz")
    rows = [*ROWS[:6], (E | DEPTH_EVENT, 150, 155, 100.0, 1)]  # a depth event with no side
    with pytest.raises(DataError, match=r"row 7: no side: a depth event with neither BUY_EVENT nor SELL_EVENT"):
        load_npz(write(tmp_path / "s.npz", rows))
    ev = load_npz(tmp_path / "s.npz", on_error="skip")
    assert ev.meta.skipped == {"no side": 1} and len(ev) == 5  # the 2 clears are 1 CLEAR row
    rows = [*ROWS[:6], (E | DEPTH_EVENT | B, 50, 155, 100.0, 1)]  # back in time
    with pytest.raises(DataError, match=r"row 7: timestamp out of order"):
        load_npz(write(tmp_path / "o.npz", rows))


def test_cli_inspect_and_backtest(tmp_path):
    """``data inspect`` and ``backtest`` on a small .npz: a 2-tick market, trades through both sides."""
    rows = [(E | DEPTH_CLEAR_EVENT | B, 0, 1, 0.0, 0), (E | DEPTH_CLEAR_EVENT | S, 0, 1, 0.0, 0)]
    rows += [(E | DEPTH_SNAPSHOT_EVENT | B, 0, 1, 100.0, 5), (E | DEPTH_SNAPSHOT_EVENT | S, 0, 1, 100.2, 5)]
    for i in range(1, 200):
        t = i * 50_000_000
        rows.append((E | DEPTH_EVENT | B, t, t + 1, 100.0, 5 + i % 3))
        rows.append((E | TRADE_EVENT | (S if i % 2 else B), t + 1, t + 2, 100.0 if i % 2 else 100.2, 1))
    p = write(tmp_path / "btc.npz", rows)
    runner = CliRunner()
    r = runner.invoke(cli_app.app, ["data", "inspect", str(p), "--no-cache", "--json"])
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["events"], info["trades"], info["source"]) == (1 + 2 + 2 * 199, 199, "hftbacktest")
    assert info["streams"]["DEPTH_SNAPSHOT_EVENT"]["used"] is True
    r = runner.invoke(cli_app.app, ["backtest", str(p), "--no-cache", "--json"])
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["events"] == 1 + 2 + 2 * 199 and res["trades_in_data"] == 199
