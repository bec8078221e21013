"""The compiled event-driven replay: our quotes against a real tape.

One pass over the events (:class:`flatbook.data.events.EventTable` columns), in
exchange-time order. The strategy's decisions are :mod:`flatbook.strategy`'s, inlined
(the live engine, :mod:`flatbook.live.engine`, calls the same functions); this module
holds the exchange side (queue, matching) and the loop. Per event e at exchange time t_e:

1. Our order requests that reach the exchange by t_e take effect (FIFO). A new
   order joins the *back* of the queue at its price: ``ahead`` = the visible
   size at that price (0 inside the spread: first in line; unknown behind the
   visible levels until its level becomes visible). Its size is cut to the room
   under the hard limit, ``limit − q`` (bid) or ``limit + q`` (ask), at that moment
   (:func:`flatbook.strategy.requote.room_size`), and a fill only ever shrinks it
   with q, so q never passes ±limit. A request that would cross the book on arrival
   is rejected (post-only).
2. The event: financing over (t_{e−1}, t_e] (:func:`flatbook.strategy.accrual.financing`); then
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
   - a user's queue model (:mod:`flatbook.backtest.queue_model`) takes the cancels in place of
     ``QUEUE_PRORATA``/``QUEUE_PROB``: ahead ← model(ahead, L_old, L, c, u), u a seeded uniform, then
     clipped to [0, L] (the replay's copy for user models, :func:`replay_copy`).
   - fill rule (``--fill-rule``): ``queue`` as above; ``through``: a print at our price fills nothing
     (it is passed on with quantity 0), only a print through our price or a book that reaches it fills.
   Fills are maker fills at our price. Money is in the contract's settlement
   currency: a unit (contract) at price p is worth v(p) = C·p (linear) or
   −C/p (inverse, C in price-currency units; :func:`flatbook.strategy.contract.unit_value`),
   a buy of n costs n·v(p), the mark is cash + q·v(mid), and fee = maker_fee·n +
   maker_fee_bps·1e−4·n·|v(p)| (per contract, and bps of the notional).
3. Mark to market at the mid; drawdown; kill switch (as the simulator,
   :func:`flatbook.controls.kill.kill_fires`), in the settlement currency.
4. The strategy sees e at t_e + feed latency and, when a decision is due
   (:func:`flatbook.strategy.requote.decision_due`: ``min_requote`` since its last request,
   and something it reads changed), computes its quotes with the *same* compiled policy and
   controls as the simulator (:func:`flatbook.strategy.decide.decide`) around the mid, with the
   market's own spread as the never-cross touch. A side is re-sent only if its price moved by
   ``refresh`` ticks or more, or its size changed (:func:`flatbook.strategy.requote.requote_side`);
   the request reaches the exchange after the order latency.

The full-depth book (a tape with ``meta.book == "depth"``: LEVEL and CLEAR rows,
:mod:`flatbook.data.events`). The replay keeps the displayed book behind the touch in two dense float64
rows (bids, asks) of one size per tick over [lo, hi], the ticks of every LEVEL row's price
(:func:`depth_book`; at most :data:`MAX_BOOK_TICKS`), and a state: unknown, valid, or a snapshot being read.

- A LEVEL row (side, price p, size s) sets the size at p to s (0: the level is gone), before the event's
  matching (:func:`book_row`).
- A CLEAR row empties the book. ``qty`` 1: the LEVEL rows right after it at its time are the snapshot; the
  book is valid from the first row after them, before that row's arrivals (:func:`snapshot_done`).
  ``qty`` 0 (a sequence gap): the depth is unknown until the next CLEAR 1.
- :func:`_deep_size` (:func:`_level_size` on a tape without a depth book) is the one answer to "visible size at price p on our side": 0 inside the spread;
  at the touch, the touch columns (the loader merges the faster best-bid/ask stream into them); behind it,
  the LOBSTER ``depth`` levels or the dense book while it is valid (NaN: unknown, when the depth is not
  valid or p is outside [lo, hi]).
- Queue position: a new order joins the back of its level, ahead = that level's size when it arrives
  (step 1), at any level. An order that joined an unknown level joins its back when the level shows.
- Book updates for the matching (step 2's cancels): every quote row, and a LEVEL row at our price and side
  while our level is behind the touch (at the touch, the touch columns rule; LEVEL rows at other prices
  leave our level and the volume printed at it alone). Trades at our price consume ahead first, with
  the reconciliation above; cancels are pro rata, ``prob`` or a user's model, at every level.
- A tape without LEVEL rows keeps a book of width 0: every number is what it was (bit for bit).

The L3 FIFO queue (``--queue l3``, ``QUEUE_L3``, :func:`match_l3`) for a tape whose order rows carry
``entry_ts`` (LOBSTER: the time of the order's type-1 message; ``ENTRY_BEFORE`` if it rested before the
file). Our order joins the book of the last event before it arrives (time ``join``), behind every order
resting at its price then: ahead = the level's size.

- A partial cancel or delete (types 2, 3) at our price and side of an order with entry ≤ ``join`` (or
  ``ENTRY_BEFORE``) takes its size off ahead; of an order entered after us: no change.
- A visible execution (type 4) of an order entered ≤ ``join`` consumes ahead (that order was ahead of us,
  so it never fills us); of an order entered after us: the queue ahead is empty (ahead ← 0) and we fill
  min(its size, ours), whole lots.
- A hidden execution (type 5) executes a non-displayed order, which has no place in the displayed FIFO
  queue; NASDAQ's priority puts displayed orders (ours) first at a price, so it is taken as a print at our
  price as in the level queue: it consumes ahead first, the rest fills us.
- A print through our price, or a book that reaches it, fills all of it (as above). After each event
  ahead ≤ the visible level (a repair for size the file does not show). No pro-rata guess, no reconciliation:
  the message file says which order left.
- ``entry ≤ join`` rather than ``entry < arrival``: with a latency the two agree; with none, an order
  entered at the very ns of our arrival but before it in the file stays ahead of us.

The loop takes four records: :class:`Tape` (the event columns and per-event latencies),
:class:`Params` (the policy's packed parameters and table, the controls ``cp``, the scalars ``bp``),
:class:`Out` (per-event path, fills, requests, counters) and the policy's depths loop. The matching
(:func:`arrive`, :func:`match_side_at`, shared with the paper venue, :mod:`flatbook.live.adapters.paper_venue`)
takes records too: our two orders' queue state (:class:`Orders`), the event (:class:`Event`), the book after
it (:class:`Book`) and the venue's grid and queue model (:class:`Rules`).
Prices are compared in integer ticks. Times are int64 ns. Quantities are in
the instrument's units (contracts for inverse contracts); q is signed.
"""

