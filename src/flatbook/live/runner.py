"""``flatbook live``: wire settings, journal, feed, venue, engine, API and alerts, and run.

Trade mode on a replay: for each tape event the paper venue matches first (the
exchange), then the engine sees the event; a snapshot follows every
``journal.snapshot_every`` events (a restart replays at most that many). The
run ends with the tape, prints its summary and writes ``summary.json``. Monitor
mode runs until stopped.

SIGINT or SIGTERM ends a session cleanly: no new quotes, both sides cancelled
through the venue (and, with ``flatten_on_exit``, q flattened with
immediate-or-cancel orders), the feed kept running until the venue confirms
(at most ``EXIT_WAIT_S`` seconds), a final snapshot journaled, and one line
saying what was done and the open position (lots). A journal fault (e.g. a full
disk) stops quoting, cancels at the venue and ends the run with one line
(:class:`~flatbook.live.journal.JournalError`, exit 2); the journal keeps every
committed record, so a restart resumes from its last snapshot.

Money (cash, fees, PnL, the kill switch's limits) is in the contract's
settlement currency (:mod:`flatbook.live.engine`); the contract comes from the
replayed data, the ccxt market (read before the journal is recovered) or the
``[live]`` settings (:func:`contract_of`, :func:`market_contract`). The summary
names it (``contract``, ``contract_size``, ``settlement_currency``) and gives the
PnL's value in the price currency beside it (``pnl.total_quote``).

The summary's wall-clock and machine-dependent fields (``wall_s``,
``events_per_s``, ``tick_to_quote`` latencies, ``rss_mb``) are grouped under
``"timing"`` (:func:`flatbook.timing.group_timing`); everything else is a
function of the config, the data and the seed.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson

from ..backtest.backtester import replay_config, replay_grid
from ..backtest.latency import Latency
from ..config import build_config
from ..data.load import load
from ..errors import InputError
from ..fileio import atomic_file
from ..jsonutil import jsonable
from ..timing import group_timing
from .adapters.ccxt_adapter import CcxtFeed, CcxtVenue
from .adapters.paper_venue import Fees, PaperVenue
from .adapters.replay_feed import ReplayFeed
from .alerts import Alerts
from .engine import NS, Engine
from .journal import Journal, JournalError
from .metrics import Metrics
from .recovery import reconcile, recover, snapshot
from .settings import LiveSettings, api_token

#: ``flatbook backtest`` flags named by :meth:`EventTable.with_contract` → the settings' keys
_CONTRACT_FIELDS = {
    "--contract": "live.contract",
    "--contract-size": "live.contract_size",
    "--settlement": "live.settlement_currency",
}
RSS_EVERY = 20_000  # events between two memory samples
EXIT_WAIT_S = 10.0  # on a stop signal: the longest wait (wall s) for the venue to confirm cancels / flatten


def rss_mb() -> float:
    """Resident set size of this process, MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return math.nan


def contract_of(s: LiveSettings, ev=None) -> tuple[str, float, str]:
    """(contract, contract_size, settlement currency) before any market is asked: a replay's data with the
    ``[live]`` overrides (:meth:`flatbook.data.events.EventTable.with_contract`), else the settings
    (``auto``, or ``inverse`` without a size, which only a ccxt market can give: linear, size 1 until
    :func:`market_contract` sets the market's). Raises :class:`InputError` naming the ``live.*`` key."""
    lv = s.live
    if ev is not None:
        m = _with_contract(s, ev).meta
        return m.contract, m.contract_size, m.settlement_currency
    if lv.contract == "inverse" and lv.contract_size is not None:
        return "inverse", float(lv.contract_size), lv.settlement_currency or ""
    return "linear", float(lv.contract_size or 1.0), lv.settlement_currency or ""


def _with_contract(s: LiveSettings, ev):
    lv = s.live
    try:
        return ev.with_contract(
            None if lv.contract == "auto" else lv.contract, lv.contract_size, lv.settlement_currency
        )
    except InputError as e:
        msg = str(e)[len(e.field) + 2 :]
        for flag in sorted(_CONTRACT_FIELDS, key=len, reverse=True):  # --contract-size before --contract
            msg = msg.replace(f"{flag} ", f"{_CONTRACT_FIELDS[flag]} = ")
        raise InputError(_CONTRACT_FIELDS.get(e.field, e.field), msg) from None


