"""Results of :func:`flatbook.sweep`, :func:`flatbook.risk` and :func:`flatbook.schedule`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError
from ..jsonutil import jsonable
from ..risk.summaries import risk_object, stress_object
from ._base import FramesResult, SavedResult, write_frames
from ._files import dumps
from .summary import Quantity, Summary

__all__ = ["RiskFrames", "RiskResult", "ScheduleResult", "StressFrames", "StressResult", "SweepResult", "sweep_title"]

CASH = "price units × units"


# --------------------------------------------------------------------------- sweep

LAMBDA_UNIT = "per (price unit × lot)"


def sweep_title(meta: Mapping[str, Any], lam: float) -> str:
    """The title of a sweep's table and figures, from its ``sweep`` header."""
    if meta["mode"] == "study":
        return f"flatbook sweep --study {meta['study']} — {meta['paths']:,} paths, seed {meta['seed']}"
    grid = " ".join(f"--grid {g}" for g in meta["grid"])
    return (
        f"flatbook sweep — preset {meta['preset']}, policy {meta['policy']}, {meta['mode']}: {grid}; "
        f"{meta['paths']:,} paths, seed {meta['seed']} (common random numbers); λ = {lam:g} {LAMBDA_UNIT}"
    )


class SweepResult(SavedResult):
    """A parameter sweep: one row per point, the Pareto frontiers and the best point per objective.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per point (the command line's ``results.parquet``): the swept values, every summary figure,
        its Monte Carlo SE (``<figure>_se``) and the jackknife section sums; wall-clock fields under ``timing``.
    keys : tuple of str
        The swept parameters.
    risk_aversion : float
        λ of the mean–variance utility E[PnL] − (λ/2)·Var[PnL], per (price unit × lot).
    summary : Summary
        ``best.<objective>``: the best value of each objective ± SE (e.g. ``best.mv``), ``points``.
    best : mapping of str to dict
        Per objective: value, se, unit, sense and the point's ``params``.
    frontiers : mapping of str to list of dict
        Per risk measure (pnl_std, final_q_std, q_rms, es_95): the Pareto-optimal points.
    """

    _key_figures = ("points", "best.mv", "best.pnl_mean", "best.sharpe", "best.pnl_std", "best.es_95")

    def __init__(
        self,
        points,
        keys: Sequence[str],
        risk_aversion: float,
        analysis: Mapping[str, Any],
        meta: Mapping[str, Any],
        study: Mapping[str, Any] | None = None,
        *,
        objective: str = "mv",
        run: Mapping[str, Any] | None = None,
        warnings: Sequence[str] = (),
        figures: Sequence[tuple[str, Any]] = (),
    ):
        self.points = points
        self.keys = tuple(keys)
        self.risk_aversion = risk_aversion
        self.objective = objective
        self.meta = dict(meta)
        self.best = MappingProxyType(dict(analysis["best"]))
        self.frontiers = MappingProxyType(dict(analysis["frontiers"]))
        self.study = study
        self.run = dict(run or {})
        self._warnings = tuple(warnings)
        self._figures = list(figures)
        #: the files :meth:`save` or the run's ``out`` wrote (a kept figure as "NAME (kept: up to date)")
        self.written: list[str] = []
        self._obj = {
            "sweep": {k: v for k, v in meta.items() if k != "points"},
            "run": self.run,
            "points": analysis["points"],
            "frontiers": analysis["frontiers"],
            "best": analysis["best"],
            **({"study": study} if study is not None else {}),
        }
        q = {"points": Quantity(len(points), "points")}
        for name, b in self.best.items():
            q[f"best.{name}"] = Quantity(b["value"], b["unit"], b["se"])
        self.summary = Summary(q, sweep_title(meta, risk_aversion))

    @property
    def warnings(self) -> tuple[str, ...]:
        return self._warnings

    def to_dict(self) -> dict[str, Any]:
        """The sweep as ``flatbook sweep --json`` prints it: ``sweep`` (what was swept and how), ``run`` (points
        computed and resumed, tasks, out), ``points``, ``frontiers``, ``best`` and a study's ``study``."""
        return super().to_dict()

    def _write_into(self, out_dir: Path, keep_figures: bool = False) -> list[str]:
        """results.parquet, sweep.json and the figures into the sweep's own ``out`` directory (beside its
        ``points/`` and ``manifest.json``); a figure already there is kept when ``keep_figures``."""
        from ..sweep.runner import write_json_atomic  # lazy: start-up

        self.points.to_parquet(out_dir / ".results.parquet.tmp", index=False, engine="pyarrow")
        Path(out_dir / ".results.parquet.tmp").replace(out_dir / "results.parquet")
        write_json_atomic(out_dir / "sweep.json", self._obj)
        written = ["results.parquet", "sweep.json"]
        for name, draw in self._figures:
            if keep_figures and (out_dir / name).is_file():
                written.append(f"{name} (kept: up to date)")
            else:
                draw(out_dir / name)
                written.append(name)
        self.written = written
        return written

    def _files(self, tmp: Path) -> list[str]:
        """results.parquet, sweep.json and the figures (frontier.png, heatmap.png, study.png) of the sweep."""
        (tmp / "sweep.json").write_text(dumps(self._obj) + "\n", encoding="utf-8")
        self.points.to_parquet(tmp / "results.parquet", index=False, engine="pyarrow")
        names = ["results.parquet", "sweep.json"]
        for name, draw in self._figures:
            draw(tmp / name)
            names.append(name)
        return names

    def to_pandas(self):
        """The points DataFrame (a copy)."""
        return self.points.copy()

    def frontier(self, risk: str = "pnl_std"):
        """The Pareto frontier for ``risk`` (pnl_std, final_q_std, q_rms or es_95) as a DataFrame of points."""
        from ..sweep.objectives import RISKS, frontier  # lazy: start-up

        if risk not in RISKS:
            from ..suggest import unknown  # lazy: only on bad input

            raise unknown("risk", "risk measure", risk, RISKS)
        return self.points.iloc[frontier(self.points, risk)].reset_index(drop=True)

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write results.parquet (the points, as ``flatbook sweep --out``) into ``directory``."""
        return write_frames(directory, {"results": self.points})

    def plot(self, risk: str = "pnl_std"):
        """Mean PnL ± SE against ``risk`` for every point, the Pareto frontier joined and the best
        mean–variance point starred: a :class:`matplotlib.figure.Figure`, not written anywhere."""
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # lazy: start-up (matplotlib)
        )
        from matplotlib.figure import Figure

        from ..sweep.objectives import PNL_UNIT, RISKS, mv_utility

        front = self.frontier(risk)  # validates ``risk``
        df = self.points
        label, unit = RISKS[risk]
        fig = Figure(figsize=(7.5, 5.0), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()

        def col(frame, key):
            return np.asarray(frame[key], dtype=float) if key in frame.columns else np.full(len(frame), np.nan)

        ax.errorbar(
            col(df, risk),
            col(df, "pnl_mean"),
            xerr=np.nan_to_num(col(df, risk + "_se")),
            yerr=np.nan_to_num(col(df, "pnl_mean_se")),
            fmt="o",
            ms=3.5,
            color="0.55",
            ecolor="0.8",
            lw=0.8,
            label="points (±1 SE)",
        )
        ax.plot(col(front, risk), col(front, "pnl_mean"), "o-", color="tab:blue", ms=5, label="Pareto frontier")
        u, _ = mv_utility(df, self.risk_aversion)
        if np.isfinite(u).any():
            b = int(np.nanargmax(u))
            ax.plot(
                col(df, risk)[b],
                col(df, "pnl_mean")[b],
                "*",
                color="tab:red",
                ms=14,
                label=f"best mean–variance (λ = {self.risk_aversion:g})",
            )
        ax.set_xlabel(f"{label} ({unit})")
        ax.set_ylabel(f"mean PnL ({PNL_UNIT})")
        ax.set_title(self.summary.title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return fig


# --------------------------------------------------------------------------- risk


class RiskFrames(NamedTuple):
    """The DataFrames of a risk run."""

    var: Any
    """One row per method: var, es (cash), confidence, horizon_days, n_scenarios, var_ci95 bounds."""
    contributions: Any
    """One row per (method, instrument): marginal_var, component_var, component_es."""
    positions: Any
    """One row per position (instruments and options): quantity, price, value, delta, gamma, vega."""


class RiskResult(FramesResult):
    """A book's Greeks and VaR/ES by method (parametric, historical, Monte Carlo).

    Attributes
    ----------
    summary : Summary
        ``<method>.var`` and ``<method>.es`` (losses, cash = price units × units, over ``horizon_days``),
        ``<method>.var_ci95_lo/hi`` where a method has an interval, ``greeks.*`` (book totals),
        ``limit_breaches``.
    methods : mapping of str to flatbook.risk.var.VaRResult
        The VaR results themselves.
    """

    _key_figures = (
        "parametric.var",
        "parametric.es",
        "historical.var",
        "historical.es",
        "monte-carlo.var",
        "monte-carlo.es",
        "greeks.value",
        "greeks.delta_cash",
        "greeks.vega",
        "limit_breaches",
    )

    def __init__(self, book, greeks, results: Mapping[str, Any], corr: Mapping[str, Any]):
        self.book, self.greeks, self.corr = book, greeks, corr
        self.methods = MappingProxyType(dict(results))
        q: dict[str, Quantity] = {}
        for m, r in results.items():
            q[f"{m}.var"] = Quantity(r.var, f"{CASH} (loss over {r.horizon:g} days, {r.confidence:g})")
            q[f"{m}.es"] = Quantity(r.es, f"{CASH} (loss over {r.horizon:g} days, {r.confidence:g})")
            if r.var_ci is not None:
                q[f"{m}.var_ci95_lo"] = Quantity(float(r.var_ci[0]), CASH)
                q[f"{m}.var_ci95_hi"] = Quantity(float(r.var_ci[1]), CASH)
        gunits = {
            "value": CASH,
            "delta_cash": f"{CASH} (delta-equivalent exposure)",
            "vega": "cash per 1.00 of implied volatility",
        }
        for k, v in greeks.totals.items():
            q[f"greeks.{k}"] = Quantity(v, gunits.get(k, ""))
        q["limit_breaches"] = Quantity(len(greeks.breaches), "limits breached")
        self.summary = Summary(q, f"risk — {book.name}")
        self._obj = risk_object(book, greeks, dict(self.methods), corr)

    def to_dict(self) -> dict[str, Any]:
        """The run as ``flatbook risk --json`` prints it."""
        return risk_object(self.book, self.greeks, dict(self.methods), self.corr)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(
            f"{b['instrument'] or 'book'}: {b['limit']} {b['value']:.6g} beyond {b['allowed']:.6g}"
            for b in self.greeks.breaches
        )

    def to_pandas(self) -> RiskFrames:
        """``(var, contributions, positions)`` DataFrames."""
        import pandas as pd  # lazy: start-up

        names = list(self.book.names)
        var_rows, contrib = [], []
        for m, r in self.methods.items():
            d = r.as_dict(names)
            ci = d.pop("var_ci95")
            for c in d.pop("contributions"):
                contrib.append({"method": m, **c})
            var_rows.append({**d, "var_ci95_lo": ci[0] if ci else None, "var_ci95_hi": ci[1] if ci else None})
        return RiskFrames(pd.DataFrame(var_rows), pd.DataFrame(contrib), pd.DataFrame(jsonable(self.greeks.rows)))

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write var.parquet, contributions.parquet and positions.parquet into ``directory``."""
        return write_frames(directory, self.to_pandas()._asdict())

    def _frames(self) -> Mapping[str, Any]:
        """``save(dir)``: summary.json (``flatbook risk --json``), var, contributions and positions.parquet."""
        return self.to_pandas()._asdict()

    def plot(self):
        """Component VaR per instrument, one bar group per method: a Figure, not written anywhere."""
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # lazy: start-up (matplotlib)
        )
        from matplotlib.figure import Figure

        contrib = self.to_pandas().contributions
        names = list(self.book.names)
        fig = Figure(figsize=(max(6.0, 0.8 * len(names) + 3), 4.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        methods = list(self.methods)
        w = 0.8 / max(1, len(methods))
        x = np.arange(len(names))
        for i, m in enumerate(methods):
            c = contrib[contrib["method"] == m].set_index("instrument").reindex(names)
            ax.bar(x + (i - (len(methods) - 1) / 2) * w, c["component_var"], w, label=m)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel(f"component VaR ({CASH})")
        ax.set_title(self.summary.title, fontsize=9)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.legend(fontsize=8)
        return fig


class StressFrames(NamedTuple):
    """The DataFrames of a stress run."""

    scenarios: Any
    """One row per scenario: name, kind, loss (cash), loss_over_capital, breach, description."""
    survivability: Any
    """One row per scenario: name, q_max (lots), method, loss_at_q_max (cash)."""


class StressResult(FramesResult):
    """A book's loss per stress scenario, the liquidation check and the survivable common hard limit Q_max.

    Attributes
    ----------
    summary : Summary
        ``loss.<scenario>`` (cash = price units × units, > 0 a loss), ``capital``, ``worst_loss``, ``q_max``
        (lots; None when no scenario loses), ``current_max_position`` (lots), ``headroom`` (q_max over it).
    stress_report : flatbook.risk.stress.StressReport
        The scenarios (with their details) and the survivability rows.
    book : flatbook.risk.book.Book
        The book.
    """

    _key_figures = ("capital", "worst_loss", "q_max", "current_max_position", "headroom")

    def __init__(self, book, report):
        self.book, self.stress_report = book, report
        self._obj = stress_object(book, report)
        sv = self._obj["survivability"]
        q: dict[str, Quantity] = {
            "capital": Quantity(self._obj["capital"], CASH),
            "worst_loss": Quantity(self._obj["worst_scenario"]["loss"], f"{CASH} ({report.worst.name})"),
            "q_max": Quantity(sv["q_max"], "lots"),
            "current_max_position": Quantity(sv["current_max_position"], "lots (max |delta-equivalent q|)"),
            "headroom": Quantity(sv["headroom"], "ratio (q_max / current)"),
        }
        for sc in report.scenarios:
            q[f"loss.{sc.name}"] = Quantity(sc.loss, CASH)
        self.summary = Summary(q, f"stress — {book.name}")

    @property
    def worst(self) -> str:
        """The name of the scenario with the largest loss."""
        return self.stress_report.worst.name

    @property
    def binding(self) -> str | None:
        """The scenario that binds Q_max (None when no scenario loses)."""
        return self.stress_report.survivability.binding

    def to_pandas(self) -> StressFrames:
        """``(scenarios, survivability)`` DataFrames."""
        import pandas as pd  # lazy: start-up

        cap = self.stress_report.capital
        rows = [
            {
                "name": sc.name,
                "kind": sc.kind,
                "loss": sc.loss,
                "loss_over_capital": sc.loss / cap,
                "breach": sc.loss > cap,
                "description": sc.description,
            }
            for sc in self.stress_report.scenarios
        ]
        surv = pd.DataFrame(jsonable(self.stress_report.survivability.per_scenario))
        return StressFrames(pd.DataFrame(rows), surv)

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write scenarios.parquet and survivability.parquet into ``directory``."""
        return write_frames(directory, self.to_pandas()._asdict())

    def _frames(self) -> Mapping[str, Any]:
        """``save(dir)``: summary.json (``flatbook stress --json``), scenarios and survivability.parquet."""
        return self.to_pandas()._asdict()

    def plot(self):
        """Loss per scenario against the capital (horizontal bars): a Figure, not written anywhere."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: start-up (matplotlib)
        from matplotlib.figure import Figure

        sc = self.stress_report.scenarios
        fig = Figure(figsize=(7.0, 1.0 + 0.45 * len(sc)), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.barh(
            [s.name for s in sc],
            [s.loss for s in sc],
            color=["C3" if s.loss > self.stress_report.capital else "C0" for s in sc],
        )
        ax.axvline(self.stress_report.capital, color="0.3", ls="--", lw=1, label="capital")
        ax.set_xlabel(f"loss ({CASH})")
        ax.set_title(self.summary.title, fontsize=9)
        ax.legend(fontsize=8)
        return fig


# --------------------------------------------------------------------------- schedule


class ScheduleResult(FramesResult):
    """An execution schedule and its Almgren–Chriss (2000) expected cost E and variance V.

    Attributes
    ----------
    schedule : flatbook.hedging.schedules.Schedule
        times t_k (days), holdings x_k and trades n_k (shares = lots).
    summary : Summary
        expected_cost ($), variance ($²), std ($), kappa (1/day), eta_tilde, tau (days), unfilled (shares).
    """

    _key_figures = ("expected_cost", "std", "variance", "kappa", "unfilled")

    def __init__(self, schedule, obj: Mapping[str, Any], units: Mapping[str, str]):
        self.schedule = schedule
        self._obj = dict(obj)
        self._units = dict(units)
        u = {
            "expected_cost": units["expected_cost"],
            "variance": units["variance"],
            "std": units["std"],
            "kappa": units["kappa"],
            "eta_tilde": units["eta"],
            "tau": units["time"],
            "unfilled": units["shares"],
        }
        figures = {k: obj[k] for k in u}
        figures["kappa"] = None if figures["kappa"] is None or not math.isfinite(figures["kappa"]) else figures["kappa"]
        self.summary = Summary.build(
            figures,
            u,
            f"schedule {schedule.method} — X = {schedule.X:,.6g} shares, T = {schedule.T:g} days, N = {schedule.N:,}",
        )

    def frontier_rows(self, risk_aversions: Sequence[float] | None = None) -> list[dict[str, float]]:
        """The Almgren–Chriss efficient frontier for this schedule's X, T, N and costs (§2.4, eqs. 14–15): one
        dict per λ (1/$, ascending, duplicates dropped) with risk_aversion, expected_cost ($), variance ($²),
        std ($) and kappa (1/day); default λ grid: :func:`flatbook.hedging.schedules.efficient_frontier`'s."""
        from ..hedging.schedules import efficient_frontier  # lazy: start-up

        s = self.schedule
        fr = efficient_frontier(s.X, s.T, s.N, s.sigma, s.eta, s.epsilon, s.gamma, risk_aversions=risk_aversions)
        return fr.rows()

    def frontier(self, risk_aversions: Sequence[float] | None = None):
        """:meth:`frontier_rows` as a DataFrame, one row per λ."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame(self.frontier_rows(risk_aversions))

    def frontier_object(self) -> dict[str, Any]:
        """What ``flatbook schedule --frontier --json`` prints: the frontier over the default λ grid plus this
        schedule's own λ (an Almgren–Chriss schedule's), with the schedule's parameters and the units."""
        s = self.schedule
        if s.risk_aversion is None:
            raise InputError("method", f"the frontier is over Almgren–Chriss schedules; this one is {s.method}")
        default = [r["risk_aversion"] for r in self.frontier_rows()]
        return {
            "method": "almgren-chriss",
            "params": s.params(),
            "risk_aversion": s.risk_aversion,
            "frontier": self.frontier_rows([*default, s.risk_aversion]),
            "units": dict(self._units),
        }

    def to_pandas(self):
        """One row per step k = 0..N: time t_k (days), trade n_k (shares; NaN at k = 0), holdings x_k."""
        import pandas as pd  # lazy: start-up

        s = self.schedule
        return pd.DataFrame(
            {
                "step": np.arange(s.N + 1),
                "time": s.times,
                "trade": np.concatenate(([np.nan], s.trades)),
                "holdings": s.holdings,
            }
        )

    def to_parquet(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write schedule.parquet into ``directory``."""
        return write_frames(directory, {"schedule": self.to_pandas()})

    def _frames(self) -> Mapping[str, Any]:
        """``save(dir)``: summary.json (``flatbook schedule --json``) and schedule.parquet."""
        return {"schedule": self.to_pandas()}

    def plot(self):
        """Holdings x_k against time (days): a Figure, not written anywhere."""
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # lazy: start-up (matplotlib)
        )
        from matplotlib.figure import Figure

        s = self.schedule
        fig = Figure(figsize=(7.0, 4.0), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.step(s.times, s.holdings, where="post", marker="o", ms=3)
        ax.set_xlabel("time (days = time units)")
        ax.set_ylabel("holdings (shares = lots)")
        ax.set_title(self.summary.title, fontsize=9)
        ax.grid(alpha=0.3)
        return fig
