"""The compiled event-driven replay: our quotes against a real tape.

One pass over the events (:class:`flatbook.data.events.EventTable` columns), in
exchange-time order. Per event e at exchange time t_e:

1. Our order requests that reach the exchange by t_e take effect (FIFO). A new
   order joins the *back* of the queue at its price: ``ahead`` = the visible
   size at that price (0 inside the spread: first in line; unknown behind the
   visible levels until its level becomes visible). Its size is clipped to
   ``limit − q`` (bid) or ``limit + q`` (ask) at that moment, and a fill only
   ever shrinks it with q, so q never passes ±limit. A request that would
   cross the book on arrival is rejected (post-only).
2. The event: financing over (t_{e−1}, t_e]; then
   - a trade (aggressor side, price p, quantity v) against our order on the
     hit side: through our price (p worse for the aggressor than ours) fills
     all of it; at our price it first consumes ``ahead``, the rest fills us;
   - a book update: the visible size L at our price fell from L_old by more
     than the volume v printed there since the last update ⇒ cancels
     c = L_old − L − v. ``QUEUE_PRORATA``: ahead ← ahead·(1 − c/L_old)
     (cancels spread evenly over the queue); ``QUEUE_PROB``: the whole cancel
     is ahead of us with probability ahead/L_old (a seeded draw). ahead ≤ L
     always. A book that reaches our price (best ask ≤ our bid) fills our
     order in full.
   - reconciliation: feeds publish a trade and the book change it causes in
     either order. A fall counted as cancels is remembered for
     ``RECONCILE_NS`` (1 ms, Binance's time resolution); a print at our price
     up to that long after it first explains it: that part of the cancel's
     effect on ``ahead`` is undone, and the print then consumes the queue as a
     trade, so one volume is never taken twice. (Print first, then the fall:
     the print is in ``traded`` and the fall is not a cancel.) On the USDⓈ-M
     BTCUSDT capture, of the sell prints whose price level the bookTicker had
     just shown falling, 73.5% print in the same ms as the fall and 87.1%
     within 1 ms.
   Fills are maker fills at our price. Money is in the contract's settlement
   currency: a unit (contract) at price p is worth v(p) = C·p (linear) or
   −C/p (inverse, C in price-currency units; :func:`unit_value`), a buy of n
   costs n·v(p), the mark is cash + q·v(mid), and fee = maker_fee·n +
   maker_fee_bps·1e−4·n·|v(p)| (per contract, and bps of the notional).
3. Mark to market at the mid; drawdown; kill switch (as the simulator), in the
   settlement currency.
4. The strategy sees e at t_e + feed latency and, if at least ``min_requote``
   has passed since its last request, computes its quotes with the *same*
   compiled policy and controls as the simulator
   (the policy's compiled depths loop, :func:`flatbook.policies.compile.depths_loop`;
   :func:`flatbook.controls.quote_controls.control_quotes`) around the mid,
   with the market's own spread as the never-cross touch. A side is re-sent
   only if its price moved by ``refresh_tol`` or more, or its size changed;
   the request reaches the exchange after the order latency.

Prices are compared in integer ticks. Times are int64 ns. Quantities are in
the instrument's units (contracts for inverse contracts); q is signed.
"""

from __future__ import annotations

import functools
import math
import types

import numba as nb
import numpy as np

from ..controls.kill import kill_fires
from ..controls.quote_controls import (
    ACT_HEDGE,
    CP_HALF_MKT,
    CP_LEN,
    CP_LIMIT,
    control_quotes,
)
from ..data.events import TRADE
from ..policies.base import Policy
from ..policies.compile import depths_loop, key_on_model

QUEUE_PRORATA, QUEUE_PROB = 0, 1
QUEUE_MODELS = ("prorata", "prob")
#: A book fall counted as cancels waits this long (ns, inclusive) for the print that explains it.
RECONCILE_NS = 1_000_000

# scalar parameters (``bp``)
(
    BP_T0,
    BP_UNIT_NS,
    BP_T,
    BP_DT,
    BP_NSTEPS,
    BP_FIN_L,
    BP_FIN_S,
    BP_FEE,
    BP_FEE_BPS,
    BP_MAX_LOSS,
    BP_MAX_DD,
    BP_TICK,
    BP_LOT,
    BP_MIN_REQUOTE_NS,
    BP_REFRESH,
    BP_QUEUE,
    BP_SEED,
    BP_TIMED,
    BP_INVERSE,
    BP_CSIZE,
) = range(20)
BP_LEN = 20

