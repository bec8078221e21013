"""``flatbook.backtest``, ``flatbook.calibrate`` and ``flatbook.load_data``: real market data (Binance, LOBSTER,
generic CSV/Parquet, flatbook's own event Parquet), with the command line's checks and numbers."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..backtest import BacktestOptions, Latency, replay_config, run_backtest
from ..backtest.hedged import HEDGED_DEFAULTS, HedgeSpec, run_hedged
from ..backtest.latency import MeasuredLatency, check_measured
from ..config import build_config, check_int, load_toml
from ..data.depth_book import ON_GAP
from ..data.events import BOOKS, CLEAR, CONTRACTS, LEVEL, EventTable
from ..data.generic import check_file
from ..data.load import detect_format, load, several_files
from ..errors import InputError
from ..params import resolve
from ..results.hedged import HedgedBacktestResult
from ..results.replay import BacktestResult, CalibrationResult, DataInspection
from ..suggest import unknown
from ._args import merge_params, policy_name

__all__ = [
    "backtest",
    "backtest_hedged",
    "backtest_options",
    "check_backtest_data",
    "calibrate",
    "inspect_data",
    "load_data",
]

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
    book: str = "touch",
    on_gap: str = "resync",
    depth_window: float | None = None,
    columns: str | Mapping[str, str] | None = None,
    time_unit: str | None = None,
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
    book : str, default "touch"
        Binance: ``"touch"`` (bookTicker + trades) or ``"depth"`` (also the full-depth book from the REST
        snapshot and the depth diff stream, as LEVEL/CLEAR rows; :mod:`flatbook.data.binance`). hftbacktest
        ``.npz`` and Tardis files are full-depth books whatever ``book`` says; LOBSTER, generic and event files
        have no depth stream (``"depth"`` is refused).
    on_gap : str, default "resync"
        ``book="depth"``: a sequence gap in the depth stream is warned about (:class:`DepthGapWarning`, with
        the count and times) and resynced from the next snapshot, or (``"fail"``) refused.
    depth_window : float, optional
        ``book="depth"``: keep levels within this fraction of price around the touch prices seen (default 0.02).
    columns : str or dict, optional
        Generic format: our column names mapped to the file's, ``"ts=time,bid=best_bid"`` or a dict.
    time_unit : str, optional
        Generic format: the unit of numeric timestamps, s, ms, us, ns (the default) or auto.
    """
    if contract is not None and contract not in CONTRACTS:
        raise unknown("contract", "contract type", contract, CONTRACTS)
    csize = _positive("contract_size", contract_size, "price-currency units per contract")
    lot = _positive("lot_size", lot_size, "quantity units")
    kw = _book_options(path, format, book, on_gap, depth_window)
    try:
        ev = load(
            path,
            fmt=format,
            trades=trades,
            on_error=on_error,
            cache=cache,
            columns=columns,
            time_unit=time_unit,
            **kw,
        )
    except InputError as e:
        names = {"--format": "format", "--on-error": "on_error", "--trades": "trades"}
        names |= {"--book": "book", "--on-gap": "on_gap", "--columns": "columns", "--time-unit": "time_unit"}
        raise _renamed(e, names) from None
    _warn_gaps(ev)
    ev = ev.with_contract(contract, csize, settlement)
    if lot is not None:
        ev = ev.with_meta(lot_size=lot, lot_inferred=False)
    return ev


class DepthGapWarning(UserWarning):
    """A sequence gap in a depth stream (``book="depth"``): the book was unknown until the next snapshot."""


