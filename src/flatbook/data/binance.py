"""Binance loader: gzip captures of combined websocket streams.

One message a line: ``<local receive time, ns> <JSON>``, the JSON a combined-stream
message ``{"stream": "<sym>@<kind>", "data": {...}}`` (Binance API docs, "Websocket
Market Streams"; capture format of hftbacktest's collector). Streams used:

* ``<sym>@bookTicker`` → QUOTE rows (``code`` CODE_BOOK_TICKER): ``b``/``B`` best
  bid price/qty, ``a``/``A`` best ask, ``u`` update id; futures also carry ``T``
  (transaction time, ms) and ``E`` (event time, ms), spot carries no time at all.
* ``<sym>@trade`` → TRADE rows (``code`` CODE_TRADE): ``p`` price, ``q`` quantity,
  ``T`` trade time (ms), ``m`` = buyer is maker ⇒ seller-initiated (side −1), else
  buyer-initiated (+1). The book columns carry the last bookTicker forward (NaN
  before the first).
* ``<sym>@depth…`` diff streams emit no rows: every change of the top of book
  already arrives on bookTicker (depth@100ms is a coarser, batched view of the
  same), and the full book is out of scope here. Their exchange times still feed
  the clock-offset estimate below. The REST snapshot line ``{"lastUpdateId": …}``
  and streams of other kinds are ignored. ``meta.streams`` lists every stream of
  the file with its message count, whether it is used, and why not.

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
ties by arrival.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from .events import (
    CODE_BOOK_TICKER,
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
_MS = 1_000_000  # ns per ms


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


_SNAPSHOT = "REST depth snapshot"


def _stream_report(seen: Counter, symbol: str) -> dict[str, dict]:
    """Per stream of the capture: messages, whether the replay uses them, and why not."""
    out = {}
    for stream, n in seen.items():
        sym, _, kind = stream.partition("@")
        if stream == _SNAPSHOT:
            used, note = False, "ignored: the full book is out of scope (top of book comes from bookTicker)"
        elif sym.lower() != symbol:
            used, note = False, f"ignored: another symbol than {symbol.upper()}"
        elif kind == "bookTicker":
            used, note = True, "quotes: best bid/ask and their sizes"
        elif kind == "trade":
            used, note = True, "trades: price, quantity, aggressor side"
        elif kind.startswith("depth"):
            used, note = (
                False,
                (
                    "ignored: levels beyond the touch are not replayed (the touch comes from "
                    "bookTicker); its exchange times only feed the clock-offset estimate"
                ),
            )
        else:
            used, note = False, f"ignored: stream kind {kind!r} is not read"
        out[stream] = {"messages": int(n), "used": used, "note": note}
    return out


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


def load_binance(
    path: str | os.PathLike, *, on_error: str = "fail", tolerance_ms: int = 0, instrument: str | None = None
) -> EventTable:
    """Load a Binance gzip capture (bookTicker + trade streams) into an :class:`EventTable`.

    Streams the file line by line (rows packed into numpy arrays every 100 000 lines).
    ``instrument`` picks the symbol (case-insensitive, e.g. ``"btcusdt"``) when a
    capture holds several; by default the file must hold one. Meta: instrument
    ``"BTCUSDT (usdm)"`` (market from the file name prefix usdm/spot/cm, else guessed),
    tick and lot sizes inferred from the prices (b, a, p) and quantities (B, A, q).

    Errors name ``FILE:LINE``: malformed line or JSON, missing fields, non-numeric
    fields, crossed bookTicker (b >= a), bookTicker ``u`` not increasing, a stream's
    exchange time going backwards by more than ``tolerance_ms`` (smaller steps back
    are raised to the previous time), non-positive trade price or quantity, and a
    truncated/corrupt gzip (named with the last good line; with ``on_error="skip"``
    the lines read so far are kept and "truncated gzip" is counted).
    """
    problems = Problems(on_error)
    path = check_file(path)
    want = instrument.lower() if instrument else None
    symbol: str | None = None
    futures = False
    bt = _Stream(4, 4)  # ints: line, local_ns, u, exchange ms (−1: none); floats: b, B, a, A
    tr = _Stream(4, 2)  # ints: line, local_ns, T ms, side;                 floats: p, q
    offsets: list[int] = []  # local_ns − exchange_ns
    seen: Counter[str] = Counter()  # messages per stream ("<sym>@<kind>"; "REST depth snapshot")
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
                    problems.report(path, line_no, "malformed JSON", str(exc))
                    continue
                if not isinstance(msg, dict):
                    problems.report(path, line_no, "malformed JSON", "not a JSON object")
                    continue
                stream, data = msg.get("stream"), msg.get("data")
                if stream is None and "lastUpdateId" in msg:
                    seen[_SNAPSHOT] += 1  # REST depth snapshot
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
                except _Bad as bad:
                    problems.report(path, line_no, bad.reason, bad.detail)
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

    if symbol is None:
        raise DataError(path, None, "no bookTicker or trade messages" + (f" for {instrument}" if instrument else ""))
    bi, bf = bt.arrays()
    ti, tf = tr.arrays()
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
        if not offsets:
            raise DataError(
                path,
                None,
                "bookTicker without exchange time, and no message with one to estimate the capture clock's offset from",
            )
        offset = int(np.median(np.array(offsets, np.int64)))
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
    order = np.lexsort((np.concatenate([bi[:, 0], ti[:, 0]]), ts))
    cols = empty_columns(nb + nt)
    cols["ts"] = ts
    cols["kind"][nb:] = TRADE
    cols["kind"][:nb] = QUOTE
    cols["code"][:nb], cols["code"][nb:] = CODE_BOOK_TICKER, CODE_TRADE
    cols["bid_px"][:nb], cols["bid_sz"][:nb], cols["ask_px"][:nb], cols["ask_sz"][:nb] = bf.T
    cols["px"][nb:], cols["qty"][nb:], cols["side"][nb:] = tf[:, 0], tf[:, 1], ti[:, 3]
    cols = {k: v[order] for k, v in cols.items()}
    _carry_book(cols)

    market = _market(path, symbol, futures)
    price_unit, qty_unit = _units(symbol, market)
    sizes = np.concatenate([bf[:, 1], bf[:, 3], tf[:, 1]])
    meta = EventMeta(
        instrument=f"{symbol.upper()} ({market})",
        source="binance",
        tick_size=infer_tick(np.concatenate([bf[:, 0], bf[:, 2], tf[:, 0]])),
        lot_size=infer_tick(sizes[sizes > 0]),
        price_unit=price_unit,
        qty_unit=qty_unit,
        files=(str(path),),
        skipped=dict(problems.counts),
        lot_inferred=True,
        streams=_stream_report(seen, symbol),
        **_contract(symbol, market),
    )
    return EventTable(**cols, meta=meta)