from __future__ import annotations

import functools
import math
import types
import warnings
from typing import NamedTuple

import numba as nb
import numpy as np
from numba.core.errors import NumbaExperimentalFeatureWarning

from ..controls.kill import kill_fires
from ..controls.quote_controls import ACT_HEDGE, CP_LIMIT, room_left
from ..data.events import CLEAR, ENTRY_NONE, LEVEL, TRADE
from ..estimators.regime import ew_update, regime_of
from ..policies.base import Policy
from ..policies.compile import depths_loop, files_digest, key_on_model, specialise
from ..strategy.accrual import financing
from ..strategy.contract import inverse_tick, tick_price, unit_value, unit_value_slope
from ..strategy.contract import ticks as _ticks
from ..strategy.decide import as_tuple14, decide, side_order, step_of, strategy_quotes
from ..strategy.requote import decision_due, requote_side, room_size

__all__ = [
    "Book",
    "Event",
    "Orders",
    "Out",
    "Params",
    "Rules",
    "Tape",
    "arrive",
    "book_at",
    "inverse_tick",
    "kernels",
    "match_side_at",
    "new_orders",
    "replay",
    "tick_price",
    "unit_value",
]

QUEUE_PRORATA, QUEUE_PROB, QUEUE_L3, QUEUE_USER = 0, 1, 2, 3
#: the built-in queue models by name (``l2`` is ``prorata``: the level's queue, cancels pro rata)
QUEUE_CODES = {"prorata": QUEUE_PRORATA, "l2": QUEUE_PRORATA, "prob": QUEUE_PROB, "l3": QUEUE_L3}
QUEUE_MODELS = tuple(QUEUE_CODES)
#: ``--fill-rule``: ``queue`` (a print at our price fills us once the queue ahead is gone) or ``through``
#: (only a print through our price, or a book that crosses it, fills us)
FILL_RULES = ("queue", "through")
FILL_QUEUE, FILL_THROUGH = 0, 1
#: the LOBSTER message types the L3 queue reads: partial cancel, delete, visible execution
L3_CANCEL, L3_DELETE, L3_EXEC = 2, 3, 4
#: the depth book's state (``Orders.bst[1]``): unknown, valid, a snapshot being read
DEPTH_UNKNOWN, DEPTH_VALID, DEPTH_SNAPSHOT = 0, 1, 2
#: True only in the replay's copies (:func:`replay_copy`) for a tape with LEVEL/CLEAR rows, for the L3 queue and
#: for a user's queue model: global constants, so numba prunes the branches that read them from the default kernel,
#: which keeps neither a depth book nor the L3 queue nor a model's call (measured: carrying them cost the touch-only
#: replay about 15%, from the reference counts of the larger records alone)
DEEP = False
USER_QUEUE = False
#: A book fall counted as cancels waits this long (ns, inclusive) for the print that explains it.
RECONCILE_NS = 1_000_000

