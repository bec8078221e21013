"""PEP 562 lazy attributes for a package: a name loads its submodule on first use.

Used by :mod:`flatbook.calibrate` and :mod:`flatbook.hedging`, whose submodules import
scipy: the simulator, the backtester and the CLI stay fast to start.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_getattr(package: str, names: Mapping[str, str], namespace: dict) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package``: ``names`` maps attribute → submodule."""

    def __getattr__(name: str):
        mod = names.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{mod}", package), name)
        namespace[name] = value
        return value

    return __getattr__
