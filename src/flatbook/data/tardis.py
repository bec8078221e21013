"""Tardis-style CSV files: ``incremental_book_L2``, ``trades`` and ``quotes``, merged on one clock.

Format (docs.tardis.dev, "Downloadable CSV files"), one header line, gzipped or plain, every file
starting with ``exchange, symbol, timestamp, local_timestamp`` (µs since the Unix epoch: the exchange's
time, and the time the message was received), then:

* ``incremental_book_L2``: ``is_snapshot`` (true/false), ``side`` (bid/ask), ``price``, ``amount``
  (the level's new size; 0 removes it). A run of ``is_snapshot=true`` rows after updates (or at the
  start) is a new snapshot: the book is reset first;
* ``trades``: ``id``, ``side`` (the taker's: buy/sell/unknown), ``price``, ``amount``;
* ``quotes``: ``ask_amount``, ``ask_price``, ``bid_price``, ``bid_amount`` (empty = no level).

Mapping to :class:`~flatbook.data.events.EventTable` rows: a book update → ``LEVEL`` (``side`` +1 bid,
−1 ask; ``qty`` the new size), the start of a snapshot → ``CLEAR`` with ``qty`` 1 then its LEVELs, a
trade → ``TRADE`` (aggressor +1 buy, −1 sell, 0 unknown), a quote → ``QUOTE``. Several files are
merged by exchange time, stably (on equal times the files in the order given, each in its own order).
``ts`` = ``timestamp`` × 1000 (ns), ``local_ts`` = ``local_timestamp`` × 1000. With a book file,
``meta.book`` is ``"depth"`` and the touch columns of LEVEL, CLEAR and TRADE rows come from replaying
the levels (:func:`flatbook.data.hftbacktest_npz._touch`); QUOTE rows carry their own. Without one,
trades carry the last quote's book. ``code``: 110 book, 111 trade, 112 quote.

Each file is read in blocks (``pyarrow.csv.open_csv``), columns typed as they are read, so memory
is one block plus the kept columns.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np

from .events import CLEAR, LEVEL, QUOTE, TRADE, DataError, EventMeta, EventTable, Problems, empty_columns, infer_tick
from .generic import _carry_book, check_file, screen, ts_order
from .hftbacktest_npz import MAX_GRID, touch_kernel

CODE_BOOK, CODE_TRADE, CODE_QUOTE = 110, 111, 112
HEAD = ("exchange", "symbol", "timestamp", "local_timestamp")
KINDS = {
    "incremental_book_L2": ("is_snapshot", "side", "price", "amount"),
    "trades": ("id", "side", "price", "amount"),
    "quotes": ("ask_amount", "ask_price", "bid_price", "bid_amount"),
}
US = 1000  # ns per µs
_BLOCK = 1 << 22


def header(path: Path) -> list[str]:
    """The first line's column names ([] if the file cannot be read as text)."""
    try:
        opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return [c.strip() for c in fh.readline().strip().split(",")]
    except (OSError, EOFError, gzip.BadGzipFile):
        return []


def file_kind(path: Path) -> str | None:
    """``incremental_book_L2``, ``trades`` or ``quotes`` from the file's header, or None if not a Tardis CSV."""
    cols = header(path)
    if tuple(cols[:4]) != HEAD:
        return None
    for kind, rest in KINDS.items():
        if set(rest) <= set(cols):
            return kind
    return None


