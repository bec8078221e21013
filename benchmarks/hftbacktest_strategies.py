"""The benchmark's two quoting strategies written for hftbacktest (PyPI ``hftbacktest`` 2.4.x).

Used by ``benchmarks/bench_backtest.py``, in process (throughput) and as a
script in a fresh interpreter (end-to-end wall time and peak memory):

    .venv/bin/python benchmarks/hftbacktest_strategies.py DATA.npz --strategy linear-skew \\
        --order-latency-ms 10 --maker-fee-bps -0.5 --set half_spread=1 --set skew=20 \\
        --set size=0.01 --set limit=0.1

prints one JSON line: fills, volume, final position, PnL, loop time. ``--log X.npz``
also writes every fill and every order sent, cancelled or expired (for
``benchmarks/fill_agreement.py``); ``--repeat N`` times N runs in the process.
Two more forms: ``convert SRC --feed-latency-ms L --out X.npz [--tile N]`` (the
data, below) and ``baseline`` (imports only: the memory floor).

What the strategies do (the same rules as flatbook's replay with
``--min-requote-ms 100``; see benchmarks/README.md for what still differs):

* every ``interval`` ns of local time (``hbt.elapse``; ``--clock interval``,
  hftbacktest's usual form), or at every market feed event when ``interval``
  ns have passed since the last request and the mid, the spread or q changed
  (``hbt.wait_next_feed``; ``--clock events``, flatbook's replay rule), read
  the mid of hftbacktest's order book and our position q (BTC);
* depths from the mid: linear skew δb = h + skew·q, δa = h − skew·q; GLFT
  closed form δb = c + (q + ½)·ω, δa = c − (q − ½)·ω (q in BTC, as flatbook's
  ``glft`` policy uses it);
* never cross: bid ≤ best ask − 1 tick, ask ≥ best bid + 1 tick; then bid
  rounded down and ask up to the tick (flatbook's ``control_quotes``);
* one GTX (post-only) limit order per side (NoPartialFillExchange: an order
  fills in full once the queue ahead of it is used up; see README for why not
  PartialFillExchange), of min(size, limit − q) on the bid and
  min(size, limit + q) on the ask, floored to the lot; no bid when q ≥ limit,
  no ask when q ≤ −limit. A new order is also cut by what an order on its side
  that is being cancelled may still fill, so q never passes the limit (flatbook
  clips a replacement when it reaches the exchange);
* a side is cancelled and re-sent when its price moves by a tick or more or its
  size changes, and re-sent when it has no live order (filled, expired); while
  a request on it is in flight it is left alone.

Data: :func:`convert` runs hftbacktest's own Binance Futures converter
(``hftbacktest.data.utils.binancefutures.convert``) and then sets a constant
feed latency: ``local_ts = exch_ts + feed_latency`` for every row, re-ordered
with hftbacktest's ``correct_event_order`` and checked with
``validate_event_order``. (The converter alone keeps the capture machine's
measured, variable latency, shifted so that none is negative.)

hftbacktest is imported lazily: importing this module without hftbacktest
installed works; calling anything that needs it raises ImportError.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

LINEAR_SKEW, GLFT = 0, 1
CLOCK_INTERVAL, CLOCK_EVENTS = 0, 1
CLOCKS = {"interval": CLOCK_INTERVAL, "events": CLOCK_EVENTS}
STRATEGIES = {"linear-skew": LINEAR_SKEW, "glft": GLFT}
# out[] slots filled by the strategy loop
(
    O_WAKEUPS,
    O_QUOTED,
    O_SUBMITTED,
    O_CANCELLED,
    O_EXPIRED,
    O_MID,
    O_BID_SUM,
    O_ASK_SUM,
    O_BOTH,
    O_RC,
    O_LAST_TS,
    O_MAX_Q,
    O_NFILL,
    O_NORD,
) = range(14)
O_LEN = 14
# the logs (quote_loop's flog and olog; 0 rows: not logged)
#: flog columns: exchange time of the fill (ns), side (+1 buy), price, quantity, order id
F_TS, F_SIDE, F_PX, F_QTY, F_ID = range(5)
F_COLS = 5
#: olog columns: local time (ns), what (OL_SUBMIT, OL_CANCEL, OL_EXPIRED), side (+1 buy), price, quantity, order id
L_TS, L_WHAT, L_SIDE, L_PX, L_QTY, L_ID = range(6)
L_COLS = 6
OL_SUBMIT, OL_CANCEL, OL_EXPIRED = 1, 2, 3
ROI_PAD = 0.15  # order-book region of interest: the data's price range ± 15 %


def glft_constants(gamma: float, sigma: float, A: float, k: float) -> tuple[float, float]:
    """(c, ω) of the GLFT closed form, the same formula as flatbook.policies.glft_solution.glft_constants:
    c = (1/γ)·ln(1 + γ/k), ω = sqrt(σ²γ/(2kA)·(1 + γ/k)^(1 + k/γ))."""
    lg = math.log1p(gamma / k)
    omega = math.sqrt(sigma**2 * gamma / (2.0 * k * A) * math.exp((1.0 + k / gamma) * lg))
    return lg / gamma, omega


# --------------------------------------------------------------------------- data
def convert_raw(src: str | Path) -> np.ndarray:
    """hftbacktest's own Binance Futures converter on ``src`` (its progress messages silenced)."""
    import contextlib
    import io

    from hftbacktest.data.utils import binancefutures

    with contextlib.redirect_stdout(io.StringIO()):
        return binancefutures.convert(str(src), output_filename=None, combined_stream=True)


