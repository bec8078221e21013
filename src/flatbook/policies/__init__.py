"""Quoting policies: the built-in formulas and the interface for your own.

``from flatbook.policies import policy, Param`` (see :mod:`flatbook.policies.base`);
:func:`table_policy` for depths on a (t, q) grid; :func:`load_policy_file` to load a
policy from a file. The names resolve lazily (PEP 562), for start-up speed: importing
this package does not import numba until one of them is used.
"""

from __future__ import annotations

import importlib

__all__ = ["Bound", "Param", "Policy", "load_policy_file", "policy", "policy_spec", "register", "table_policy"]

_WHERE = {
    "Bound": "base",
    "Param": "base",
    "Policy": "base",
    "policy": "base",
    "table_policy": "table",
    "load_policy_file": "loader",
    "policy_spec": "registry",
    "register": "registry",
}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
