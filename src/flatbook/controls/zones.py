"""The soft-limit zones' names and rule, in one place (seed 000, "Soft Limits & Alerts").

Zone z of inventory q is the highest zone whose threshold |q| reaches: 0 none, 1 yellow,
2 red, 3 critical, with thresholds (yellow, red, critical) in lots. :func:`zone_index` is
plain Python on scalars: the simulator compiles it (inlined by
:func:`flatbook.controls.quote_controls.zone_of`), and the live monitor, the CLI, the
explainer app and the HTML report call it or name its zones from :data:`ZONE_NAMES`.
No numba import here, so the faces can name the zones without loading the compiler.
"""

from __future__ import annotations

import numpy as np

#: names of zone codes 0..3
ZONE_NAMES = ("none", "yellow", "red", "critical")
#: the parameters holding the thresholds (lots), lowest first; zone code = index + 1
ZONE_LEVELS = ZONE_NAMES[1:]


def zone_index(aq, yellow, red, critical):
    """Zone code (0.0 none .. 3.0 critical, a float) of |q| = ``aq`` lots against the thresholds (lots).

    A float and branch-free, so that the simulator's compiled copy keeps its path loop vectorised.
    """
    return max((aq >= yellow) * 1.0, max((aq >= red) * 2.0, (aq >= critical) * 3.0))


def zone_name(code) -> str:
    """The name of zone ``code`` (an int or a whole float 0..3), or ``"unknown"``."""
    try:
        i = int(code)
    except (TypeError, ValueError, OverflowError):
        return "unknown"
    return ZONE_NAMES[i] if i == code and 0 <= i < len(ZONE_NAMES) else "unknown"


def zone_codes(q, levels) -> np.ndarray:
    """Zone codes (floats) of an array of inventories q (lots) by :func:`zone_index`; NaN where q is not finite.

    levels: a mapping with the thresholds ``yellow``, ``red``, ``critical`` (lots).
    """
    q = np.asarray(q, dtype=float)
    th = tuple(float(levels[name]) for name in ZONE_LEVELS)
    z = np.array([zone_index(abs(x), *th) for x in q.ravel()], dtype=float).reshape(q.shape)
    return np.where(np.isfinite(q), z, np.nan)
