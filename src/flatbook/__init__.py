"""flatbook: inventory management for market makers.

Quoting policies (symmetric, linear skew, Stoll, Avellaneda–Stoikov, GLFT), controls that
wrap them (hard limit, soft zones, kill switch, never-cross), a compiled Monte Carlo
simulator that compares them on identical order flow, a backtester on real market data,
calibration, parameter sweeps, portfolio risk and execution schedules.

The Python API
--------------
Each call takes keyword arguments (a preset name, a policy name, parameter values as
``params={...}`` or as keywords, or a typed :class:`~flatbook.config.RunConfig`), checks them
(a bad value raises :class:`InputError` naming the field, with "did you mean …?"), and returns
a result object, with the same numbers as the command line for the same inputs:

- ``simulate(preset=, policy=, paths=, seed=, **params)`` → :class:`SimulationResult`: one policy, many paths;
- ``compare(policies, ...)`` → :class:`ComparisonResult`: several policies on the same paths, with paired
  differences ± standard errors (common random numbers);
- ``quote(q, mid=, t=, ...)`` → :class:`QuoteResult`: one policy's quotes for one state;
  ``quotes(q=array, ...)`` → :class:`QuotesResult`: the same over arrays of states;
- ``backtest(data, policy=, ...)`` → :class:`BacktestResult`: a policy replayed on real quotes and trades;
- ``backtest_files(dir_or_glob, policy=, ...)`` → :class:`BatchBacktestResult`: many files (days) on a Dask
  cluster, merged per file and across days, resumable (``out=``);
- ``ensemble(data, policy=, axes={...})`` → :class:`EnsembleResult`: one file across queue × latency × fill
  models, and the spread of PnL, fills and max |q| across them;
- ``calibrate(data, target_q_std=, ...)`` → :class:`CalibrationResult`: σ, A, k (and γ) from real data;
- ``sweep(grid, ...)`` → :class:`SweepResult`: a parameter grid, its Pareto frontier and best points;
- ``risk(book)`` → :class:`RiskResult`: a book's Greeks and VaR/ES by method;
- ``schedule(method, ...)`` → :class:`ScheduleResult`: an execution schedule (Almgren–Chriss, TWAP, VWAP);
- ``stress(book, scenarios=)`` → :class:`StressResult`: a book's loss per stress scenario and survivable Q_max
  (``load_book(path)``: a book to reuse);
- ``hedge_frontier(thresholds, ...)`` → :class:`HedgeFrontierResult`: hedge cost against residual risk;
- ``multi(preset=, correlation=, ...)`` → :class:`MultiResult`: one maker on several correlated instruments;
- ``inspect_data(path)`` → :class:`DataInspection`: what a market data file holds;
- ``rebuild_report(results_dir)``: the HTML report of a saved run;
- ``run_config(...)`` → :class:`RunConfig`: a validated run to pass as ``config=``;
- ``load_data(path)``: a market data file as an event table (to backtest or calibrate several times);
- ``list_presets()``, ``list_policies()``, ``list_parameters()``: what can be chosen, as DataFrames;
  ``config_schema("run" | "live" | "book")``: the JSON schema of a config file, for editors.

Your own policy: a small compiled formula of the state returning the bid and ask depths, with
typed parameters (:mod:`flatbook.policies.base` documents the interface); pass the object as
``policy=`` to any call above::

    @flatbook.policy(params={"half_spread": flatbook.Param(unit="price units", default=0.5, ge=0)})
    def flat(p, t, tau, s, q):
        return p.half_spread, p.half_spread

- ``policy``, ``Param``: the decorator and its parameter type; ``table_policy``: depths on a (t, q) grid;
  ``load_policy_file(path, name)``: a policy from a file (as ``--policy-file``).

Every result has ``.summary`` (a read-only mapping ``key →`` :class:`Quantity`: value, unit and
standard error where there is one), ``.to_pandas()``, ``.to_parquet(dir)``, ``.plot()`` (a
matplotlib figure, written nowhere), ``.to_dict()`` and ``.to_json()`` (the command line's ``--json``),
``.save(dir)`` (exactly the files of ``--out DIR``), ``.report(path)`` (the HTML of ``--report``, where the
command has one) and a notebook display. The command line is a thin face over these calls: each command
parses its flags, calls one of them and prints or writes through the result's methods.

Example::

    import flatbook
    res = flatbook.compare(["avellaneda-stoikov", "glft"], preset="as2008", paths=2_000, seed=0)
    res.differences["glft"]["pnl_mean"]     # paired difference ± SE, price units × lots
    per_path, series = res.to_pandas().per_path, res.to_pandas().series

Import cost: ``import flatbook`` loads none of numpy, numba or the kernels; each name above
loads its module on first use (PEP 562 ``__getattr__``), for start-up speed.

``flatbook.backtest``, ``calibrate``, ``sweep``, ``risk`` and ``multi`` are also the names of the engine
and analysis packages (``flatbook.backtest.backtester``, ...). So that both uses work, these
five packages are callable: ``flatbook.backtest(...)`` calls :func:`flatbook.api.backtest`,
and ``flatbook.backtest.backtester`` is still the module.
"""

