"""A hedged replay: inventory made in one instrument S, hedged in another, H, on two data files with one clock.

Seed 001's "crypto maker long spot hedging in the perpetual", on real data (issue 15 §4). Two passes:

1. **The inventory leg** is the normal replay (:func:`flatbook.backtest.backtester.run_backtest`) of the
   policy on S's file: its quotes read its own q only (they do not see the hedge), and its kill switch
   reads the inventory leg's PnL only. Its numbers are those of ``flatbook backtest`` on S alone.
2. **The hedge pass** (:mod:`flatbook.backtest.hedge_pass`, compiled) runs on the merged clock of the
   inventory leg's fills and H's tape: the hedging module's triggers, sizing and schedules decide H
   orders, sent after the order latency as IOC or market orders and filled against H's replayed book
   (its visible depth) with the taker fee.

Both legs are measured over the **window** where both files have quotes, [t_a, t_b].

Money. Each leg's value per unit is v(p) = C·p (linear contracts; C the contract size) in the common
settlement currency; write S̃ = C_S·S, H̃ = C_H·H. A leg's PnL at τ is cash(τ) + position(τ)·mark(τ),
marked at the mid (the last one at or before τ). With the hedge ratio h (units of H per unit of S), y
the H position and q the S position, the net delta is x = q + y/h (units of S).

PnL decomposition, exact in real arithmetic (in floating point, to rounding), summed by the hedge pass
along its own merged clock over the window (H's rows, the inventory fills and S's marks; at one ns in that
order), each fill valued against the mark in force when it happens (an inventory fill against S's mid
before its row, a hedge fill against H's mid of the book it takes):

    total = inventory leg + hedge leg
    inventory leg = spot_edge − maker_fees − financing + spot_position
    hedge leg     = hedge_edge − taker_fees + hedge_position
    spot_edge     = Σ_fills side·n·(S̃ − C_S·p)        maker fills against the mid
    hedge_edge    = Σ_fills side·n·(H̃ − C_H·p)        taker fills: minus the half-spread and the walk
    spot_position = Σ q·ΔS̃,   hedge_position = Σ y·ΔH̃   (each mark change times the position then)
    spot_position + hedge_position = net_delta + basis:
    net_delta     = Σ x·ΔS̃                             the unhedged part of S's price move
    basis         = Σ (y/h)·(h·ΔH̃ − ΔS̃)                = −Σ (y/h)·ΔB, ΔB = ΔS̃ − h·ΔH̃

(y·ΔH̃ = (y/h)·ΔS̃ − (y/h)·ΔB: a short hedge y = −h·q earns q·ΔB, long the basis S̃ − h·H̃.)
financing is what moves the inventory leg's cash besides its fills (exactly 0 when every financing rate is 0).

Risk, hedged (both legs) against unhedged (the inventory leg alone), both from t_a: the std of the PnL
increments on a 1 s and a 60 s grid (previous tick), with the Gaussian SE std/√(2(n − 1)), and the same
for the price PnL (the PnL less the fills' edges and fees: the position PnL, whose variance a hedge
removes; fees and spreads come as jumps at the fills, which no hedge removes and a hedge adds); the max
drawdown (on every point); max |x| against max |q|; the variance reduction 1 − Var(hedged)/Var(unhedged)
of the 1 s increments (of the PnL, and of the price PnL), beside the theory for the same ratio from :func:`flatbook.hedging.basis.estimate_basis`
on the 1 s grid: VR(h) = 1 − Var(ΔS̃ − h·ΔH̃)/Var(ΔS̃) = 2h′ρσ_H/σ_S − h′²σ_H²/σ_S² (h′ = h·C_H/C_S), whose
maximum, at h*, is ρ². The theory holds the position fixed; the replay's inventory also carries the
maker's own trading, which no hedge removes.

Latency: the replay's specs (:mod:`flatbook.backtest.latency`), one feed and one order latency per merged row
of the hedge pass; ``measured`` per leg (:func:`pass_latencies`: each row's own stamps, the order leg drawn
from the hedge file's measured sample); both files then need local receive stamps.

Refused (one line, :class:`~flatbook.errors.InputError`): the same instrument on both legs, or different
base assets (BTC inventory in an ETH contract); clocks that do not overlap (both spans named);
inverse contracts, or legs settled or priced in different currencies (no conversion is offered); a hedge
ratio that is not a positive number or ``auto``; hedge settings the replay cannot honour (the ``zone``
trigger, ``vwap``, a participation cap).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ..config import RunConfig
from ..data.events import EventTable
from ..errors import InputError
from ..estimators.volatility import realized_volatility
from ..hedging.basis import BasisEstimate, estimate_basis
from ..hedging.model import (
    HP_BAND,
    HP_EXEC,
    HP_FRAC,
    HP_NH,
    HP_QSTAR,
    HP_SIZING,
    HP_THR,
    HP_TRIGGER,
    HP_URG,
    pack_hedge,
)
from ..jsonutil import jsonable
from . import hedge_pass as H
from .backtester import NS, BacktestOptions, BacktestResult, run_backtest
from .latency import Latency, MeasuredLatency

ORDER_TYPES = ("market", "ioc")
#: hedge settings of the parameter registry that the hedged replay reads (the rest are the simulator's)
HEDGE_KEYS = (
    "hedge_trigger",
    "hedge_threshold",
    "hedge_urgency",
    "hedge_sizing",
    "hedge_fraction",
    "hedge_band",
    "hedge_target_mode",
    "q_target",
    "hedge_exec",
    "hedge_horizon",
    "hedge_risk_aversion",
    "hedge_eta",
    "taker_fee",
    "taker_fee_bps",
)
#: the defaults of a hedged replay where the registry's would not hedge at all
HEDGED_DEFAULTS = {"hedge_trigger": "threshold", "hedge_threshold": 0.0}
MAX_LATENCY_ROWS = 50_000_000


@dataclass(frozen=True)
class HedgeSpec:
    """How the hedge trades: ``ratio`` units of H per unit of S (a number > 0, or ``"auto"``: the
    minimum-variance ratio h* of :func:`flatbook.hedging.basis.estimate_basis` on a 1 s grid);
    ``order``: ``market`` or ``ioc`` (limit: the touch seen ± ``ioc_ticks`` ticks of H)."""

    ratio: float | str
    order: str = "market"
    ioc_ticks: int = 0

    def __post_init__(self):
        r = self.ratio
        if isinstance(r, str):
            if r.strip().lower() != "auto":
                try:
                    r = float(r)
                except ValueError:
                    raise InputError(
                        "hedge_ratio", f"got {self.ratio!r}; allowed: a number > 0 (units of H per unit of S) or auto"
                    ) from None
            else:
                r = "auto"
        if r != "auto" and (isinstance(r, bool) or not isinstance(r, (int, float)) or not (math.isfinite(r) and r > 0)):
            raise InputError(
                "hedge_ratio", f"got {self.ratio!r}; allowed: a number > 0 (units of H per unit of S) or auto"
            )
        object.__setattr__(self, "ratio", r if r == "auto" else float(r))
        if self.order not in ORDER_TYPES:
            raise InputError("hedge_order", f"got {self.order!r}; allowed: {', '.join(ORDER_TYPES)}")
        t = self.ioc_ticks
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= 1_000_000:
            raise InputError("hedge_ioc_ticks", f"got {t!r}; allowed: an integer from 0 to 1000000 (ticks of H)")


@dataclass(frozen=True)
class HedgedRun:
    """A hedged replay: the inventory leg's replay, the hedge pass and the summary.

    ``hedge_fills``: ts (arrival, ns), side (+1 bought H), px (H price units), qty (units of H), fee
    (settlement currency), mid (H's mid before), order (its order's index). ``hedge_orders``: ts (decision,
    ns), arrival (ns), qty (signed units of H), limit (price units; NaN: market). ``path``: on the 1 s grid
    from t_a: ts, q, y, x (net delta, units of S), pnl_unhedged, pnl_hedged (settlement currency).
    """

    inventory: BacktestResult
    spec: HedgeSpec
    ratio: float
    summary: dict
    hedge_fills: dict[str, np.ndarray]
    hedge_orders: dict[str, np.ndarray]
    path: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)


def _utc(ns: int) -> str:
    t = datetime.fromtimestamp(ns // NS, tz=UTC) + timedelta(microseconds=(ns % NS) // 1000)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quote_span(ev: EventTable) -> tuple[int, int]:
    """First and last exchange time (ns) with a finite mid."""
    ok = np.flatnonzero(np.isfinite(ev.mid))
    if ok.size == 0:
        return 0, -1
    return int(ev.ts[ok[0]]), int(ev.ts[ok[-1]])


def base_asset(m) -> str | None:
    """The asset a table's quantities count (``BTC`` for BTCUSDT spot and perpetual): its quantity unit when
    named, else the instrument's name (before `` (``) less its price unit; None when neither tells."""
    qu = str(m.qty_unit).strip()
    if qu and qu != "quantity units" and not qu.startswith("contracts"):
        return qu.upper()
    name = str(m.instrument).split(" (")[0].strip().upper()
    pu = str(m.price_unit).strip().upper()
    if pu and name.endswith(pu) and len(name) > len(pu):
        return name[: -len(pu)].rstrip("-_/")
    return None