def _read(path: Path, kind: str) -> dict[str, np.ndarray]:
    """One file's columns as numpy, read in blocks (numbers typed by pyarrow as they are read)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types: dict[str, Any] = {"timestamp": pa.int64(), "local_timestamp": pa.int64()}
    if kind == "incremental_book_L2":
        types |= {"is_snapshot": pa.bool_(), "side": pa.string(), "price": pa.float64(), "amount": pa.float64()}
    elif kind == "trades":
        types |= {"side": pa.string(), "price": pa.float64(), "amount": pa.float64()}
    else:
        types |= dict.fromkeys(KINDS["quotes"], pa.float64())
    import pyarrow.compute as pc

    parts: dict[str, list[np.ndarray]] = {k: [] for k in types}
    bad_text: dict[int, str] = {}  # 0-based row → a side's text that is not allowed (the first of each block)
    rows_seen = 0
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BLOCK, use_threads=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(types), column_types=types, strings_can_be_null=False
            ),
        )
        with reader:
            for batch in reader:
                for name, col in zip(batch.schema.names, batch.columns):
                    if name == "side":  # as codes, per block (no Python string per row); the text of a bad one kept
                        words = ("bid", "ask") if kind == "incremental_book_L2" else ("buy", "sell", "unknown")
                        code = np.full(len(col), 9, np.int8)
                        for w, c in zip(words, (1, -1, 0)):
                            code[pc.equal(col, w).to_numpy(zero_copy_only=False)] = c
                        for j in np.flatnonzero(code == 9)[:1]:
                            bad_text.setdefault(rows_seen + int(j), str(col[int(j)].as_py()))
                        parts[name].append(code)
                    elif name == "is_snapshot":
                        parts[name].append(col.to_numpy(zero_copy_only=False).astype(bool))
                    elif pa.types.is_floating(col.type):
                        parts[name].append(col.to_numpy(zero_copy_only=False))
                    else:
                        if col.null_count:
                            raise DataError(path, None, f"column {name}: empty cells (expected µs since the epoch)")
                        parts[name].append(col.to_numpy())
                rows_seen += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise DataError(path, None, f"cannot read as a Tardis {kind} CSV ({str(exc).splitlines()[0]})") from None
    out = {}
    for k, v in parts.items():
        out[k] = np.concatenate(v) if v else np.zeros(0, np.int8 if k == "side" else np.float64)
    out["bad_text"] = bad_text  # type: ignore[assignment]
    return out


def load_tardis(
    paths,
    *,
    on_error: str = "fail",
    instrument: str | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
) -> EventTable:
    """Load one or more Tardis CSV files (incremental_book_L2, trades, quotes; see the module docstring).

    ``paths``: a file, a directory (its ``*.csv`` and ``*.csv.gz`` files that are Tardis CSVs), or a list.
    ``instrument`` defaults to the files' ``symbol``; ``tick_size`` / ``lot_size`` to the grids the book's
    (else the quotes', else the trades') prices and sizes sit on. Refused, naming the file and row: a
    timestamp going backwards, a side other than bid/ask (book) or buy/sell/unknown (trades), a price not
    > 0, a negative size (a trade's must be > 0), a crossed quote; more than one symbol.
    """
    problems = Problems(on_error)
    files = resolve(paths)
    events: list[dict[str, np.ndarray]] = []
    symbols: set[str] = set()
    exchanges: set[str] = set()
    streams: dict[str, dict] = {}
    has_book = False
    for p in files:
        kind = file_kind(p)
        if kind is None:
            raise DataError(
                p,
                None,
                "not a Tardis CSV: the header must start with exchange,symbol,timestamp,local_timestamp and hold "
                "the incremental_book_L2, trades or quotes columns",
            )
        raw = _read(p, kind)
        n = len(raw["timestamp"])
        ts, lts = raw["timestamp"].astype(np.int64) * US, raw["local_timestamp"].astype(np.int64) * US
        rows = np.arange(1, n + 1)
        ev: dict[str, np.ndarray] = {"ts": ts, "lts": lts}
        checks: list = []
        if kind == "quotes":
            ap, asz, bp, bsz = (raw[k] for k in ("ask_price", "ask_amount", "bid_price", "bid_amount"))
            checks = [
                ("non-positive price", (bp <= 0) | (ap <= 0), lambda i: f"bid_price {bp[i]:g}, ask_price {ap[i]:g}"),
                ("negative size", (np.nan_to_num(bsz) < 0) | (np.nan_to_num(asz) < 0), lambda i: "a negative amount"),
                ("crossed book", bp >= ap, lambda i: f"bid_price {bp[i]:g} >= ask_price {ap[i]:g}"),
            ]
            ev |= {
                "kind": np.full(n, 4, np.uint8),
                "side": np.zeros(n, np.int8),
                "px": np.full(n, np.nan),
                "qty": np.zeros(n),
                "bp": bp,
                "bs": np.nan_to_num(bsz),
                "ap": ap,
                "as": np.nan_to_num(asz),
            }
        else:
            code, bad_text = raw["side"], raw["bad_text"]
            px, qty = raw["price"], raw["amount"]
            side = np.where(code == 9, 0, code).astype(np.int8)
            bad_side = code == 9
            if kind == "trades":
                allowed, qbad = "buy, sell or unknown", ~(qty > 0)
            else:
                has_book = True
                allowed, qbad = "bid or ask", ~(qty >= 0)
            checks = [
                (
                    "unknown side",
                    bad_side,
                    lambda i, t=bad_text, a=allowed: f"side {t[i]!r}; expected {a}" if i in t else f"expected {a}",
                ),
                ("non-positive price", ~(px > 0), lambda i, x=px: f"price {x[i]!r}: must be > 0"),
                ("bad amount", qbad, lambda i, q=qty: f"amount {q[i]!r}"),
            ]
            k = np.full(n, 2 if kind == "trades" else 1, np.uint8)
            ev |= {"kind": k, "side": side, "px": px, "qty": qty}
            if kind == "incremental_book_L2":
                snap = raw["is_snapshot"]
                ev["snap_start"] = snap & ~np.concatenate(([False], snap[:-1]))
        keep = screen(problems, p, rows, checks, [ts_order(ts, 0, "µs", US)], row=True)
        if not keep.all():
            ev = {k: v[keep] for k, v in ev.items()}
        events.append(ev)
        streams[p.name] = {"messages": int(n), "used": True, "note": f"Tardis {kind}"}
        symbols |= set(_first_values(p, 1))
        exchanges |= set(_first_values(p, 0))
    if len(symbols) > 1:
        raise DataError(files[0], None, f"the files hold more than one symbol ({', '.join(sorted(symbols))})")
    return _assemble(events, files, problems, streams, has_book, symbols, exchanges, instrument, tick_size, lot_size)


def _first_values(path: Path, col: int) -> list[str]:
    """The ``col``-th field of the first data row (exchange 0, symbol 1)."""
    try:
        opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            fh.readline()
            line = fh.readline().strip()
    except (OSError, EOFError, gzip.BadGzipFile):
        return []
    parts = line.split(",")
    return [parts[col]] if len(parts) > col and parts[col] else []


def resolve(paths) -> list[Path]:
    """The files named by ``paths``: a file, a directory (its Tardis CSVs, sorted by name), a comma-separated
    string or a list of them."""
    if isinstance(paths, (str, os.PathLike)):
        s = str(paths)
        items = [s] if Path(s).exists() or "," not in s else [x.strip() for x in s.split(",") if x.strip()]
    else:
        items = [str(x) for x in paths]
    out: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.name.lower().endswith((".csv", ".csv.gz")) and file_kind(q) is not None
            )
            if not found:
                raise DataError(p, None, "no Tardis CSV files (incremental_book_L2, trades, quotes) in the directory")
            out += found
        else:
            out.append(check_file(p))
    return out


def _assemble(events, files, problems, streams, has_book, symbols, exchanges, instrument, tick_size, lot_size):
    n = sum(len(e["ts"]) for e in events)
    fields = [k for k in _FIELDS if any(k in e for e in events)]  # the quote columns only with a quotes file
    lens = [len(e["ts"]) for e in events]
    cat: dict[str, np.ndarray] = {}
    for k in fields:  # one column at a time, each file's freed once joined: memory is the inputs plus a column
        cat[k] = np.concatenate([e.pop(k) if k in e else _default(k, m) for e, m in zip(events, lens)])
    if len(events) > 1:  # by exchange time, stably: on equal times the files in the order given, each in its order
        order = np.argsort(cat["ts"], kind="stable")
        for k in fields:
            cat[k] = cat[k][order]
        del order
    # a snapshot's start: a clear (both sides) just before its first row
    starts = np.flatnonzero(cat["snap_start"]) if "snap_start" in cat else np.zeros(0, np.int64)
    if starts.size:
        at = starts + np.arange(starts.size)  # where each clear lands among the n + len(starts) rows
        grown = np.ones(n + starts.size, bool)
        grown[at] = False
        for k in fields:
            a = np.empty(n + starts.size, cat[k].dtype)
            a[grown] = cat[k]
            a[at] = cat[k][starts]
            cat[k] = a
        cat["kind"][at] = 3
        cat["side"][at] = 0
        n += starts.size
    kind = cat["kind"]
    is_lvl, is_tr, is_q = kind == 1, kind == 2, kind == 4
    px = cat["px"]

    def quoted(k: str) -> np.ndarray:  # a quote column on the quote rows (none without a quotes file)
        return cat[k][is_q] if k in cat else np.zeros(0)

    if tick_size is not None:
        tick = float(tick_size)
    else:
        for grid_px in (px[is_lvl], np.concatenate([quoted("bp"), quoted("ap")]), px[is_tr]):
            tick = infer_tick(grid_px)
            if np.isfinite(tick):
                break
    if has_book and not (np.isfinite(tick) and tick > 0):
        raise DataError(files[0], None, "cannot infer the tick size from the book's prices; pass tick_size")
    lots = np.concatenate([cat["qty"][is_lvl | is_tr], quoted("bs"), quoted("as")])
    lot = float(lot_size) if lot_size is not None else infer_tick(lots[lots > 0])
    del lots
    touch = None
    if has_book:  # replay the book first (before the table is built: the peak holds one or the other)
        sub = np.flatnonzero(~is_q) if is_q.any() else slice(None)  # the book and trade rows (no copy if all)
        k_sub, s_sub, p_sub, q_sub = kind[sub], cat["side"][sub], px[sub], cat["qty"][sub]
        lv = k_sub == 1
        ticks = np.zeros(len(k_sub), np.int64)
        ticks[lv] = np.rint(p_sub[lv] / tick).astype(np.int64)
        lo = int(ticks[lv].min()) if lv.any() else 0
        grid = int(ticks[lv].max()) - lo + 1 if lv.any() else 1
        if grid > MAX_GRID:
            raise DataError(files[0], None, f"levels span {grid:,} ticks of {tick:g}: is the tick right?")
        ticks -= lo
        ticks[~lv] = 0
        out = np.empty((len(k_sub) + 16, 9))
        m = touch_kernel()(k_sub, s_sub, ticks, p_sub, q_sub, grid, out)
        if m != len(k_sub):  # clears here are two-sided: one output row per input row
            raise AssertionError("book replay wrote back levels after a two-sided clear")
        del ticks, k_sub, s_sub, p_sub, q_sub, lv
        touch = [out[:m, j].copy() for j in (5, 6, 7, 8)]
        del out
    cols = empty_columns(n)
    cols["ts"] = cat.pop("ts")
    cols["kind"] = np.select([is_lvl, is_tr, kind == 3], [LEVEL, TRADE, CLEAR], QUOTE).astype(np.int8)
    cols["code"] = np.select([is_tr, is_q], [CODE_TRADE, CODE_QUOTE], CODE_BOOK).astype(np.int16)
    cols["side"] = cat.pop("side")
    cols["px"] = np.where(is_lvl | is_tr, cat.pop("px"), np.nan)
    cols["qty"] = np.where(is_lvl | is_tr, cat.pop("qty"), np.where(kind == 3, 1.0, 0.0))
    del px, kind
    for c, k in (("bid_px", "bp"), ("bid_sz", "bs"), ("ask_px", "ap"), ("ask_sz", "as")):
        if k in cat:
            cols[c] = np.where(is_q, cat.pop(k), np.nan if c.endswith("px") else 0.0)
    if touch is not None:
        for c, v in zip(("bid_px", "bid_sz", "ask_px", "ask_sz"), touch):
            cols[c][sub] = v
        del touch
    else:
        _carry_book(cols)
    meta = EventMeta(
        instrument=instrument or (next(iter(symbols)) if symbols else files[0].name.split(".")[0]),
        source="tardis" + (f" ({', '.join(sorted(exchanges))})" if exchanges else ""),
        tick_size=tick,
        lot_size=lot,
        files=tuple(str(p) for p in files),
        skipped=dict(problems.counts),
        streams=streams,
        book="depth" if has_book else "touch",
        lot_inferred=lot_size is None,
    )
    return EventTable(**cols, meta=meta, local_ts=cat["lts"])


_FIELDS = ("ts", "lts", "kind", "side", "px", "qty", "bp", "bs", "ap", "as", "snap_start")


def _default(k: str, n: int) -> np.ndarray:
    if k in ("bp", "ap", "px"):
        return np.full(n, np.nan)
    if k in ("bs", "as", "qty"):
        return np.zeros(n)
    if k == "snap_start":
        return np.zeros(n, bool)
    if k == "side":
        return np.zeros(n, np.int8)
    if k == "kind":
        return np.zeros(n, np.uint8)
    return np.zeros(n, np.int64)
