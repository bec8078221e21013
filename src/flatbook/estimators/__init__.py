"""Estimators of the market model's parameters from market data: σ, the fill intensity λ(δ), an OU fit.

They sit in the model layer, under the engines, so that the backtester can derive its defaults
(``data_defaults``: σ, A, k) and its summary (the inventory's OU fit) from the data without
importing the analysis layer; :mod:`flatbook.calibrate` assembles them into a calibration.

- :mod:`.volatility` — realised volatility σ of the mid (previous-tick sampling).
- :mod:`.intensity` — the fill intensity λ(δ) = A·e^(−kδ) per side, by maximum likelihood (scipy).
- :mod:`.ou` — the Ornstein–Uhlenbeck fit of an inventory path (pooled AR(1), Dickey–Fuller test).

Data-driven failures (too few trades, degenerate distances, an insignificant fit) do not raise:
results carry ``ok=False`` and a ``reason``; ``.require()`` on a result turns that into a
:class:`CalibrationError`. Bad arguments raise :class:`CalibrationError` directly.
"""

from __future__ import annotations

from .._lazy import lazy_getattr
from ..errors import InputError


class CalibrationError(InputError):
    """A calibration that cannot give a meaningful number; ``field`` names what is missing or wrong."""


# Names load their submodule on first use (PEP 562): ``.volatility`` and ``.ou`` do not pull in
# scipy through ``.intensity`` (the simulator and a replay's summary need only those two).
_LAZY = {
    "Volatility": "volatility",
    "realized_volatility": "volatility",
    "sample_previous_tick": "volatility",
    "Reach": "intensity",
    "SideFit": "intensity",
    "IntensityFit": "intensity",
    "reach_distances": "intensity",
    "fit_reach": "intensity",
    "fit_intensity": "intensity",
    "OUFit": "ou",
    "ou_fit": "ou",
    "pool_moments": "ou",
    "inventory_ou": "ou",
}
__all__ = ["CalibrationError", *_LAZY]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
