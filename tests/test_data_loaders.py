"""Tests of the market-data loaders (flatbook.data: lobster, binance, generic, load).

Real files are read in place from ``../shared/data`` (LOBSTER NASDAQ samples,
2012-06-21; Binance captures, 2024-08-08); malformed inputs are crafted in tmp_path.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DATA, prop, shared_data
from flatbook.data import DataError, EventTable, convert, load
from flatbook.data.binance import load_binance
from flatbook.data.events import CODE_BOOK_TICKER, CODE_TRADE, COLUMNS, QUOTE, TRADE, EventMeta, Problems
from flatbook.data.generic import EPOCH_UNITS, NS_2000, NS_2100, load_generic, screen, ts_order
from flatbook.data.lobster import load_lobster
from flatbook.errors import InputError

LOB = DATA / "lobster"
BIN = DATA / "binance"
AAPL = LOB / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
AMZN1 = LOB / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
AMZN5 = LOB / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
USDM = BIN / "usdm_btcusdt_20240808.gz"
SPOT = BIN / "spot_btcusdt_20240808.gz"
CM = BIN / "cm_btcusd_perp_20240808.gz"
ETH = BIN / "usdm_ethusdt_20240808.gz"
NS = 1_000_000_000
MS = 1_000_000


def real(path: Path) -> Path:
    """``path`` under ../shared/data; missing fails in CI, skips elsewhere (conftest.shared_data)."""
    return shared_data(str(path.relative_to(DATA)))


_cache: dict = {}


def loaded(path: Path, **kw) -> EventTable:
    """Load a real file once per test session (they are read-only)."""
    key = (path, tuple(sorted(kw.items())))
    if key not in _cache:
        _cache[key] = load(real(path), **kw)
    return _cache[key]


def raw_lobster(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(message, orderbook) arrays straight from the zip, independent of the loader."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        msg = pd.read_csv(zf.open(next(n for n in names if "_message_" in n)), header=None).to_numpy()
        ob = pd.read_csv(zf.open(next(n for n in names if "_orderbook_" in n)), header=None).to_numpy()
    return msg, ob


def raw_binance(path: Path) -> dict:
    """bookTicker/trade fields in file order and (local, exchange) ns pairs, parsed here."""
    bt, tr, pairs = [], [], []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            local, js = line.split(" ", 1)
            msg = json.loads(js)
            if "stream" not in msg:
                continue
            d, kind = msg["data"], msg["stream"].split("@", 1)[1]
            ex = d.get("T", d.get("E"))
            if ex is not None:
                pairs.append((int(local), ex * MS))
            if kind == "bookTicker":
                bt.append(
                    (d["u"], int(local), d.get("T", -1), float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))
                )
            elif kind == "trade":
                tr.append((d["T"], float(d["p"]), float(d["q"]), -1 if d["m"] else 1))
    return {"bt": np.array(bt, dtype=object), "tr": np.array(tr), "pairs": np.array(pairs, np.int64)}


def assert_tables_equal(a: EventTable, b: EventTable, *, meta: bool = True, via_load: bool = False) -> None:
    """Same columns, depth and (``meta``) metadata. ``via_load``: ``b`` comes straight from a
    format's loader, ``a`` through :func:`load`, which adds ``streams`` (and ``lot_inferred``
    for generic files): those two are left out of the comparison."""
    if via_load:
        b = b.with_meta(streams=a.meta.streams, lot_inferred=a.meta.lot_inferred)
    for c in COLUMNS:
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)
    assert (a.depth is None) == (b.depth is None)
    if a.depth is not None:
        np.testing.assert_array_equal(a.depth, b.depth)
    if meta:
        assert a.meta == b.meta


# =========================================================================== LOBSTER (real)
def test_lobster_aapl_rows_meta_and_mapping():
    ev = loaded(AAPL)
    msg, ob = raw_lobster(AAPL)
    n = len(msg)
    assert len(ev) == n == 118_497
    m = ev.meta
    assert (m.instrument, m.source, m.tick_size, m.lot_size, m.price_unit, m.qty_unit, m.levels) == (
        "AAPL",
        "lobster",
        0.01,
        1.0,
        "USD",
        "shares",
        1,
    )
    assert m.skipped == {} and m.files == (str(AAPL),) and ev.depth is None
    np.testing.assert_array_equal(ev.code, msg[:, 1])
    ex = np.isin(msg[:, 1], (4, 5))
    assert ex.sum() == 23_658 + 11_332
    np.testing.assert_array_equal(ev.kind, np.where(ex, TRADE, QUOTE))
    np.testing.assert_array_equal(ev.side[ex], -msg[ex, 5])  # resting sell executed = buy trade
    np.testing.assert_array_equal(ev.px[ex], msg[ex, 4] / 10_000)
    np.testing.assert_array_equal(ev.qty[ex], msg[ex, 3])
    od = np.isin(msg[:, 1], (1, 2, 3))  # order rows carry the message's price, size and book side
    np.testing.assert_array_equal(ev.px[od], msg[od, 4] / 10_000)
    np.testing.assert_array_equal(ev.qty[od], msg[od, 3])
    np.testing.assert_array_equal(ev.side[od], msg[od, 5])  # the order's book side: +1 bid, -1 ask
    assert np.isnan(ev.px[~ex & ~od]).all() and (ev.qty[~ex & ~od] == 0).all()
    np.testing.assert_array_equal(ev.ask_px, ob[:, 0] / 10_000)
    np.testing.assert_array_equal(ev.bid_sz, ob[:, 3])
    # time: seconds after midnight New York (EDT, UTC−4 in June)
    t0 = pd.Timestamp("2012-06-21", tz="America/New_York").value + round(msg[0, 0] * 1e9)
    assert ev.ts[0] == t0 == pd.Timestamp("2012-06-21 13:30:00.004241176", tz="UTC").value
    assert ev.ts[-1] < pd.Timestamp("2012-06-21 20:00", tz="UTC").value
    np.testing.assert_array_equal(ev.ts - ev.ts[0], np.rint((msg[:, 0] - msg[0, 0]) * 1e9).astype(np.int64))


@pytest.mark.parametrize("path", [AAPL, AMZN1])
def test_lobster_visible_executions_hit_the_prior_best(path):
    """A type-4 execution trades at the previous row's best price on the resting side
    (bid when a buy order rests, i.e. a seller-initiated trade); then either the level
    stays and its size drops by exactly the executed size, or the execution took the
    whole level (size = prior size) and the best price moves away (bid down / ask up)."""
    ev = loaded(path)
    i = np.flatnonzero(ev.code == 4)
    i = i[i > 0]
    hits_bid = ev.side[i] == -1
    prev_px = np.where(hits_bid, ev.bid_px[i - 1], ev.ask_px[i - 1])
    prev_sz = np.where(hits_bid, ev.bid_sz[i - 1], ev.ask_sz[i - 1])
    new_px = np.where(hits_bid, ev.bid_px[i], ev.ask_px[i])
    new_sz = np.where(hits_bid, ev.bid_sz[i], ev.ask_sz[i])
    np.testing.assert_array_equal(ev.px[i], prev_px)
    same = new_px == prev_px
    np.testing.assert_array_equal(prev_sz[same] - new_sz[same], ev.qty[i][same])
    gone = ~same
    np.testing.assert_array_equal(ev.qty[i][gone], prev_sz[gone])
    moved_away = np.where(hits_bid[gone], new_px[gone] < prev_px[gone], new_px[gone] > prev_px[gone])
    assert moved_away.all()
    assert same.sum() > 1000 and gone.sum() > 1000  # both cases occur many times
    # the other side of the book does not move on an execution
    other = np.where(hits_bid, ev.ask_px[i], ev.bid_px[i])
    np.testing.assert_array_equal(other, np.where(hits_bid, ev.ask_px[i - 1], ev.bid_px[i - 1]))


def test_lobster_amzn_5_levels_depth():
    ev = loaded(AMZN5)
    n = 155_935
    assert len(ev) == n and ev.meta.levels == 5 and ev.depth.shape == (n, 5, 4)
    for k, c in enumerate(("bid_px", "bid_sz", "ask_px", "ask_sz")):
        np.testing.assert_array_equal(ev.depth[:, 0, k], getattr(ev, c))
    bids, asks = ev.depth[:, :, 0], ev.depth[:, :, 2]
    both = np.isfinite(bids[:, 1:]) & np.isfinite(bids[:, :-1])
    assert (np.diff(bids, axis=1)[both] < 0).all()  # bids fall with depth
    both = np.isfinite(asks[:, 1:]) & np.isfinite(asks[:, :-1])
    assert (np.diff(asks, axis=1)[both] > 0).all()  # asks rise with depth
    empty = np.isnan(ev.depth[:, :, 0])
    assert (ev.depth[:, :, 1][empty] == 0).all()
    # an execution that empties the best level promotes the previous second level
    i = np.flatnonzero(ev.code == 4)
    i = i[i > 0]
    hits_bid = ev.side[i] == -1
    lvl = np.where(hits_bid, 0, 2)
    prev1 = ev.depth[i - 1, 0, lvl]
    prev2 = ev.depth[i - 1, 1, lvl]
    now1 = ev.depth[i, 0, lvl]
    gone = now1 != prev1
    assert gone.sum() > 1000
    np.testing.assert_array_equal(now1[gone], prev2[gone])
    # the same day's level-1 file holds the same trades
    ev1 = loaded(AMZN1)
    t5, t1 = ev.is_trade, ev1.is_trade
    for c in ("ts", "px", "qty", "side", "code"):
        np.testing.assert_array_equal(getattr(ev, c)[t5], getattr(ev1, c)[t1])


def test_lobster_levels_argument():
    full = loaded(AMZN5)
    two = load_lobster(real(AMZN5), levels=2)
    assert two.meta.levels == 2 and two.depth.shape == (len(full), 2, 4)
    np.testing.assert_array_equal(two.depth, full.depth[:, :2])
    one = load_lobster(real(AMZN5), levels=1)
    # (load() adds the streams note that load_lobster leaves out)
    assert one.depth is None and one.meta == replace(full.meta, levels=1, streams=one.meta.streams)
    assert_tables_equal(one, EventTable(**full.columns(), meta=one.meta))
    with pytest.raises(DataError, match=r"levels must be between 1 and 5"):
        load_lobster(AMZN5, levels=6)


# =========================================================================== LOBSTER (crafted)
LOB_MSG = [
    "34200.1,1,1,100,1000000,1",  # new bid 100.00 × 100
    "34200.2,1,2,50,1010000,-1",  # new ask 101.00 × 50
    "34200.3,4,2,20,1010000,-1",  # 20 of the ask executed: buyer-initiated
    "34200.4,3,1,100,1000000,1",
]  # bid deleted: bid side empty
LOB_OB = ["9999999999,0,1000000,100", "1010000,50,1000000,100", "1010000,30,1000000,100", "1010000,30,-9999999999,0"]


def write_lobster(tmp_path: Path, msg=LOB_MSG, ob=LOB_OB, levels: int = 1, ticker: str = "TEST") -> Path:
    p = tmp_path / f"{ticker}_{levels}.zip"
    base = f"{ticker}_2012-06-21_34200000_57600000"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{base}_message_{levels}.csv", "\n".join(msg) + "\n")
        zf.writestr(f"{base}_orderbook_{levels}.csv", "\n".join(ob) + "\n")
    return p


def test_lobster_crafted_good_file(tmp_path):
    ev = load_lobster(write_lobster(tmp_path))
    assert ev.meta.instrument == "TEST" and len(ev) == 4
    np.testing.assert_array_equal(ev.kind, [QUOTE, QUOTE, TRADE, QUOTE])
    assert ev.px[2] == 101.0 and ev.qty[2] == 20 and ev.side[2] == 1
    np.testing.assert_array_equal(ev.ask_px, [np.nan, 101, 101, 101])
    np.testing.assert_array_equal(ev.ask_sz, [0, 50, 30, 30])
    np.testing.assert_array_equal(ev.bid_px, [100, 100, 100, np.nan])
    np.testing.assert_array_equal(ev.bid_sz, [100, 100, 100, 0])
    midnight = pd.Timestamp("2012-06-21", tz="America/New_York").value
    np.testing.assert_array_equal(ev.ts, midnight + np.array([34200_1, 34200_2, 34200_3, 34200_4]) * 100_000_000)


def _replace(lines, i, new):
    out = list(lines)
    out[i - 1] = new
    return out


LOBSTER_BAD = [
    # (id, msg lines, ob lines, reason, which file, line)
    ("columns", _replace(LOB_MSG, 2, "34200.2,1,2,50,1010000"), LOB_OB, "wrong number of columns", "message", 2),
    ("columns-ob", LOB_MSG, _replace(LOB_OB, 3, "1010000,30,1000000"), "wrong number of columns", "orderbook", 3),
    ("non-numeric", _replace(LOB_MSG, 2, "34200.2,1,2,fifty,1010000,-1"), LOB_OB, "non-numeric field", "message", 2),
    ("empty field", _replace(LOB_MSG, 2, "34200.2,1,2,,1010000,-1"), LOB_OB, "non-numeric field", "message", 2),
    ("type", _replace(LOB_MSG, 2, "34200.2,9,2,50,1010000,-1"), LOB_OB, "unknown message type", "message", 2),
    (
        "exec size",
        _replace(LOB_MSG, 3, "34200.3,4,2,0,1010000,-1"),
        LOB_OB,
        "non-positive execution size",
        "message",
        3,
    ),
    ("direction", _replace(LOB_MSG, 2, "34200.2,1,2,50,1010000,0"), LOB_OB, "bad direction", "message", 2),
    ("crossed", LOB_MSG, _replace(LOB_OB, 2, "1000000,50,1000000,100"), "crossed book", "orderbook", 2),
    ("time", _replace(LOB_MSG, 3, "34200.05,4,2,20,1010000,-1"), LOB_OB, "timestamp out of order", "message", 3),
]


@pytest.mark.parametrize("case", LOBSTER_BAD, ids=[c[0] for c in LOBSTER_BAD])
def test_lobster_malformed_fail_and_skip(tmp_path, case):
    _, msg, ob, reason, which, line = case
    p = write_lobster(tmp_path, msg, ob)
    with pytest.raises(DataError, match=reason) as ei:
        load_lobster(p)
    e = ei.value
    assert e.file.startswith(str(p) + "/") and f"_{which}_1.csv" in e.file and e.line == line
    assert f"_{which}_1.csv:{line}: {reason}" in str(e)
    ev = load_lobster(p, on_error="skip")
    assert ev.meta.skipped == {reason: 1}
    assert len(ev) == 3
    good = [k for k in range(4) if k != line - 1]
    np.testing.assert_array_equal(ev.code, np.array([1, 1, 4, 3])[good])


def test_lobster_small_blocks_keep_line_numbers(tmp_path, monkeypatch):
    """Lines are numbered across read blocks (here ~2 lines a block), in both parse paths."""
    import flatbook.data.lobster as lob

    amzn = loaded(AMZN1)
    monkeypatch.setattr(lob, "_BLOCK", 100_000)  # the real file in ~40 blocks
    assert_tables_equal(amzn, load_lobster(AMZN1), via_load=True)
    monkeypatch.setattr(lob, "_BLOCK", 50)
    msg = LOB_MSG + ["34200.5,1,3,10,1000000,1", "34200.6,1,4,x,1000000,1", "34200.7,1,5,10,1000000,1"]
    ob = LOB_OB + ["1010000,30,1000000,10"] * 3
    p = write_lobster(tmp_path, msg, ob)
    with pytest.raises(DataError, match=r"_message_1\.csv:6: non-numeric field: column 4 = 'x'"):
        load_lobster(p)
    ev = load_lobster(p, on_error="skip")
    assert len(ev) == 6 and ev.meta.skipped == {"non-numeric field": 1}
    np.testing.assert_array_equal(ev.bid_sz[-2:], [10, 10])
    with pytest.raises(DataError, match=r"_message_1\.csv:2: wrong number of columns: empty line"):
        load_lobster(write_lobster(tmp_path, _replace(LOB_MSG, 2, "")))


def test_lobster_time_within_tolerance_is_clamped(tmp_path):
    p = write_lobster(tmp_path, _replace(LOB_MSG, 3, "34200.05,4,2,20,1010000,-1"))
    with pytest.raises(DataError, match=r"0\.15 s|150000000 ns"):
        load_lobster(p, tolerance_ns=100_000_000)  # 0.15 s back > 0.1 s
    ev = load_lobster(p, tolerance_ns=200_000_000)
    assert len(ev) == 4 and ev.meta.skipped == {}
    assert ev.ts[2] == ev.ts[1]  # raised to the previous time
    assert ev.kind[2] == TRADE


def test_lobster_row_count_mismatch(tmp_path):
    p = write_lobster(tmp_path, LOB_MSG, LOB_OB + ["1010000,30,-9999999999,0", "1010000,30,-9999999999,0"])
    with pytest.raises(DataError, match="row counts differ") as ei:
        load_lobster(p)
    assert "_orderbook_1.csv:5" in str(ei.value) and "has 4 rows" in str(ei.value)
    ev = load_lobster(p, on_error="skip")
    assert len(ev) == 4 and ev.meta.skipped == {"message/orderbook row counts differ": 2}


def test_lobster_multilevel_crafted(tmp_path):
    msg = LOB_MSG[:2]
    ob = ["9999999999,0,1000000,100,9999999999,0,-9999999999,0", "1010000,50,1000000,100,1020000,7,990000,3"]
    ev = load_lobster(write_lobster(tmp_path, msg, ob, levels=2))
    assert ev.depth.shape == (2, 2, 4)
    np.testing.assert_array_equal(ev.depth[0], [[100, 100, np.nan, 0], [np.nan, 0, np.nan, 0]])
    np.testing.assert_array_equal(ev.depth[1], [[100, 100, 101, 50], [99, 3, 102, 7]])


def test_lobster_not_a_lobster_zip(tmp_path):
    p = tmp_path / "x.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(DataError, match="message_N.csv"):
        load_lobster(p)
    (tmp_path / "y.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a zip file"):
        load_lobster(tmp_path / "y.zip")


# =========================================================================== Binance (real)
def test_binance_usdm_order_fields_and_offset():
    ev = loaded(USDM)
    raw = raw_binance(real(USDM))
    bt, tr = raw["bt"], raw["tr"]
    assert len(bt) == 66_089 and len(tr) == 21_313 and len(ev) == len(bt) + len(tr)
    m = ev.meta
    assert (m.instrument, m.source, m.tick_size, m.lot_size, m.price_unit, m.qty_unit) == (
        "BTCUSDT (usdm)",
        "binance",
        0.1,
        0.001,
        "USDT",
        "BTC",
    )
    q = ev.kind == QUOTE
    assert (ev.code[q] == CODE_BOOK_TICKER).all() and (ev.code[~q] == CODE_TRADE).all()
    # bookTicker rows come out in update-id order, at their exchange (T) times
    u = bt[:, 0].astype(np.int64)
    by_u = np.argsort(u, kind="stable")
    assert (np.diff(u[by_u]) > 0).all()
    np.testing.assert_array_equal(ev.bid_px[q], bt[by_u, 3].astype(float))
    np.testing.assert_array_equal(ev.ask_sz[q], bt[by_u, 6].astype(float))
    np.testing.assert_array_equal(ev.ts[q], bt[by_u, 2].astype(np.int64) * MS)
    assert (np.diff(ev.ts) >= 0).all()
    # trades in trade order, aggressor from m
    np.testing.assert_array_equal(ev.ts[~q], tr[:, 0].astype(np.int64) * MS)
    np.testing.assert_array_equal(ev.px[~q], tr[:, 1])
    np.testing.assert_array_equal(ev.side[~q], tr[:, 3])
    # the capture clock runs ≈ 1.27 s behind the exchange: exchange − local ≈ +1.27 s
    lag = np.median(raw["pairs"][:, 1] - raw["pairs"][:, 0]) / NS
    assert 1.0 < lag < 1.6


def test_binance_trades_carry_the_last_book():
    ev = loaded(USDM)
    idx = np.arange(len(ev))
    last_q = np.maximum.accumulate(np.where(ev.kind == QUOTE, idx, -1))
    t = np.flatnonzero(ev.is_trade & (last_q >= 0))
    assert t.size > 20_000
    for c in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        np.testing.assert_array_equal(getattr(ev, c)[t], getattr(ev, c)[last_q[t]])
    # a trade prints at the touch it hits most of the time (median gap 0 ticks)
    buy = ev.is_trade & (ev.side == 1)
    assert np.nanmedian(ev.px[buy] - ev.ask_px[buy]) == 0.0


def test_binance_spot_estimated_times():
    """Spot bookTicker has no exchange time: ts = local − median(local − exchange), made
    non-decreasing in update-id order."""
    ev = loaded(SPOT)
    raw = raw_binance(real(SPOT))
    bt = raw["bt"]
    assert (bt[:, 2] == -1).all()  # no T on spot bookTicker
    offset = int(np.median(raw["pairs"][:, 0] - raw["pairs"][:, 1]))
    assert -1.6 * NS < offset < -1.0 * NS
    local = bt[:, 1].astype(np.int64)
    q = ev.kind == QUOTE
    np.testing.assert_array_equal(ev.ts[q], np.maximum.accumulate(local - offset))
    np.testing.assert_array_equal(ev.ask_px[q], bt[:, 5].astype(float))
    m = ev.meta
    assert (m.instrument, m.tick_size, m.lot_size, m.price_unit, m.qty_unit) == (
        "BTCUSDT (spot)",
        0.01,
        1e-5,
        "USDT",
        "BTC",
    )
    assert len(ev) == 28_040 + 9_757


@pytest.mark.parametrize(
    "path, instrument, tick, lot, qty_unit",
    [(CM, "BTCUSD_PERP (cm)", 0.1, 1.0, "contracts (100 USD)"), (ETH, "ETHUSDT (usdm)", 0.01, 0.001, "ETH")],
)
def test_binance_other_markets_meta(path, instrument, tick, lot, qty_unit):
    ev = loaded(path)
    assert (ev.meta.instrument, ev.meta.tick_size, ev.meta.lot_size, ev.meta.qty_unit) == (
        instrument,
        tick,
        lot,
        qty_unit,
    )
    assert ev.meta.skipped == {} and ev.is_trade.sum() > 1000
    assert np.all(ev.bid_px[ev.kind == QUOTE] < ev.ask_px[ev.kind == QUOTE])


# =========================================================================== Binance (crafted)
def bt_line(local, u, b="100.0", a="100.1", T=1000, B="1", A="2", sym="btcusdt"):
    d = {"e": "bookTicker", "u": u, "s": sym.upper(), "b": b, "B": B, "a": a, "A": A}
    if T is not None:
        d.update(T=T, E=T)
    return f"{local} " + json.dumps({"stream": f"{sym}@bookTicker", "data": d})


def tr_line(local, T, p="100.1", q="0.5", m=False, sym="btcusdt"):
    return f"{local} " + json.dumps(
        {"stream": f"{sym}@trade", "data": {"e": "trade", "E": T, "T": T, "t": T, "p": p, "q": q, "m": m}}
    )


BASE_T0 = 1_723_161_256_000  # ms
LOCAL0 = (BASE_T0 - 1270) * MS  # the capture clock 1.27 s behind


def bin_lines(**override):
    """Six lines: bookTicker, trade (buy), bookTicker, trade (sell), bookTicker, and one
    depth message and one REST snapshot that produce no rows."""
    t = BASE_T0
    lines = [
        '1 {"lastUpdateId": 5, "bids": [], "asks": []}',
        bt_line(LOCAL0 + 1 * MS, 10, T=t + 1),
        tr_line(LOCAL0 + 2 * MS, t + 2, p="100.1", m=False),
        bt_line(LOCAL0 + 3 * MS, 11, b="100.0", a="100.2", T=t + 3),
        tr_line(LOCAL0 + 4 * MS, t + 4, p="100.0", q="0.25", m=True),
        f'{LOCAL0 + 5 * MS} {{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":{t + 5},"T":{t + 5},'
        f'"u":12,"b":[["100.0","3"]],"a":[]}}}}',
        bt_line(LOCAL0 + 6 * MS, 13, b="99.9", a="100.2", T=t + 6),
    ]
    for k, v in override.items():
        lines[int(k[1:]) - 1] = v
    return lines


def write_gz(tmp_path: Path, lines, name="usdm_btcusdt_test.gz") -> Path:
    p = tmp_path / name
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return p


def test_binance_crafted_good_file(tmp_path):
    ev = load_binance(write_gz(tmp_path, bin_lines()))
    assert len(ev) == 5 and ev.meta.skipped == {}
    np.testing.assert_array_equal(ev.kind, [QUOTE, TRADE, QUOTE, TRADE, QUOTE])
    np.testing.assert_array_equal(ev.ts, (BASE_T0 + np.array([1, 2, 3, 4, 6])) * MS)
    np.testing.assert_array_equal(ev.side, [0, 1, 0, -1, 0])
    np.testing.assert_array_equal(ev.ask_px, [100.1, 100.1, 100.2, 100.2, 100.2])  # trades carry the book
    np.testing.assert_array_equal(ev.qty, [0, 0.5, 0, 0.25, 0])
    assert ev.meta.instrument == "BTCUSDT (usdm)" and ev.meta.tick_size == 0.1


def test_binance_merge_by_exchange_time_not_arrival(tmp_path):
    """A trade that arrives after a bookTicker but happened before it goes first; on
    equal exchange times, arrival order breaks the tie."""
    t = BASE_T0
    lines = [
        bt_line(LOCAL0 + 1 * MS, 10, T=t + 5),
        tr_line(LOCAL0 + 2 * MS, t + 3),
        tr_line(LOCAL0 + 3 * MS, t + 5, p="100.0", m=True),
        bt_line(LOCAL0 + 4 * MS, 11, T=t + 5, b="99.9"),
    ]
    ev = load_binance(write_gz(tmp_path, lines))
    np.testing.assert_array_equal(ev.kind, [TRADE, QUOTE, TRADE, QUOTE])
    np.testing.assert_array_equal(ev.ts, np.array([t + 3, t + 5, t + 5, t + 5]) * MS)
    assert np.isnan(ev.bid_px[0]) and ev.bid_px[2] == 100.0 and ev.bid_px[3] == 99.9


def test_binance_spot_crafted_offset(tmp_path):
    """No T on bookTicker: offset = median(local − exchange) of the trades = −1.27 s here."""
    t = BASE_T0
    lines = [
        bt_line(LOCAL0 + 10 * MS, 1, T=None),
        tr_line(LOCAL0 + 12 * MS, t + 12),
        tr_line(LOCAL0 + 20 * MS, t + 19),  # 1 ms slower
        tr_line(LOCAL0 + 30 * MS, t + 30),
        bt_line(LOCAL0 + 25 * MS, 2, T=None),  # arrived "before" the previous trade
        bt_line(LOCAL0 + 24 * MS, 3, T=None),
    ]  # local time went back: estimate clamped
    ev = load_binance(write_gz(tmp_path, lines, "spot_btcusdt_x.gz"))
    assert ev.meta.instrument == "BTCUSDT (spot)"
    q = ev.kind == QUOTE
    np.testing.assert_array_equal(ev.ts[q], np.array([t + 10, t + 25, t + 25]) * MS)
    np.testing.assert_array_equal(ev.kind, [QUOTE, TRADE, TRADE, QUOTE, QUOTE, TRADE])


BINANCE_BAD = [
    # (id, override, reason, line)
    ("crossed", {"L4": bt_line(LOCAL0 + 3 * MS, 11, b="100.2", a="100.2", T=BASE_T0 + 3)}, "crossed book", 4),
    ("u", {"L4": bt_line(LOCAL0 + 3 * MS, 10, T=BASE_T0 + 3)}, "update id not increasing", 4),
    ("non-numeric", {"L4": bt_line(LOCAL0 + 3 * MS, 11, b="1OO.0", T=BASE_T0 + 3)}, "non-numeric field", 4),
    ("json", {"L4": bt_line(LOCAL0 + 3 * MS, 11, T=BASE_T0 + 3)[:-5]}, "malformed JSON", 4),
    ("no local", {"L4": bt_line(LOCAL0 + 3 * MS, 11, T=BASE_T0 + 3).split(" ", 1)[1]}, "malformed line", 4),
    ("missing field", {"L5": tr_line(LOCAL0 + 4 * MS, BASE_T0 + 4).replace('"q"', '"Q"')}, "malformed message", 5),
    ("quantity", {"L5": tr_line(LOCAL0 + 4 * MS, BASE_T0 + 4, q="0")}, "non-positive trade quantity", 5),
    ("time", {"L5": tr_line(LOCAL0 + 4 * MS, BASE_T0 - 500)}, "timestamp out of order", 5),
]


@pytest.mark.parametrize("case", BINANCE_BAD, ids=[c[0] for c in BINANCE_BAD])
def test_binance_malformed_fail_and_skip(tmp_path, case):
    _, override, reason, line = case
    p = write_gz(tmp_path, bin_lines(**override))
    with pytest.raises(DataError, match=reason) as ei:
        load_binance(p)
    assert ei.value.file == str(p) and ei.value.line == line and f"{p}:{line}: {reason}" in str(ei.value)
    ev = load_binance(p, on_error="skip")
    assert ev.meta.skipped == {reason: 1} and len(ev) == 4
    good = bin_lines()
    expect_kinds = [QUOTE if "bookTicker" in good[k] else TRADE for k in (1, 2, 3, 4, 6) if k != line - 1]
    np.testing.assert_array_equal(ev.kind, expect_kinds)


def test_binance_time_within_tolerance(tmp_path):
    lines = bin_lines(L5=tr_line(LOCAL0 + 4 * MS, BASE_T0 + 1))  # 1 ms before the previous trade
    p = write_gz(tmp_path, lines)
    with pytest.raises(DataError, match="timestamp out of order"):
        load_binance(p)
    ev = load_binance(p, tolerance_ms=1)
    assert len(ev) == 5 and ev.meta.skipped == {}
    t = ev.is_trade
    np.testing.assert_array_equal(ev.ts[t], np.array([BASE_T0 + 2, BASE_T0 + 2]) * MS)  # clamped


def test_binance_truncated_gzip(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    lines = [
        bt_line(
            LOCAL0 + k * MS,
            10 + k,
            b=f"{100 + rng.integers(0, 999) / 10:.1f}",
            a="200.0",
            T=BASE_T0 + k,
            B=f"{rng.random():.6f}",
        )
        for k in range(n)
    ]
    full = write_gz(tmp_path, lines, "usdm_btcusdt_full.gz").read_bytes()
    p = tmp_path / "usdm_btcusdt_cut.gz"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="truncated gzip") as ei:
        load_binance(p)
    last = ei.value.line
    assert 0 < last < n and str(ei.value).startswith(f"{p}:{last}: truncated gzip")
    ev = load_binance(p, on_error="skip")
    assert ev.meta.skipped == {"truncated gzip": 1}
    assert len(ev) == last
    np.testing.assert_array_equal(ev.ts, (BASE_T0 + np.arange(last)) * MS)
    # garbage in place of gzip
    (tmp_path / "junk.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match=r"junk\.gz: truncated gzip: no complete line") as ei:
        load_binance(tmp_path / "junk.gz")
    assert ei.value.line is None


def test_binance_several_symbols(tmp_path):
    lines = bin_lines() + [bt_line(LOCAL0 + 9 * MS, 1, T=BASE_T0 + 9, sym="ethusdt")]
    p = write_gz(tmp_path, lines)
    with pytest.raises(DataError, match="several symbols"):
        load_binance(p)
    eth = load_binance(p, instrument="ETHUSDT")
    assert len(eth) == 1 and eth.meta.instrument == "ETHUSDT (usdm)"
    assert len(load_binance(p, instrument="btcusdt")) == 5


# =========================================================================== generic
def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


QUOTES_CSV = (
    "timestamp,bid,ask,bid_size,ask_size\n"
    "1000,100.0,100.5,3,4\n"
    "2000,100.1,100.5,2,4\n"
    "3000,,100.4,,1\n"
    "5000,100.2,100.3,1,1\n"
)
TRADES_CSV = "timestamp,price,quantity,side\n2000,100.5,1,buy\n2500,100.1,2,S\n6000,100.2,0.5,-1\n"


def test_generic_csv_merge_and_carry(tmp_path):
    ev = load_generic(write_csv(tmp_path / "q.csv", QUOTES_CSV), write_csv(tmp_path / "t.csv", TRADES_CSV))
    np.testing.assert_array_equal(ev.ts, [1000, 2000, 2000, 2500, 3000, 5000, 6000])
    np.testing.assert_array_equal(ev.kind, [QUOTE, QUOTE, TRADE, TRADE, QUOTE, QUOTE, TRADE])  # quotes first
    np.testing.assert_array_equal(ev.side, [0, 0, 1, -1, 0, 0, -1])
    np.testing.assert_array_equal(ev.bid_px, [100.0, 100.1, 100.1, 100.1, np.nan, 100.2, 100.2])
    np.testing.assert_array_equal(ev.bid_sz, [3, 2, 2, 2, 0, 1, 1])
    np.testing.assert_array_equal(ev.px, [np.nan, np.nan, 100.5, 100.1, np.nan, np.nan, 100.2])
    m = ev.meta
    assert (m.instrument, m.source, m.skipped, m.files) == (
        "q",
        "generic",
        {},
        (str(tmp_path / "q.csv"), str(tmp_path / "t.csv")),
    )
    assert m.tick_size == 0.1 and m.lot_size == 0.5
    named = load_generic(tmp_path / "q.csv", instrument="XYZ", tick_size=0.05, lot_size=1)
    assert (named.meta.instrument, named.meta.tick_size, named.meta.lot_size) == ("XYZ", 0.05, 1.0)
    assert len(named) == 4


def test_generic_iso_timestamps_and_parquet(tmp_path):
    q = pd.DataFrame(
        {
            "timestamp": ["2024-08-08T23:54:16.313Z", "2024-08-09T01:54:16.313000001+02:00"],
            "bid": [1.0, 1.1],
            "ask": [1.2, 1.3],
            "bid_size": [1, 1],
            "ask_size": [2, 2],
        }
    )
    q.to_csv(tmp_path / "q.csv", index=False)
    ev = load_generic(tmp_path / "q.csv")
    t = pd.Timestamp("2024-08-08T23:54:16.313Z").value
    np.testing.assert_array_equal(ev.ts, [t, t + 1])
    # parquet with a datetime column, and with integer ns
    q["timestamp"] = pd.to_datetime(q["timestamp"], utc=True, format="ISO8601")
    q.to_parquet(tmp_path / "q.parquet")
    np.testing.assert_array_equal(load_generic(tmp_path / "q.parquet").ts, [t, t + 1])
    q["timestamp"] = [t, t + 1]
    q.to_parquet(tmp_path / "q2.parquet")
    assert_tables_equal(load_generic(tmp_path / "q2.parquet"), ev, meta=False)
    q["timestamp"] = [float(t), float(t + 1)]
    q.to_parquet(tmp_path / "q3.parquet")
    with pytest.raises(DataError, match="floating point"):
        load_generic(tmp_path / "q3.parquet")


GENERIC_BAD = [
    # (id, which file, row (1-based data row), replacement row, reason)
    ("non-numeric", "q", 2, "2000,abc,100.5,2,4", "non-numeric value"),
    ("crossed", "q", 2, "2000,100.5,100.5,2,4", "crossed book"),
    ("negative size", "q", 2, "2000,100.1,100.5,-2,4", "negative size"),
    ("bad time", "q", 2, "yesterday,100.1,100.5,2,4", "bad timestamp"),
    ("time order", "q", 2, "500,100.1,100.5,2,4", "timestamp out of order"),
    ("quantity", "t", 2, "2500,100.1,0,s", "non-positive trade quantity"),
    ("side", "t", 2, "2500,100.1,2,long", "unknown side"),
    ("trade price", "t", 2, "2500,,2,s", "non-numeric value"),
]


@pytest.mark.parametrize("case", GENERIC_BAD, ids=[c[0] for c in GENERIC_BAD])
def test_generic_malformed_fail_and_skip(tmp_path, case):
    _, which, row, new, reason = case
    texts = {"q": QUOTES_CSV.splitlines(), "t": TRADES_CSV.splitlines()}
    texts[which][row] = new
    qp = write_csv(tmp_path / "q.csv", "\n".join(texts["q"]) + "\n")
    tp = write_csv(tmp_path / "t.csv", "\n".join(texts["t"]) + "\n")
    bad = qp if which == "q" else tp
    with pytest.raises(DataError, match=reason) as ei:
        load_generic(qp, tp)
    assert ei.value.file == str(bad) and ei.value.line == row and f"{bad}: row {row}: {reason}" in str(ei.value)
    ev = load_generic(qp, tp, on_error="skip")
    assert ev.meta.skipped == {reason: 1}
    assert (ev.kind == QUOTE).sum() == 4 - (which == "q") and (ev.kind == TRADE).sum() == 3 - (which == "t")


def test_generic_time_within_tolerance(tmp_path):
    qp = write_csv(tmp_path / "q.csv", QUOTES_CSV.replace("2000,100.1", "900,100.1"))
    with pytest.raises(DataError, match="timestamp out of order"):
        load_generic(qp)
    ev = load_generic(qp, tolerance_ns=100)
    np.testing.assert_array_equal(ev.ts, [1000, 1000, 3000, 5000])
    assert ev.bid_px[1] == 100.1


def test_generic_missing_columns(tmp_path):
    qp = write_csv(tmp_path / "q.csv", "timestamp,bid,ask\n1,1,2\n")
    with pytest.raises(
        DataError,
        match=r"missing columns bid_size, ask_size; expected timestamp, bid, ask, "
        r"bid_size, ask_size",
    ) as ei:
        load_generic(qp)
    assert ei.value.file == str(qp)
    tp = write_csv(tmp_path / "t.csv", "timestamp,price,qty,side\n1,1,2,b\n")
    with pytest.raises(DataError, match="missing column quantity; expected timestamp, price, quantity, side"):
        load_generic(write_csv(tmp_path / "q2.csv", QUOTES_CSV), tp)


SIDE_WORDS = {1: ["buy", "B", "1", "+1", "BUY"], -1: ["sell", "s", "-1", "Sell"]}


@st.composite
def event_tables(draw):
    """A valid table in the generic loader's conventions: integer-ns times, prices on a
    0.01 grid, trades after quotes on equal times and carrying the last quote's book."""
    nq = draw(st.integers(1, 25))
    nt = draw(st.integers(0, 25))
    # any start, but not one that reads as ms or µs since the epoch in 2000–2100 (refused)
    t0 = draw(st.integers(0, 2**62).filter(lambda t: not any(NS_2000 <= t * m < NS_2100 for _, m in EPOCH_UNITS)))
    qts = t0 + np.cumsum(draw(st.lists(st.integers(0, 5), min_size=nq, max_size=nq)))
    tts = t0 + np.sort(draw(st.lists(st.integers(0, 5 * nq), min_size=nt, max_size=nt))).astype(np.int64)
    mid = draw(st.lists(st.integers(1000, 1100), min_size=nq, max_size=nq))
    half = draw(st.lists(st.integers(1, 5), min_size=nq, max_size=nq))
    bid = np.array([(m - h) / 100 for m, h in zip(mid, half)])
    ask = np.array([(m + h) / 100 for m, h in zip(mid, half)])
    bsz = np.array(draw(st.lists(st.integers(0, 500), min_size=nq, max_size=nq)), float)
    asz = np.array(draw(st.lists(st.integers(0, 500), min_size=nq, max_size=nq)), float)
    empty_bid = np.array(draw(st.lists(st.booleans(), min_size=nq, max_size=nq)))
    bid[empty_bid], bsz[empty_bid] = np.nan, 0
    px = np.array(draw(st.lists(st.integers(1, 200_000), min_size=nt, max_size=nt)), float) / 100
    qty = np.array(draw(st.lists(st.integers(1, 10_000), min_size=nt, max_size=nt)), float) / 1000
    side = np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=nt, max_size=nt)), np.int8)
    words = [draw(st.sampled_from(SIDE_WORDS[s])) for s in side]
    # the expected table, merged here row by row
    rows, i, j = [], 0, 0
    book = (np.nan, np.nan, np.nan, np.nan)
    while i < nq or j < nt:
        if j >= nt or (i < nq and qts[i] <= tts[j]):
            book = (bid[i], bsz[i], ask[i], asz[i])
            rows.append((qts[i], QUOTE, *book, np.nan, 0.0, 0))
            i += 1
        else:
            rows.append((tts[j], TRADE, *book, px[j], qty[j], side[j]))
            j += 1
    names = ("ts", "kind", "bid_px", "bid_sz", "ask_px", "ask_sz", "px", "qty", "side")
    cols = {n: np.array([r[k] for r in rows]) for k, n in enumerate(names)}
    cols["code"] = np.zeros(nq + nt, np.int16)
    meta = EventMeta(instrument="q", source="generic", tick_size=0.01, lot_size=0.001)
    return EventTable(**cols, meta=meta), words


