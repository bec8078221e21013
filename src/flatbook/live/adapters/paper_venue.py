"""A paper venue: our orders filled against the replayed tape, as the backtester fills them.

The matching is the backtester's, not a copy: :func:`flatbook.backtest.engine.arrive`
(a request reaching the exchange: post-only check, the back of the queue) and
:func:`flatbook.backtest.engine.match_side_at` (trades through or at our price,
queue ahead, cancels pro rata or by the ``prob`` model, and a book fall reconciled
with the print at our price that explains it within
:data:`~flatbook.backtest.engine.RECONCILE_NS`, so one volume is never taken
twice) run per event here.
Latency is the backtester's :class:`~flatbook.backtest.latency.Latency`: a request
handed over at event time t reaches the exchange at t + feed latency + order
latency (FIFO, never before an earlier request), drawn per request from the
seed, so a run is reproducible and restartable.

Unlike the backtester the venue does not clip sizes to the hard limit: that is
the engine's pre-trade risk check (:mod:`flatbook.live.risk`). Taker
(immediate-or-cancel) requests fill on arrival against the visible book, level
by level (the touch only, for level-1 data); the rest is cancelled.

The venue stands in for an exchange, whose state outlives our process: its
:meth:`state` goes into the journal's snapshots and :meth:`restore` resumes it
(:mod:`flatbook.live.recovery`). Fill ids are ``<client id>-<n>``.

Fees are in the contract's settlement currency, as the backtester's:
fee = fee·n + fee_bps·1e−4·n·|v(p)| for n contracts at price p, with
v(p) = C·p (linear) or −C/p (inverse; :func:`flatbook.strategy.contract.unit_value`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from ...backtest import engine as E
from ...backtest.latency import Latency
from ...data.events import CONTRACTS
from ...policies.compile import key_on_model
from ...strategy.contract import inverse_tick, tick_price, unit_value
from ..types import BUY, SELL, Fill, MarketEvent, OrderRequest, OrderUpdate
from .base import FillListener, UpdateListener

_NO_DEPTH = np.full((1, 1, 4), np.nan)
LAT_BLOCK = 1024


class Fees(NamedTuple):
    """The venue's fees, in the contract's settlement currency: ``maker`` and ``taker`` per lot,
    ``maker_bps`` and ``taker_bps`` in basis points of the notional n·|v(p)| (negative: a rebate)."""

    maker: float = 0.0
    maker_bps: float = 0.0
    taker: float = 0.0
    taker_bps: float = 0.0

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Fees:
        """The fees a run's parameters set (``maker_fee``, ``maker_fee_bps``, ``taker_fee``, ``taker_fee_bps``)."""
        return cls(values["maker_fee"], values["maker_fee_bps"], values["taker_fee"], values["taker_fee_bps"])


@nb.njit(cache=True)
def _arrive(k, p_t, sz, bk, depth, tick, od):
    """A request for side k (price p_t ticks, size sz lots) reaches the venue, whose book is ``bk`` (best bid,
    its size, best ask, its size; price units, NaN: none) with levels ``depth`` (1, levels, 4); our orders
    ``od`` (:class:`flatbook.backtest.engine.Orders`): :func:`flatbook.backtest.engine.arrive`."""
    return E.arrive(k, p_t, sz, E.book_at(bk[0], bk[1], bk[2], bk[3], 0, tick), depth, tick, od)


@nb.njit(cache=True)
def _match(ev, bk, depth, ru, seed, od, out):
    """Both sides' fills for the event ``ev`` (:class:`flatbook.backtest.engine.Event`) into ``out[k]``; after
    it the book is ``bk`` (best bid, size, best ask, size) with levels ``depth`` (1, levels, 4); ``ru``: the
    :class:`~flatbook.backtest.engine.Rules`, ``od`` our orders (:class:`~flatbook.backtest.engine.Orders`,
    the book falls awaiting their print included: :func:`flatbook.backtest.engine.match_side_at`). The
    ``prob`` queue draws from a generator seeded by ``seed`` (from the run's seed and the event), so a
    restart draws the same numbers."""
    b = E.book_at(bk[0], bk[1], bk[2], bk[3], 0, ru[0])
    if ru[2] == E.QUEUE_PROB:
        np.random.seed(seed)
    live_sz = od[1]
    for k in range(2):
        out[k] = 0.0
        if live_sz[k] > 0.0:
            out[k] = E.match_side_at(k, ev, b, depth, ru, od)