def check_pair(inv: EventTable, hedge: EventTable) -> tuple[int, int]:
    """The window [t_a, t_b] (ns) where both tables have quotes, or :class:`InputError` naming ``--hedge-data``:
    the same instrument (and source) on both legs, different base assets (:func:`base_asset`; BTC spot in an
    ETH perpetual), no overlap (both spans named), an inverse contract, or different price or settlement
    units."""
    mi, mh = inv.meta, hedge.meta
    if mi.instrument == mh.instrument and mi.source == mh.source:
        raise InputError(
            "hedge_data",
            f"is the same instrument as DATA ({mh.instrument}, {mh.source}); allowed: a second instrument "
            "on the same base asset (e.g. BTCUSDT spot hedged in the BTCUSDT perpetual)",
        )
    bi, bh = base_asset(mi), base_asset(mh)
    if bi is not None and bh is not None and bi != bh:
        raise InputError(
            "hedge_data",
            f"{mh.instrument} trades {bh}, {mi.instrument} trades {bi}; a hedged replay needs the same base "
            "asset on both legs (a cross hedge between assets is not offered)",
        )
    for name, m in (("data", mi), ("hedge_data", mh)):
        if m.inverse:
            raise InputError(
                name,
                f"{m.instrument} is an inverse contract (settled in {m.settlement_currency}); a hedged replay adds "
                "both legs' PnL in one currency and offers no conversion: use linear contracts",
            )
    if mi.settlement_currency != mh.settlement_currency or mi.price_unit != mh.price_unit:
        raise InputError(
            "hedge_data",
            f"{mh.instrument} is priced in {mh.price_unit} and settled in {mh.settlement_currency}, {mi.instrument} in "
            f"{mi.price_unit} and {mi.settlement_currency}; a hedged replay offers no conversion between them",
        )
    a0, a1 = quote_span(inv)
    b0, b1 = quote_span(hedge)
    for name, (u0, u1), m in (("data", (a0, a1), mi), ("hedge_data", (b0, b1), mh)):
        if u1 < u0:
            raise InputError(name, f"{m.instrument} has no quote (no row with a finite bid and ask)")
    t_a, t_b = max(a0, b0), min(a1, b1)
    if t_b <= t_a:
        raise InputError(
            "hedge_data",
            f"the clocks do not overlap: {mi.instrument} spans {_utc(a0)} to {_utc(a1)}, "
            f"{mh.instrument} spans {_utc(b0)} to {_utc(b1)} (exchange time, UTC)",
        )
    return t_a, t_b


