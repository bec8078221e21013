"""``flatbook.sweep``, ``flatbook.risk`` and ``flatbook.schedule``: parameter sweeps, a book's VaR/ES and
execution schedules, with the command line's checks and numbers."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import build_config
from ..errors import InputError
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
from ..params import PARAMS
from ..results.analysis import RiskResult, ScheduleResult, SweepResult
from ..suggest import unknown
from ..sweep.objectives import analyse
from ._args import (
    RUN_ARGUMENTS,
    ConfigLike,
    merge_params,
    one_policy,
    policy_name,
    resolve,
)

__all__ = ["risk", "schedule", "sweep"]


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
    study: str | None = None,
    risk_aversion: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> SweepResult:
    """Sweep parameters over a grid (or random points, or a built-in study); frontier and best points
    (``flatbook sweep``). Every point runs with the same seed (common random numbers).

    Parameters
    ----------
    grid : mapping or list of str
        ``{"skew": [0, 0.01, 0.02], "gamma": "log:0.01:1:5"}`` (values, ``lo:hi:n`` or ``log:lo:hi:n``), or
        the command line's items ``["skew=0:0.05:6"]``.
    preset, policy, paths, seed, params, config, **overrides
        The run shared by every point; see :func:`flatbook.run_config`.
    random : int, optional
        Draw this many random points (seeded) within the grid's bounds instead of the grid.
    study : str, optional
        A built-in study (skew-frontier or as-gamma), instead of a grid.
    risk_aversion : float, optional
        λ of the mean–variance utility E[PnL] − (λ/2)·Var[PnL], per (price unit × lot); default the
        run's gamma (0.1 for a study).
    workers, scheduler : optional
        Run on a local Dask cluster of ``workers`` processes or on the cluster at ``scheduler``
        (tcp://host:port). Default: in this process, one point after another (the numbers are the same).
    progress : callable(done, total), optional
        Called after each point (in-process runs).

    Returns
    -------
    flatbook.results.SweepResult
        ``.points`` (DataFrame), ``.frontier(risk)``, ``.best``, ``.summary``, ``.plot()``.
    """
    import pandas as pd  # lazy: start-up

    from ..sweep import runner
    from ..sweep.grid import grid_points, parse_grid, random_points
    from ..sweep.studies import STUDIES

    policy = policy_name(policy)
    values = merge_params(
        params, overrides, ("grid", "random", "study", "risk_aversion", "workers", "scheduler", *RUN_ARGUMENTS)
    )
    if random is not None and (isinstance(random, bool) or not isinstance(random, int) or not 1 <= random <= 100_000):
        raise InputError("random", f"got {random!r}; allowed: an integer from 1 to 100000")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024):
        raise InputError("workers", f"got {workers!r}; allowed: an integer from 1 to 1024")
    if scheduler is not None:
        runner.check_scheduler(scheduler)
    if risk_aversion is not None and (
        isinstance(risk_aversion, bool)
        or not isinstance(risk_aversion, (int, float))
        or not (math.isfinite(risk_aversion) and risk_aversion >= 0)
    ):
        raise InputError(
            "risk_aversion", f"got {risk_aversion!r}; allowed: a finite number >= 0 (per price unit × lot)"
        )
    keys: list[str] = []
    the_study = None
    if study is not None:
        the_study = STUDIES.get(study)
        if the_study is None:
            raise unknown("study", "study", study, STUDIES)
        for name, val in (
            ("grid", grid),
            ("random", random),
            ("preset", preset),
            ("policy", policy),
            ("params", params or overrides),
            ("config", config),
        ):
            if val:
                raise InputError("study", f"a study fixes its own points; drop {name}")
        n = paths if paths is not None else the_study.default_paths
        s = seed if seed is not None else 0
        cfg = build_config("as2008", "linear-skew", {}, paths=n, seed=s)  # checks paths and seed
        points = the_study.points(cfg.paths, cfg.seed)
        lam = 0.1 if risk_aversion is None else float(risk_aversion)
        meta = {"mode": "study", "study": study, "paths": cfg.paths, "seed": cfg.seed, "risk_aversion": lam}
    else:
        if grid is None:
            raise InputError(
                "grid",
                "give at least one parameter to sweep, e.g. grid={'skew': [0, 0.01, 0.02]} (or study='skew-frontier')",
            )
        pre, pol, vals, n, s = resolve(config, preset, policy, paths, seed, values)
        base_cfg = build_config(pre, one_policy(pol), vals, paths=n, seed=s)
        try:
            axes = parse_grid(_grid_items(grid), fixed=set(values))
            if not axes:
                raise InputError("grid", "give at least one parameter to sweep")
            combos = random_points(axes, random, base_cfg.seed) if random is not None else grid_points(axes)
            points = runner.make_points(base_cfg.preset, base_cfg.policy, vals, combos, base_cfg.paths, base_cfg.seed)
        except InputError as e:  # the command line's field names (--grid ...) as the API's
            if not e.field.startswith("--grid"):
                raise
            raise InputError("grid" + e.field[len("--grid") :], str(e)[len(e.field) + 2 :]) from None
        keys = [ax.key for ax in axes]
        lam = float(base_cfg.values["gamma"]) if risk_aversion is None else float(risk_aversion)
        meta = {
            "mode": "random" if random is not None else "grid",
            "preset": base_cfg.preset,
            "policy": base_cfg.policy,
            "grid": _grid_items(grid),
            "paths": base_cfg.paths,
            "seed": base_cfg.seed,
            "risk_aversion": lam,
        }
    if workers is None and scheduler is None:
        rows = []
        for i, p in enumerate(points):
            rows.append(runner.simulate_point(p.spec()))
            if progress is not None:
                progress(i + 1, len(points))
    else:
        rows = runner.run_sweep(points, scheduler=scheduler, workers=workers)
    df = pd.DataFrame(rows)
    if the_study is not None:
        keys = ["policy"] * (df["policy"].nunique() > 1) + [
            c for c in df.columns if c in PARAMS and df[c].astype(str).nunique() > 1
        ]
    analysis = analyse(df, [k for k in keys if k != "policy"], lam)
    res = {"points": analysis[0], "frontiers": analysis[1], "best": analysis[2]}
    title = (
        f"sweep {study}" if study else f"sweep {meta['policy']} over {', '.join(keys)}"
    ) + f" — {len(df)} points, {meta['paths']:,} paths, seed {meta['seed']}, λ = {lam:g}"
    return SweepResult(df, keys, lam, res, meta, the_study.analyse(df) if the_study is not None else None, title)


# --------------------------------------------------------------------------- risk


def risk(
    book: str | os.PathLike,
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
    book : path
        A book TOML file: instruments, covariance, options, limits, capital (see ``examples/books/``).
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
    from ..risk.book import load_book  # lazy: start-up (scipy)
    from ..risk.greeks import book_greeks
    from ..risk.memory import mc_bytes, require
    from ..risk.var import book_var, correlation_report

    try:
        b = load_book(book)
    except InputError as e:  # the command line's --config is the API's book
        if e.field != "--config":
            raise
        raise InputError("book", str(e)[len(e.field) + 2 :]) from None
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