# scalar parameters (``bp``); BP_REFRESH: refresh_ticks·(1 − 1e−9), in ticks
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
    BP_Q0,
    BP_REG_ON,
    BP_REG_INV_TAU,
    BP_REG_SIG2,
    BP_FILL_RULE,
) = range(25)
BP_LEN = 25

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


class Tape(NamedTuple):
    """The events, one array each (n events; :class:`flatbook.data.events.EventTable`'s columns), and the
    per-event latencies (ns) of the feed (the strategy sees event e at ts + feed_lat) and of its orders.
    ``depth``: (n, levels, 4) bid price, bid size, ask price, ask size per level (level 0 the touch), or one
    (1, 1, 4) NaN row for level-1 data (levels ≥ 1 are the only ones read). ``code``: the source's event code
    (LOBSTER message type); ``entry``: per event the entry time (ns) of the order it refers to
    (``EventTable.entry_ts``), read by the L3 queue only (one element otherwise). ``book`` and ``bst``: the
    displayed depth book's working arrays, (2, W) sizes per tick from ``bst[0]`` and int64[3] (lo tick,
    state, time of the last CLEAR), as :class:`Orders` holds them (:func:`depth_book`; W = 0 without LEVEL
    rows)."""

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
    feed_lat: np.ndarray
    order_lat: np.ndarray
    code: np.ndarray
    entry: np.ndarray
    book: np.ndarray
    bst: np.ndarray


class Params(NamedTuple):
    """The policy's packed parameters ``pp`` and table ``tab`` (:meth:`flatbook.policies.base.Policy.bind`),
    the packed controls ``cp`` (:func:`flatbook.controls.quote_controls.pack_controls`) and the replay's
    scalars ``bp`` (``BP_*``)."""

    pp: np.ndarray
    tab: np.ndarray
    cp: np.ndarray
    bp: np.ndarray


class Out(NamedTuple):
    """What the replay writes. Per event (n): q, cash (settlement currency), our bid and ask (NaN: none).
    Per fill (capacity 2n + 2): time (ns), side (+1 we bought), price, size, q after, fee (settlement
    currency), the mid before its event. Per request (capacity 2n + 2, ``cnt[C_REQUESTS]`` of them, in
    the order sent): decision time and arrival time (ns), side index (0 bid, 1 ask), price (ticks; 0 for
    a cancel) and size (lots; 0 = cancel). Counters ``cnt`` (``C_*``) and accumulators ``acc`` (``A_*``)."""

    path_q: np.ndarray
    path_cash: np.ndarray
    path_bid: np.ndarray
    path_ask: np.ndarray
    f_ts: np.ndarray
    f_side: np.ndarray
    f_px: np.ndarray
    f_qty: np.ndarray
    f_q: np.ndarray
    f_fee: np.ndarray
    f_mid: np.ndarray
    r_t: np.ndarray
    r_ts: np.ndarray
    r_side: np.ndarray
    r_p: np.ndarray
    r_sz: np.ndarray
    cnt: np.ndarray
    acc: np.ndarray


class Orders(NamedTuple):
    """Our resting orders as the exchange keeps them, index 0 the bid, 1 the ask (arrays of 2; ``pend`` 2 × 2).

    ``live_p``: price (int64 ticks); ``live_sz``: size (lots; 0: no order); ``ahead``: the visible size ahead
    of it in its level's queue (NaN: the level is not visible, the queue ahead unknown); ``lvl``: the visible
    size of its level last seen; ``traded``: the volume printed at its price since the last book update;
    ``pend_ts`` (int64 ns), ``pend[k, 0]``, ``pend[k, 1]``: the time of the last book fall counted as
    cancels, those cancels not yet explained by a print, and what they took off ``ahead`` (the
    reconciliation, :data:`RECONCILE_NS`; zeroed when a new order arrives); ``join`` (int64 ns): the time of
    the book our order joined (the last event before it arrived), which orders the L3 queue by time priority.
    With them, the venue's displayed book behind the touch (a ``meta.book == "depth"`` tape's LEVEL/CLEAR rows,
    :func:`book_row`): ``book`` (2, W) the size at each tick lo … lo + W − 1 (row 0 bids, row 1 asks; W = 0:
    no such book) and ``bst`` int64[3]: lo (ticks), the state (``DEPTH_UNKNOWN``, ``DEPTH_VALID``,
    ``DEPTH_SNAPSHOT``) and the time (ns) of the last CLEAR. Passed to numba as a plain tuple."""

    live_p: np.ndarray
    live_sz: np.ndarray
    ahead: np.ndarray
    lvl: np.ndarray
    traded: np.ndarray
    pend_ts: np.ndarray
    pend: np.ndarray
    join: np.ndarray
    book: np.ndarray
    bst: np.ndarray