def market_contract(s: LiveSettings, got: tuple[str, float, str], where: str) -> tuple[str, float, str]:
    """The exchange market's contract (``got``: contract, size, settlement currency, from ``where``), checked
    against the ``[live]`` settings: a value set there must agree. Raises :class:`InputError`."""
    lv = s.live
    c, size, cur = got
    if lv.contract != "auto" and lv.contract != c:
        raise InputError("live.contract", f"set to {lv.contract}, but the market {where} is {c}")
    if lv.contract_size is not None and not math.isclose(lv.contract_size, size, rel_tol=1e-12):
        raise InputError("live.contract_size", f"set to {lv.contract_size:g}, but {where} has contract size {size:g}")
    if lv.settlement_currency and cur and lv.settlement_currency != cur:
        raise InputError("live.settlement_currency", f"set to {lv.settlement_currency}, but {where} settles in {cur}")
    return c, size, lv.settlement_currency or cur


def build(s: LiveSettings):
    """(engine, venue, feed, events table or None) for validated settings."""
    ev = None
    if s.feed.kind == "replay":
        assert s.feed.path is not None  # parse_settings requires it for a replay
        ev = _with_contract(s, load(s.feed.path, fmt=s.feed.format))
        if len(ev) < 2:
            raise InputError("feed.path", "fewer than 2 events: nothing to replay")
        cfg = replay_config(ev, s.run.policy, s.params, seed=s.run.seed)
        tick, lot = replay_grid(cfg, ev)
    else:
        cfg = build_config(s.run.preset, s.run.policy, s.params, paths=1, seed=s.run.seed)
        tick = cfg.values["tick"] if cfg.values["tick"] > 0 else 1e-8
        lot = s.live.lot
    journal = Journal(s.journal.path, s.journal.synchronous)
    venue: PaperVenue | CcxtVenue | None = None
    if s.venue.kind == "paper":
        assert ev is not None  # parse_settings: the paper venue fills against a replay
        v = cfg.values
        venue = PaperVenue(
            tick,
            lot,
            feed_latency=Latency.parse("venue.feed_latency", s.venue.feed_latency),
            order_latency=Latency.parse("venue.order_latency", s.venue.order_latency),
            queue=s.venue.queue,
            fees=Fees.of(v),
            seed=s.run.seed,
            contract=ev.meta.contract,
            contract_size=ev.meta.contract_size,
        )
    elif s.venue.kind == "ccxt":
        assert s.venue.exchange is not None and s.venue.symbol is not None  # parse_settings requires them
        venue = CcxtVenue.from_config(
            s.venue.exchange, s.venue.symbol, s.venue.api_key_env, s.venue.secret_env, s.venue.sandbox, journal.session
        )
    feed: ReplayFeed | CcxtFeed | None = None
    session_end = None
    start = s.feed.start
    if ev is not None:  # a replay feed
        feed = ReplayFeed(ev, s.feed.speed, s.feed.stop)
        t_first, t_last = int(ev.ts[start]), int(ev.ts[len(feed) - 1])
        if s.risk.session_end_s is not None:
            session_end = t_first + int(s.risk.session_end_s * NS)
        elif t_last - t_first > 600 * NS:
            session_end = t_last - 300 * NS
    elif s.feed.kind == "ccxt":
        assert s.feed.exchange is not None and s.feed.symbol is not None  # parse_settings requires them
        feed = CcxtFeed.from_config(s.feed.exchange, s.feed.symbol, poll_s=s.feed.poll_s)
    alerts = Alerts(s.alerts.webhook)
    contract, contract_size, currency = contract_of(s, ev)
    eng = Engine(
        cfg,
        journal,
        venue,
        alerts=alerts,
        tick=tick,
        lot=lot,
        max_orders_per_s=s.risk.max_orders_per_s,
        session_end_ns=session_end,
        flatten_slippage_ticks=s.risk.flatten_slippage_ticks,
        min_requote_ms=s.risk.min_requote_ms,
        refresh_ticks=s.risk.refresh_ticks,
        markout_s=s.risk.markout_s,
        t0_ns=int(ev.ts[start]) if ev is not None else None,
        zone_hysteresis=s.alerts.zone_hysteresis,
        contract=contract,
        contract_size=contract_size,
        settlement_currency=currency,
    )
    eng.metrics = Metrics(eng)
    eng.warm_up()
    if isinstance(venue, PaperVenue):  # (a ccxt venue has nothing to compile)
        venue.warm_up()
    return eng, venue, feed, ev


def percentiles(x: np.ndarray) -> dict:
    """p50/p90/p99/p99.9/max of latencies (s) in µs."""
    if x.size == 0:
        return {"n": 0}
    p = np.percentile(x, [50, 90, 99, 99.9]) * 1e6
    return {
        "n": int(x.size),
        "p50_us": float(p[0]),
        "p90_us": float(p[1]),
        "p99_us": float(p[2]),
        "p999_us": float(p[3]),
        "max_us": float(x.max() * 1e6),
    }


def _stdout(msg: str) -> None:
    print(msg, flush=True)


