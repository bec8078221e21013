"""hftbacktest ``.npz`` event files: the data its users already have, read as they are.

hftbacktest (nkaz001/hftbacktest, MIT; the Python package ``hftbacktest`` 2.x) stores market data as a
numpy structured array, ``np.savez_compressed(path, data=events)``, of its ``event_dtype``
(``py-hftbacktest/hftbacktest/types.py``)::

    ev u8 (flags) · exch_ts i8 (ns) · local_ts i8 (ns) · px f8 · qty f8 · order_id u8 · ival i8 · fval f8

``ev`` is the event kind in its low byte and attribute bits above it (``hftbacktest/src/types.rs``):
``DEPTH_EVENT`` 1 (one level's new size), ``TRADE_EVENT`` 2, ``DEPTH_CLEAR_EVENT`` 3 (clear a side up to
``px``), ``DEPTH_SNAPSHOT_EVENT`` 4 (one level of a snapshot), ``DEPTH_BBO_EVENT`` 5 (a best-level
update), ``ADD_ORDER_EVENT`` 10, ``CANCEL_ORDER_EVENT`` 11, ``MODIFY_ORDER_EVENT`` 12, ``FILL_EVENT`` 13
(market-by-order, L3); ``EXCH_EVENT`` 1<<31 (valid for the exchange processor at ``exch_ts``),
``LOCAL_EVENT`` 1<<30 (for the local one at ``local_ts``), ``BUY_EVENT`` 1<<29 (bid side; a buyer-initiated
trade), ``SELL_EVENT`` 1<<28 (ask side; a seller-initiated trade).

Mapping to :class:`~flatbook.data.events.EventTable` rows (``meta.book = "depth"``), from the events with
``EXCH_EVENT`` set (the exchange's view), in exchange-time order:

* DEPTH, DEPTH_SNAPSHOT and DEPTH_BBO → ``LEVEL`` rows (``side`` +1 bid / −1 ask from BUY/SELL, ``px`` the
  level, ``qty`` its new size, 0 = gone);
* a run of DEPTH_CLEAR events → one ``CLEAR`` row with ``qty`` 1 (a snapshot follows), emptying the whole
  book; a side the run did not clear is written back at once as LEVEL rows (its levels as they stood), so
  that a one-sided clear keeps the other side. hftbacktest clears a side only up to ``px``; the levels past
  it, stale by then, go too;
* TRADE → ``TRADE`` rows (aggressor +1 BUY, −1 SELL, 0 neither);
* the market-by-order events (10–13) are counted in ``meta.streams`` and not used.

``code`` is hftbacktest's event kind (1–5); ``local_ts`` its local receive time. The touch columns
(best bid/ask and their sizes after each row) come from replaying the levels in one compiled pass over a
dense price grid (:func:`_touch`). Prices on a tick grid (``tick_size`` given, or inferred from the
levels' prices). The file is read in chunks of rows straight from the zip member (``.npy`` header, then
rows), so memory is one chunk plus the kept columns (34 B a row) and the table.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .events import CLEAR, LEVEL, TRADE, DataError, EventMeta, EventTable, Problems, empty_columns, infer_tick
from .generic import check_file, screen

DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT = 1, 2, 3, 4, 5
ADD_ORDER_EVENT, CANCEL_ORDER_EVENT, MODIFY_ORDER_EVENT, FILL_EVENT = 10, 11, 12, 13
EXCH_EVENT, LOCAL_EVENT, BUY_EVENT, SELL_EVENT = 1 << 31, 1 << 30, 1 << 29, 1 << 28
KIND_MASK = 0xFF
EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
CHUNK_ROWS = 1 << 18
MAX_GRID = 50_000_000  # price grid cells (ticks between the lowest and highest level): 400 MB a side
_DEPTH_KINDS = (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT)


def is_npz_events(path: Path) -> bool:
    """True if ``path`` is a zip holding ``.npy`` members (an ``.npz``), whatever its name."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith(".npy") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _member(zf: zipfile.ZipFile, path: Path) -> str:
    names = [n for n in zf.namelist() if n.endswith(".npy")]
    if not names:
        raise DataError(path, None, "no .npy array in the .npz file")
    return "data.npy" if "data.npy" in names else names[0]