def new_orders(book: np.ndarray | None = None, bst: np.ndarray | None = None) -> Orders:
    """No resting order on either side; the depth book ``book``, ``bst`` (:func:`depth_book`; none by default)."""
    z = np.zeros(2, np.int64)
    if book is None or bst is None:
        book, bst = np.zeros((2, 0)), np.zeros(3, np.int64)
    return Orders(
        z, np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), z.copy(), np.zeros((2, 2)), z.copy(), book, bst
    )


#: the widest depth book the replay keeps (ticks per side): 2²³ ticks, 64 MiB per side
MAX_BOOK_TICKS = 1 << 23


def depth_book(kind: np.ndarray, px: np.ndarray, tick: float) -> tuple[np.ndarray, np.ndarray]:
    """The working arrays of the displayed depth book for a tape's LEVEL rows (``kind``, ``px``: the
    EventTable's columns; ``tick`` price units): zeros (2, W) over the ticks lo … hi of every LEVEL row's
    price, and ``bst`` = (lo, ``DEPTH_UNKNOWN``, 0). W = 0 (and lo = 0) for a tape without LEVEL rows.
    Raises ValueError when the prices span more than :data:`MAX_BOOK_TICKS` ticks."""
    lv = px[kind == LEVEL]
    lv = lv[np.isfinite(lv)]
    if lv.size == 0:
        return np.zeros((2, 0)), np.zeros(3, np.int64)
    lo = int(np.floor(lv.min() / tick + 0.5))
    hi = int(np.floor(lv.max() / tick + 0.5))
    if hi - lo + 1 > MAX_BOOK_TICKS:
        raise ValueError(
            f"the LEVEL rows' prices span {hi - lo + 1:,} ticks of {tick:g} ({lv.min():g} to {lv.max():g}); "
            f"the replay keeps at most {MAX_BOOK_TICKS:,} (keep LEVEL rows within a window around the touch)"
        )
    return np.zeros((2, hi - lo + 1)), np.array([lo, DEPTH_UNKNOWN, 0], np.int64)


class Book(NamedTuple):
    """The book after an event as the matching reads it (:func:`book_at`): ``ok`` both sides quoted; best
    bid and ask in int64 ticks (−2⁶², 2⁶²: that side is empty) and their sizes; ``e`` the event's row in
    the levels beyond the touch (``depth``, (n, levels, 4) as :class:`Tape`'s, passed beside the record:
    an array in a record built per event would cost a reference count per event)."""

    ok: bool
    bid_t: np.int64
    ask_t: np.int64
    bid_sz: float
    ask_sz: float
    e: int


class Event(NamedTuple):
    """What the matching reads of one event: time (ns), kind (``TRADE`` of :mod:`flatbook.data.events`, or a book
    update), a trade's aggressor side (+1 buyer, −1 seller), price and quantity."""

    ts: np.int64
    kind: int
    side: int
    px: float
    qty: float


class Rules(NamedTuple):
    """The venue's grid and queue model: tick (price units), lot (size grid) and ``QUEUE_PRORATA`` or
    ``QUEUE_PROB`` (how cancels fall on the queue ahead of us)."""

    tick: float
    lot: float
    queue: int


@nb.njit(inline="always", cache=True)
def book_at(bid, bid_sz, ask, ask_sz, e, tick):
    """The :class:`Book` (a plain tuple) of best bid/size and ask/size (price units; NaN: none) after event
    ``e``, on the grid ``tick``."""
    bid_t = _ticks(bid, tick) if bid == bid else np.int64(-(2**62))
    ask_t = _ticks(ask, tick) if ask == ask else np.int64(2**62)
    return (bid == bid and ask == ask, bid_t, ask_t, bid_sz, ask_sz, e)


@nb.njit(inline="always", cache=True)
def _level_size(side, p_t, bk, depth, tick):
    """Visible size at price p_t (ticks) on our side (+1 bid, −1 ask) of the book ``bk`` (:class:`Book`):
    0 inside the spread, the best size at the touch (the touch columns), a deeper level's size from the
    LOBSTER levels ``depth``, or NaN when the level is not visible. With a depth book, :func:`_deep_size`."""
    _, bb_t, ba_t, bsz, asz, e = bk
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
def _deep_size(side, p_t, bk, depth, tick, book, bst):
    """The ONE answer, in the replay's copies (``DEEP``), to "visible size at price p_t (ticks) on our side":
    :func:`_level_size`, and behind the touch the displayed depth book ``book``/``bst`` (:class:`Orders`) while
    it is valid and p_t inside its ticks (NaN otherwise). The default kernel calls :func:`_level_size` alone
    (its tapes have no depth book), so it carries no reference to the book."""
    L = _level_size(side, p_t, bk, depth, tick)
    if L == L:
        return L
    i = p_t - bst[0]
    if bst[1] == DEPTH_VALID and 0 <= i < book.shape[1]:
        return book[0 if side > 0 else 1, i]
    return np.nan


