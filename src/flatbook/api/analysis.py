"""``flatbook.sweep``, ``flatbook.risk`` and ``flatbook.schedule``: parameter sweeps, a book's VaR/ES and
execution schedules, with the command line's checks and numbers."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import build_config
from ..errors import InputError
from ..extras import require
from ..hedging import schedules as S
from ..hedging.schedule_methods import (
    AC_EPSILON,
    AC_ETA,
    AC_GAMMA,
    AC_HORIZON,
    AC_LAMBDA,
    AC_SHARES,
    AC_SIGMA,
    AC_STEPS,
    DEFAULT_CURVE,
    DEFAULT_METHOD,
    METHODS,
    VOLUME_CURVES,
)
from ..hedging.schedule_methods import UNITS as SCHEDULE_UNITS
from ..jsonutil import jsonable
from ..params import PARAMS
from ..results._files import check_out_dir
from ..results.analysis import RiskResult, ScheduleResult, StressResult, SweepResult, sweep_title
from ..suggest import unknown
from ..sweep.grid import grid_points, parse_grid, random_points
from ..sweep.objectives import OBJECTIVES, analyse
from ..sweep.runner import (
    Progress,
    SweepRunner,
    SweepTaskError,
    check_scheduler,
    describe,
    local_cores,
    make_point,
    make_points,
    optuna_search,
    simulate_point,
)
from ..sweep.studies import STUDIES
from ._args import (
    RUN_ARGUMENTS,
    ConfigLike,
    merge_params,
    one_policy,
    policy_name,
    resolve,
)

__all__ = [
    "OBJECTIVES",
    "STUDIES",
    "SweepInterrupted",
    "SweepStatus",
    "SweepTaskError",
    "check_scheduler",
    "load_book",
    "risk",
    "schedule",
    "stress",
    "sweep",
]


# --------------------------------------------------------------------------- sweep


def _grid_items(grid: Mapping[str, Any] | Sequence[str] | str) -> list[str]:
    """``{"skew": [0, 0.01], "gamma": "log:0.01:1:5"}`` or ``["skew=0:0.05:6"]`` as ``--grid`` items."""
    if isinstance(grid, str):
        return [grid]
    if isinstance(grid, Mapping):
        items = []
        for key, vals in grid.items():
            if isinstance(vals, str):
                items.append(f"{key}={vals}")
            elif isinstance(vals, Sequence) or hasattr(vals, "tolist"):
                seq = vals.tolist() if hasattr(vals, "tolist") else list(vals)
                if not seq:
                    raise InputError(f"grid[{key!r}]", "empty list of values")
                items.append(f"{key}=" + ",".join(v if isinstance(v, str) else repr(float(v)) for v in seq))
            else:
                raise InputError(f"grid[{key!r}]", f"expected a list of values or a range 'lo:hi:n', got {vals!r}")
        return items
    if isinstance(grid, Sequence) and all(isinstance(g, str) for g in grid):
        return list(grid)
    raise InputError("grid", "expected a mapping {parameter: values or 'lo:hi:n'} or a list of 'key=...' items")


#: what a sweep's ``status`` callback receives: points and paths done of the total, and the points resumed
SweepStatus = Progress


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep with ``out=``: the points finished so far are saved there (``saved`` of ``total``;
    ``total`` is None for an optuna search); the same call again resumes."""

    def __init__(self, saved: int, total: int | None, out: Path):
        super().__init__()
        self.saved, self.total, self.out = saved, total, out


def _check_int(field: str, v: Any, lo: int, hi: int) -> int | None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
        raise InputError(field, f"got {v!r}; allowed: an integer from {lo} to {hi:,}")
    return v


# manifest entries that do not change what a sweep computes or draws
_NOT_IDENTITY = ("status", "optuna_batch")


def _same_sweep(old: dict | None, meta: dict, *, ignore: tuple[str, ...] = ()) -> bool:
    """Whether the manifest ``old`` describes the sweep ``meta`` (compared as stored JSON)."""
    if not old:
        return False
    skip = set(_NOT_IDENTITY) | set(ignore)
    now = json.loads(json.dumps(jsonable({k: v for k, v in meta.items() if k not in skip})))
    return {k: v for k, v in old.items() if k not in skip} == now


