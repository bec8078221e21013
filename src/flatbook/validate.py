"""Range checks for numbers given by the user (TOML books, function arguments).

Each raises :class:`~flatbook.errors.InputError` naming the field and the values allowed,
so the CLI exits 2 with one line. (``--set`` parameters go through
:class:`flatbook.params.Param`, CLI integers through :func:`check_int`.)
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from .errors import InputError


def check_real(
    field: str,
    value,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    unit: str = "",
    allow_inf: bool = False,
) -> float:
    """A real number (not a bool), finite unless ``allow_inf`` (then +inf too), within the bounds."""

    def allowed() -> str:
        parts = ["a number" if allow_inf else "a finite number"]
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'and ' if lo is not None else ''}{'<' if hi_open else '<='} {hi:g}")
        return " ".join(parts) + (f" ({unit})" if unit else "")

    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(field, f"got {value!r}; allowed: {allowed()}")
    x = float(value)
    bad = math.isnan(x) or (math.isinf(x) and not (allow_inf and x > 0))
    if not bad and lo is not None:
        bad = x < lo or (lo_open and x == lo)
    if not bad and hi is not None:
        bad = x > hi or (hi_open and x == hi)
    if bad:
        raise InputError(field, f"got {x:g}; allowed: {allowed()}")
    return x


def check_count(field: str, value, lo: int = 1, unit: str = "") -> int:
    """An integer (not a bool) >= lo."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lo:
        raise InputError(field, f"got {value!r}; allowed: an integer >= {lo}" + (f" ({unit})" if unit else ""))
    return int(value)


def check_int(field: str, raw, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (also given as text, or as a float with no fraction), or :class:`InputError`
    naming ``field``."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        val = int(raw)
        if isinstance(raw, float) and raw != val:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(field, f"got {raw!r}; allowed: an integer from {lo} to {hi}") from None
    if not lo <= val <= hi:
        raise InputError(field, f"got {val}; allowed: an integer from {lo} to {hi}")
    return val
