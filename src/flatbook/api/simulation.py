"""``flatbook.simulate`` and ``flatbook.compare``: the Monte Carlo simulator (``quote``/``quotes`` are re-exported
from :mod:`flatbook.api.quoting`), with keyword arguments, typed configs or preset names (see :mod:`flatbook.api._args`)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import build_config, check_stats, load_toml
from ..errors import InputError
from ..multi.simulator import MultiConfig, check_read, multi_preset, simulate_multi
from ..results.hedging import FRONTIER_KEYS, HedgeFrontierResult
from ..results.multi import MultiResult
from ..results.simulation import ComparisonResult, SimulationResult
from ..sim import simulator
from ._args import RUN_ARGUMENTS, ConfigLike, merge_params, policy_name, resolve, run_config
from .quoting import quote, quotes

__all__ = [
    "DEFAULT_THRESHOLDS",
    "compare",
    "hedge_frontier",
    "hedge_frontier_configs",
    "multi",
    "multi_config",
    "quote",
    "quotes",
    "simulate",
]

Progress = Callable[[int, int], None]


def _stats(stats: str | None, config: ConfigLike) -> str:
    """The run's statistics: ``stats``, else a TOML ``config``'s ``[run] stats``, else ``"full"``."""
    if stats is not None:
        return check_stats(stats)
    if isinstance(config, (str, os.PathLike)):
        return check_stats(load_toml(config)[0].get("stats", "full"), "run.stats")
    return "full"


def simulate(
    preset: str | None = None,
    policy: Any = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    record_paths: Sequence[int] = (0,),
    progress: Progress | None = None,
    mid: Any = None,
    fill: Any = None,
    stats: str | None = None,
    cost: Any = None,
    impact: Any = None,
    **overrides: Any,
) -> SimulationResult:
    """Simulate one policy over many Monte Carlo paths (``flatbook simulate``).

    The market is the preset's (mid-price model, order flow λ(δ) = A·e^(−kδ), ...), the policy
    quotes through its controls (hard limit, zones, kill switch), and each path's random
    stream depends only on (seed, path index), so results are reproducible bit for bit.

    Parameters
    ----------
    preset, policy, paths, seed, params, config, **overrides
        The run; see :func:`flatbook.run_config` (defaults: ``as2008``, ``avellaneda-stoikov``,
        10 000 paths, seed 0).
    record_paths : sequence of int, default (0,)
        Paths whose full time series are kept (``result.series``, ``plot()``).
    progress : callable(done, total), optional
        Called after each chunk of paths.
    mid : flatbook.market.stage.MidStage or BoundStage, optional
        Your own mid-price stage (``flatbook.market.stage.load_stage_file(path, name).bind(**params)``), in
        place of the preset's ``mid_model``; it draws from the same per-path streams (common random numbers).
        See the user guide's "Market models" page.
    fill : flatbook.market.fill_stage.FillStage or BoundStage, optional
        Your own fill stage (``flatbook.api.catalogue.load_fill_stage(path, name, params)``): a resting quote's
        fill probability per step, in place of the flow's A·e^(−kδ)·dt; the flow's random numbers are unchanged.
    stats : {"full", "lean"}, optional
        Default: a TOML ``config``'s ``[run] stats``, else ``"full"``. ``"lean"``: only the per-path pnl, final_q, max_abs_q, fills and spread_mean, and the summary they give
        (``stats="lean"`` in it), each the same number as the full run's, 1.5–2× as fast; the model is the
        same (limits, costs, hedging, stages all act).
    cost : flatbook.market.cost_stage.CostStage or BoundStage, optional
        Your own cost stage (``flatbook.api.catalogue.load_cost_stage(path, name, params)``): the fee, financing
        and borrow each path pays per step (price units), in place of ``maker_fee`` and ``financing_long/short``.
    impact : flatbook.hedging.impact_stage.ImpactStage or BoundStage, optional
        Your own impact stage (``flatbook.api.catalogue.load_impact_stage(path, name, params)``): each hedge
        trade's price and its temporary and permanent impact (price units), in place of the built-in model.

    Returns
    -------
    flatbook.results.SimulationResult
        ``.summary`` (PnL mean ± SE in price units × lots, inventory in lots, ...),
        ``.to_pandas()``, ``.to_parquet(dir)``, ``.plot()``.

    Examples
    --------
    >>> import flatbook
    >>> res = flatbook.simulate(preset="as2008", policy="glft", paths=2_000, seed=0, gamma=0.1)
    >>> res.summary["pnl_mean"]          # doctest: +SKIP
    Quantity(value=..., unit='price units × lots', se=...)
    """
    stats = _stats(stats, config)
    cfg = run_config(preset, policy, paths=paths, seed=seed, params=params, config=config, **overrides)
    return SimulationResult(
        simulator.simulate(
            cfg,
            record_paths=record_paths,
            progress=progress,
            mid=mid,
            fill=fill,
            cost=cost,
            impact=impact,
            stats=stats,
        )
    )


def compare(
    policies: Sequence[str] | None = None,
    preset: str | None = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    progress: Progress | None = None,
    mid: Any = None,
    fill: Any = None,
    stats: str | None = None,
    cost: Any = None,
    impact: Any = None,
    **overrides: Any,
) -> ComparisonResult:
    """Several policies on identical order flow (``flatbook compare``): the same seed gives every policy the
    same random numbers, so their paired differences have small standard errors (common random numbers).

    Parameters
    ----------
    policies : sequence of str or Policy
        The policies (names or your own policy objects), the first being the baseline of the paired differences
        (or ``run.policy`` of a TOML ``config``).
    preset, paths, seed, params, config, **overrides
        The run shared by every policy; see :func:`flatbook.run_config`.
    progress : callable(done, total), optional
        Called after each chunk of paths, counting over all policies.
    mid : flatbook.market.stage.MidStage or BoundStage, optional
        Your own mid-price stage (``flatbook.market.stage.load_stage_file(path, name).bind(**params)``), in
        place of the preset's ``mid_model``; it draws from the same per-path streams (every policy sees the same mids).
        See the user guide's "Market models" page.
    fill : flatbook.market.fill_stage.FillStage or BoundStage, optional
        Your own fill stage (``flatbook.api.catalogue.load_fill_stage(path, name, params)``): a resting quote's
        fill probability per step, in place of the flow's A·e^(−kδ)·dt; every policy sees the same uniforms.
    stats : {"full", "lean"}, optional
        As in :func:`simulate`. ``"lean"``: each policy's lean outputs only (see :func:`simulate`); the paired differences cover the
        metrics those give (pnl, final_q, max_abs_q, fills).
    cost, impact : CostStage, ImpactStage or BoundStage, optional
        Your own cost and impact stages, as in :func:`simulate`.

    Returns
    -------
    flatbook.results.ComparisonResult
        ``.summary[policy]``, ``.differences[policy][metric]`` (value ± paired SE, and the unpaired SE
        for contrast; SE = std(x_i − x_0)/√n, delta method for std metrics), ``.to_pandas()``, ...
    """
    stats = _stats(stats, config)
    policies = policy_name(policies)
    values = merge_params(params, overrides, ("policies", *RUN_ARGUMENTS))
    pre, names, vals, n, s = resolve(config, preset, policies, paths, seed, values)
    if isinstance(names, str):
        names = [names]
    if not names:
        raise InputError("policies", "give at least one policy, e.g. policies=['avellaneda-stoikov', 'glft']")
    if not isinstance(names, (list, tuple)):
        raise InputError("policies", f"expected a list of policy names; got {names!r}")
    seen: set = set()
    for name in names:
        if name in seen:
            raise InputError("policies", f"duplicate policy {name!r}; give each policy once")
        seen.add(name)
    cfgs = [build_config(pre, name, vals, paths=n, seed=s) for name in names]
    raws = []
    for i, cfg in enumerate(cfgs):
        cb = (
            None
            if progress is None
            else (lambda done, total, i=i, c=cfg: progress(i * c.paths + done, len(cfgs) * c.paths))
        )
        raws.append(
            simulator.simulate(
                cfg, record_paths=(0,), progress=cb, mid=mid, fill=fill, cost=cost, impact=impact, stats=stats
            )
        )
    return ComparisonResult(raws)


#: the default hedge thresholds of :func:`hedge_frontier` (lots on |x − q*|; inf = no hedge)
DEFAULT_THRESHOLDS = (0.5, 1.0, 2.0, 4.0, 8.0, math.inf)


def _thresholds(thresholds: Any) -> list[float]:
    if isinstance(thresholds, (int, float)) and not isinstance(thresholds, bool):
        thresholds = [thresholds]
    try:
        out = [float(t) for t in thresholds if not isinstance(t, bool)]
    except (TypeError, ValueError):
        out = []
    if not out or len(out) != len(list(thresholds)) or any(math.isnan(t) or t < 0 for t in out):
        raise InputError("thresholds", f"got {thresholds!r}; allowed: numbers >= 0 (lots; inf = no hedge)")
    if len(set(out)) != len(out):
        raise InputError("thresholds", f"got {thresholds!r}; give distinct thresholds")
    return sorted(out)


def hedge_frontier_configs(
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    preset: str | None = None,
    policy: Any = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    **overrides: Any,
) -> list:
    """The validated run of each threshold of :func:`hedge_frontier` (same arguments), sorted by threshold:
    ``hedge_trigger = "threshold"`` and ``hedge_threshold = t`` over the given run."""
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("thresholds", *RUN_ARGUMENTS))
    pre, pol, vals, n, s = resolve(config, preset, policy, paths, seed, values)
    pol = "linear-skew" if pol is None else pol
    cfgs = []
    for t in _thresholds(thresholds):
        try:
            cfgs.append(
                build_config(pre, pol, {**vals, "hedge_trigger": "threshold", "hedge_threshold": t}, paths=n, seed=s)
            )
        except InputError as e:
            if e.field != "hedge_threshold":
                raise
            raise InputError("thresholds", f"threshold {t:g}: {str(e).split(': ', 1)[-1]}") from None
    return cfgs


def hedge_frontier(
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    preset: str | None = None,
    policy: Any = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> HedgeFrontierResult:
    """The hedge threshold swept from tight to loose (``flatbook hedge-frontier``): one simulation per threshold
    of the same run (common random numbers) with ``hedge_trigger = "threshold"``, giving what hedging costs
    against the risk it leaves.

    Parameters
    ----------
    thresholds : sequence of float, default (0.5, 1, 2, 4, 8, inf)
        Hedge thresholds on |x − q*| (lots), distinct, >= 0; ``math.inf`` = no hedge.
    preset, policy, paths, seed, params, config, **overrides
        The run; see :func:`flatbook.run_config` (default policy here: ``linear-skew``).
    progress : callable(done, total), optional
        Called after each chunk of paths, counting over all thresholds.

    Returns
    -------
    flatbook.results.HedgeFrontierResult
        ``.rows`` (per threshold: hedge cost, count, volume, residual risk = std of hedged PnL, price and
        basis PnL std, mean PnL ± SE; price units × lots), ``.to_pandas()``, ``.plot()``, ``.save(dir)``.
    """
    cfgs = hedge_frontier_configs(
        thresholds, preset, policy, paths=paths, seed=seed, params=params, config=config, **overrides
    )
    thr = _thresholds(thresholds)
    total = sum(c.paths for c in cfgs)
    rows = []
    for i, cfg in enumerate(cfgs):
        cb = None if progress is None else (lambda d, t, o=i * cfg.paths: progress(o + d, total))
        res = simulator.simulate(cfg, progress=cb, counterfactual=False)  # the frontier has its own "no hedge" row
        rows.append({"threshold": thr[i], **{k: res.summary[k] for k in FRONTIER_KEYS}})
    return HedgeFrontierResult(rows, cfgs, thr)


#: the multi-instrument preset :func:`multi` runs by default
DEFAULT_MULTI_PRESET = "multi-asset"


def multi_config(
    preset: str | None = None,
    *,
    correlation: float | None = None,
    portfolio_skew: bool | None = None,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | None = None,
    **overrides: Any,
) -> MultiConfig:
    """The validated run of :func:`multi` (same arguments): every instrument's config, the correlation matrix,
    the skew and the run's size; a parameter the multi-instrument simulator does not read is refused."""
    values = merge_params(params, overrides, ("preset", "correlation", "portfolio_skew", *RUN_ARGUMENTS))
    run: dict[str, Any] = {}
    if config is not None:
        if not isinstance(config, (str, os.PathLike)):
            raise InputError("config", f"expected the path of a TOML file, got {type(config).__name__}")
        run, base = load_toml(config)
        values = {**base, **values}
    if "policy" in run:
        raise InputError("run.policy", "multi takes each instrument's policy from the multi-instrument preset")
    if correlation is not None and (isinstance(correlation, bool) or not isinstance(correlation, (int, float))):
        raise InputError("correlation", f"got {correlation!r}; allowed: a number from -1 to 1")
    mc = multi_preset(
        preset if preset is not None else run.get("preset", DEFAULT_MULTI_PRESET),
        None if correlation is None else float(correlation),
        portfolio_skew,
        paths if paths is not None else run.get("paths", 10_000),
        seed if seed is not None else run.get("seed", 0),
        values,
    )
    check_read(values, mc)
    return mc


