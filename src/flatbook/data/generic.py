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

Other column names are mapped to these with ``columns`` (``--columns``,
``ts=time,bid=best_bid,…``: :func:`parse_columns`). Numeric timestamps in another
unit are read with ``time_unit`` (``--time-unit``: ``s``, ``ms``, ``us``, ``ns`` or
``auto``, the unit in which the first one is a date in 2000–2100); decimal text is
read exactly to the ns. A magnitude that says another unit than the declared one is
refused, naming the column and the likely unit; it never loads as 1970.

The files are streamed: CSV through pyarrow's block reader (each column converted
at once where every cell is clean, else left as text for the row-by-row checks and
their messages), Parquet by row batches, ``chunk_rows`` rows at a time; the order
check runs across chunks and errors name the row in the whole file. Memory is one
chunk plus the numeric columns and the event table.

This module also holds the row-screening helpers the other loaders share.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from ..errors import InputError
from ..suggest import did_you_mean, unknown
from .events import QUOTE, TRADE, DataError, EventMeta, EventTable, Problems, infer_tick

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
def _prev_max(values: np.ndarray, keep: np.ndarray, start: int = _INT_MIN) -> np.ndarray:
    """For each row, the max of ``values`` over the earlier rows in ``keep`` and ``start`` (INT64_MIN if none)."""
    run = np.maximum.accumulate(np.where(keep, values, _INT_MIN))
    return np.maximum(np.concatenate(([_INT_MIN], run[:-1])), start) if len(run) else run


def screen(
    problems: Problems,
    file,
    line_of: np.ndarray,
    checks: Sequence[Check] = (),
    orders: Sequence[Order] = (),
    *,
    row: bool = False,
    start: Sequence[int] = (),
) -> np.ndarray:
    """Apply row checks; return the mask of rows to keep.

    ``checks`` are independent row tests; ``orders`` are monotonicity tests run in
    turn on the rows that passed everything before them (so one bad row does not
    condemn the rows after it). ``fail``: raise :class:`DataError` for the earliest
    bad row (its number from ``line_of``); ``skip``: count each bad row once, under
    the first reason it fails, in ``problems.counts``. ``start``: per order, the max over the
    rows of earlier chunks of a file read in chunks (default: none).
    """
    n = len(line_of)
    bad = np.zeros(n, bool)
    found: list[tuple] = []
    for reason, mask, detail, *where in checks:
        mask = np.asarray(mask, bool) & ~bad
        if mask.any():
            found.append((reason, mask, detail, where[0] if where else file))
            bad |= mask
    for j, (reason, values, step, describe) in enumerate(orders):
        values = np.asarray(values, np.int64)
        prev = _prev_max(values, ~bad, start[j] if j < len(start) else _INT_MIN)
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
#: ns per unit of ``time_unit`` (``us`` and ``µs`` are the same)
TIME_UNITS: dict[str, int] = {"s": 10**9, "ms": 10**6, "us": 10**3, "µs": 10**3, "ns": 1}
TIME_UNIT_CHOICES = ("auto", "s", "ms", "us", "ns")
#: our column names, which ``columns`` maps to the file's (``ts`` is short for ``timestamp``)
COLUMN_NAMES = ("timestamp", "bid", "ask", "bid_size", "ask_size", "price", "quantity", "side", "code")
COLUMN_ALIASES = {"ts": "timestamp"}
#: rows read at a time: memory stays bounded by one chunk's text plus the event table's columns
CHUNK_ROWS = 1 << 16