async def run(
    s: LiveSettings,
    *,
    port: int | None = None,
    hold: bool = False,
    ready=None,
    announce=_stdout,
    flatten_on_exit: bool = False,
) -> dict:
    """Run the live engine until the tape ends (replay) or a stop signal; returns the summary.

    ``announce``: where the start-up and stop lines go (the API's address first: scripts read it).
    ``flatten_on_exit``: on SIGINT/SIGTERM also flatten the position through the venue.
    Raises :class:`~flatbook.live.journal.JournalError` after a journal fault (quoting stopped, orders cancelled).
    """
    eng, venue, feed, ev = build(s)
    replay = feed is not None and feed.name == "replay"
    src = next((x for x in (venue, feed) if hasattr(x, "market_contract")), None)
    try:
        if src is not None:  # a ccxt market: its contract, before the journal's state is applied
            eng.set_contract(*market_contract(s, await src.market_contract(), src.name))
    except BaseException:
        for x in (feed, venue):
            if x is not None:
                await _close_quietly(x)
        eng.journal.discard_if_fresh()  # nothing half-written
        raise
    try:
        cursor = recover(eng, venue, replay and venue is not None)
    except (JournalError, InputError):
        eng.journal.close()
        raise
    start = max(cursor, s.feed.start)
    stop = asyncio.Event()
    why: list[str] = []  # the stop signal's name
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        why.append(name)
        stop.set()

    if threading.current_thread() is threading.main_thread():  # (tests run the engine in a thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
    eng.on_halt = stop.set  # a journal fault seen by the API ends the run too
    runner = None
    url = None
    if s.api.enabled:
        from aiohttp import web  # the extra 'live' (optional): imported when the API is switched on

        from .api import build_app

        token = api_token(s)
        runner = web.AppRunner(build_app(eng, token), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, s.api.host, s.api.port if port is None else port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            eng.journal.discard_if_fresh()  # nothing half-written
            raise InputError("api.port", f"cannot listen on {s.api.host}:{s.api.port}: {e.strerror or e}") from None
        bound = runner.addresses[0][1]  # the site's socket (host, port, …): the port bound
        url = f"http://{s.api.host}:{bound}"
        tok = "set" if token else f"not set: mutating endpoints answer 401 (set api.token or ${s.api.token_env})"
        announce(
            f"flatbook live: API on {url} (token {tok}); journal {s.journal.path}"
            + (f"; resuming at event {start}" if cursor else "")
        )
    await eng.alerts.start()
    fault: JournalError | None = None
    exit_info = None
    t_wall = time.perf_counter()
    n0 = eng.events
    mem = [(eng.events, rss_mb())]
    every = s.journal.snapshot_every
    try:
        if hasattr(venue, "start"):  # a live venue: connect, then reconcile with the journal
            await venue.start()
            got = await reconcile(eng, venue)
            announce(f"flatbook live: reconciled with {venue.name}: {got}")
        if ready is not None:
            ready(eng, url)
        t_wall = time.perf_counter()
        seq = None
        if feed is not None:
            last_snap = start
            on_venue = venue.on_market if (venue is not None and hasattr(venue, "on_market")) else None
            on_market = eng.on_market
            exit_by = None
            try:
                async for me in feed.events(start):
                    if on_venue is not None:
                        on_venue(me)
                    on_market(me)
                    seq = me.seq
                    if exit_by is None and replay and me.seq - last_snap >= every:
                        snapshot(eng, venue, me.seq + 1)
                        last_snap = me.seq
                    if me.seq % RSS_EVERY == 0:
                        mem.append((eng.events, rss_mb()))
                    if stop.is_set():
                        if eng.halted or not why:
                            break
                        if exit_by is None:
                            exit_by = time.monotonic() + EXIT_WAIT_S
                            eng.begin_exit(me.ts, flatten_on_exit, f"stop signal {why[0]}")
                        if eng.exit_done() or time.monotonic() > exit_by:
                            break
            except JournalError as err:
                fault = err
                eng.halt(eng.last_ts or time.time_ns(), err)
            if fault is None and eng.halted:
                fault = eng.fault
            if fault is None and why:
                exit_info = await _finish_exit(eng, venue, flatten_on_exit, why[0])
            if fault is None and replay:
                snapshot(eng, venue, (seq + 1) if seq is not None else start)
        if fault is None and not stop.is_set() and (feed is None or hold):
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except TimeoutError:
                    pass
                if not replay and not eng.halted:
                    snapshot(eng, None, -1)
            fault = eng.fault
        if why and fault is None and exit_info is None:
            exit_info = await _finish_exit(eng, venue, flatten_on_exit, why[0])
            if replay:
                snapshot(eng, venue, (seq + 1) if seq is not None else start)
    except JournalError as err:
        fault = err
        eng.halt(eng.last_ts or time.time_ns(), err)
    finally:
        wall = time.perf_counter() - t_wall
        if not replay and fault is None:
            try:
                snapshot(eng, None, -1)
            except JournalError as err:
                fault = err
                eng.halt(eng.last_ts or time.time_ns(), err)
        if fault is not None and venue is not None and hasattr(venue, "drain"):
            try:  # the halt's cancels reach a live venue before it closes
                await asyncio.wait_for(venue.drain(), EXIT_WAIT_S)
            except (TimeoutError, Exception):  # noqa: BLE001 - closing after a fault: best effort
                pass
        await eng.alerts.drain(2.0)
        await eng.alerts.close()
        if feed is not None:
            await feed.close()
        if venue is not None:
            await venue.close()
        if runner is not None:
            await runner.cleanup()
        if fault is not None:
            eng.journal.close()
    if fault is not None:
        what = "resting orders cancelled, " if venue is not None else ""
        raise JournalError(f"{fault.message} (quoting stopped, {what}open position {eng.q:g} lots)", full=fault.full)
    if exit_info is not None:
        announce(exit_info["message"])
    mem.append((eng.events, rss_mb()))
    n = eng.events - n0
    summary = {
        "mode": eng.mode,
        "session": eng.session,
        "events": eng.events,
        "events_this_run": n,
        "wall_s": wall,
        "events_per_s": n / wall if wall > 0 else math.nan,
        **eng.contract_info(),
        "position": eng.q,
        "cash": eng.cash,
        "pnl": eng.pnl(),
        "fills": eng.fills,
        "journal_fills": eng.journal.fill_count(),
        "duplicate_fills": eng.duplicates,
        "orders": eng.orders,
        "rejected_orders": eng.rejected,
        "killed": eng.killed,
        "journal_errors": eng.journal.errors,
        "journal_commits": eng.journal.commits,
        "alerts": eng.alerts.count,
        "alerts_sent": eng.alerts.sent,
        "pending_redelivery": len(eng.pending),
        "open_orders": len(eng.open),
        "stop": exit_info,
        "timing": {"tick_to_quote": percentiles(eng.latency_samples()), "rss_mb": [[int(a), float(b)] for a, b in mem]},
    }
    eng.journal.close()
    return group_timing(summary)


async def _close_quietly(x) -> None:
    try:
        await x.close()
    except Exception:  # noqa: BLE001 - closing after a start-up error: best effort
        pass


async def _finish_exit(eng: Engine, venue, flatten: bool, signame: str) -> dict:
    """The stop after a signal: cancels (and the flatten) confirmed, then the stop line's facts.

    A replay's venue confirms while the feed runs on (the runner's loop); when nothing feeds it (monitor mode,
    the tape already ended) the cancels are sent here, and a live venue gets ``EXIT_WAIT_S`` to confirm them."""
    ts = eng.last_ts or time.time_ns()
    if not eng.exiting:
        eng.begin_exit(ts, flatten, f"stop signal {signame}")
    if venue is not None and hasattr(venue, "drain"):
        deadline = time.monotonic() + EXIT_WAIT_S
        while not eng.exit_done() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(venue.drain(), max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                break
            if not eng.exit_done():
                eng.flatten_step(eng.last_ts or ts, take=eng.flattening)
                await asyncio.sleep(0.05)
    done = eng.exit_done()
    flattened = eng._exit_flatten and eng.q == 0.0
    eng.end_exit()
    q = eng.q
    if eng.venue is None:
        what = "monitor mode (no orders)"
    elif done:
        what = "quotes cancelled" + (", position flattened through the venue" if flattened else "")
    else:
        what = f"{len(eng.open)} order(s) not confirmed cancelled by the venue"
    tail = (
        ""
        if q == 0.0 or flattened or eng.venue is None or flatten
        else " (not flattened: --flatten-on-exit flattens through the venue)"
    )
    return {
        "signal": signame,
        "cancelled": done and eng.venue is not None,
        "flattened": flattened,
        "open_orders": len(eng.open),
        "position": q,
        "message": f"flatbook live: stopped by {signame}: {what}; open position {q:g} lots{tail}",
    }


def main(
    s: LiveSettings, out: Path | None, port: int | None, hold: bool, announce=_stdout, flatten_on_exit: bool = False
) -> dict:
    """Run and write ``summary.json`` to ``out`` (when given)."""
    try:
        summary = asyncio.run(run(s, port=port, hold=hold, announce=announce, flatten_on_exit=flatten_on_exit))
    except KeyboardInterrupt:  # pragma: no cover - the loop handles SIGINT itself
        sys.exit(130)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(out / "summary.json") as f:
            f.write(orjson.dumps(jsonable(summary), option=orjson.OPT_INDENT_2))
    return summary
