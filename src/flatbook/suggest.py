"""'Did you mean …?' for unknown names: keys, policies, presets, columns, formats.

One helper for every place a user types a name from a fixed set, so that each
error reads the same: ``field: unknown X 'nam'; did you mean name? (allowed: …)``.
Uses :func:`difflib.get_close_matches` (the standard library's ratio matcher).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .errors import InputError


def did_you_mean(got: object, choices: Iterable[str], n: int = 3) -> str:
    """``"; did you mean a, b?"`` for the closest ``choices`` to ``got``, or ``""`` when none is close."""
    pool = [str(c) for c in choices]
    near = difflib.get_close_matches(str(got), pool, n=n, cutoff=0.6)
    if not near:  # case-insensitive second try (e.g. 'GLFT' for 'glft')
        low = {c.lower(): c for c in pool}
        near = [low[m] for m in difflib.get_close_matches(str(got).lower(), list(low), n=n, cutoff=0.6)]
    return f"; did you mean {', '.join(near)}?" if near else ""


def unknown(
    field: str, what: str, got: object, choices: Iterable[str], *, list_all: bool = True, see: str = ""
) -> InputError:
    """An :class:`InputError` for an unknown ``what`` (e.g. ``"policy"``) named ``got``.

    ``list_all`` appends the allowed names (turn off for long lists and give ``see`` instead,
    e.g. ``"see 'flatbook params'"``).
    """
    pool = sorted(str(c) for c in choices)
    msg = f"unknown {what} {str(got)!r}{did_you_mean(got, pool)}"
    if list_all and pool:
        msg += f" (allowed: {', '.join(pool)})"
    if see:
        msg += f" ({see})"
    return InputError(field, msg)
