"""Binance loader: gzip captures of combined websocket streams.

One message a line: ``<local receive time, ns> <JSON>``, the JSON a combined-stream
message ``{"stream": "<sym>@<kind>", "data": {...}}`` (Binance API docs, "Websocket
Market Streams"; capture format of hftbacktest's collector), or a REST depth snapshot
``{"lastUpdateId": …, "bids": […], "asks": […]}``. Streams used:

* ``<sym>@bookTicker`` → QUOTE rows (``code`` CODE_BOOK_TICKER): ``b``/``B`` best
  bid price/qty, ``a``/``A`` best ask, ``u`` update id; futures also carry ``T``
  (transaction time, ms) and ``E`` (event time, ms), spot carries no time at all.
* ``<sym>@trade`` → TRADE rows (``code`` CODE_TRADE): ``p`` price, ``q`` quantity,
  ``T`` trade time (ms), ``m`` = buyer is maker ⇒ seller-initiated (side −1), else
  buyer-initiated (+1). The book columns carry the touch forward (NaN before the first).
* ``<sym>@depth…`` diff streams (USDⓈ-M/COIN-M ``depth@0ms`` with ``U``, ``u``, ``pu``;
  spot ``depth@100ms`` with ``U``, ``u``) and the REST snapshot: with ``book="touch"``
  (the default) they emit no rows (their exchange times still feed the clock-offset
  estimate below); with ``book="depth"`` they rebuild the full displayed book as LEVEL
  and CLEAR rows (``code`` CODE_DEPTH), sequenced by update id with gap detection
  (:mod:`flatbook.data.depth_book`), within ± ``depth_window`` (a fraction of price) of
  the lowest bid and highest ask seen on bookTicker (and trades) in the file.

``meta.streams`` lists every stream of the file with its message count, whether it is
used, what for, and why not.

Merging depth with bookTicker (``book="depth"``): a bookTicker ``u`` and a depth diff's
``u`` count the same order-book update sequence of one market, so messages are ordered by
(exchange time, update id) and the **newer** message (the larger update id; bookTicker on
a tie) decides the touch columns: a row's bid/ask columns are the merged touch after the
row's message, from the bookTicker or from the depth book's best levels, whichever is
newer; levels behind the touch come only from the depth book. A trade row gets the update
id of the last bookTicker before it in the file (so bookTicker and trade rows keep the
order they have with ``book="touch"``), and carries the merged touch forward. Before the
first snapshot, and after a sequence gap until the next one, the depth is unknown (no
LEVEL rows; the touch comes from bookTicker alone).

Contract: a COIN-M capture (``cm_`` file prefix or a ``<coin>USD_<expiry>`` symbol)
is an inverse contract of 100 USD (BTC) or 10 USD (other coins), settled in the
coin; USDⓈ-M and spot are linear (``meta.contract``, ``contract_size``,
``settlement_currency``). Tick and lot are inferred from the data (``lot_inferred``).

Time: ``ts`` is exchange time in ns — a message's ``T`` (else ``E``) × 10⁶. Spot
bookTicker has none, so it gets ``local_ns − offset``, with offset the median of
``local_ns − exchange_ns`` over all messages of the file that carry an exchange
time (the capture clock of the bundled files runs ≈ 1.27 s behind the exchange);
these estimates are made non-decreasing in ``u`` order (``np.maximum.accumulate``).
bookTicker rows keep ``u`` order, trades file order; the streams are merged by
(ts, line number), which keeps each stream's own order and breaks exchange-time
ties by arrival. ``local_ts`` on every row: the local receive stamp of its line (ns,
the capture machine's clock), for ``--latency measured``
(:mod:`flatbook.backtest.latency`).

Speed: a file is first read by a fast path (lines routed by stream name, each stream's
JSON decoded in bulk by ``pyarrow.json`` with a fixed schema, decimal strings cast to
float64 by Arrow, correctly rounded like Python's ``float``); any line it does not
recognise (or a field missing, malformed or of the wrong type) sends the whole file to
the line-by-line reader, which names the file and line of every problem. Both give the
same table, bit for bit.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from ..errors import InputError
from .depth_book import ON_GAP, Diffs, Snapshot, build_depth
from .events import (
    BOOKS,
    CODE_BOOK_TICKER,
    CODE_DEPTH,
    CODE_TRADE,
    QUOTE,
    TRADE,
    DataError,
    EventMeta,
    EventTable,
    Problems,
    empty_columns,
    infer_tick,
)
from .generic import _carry_book, check_file, screen, ts_order

MARKETS = ("usdm", "spot", "cm")
QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY")
_CHUNK = 100_000  # lines parsed into Python lists before being packed into numpy arrays
_BLOCK = 1 << 23  # bytes of decompressed text per block of the fast path (8 MB: memory stays bounded)
_MS = 1_000_000  # ns per ms
DEPTH_WINDOW = 0.02  # default: ± 2 % of price around the touch prices seen
_SNAPSHOT = "REST depth snapshot"


class _Bad(Exception):
    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail


def _floats(data: dict, keys: str, kind: str) -> list[float]:
    out = []
    for k in keys:
        try:
            v = data[k]
        except KeyError:
            raise _Bad("malformed message", f"{kind} without field {k!r}") from None
        try:
            f = float(v) if not isinstance(v, bool) else math.nan
        except (TypeError, ValueError):
            f = math.nan
        if not math.isfinite(f):
            raise _Bad("non-numeric field", f"{kind} field {k} = {v!r}")
        out.append(f)
    return out


def _int(data: dict, key: str, kind: str, default: int | None = None) -> int:
    if key not in data and default is not None:
        return default
    try:
        v = data[key]
    except KeyError:
        raise _Bad("malformed message", f"{kind} without field {key!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise _Bad("non-numeric field", f"{kind} field {key} = {v!r}")
    try:
        return int(v)
    except ValueError:
        raise _Bad("non-numeric field", f"{kind} field {key} = {v!r}") from None


class _Stream:
    """Rows of one stream: int64 and float64 fields, collected per chunk into arrays."""

    def __init__(self, nint: int, nfloat: int):
        self.ints: list[tuple] = []
        self.floats: list[list[float]] = []
        self.iparts: list[np.ndarray] = []
        self.fparts: list[np.ndarray] = []
        self.shape = (nint, nfloat)

    def flush(self) -> None:
        if self.ints:
            self.iparts.append(np.array(self.ints, np.int64).reshape(-1, self.shape[0]))
            self.fparts.append(np.array(self.floats, np.float64).reshape(-1, self.shape[1]))
            self.ints, self.floats = [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self.flush()
        if not self.iparts:
            return np.zeros((0, self.shape[0]), np.int64), np.zeros((0, self.shape[1]))
        return np.concatenate(self.iparts), np.concatenate(self.fparts)


def _market(path: Path, symbol: str, futures: bool) -> str:
    prefix = path.name.split("_", 1)[0].lower()
    if prefix in MARKETS:
        return prefix
    return "cm" if "_" in symbol else "usdm" if futures else "spot"


def _contract(symbol: str, market: str) -> dict:
    """COIN-M perpetuals and futures are inverse contracts of 100 USD (BTC) or 10 USD (every other
    coin), settled in the base coin (Binance, "Contract Specifications", COIN-M); USDⓈ-M and spot
    are linear, settled in the quote asset."""
    if market != "cm":
        return {"contract": "linear", "contract_size": 1.0}
    base = _cm_base(symbol)
    return {"contract": "inverse", "contract_size": 100.0 if base == "BTC" else 10.0, "settlement_currency": base}


def _cm_base(symbol: str) -> str:
    return symbol.upper().split("_", 1)[0].removesuffix("USD")


def _units(symbol: str, market: str) -> tuple[str, str]:
    """(price unit, quantity unit) from the symbol: quote asset per base asset; COIN-M
    quantities are contracts of 100 USD (BTC) or 10 USD (other coins)."""
    s = symbol.upper()
    if market == "cm":
        base = _cm_base(s)
        return "USD", f"contracts ({100 if base == 'BTC' else 10} USD)"
    quote = next((q for q in QUOTE_ASSETS if s.endswith(q) and len(s) > len(q)), None)
    return (quote, s[: -len(quote)]) if quote else ("price units", "quantity units")


@dataclass
class _Raw:
    """What a read of the capture found for its symbol, before the row checks."""

    bi: np.ndarray  # bookTicker (n, 4) int64: line, local ns, u, exchange ms (−1: none)
    bf: np.ndarray  # bookTicker (n, 4) float64: b, B, a, A
    ti: np.ndarray  # trade (n, 4) int64: line, local ns, T ms, side
    tf: np.ndarray  # trade (n, 2) float64: p, q
    offsets: np.ndarray  # int64 local ns − exchange ns, every message with an exchange time
    seen: Counter  # messages per stream ("<sym>@<kind>"; "REST depth snapshot")
    symbol: str | None
    futures: bool
    di: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.int64))
    # depth diffs (n, 6) int64: line, local ns, U, u, pu (−1: none), exchange ms (−1: none)
    lv_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # diff i: levels lv_off[i]:lv_off[i+1]
    lv: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (m, 3): side (+1 bid, −1 ask), px, qty
    snaps: list = field(default_factory=list)  # (line, local ns, lastUpdateId, exchange ms or −1, bids, asks)
    skipped_depth: list = field(default_factory=list)  # lines of depth messages skipped as malformed (on_error=skip)


def _levels(data: dict, key: str, kind: str) -> np.ndarray:
    """A depth message's ``[[price, size], …]`` as an (k, 2) float array (price > 0, size >= 0)."""
    v = data.get(key)
    if not isinstance(v, list):
        raise _Bad("malformed message", f"{kind} without a list {key!r}")
    out = np.empty((len(v), 2))
    for j, lv in enumerate(v):
        if not isinstance(lv, list) or len(lv) < 2:
            raise _Bad("malformed message", f"{kind} field {key}[{j}] = {lv!r} (expected [price, size])")
        p, q = _floats({"p": lv[0], "q": lv[1]}, "pq", f"{kind} {key}[{j}]")
        if p <= 0 or q < 0:
            raise _Bad("non-numeric field", f"{kind} field {key}[{j}] = {lv!r} (price > 0, size >= 0)")
        out[j] = p, q
    return out


