"""LOBSTER loader: NASDAQ message + orderbook files, read straight from the zip.

LOBSTER (lobsterdata.com; format in ``LOBSTER_SampleFiles_ReadMe.txt``) ships a
pair of headerless CSV files per day and ticker,
``TICKER_DATE_START_END_message_N.csv`` and ``…_orderbook_N.csv``: message row i
is event i, orderbook row i the book *after* it, N levels.

* message columns: time (seconds after midnight, US/Eastern wall clock, up to ns
  decimals), type, order id, size (shares), price (USD × 10 000), direction (side
  of the *resting* order: +1 buy, −1 sell).
* orderbook columns: ask_px_1, ask_sz_1, bid_px_1, bid_sz_1, ask_px_2, …; empty
  levels are ±9 999 999 999 with size 0 → NaN price and size 0 here.

Mapping to :class:`~flatbook.data.events.EventTable` rows (``code`` = message type):

* 1 new order, 2 partial cancel, 3 delete → QUOTE rows carrying the message's
  ``px`` (USD), ``qty`` (shares) and ``side`` = the book side of the order (+1 bid,
  −1 ask: the message's direction). Only TRADE rows are trades: every reader of
  ``px``/``qty`` masks on ``kind``.
* 4 visible execution, 5 hidden execution → TRADE rows: ``px`` = message price,
  ``qty`` = size, ``side`` = −direction (the execution of a resting sell order is
  a buyer-initiated trade).
* 6 cross (the opening/closing auction print) and 7 trading halt → QUOTE rows with
  code 6 / 7, no trade: an auction cross does not trade against the continuous
  book a market maker quotes in, and its book row repeats the previous state.
  Keep them out of fill models by their code if needed.

``entry_ts`` (the L3 time priority, :mod:`flatbook.data.events`): on a row of type
1–4 the exchange time (ns) of the same order id's type-1 message (a type-1 row
carries its own ``ts``), or ``ENTRY_BEFORE`` when that order was resting before the
file starts (its type-1 message is not in the file); ``ENTRY_NONE`` on rows that
refer to no displayed order: type 5 (a hidden order's execution; LOBSTER gives it
order id 0), types 6 and 7, and order id 0 or −1. An N-level file holds only the messages that change its first N
levels (checked on the AMZN 5-level sample: a price coming into view brings volume no
message added), so an order placed out of view and later cancelled or executed in view
reads ``ENTRY_BEFORE``, and a queue rebuilt from the messages is exact only while its
price stays in view (``tests/test_lobster_l3.py``).

Book columns are level 1 of the orderbook row; with more than one level, ``depth``
holds all requested levels as (bid_px, bid_sz, ask_px, ask_sz).
Timestamps: ``ts = UTC midnight of the file's date + seconds·10⁹ − UTC offset``
(America/New_York offset in force at that date's noon: DST switches at 02:00, outside
trading hours), seconds rounded to the ns (float64 holds 9 decimals of a
seconds-after-midnight value exactly enough: error < 0.01 ns).
"""

from __future__ import annotations

import math
import os
import re
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .events import ENTRY_BEFORE, ENTRY_NONE, QUOTE, TRADE, DataError, EventMeta, EventTable, Problems, empty_columns
from .generic import check_file, screen, ts_order

