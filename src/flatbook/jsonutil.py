"""JSON-ready values (the one conversion every summary and CLI output goes through), and read-only arrays."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def jsonable(x: object) -> object:
    """A JSON-ready copy: mappings → dicts, tuples and arrays → lists, numpy scalars →
    Python numbers, non-finite floats → None (strict JSON has no NaN or Infinity)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def readonly(a) -> np.ndarray:
    """A float64 copy of ``a`` that cannot be written to (for frozen result dataclasses)."""
    out = np.array(a, dtype=float)
    out.flags.writeable = False
    return out
