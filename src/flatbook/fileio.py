"""Writing files so that a reader never sees half of one.

:func:`atomic_file` writes into a fresh temporary file beside the target and moves it into
place with ``os.replace`` only when the write has finished (a failure or Ctrl-C leaves the
target as it was and removes the temporary file). :func:`make_parents` creates missing
directories and records them, so that :func:`remove_dirs` can take them away again when
the write fails. :func:`sigint_deferred` holds Ctrl-C back while files are published.
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


@contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file handle whose contents replace ``target`` atomically on success.

    The temporary file is opened with O_EXCL (never clobbering anything) and mode 0o666
    filtered by the umask, like a normal file; it is flushed and fsynced before the rename.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


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
