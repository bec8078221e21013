"""The hedge pass of a hedged replay, compiled: the inventory leg's q path against a hedge instrument's tape.

One pass over the merged clock of three streams, in exchange-time order (at one ns: the hedge tape's
rows, then the inventory fills, then the inventory instrument's marks): the hedge instrument's event rows
(:class:`flatbook.data.events.EventTable` columns), the inventory leg's fills (q after each, from the
normal replay, :func:`flatbook.backtest.backtester.run_backtest`) and the inventory instrument's mids
(for the PnL decomposition only). At each merged row at exchange time t:

1. The hedge order in flight, if it has arrived (arrival <= t), fills against the hedge book as it
   stands (:func:`walk`), before the row.
2. The row: a hedge row updates the hedge book (the touch from the bid/ask columns; LEVEL and
   CLEAR rows the deeper levels) and H's mark; an inventory fill sets q; an inventory row S's mark.
   Each mark change adds position × change to the decomposition's sums (``HA_*``; see
   :mod:`flatbook.backtest.hedged`), each fill its edge against the mark in force.
3. The hedger sees the row at t + feed latency (one per merged row) and, when no hedge order is in
   flight (and it is not waiting for the book to change, below), decides with the hedging module's compiled rules: with the hedge ratio h
   (units of H per unit of S) and y the hedge position (units of H), the exposure is
   x = q + y/h (units of S); when no program runs, :func:`flatbook.hedging.execution.hedge_due`
   on x − q* starts one of :func:`flatbook.hedging.execution.hedge_size` lots of S, whose goal is
   x + size; a running program sends its next child order
   (:func:`flatbook.hedging.execution.child_order`, the schedule's fractions ``hw``: immediate,
   twap, almgren-chriss) once the child's time start + k·child_ns has come, its remainder cut by
   :func:`flatbook.hedging.execution.toward_goal`. A child of n lots of S is n·h units of H,
   rounded to the hedge instrument's lot (a child that rounds to 0 is skipped, and a remainder
   below half a hedge lot ends the program).
4. The order reaches the exchange after the order latency (one draw per merged row) as an IOC
   order with limit price the touch the hedger saw ± ``ioc_ticks`` ticks (buy: best ask + ticks),
   or as a market order (no limit price).

The fill (:func:`walk`) takes the levels on the far side, best first, while the order has size
left and the level's price is within the limit: level 1 is the touch (the bid/ask columns, which
win over the depth book at and inside the touch); deeper levels come from the depth book rebuilt
from LEVEL rows (``meta.book == "depth"``; none while a CLEAR with qty 0 has left the depth unknown)
or, for a touch book with a ``depth`` array (LOBSTER), from its levels 2… of the current row.
What the visible levels cannot fill is cancelled (IOC and market alike: nothing is assumed beyond
the visible depth). Our orders take liquidity without changing the replayed tape (the rows after it
are as recorded), but what they took stays taken until the book at that level changes: at the touch
until that side's touch price changes (while it stays, a new size there is the recorded queue without
our trades, and we may take that size less what we took), a depth book's deeper level until a LEVEL
row at its price (or a CLEAR), a depth array's deeper level while it shows the same size. So orders at one ns, or
any orders before the book moves, share what the book shows instead of each taking all of it. After
an order leaves a remainder unfilled, the hedger sends nothing more to that side until it changes
(an order to the other side, when the exposure turns, goes out as usual); the remainder counts once (``HA_UNFILLED`` less ``HA_RESENT``, the part of it sent again).
Each level's fill pays the taker fee taker_fee·n + taker_fee_bps·1e−4·n·C·p (settlement currency).

Times are int64 ns; prices in the hedge instrument's price units; quantities in its units.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from ..hedging.execution import child_order, hedge_due, hedge_size, toward_goal
from ..strategy.contract import inverse_tick, tick_price

LEVEL, CLEAR = 2, 3  # flatbook.data.events row kinds (the kernel reads the codes, not the module)

# scalars of the pass, ``hp``
(
    HQ_TRIGGER,
    HQ_THR,
    HQ_URG,
    HQ_SIZING,
    HQ_FRAC,
    HQ_BAND,
    HQ_QSTAR,
    HQ_EXEC,
    HQ_NH,
    HQ_CHILD_NS,
    HQ_RATIO,
    HQ_TICK,
    HQ_LOT,
    HQ_IOC,
    HQ_IOC_TICKS,
    HQ_FEE,
    HQ_FEE_BPS,
    HQ_CSIZE,
    HQ_DEPTH_BOOK,
    HQ_Y0,
    HQ_Q0,
    HQ_CSIZE_S,
) = range(22)
HQ_LEN = 22
#: counters of the pass, ``cnt``
(H_ORDERS, H_FILLS, H_PROGRAMS, H_LEVELS_MAX, H_SKIPPED, H_OVERFLOW) = range(6)
H_CNT_LEN = 6
#: sums of the pass, ``acc``: quantity sent, filled, cancelled beyond the visible depth or the limit (units
#: of H); the PnL decomposition over the window (settlement currency; see flatbook.backtest.hedged)
(
    HA_SENT,
    HA_FILLED,
    HA_UNFILLED,
    HA_SPOT_EDGE,
    HA_MAKER_FEES,
    HA_SPOT_POS,
    HA_HEDGE_EDGE,
    HA_TAKER_FEES,
    HA_HEDGE_POS,
    HA_NET_DELTA,
    HA_BASIS,
    HA_RESENT,
) = range(12)
H_ACC_LEN = 12
#: at most this many deeper levels (LOBSTER depth array) remember what our orders took from them
MAP_LEN = 64


class HedgeTape(NamedTuple):
    """The three streams of the merged clock, with the per-row latencies.

    The hedge instrument's rows (EventTable columns; ``depth``: (rows, levels, 4) of a touch book with levels,
    else one NaN level; ``lvl_idx``: on a LEVEL row the index of its price in ``lvl_ticks``, the sorted prices
    (ticks) the LEVEL rows name, else −1); the inventory leg's fills (``q_ts`` exchange ns, ``q_after`` q after the fill,
    ``q_side`` +1 bought, ``q_px``, ``q_qty``, ``q_fee``); the inventory instrument's marks (``s_ts``, ``s_mid``:
    its rows' mids, price units, NaN where none). ``feed``/``order``: one latency (ns) per merged row. At one
    ns the order is: hedge rows, inventory fills, inventory marks (a fill is valued against the mark before).
    """

    ts: np.ndarray
    kind: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    px: np.ndarray
    qty: np.ndarray
    side: np.ndarray
    depth: np.ndarray
    lvl_idx: np.ndarray
    lvl_ticks: np.ndarray
    q_ts: np.ndarray
    q_after: np.ndarray
    q_side: np.ndarray
    q_px: np.ndarray
    q_qty: np.ndarray
    q_fee: np.ndarray
    s_ts: np.ndarray
    s_mid: np.ndarray
    feed: np.ndarray
    order: np.ndarray


class HedgeOut(NamedTuple):
    """What the pass records: the hedge fills (one row per level taken: ts ns, side +1 buy, px, qty, fee,
    mid before, order id), the orders (decision ns, arrival ns, signed qty, limit price or NaN), counters and
    sums (see ``H_*``, ``HA_*``)."""

    f_ts: np.ndarray
    f_side: np.ndarray
    f_px: np.ndarray
    f_qty: np.ndarray
    f_fee: np.ndarray
    f_mid: np.ndarray
    f_order: np.ndarray
    o_t: np.ndarray
    o_arrival: np.ndarray
    o_qty: np.ndarray
    o_limit: np.ndarray
    cnt: np.ndarray
    acc: np.ndarray


@nb.njit(cache=True, error_model="numpy")
def _levels(book, used, lvl_ticks, sgn, touch_t, want):
    """Depth-book levels strictly beyond the touch on the side an order of sign ``sgn`` takes (``book``: the
    sizes of that side at the sorted prices ``lvl_ticks``, ``used``: what our orders took from each since its
    last LEVEL row), best first, until their sizes left cover ``want``: (ticks, sizes left)."""
    u = lvl_ticks.size
    ks = np.empty(u, np.int64)
    sz = np.empty(u)
    n = 0
    got = 0.0
    if sgn > 0:
        j = np.searchsorted(lvl_ticks, touch_t, side="right")
        while j < u and got < want:
            a = book[j] - used[j]
            if a > 0.0:
                ks[n] = lvl_ticks[j]
                sz[n] = a
                got += a
                n += 1
            j += 1
    else:
        j = np.searchsorted(lvl_ticks, touch_t, side="left") - 1
        while j >= 0 and got < want:
            a = book[j] - used[j]
            if a > 0.0:
                ks[n] = lvl_ticks[j]
                sz[n] = a
                got += a
                n += 1
            j -= 1
    return ks[:n].copy(), sz[:n].copy()


@nb.njit(cache=True, error_model="numpy")
def walk(sgn, qty, lim_t, touch_px, touch_sz, deep_t, deep_sz, tick, lot, out_px, out_qty, out_t):
    """Fill an order of ``qty`` (> 0) on side ``sgn`` (+1 buy: takes asks) against the touch (price, size
    left), then the deeper levels (``deep_t`` ticks, ``deep_sz`` sizes left; best first), while the level's
    price is within ``lim_t`` ticks (buy: <= lim_t; sell: >= lim_t). Writes each level's (price, qty, ticks)
    into out_*: the touch at its recorded price, a deeper level at its ticks on the tick grid
    (:func:`flatbook.strategy.contract.tick_price`, as the replay engine prices); fills are whole lots.
    Returns the number of levels taken."""
    left = qty
    n = 0
    if not (touch_px == touch_px):
        return 0
    inv_tick = inverse_tick(tick)
    tt = np.int64(round(touch_px / tick))
    for j in range(-1, deep_t.size):
        if left < 0.5 * lot:
            break
        p_t = tt if j < 0 else deep_t[j]
        s = touch_sz if j < 0 else deep_sz[j]
        if (p_t > lim_t) if sgn > 0 else (p_t < lim_t):
            break
        if not s > 0.0:  # none shown, or all of it taken by our earlier orders
            continue
        take = min(left, math.floor(s / lot + 1e-9) * lot)
        if not take > 0.0:
            continue
        out_px[n] = touch_px if j < 0 else tick_price(p_t, tick, inv_tick)
        out_qty[n] = take
        out_t[n] = p_t
        left = np.round((left - take) / lot) * lot
        n += 1
    return n


@nb.njit(cache=True, error_model="numpy")
def _map_used(mp, sgn, p_t, shown):
    """What our orders took at ``p_t`` ticks on side ``sgn`` (+1: asks) of a depth array while the level
    showed ``shown``, if it still shows that much (else the level has changed since, and nothing is
    remembered). ``mp``: (MAP_LEN, 4) rows of side, ticks, size shown, size taken."""
    for i in range(mp.shape[0]):
        if mp[i, 0] == sgn and mp[i, 1] == p_t and mp[i, 2] == shown:
            return mp[i, 3]
    return 0.0


@nb.njit(cache=True, error_model="numpy")
def _map_take(mp, slot, sgn, p_t, shown, took):
    """Remember that our orders have taken ``took`` in all at ``p_t`` (side ``sgn``) while it showed ``shown``:
    in its row if there is one, else in row ``slot`` (round robin). Returns the next free slot."""
    for i in range(mp.shape[0]):
        if mp[i, 0] == sgn and mp[i, 1] == p_t:
            mp[i, 2] = shown
            mp[i, 3] = took
            return slot
    mp[slot, 0] = sgn
    mp[slot, 1] = p_t
    mp[slot, 2] = shown
    mp[slot, 3] = took
    return (slot + 1) % mp.shape[0]


@nb.njit(cache=True, error_model="numpy")
def _deeper(
    depth_book, depth_known, bids, asks, used_b, used_a, lvl_ticks, has_levels, depth, e, sgn, tpx, tick, want, mp
):
    """The levels beyond the touch (ticks, sizes left; best first) on the side an order of sign ``sgn``
    takes: a depth book's less what our orders took since each level's last LEVEL row (``used_*``), a depth
    array's less what :func:`_map_used` remembers (``mp``)."""
    if depth_book:
        if depth_known and tpx == tpx:
            tt = np.int64(round(tpx / tick))
            return _levels(asks if sgn > 0 else bids, used_a if sgn > 0 else used_b, lvl_ticks, sgn, tt, want)
        return np.empty(0, np.int64), np.empty(0)
    if has_levels:
        nlev = depth.shape[1]
        m = 0
        deep_t = np.empty(nlev - 1, np.int64)
        deep_sz = np.empty(nlev - 1)
        for lv in range(1, nlev):
            dp = depth[e, lv, 2] if sgn > 0 else depth[e, lv, 0]
            ds = depth[e, lv, 3] if sgn > 0 else depth[e, lv, 1]
            if dp == dp and ds > 0.0:
                dt = np.int64(round(dp / tick))
                a = ds - _map_used(mp, sgn, dt, ds)
                if a > 0.0:
                    deep_t[m] = dt
                    deep_sz[m] = a
                    m += 1
        return deep_t[:m].copy(), deep_sz[:m].copy()
    return np.empty(0, np.int64), np.empty(0)