def with_feed_latency(raw: np.ndarray, feed_latency_ns: int) -> np.ndarray:
    """The converted events with a constant feed latency: ``local_ts = exch_ts + feed_latency_ns``.

    The converter duplicates the rows whose exchange and local orders disagree (one
    copy flagged EXCH_EVENT, the other LOCAL_EVENT); the rows flagged EXCH_EVENT are
    every event once, in exchange order. They are re-timed, re-flagged with
    hftbacktest's ``correct_event_order`` and checked with ``validate_event_order``.
    """
    from hftbacktest import EXCH_EVENT, LOCAL_EVENT
    from hftbacktest.data.validation import correct_event_order, validate_event_order

    ev = raw[(raw["ev"] & EXCH_EVENT) == EXCH_EVENT].copy()
    ev["ev"] &= ~np.uint64(EXCH_EVENT | LOCAL_EVENT)
    ev["local_ts"] = ev["exch_ts"] + np.int64(feed_latency_ns)
    order = np.argsort(ev["exch_ts"], kind="mergesort")
    data = correct_event_order(ev, order, order)
    validate_event_order(data)
    return data


def convert(src: str | Path, feed_latency_ns: int, out_npz: str | Path | None = None) -> np.ndarray:
    """:func:`convert_raw` then :func:`with_feed_latency`; written to ``out_npz`` (``np.savez``, key
    ``data``) when given."""
    data = with_feed_latency(convert_raw(src), feed_latency_ns)
    if out_npz is not None:
        save_npz(out_npz, data)
    return data


def save_npz(path: str | Path, data: np.ndarray) -> None:
    np.savez(path, data=data)


def load_npz(path: str | Path) -> np.ndarray:
    with np.load(path) as f:
        return f["data"]


def build(
    data: np.ndarray,
    *,
    order_latency_ns: int,
    maker_fee_bps: float,
    tick: float = 0.1,
    lot: float = 0.001,
    queue_power: float = 1.0,
    partial_fills: bool = False,
    roi: tuple[float, float] | None = None,
):
    """An hftbacktest ROIVectorMarketDepthBacktest on ``data`` (kept alive by the caller)."""
    from hftbacktest import BacktestAsset, ROIVectorMarketDepthBacktest

    if roi is None:
        px = data["px"][np.isfinite(data["px"]) & (data["px"] > 0)]
        mid = float(np.median(px))
        roi = (math.floor(mid * (1 - ROI_PAD)), math.ceil(mid * (1 + ROI_PAD)))
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(int(order_latency_ns), int(order_latency_ns))
        .power_prob_queue_model(queue_power)
        .trading_value_fee_model(maker_fee_bps * 1e-4, 0.0)
        .tick_size(tick)
        .lot_size(lot)
        .roi_lb(roi[0])
        .roi_ub(roi[1])
        .last_trades_capacity(0)
    )
    asset = asset.partial_fill_exchange() if partial_fills else asset.no_partial_fill_exchange()
    return ROIVectorMarketDepthBacktest([asset])


