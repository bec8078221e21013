"""``flatbook.backtest``, ``flatbook.calibrate`` and ``flatbook.load_data``: real market data (Binance, LOBSTER,
generic CSV/Parquet, flatbook's own event Parquet), with the command line's checks and numbers."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..backtest import BacktestOptions, Latency, replay_config, run_backtest
from ..calibrate.calibration import calibrate as run_calibration
from ..config import build_config, check_int, load_toml
from ..data.events import CONTRACTS, EventTable
from ..data.load import load
from ..errors import InputError
from ..results.replay import BacktestResult, CalibrationResult
from ..suggest import unknown
from ._args import merge_params, policy_name

__all__ = ["backtest", "calibrate", "load_data"]

DataLike = EventTable | str | os.PathLike


def _renamed(e: InputError, names: Mapping[str, str]) -> InputError:
    """``e`` with a command-line flag in its field (``--queue``) renamed to the API's keyword (``queue``)."""
    if e.field not in names:
        return e
    msg = str(e).partition(": ")[2]
    return InputError(names[e.field], msg)


def _positive(field: str, raw: Any, what: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not (math.isfinite(raw) and raw > 0):
        raise InputError(field, f"got {raw!r}; allowed: a finite number > 0 ({what})")
    return float(raw)


def load_data(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    contract: str | None = None,
    contract_size: float | None = None,
    settlement: str | None = None,
    lot_size: float | None = None,
) -> EventTable:
    """Load a market data file as an :class:`~flatbook.data.events.EventTable` (``flatbook data inspect``'s loader).

    Parameters
    ----------
    path : str or path
        LOBSTER zip, Binance .gz capture, generic CSV/Parquet quotes, or flatbook event Parquet.
    format : str, default "auto"
        auto (from the name), lobster, binance, generic or events.
    trades : path, optional
        Generic format: the trades file.
    on_error : str, default "fail"
        Malformed rows: fail or skip (and count them).
    cache : bool, default True
        Reuse flatbook's parsed-data cache while the file is unchanged.
    contract, contract_size, settlement, lot_size : optional
        Override the file's contract (linear or inverse; price-currency units per contract), its settlement
        currency and its lot (quantity units).
    """
    if contract is not None and contract not in CONTRACTS:
        raise unknown("contract", "contract type", contract, CONTRACTS)
    csize = _positive("contract_size", contract_size, "price-currency units per contract")
    lot = _positive("lot_size", lot_size, "quantity units")
    try:
        ev = load(path, fmt=format, trades=trades, on_error=on_error, cache=cache)
    except InputError as e:
        raise _renamed(e, {"--format": "format", "--on-error": "on_error", "--trades": "trades"}) from None
    ev = ev.with_contract(contract, csize, settlement)
    if lot is not None:
        ev = ev.with_meta(lot_size=lot, lot_inferred=False)
    return ev


def _data(data: DataLike, kw: Mapping[str, Any]) -> EventTable:
    if isinstance(data, EventTable):
        if any(v is not None for k, v in kw.items() if k not in ("format", "on_error", "cache")):
            raise InputError(
                "data",
                "the loading options (trades, contract, ...) apply to a file; give them to flatbook.load_data instead",
            )
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(
            "data", f"expected a file path or an EventTable (flatbook.load_data), got {type(data).__name__}"
        )
    return load_data(data, **kw)


_OPTION_FIELDS = {
    "--queue": "queue",
    "--min-requote-ms": "min_requote_ms",
    "--refresh-ticks": "refresh_ticks",
    "--seed": "seed",
    "--feed-latency-ms": "feed_latency_ms",
    "--order-latency-ms": "order_latency_ms",
}


def backtest(
    data: DataLike,
    policy: Any = "linear-skew",
    *,
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | None = None,
    latency_ms: str | float | None = None,
    feed_latency_ms: str | float | None = None,
    order_latency_ms: str | float | None = None,
    queue: str = "prorata",
    min_requote_ms: float = 0.0,
    refresh_ticks: float = 1.0,
    seed: int = 0,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    contract: str | None = None,
    contract_size: float | None = None,
    settlement: str | None = None,
    lot_size: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> BacktestResult:
    """Replay a policy with its controls against real quotes and trades (``flatbook backtest``).

    Time unit 1 second; every parameter not set is derived from the data
    (:func:`flatbook.backtest.backtester.data_defaults`: T, s0, tick, size, half_spread, skew, σ, A, k, ...).
    Queue position, latency and fees are modelled (:mod:`flatbook.backtest.engine`).

    Parameters
    ----------
    data : path or EventTable
        A data file (see :func:`load_data`) or an already loaded table.
    policy : str or Policy, default "linear-skew"
        The quoting policy (a name, or a policy object of your own).
    params, **overrides
        Parameter values (as :func:`flatbook.run_config`), e.g. ``gamma=0.05``.
    config : path, optional
        TOML file whose ``[params]`` table is read (keywords override it).
    latency_ms, feed_latency_ms, order_latency_ms : str or float, optional
        Latency in ms: ``5``, ``"exp:5"``, ``"uniform:2,8"``, ``"lognormal:5,0.5"`` (feed and order default to
        ``latency_ms``, itself 0).
    queue : str, default "prorata"
        Cancels ahead of us: prorata or prob.
    min_requote_ms : float, default 0
        Minimum time between two requotes (ms).
    refresh_ticks : float, default 1
        A side is re-sent only if its price moves this many ticks.
    seed : int, default 0
        Seed of the latency and queue draws.
    format, trades, on_error, cache, contract, contract_size, settlement, lot_size
        How to load a file: see :func:`load_data`.
    progress : callable(done, total), optional
        Called about every 0.1 s with the events replayed.

    Returns
    -------
    flatbook.results.BacktestResult
        ``.summary`` (money in the settlement currency), ``.to_pandas()`` (fills, inventory), ``.plot()``.
    """
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("data", "policy", "params", "config", "latency_ms", "seed", "queue"))
    if config is not None:
        values = {**load_toml(config)[1], **values}
    both = latency_ms if latency_ms is not None else 0
    try:
        opts = BacktestOptions(
            feed_latency=feed_latency_ms
            if isinstance(feed_latency_ms, Latency)
            else Latency.parse("--feed-latency-ms", feed_latency_ms if feed_latency_ms is not None else both),
            order_latency=order_latency_ms
            if isinstance(order_latency_ms, Latency)
            else Latency.parse("--order-latency-ms", order_latency_ms if order_latency_ms is not None else both),
            queue=queue,
            min_requote_ms=min_requote_ms,
            refresh_ticks=refresh_ticks,
            seed=check_int("--seed", seed, 0, 2**63 - 1),
        )
    except InputError as e:
        if (
            latency_ms is not None
            and e.field.endswith("latency-ms")
            and feed_latency_ms is None
            and order_latency_ms is None
        ):
            raise _renamed(e, {e.field: "latency_ms"}) from None
        raise _renamed(e, _OPTION_FIELDS) from None
    build_config("replay", policy, values, paths=1)  # every value checked before a long load
    ev = _data(
        data,
        {
            "format": format,
            "trades": trades,
            "on_error": on_error,
            "cache": cache,
            "contract": contract,
            "contract_size": contract_size,
            "settlement": settlement,
            "lot_size": lot_size,
        },
    )
    cfg = replay_config(ev, policy, values, seed=opts.seed)
    return BacktestResult(run_backtest(ev, cfg, opts, progress=progress), ev)


def calibrate(
    data: DataLike,
    *,
    target_q_std: float | None = None,
    policy: str = "avellaneda-stoikov",
    time_unit_s: float = 1.0,
    horizon: float | None = None,
    size: float | None = None,
    limit: float | None = None,
    paths: int = 200,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """σ, A and k (with confidence intervals) from real data, in the units the policies take; optionally γ
    (``flatbook calibrate``).

    σ is the realised volatility of the mid on a 1 s grid; A and k fit the fill intensity
    λ(δ) = A·e^(−kδ) of Avellaneda & Stoikov (2008, §2.4) to the trades' reach beyond the touch.
    With ``target_q_std`` a γ is searched by simulation so that the inventory's std matches it,
    and the suggestion is replayed once on the data.

    Parameters
    ----------
    data : path or EventTable
        A data file (see :func:`load_data`) or a loaded table.
    target_q_std : float, optional
        Suggest γ for this std of inventory (the data's quantity units, e.g. BTC).
    policy : str, default "avellaneda-stoikov"
        avellaneda-stoikov or glft (the γ suggestion's policy).
    time_unit_s : float, default 1
        Seconds per time unit of the fitted parameters.
    horizon, size, limit : float, optional
        Shape the γ suggestion (avellaneda-stoikov's rolling horizon in time units; quote size and hard
        limit in quantity units); need ``target_q_std``.
    paths : int, default 200
        Simulated paths per γ in the search, 2..100 000.
    format, trades, on_error, cache
        How to load a file: see :func:`load_data`.
    progress : callable(str), optional
        Called with a short status line before each simulation of the γ search.

    Returns
    -------
    flatbook.results.CalibrationResult
        ``.summary`` with units, ``.suggested`` (the parameter values to backtest with).
    """
    if policy not in ("avellaneda-stoikov", "glft"):
        raise unknown("policy", "policy", policy, ("avellaneda-stoikov", "glft"))
    unit_s = _positive("time_unit_s", time_unit_s, "seconds")
    target = _positive("target_q_std", target_q_std, "quantity units")
    hz = _positive("horizon", horizon, "time units")
    if hz is not None and policy != "avellaneda-stoikov":
        raise InputError("horizon", f"{policy} has no horizon; it goes with policy='avellaneda-stoikov'")
    qty = _positive("size", size, "quantity units")
    lim = _positive("limit", limit, "quantity units")
    if (
        isinstance(paths, bool)
        or not isinstance(paths, (int, float))
        or not (math.isfinite(paths) and paths == int(paths) and 2 <= paths <= 100_000)
    ):
        raise InputError("paths", f"got {paths!r}; allowed: an integer from 2 to 100000")
    if (hz is not None or qty is not None or lim is not None) and target is None:
        raise InputError("target_q_std", "horizon, size and limit shape the γ suggestion, which needs target_q_std")
    ev = _data(data, {"format": format, "trades": trades, "on_error": on_error, "cache": cache})
    res = run_calibration(
        ev,
        time_unit_s=unit_s,  # type: ignore[arg-type]  # None: calibrate() refuses it with its own message
        target_q_std=target,
        policy=policy,
        horizon=hz,
        size=qty,
        limit=lim,
        paths=int(paths),
        progress=progress,
    )
    return CalibrationResult(res)