# edits to the modules these inline recompile them: the model and strategy layers (INLINED_DIRS) and the
# replay's matching in backtest/engine.py (arrive, match_side_at), added to the key by its file's contents
key_on_model(_arrive, _match, also=[E.__file__])


def _no_listener(_: object) -> None:
    """The venue's listeners until :meth:`PaperVenue.set_listeners`: a report then is a bug."""
    raise RuntimeError("PaperVenue: a report before set_listeners()")


class PaperVenue:
    """The paper venue (see the module docstring). Prices in price units, sizes in lots.

    tick: price grid (price units); lot: size grid; feed_latency, order_latency: the backtester's
    :class:`~flatbook.backtest.latency.Latency` (none: 0); queue: ``prorata`` (= ``l2``) or ``prob``; fees:
    :class:`Fees`; seed: of the latency and queue draws; contract: ``linear`` or ``inverse``,
    contract_size: C (price-currency units per contract for an inverse contract), as
    :class:`flatbook.data.events.EventMeta`.
    """

    name = "paper"

    def __init__(
        self,
        tick: float,
        lot: float,
        *,
        feed_latency: Latency | None = None,
        order_latency: Latency | None = None,
        queue: str = "prorata",
        fees: Fees = Fees(),
        seed: int = 0,
        contract: str = "linear",
        contract_size: float = 1.0,
    ):
        if contract not in CONTRACTS:
            raise ValueError(f"contract: got {contract!r}; allowed: {', '.join(CONTRACTS)}")
        self.contract, self.csize, self.inverse = contract, float(contract_size), contract == "inverse"
        self.tick, self.lot = float(tick), float(lot)
        self.inv_tick = float(inverse_tick(self.tick))
        self.feed_latency = feed_latency or Latency("const", 0.0)
        self.order_latency = order_latency or Latency("const", 0.0)
        if queue not in E.QUEUE_CODES or E.QUEUE_CODES[queue] == E.QUEUE_L3:
            allowed = ", ".join(q for q, c in E.QUEUE_CODES.items() if c != E.QUEUE_L3)
            raise ValueError(f"queue: got {queue!r}; allowed: {allowed} (the L3 queue needs a file's order ids)")
        self.queue = E.QUEUE_CODES[queue]
        self.maker_fee, self.maker_bps = fees.maker, fees.maker_bps * 1e-4
        self.taker_fee, self.taker_bps = fees.taker, fees.taker_bps * 1e-4
        self.seed = int(seed)
        # our resting orders' queue state (E.Orders: price, size, ahead, level, printed, book falls awaiting
        # their print), its fields also as attributes, and as the plain tuple the matching takes
        self.orders = E.new_orders()
        self.live_p, self.live_sz, self.ahead, self.lvl, self.traded, self.pend_ts, self.pend = self.orders[:7]
        self._od = tuple(self.orders)
        self._rules = (self.tick, self.lot, self.queue)  # E.Rules
        self.live_id = ["", ""]
        self.fill_n: dict[str, int] = {}  # client id -> fills so far (fill ids)
        self.fifo: deque = deque()  # in flight: (arrival ns, client id, side k, price ticks, size, taker)
        self.last_arrival = -(2**62)
        self.n_requests = 0
        # the book after the last event: bid, size, ask, size
        self.book: tuple[float, ...] = (math.nan, 0.0, math.nan, 0.0)
        self.depth = _NO_DEPTH
        self._lat: list[int] = []  # the latencies (ns) of block _lat_block (drawn by the first submit)
        self._lat_block = -1
        self._out = np.zeros(2)
        self.on_update: UpdateListener = _no_listener
        self.on_fill: FillListener = _no_listener

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the matching before the first event."""
        od = tuple(E.new_orders())
        no_book = (math.nan, 0.0, math.nan, 0.0)
        _arrive(0, 0, 0.0, no_book, _NO_DEPTH, self.tick, od)
        _match((0, 0, 0, math.nan, 0.0), no_book, _NO_DEPTH, self._rules, 0, od, np.zeros(2))

    # ---- Venue interface
    def set_listeners(self, on_update: UpdateListener, on_fill: FillListener) -> None:
        self.on_update, self.on_fill = on_update, on_fill

    def submit(self, req: OrderRequest) -> None:
        """Queue the request; it reaches the exchange after the latency (see :meth:`on_market`)."""
        n = self.n_requests
        if n // LAT_BLOCK != self._lat_block:
            self._draw_latencies(n // LAT_BLOCK)
        self.n_requests = n + 1
        arrival = req.ts + self._lat[n % LAT_BLOCK]
        if arrival < self.last_arrival:
            arrival = self.last_arrival
        self.last_arrival = arrival
        p_t = int(math.floor(req.price / self.tick + 0.5)) if req.size > 0.0 else 0
        self.fifo.append((arrival, req.client_id, 0 if req.side == BUY else 1, p_t, req.size, req.taker))

    async def open_orders(self) -> list[OrderRequest]:
        return [
            OrderRequest(
                self.live_id[k], BUY if k == 0 else SELL, self._px(int(self.live_p[k])), float(self.live_sz[k]), 0
            )
            for k in range(2)
            if self.live_sz[k] > 0
        ]

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        return []  # fills are re-delivered by replaying the tape from the snapshot

    async def close(self) -> None:
        return None

    # ---- the exchange's work, per market event
    def _draw_latencies(self, b: int) -> None:
        """Feed + order latencies (ns) of requests b·LAT_BLOCK … (b+1)·LAT_BLOCK − 1, from (seed, b)."""
        rng = np.random.Generator(np.random.PCG64([self.seed, b]))
        lat = self.feed_latency.draw_ns(LAT_BLOCK, rng) + self.order_latency.draw_ns(LAT_BLOCK, rng)
        self._lat = lat.tolist()  # a list: indexing it from Python is 3× faster than an array
        self._lat_block = b

    def _px(self, p_t: int) -> float:
        return tick_price(float(p_t), self.tick, self.inv_tick)

    def on_market(self, ev: MarketEvent) -> None:
        """Process one tape event: arrivals first (against the book before it), then matching."""
        fifo = self.fifo
        while fifo and fifo[0][0] <= ev.ts:
            self._arrive(fifo.popleft(), ev)
        depth = self.depth if ev.depth is None else ev.depth[None, :, :]
        if self.live_sz[0] > 0.0 or self.live_sz[1] > 0.0:
            out = self._out
            _match(
                (ev.ts, ev.kind, ev.side, ev.px, ev.qty),
                (ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz),
                depth,
                self._rules,
                (self.seed * 1_000_003 + ev.seq) % (2**31),
                self._od,
                out,
            )
            for k in range(2):
                if out[k] > 0.0:
                    cid = self.live_id[k]
                    px = self._px(int(self.live_p[k]))
                    n = float(out[k])
                    self._fill(cid, k, px, n, self._fee(px, n, self.maker_fee, self.maker_bps), ev, "maker")
                    if self.live_sz[k] == 0.0:
                        self.fill_n.pop(cid, None)
                        self.live_id[k] = ""
                        self.on_update(OrderUpdate(cid, "filled", 0.0, ev.ts))
        self.book = (ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz)
        self.depth = depth

    def _fee(self, px: float, n: float, per_lot: float, bps: float) -> float:
        """The fee of n contracts at px: per_lot·n + bps·n·|v(px)| (settlement currency; bps as a fraction)."""
        return per_lot * n + bps * abs(unit_value(px, self.inverse, self.csize)) * n  # the backtester's order

    def _fill(self, cid, k, px, qty, fee, ev, liq):
        n = self.fill_n.get(cid, 0)
        self.fill_n[cid] = n + 1
        self.on_fill(Fill(f"{cid}-{n}", cid, BUY if k == 0 else SELL, px, qty, fee, ev.ts, ev.seq, liq))

    def _arrive(self, item, ev: MarketEvent) -> None:
        _, cid, k, p_t, sz, taker = item
        self.pend[k] = 0.0  # a new order: no fall of the old one's level awaits its print
        old = self.live_id[k]
        if old:
            self.fill_n.pop(old, None)
            if self.live_sz[k] > 0.0:
                self.on_update(OrderUpdate(old, "cancelled", 0.0, ev.ts, "replaced"))
        if taker:
            self.live_sz[k] = 0.0
            self.live_id[k] = ""
            self._take(cid, k, p_t, sz, ev)
            return
        rejected = _arrive(k, p_t, sz, self.book, self.depth, self.tick, self._od)
        self.live_id[k] = cid if sz > 0.0 and not rejected else ""
        if rejected:
            self.on_update(OrderUpdate(cid, "rejected", 0.0, ev.ts, "post-only order would cross"))
        elif sz > 0.0:
            self.on_update(OrderUpdate(cid, "accepted", sz, ev.ts))
        else:
            self.on_update(OrderUpdate(cid, "cancelled", 0.0, ev.ts, "cancel request"))

    def _take(self, cid, k, limit_t, sz, ev):
        """An immediate-or-cancel order against the book before ``ev``: level by level up to its limit price."""
        d = self.depth[0]
        levels = []
        for lv in range(d.shape[0]):
            px, q = (d[lv, 2], d[lv, 3]) if k == 0 else (d[lv, 0], d[lv, 1])
            if px == px and q > 0:
                levels.append((px, q))
        if not levels:
            pb, pbs, pa, pas = self.book
            levels = [(pa, pas)] if k == 0 else [(pb, pbs)]
        left = sz
        for px, q in levels:
            if left <= 0 or px != px:
                break
            p_t = int(math.floor(px / self.tick + 0.5))
            if (k == 0 and p_t > limit_t) or (k == 1 and p_t < limit_t):
                break
            qty = math.floor(min(left, q) / self.lot + 1e-9) * self.lot
            if qty <= 0:
                break
            px = self._px(p_t)
            self._fill(cid, k, px, qty, self._fee(px, qty, self.taker_fee, self.taker_bps), ev, "taker")
            left -= qty
        self.fill_n.pop(cid, None)
        self.on_update(
            OrderUpdate(
                cid,
                "filled" if left <= self.lot * 1e-9 else "cancelled",
                0.0,
                ev.ts,
                "" if left <= self.lot * 1e-9 else "immediate-or-cancel remainder",
            )
        )

    # ---- the exchange's state, kept across our restarts
    def state(self) -> dict:
        return {
            "live_p": self.live_p.tolist(),
            "live_sz": self.live_sz.tolist(),
            "ahead": self.ahead.tolist(),
            "lvl": self.lvl.tolist(),
            "traded": self.traded.tolist(),
            "pend_ts": self.pend_ts.tolist(),
            "pend": self.pend.tolist(),
            "live_id": list(self.live_id),
            "fill_n": self.fill_n,
            "fifo": [list(f) for f in self.fifo],
            "last_arrival": self.last_arrival,
            "n_requests": self.n_requests,
            "book": list(self.book),
            "depth": None if self.depth is _NO_DEPTH else self.depth[0].tolist(),
        }

    def restore(self, s: dict) -> None:
        """Resume from :meth:`state`. A snapshot from before the reconciliation (no ``pend``) resumes with
        no fall awaiting its print: at most the prints within ``RECONCILE_NS`` of the restart are not
        reconciled."""
        self.live_p[:] = s["live_p"]
        for name in ("live_sz", "ahead", "lvl", "traded"):  # NaN is stored as null
            getattr(self, name)[:] = np.array(s[name], float)
        self.pend_ts[:] = s.get("pend_ts", (0, 0))
        self.pend[:] = np.array(s.get("pend", ((0.0, 0.0), (0.0, 0.0))), float)
        self.live_id = list(s["live_id"])
        self.fill_n = dict(s["fill_n"])
        self.fifo = deque(tuple(f) for f in s["fifo"])
        self.last_arrival = s["last_arrival"]
        self.n_requests = s["n_requests"]
        self.book = tuple(math.nan if x is None else x for x in s["book"])
        self.depth = _NO_DEPTH if s["depth"] is None else np.array(s["depth"], float)[None, :, :]