# --------------------------------------------------------------------------- the strategy loop
@njit
def resting_qty(orders, side, skip_id):
    """Unfilled quantity of our live orders on ``side`` (1 buy, −1 sell) other than ``skip_id``:
    orders being cancelled can still fill until the cancel reaches the exchange."""
    total = 0.0
    vals = orders.values()
    while vals.has_next():
        o = vals.get()
        if o.side == side and o.order_id != skip_id and (o.status == 0 or o.status == 1 or o.status == 5):
            total += o.leaves_qty  # NONE (new, not yet acknowledged), NEW, PARTIALLY_FILLED
    return total


@njit
def _log_fills(orders, tick, flog, out):
    """Log every filled order of ``orders`` (NoPartialFillExchange: one fill per order) before it is cleared."""
    if flog.shape[0] == 0:
        return
    vals = orders.values()
    while vals.has_next():
        o = vals.get()
        if o.status == 3 and out[O_NFILL] < flog.shape[0]:  # FILLED
            i = int(out[O_NFILL])
            flog[i, F_TS] = o.exch_timestamp
            flog[i, F_SIDE] = 1.0 if o.side == 1 else -1.0
            flog[i, F_PX] = o.exec_price_tick * tick
            flog[i, F_QTY] = o.exec_qty
            flog[i, F_ID] = o.order_id
            out[O_NFILL] += 1


@njit
def _log_order(olog, out, ts, what, side, px, qty, oid):
    if olog.shape[0] == 0 or out[O_NORD] >= olog.shape[0]:
        return
    i = int(out[O_NORD])
    olog[i, L_TS] = ts
    olog[i, L_WHAT] = what
    olog[i, L_SIDE] = side
    olog[i, L_PX] = px
    olog[i, L_QTY] = qty
    olog[i, L_ID] = oid
    out[O_NORD] += 1


