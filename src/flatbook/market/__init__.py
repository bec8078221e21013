"""The market of the Monte Carlo simulator, as small compiled stages, and the interface for your own.

- :mod:`flatbook.market.mid`: mid-price stages (binomial, ABM/GBM, jumps, regimes, the event gap);
- :mod:`flatbook.market.flow`: order-flow stages (A–S intensity, the mini-project orders, informed flow);
- :mod:`flatbook.market.costs`: fees, financing and carry;
- :mod:`flatbook.market.layout`: the rows of the block state and the slots of the packed parameters;
- :mod:`flatbook.market.pack`: :func:`~flatbook.market.pack.pack_market`, each stage packing its own slots;
- :mod:`flatbook.market.stage`: your own mid-price stage (:func:`mid_stage`, :func:`load_stage_file`).

The step's order and every stage's draws are documented in ``docs/market_models.md``. The names
below resolve lazily (PEP 562), for start-up speed: importing this package does not import numba.
"""

from __future__ import annotations

import importlib

__all__ = ["BoundStage", "MidStage", "Param", "load_stage_file", "mid_stage", "normals", "uniforms", "unit"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(".stage", __name__), name)
