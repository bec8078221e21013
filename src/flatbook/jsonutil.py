"""JSON-ready values (the one conversion every summary and CLI output goes through), and read-only arrays.

numpy is not imported here at module level (start-up: the command line imports this module
for ``flatbook --help``): :func:`jsonable` looks numpy up in ``sys.modules``, since a value can
only be a numpy array or scalar once numpy has been imported.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import numpy as np


@overload
def jsonable(x: Mapping[Any, Any]) -> dict[str, Any]: ...
@overload
def jsonable(x: object) -> Any: ...


def jsonable(x: object) -> object:
    """A JSON-ready copy: mappings → dicts, tuples and arrays → lists, numpy scalars →
    Python numbers, non-finite floats → None (strict JSON has no NaN or Infinity)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    np_ = sys.modules.get("numpy")
    if np_ is not None:
        if isinstance(x, np_.ndarray):
            return [jsonable(v) for v in x.tolist()]
        if isinstance(x, np_.generic):
            x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def readonly(a) -> np.ndarray:
    """A float64 copy of ``a`` that cannot be written to (for frozen result dataclasses)."""
    import numpy as np  # lazy: see the module's docstring

    out = np.array(a, dtype=float)
    out.flags.writeable = False
    return out