# not cache=True: hftbacktest's jitclass methods call its Rust library through ctypes
# pointers, which numba cannot cache ("uses dynamic globals"); every process compiles
@njit
def quote_loop(hbt, mode, p1, p2, size, limit, interval_ns, clock, out, flog, olog):
    """One order per side. mode LINEAR_SKEW: p1 = half_spread, p2 = skew; mode GLFT: p1 = c, p2 = ω.
    ``clock`` CLOCK_INTERVAL: decide every ``interval_ns`` of local time (``elapse``); CLOCK_EVENTS: wake at
    every market feed event (``wait_next_feed``) and decide when ``interval_ns`` have passed since the last
    request and the mid, the spread or the position changed since the last decision (flatbook's replay rule,
    ``flatbook.strategy.requote.decision_due``). ``flog`` / ``olog``: the fill and order logs (F_* and L_*
    columns; arrays of 0 rows: no log). Returns the number of loop iterations."""
    asset_no = 0
    depth = hbt.depth(asset_no)
    tick = depth.tick_size
    lot = depth.lot_size
    next_id = np.uint64(1)
    bid_id = np.uint64(0)
    ask_id = np.uint64(0)
    bid_tick = np.int64(0)
    ask_tick = np.int64(0)
    bid_qty = 0.0
    ask_qty = 0.0
    mid = np.nan
    last_req = np.int64(-(2**62))
    last_mid = np.nan
    last_spread = np.nan
    last_q = np.nan
    while True:
        if clock == CLOCK_EVENTS:
            rc = hbt.wait_next_feed(False, np.int64(3_600_000_000_000))
            out[O_RC] = rc
            out[O_LAST_TS] = hbt.current_timestamp
            if rc != 0 and rc != 2:
                break  # 1: end of the data; anything else: an error
        else:
            rc = hbt.elapse(interval_ns)
            out[O_RC] = rc
            out[O_LAST_TS] = hbt.current_timestamp
            if rc != 0:
                break  # 1: end of the data; anything else: an error
        out[O_WAKEUPS] += 1
        # count post-only rejections, then forget inactive orders
        orders = hbt.orders(asset_no)
        for oid in (bid_id, ask_id):
            if oid != 0:
                o = orders.get(oid)
                if o is not None and o.status == 2:  # EXPIRED: GTX would have crossed
                    out[O_EXPIRED] += 1
                    _log_order(
                        olog,
                        out,
                        hbt.current_timestamp,
                        OL_EXPIRED,
                        1.0 if o.side == 1 else -1.0,
                        o.price_tick * tick,
                        o.qty,
                        oid,
                    )
        _log_fills(orders, tick, flog, out)
        hbt.clear_inactive_orders(asset_no)
        orders = hbt.orders(asset_no)
        if bid_id != 0 and orders.get(bid_id) is None:
            bid_id = np.uint64(0)
        if ask_id != 0 and orders.get(ask_id) is None:
            ask_id = np.uint64(0)

        depth = hbt.depth(asset_no)
        bb_t = depth.best_bid_tick
        ba_t = depth.best_ask_tick
        if bb_t == -9223372036854775807 - 1 or ba_t == 9223372036854775807 or ba_t <= bb_t:
            continue  # no two-sided book yet
        mid = 0.5 * (depth.best_bid + depth.best_ask)
        q = hbt.position(asset_no)
        out[O_MAX_Q] = max(out[O_MAX_Q], abs(q))
        if clock == CLOCK_EVENTS:
            now = hbt.current_timestamp
            spread = (ba_t - bb_t) * tick
            if now - last_req < interval_ns or (mid == last_mid and spread == last_spread and q == last_q):
                continue
            last_mid = mid
            last_spread = spread
            last_q = q
        if mode == LINEAR_SKEW:
            db = p1 + p2 * q
            da = p1 - p2 * q
        else:
            db = p1 + (q + 0.5) * p2
            da = p1 - (q - 0.5) * p2
        # never cross the touch (at most one tick inside it), then round away from the mid
        half_mkt = 0.5 * (ba_t - bb_t) * tick
        db = max(db, -half_mkt + tick)
        da = max(da, -half_mkt + tick)
        new_bid_tick = np.int64(math.floor((mid - db) / tick + 1e-9))
        new_ask_tick = np.int64(math.ceil((mid + da) / tick - 1e-9))
        new_bid_qty = math.floor(min(size, max(limit - q, 0.0)) / lot + 1e-9) * lot
        new_ask_qty = math.floor(min(size, max(limit + q, 0.0)) / lot + 1e-9) * lot
        out[O_QUOTED] += 1
        if new_bid_qty > 0.0 and new_ask_qty > 0.0:
            out[O_BOTH] += 1
            out[O_BID_SUM] += mid - new_bid_tick * tick
            out[O_ASK_SUM] += new_ask_tick * tick - mid

        # bid side
        busy = False
        if bid_id != 0 and (new_bid_qty <= 0.0 or new_bid_tick != bid_tick or new_bid_qty != bid_qty):
            o = orders.get(bid_id)
            if o is not None and o.cancellable:
                hbt.cancel(asset_no, bid_id, False)
                out[O_CANCELLED] += 1
                last_req = hbt.current_timestamp
                _log_order(olog, out, hbt.current_timestamp, OL_CANCEL, 1.0, o.price_tick * tick, o.qty, bid_id)
                bid_id = np.uint64(0)
            elif o is not None and o.req != 0:
                busy = True  # a request in flight: wait for its answer
            else:
                bid_id = np.uint64(0)
        if bid_id == 0 and new_bid_qty > 0.0 and not busy:
            # the hard limit counts what the orders being cancelled may still fill
            exposure = resting_qty(orders, 1, np.uint64(0))
            qty = math.floor(min(new_bid_qty, max(limit - q - exposure, 0.0)) / lot + 1e-9) * lot
        else:
            qty = 0.0
        if qty > 0.0:
            bid_id = next_id
            next_id += np.uint64(1)
            hbt.submit_buy_order(asset_no, bid_id, new_bid_tick * tick, qty, 1, 0, False)  # GTX, LIMIT
            _log_order(olog, out, hbt.current_timestamp, OL_SUBMIT, 1.0, new_bid_tick * tick, qty, bid_id)
            bid_tick = new_bid_tick
            bid_qty = new_bid_qty
            out[O_SUBMITTED] += 1
            last_req = hbt.current_timestamp
        # ask side
        busy = False
        if ask_id != 0 and (new_ask_qty <= 0.0 or new_ask_tick != ask_tick or new_ask_qty != ask_qty):
            o = orders.get(ask_id)
            if o is not None and o.cancellable:
                hbt.cancel(asset_no, ask_id, False)
                out[O_CANCELLED] += 1
                last_req = hbt.current_timestamp
                _log_order(olog, out, hbt.current_timestamp, OL_CANCEL, -1.0, o.price_tick * tick, o.qty, ask_id)
                ask_id = np.uint64(0)
            elif o is not None and o.req != 0:
                busy = True  # a request in flight: wait for its answer
            else:
                ask_id = np.uint64(0)
        if ask_id == 0 and new_ask_qty > 0.0 and not busy:
            # the hard limit counts what the orders being cancelled may still fill
            exposure = resting_qty(orders, -1, np.uint64(0))
            qty = math.floor(min(new_ask_qty, max(limit + q - exposure, 0.0)) / lot + 1e-9) * lot
        else:
            qty = 0.0
        if qty > 0.0:
            ask_id = next_id
            next_id += np.uint64(1)
            hbt.submit_sell_order(asset_no, ask_id, new_ask_tick * tick, qty, 1, 0, False)
            _log_order(olog, out, hbt.current_timestamp, OL_SUBMIT, -1.0, new_ask_tick * tick, qty, ask_id)
            ask_tick = new_ask_tick
            ask_qty = new_ask_qty
            out[O_SUBMITTED] += 1
            last_req = hbt.current_timestamp
    # the final mark: the book at the end of the data; the fills of the last interval
    _log_fills(hbt.orders(asset_no), tick, flog, out)
    depth = hbt.depth(asset_no)
    if depth.best_bid_tick > -9223372036854775807 - 1 and depth.best_ask_tick < 9223372036854775807:
        mid = 0.5 * (depth.best_bid + depth.best_ask)
    out[O_MID] = mid
    return out[O_WAKEUPS]