def write_generic(ev: EventTable, tmp: Path, words=None, parquet: bool = False) -> tuple[Path, Path]:
    """Quotes and trades files written from an EventTable's rows."""
    q, t = ev.kind == QUOTE, ev.kind == TRADE
    qdf = pd.DataFrame(
        {
            "timestamp": ev.ts[q],
            "bid": ev.bid_px[q],
            "ask": ev.ask_px[q],
            "bid_size": ev.bid_sz[q],
            "ask_size": ev.ask_sz[q],
            "code": ev.code[q],
        }
    )
    tdf = pd.DataFrame(
        {
            "timestamp": ev.ts[t],
            "price": ev.px[t],
            "quantity": ev.qty[t],
            "side": words if words is not None else ev.side[t],
            "code": ev.code[t],
        }
    )
    ext = "parquet" if parquet else "csv"
    qp, tp = tmp / f"q.{ext}", tmp / f"t.{ext}"
    if parquet:
        qdf.to_parquet(qp)
        tdf.to_parquet(tp)
    else:
        qdf.to_csv(qp, index=False)
        tdf.to_csv(tp, index=False)
    return qp, tp


@prop(max_examples=40)
@given(event_tables(), st.booleans())
def test_generic_round_trip_property(tmp_path_factory, case, parquet):
    ev, words = case
    tmp = tmp_path_factory.mktemp("rt")
    qp, tp = write_generic(ev, tmp, words, parquet)
    got = load_generic(qp, tp, tick_size=0.01, lot_size=0.001)
    assert_tables_equal(got, ev, meta=False)
    assert got.meta.skipped == {} and got.meta.tick_size == 0.01