def _book_options(path, format: str, book: str, on_gap: str, depth_window: float | None) -> dict:
    """The loader keywords for ``book``, ``on_gap`` and ``depth_window`` (only those not at their default, so a
    touch-only load keeps its cache entry); refused for a format without a depth stream."""
    if book not in BOOKS:
        raise unknown("book", "book", book, BOOKS)
    if on_gap not in ON_GAP:
        raise unknown("on_gap", "gap policy", on_gap, ON_GAP)
    if depth_window is not None and (
        isinstance(depth_window, bool) or not isinstance(depth_window, (int, float)) or not 0 < depth_window < 1
    ):
        raise InputError("depth_window", f"got {depth_window!r}; allowed: a fraction of price in (0, 1), e.g. 0.02")
    if book == "touch":
        if on_gap != "resync" or depth_window is not None:
            field = "on_gap" if on_gap != "resync" else "depth_window"
            raise InputError(field, "applies to book='depth' (--book depth) only; allowed with book='touch': none")
        return {}
    fmt = format
    if fmt == "auto":
        fmt = "tardis" if several_files(path) else detect_format(check_file(path))
    if fmt in ("hftbacktest", "tardis"):
        return {}  # their rows are a full-depth book as they are
    if fmt != "binance":
        raise InputError(
            "book", f"book='depth' reads a Binance capture's depth stream; a {fmt} file has none (allowed: touch)"
        )
    kw: dict[str, Any] = {"book": book}
    if on_gap != "resync":
        kw["on_gap"] = on_gap
    if depth_window is not None:
        kw["depth_window"] = float(depth_window)
    return kw


def _warn_gaps(ev: EventTable) -> None:
    """One :class:`DepthGapWarning` per depth stream with sequence gaps (fresh parse or cache alike)."""
    import warnings

    for name, s in ev.meta.streams.items():
        if s.get("gaps"):
            note = s["note"]
            gaps = note[note.rfind("; ") + 2 :] if "sequence gap" in note else f"{s['gaps']} sequence gaps"
            warnings.warn(f"{ev.meta.files[0]}: {name}: {gaps}", DepthGapWarning, stacklevel=3)


def inspect_data(
    data: DataLike,
    *,
    format: str = "auto",
    trades: str | os.PathLike | None = None,
    on_error: str = "fail",
    cache: bool = True,
    contract: str | None = None,
    contract_size: float | None = None,
    settlement: str | None = None,
    lot_size: float | None = None,
    book: str = "touch",
    on_gap: str = "resync",
    depth_window: float | None = None,
) -> DataInspection:
    """What a market data file holds (``flatbook data inspect``): instrument, time span (s), tick and lot size,
    contract, event counts, time-weighted spread (ticks) and mid volatility (per √year, per √s), and every
    stream it holds, used or ignored and why. With ``book="depth"``: the LEVEL/CLEAR row counts and the
    depth stream's sequence gaps. On a table with local receive stamps (Binance): the measured feed latency
    (ms; :class:`flatbook.backtest.latency.MeasuredLatency`): p1/p50/p99, the clock offset assumed, and the
    shifted lognormal fitted by MLE with its Kolmogorov–Smirnov statistic, and ``latency_note`` (spot bookTicker
    rows without exchange time; a caveat when KS > 0.1) when there is something to say.

    Parameters
    ----------
    data : path or EventTable
        A data file (see :func:`load_data`, whose loading options the other keywords are) or a loaded table.

    Returns
    -------
    flatbook.results.DataInspection
        ``.summary`` with units, ``.streams``, ``.events`` (the loaded table), ``.to_json()``.
    """
    from ..data.stats import inspect_events  # lazy: start-up

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
            "book": book,
            "on_gap": on_gap,
            "depth_window": depth_window,
        },
    )
    m = ev.meta
    info = {
        **inspect_events(ev),
        "lot_inferred": m.lot_inferred,
        "contract": m.contract,
        "contract_size": m.contract_size,
        "settlement_currency": m.settlement_currency,
        **_depth_info(ev),
        **(MeasuredLatency.of(ev).summary() if ev.local_ts is not None and len(ev) > 1 else {}),
    }
    return DataInspection(ev, info)


def _depth_info(ev: EventTable) -> dict:
    """``book``; with a depth book: its LEVEL and CLEAR rows and the depth streams' sequence gaps."""
    out: dict[str, Any] = {"book": ev.meta.book}
    if ev.meta.book == "depth":
        out["level_rows"] = int(np.sum(ev.kind == LEVEL))
        out["clear_rows"] = int(np.sum(ev.kind == CLEAR))
        out["depth_gaps"] = sum(int(s.get("gaps", 0)) for s in ev.meta.streams.values())
    return out


