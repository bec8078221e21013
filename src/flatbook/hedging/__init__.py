"""Hedging: triggers, execution schedules, hedge instruments and carrying costs.

- :mod:`.model` — the simulator's hedging and carry model and its packed parameters.
- :mod:`.execution` — the per-path hedge arithmetic compiled into the simulator.
- :mod:`.impact_stage` — your own impact stage: a hedge trade's price and its temporary and permanent
  impact, in place of the built-in execution model.
- :mod:`.schedules` — immediate, TWAP, VWAP and Almgren–Chriss (2000) schedules.
- :mod:`.basis` — β, ρ and basis volatility of a proxy hedge from two market-data files, and the
  basis as an Ornstein–Uhlenbeck process (half-life, σ_b).

Names load their submodule on first use (PEP 562), so that importing the simulator
does not import scipy.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_LAZY = {
    **{
        n: "schedules"
        for n in (
            "Frontier",
            "Schedule",
            "almgren_chriss",
            "efficient_frontier",
            "immediate",
            "trade_fractions",
            "twap",
            "volume_curve",
            "vwap",
        )
    },
    "BasisEstimate": "basis",
    "estimate_basis": "basis",
    "BasisOU": "basis",
    "estimate_basis_ou": "basis",
    "target_from_costs": "model",
    "pack_hedge": "model",
    "ImpactStage": "impact_stage",
}
__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
