"""``flatbook.simulate``, ``flatbook.compare`` and ``flatbook.quote``: the Monte Carlo simulator and the
policies' quotes, with keyword arguments, typed configs or preset names (see :mod:`flatbook.api._args`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..config import RunConfig, build_config
from ..errors import InputError
from ..params import BIG, bound_text
from ..policies.quote import quote as quote_one
from ..policies.quote import quotes as quote_arrays
from ..results.quote import QuoteResult, QuotesResult
from ..results.simulation import ComparisonResult, SimulationResult
from ..sim.simulator import simulate as run_simulation
from ._args import (
    RUN_ARGUMENTS,
    ConfigLike,
    merge_params,
    one_policy,
    policy_name,
    resolve,
    run_config,
)

__all__ = ["compare", "quote", "quotes", "simulate"]

Progress = Callable[[int, int], None]


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
    cfg = run_config(preset, policy, paths=paths, seed=seed, params=params, config=config, **overrides)
    return SimulationResult(run_simulation(cfg, record_paths=record_paths, progress=progress))


def compare(
    policies: Sequence[str] | None = None,
    preset: str | None = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    progress: Progress | None = None,
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

    Returns
    -------
    flatbook.results.ComparisonResult
        ``.summary[policy]``, ``.differences[policy][metric]`` (value ± paired SE, and the unpaired SE
        for contrast; SE = std(x_i − x_0)/√n, delta method for std metrics), ``.to_pandas()``, ...
    """
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
        raws.append(run_simulation(cfg, record_paths=(0,), progress=cb))
    return ComparisonResult(raws)


def _number(field: str, raw: Any, default: float) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise InputError(field, f"got {raw!r}, not a number")
    try:
        val = float(raw)
    except (TypeError, ValueError):
        raise InputError(field, f"got {raw!r}, not a number") from None
    if not math.isfinite(val):
        raise InputError(field, f"got {raw!r}; allowed: a finite number")
    return val


def quote(
    q: float = 0.0,
    *,
    mid: float | None = None,
    t: float = 0.0,
    preset: str | None = None,
    policy: Any = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    **overrides: Any,
) -> QuoteResult:
    """The quotes of one policy for one state (``flatbook quote``), through the simulator's own compiled code.

    Parameters
    ----------
    q : float, default 0
        Inventory (lots), |q| <= 1e9.
    mid : float, optional
        Mid price (price units, > 0); default the preset's ``s0``.
    t : float, default 0
        Time since the start (time units), 0 <= t <= T.
    preset, policy, params, config, **overrides
        The run; see :func:`flatbook.run_config`.

    Returns
    -------
    flatbook.results.QuoteResult
        ``.summary``: bid, ask (None when that side is not quoted), depths, sizes, centre, half-spread,
        skew and zone, with units; ``.quote`` the plain :class:`flatbook.policies.quote.Quote`.
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("q", "mid", "t", *RUN_ARGUMENTS))
    pre, pol, vals, _, _ = resolve(config, preset, policy, None, None, values)
    cfg: RunConfig = build_config(pre, one_policy(pol), vals, paths=1, seed=0)
    qv = _number("q", q, 0.0)
    if abs(qv) > BIG:
        raise InputError("q", f"got {q}; allowed: a number from -{bound_text(BIG)} to {bound_text(BIG)} (lots)")
    s = _number("mid", mid, cfg.values["s0"])
    if not 0 < s <= BIG:
        raise InputError("mid", f"got {mid}; allowed: a number > 0 and <= {bound_text(BIG)} (price units)")
    tv = _number("t", t, 0.0)
    T = cfg.values["T"]
    if not 0.0 <= tv <= T:
        raise InputError("t", f"got {t}; allowed: a number from 0 to T = {T:g} (time units)")
    return QuoteResult(cfg, quote_one(cfg, qv, s, tv))


def _array(field: str, raw: Any, default: float, lo: float, hi: float, allowed: str):
    """``raw`` (number or array-like; None → ``default``) as a float array within [lo, hi], or InputError."""
    if raw is None:
        raw = default
    try:
        a = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise InputError(field, f"got {raw!r}, not numbers; allowed: {allowed}") from None
    bad = ~np.isfinite(a) | (a < lo) | (a > hi)
    if bad.any():
        raise InputError(field, f"got {float(a[bad].flat[0])!r}; allowed: {allowed}")
    return a


def quotes(
    q: Any = 0.0,
    *,
    mid: Any = None,
    t: Any = 0.0,
    preset: str | None = None,
    policy: Any = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    **overrides: Any,
) -> QuotesResult:
    """One policy's quotes over many states at once: arrays (or numbers) of inventory, mid and time,
    broadcast together (NumPy rules), through the same compiled code as :func:`quote` and the engines.

    Parameters
    ----------
    q : array-like, default 0
        Inventories (lots), e.g. ``numpy.arange(-10, 11)``.
    mid : array-like, optional
        Mid prices (price units, > 0); default the preset's ``s0``.
    t : array-like, default 0
        Times since the start (time units), 0 <= t <= T.
    preset, policy, params, config, **overrides
        The run; see :func:`flatbook.run_config`.

    Returns
    -------
    flatbook.results.QuotesResult
        ``.to_pandas()`` (one row per state), ``.arrays``, ``.units``, ``.plot()`` (depths against q).
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("q", "mid", "t", *RUN_ARGUMENTS))
    pre, pol, vals, _, _ = resolve(config, preset, policy, None, None, values)
    cfg: RunConfig = build_config(pre, one_policy(pol), vals, paths=1, seed=0)
    T = cfg.values["T"]
    qa = _array("q", q, 0.0, -BIG, BIG, f"numbers from -{bound_text(BIG)} to {bound_text(BIG)} (lots)")
    sa = _array("mid", mid, cfg.values["s0"], math.ulp(0.0), BIG, f"numbers > 0 and <= {bound_text(BIG)} (price units)")
    ta = _array("t", t, 0.0, 0.0, T, f"numbers from 0 to T = {T:g} (time units)")
    try:
        sa, qa, ta = (np.ascontiguousarray(x).ravel() for x in np.broadcast_arrays(sa, qa, ta))
    except ValueError:
        raise InputError(
            "q", f"q, mid and t do not broadcast together: shapes {np.shape(q)}, {np.shape(mid)}, {np.shape(t)}"
        ) from None
    out = quote_arrays(cfg, sa, qa, ta)
    return QuotesResult(cfg, {"q": qa, "mid": sa, "t": ta, **{k: np.asarray(v).ravel() for k, v in out.items()}})
