"""The market of the Monte Carlo simulator, as small compiled stages, and the interface for your own.

- :mod:`flatbook.market.mid`: mid-price stages (binomial, ABM/GBM, jumps, regimes, the event gap);
- :mod:`flatbook.market.flow`: order-flow stages (A–S intensity, the mini-project orders, informed flow);
- :mod:`flatbook.market.costs`: fees, financing and carry;
- :mod:`flatbook.market.layout`: the rows of the block state and the slots of the packed parameters;
- :mod:`flatbook.market.pack`: :func:`~flatbook.market.pack.pack_market`, each stage packing its own slots;
- :mod:`flatbook.market.stage`: your own mid-price stage (:func:`mid_stage`, :func:`load_stage_file`);
- :mod:`flatbook.market.fill_stage`: your own fill (order-flow) stage (``from flatbook.market.fill_stage import fill_stage``);
- :mod:`flatbook.market.cost_stage`: your own cost stage (``from flatbook.market.cost_stage import cost_stage``);
  a hedge's impact stage is :mod:`flatbook.hedging.impact_stage`.

The step's order and every stage's draws are documented in ``docs/market_models.md``. The names
below resolve lazily (PEP 562), for start-up speed: importing this package does not import numba.
"""

from __future__ import annotations

import importlib

__all__ = [
    "BoundStage",
    "CostStage",
    "FillStage",
    "MidStage",
    "Param",
    "load_stage_file",
    "mid_stage",
    "normals",
    "uniforms",
    "unit",
]
# (the decorators ``fill_stage`` and ``cost_stage`` are not re-exported here: each would shadow its own module)
_FROM = {"FillStage": "flatbook.market.fill_stage", "CostStage": "flatbook.market.cost_stage"}


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_FROM.get(name, "flatbook.market.stage")), name)