def sweep(
    grid: Mapping[str, Any] | Sequence[str] | None = None,
    preset: str | None = None,
    policy: Any = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    random: int | None = None,
    optuna: int | None = None,
    study: str | None = None,
    objective: str = "mv",
    risk_aversion: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    points_per_task: int | None = None,
    out: str | os.PathLike | None = None,
    cluster: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    status: Callable[[Progress], None] | None = None,
    **overrides: Any,
) -> SweepResult:
    """Sweep parameters over a grid (or random points, an optuna search, or a built-in study); frontier and best
    points (``flatbook sweep``). Every point runs with the same seed (common random numbers).

    Parameters
    ----------
    grid : mapping or list of str
        ``{"skew": [0, 0.01, 0.02], "gamma": "log:0.01:1:5"}`` (values, ``lo:hi:n`` or ``log:lo:hi:n``;
        ``lo:hi`` bounds for ``random``/``optuna``), or the command line's items ``["skew=0:0.05:6"]``.
    preset, policy, paths, seed, params, config, **overrides
        The run shared by every point; see :func:`flatbook.run_config`.
    random : int, optional
        Draw this many random points (seeded) within the grid's bounds instead of the grid.
    optuna : int, optional
        An adaptive search of this many optuna trials (TPE, seeded) on ``objective``; needs the extra
        ``flatbook[sweep]``; runs on a cluster.
    study : str, optional
        A built-in study (skew-frontier or as-gamma), instead of a grid.
    objective : str, default "mv"
        The objective of ``optuna`` and of the starred point: mv, pnl_mean, sharpe, pnl_std, final_q_std,
        q_rms or es_95.
    risk_aversion : float, optional
        λ of the mean–variance utility E[PnL] − (λ/2)·Var[PnL], per (price unit × lot); default the
        run's gamma (0.1 for a study).
    workers, scheduler, points_per_task : optional
        A local Dask cluster of ``workers`` processes (default one per core), or the existing cluster at
        ``scheduler`` (tcp://host:port); ``points_per_task`` points per Dask task (default: tasks of about 3 s).
    out : path, optional
        Save each finished task at once under ``out/points/`` (a rerun of the same sweep into ``out`` skips
        the points there: resumable; Ctrl-C raises :class:`SweepInterrupted` with them saved), then
        ``results.parquet``, ``sweep.json`` and the figures (frontier.png, heatmap.png for a two-parameter
        grid, study.png); figures of a sweep ``out`` already held complete are kept.
    cluster : bool, optional
        Run on a Dask cluster (True) or in this process, one point after another (False; the numbers are the
        same). Default: a cluster when any of workers, scheduler, points_per_task, out or optuna is given.
    progress : callable(done, total), optional
        Called with the points done.
    status : callable(SweepStatus), optional
        Called with the points and paths done, their totals and the points resumed (cluster runs).

    Returns
    -------
    flatbook.results.SweepResult
        ``.points`` (DataFrame), ``.frontier(risk)``, ``.best``, ``.summary``, ``.plot()``; ``.to_json()``
        is the command line's ``--json``.
    """
    import pandas as pd  # lazy: start-up

    policy = policy_name(policy)
    values = merge_params(
        params,
        overrides,
        (
            "grid",
            "random",
            "optuna",
            "study",
            "objective",
            "risk_aversion",
            "workers",
            "scheduler",
            "points_per_task",
            "out",
            "cluster",
            *RUN_ARGUMENTS,
        ),
    )
    if objective not in OBJECTIVES:
        raise unknown("objective", "objective", objective, OBJECTIVES)
    n_workers = _check_int("workers", workers, 1, 1024)
    per_task = _check_int("points_per_task", points_per_task, 1, 1_000_000)
    n_random = _check_int("random", random, 1, 100_000)
    n_optuna = _check_int("optuna", optuna, 1, 100_000)
    if scheduler is not None:
        check_scheduler(scheduler)
        if n_workers is not None:
            raise InputError("workers", "sizes the local cluster only; the cluster at scheduler has its own workers")
    if risk_aversion is not None and (
        isinstance(risk_aversion, bool)
        or not isinstance(risk_aversion, (int, float))
        or not (math.isfinite(risk_aversion) and risk_aversion >= 0)
    ):
        raise InputError(
            "risk_aversion", f"got {risk_aversion!r}; allowed: a finite number >= 0 (per price unit × lot)"
        )
    axes: list = []
    keys: list[str] = []
    the_study = None
    if study is not None:
        the_study = STUDIES.get(study)
        if the_study is None:
            raise unknown("study", "study", study, STUDIES)
        for name, val in (
            ("grid", grid),
            ("random", random),
            ("optuna", optuna),
            ("preset", preset),
            ("policy", policy),
            ("params", params or overrides),
            ("config", config),
        ):
            if val:
                raise InputError("study", f"a study fixes its own points; drop {name}")
        cfg = build_config(
            "as2008", "linear-skew", {}, paths=the_study.default_paths if paths is None else paths, seed=seed or 0
        )  # checks paths and seed
        n, s = cfg.paths, cfg.seed
        points = the_study.points(n, s)
        mode, pol, preset_name = "study", None, None
        base: dict[str, Any] = {}
        grid_items: list[str] = []
        lam = 0.1 if risk_aversion is None else float(risk_aversion)
    else:
        pre, pol_raw, base, n_raw, s_raw = resolve(config, preset, policy, paths, seed, values)
        base_cfg = build_config(pre, one_policy(pol_raw), base, paths=n_raw, seed=s_raw)
        preset_name, pol, n, s = pre, base_cfg.policy, base_cfg.paths, base_cfg.seed
        grid_items = [] if grid is None else _grid_items(grid)
        try:
            axes = parse_grid(grid_items, fixed=set(values))
            if not axes:
                raise InputError(
                    "grid",
                    "give at least one parameter to sweep, e.g. grid={'skew': [0, 0.01, 0.02]} "
                    "(or study='skew-frontier')",
                )
            if n_random is not None and n_optuna is not None:
                raise InputError("optuna", "choose one of random and optuna")
            lam = float(base_cfg.values["gamma"]) if risk_aversion is None else float(risk_aversion)
            if n_optuna is not None:
                require("sweep", "optuna", field="optuna")
                for ax in axes:
                    if ax.lo is None and not ax.values:
                        raise InputError(f"grid {ax.item}", "give bounds or values for optuna")
                mode, combos = "optuna", []
            elif n_random is not None:
                mode, combos = "random", random_points(axes, n_random, s)
            else:
                mode, combos = "grid", grid_points(axes)
            points = make_points(preset_name, pol, base, combos, n, s) if combos else []
        except InputError as e:  # the command line's field names (--grid ...) as the API's
            if not e.field.startswith("--grid"):
                raise
            raise InputError("grid" + e.field[len("--grid") :], str(e)[len(e.field) + 2 :]) from None
        keys = [ax.key for ax in axes]
    out_dir = None if out is None else check_out_dir(out, "out")
    on_cluster = (
        cluster
        if cluster is not None
        else any(v is not None for v in (workers, scheduler, points_per_task, out, optuna))
    )
    if not on_cluster and (out_dir is not None or n_optuna is not None or scheduler is not None):
        raise InputError("cluster", "out, optuna and scheduler run on a cluster; leave cluster out or set it True")
    meta: dict[str, Any] = {
        "flatbook_sweep": 1,
        "mode": mode,
        "study": study,
        "preset": preset_name,
        "policy": pol,
        "grid": grid_items,
        "set": {k: str(v) for k, v in base.items()},
        "random": n_random,
        "optuna": n_optuna,
        "paths": n,
        "seed": s,
        "objective": objective,
        "risk_aversion": lam,
        "points": [p.id for p in points],
        "flatbook_version": __version__,
    }
    warnings: list[str] = []
    if not on_cluster:
        rows = []
        for i, p in enumerate(points):
            rows.append(simulate_point(p.spec()))
            if progress is not None:
                progress(i + 1, len(points))
        run_info: dict[str, Any] = {
            "points": len(rows),
            "computed": len(rows),
            "resumed": 0,
            "tasks": len(rows),
            "out": None,
        }
        return _sweep_result(rows, meta, keys, lam, objective, the_study, None, run_info, mode, axes, warnings)

    def tick(st: Progress) -> None:
        if status is not None:
            status(st)
        if progress is not None:
            progress(st.points_done, st.points_total)

    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows = []
    old = None
    with SweepRunner(out_dir, scheduler=scheduler, workers=n_workers, per_task=per_task, progress=tick) as runner:
        store = runner.store
        if store is not None:
            old = store.read_manifest()
            if old and old.get("flatbook_version") not in (None, __version__):
                warnings.append(
                    f"{out_dir} was started by flatbook {old.get('flatbook_version')}; "
                    f"its saved points are reused as they are"
                )
                if status is not None or progress is not None:  # the caller shows progress: say it now
                    sys.stderr.write(f"warning: {warnings[-1]}\n")
            store.write_manifest({**meta, "status": "running"})
        try:
            if mode == "optuna":
                obj = OBJECTIVES[objective]
                # set in the optuna branch above (None only for a study)
                assert preset_name is not None and pol is not None and n_optuna is not None

                def make(params: dict):
                    try:
                        return make_point(preset_name, pol, {**base, **params}, n, s)
                    except InputError as e:
                        raise InputError(f"--optuna trial {describe(params)}", str(e)) from None

                def score(row: dict):
                    v, _ = obj.evaluate(pd.DataFrame([row]), lam)
                    return float(v[0])

                # TPE's trials depend on the batch size: take it from the sweep's own manifest when
                # resuming (no cluster needed, the same trials whatever the cluster is now), else
                # the local cluster's size, else (a scheduler) its workers
                if old is not None and _same_sweep(old, meta, ignore=("points",)) and old.get("optuna_batch"):
                    batch = int(old["optuna_batch"])
                else:
                    batch = (n_workers or local_cores()) if scheduler is None else runner.n_workers()
                meta["optuna_batch"] = batch
                if store is not None:
                    store.write_manifest({**meta, "status": "running"})
                rows = optuna_search(
                    runner,
                    axes,
                    make,
                    n_optuna,
                    score,
                    direction="maximize" if obj.sense > 0 else "minimize",
                    seed=s,
                    batch=batch,
                )
                meta["points"] = list(dict.fromkeys(r["point_id"] for r in rows))
                rows = list({r["point_id"]: r for r in rows}.values())
            else:
                rows = runner.run(points)
        except KeyboardInterrupt:
            if store is not None and out_dir is not None:
                done = len(runner.done_ids() & set(meta["points"])) if meta["points"] else len(runner.done_ids())
                store.write_manifest({**meta, "status": "interrupted"})
                raise SweepInterrupted(done, len(meta["points"]) or None, out_dir) from None
            raise
        except SweepTaskError:
            if store is not None:
                store.write_manifest({**meta, "status": "failed"})
            raise
        stats, tasks_run = runner.stats, runner.tasks_run
        if store is not None:
            store.write_manifest({**meta, "status": "complete"})
    # nothing computed and DIR held this very sweep complete: its figures show these points already
    keep_figures = (
        stats.points_done == stats.cached
        and old is not None
        and old.get("status") == "complete"
        and _same_sweep(old, meta)
    )
    run_info = {
        "points": len(rows),
        "computed": stats.points_done - stats.cached,
        "resumed": stats.cached,
        "tasks": tasks_run,
        "out": str(out_dir) if out_dir else None,
    }
    return _sweep_result(
        rows, meta, keys, lam, objective, the_study, out_dir, run_info, mode, axes, warnings, keep_figures
    )