def _data(data: DataLike, kw: Mapping[str, Any]) -> EventTable:
    if isinstance(data, EventTable):
        given = {k: v for k, v in kw.items() if (k, v) not in (("book", "touch"), ("on_gap", "resync"))}
        if any(v is not None for k, v in given.items() if k not in ("format", "on_error", "cache")):
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
    "--queue-file": "queue_file",
    "--queue-set": "queue_params",
    "--fill-rule": "fill_rule",
    "--min-requote-ms": "min_requote_ms",
    "--refresh-ticks": "refresh_ticks",
    "--seed": "seed",
    "--feed-latency-ms": "feed_latency_ms",
    "--order-latency-ms": "order_latency_ms",
}


def check_backtest_data(data: EventTable, options: BacktestOptions) -> None:
    """Refuse options the table cannot honour, before a long compile or replay: ``measured`` latency on a
    table without local receive stamps (one line naming ``--latency-ms``)."""
    check_measured(data, options.feed_latency, options.order_latency)


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
    book: str = "touch",
    on_gap: str = "resync",
    options: BacktestOptions | None = None,
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
    queue : str or QueueModel, default "prorata"
        The queue ahead of our orders: prorata (= l2), prob, l3, or a queue model (see :func:`backtest_options`,
        which also takes a model's file, its parameters and the fill rule).
    min_requote_ms : float, default 0
        Minimum time between two requotes (ms).
    refresh_ticks : float, default 1
        A side is re-sent only if its price moves this many ticks.
    seed : int, default 0
        Seed of the latency and queue draws.
    format, trades, on_error, cache, contract, contract_size, settlement, lot_size, book, on_gap
        How to load a file: see :func:`load_data` (``book="depth"``: the full-depth book of a Binance capture).
    options : BacktestOptions, optional
        The options as one record (:func:`backtest_options`), instead of the latency, queue, requote and seed
        keywords (which are then ignored).
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
    if options is None:
        options = backtest_options(
            latency_ms=latency_ms,
            feed_latency_ms=feed_latency_ms,
            order_latency_ms=order_latency_ms,
            queue=queue,
            min_requote_ms=min_requote_ms,
            refresh_ticks=refresh_ticks,
            seed=seed,
        )
    elif not isinstance(options, BacktestOptions):
        raise InputError("options", f"expected flatbook.api.backtest_options(...), got {type(options).__name__}")
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
            "book": book,
            "on_gap": on_gap,
        },
    )
    check_backtest_data(ev, options)
    cfg = replay_config(ev, policy, values, seed=options.seed)
    return BacktestResult(run_backtest(ev, cfg, options, progress=progress), ev)