# per-run counters (``cnt``); C_EVENT: events done (read by a progress bar while the replay runs)
(C_REQUESTS, C_REJECTED, C_KILL_TS, C_KILL_REASON, C_HEDGE_REQ, C_FILLS, C_EVENT) = range(7)
C_LEN = 7
# accumulators (``acc``): times in ns; money (A_FIN, A_FEES, A_GIVEN_UP, A_MAX_DD, A_PEAK, A_SPREAD_CAP)
# in the settlement currency; A_QUOTE_DIST, A_MKT_HALF: ns × price units, the distance of our quotes
# from the mid and the market's half spread, over the A_QUOTE_T ns in which we quoted
(
    A_TIME,
    A_AT_LIMIT,
    A_Z1,
    A_Z2,
    A_Z3,
    A_SPREAD_T,
    A_SPREAD_SUM,
    A_FIN,
    A_FEES,
    A_GIVEN_UP,
    A_MAX_DD,
    A_PEAK,
    A_SPREAD_CAP,
    A_QUOTE_DIST,
    A_QUOTE_T,
    A_MKT_HALF,
) = range(16)
A_LEN = 16


@nb.njit(inline="always", cache=True)
def _ticks(p, tick):
    return np.int64(math.floor(p / tick + 0.5))


@nb.njit(inline="always", cache=True)
def unit_value(p, inverse, csize):
    """Value of one unit (contract) at price p in the settlement currency, up to a constant:
    C·p (linear) or −C/p (inverse); see :func:`flatbook.data.events.contract_value`."""
    return -csize / p if inverse else csize * p


@nb.njit(inline="always", cache=True)
def unit_value_slope(p, inverse, csize):
    """dv/dp: settlement currency per contract per price unit (C, or C/p² inverse)."""
    return csize / (p * p) if inverse else csize


@nb.njit(inline="always", cache=True)
def inverse_tick(tick):
    """1/tick when the tick is 10^−d (prices are then exactly ticks / 10^d), else 0."""
    inv = np.round(1.0 / tick)
    return inv if abs(inv * tick - 1.0) <= 1e-12 else 0.0


@nb.njit(inline="always", cache=True)
def tick_price(p_t, tick, inv_tick):
    """The price of p_t ticks: p_t / 10^d for a decimal tick (998/10 = 99.8 exactly), else p_t·tick."""
    return p_t / inv_tick if inv_tick > 0.0 else p_t * tick


