"""The Binance full-depth book (issue 15 §1): REST snapshot + depth diffs, update-id sequencing, gaps,
the merge with bookTicker, local stamps, and the fast reader against the line reader.

Real data from ``../shared/data/binance`` (2024-08-08 captures): small slices of the files are written
to tmp_path as .gz; the book is checked against an independent by-hand application of the raw JSON
(Binance API docs, "How to manage a local order book correctly").
"""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_data
from flatbook import api
from flatbook.api.replay import DepthGapWarning
from flatbook.cli import root as cli_app
from flatbook.data import binance
from flatbook.data.binance import load_binance
from flatbook.data.events import CLEAR, CODE_DEPTH, COLUMNS, LEVEL, QUOTE, TRADE, DataError
from flatbook.errors import InputError

USDM = "binance/usdm_btcusdt_20240808.gz"
SPOT = "binance/spot_btcusdt_20240808.gz"
AMZN = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
N_LINES = 3000  # the slices: the snapshot (line 55 usdm, line 8 spot) and about 200 diffs each
MS = 1_000_000


def raw_lines(rel: str, n: int = N_LINES) -> list[str]:
    with gzip.open(shared_data(rel), "rt") as fh:
        return [next(fh).rstrip("\n") for _ in range(n)]


def write(tmp_path, lines: list[str], name: str) -> str:
    p = tmp_path / name
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return str(p)


def parsed(lines: list[str]) -> list[tuple[int, int, dict]]:
    """(line number, local ns, message) per line."""
    out = []
    for i, ln in enumerate(lines, 1):
        local, js = ln.split(" ", 1)
        out.append((i, int(local), json.loads(js)))
    return out


def diffs_of(msgs) -> list[tuple[int, int, dict]]:
    return [(i, loc, m["data"]) for i, loc, m in msgs if "stream" in m and "@depth" in m["stream"]]


def by_hand(lines: list[str], futures: bool) -> tuple[dict, dict, list]:
    """The book from the snapshot and the diffs, sequenced by Binance's rules here, independently of the
    loader: (bids, asks) as {price: size} after the last diff, and the diffs applied (line, U, u)."""
    msgs = parsed(lines)
    snap = next(m for _, _, m in msgs if "lastUpdateId" in m)
    L = snap["lastUpdateId"]
    book = {1: {float(p): float(q) for p, q in snap["bids"]}, -1: {float(p): float(q) for p, q in snap["asks"]}}
    applied, prev = [], None
    for i, _, d in diffs_of(msgs):
        if prev is None:
            first = L if futures else L + 1
            if d["u"] < first:
                continue
            assert d["U"] <= first <= d["u"]
        else:
            assert (d["pu"] == prev) if futures else (d["U"] == prev + 1)
        for side, key in ((1, "b"), (-1, "a")):
            for p, q in d[key]:
                if float(q) > 0:
                    book[side][float(p)] = float(q)
                else:
                    book[side].pop(float(p), None)
        applied.append((i, d["U"], d["u"]))
        prev = d["u"]
    return book[1], book[-1], applied


def from_rows(ev, upto: int | None = None) -> tuple[dict, dict] | None:
    """The book the LEVEL/CLEAR rows rebuild (None while the depth is unknown)."""
    book: dict[int, dict] | None = None
    k = ev.kind[:upto]
    for i in np.flatnonzero((k == LEVEL) | (k == CLEAR)):
        if ev.kind[i] == CLEAR:
            book = {1: {}, -1: {}} if ev.qty[i] == 1 else None
            continue
        assert book is not None, "a LEVEL row while the depth is unknown"
        s, p, q = int(ev.side[i]), float(ev.px[i]), float(ev.qty[i])
        if q > 0:
            book[s][p] = q
        else:
            book[s].pop(p, None)
    return None if book is None else (book[1], book[-1])


def near(book: dict, mid: float, band: float = 0.01) -> dict:
    return {p: q for p, q in book.items() if abs(p / mid - 1) < band}


