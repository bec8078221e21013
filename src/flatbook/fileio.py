"""Writing files so that a reader never sees half of one: the project's one atomic writer.

:func:`atomic_file` writes into a fresh temporary file beside the target (same directory,
so the move is a rename on one file system), flushes and fsyncs it, and moves it into
place with ``os.replace`` only when the write has finished (a failure or Ctrl-C leaves the
target as it was and removes the temporary file); :func:`write_text_atomic` is the same for
a string. :func:`publish_files` moves a finished set of files from a temporary directory
into place. Every ``os.replace`` of the package is in this module.
:func:`make_parents` creates missing directories and records them, so that
:func:`remove_dirs` can take them away again when the write fails.
:func:`sigint_deferred` holds Ctrl-C back while files are published.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: glob of the temporary files :func:`atomic_file` leaves behind only if the process is killed
TMP_GLOB = ".*.tmp"


@contextmanager
def atomic_file(target: str | os.PathLike, *, hold_sigint: bool = False) -> Iterator[BinaryIO]:
    """A binary file handle whose contents replace ``target`` atomically on success.

    The temporary file is opened with O_EXCL (never clobbering anything) and mode 0o666
    filtered by the umask, like a normal file; it is flushed and fsynced before the rename.
    ``hold_sigint``: Ctrl-C during the rename is held back, then raised once the file is in place.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if hold_sigint:
            with sigint_deferred() as pending:
                os.replace(tmp, target)
            if pending:
                raise KeyboardInterrupt
        else:
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: str | os.PathLike, text: str, *, hold_sigint: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``target`` with :func:`atomic_file`; returns the path."""
    with atomic_file(target, hold_sigint=hold_sigint) as fh:
        fh.write(text.encode("utf-8"))
    return Path(target)


def publish_files(tmp: str | os.PathLike, out: str | os.PathLike, names: list[str]) -> None:
    """Move the finished files ``names`` of the temporary directory ``tmp`` into ``out``.

    Each file is fsynced first. When ``out`` does not exist yet this is one directory rename (one
    atomic step); otherwise one ``os.replace`` per file, and ``tmp`` is removed. ``tmp`` and ``out``
    must be on one file system (make ``tmp`` a sibling of ``out``). Hold Ctrl-C back around it
    (:func:`sigint_deferred`) for all-or-nothing.
    """
    tmp, out = Path(tmp), Path(out)
    for name in names:
        with open(tmp / name, "rb") as fh:
            os.fsync(fh.fileno())
    if not out.exists():
        try:
            os.rename(tmp, out)  # one atomic step
            return
        except OSError:
            if not out.is_dir():  # e.g. created concurrently as a file
                raise
    for name in names:
        os.replace(tmp / name, out / name)
    os.rmdir(tmp)


def make_parents(p: str | os.PathLike, created: list[Path]) -> None:
    """Create ``p`` and its missing ancestors, appending each new directory to ``created``."""
    p = Path(p)
    missing = []
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        os.mkdir(d)
        created.append(d)


def remove_dirs(created: list[Path]) -> None:
    """Remove the directories :func:`make_parents` created (innermost first), if still empty."""
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            pass


@contextmanager
def sigint_deferred() -> Iterator[list]:
    """Hold back Ctrl-C for the duration; the yielded list is non-empty if one arrived."""
    pending: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    old = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, old)
