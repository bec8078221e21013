"""The live engine: position, quotes, orders and PnL, updated atomically per event.

The decisions are :mod:`flatbook.strategy`'s, the functions the replay loop
(:mod:`flatbook.backtest.engine`) inlines: this engine calls the compiled decision and
the scalar rules' own source (:func:`flatbook.policies.compile.python_form`), and keeps
the I/O (venue, journal, alerts, pre-trade risk, metrics). Per market event (:meth:`Engine.on_market`): financing accrues
over the gap (:func:`flatbook.strategy.accrual.financing`), the position is marked at the
mid (kill switch on loss or drawdown, :func:`flatbook.controls.kill.kill_fires`, as the
simulator's), markouts mature, the end of the session triggers the flatten
(:func:`flatbook.strategy.flatten.flatten_order`), and then, when a decision is due
(:func:`flatbook.strategy.requote.decision_due`: ``min_requote`` after the last request,
and something it reads changed, or a venue report asked for it), the decision runs:
:func:`flatbook.strategy.decide.strategy_quotes` (the policy's compiled formula, then
the controls with the market's touch), so a live quote equals the simulator's and the
backtester's for the same state. A side is re-sent when its price moved by
``refresh_ticks`` or its size changed, sized to the room left under the hard limit
(:func:`flatbook.strategy.requote.requote_side`), checked by
:class:`~flatbook.live.risk.PreTradeRisk`, journaled, and handed to the venue: the
tick-to-quote latency is measured from the event's arrival to that hand-off.

Fills (:meth:`on_fills`, from the venue or the API) are journaled before they
touch the position; a fill id already journaled is ignored and counted
(``duplicates``), except a fill the paper venue re-delivers after a restart
(see :mod:`flatbook.live.recovery`). Venue reports (:meth:`on_update`) are
journaled before they change the open orders.

Zones (soft limits, seed 000): the quotes use the controls' zone of |q| as the
simulator does; the zone the monitor shows, alerts on and bases its hedge advice
on has hysteresis (:func:`zone_with_hysteresis`): a zone is entered when |q|
reaches its threshold and left only when |q| falls below threshold × (1 − h),
h = ``zone_hysteresis`` (``[alerts] zone_hysteresis``), so inventory hovering at
a threshold raises one alert, not one per fill. In monitor mode a fill posted
through the API recomputes the quotes, zone and hedge advice at once, against
the last market data.

Stopping (:meth:`begin_exit`, on SIGINT/SIGTERM): no new quotes; both sides are
cancelled through the venue and, when asked, q is flattened with
immediate-or-cancel orders, exactly as the end-of-session flatten;
:meth:`exit_done` tells the runner when the venue has confirmed it. A journal
fault (:class:`~flatbook.live.journal.JournalError`, e.g. a full disk) halts the
engine (:meth:`halt`): quoting stops and the resting orders are cancelled at the
venue directly (the journal cannot record them; a restart rebuilds from the last
snapshot).

Money is in the contract's settlement currency, with the backtester's value
formula (:func:`flatbook.data.events.contract_value`, compiled as
:func:`flatbook.strategy.contract.unit_value`): a contract at price p is
worth v(p) = C·p (linear) or −C/p (inverse, C in price-currency units: Binance
COIN-M, BitMEX XBTUSD, settled in the base asset). A fill of n at p moves cash by
−side·n·v(p) − fee, the mark is cash + q·v(mid), and the kill switch's loss and
drawdown, financing (per lot per second) and fees are in that currency too.
``pnl()["total_quote"]`` is the total's value in the price currency at the
current mid (= the total for a linear contract). The contract comes from the
replayed data's :class:`~flatbook.data.events.EventMeta`, the ccxt market
(:meth:`Engine.set_contract`) or the ``[live]`` settings.

PnL attribution (settlement currency), the simulator's split
(:func:`flatbook.sim.metrics.attribution`): spread = Σ side·qty·(v(mid) − v(price))
at each fill; adverse = Σ side·qty·(v(mid(t + markout)) − v(mid(t))); fees;
financing (financing_long·q⁺ + financing_short·q⁻ per second); inventory = the
rest, so the parts sum to the total cash + q·v(mid) − (cash₀ + q₀·v(mid₀)).
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..config import RunConfig
from ..controls.kill import KILL_REASONS, kill_fires
from ..controls.quote_controls import CP_ACT_Y, pack_controls, room_left
from ..controls.zones import ZONE_NAMES, zone_index
from ..data.events import CONTRACTS
from ..errors import InputError
from ..estimators import regime as regime_est
from ..policies.compile import depths_loop, python_form
from ..policies.registry import policy_spec
from ..strategy import accrual, flatten, requote
from ..strategy.contract import inverse_tick, tick_price, unit_value
from ..strategy.decide import LD_LEN, SV_LEN, step_of, strategy_quotes
from . import risk as R
from .alerts import Alerts
from .hedge_advice import hedge_advice, hedge_rule
from .journal import Journal, JournalError
from .types import BUY, SELL, Fill, MarketEvent, OrderRequest, OrderUpdate

if TYPE_CHECKING:  # the runner attaches the metrics (prometheus_client: imported only where served)
    from .metrics import Metrics

NS = 1_000_000_000
_LEVEL = ("info", "warning", "warning", "critical")
HISTORY = 3600  # samples kept for the dashboard
LAT_KEEP = 1 << 20  # latency samples kept for percentiles (a ring)
# the strategy's scalar rules, run by Python from their one source (the replay inlines the compiled copies)
_financing = python_form(accrual.financing)
_flatten_order = python_form(flatten.flatten_order)
_decision_due = python_form(requote.decision_due)
_NO_DECISION = (math.nan, math.nan, math.nan, math.nan)  # the inputs "before the first decision": never equal
_requote_side = python_form(requote.requote_side)
_room_left = python_form(room_left)
_step_of = python_form(step_of)
_ew_update = python_form(regime_est.ew_update)
_regime_of = python_form(regime_est.regime_of)


def zone_with_hysteresis(a: float, prev: int, thresholds: tuple[float, float, float], h: float) -> int:
    """The soft zone of |q| = ``a`` after zone ``prev``: entered at a threshold, left below threshold·(1 − h).

    thresholds: (yellow, red, critical), lots; h in [0, 1): the hysteresis fraction. Zone z > prev as soon as
    a ≥ thresholds[z − 1] (:func:`flatbook.controls.zones.zone_index`); from ``prev`` it steps down only
    while a < thresholds[z − 1]·(1 − h). h = 0 gives the controls' zone.
    """
    z = int(zone_index(a, *thresholds))  # the controls' zone (flatbook.controls.zones)
    if z >= prev:
        return z
    z = prev
    while z > 0 and a < thresholds[z - 1] * (1.0 - h):
        z -= 1
    return z


class Engine:
    """One instrument's live state. Not thread-safe: runs on one asyncio loop.

    cfg: the validated run config (policy, controls, costs; time unit 1 s).
    venue: a :class:`~flatbook.live.adapters.base.Venue`, or None in monitor mode.
    contract, contract_size, settlement_currency: the instrument (see the module docstring and
    :meth:`set_contract`); money is in the settlement currency.
    """

    def __init__(
        self,
        cfg: RunConfig,
        journal: Journal,
        venue=None,
        *,
        alerts: Alerts | None = None,
        tick: float | None = None,
        lot: float = 1.0,
        max_orders_per_s: float = 50.0,
        session_end_ns: int | None = None,
        flatten_slippage_ticks: float = 10.0,
        min_requote_ms: float = 0.0,
        refresh_ticks: float = 1.0,
        markout_s: float = 1.0,
        t0_ns: int | None = None,
        zone_hysteresis: float = 0.1,
        contract: str = "linear",
        contract_size: float = 1.0,
        settlement_currency: str = "",
    ):
        v = self.v = cfg.values
        self.cfg = cfg
        self.journal = journal
        self.venue = venue
        self.alerts = alerts or Alerts()
        self.mode = "trade" if venue is not None else "monitor"
        self.session = journal.session
        self.cid_prefix = f"{self.session}-"  # client ids: <session>-<n>
        b = policy_spec(cfg.policy).bind(v, cfg.steps)
        self.pp, self.tab = np.ascontiguousarray(b.pp, float), b.tab
        self._strategy = functools.partial(strategy_quotes, depths_loop(b.policy))  # the compiled decision
        self.cp = pack_controls(v)
        self.T, self.dt, self.nsteps = float(v["T"]), float(v["dt"]), int(cfg.steps)
        self.tick = float(tick if tick is not None else (v["tick"] if v["tick"] > 0 else 1e-8))
        self.inv_tick = float(inverse_tick(self.tick))
        self.lot = float(lot)
        self.limit = float(v["limit"])
        self.hedge_rule = hedge_rule(v)  # the simulator's packed hedge constants
        self.target = self.hedge_rule.qstar  # the simulator's q* (q_target, or from the carry costs)
        self.zones = {"yellow": float(v["yellow"]), "red": float(v["red"]), "critical": float(v["critical"])}
        self.thresholds = (self.zones["yellow"], self.zones["red"], self.zones["critical"])
        self.hyst = float(zone_hysteresis)
        self.fin_l, self.fin_s = float(v["financing_long"]), float(v["financing_short"])
        self.max_loss, self.max_dd = float(v["max_loss"]), float(v["max_drawdown"])
        self.timed = b.moves_with_time  # quotes that move with time alone, as the policy declares
        self.risk = R.PreTradeRisk(self.limit, max_orders_per_s, self.lot)
        self.session_end = session_end_ns
        self.slip = flatten_slippage_ticks * self.tick
        self.min_req = int(min_requote_ms * 1e6)
        self.refresh = refresh_ticks * (1.0 - 1e-9)  # ticks
        self.markout_ns = int(markout_s * NS)
        self.out = np.zeros(LD_LEN)
        self.sv = np.zeros(SV_LEN)  # the decision's inputs (flatbook.strategy.decide.SV_*)
        # a (t, q, regime) table: the regime estimated online from the mids, as the replay does
        self.reg_on, self.reg_inv_tau, self.reg_sig2 = regime_est.classifier(b.regime)
        self.metrics: Metrics | None = None
        # ---- state (everything below is in the snapshot)
        self.t0 = t0_ns
        self.q = float(v["q0"])
        self.cash = 0.0
        self.base: float | None = None  # cash₀ + q₀·mid₀: PnL counts from the first mark
        self.fees = self.financing = self.spread = self.adverse = 0.0
        self.fills = self.duplicates = self.orders = self.rejected = self.events = self.deferred = 0
        self.peak = 0.0
        self.killed = False
        self.kill_reason = ""
        self.flattening = False
        self.zone = 0
        self.act = 0.0
        # the regime estimate (flatbook.estimators.regime): V, W, the last mid and its time (ns), the regime,
        # and the regime of the last decision
        self.reg_v = self.reg_w = 0.0
        self.reg_t = 0
        self.reg_mid = math.nan
        self.regime = self.regime_dec = 0.0
        self.last_ts: int | None = None
        self.fin_ts: int | None = None  # financing has accrued up to here (ns): the last event or fill
        self.want_p = [0, 0]  # last requested price (ticks) and size per side
        self.want_sz = [0.0, 0.0]
        self.last_req = -(2**62)
        self.order_n = 0
        self.open: dict[str, list] = {}  # client id -> [side, price, size, remaining, status]
        self.markouts: deque = deque()  # (due ns, side·qty, mid at fill)
        self.last_in: tuple[float, ...] | None = None  # (mid, spread, q, killed) of the last decision
        self.contract, self.csize, self.currency = "linear", 1.0, ""
        self.set_contract(contract, contract_size, settlement_currency)
        # ---- not in the snapshot: display and measurement
        self.pending: set[str] = set()  # journaled fills a restarted paper venue will re-deliver
        self.exiting = False  # stopping (begin_exit): no new quotes
        self._exit_flatten = False  # the exit started the flatten (undone once flat)
        self.halted = ""  # why the engine halted (a journal fault), "" while running
        self.fault: JournalError | None = None
        self.on_halt: Callable[[], object] | None = None  # called once on a halt (the runner's stop)
        self.quote_zone = 0  # the controls' zone of the last decision (no hysteresis)
        self.bid = self.ask = self.mid = math.nan
        self.bid_sz = self.ask_sz = 0.0
        self._qraw: tuple[float, ...] | None = None  # (mid, bsz, asz, bid_px, ask_px, db0, da0) of the last decision
        self.quote_wall: float | None = None
        self.hedge = hedge_advice(self.hedge_rule, self.q, self.target, 0.0, 0, False, False)
        self.history: dict[str, deque[float | None]] = {  # None: no market (NaN)
            k: deque(maxlen=HISTORY)
            for k in ("ts", "position", "target", "mid", "bid", "ask", "quote_bid", "quote_ask", "pnl")
        }
        self.hist_every = NS
        self.hist_next = -(2**62)
        self.lat = np.zeros(LAT_KEEP)
        self.n_lat = 0
        self.dirty = True
        if venue is not None:
            venue.set_listeners(self.on_update, self.on_fill)

    def set_contract(self, contract: str, contract_size: float, settlement_currency: str = "") -> None:
        """Set the instrument: ``linear`` or ``inverse``, C (price-currency units per contract if inverse)
        and the settlement currency (the currency of cash, fees and PnL). Only before the first fill or
        mark (a live venue's market is known once it has started). Raises :class:`InputError`."""
        if contract not in CONTRACTS:
            raise InputError("live.contract", f"got {contract!r}; allowed: {', '.join(CONTRACTS)}")
        if not (isinstance(contract_size, (int, float)) and math.isfinite(contract_size) and contract_size > 0):
            raise InputError("live.contract_size", f"got {contract_size!r}; allowed: a positive number")
        if (contract, float(contract_size)) != (self.contract, self.csize) and (self.base is not None or self.fills):
            raise InputError("live.contract", "the contract cannot change once the PnL has started")
        self.contract, self.csize, self.currency = contract, float(contract_size), str(settlement_currency)
        self.inverse = contract == "inverse"

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the decision before the first event."""
        sv = np.zeros(SV_LEN)
        sv[:] = (0, 0.0, self.T, 100.0, 0.5, 0.0, 0.0, 0.0, self.lot, self.tick)  # SV_* order
        self._strategy(self.pp, self.tab, self.cp, sv, np.zeros(LD_LEN))

    # ------------------------------------------------------------------ market data
    def on_market(self, ev: MarketEvent) -> None:
        """One market event: mark, risk, and the quote decision (see the module docstring)."""
        t_arr = time.perf_counter_ns()
        ts = ev.ts
        self.events += 1
        if self.t0 is None:
            self.t0 = ts
        if self.q != 0.0:
            self._accrue(ts)
        if self.fin_ts is None or ts > self.fin_ts:  # (flat: nothing accrues, the clock moves on)
            self.fin_ts = ts
        self.last_ts = ts
        bb, ba = ev.bid_px, ev.ask_px
        self.bid, self.ask, self.bid_sz, self.ask_sz = bb, ba, ev.bid_sz, ev.ask_sz
        mid = 0.5 * (bb + ba)
        if mid == mid:
            self.mid = mid
            vm = unit_value(mid, self.inverse, self.csize)
            if self.base is None:
                self.base = self.cash + self.q * vm
            mtm = self.cash + self.q * vm - self.base
            if mtm > self.peak:
                self.peak = mtm
            fired = kill_fires(self.killed, mtm, self.peak, self.max_loss, self.max_dd)  # the one rule
            if fired:
                self.kill(ts, f"{KILL_REASONS[int(fired)]} limit")
            mk = self.markouts
            while mk and mk[0][0] <= ts:
                _, sq, m0 = mk.popleft()
                self.adverse += sq * (vm - unit_value(m0, self.inverse, self.csize))
        if self.reg_on and bb == bb and ba == ba:
            if self.reg_mid == self.reg_mid:
                dt = max(ts - self.reg_t, 0) / NS
                self.reg_v, self.reg_w = _ew_update(self.reg_v, self.reg_w, dt, mid - self.reg_mid, self.reg_inv_tau)
                self.regime = _regime_of(self.reg_v, self.reg_w, self.reg_sig2)
            self.reg_t, self.reg_mid = ts, mid
        if self.session_end is not None and ts >= self.session_end and not self.flattening:
            self.start_flatten(ts, "end of session")
        if self.halted:  # a journal fault: nothing is decided or sent any more (see halt)
            pass
        elif self.flattening or self.exiting:
            self.flatten_step(ts, take=self.flattening)
        elif bb == bb and ba == ba and ba > bb:
            self._decide(ts, mid, ba - bb, t_arr)
        if ts >= self.hist_next:
            self._sample(ts)

    def _accrue(self, ts: int) -> None:
        """Financing over (fin_ts, ts] at the position held over it (:func:`flatbook.strategy.accrual.financing`),
        as the replay: at each market event and before each fill changes q (a fill at an event's time comes
        before that event's mark: the venue reports it first)."""
        last = self.fin_ts
        if last is not None and ts > last:
            if self.q != 0.0:
                fc = _financing(self.q, (ts - last) / NS, self.fin_l, self.fin_s)
                if fc != 0.0:
                    self.cash -= fc
                    self.financing += fc
            self.fin_ts = ts

    def _decide(self, ts: int, mid: float, spread: float, t_arr: int | None) -> None:
        q = self.q
        last = self.last_in if self.last_in is not None else _NO_DECISION
        force = self.dirty or self.regime != self.regime_dec
        if not _decision_due(self.timed, force, last, mid, spread, q, self.killed, ts, self.last_req, self.min_req):
            return
        self.last_in = (mid, spread, q, 1.0 if self.killed else 0.0)
        self.dirty = False
        self.regime_dec = self.regime
        out = self.out
        assert self.t0 is not None  # set by the first market event, which comes before any decision
        t_u = (ts - self.t0) / NS
        sv = self.sv
        sv[:] = (
            _step_of(t_u, self.dt, self.nsteps),
            t_u,
            self.T - t_u,
            mid,
            0.5 * spread,
            q,
            self.regime,
            1.0 if (self.killed or self.flattening) else 0.0,
            self.lot,
            self.tick,
        )  # SV_* order
        self._strategy(self.pp, self.tab, self.cp, sv, out)
        # Python floats from here: sqlite binds them directly and their arithmetic is cheaper
        db0, da0, _, _, bsz, asz, zone, self.act, bid_t, ask_t, bid_px, ask_px = out.tolist()  # LD_* order
        self.quote_zone = int(zone)
        zone = self._zone_of(q)
        if zone != self.zone:
            self._zone_change(ts, zone)
        bid_t, ask_t = int(bid_t), int(ask_t)
        self._qraw = (mid, bsz, asz, bid_px, ask_px, db0, da0)
        if self.venue is None or self.flattening:
            self.quote_wall = time.time()
            if t_arr is not None and self.venue is None:
                self._latency(t_arr)  # monitor mode: arrival to the recommendation
            return
        reqs: list[OrderRequest] | None = None
        want_p, want_sz, refresh, lot = self.want_p, self.want_sz, self.refresh, self.lot
        for k in (0, 1):
            if k == 0:
                sz, p_t, side, px = bsz, bid_t, BUY, bid_px
            else:
                sz, p_t, side, px = asz, ask_t, SELL, ask_px
            if not _requote_side(sz, p_t, want_sz[k], want_p[k], refresh, math.inf, lot)[0]:
                continue  # (the open orders are read only for a side that may be sent)
            exp = self._exposure(side)
            room = _room_left(k, q, exp, self.limit)
            if room < sz:  # the same rule again, with the room under the limit (room ≥ sz changes nothing)
                send, sz = _requote_side(sz, p_t, want_sz[k], want_p[k], refresh, room, lot)
                if not send:
                    continue
            if sz > 0.0 and not self.risk.has_room(ts):
                self.deferred += 1  # the throttle is full: decide again on the next event
                self.dirty = True
                continue
            req = OrderRequest(
                self.cid_prefix + str(self.order_n + (0 if reqs is None else len(reqs))),
                side,
                px if sz > 0.0 else 0.0,
                sz,
                ts,
            )
            if self._check(req, exp):
                want_p[k] = p_t
                want_sz[k] = sz
                if reqs is None:
                    reqs = [req]
                else:
                    reqs.append(req)
        if reqs:
            self._send(reqs, t_arr)
        self.quote_wall = time.time()

    def _check(self, req: OrderRequest, exposure: float) -> bool:
        why = self.risk.check(req.side, req.size, self.q, exposure, req.ts, self.killed, req.taker)
        if why is None:
            return True
        self.rejected += 1
        self.journal.record_reject(req, why)
        if self.metrics is not None:
            self.metrics.rejected.labels(why).inc()
        self._alert(
            req.ts,
            "warning",
            "order_rejected",
            f"{'buy' if req.side == BUY else 'sell'} {req.size:g} @ {req.price:g} rejected: {why} "
            f"(q = {self.q:g}, limit = {self.limit:g})",
        )
        return False

    def _send(self, reqs: list[OrderRequest], t_arr: int | None) -> None:
        """Journal the requests (numbered from ``order_n``), then hand them to the venue (the hand-off ends
        the tick-to-quote interval)."""
        self.journal.record_orders(reqs, self.order_n)
        self.order_n += len(reqs)
        for r in reqs:
            if r.size > 0.0:
                self.open[r.client_id] = [r.side, r.price, r.size, r.size, "taker" if r.taker else "pending"]
            self.venue.submit(r)
        if t_arr is not None:
            self._latency(t_arr)
            self.last_req = reqs[0].ts
        self.orders += len(reqs)

    def _latency(self, t_arr: int) -> None:
        """Record one tick-to-quote sample: now − the event's arrival (s)."""
        dt = (time.perf_counter_ns() - t_arr) * 1e-9
        self.lat[self.n_lat % LAT_KEEP] = dt
        self.n_lat += 1
        if self.metrics is not None:
            self.metrics.tick_to_quote.observe(dt)

    def _exposure(self, side: int) -> float:
        """Resting + in-flight size of our orders on ``side`` (lots): what could still fill."""
        exp = 0.0
        for o in self.open.values():
            if o[0] == side:
                exp += o[3]
        return exp

    # ------------------------------------------------------------------ venue reports
    def on_update(self, u: OrderUpdate) -> None:
        """A venue report: journaled, then applied to the open orders (halted: applied only)."""
        if not self.halted:
            self.journal.record_update(u)
        o = self.open.get(u.client_id)
        if o is None:
            return
        if u.status == "accepted":
            o[3] = u.remaining
            o[4] = "open"
        else:
            del self.open[u.client_id]
            if u.status == "rejected":
                self.want_sz[0 if o[0] == BUY else 1] = 0.0
                self.dirty = True
            elif u.status == "cancelled" and u.reason != "replaced" and u.reason != "cancel request":
                self.want_sz[0 if o[0] == BUY else 1] = 0.0
                self.dirty = True

    def on_fill(self, f: Fill) -> bool:
        return self.on_fills([f])[0]

    def on_fills(self, fills: list[Fill]) -> list[bool]:
        """Journal, then apply; returns per fill whether it was applied (False: a duplicate, counted).
        Monitor mode: then decide again at once (quotes, zone and hedge advice follow the new q)."""
        mid = self.mid if self.mid == self.mid else None
        # halted (the journal failed): applied, not journaled, so that the exit reports the true position
        new = [True] * len(fills) if self.halted else self.journal.record_fills(fills, [mid] * len(fills))
        applied = []
        for f, is_new in zip(fills, new):
            if not is_new:
                if f.fill_id in self.pending:
                    self.pending.discard(f.fill_id)
                else:
                    self.duplicates += 1
                    applied.append(False)
                    continue
            self._apply(f, mid)
            applied.append(True)
        if self.venue is None and self.dirty:
            self.requote()
        return applied

    def requote(self) -> None:
        """Decide again now, against the last market data (monitor mode: after external fills)."""
        bb, ba = self.bid, self.ask
        if self.last_ts is not None and bb == bb and ba == ba and ba > bb and not self.halted and not self.flattening:
            self._decide(self.last_ts, 0.5 * (bb + ba), ba - bb, None)

    def _apply(self, f: Fill, mid: float | None) -> None:
        self._accrue(f.ts)  # the position before the fill was held until it
        sq = f.side * f.qty
        lot = self.lot
        self.q = round((self.q + sq) / lot) * lot
        fv = unit_value(f.price, self.inverse, self.csize)
        self.cash -= sq * fv
        self.cash -= f.fee
        self.fees += f.fee
        self.fills += 1
        if mid is not None:
            self.spread += sq * (unit_value(mid, self.inverse, self.csize) - fv)
            self.markouts.append((f.ts + self.markout_ns, sq, mid))
        o = self.open.get(f.client_id)
        if o is not None:
            o[3] = max(o[3] - f.qty, 0.0)
            if o[3] <= lot * 1e-9:
                del self.open[f.client_id]
                self.want_sz[0 if f.side == BUY else 1] = 0.0
        if self.flattening and self.venue is not None and self.q == 0.0:
            self._alert(f.ts, "info", "flat", "position flat after the flatten")
        self.dirty = True
        zone = self._zone_of(self.q)
        if zone != self.zone:
            self._zone_change(f.ts, zone)
        else:
            self._advise()  # the recommended size follows q

    def _zone_of(self, q: float) -> int:
        """The monitor's zone of q after the current one (with hysteresis: :func:`zone_with_hysteresis`)."""
        return zone_with_hysteresis(abs(q), self.zone, self.thresholds, self.hyst)

    # ------------------------------------------------------------------ controls
    def _zone_change(self, ts: int, zone: int) -> None:
        old = self.zone
        self.zone = zone
        self._advise()
        word = "entered" if zone > old else "back to"
        self._alert(
            ts,
            _LEVEL[zone] if zone > old else "info",
            "zone",
            f"{word} {ZONE_NAMES[zone]} zone (|q| = {abs(self.q):g} lots; was {ZONE_NAMES[old]})",
        )

    def _advise(self) -> None:
        """Refresh the hedge recommendation (the zone's action from the packed controls, CP_ACT_Y/R/C)."""
        z = self.zone
        act = self.cp[CP_ACT_Y + z - 1] if z else 0.0
        self.hedge = hedge_advice(self.hedge_rule, self.q, self.target, act, z, self.killed, self.flattening)

    def kill(self, ts: int, reason: str) -> None:
        """Fire the kill switch: quotes become flatten-only, sized to |q|."""
        if self.killed:
            return
        self.killed = True
        self.kill_reason = reason
        self.dirty = True
        self._advise()
        self._alert(ts, "critical", "kill_switch", f"kill switch: {reason} (PnL {self.pnl_total():.6g})")

    def start_flatten(self, ts: int, reason: str) -> None:
        """Stop quoting: cancel both sides, then flatten q with immediate-or-cancel orders (each event until flat)."""
        self.flattening = True
        self.dirty = True
        self._advise()
        self._alert(ts, "warning", "flatten", f"{reason}: cancelling quotes and flattening q = {self.q:g}")

    def begin_exit(self, ts: int, flatten: bool, reason: str) -> None:
        """Stop quoting (SIGINT/SIGTERM): cancel both sides through the venue and, with ``flatten``, flatten
        q with immediate-or-cancel orders (the session flatten's rule). Done when :meth:`exit_done`."""
        self.exiting = True
        self.dirty = True
        if flatten and not self.flattening and self.venue is not None:
            self._exit_flatten = True
            self.start_flatten(ts, reason)
        elif self.venue is None:
            self._alert(ts, "warning", "stop", f"{reason}: monitor stopped; q = {self.q:g} lots")
        else:
            self._alert(
                ts,
                "warning",
                "stop",
                f"{reason}: cancelling quotes; q = {self.q:g} lots"
                + (" (flattening)" if self.flattening else " left open (not flattened)"),
            )
        self.flatten_step(ts, take=self.flattening)

    def exit_done(self) -> bool:
        """Whether the stop is complete: nothing rests or is in flight, and q is flat if the exit flattens."""
        return not self.open and (not self._exit_flatten or self.q == 0.0)

    def end_exit(self) -> None:
        """After the stop: a flatten started by it is over (a restart quotes again)."""
        if self._exit_flatten and self.q == 0.0:
            self.flattening = False
            self._exit_flatten = False
            self._advise()
        self.exiting = False

    def halt(self, ts: int, fault: JournalError) -> int:
        """A journal fault: stop quoting and cancel the resting orders at the venue directly (they cannot be
        journaled). Returns the number of cancels sent."""
        if self.halted:
            return 0
        self.halted = fault.message
        self.fault = fault
        n = 0
        if self.venue is not None:
            for k, side in ((0, BUY), (1, SELL)):
                if self.want_sz[k] != 0.0 or any(o[0] == side for o in self.open.values()):
                    self.venue.submit(OrderRequest(f"{self.cid_prefix}halt-{k}", side, 0.0, 0.0, ts))
                    n += 1
        self._alert(
            ts, "critical", "journal", f"journal fault: quoting stopped, {n} side(s) cancelled: {fault.message}"
        )
        if self.on_halt is not None:
            self.on_halt()
        return n

    def flatten_step(self, ts: int, take: bool = True) -> None:
        """One round of the flatten: cancel what still rests, and while no IOC is in flight send one for q
        (``take`` False: cancel only)."""
        if self.venue is None:
            return
        reqs: list[OrderRequest] = []
        for k, side in ((0, BUY), (1, SELL)):
            if self.want_sz[k] != 0.0:
                reqs.append(OrderRequest(self.cid_prefix + str(self.order_n + len(reqs)), side, 0.0, 0.0, ts))
                self.want_sz[k] = 0.0
        k, p_t, size = _flatten_order(self.q, self.bid, self.ask, self.slip, self.tick)
        if take and k >= 0 and not any(o[4] == "taker" for o in self.open.values()):
            side = BUY if k == 0 else SELL
            req = OrderRequest(
                self.cid_prefix + str(self.order_n + len(reqs)), side, self._px(p_t), size, ts, taker=True
            )
            if self._check(req, self._exposure(side)):
                reqs.append(req)
        if reqs:
            self._send(reqs, None)

    def _alert(self, ts: int, level: str, kind: str, msg: str) -> None:
        self.alerts.raise_(ts, level, kind, msg)
        if self.metrics is not None:
            self.metrics.alerts.labels(kind).inc()

    # ------------------------------------------------------------------ reads
    def pnl_total(self) -> float:
        """Mark-to-market PnL since the first mark, settlement currency."""
        if self.base is None or self.mid != self.mid:
            return 0.0
        return self.cash + self.q * unit_value(self.mid, self.inverse, self.csize) - self.base

    def pnl(self) -> dict:
        """The PnL and its attribution (settlement currency); ``total_quote``: the total in the price
        currency at the current mid (an inverse contract's total × mid; a linear one's total)."""
        total = self.pnl_total()
        parts = {"spread": self.spread, "adverse": self.adverse, "fees": -self.fees, "financing": -self.financing}
        tq = total * self.mid if self.contract == "inverse" and self.mid == self.mid else total
        return {"total": total, "inventory": total - sum(parts.values()), **parts, "cash": self.cash, "total_quote": tq}

    def contract_info(self) -> dict:
        """The instrument: contract, contract_size, settlement_currency."""
        return {"contract": self.contract, "contract_size": self.csize, "settlement_currency": self.currency}

    @property
    def quote(self) -> dict:
        """The last decision's quotes: prices (None: side not quoted), sizes (lots), and the policy's
        centre, skew = centre − mid and half-spread before the controls (price units)."""
        if self._qraw is None:
            return {
                "bid": None,
                "ask": None,
                "bid_size": 0.0,
                "ask_size": 0.0,
                "centre": None,
                "skew": None,
                "half_spread": None,
            }
        mid, bsz, asz, bid_px, ask_px, db0, da0 = self._qraw
        h, m = 0.5 * (da0 + db0), 0.5 * (da0 - db0)
        fin = abs(h) < math.inf and abs(m) < math.inf
        return {
            "bid": bid_px if bsz > 0.0 else None,
            "ask": ask_px if asz > 0.0 else None,
            "bid_size": bsz,
            "ask_size": asz,
            "centre": mid + m if fin else None,
            "skew": m if fin else None,
            "half_spread": h if fin else None,
        }

    def _px(self, p_t: int) -> float:
        """Price of ``p_t`` ticks (exact for decimal ticks: 57803/100, not 57803·0.01)."""
        return tick_price(float(p_t), self.tick, self.inv_tick)

    def quote_age(self) -> float:
        return math.nan if self.quote_wall is None else time.time() - self.quote_wall

    def latency_samples(self) -> np.ndarray:
        """Tick-to-quote latencies measured so far (the last ``LAT_KEEP``), seconds."""
        return self.lat[: min(self.n_lat, LAT_KEEP)].copy()

    def _sample(self, ts: int) -> None:
        self.hist_next = ts + self.hist_every
        h = self.history
        q_ = self.quote
        h["ts"].append(ts)
        h["position"].append(self.q)
        h["target"].append(self.target)
        for k, x in (("mid", self.mid), ("bid", self.bid), ("ask", self.ask)):
            h[k].append(x if x == x else None)
        h["quote_bid"].append(q_["bid"])
        h["quote_ask"].append(q_["ask"])
        h["pnl"].append(self.pnl_total())

    def state(self) -> dict:
        """The monitor's view (the API's ``/api/state``)."""
        fin = lambda x: x if (x is not None and x == x) else None  # noqa: E731
        age = self.quote_age()
        return {
            "mode": self.mode,
            "session": self.session,
            "ts": self.last_ts,
            "seq": self.events,
            "position": self.q,
            "target": self.target,
            "limit": self.limit,
            "zones": self.zones,
            "zone": self.zone,
            "zone_name": ZONE_NAMES[self.zone],
            "zone_hysteresis": self.hyst,
            "killed": self.killed,
            "kill_reason": self.kill_reason,
            "flattening": self.flattening,
            "halted": self.halted or None,
            "market": {"bid": fin(self.bid), "ask": fin(self.ask), "mid": fin(self.mid)},
            "contract": self.contract_info(),
            "quotes": {**self.quote, "zone": self.quote_zone, "age_s": fin(age)},
            "pnl": self.pnl(),
            "hedge": self.hedge,
            "open_orders": self.open_orders(),
            "alerts": [a.as_dict() for a in self.alerts.recent],
            "counters": {
                "fills": self.fills,
                "duplicate_fills": self.duplicates,
                "rejected_orders": self.rejected,
                "orders": self.orders,
                "deferred_by_throttle": self.deferred,
                "events": self.events,
                "journal_errors": self.journal.errors,
                "alerts": self.alerts.count,
            },
        }

    def open_orders(self) -> list[dict]:
        """Our resting and in-flight orders: client id, side, price, remaining size (lots), status."""
        return [
            {"client_id": c, "side": "buy" if o[0] == BUY else "sell", "price": o[1], "size": o[3], "status": o[4]}
            for c, o in self.open.items()
        ]

    def history_view(self, n: int) -> dict:
        return {k: list(d)[-n:] for k, d in self.history.items()}

    # ------------------------------------------------------------------ snapshot
    SNAP = (
        "t0",
        "q",
        "cash",
        "base",
        "fees",
        "financing",
        "spread",
        "adverse",
        "fills",
        "duplicates",
        "orders",
        "rejected",
        "deferred",
        "events",
        "peak",
        "killed",
        "kill_reason",
        "flattening",
        "zone",
        "act",
        "last_ts",
        "want_p",
        "want_sz",
        "last_req",
        "order_n",
        "dirty",
        "mid",
        "bid",
        "ask",
        "bid_sz",
        "ask_sz",
        "reg_v",
        "reg_w",
        "reg_t",
        "regime",
        "regime_dec",
    )

    #: snapshot keys added later: a snapshot from before them keeps this run's starting values
    _SNAP_LATER = frozenset({"reg_v", "reg_w", "reg_t", "regime", "regime_dec"})

    def snapshot_state(self) -> dict:
        s = {k: getattr(self, k) for k in self.SNAP}
        s["open"] = self.open
        s["markouts"] = list(self.markouts)
        s["window"] = list(self.risk.window)
        s["last_in"] = list(self.last_in) if self.last_in is not None else None
        s["contract"] = self.contract_info()
        s["fin_ts"] = self.fin_ts
        s["reg_mid"] = self.reg_mid
        return s

    def restore(self, s: dict) -> None:
        """Resume from :meth:`snapshot_state`. A snapshot of another contract (its money is in another
        currency) is refused; one from before contracts were recorded is taken as this run's."""
        c = s.get("contract")
        if c is not None and (c["contract"], float(c["contract_size"])) != (self.contract, self.csize):
            raise InputError(
                "live.contract",
                f"the journal {self.journal.path} holds a session of a "
                f"{c['contract']} contract of size {c['contract_size']:g}; this run's is {self.contract} "
                f"of size {self.csize:g} (use another journal.path, or the same contract)",
            )
        for k in self.SNAP:
            if k in s or k not in self._SNAP_LATER:
                setattr(self, k, s[k])
        self.reg_mid = s.get("reg_mid", math.nan)
        for k in ("mid", "bid", "ask", "reg_mid"):  # NaN is stored as null
            if getattr(self, k) is None:
                setattr(self, k, math.nan)
        self.open = {c: list(o) for c, o in s["open"].items()}
        self.markouts = deque(tuple(m) for m in s["markouts"])
        self.risk.window = deque(s["window"])
        self.last_in = tuple(s["last_in"]) if s["last_in"] is not None else None
        self.fin_ts = s.get("fin_ts", self.last_ts)  # a snapshot from before fills accrued: the last event
        self._advise()