@pytest.mark.parametrize("rel, futures", [(USDM, True), (SPOT, False)], ids=["usdm", "spot"])
def test_depth_book_equals_the_book_built_by_hand(tmp_path, rel, futures):
    lines = raw_lines(rel)
    ev = load_binance(write(tmp_path, lines, rel.split("/")[1]), book="depth")
    assert ev.meta.book == "depth" and ev.local_ts is not None
    bids, asks, applied = by_hand(lines, futures)
    got = from_rows(ev)
    assert got is not None
    mid = 0.5 * (max(bids) + min(asks))
    assert near(got[0], mid) == near(bids, mid) and near(got[1], mid) == near(asks, mid)
    assert len(near(bids, mid)) > 500 and len(near(asks, mid)) > 500
    # one CLEAR (qty 1: a snapshot follows), then the snapshot's levels, all at one time, before any diff row
    depth = np.flatnonzero(ev.code == CODE_DEPTH)
    first = depth[0]
    assert ev.kind[first] == CLEAR and ev.qty[first] == 1 and (ev.kind == CLEAR).sum() == 1
    snap = json.loads(next(x for x in lines if "lastUpdateId" in x).split(" ", 1)[1])
    n_snap = len(snap["bids"]) + len(snap["asks"])  # all within ±2 % of the touch here
    assert (ev.ts[depth[1 : 1 + n_snap]] == ev.ts[first]).all()
    np.testing.assert_array_equal(ev.px[depth[1 : 1 + len(snap["bids"])]], [float(p) for p, _ in snap["bids"]])
    # every applied diff, and only those, brings LEVEL rows at its own exchange time
    stream = next(k for k in ev.meta.streams if "@depth" in k)
    assert f"{len(applied):,} diffs applied" in ev.meta.streams[stream]["note"]
    assert ev.meta.streams[stream]["gaps"] == 0 and ev.meta.streams["REST depth snapshot"]["used"]
    assert ((ev.side[depth[1:]] == 1) | (ev.side[depth[1:]] == -1)).all()
    assert (np.diff(ev.ts) >= 0).all()


def test_merged_touch_takes_the_newer_message_on_real_spot():
    """bookTicker and depth count one update-id sequence: each row's touch is that of the newer message. On
    the real spot capture the depth book's best levels equal the bookTicker's at the same update id."""
    path = shared_data(SPOT)
    ev = load_binance(path, book="depth")
    touch = load_binance(path)  # book="touch": bookTicker rows as they are
    q = ev.kind == QUOTE
    tq = touch.kind == QUOTE
    # bookTicker rows, trades and their order are those of book="touch"; only LEVEL/CLEAR rows are added
    keep = (ev.kind == QUOTE) | (ev.kind == TRADE)
    for c in ("ts", "kind", "px", "qty", "side", "code", "local_ts"):
        np.testing.assert_array_equal(getattr(ev, c)[keep], getattr(touch, c)[touch.kind <= TRADE], err_msg=c)
    # the touch on a bookTicker row is its own unless a depth message with a larger update id came before it
    own = ev.bid_px[q] == touch.bid_px[tq]
    assert own.mean() > 0.97
    # at every depth message's last row the touch is the depth book's best (it is the newest message there)
    depth_rows = np.flatnonzero(ev.kind == LEVEL)
    ends = depth_rows[np.r_[np.diff(ev.local_ts[depth_rows]) != 0, True]]
    book: dict = {1: {}, -1: {}}
    n_quotes_before = np.cumsum(q)
    from_depth: list[bool] = []
    check = set(ends[::10].tolist())
    for i in np.flatnonzero(ev.kind == LEVEL):  # the rows rebuild the book; checked at every 10th message end
        s, p, sz = int(ev.side[i]), float(ev.px[i]), float(ev.qty[i])
        book[s][p] = sz
        if sz == 0:
            del book[s][p]
        if i in check:  # the depth book's best, or the last bookTicker's when that one is newer (by update id)
            row = (ev.bid_px[i], ev.bid_sz[i], ev.ask_px[i], ev.ask_sz[i])
            b, a = max(book[1]), min(book[-1])
            j = n_quotes_before[i] - 1
            bt = (touch.bid_px[tq][j], touch.bid_sz[tq][j], touch.ask_px[tq][j], touch.ask_sz[tq][j])
            from_depth.append(row == (b, book[1][b], a, book[-1][a]))
            assert from_depth[-1] or row == bt
    assert len(from_depth) > 300 and 0.8 < np.mean(from_depth) < 1  # both sources decide, the depth mostly
    assert (ev.bid_px[np.isfinite(ev.bid_px)] < ev.ask_px[np.isfinite(ev.bid_px)]).all()


