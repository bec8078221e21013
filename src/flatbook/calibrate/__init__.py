"""Calibration: the simulator's market parameters from market data.

- :mod:`.volatility` — realised volatility σ of the mid (previous-tick sampling).
- :mod:`.intensity` — the fill intensity λ(δ) = A·e^(−kδ) per side, by maximum likelihood.
- :mod:`.stoll_gamma` — seed 000's Stoll γ, regressed from a quote/inventory path.
- :mod:`.suggest_gamma` — the risk aversion γ that gives a target inventory std in the simulator.
- :mod:`.calibrate` — all of it from one :class:`~flatbook.data.events.EventTable`,
  JSON-ready, with ``--set`` values.

Data-driven failures (too few trades, degenerate distances, an insignificant
fit) do not raise: results carry ``ok=False`` and a ``reason``; call
``.require()`` on a result to turn that into a :class:`CalibrationError`.
Bad arguments raise :class:`CalibrationError` directly.
"""
from __future__ import annotations

from ..errors import InputError
from ..jsonutil import jsonable  # noqa: F401  (re-exported for the submodules)


class CalibrationError(InputError):
    """A calibration that cannot give a meaningful number; ``field`` names what is missing or wrong."""


# the submodules import CalibrationError from here, so it is defined first
from .calibrate import calibrate  # noqa: E402
from .intensity import IntensityFit, Reach, SideFit, fit_intensity, fit_reach, reach_distances  # noqa: E402
from .stoll_gamma import LinFit, StollGamma, fit_stoll_gamma, stoll_gamma_from_quotes  # noqa: E402
from .suggest_gamma import GammaSuggestion, suggest_gamma  # noqa: E402
from .volatility import Volatility, realized_volatility  # noqa: E402

__all__ = [
    "CalibrationError", "calibrate",
    "Volatility", "realized_volatility",
    "Reach", "SideFit", "IntensityFit", "reach_distances", "fit_reach", "fit_intensity",
    "LinFit", "StollGamma", "fit_stoll_gamma", "stoll_gamma_from_quotes",
    "GammaSuggestion", "suggest_gamma",
]
