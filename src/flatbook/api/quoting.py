"""``flatbook.quote`` and ``flatbook.quotes``: a policy's quotes for given states, through the engines' own compiled
code (:mod:`flatbook.policies.quote`).

Kept apart from :mod:`flatbook.api.simulation` so that a quote does not load the simulator (start-up of
``flatbook quote``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import RunConfig, build_config
from ..errors import InputError
from ..params import BIG, bound_text
from ..policies.quote import quote as quote_one
from ..policies.quote import quotes as quote_arrays
from ..results.quote import QuoteResult, QuotesResult
from ._args import RUN_ARGUMENTS, ConfigLike, merge_params, one_policy, policy_name, resolve

__all__ = ["quote", "quotes"]


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
    q: float | str = 0.0,
    *,
    mid: float | str | None = None,
    t: float | str | None = 0.0,
    regime: int | str = 0,
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
        Inventory (lots), |q| <= 1e9 (a number, or its text as on the command line).
    mid : float, optional
        Mid price (price units, > 0); default the preset's ``s0``.
    t : float, default 0
        Time since the start (time units), 0 <= t <= T (None: 0).
    regime : int, default 0
        The volatility regime, 0 (calm) or 1 (volatile): read by a table policy with a regime axis
        (:func:`flatbook.policies.table.table_policy`), ignored by every other policy.
    preset, policy, params, config, **overrides
        The run; see :func:`flatbook.run_config`.

    Returns
    -------
    flatbook.results.QuoteResult
        ``.summary``: bid, ask (None when that side is not quoted), depths, sizes, centre, half-spread,
        skew and zone, with units; ``.quote`` the plain :class:`flatbook.policies.quote.Quote`. A ladder
        policy (``@flatbook.policy(..., levels=L)``): those fields are level 1's, ``.levels`` lists every
        level (bid and ask price, depth, size), and the summary adds ``levels`` and each side's total size.
        The hard limit caps the sum of a side's sizes: the side that would grow |q| is cut so that |q|
        does not pass the limit even if every level of that side filled
        (:func:`flatbook.policies.quote.ladder_controls`).
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("q", "mid", "t", "regime", *RUN_ARGUMENTS))
    pre, pol, vals, _, _ = resolve(config, preset, policy, None, None, values)
    cfg: RunConfig = build_config(pre, one_policy(pol), vals, paths=1, seed=0)
    rv = _number("regime", regime, 0.0)  # 0 or 1: checked by the quotes (flatbook.policies.quote.quotes)
    qv = _number("q", q, 0.0)
    if abs(qv) > BIG:
        raise InputError(
            "q",
            f"got {q}; allowed: a number from -{bound_text(BIG)} to {bound_text(BIG)} "
            "(lots; flatbook's largest inventory, flatbook.params.BIG)",
        )
    s = _number("mid", mid, cfg.values["s0"])
    if not 0 < s <= BIG:
        raise InputError("mid", f"got {mid}; allowed: a number > 0 and <= {bound_text(BIG)} (price units)")
    tv = _number("t", t, 0.0)
    T = cfg.values["T"]
    if not 0.0 <= tv <= T:
        raise InputError("t", f"got {t}; allowed: a number from 0 to T = {T:g} (time units)")
    return QuoteResult(cfg, quote_one(cfg, qv, s, tv, regime=rv))


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
    regime: Any = 0,
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
    regime : array-like, default 0
        Volatility regimes, 0 (calm) or 1 (volatile): a table policy's regime axis (see :func:`quote`).
    preset, policy, params, config, **overrides
        The run; see :func:`flatbook.run_config`.

    Returns
    -------
    flatbook.results.QuotesResult
        ``.to_pandas()`` (one row per state), ``.arrays``, ``.units``, ``.plot()`` (depths against q). A ladder
        policy adds ``bid_k``, ``ask_k``, ``bid_depth_k``, ``ask_depth_k``, ``bid_size_k``, ``ask_size_k`` for each
        level k (1 nearest the mid; the plain names are level 1's), capped as in :func:`quote`.
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("q", "mid", "t", "regime", *RUN_ARGUMENTS))
    pre, pol, vals, _, _ = resolve(config, preset, policy, None, None, values)
    cfg: RunConfig = build_config(pre, one_policy(pol), vals, paths=1, seed=0)
    T = cfg.values["T"]
    qa = _array("q", q, 0.0, -BIG, BIG, f"numbers from -{bound_text(BIG)} to {bound_text(BIG)} (lots)")
    sa = _array("mid", mid, cfg.values["s0"], math.ulp(0.0), BIG, f"numbers > 0 and <= {bound_text(BIG)} (price units)")
    ta = _array("t", t, 0.0, 0.0, T, f"numbers from 0 to T = {T:g} (time units)")
    ra = _array("regime", regime, 0.0, -BIG, BIG, "0 (calm) or 1 (volatile)")  # 0 or 1: checked by quote_arrays
    try:
        sa, qa, ta, ra = (np.ascontiguousarray(x).ravel() for x in np.broadcast_arrays(sa, qa, ta, ra))
    except ValueError:
        raise InputError(
            "q",
            f"q, mid, t and regime do not broadcast together: shapes {np.shape(q)}, {np.shape(mid)}, "
            f"{np.shape(t)}, {np.shape(regime)}",
        ) from None
    out = quote_arrays(cfg, sa, qa, ta, regime=ra)
    return QuotesResult(cfg, {"q": qa, "mid": sa, "t": ta, **{k: np.asarray(v).ravel() for k, v in out.items()}})