@pytest.mark.parametrize("rel, futures", [(USDM, True), (SPOT, False)], ids=["usdm", "spot"])
def test_a_missing_diff_is_a_gap_resynced_or_refused(tmp_path, rel, futures):
    lines = raw_lines(rel)
    name = rel.split("/")[1]
    full = load_binance(write(tmp_path, lines, name), book="depth")
    diffs = diffs_of(parsed(lines))
    snap_line = next(i for i, x in enumerate(lines, 1) if "lastUpdateId" in x)
    after = [d for d in diffs if d[0] > snap_line + 100]
    gone, nxt = after[10], after[11]  # delete one diff line well after the book started
    cut = [x for i, x in enumerate(lines, 1) if i != gone[0]]
    p = write(tmp_path, cut, "cut_" + name)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ev = api.load_data(p, book="depth", cache=False)
    gw = [x for x in w if issubclass(x.category, DepthGapWarning)]
    t_gap = nxt[2].get("T", nxt[2]["E"]) * MS
    iso = np.datetime_as_string(np.datetime64(t_gap, "ns"), unit="ms")
    assert len(gw) == 1 and "1 sequence gap (" in str(gw[0].message) and iso in str(gw[0].message)
    # a CLEAR with qty 0 (depth unknown) at the next diff's time; no LEVEL rows after it (no second snapshot)
    c0 = np.flatnonzero((ev.kind == CLEAR) & (ev.qty == 0))
    assert c0.size == 1 and ev.ts[c0[0]] == t_gap
    assert not (ev.kind[c0[0] :] == LEVEL).any()
    # before the missing diff's time, the rows are those of the file without the cut
    t_gone = gone[2].get("T", gone[2]["E"]) * MS
    before = full.take(slice(0, int(np.searchsorted(full.ts, t_gone))))
    assert len(before) > 1000
    mine = ev.take(slice(0, len(before)))
    for c in COLUMNS:  # (spot bookTicker times are estimated with the median offset of all lines, one fewer here)
        if futures or c != "ts":
            np.testing.assert_array_equal(getattr(mine, c), getattr(before, c), err_msg=c)
    # refused, naming the file, line and update ids
    with pytest.raises(DataError, match="sequence gap") as ei:
        load_binance(p, book="depth", on_gap="fail")
    line_in_cut = nxt[0] - 1
    prev_u = next(d for d in reversed(diffs) if d[0] < gone[0])[2]["u"]
    ids = f"pu {nxt[2]['pu']} != previous u {prev_u}" if futures else f"U {nxt[2]['U']} != previous u {prev_u} + 1"
    assert ei.value.line == line_in_cut and ids in str(ei.value) and str(ei.value).startswith(f"{p}:{line_in_cut}:")
    # resync: a snapshot of the book (built by hand) placed after the gap restarts the book, and from then on
    # it is the book of the file without the cut
    k = after[30]
    bids, asks, _ = by_hand([x for i, x in enumerate(lines, 1) if i <= k[0]], futures)
    k1 = next(d for d in diffs if d[0] > k[0])
    L = k1[2]["U"] if futures else k[2]["u"]
    mid = 0.5 * (max(bids) + min(asks))
    snap = {
        "lastUpdateId": L,
        "bids": [[f"{p}", f"{q}"] for p, q in sorted(near(bids, mid, 0.015).items(), reverse=True)],
        "asks": [[f"{p}", f"{q}"] for p, q in sorted(near(asks, mid, 0.015).items())],
    }
    local = lines[k1[0] - 1].split(" ", 1)[0]
    resync = [x for i, x in enumerate(lines, 1) if i != gone[0] and i < k1[0]]
    resync += [f"{local} {json.dumps(snap)}"] + lines[k1[0] - 1 :]
    ev2 = load_binance(write(tmp_path, resync, "resync_" + name), book="depth")
    assert ((ev2.kind == CLEAR) & (ev2.qty == 1)).sum() == 2 and ((ev2.kind == CLEAR) & (ev2.qty == 0)).sum() == 1
    b2, a2 = from_rows(ev2)
    bf, af = from_rows(full)
    assert near(b2, mid) == near(bf, mid) and near(a2, mid) == near(af, mid)


