"""Generic loader: quotes (and optionally trades) from CSV or Parquet files.

Quotes file columns (any order, extra columns ignored):

============  ===================================================================
timestamp     integer ns since the Unix epoch (UTC), or ISO-8601 text; text
              without an offset is taken as UTC. Integers that read as a date
              in 1970 but as ms or µs since the epoch fall in 2000–2100 are
              refused, naming the likely unit (:func:`check_epoch_unit`)
bid, ask      best bid / ask (price units, > 0); an empty cell means that side
              is empty; ``nan`` / ``inf`` text (or NaN in Parquet) is refused
bid_size,     size at the best bid / ask (quantity units, >= 0); empty = 0
ask_size
code          optional: the source's event code (integer; default 0)
============  ===================================================================

Trades file columns: ``timestamp`` (as above), ``price`` (price units, > 0),
``quantity`` (> 0, quantity units), ``side`` = the aggressor, one of ``buy``,
``b``, ``1``, ``+1`` (buyer-initiated, → +1) or ``sell``, ``s``, ``-1``
(seller-initiated, → −1), case-insensitive; ``code`` optional as for quotes.

Rows are numbered from 1 = the first data row (line 2 of a CSV with its header).
A quotes file without data rows (a header only), or a file whose rows are all
skipped, is refused (a trades file with a header only means: no trades). A missing column is named, with "did you mean …?" for a near miss
among the file's columns.
Quotes and trades are merged by timestamp, quotes first on equal timestamps, each
file keeping its own row order; a trade row carries the book of the last quote
at or before it (NaN before the first quote). Timestamps of one file going
backwards by at most ``tolerance_ns`` are accepted and raised to the previous
timestamp (row order kept); further back is an error.

This module also holds the row-screening helpers the other loaders share.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from ..suggest import did_you_mean
from .events import QUOTE, TRADE, DataError, EventMeta, EventTable, Problems, empty_columns, infer_tick

QUOTE_COLUMNS = ("timestamp", "bid", "ask", "bid_size", "ask_size")
TRADE_COLUMNS = ("timestamp", "price", "quantity", "side")
BUY_SIDES = ("buy", "b", "1", "+1")
SELL_SIDES = ("sell", "s", "-1")
PARQUET_SUFFIXES = (".parquet", ".pq")

_INT_MIN = np.iinfo(np.int64).min

Check = tuple  # (reason, bad-row mask, detail(i)[, file]) for :func:`screen`
"""(reason, bad-row mask, detail(i)) or (reason, mask, detail, file) for :func:`screen`
(the file, when given, is the one named in the error instead of ``screen``'s own)."""
Order = tuple[str, np.ndarray, int, Callable[[int, int], str]]
"""(reason, int64 values, step, detail(i, previous max)) for :func:`screen`: a row is bad
when its value is below (max over the earlier kept rows) + step."""


# --------------------------------------------------------------- shared helpers
def _prev_max(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """For each row, the max of ``values`` over the earlier rows in ``keep`` (INT64_MIN if none)."""
    run = np.maximum.accumulate(np.where(keep, values, _INT_MIN))
    return np.concatenate(([_INT_MIN], run[:-1])) if len(run) else run


def screen(
    problems: Problems,
    file,
    line_of: np.ndarray,
    checks: Sequence[Check] = (),
    orders: Sequence[Order] = (),
    *,
    row: bool = False,
) -> np.ndarray:
    """Apply row checks; return the mask of rows to keep.

    ``checks`` are independent row tests; ``orders`` are monotonicity tests run in
    turn on the rows that passed everything before them (so one bad row does not
    condemn the rows after it). ``fail``: raise :class:`DataError` for the earliest
    bad row (its number from ``line_of``); ``skip``: count each bad row once, under
    the first reason it fails, in ``problems.counts``.
    """
    n = len(line_of)
    bad = np.zeros(n, bool)
    found: list[tuple] = []
    for reason, mask, detail, *where in checks:
        mask = np.asarray(mask, bool) & ~bad
        if mask.any():
            found.append((reason, mask, detail, where[0] if where else file))
            bad |= mask
    for reason, values, step, describe in orders:
        values = np.asarray(values, np.int64)
        prev = _prev_max(values, ~bad)
        has = prev != _INT_MIN
        mask = ~bad & has & (values < np.where(has, prev, 0) + step)
        if mask.any():
            found.append((reason, mask, lambda i, prev=prev, d=describe: d(i, int(prev[i])), file))
            bad |= mask
    if not found:
        return ~bad
    if problems.on_error == "fail":
        reason, mask, detail, where = min(found, key=lambda f: int(np.argmax(f[1])))
        i = int(np.argmax(mask))
        problems.report(where, int(line_of[i]), reason, detail(i), row=row)
    for reason, mask, *_ in found:
        problems.counts[reason] += int(mask.sum())
    return ~bad


def ts_order(values: np.ndarray, tolerance_ns: int, unit: str = "ns", scale: int = 1) -> Order:
    """The 'timestamps go back by at most tolerance' check (values in ns; messages in ``unit``)."""
    return (
        "timestamp out of order",
        values,
        -int(tolerance_ns),
        lambda i, prev: (
            f"{values[i] // scale} {unit} is {(prev - values[i]) / scale:.12g} {unit} before "
            f"an earlier row (tolerance {tolerance_ns // scale} {unit})"
        ),
    )


def check_file(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "no such file" if not p.exists() else "not a regular file")
    return p


# --------------------------------------------------------------- generic loader
def _read_frame(path: Path, allow_empty: bool = False) -> pd.DataFrame:
    """The file as a frame; a file with no data rows is refused unless ``allow_empty``.

    CSV: every cell as text, and only an empty cell is missing (pandas' default would
    also turn ``nan``, ``NA``, ``null`` … into missing, i.e. an empty side). Parquet:
    ``df.attrs["nan"]`` maps each float column holding NaN (as opposed to null) to its
    NaN mask, since pandas merges the two.
    """
    import pandas as pd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.compute as pc
            import pyarrow.parquet as pq
            import pyarrow.types as pt

            table = pq.read_table(path)
            nan = {}
            for name, col in zip(table.column_names, table.columns):
                if pt.is_floating(col.type):
                    mask = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
                    if mask.any():
                        nan[name] = mask
            df = table.to_pandas()
            df.attrs["nan"] = nan
        else:
            # Read text as text: numeric conversion (with row numbers for bad cells) happens
            # below, and ns timestamps must never pass through float64.
            df = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, None, f"cannot read ({exc})") from None
    if len(df) == 0 and not allow_empty:
        raise DataError(path, None, "no data rows (a header only?): nothing to load")
    return df


def _require(df: pd.DataFrame, path: Path, expected: Sequence[str]) -> None:
    missing = [c for c in expected if c not in df.columns]
    if missing:
        extra = [str(c) for c in df.columns if c not in expected]
        hints = "".join(f"; column {c!r}: {h[2:]}" for c in extra if (h := did_you_mean(c, missing)))
        raise DataError(
            path,
            None,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"expected {', '.join(expected)} (found {', '.join(map(str, df.columns))})" + hints,
        )


def _file_timestamps(df: pd.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        ts, bad, is_int = _timestamps(df["timestamp"])
    except _FloatTimestamps:
        raise DataError(
            path,
            None,
            "column timestamp is floating point; expected integer ns since the "
            "epoch or ISO-8601 text (float64 cannot hold epoch ns exactly)",
        ) from None
    check_epoch_unit(ts, bad, is_int, path)
    return ts, bad


NS_2000, NS_2100 = 946_684_800 * 10**9, 4_102_444_800 * 10**9  # 2000-01-01 and 2100-01-01, ns since the epoch
EPOCH_UNITS = (("ms", 10**6), ("µs", 10**3))  # (unit, ns per unit)


def check_epoch_unit(ts: np.ndarray, bad: np.ndarray, is_int: np.ndarray, path: Path) -> None:
    """Refuse integer timestamps that are ms or µs since the epoch, not ns.

    Read as ns they fall in January–February 1970 and every duration comes out 10³
    or 10⁶ times too short. The test is on the first good row written as an integer:
    it is refused when, read in ms (or µs), it lands in 2000–2100. Small ns values
    (synthetic data counting from 0) pass, and so do seconds (1e9 ns is 1 s after the
    epoch as well as 2001 in seconds: ambiguous). ``is_int``: the rows written as integers.
    """
    rows = np.flatnonzero(is_int & ~bad)
    if not rows.size:
        return
    i = int(rows[0])
    v = int(ts[i])
    for unit, scale in EPOCH_UNITS:
        if NS_2000 <= v * scale < NS_2100:
            as_ns = np.datetime_as_string(np.datetime64(v, "ns"), unit="s")
            as_unit = np.datetime_as_string(np.datetime64(v * scale, "ns"), unit="ms")
            raise DataError(
                path,
                i + 1,
                f"column timestamp = {v} is {as_ns}Z read as ns since the epoch, "
                f"but {as_unit}Z read as {unit}: the file looks like {unit}; "
                f"write integer ns (× {scale:,}) or ISO-8601 text",
                row=True,
            )


def _numeric(s: pd.Series, nan: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, bad mask): empty cells (CSV) and nulls (Parquet) → NaN, not bad;
    anything else that is not a finite number (text, ``nan``, ``inf``; Parquet NaN given
    by the ``nan`` mask) → bad."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s.dtype):
        return np.full(len(s), np.nan), np.ones(len(s), bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return v, np.isinf(v) | (nan if nan is not None else False)
    empty = s.isna().to_numpy() | (s.astype(str).str.strip() == "").to_numpy()
    v = pd.to_numeric(s.where(~empty), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return v, ~empty & ~np.isfinite(v)


def _numbers(df: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_numeric` of ``df[column]`` with the Parquet NaN mask of :func:`_read_frame`."""
    return _numeric(df[column], df.attrs.get("nan", {}).get(column))


class _FloatTimestamps(Exception):
    pass


def _timestamps(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 ns since epoch UTC, bad mask, written-as-integer mask) from integer ns, datetimes
    or ISO-8601 text."""
    import pandas as pd

    n = len(s)
    out = np.zeros(n, np.int64)
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        idx = pd.DatetimeIndex(s)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        bad = np.asarray(idx.isna())
        out[~bad] = idx[~bad].as_unit("ns").asi8
        return out, bad, np.zeros(n, bool)
    if pd.api.types.is_integer_dtype(s.dtype):
        na = s.isna().to_numpy()
        out[~na] = s[~na].to_numpy(np.int64)
        return out, na, ~na
    if pd.api.types.is_numeric_dtype(s.dtype):  # float64 cannot hold epoch nanoseconds exactly
        raise _FloatTimestamps
    text = s.astype(str).str.strip().where(s.notna(), "")
    is_int = text.str.fullmatch(r"[+-]?\d{1,19}").to_numpy(dtype=bool, na_value=False)
    bad = np.zeros(n, bool)
    if is_int.any():
        try:
            out[is_int] = text[is_int].astype(np.int64).to_numpy()
        except (OverflowError, ValueError):  # > int64: find the rows one by one
            vals = [int(x) for x in text[is_int]]
            ok = np.array([_INT_MIN < v <= np.iinfo(np.int64).max for v in vals])
            out[np.flatnonzero(is_int)[ok]] = [v for v, k in zip(vals, ok) if k]
            bad[np.flatnonzero(is_int)[~ok]] = True
    other = ~is_int
    if other.any():
        parsed = pd.to_datetime(text[other], utc=True, format="ISO8601", errors="coerce")
        idx = pd.DatetimeIndex(parsed)
        nat = np.asarray(idx.isna())
        ns = np.zeros(len(idx), np.int64)
        ns[~nat] = idx[~nat].as_unit("ns").asi8
        out[other] = ns
        bad[np.flatnonzero(other)[nat]] = True
    return out, bad, is_int


def _sides(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int8 side, bad mask) from buy/b/1/+1 and sell/s/-1 (case-insensitive)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        side = np.where(v == 1, 1, np.where(v == -1, -1, 0)).astype(np.int8)
        return side, side == 0
    t = s.astype(str).str.strip().str.lower().where(s.notna(), "")
    buy = t.isin(BUY_SIDES).to_numpy()
    sell = t.isin(SELL_SIDES).to_numpy()
    return np.where(buy, 1, np.where(sell, -1, 0)).astype(np.int8), ~(buy | sell)


def _codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "code" not in df.columns:
        return np.zeros(len(df), np.int16), np.zeros(len(df), bool)
    v, bad = _numeric(df["code"])
    bad |= np.isnan(v) | (v != np.round(v)) | (np.abs(v) > np.iinfo(np.int16).max)
    return np.where(bad, 0, v).astype(np.int16), bad


def _value_detail(s: pd.Series, column: str) -> Callable[[int], str]:
    return lambda i: f"column {column} = {s.iloc[i]!r}"


def _number_detail(s: pd.Series, column: str, nan: np.ndarray | None = None) -> Callable[[int], str]:
    def detail(i: int) -> str:
        v = "nan" if nan is not None and nan[i] else s.iloc[i]
        return f"column {column} = {v!r} is not a finite number" + (
            " (leave the cell empty for an empty side)" if column in ("bid", "ask") else ""
        )

    return detail


def _kept(path: Path, problems: Problems, keep: np.ndarray, before: dict[str, int]) -> None:
    """Refuse a file all of whose rows were skipped (``on_error="skip"``); ``before``: the
    skip counts before this file."""
    if keep.size and not keep.any():
        why = ", ".join(f"{n - before.get(r, 0)} {r}" for r, n in problems.counts.items() if n > before.get(r, 0))
        raise DataError(path, None, f"no usable rows: all {keep.size} rows were skipped ({why})")


def _load_quotes(path: Path, problems: Problems, tolerance_ns: int) -> dict[str, np.ndarray]:
    df = _read_frame(path)
    _require(df, path, QUOTE_COLUMNS)
    ts, ts_bad = _file_timestamps(df, path)
    num = {c: _numbers(df, c) for c in ("bid", "ask", "bid_size", "ask_size")}
    nan = df.attrs.get("nan", {})
    code, code_bad = _codes(df)
    bid, ask = num["bid"][0], num["ask"][0]
    bsz, asz = np.nan_to_num(num["bid_size"][0]), np.nan_to_num(num["ask_size"][0])
    checks: list[Check] = [("bad timestamp", ts_bad, _value_detail(df["timestamp"], "timestamp"))]
    checks += [("non-numeric value", num[c][1], _number_detail(df[c], c, nan.get(c))) for c in num]
    if "code" in df.columns:
        checks.append(("bad code", code_bad, _value_detail(df["code"], "code")))
    checks += [
        ("negative size", (bsz < 0) | (asz < 0), lambda i: f"bid_size {bsz[i]:g}, ask_size {asz[i]:g}"),
        (
            "non-positive price",
            (bid <= 0) | (ask <= 0),
            lambda i: f"bid {bid[i]:g}, ask {ask[i]:g}: prices must be > 0 (an empty cell is an empty side)",
        ),
        ("crossed book", bid >= ask, lambda i: f"bid {bid[i]:g} >= ask {ask[i]:g}"),
    ]
    rows = np.arange(1, len(df) + 1)
    before = dict(problems.counts)
    keep = screen(problems, path, rows, checks, [ts_order(ts, tolerance_ns)], row=True)
    _kept(path, problems, keep, before)
    return {
        "ts": np.maximum.accumulate(ts[keep]),
        "bid_px": bid[keep],
        "ask_px": ask[keep],
        "bid_sz": bsz[keep],
        "ask_sz": asz[keep],
        "code": code[keep],
    }


def _load_trades(path: Path, problems: Problems, tolerance_ns: int) -> dict[str, np.ndarray]:
    df = _read_frame(path, allow_empty=True)  # a trades file with a header only: no trades
    _require(df, path, TRADE_COLUMNS)
    ts, ts_bad = _file_timestamps(df, path)
    nan = df.attrs.get("nan", {})
    px, px_bad = _numbers(df, "price")
    qty, qty_bad = _numbers(df, "quantity")
    side, side_bad = _sides(df["side"])
    code, code_bad = _codes(df)
    checks: list[Check] = [
        ("bad timestamp", ts_bad, _value_detail(df["timestamp"], "timestamp")),
        ("non-numeric value", px_bad | np.isnan(px), _number_detail(df["price"], "price", nan.get("price"))),
        ("non-numeric value", qty_bad | np.isnan(qty), _number_detail(df["quantity"], "quantity", nan.get("quantity"))),
        (
            "unknown side",
            side_bad,
            lambda i: f"side = {df['side'].iloc[i]!r}; expected one of {', '.join(BUY_SIDES + SELL_SIDES)}",
        ),
        ("non-positive price", px <= 0, lambda i: f"price {px[i]:g}: prices must be > 0"),
        ("non-positive trade quantity", qty <= 0, lambda i: f"quantity {qty[i]:g}"),
    ]
    if "code" in df.columns:
        checks.append(("bad code", code_bad, _value_detail(df["code"], "code")))
    rows = np.arange(1, len(df) + 1)
    before = dict(problems.counts)
    keep = screen(problems, path, rows, checks, [ts_order(ts, tolerance_ns)], row=True)
    _kept(path, problems, keep, before)
    return {
        "ts": np.maximum.accumulate(ts[keep]),
        "px": px[keep],
        "qty": qty[keep],
        "side": side[keep],
        "code": code[keep],
    }


def load_generic(
    quotes: str | os.PathLike,
    trades: str | os.PathLike | None = None,
    *,
    on_error: str = "fail",
    instrument: str | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    tolerance_ns: int = 0,
) -> EventTable:
    """Load a quotes file (and optionally a trades file), CSV or Parquet, into an :class:`EventTable`.

    Columns and conventions: see the module docstring. ``instrument`` defaults to
    the quotes file's stem; ``tick_size`` / ``lot_size`` default to
    :func:`~flatbook.data.events.infer_tick` over the bid and ask prices (trade prices
    too only if the quotes hold fewer than two distinct prices) / over all positive
    sizes and quantities. Errors name the file and the 1-based data row.
    """
    problems = Problems(on_error)
    qpath = check_file(quotes)
    tpath = None if trades is None else check_file(trades)
    q = _load_quotes(qpath, problems, int(tolerance_ns))
    t: dict[str, np.ndarray] = (
        _load_trades(tpath, problems, int(tolerance_ns))
        if tpath is not None
        else {
            "ts": np.zeros(0, np.int64),
            "px": np.zeros(0),
            "qty": np.zeros(0),
            "side": np.zeros(0, np.int8),
            "code": np.zeros(0, np.int16),
        }
    )
    nq, nt = len(q["ts"]), len(t["ts"])
    ts = np.concatenate([q["ts"], t["ts"]])
    kind = np.concatenate([np.full(nq, QUOTE, np.int8), np.full(nt, TRADE, np.int8)])
    order = np.lexsort((np.arange(nq + nt), kind, ts))  # by ts, quotes first, then file order
    cols = empty_columns(nq + nt)
    cols["ts"], cols["kind"] = ts, kind
    cols["code"] = np.concatenate([q["code"], t["code"]])
    for c in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
        cols[c][:nq] = q[c]
    cols["px"][nq:], cols["qty"][nq:], cols["side"][nq:] = t["px"], t["qty"], t["side"]
    cols = {k: v[order] for k, v in cols.items()}
    _carry_book(cols)
    # The tick is the quoting grid: infer it from quotes; trades may print between ticks
    # (e.g. NASDAQ midpoint executions at half cents), so they count only without quotes.
    prices = np.concatenate([q["bid_px"], q["ask_px"]])
    if not np.isfinite(infer_tick(prices)):
        prices = np.concatenate([prices, t["px"]])
    sizes = np.concatenate([q["bid_sz"], q["ask_sz"], t["qty"]])
    meta = EventMeta(
        instrument=instrument or qpath.stem,
        source="generic",
        tick_size=float(tick_size) if tick_size is not None else infer_tick(prices),
        lot_size=float(lot_size) if lot_size is not None else infer_tick(sizes[sizes > 0]),
        files=tuple(str(p) for p in (qpath, tpath) if p is not None),
        skipped=dict(problems.counts),
    )
    return EventTable(**cols, meta=meta)


def _carry_book(cols: dict[str, np.ndarray]) -> None:
    """Give each trade row the book of the last quote row before it (in place; NaN before any)."""
    is_q = cols["kind"] == QUOTE
    last = np.maximum.accumulate(np.where(is_q, np.arange(len(is_q)), -1)) if len(is_q) else np.zeros(0, int)
    tr = ~is_q
    src = last[tr]
    has = src >= 0
    for c in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
        vals = np.full(src.size, np.nan)
        vals[has] = cols[c][src[has]]
        cols[c][tr] = vals