@nb.njit(inline="always", cache=True)
def snapshot_done(kind_e, ts_e, bst):
    """Before row e is read (its arrivals included): a snapshot being read ends at the first row that is not
    one of its LEVEL rows (a LEVEL row at the time of the CLEAR that began it); the depth book is valid then."""
    if bst[1] == DEPTH_SNAPSHOT and not (kind_e == LEVEL and ts_e == bst[2]):
        bst[1] = DEPTH_VALID


@nb.njit(inline="always", cache=True)
def book_row(kind_e, ts_e, side_e, px_e, qty_e, tick, book, bst):
    """Apply one tape row to the displayed depth book ``book``/``bst`` (:class:`Orders`): a LEVEL row sets its
    level's size (``px_e`` price units, ``side_e`` +1 bid / −1 ask, ``qty_e`` the new size; a price outside the
    book's ticks is dropped); a CLEAR row empties the book, then ``qty_e`` 1: the LEVEL rows that follow it at
    its time are the snapshot, and the book is valid from the first row after them (:func:`snapshot_done`);
    ``qty_e`` 0: the depth is unknown until the next CLEAR 1. Called for LEVEL and CLEAR rows."""
    if kind_e == LEVEL:
        i = _ticks(px_e, tick) - bst[0]
        if 0 <= i < book.shape[1]:
            book[0 if side_e > 0 else 1, i] = qty_e
    elif kind_e == CLEAR:
        book[:, :] = 0.0
        bst[1] = DEPTH_SNAPSHOT if qty_e > 0.5 else DEPTH_UNKNOWN
        bst[2] = ts_e


@nb.njit(inline="always", cache=True)
def arrive(k, p_t, sz, bk, depth, tick, od):
    """Step 1: a request for side k (0 bid, 1 ask; price p_t ticks, size sz lots, 0 a cancel) reaches the
    exchange, against the book ``bk`` (:class:`Book`, levels ``depth``) after the last event. It replaces
    that side's order in ``od`` (:class:`Orders`); a post-only request that would cross is rejected
    (returns True, side left empty). The new order joins the back of its level's queue."""
    live_p, live_sz, ahead, lvl, traded = od[0], od[1], od[2], od[3], od[4]
    rejected = False
    if sz > 0.0:
        # an empty side (±2⁶² ticks) is never crossed
        if (k == 0 and p_t >= bk[2]) or (k == 1 and p_t <= bk[1]):
            rejected = True
            sz = 0.0
    L = 0.0
    if sz > 0.0:
        if DEEP:
            L = _deep_size(1 if k == 0 else -1, p_t, bk, depth, tick, od[8], od[9])
        else:
            L = _level_size(1 if k == 0 else -1, p_t, bk, depth, tick)
    live_p[k] = p_t
    live_sz[k] = sz
    ahead[k] = L
    lvl[k] = L
    traded[k] = 0.0
    return rejected