@pytest.mark.parametrize("rel", [USDM, SPOT], ids=["usdm", "spot"])
def test_fast_reader_equals_line_reader_bit_for_bit(tmp_path, monkeypatch, rel):
    """The bulk (pyarrow.json) reader and the line-by-line reader give the same table, touch and depth."""
    path = write(tmp_path, raw_lines(rel), rel.split("/")[1])
    monkeypatch.setattr(binance, "_BLOCK", 1 << 16)  # the slice read as about 16 blocks of 64 KB
    for depth in (False, True):  # the real lines take the fast path (no fallback)
        assert binance._scan_fast(binance.Path(path), None, depth).symbol == "btcusdt"
    fast = {b: load_binance(path, book=b) for b in ("touch", "depth")}

    def slow(*a, **k):
        raise binance._Slow("forced")

    monkeypatch.setattr(binance, "_scan_fast", slow)
    for b, ev in fast.items():
        ref = load_binance(path, book=b)
        for c in (*COLUMNS, "local_ts"):
            np.testing.assert_array_equal(getattr(ev, c), getattr(ref, c), err_msg=f"{b} {c}")
        assert ev.meta == ref.meta


def test_local_ts_is_each_lines_receive_stamp(tmp_path):
    lines = raw_lines(USDM, 400)
    ev = load_binance(write(tmp_path, lines, "usdm_btcusdt_x.gz"))
    msgs = parsed(lines)
    bt = [(m["data"]["u"], loc) for _, loc, m in msgs if "stream" in m and m["stream"].endswith("@bookTicker")]
    q = ev.kind == QUOTE
    np.testing.assert_array_equal(ev.local_ts[q], [loc for _, loc in sorted(bt)])
    tr = [loc for _, loc, m in msgs if "stream" in m and m["stream"].endswith("@trade")]
    np.testing.assert_array_equal(np.sort(ev.local_ts[ev.kind == TRADE]), np.sort(tr))
    assert ev.meta.book == "touch" and not (ev.kind >= LEVEL).any()
    note = ev.meta.streams["btcusdt@depth@0ms"]["note"]
    assert "pass --book depth" in note and not ev.meta.streams["btcusdt@depth@0ms"]["used"]


def test_bad_book_flags_are_one_line_errors(tmp_path):
    p = shared_data(USDM)
    with pytest.raises(InputError, match="book: unknown book 'deep'; did you mean depth"):
        api.load_data(p, book="deep")
    with pytest.raises(InputError, match="on_gap: unknown gap policy 'skip'"):
        api.load_data(p, book="depth", on_gap="skip")
    with pytest.raises(InputError, match="depth_window: got 2"):
        api.load_data(p, book="depth", depth_window=2)
    with pytest.raises(InputError, match="--on-gap"):
        load_binance(p, book="depth", on_gap="maybe")
    r = CliRunner().invoke(cli_app.app, ["data", "inspect", str(shared_data(AMZN)), "--book", "depth"])
    assert r.exit_code == 2 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: --book: book='depth' reads a Binance capture's depth stream; a lobster")


def test_malformed_depth_line_wording(tmp_path):
    """A cut depth line: the error names the file's line (not orjson's "line 2 column 1" inside the JSON); with
    on_error="skip" the gap that follows names the skipped line as its cause, and the diffs after the gap (no
    snapshot follows) are said to be after it, not "before the first usable snapshot"."""
    lines = raw_lines(USDM)
    snap_line = next(i for i, x in enumerate(lines, 1) if "lastUpdateId" in x)
    diffs = [d for d in diffs_of(parsed(lines)) if d[0] > snap_line + 100]
    bad = diffs[10][0]
    cut = list(lines)
    cut[bad - 1] = cut[bad - 1][: cut[bad - 1].index('"b":[')] + '"b":[["6'  # ends inside a string: "end of data"
    p = write(tmp_path, cut, "bad_usdm.gz")
    with pytest.raises(DataError) as ei:
        load_binance(p, book="depth")
    msg = str(ei.value)
    assert msg.startswith(f"{p}:{bad}: malformed JSON: ") and "column" not in msg and "line 2" not in msg
    assert "of the JSON text" in msg
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ev = api.load_data(p, book="depth", on_error="skip", cache=False)
    assert ev.meta.skipped == {"malformed JSON": 1}
    gw = [str(x.message) for x in w if issubclass(x.category, DepthGapWarning)]
    nxt = diffs[11][0]
    assert len(gw) == 1
    assert f"(line {nxt} at " in gw[0] and f"caused by the malformed depth message skipped at line {bad})" in gw[0]
    n_after = sum(1 for d in diffs_of(parsed(lines)) if d[0] >= nxt)  # the gap's diff and every later one
    note = ev.meta.streams["btcusdt@depth@0ms"]["note"]
    assert f"its {n_after:,} diffs were not applied" in note and "0 before the first usable snapshot" in note
