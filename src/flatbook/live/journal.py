"""The write-ahead journal: every order event and fill, in SQLite, before the engine acts.

One SQLite file in WAL mode, one connection, autocommit: each ``record_*`` call
is a committed transaction when it returns (``synchronous=NORMAL``: a commit is
in the WAL before the call returns, so it survives the process being killed;
``synchronous="full"`` also fsyncs each commit, which survives power loss, at
about 0.2 ms a commit on this project's CI machine). ``locking_mode=EXCLUSIVE``:
the engine is the journal's only writer and reader while it runs (this halves a
commit's cost: no shared-memory lock round trips). Python's own ``sqlite3``
module is used directly: it is the standard library's binding, and an ORM would
only add latency to the hot path.

Tables: ``meta`` (session id), ``orders`` (each request, keyed by its number n in the
session, client id ``<session>-<n>``: idempotent), ``order_events`` (venue reports), ``fills`` (keyed by fill id:
a duplicate is ignored and counted), ``rejects`` (pre-trade rejections),
``snapshots`` (engine + paper-venue state with the feed cursor: see
:mod:`flatbook.live.recovery`).

Faults: every SQLite or OS error, on opening or on a write, becomes a
:class:`JournalError` (an :class:`~flatbook.errors.InputError` on ``journal.path``:
the CLI prints one line and exits 2) that names the journal and what to do:
a directory, a file that is not SQLite, a read-only file or folder, a journal
held by another engine (refused when it opens: the engine's exclusive lock, no
waiting), a damaged (e.g. truncated) file (``PRAGMA quick_check`` on opening),
a full disk.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
import uuid
from pathlib import Path

import orjson

from ..errors import InputError
from .types import Fill, OrderRequest, OrderUpdate

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (n INTEGER PRIMARY KEY, client_id TEXT NOT NULL, side INTEGER NOT NULL,
    price REAL NOT NULL, size REAL NOT NULL, ts INTEGER NOT NULL, taker INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_events (id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, status TEXT NOT NULL,
    remaining REAL NOT NULL, ts INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (id INTEGER PRIMARY KEY, fill_id TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
    side INTEGER NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, fee REAL NOT NULL, ts INTEGER NOT NULL,
    seq INTEGER NOT NULL, liquidity TEXT NOT NULL, mid REAL);
CREATE TABLE IF NOT EXISTS rejects (id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, side INTEGER NOT NULL,
    price REAL NOT NULL, size REAL NOT NULL, ts INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY, cursor INTEGER NOT NULL, fill_rowid INTEGER NOT NULL,
    wall REAL NOT NULL, state BLOB NOT NULL);
"""
SYNC_MODES = ("normal", "full")
FIELD = "journal.path"


class JournalError(InputError):
    """A journal fault: one line naming the journal, what is wrong and what to do (field ``journal.path``).
    ``full``: the disk (or the database's page limit) is full; a restart after freeing space resumes."""

    def __init__(self, message: str, full: bool = False):
        super().__init__(FIELD, message)
        self.message = message
        self.full = full


def journal_fault(path: Path, e: BaseException) -> JournalError:
    """The :class:`JournalError` for SQLite/OS error ``e`` on the journal at ``path``."""
    name = getattr(e, "sqlite_errorname", "") or ""
    text = str(e)
    eno = getattr(e, "errno", None)
    if name == "SQLITE_FULL" or eno == errno.ENOSPC or "disk is full" in text:
        return JournalError(
            f"{path}: the disk is full ({text}): free space, then restart: the session resumes from its last snapshot",
            full=True,
        )
    if path.is_dir():
        return JournalError(
            f"{path} is a directory: set [journal] path to a file inside it (e.g. {path / 'journal.sqlite'})"
        )
    if name == "SQLITE_BUSY" or "locked" in text:
        return JournalError(
            f"{path} is in use by another process (a second flatbook live on the same journal?): "
            "stop that one, or give this one its own [journal] path"
        )
    if name == "SQLITE_NOTADB":
        return JournalError(f"{path} is not a SQLite journal: move it aside, or set [journal] path to another file")
    if name == "SQLITE_CORRUPT" or "malformed" in text:
        return JournalError(
            f"{path} is damaged (truncated or corrupt: {text}): restore it from a backup, or move "
            "it aside to start a new session"
        )
    where = path if path.exists() else path.parent
    if (
        name in ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")
        or eno in (errno.EACCES, errno.EPERM, errno.EROFS)
        or "readonly" in text
        or "read-only" in text
        or "unable to open" in text
        or not os.access(where, os.W_OK)
    ):
        return JournalError(
            f"{path}: cannot write it ({text}): make {where} writable, or set [journal] path to a writable place"
        )
    return JournalError(
        f"{path}: journal error ({text}): check the file and its disk, or set [journal] path to another file"
    )


