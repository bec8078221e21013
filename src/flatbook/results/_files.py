"""Writing a result's files: the ``--json`` text, an output directory (all files or none) and its checks.

:meth:`Result.save(dir) <flatbook.results._base.SavedResult.save>` and the command line's ``--out`` go
through :func:`publish_dir`: every file is first written into a fresh temporary directory next to
DIR (same parent, so the final moves are renames on one file system), then published: a single
directory rename when DIR does not exist yet, otherwise one ``os.replace`` per file
(:func:`flatbook.fileio.publish_files`). Any failure or Ctrl-C before publishing removes the
temporary directory (and any parent directories this run created), so DIR never holds a
half-written or partial set of outputs. Ctrl-C during the (very short) publishing step is deferred
until it has finished.

Start-up: standard library and core modules only (``flatbook --help`` imports the command line,
which imports this module).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..fileio import make_parents, publish_files, remove_dirs, sigint_deferred
from ..jsonutil import jsonable

__all__ = ["check_out_dir", "dumps", "publish_dir"]


def dumps(obj: object) -> str:
    """Strict JSON (no NaN/Infinity: :func:`flatbook.jsonutil.jsonable` turns them into null), indented by 2."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False)


def check_out_dir(out: str | os.PathLike, field: str = "dir") -> Path:
    """``out`` as an absolute path, checked before any work: a directory, or one that can be created there.

    Parameters
    ----------
    out : str or path
        The output directory.
    field : str, default "dir"
        The name an error gives it (the command line passes ``"--out"``).

    Raises
    ------
    flatbook.errors.InputError
        Empty, not a directory, or not writable.
    """
    if not str(out).strip():
        raise InputError(field, "empty path; give a directory")
    p = Path(os.path.abspath(os.path.expanduser(out)))
    if p.exists() and not p.is_dir():
        raise InputError(field, f"{out} exists and is not a directory")
    anc = p
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise InputError(field, f"{anc} is not a directory, so {out} cannot be created")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise InputError(field, f"{anc} is not writable")
    if p.exists() and not os.access(p.parent, os.W_OK | os.X_OK):
        raise InputError(field, f"{p.parent} is not writable (needed for the temporary directory)")
    return p


def publish_dir(out: str | os.PathLike, build: Callable[[Path], list[str]], field: str = "dir") -> list[Path]:
    """Run ``build(tmp)`` (it writes files into the fresh directory ``tmp`` and returns their names), then
    publish them into ``out``: all of them or none (see the module docstring). An OSError becomes an
    :class:`~flatbook.errors.InputError` naming ``field``; returns the published paths."""
    out = check_out_dir(out, field)
    created: list[Path] = []
    tmp: Path | None = None
    try:
        make_parents(out.parent, created)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        os.mkdir(tmp)
        names = build(tmp)
        with sigint_deferred() as pending:
            publish_files(tmp, out, names)
    except BaseException as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        remove_dirs(created)
        if isinstance(e, OSError):
            raise InputError(field, f"cannot write {out}: {e.strerror or e}") from None
        raise
    if pending:  # Ctrl-C arrived while publishing: the outputs are complete; stop now
        raise KeyboardInterrupt
    return [out / n for n in names]
