"""The command line's side of ``--out DIR`` and ``--json``: the flag's name in errors, nothing more.

Writing lives with the results (:mod:`flatbook.results._files`: all files or none, through a
temporary directory beside DIR); each command's files are its result's ``save(dir)``. This module
checks ``--out`` before any work and turns an error about the directory into one naming ``--out``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError
from ..results._files import check_out_dir as _check_dir
from ..results._files import dumps
from ..results._files import publish_dir as _publish_dir

__all__ = ["check_out_dir", "dumps", "out_errors", "publish_dir"]


def check_out_dir(out: str | os.PathLike) -> Path:
    """Validate ``--out`` before any work: DIR is a directory or can be created there."""
    return _check_dir(out, field="--out")


@contextmanager
def out_errors(field: str = "--out", api_field: str = "dir") -> Iterator[None]:
    """An :class:`InputError` about the API's ``api_field`` (``result.save(dir)``) re-raised naming ``field``."""
    try:
        yield
    except InputError as e:
        if e.field != api_field:
            raise
        raise InputError(field, str(e).partition(": ")[2]) from None


def publish_dir(out: Path, build: Callable[[Path], list[str]]) -> list[Path]:
    """Run ``build(tmp)`` and publish its files into ``out``: all of them or none (errors name ``--out``)."""
    return _publish_dir(out, build, field="--out")