def _read(path: Path, rows: int):
    """Stream the event array: (kind u1, side i1, exch_ts, local_ts, px, qty, flags-problems) of the EXCH rows,
    the count of each kind read, and the total rows."""
    parts: list[tuple[np.ndarray, ...]] = []
    counts: dict[int, int] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf, zf.open(_member(zf, path)) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            names = set(dtype.names or ())
            need = {"ev", "exch_ts", "local_ts", "px", "qty"}
            if len(shape) != 1 or fortran or not need <= names:
                raise DataError(
                    path,
                    None,
                    f"not an hftbacktest event array: shape {shape}, fields {', '.join(sorted(names)) or 'none'}; "
                    "expected a 1-d array of event_dtype (ev, exch_ts, local_ts, px, qty, order_id, ival, fval)",
                )
            n = int(shape[0])
            size = dtype.itemsize
            while total < n:
                k = min(rows, n - total)
                buf = fh.read(k * size)
                if len(buf) != k * size:
                    raise DataError(path, None, f"truncated: {n} events declared, {total + len(buf) // size} found")
                a = np.frombuffer(buf, dtype=dtype)
                ev = a["ev"].astype(np.uint64)
                kind = (ev & np.uint64(KIND_MASK)).astype(np.uint8)
                exch = (ev & np.uint64(EXCH_EVENT)) != 0
                for kd, c in zip(*np.unique(kind[exch], return_counts=True)):
                    counts[int(kd)] = counts.get(int(kd), 0) + int(c)
                keep = exch & np.isin(kind, (*_DEPTH_KINDS, TRADE_EVENT, DEPTH_CLEAR_EVENT))
                buy = (ev[keep] & np.uint64(BUY_EVENT)) != 0
                sell = (ev[keep] & np.uint64(SELL_EVENT)) != 0
                side = np.where(buy & ~sell, 1, np.where(sell & ~buy, -1, 0)).astype(np.int8)
                parts.append(
                    (
                        kind[keep],
                        side,
                        a["exch_ts"][keep].astype(np.int64),
                        a["local_ts"][keep].astype(np.int64),
                        a["px"][keep].astype(np.float64),
                        a["qty"][keep].astype(np.float64),
                    )
                )
                total += k
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise DataError(path, None, f"not a readable .npz file ({exc})") from None
    cols = [np.concatenate([p[j] for p in parts]) for j in range(6)] if parts else [np.zeros(0)] * 6
    return cols, counts, total


def touch_kernel():
    """:func:`_touch` compiled (numba, cached on disk; imported here, not at module level: start-up)."""
    global _TOUCH
    if _TOUCH is None:
        import numba as nb  # lazy: start-up

        _TOUCH = nb.njit(cache=True, nogil=True)(_touch)
    return _TOUCH


_TOUCH: Any = None