def _snapshot(msg: dict, line: int, local: int) -> tuple:
    try:
        uid = _int(msg, "lastUpdateId", _SNAPSHOT)
        ex = _int(msg, "T", _SNAPSHOT, _int(msg, "E", _SNAPSHOT, -1))
        return (line, local, uid, ex, _levels(msg, "bids", _SNAPSHOT), _levels(msg, "asks", _SNAPSHOT))
    except _Bad as bad:
        raise DataError("", line, f"{bad.reason}: {bad.detail}") from None


def _scan_lines(path: Path, want: str | None, depth: bool, problems: Problems) -> _Raw:
    """The line-by-line reader: every problem named by file and line (see :func:`load_binance`)."""
    symbol: str | None = None
    futures = False
    bt = _Stream(4, 4)
    tr = _Stream(4, 2)
    dp: list[tuple] = []  # depth diffs: line, local ns, U, u, pu, exchange ms
    lv_parts: list[np.ndarray] = []
    snaps: list = []
    offsets: list[int] = []
    seen: Counter[str] = Counter()
    skipped_depth: list[int] = []
    line_no = 0
    try:
        with gzip.open(path, "rb") as fh:
            for line_no, line in enumerate(fh, 1):
                if line_no % _CHUNK == 0:
                    bt.flush()
                    tr.flush()
                sp = line.find(b" ")
                try:
                    local = int(line[:sp]) if sp > 0 else None
                except ValueError:
                    local = None
                if local is None:
                    problems.report(path, line_no, "malformed line", "expected '<local ns> <JSON>'")
                    continue
                try:
                    msg = orjson.loads(line[sp + 1 :])
                except ValueError as exc:
                    problems.report(path, line_no, "malformed JSON", _json_error(exc))
                    if b"@depth" in line:
                        skipped_depth.append(line_no)
                    continue
                if not isinstance(msg, dict):
                    problems.report(path, line_no, "malformed JSON", "not a JSON object")
                    continue
                stream, data = msg.get("stream"), msg.get("data")
                if stream is None and "lastUpdateId" in msg:
                    seen[_SNAPSHOT] += 1  # REST depth snapshot
                    if depth and (want is None or str(msg.get("symbol", want)).lower() == want):
                        try:
                            snaps.append(_snapshot(msg, line_no, local))
                        except DataError as e:
                            problems.report(path, line_no, *str(e).split(": ", 2)[1:])
                    continue
                if not isinstance(stream, str) or not isinstance(data, dict):
                    problems.report(path, line_no, "malformed message", "expected {'stream': …, 'data': {…}}")
                    continue
                seen[stream] += 1
                sym, _, kind = stream.partition("@")
                sym = sym.lower()
                if kind != "bookTicker" and kind != "trade" and not kind.startswith("depth"):
                    continue
                if want is not None:
                    if sym != want:
                        continue
                elif symbol is None:
                    symbol = sym
                elif sym != symbol:
                    raise DataError(
                        path,
                        line_no,
                        f"the capture holds several symbols ({symbol}, {sym}); pass instrument= to pick one",
                    )
                symbol = sym
                try:
                    if kind == "bookTicker":
                        ex = _int(data, "T", kind, _int(data, "E", kind, -1))
                        row = (line_no, local, _int(data, "u", kind), ex)
                        vals = _floats(data, "bBaA", kind)
                        bt.ints.append(row)
                        bt.floats.append(vals)
                    elif kind == "trade":
                        ex = _int(data, "T", kind)
                        p, q = _floats(data, "pq", kind)
                        m = data.get("m")
                        if not isinstance(m, bool):
                            raise _Bad("malformed message", f"trade field m = {m!r} (expected true/false)")
                        tr.ints.append((line_no, local, ex, -1 if m else 1))
                        tr.floats.append([p, q])
                    else:
                        ex = _int(data, "T", kind, _int(data, "E", kind, -1))
                        if depth:
                            ids = (_int(data, "U", kind), _int(data, "u", kind), _int(data, "pu", kind, -1))
                            b, a = _levels(data, "b", kind), _levels(data, "a", kind)
                            dp.append((line_no, local, *ids, ex))
                            lv_parts.append(
                                np.column_stack([np.repeat([1.0, -1.0], [len(b), len(a)]), np.vstack([b, a])])
                            )
                except _Bad as bad:
                    problems.report(path, line_no, bad.reason, bad.detail)
                    if kind.startswith("depth"):
                        skipped_depth.append(line_no)
                    continue
                if ex >= 0:
                    offsets.append(local - ex * _MS)
                    futures |= kind == "bookTicker"
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        problems.report(
            path,
            line_no or None,
            "truncated gzip",
            f"no complete line after line {line_no} ({exc})"
            if line_no
            else f"no complete line: not gzip, or cut before the first line ({exc})",
        )
    bi, bf = bt.arrays()
    ti, tf = tr.arrays()
    di = np.array(dp, np.int64).reshape(-1, 6)
    counts = [len(x) for x in lv_parts]
    return _Raw(
        bi,
        bf,
        ti,
        tf,
        np.array(offsets, np.int64),
        seen,
        symbol,
        futures,
        di,
        np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
        np.vstack(lv_parts) if lv_parts else np.zeros((0, 3)),
        snaps,
        skipped_depth,
    )