def test_generic_round_trip_real_lobster(tmp_path):
    """AAPL through generic CSV: quote rows identical; trade rows keep ts/px/qty/side/code
    (their book becomes the last quote's, as the generic format defines)."""
    ev = loaded(AAPL)
    qp, tp = write_generic(ev, tmp_path)
    got = load_generic(qp, tp, instrument="AAPL")
    assert len(got) == len(ev) and got.meta.tick_size == 0.01 and got.meta.lot_size == 1.0
    for kind, cols in (
        (QUOTE, tuple(c for c in COLUMNS if c not in ("px", "qty", "side"))),
        (TRADE, ("ts", "px", "qty", "side", "code")),
    ):
        a, b = got.kind == kind, ev.kind == kind
        for c in cols:
            np.testing.assert_array_equal(getattr(got, c)[a], getattr(ev, c)[b], err_msg=c)


# =========================================================================== Parquet / load / convert
@pytest.mark.parametrize("path", [AMZN5, USDM])
def test_parquet_round_trip_real(tmp_path, path):
    ev = loaded(path)
    out = tmp_path / "ev.parquet"
    ev.to_parquet(out)
    assert_tables_equal(EventTable.from_parquet(out), ev)
    assert_tables_equal(load(out), ev)  # auto: flatbook metadata → events