def _touch(kind, side, ticks, px, qty, n_grid, out):
    """Replay the levels on a dense grid of ticks (0 … ``n_grid`` − 1) and write the output rows into ``out``
    (float64, rows × 9: kind (1 trade, 2 level, 3 clear), side, px, qty, source row, bid_px, bid_sz, ask_px,
    ask_sz; NaN price / 0 size for an empty side). A run of clears is one CLEAR row, then the levels of a side
    the run did not clear, written back from the best outwards. Prices are the file's own (the last price seen
    at each tick). A level that crosses the other side's best moves that best past it, as hftbacktest's market
    depth does (``ROIVectorMarketDepth.update_bid_depth``/``update_ask_depth``): the crossed levels are stale. Returns the number of rows written, or −1 if ``out`` is too small."""
    bq = np.zeros(n_grid)
    aq = np.zeros(n_grid)
    gp = np.full(n_grid, np.nan)
    best_b, best_a = -1, n_grid
    m = 0
    i = 0
    n = kind.shape[0]
    while i < n:
        kd = kind[i]
        if kd == 3:
            clr_b = False
            clr_a = False
            last = i
            while i < n and kind[i] == 3:
                if side[i] >= 0:
                    clr_b = True
                if side[i] <= 0:
                    clr_a = True
                last = i
                i += 1
            if m >= out.shape[0]:
                return -1
            out[m, 0] = 3.0
            out[m, 1] = 0.0
            out[m, 2] = np.nan
            out[m, 3] = 1.0
            out[m, 4] = last
            out[m, 5] = np.nan
            out[m, 6] = 0.0
            out[m, 7] = np.nan
            out[m, 8] = 0.0
            m += 1
            if clr_b:
                bq[:] = 0.0
                best_b = -1
            if clr_a:
                aq[:] = 0.0
                best_a = n_grid
            tb = best_b
            ta = n_grid  # the ask side is written back after the bids
            for s in range(2):
                if (s == 0 and clr_b) or (s == 1 and clr_a):
                    continue
                if s == 1:
                    ta = best_a
                t = best_b if s == 0 else best_a
                while 0 <= t < n_grid:
                    q = bq[t] if s == 0 else aq[t]
                    if q > 0.0:
                        if m >= out.shape[0]:
                            return -1
                        out[m, 0] = 2.0
                        out[m, 1] = 1.0 if s == 0 else -1.0
                        out[m, 2] = gp[t]
                        out[m, 3] = q
                        out[m, 4] = last
                        out[m, 5] = gp[tb] if tb >= 0 else np.nan
                        out[m, 6] = bq[tb] if tb >= 0 else 0.0
                        out[m, 7] = gp[ta] if ta < n_grid else np.nan
                        out[m, 8] = aq[ta] if ta < n_grid else 0.0
                        m += 1
                    t = t - 1 if s == 0 else t + 1
            continue
        if kd != 2:  # a level
            t = ticks[i]
            gp[t] = px[i]
            if side[i] > 0:
                bq[t] = qty[i]
                if qty[i] > 0.0 and t > best_b:
                    best_b = t
                    if best_b >= best_a:  # the asks at or below it are stale: the best ask is the next above
                        best_a = best_b + 1
                        while best_a < n_grid and aq[best_a] <= 0.0:
                            best_a += 1
                elif qty[i] <= 0.0 and t == best_b:
                    while best_b >= 0 and bq[best_b] <= 0.0:
                        best_b -= 1
            else:
                aq[t] = qty[i]
                if qty[i] > 0.0 and t < best_a:
                    best_a = t
                    if best_b >= best_a:
                        best_b = best_a - 1
                        while best_b >= 0 and bq[best_b] <= 0.0:
                            best_b -= 1
                elif qty[i] <= 0.0 and t == best_a:
                    while best_a < n_grid and aq[best_a] <= 0.0:
                        best_a += 1
        if m >= out.shape[0]:
            return -1
        out[m, 0] = 1.0 if kd == 2 else 2.0
        out[m, 1] = side[i]
        out[m, 2] = px[i]
        out[m, 3] = qty[i]
        out[m, 4] = i
        out[m, 5] = gp[best_b] if best_b >= 0 else np.nan
        out[m, 6] = bq[best_b] if best_b >= 0 else 0.0
        out[m, 7] = gp[best_a] if best_a < n_grid else np.nan
        out[m, 8] = aq[best_a] if best_a < n_grid else 0.0
        m += 1
        i += 1
    return m