def params_for(strategy: str, values: dict) -> tuple[int, float, float]:
    """(mode, p1, p2) of :func:`quote_loop` for a strategy and its parameters."""
    if strategy == "linear-skew":
        return LINEAR_SKEW, float(values["half_spread"]), float(values["skew"])
    if strategy == "glft":
        c, omega = glft_constants(
            float(values["gamma"]), float(values["sigma"]), float(values["A"]), float(values["k"])
        )
        return GLFT, c, omega
    raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")


def run(
    data: np.ndarray,
    strategy: str,
    values: dict,
    *,
    order_latency_ns: int,
    maker_fee_bps: float,
    interval_ns: int = 100_000_000,
    queue_power: float = 1.0,
    partial_fills: bool = False,
    log: bool = False,
    clock: str = "interval",
) -> dict:
    """Build a backtest on ``data``, run the strategy once, and summarise it.

    ``loop_s`` times the compiled strategy call only (the replay), ``build_s`` the
    construction of the backtest; compile the loop first (:func:`warm_up`) to
    keep compilation out of ``loop_s``. ``log``: also return ``fill_log`` (one row
    per fill, F_* columns) and ``order_log`` (one row per submit, cancel or
    post-only expiry, L_* columns) as arrays.
    """
    mode, p1, p2 = params_for(strategy, values)
    if log:
        span = int(data["local_ts"][-1]) - int(data["local_ts"][0]) if len(data) else 0
        wakeups = span // max(int(interval_ns), 1) + 2
        flog, olog = np.zeros((2 * wakeups + 16, F_COLS)), np.zeros((6 * wakeups + 16, L_COLS))
    else:
        flog, olog = np.zeros((0, F_COLS)), np.zeros((0, L_COLS))
    t0 = time.perf_counter()
    hbt = build(
        data,
        order_latency_ns=order_latency_ns,
        maker_fee_bps=maker_fee_bps,
        queue_power=queue_power,
        partial_fills=partial_fills,
    )
    t1 = time.perf_counter()
    out = np.zeros(O_LEN)
    quote_loop(
        hbt,
        mode,
        p1,
        p2,
        float(values["size"]),
        float(values["limit"]),
        np.int64(interval_ns),
        CLOCKS[clock],
        out,
        flog,
        olog,
    )
    t2 = time.perf_counter()
    sv = hbt.state_values(0)
    position, balance, fee = float(sv.position), float(sv.balance), float(sv.fee)
    res = {
        "events": int(len(data)),
        "build_s": t1 - t0,
        "loop_s": t2 - t1,
        "events_per_s": len(data) / (t2 - t1) if t2 > t1 else None,
        "fills": int(sv.num_trades),
        "maker_volume": float(sv.trading_volume),
        "maker_notional": float(sv.trading_value),
        "final_q": position,
        "max_abs_q": float(out[O_MAX_Q]),  # as seen at the wake-ups
        "fees": fee,
        "final_mid": float(out[O_MID]),
        "pnl_final": balance - fee + position * float(out[O_MID]),
        "wakeups": int(out[O_WAKEUPS]),
        "elapse_rc": int(out[O_RC]),
        "submitted": int(out[O_SUBMITTED]),
        "cancelled": int(out[O_CANCELLED]),
        "expired_post_only": int(out[O_EXPIRED]),
        "mean_bid_depth": out[O_BID_SUM] / out[O_BOTH] if out[O_BOTH] else None,
        "mean_ask_depth": out[O_ASK_SUM] / out[O_BOTH] if out[O_BOTH] else None,
        "mean_half_spread": (out[O_BID_SUM] + out[O_ASK_SUM]) / (2.0 * out[O_BOTH]) if out[O_BOTH] else None,
        "strategy_params": {"mode": strategy, "p1": p1, "p2": p2},
    }
    if log:
        res["fill_log"] = flog[: int(out[O_NFILL])].copy()
        res["order_log"] = olog[: int(out[O_NORD])].copy()
        res["log_complete"] = bool(out[O_NFILL] < flog.shape[0] and out[O_NORD] < olog.shape[0])
    hbt.close()
    return res