def test_convert_and_dispatch(tmp_path):
    src = write_lobster(tmp_path)
    ev = convert(src, tmp_path / "out" / "ev.parquet", on_error="skip")
    assert_tables_equal(load(tmp_path / "out" / "ev.parquet", fmt="events"), ev)
    assert_tables_equal(load(src, fmt="lobster"), load_lobster(src), via_load=True)
    gz = write_gz(tmp_path, bin_lines())
    assert_tables_equal(load(gz), load_binance(gz), via_load=True)
    qp = write_csv(tmp_path / "q.csv", QUOTES_CSV)
    tp = write_csv(tmp_path / "t.csv", TRADES_CSV)
    assert_tables_equal(load(qp, trades=tp), load_generic(qp, tp), via_load=True)
    pd.read_csv(qp).to_parquet(tmp_path / "plain.parquet")  # parquet without flatbook metadata
    assert_tables_equal(load(tmp_path / "plain.parquet"), load_generic(qp), meta=False)


def test_load_errors(tmp_path):
    with pytest.raises(
        InputError,
        match=r"--format: unknown format 'excel' \(allowed: auto, binance, events, generic, hftbacktest, lobster, tardis\)",
    ):
        load(tmp_path / "x.csv", fmt="excel")
    with pytest.raises(DataError, match=r"nope\.zip: no such file"):
        load(tmp_path / "nope.zip")
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(DataError, match=r"data\.txt: cannot tell the format.*lobster, binance, generic, events"):
        load(tmp_path / "data.txt")
    src = write_lobster(tmp_path)
    with pytest.raises(InputError, match="trades"):
        load(src, trades=src)
    with pytest.raises(InputError, match="on_error"):
        load(src, on_error="ignore")