def load_npz(
    path: str | os.PathLike,
    *,
    on_error: str = "fail",
    instrument: str | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> EventTable:
    """Load an hftbacktest ``.npz`` event file (see the module docstring).

    ``tick_size`` (price units) defaults to the grid the levels' prices sit on
    (:func:`~flatbook.data.events.infer_tick`), ``lot_size`` (quantity units) to the one
    the sizes sit on; ``instrument`` to the file's stem. Refused: a file that is not an
    event array, exchange times going backwards (hftbacktest's own validation keeps
    them in order), a level off the tick grid, a depth or trade event with no side.
    ``on_error="skip"`` drops such rows and counts them in ``meta.skipped``.
    """
    problems = Problems(on_error)
    p = check_file(path)
    (kind, side, ts, lts, px, qty), counts, total = _read(p, int(chunk_rows))
    n = len(ts)
    if n and np.any(np.diff(ts) < 0):  # hftbacktest validates the order; a file that breaks it is suspect
        i = int(np.argmax(np.diff(ts) < 0)) + 1
        problems.report(p, i + 1, "timestamp out of order", f"exch_ts {ts[i]} ns < {ts[i - 1]} ns before it", row=True)
        order = np.argsort(ts, kind="stable")  # skip: the events sorted by exchange time
        kind, side, ts, lts, px, qty = (a[order] for a in (kind, side, ts, lts, px, qty))
    is_lvl = np.isin(kind, _DEPTH_KINDS)
    is_tr = kind == TRADE_EVENT
    good_px = np.isfinite(px) & (px > 0)
    lvl_px = px[is_lvl & good_px]
    tick = float(tick_size) if tick_size is not None else infer_tick(lvl_px if lvl_px.size else px[is_tr & good_px])
    if not (np.isfinite(tick) and tick > 0):
        raise DataError(p, None, "cannot infer the tick size from the prices; pass tick_size (--tick-size)")
    ticks = np.zeros(n, np.int64)
    has_px = (is_lvl | is_tr) & good_px
    ticks[has_px] = np.rint(px[has_px] / tick).astype(np.int64)
    checks = (
        ("no side", is_lvl & (side == 0), lambda i: "a depth event with neither BUY_EVENT nor SELL_EVENT"),
        ("bad price", (is_lvl | is_tr) & ~good_px, lambda i: f"price {px[i]!r}: must be a finite number > 0"),
        (
            "bad quantity",
            (is_lvl & ~(np.isfinite(qty) & (qty >= 0))) | (is_tr & ~(np.isfinite(qty) & (qty > 0))),
            lambda i: f"quantity {qty[i]!r}: must be finite, >= 0 on a depth event, > 0 on a trade",
        ),
        (
            "price off the tick grid",
            is_lvl & good_px & (np.abs(ticks * tick - px) > 1e-6 * tick + 4 * np.spacing(px)),
            lambda i: f"level price {px[i]!r} is not a multiple of the tick {tick:g}",
        ),
    )
    keep = screen(problems, p, np.arange(1, n + 1), checks, row=True)
    if not keep.all():
        kind, side, ts, lts, px, qty, ticks = (a[keep] for a in (kind, side, ts, lts, px, qty, ticks))
        is_lvl = is_lvl[keep]
    lo = int(ticks[is_lvl].min()) if is_lvl.any() else 0
    hi = int(ticks[is_lvl].max()) if is_lvl.any() else 0
    grid = hi - lo + 1
    if grid > MAX_GRID:
        raise DataError(p, None, f"levels span {grid:,} ticks of {tick:g} (more than {MAX_GRID:,}): is the tick right?")
    rel = np.where(is_lvl, ticks - lo, 0)
    cap = len(kind) + 1024
    while True:  # one-sided clears write a side back: more rows than events, rarely
        out = np.empty((cap, 9))
        m = touch_kernel()(kind, side, rel, px, qty, grid, out)
        if m >= 0:
            break
        cap *= 2
    out = out[:m]
    src = out[:, 4].astype(np.int64)
    cols = empty_columns(m)
    cols["ts"] = ts[src]
    cols["kind"] = np.select([out[:, 0] == 1, out[:, 0] == 3], [TRADE, CLEAR], LEVEL).astype(np.int8)
    cols["code"] = kind[src].astype(np.int16)
    cols["side"] = out[:, 1].astype(np.int8)
    cols["px"], cols["qty"] = out[:, 2].copy(), out[:, 3].copy()
    cols["bid_px"], cols["bid_sz"], cols["ask_px"], cols["ask_sz"] = (out[:, k].copy() for k in (5, 6, 7, 8))
    del out
    sizes = qty[(qty > 0) & np.isfinite(qty)]
    names = {
        DEPTH_EVENT: "DEPTH_EVENT",
        TRADE_EVENT: "TRADE_EVENT",
        DEPTH_CLEAR_EVENT: "DEPTH_CLEAR_EVENT",
        DEPTH_SNAPSHOT_EVENT: "DEPTH_SNAPSHOT_EVENT",
        DEPTH_BBO_EVENT: "DEPTH_BBO_EVENT",
    }
    streams = {}
    for kd, c in sorted(counts.items()):
        used = kd in names
        streams[names.get(kd, f"event kind {kd}")] = {
            "messages": c,
            "used": used,
            "note": "exchange-side events (EXCH_EVENT)"
            if used
            else "market-by-order (L3) or unknown events: not used by the depth book",
        }
    meta = EventMeta(
        instrument=instrument or p.name.split(".")[0],
        source="hftbacktest",
        tick_size=tick,
        lot_size=float(lot_size) if lot_size is not None else infer_tick(sizes),
        files=(str(p),),
        skipped=dict(problems.counts),
        streams=streams,
        book="depth",
        lot_inferred=lot_size is None,
    )
    return EventTable(**cols, meta=meta, local_ts=lts[src])