def parse_columns(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """A column mapping, ``"ts=timestamp,bid=best_bid,…"`` (or a dict), as {our name: the file's column}.

    Our names: ``timestamp`` (or ``ts``), ``bid``, ``ask``, ``bid_size``, ``ask_size``, ``price``,
    ``quantity``, ``side``, ``code``. Errors name ``--columns``.
    """
    if spec is None:
        return {}
    items: list[tuple[str, str]] = []
    if isinstance(spec, str):
        for part in spec.split(","):
            if not part.strip():
                continue
            ours, eq, theirs = part.partition("=")
            if not eq or not ours.strip() or not theirs.strip():
                raise InputError(
                    "--columns", f"got {part.strip()!r}; allowed: OURS=THEIRS pairs, comma-separated (ts=time,bid=bp)"
                )
            items.append((ours.strip(), theirs.strip()))
    else:
        items = [(str(k), str(v)) for k, v in spec.items()]
    out: dict[str, str] = {}
    for ours, theirs in items:
        key = COLUMN_ALIASES.get(ours, ours)
        if key not in COLUMN_NAMES:
            raise unknown("--columns", "column", ours, COLUMN_NAMES + tuple(COLUMN_ALIASES))
        if key in out:
            raise InputError("--columns", f"{ours} is mapped twice ({out[key]!r} and {theirs!r})")
        out[key] = theirs
    return out


def check_time_unit(unit: str) -> str:
    """``unit`` if it is one of ``auto``, ``s``, ``ms``, ``us`` (``µs``), ``ns``; else an error naming ``--time-unit``."""
    if unit not in TIME_UNIT_CHOICES and unit != "µs":
        raise unknown("--time-unit", "time unit", unit, TIME_UNIT_CHOICES)
    return "us" if unit == "µs" else unit


def _header(path: Path) -> list[str]:
    """The file's column names (read without its rows)."""
    import pandas as pd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(path).schema_arrow.names)
        return [str(c) for c in pd.read_csv(path, nrows=0, skipinitialspace=True).columns]
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, None, f"cannot read ({exc})") from None


def _chunks(
    path: Path, ours: dict[str, str], rows: int, malformed: list[tuple[int, int, int]] | None = None
) -> Iterator[pd.DataFrame]:
    """The file's columns ``ours`` (its name → ours) as frames of at most ``rows`` rows, with our names
    (streamed; a .gz CSV is decompressed on the fly).

    CSV: every cell as text, and only an empty cell is missing (pandas' default would also turn ``nan``,
    ``NA``, ``null`` … into missing, i.e. an empty side). Parquet (``ParquetFile.iter_batches``):
    ``df.attrs["nan"]`` maps each float column holding NaN (as opposed to null) to its NaN mask, since
    pandas merges the two. A CSV row with the wrong number of fields is left out and noted in ``malformed``
    as (data row, fields expected, fields found), before the chunk that would have held it is yielded.
    """
    import pandas as pd

    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.compute as pc
            import pyarrow.parquet as pq
            import pyarrow.types as pt

            usecols = list(ours)
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=usecols):
                nan = {}
                for name, col in zip(batch.schema.names, batch.columns):
                    if pt.is_floating(col.type):
                        mask = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
                        if mask.any():
                            nan[name] = mask
                df = batch.to_pandas().rename(columns=ours)
                df.attrs["nan"] = {ours.get(k, k): v for k, v in nan.items()}
                yield df
            return
        # pyarrow's streaming reader, every cell as text and only an empty cell missing; then each column
        # converted at once where it is clean (see _fast_column), else left as text for the row-by-row checks:
        # ns timestamps never pass through float64.
        import pyarrow as pa
        import pyarrow.csv as pacsv

        names = _header(path)
        bad = malformed if malformed is not None else []

        def invalid(row) -> str:
            bad.append((int(row.number) - 1 if row.number is not None else 0, row.expected_columns, row.actual_columns))
            return "skip"

        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=max(rows * 16, 1 << 16), use_threads=False
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(ours),
                column_types=dict.fromkeys(ours, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        with reader:
            for batch in reader:
                df = pd.DataFrame(
                    {ours[n]: _fast_column(ours[n], c) for n, c in zip(batch.schema.names, batch.columns)}
                )
                df.attrs["nan"] = {}
                yield df
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, None, f"cannot read ({exc})") from None