def _sweep_result(
    rows, meta, keys, lam, objective, the_study, out_dir, run_info, mode, axes, warnings, keep_figures=False
) -> SweepResult:
    import pandas as pd  # lazy: start-up

    df = pd.DataFrame(rows)
    if the_study is not None:
        keys = ["policy"] * (df["policy"].nunique() > 1) + [
            c for c in df.columns if c in PARAMS and df[c].astype(str).nunique() > 1
        ]
    points, fronts, best = analyse(df, [k for k in keys if k != "policy"], lam)
    study = the_study.analyse(df) if the_study is not None else None
    res = SweepResult(
        df,
        keys,
        lam,
        {"points": points, "frontiers": fronts, "best": best},
        meta,
        study,
        objective=objective,
        run=run_info,
        warnings=warnings,
        figures=_figures(df, meta, keys, lam, the_study, study, mode, axes),
    )
    if out_dir is not None:
        res._write_into(out_dir, keep_figures)
    return res


def _figures(df, meta, keys, lam, the_study, study, mode, axes) -> list:
    """The sweep's figures: (file name, draw(path)) pairs."""
    from ..sweep import report  # lazy: start-up (matplotlib)

    title = sweep_title(meta, lam)
    figures = []
    if the_study is not None:
        figures.append(("study.png", lambda p: the_study.figure(p, df, study)))
    if len(df) >= 2 and the_study is None:
        figures.append(("frontier.png", lambda p: report.write_frontier_png(p, df, keys=keys, lam=lam, title=title)))
    if mode == "grid" and len(axes) == 2 and all(len(ax.values) >= 2 for ax in axes):
        figures.append(("heatmap.png", lambda p: report.write_heatmap_png(p, df, keys, lam=lam, title=title)))
    return figures