def hedge_values(cfg: RunConfig, inv: EventTable) -> dict[str, Any]:
    """The run's values for the hedge pass: σ (for the urgency trigger and Almgren–Chriss) from S's data unless
    set or derived by the policy; refusals for what the replay cannot honour."""
    v = dict(cfg.values)
    if v["hedge_trigger"] == "zone":
        raise InputError(
            "hedge_trigger",
            "zone needs the inventory leg's zone requests, which the replay does not pass on; "
            "allowed in a hedged replay: none, threshold, urgency",
        )
    if v["hedge_exec"] == "vwap":
        raise InputError(
            "hedge_exec",
            "vwap needs a session volume curve, which a replay does not have; "
            "allowed in a hedged replay: immediate, twap, almgren-chriss",
        )
    if v["hedge_participation"] < 1.0:
        raise InputError(
            "hedge_participation",
            f"got {v['hedge_participation']:g}; a participation cap is not modelled in a hedged replay (allowed: 1)",
        )
    if "sigma" not in cfg.user_keys and cfg.policy not in ("avellaneda-stoikov", "glft"):
        vol = realized_volatility(inv, grid_s=1.0)
        if vol.ok:
            v["sigma"] = vol.sigma
    return v


def _prev(ts: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x at the last row at or before each of ``t`` (previous tick); NaN before the first row."""
    i = np.searchsorted(ts, t, side="right") - 1
    out = x[np.clip(i, 0, None)]
    return np.where(i >= 0, out, np.nan)


def _ffill(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~ok & (np.cumsum(ok) == 0)] = np.nan
    return out


def _std(x: np.ndarray) -> tuple[float | None, float | None, int]:
    """(std with ddof 1, its Gaussian SE std/√(2(n − 1)), n) of the increments of x."""
    d = np.diff(x)
    n = d.size
    if n < 2:
        return None, None, n
    s = float(np.std(d, ddof=1))
    return s, s / math.sqrt(2.0 * (n - 1)), n


def _max_dd(p: np.ndarray) -> float:
    return float(np.max(np.maximum.accumulate(p) - p)) if p.size else 0.0


def hedge_pass(
    hedge: EventTable,
    fills: Mapping[str, np.ndarray],
    marks: tuple[np.ndarray, np.ndarray],
    pv: np.ndarray,
    hw: np.ndarray,
    feed: np.ndarray,
    order: np.ndarray,
    t_start: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Run the compiled pass (:func:`flatbook.backtest.hedge_pass.hedge_pass`) of H's rows against the inventory
    leg's ``fills`` (ts exchange ns, q after, side, px, qty, fee: a replay's fills) and S's ``marks`` (ts, mid);
    ``pv`` the pass's scalars (``HQ_*``; H's tick, lot, contract size and book kind are set here from its meta),
    ``hw`` the schedule's fractions, ``feed``/``order`` one latency (ns) per merged row; ``t_start`` the window's
    start (exchange ns). Returns (hedge fills, hedge orders, counters, sums)."""
    mh = hedge.meta
    pv = np.array(pv, dtype=np.float64)
    pv[H.HQ_TICK] = float(mh.tick_size) if math.isfinite(mh.tick_size) and mh.tick_size > 0 else 1e-8
    pv[H.HQ_LOT] = float(mh.lot_size) if math.isfinite(mh.lot_size) and mh.lot_size > 0 else 1e-12
    pv[H.HQ_CSIZE] = float(mh.contract_size)
    pv[H.HQ_DEPTH_BOOK] = float(mh.book == "depth")
    q_ts = fills["ts"]
    s_ts, s_mid = marks
    rows = len(hedge) + len(q_ts) + len(s_ts)
    if feed.shape != (rows,) or order.shape != (rows,):
        raise ValueError(f"feed and order need one latency per merged row ({rows})")
    depth = hedge.depth if hedge.depth is not None else np.full((1, 1, 4), np.nan)
    # a depth book's LEVEL rows: each price (ticks) as an index into the sorted prices they name
    lvl_idx = np.full(len(hedge), -1, np.int64)
    lvl_ticks = np.zeros(0, np.int64)
    if mh.book == "depth":
        is_lvl = (hedge.kind == H.LEVEL) & np.isfinite(hedge.px)
        t_lvl = np.round(hedge.px[is_lvl] / pv[H.HQ_TICK]).astype(np.int64)
        lvl_ticks, inv_idx = np.unique(t_lvl, return_inverse=True)
        lvl_idx[is_lvl] = inv_idx
    tape = H.HedgeTape(
        hedge.ts,
        hedge.kind,
        hedge.bid_px,
        hedge.bid_sz,
        hedge.ask_px,
        hedge.ask_sz,
        hedge.px,
        hedge.qty,
        hedge.side,
        np.ascontiguousarray(depth),
        lvl_idx,
        np.ascontiguousarray(lvl_ticks, dtype=np.int64),
        np.ascontiguousarray(q_ts, dtype=np.int64),
        np.ascontiguousarray(fills["q"], dtype=np.float64),
        np.ascontiguousarray(fills["side"], dtype=np.float64),
        np.ascontiguousarray(fills["px"], dtype=np.float64),
        np.ascontiguousarray(fills["qty"], dtype=np.float64),
        np.ascontiguousarray(fills["fee"], dtype=np.float64),
        np.ascontiguousarray(s_ts, dtype=np.int64),
        np.ascontiguousarray(s_mid, dtype=np.float64),
        np.ascontiguousarray(feed, dtype=np.int64),
        np.ascontiguousarray(order, dtype=np.int64),
    )
    # at most one order in flight, so at most one order per merged row; the fill rows (one per level taken)
    # start at two per order and grow when the pass runs out of them (it stops and says so)
    cap_o = rows + 1
    cap_f = 2 * cap_o + 64
    while True:
        out = H.HedgeOut(
            np.empty(cap_f, np.int64),
            np.empty(cap_f, np.int8),
            np.empty(cap_f),
            np.empty(cap_f),
            np.empty(cap_f),
            np.empty(cap_f),
            np.empty(cap_f, np.int64),
            np.empty(cap_o, np.int64),
            np.empty(cap_o, np.int64),
            np.empty(cap_o),
            np.empty(cap_o),
            np.zeros(H.H_CNT_LEN, np.int64),
            np.zeros(H.H_ACC_LEN),
        )
        nf = H.hedge_pass(tape, pv, np.ascontiguousarray(hw, dtype=np.float64), np.int64(t_start), out)
        if nf >= 0:
            break
        cap_f = max(2 * cap_f, int(out.cnt[H.H_OVERFLOW]) + 64)
    no = int(out.cnt[H.H_ORDERS])
    fills = {
        "ts": out.f_ts[:nf].copy(),
        "side": out.f_side[:nf].copy(),
        "px": out.f_px[:nf].copy(),
        "qty": out.f_qty[:nf].copy(),
        "fee": out.f_fee[:nf].copy(),
        "mid": out.f_mid[:nf].copy(),
        "order": out.f_order[:nf].copy(),
    }
    orders = {
        "ts": out.o_t[:no].copy(),
        "arrival": out.o_arrival[:no].copy(),
        "qty": out.o_qty[:no].copy(),
        "limit": out.o_limit[:no].copy(),
    }
    return fills, orders, out.cnt.copy(), out.acc.copy()


def check_measured_pair(inv: EventTable, hedge: EventTable, feed: Latency, order: Latency) -> None:
    """Refuse ``measured`` latency when either leg's table has no local receive stamps, naming the flag
    (``latency`` / ``order_latency``) and the leg."""
    for key, lat in (("latency", feed), ("order_latency", order)):
        if lat.kind != "measured":
            continue
        for leg, ev in (("DATA", inv), ("--hedge-data", hedge)):
            if ev.local_ts is None:
                raise InputError(
                    key,
                    f"measured latency needs local receive stamps (local_ts) on both legs, and {leg} "
                    f"({ev.meta.instrument}, {ev.meta.source}) has none; allowed: Binance captures (.gz), or a "
                    "fixed spec such as 5 or lognormal:5,0.5",
                )


def pass_latencies(
    feed_lat: Latency,
    order_lat: Latency,
    inv: EventTable,
    hedge: EventTable,
    fill_ts: np.ndarray,
    hi: int,
    si: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One feed and one order latency (int64 ns) per merged row of the hedge pass (H's first ``hi`` rows, the
    fills ``fill_ts``, S's first ``si`` rows; merged as the pass merges them: by time, at one ns H's rows,
    then the fills, then S's rows).

    A drawn spec: ``draw_ns`` over all merged rows, feed then order (:meth:`Latency.draw_ns`). ``measured``
    (:class:`flatbook.backtest.latency.MeasuredLatency`, per leg): the feed leg of an H row or an S row is
    that row's own measured feed latency; of an inventory fill (our own fill's report) a bootstrap draw from
    S's measured sample; the order leg (orders go to H's venue) draws from H's measured sample (or its
    fitted shifted lognormal for ``measured:lognormal``)."""
    fi = int(fill_ts.size)
    rows = hi + fi + si
    mh = MeasuredLatency.of(hedge) if "measured" in (feed_lat.kind, order_lat.kind) else None
    if feed_lat.kind != "measured":
        feed = feed_lat.draw_ns(rows, rng)
    else:
        ms = MeasuredLatency.of(inv)
        assert mh is not None
        parts = np.concatenate((mh.feed_ns()[:hi], ms.draw_ns(fi, rng, fitted=feed_lat.a == 1), ms.feed_ns()[:si]))
        key = np.concatenate((hedge.ts[:hi], fill_ts, inv.ts[:si]))
        feed = parts[np.argsort(key, kind="stable")]
    if order_lat.kind != "measured":
        order = order_lat.draw_ns(rows, rng)
    else:
        assert mh is not None
        order = mh.draw_ns(rows, rng, fitted=order_lat.a == 1)
    return np.ascontiguousarray(feed, dtype=np.int64), np.ascontiguousarray(order, dtype=np.int64)


def run_hedged(
    inv: EventTable,
    hedge: EventTable,
    cfg: RunConfig,
    opts: BacktestOptions,
    spec: HedgeSpec,
    progress: Callable[[int, int], None] | None = None,
) -> HedgedRun:
    """Replay ``cfg``'s policy on ``inv`` (S) and hedge its inventory in ``hedge`` (H); see the module docstring.

    ``opts``: the replay's latencies and seed, which the hedge pass uses too (its own draws: one feed and one
    order latency per merged row, from ``PCG64(SeedSequence([seed, 1]))``).
    """
    t_a, t_b = check_pair(inv, hedge)
    check_measured_pair(inv, hedge, opts.feed_latency, opts.order_latency)
    v = hedge_values(cfg, inv)
    mi, mh = inv.meta, hedge.meta
    cs, ch = float(mi.contract_size), float(mh.contract_size)
    warnings: list[str] = []
    try:
        est: BasisEstimate | None = estimate_basis(inv, hedge, grid_s=1.0)
    except InputError as e:
        if spec.ratio == "auto":
            raise InputError("hedge_ratio", f"auto: the minimum-variance ratio cannot be estimated ({e})") from None
        est = None
        warnings.append(f"no basis estimate on the 1 s grid ({e}): the theoretical variance reduction is not given")
    h_star = est.hedge_ratio * cs / ch if est is not None else None  # units of H per unit of S
    ratio = float(h_star) if spec.ratio == "auto" and h_star is not None else float(spec.ratio)
    if not (math.isfinite(ratio) and ratio > 0):
        raise InputError("hedge_ratio", f"auto gave h* = {ratio:g}, not a positive ratio; give a number instead")

    inv_run = run_backtest(inv, cfg, opts, progress=progress)

    # ---- the hedge pass, on H's rows to t_b and the inventory fills to t_b
    hp, hw, _, _ = pack_hedge(v, cfg.steps)
    nh = int(hp[HP_NH])
    pv = np.zeros(H.HQ_LEN)
    pv[H.HQ_TRIGGER], pv[H.HQ_THR], pv[H.HQ_URG] = hp[HP_TRIGGER], hp[HP_THR], hp[HP_URG]
    pv[H.HQ_SIZING], pv[H.HQ_FRAC], pv[H.HQ_BAND] = hp[HP_SIZING], hp[HP_FRAC], hp[HP_BAND]
    pv[H.HQ_QSTAR], pv[H.HQ_EXEC], pv[H.HQ_NH] = hp[HP_QSTAR], hp[HP_EXEC], nh
    pv[H.HQ_CHILD_NS] = v["hedge_horizon"] / nh * NS if nh > 1 else 0.0  # the replay's time unit is 1 s
    pv[H.HQ_RATIO] = ratio
    pv[H.HQ_IOC], pv[H.HQ_IOC_TICKS] = float(spec.order == "ioc"), float(spec.ioc_ticks)
    pv[H.HQ_FEE], pv[H.HQ_FEE_BPS] = v["taker_fee"], v["taker_fee_bps"]
    pv[H.HQ_Q0] = v["q0"]
    pv[H.HQ_CSIZE_S] = cs
    f = inv_run.fills
    fi = int(np.searchsorted(f["ts"], t_b, side="right"))
    hi = int(np.searchsorted(hedge.ts, t_b, side="right"))
    si = int(np.searchsorted(inv.ts, t_b, side="right"))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([opts.seed, 1])))
    feed, order = pass_latencies(opts.feed_latency, opts.order_latency, inv, hedge, f["ts"][:fi], hi, si, rng)
    hf, ho, cnt, hacc = hedge_pass(
        hedge.take(slice(0, hi)),
        {k: f[k][:fi] for k in ("ts", "q", "side", "px", "qty", "fee")},
        (inv.ts[:si], inv.mid[:si]),
        pv,
        hw,
        feed,
        order,
        t_a,
    )
    nf, no = int(cnt[H.H_FILLS]), int(cnt[H.H_ORDERS])

    # ---- the window's points, marks and positions
    ts_s, ts_h = inv.ts, hedge.ts
    mid_s, mid_h = _ffill(inv.mid) * cs, _ffill(hedge.mid) * ch  # value per unit, settlement currency
    ins = (ts_s >= t_a) & (ts_s <= t_b)
    inh = (ts_h >= t_a) & (ts_h <= t_b)
    pts = np.unique(np.concatenate(([t_a, t_b], ts_s[ins], ts_h[inh], hf["ts"])))
    S = _prev(ts_s, mid_s, pts)
    Hm = _prev(ts_h, mid_h, pts)
    qv = _prev(ts_s, inv_run.path["q"], pts)
    cash_s = _prev(ts_s, inv_run.path["cash"], pts)
    hsg = hf["side"].astype(float) * hf["qty"]
    j = np.searchsorted(hf["ts"], pts, side="right")
    y = np.concatenate(([0.0], np.cumsum(hsg)))[j]  # after the point's hedge fills
    cash_h = np.concatenate(([0.0], np.cumsum(-(hsg * ch * hf["px"]) - hf["fee"])))[j]
    pnl_leg = cash_s + qv * S  # the inventory leg's PnL (the replay's, marked at the mid)
    pnl_u = pnl_leg - pnl_leg[0]
    pnl_hleg = cash_h + y * Hm  # from 0: no hedge before t_a
    pnl_h = pnl_u + pnl_hleg
    x = qv + y / ratio  # the net delta held after each point
    # the decomposition, summed by the pass in its own order (exact in real arithmetic)
    sf = (f["ts"] > t_a) & (f["ts"] <= t_b)
    spot_flow = float(np.sum(-f["side"][sf] * f["qty"][sf] * cs * f["px"][sf] - f["fee"][sf]))
    # financing: 0 when every rate is 0 (not the cash residual's rounding), else what moves the cash besides
    # the fills (the engine's accrual over the window)
    if v["financing_long"] == 0.0 and v["financing_short"] == 0.0:
        financing = 0.0
    else:
        financing = -(float(cash_s[-1] - cash_s[0]) - spot_flow)
    spot_edge, maker_fees = float(hacc[H.HA_SPOT_EDGE]), float(hacc[H.HA_MAKER_FEES])
    hedge_edge, taker_fees = float(hacc[H.HA_HEDGE_EDGE]), float(hacc[H.HA_TAKER_FEES])
    spot_position, hedge_position = float(hacc[H.HA_SPOT_POS]), float(hacc[H.HA_HEDGE_POS])
    net_delta, basis = float(hacc[H.HA_NET_DELTA]), float(hacc[H.HA_BASIS])

    # ---- risk on the 1 s and 60 s grids
    def grid(step_s: float) -> np.ndarray:
        step = int(round(step_s * NS))
        return t_a + step * np.arange((t_b - t_a) // step + 1, dtype=np.int64)

    # the price PnL: the PnL without the fills' edges and fees (the position PnL alone), whose variance the
    # hedge is there to remove; the edges and fees come in jumps at the fills
    fs = f["ts"][sf]
    m_s = np.where(np.isfinite(f["mid"][sf]), f["mid"][sf], f["px"][sf])
    c_s = np.cumsum(f["side"][sf] * f["qty"][sf] * cs * (m_s - f["px"][sf]) - f["fee"][sf])
    c_h = np.cumsum(hsg * ch * (hf["mid"] - hf["px"]) - hf["fee"])
    cost_s = np.concatenate(([0.0], c_s))[np.searchsorted(fs, pts, side="right")]
    cost_h = np.concatenate(([0.0], c_h))[j]
    price_u = pnl_u - cost_s
    price_h = pnl_h - cost_s - cost_h

    g1, g60 = grid(1.0), grid(60.0)
    risk: dict[str, Any] = {}
    for label, g in (("1s", g1), ("60s", g60)):
        for what, series_u, series_h in (("pnl", pnl_u, pnl_h), ("price_pnl", price_u, price_h)):
            su, su_se, n = _std(_prev(pts, series_u, g))
            sh, sh_se, _ = _std(_prev(pts, series_h, g))
            risk[f"{what}_std_{label}_unhedged"], risk[f"{what}_std_{label}_unhedged_se"] = su, su_se
            risk[f"{what}_std_{label}_hedged"], risk[f"{what}_std_{label}_hedged_se"] = sh, sh_se
            vr = 1.0 - (sh / su) ** 2 if su and sh is not None else None
            risk[f"variance_reduction_{label}" if what == "pnl" else f"price_variance_reduction_{label}"] = vr
        risk[f"increments_{label}"] = n
    risk["max_drawdown_unhedged"] = _max_dd(pnl_u)
    risk["max_drawdown_hedged"] = _max_dd(pnl_h)
    risk["max_abs_q"] = float(np.max(np.abs(qv)))
    risk["max_abs_net_delta"] = float(np.max(np.abs(x)))
    dur = np.diff(pts).astype(float)
    if dur.sum() > 0:
        risk["mean_abs_q"] = float(np.dot(dur, np.abs(qv[:-1])) / dur.sum())
        risk["mean_abs_net_delta"] = float(np.dot(dur, np.abs(x[:-1])) / dur.sum())
    if est is not None:
        hp_ = ratio * ch / cs
        r_ = est.sigma_h / est.sigma_s
        risk["theory_variance_reduction"] = 2.0 * hp_ * est.rho * r_ - hp_ * hp_ * r_ * r_
        risk["theory_rho2"] = est.rho * est.rho
    else:
        risk["theory_variance_reduction"] = risk["theory_rho2"] = None

    total_u = float(pnl_u[-1])
    total_h = float(pnl_h[-1])
    pnl = {
        "hedged": total_h,
        "unhedged": total_u,
        "inventory_leg": total_u,
        "hedge_leg": float(pnl_hleg[-1]),
        "spot_edge": spot_edge,
        "hedge_edge": hedge_edge,
        "maker_fees": maker_fees,
        "taker_fees": taker_fees,
        "financing": financing,
        "spot_position": spot_position,
        "hedge_position": hedge_position,
        "net_delta": net_delta,
        "basis": basis,
    }
    resent = float(hacc[H.HA_RESENT])
    unfilled = float(hacc[H.HA_UNFILLED]) - resent  # each remainder once, however often it was sent again
    hsum = {
        "instrument": mh.instrument,
        "ratio": ratio,
        "ratio_source": "auto" if spec.ratio == "auto" else "given",
        "ratio_min_variance": h_star,
        "ratio_min_variance_se": est.hedge_ratio_se * cs / ch if est is not None else None,
        "ratio_min_variance_se_hc": est.hedge_ratio_se_hc * cs / ch if est is not None else None,
        "order_type": spec.order,
        "ioc_ticks": spec.ioc_ticks,
        "trigger": v["hedge_trigger"],
        "threshold": v["hedge_threshold"],
        "sizing": v["hedge_sizing"],
        "exec": v["hedge_exec"],
        "children": nh,
        "programs": int(cnt[H.H_PROGRAMS]),
        "orders": no,
        "fills": nf,
        "max_levels_walked": int(cnt[H.H_LEVELS_MAX]),
        "volume_sent": float(hacc[H.HA_SENT]) - resent,
        "volume_resent": resent,
        "volume_filled": float(hacc[H.HA_FILLED]),
        "volume_unfilled": unfilled,
        "final_y": float(y[-1]),
        "book": mh.book,
    }
    if unfilled > 0:
        warnings.append(
            f"{unfilled:g} {mh.qty_unit} of hedge orders found no visible liquidity within their limit "
            "(cancelled, each remainder counted once; the hedger sends again once that side of the book has changed)"
        )
    if v["hedge_trigger"] == "none":
        warnings.append(
            "hedge_trigger none: no hedge order is sent, so the hedged figures are the unhedged ones "
            "(allowed triggers that hedge: threshold, urgency)"
        )
    if nf == 0 and inv_run.summary["fills"] > 0 and v["hedge_trigger"] != "none":
        warnings.append("the hedge never traded: the exposure never passed the trigger by half a hedge lot")
    s: dict[str, Any] = {
        "window": {
            "start": _utc(t_a),
            "end": _utc(t_b),
            "start_ns": t_a,
            "end_ns": t_b,
            "duration_s": (t_b - t_a) / NS,
            "points": int(pts.size),
        },
        "pnl": pnl,
        "risk": risk,
        "hedge": hsum,
        "inventory": {
            k: inv_run.summary.get(k)
            for k in ("events", "fills", "maker_volume", "pnl_final", "final_q", "max_abs_q", "kill_reason")
        },
        "basis_estimate": None if est is None else est.as_dict(),
        "settlement_currency": mi.settlement_currency,
        "warnings": [*inv_run.summary.get("warnings", []), *warnings],
    }
    path = {
        "ts": g1,
        "q": _prev(pts, qv, g1),
        "y": _prev(pts, y, g1),
        "x": _prev(pts, x, g1),
        "pnl_unhedged": _prev(pts, pnl_u, g1),
        "pnl_hedged": _prev(pts, pnl_h, g1),
    }
    meta = {"inventory": mi.as_dict(), "hedge": mh.as_dict(), "options": opts.as_dict(), "config": cfg.as_dict()}
    return HedgedRun(inv_run, spec, ratio, jsonable(s), hf, ho, path, meta)


def units(settlement: str, price_unit_h: str, qty_s: str, qty_h: str) -> Mapping[str, str]:
    """Units of the flat summary keys (``group.key``) of a hedged replay."""
    u: dict[str, str] = {f"pnl.{k}": settlement for k in ("hedged", "unhedged")}
    for k in (
        "inventory_leg",
        "hedge_leg",
        "spot_edge",
        "hedge_edge",
        "maker_fees",
        "taker_fees",
        "financing",
        "spot_position",
        "hedge_position",
        "net_delta",
        "basis",
    ):
        u[f"pnl.{k}"] = settlement
    for lab, per in (("1s", "per 1 s"), ("60s", "per 60 s")):
        for side in ("hedged", "unhedged"):
            for what in ("pnl", "price_pnl"):
                u[f"risk.{what}_std_{lab}_{side}"] = f"{settlement} {per}"
                u[f"risk.{what}_std_{lab}_{side}_se"] = f"{settlement} {per}"
        u[f"risk.increments_{lab}"] = "count"
        u[f"risk.variance_reduction_{lab}"] = "fraction"
        u[f"risk.price_variance_reduction_{lab}"] = "fraction"
    u.update(
        {
            "risk.max_drawdown_unhedged": settlement,
            "risk.max_drawdown_hedged": settlement,
            "risk.max_abs_q": qty_s,
            "risk.max_abs_net_delta": qty_s,
            "risk.mean_abs_q": qty_s,
            "risk.mean_abs_net_delta": qty_s,
            "risk.theory_variance_reduction": "fraction",
            "risk.theory_rho2": "fraction",
            "hedge.ratio": f"{qty_h} of H per {qty_s} of S",
            "hedge.ratio_min_variance": f"{qty_h} of H per {qty_s} of S",
            "hedge.ratio_min_variance_se": f"{qty_h} of H per {qty_s} of S",
            "hedge.ratio_min_variance_se_hc": f"{qty_h} of H per {qty_s} of S",
            "hedge.ioc_ticks": "ticks of H (IOC orders)",
            "hedge.threshold": qty_s,
            "hedge.volume_sent": qty_h,
            "hedge.volume_resent": qty_h,
            "hedge.volume_filled": qty_h,
            "hedge.volume_unfilled": qty_h,
            "hedge.final_y": qty_h,
            "window.duration_s": "s",
            "window.start_ns": "ns",
            "window.end_ns": "ns",
            "inventory.pnl_final": settlement,
            "inventory.maker_volume": qty_s,
            "inventory.final_q": qty_s,
            "inventory.max_abs_q": qty_s,
        }
    )
    return u