@nb.njit(inline="always", cache=True)
def match_side_at(k, ev, bk, depth, ru, od):
    """Step 2 for our resting order on side k (0 bid, 1 ask) and the event ``ev`` (:class:`Event`), after
    which the book is ``bk`` (:class:`Book`, levels ``depth``), under the rules ``ru`` (:class:`Rules`):
    returns the size filled (whole lots) and does the queue bookkeeping in ``od`` (:class:`Orders`; see the
    module docstring). All records are plain tuples."""
    ts_e, kind_e, side_e, px_e, qty_e = ev
    book_ok, bb_t, ba_t, _, _, _ = bk
    tick = ru[0]  # indexed, not unpacked: the copy for a user's queue model carries its model too
    lot = ru[1]
    queue = ru[2]
    live_p, live_sz, ahead, lvl, traded, pend_ts, pend = od[0], od[1], od[2], od[3], od[4], od[5], od[6]
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
    if (
        live_sz[k] > 0.0
        and kind_e != TRADE
        and (
            kind_e < LEVEL
            or (
                kind_e == LEVEL
                and side_e == sgn
                and _ticks(px_e, tick) == p_t
                and (bb_t > p_t if k == 0 else ba_t < p_t)
            )
        )
    ):
        # book update (a quote row, or a LEVEL row at our price behind the touch): the visible level at our
        # price. A fall not explained by the volume printed there since the last update is cancels.
        if DEEP:
            L = _deep_size(sgn, p_t, bk, depth, tick, od[8], od[9])
        else:
            L = _level_size(sgn, p_t, bk, depth, tick)
        if L == L:
            a = ahead[k]
            a0 = a
            c = lvl[k] - L - traded[k]
            if a != a:
                a = L  # level just became visible: join its back
            elif c > 0.0 and lvl[k] > 0.0:
                if queue == QUEUE_PRORATA:
                    a = a * (1.0 - c / lvl[k])
                elif USER_QUEUE:
                    # the user's model (flatbook.backtest.queue_model): ru[3] its compiled call, ru[4] its
                    # parameters; one seeded uniform per cancel; a NaN answer keeps the queue as it was
                    a1 = ru[3](ru[4], a, lvl[k], L, c, np.random.random())
                    if a1 == a1:
                        a = a1
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
def match_l3(k, ev, code_e, ent_e, bk, depth, ru, od):
    """Step 2 under the L3 FIFO queue (``--queue l3``), for a tape whose order rows carry the entry time of
    their order (``ent_e``, ns; ``ENTRY_BEFORE``: resting before the file; ``ENTRY_NONE``: no order) and the
    LOBSTER message type ``code_e``. Our order on side k joined the book at ``od.join[k]`` behind ``ahead``,
    the whole level then; at our price and side (the module docstring):

    - a partial cancel or delete (2, 3) of an order entered at or before ``join`` takes its size off
      ``ahead``; of one entered after us: nothing;
    - a visible execution (4) of an order entered at or before ``join`` consumes ``ahead`` (never us: that
      order was ahead); of one entered after us: nobody is ahead any more, ``ahead`` ← 0 and we fill
      min(its size, ours), whole lots;
    - a hidden execution (5) is a print with no order we can place in time: as the level queue, it consumes
      ``ahead`` first and the rest fills us;
    - a print through our price, or a book that reaches it, fills all of it.

    After the event ``ahead`` ≤ the visible level (a repair for what the file does not show, e.g. hidden
    size); an order whose level was not visible when it arrived joins the level's back when it shows, and its
    ``join`` is then that event's time. Returns the size filled (whole lots)."""
    ts_e, kind_e, side_e, px_e, qty_e = ev
    book_ok, bb_t, ba_t, _, _, _ = bk
    tick = ru[0]
    lot = ru[1]
    live_p, live_sz, ahead, join = od[0], od[1], od[2], od[7]
    sgn = 1 if k == 0 else -1
    p_t = live_p[k]
    a = ahead[k]
    fill = 0.0
    if kind_e == TRADE and side_e == -sgn:
        tp = _ticks(px_e, tick)
        through = tp < p_t if k == 0 else tp > p_t
        if through:
            fill = live_sz[k]
            a = 0.0
        elif tp == p_t and a == a:
            if code_e == L3_EXEC and ent_e != ENTRY_NONE:
                if ent_e <= join[k]:
                    a = max(a - qty_e, 0.0)  # an order ahead of us executed
                else:
                    a = 0.0  # an order behind us executed: nobody is ahead of us any more
                    fill = min(live_sz[k], np.floor(qty_e / lot + 1e-9) * lot)
            else:
                fill = min(live_sz[k], np.floor(max(qty_e - a, 0.0) / lot + 1e-9) * lot)
                a = max(a - qty_e, 0.0)
    elif (
        (code_e == L3_CANCEL or code_e == L3_DELETE)
        and side_e == sgn
        and a == a
        and ent_e <= join[k]
        and _ticks(px_e, tick) == p_t
    ):
        a = max(a - qty_e, 0.0)  # an order ahead of us left the queue
    if fill < live_sz[k] and book_ok and ((k == 0 and ba_t <= p_t) or (k == 1 and bb_t >= p_t)):
        fill = live_sz[k]
    if fill > 0.0:
        live_sz[k] -= fill
        if live_sz[k] <= lot * 1e-9:
            live_sz[k] = 0.0
    if live_sz[k] > 0.0:
        L = _deep_size(sgn, p_t, bk, depth, tick, od[8], od[9])
        if L == L:
            if a != a:
                a = L  # the level just became visible: join its back now
                join[k] = ts_e
            else:
                a = min(a, L)
    ahead[k] = a
    return fill


