"""Load a user's policy file: ``--policy-file my_policy.py --policy cubic_skew``.

The file is imported as a module of its own (its name derived from its path, so two
files never collide) and the :class:`~flatbook.policies.base.Policy` objects it
defines are registered (:func:`flatbook.policies.registry.register`), so every
engine finds them by name. Each load re-reads the file: an edit is picked up by the
next run, and the kernels' cache key follows the file's contents
(:mod:`flatbook.policies.compile`), so an edited formula never runs stale.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..suggest import unknown
from ..userfile import import_user_file
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
    module = import_user_file(path, "--policy-file", "flatbook_user_policy_")
    found = _policies_in(module)
    if not found:
        name = Path(path).name
        raise InputError(
            "--policy-file", f"{name} defines no policy (decorate a function with @flatbook.policies.policy)"
        )
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
