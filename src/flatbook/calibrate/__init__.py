"""Calibration: the simulator's market parameters from market data.

The estimators themselves live in :mod:`flatbook.estimators` (model layer: the backtester uses
them too); their names are available here as well.

- :mod:`flatbook.estimators.volatility` — realised volatility σ of the mid (previous-tick sampling).
- :mod:`flatbook.estimators.intensity` — the fill intensity λ(δ) = A·e^(−kδ) per side, by maximum
  likelihood.
- :mod:`flatbook.estimators.ou` — the OU fit of an inventory path (``inventory_ou``).
- :mod:`.stoll_gamma` — seed 000's Stoll γ, regressed from a quote/inventory path.
- :mod:`.gamma_target` — the risk aversion γ that gives a target inventory std in the simulator.
- :mod:`.calibration` — all of it from one :class:`~flatbook.data.events.EventTable`,
  JSON-ready, with ``--set`` values.

Data-driven failures (too few trades, degenerate distances, an insignificant
fit) do not raise: results carry ``ok=False`` and a ``reason``; call
``.require()`` on a result to turn that into a :class:`CalibrationError`.
Bad arguments raise :class:`CalibrationError` directly.
"""

from __future__ import annotations

from .. import estimators
from .._lazy import lazy_getattr
from ..estimators import CalibrationError
from ..jsonutil import jsonable  # noqa: F401  (re-exported for the submodules)

# The estimators' names, served by flatbook.estimators (which loads each submodule on first use).
_ESTIMATORS = (
    "Volatility",
    "realized_volatility",
    "Reach",
    "SideFit",
    "IntensityFit",
    "reach_distances",
    "fit_reach",
    "fit_intensity",
    "inventory_ou",
)
# calibrate's own names load their submodule on first use (PEP 562): gamma_target and calibration
# run the simulator and the backtester, and the intensity fit pulls in scipy.
_LAZY = {
    "calibrate": "calibration",
    "LinFit": "stoll_gamma",
    "StollGamma": "stoll_gamma",
    "fit_stoll_gamma": "stoll_gamma",
    "stoll_gamma_from_quotes": "stoll_gamma",
    "GammaSuggestion": "gamma_target",
    "suggest_gamma": "gamma_target",
}
__all__ = ["CalibrationError", *_ESTIMATORS, *_LAZY]

_own = lazy_getattr(__name__, _LAZY, globals())


def __getattr__(name: str) -> object:
    if name in _ESTIMATORS:
        value = getattr(estimators, name)
        globals()[name] = value
        return value
    return _own(name)