PRICE_SCALE = 10_000  # file prices are USD × 10 000
EMPTY_LEVEL = 9_999_999_999  # ± this marks an empty level
MESSAGE_COLUMNS = 6
EXECUTIONS = (4, 5)
ORDER_MESSAGES = (1, 2, 3)  # new order, partial cancel, delete: QUOTE rows with the order's px, qty, side
NAME = re.compile(
    r"(?:^|/)(?P<ticker>[^/]+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
NEW_YORK = ZoneInfo("America/New_York")
_BLOCK = 1 << 22  # bytes read from the zip member at a time


def _parse_block(block: bytes, line0: int, ncols: int, problems: Problems, where: str):
    """Parse whole CSV lines ``line0+1 …``: (rows float64 (m, ncols), line numbers (m,), lines seen).

    Fast path: pyarrow's CSV reader on the block. If it fails, or the block has
    empty lines, missing or non-finite cells, the block is re-read line by line in
    Python, only to name the exact bad lines (with ``skip``: drop them).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    n = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    names = [f"c{i}" for i in range(ncols)]
    try:
        t = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
        )
        if t.num_rows == n:
            arr = np.column_stack([t.column(i).to_numpy() for i in range(ncols)]) if n else np.zeros((0, ncols))
            if np.isfinite(arr).all():
                return arr, np.arange(line0 + 1, line0 + n + 1, dtype=np.int64), n
    except (pa.ArrowInvalid, ValueError):
        pass
    rows, good = [], []
    for k, raw in enumerate(block.split(b"\n")[:n], start=line0 + 1):
        raw = raw.rstrip(b"\r")
        fields = raw.split(b",") if raw.strip() else []
        if len(fields) != ncols:
            problems.report(
                where, k, "wrong number of columns", f"expected {ncols}, got {len(fields)}" if fields else "empty line"
            )
            continue
        vals = []
        for j, f in enumerate(fields):
            try:
                v = float(f)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                problems.report(where, k, "non-numeric field", f"column {j + 1} = {f.decode('utf-8', 'replace')!r}")
                break
            vals.append(v)
        else:
            rows.append(vals)
            good.append(k)
    return np.array(rows, dtype=np.float64).reshape(-1, ncols), np.array(good, dtype=np.int64), n


def _read_numeric(zf: zipfile.ZipFile, member: str, ncols: int, problems: Problems, where: str):
    """Stream one zip member in blocks: (rows (m, ncols), their 1-based line numbers, total lines)."""
    parts, lines = [], []
    line0, rest = 0, b""
    try:
        with zf.open(member) as fh:
            while True:
                data = fh.read(_BLOCK)
                buf = rest + data
                if data:
                    cut = buf.rfind(b"\n") + 1
                    block, rest = buf[:cut], buf[cut:]
                else:
                    block, rest = buf, b""
                if block:
                    arr, good, n = _parse_block(block, line0, ncols, problems, where)
                    parts.append(arr)
                    lines.append(good)
                    line0 += n
                if not data:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(where, line0 or None, f"corrupt zip member ({exc})") from None
    if not parts:
        return np.zeros((0, ncols)), np.zeros(0, np.int64), 0
    return np.concatenate(parts), np.concatenate(lines), line0


def _members(zf: zipfile.ZipFile, path: Path) -> tuple[str, str, re.Match]:
    found: dict[str, list[tuple[str, re.Match]]] = {"message": [], "orderbook": []}
    for name in zf.namelist():
        m = NAME.search(name)
        if m:
            found[m["kind"]].append((name, m))
    if len(found["message"]) != 1 or len(found["orderbook"]) != 1:
        raise DataError(
            path,
            None,
            "expected exactly one TICKER_DATE_START_END_message_N.csv and one "
            "…_orderbook_N.csv in the zip; found "
            f"{', '.join(zf.namelist()) or 'nothing'}",
        )
    (msg, mm), (ob, om) = found["message"][0], found["orderbook"][0]
    if (mm["ticker"], mm["date"], mm["levels"]) != (om["ticker"], om["date"], om["levels"]):
        raise DataError(path, None, f"message and orderbook files do not match: {msg}, {ob}")
    return msg, ob, mm


def _midnight_ns(date: str) -> int:
    """ns since the epoch of 00:00 America/New_York wall clock on ``date`` (offset at noon)."""
    y, m, d = map(int, date.split("-"))
    offset = datetime(y, m, d, 12, tzinfo=NEW_YORK).utcoffset()
    assert offset is not None  # an aware datetime always has a UTC offset
    utc_midnight = int(datetime(y, m, d, tzinfo=UTC).timestamp())
    return (utc_midnight - int(offset.total_seconds())) * 1_000_000_000


def _book(raw: np.ndarray, levels: int) -> np.ndarray:
    """Orderbook rows (n, 4·N) in file order → (n, levels, 4) as (bid_px, bid_sz, ask_px, ask_sz), USD."""
    r = raw[:, : 4 * levels].reshape(len(raw), levels, 4)  # per level: ask_px, ask_sz, bid_px, bid_sz
    ask_px, ask_sz, bid_px, bid_sz = (r[:, :, k] for k in range(4))
    ask_empty, bid_empty = ask_px >= EMPTY_LEVEL, bid_px <= -EMPTY_LEVEL
    return np.stack(
        [
            np.where(bid_empty, np.nan, bid_px / PRICE_SCALE),
            np.where(bid_empty, 0.0, bid_sz),
            np.where(ask_empty, np.nan, ask_px / PRICE_SCALE),
            np.where(ask_empty, 0.0, ask_sz),
        ],
        axis=2,
    )


def entry_times(ts: np.ndarray, typ: np.ndarray, oid: np.ndarray) -> np.ndarray:
    """``entry_ts`` of each message (int64 ns): the time of the latest type-1 message of the same order id at
    or before it, ``ENTRY_BEFORE`` if there is none, ``ENTRY_NONE`` for types 5–7 and ids ≤ 0.

    Vectorised: the rows sorted by (order id, row), then within each id's run the last type-1 row so far
    (a running maximum of type-1 positions, reset at the run's start).
    """
    n = len(ts)
    out = np.full(n, ENTRY_NONE, np.int64)
    refers = (oid > 0) & (typ <= 4)  # 5: a hidden order's execution, never in the displayed queue
    rows = np.flatnonzero(refers)
    if not rows.size:
        return out
    ids = oid[rows]
    order = np.lexsort((rows, ids))  # stable: by id, then file order
    srt_rows, srt_ids = rows[order], ids[order]
    pos = np.arange(srt_rows.size)
    start = np.ones(srt_rows.size, bool)
    start[1:] = srt_ids[1:] != srt_ids[:-1]
    run_start = np.maximum.accumulate(np.where(start, pos, 0))
    last_new = np.maximum.accumulate(np.where(typ[srt_rows] == 1, pos, -1))
    has = last_new >= run_start
    out[srt_rows] = np.where(has, ts[srt_rows[np.maximum(last_new, 0)]], ENTRY_BEFORE)
    return out


def load_lobster(
    path: str | os.PathLike, *, levels: int | None = None, on_error: str = "fail", tolerance_ns: int = 0
) -> EventTable:
    """Load a LOBSTER zip (one message + orderbook pair, any number of levels N).

    ``levels`` keeps the first ``levels`` ≤ N book levels (default all N).
    Prices in USD, sizes in shares, ``ts`` in ns since the epoch (UTC); see the
    module docstring for the row mapping. Errors name ``ZIP/MEMBER:LINE``:
    wrong number of columns, non-numeric fields, message/orderbook row counts
    differing, unknown message type, direction not ±1, non-positive execution
    size, crossed level-1 book (bid >= ask, both present), time going backwards
    by more than ``tolerance_ns`` (smaller steps back are raised to the previous
    time, order kept). ``on_error="skip"`` drops such rows (and their partner row)
    and counts them in ``meta.skipped``.
    """
    problems = Problems(on_error)
    path = check_file(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(path, None, f"not a zip file ({exc})") from None
    with zf:
        msg_name, ob_name, m = _members(zf, path)
        n_levels = int(m["levels"])
        if levels is None:
            levels = n_levels
        if not 1 <= int(levels) <= n_levels:
            raise DataError(path, None, f"levels must be between 1 and {n_levels} (the file's levels); got {levels}")
        levels = int(levels)
        msg_where, ob_where = f"{path}/{msg_name}", f"{path}/{ob_name}"
        msg, mline, n_msg = _read_numeric(zf, msg_name, MESSAGE_COLUMNS, problems, msg_where)
        ob, oline, n_ob = _read_numeric(zf, ob_name, 4 * n_levels, problems, ob_where)

    n = min(n_msg, n_ob)
    if n_msg != n_ob:
        longer = msg_where if n_msg > n_ob else ob_where
        problems.report(
            longer, n + 1, "message/orderbook row counts differ", f"{msg_name} has {n_msg} rows, {ob_name} has {n_ob}"
        )
        problems.counts["message/orderbook row counts differ"] += abs(n_msg - n_ob) - 1
    # pair message line k with orderbook line k; keep lines good in both files
    good = np.zeros(n + 2, bool)
    good[mline[mline <= n]] = True
    ob_good = np.zeros(n + 2, bool)
    ob_good[oline[oline <= n]] = True
    good &= ob_good
    msg, mline = msg[good[np.minimum(mline, n + 1)]], mline[good[np.minimum(mline, n + 1)]]
    ob = ob[good[np.minimum(oline, n + 1)]]

    secs, typ, oid, size, price, direction = msg[:, 0], msg[:, 1], msg[:, 2], msg[:, 3], msg[:, 4], msg[:, 5]
    ts = _midnight_ns(m["date"]) + np.rint(secs * 1e9).astype(np.int64)
    ask1, bid1 = ob[:, 0], ob[:, 2]
    is_exec = np.isin(typ, EXECUTIONS)
    checks = [
        ("unknown message type", ~np.isin(typ, np.arange(1, 8)), lambda i: f"type {typ[i]:g} (expected 1–7)"),
        ("bad direction", ~np.isin(direction, (-1, 1)), lambda i: f"direction {direction[i]:g} (expected ±1)"),
        ("non-positive execution size", is_exec & (size <= 0), lambda i: f"size {size[i]:g}"),
        (
            "crossed book",
            (bid1 > -EMPTY_LEVEL) & (ask1 < EMPTY_LEVEL) & (bid1 >= ask1),
            lambda i: f"best bid {bid1[i] / PRICE_SCALE:g} >= best ask {ask1[i] / PRICE_SCALE:g}",
            ob_where,
        ),
    ]
    keep = screen(problems, msg_where, mline, checks, [ts_order(ts, int(tolerance_ns))])
    typ, size, price, direction, is_exec = typ[keep], size[keep], price[keep], direction[keep], is_exec[keep]
    oid = oid[keep]
    ts = ts[keep]
    if len(ts):
        ts = np.maximum.accumulate(ts)
    book = _book(ob[keep], levels)

    cols = empty_columns(len(ts))
    cols["ts"] = ts
    cols["kind"] = np.where(is_exec, TRADE, QUOTE).astype(np.int8)
    cols["bid_px"], cols["bid_sz"], cols["ask_px"], cols["ask_sz"] = (book[:, 0, k] for k in range(4))
    is_order = np.isin(typ, ORDER_MESSAGES)
    cols["px"] = np.where(is_exec | is_order, price / PRICE_SCALE, np.nan)
    cols["qty"] = np.where(is_exec | is_order, size, 0.0)
    cols["side"] = np.where(is_exec, -direction, np.where(is_order, direction, 0)).astype(np.int8)
    cols["code"] = typ.astype(np.int16)
    meta = EventMeta(
        instrument=m["ticker"],
        source="lobster",
        tick_size=0.01,
        lot_size=1.0,
        price_unit="USD",
        qty_unit="shares",
        levels=levels,
        files=(str(path),),
        skipped=dict(problems.counts),
    )
    entry = entry_times(ts, typ.astype(np.int64), oid.astype(np.int64))
    return EventTable(**cols, meta=meta, depth=book if levels > 1 else None, entry_ts=entry)
