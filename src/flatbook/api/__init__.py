"""flatbook's public Python API: one function per command line command, returning result objects.

========================  ===============================================================
:func:`simulate`          one policy over many Monte Carlo paths
:func:`compare`           several policies on the same paths, with paired differences ± SE
:func:`quote`             one policy's quotes for one state
:func:`quotes`            the same over arrays of states (inventory, mid, time)
:func:`backtest`          replay a policy on real market data (Binance, LOBSTER, generic)
:func:`backtest_hedged`   inventory in one instrument hedged in another, two data files on one clock
:func:`backtest_files`    backtest many files (days) on a Dask cluster, merged per file and across days; resumable
:func:`ensemble`          one file across an ensemble of queue/latency/fill models: the spread of the results
:func:`calibrate`         σ, A, k (with confidence intervals) and γ from real data
:func:`sweep`             a parameter grid: frontier and best points
:func:`risk`              a book's Greeks and VaR/ES (parametric, historical, Monte Carlo)
:func:`schedule`          an execution schedule (Almgren–Chriss, TWAP, VWAP) and its cost
:func:`stress`            a book's loss per stress scenario, the survivable hard limit Q_max
:func:`hedge_frontier`    hedge cost against residual risk, the hedge threshold swept
:func:`multi`             one maker quoting several correlated instruments
:func:`inspect_data`      what a market data file holds (span, tick, spread, volatility, streams)
:func:`rebuild_report`    the HTML report of a saved run, without running it again
:func:`backtest_options`  latency, queue and requote options as one record (``backtest(options=)``)
:func:`load_book`         a risk book (TOML) to reuse in :func:`risk` and :func:`stress`
:func:`warm_up`           compile an engine's kernels ahead of a run (:func:`needs_compiling`)
:func:`run_config`        a validated, typed :class:`~flatbook.config.RunConfig`
:func:`load_data`         a market data file as an event table
:func:`list_presets`      presets, policies and parameters (also ``list_policies``, ``list_parameters``)
:func:`config_schema`     the JSON schema of a run config, LIVE.toml or a risk book (editors complete TOML)
========================  ===============================================================

Every function takes keyword arguments, validates them (a bad value raises
:class:`flatbook.errors.InputError` naming the field), and gives the same numbers as the
command line for the same inputs: the command line (:mod:`flatbook.cli`) parses its flags,
calls these functions and prints or writes through the result objects (``to_json()``,
``save(dir)``, ``report(path)``); ``tests/test_cli_thin.py`` keeps it that way.
Also: :mod:`flatbook.api.live` (the live engine), :mod:`flatbook.api.catalogue` (presets,
policies, parameters as JSON objects; ``load_policies``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:  # the names' types for type checkers; at run time each loads on first use (below)
    from ._args import run_config
    from .analysis import load_book, risk, schedule, stress, sweep
    from .batch import backtest_files, ensemble
    from .catalogue import config_schema, list_parameters, list_policies, list_presets
    from .kernels import needs_compiling, warm_up
    from .quoting import quote, quotes
    from .replay import (
        backtest,
        backtest_hedged,
        backtest_options,
        calibrate,
        check_backtest_data,
        inspect_data,
        load_data,
    )
    from .reports import rebuild_report
    from .simulation import compare, hedge_frontier, hedge_frontier_configs, multi, multi_config, simulate

# each name loads its module on first use (PEP 562): start-up, and one engine's import cost
# (numba kernels, scipy, dask) is paid only by the calls that need it
_LAZY = {
    "run_config": "_args",
    "rebuild_report": "reports",
    **{n: "kernels" for n in ("needs_compiling", "warm_up")},
    **{
        n: "simulation"
        for n in ("simulate", "compare", "hedge_frontier", "hedge_frontier_configs", "multi", "multi_config")
    },
    **{n: "quoting" for n in ("quote", "quotes")},
    **{
        n: "replay"
        for n in (
            "backtest",
            "backtest_hedged",
            "backtest_options",
            "check_backtest_data",
            "calibrate",
            "inspect_data",
            "load_data",
        )
    },
    **{n: "analysis" for n in ("sweep", "risk", "schedule", "stress", "load_book")},
    **{n: "batch" for n in ("backtest_files", "ensemble")},
    **{n: "catalogue" for n in ("list_parameters", "list_policies", "list_presets", "config_schema")},
}
__all__ = [
    "backtest",
    "backtest_hedged",
    "backtest_files",
    "backtest_options",
    "calibrate",
    "check_backtest_data",
    "compare",
    "config_schema",
    "ensemble",
    "hedge_frontier",
    "hedge_frontier_configs",
    "inspect_data",
    "list_parameters",
    "list_policies",
    "list_presets",
    "load_book",
    "load_data",
    "multi",
    "multi_config",
    "needs_compiling",
    "quote",
    "quotes",
    "rebuild_report",
    "risk",
    "run_config",
    "schedule",
    "simulate",
    "stress",
    "sweep",
    "warm_up",
]
__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