def _json_error(exc: Exception) -> str:
    """orjson's message without its own "line L column C (char N)", which counts lines inside the JSON text and
    would clash with the file's line number: the position as the character of the message's JSON instead."""
    text = str(exc)
    m = re.search(r":? line \d+ column \d+ \(char (\d+)\)$", text)
    return f"{text[: m.start()]} at character {int(m.group(1)) + 1} of the JSON text" if m else text


class _Slow(Exception):
    """The fast path met something it does not check: read the file line by line instead."""


def _json(lines: list[bytes], data_fields: list) -> object:
    """Decode JSON lines ``{"stream": …, "data": {…}}`` in bulk with a fixed schema (pyarrow.json); the
    ``data`` struct column (a pyarrow ChunkedArray). Raises :class:`_Slow` on anything pyarrow refuses."""
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema([("data", pa.struct(data_fields))])
    longest = max(map(len, lines))
    text = b"\n".join(lines)
    if b"null" in text:  # Arrow reads a JSON null as a missing field; the line reader refuses it
        raise _Slow("null")
    try:
        table = pj.read_json(
            io.BytesIO(text),
            read_options=pj.ReadOptions(block_size=max(1 << 22, 2 * longest + 2)),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _Slow(str(exc)) from None
    if table.num_rows != len(lines):
        raise _Slow("row count")
    return table.column("data")


def _bits(buf, offset: int, n: int) -> np.ndarray:
    """An Arrow bitmap (validity or booleans) as a numpy bool array."""
    return np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")[offset : offset + n].astype(bool)


def _numpy(arr, dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, valid mask or None) of a fixed-width or boolean Arrow column, through its buffers (pyarrow's
    own ``to_numpy`` on a chunked column imports pandas, which costs a cold run 0.3 s)."""
    vals, valid = [], []
    for c in arr.chunks:
        n, off = len(c), c.offset
        bufs = c.buffers()
        if dtype is bool:
            v = _bits(bufs[1], off, n) if n else np.zeros(0, bool)
        else:
            v = np.frombuffer(bufs[1], dtype, count=off + n)[off:] if n else np.zeros(0, dtype)
        vals.append(v)
        valid.append(_bits(bufs[0], off, n) if c.null_count else None)
    out = np.concatenate(vals) if vals else np.zeros(0, dtype)
    if all(m is None for m in valid):
        return out, None
    return out, np.concatenate([np.ones(len(v), bool) if m is None else m for v, m in zip(vals, valid)])


def _field(col, name: str, dtype, required: bool = True) -> np.ndarray:
    """A struct field of ``col`` as numpy (strings cast to float64 by Arrow); missing values are
    −1 (ints) when not ``required``, else :class:`_Slow`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pc.struct_field(col, name)
    if a.null_count and required:
        raise _Slow(f"null {name}")
    if dtype is float:
        try:
            a = pc.cast(a, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise _Slow(str(exc)) from None
        out, _ = _numpy(a, np.float64)
        if not np.isfinite(out).all():
            raise _Slow(f"non-finite {name}")
        return np.array(out, np.float64)
    out, valid = _numpy(a, dtype)
    out = np.array(out, dtype)
    if valid is not None:
        out[~valid] = -1
    return out


def _depth_levels(col, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[[price, size], …]`` per message: (levels per message, prices, sizes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pc.struct_field(col, name)
    if a.null_count:
        raise _Slow(f"null {name}")
    per = _numpy(pc.list_value_length(a), np.int32)[0]
    pairs = pc.list_flatten(a)
    if pairs.null_count or len(pairs) and not (_numpy(pc.list_value_length(pairs), np.int32)[0] == 2).all():
        raise _Slow(f"{name} not [price, size] pairs")
    flat = pc.list_flatten(pairs)
    try:
        v, valid = _numpy(pc.cast(flat, pa.float64()), np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _Slow(str(exc)) from None
    if valid is not None:
        raise _Slow(f"null in {name}")
    v = v.reshape(-1, 2) if v.size else np.zeros((0, 2))
    if not (np.isfinite(v).all() and (v[:, 0] > 0).all() and (v[:, 1] >= 0).all()):
        raise _Slow(f"bad {name} level")
    return per.astype(np.int64), np.ascontiguousarray(v[:, 0]), np.ascontiguousarray(v[:, 1])


def _route(lines: list[bytes], n0: int) -> dict[bytes, tuple[list[int], list[bytes], list[bytes]]]:
    """Lines by stream name (b"" for a REST snapshot): (line numbers from ``n0 + 1``, local stamps, JSON)."""
    groups: dict[bytes, tuple[list[int], list[bytes], list[bytes]]] = {}
    n = n0
    for line in lines:
        n += 1
        sp = line.find(b" ", 0, 32)
        if sp <= 0:
            raise _Slow("no local stamp")
        j = sp + 1
        if line.startswith(b'{"stream":', j):
            j += 10
            if line[j : j + 1] == b" ":
                j += 1
            if line[j : j + 1] != b'"':
                raise _Slow("stream")
            name = line[j + 1 : line.find(b'"', j + 1)]
        elif line.startswith(b'{"lastUpdateId":', j):
            name = b""
        else:
            raise _Slow("unknown line")
        g = groups.get(name)
        if g is None:
            g = groups[name] = ([], [], [])
        g[0].append(n)
        g[1].append(line[:sp])
        g[2].append(line[sp + 1 :])
    return groups


class _Acc:
    """The fast reader's results, block by block."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.syms: set[str] = set()
        self.parts: dict[str, list] = {k: [] for k in ("bi", "bf", "ti", "tf", "di", "per", "lv", "off")}
        self.snaps: list = []


def _parse_block(groups, want: str | None, depth: bool, acc: _Acc) -> None:
    """Decode one block's lines, stream by stream, into ``acc``."""
    import pyarrow as pa

    picked: dict[str, list[bytes]] = {"bookTicker": [], "trade": [], "depth": []}
    for name, (got, _, _) in groups.items():
        if not name:
            acc.seen[_SNAPSHOT] += len(got)
            continue
        stream = name.decode()
        if "\\" in stream:
            raise _Slow("escaped stream name")
        acc.seen[stream] += len(got)
        sym, _, kind = stream.partition("@")
        sym = sym.lower()
        key = "depth" if kind.startswith("depth") else kind
        if key not in picked or (want is not None and sym != want):
            continue
        acc.syms.add(sym)
        picked[key].append(name)

    def gather(names: list[bytes]) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
        if len(names) > 1:  # several streams of one kind (depth@100ms and depth@0ms …): file order
            rows = sorted((ln, lo, js) for nm in names for ln, lo, js in zip(*groups[nm]))
            ln_, lo_, js_ = (list(x) for x in zip(*rows))
        elif names:
            ln_, lo_, js_ = groups[names[0]]
        else:
            ln_, lo_, js_ = [], [], []
        try:
            local = np.array(lo_, dtype="S32").astype(np.int64) if lo_ else np.zeros(0, np.int64)
        except ValueError:
            raise _Slow("local stamp") from None
        return np.array(ln_, np.int64), local, js_

    i64, p = pa.int64(), acc.parts
    ln, local, js = gather(picked["bookTicker"])
    if js:
        col = _json(js, [("u", i64), ("T", i64), ("E", i64)] + [(k, pa.string()) for k in "bBaA"])
        T, E = _field(col, "T", np.int64, False), _field(col, "E", np.int64, False)
        ex = np.where(T >= 0, T, E)
        p["bi"].append(np.column_stack([ln, local, _field(col, "u", np.int64), ex]))
        p["bf"].append(np.column_stack([_field(col, k, float) for k in "bBaA"]))
        p["off"].append(local[ex >= 0] - ex[ex >= 0] * _MS)
    ln, local, js = gather(picked["trade"])
    if js:
        col = _json(js, [("T", i64), ("p", pa.string()), ("q", pa.string()), ("m", pa.bool_())])
        T = _field(col, "T", np.int64)
        side = np.where(_field(col, "m", bool), -1, 1)
        p["ti"].append(np.column_stack([ln, local, T, side]).astype(np.int64))
        p["tf"].append(np.column_stack([_field(col, "p", float), _field(col, "q", float)]))
        p["off"].append(local - T * _MS)
    ln, local, js = gather(picked["depth"])
    if js:
        lv_t = pa.list_(pa.list_(pa.string()))
        fields = [("T", i64), ("E", i64)]
        if depth:
            fields += [("U", i64), ("u", i64), ("pu", i64), ("b", lv_t), ("a", lv_t)]
        col = _json(js, fields)
        T, E = _field(col, "T", np.int64, False), _field(col, "E", np.int64, False)
        ex = np.where(T >= 0, T, E)
        p["off"].append(local[ex >= 0] - ex[ex >= 0] * _MS)
        if depth:
            nb, bp, bq = _depth_levels(col, "b")
            na, ap, aq = _depth_levels(col, "a")
            ids = [_field(col, "U", np.int64), _field(col, "u", np.int64), _field(col, "pu", np.int64, False)]
            p["di"].append(np.column_stack([ln, local, *ids, ex]))
            p["per"].append(nb + na)
            # per message: its bids, then its asks
            msg = np.r_[np.repeat(np.arange(len(nb)), nb), np.repeat(np.arange(len(na)), na)]
            order = np.lexsort((np.r_[np.zeros(len(bp)), np.ones(len(ap))], msg))
            p["lv"].append(
                np.column_stack(
                    [np.r_[np.ones(len(bp)), -np.ones(len(ap))][order], np.r_[bp, ap][order], np.r_[bq, aq][order]]
                )
            )
    if depth and b"" in groups:
        for ln_, lo_, js_ in zip(*groups[b""]):
            try:
                m = orjson.loads(js_)
                if want is not None and str(m.get("symbol", want)).lower() != want:
                    continue
                acc.snaps.append(_snapshot(m, ln_, int(lo_)))
            except (ValueError, DataError):
                raise _Slow("snapshot") from None


def _scan_fast(path: Path, want: str | None, depth: bool) -> _Raw:
    """The fast reader (see the module docstring): blocks of 8 MB of text, each routed by stream and
    decoded in bulk, so memory stays bounded by the block plus the arrays; raises :class:`_Slow` where the
    line reader must decide."""
    acc = _Acc()
    n_lines = 0
    try:
        with gzip.open(path, "rb") as fh:
            tail = b""
            while True:
                block = fh.read(_BLOCK)
                if not block:
                    lines = [tail] if tail else []
                else:
                    block = tail + block
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        tail = block
                        continue
                    lines, tail = block[:cut].split(b"\n"), block[cut + 1 :]
                if lines:
                    _parse_block(_route(lines, n_lines), want, depth, acc)
                    n_lines += len(lines)
                if not block:
                    break
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _Slow(str(exc)) from None
    if want is None and len(acc.syms) > 1:
        raise _Slow("several symbols")
    symbol = want if want is not None and acc.syms else next(iter(acc.syms), None)

    def cat(key: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        got = acc.parts[key]
        return np.concatenate(got) if got else np.zeros(shape, dtype)

    bi = cat("bi", (0, 4), np.int64)
    raw = _Raw(
        bi,
        cat("bf", (0, 4)),
        cat("ti", (0, 4), np.int64),
        cat("tf", (0, 2)),
        cat("off", (0,), np.int64),
        acc.seen,
        symbol,
        bool((bi[:, 3] >= 0).any()),
        cat("di", (0, 6), np.int64),
        np.concatenate([[0], np.cumsum(cat("per", (0,), np.int64))]).astype(np.int64),
        cat("lv", (0, 3)),
        acc.snaps,
    )
    return raw


def _stream_report(seen: Counter, symbol: str, depth: dict | None) -> dict[str, dict]:
    """Per stream of the capture: messages, whether the replay uses it, what for, and why not."""
    out = {}
    for stream, n in seen.items():
        sym, _, kind = stream.partition("@")
        extra: dict = {}
        if stream == _SNAPSHOT:
            if depth is None:
                used, note = False, "ignored (not used: pass --book depth to start the full-depth book from it)"
            else:
                used, note = depth["snapshots_used"] > 0, depth["snapshot_note"]
        elif sym.lower() != symbol:
            used, note = False, f"ignored: another symbol than {symbol.upper()}"
        elif kind == "bookTicker":
            used, note = (
                True,
                "quotes: best bid/ask and their sizes"
                + (" (the touch when newer, by update id, than the depth book)" if depth is not None else ""),
            )
        elif kind == "trade":
            used, note = True, "trades: price, quantity, aggressor side"
        elif kind.startswith("depth"):
            if depth is None:
                used, note = (
                    False,
                    "ignored (not used: pass --book depth for the full-depth book as LEVEL rows); "
                    "its exchange times only feed the clock-offset estimate",
                )
            else:
                used, note = depth["diffs_applied"] > 0, depth["depth_note"]
                extra = {"gaps": depth["gaps"]}
        else:
            used, note = False, f"ignored: stream kind {kind!r} is not read"
        out[stream] = {"messages": int(n), "used": used, "note": note, **extra}
    return out


def _gap_cause(line: int, diff_lines: np.ndarray, skipped: list[int]) -> str:
    """ ", caused by the skipped malformed depth message at line N" when one lies between the diff before the gap
    and the gap's diff (its updates are missing, which breaks the update-id chain); else ""."""
    if not skipped:
        return ""
    k = int(np.searchsorted(diff_lines, line))
    prev = int(diff_lines[k - 1]) if k > 0 else 0
    lost = [x for x in skipped if prev < x < line]
    if not lost:
        return ""
    where = (
        f"line {lost[0]}"
        if len(lost) == 1
        else f"lines {', '.join(map(str, lost[:3]))}{', …' if len(lost) > 3 else ''}"
    )
    return f", caused by the malformed depth message skipped at {where}"


def _iso(ns: int) -> str:
    return f"{np.datetime_as_string(np.datetime64(int(ns), 'ns'), unit='ms')}Z"


def load_binance(
    path: str | os.PathLike,
    *,
    on_error: str = "fail",
    tolerance_ms: int = 0,
    instrument: str | None = None,
    book: str = "touch",
    on_gap: str = "resync",
    depth_window: float = DEPTH_WINDOW,
) -> EventTable:
    """Load a Binance gzip capture into an :class:`EventTable` (see the module docstring).

    ``instrument`` picks the symbol (case-insensitive, e.g. ``"btcusdt"``) when a
    capture holds several; by default the file must hold one. Meta: instrument
    ``"BTCUSDT (usdm)"`` (market from the file name prefix usdm/spot/cm, else guessed),
    tick and lot sizes inferred from the prices (b, a, p) and quantities (B, A, q).

    ``book``: ``"touch"`` (bookTicker + trades, ``meta.book = "touch"``) or ``"depth"``
    (also LEVEL/CLEAR rows of the full-depth book from the REST snapshot and the depth
    diff stream, ``meta.book = "depth"``). ``on_gap`` (depth): a break in the depth
    stream's update ids is resynced from the next snapshot (``"resync"``, counted and
    warned about by :func:`flatbook.load_data`) or refused (``"fail"``: :class:`DataError`
    naming the line and the update ids). ``depth_window`` (depth, a fraction of price,
    default 0.02): LEVEL rows are kept from (lowest bid seen)·(1 − w) to (highest ask
    seen)·(1 + w); ``meta.streams`` says how many level changes fell outside.

    Errors name ``FILE:LINE``: malformed line or JSON, missing fields, non-numeric
    fields, crossed bookTicker (b >= a), bookTicker ``u`` not increasing, a stream's
    exchange time going backwards by more than ``tolerance_ms`` (smaller steps back
    are raised to the previous time), non-positive trade price or quantity, and a
    truncated/corrupt gzip (named with the last good line; with ``on_error="skip"``
    the lines read so far are kept and "truncated gzip" is counted).
    """
    problems = Problems(on_error)
    if book not in BOOKS:
        raise InputError("--book", f"got {book!r}; allowed: {', '.join(BOOKS)}")
    if on_gap not in ON_GAP:
        raise InputError("--on-gap", f"got {on_gap!r}; allowed: {', '.join(ON_GAP)}")
    if isinstance(depth_window, bool) or not isinstance(depth_window, (int, float)) or not 0 < depth_window < 1:
        raise InputError("depth_window", f"got {depth_window!r}; allowed: a fraction of price in (0, 1), e.g. 0.02")
    path = check_file(path)
    want = instrument.lower() if instrument else None
    depth = book == "depth"
    try:
        raw = _scan_fast(path, want, depth)
    except _Slow:
        raw = _scan_lines(path, want, depth, problems)
    symbol = raw.symbol
    if symbol is None:
        raise DataError(path, None, "no bookTicker or trade messages" + (f" for {instrument}" if instrument else ""))
    bi, bf, ti, tf = raw.bi, raw.bf, raw.ti, raw.tf
    tol = int(tolerance_ms) * _MS

    # bookTicker: crossed book, u increasing, exchange time (futures) not going back
    b, a = bf[:, 0], bf[:, 2]
    u, ex_ms = bi[:, 2], bi[:, 3]
    has_ex = ex_ms >= 0
    ex_ns = np.where(has_ex, ex_ms * _MS, 0)
    orders = [("update id not increasing", u, 1, lambda i, prev: f"u {u[i]} after u {prev}")]
    if has_ex.all():
        orders.append(ts_order(ex_ns, tol, "ms", _MS))
    keep = screen(
        problems, path, bi[:, 0], [("crossed book", b >= a, lambda i: f"bid {b[i]:g} >= ask {a[i]:g}")], orders
    )
    bi, bf, has_ex, ex_ns = bi[keep], bf[keep], has_ex[keep], ex_ns[keep]
    if (~has_ex).any():
        if not len(raw.offsets):
            raise DataError(
                path,
                None,
                "bookTicker without exchange time, and no message with one to estimate the capture clock's offset from",
            )
        offset = int(np.median(raw.offsets))
        ex_ns = np.where(has_ex, ex_ns, bi[:, 1] - offset)
    bt_ts = np.maximum.accumulate(ex_ns) if len(ex_ns) else ex_ns

    # trades: positive price and quantity, trade time not going back
    tpx, tqty, t_ns = tf[:, 0], tf[:, 1], ti[:, 2] * _MS
    keep = screen(
        problems,
        path,
        ti[:, 0],
        [
            ("non-positive trade price", tpx <= 0, lambda i: f"p {tpx[i]:g}"),
            ("non-positive trade quantity", tqty <= 0, lambda i: f"q {tqty[i]:g}"),
        ],
        [ts_order(t_ns, tol, "ms", _MS)],
    )
    ti, tf, t_ns = ti[keep], tf[keep], t_ns[keep]
    tr_ts = np.maximum.accumulate(t_ns) if len(t_ns) else t_ns

    nb, nt = len(bt_ts), len(tr_ts)
    ts = np.concatenate([bt_ts, tr_ts])
    lines = np.concatenate([bi[:, 0], ti[:, 0]])
    cols = empty_columns(nb + nt)
    cols["ts"] = ts
    cols["kind"][nb:] = TRADE
    cols["kind"][:nb] = QUOTE
    cols["code"][:nb], cols["code"][nb:] = CODE_BOOK_TICKER, CODE_TRADE
    cols["bid_px"][:nb], cols["bid_sz"][:nb], cols["ask_px"][:nb], cols["ask_sz"][:nb] = bf.T
    cols["px"][nb:], cols["qty"][nb:], cols["side"][nb:] = tf[:, 0], tf[:, 1], ti[:, 3]
    local_ts = np.concatenate([bi[:, 1], ti[:, 1]])

    market = _market(path, symbol, raw.futures)
    tick = infer_tick(np.concatenate([bf[:, 0], bf[:, 2], tf[:, 0]]))
    info = None
    if not depth:
        order = np.lexsort((lines, ts))
        cols = {k: v[order] for k, v in cols.items()}
        local_ts = local_ts[order]
        _carry_book(cols)
    else:
        cols, local_ts, info = _with_depth(
            raw, cols, local_ts, lines, bi, ti, nb, tick, depth_window, on_gap, path, problems
        )

    price_unit, qty_unit = _units(symbol, market)
    sizes = np.concatenate([bf[:, 1], bf[:, 3], tf[:, 1]])
    meta = EventMeta(
        instrument=f"{symbol.upper()} ({market})",
        source="binance",
        tick_size=tick,
        lot_size=infer_tick(sizes[sizes > 0]),
        price_unit=price_unit,
        qty_unit=qty_unit,
        files=(str(path),),
        skipped=dict(problems.counts),
        lot_inferred=True,
        streams=_stream_report(raw.seen, symbol, info),
        book=book,
        **_contract(symbol, market),
    )
    return EventTable(**cols, meta=meta, local_ts=local_ts)


def _with_depth(raw, cols, local_ts, lines, bi, ti, nb, tick, w, on_gap, path, problems):
    """Merge the depth book's rows into the bookTicker and trade rows (see the module docstring)."""
    di = raw.di
    if not math.isfinite(tick) or tick <= 0:
        raise DataError(path, None, "book='depth' needs the tick size, and the prices do not show one")
    d_ns = np.maximum.accumulate(np.where(di[:, 5] >= 0, di[:, 5] * _MS, 0)) if len(di) else np.zeros(0, np.int64)
    if len(di) and (di[:, 5] < 0).any():
        raise DataError(path, int(di[np.argmax(di[:, 5] < 0), 0]), "depth message without exchange time (T or E)")
    diffs = Diffs(
        line=di[:, 0],
        local_ns=di[:, 1],
        first_id=di[:, 2],
        last_id=di[:, 3],
        prev_id=di[:, 4],
        ts_ns=d_ns,
        offsets=raw.lv_off,
        side=raw.lv[:, 0].astype(np.int8),
        px=raw.lv[:, 1],
        qty=raw.lv[:, 2],
    )
    snaps = [
        Snapshot(
            line=s[0], local_ns=s[1], last_update_id=s[2], ts_ns=s[3] * _MS if s[3] >= 0 else -1, bids=s[4], asks=s[5]
        )
        for s in raw.snaps
    ]
    px_seen = np.concatenate([cols["bid_px"][:nb], cols["ask_px"][:nb], cols["px"][nb:]])
    px_seen = px_seen[np.isfinite(px_seen)]
    if not px_seen.size:
        raise DataError(path, None, "book='depth' needs bookTicker or trade prices to place the depth window")
    lo, hi = float(px_seen.min()) * (1 - w), float(px_seen.max()) * (1 + w)
    futures = raw.futures or bool(len(di) and (di[:, 4] >= 0).any())
    try:
        rows = build_depth(
            diffs, snaps, futures=futures, lo=lo, hi=hi, tick=tick, on_gap=on_gap, path=path, problems=problems
        )
    except DataError as e:
        if e.file:
            raise
        raise DataError(path, e.line, str(e).split(": ", 1)[1]) from None
    nt = len(ti)
    nd = len(rows.ts)
    bi_touch = np.column_stack([cols[k][:nb] for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")])
    # merge keys: (exchange time, update id, depth before bookTicker/trade on a tie, line or emission order)
    bt_uid = bi[:, 2]
    prev_bt = np.searchsorted(bi[:, 0], ti[:, 0]) - 1
    tr_uid = np.where(prev_bt >= 0, bt_uid[np.maximum(prev_bt, 0)], -1)
    ts = np.concatenate([cols["ts"], rows.ts])
    uid = np.concatenate([bt_uid, tr_uid, rows.uid])
    # depth rows (rank 0) before bookTicker and trade rows (rank 1) on a tie, then emission order or line
    key2 = np.concatenate([lines + (1 << 40), np.arange(nd, dtype=np.int64)])
    order = np.lexsort((key2, uid, ts))
    out = {}
    for k, v in cols.items():
        extra = {
            "kind": rows.kind,
            "px": rows.px,
            "qty": rows.qty,
            "side": rows.side,
            "code": np.full(nd, CODE_DEPTH, np.int16),
            "ts": rows.ts,
        }.get(k)
        if extra is None:
            extra = np.full(nd, np.nan)
        out[k] = np.concatenate([v, extra.astype(v.dtype)])[order]
    local = np.concatenate([local_ts, rows.local_ts])[order]
    # the merged touch: per row, the newer (larger update id) of the last bookTicker and the last depth message
    src = np.concatenate([np.zeros(nb, np.int8), np.full(nt, 2, np.int8), np.ones(nd, np.int8)])[order]
    uid = uid[order]
    touch = np.concatenate([np.asarray(bi_touch), np.full((nt, 4), np.nan), rows.touch])[order]
    idx = np.arange(len(order))
    last_bt = np.maximum.accumulate(np.where(src == 0, idx, -1))
    last_d = np.maximum.accumulate(np.where(src == 1, idx, -1))
    d_ok = np.isfinite(touch).all(axis=1)[np.maximum(last_d, 0)] & (last_d >= 0)
    bt_uid_last = np.where(last_bt >= 0, uid[np.maximum(last_bt, 0)], np.iinfo(np.int64).min)
    pick = np.where(d_ok & (uid[np.maximum(last_d, 0)] > bt_uid_last), last_d, last_bt)
    for j, k in enumerate(("bid_px", "bid_sz", "ask_px", "ask_sz")):
        out[k] = np.where(pick >= 0, touch[np.maximum(pick, 0), j], np.nan)
    st = rows.stats
    g = rows.gaps
    gap_text = ""
    if g:
        when = ", ".join(
            f"line {x.line} at {_iso(x.ts_ns)}{_gap_cause(x.line, di[:, 0], raw.skipped_depth)}" for x in g[:5]
        )
        when += ", …" if len(g) > 5 else ""
        gap_text = f"; {len(g)} sequence gap{'s' if len(g) > 1 else ''} ({when}): depth unknown until the next snapshot"
        if st["diffs_after_gap"]:  # no "; " here: api.replay._warn_gaps cuts the note at the last one
            gap_text += (
                f" (none came after the last gap: its {st['diffs_after_gap']:,} diffs were not applied, the depth "
                "is unknown to the end of the file)"
            )
    wlo, whi = st["window"]
    depth_note = (
        f"the book: {st['diffs_applied']:,} diffs applied as LEVEL rows within {wlo:.10g}–{whi:.10g} "
        f"(± {100 * w:g} % around the touch prices seen; {st['levels_outside_window']:,} level changes outside dropped), "
        f"{st['diffs_dropped']:,} dropped as older than the book, {st['diffs_unsynced']:,} before the first usable "
        "snapshot" + gap_text
    )
    if st["snapshot_range"]:
        blo, ahi = st["snapshot_range"][0]
        snap_note = (
            f"the book's start: {st['snapshots_used']} of {st['snapshots']} used (CLEAR + LEVEL rows); "
            f"it lists bids down to {blo:.10g} and asks up to {ahi:.10g}: deeper levels are known only once a diff "
            "updates them"
        )
    else:
        snap_note = f"not used: none of the {st['snapshots']} snapshot(s) could be sequenced with the depth stream"
    info = {
        "snapshots_used": st["snapshots_used"],
        "diffs_applied": st["diffs_applied"],
        "gaps": len(g),
        "depth_note": depth_note,
        "snapshot_note": snap_note,
    }
    return out, local, info