def _fast_column(name: str, col):
    """One CSV column of text (a pyarrow array) for pandas: numbers as numpy when every cell parses (integer
    timestamps as int64 without empty cells; other columns as float64, empty → NaN, without nan/inf text),
    else the text itself (pandas object strings) for the row-by-row conversion and its error messages."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if name == "timestamp":
            if col.null_count == 0:
                return pc.cast(col, pa.int64()).to_numpy()
        elif name != "side":
            v = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            if not np.isinf(v).any() and np.isnan(v).sum() == col.null_count:
                return v
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return col.to_pandas()


def _resolve(path: Path, header: list[str], expected: Sequence[str], columns: dict[str, str]) -> dict[str, str]:
    """{our name: the file's column} for ``expected`` (plus ``code`` if present) under the mapping ``columns``;
    a missing column is named, with "did you mean …?" for a near miss among the file's columns."""
    have = set(header)
    out: dict[str, str] = {}
    for ours in (*expected, "code"):
        theirs = columns.get(ours)
        if theirs is not None and theirs in have:
            out[ours] = theirs
        elif ours in have and (theirs is None or ours != theirs):
            out[ours] = ours  # mapped to a column another file of the pair has: this file uses our name
        elif theirs is not None and ours in expected:
            raise DataError(
                path,
                None,
                f"--columns maps {ours} to {theirs!r}, which is not a column of this file "
                f"(found {', '.join(header)}){did_you_mean(theirs, header)}",
            )
    missing = [c for c in expected if c not in out]
    if missing:
        extra = [str(c) for c in header if c not in out.values()]
        hints = "".join(f"; column {c!r}: {h[2:]}" for c in extra if (h := did_you_mean(c, missing)))
        raise DataError(
            path,
            None,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"expected {', '.join(expected)} (found {', '.join(header)}; "
            "map other names with --columns OURS=THEIRS)" + hints,
        )
    return out


NS_2000, NS_2100 = 946_684_800 * 10**9, 4_102_444_800 * 10**9  # 2000-01-01 and 2100-01-01, ns since the epoch
EPOCH_UNITS = (("ms", 10**6), ("µs", 10**3))  # (unit, ns per unit)
_UNIT_NAMES = {"s": "s", "ms": "ms", "us": "µs", "ns": "ns", "auto": "auto"}


def check_epoch_unit(
    ts: np.ndarray,
    bad: np.ndarray,
    is_int: np.ndarray,
    path: Path,
    column: str = "timestamp",
    line_of: np.ndarray | None = None,
) -> None:
    """Refuse integer timestamps that are ms or µs since the epoch, not ns.

    Read as ns they fall in January–February 1970 and every duration comes out 10³
    or 10⁶ times too short. The test is on the first good row written as an integer:
    it is refused when, read in ms (or µs), it lands in 2000–2100. Small ns values
    (synthetic data counting from 0) pass, and so do seconds (1e9 ns is 1 s after the
    epoch as well as 2001 in seconds: ambiguous). ``is_int``: the rows written as integers;
    ``line_of``: the rows' numbers in the file (default 1, 2, …). The error names the column and the likely unit.
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
                int(line_of[i]) if line_of is not None else i + 1,
                f"column {column} = {v} is {as_ns}Z read as ns since the epoch, "
                f"but {as_unit}Z read as {unit}: the file looks like {unit}; "
                f"write integer ns (× {scale:,}) or ISO-8601 text, or pass --time-unit {'us' if unit == 'µs' else unit}",
                row=True,
            )


def _magnitude_unit(s: pd.Series) -> tuple[str | None, object, int]:
    """(the unit s, ms, us or ns in which the first non-empty cell of ``s`` is a date in 2000–2100, or None;
    that cell; its row in ``s``). Datetimes and text that is not a number: ("", cell, row)."""
    import pandas as pd

    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        return "", None, 0
    vals = s.dropna()
    if not len(vals):
        return "", None, 0
    x = vals.iloc[0]
    try:
        v = float(str(x).strip())
    except ValueError:
        return "", x, 0  # text: ISO-8601
    row = int(np.flatnonzero(s.notna().to_numpy())[0])
    for unit in ("s", "ms", "us", "ns"):
        if NS_2000 <= v * TIME_UNITS[unit] < NS_2100:
            return unit, x, row
    return None, x, row


def _unit_of(s: pd.Series, declared: str, path: Path, column: str, line_of: np.ndarray) -> str:
    """The unit the timestamps are read in: ``declared``, or (``auto``) the one their magnitude says; a declared
    s, ms or µs that the magnitude contradicts is refused, naming the column and the likely unit."""
    found, x, row = _magnitude_unit(s)
    if found == "":  # datetimes or ISO-8601 text: their unit is their own
        return "ns" if declared == "auto" else declared
    if declared == "auto":
        if found is None:
            raise DataError(
                path,
                int(line_of[row]),
                f"column {column} = {x}: not a date in 2000–2100 read as s, ms, µs or ns since the epoch, "
                "so its unit cannot be detected; pass --time-unit (time_unit= in Python)",
                row=True,
            )
        return found
    if declared != "ns" and found is not None and found != declared:
        v = Decimal(str(x).strip())
        ns = int(v * TIME_UNITS[declared])
        as_given = np.datetime_as_string(np.datetime64(ns, "ns"), unit="s") + "Z" if abs(ns) < 9e18 else "past 2262"
        as_found = np.datetime_as_string(np.datetime64(int(v * TIME_UNITS[found]), "ns"), unit="ms")
        raise DataError(
            path,
            int(line_of[row]),
            f"column {column} = {x} is {as_given} read as {_UNIT_NAMES[declared]} since the epoch, "
            f"but {as_found}Z read as {_UNIT_NAMES[found]}: the file looks like {_UNIT_NAMES[found]}; "
            f"pass --time-unit {found} (time_unit= in Python)",
            row=True,
        )
    return declared


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
    """:func:`_numeric` of ``df[column]`` with the Parquet NaN mask of :func:`_chunks`."""
    return _numeric(df[column], df.attrs.get("nan", {}).get(column))


class _FloatTimestamps(Exception):
    pass


_I64_MAX = np.iinfo(np.int64).max


def _timestamps(s: pd.Series, scale: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 ns since epoch UTC, bad mask, written-as-a-number mask) from numbers in units of ``scale`` ns,
    datetimes or ISO-8601 text. In ns only integers are numbers (float64 cannot hold epoch ns exactly); in
    s, ms or µs decimal text is read exactly (digits past the ns dropped) and Parquet floats are rounded."""
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
        v = s.to_numpy(np.int64, na_value=0)
        over = ~na & (np.abs(v) > _I64_MAX // scale)
        out[~na & ~over] = v[~na & ~over] * scale
        return out, na | over, ~na & ~over
    if pd.api.types.is_numeric_dtype(s.dtype):
        if scale == 1:  # float64 cannot hold epoch nanoseconds exactly
            raise _FloatTimestamps
        v = s.to_numpy(np.float64, na_value=np.nan)
        bad = ~(np.abs(v * scale) < 9.2e18)
        whole = np.floor(np.where(bad, 0.0, v))  # whole units, then the fraction (exact: v − floor v) in ns
        out[~bad] = whole[~bad].astype(np.int64) * scale + np.rint((v - whole)[~bad] * scale).astype(np.int64)
        return out, bad, ~bad
    text = s.astype(str).str.strip().where(s.notna(), "")
    digits = len(str(scale)) - 1
    pattern = r"[+-]?\d{1,19}" if scale == 1 else r"[+-]?\d{1,19}(?:\.\d*)?"
    is_int = text.str.fullmatch(pattern).to_numpy(dtype=bool, na_value=False)
    bad = np.zeros(n, bool)
    if is_int.any():
        parts = text[is_int].str.partition(".")
        whole, frac = parts[0], parts[2]
        try:
            w = whole.astype(np.int64).to_numpy()
            ok = np.abs(w) <= _I64_MAX // scale - 1
        except (OverflowError, ValueError):  # > int64: find the rows one by one
            wl = [int(x) for x in whole]
            ok = np.array([abs(v) <= _I64_MAX // scale - 1 for v in wl])
            w = np.array([v if k else 0 for v, k in zip(wl, ok)], np.int64)
        ns = np.where(ok, w, 0) * scale
        if digits:
            f = frac.str.slice(0, digits).str.pad(digits, side="right", fillchar="0").astype(np.int64).to_numpy()
            ns = ns + np.where(whole.str.startswith("-").to_numpy(), -f, f)
        out[is_int] = ns
        bad[np.flatnonzero(is_int)[~ok]] = True
    other = ~is_int
    if other.any():
        parsed = pd.to_datetime(text[other], utc=True, format="ISO8601", errors="coerce")
        idx = pd.DatetimeIndex(parsed)
        nat = np.asarray(idx.isna())
        ns_o = np.zeros(len(idx), np.int64)
        ns_o[~nat] = idx[~nat].as_unit("ns").asi8
        out[other] = ns_o
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


class _Reader:
    """One generic file read chunk by chunk: its columns renamed to ours, its timestamps in ns
    (``unit``: declared, or detected from the first chunk), the order check carried across chunks."""

    def __init__(
        self,
        path: Path,
        expected: Sequence[str],
        columns: dict[str, str],
        unit: str,
        rows: int,
        problems: Problems,
    ):
        self.path = path
        header = _header(path)
        self.names = _resolve(path, header, expected, columns)  # ours -> theirs
        self.rename = {theirs: ours for ours, theirs in self.names.items()}
        self.unit, self.rows, self.problems = unit, rows, problems
        self.row0 = 0  # data rows before the current chunk (malformed ones included)
        self.line_of = np.zeros(0, np.int64)  # the current chunk's data rows (1-based)
        self.carry = _INT_MIN  # max timestamp kept so far (ns)
        self.unit_checked = False
        self.kept = 0

    def frames(self) -> Iterator[pd.DataFrame]:
        malformed: list[tuple[int, int, int]] = []
        seen = 0
        for df in _chunks(self.path, self.rename, self.rows, malformed):
            skipped = {r for r, _, _ in malformed[seen:]}
            for r, want, got in malformed[seen:]:
                self.problems.report(
                    self.path, r, "wrong number of columns", f"expected {want}, got {got}", row=True
                )  # fail: raises; skip: counted
            seen = len(malformed)
            cand = np.arange(self.row0 + 1, self.row0 + len(df) + len(skipped) + 1)
            self.line_of = cand[~np.isin(cand, list(skipped))][: len(df)] if skipped else cand
            df.index = np.arange(len(df))
            yield df
            self.row0 += len(df) + len(skipped)
        for r, want, got in malformed[seen:]:  # after the last block
            self.problems.report(self.path, r, "wrong number of columns", f"expected {want}, got {got}", row=True)
            self.row0 += 1

    def timestamps(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        column = self.names["timestamp"]
        if not self.unit_checked and self.unit != "ns":
            self.unit = _unit_of(df["timestamp"], self.unit, self.path, column, self.line_of)
            self.unit_checked = True
        try:
            ts, bad, is_int = _timestamps(df["timestamp"], TIME_UNITS[self.unit])
        except _FloatTimestamps:
            raise DataError(
                self.path,
                None,
                f"column {column} is floating point; expected integer ns since the epoch or ISO-8601 text "
                "(float64 cannot hold epoch ns exactly), or declare its unit with --time-unit s|ms|us",
            ) from None
        if not self.unit_checked and (is_int & ~bad).any():
            check_epoch_unit(ts, bad, is_int, self.path, column, self.line_of)
            self.unit_checked = True
        return ts, bad

    def screen(self, problems: Problems, checks: list[Check], ts: np.ndarray, tolerance_ns: int) -> np.ndarray:
        keep = screen(
            problems, self.path, self.line_of, checks, [ts_order(ts, tolerance_ns)], row=True, start=[self.carry]
        )
        if keep.any():
            self.carry = max(self.carry, int(ts[keep].max()))
        self.kept += int(keep.sum())
        return keep

    def done(self, problems: Problems, before: dict[str, int], allow_empty: bool) -> None:
        """Refuse a file without data rows (unless ``allow_empty``) or all of whose rows were skipped."""
        if self.row0 == 0 and not allow_empty:
            raise DataError(self.path, None, "no data rows (a header only?): nothing to load")
        if self.row0 and not self.kept:
            why = ", ".join(f"{n - before.get(r, 0)} {r}" for r, n in problems.counts.items() if n > before.get(r, 0))
            raise DataError(self.path, None, f"no usable rows: all {self.row0} rows were skipped ({why})")


def _gather(parts: list[dict[str, np.ndarray]], names: Sequence[str], dtypes: Sequence) -> dict[str, np.ndarray]:
    out = {k: np.concatenate([p.pop(k) for p in parts]) if parts else np.zeros(0, dt) for k, dt in zip(names, dtypes)}
    out["ts"] = np.maximum.accumulate(out["ts"]) if len(out["ts"]) else out["ts"]
    return out


def _load_quotes(
    path: Path, problems: Problems, tolerance_ns: int, columns: dict[str, str], unit: str, rows: int
) -> dict[str, np.ndarray]:
    r = _Reader(path, QUOTE_COLUMNS, columns, unit, rows, problems)
    before = dict(problems.counts)
    parts = []
    for df in r.frames():
        ts, ts_bad = r.timestamps(df)
        num = {c: _numbers(df, c) for c in ("bid", "ask", "bid_size", "ask_size")}
        nan = df.attrs.get("nan", {})
        code, code_bad = _codes(df)
        bid, ask = num["bid"][0], num["ask"][0]
        bsz, asz = np.nan_to_num(num["bid_size"][0]), np.nan_to_num(num["ask_size"][0])
        name = r.names
        checks: list[Check] = [("bad timestamp", ts_bad, _value_detail(df["timestamp"], name["timestamp"]))]
        checks += [("non-numeric value", num[c][1], _number_detail(df[c], name[c], nan.get(c))) for c in num]
        if "code" in df.columns:
            checks.append(("bad code", code_bad, _value_detail(df["code"], name["code"])))
        checks += [
            ("negative size", (bsz < 0) | (asz < 0), lambda i, b=bsz, a=asz: f"bid_size {b[i]:g}, ask_size {a[i]:g}"),
            (
                "non-positive price",
                (bid <= 0) | (ask <= 0),
                lambda i, b=bid, a=ask: (
                    f"bid {b[i]:g}, ask {a[i]:g}: prices must be > 0 (an empty cell is an empty side)"
                ),
            ),
            ("crossed book", bid >= ask, lambda i, b=bid, a=ask: f"bid {b[i]:g} >= ask {a[i]:g}"),
        ]
        keep = r.screen(problems, checks, ts, tolerance_ns)
        parts.append(
            {
                "ts": ts[keep],
                "bid_px": bid[keep],
                "ask_px": ask[keep],
                "bid_sz": bsz[keep],
                "ask_sz": asz[keep],
                "code": code[keep],
            }
        )
    r.done(problems, before, allow_empty=False)
    f8 = np.float64
    return _gather(parts, ("ts", "bid_px", "ask_px", "bid_sz", "ask_sz", "code"), (np.int64, f8, f8, f8, f8, np.int16))


def _load_trades(
    path: Path, problems: Problems, tolerance_ns: int, columns: dict[str, str], unit: str, rows: int
) -> dict[str, np.ndarray]:
    r = _Reader(path, TRADE_COLUMNS, columns, unit, rows, problems)
    before = dict(problems.counts)
    parts = []
    for df in r.frames():
        ts, ts_bad = r.timestamps(df)
        nan = df.attrs.get("nan", {})
        px, px_bad = _numbers(df, "price")
        qty, qty_bad = _numbers(df, "quantity")
        side, side_bad = _sides(df["side"])
        code, code_bad = _codes(df)
        name = r.names
        checks: list[Check] = [
            ("bad timestamp", ts_bad, _value_detail(df["timestamp"], name["timestamp"])),
            (
                "non-numeric value",
                px_bad | np.isnan(px),
                _number_detail(df["price"], name["price"], nan.get("price")),
            ),
            (
                "non-numeric value",
                qty_bad | np.isnan(qty),
                _number_detail(df["quantity"], name["quantity"], nan.get("quantity")),
            ),
            (
                "unknown side",
                side_bad,
                lambda i, s=df["side"]: f"side = {s.iloc[i]!r}; expected one of {', '.join(BUY_SIDES + SELL_SIDES)}",
            ),
            ("non-positive price", px <= 0, lambda i, p=px: f"price {p[i]:g}: prices must be > 0"),
            ("non-positive trade quantity", qty <= 0, lambda i, q=qty: f"quantity {q[i]:g}"),
        ]
        if "code" in df.columns:
            checks.append(("bad code", code_bad, _value_detail(df["code"], name["code"])))
        keep = r.screen(problems, checks, ts, tolerance_ns)
        parts.append({"ts": ts[keep], "px": px[keep], "qty": qty[keep], "side": side[keep], "code": code[keep]})
    r.done(problems, before, allow_empty=True)  # a trades file with a header only: no trades
    return _gather(parts, ("ts", "px", "qty", "side", "code"), (np.int64, np.float64, np.float64, np.int8, np.int16))


def load_generic(
    quotes: str | os.PathLike,
    trades: str | os.PathLike | None = None,
    *,
    on_error: str = "fail",
    instrument: str | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    tolerance_ns: int = 0,
    columns: str | Mapping[str, str] | None = None,
    time_unit: str = "ns",
    chunk_rows: int = CHUNK_ROWS,
) -> EventTable:
    """Load a quotes file (and optionally a trades file), CSV or Parquet, into an :class:`EventTable`.

    Columns and conventions: see the module docstring. ``instrument`` defaults to
    the quotes file's stem; ``tick_size`` / ``lot_size`` default to
    :func:`~flatbook.data.events.infer_tick` over the bid and ask prices (trade prices
    too only if the quotes hold fewer than two distinct prices) / over all positive
    sizes and quantities. Errors name the file and the 1-based data row.

    ``columns``: our column names → the file's (:func:`parse_columns`, e.g.
    ``"ts=time,bid=best_bid"``), for both files. ``time_unit``: the unit of numeric
    timestamps, ``ns`` (default), ``us``, ``ms``, ``s`` or ``auto`` (the unit in which
    the first one is a date in 2000–2100); a magnitude that says another unit is
    refused, naming the column and the likely unit (:func:`check_epoch_unit`).
    The files are read ``chunk_rows`` rows at a time (memory: one chunk's text plus
    the numeric columns).
    """
    problems = Problems(on_error)
    mapping = parse_columns(columns)
    unit = check_time_unit(time_unit)
    if not (isinstance(chunk_rows, int) and chunk_rows > 0):
        raise InputError("chunk_rows", f"got {chunk_rows!r}; allowed: a positive integer (rows)")
    qpath = check_file(quotes)
    tpath = None if trades is None else check_file(trades)
    q = _load_quotes(qpath, problems, int(tolerance_ns), mapping, unit, chunk_rows)
    t: dict[str, np.ndarray] = (
        _load_trades(tpath, problems, int(tolerance_ns), mapping, unit, chunk_rows)
        if tpath is not None
        else {
            "ts": np.zeros(0, np.int64),
            "px": np.zeros(0),
            "qty": np.zeros(0),
            "side": np.zeros(0, np.int8),
            "code": np.zeros(0, np.int16),
        }
    )
    # The tick is the quoting grid: infer it from quotes; trades may print between ticks
    # (e.g. NASDAQ midpoint executions at half cents), so they count only without quotes.
    # (Before the table is built, so that the peak memory holds the inputs or the table, not both.)
    if tick_size is None:
        prices = np.concatenate([q["bid_px"], q["ask_px"]])
        tick = infer_tick(prices)
        if not np.isfinite(tick):
            tick = infer_tick(np.concatenate([prices, t["px"]]))
        del prices
    if lot_size is None:
        sizes = np.concatenate([q["bid_sz"], q["ask_sz"], t["qty"]])
        lot = infer_tick(sizes[sizes > 0])
        del sizes
    meta = EventMeta(
        instrument=instrument or qpath.stem,
        source="generic",
        tick_size=float(tick_size) if tick_size is not None else tick,
        lot_size=float(lot_size) if lot_size is not None else lot,
        files=tuple(str(p) for p in (qpath, tpath) if p is not None),
        skipped=dict(problems.counts),
    )
    nq, nt = len(q["ts"]), len(t["ts"])
    ts = np.concatenate([q.pop("ts"), t.pop("ts")])
    kind = np.concatenate([np.full(nq, QUOTE, np.int8), np.full(nt, TRADE, np.int8)])
    order = np.lexsort((np.arange(nq + nt), kind, ts))  # by ts, quotes first, then file order
    # one column at a time, each input freed once used: the peak is the table plus a column or two
    cols: dict[str, np.ndarray] = {"ts": ts[order], "kind": kind[order]}
    del ts, kind
    cols["code"] = np.concatenate([q.pop("code"), t.pop("code")])[order]
    for c in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
        a = np.full(nq + nt, np.nan)
        a[:nq] = q.pop(c)
        cols[c] = a[order]
    for c, fill, dtype in (("px", np.nan, np.float64), ("qty", 0.0, np.float64), ("side", 0, np.int8)):
        a = np.full(nq + nt, fill, dtype)
        a[nq:] = t.pop(c)
        cols[c] = a[order]
    del a, order
    _carry_book(cols)
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