@nb.njit(cache=True, error_model="numpy")
def hedge_pass(tape, hp, hw, t_start, out):
    """The hedge pass (see the module docstring). ``tape``: :class:`HedgeTape`; ``hp``: the scalars
    (``HQ_*``); ``hw``: the schedule's fractions per child; ``t_start``: the window's start t_a (exchange ns,
    where both legs quote): no decision before it, and the inventory leg's sums count from after it;
    ``out``: :class:`HedgeOut`. Returns the number of fill rows, or −1 when ``out``'s fill rows are too few
    (``cnt[H_OVERFLOW]``: how many were needed so far)."""
    (ts, kind, bid_px, bid_sz, ask_px, ask_sz, px, qty, side, depth) = tape[:10]
    (lvl_idx, lvl_ticks, q_ts, q_after, q_side, q_px, q_qty, q_fee, s_ts, s_mid, feed, order) = tape[10:]
    f_ts, f_side, f_px, f_qty, f_fee, f_mid, f_order, o_t, o_arrival, o_qty, o_limit, cnt, acc = out
    trigger, thr, urg = hp[HQ_TRIGGER], hp[HQ_THR], hp[HQ_URG]
    sizing, frac, band, qstar = hp[HQ_SIZING], hp[HQ_FRAC], hp[HQ_BAND], hp[HQ_QSTAR]
    exec_, nh, child_ns = hp[HQ_EXEC], hp[HQ_NH], hp[HQ_CHILD_NS]
    hr, tick, lot = hp[HQ_RATIO], hp[HQ_TICK], hp[HQ_LOT]
    ioc, ioc_ticks = hp[HQ_IOC] > 0.5, np.int64(hp[HQ_IOC_TICKS])
    fee, fee_bps, csize, csize_s = hp[HQ_FEE], hp[HQ_FEE_BPS], hp[HQ_CSIZE], hp[HQ_CSIZE_S]
    depth_book = hp[HQ_DEPTH_BOOK] > 0.5
    has_levels = depth.shape[0] == ts.size and depth.shape[1] > 1
    inv_hr = 1.0 / hr
    # the depth book: displayed size per side at every price the LEVEL rows name (lvl_ticks, sorted)
    bids = np.zeros(lvl_ticks.size)
    asks = np.zeros(lvl_ticks.size)
    depth_known = False
    # liquidity our own orders took, kept until the book at that level changes: the touch per side (reset
    # when that side's touch price changes), a depth book's levels (reset by a LEVEL row at that
    # price, or a CLEAR), a depth array's deeper levels (``mp``: while the level shows the same size)
    used_b = np.zeros(lvl_ticks.size)
    used_a = np.zeros(lvl_ticks.size)
    tb_used = 0.0
    ta_used = 0.0
    mp = np.zeros((MAP_LEN, 4))
    slot = 0
    # after an order left a remainder unfilled: no new order until the side it took changes (``blocked``:
    # that side, +1 asks), and the remainder (``carry``, signed) counts once however often it is sent again
    blocked = 0
    carry = 0.0
    n_h, n_q, n_s = ts.size, q_ts.size, s_ts.size
    i_h = 0
    i_q = 0
    i_s = 0
    r = 0  # merged row
    q = hp[HQ_Q0]  # the inventory leg's q before its first fill
    y = hp[HQ_Y0]
    e_cur = -1  # the last hedge row applied
    s_mark = math.nan  # value per unit of S and of H at the mid (settlement currency), the last finite one
    h_mark = math.nan
    # the order in flight: signed qty (units of H), arrival (ns), limit (ticks)
    pend = 0.0
    p_arr = np.int64(0)
    p_lim = np.int64(0)
    # the program: remainder, initial size, goal (units of S), child count, start (ns)
    rem = 0.0
    x0 = 0.0
    goal = 0.0
    k = 0.0
    start = np.int64(0)
    nf = 0
    no = 0
    big = np.int64(2**62)
    while i_h < n_h or i_q < n_q or i_s < n_s:
        # the next row: hedge rows first at one ns, then inventory fills, then inventory marks
        th = ts[i_h] if i_h < n_h else big
        tq = q_ts[i_q] if i_q < n_q else big
        tm = s_ts[i_s] if i_s < n_s else big
        src = 0 if (th <= tq and th <= tm) else (1 if tq <= tm else 2)
        t = th if src == 0 else (tq if src == 1 else tm)
        # ---- 1. the order in flight arrives: fill against the book as it stands (before this row)
        if pend != 0.0 and p_arr <= t:
            sgn = 1 if pend > 0.0 else -1
            want = abs(pend)
            nl = 0
            tpx = ask_px[e_cur] if sgn > 0 else bid_px[e_cur]
            tsz = ask_sz[e_cur] if sgn > 0 else bid_sz[e_cur]
            deep_t, deep_sz = _deeper(
                depth_book,
                depth_known,
                bids,
                asks,
                used_b,
                used_a,
                lvl_ticks,
                has_levels,
                depth,
                e_cur,
                sgn,
                tpx,
                tick,
                want,
                mp,
            )
            tt = np.int64(round(tpx / tick)) if tpx == tpx else big
            jt = -1  # the touch's index in a depth book's prices
            if depth_book and lvl_ticks.size > 0:
                jt = int(np.searchsorted(lvl_ticks, tt))
                if jt >= lvl_ticks.size or lvl_ticks[jt] != tt:
                    jt = -1
            t_used = ta_used if sgn > 0 else tb_used
            if jt >= 0:
                t_used = max(t_used, used_a[jt] if sgn > 0 else used_b[jt])
            lv_px = np.empty(deep_t.size + 1)
            lv_qty = np.empty(deep_t.size + 1)
            lv_t = np.empty(deep_t.size + 1, np.int64)
            lim = p_lim if ioc else (big if sgn > 0 else -big)
            nl = walk(sgn, want, lim, tpx, tsz - t_used, deep_t, deep_sz, tick, lot, lv_px, lv_qty, lv_t)
            if nf + nl > f_ts.size:  # the fill rows are full: the caller reruns with more
                cnt[H_OVERFLOW] = nf + nl
                return -1
            got = 0.0
            for j in range(nl):
                fv = csize * lv_px[j]
                fe = fee * lv_qty[j] + fee_bps * 1e-4 * abs(fv) * lv_qty[j]
                f_ts[nf] = p_arr
                f_side[nf] = sgn
                f_px[nf] = lv_px[j]
                f_qty[nf] = lv_qty[j]
                f_fee[nf] = fe
                f_mid[nf] = h_mark / csize
                f_order[nf] = no - 1
                nf += 1
                got += lv_qty[j]
                acc[HA_HEDGE_EDGE] += sgn * lv_qty[j] * (h_mark - fv)
                acc[HA_TAKER_FEES] += fe
                # what this level has left for our later orders
                if lv_t[j] == tt:
                    if sgn > 0:
                        ta_used = t_used + lv_qty[j]
                    else:
                        tb_used = t_used + lv_qty[j]
                    if jt >= 0:
                        if sgn > 0:
                            used_a[jt] = t_used + lv_qty[j]
                        else:
                            used_b[jt] = t_used + lv_qty[j]
                elif depth_book:
                    jl = np.searchsorted(lvl_ticks, lv_t[j])
                    if sgn > 0:
                        used_a[jl] += lv_qty[j]
                    else:
                        used_b[jl] += lv_qty[j]
                elif has_levels:
                    for lv in range(1, depth.shape[1]):
                        dp = depth[e_cur, lv, 2] if sgn > 0 else depth[e_cur, lv, 0]
                        ds = depth[e_cur, lv, 3] if sgn > 0 else depth[e_cur, lv, 1]
                        if dp == dp and np.int64(round(dp / tick)) == lv_t[j]:
                            slot = _map_take(mp, slot, sgn, lv_t[j], ds, _map_used(mp, sgn, lv_t[j], ds) + lv_qty[j])
                            break
            cnt[H_FILLS] = nf
            cnt[H_LEVELS_MAX] = max(cnt[H_LEVELS_MAX], nl)
            y = np.round((y + sgn * got) / lot) * lot
            acc[HA_FILLED] += got
            acc[HA_UNFILLED] += want - got
            if want - got >= 0.5 * lot:
                carry = sgn * (want - got)
                blocked = sgn
            pend = 0.0
        # ---- 2. the row
        if src == 0:
            e = i_h
            kd = kind[e]
            # which side of the book this row changes (for what our orders took, and a blocked re-send)
            ch_b = e_cur < 0 or not (bid_px[e] == bid_px[e_cur] and bid_sz[e] == bid_sz[e_cur])
            ch_a = e_cur < 0 or not (ask_px[e] == ask_px[e_cur] and ask_sz[e] == ask_sz[e_cur])
            if has_levels and e_cur >= 0:
                for lv in range(1, depth.shape[1]):
                    for c in range(2):
                        a0, a1 = depth[e, lv, c], depth[e_cur, lv, c]
                        if not (a0 == a1 or (a0 != a0 and a1 != a1)):
                            ch_b = True
                        a0, a1 = depth[e, lv, 2 + c], depth[e_cur, lv, 2 + c]
                        if not (a0 == a1 or (a0 != a0 and a1 != a1)):
                            ch_a = True
            # the touch: what we took stays taken while that side's touch price stays (a new size there is
            # the recorded queue without our trades: what is left for us is that size less what we took)
            if e_cur < 0 or not bid_px[e] == bid_px[e_cur]:
                tb_used = 0.0
            if e_cur < 0 or not ask_px[e] == ask_px[e_cur]:
                ta_used = 0.0
            if depth_book and kd == CLEAR:
                bids[:] = 0.0
                asks[:] = 0.0
                used_b[:] = 0.0
                used_a[:] = 0.0
                depth_known = qty[e] > 0.5
                ch_b = ch_a = True
            elif depth_book and kd == LEVEL and lvl_idx[e] >= 0:
                if side[e] > 0:
                    bids[lvl_idx[e]] = qty[e]
                    used_b[lvl_idx[e]] = 0.0
                    ch_b = True
                else:
                    asks[lvl_idx[e]] = qty[e]
                    used_a[lvl_idx[e]] = 0.0
                    ch_a = True
            if (blocked > 0 and ch_a) or (blocked < 0 and ch_b):
                blocked = 0
            mid = 0.5 * (bid_px[e] + ask_px[e])
            if mid == mid:
                hv = csize * mid
                if h_mark == h_mark:
                    dh = hv - h_mark
                    acc[HA_HEDGE_POS] += y * dh
                    acc[HA_BASIS] += y * dh  # (y/h)·(h·ΔH̃)
                h_mark = hv
            e_cur = e
            i_h += 1
        elif src == 1:
            if t > t_start:
                fv = csize_s * q_px[i_q]
                acc[HA_SPOT_EDGE] += q_side[i_q] * q_qty[i_q] * (s_mark - fv)
                acc[HA_MAKER_FEES] += q_fee[i_q]
            q = q_after[i_q]
            i_q += 1
        else:
            mid = s_mid[i_s]
            if mid == mid:
                sv = csize_s * mid
                if t > t_start and s_mark == s_mark:
                    ds = sv - s_mark
                    acc[HA_SPOT_POS] += q * ds
                    acc[HA_NET_DELTA] += (q + y * inv_hr) * ds
                    acc[HA_BASIS] -= y * inv_hr * ds  # (y/h)·(−ΔS̃)
                s_mark = sv
            i_s += 1
        # ---- 3. the hedger decides at t + feed latency, when no order is in flight
        x = q + y * inv_hr
        # the side the next order would take (+1 buys H): a running program's, else against the exposure
        want_sgn = (1 if rem > 0.0 else -1) if rem != 0.0 else (-1 if x - qstar > 0.0 else 1)
        if pend == 0.0 and blocked != want_sgn and e_cur >= 0 and t >= t_start:
            t_dec = t + feed[r]
            n_s_ = 0.0
            send = False
            if rem == 0.0:
                dev = x - qstar
                size = hedge_size(sizing, dev, frac, band)
                # a size below half a hedge lot is no hedge
                if hedge_due(trigger, dev, thr, urg, 0.0) and abs(size) * hr >= 0.5 * lot:
                    rem = size
                    x0 = size
                    goal = x + size
                    k = 0.0
                    start = t_dec
                    cnt[H_PROGRAMS] += 1
            if rem != 0.0 and t_dec >= start + np.int64(k * child_ns):
                rem = toward_goal(rem, goal - x)
                if rem != 0.0:
                    w_k = hw[np.int64(min(k, nh - 1.0))]
                    n_s_ = child_order(exec_, rem, x0, k, nh, w_k, 1.0, 1.0, math.inf)
                    send = True
                k += 1.0
            if send:
                n_hh = np.round(n_s_ * hr / lot) * lot  # units of H, whole lots
                rem -= n_hh * inv_hr
                if abs(rem) * hr < 0.5 * lot or k >= nh:
                    rem = 0.0  # what is left is below half a hedge lot, or the schedule is done
                if n_hh != 0.0:
                    sgn = 1 if n_hh > 0.0 else -1
                    tpx = ask_px[e_cur] if sgn > 0 else bid_px[e_cur]
                    pend = n_hh
                    p_arr = t_dec + order[r]
                    p_lim = np.int64(round(tpx / tick)) + sgn * ioc_ticks if tpx == tpx else np.int64(0)
                    o_t[no] = t_dec
                    o_arrival[no] = p_arr
                    o_qty[no] = n_hh
                    o_limit[no] = p_lim * tick if ioc else math.nan
                    no += 1
                    cnt[H_ORDERS] = no
                    acc[HA_SENT] += abs(n_hh)
                    if carry * n_hh > 0.0:  # sends (part of) the last order's remainder again
                        acc[HA_RESENT] += min(abs(carry), abs(n_hh))
                    carry = 0.0
                    blocked = 0
                else:
                    cnt[H_SKIPPED] += 1
        r += 1
    if pend != 0.0:  # still in flight when the tape ends: never filled
        acc[HA_UNFILLED] += abs(pend)
    return nf