@nb.njit(inline="always", cache=True, error_model="numpy")
def _as_tuple14(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


@nb.njit(inline="always", cache=True)
def _with_touch(cp, half_mkt):
    """The controls' parameter tuple with the market's half spread as the never-cross touch
    (element CP_HALF_MKT = 12 of CP_LEN = 14, asserted below)."""
    return (cp[0], cp[1], cp[2], cp[3], cp[4], cp[5], cp[6], cp[7], cp[8], cp[9], cp[10], cp[11], half_mkt, cp[13])


assert (CP_HALF_MKT, CP_LEN) == (12, 14), "update _with_touch to the controls' layout"


@nb.njit(inline="always", cache=True)
def _level_size(side, p_t, bb_t, ba_t, bsz, asz, depth, e, tick):
    """Visible size at price p_t (ticks) on our side after event e: 0 inside the
    spread, the best size at the touch, a deeper level's size from ``depth``, or
    NaN when the level is not visible."""
    if side > 0:
        if p_t > bb_t:
            return 0.0
        if p_t == bb_t:
            return bsz
        for lvl in range(1, depth.shape[1]):
            px = depth[e, lvl, 0]
            if px == px and _ticks(px, tick) == p_t:
                return depth[e, lvl, 1]
    else:
        if p_t < ba_t:
            return 0.0
        if p_t == ba_t:
            return asz
        for lvl in range(1, depth.shape[1]):
            px = depth[e, lvl, 2]
            if px == px and _ticks(px, tick) == p_t:
                return depth[e, lvl, 3]
    return np.nan


@nb.njit(inline="always", cache=True)
def arrive(k, p_t, sz, pb, pbs, pa, pas, depth, e, tick, live_p, live_sz, ahead, lvl, traded):
    """Step 1: a request for side k (0 bid, 1 ask) reaches the exchange, against the book
    after event e (best bid pb/size pbs, best ask pa/size pas). It replaces that side's
    order; a post-only request that would cross is rejected (returns True, side left
    empty). The new order joins the back of its level's queue."""
    rejected = False
    if sz > 0.0:
        crosses = (k == 0 and pa == pa and p_t >= _ticks(pa, tick)) or (k == 1 and pb == pb and p_t <= _ticks(pb, tick))
        if crosses:
            rejected = True
            sz = 0.0
    L = 0.0
    if sz > 0.0:
        pbt = _ticks(pb, tick) if pb == pb else np.int64(-(2**62))
        pat = _ticks(pa, tick) if pa == pa else np.int64(2**62)
        L = _level_size(1 if k == 0 else -1, p_t, pbt, pat, pbs, pas, depth, e, tick)
    live_p[k] = p_t
    live_sz[k] = sz
    ahead[k] = L
    lvl[k] = L
    traded[k] = 0.0
    return rejected


@nb.njit(inline="always", cache=True)
def match_side_at(
    k,
    ts_e,
    kind_e,
    side_e,
    px_e,
    qty_e,
    book_ok,
    bb_t,
    ba_t,
    bsz_e,
    asz_e,
    depth,
    e,
    tick,
    lot,
    queue,
    live_p,
    live_sz,
    ahead,
    lvl,
    traded,
    pend_ts,
    pend,
):
    """Step 2 for our resting order on side k and event e at time ts_e (ns): returns the size
    filled (whole lots) and does the queue bookkeeping (see the module docstring).

    ``pend_ts[k]``, ``pend[k, 0]``, ``pend[k, 1]``: the time of the last fall counted as
    cancels, the cancels not yet explained by a print, and what they took off ``ahead``
    (the reconciliation; zero them when a new order arrives).
    """
    sgn = 1 if k == 0 else -1
    p_t = live_p[k]
    fill = 0.0
    if kind_e == TRADE and side_e == -sgn:
        tp = _ticks(px_e, tick)
        through = tp < p_t if k == 0 else tp > p_t
        if through:
            fill = live_sz[k]
            ahead[k] = 0.0
        elif tp == p_t:
            v = qty_e
            a = ahead[k]
            explained = 0.0
            if pend[k, 0] > 0.0 and 0 <= ts_e - pend_ts[k] <= RECONCILE_NS:
                # the book already showed this print as a fall, counted as cancels: undo that
                # part of the cancels' effect; the print then takes the queue as a trade
                explained = min(v, pend[k, 0])
                back = pend[k, 1] * explained / pend[k, 0]
                pend[k, 1] -= back
                pend[k, 0] -= explained
                if a == a:
                    a += back
            traded[k] += v - explained  # the part the book has not shown yet
            if a == a:
                fill = min(live_sz[k], np.floor(max(v - a, 0.0) / lot + 1e-9) * lot)  # whole lots
                ahead[k] = max(a - v, 0.0)
            # else: our level is not visible, so the queue ahead is unknown: assume
            # the print was ahead of us and join the level's back once it shows
    # the book now at or through our price fills us in full
    if fill < live_sz[k] and book_ok and ((k == 0 and ba_t <= p_t) or (k == 1 and bb_t >= p_t)):
        fill = live_sz[k]
    if fill > 0.0:
        live_sz[k] -= fill
        if live_sz[k] <= lot * 1e-9:
            live_sz[k] = 0.0
    if live_sz[k] > 0.0 and kind_e != TRADE:
        # book update: the visible level at our price. A fall not explained
        # by the volume printed there since the last update is cancels.
        L = _level_size(sgn, p_t, bb_t, ba_t, bsz_e, asz_e, depth, e, tick)
        if L == L:
            a = ahead[k]
            a0 = a
            c = lvl[k] - L - traded[k]
            if a != a:
                a = L  # level just became visible: join its back
            elif c > 0.0 and lvl[k] > 0.0:
                if queue == QUEUE_PRORATA:
                    a = a * (1.0 - c / lvl[k])
                elif np.random.random() < a / lvl[k]:
                    a = a - c
            ahead[k] = min(max(a, 0.0), L)
            if c > 0.0 and a0 == a0:
                if not (pend[k, 0] > 0.0 and 0 <= ts_e - pend_ts[k] <= RECONCILE_NS):
                    pend[k, 0] = 0.0
                    pend[k, 1] = 0.0
                    pend_ts[k] = ts_e
                pend[k, 0] += c
                pend[k, 1] += a0 - ahead[k]
        lvl[k] = L
        traded[k] = 0.0
    return fill


@nb.njit(inline="always", cache=True)
def decide(loop, pp, tab, cp, i, t, tau, mid, half_mkt, q, killed, one_s, one_q, one_db, one_da):
    """Step 4, the strategy's decision: the policy's depths (``loop``, its compiled depths,
    :func:`flatbook.policies.compile.depths_loop`) at step i, time t / time-to-go tau, then the
    controls with the market's half spread as the never-cross touch. Returns
    (raw δb, raw δa, δb, δa, bid size, ask size, zone, action) as
    :func:`flatbook.controls.quote_controls.control_quotes`."""
    one_s[0] = mid
    one_q[0] = q
    loop(pp, tab, i, t, tau, one_s, one_q, one_db, one_da)
    db0 = one_db[0]
    da0 = one_da[0]
    db0 = math.inf if math.isnan(db0) else db0  # a NaN depth (a user policy off its probed grid): not quoted
    da0 = math.inf if math.isnan(da0) else da0
    db, da, bsz, asz, zone, act = control_quotes(_with_touch(cp, half_mkt), db0, da0, mid, q, killed)
    return db0, da0, db, da, bsz, asz, zone, act


@nb.njit(inline="always", cache=True)
def side_order(k, mid, db, da, bsz, asz, lot, tick):
    """Side k's order from a decision: (size in whole lots, price in ticks; 0 when not quoted)."""
    if k == 0:
        sz = math.floor(bsz / lot + 1e-9) * lot
        p_t = _ticks(mid - db, tick) if sz > 0.0 else np.int64(0)
    else:
        sz = math.floor(asz / lot + 1e-9) * lot
        p_t = _ticks(mid + da, tick) if sz > 0.0 else np.int64(0)
    return sz, p_t


# live-decision output slots (``strategy_quotes``)
(LD_DB0, LD_DA0, LD_DB, LD_DA, LD_BSZ, LD_ASZ, LD_ZONE, LD_ACT, LD_BID_T, LD_ASK_T, LD_BID_PX, LD_ASK_PX) = range(12)
LD_LEN = 12  # flatbook.live.engine unpacks the slots in this order


@nb.njit(cache=True, error_model="numpy")
def strategy_quotes(loop, pp, tab, cpa, i, t, tau, mid, half_mkt, q, killed, lot, tick, out):
    """The live engine's decision for one state, the replay's step 4 exactly
    (:func:`decide` then :func:`side_order`, prices by :func:`tick_price`), written to ``out`` (``LD_*`` slots).
    t, tau: time since the start and time to go (time units); i: the step of t."""
    db0, da0, db, da, bsz, asz, zone, act = decide(
        loop,
        pp,
        tab,
        _as_tuple14(cpa),
        i,
        t,
        tau,
        mid,
        half_mkt,
        q,
        killed,
        np.empty(1),
        np.empty(1),
        np.empty(1),
        np.empty(1),
    )
    out[LD_DB0] = db0
    out[LD_DA0] = da0
    out[LD_DB] = db
    out[LD_DA] = da
    out[LD_ZONE] = zone
    out[LD_ACT] = act
    inv_tick = inverse_tick(tick)
    sz, p_t = side_order(0, mid, db, da, bsz, asz, lot, tick)
    out[LD_BSZ] = sz
    out[LD_BID_T] = p_t
    out[LD_BID_PX] = tick_price(p_t, tick, inv_tick)
    sz, p_t = side_order(1, mid, db, da, bsz, asz, lot, tick)
    out[LD_ASZ] = sz
    out[LD_ASK_T] = p_t
    out[LD_ASK_PX] = tick_price(p_t, tick, inv_tick)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def replay(
    loop,
    ts,
    kind,
    bid_px,
    bid_sz,
    ask_px,
    ask_sz,
    px,
    qty,
    side,
    depth,
    pp,
    tab,
    cpa,
    bp,
    q0,
    feed_lat,
    order_lat,
    path_q,
    path_cash,
    path_bid,
    path_ask,
    f_ts,
    f_side,
    f_px,
    f_qty,
    f_q,
    f_fee,
    f_mid,
    cnt,
    acc,
):
    """Replay events with the policy ``loop`` (its compiled depths,
    :func:`flatbook.policies.compile.depths_loop`; packed parameters ``pp``, table ``tab``);
    fill the per-event path arrays and the fill records; return the number of fills.

    ``f_mid``: per fill, the mid before its event (price units), the reference of spread capture
    and markouts. ``path_cash`` and ``f_fee`` are in the settlement currency. Runs without the
    GIL; ``cnt[C_EVENT]`` counts the events done.
    """
    n = ts.size
    cp = _as_tuple14(cpa)
    limit = cp[CP_LIMIT]
    t0 = np.int64(bp[BP_T0])
    unit = bp[BP_UNIT_NS]
    T = bp[BP_T]
    dt = bp[BP_DT]
    nsteps = np.int64(bp[BP_NSTEPS])
    fin_l = bp[BP_FIN_L]
    fin_s = bp[BP_FIN_S]
    fee = bp[BP_FEE]
    fee_bps = bp[BP_FEE_BPS] * 1e-4
    max_loss = bp[BP_MAX_LOSS]
    max_dd = bp[BP_MAX_DD]
    tick = bp[BP_TICK]
    inv_tick = inverse_tick(tick)
    lot = bp[BP_LOT]
    inverse = bp[BP_INVERSE] > 0.5
    csize = bp[BP_CSIZE]
    min_req = np.int64(bp[BP_MIN_REQUOTE_NS])
    refresh = bp[BP_REFRESH]
    queue = np.int64(bp[BP_QUEUE])
    np.random.seed(np.int64(bp[BP_SEED]))
    one_s = np.empty(1)
    one_q = np.empty(1)
    one_db = np.empty(1)
    one_da = np.empty(1)

    # our orders: index 0 = bid, 1 = ask. live price (ticks), size, queue ahead,
    # visible level size last seen; intended (last requested) price and size
    live_p = np.zeros(2, np.int64)
    live_sz = np.zeros(2)
    ahead = np.zeros(2)
    lvl = np.zeros(2)
    traded = np.zeros(2)  # volume printed at our price since the last book update
    pend_ts = np.zeros(2, np.int64)  # falls counted as cancels, waiting for their print
    pend = np.zeros((2, 2))
    want_p = np.zeros(2, np.int64)
    want_sz = np.zeros(2)
    # in-flight requests (FIFO): arrival ns, side index, price ticks, size
    cap = 2 * n + 2
    r_ts = np.empty(cap, np.int64)
    r_side = np.empty(cap, np.int64)
    r_p = np.empty(cap, np.int64)
    r_sz = np.empty(cap)
    head = 0
    tail = 0
    last_arrival = np.int64(-(2**62))
    last_req = np.int64(-(2**62))

    q = q0
    cash = 0.0
    killed = False
    prev_zone = 0.0
    nf = 0
    t_prev = ts[0] if n > 0 else t0
    mid0 = 0.5 * (bid_px[0] + ask_px[0]) if n > 0 else 0.0
    # PnL starts at 0: the position is bought at the first mid
    cash = -q0 * unit_value(mid0, inverse, csize) if mid0 == mid0 else 0.0
    mid_ref = mid0  # the last two-sided mid before the current event
    peak = 0.0
    zone = 0.0
    # the quotes of a time-independent policy depend on (mid, spread, q, killed) only:
    # when none of them changed, the last decision stands (exactly)
    timed = bp[BP_TIMED] > 0.5
    last_in = np.array([np.nan, np.nan, np.nan, np.nan])
    cur_spread = np.nan
    cur_dist = np.nan
    cur_half = np.nan
    mo = 0.0
    for e in range(n):
        t = ts[e]
        bb = bid_px[e]
        ba = ask_px[e]
        book_ok = bb == bb and ba == ba
        bb_t = _ticks(bb, tick) if bb == bb else np.int64(-(2**62))
        ba_t = _ticks(ba, tick) if ba == ba else np.int64(2**62)
        # ---- time-weighted state over (t_prev, t]
        span = float(t - t_prev)
        if span > 0.0:
            dtu = span / unit
            fc = fin_l * max(q, 0.0) * dtu + fin_s * max(-q, 0.0) * dtu
            cash -= fc
            acc[A_FIN] += fc
            acc[A_TIME] += span
            acc[A_AT_LIMIT] += span * (abs(q) >= limit)
            acc[A_Z1] += span * (zone == 1.0)
            acc[A_Z2] += span * (zone == 2.0)
            acc[A_Z3] += span * (zone == 3.0)
            if cur_spread == cur_spread:
                acc[A_SPREAD_T] += span
                acc[A_SPREAD_SUM] += span * cur_spread
            if cur_dist == cur_dist:
                acc[A_QUOTE_T] += span
                acc[A_QUOTE_DIST] += span * cur_dist
                acc[A_MKT_HALF] += span * cur_half
        t_prev = t
        # ---- 1. requests that have reached the exchange (against the book before e)
        while head < tail and r_ts[head] <= t:
            k = r_side[head]
            p_t = r_p[head]
            sz = r_sz[head]
            head += 1
            if k == 0:
                sz = min(sz, np.floor(max(limit - q, 0.0) / lot + 1e-9) * lot)  # np.floor: inf stays inf
            else:
                sz = min(sz, np.floor(max(limit + q, 0.0) / lot + 1e-9) * lot)
            if e > 0:
                if arrive(
                    k,
                    p_t,
                    sz,
                    bid_px[e - 1],
                    bid_sz[e - 1],
                    ask_px[e - 1],
                    ask_sz[e - 1],
                    depth,
                    e - 1,
                    tick,
                    live_p,
                    live_sz,
                    ahead,
                    lvl,
                    traded,
                ):
                    cnt[C_REJECTED] += 1
                    want_sz[k] = 0.0  # so the next decision sends the side again
            else:
                live_p[k] = p_t
                live_sz[k] = sz
                ahead[k] = 0.0
                lvl[k] = 0.0
                traded[k] = 0.0
            pend[k, 0] = 0.0
            pend[k, 1] = 0.0
        # ---- 2. the event: trades against our orders, then queue bookkeeping
        for k in range(2):
            if live_sz[k] <= 0.0:
                continue
            sgn = 1 if k == 0 else -1  # +1: our bid (we buy), −1: our ask
            p_t = live_p[k]
            fill = match_side_at(
                k,
                t,
                kind[e],
                side[e],
                px[e],
                qty[e],
                book_ok,
                bb_t,
                ba_t,
                bid_sz[e],
                ask_sz[e],
                depth,
                e,
                tick,
                lot,
                queue,
                live_p,
                live_sz,
                ahead,
                lvl,
                traded,
                pend_ts,
                pend,
            )
            if fill > 0.0:
                fpx = tick_price(p_t, tick, inv_tick)
                fv = unit_value(fpx, inverse, csize)
                # q on the lot grid (no drift from summing decimal sizes) and never
                # past the limit, not even by an ulp
                q = min(max(np.round((q + sgn * fill) / lot) * lot, -limit), limit)
                cash -= sgn * fill * fv
                fe = fee * fill + fee_bps * abs(fv) * fill
                cash -= fe
                acc[A_FEES] += fe
                m_ref = mid_ref if mid_ref == mid_ref else fpx
                acc[A_SPREAD_CAP] += sgn * fill * (unit_value(m_ref, inverse, csize) - fv)
                acc[A_GIVEN_UP] += mo * sgn * fill * unit_value_slope(m_ref, inverse, csize)
                if live_sz[k] == 0.0:
                    want_sz[k] = 0.0  # filled: the next decision quotes this side afresh
                f_ts[nf] = t
                f_side[nf] = sgn
                f_px[nf] = fpx
                f_qty[nf] = fill
                f_q[nf] = q
                f_fee[nf] = fe
                f_mid[nf] = m_ref
                nf += 1
        cnt[C_FILLS] = nf
        # ---- 3. mark, drawdown, kill switch
        mid = 0.5 * (bb + ba)
        if mid == mid:
            mid_ref = mid
            mtm = cash + q * unit_value(mid, inverse, csize)
            peak = max(peak, mtm)
            acc[A_MAX_DD] = max(acc[A_MAX_DD], peak - mtm)
            r = kill_fires(killed, mtm, peak, max_loss, max_dd)
            if r > 0.0:
                killed = True
                cnt[C_KILL_TS] = t
                cnt[C_KILL_REASON] = r
        acc[A_PEAK] = peak
        # ---- 4. the strategy sees e after the feed latency and may requote
        t_obs = t + feed_lat[e]
        same = (
            not timed
            and mid == last_in[0]
            and ba - bb == last_in[1]
            and q == last_in[2]
            and (1.0 if killed else 0.0) == last_in[3]
        )
        if book_ok and ba > bb and t_obs - last_req >= min_req and not same:
            last_in[0] = mid
            last_in[1] = ba - bb
            last_in[2] = q
            last_in[3] = 1.0 if killed else 0.0
            tau = T - (t_obs - t0) / unit
            i = np.int64(math.floor((t_obs - t0) / unit / dt))
            i = min(max(i, 0), nsteps)
            db0, da0, db, da, bsz, asz, zone, act = decide(
                loop,
                pp,
                tab,
                cp,
                i,
                (t_obs - t0) / unit,
                tau,
                mid,
                0.5 * (ba - bb),
                q,
                killed,
                one_s,
                one_q,
                one_db,
                one_da,
            )
            m = 0.5 * (da0 - db0)
            mo = m if abs(m) < math.inf else 0.0
            if act == ACT_HEDGE and zone > prev_zone:
                cnt[C_HEDGE_REQ] += 1
            prev_zone = zone
            sent = False
            for k in range(2):
                sz, p_t = side_order(k, mid, db, da, bsz, asz, lot, tick)
                moved = p_t != want_p[k] and abs(p_t - want_p[k]) * tick >= refresh
                if (sz != want_sz[k]) or (sz > 0.0 and moved):
                    arrival = max(t_obs + order_lat[e], last_arrival)
                    last_arrival = arrival
                    r_ts[tail] = arrival
                    r_side[tail] = k
                    r_p[tail] = p_t
                    r_sz[tail] = sz
                    tail += 1
                    want_p[k] = p_t
                    want_sz[k] = sz
                    cnt[C_REQUESTS] += 1
                    sent = True
            if sent:
                last_req = t_obs
        cur_spread = (live_p[1] - live_p[0]) * tick if live_sz[0] > 0.0 and live_sz[1] > 0.0 else np.nan
        # how far our quotes sit from the mid, beside the market's half spread (price units)
        cur_dist = np.nan
        if book_ok and ba > bb and (live_sz[0] > 0.0 or live_sz[1] > 0.0):
            dsum = 0.0
            nside = 0
            for k in range(2):
                if live_sz[k] > 0.0:
                    dsum += abs(tick_price(live_p[k], tick, inv_tick) - mid)
                    nside += 1
            cur_dist = dsum / nside
            cur_half = 0.5 * (ba - bb)
        cnt[C_EVENT] = e + 1
        path_q[e] = q
        path_cash[e] = cash
        path_bid[e] = tick_price(live_p[0], tick, inv_tick) if live_sz[0] > 0.0 else np.nan
        path_ask[e] = tick_price(live_p[1], tick, inv_tick) if live_sz[1] > 0.0 else np.nan
    return nf


def kernels(policy: Policy) -> types.SimpleNamespace:
    """:func:`replay` and :func:`strategy_quotes` for ``policy`` (a resolved
    :class:`~flatbook.policies.base.Policy`): the compiled kernels with its depths loop bound."""
    loop = depths_loop(policy)
    return types.SimpleNamespace(
        replay=functools.partial(replay, loop), strategy_quotes=functools.partial(strategy_quotes, loop)
    )


key_on_model(replay, strategy_quotes)  # edits to inlined model modules recompile
