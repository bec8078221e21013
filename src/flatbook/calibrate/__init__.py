"""Calibration: the simulator's market parameters from market data.

- :mod:`.volatility` — realised volatility σ of the mid (previous-tick sampling).
- :mod:`.intensity` — the fill intensity λ(δ) = A·e^(−kδ) per side, by maximum likelihood.
- :mod:`.stoll_gamma` — seed 000's Stoll γ, regressed from a quote/inventory path.
- :mod:`.gamma_target` — the risk aversion γ that gives a target inventory std in the simulator.
- :mod:`.inventory` — the OU fit of an inventory path.
- :mod:`.calibration` — all of it from one :class:`~flatbook.data.events.EventTable`,
  JSON-ready, with ``--set`` values.

Data-driven failures (too few trades, degenerate distances, an insignificant
fit) do not raise: results carry ``ok=False`` and a ``reason``; call
``.require()`` on a result to turn that into a :class:`CalibrationError`.
Bad arguments raise :class:`CalibrationError` directly.
"""

from __future__ import annotations

from .._lazy import lazy_getattr
from ..errors import InputError
from ..jsonutil import jsonable  # noqa: F401  (re-exported for the submodules)


class CalibrationError(InputError):
    """A calibration that cannot give a meaningful number; ``field`` names what is missing or wrong."""


# Names load their submodule on first use (PEP 562), so that ``flatbook.calibrate.volatility``
# or ``.inventory`` do not pull in scipy through ``.intensity``.
_LAZY = {
    "calibrate": "calibration",
    "Volatility": "volatility",
    "realized_volatility": "volatility",
    "Reach": "intensity",
    "SideFit": "intensity",
    "IntensityFit": "intensity",
    "reach_distances": "intensity",
    "fit_reach": "intensity",
    "fit_intensity": "intensity",
    "LinFit": "stoll_gamma",
    "StollGamma": "stoll_gamma",
    "fit_stoll_gamma": "stoll_gamma",
    "stoll_gamma_from_quotes": "stoll_gamma",
    "GammaSuggestion": "gamma_target",
    "suggest_gamma": "gamma_target",
    "inventory_ou": "inventory",
}
__all__ = ["CalibrationError", *_LAZY]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
