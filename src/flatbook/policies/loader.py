"""Load a user's policy file: ``--policy-file my_policy.py --policy cubic_skew``.

The file is imported as a module of its own (its name derived from its path, so two
files never collide) and the :class:`~flatbook.policies.base.Policy` objects it
defines are registered (:func:`flatbook.policies.registry.register`), so every
engine finds them by name. Each load re-reads the file: an edit is picked up by the
next run, and the kernels' cache key follows the file's contents
(:mod:`flatbook.policies.compile`), so an edited formula never runs stale.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from ..errors import InputError
from ..suggest import unknown
from .base import Policy
from .registry import register


def _policies_in(module) -> dict[str, Policy]:
    return {v.name: v for v in vars(module).values() if isinstance(v, Policy) and not v.builtin}


def load_policies(path: str | Path) -> dict[str, Policy]:
    """Import ``path`` and register every policy it defines; returns them by name."""
    found = _load(path)
    for pol in found.values():
        register(pol)
    return found


def _load(path: str | Path) -> dict[str, Policy]:
    p = Path(path).expanduser()
    field = "--policy-file"
    if not p.is_file():
        raise InputError(field, f"{str(path)!r} is not a file")
    mod_name = "flatbook_user_policy_" + hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:12]
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
    found = _policies_in(module)
    if not found:
        raise InputError(field, f"{p.name} defines no policy (decorate a function with @flatbook.policies.policy)")
    return found


def load_policy_file(path: str | Path, name: str | None = None) -> Policy:
    """Import ``path`` and return (and register) its policy ``name`` (the only one if None).

    Errors are one line (:class:`InputError`): a missing file, an import or decorator
    failure, an unknown name (with "did you mean"), a file without policies.
    """
    found = load_policies(path)
    p = Path(path)
    if name is None:
        if len(found) > 1:
            raise InputError("--policy", f"{p.name} defines {len(found)} policies ({', '.join(found)}); name one")
        name = next(iter(found))
    pol = found.get(name)
    if pol is None:
        raise unknown("--policy", "policy", name, found)
    return pol