class Journal:
    """The engine's SQLite journal (one per engine; not thread-safe by design)."""

    def __init__(self, path: str | Path, synchronous: str = "normal"):
        self.path = Path(path)
        self.db: sqlite3.Connection  # set by the open below; a failed open raises
        self.errors = 0  # failed writes (the soak run reports it)
        self.last_commit_s = 0.0  # duration of the last commit: the journal lag
        self.commits = 0
        self.checkpoint_s = 0.0
        existed = self.path.exists()
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # timeout 0: a journal locked by another engine is refused at once, not after a wait
            self.db = db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0.0)
            self.db.execute("PRAGMA page_size=1024")  # small pages: a commit writes less (new files only)
            self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise JournalError(
                    f"{self.path}: SQLite refused WAL mode (got {mode}): put the journal on a local disk"
                )
            self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            # checkpoints run from checkpoint(), between events, not inside a commit on the hot path
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            if existed:  # a damaged (e.g. truncated) journal is refused before anything trusts it
                bad = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if bad != "ok":
                    raise sqlite3.DatabaseError(f"database disk image is malformed ({bad})")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='session'").fetchone()
            self.fresh = row is None
            if row is None:
                self.session = uuid.uuid4().hex[:12]
                self.db.execute("INSERT INTO meta VALUES ('session', ?)", (self.session,))
            else:
                self.session = row[0]
        except (sqlite3.Error, OSError) as e:
            self._abandon(db)
            raise journal_fault(self.path, e) from None
        except JournalError:
            self._abandon(db)
            raise
        self._ins_orders: dict[int, str] = {}
        self._ins_event = "INSERT INTO order_events (client_id,status,remaining,ts,reason) VALUES (?,?,?,?,?)"
        self._ins_fill = (
            "INSERT OR IGNORE INTO fills (fill_id,client_id,side,price,qty,fee,ts,seq,liquidity,mid) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)"
        )

    @staticmethod
    def _abandon(db: sqlite3.Connection | None) -> None:
        """Close ``db`` (if it was opened) after a failed open (the files stay: they may be someone else's)."""
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def _fault(self, e: BaseException) -> JournalError:
        self.errors += 1
        return journal_fault(self.path, e)

    # ---- writes: each returns once committed (a failure raises JournalError; nothing of it is kept)
    def _write1(self, sql: str, args) -> int:
        """One statement, autocommitted (the hot path: a request batch is one statement)."""
        t = time.perf_counter()
        try:
            n = self.db.execute(sql, args).rowcount
        except (sqlite3.Error, OSError) as e:
            raise self._fault(e) from None
        self.last_commit_s = time.perf_counter() - t
        self.commits += 1
        return n

    def _write(self, sql: str, rows: list, each: bool = False) -> list[int]:
        """``sql`` for each of ``rows`` in one committed transaction; the row counts (per row when ``each``)."""
        if len(rows) == 1:
            return [self._write1(sql, rows[0])]
        t = time.perf_counter()
        try:
            self.db.execute("BEGIN")
            out = (
                [self.db.execute(sql, r).rowcount for r in rows] if each else [self.db.executemany(sql, rows).rowcount]
            )
            self.db.execute("COMMIT")
        except (sqlite3.Error, OSError) as e:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise self._fault(e) from None
        self.last_commit_s = time.perf_counter() - t
        self.commits += 1
        return out

    def record_orders(self, reqs: list[OrderRequest], first_n: int) -> None:
        """Journal requests numbered first_n, first_n + 1, … before they are handed to the venue (one
        statement, one commit; idempotent on the order number)."""
        args: list[object] = []
        for j, r in enumerate(reqs):
            args += (first_n + j, r.client_id, r.side, r.price, r.size, r.ts, r.taker)
        sql = self._ins_orders.get(len(reqs))
        if sql is None:
            sql = self._ins_orders[len(reqs)] = "INSERT OR IGNORE INTO orders VALUES " + ",".join(
                ["(?,?,?,?,?,?,?)"] * len(reqs)
            )
        self._write1(sql, args)

    def record_update(self, u: OrderUpdate) -> None:
        self._write(self._ins_event, [(u.client_id, u.status, u.remaining, u.ts, u.reason)])

    def record_fills(self, fills: list[Fill], mids: list[float | None]) -> list[bool]:
        """Journal fills; returns, per fill, whether it is new (False: the id was already journaled).
        ``mids``: the mid at each fill, None when unknown (stored as NULL)."""
        rows = [
            (f.fill_id, f.client_id, f.side, f.price, f.qty, f.fee, f.ts, f.seq, f.liquidity, m)
            for f, m in zip(fills, mids)
        ]
        return [n == 1 for n in self._write(self._ins_fill, rows, each=True)]

    def record_reject(self, req: OrderRequest, reason: str) -> None:
        self._write(
            "INSERT INTO rejects (client_id,side,price,size,ts,reason) VALUES (?,?,?,?,?,?)",
            [(req.client_id, req.side, req.price, req.size, req.ts, reason)],
        )

    def snapshot(self, cursor: int, state: dict) -> None:
        """Store the engine's (and paper venue's) state as of feed position ``cursor``."""
        rowid = self._exec("SELECT COALESCE(MAX(id), 0) FROM fills")[0][0]
        self._write(
            "INSERT INTO snapshots (cursor, fill_rowid, wall, state) VALUES (?,?,?,?)",
            [(cursor, rowid, time.time(), orjson.dumps(state, option=orjson.OPT_SERIALIZE_NUMPY))],
        )
        # keep the table small: only the newest snapshot is ever read
        self._exec("DELETE FROM snapshots WHERE id < (SELECT MAX(id) FROM snapshots)")
        self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never waits); called with each snapshot."""
        t = time.perf_counter()
        try:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, OSError) as e:
            raise self._fault(e) from None
        self.checkpoint_s = time.perf_counter() - t

    def _exec(self, sql: str, args=()) -> list[tuple]:
        """One statement outside the write accounting (reads, housekeeping); its rows."""
        try:
            return self.db.execute(sql, args).fetchall()
        except (sqlite3.Error, OSError) as e:
            raise self._fault(e) from None

    # ---- reads (start-up)
    def last_snapshot(self) -> tuple[int, int, dict] | None:
        rows = self._exec("SELECT cursor, fill_rowid, state FROM snapshots ORDER BY id DESC LIMIT 1")
        return None if not rows else (rows[0][0], rows[0][1], orjson.loads(rows[0][2]))

    def fills_after(self, rowid: int) -> list[tuple]:
        """Fills journaled after row ``rowid``: (rowid, Fill, mid at the fill)."""
        out = []
        for r in self._exec(
            "SELECT id,fill_id,client_id,side,price,qty,fee,ts,seq,liquidity,mid FROM fills WHERE id > ? ORDER BY id",
            (rowid,),
        ):
            out.append((r[0], Fill(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]), r[10]))
        return out

    def fill_count(self) -> int:
        return self._exec("SELECT COUNT(*) FROM fills")[0][0]

    def last_fill_ts(self) -> int:
        """Exchange time (ns) of the latest journaled fill; 0 when none."""
        return self._exec("SELECT COALESCE(MAX(ts), 0) FROM fills")[0][0]

    def next_order_n(self) -> int:
        """The next order number of this session (client ids are never reused)."""
        return self._exec("SELECT COALESCE(MAX(n), -1) + 1 FROM orders")[0][0]

    def discard_if_fresh(self) -> None:
        """Close, and delete the files if this journal was created by this process and holds nothing."""
        empty = all(
            self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0
            for t in ("orders", "order_events", "fills", "rejects", "snapshots")
        )
        self.db.close()
        if self.fresh and empty:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        """Checkpoint and close; after a fault only close (what was committed is in the WAL)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, OSError):
            pass
        finally:
            self.db.close()