@nb.njit(cache=True, error_model="numpy", nogil=True)
def replay(loop, tape, prm, out):
    """Replay the events of ``tape`` (a :class:`Tape` as a plain tuple) with the policy ``loop`` (its compiled
    depths, :func:`flatbook.policies.compile.depths_loop`) and ``prm`` (:class:`Params`, a tuple); fill
    ``out`` (:class:`Out`, a tuple: the per-event path, the fills, the requests, the counters); return the
    number of fills. :func:`kernels` gives the form that takes the named records.

    ``out.f_mid``: per fill, the mid before its event (price units), the reference of spread capture
    and markouts. ``out.path_cash`` and ``out.f_fee`` are in the settlement currency. Runs without the
    GIL; ``out.cnt[C_EVENT]`` counts the events done.
    """
    # the records arrive as plain tuples (numba types a plain tuple of arrays in its fast C path; a named
    # tuple costs a slow Python typing pass per call): unpack them in the field order of Tape, Params, Out
    ts, kind, bid_px, bid_sz, ask_px, ask_sz, px, qty, side, depth, feed_lat, order_lat, code, entry, book, bst = tape
    if USER_QUEUE:
        pp, tab, cpa, bp, qfn, qp = prm  # the copy for a user's queue model: its compiled call, its parameters
    else:
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
    cp = as_tuple14(cpa)
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
    l3 = queue == QUEUE_L3  # read in the replay's copies only (DEEP)
    through_rule = bp[BP_FILL_RULE] > 0.5
    q0 = bp[BP_Q0]
    np.random.seed(np.int64(bp[BP_SEED]))
    one = np.empty((5, 1))  # the decision's scratch (flatbook.strategy.decide.decide)
    # the regime a (t, q, regime) table reads, estimated from the mids the strategy sees
    # (flatbook.estimators.regime: V, W, the last mid and its time); 0 (calm) for every other policy
    reg_on = bp[BP_REG_ON] > 0.5
    reg_inv_tau = bp[BP_REG_INV_TAU]
    reg_sig2 = bp[BP_REG_SIG2]
    reg_v = 0.0
    reg_w = 0.0
    reg_t = np.int64(0)
    reg_mid = np.nan
    x = 0.0
    x_dec = 0.0  # the regime of the last decision: a change is a reason to decide again

    # our orders (Orders: index 0 = bid, 1 = ask; live price, size, queue ahead, level last seen, printed
    # since, falls awaiting their print, the time of the book each joined; the depth book behind the touch),
    # the matching rules; intended (last requested) price and size
    od = (
        np.zeros(2, np.int64),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2, np.int64),
        np.zeros((2, 2)),
        np.zeros(2, np.int64),
        book,
        bst,
    )
    live_p, live_sz, ahead, lvl, traded, _, pend, join, _, _ = od
    if USER_QUEUE:
        ru = (tick, lot, queue, qfn, qp)
    else:
        ru = (tick, lot, queue)
    want_p = np.zeros(2, np.int64)
    want_sz = np.zeros(2)
    # requests (r_t, r_ts, r_side, r_p, r_sz: decision ns, arrival ns, side index, price ticks, size),
    # in flight from head to tail (FIFO)
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
    last_in = (np.nan, np.nan, np.nan, np.nan)  # a tuple of scalars: kept in registers
    cur_spread = np.nan
    cur_dist = np.nan
    cur_half = np.nan
    mo = 0.0
    for e in range(n):
        t = ts[e]
        bb = bid_px[e]
        ba = ask_px[e]
        bk = book_at(bb, bid_sz[e], ba, ask_sz[e], e, tick)
        book_ok = bk[0]
        # ---- time-weighted state over (t_prev, t]
        span = float(t - t_prev)
        if span > 0.0:
            fc = financing(q, span / unit, fin_l, fin_s)
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
        ke = kind[e]
        if DEEP:
            snapshot_done(ke, t, bst)  # the depth book's snapshot ends before this row
        # ---- 1. requests that have reached the exchange (against the book before e)
        while head < tail and r_ts[head] <= t:
            k = r_side[head]
            p_t = r_p[head]
            sz = room_size(r_sz[head], room_left(k, q, 0.0, limit), lot)  # the hard limit at arrival
            head += 1
            if e > 0:
                # against the book before e
                bk0 = book_at(bid_px[e - 1], bid_sz[e - 1], ask_px[e - 1], ask_sz[e - 1], e - 1, tick)
                if arrive(k, p_t, sz, bk0, depth, tick, od):
                    cnt[C_REJECTED] += 1
                    want_sz[k] = 0.0  # so the next decision sends the side again
                if DEEP and l3:
                    join[k] = ts[e - 1]
            else:
                if DEEP and l3:
                    join[k] = t - 1
                live_p[k] = p_t
                live_sz[k] = sz
                ahead[k] = 0.0
                lvl[k] = 0.0
                traded[k] = 0.0
            pend[k, 0] = 0.0
            pend[k, 1] = 0.0
        # ---- 2. the event: the depth book's rows, trades against our orders, then queue bookkeeping
        if DEEP:
            if ke >= LEVEL:
                book_row(ke, t, side[e], px[e], qty[e], tick, book, bst)
        qe = qty[e]
        if through_rule and ke == TRADE:
            kh = 0 if side[e] < 0 else 1  # the side of ours a print can hit (a sell hits our bid)
            if live_sz[kh] > 0.0 and _ticks(px[e], tick) == live_p[kh]:
                qe = 0.0  # fill rule "through": a print at our price fills nothing
        ev = (t, ke, side[e], px[e], qe)
        for k in range(2):
            if live_sz[k] <= 0.0:
                continue
            sgn = 1 if k == 0 else -1  # +1: our bid (we buy), −1: our ask
            p_t = live_p[k]
            if DEEP and l3:
                fill = match_l3(k, ev, code[e], entry[e], bk, depth, ru, od)
            else:
                fill = match_side_at(k, ev, bk, depth, ru, od)
            if fill > 0.0:
                fpx = tick_price(p_t, tick, inv_tick)
                fv = unit_value(fpx, inverse, csize)
                # q on the lot grid (no drift from summing decimal sizes) and never
                # past the limit, not even by an ulp
                # np.rint: np.round's bits (half to even) without compiling numba's round_ndigits
                q = min(max(np.rint((q + sgn * fill) / lot) * lot, -limit), limit)
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
        if reg_on and book_ok:
            if reg_mid == reg_mid:
                reg_v, reg_w = ew_update(reg_v, reg_w, max(t_obs - reg_t, 0) / unit, mid - reg_mid, reg_inv_tau)
                x = regime_of(reg_v, reg_w, reg_sig2)
            reg_t = t_obs
            reg_mid = mid
        if (
            book_ok
            and ba > bb
            and decision_due(timed, x != x_dec, last_in, mid, ba - bb, q, killed, t_obs, last_req, min_req)
        ):
            last_in = (mid, ba - bb, q, 1.0 if killed else 0.0)
            x_dec = x
            t_u = (t_obs - t0) / unit
            db0, da0, db, da, bsz, asz, zone, act = decide(
                loop,
                pp,
                tab,
                cp,
                step_of(t_u, dt, nsteps),
                t_u,
                T - t_u,
                mid,
                0.5 * (ba - bb),
                q,
                x,
                killed,
                one,
            )
            m = 0.5 * (da0 - db0)
            mo = m if abs(m) < math.inf else 0.0
            if act == ACT_HEDGE and zone > prev_zone:
                cnt[C_HEDGE_REQ] += 1
            prev_zone = zone
            sent = False
            for k in range(2):
                sz, p_t = side_order(k, mid, db, da, bsz, asz, lot, tick)
                # the room under the limit is taken when the request arrives (step 1)
                send, sz = requote_side(sz, p_t, want_sz[k], want_p[k], refresh, math.inf, lot)
                if send:
                    arrival = max(t_obs + order_lat[e], last_arrival)
                    last_arrival = arrival
                    r_t[tail] = t_obs
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