def warm_up(data: np.ndarray, **kw) -> float:
    """Compile (or load from numba's cache) the strategy loop on a short slice; returns seconds."""
    t0 = time.perf_counter()
    run(
        data[: min(len(data), 20_000)].copy(),
        "linear-skew",
        {"half_spread": 1.0, "skew": 0.0, "size": 0.01, "limit": 0.1},
        **kw,
    )
    return time.perf_counter() - t0


def _vmhwm_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def tile(data: np.ndarray, times: int) -> np.ndarray:
    """``data`` repeated ``times`` times end to end: copy i is shifted by i·(span + 1 ms), span = last − first
    exchange time (ns); both time columns shift, so every copy keeps its feed latency and event order."""
    if times <= 1:
        return data
    span = int(data["exch_ts"][-1]) - int(data["exch_ts"][0]) + 1_000_000
    out = np.empty(len(data) * times, data.dtype)
    for i in range(times):
        part = out[i * len(data) : (i + 1) * len(data)]
        part[:] = data
        part["exch_ts"] += np.int64(i * span)
        part["local_ts"] += np.int64(i * span)
    return out


def _cmd_convert(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="hftbacktest_strategies.py convert", description=convert.__doc__)
    ap.add_argument("src", help="a Binance Futures capture (.gz of JSON lines, combined stream)")
    ap.add_argument("--feed-latency-ms", type=float, default=0.0)
    ap.add_argument("--out", required=True, help="the .npz to write (key 'data')")
    ap.add_argument("--tile", type=int, default=1, help="repeat the converted data this many times (tile())")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    raw = convert_raw(args.src)
    t1 = time.perf_counter()
    data = with_feed_latency(raw, round(args.feed_latency_ms * 1e6))
    t2 = time.perf_counter()
    data = tile(data, args.tile)
    save_npz(args.out, data)
    print(
        json.dumps(
            {
                "convert_s": t1 - t0,
                "feed_latency_s": t2 - t1,
                "converter_rows": int(len(raw)),
                "rows": int(len(data)),
                "span_s": (int(data["exch_ts"][-1]) - int(data["exch_ts"][0])) / 1e9,
            }
        )
    )
    return 0