# --------------------------------------------------------------------------- risk


def load_book(path: str | os.PathLike):
    """A book TOML file (instruments, covariance, options, limits, capital, scenarios; see ``examples/books/``)
    as a validated :class:`flatbook.risk.book.Book`, to pass to :func:`risk` and :func:`stress` several times.

    Raises
    ------
    flatbook.errors.InputError
        ``book``: a missing file or a bad table or value (naming the TOML key).
    """
    from ..risk.book import Book  # lazy: start-up (scipy)
    from ..risk.book import load_book as read_book

    if isinstance(path, Book):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise InputError("book", f"expected the path of a book TOML file, got {type(path).__name__}")
    try:
        return read_book(path)
    except InputError as e:  # the command line's --config is the API's book
        if e.field != "--config":
            raise
        raise InputError("book", str(e)[len(e.field) + 2 :]) from None


def risk(
    book: Any,
    *,
    confidence: float | None = None,
    horizon: float | None = None,
    mc_scenarios: int | None = None,
    seed: int | None = None,
) -> RiskResult:
    """Positions, Greeks, VaR/ES by method (parametric, historical, Monte Carlo) and contributions
    (``flatbook risk``).

    Parameters
    ----------
    book : path or Book
        A book TOML file: instruments, covariance, options, limits, capital (see ``examples/books/``), or a
        book loaded with :func:`load_book`.
    confidence : float, optional
        VaR/ES confidence α in (0.5, 1) (default: the book's ``[risk]``, 0.99).
    horizon : float, optional
        VaR horizon in days (> 0; default the book's, 1).
    mc_scenarios : int, optional
        Monte Carlo scenarios (>= 100; default the book's, 100 000).
    seed : int, optional
        Random seed (>= 0; default the book's, 0).

    Returns
    -------
    flatbook.results.RiskResult
        ``.summary`` (VaR and ES per method, cash), ``.to_pandas()`` (var, contributions, positions), ``.plot()``.
    """
    from ..risk.greeks import book_greeks  # lazy: start-up (scipy)
    from ..risk.memory import mc_bytes, require
    from ..risk.var import book_var, correlation_report

    b = load_book(book)
    for name, v, ok, allowed in (
        ("confidence", confidence, lambda x: 0.5 < x < 1.0, "a number > 0.5 and < 1"),
        ("horizon", horizon, lambda x: x > 0, "a number > 0 (days)"),
    ):
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v)
        ):
            raise InputError(name, f"got {v!r}; allowed: {allowed}")
    for name, v, lo in (("mc_scenarios", mc_scenarios, 100), ("seed", seed, 0)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
            raise InputError(name, f"got {v!r}; allowed: an integer >= {lo}")
    if mc_scenarios is not None:
        alpha = b.risk.confidence if confidence is None else confidence
        require(
            "mc_scenarios", mc_scenarios, lambda k: mc_bytes(k, b.d, len(b.options), alpha), "Monte Carlo scenarios"
        )
    g = book_greeks(b)
    results = book_var(b, confidence=confidence, horizon=horizon, mc_scenarios=mc_scenarios, seed=seed, greeks=g)
    return RiskResult(b, g, results, correlation_report(b.corr, b.names, b.risk.top_pairs))


def stress(book: Any, scenarios: Sequence[str] | str | None = None) -> StressResult:
    """The loss of a book under each stress scenario, the liquidation check, and the largest common hard limit
    Q_max (lots) every scenario survives, with the scenario that binds it (``flatbook stress``;
    :mod:`flatbook.risk.stress`).

    Parameters
    ----------
    book : path or Book
        A book TOML file (see ``examples/books/``) or a book loaded with :func:`load_book`.
    scenarios : sequence of str, optional
        Only these scenarios: overnight-gap, no-liquidity, worst-case, liquidation, or the name of one of the
        book's own ``[[scenario]]`` tables (default: all of them).

    Returns
    -------
    flatbook.results.StressResult
        ``.summary`` (loss per scenario, cash = price units × units; worst scenario; q_max in lots),
        ``.to_pandas()`` (scenarios, survivability), ``.plot()``.
    """
    from ..risk.stress import run_stress  # lazy: start-up (scipy)

    b = load_book(book)
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    try:
        report = run_stress(b, None if scenarios is None else list(scenarios))
    except InputError as e:
        if e.field != "--scenario":
            raise
        raise InputError("scenarios", str(e)[len(e.field) + 2 :]) from None
    return StressResult(b, report)


# --------------------------------------------------------------------------- schedule

_FIELDS = {"X": "shares", "T": "horizon", "N": "steps", "participation_cap": "participation"}


def schedule(
    method: str = DEFAULT_METHOD,
    *,
    shares: float = AC_SHARES,
    horizon: float = AC_HORIZON,
    steps: int = AC_STEPS,
    sigma: float = AC_SIGMA,
    eta: float = AC_ETA,
    epsilon: float = AC_EPSILON,
    gamma: float = AC_GAMMA,
    risk_aversion: float | None = None,
    volume_curve: str | None = None,
    participation: float | None = None,
    market_volume: float | None = None,
) -> ScheduleResult:
    """An execution schedule with its expected cost and variance (``flatbook schedule``; Almgren & Chriss,
    "Optimal execution of portfolio transactions", J. Risk 3(2), 2000). Defaults: the paper's worked example
    (§3.4, Table 1): 10⁶ shares sold over 5 days in 5 steps.

    Parameters
    ----------
    method : str, default "almgren-chriss"
        immediate, twap, vwap or almgren-chriss.
    shares : float
        Position to work off X (shares = lots; < 0 buys).
    horizon : float
        T (days = time units), > 0.
    steps : int
        N equal steps, >= 1.
    sigma, eta, epsilon, gamma : float
        Volatility σ (($/share)/√day), temporary impact η (($/share)/(share/day)), fixed cost ε ($/share),
        permanent impact γ (($/share)/share).
    risk_aversion : float, optional
        almgren-chriss only: λ >= 0 (1/$), default 10⁻⁶.
    volume_curve, participation, market_volume : optional
        vwap only: the market's volume curve (flat or u, default u); cap each step at ``participation`` ×
        the market volume (``market_volume``: shares over the horizon; give both or neither).

    Returns
    -------
    flatbook.results.ScheduleResult
        ``.summary`` (expected_cost $, variance $², std $, kappa 1/day, ...), ``.to_pandas()`` (steps),
        ``.plot()``, and ``.frontier()`` is :func:`flatbook.hedging.schedules.efficient_frontier`.
    """
    if method not in METHODS:
        raise unknown("method", "method", method, METHODS)
    if method != "almgren-chriss" and risk_aversion is not None:
        raise InputError("risk_aversion", f"only used with method='almgren-chriss' (got {method!r})")
    for name, v in (("volume_curve", volume_curve), ("participation", participation), ("market_volume", market_volume)):
        if v is not None and method != "vwap":
            raise InputError(name, f"only used with method='vwap' (got {method!r})")
    if volume_curve is not None and volume_curve not in VOLUME_CURVES:
        raise unknown("volume_curve", "volume curve", volume_curve, VOLUME_CURVES)
    if (participation is None) != (market_volume is None):
        raise InputError(
            "market_volume" if participation is not None else "participation",
            "vwap's participation cap needs both participation (0 < P <= 1) and market_volume "
            "(shares over the horizon)",
        )
    cost = {"sigma": sigma, "eta": eta, "epsilon": epsilon, "gamma": gamma}
    try:
        if method == "almgren-chriss":
            s = S.almgren_chriss(
                shares, horizon, steps, risk_aversion=AC_LAMBDA if risk_aversion is None else risk_aversion, **cost
            )
        elif method == "twap":
            s = S.twap(shares, horizon, steps, **cost)
        elif method == "immediate":
            s = S.immediate(shares, horizon, steps, **cost)
        else:
            s = S.vwap(
                shares,
                horizon,
                steps,
                volume_curve=volume_curve or DEFAULT_CURVE,
                participation_cap=participation,
                market_volume=market_volume,
                **cost,
            )
    except InputError as e:
        if e.field in _FIELDS:
            raise InputError(_FIELDS[e.field], str(e)[len(e.field) + 2 :]) from None
        raise
    obj = s.as_dict()
    if method == "vwap":
        obj["params"].update(
            volume_curve=volume_curve or DEFAULT_CURVE, participation_cap=participation, market_volume=market_volume
        )
    return ScheduleResult(s, {**obj, "units": SCHEDULE_UNITS}, SCHEDULE_UNITS)
