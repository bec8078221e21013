"""The one columnar event format every loader produces and the backtester reads.

A market-data stream is an :class:`EventTable`: one row per event, in exchange
time order, columns as numpy arrays:

========  =======  ==============================================================
column    dtype    meaning (units)
========  =======  ==============================================================
ts        int64    exchange time, ns since the Unix epoch (UTC); non-decreasing
kind      int8     ``QUOTE`` (0): the book changed; ``TRADE`` (1): a trade printed;
                   ``LEVEL`` (2): one price level of the full-depth book changed
                   (``side`` +1 bid, −1 ask; ``px`` the level's price; ``qty`` its
                   new displayed size, 0 = the level is gone); ``CLEAR`` (3): the
                   depth book is emptied: ``qty`` 1 = a snapshot follows as LEVEL
                   rows; ``qty`` 0 = the depth is unknown from here (a sequence
                   gap) until the next CLEAR with ``qty`` 1
bid_px    float64  best bid after the event (price units); NaN before the first quote
bid_sz    float64  size at the best bid (quantity units)
ask_px    float64  best ask after the event (price units)
ask_sz    float64  size at the best ask (quantity units)
px        float64  trade price (price units); NaN on quote rows
qty       float64  trade quantity (> 0, quantity units); 0 on quote rows
side      int8     aggressor of a trade: +1 buyer-initiated (lifts asks), −1
                   seller-initiated (hits bids), 0 unknown / quote rows
code      int16    the source's own event code: LOBSTER message type 1–7;
                   Binance ``CODE_BOOK_TICKER`` / ``CODE_TRADE`` / ``CODE_DEPTH``
========  =======  ==============================================================

The book columns on a trade row carry the book as it stood after the trade
(LOBSTER gives it; Binance carries the last bookTicker forward); on LEVEL and
CLEAR rows they carry the touch after the row. ``depth``,
when the source has more than one level, is a float64 array of shape
(rows, levels, 4): per level, (bid_px, bid_sz, ask_px, ask_sz) after the event,
NaN where a level is empty.

Two optional int64 columns (None when the source has none):

- ``local_ts``: the local receive time of the event's message (ns since the Unix
  epoch, the capture machine's clock; Binance captures), for ``--latency measured``;
- ``entry_ts``: on a row that refers to one resting order (LOBSTER messages 2–5), the
  exchange time (ns) that order entered the book (its type-1 message), or
  ``ENTRY_BEFORE`` when it was resting before the file starts; ``ENTRY_NONE`` on
  other rows. It gives the L3 FIFO queue each order's time priority.

On a LOBSTER row of message type 1–3 (a new order, a partial cancel, a delete),
``px``, ``qty`` and ``side`` carry the message's price, size and book side (+1 bid,
−1 ask), as on its execution rows (where ``side`` is the aggressor's).

``meta.book`` says what the rows hold: ``"touch"`` (the best levels only, plus
``depth`` for a multi-level LOBSTER file) or ``"depth"`` (LEVEL/CLEAR rows rebuild
the whole displayed book).

:class:`EventMeta` says what the numbers are: instrument, source, tick and lot
sizes, units, and how many malformed rows were skipped and why.

Errors in input data raise :class:`DataError`, an :class:`InputError` naming
the file and line (or row) and what is wrong; with ``on_error="skip"`` a
loader counts the row under its reason in ``meta.skipped`` instead.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InputError
from ..fileio import atomic_file
from ..suggest import unknown

QUOTE, TRADE, LEVEL, CLEAR = 0, 1, 2, 3
#: ``entry_ts`` of an order resting before the file starts, and of a row that refers to no order
ENTRY_BEFORE, ENTRY_NONE = np.iinfo(np.int64).min, np.iinfo(np.int64).max
BOOKS = ("touch", "depth")
OPTIONAL_COLUMNS = ("local_ts", "entry_ts")
CODE_BOOK_TICKER, CODE_TRADE, CODE_DEPTH = 100, 101, 102  # Binance streams (LOBSTER uses 1–7)
ON_ERROR = ("fail", "skip")
CONTRACTS = ("linear", "inverse")
OnError = Literal["fail", "skip"]

COLUMNS: dict[str, type] = {
    "ts": np.int64,
    "kind": np.int8,
    "bid_px": np.float64,
    "bid_sz": np.float64,
    "ask_px": np.float64,
    "ask_sz": np.float64,
    "px": np.float64,
    "qty": np.float64,
    "side": np.int8,
    "code": np.int16,
}
DEPTH_FIELDS = ("bid_px", "bid_sz", "ask_px", "ask_sz")


class DataError(InputError):
    """Malformed market data: ``where`` is ``FILE:LINE`` (or ``FILE: row N``)."""

    def __init__(self, file: str | os.PathLike, line: int | None, message: str, *, row: bool = False):
        where = str(file) if line is None else f"{file}: row {line}" if row else f"{file}:{line}"
        self.file, self.line = str(file), line
        super().__init__(where, message)


class Problems:
    """The ``on_error`` policy: raise at the first problem, or skip the row and count it."""

    def __init__(self, on_error: str = "fail"):
        if on_error not in ON_ERROR:
            raise InputError("on_error", f"must be one of {', '.join(ON_ERROR)}; got {on_error!r}")
        self.on_error = on_error
        self.counts: Counter[str] = Counter()

    def report(self, file, line: int | None, reason: str, detail: str = "", *, row: bool = False) -> None:
        """Raise :class:`DataError` (``fail``) or count ``reason`` (``skip``)."""
        if self.on_error == "fail":
            raise DataError(file, line, f"{reason}{': ' + detail if detail else ''}", row=row)
        self.counts[reason] += 1


@dataclass(frozen=True)
class EventMeta:
    """What an :class:`EventTable` holds.

    ``tick_size`` price units; ``lot_size`` quantity units (the smallest size
    increment: known for the source, else inferred from the sizes, then
    ``lot_inferred``); ``levels`` book levels in ``depth`` (1: top of book only);
    ``skipped`` malformed rows skipped, by reason; ``streams``: what the source
    held, per stream (or file), ``{"messages": n, "used": bool, "note": str}``.

    The contract (see :func:`contract_value`): ``contract`` is ``"linear"`` (a
    unit of quantity is worth ``contract_size`` × price, settled in the price's
    currency) or ``"inverse"`` (a contract is worth ``contract_size`` price-currency
    units, i.e. ``contract_size / price`` of the base asset, and settles in it:
    Binance COIN-M, BitMEX XBTUSD). ``settlement_currency``: the currency of PnL,
    fees and cash (the price unit for linear contracts, the base asset for inverse).
    """

    instrument: str
    source: str
    tick_size: float
    lot_size: float
    price_unit: str = "price units"
    qty_unit: str = "quantity units"
    levels: int = 1
    files: tuple[str, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)
    contract: str = "linear"
    contract_size: float = 1.0
    settlement_currency: str = ""
    lot_inferred: bool = False
    streams: dict[str, dict] = field(default_factory=dict)
    book: str = "touch"

    def __post_init__(self):
        if self.book not in BOOKS:
            raise InputError("book", f"got {self.book!r}; allowed: {', '.join(BOOKS)}")
        if self.contract not in CONTRACTS:
            raise InputError("contract", f"got {self.contract!r}; allowed: {', '.join(CONTRACTS)}")
        if not (
            isinstance(self.contract_size, (int, float))
            and math.isfinite(self.contract_size)
            and self.contract_size > 0
        ):
            raise InputError("contract_size", f"got {self.contract_size!r}; allowed: a positive number")
        if not self.settlement_currency:
            object.__setattr__(
                self, "settlement_currency", self.price_unit if self.contract == "linear" else "base units"
            )

    @property
    def inverse(self) -> bool:
        return self.contract == "inverse"

    def as_dict(self) -> dict:
        return {
            "instrument": self.instrument,
            "source": self.source,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "price_unit": self.price_unit,
            "qty_unit": self.qty_unit,
            "levels": self.levels,
            "files": list(self.files),
            "skipped": dict(self.skipped),
            "contract": self.contract,
            "contract_size": self.contract_size,
            "settlement_currency": self.settlement_currency,
            "lot_inferred": self.lot_inferred,
            "streams": {k: dict(v) for k, v in self.streams.items()},
            "book": self.book,
        }


def contract_value(px, contract: str, contract_size: float):
    """The value of one unit of quantity (one contract) at price ``px``, in the settlement currency,
    up to a constant: ``contract_size·px`` (linear) or ``−contract_size/px`` (inverse).

    A position of q units bought at p₀ and marked at p₁ gains q·(v(p₁) − v(p₀)): for an inverse
    contract q·C·(1/p₀ − 1/p₁) of the base asset, the settlement of Binance COIN-M and BitMEX
    inverse futures (Binance, "Coin-margined futures: PnL = contracts × contract size ×
    (1/entry − 1/exit)"). The notional of q units is |q·v(p)|. The replay's compiled form is
    :func:`flatbook.strategy.contract.unit_value`.
    """
    px = np.asarray(px, dtype=float)
    return -contract_size / px if contract == "inverse" else contract_size * px


@dataclass(frozen=True, eq=False)
class EventTable:
    """Market events in exchange-time order (see the module docstring for the columns)."""

    ts: np.ndarray
    kind: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    px: np.ndarray
    qty: np.ndarray
    side: np.ndarray
    code: np.ndarray
    meta: EventMeta
    depth: np.ndarray | None = None
    local_ts: np.ndarray | None = None
    entry_ts: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.ts)
        for name, dtype in COLUMNS.items():
            a: np.ndarray = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            if not a.flags.writeable:  # e.g. zero-copy from Parquet: the kernels take writable arrays
                a = a.copy()
            if a.shape != (n,):
                raise ValueError(f"EventTable column {name} has shape {a.shape}, expected ({n},)")
            object.__setattr__(self, name, a)
        if self.depth is not None:
            d = np.ascontiguousarray(self.depth, dtype=np.float64)
            if not d.flags.writeable:
                d = d.copy()
            if d.ndim != 3 or d.shape[0] != n or d.shape[2] != 4:
                raise ValueError(f"EventTable depth has shape {d.shape}, expected ({n}, levels, 4)")
            object.__setattr__(self, "depth", d)
        for name in OPTIONAL_COLUMNS:
            a = getattr(self, name)
            if a is not None:
                a = np.ascontiguousarray(a, dtype=np.int64)
                if not a.flags.writeable:
                    a = a.copy()
                if a.shape != (n,):
                    raise ValueError(f"EventTable column {name} has shape {a.shape}, expected ({n},)")
                object.__setattr__(self, name, a)
        if n > 1 and np.any(self.ts[1:] < self.ts[:-1]):  # 1 B per row of temporaries (np.diff: 9 B)
            raise ValueError("EventTable timestamps must be non-decreasing")

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def mid(self) -> np.ndarray:
        """(bid + ask)/2 after each event (price units; NaN before the first quote)."""
        return 0.5 * (self.bid_px + self.ask_px)

    @property
    def is_trade(self) -> np.ndarray:
        return self.kind == TRADE

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in COLUMNS}

    def take(self, index) -> EventTable:
        """Rows ``index`` (a slice, or sorted integer or boolean indices), as a new table."""
        cols = {k: v[index] for k, v in self.columns().items()}
        opt: dict[str, Any] = {
            k: None if getattr(self, k) is None else getattr(self, k)[index] for k in OPTIONAL_COLUMNS
        }
        return EventTable(**cols, meta=self.meta, depth=None if self.depth is None else self.depth[index], **opt)

    def between(self, start_ns: int | None = None, end_ns: int | None = None) -> EventTable:
        """Rows with start_ns <= ts < end_ns."""
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, "left"))
        hi = len(self) if end_ns is None else int(np.searchsorted(self.ts, end_ns, "left"))
        return self.take(slice(lo, hi))

    # ------------------------------------------------------------------ Parquet
    def to_parquet(self, path: str | os.PathLike) -> Path:
        """Write the table as one Parquet file (atomically: a temp file, then rename).

        Depth levels become columns ``bid_px_1, bid_sz_1, ask_px_1, ask_sz_1, …``;
        the meta is stored as JSON in the schema metadata under ``flatbook``.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        arrays = dict(self.columns())
        if self.depth is not None:
            for lvl in range(self.depth.shape[1]):
                for f, name in enumerate(DEPTH_FIELDS):
                    arrays[f"{name}_{lvl + 1}"] = self.depth[:, lvl, f]
        for name in OPTIONAL_COLUMNS:
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        table = pa.table(arrays)
        table = table.replace_schema_metadata({b"flatbook": json.dumps(self.meta.as_dict()).encode()})
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as fh:
            pq.write_table(table, fh)
        return path

    @classmethod
    def from_parquet(cls, path: str | os.PathLike) -> EventTable:
        """Read a file written by :meth:`to_parquet`."""
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)  # not read_table: that imports pyarrow.dataset and pandas
            schema = pf.schema_arrow
        except (OSError, ValueError) as exc:
            raise DataError(path, None, f"not a readable Parquet file ({exc})") from None
        md = (schema.metadata or {}).get(b"flatbook")
        if md is None:
            raise DataError(
                path,
                None,
                "not a flatbook event file (no 'flatbook' schema metadata); load it with the generic loader instead",
            )
        m = json.loads(md)
        meta = EventMeta(
            **{
                **m,
                "files": tuple(m.get("files", ())),
                "skipped": dict(m.get("skipped", {})),
                "streams": dict(m.get("streams", {})),
            }
        )
        names = set(schema.names)
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise DataError(path, None, f"missing columns {', '.join(missing)}")
        n = pf.metadata.num_rows
        try:
            cols = {c: _column(pf, c, n) for c in COLUMNS}
            depth = None
            if meta.levels > 1:
                depth = np.empty((n, meta.levels, 4))
                for lvl in range(1, meta.levels + 1):
                    for f, name in enumerate(DEPTH_FIELDS):
                        depth[:, lvl - 1, f] = _column(pf, f"{name}_{lvl}", n, depth[:, lvl - 1, f])
            opt: dict[str, Any] = {k: _column(pf, k, n) if k in names else None for k in OPTIONAL_COLUMNS}
        except (OSError, ValueError) as exc:
            raise DataError(path, None, f"not a readable Parquet file ({exc})") from None
        return cls(**cols, meta=meta, depth=depth, **opt)

    def with_meta(self, **changes) -> EventTable:
        return replace(self, meta=replace(self.meta, **changes))

    def with_contract(
        self, contract: str | None = None, contract_size: float | None = None, settlement_currency: str | None = None
    ) -> EventTable:
        """The table with its contract set by the user (None keeps the file's own).

        Switching to ``inverse`` needs ``contract_size`` (price-currency units per contract)
        unless the data already says it; the settlement currency of a linear contract is the
        price unit, of an inverse one the base asset (``"base units"`` unless given).
        Errors name the CLI flags ``--contract``, ``--contract-size`` and ``--settlement``.
        """
        m = self.meta
        if contract is None and contract_size is None and settlement_currency is None:
            return self
        if contract is not None and contract not in CONTRACTS:
            raise unknown("--contract", "contract type", contract, CONTRACTS)
        kind = contract or m.contract
        if contract_size is None:
            if kind == m.contract:
                contract_size = m.contract_size
            elif kind == "inverse":
                raise InputError(
                    "--contract-size",
                    "an inverse contract needs its size in the price currency "
                    "(e.g. --contract-size 100 for 100 USD per contract)",
                )
            else:
                contract_size = 1.0
        if not (isinstance(contract_size, (int, float)) and math.isfinite(contract_size) and contract_size > 0):
            raise InputError(
                "--contract-size",
                f"got {contract_size!r}; allowed: a positive number (price-currency units per contract)",
            )
        if settlement_currency is None:
            settlement_currency = m.settlement_currency if kind == m.contract else ""
        return self.with_meta(
            contract=kind, contract_size=float(contract_size), settlement_currency=str(settlement_currency)
        )