def kernels(policy: Policy, queue=None, deep: bool = False) -> types.SimpleNamespace:
    """:func:`replay` and :func:`flatbook.strategy.decide.strategy_quotes` for ``policy`` (a resolved
    :class:`~flatbook.policies.base.Policy`): the compiled kernels with its depths loop bound.
    ``replay(tape, prm, out)`` takes the records :class:`Tape`, :class:`Params`, :class:`Out`. ``deep``: the
    replay's copy that keeps a depth book (a tape with LEVEL/CLEAR rows) and runs the L3 queue
    (:func:`replay_copy`); ``queue``: a user's bound queue model (:class:`~flatbook.market.stage.BoundStage` of
    a :class:`~flatbook.backtest.queue_model.QueueModel`), run by the copy for user models (depth book
    included; ``bp[BP_QUEUE]`` must be ``QUEUE_USER``)."""
    loop = depths_loop(policy)
    if queue is None:
        entry0 = replay_copy(("DEEP",)) if deep else replay

        def run(tape: Tape, prm: Params, out: Out) -> int:
            return entry0(loop, tuple(tape), tuple(prm), tuple(out))

    else:
        entry = replay_copy(("DEEP", "USER_QUEUE"))
        qfn, qp = queue.stage.loop(), queue.pp

        def run(tape: Tape, prm: Params, out: Out) -> int:
            with warnings.catch_warnings():  # numba calls a tuple holding a compiled function "experimental"
                warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
                return entry(loop, tuple(tape), (*prm, qfn, qp), tuple(out))

    return types.SimpleNamespace(replay=run, strategy_quotes=functools.partial(strategy_quotes, loop))


#: the matching and the loop, as :func:`replay_copy` copies them (they call each other's copies)
_COPIED = ["arrive", "match_side_at", "match_l3", "replay"]


@functools.cache
def replay_copy(flags: tuple[str, ...]):
    """:func:`replay` compiled with the switches ``flags`` set (sorted): ``DEEP`` keeps the depth book of LEVEL/CLEAR
    rows and runs the L3 queue when ``bp[BP_QUEUE]`` is ``QUEUE_L3``; ``USER_QUEUE`` takes cancels through a
    user's queue model, a compiled function passed in ``prm`` (``(pp, tab, cp, bp, qfn, qp)``, :func:`kernels`:
    one copy for every model, each model its own small compiled function). Each copy compiles on first use and
    is cached on disk under this file's and the model sources' digest; the default kernel is untouched."""
    token = "+".join(f.lower() for f in flags) + ":" + files_digest([__file__])
    return specialise(globals(), _COPIED, dict.fromkeys(flags, True), token).replay


key_on_model(replay, strategy_quotes)  # edits to inlined model modules recompile
