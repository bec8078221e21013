"""flatbook's public Python API: one function per command line command, returning result objects.

========================  ===============================================================
:func:`simulate`          one policy over many Monte Carlo paths
:func:`compare`           several policies on the same paths, with paired differences ± SE
:func:`quote`             one policy's quotes for one state
:func:`quotes`            the same over arrays of states (inventory, mid, time)
:func:`backtest`          replay a policy on real market data (Binance, LOBSTER, generic)
:func:`calibrate`         σ, A, k (with confidence intervals) and γ from real data
:func:`sweep`             a parameter grid: frontier and best points
:func:`risk`              a book's Greeks and VaR/ES (parametric, historical, Monte Carlo)
:func:`schedule`          an execution schedule (Almgren–Chriss, TWAP, VWAP) and its cost
:func:`run_config`        a validated, typed :class:`~flatbook.config.RunConfig`
:func:`load_data`         a market data file as an event table
:func:`list_presets`      presets, policies and parameters (also ``list_policies``, ``list_parameters``)
========================  ===============================================================

Every function takes keyword arguments, validates them (a bad value raises
:class:`flatbook.errors.InputError` naming the field), and gives the same numbers as the
command line for the same inputs.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

# each name loads its module on first use (PEP 562): start-up, and one engine's import cost
# (numba kernels, scipy, dask) is paid only by the calls that need it
_LAZY = {
    "run_config": "_args",
    **{n: "simulation" for n in ("simulate", "compare", "quote", "quotes")},
    **{n: "replay" for n in ("backtest", "calibrate", "load_data")},
    **{n: "analysis" for n in ("sweep", "risk", "schedule")},
    **{n: "catalogue" for n in ("list_parameters", "list_policies", "list_presets")},
}
__all__ = [
    "backtest",
    "calibrate",
    "compare",
    "list_parameters",
    "list_policies",
    "list_presets",
    "load_data",
    "quote",
    "quotes",
    "risk",
    "run_config",
    "schedule",
    "simulate",
    "sweep",
]
__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