# =========================================================================== screening helper
@prop(max_examples=80)
@given(st.lists(st.integers(0, 100), min_size=1, max_size=40), st.integers(0, 30))
def test_screen_tolerance_property(steps, tol):
    """skip keeps exactly the rows at most ``tol`` below the running max of the kept rows
    before them; fail raises iff skip would drop a row, at the first such row."""
    rng = np.random.default_rng(len(steps) * 31 + tol)
    ts = np.cumsum(steps).astype(np.int64) - rng.integers(0, 2 * tol + 5, len(steps))
    lines = np.arange(1, len(ts) + 1)
    skip = Problems("skip")
    keep = screen(skip, "f", lines, orders=[ts_order(ts, tol)])
    run, expect = None, []
    for v in ts:
        ok = run is None or v >= run - tol
        expect.append(ok)
        if ok:
            run = v if run is None else max(run, v)
    np.testing.assert_array_equal(keep, expect)
    assert skip.counts.get("timestamp out of order", 0) == len(ts) - sum(expect)
    if all(expect):
        assert screen(Problems("fail"), "f", lines, orders=[ts_order(ts, tol)]).all()
    else:
        with pytest.raises(DataError) as ei:
            screen(Problems("fail"), "f", lines, orders=[ts_order(ts, tol)])
        assert ei.value.line == expect.index(False) + 1
