"""Import a user's Python file (``--policy-file``, ``--market-file``) as a module of its own, with one-line errors.

Why not plain ``importlib.import_module``: the file is not on ``sys.path`` and may share its name with another
user file, so it is loaded from its path under a name derived from that path (two files never collide), and is
registered in ``sys.modules`` because numba and pickling find a function's module by name. Whatever the file
raises on import becomes one :class:`~flatbook.errors.InputError` line naming the flag.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .errors import InputError


def import_user_file(path: str | Path, field: str, prefix: str) -> ModuleType:
    """Import the Python file ``path`` as the module ``<prefix><sha of its path>``; errors name ``field``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(field, f"{str(path)!r} is not a file")
    mod_name = prefix + hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(mod_name, p)
    if spec is None or spec.loader is None:
        raise InputError(field, f"{str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # numba and pickling find the module by name
    try:
        spec.loader.exec_module(module)
    except InputError:
        raise
    except SyntaxError as exc:
        raise InputError(field, f"{p.name} line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the user's file raises is one line
        raise InputError(field, f"{p.name} failed to import: {type(exc).__name__}: {exc}") from None
    return module