from __future__ import annotations

import importlib
import sys
import types

from ._version import __version__
from .errors import InputError

#: public name → the module defining it (loaded on first use: start-up)
_LAZY = {
    **{n: "flatbook.api.simulation" for n in ("simulate", "compare", "hedge_frontier", "multi")},
    **{n: "flatbook.api.quoting" for n in ("quote", "quotes")},
    **{n: "flatbook.api.replay" for n in ("backtest", "backtest_hedged", "calibrate", "inspect_data", "load_data")},
    **{n: "flatbook.api.analysis" for n in ("sweep", "risk", "schedule", "stress", "load_book")},
    **{n: "flatbook.api.batch" for n in ("backtest_files", "ensemble")},
    "rebuild_report": "flatbook.api.reports",
    "run_config": "flatbook.api._args",
    "list_parameters": "flatbook.api.catalogue",
    "list_policies": "flatbook.api.catalogue",
    "list_presets": "flatbook.api.catalogue",
    "config_schema": "flatbook.api.catalogue",
    "RunConfig": "flatbook.config",
    **{n: "flatbook.policies" for n in ("policy", "Param", "table_policy", "load_policy_file")},
    **{n: "flatbook.results.summary" for n in ("Quantity", "Difference", "Summary")},
    **{n: "flatbook.results.simulation" for n in ("SimulationResult", "ComparisonResult")},
    **{n: "flatbook.results.quote" for n in ("QuoteResult", "QuotesResult")},
    **{n: "flatbook.results.replay" for n in ("BacktestResult", "CalibrationResult", "DataInspection")},
    **{n: "flatbook.results.batch" for n in ("BatchBacktestResult", "EnsembleResult")},
    **{n: "flatbook.results.analysis" for n in ("SweepResult", "RiskResult", "ScheduleResult", "StressResult")},
    "HedgeFrontierResult": "flatbook.results.hedging",
    "MultiResult": "flatbook.results.multi",
}
#: API functions that share their name with a subpackage: the subpackage is made callable
_CALLABLE_PACKAGES = ("backtest", "calibrate", "sweep", "risk", "multi")

__all__ = [
    "BacktestResult",
    "BatchBacktestResult",
    "CalibrationResult",
    "ComparisonResult",
    "DataInspection",
    "Difference",
    "EnsembleResult",
    "HedgeFrontierResult",
    "InputError",
    "MultiResult",
    "Param",
    "Quantity",
    "QuoteResult",
    "QuotesResult",
    "RiskResult",
    "RunConfig",
    "ScheduleResult",
    "SimulationResult",
    "StressResult",
    "Summary",
    "SweepResult",
    "__version__",
    "backtest",
    "backtest_hedged",
    "backtest_files",
    "calibrate",
    "compare",
    "config_schema",
    "ensemble",
    "hedge_frontier",
    "inspect_data",
    "list_parameters",
    "list_policies",
    "list_presets",
    "load_book",
    "load_data",
    "load_policy_file",
    "multi",
    "policy",
    "quote",
    "quotes",
    "rebuild_report",
    "risk",
    "run_config",
    "schedule",
    "simulate",
    "stress",
    "sweep",
    "table_policy",
]


def _api_function(name: str):
    return getattr(importlib.import_module(_LAZY[name]), name)


class _CallablePackage(types.ModuleType):
    """A subpackage that is also an API function: ``flatbook.backtest(...)`` runs :func:`flatbook.api.backtest`,
    ``flatbook.backtest.backtester`` is still its module."""

    def __call__(self, *args, **kwargs):
        return _api_function(self.__name__.rpartition(".")[2])(*args, **kwargs)

    @property
    def __signature__(self):  # an inspect.Signature, for help(), IPython's ``?`` and inspect.signature
        import inspect  # lazy: start-up (inspect costs as much as the rest of 'import flatbook')

        return inspect.signature(_api_function(self.__name__.rpartition(".")[2]))


def _make_callable(name: str, module: types.ModuleType) -> None:
    if type(module) is types.ModuleType:
        module.__class__ = _CallablePackage
        module.__doc__ = (
            f"Calling ``flatbook.{name}(...)`` runs :func:`flatbook.api.{name}` "
            f"(see ``help(flatbook.api.{name})``). The package:\n\n" + (module.__doc__ or "")
        )


class _Flatbook(types.ModuleType):
    """The ``flatbook`` package: when the import system binds one of the callable subpackages
    (``setattr(flatbook, "backtest", module)``), the subpackage becomes callable first."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _CALLABLE_PACKAGES and isinstance(value, types.ModuleType):
            _make_callable(name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Flatbook


def __getattr__(name: str) -> object:
    if name in _CALLABLE_PACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # binds (and makes callable) the subpackage
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)  # lazy: start-up (numpy, numba, kernels)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
