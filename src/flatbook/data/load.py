"""One entry point for every market-data format: :func:`load` and :func:`convert`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..suggest import unknown
from .binance import load_binance
from .cache import cache_key, cached
from .events import QUOTE, TRADE, DataError, EventTable
from .generic import PARQUET_SUFFIXES, check_file, load_generic
from .hftbacktest_npz import is_npz_events, load_npz
from .lobster import load_lobster
from .tardis import file_kind, load_tardis, resolve

FORMATS = ("auto", "lobster", "binance", "generic", "events", "hftbacktest", "tardis")
#: loader options only the generic format takes
GENERIC_ONLY = ("columns", "time_unit")


def _is_event_file(path: Path) -> bool:
    """True if ``path`` is Parquet written by :meth:`EventTable.to_parquet` (has ``flatbook`` metadata)."""
    import pyarrow.parquet as pq

    try:
        md = pq.read_schema(path).metadata or {}
    except (OSError, ValueError) as exc:
        raise DataError(path, None, f"not a readable Parquet file ({exc})") from None
    return b"flatbook" in md


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path`` from its name and first bytes: ``.npz`` (or a ``.zip`` of ``.npy`` arrays) →
    hftbacktest, ``.zip`` → lobster, ``.csv``/``.csv.gz`` → tardis if its header starts with
    ``exchange,symbol,timestamp,local_timestamp`` else generic, ``.gz`` → binance, ``.parquet``/``.pq``
    → events if written by flatbook (``flatbook`` schema metadata) else generic; a directory → tardis."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        return "tardis"
    if name.endswith(".npz") or (name.endswith(".zip") and is_npz_events(p)):
        return "hftbacktest"
    if name.endswith(".zip"):
        return "lobster"
    if name.endswith((".csv", ".csv.gz")):
        return "tardis" if file_kind(p) is not None else "generic"
    if name.endswith(".gz"):
        return "binance"
    if name.endswith(PARQUET_SUFFIXES):
        return "events" if _is_event_file(p) else "generic"
    raise DataError(
        p,
        None,
        "cannot tell the format from the file name (.zip, .npz, .gz, .csv, .parquet); "
        f"pass --format (format= in Python), one of {', '.join(FORMATS[1:])}",
    )


def load(
    path: str | os.PathLike,
    *,
    fmt: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = False,
    **kw,
) -> EventTable:
    """Load market data in any supported format as an :class:`EventTable`.

    ``fmt``: ``auto`` (from the file name, :func:`detect_format`), ``lobster``
    (:func:`~flatbook.data.lobster.load_lobster`), ``binance``
    (:func:`~flatbook.data.binance.load_binance`), ``generic``
    (:func:`~flatbook.data.generic.load_generic`, ``path`` = quotes file, ``trades``
    = optional trades file; ``columns``, ``time_unit``), ``hftbacktest``
    (:func:`~flatbook.data.hftbacktest_npz.load_npz`, an ``.npz`` event file), ``tardis``
    (:func:`~flatbook.data.tardis.load_tardis`; ``path`` a Tardis CSV, a directory of them,
    or a comma-separated list) or ``events`` (a file written by
    :meth:`EventTable.to_parquet`). ``**kw`` go to the loader (e.g. ``levels``,
    ``tolerance_ns``, ``tolerance_ms``, ``instrument``, ``tick_size``).
    ``cache``: keep the parsed events in flatbook's data cache and reuse them
    while the file is unchanged (:mod:`flatbook.data.cache`).
    """
    if fmt not in FORMATS:
        raise unknown("--format", "format", fmt, FORMATS)
    kw = {k: v for k, v in kw.items() if not (k in GENERIC_ONLY and v is None)}  # not set: as before (cache key)
    if fmt in ("auto", "tardis") and several_files(path):  # a directory or a comma list of Tardis files
        if trades is not None:
            raise InputError("trades", "Tardis files are given together as DATA (a directory or a comma list)")
        _generic_only(kw, "tardis")
        return _with_streams(load_tardis(path, on_error=on_error, **kw), "Tardis CSV", None)
    p = check_file(path)
    if fmt == "auto":
        fmt = detect_format(p)
    if fmt != "generic":
        _generic_only(kw, fmt)
    if trades is not None and fmt != "generic":
        raise InputError("trades", f"a separate trades file goes only with the generic format, not {fmt}")
    if fmt == "events":
        if kw:
            raise InputError("events", f"an event file takes no loader options; got {', '.join(kw)}")
        return EventTable.from_parquet(p)
    if cache:
        tp = check_file(trades) if trades is not None else None
        given = tuple(str(x) for x in (p, tp) if x is not None)  # as a fresh parse records them
        return cached(cache_key(p, tp, fmt, on_error, kw), lambda: _parse(p, fmt, trades, on_error, kw), given)
    return _parse(p, fmt, trades, on_error, kw)


def several_files(path) -> bool:
    """Whether ``path`` names several files read as one data set: a directory, or a comma list (Tardis)."""
    p = Path(path)
    return p.is_dir() or (not p.exists() and "," in str(path))


def _generic_only(kw: dict, fmt: str) -> None:
    """Refuse the generic format's options (``--columns``, ``--time-unit``) for another format."""
    for k in GENERIC_ONLY:
        if kw.get(k) is not None:
            flag = "--" + k.replace("_", "-")
            raise InputError(flag, f"goes only with the generic format (CSV/Parquet quotes), not {fmt}")


def _parse(p: Path, fmt: str, trades, on_error: str, kw: dict) -> EventTable:
    if fmt == "hftbacktest":
        return load_npz(p, on_error=on_error, **kw)  # lists its own streams
    if fmt == "tardis":
        return load_tardis(resolve(p), on_error=on_error, **kw)  # lists its own streams
    if fmt == "lobster":
        return _with_streams(load_lobster(p, on_error=on_error, **kw), "LOBSTER message + orderbook files", None)
    if fmt == "binance":
        return load_binance(p, on_error=on_error, **kw)  # lists its own streams
    ev = load_generic(p, trades, on_error=on_error, **kw)
    if kw.get("lot_size") is None:
        ev = ev.with_meta(lot_inferred=True)
    return _with_streams(ev, f"quotes {p.name}", f"trades {Path(trades).name}" if trades is not None else None)


def _with_streams(ev: EventTable, quotes: str, trades: str | None) -> EventTable:
    """``meta.streams`` for a source whose every row is used: its quote and trade rows."""
    if ev.meta.streams:
        return ev
    nq, nt = int((ev.kind == QUOTE).sum()), int((ev.kind == TRADE).sum())
    streams: dict[str, dict[str, Any]] = {
        quotes: {"messages": nq, "used": True, "note": "quotes: the book after each event"}
    }
    if trades is not None:
        streams[trades] = {"messages": nt, "used": True, "note": "trades: price, quantity, aggressor side"}
    elif nt:
        streams[quotes]["messages"] = nq + nt
        streams[quotes]["note"] += f"; {nt:,} of its rows are trades"
    return ev.with_meta(streams=streams)


def convert(src: str | os.PathLike, dst: str | os.PathLike, **kw) -> EventTable:
    """Load ``src`` (any format, ``**kw`` as for :func:`load`) and write it to ``dst`` as
    a flatbook event Parquet file (atomically); returns the loaded table."""
    ev = load(src, **kw)
    ev.to_parquet(dst)
    return ev
