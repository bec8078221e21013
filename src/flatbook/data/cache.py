"""A cache of parsed market data: a file is parsed once, later loads read Parquet.

Parsing a text capture (a Binance gzip of JSON lines, a LOBSTER zip of CSV) costs
far more than reading the same events back from flatbook's columnar Parquet. The
cache keys each parse on the file's absolute path, size and modification time,
the format, the loader options and flatbook's version, so an edited file or a new
loader is parsed again. Location: ``$FLATBOOK_CACHE_DIR``, else
``$XDG_CACHE_HOME/flatbook/events``, else ``~/.cache/flatbook/events``. A cache
that cannot be written (read-only home) is skipped silently; a damaged entry is
parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .._version import __version__
from .events import DataError, EventTable

#: Bump when a loader's rules change (what it refuses or how it reads a file), so that a parse made by
#: the old rules is not served again: 2 = the generic loader refuses ms/µs timestamps, nan and
#: non-positive prices and header-only files, and every loader records the contract (linear or
#: inverse) and the streams it used or ignored (issue 13); 3 = Binance tables carry ``local_ts`` and
#: ``meta.book``, and their streams say what ``--book depth`` would use (issue 15); 4 = LOBSTER rows carry
#: ``entry_ts`` and the order rows their price, size and side; 5 = the Binance depth stream's notes.
CACHE_VERSION = 5


def cache_dir() -> Path:
    env = os.environ.get("FLATBOOK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flatbook" / "events"


def _stat(p: Path | None) -> list:
    if p is None:
        return [None]
    st = p.stat()
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def cache_key(path: Path, trades: Path | None, fmt: str, on_error: str, kw: dict) -> str:
    raw = json.dumps(
        [
            CACHE_VERSION,
            __version__,
            _stat(path),
            _stat(trades),
            fmt,
            on_error,
            sorted((k, repr(v)) for k, v in kw.items()),
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def cached(key: str, parse: Callable[[], EventTable], files: tuple[str, ...] | None = None) -> EventTable:
    """The cached table for ``key``, or ``parse()`` stored under it. ``files``: the paths as given this time,
    recorded in a cached table's metadata in place of those of the parse that filled the cache (the key is the
    resolved path: ``data/x.gz`` and ``/abs/data/x.gz`` share an entry, but each run reports its own)."""
    entry = cache_dir() / f"{key}.parquet"
    if entry.is_file():
        try:
            ev = EventTable.from_parquet(entry)
            return ev if files is None else replace(ev, meta=replace(ev.meta, files=files))
        except (DataError, OSError, ValueError, KeyError):
            pass  # damaged or stale layout: parse again
    ev = parse()
    try:
        ev.to_parquet(entry)
    except OSError:
        pass
    return ev