def _column(pf, name: str, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """One Parquet column (of ``pf``, a ``pyarrow.parquet.ParquetFile`` of n rows) as a writable numpy array
    that owns its memory (or written into ``out``), read alone and copied chunk by chunk from zero-copy views,
    so that the reader holds one column of Arrow buffers at a time and returns them to its pool at once.
    Measured on the USDⓈ-M capture tiled ×4 → ×16: the read costs about 64 B per event at the margin, not 94,
    and a warm backtest's peak RSS 170 B per event, not 272. One thread: a threaded read held about 15 B per
    event more. Columns with nulls take pyarrow's copying path (it imports pandas, which costs a run 0.2 s)."""
    import pyarrow as pa

    if name not in pf.schema_arrow.names:
        raise KeyError(name)  # as pyarrow's Table.column: a damaged or stale cache entry is parsed again
    table = pf.read(columns=[name], use_threads=False)
    chunks = table.column(0).chunks
    if any(c.null_count for c in chunks):
        parts = [c.to_numpy(zero_copy_only=False) for c in chunks]
        got = np.concatenate(parts) if len(parts) != 1 else parts[0]
    else:
        got = out
        i = 0
        for c in chunks:
            a = c.to_numpy(zero_copy_only=True)
            if got is None:
                got = np.empty(n, a.dtype)
            got[i : i + a.size] = a
            i += a.size
        if got is None:  # no rows
            got = np.empty(0, table.schema.field(0).type.to_pandas_dtype())
    del table, chunks
    pa.default_memory_pool().release_unused()
    return got


def empty_columns(n: int) -> dict[str, np.ndarray]:
    """Columns for n rows, quote-row defaults (NaN book and price, 0 size, side and code)."""
    out = {}
    for name, dtype in COLUMNS.items():
        if np.issubdtype(dtype, np.floating):
            out[name] = np.full(n, np.nan) if name != "qty" else np.zeros(n)
        else:
            out[name] = np.zeros(n, dtype)
    return out


def infer_tick(prices: np.ndarray, max_samples: int = 200_000) -> float:
    """The tick size implied by prices: the smallest positive gap between distinct
    prices, rounded to the resolution the float prices carry (exact for decimal ticks).

    A gap between two parsed decimals is off by up to a few ulps of the largest price
    (61837.64 − 61837.63 = 0.0099999999947…), so the gap is rounded to a power of ten
    q ≈ 8·ulp(max |price|) before being reported (then to 10 significant digits);
    gaps below q are float noise, not ticks.
    """
    p = np.asarray(prices, dtype=float)
    p = p[np.isfinite(p)]
    if p.size > max_samples:
        p = p[:: max(1, p.size // max_samples)]
    u = np.unique(p)
    if u.size < 2:
        return math.nan
    q = 10.0 ** math.ceil(math.log10(8.0 * float(np.spacing(np.abs(u).max()))))
    gaps = np.diff(u)
    gaps = gaps[gaps > q]
    if gaps.size == 0:
        return math.nan
    gap = round(float(gaps.min()) / q) * q
    return float(f"{gap:.10g}")
