"""The replay of a ladder policy (``levels`` = L > 1): every level of every side is its own resting order.

A copy of :func:`flatbook.backtest.engine.replay`'s loop (its own compiled kernel, so the default one-level
replay is untouched, bit for bit and in speed) in which each side holds L orders, one per level of the
ladder (:mod:`flatbook.policies.base`, "Ladders"). Per level and side, exactly the one-level replay's rules:

- **Arrival** (:func:`~flatbook.backtest.engine.arrive`): a request for level j of side k replaces that
  level's order, joins the back of its price's queue (ahead = the visible size there on arrival), post-only.
  **Hard limit:** its size is cut to the room ``limit − q − (the other levels' resting sizes)`` (bid) or
  ``limit + q − (…)`` (ask) at that moment (:func:`~flatbook.controls.quote_controls.room_left` with those
  sizes as the exposure), so even if every resting order of a side filled, |q| would not pass the limit; a
  level cut so is remembered at its cut size, so the next decision may send it again. A decision's requests go
  out in two passes, the levels that shrink (cancels, smaller sizes) first so that the room they free is there
  when the others arrive, then the rest; each pass level 1 first, bid then ask; they arrive in that order (FIFO).
- **Matching** (:func:`~flatbook.backtest.engine.match_side_at`, or
  :func:`~flatbook.backtest.engine.match_l3` for ``--queue l3``): each order has its own queue position,
  level size last seen, volume printed since, reconciliation state; a print through several levels fills
  each of them (inner levels first, bid then ask), a print at a level's price consumes that level's queue.
- **Decision**: the ladder's formula (its compiled loop, :func:`~flatbook.policies.base.ladder_loop`, called
  through a C callback so one kernel serves every ladder policy) then
  :func:`~flatbook.policies.quote.ladder_controls` with the market's half spread as the never-cross touch.
- **Refresh** (:func:`~flatbook.strategy.requote.requote_side`): level by level, a level is re-sent when its
  size changed or its price moved by ``refresh`` ticks or more; a size 0 is a cancel.

Requests and fills carry the level (0 = nearest the mid). The path's bid and ask are the best resting
order's price on each side. Units as the engine: prices in integer ticks inside, times in int64 ns,
sizes in lots. The kernel is always the depth-book copy (``DEEP``); a user's queue model is not supported
with a ladder (refused up front by the backtester).
"""

from __future__ import annotations

import functools
import hashlib
import math
import types
from typing import Any

import numba as nb
import numpy as np
from numba import types as nt
from numba.core.ccallback import CFunc

from ..controls.quote_controls import ACT_HEDGE, CP_LIMIT, room_left
from ..policies.base import Policy, ladder_loop
from ..policies.compile import _KeyedCache, files_digest, model_digest, specialise
from ..policies.quote import ladder_controls
from ..strategy.decide import as_tuple14, step_of, with_touch
from . import engine as E
from .engine import arrive, match_l3, match_side_at

__all__ = ["ladder_callback", "ladder_kernel"]

#: the C signature of a ladder policy's formula over arrays of states (:func:`ladder_callback`):
#: ``f(pp, tab, i, t, tau, s, q, out)``, ``out`` (4·L, n)
LADDER_SIG = nt.void(
    nt.float64[::1],
    nt.float64[:, ::1],
    nt.int64[::1],
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[:, ::1],
)

_CALLBACKS: dict[str, CFunc] = {}
_ladder_fn: Any = None  # bound per policy by ladder_callback


def _callback_template(pp, tab, i, t, tau, s, q, out):
    _ladder_fn(pp, tab, i, t, tau, s, q, out)


def ladder_callback(policy: Policy) -> CFunc:
    """A ladder policy's compiled formula (:func:`~flatbook.policies.base.ladder_loop`) as a C callback of
    signature :data:`LADDER_SIG`, cached on disk under the policy's source token: the replay kernel takes
    it as a first-class function, so it compiles once for every ladder policy."""
    key = hashlib.sha256(
        f"ladder-cb:{policy.token}:{policy.name}:{policy.levels}:{model_digest()}".encode()
    ).hexdigest()
    cf: Any = _CALLBACKS.get(key)
    if cf is None:
        g = dict(globals())
        g["_ladder_fn"] = ladder_loop(policy)
        fn = types.FunctionType(_callback_template.__code__, g, _callback_template.__name__)
        fn.__qualname__ = f"_ladder_cb__{key[:16]}"
        fn.__module__ = __name__
        cf = CFunc(fn, (LADDER_SIG.args, LADDER_SIG.return_type), {}, {"error_model": "numpy", "nopython": True})
        cf._cache = _KeyedCache(fn, key)
        cf.compile()
        _CALLBACKS[key] = cf
    return cf


