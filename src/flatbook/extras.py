"""The optional parts of flatbook and the one message a command gives when its part is not installed.

The core install (simulate, compare, quote, backtest, calibrate, risk, schedule, multi) needs
only the dependencies in ``pyproject.toml``'s ``[project] dependencies``. The rest comes as
extras, ``pip install 'flatbook[NAME]'``:

========  =====================================  ==========================================
extra     modules                                what needs them
========  =====================================  ==========================================
report    plotly                                 ``--report`` and ``flatbook report`` (HTML)
app       dash, plotly                           ``flatbook app`` (explainer, live dashboard)
live      ccxt, aiohttp, prometheus_client       ``flatbook live``
sweep     distributed (Dask), optuna             ``flatbook sweep`` (optuna: ``--optuna``)
docs      mkdocs, mkdocstrings                   ``make docs``
========  =====================================  ==========================================

:func:`require` checks with :func:`importlib.util.find_spec`, which imports nothing (cheap,
and the command's own imports stay lazy); a module that is missing raises
:class:`MissingExtra`, an :class:`~flatbook.errors.InputError`: the command line prints one
line and exits 2. Standard library only.
"""

from __future__ import annotations

import importlib.util

from .errors import InputError

#: extra → the top-level modules it installs (import names, not distribution names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("plotly",),
    "app": ("dash", "plotly"),
    "live": ("ccxt", "aiohttp", "prometheus_client"),
    "sweep": ("distributed", "optuna"),
    "docs": ("mkdocs", "mkdocstrings"),
}


class MissingExtra(InputError):
    """An optional dependency is not installed; ``extra`` names what to install."""

    def __init__(self, field: str, extra: str, missing: tuple[str, ...]):
        self.extra = extra
        self.missing = missing
        super().__init__(
            field, f"needs {', '.join(missing)}, not installed; install the extra: pip install 'flatbook[{extra}]'"
        )


def missing(extra: str, modules: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The modules of ``extra`` (or just ``modules`` of it) that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    names = EXTRAS[extra] if modules is None else modules
    out = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module without a spec
            found = False
        if not found:
            out.append(name)
    return tuple(out)


def require(extra: str, *modules: str, field: str | None = None) -> None:
    """Raise :class:`MissingExtra` unless ``modules`` (default: all of ``extra``'s) can be imported.

    ``field`` is what the error line names (a command or flag; default ``flatbook[extra]``).
    """
    gone = missing(extra, modules or None)
    if gone:
        raise MissingExtra(field or f"flatbook[{extra}]", extra, gone)