def backtest_hedged(
    data: DataLike,
    hedge_data: DataLike,
    policy: Any = "linear-skew",
    *,
    hedge_ratio: float | str | None = None,
    hedge_order: str = "market",
    hedge_ioc_ticks: int = 0,
    params: Mapping[str, Any] | None = None,
    config: str | os.PathLike | None = None,
    options: BacktestOptions | None = None,
    seed: int = 0,
    format: str = "auto",
    on_error: str = "fail",
    cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> HedgedBacktestResult:
    """Replay a policy on ``data`` (the inventory instrument S) and hedge its inventory in ``hedge_data`` (H),
    both files on one clock (``flatbook backtest DATA --hedge-data FILE --hedge-ratio X``).

    The inventory leg is :func:`backtest` on S (its quotes read its own q; its kill switch its own PnL). The
    hedge pass (:mod:`flatbook.backtest.hedged`) trades H with the hedge group's rules (``hedge_trigger``,
    ``hedge_threshold``, ``hedge_sizing``, ``hedge_exec``, ``hedge_horizon``, …; unless set, ``threshold`` at
    0: hedge whenever the net delta is at least half a lot of H) as IOC or market orders after the order
    latency, filled against H's replayed book with ``taker_fee``/``taker_fee_bps``.

    Parameters
    ----------
    data, hedge_data : path or EventTable
        The two data files (see :func:`load_data`; ``format``, ``on_error`` and ``cache`` apply to both).
    policy, params, config, **overrides
        As :func:`backtest`.
    hedge_ratio : float or "auto"
        Required: units of H traded per unit of S of exposure; ``"auto"``: the minimum-variance ratio
        (:func:`flatbook.hedging.basis.estimate_basis`, 1 s grid), reported with its SE.
    hedge_order : str, default "market"
        market, or ioc (limit: the touch the hedger saw ± ``hedge_ioc_ticks`` ticks of H).
    options : BacktestOptions, optional
        Latencies, queue model, seed (:func:`backtest_options`); the hedge pass draws its own latencies
        from the same distributions.
    seed : int, default 0
        Used when ``options`` is not given.

    Returns
    -------
    flatbook.results.hedged.HedgedBacktestResult
    """
    if hedge_ratio is None:
        raise InputError(
            "hedge_ratio",
            "required: units of H per unit of S (e.g. 1 for spot hedged in its linear perpetual), or auto",
        )
    spec = HedgeSpec(hedge_ratio, hedge_order, hedge_ioc_ticks)
    policy = policy_name(policy)
    values = merge_params(params, overrides, ("data", "hedge_data", "policy", "params", "config", "seed"))
    if config is not None:
        values = {**load_toml(config)[1], **values}
    given = {resolve(str(k)) for k in values}
    for k, d in HEDGED_DEFAULTS.items():
        if k not in given:
            values[k] = d
    if options is None:
        options = backtest_options(seed=seed)
    elif not isinstance(options, BacktestOptions):
        raise InputError("options", f"expected flatbook.api.backtest_options(...), got {type(options).__name__}")
    build_config("replay", policy, values, paths=1)  # every value checked before a long load
    kw = {"format": format, "on_error": on_error, "cache": cache}
    inv = _data(data, kw)
    try:
        hed = _data(hedge_data, kw)
    except InputError as e:
        raise _renamed(e, {"data": "hedge_data"}) from None
    cfg = replay_config(inv, policy, values, seed=options.seed)
    raw = run_hedged(inv, hed, cfg, options, spec, progress=progress)
    return HedgedBacktestResult(raw, inv, hed)


def backtest_options(
    *,
    latency_ms: str | float | None = None,
    feed_latency_ms: str | float | Latency | None = None,
    order_latency_ms: str | float | Latency | None = None,
    queue: Any = "prorata",
    min_requote_ms: float = 0.0,
    refresh_ticks: float = 1.0,
    seed: int = 0,
    queue_file: str | os.PathLike | None = None,
    queue_params: Mapping[str, Any] | None = None,
    fill_rule: str = "queue",
) -> BacktestOptions:
    """The backtester's options (latency, queue model, fill rule, requote throttle, seed), checked: what
    :func:`backtest` takes as keywords, as one record to reuse over several runs (``options=``).

    Parameters
    ----------
    latency_ms, feed_latency_ms, order_latency_ms : str, float or Latency, optional
        Latency in ms: ``5``, ``"exp:5"``, ``"uniform:2,8"``, ``"lognormal:5,0.5"`` (feed and order default to
        ``latency_ms``, itself 0).
    queue : str or QueueModel, default "prorata"
        The queue ahead of our orders: ``prorata`` (= ``l2``: cancels at our level pro rata), ``prob`` (a
        cancel is ahead of us with probability ahead/level), ``l3`` (the FIFO queue of a LOBSTER file's
        orders), the name of a model in ``queue_file``, or a :func:`flatbook.backtest.queue_model.queue_model`.
    queue_file : path, optional
        A Python file defining queue models (``@queue_model``); ``queue`` names one (the only one if
        ``queue`` is left at its default).
    queue_params : mapping, optional
        The user model's parameters (by name; the rest take their defaults).
    fill_rule : str, default "queue"
        ``queue``: a print at our price fills us once the queue ahead is consumed; ``through``: only a
        print through our price, or a book that crosses it, fills us.
    min_requote_ms : float, default 0
        Minimum time between two requotes (ms), 0 to 3 600 000.
    refresh_ticks : float, default 1
        A side is re-sent only if its price moves this many ticks.
    seed : int, default 0
        Seed of the latency and queue draws, >= 0.

    Returns
    -------
    flatbook.backtest.BacktestOptions

    Raises
    ------
    flatbook.errors.InputError
        Naming the keyword (``queue``, ``latency_ms``, ...).
    """
    both = latency_ms if latency_ms is not None else 0
    try:
        return BacktestOptions(
            feed_latency=feed_latency_ms
            if isinstance(feed_latency_ms, Latency)
            else Latency.parse("--feed-latency-ms", feed_latency_ms if feed_latency_ms is not None else both),
            order_latency=order_latency_ms
            if isinstance(order_latency_ms, Latency)
            else Latency.parse("--order-latency-ms", order_latency_ms if order_latency_ms is not None else both),
            queue=queue if isinstance(queue, str) else getattr(queue, "name", "?"),
            min_requote_ms=min_requote_ms,
            refresh_ticks=refresh_ticks,
            seed=check_int("--seed", seed, 0, 2**63 - 1),
            queue_file=None if queue_file is None else str(queue_file),
            queue_params=dict(queue_params or {}),
            fill_rule=fill_rule,
            queue_model=None if isinstance(queue, str) else queue,
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
    inventory: str | os.PathLike | Mapping[str, Any] | None = None,
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
    inventory : path or mapping, optional
        A backtest's inventory path: the ``inventory.parquet`` that ``result.save(dir)`` (``backtest --out``)
        writes, or a mapping / DataFrame with columns ts (int64 ns), q, bid, ask, mid
        (``result.to_pandas().inventory``). Adds the Stoll γ (the time-controlled regression of the quoted
        centre on inventory, Stoll 1978; ``stoll`` and ``set.stoll_gamma``, price units per lot) and the
        Ornstein–Uhlenbeck fit of the inventory (``inventory_ou``: κ per time unit, half-life in time units).
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
    inv = None if inventory is None else read_inventory(inventory)
    # lazy: start-up (the calibration pulls in scipy; a backtest through this module does not need it)
    from ..calibrate.calibration import calibrate as run_calibration
    from ..calibrate.stoll_gamma import stoll_gamma_from_quotes

    res = run_calibration(
        ev,
        time_unit_s=unit_s,  # type: ignore[arg-type]  # None: calibrate() refuses it with its own message
        target_q_std=target,
        policy=policy,
        horizon=hz,
        size=qty,
        limit=lim,
        paths=int(paths),
        inventory=None if inv is None else (inv["ts"], inv["q"]),
        progress=progress,
    )
    if inv is not None:
        st = stoll_gamma_from_quotes(inv["q"], inv["bid"], inv["ask"], inv["mid"])
        res["stoll"] = st.as_dict()
        if st.ok:
            res.setdefault("set", {})["stoll_gamma"] = st.stoll_gamma
    return CalibrationResult(res)


#: the columns of a backtest's inventory path that :func:`calibrate` reads
INVENTORY_COLUMNS = ("ts", "q", "bid", "ask", "mid")


def read_inventory(inventory: str | os.PathLike | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Columns ts (int64 ns), q, bid, ask, mid of a backtest's inventory path: a Parquet file (``inventory.parquet``
    of ``backtest --out``) or a mapping/DataFrame of columns; :class:`InputError` naming ``inventory`` otherwise."""
    if isinstance(inventory, (str, os.PathLike)):
        import pyarrow.parquet as pq  # lazy: only with an inventory file

        path = inventory
        p = check_file(path)
        try:
            table = pq.read_table(p)
        except (OSError, ValueError) as exc:
            raise InputError("inventory", f"{path}: not a readable Parquet file ({exc})") from None
        names = table.column_names
        cols: Mapping[str, Any] = {c: table.column(c).to_numpy() for c in INVENTORY_COLUMNS if c in names}
    elif isinstance(inventory, Mapping) or hasattr(inventory, "columns"):
        path, names = "inventory", list(inventory.keys())
        cols = {c: np.asarray(inventory[c]) for c in INVENTORY_COLUMNS if c in names}
    else:
        raise InputError(
            "inventory", f"expected a Parquet file or a mapping of columns, got {type(inventory).__name__}"
        )
    missing = [c for c in INVENTORY_COLUMNS if c not in names]
    if missing:
        raise InputError(
            "inventory",
            f"{path}: missing columns {', '.join(missing)}; expected "
            f"{', '.join(INVENTORY_COLUMNS)} (as written by backtest --out)",
        )
    out = dict(cols)
    if out["ts"].dtype.kind not in "iu" or out["ts"].size < 3:
        raise InputError("inventory", f"{path}: need at least 3 rows with integer ns timestamps")
    return out