@nb.njit(cache=True, error_model="numpy", nogil=True)
def replay_ladder(loop, L, tape, prm, out, r_lvl, f_lvl):
    """:func:`flatbook.backtest.engine.replay` for a ladder of ``L`` levels per side (the module docstring):
    ``loop`` the ladder's C callback (:func:`ladder_callback`); ``tape``, ``prm``, ``out`` the engine's
    records as plain tuples; ``r_lvl``, ``f_lvl`` (int64, as long as ``out``'s request and fill rows): each
    request's and fill's level (0 nearest the mid). Returns the number of fills, or −1 when ``out`` has too
    few rows (the caller retries with more; a rerun gives the same numbers, the seed is set here)."""
    ts, kind, bid_px, bid_sz, ask_px, ask_sz, px, qty, side, depth, feed_lat, order_lat, code, entry, book, bst = tape
    pp, tab, cpa, bp = prm
    (
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
        r_t,
        r_ts,
        r_side,
        r_p,
        r_sz,
        cnt,
        acc,
    ) = out
    n = ts.size
    fcap = f_ts.size
    rcap = r_t.size
    cp = as_tuple14(cpa)
    limit = cp[CP_LIMIT]
    t0 = np.int64(bp[E.BP_T0])
    unit = bp[E.BP_UNIT_NS]
    T = bp[E.BP_T]
    dt = bp[E.BP_DT]
    nsteps = np.int64(bp[E.BP_NSTEPS])
    fin_l = bp[E.BP_FIN_L]
    fin_s = bp[E.BP_FIN_S]
    fee = bp[E.BP_FEE]
    fee_bps = bp[E.BP_FEE_BPS] * 1e-4
    max_loss = bp[E.BP_MAX_LOSS]
    max_dd = bp[E.BP_MAX_DD]
    tick = bp[E.BP_TICK]
    inv_tick = E.inverse_tick(tick)
    lot = bp[E.BP_LOT]
    inverse = bp[E.BP_INVERSE] > 0.5
    csize = bp[E.BP_CSIZE]
    min_req = np.int64(bp[E.BP_MIN_REQUOTE_NS])
    refresh = bp[E.BP_REFRESH]
    queue = np.int64(bp[E.BP_QUEUE])
    l3 = queue == E.QUEUE_L3
    through_rule = bp[E.BP_FILL_RULE] > 0.5
    q0 = bp[E.BP_Q0]
    np.random.seed(np.int64(bp[E.BP_SEED]))
    # the decision's scratch: one state (step, t, tau, mid, q, killed), the ladder's raw and controlled rows
    s_i = np.zeros(1, np.int64)
    s_t = np.zeros(1)
    s_tau = np.zeros(1)
    s_s = np.zeros(1)
    s_q = np.zeros(1)
    s_k = np.zeros(1, np.bool_)
    raw = np.zeros((4 * L, 1))
    ctl = np.zeros((4 * L + 2, 1))
    # our orders, row j = level j (engine.Orders' fields, one row per level; column 0 bid, 1 ask)
    LP = np.zeros((L, 2), np.int64)
    LS = np.zeros((L, 2))
    AH = np.zeros((L, 2))
    LV = np.zeros((L, 2))
    TR = np.zeros((L, 2))
    PTS = np.zeros((L, 2), np.int64)
    PEND = np.zeros((L, 2, 2))
    JOIN = np.zeros((L, 2), np.int64)
    ru = (tick, lot, queue)
    want_p = np.zeros((L, 2), np.int64)
    want_sz = np.zeros((L, 2))
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
    cash = -q0 * E.unit_value(mid0, inverse, csize) if mid0 == mid0 else 0.0
    mid_ref = mid0
    peak = 0.0
    zone = 0.0
    timed = bp[E.BP_TIMED] > 0.5
    last_in = (np.nan, np.nan, np.nan, np.nan)
    cur_spread = np.nan
    cur_dist = np.nan
    cur_half = np.nan
    mo = 0.0
    for e in range(n):
        t = ts[e]
        bb = bid_px[e]
        ba = ask_px[e]
        bk = E.book_at(bb, bid_sz[e], ba, ask_sz[e], e, tick)
        book_ok = bk[0]
        span = float(t - t_prev)
        if span > 0.0:
            fc = E.financing(q, span / unit, fin_l, fin_s)
            cash -= fc
            acc[E.A_FIN] += fc
            acc[E.A_TIME] += span
            acc[E.A_AT_LIMIT] += span * (abs(q) >= limit)
            acc[E.A_Z1] += span * (zone == 1.0)
            acc[E.A_Z2] += span * (zone == 2.0)
            acc[E.A_Z3] += span * (zone == 3.0)
            if cur_spread == cur_spread:
                acc[E.A_SPREAD_T] += span
                acc[E.A_SPREAD_SUM] += span * cur_spread
            if cur_dist == cur_dist:
                acc[E.A_QUOTE_T] += span
                acc[E.A_QUOTE_DIST] += span * cur_dist
                acc[E.A_MKT_HALF] += span * cur_half
        t_prev = t
        ke = kind[e]
        E.snapshot_done(ke, t, bst)
        # ---- 1. requests that have reached the exchange (against the book before e)
        while head < tail and r_ts[head] <= t:
            k = r_side[head]
            j = r_lvl[head]
            p_t = r_p[head]
            other = 0.0  # the side's other resting orders count against the limit
            for jj in range(L):
                if jj != j:
                    other += LS[jj, k]
            sz = E.room_size(r_sz[head], room_left(k, q, other, limit), lot)
            if sz < r_sz[head] and want_p[j, k] == p_t and want_sz[j, k] == r_sz[head]:
                want_sz[j, k] = sz  # cut by the limit: the next decision may send the level again
            head += 1
            od = (LP[j], LS[j], AH[j], LV[j], TR[j], PTS[j], PEND[j], JOIN[j], book, bst)
            if e > 0:
                bk0 = E.book_at(bid_px[e - 1], bid_sz[e - 1], ask_px[e - 1], ask_sz[e - 1], e - 1, tick)
                if arrive(k, p_t, sz, bk0, depth, tick, od):
                    cnt[E.C_REJECTED] += 1
                    want_sz[j, k] = 0.0
                if l3:
                    JOIN[j, k] = ts[e - 1]
            else:
                if l3:
                    JOIN[j, k] = t - 1
                LP[j, k] = p_t
                LS[j, k] = sz
                AH[j, k] = 0.0
                LV[j, k] = 0.0
                TR[j, k] = 0.0
            PEND[j, k, 0] = 0.0
            PEND[j, k, 1] = 0.0
        # ---- 2. the event
        if ke >= E.LEVEL:
            E.book_row(ke, t, side[e], px[e], qty[e], tick, book, bst)
        for k in range(2):
            sgn = 1 if k == 0 else -1
            for j in range(L):
                if LS[j, k] <= 0.0:
                    continue
                p_t = LP[j, k]
                qe = qty[e]
                if through_rule and ke == E.TRADE and (side[e] < 0) == (k == 0) and E._ticks(px[e], tick) == p_t:
                    qe = 0.0  # fill rule "through": a print at this level's price fills nothing
                ev = (t, ke, side[e], px[e], qe)
                od = (LP[j], LS[j], AH[j], LV[j], TR[j], PTS[j], PEND[j], JOIN[j], book, bst)
                if l3:
                    fill = match_l3(k, ev, code[e], entry[e], bk, depth, ru, od)
                else:
                    fill = match_side_at(k, ev, bk, depth, ru, od)
                if fill > 0.0:
                    if nf >= fcap:
                        return -1
                    fpx = E.tick_price(p_t, tick, inv_tick)
                    fv = E.unit_value(fpx, inverse, csize)
                    q = min(max(np.rint((q + sgn * fill) / lot) * lot, -limit), limit)
                    cash -= sgn * fill * fv
                    fe = fee * fill + fee_bps * abs(fv) * fill
                    cash -= fe
                    acc[E.A_FEES] += fe
                    m_ref = mid_ref if mid_ref == mid_ref else fpx
                    acc[E.A_SPREAD_CAP] += sgn * fill * (E.unit_value(m_ref, inverse, csize) - fv)
                    acc[E.A_GIVEN_UP] += mo * sgn * fill * E.unit_value_slope(m_ref, inverse, csize)
                    if LS[j, k] == 0.0:
                        want_sz[j, k] = 0.0
                    f_ts[nf] = t
                    f_side[nf] = sgn
                    f_px[nf] = fpx
                    f_qty[nf] = fill
                    f_q[nf] = q
                    f_fee[nf] = fe
                    f_mid[nf] = m_ref
                    f_lvl[nf] = j
                    nf += 1
        cnt[E.C_FILLS] = nf
        # ---- 3. mark, drawdown, kill switch
        mid = 0.5 * (bb + ba)
        if mid == mid:
            mid_ref = mid
            mtm = cash + q * E.unit_value(mid, inverse, csize)
            peak = max(peak, mtm)
            acc[E.A_MAX_DD] = max(acc[E.A_MAX_DD], peak - mtm)
            r = E.kill_fires(killed, mtm, peak, max_loss, max_dd)
            if r > 0.0:
                killed = True
                cnt[E.C_KILL_TS] = t
                cnt[E.C_KILL_REASON] = r
        acc[E.A_PEAK] = peak
        # ---- 4. the strategy sees e after the feed latency and may requote, level by level
        t_obs = t + feed_lat[e]
        if (
            book_ok
            and ba > bb
            and E.decision_due(timed, False, last_in, mid, ba - bb, q, killed, t_obs, last_req, min_req)
        ):
            last_in = (mid, ba - bb, q, 1.0 if killed else 0.0)
            t_u = (t_obs - t0) / unit
            s_i[0] = step_of(t_u, dt, nsteps)
            s_t[0] = t_u
            s_tau[0] = T - t_u
            s_s[0] = mid
            s_q[0] = q
            s_k[0] = killed
            loop(pp, tab, s_i, s_t, s_tau, s_s, s_q, raw)
            ladder_controls(with_touch(cp, 0.5 * (ba - bb)), L, raw, s_s, s_q, s_k, ctl)
            db0 = raw[0, 0]
            da0 = raw[L, 0]
            m = 0.5 * (da0 - db0)
            mo = m if abs(m) < math.inf else 0.0
            zone = ctl[4 * L, 0]
            act = ctl[4 * L + 1, 0]
            if act == ACT_HEDGE and zone > prev_zone:
                cnt[E.C_HEDGE_REQ] += 1
            prev_zone = zone
            sent = False
            # two passes: the levels that shrink (a cancel, a smaller size) first, so the room they free under the
            # limit is there when the others arrive (FIFO); then the rest
            for pas in range(2):
                for j in range(L):
                    for k in range(2):
                        sz, p_t = E.side_order(
                            k, mid, ctl[j, 0], ctl[L + j, 0], ctl[2 * L + j, 0], ctl[3 * L + j, 0], lot, tick
                        )
                        send, sz = E.requote_side(sz, p_t, want_sz[j, k], want_p[j, k], refresh, math.inf, lot)
                        send = send and (sz < want_sz[j, k]) == (pas == 0)
                        if send:
                            if tail >= rcap:
                                return -1
                            arrival = max(t_obs + order_lat[e], last_arrival)
                            last_arrival = arrival
                            r_t[tail] = t_obs
                            r_ts[tail] = arrival
                            r_side[tail] = k
                            r_lvl[tail] = j
                            r_p[tail] = p_t
                            r_sz[tail] = sz
                            tail += 1
                            want_p[j, k] = p_t
                            want_sz[j, k] = sz
                            cnt[E.C_REQUESTS] += 1
                            sent = True
            if sent:
                last_req = t_obs
        # the best resting order of each side (ticks; none: ∓2⁶²)
        best_b = np.int64(-(2**62))
        best_a = np.int64(2**62)
        for j in range(L):
            if LS[j, 0] > 0.0 and LP[j, 0] > best_b:
                best_b = LP[j, 0]
            if LS[j, 1] > 0.0 and LP[j, 1] < best_a:
                best_a = LP[j, 1]
        has_b = best_b > -(2**62)
        has_a = best_a < 2**62
        cur_spread = (best_a - best_b) * tick if has_b and has_a else np.nan
        cur_dist = np.nan
        if book_ok and ba > bb and (has_b or has_a):
            dsum = 0.0
            nside = 0
            if has_b:
                dsum += abs(E.tick_price(best_b, tick, inv_tick) - mid)
                nside += 1
            if has_a:
                dsum += abs(E.tick_price(best_a, tick, inv_tick) - mid)
                nside += 1
            cur_dist = dsum / nside
            cur_half = 0.5 * (ba - bb)
        cnt[E.C_EVENT] = e + 1
        path_q[e] = q
        path_cash[e] = cash
        path_bid[e] = E.tick_price(best_b, tick, inv_tick) if has_b else np.nan
        path_ask[e] = E.tick_price(best_a, tick, inv_tick) if has_a else np.nan
    return nf


@functools.cache
def _kernel():
    """The ladder kernel with the engine's matching copies of the depth-book switch (``DEEP``), compiled on first
    use and cached on disk under this file's and the engine's digest (:func:`flatbook.policies.compile.specialise`)."""
    ns = {**vars(E), **globals()}
    token = "ladder+deep:" + files_digest([E.__file__, __file__])
    return specialise(ns, ["arrive", "match_side_at", "match_l3", "replay_ladder"], {"DEEP": True}, token).replay_ladder


def ladder_kernel(policy: Policy):
    """``run(tape, prm, out, r_lvl, f_lvl) -> fills`` for a ladder ``policy`` (records as
    :func:`flatbook.backtest.engine.kernels`' ``replay``; −1: ``out`` too small)."""
    cb = ladder_callback(policy)
    L = int(policy.levels)
    entry = _kernel()

    def run(tape: E.Tape, prm: E.Params, out: E.Out, r_lvl: np.ndarray, f_lvl: np.ndarray) -> int:
        return entry(cb, L, tuple(tape), tuple(prm), tuple(out), r_lvl, f_lvl)

    return run
