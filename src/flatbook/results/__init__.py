"""Result objects of the Python API (:mod:`flatbook.api`): objects, not dicts of arrays.

Each has ``.summary`` (a read-only :class:`Summary` mapping ``key →`` :class:`Quantity`: value,
unit and standard error where the project computes one), ``.to_pandas()``, ``.to_parquet(dir)``,
``.plot()`` (a matplotlib :class:`~matplotlib.figure.Figure`, written nowhere), ``.to_dict()``
(the command line's ``--json`` of the same run, bit for bit outside ``timing``), ``.timing``,
``.warnings`` and a notebook display (``_repr_html_``).

- :class:`SimulationResult` (:func:`flatbook.simulate`): frames summary, per_path, series;
- :class:`ComparisonResult` (:func:`flatbook.compare`): the same with a ``policy`` column, and the paired
  ``differences`` (:class:`Difference`: value ± paired SE, and the SE of independent runs);
- :class:`QuoteResult` (:func:`flatbook.quote`): one row; :class:`QuotesResult` (:func:`flatbook.quotes`): one
  row per state;
- :class:`HedgedBacktestResult` (:func:`flatbook.api.backtest_hedged`): fills, hedge fills and orders, the 1 s risk path;
- :class:`BacktestResult` (:func:`flatbook.backtest`): fills, inventory;
- :class:`BatchBacktestResult` (:func:`flatbook.backtest_files`): per file and across days;
  :class:`EnsembleResult` (:func:`flatbook.ensemble`): per member and the spread across members;
- :class:`CalibrationResult` (:func:`flatbook.calibrate`): the summary, and ``suggested`` parameters;
- :class:`SweepResult` (:func:`flatbook.sweep`): the points, ``frontier(risk)``, ``best``;
- :class:`RiskResult` (:func:`flatbook.risk`): var, contributions, positions;
- :class:`ScheduleResult` (:func:`flatbook.schedule`): the steps, and ``frontier()``.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

# each name loads its module on first use (PEP 562): start-up (numpy, the simulator, matplotlib)
_LAZY = {
    **{n: "summary" for n in ("Quantity", "Difference", "Summary")},
    **{n: "simulation" for n in ("SimulationResult", "ComparisonResult", "SimulationFrames")},
    **{n: "quote" for n in ("QuoteResult", "QuotesResult")},
    "HedgeFrontierResult": "hedging",
    **{n: "batch" for n in ("BatchBacktestResult", "EnsembleResult")},
    "MultiResult": "multi",
    **{n: "replay" for n in ("BacktestResult", "BacktestFrames", "CalibrationResult", "DataInspection")},
    **{n: "hedged" for n in ("HedgedBacktestResult", "HedgedBacktestFrames")},
    **{
        n: "analysis"
        for n in ("SweepResult", "RiskResult", "RiskFrames", "ScheduleResult", "StressResult", "StressFrames")
    },
}
__all__ = [
    "BacktestFrames",
    "BacktestResult",
    "HedgedBacktestFrames",
    "HedgedBacktestResult",
    "BatchBacktestResult",
    "CalibrationResult",
    "ComparisonResult",
    "Difference",
    "EnsembleResult",
    "Quantity",
    "QuoteResult",
    "QuotesResult",
    "RiskFrames",
    "RiskResult",
    "ScheduleResult",
    "SimulationFrames",
    "SimulationResult",
    "Summary",
    "SweepResult",
]
__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