def multi(
    preset: str | None = None,
    *,
    correlation: float | None = None,
    portfolio_skew: bool | None = None,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | MultiConfig | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> MultiResult:
    """One maker quoting several correlated instruments (``flatbook multi``): correlated Gaussian mids, each
    instrument's own policy and order flow, and (by default) quotes skewed on the portfolio's risk qᵀΣq
    rather than on each inventory alone.

    Parameters
    ----------
    preset : str, optional
        A multi-instrument preset (default ``"multi-asset"``: two instruments A and B).
    correlation : float, optional
        The correlation ρ of the two mids, -1 to 1 (default the preset's).
    portfolio_skew : bool, optional
        False: each instrument skews on its own inventory (default the preset's: True).
    paths, seed : int, optional
        Monte Carlo paths (default 10 000) and seed (default 0).
    params, **overrides
        ``key`` sets every instrument's parameter, ``"NAME.key"`` one instrument's (e.g. ``{"B.sigma": 3}``).
    config : path or MultiConfig, optional
        A TOML file with ``[run]`` and ``[params]`` tables, or a run from :func:`multi_config` (then the other
        run arguments must not be given; ``preset`` only names it).
    progress : callable(done, total), optional
        Called after each chunk of paths.

    Returns
    -------
    flatbook.results.MultiResult
        ``.summary`` (portfolio PnL ± SE and risk in price units × lots; per instrument inventory in lots),
        ``.to_pandas()`` (per path), ``.plot()``, ``.save(dir)``, ``.report(path)``.
    """
    if isinstance(config, MultiConfig):
        given = (correlation, portfolio_skew, paths, seed, params or None, overrides or None)
        if any(v is not None for v in given):
            raise InputError("config", "a MultiConfig is a whole run; give the other arguments to multi_config")
        mc = config
    else:
        mc = multi_config(
            preset,
            correlation=correlation,
            portfolio_skew=portfolio_skew,
            paths=paths,
            seed=seed,
            params=params,
            config=config,
            **overrides,
        )
    if preset is None:
        preset = load_toml(config)[0].get("preset") if isinstance(config, (str, os.PathLike)) else None
    return MultiResult(simulate_multi(mc, progress=progress), preset or DEFAULT_MULTI_PRESET)