def _cmd_baseline(argv: list[str]) -> int:
    """Import what a run imports (hftbacktest, numba, this module) and load nothing: the memory floor."""
    import hftbacktest  # noqa: F401

    print(json.dumps({"vmhwm_kb": _vmhwm_kb()}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Fresh-process run: load the converted data, build, run the strategy; one JSON line on stdout.

    Also ``convert SRC --feed-latency-ms L --out X.npz [--tile N]`` (the converter, a constant feed latency,
    optionally tiled) and ``baseline`` (imports only, for the memory floor)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "convert":
        return _cmd_convert(argv[1:])
    if argv and argv[0] == "baseline":
        return _cmd_baseline(argv[1:])
    t_start = time.perf_counter()
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("data", help="converted data (.npz with key 'data', from convert())")
    ap.add_argument("--strategy", choices=sorted(STRATEGIES), required=True)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="K=V")
    ap.add_argument("--order-latency-ms", type=float, default=0.0)
    ap.add_argument("--maker-fee-bps", type=float, default=0.0)
    ap.add_argument("--interval-ms", type=float, default=100.0)
    ap.add_argument("--queue-power", type=float, default=1.0)
    ap.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="in-process timing: compile on a slice first, then this many runs (loop_s_all, build_s_all)",
    )
    ap.add_argument("--log", default=None, help="write the fill and order logs of the (last) run to this .npz")
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="interval",
        help="interval: decide every --interval-ms (elapse); events: at feed events, at most every --interval-ms "
        "and only when mid, spread or position changed (flatbook's rule)",
    )
    args = ap.parse_args(argv)
    values = {}
    for kv in args.sets:
        k, _, v = kv.partition("=")
        values[k.strip()] = float(v)
    data = load_npz(args.data)
    t_loaded = time.perf_counter()
    kw = dict(
        order_latency_ns=round(args.order_latency_ms * 1e6),
        maker_fee_bps=args.maker_fee_bps,
        interval_ns=round(args.interval_ms * 1e6),
        queue_power=args.queue_power,
    )
    compile_s = None
    loops, builds = [], []
    if args.repeat > 0:
        compile_s = warm_up(data, order_latency_ns=kw["order_latency_ns"], maker_fee_bps=args.maker_fee_bps)
        for _ in range(args.repeat - 1):
            r = run(data, args.strategy, values, clock=args.clock, **kw)
            loops.append(r["loop_s"])
            builds.append(r["build_s"])
    res = run(data, args.strategy, values, log=args.log is not None, clock=args.clock, **kw)
    loops.append(res["loop_s"])
    builds.append(res["build_s"])
    if args.log is not None:
        np.savez(args.log, fills=res.pop("fill_log"), orders=res.pop("order_log"))
    res["load_s"] = t_loaded - t_start
    res["total_in_process_s"] = time.perf_counter() - t_start
    res["vmhwm_kb"] = _vmhwm_kb()
    if args.repeat > 0:
        res["compile_s"] = compile_s
        res["loop_s_all"] = loops
        res["build_s_all"] = builds
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
