"""Replay a policy on real market data: configuration, the run, its summary.

:func:`replay_config` builds the policy's :class:`~flatbook.config.RunConfig`
on the ``replay`` preset (time unit: 1 second), filling in from the data every
parameter the user did not set (:func:`data_defaults`). :func:`run_backtest`
runs the compiled replay (:mod:`flatbook.backtest.engine`; its decisions are
:mod:`flatbook.strategy`'s, the live engine's too) and summarises it
with the simulator's keys where they make sense, plus ``events``, ``fills``,
``maker_volume``, ``pnl_final``, fill markouts, the simulator's PnL attribution
(:func:`flatbook.sim.metrics.attribution`) and ``warnings``; wall-clock fields
sit under ``timing`` (:func:`flatbook.timing.group_timing`).

Money (PnL, cash, fees, financing, markouts, drawdown, VaR, ``max_loss``) is in
the contract's settlement currency (``meta.settlement_currency``): the price
unit for a linear contract, the base asset for an inverse one (Binance COIN-M),
where a fill of n contracts of C USD at price p moves n·C/p of it
(:func:`flatbook.data.events.contract_value`). For an inverse contract
``pnl_final_quote`` and ``pnl_liquidated_quote`` give the PnL's value in the
price currency at the last mid. Prices, spreads and depths stay in price units.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import RunConfig, build_config
from ..controls.kill import KILL_REASONS
from ..controls.quote_controls import pack_controls
from ..data.events import TRADE, EventTable, contract_value
from ..errors import InputError
from ..estimators.ou import inventory_ou
from ..estimators.regime import classifier
from ..estimators.volatility import realized_volatility, sample_previous_tick
from ..jsonutil import jsonable
from ..policies.base import Bound, ladder_loop, ladder_names
from ..policies.registry import policy_spec
from ..sim.metrics import attribution, var_es
from ..timing import group_timing
from . import engine as E
from .ladder import ladder_kernel
from .latency import Latency, measured_options
from .queue_model import user_queue

NS = 1_000_000_000
_NO_DEPTH = np.full((1, 1, 4), np.nan)
_NO_BOOK = (np.zeros((2, 0)), np.zeros(3, np.int64))  # no depth book (engine.depth_book of a touch tape)
_NO_ENTRY = np.zeros(1, np.int64)  # no entry_ts column (read by the L3 queue only)
MARKOUTS_S = (1.0, 10.0, 60.0)
#: A run whose quotes sit, on average, more than this many times the market's spread from the mid gets a warning.
FAR_QUOTES = 10.0
#: Summary keys in the settlement currency (the rest: price units, quantity units, counts, seconds).
MONEY_KEYS = (
    "pnl_final",
    "pnl_liquidated",
    "maker_notional",
    "spread_given_up",
    "financing",
    "fees",
    "max_drawdown",
    "var_95_60s",
    "es_95_60s",
)


@dataclass(frozen=True)
class BacktestOptions:
    """How the replay treats our orders.

    feed_latency / order_latency: :class:`Latency` (ms). queue: ``prorata`` (= ``l2``),
    ``prob``, ``l3`` (see :mod:`flatbook.backtest.engine`), or the name of a user's queue model
    (:mod:`flatbook.backtest.queue_model`) in ``queue_file``, with parameters ``queue_params``
    (or the model itself as ``queue_model``). fill_rule: ``queue`` or ``through``.
    min_requote_ms: minimum time between two requests (ms). refresh_ticks: a side is
    re-sent only when its price moves by at least this many ticks (or its size changes).
    seed: the latency draws and the ``prob`` (or a user model's) queue draws.
    """

    feed_latency: Latency = field(default_factory=lambda: Latency("const", 0.0))
    order_latency: Latency = field(default_factory=lambda: Latency("const", 0.0))
    queue: str = "prorata"
    min_requote_ms: float = 0.0
    refresh_ticks: float = 1.0
    seed: int = 0
    queue_file: str | None = None
    queue_params: Mapping[str, Any] = field(default_factory=dict)
    fill_rule: str = "queue"
    queue_model: Any = field(default=None, compare=False)

    def __post_init__(self):
        if self.fill_rule not in E.FILL_RULES:
            raise InputError("--fill-rule", f"got {self.fill_rule!r}; allowed: {', '.join(E.FILL_RULES)}")
        object.__setattr__(self, "queue_params", dict(self.queue_params or {}))
        object.__setattr__(self, "_bound", None)
        if self.queue_model is not None or self.queue_file is not None or self.queue not in E.QUEUE_MODELS:
            # with a file, the default name picks the file's only model
            name = None if self.queue_file is not None and self.queue == "prorata" else self.queue
            bound = user_queue(name, self.queue_file, self.queue_params, self.queue_model)
            object.__setattr__(self, "_bound", bound)
            object.__setattr__(self, "queue", bound.stage.name)
        elif self.queue_params:
            raise InputError(
                "--queue-set", f"the built-in queue {self.queue!r} has no parameters; a model of --queue-file has"
            )
        for name, val, hi in (
            ("--min-requote-ms", self.min_requote_ms, 3_600_000.0),
            ("--refresh-ticks", self.refresh_ticks, 1e6),
        ):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and 0.0 <= val <= hi):
                raise InputError(name, f"got {val!r}; allowed: a number from 0 to {hi:g}")

    def __getstate__(self) -> dict:
        """Pickled (e.g. to a Dask worker) without the compiled model: a model from a file is loaded again from
        the file on the other side (:meth:`__setstate__`); a model object given in Python does not pickle."""
        d = dict(self.__dict__)
        if self.queue_model is None:
            d["_bound"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        for k, v in d.items():
            object.__setattr__(self, k, v)
        if self.queue_file is not None and self.queue_model is None:
            object.__setattr__(self, "_bound", user_queue(self.queue, self.queue_file, self.queue_params))

    @property
    def bound_queue(self):
        """The user's bound queue model (:class:`~flatbook.market.stage.BoundStage`), or None for a built-in."""
        return self._bound  # type: ignore[attr-defined]

    def as_dict(self) -> dict:
        d = {
            "feed_latency": self.feed_latency.describe(),
            "order_latency": self.order_latency.describe(),
            "queue": self.queue,
            "min_requote_ms": self.min_requote_ms,
            "refresh_ticks": self.refresh_ticks,
            "seed": self.seed,
        }
        if self.bound_queue is not None:
            d["queue_model"] = self.bound_queue.describe()
        if self.fill_rule != "queue":
            d["fill_rule"] = self.fill_rule
        return d


def _median_half_spread(ev: EventTable) -> float:
    s = ev.ask_px - ev.bid_px
    s = s[np.isfinite(s) & (s > 0)]
    return float(np.median(s)) / 2.0 if s.size else math.nan


def data_defaults(ev: EventTable, policy: str, user: set[str] | frozenset[str] = frozenset()) -> dict:
    """Parameter values taken from the data, for every key the user did not set.

    Time unit 1 s. T: the data's span rounded up to whole seconds; s0: the first mid; tick: the data's
    tick; size: 100 lots of the instrument's lot size; half_spread: the median
    market half-spread (at least a tick); skew = half_spread/(10·size) (ten
    clips of inventory shift the centre by a half-spread); stoll_gamma = skew/2
    (same centre shade); limit = 20·size. For avellaneda-stoikov and glft:
    sigma (price units per √s, realised on a 1 s grid), A (per s) and k (per
    price unit) from :mod:`flatbook.estimators`, and gamma such that one clip
    moves the reservation price by one half-spread at the start,
    γ = half_spread / (σ²·T·size).
    """
    if len(ev) < 2:
        raise InputError("data", "fewer than 2 events: nothing to replay")
    out: dict[str, float] = {}
    span = (int(ev.ts[-1]) - int(ev.ts[0])) / NS
    mid = ev.mid
    first = mid[np.isfinite(mid)]
    if not first.size:
        raise InputError("data", "no two-sided quote in the data: cannot form a mid")
    tick = float(ev.meta.tick_size) if math.isfinite(ev.meta.tick_size) and ev.meta.tick_size > 0 else 0.0
    lot = float(ev.meta.lot_size) if math.isfinite(ev.meta.lot_size) and ev.meta.lot_size > 0 else 1.0
    h = max(_median_half_spread(ev), tick)
    size = 100.0 * lot
    cand = {
        "T": float(max(math.ceil(span), 1)),
        "s0": float(first[0]),
        "tick": tick,
        "size": size,
        "half_spread": h,
        "skew": h / (10.0 * size),
        "stoll_gamma": h / (20.0 * size),
        "limit": 20.0 * size,
    }
    if policy in ("avellaneda-stoikov", "glft"):
        cand.update(_model_defaults(ev, user, h, size, cand["T"]))
    for k, v in cand.items():
        if k not in user:
            out[k] = v
    return out


def _model_defaults(ev: EventTable, user, h: float, size: float, T: float) -> dict:
    out: dict[str, float] = {}
    if "sigma" not in user:
        vol = realized_volatility(ev, grid_s=1.0)
        if not vol.ok:
            raise InputError("sigma", f"cannot estimate it from the data ({vol.reason}); set it with --set sigma=…")
        out["sigma"] = vol.sigma
    if "A" not in user or "k" not in user:
        # lazy: start-up (the intensity fit pulls in scipy, which a replay does not otherwise need)
        from ..estimators.intensity import fit_intensity

        fit = fit_intensity(ev, time_unit_s=1.0)
        pooled = fit.quoting  # the law fitted near the touch, where our quotes sit (else the pooled one)
        if not pooled.ok:
            raise InputError(
                "A",
                f"cannot fit λ(δ) = A·e^(−kδ) from the data ({pooled.reason}); set A and k with --set A=… --set k=…",
            )
        out["A"], out["k"] = pooled.A, pooled.k
    sig = out.get("sigma")
    if "gamma" not in user and sig and sig > 0:
        out["gamma"] = h / (sig * sig * T * size)
    return out


def replay_config(
    ev: EventTable, policy: str, overrides: Mapping[str, object] | None = None, seed: int = 0
) -> RunConfig:
    """The policy's validated config for replaying ``ev`` (preset ``replay``)."""
    policy_spec(policy)
    overrides = dict(overrides or {})
    derived = data_defaults(ev, policy, set(overrides))
    return build_config("replay", policy, {**derived, **overrides}, paths=1, seed=seed)


@dataclass(frozen=True)
class BacktestResult:
    """A replay: its config, options, summary, fills and inventory path (arrays).

    ``fills``: ts (ns), side (+1 we bought), px (price units), qty, q after the fill, fee
    (settlement currency), mid (the mid before the fill, price units) and ``markout_<h>s``
    (settlement currency per unit). ``path``: per event ts, mid, our bid/ask (NaN: no quote),
    q, cash and pnl (settlement currency). ``requests``: the strategy's order requests in the order
    sent: ts (the decision, ns), arrival (at the exchange, ns), side (+1 bid), px (price units; 0 for
    a cancel) and size (lots; 0 = cancel, before the limit's cut at arrival).
    """

    config: RunConfig
    options: BacktestOptions
    summary: dict
    fills: dict[str, np.ndarray]
    path: dict[str, np.ndarray]
    meta: dict
    requests: dict[str, np.ndarray] = field(default_factory=dict)


def replay_grid(cfg: RunConfig, ev: EventTable) -> tuple[float, float]:
    """The replay's price tick (the config's, else the data's, else 1e-8) and lot (the data's, else 1e-12)."""
    v = cfg.values
    tick = v["tick"] if v["tick"] > 0 else (ev.meta.tick_size if ev.meta.tick_size > 0 else 1e-8)
    lot = ev.meta.lot_size if math.isfinite(ev.meta.lot_size) and ev.meta.lot_size > 0 else 1e-12
    return float(tick), float(lot)


def _pack(cfg: RunConfig, ev: EventTable, opts: BacktestOptions):
    v = cfg.values
    b = policy_spec(cfg.policy).bind(v, cfg.steps)
    cp = pack_controls(v)
    tick, lot = replay_grid(cfg, ev)
    bp = np.zeros(E.BP_LEN)
    bp[E.BP_T0] = float(ev.ts[0])
    bp[E.BP_UNIT_NS] = float(NS)
    bp[E.BP_T], bp[E.BP_DT], bp[E.BP_NSTEPS] = v["T"], v["dt"], cfg.steps
    bp[E.BP_FIN_L], bp[E.BP_FIN_S] = v["financing_long"], v["financing_short"]
    bp[E.BP_FEE], bp[E.BP_FEE_BPS] = v["maker_fee"], v["maker_fee_bps"]
    bp[E.BP_MAX_LOSS], bp[E.BP_MAX_DD] = v["max_loss"], v["max_drawdown"]
    bp[E.BP_TICK] = tick
    bp[E.BP_LOT] = lot
    bp[E.BP_MIN_REQUOTE_NS] = opts.min_requote_ms * 1e6
    bp[E.BP_REFRESH] = opts.refresh_ticks * (1.0 - 1e-9)  # ticks
    bp[E.BP_QUEUE] = E.QUEUE_USER if opts.bound_queue is not None else E.QUEUE_CODES[opts.queue]
    bp[E.BP_FILL_RULE] = E.FILL_RULES.index(opts.fill_rule)
    bp[E.BP_SEED] = opts.seed % (2**31)
    # quotes that move with time alone, as the policy declares (finite-horizon A–S, exact GLFT, …)
    bp[E.BP_TIMED] = float(b.moves_with_time)
    bp[E.BP_INVERSE] = float(ev.meta.inverse)
    bp[E.BP_CSIZE] = ev.meta.contract_size
    # a (t, q, regime) table: the regime is estimated online from the mids (flatbook.estimators.regime)
    on, bp[E.BP_REG_INV_TAU], bp[E.BP_REG_SIG2] = classifier(b.regime)
    bp[E.BP_REG_ON] = float(on)
    return b, cp, bp


def _replay(ev: EventTable, b, cp, bp, q0, feed, order, progress: Callable[[int, int], None] | None = None, queue=None):
    n = len(ev)
    # level-1 data: one NaN level stands for every event (only levels 1.. of an event are read, and there are none)
    depth = ev.depth if ev.depth is not None else _NO_DEPTH
    # a full-depth tape (LEVEL/CLEAR rows): the dense book behind the touch, per tick (engine.depth_book)
    try:
        book, bst = E.depth_book(ev.kind, ev.px, float(bp[E.BP_TICK])) if ev.meta.book == "depth" else _NO_BOOK
    except ValueError as exc:
        raise InputError("data", str(exc)) from None
    entry = ev.entry_ts if ev.entry_ts is not None else _NO_ENTRY
    bp = bp.copy()
    bp[E.BP_Q0] = q0
    prm = E.Params(b.pp, b.tab, cp, bp)
    # the replay's copy with a depth book and the L3 queue when the run needs them (engine.replay_copy)
    deep = book.shape[1] > 0 or int(bp[E.BP_QUEUE]) == E.QUEUE_L3
    cols = (ev.ts, ev.kind, ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz, ev.px, ev.qty, ev.side, depth, feed, order)
    if getattr(b.policy, "levels", 1) > 1:  # a ladder: every level its own order (backtest.ladder)
        return _replay_ladder(b, E.Tape(*cols, ev.code, entry, book, bst), prm, n, progress)
    replay = E.kernels(b.policy, queue, deep=deep).replay
    out = _out(n, 2 * n + 2)  # the most fills and requests a run can have
    nf = _run(replay, E.Tape(*cols, ev.code, entry, book.copy(), bst.copy()), prm, out, n, progress)
    path = {"q": out.path_q, "cash": out.path_cash, "bid": out.path_bid, "ask": out.path_ask}
    fills = {k: getattr(out, "f_" + k)[:nf].copy() for k in ("ts", "side", "px", "qty", "q", "fee", "mid")}
    nr = int(out.cnt[E.C_REQUESTS])
    tick = float(bp[E.BP_TICK])
    inv_tick = float(E.inverse_tick(tick))
    p_t = out.r_p[:nr].astype(float)
    requests = {
        "ts": out.r_t[:nr].copy(),
        "arrival": out.r_ts[:nr].copy(),
        "side": np.where(out.r_side[:nr] == 0, 1, -1).astype(np.int8),
        "px": p_t / inv_tick if inv_tick > 0.0 else p_t * tick,  # tick_price, element-wise
        "size": out.r_sz[:nr].copy(),
    }
    return path, fills, requests, out.cnt, out.acc


def _replay_ladder(b, tape: E.Tape, prm: E.Params, n: int, progress):
    """:func:`_replay` for a ladder policy (:mod:`flatbook.backtest.ladder`): the fills and requests carry their
    ``level`` (1 nearest the mid). Rows for 2n + 2 fills and requests first, four times more while they run out
    (a rerun gives the same numbers: the kernel seeds itself)."""
    run = ladder_kernel(b.policy)
    cap = 2 * n + 2
    while True:
        out = _out(n, cap)
        r_lvl, f_lvl = np.zeros(cap, np.int64), np.zeros(cap, np.int64)
        t = tape._replace(book=tape.book.copy(), bst=tape.bst.copy())
        nf = _run(lambda tp, pm, o: run(tp, pm, o, r_lvl, f_lvl), t, prm, out, n, progress)
        if nf >= 0:
            break
        cap *= 4
    path = {"q": out.path_q, "cash": out.path_cash, "bid": out.path_bid, "ask": out.path_ask}
    fills = {k: getattr(out, "f_" + k)[:nf].copy() for k in ("ts", "side", "px", "qty", "q", "fee", "mid")}
    fills["level"] = f_lvl[:nf] + 1
    nr = int(out.cnt[E.C_REQUESTS])
    tick = float(prm.bp[E.BP_TICK])
    inv_tick = float(E.inverse_tick(tick))
    p_t = out.r_p[:nr].astype(float)
    requests = {
        "ts": out.r_t[:nr].copy(),
        "arrival": out.r_ts[:nr].copy(),
        "side": np.where(out.r_side[:nr] == 0, 1, -1).astype(np.int8),
        "level": r_lvl[:nr] + 1,
        "px": p_t / inv_tick if inv_tick > 0.0 else p_t * tick,
        "size": out.r_sz[:nr].copy(),
    }
    return path, fills, requests, out.cnt, out.acc


def check_ladder(cfg: RunConfig, b: Bound, opts: BacktestOptions) -> None:
    """Refuse, at configuration, a ladder (``levels`` > 1) the replay cannot run as written: a user's queue model
    (``--queue-file``: one level per side today), or a side whose level sizes at q = q0 (t = 0, s = s0) add up to
    more than the hard limit, so its outer levels could never rest (the probe has already refused levels that
    cross: depths decreasing outwards). One line each, naming the field."""
    pol = b.policy
    L = int(getattr(pol, "levels", 1))
    if L <= 1:
        return
    if opts.bound_queue is not None:
        raise InputError("--queue-file", f"a user's queue model runs one level per side; policy {pol.name} quotes {L}")
    v = cfg.values
    one = np.ones(1)
    out = np.empty((4 * L, 1))
    ladder_loop(pol)(b.pp, b.tab, np.zeros(1, np.int64), 0.0 * one, v["T"] * one, v["s0"] * one, v["q0"] * one, out)
    limit = float(v["limit"])
    names = ladder_names(L)
    for side, rows, room in (
        ("bid", slice(2 * L, 3 * L), limit - v["q0"]),
        ("ask", slice(3 * L, 4 * L), limit + v["q0"]),
    ):
        total = float(out[rows, 0].sum())
        if total > room + 1e-9:
            first, last = names[rows][0], names[rows][-1]
            raise InputError(
                "limit",
                f"policy {pol.name}'s {side} sizes {first}..{last} add up to {total:g} lots at q={v['q0']:g}, more "
                f"than the {room:g} lots the hard limit {limit:g} leaves; allowed: sizes adding up to at most the "
                "limit (raise it with --set limit=… or make the levels smaller)",
            )


def _out(n: int, cap: int) -> E.Out:
    """The replay's outputs for n events, with ``cap`` rows of fills and of requests."""
    out = E.Out(
        path_q=np.empty(n),
        path_cash=np.empty(n),
        path_bid=np.empty(n),
        path_ask=np.empty(n),
        f_ts=np.empty(cap, np.int64),
        f_side=np.empty(cap, np.int8),
        f_px=np.empty(cap),
        f_qty=np.empty(cap),
        f_q=np.empty(cap),
        f_fee=np.empty(cap),
        f_mid=np.empty(cap),
        r_t=np.empty(cap, np.int64),
        r_ts=np.empty(cap, np.int64),
        r_side=np.empty(cap, np.int64),
        r_p=np.empty(cap, np.int64),
        r_sz=np.empty(cap),
        cnt=np.zeros(E.C_LEN, np.int64),
        acc=np.zeros(E.A_LEN),
    )
    out.cnt[E.C_KILL_TS] = -1
    return out


def _run(replay, tape: E.Tape, prm: E.Params, out: E.Out, n: int, progress) -> int:
    """One run of the replay kernel (in a worker thread, with ``progress`` polled, when it is given)."""
    if progress is None:
        return replay(tape, prm, out)
    got = _in_thread(lambda: replay(tape, prm, out), lambda: progress(int(out.cnt[E.C_EVENT]), n))
    progress(n, n)
    return got


def _in_thread(work: Callable[[], Any], poll: Callable[[], None], every_s: float = 0.1) -> Any:
    """Run ``work`` (a kernel that releases the GIL) in a thread, calling ``poll`` every ``every_s``."""
    box: dict = {}

    def target():
        try:
            box["out"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            box["exc"] = exc

    th = threading.Thread(target=target, name="flatbook-replay", daemon=True)
    th.start()
    while th.is_alive():
        th.join(every_s)
        poll()
    if "exc" in box:
        raise box["exc"]
    return box["out"]


def warm_up(bound: Bound | None = None, deep: bool = False) -> None:
    """Compile (or load from numba's cache) the replay kernel of a bound policy (default: symmetric) on a
    two-event tape; with ``deep``, also its copy for a full-depth book and the L3 queue (``make install``)."""
    from ..data.events import ENTRY_NONE, EventMeta, empty_columns

    cols = empty_columns(2)
    cols["ts"][:] = [0, NS]
    cols["bid_px"][:], cols["ask_px"][:], cols["bid_sz"][:], cols["ask_sz"][:] = 99.0, 101.0, 1.0, 1.0
    ev = EventTable(**cols, meta=EventMeta("warm-up", "none", 1.0, 1.0))
    cfg = build_config("replay", "symmetric", {"T": 2.0, "s0": 100.0, "tick": 1.0}, paths=1)
    b, cp, bp = _pack(cfg, ev, BacktestOptions())
    z = np.zeros(2, np.int64)
    _replay(ev, b if bound is None else bound, cp, bp, 0.0, z, z)
    if not deep:
        return
    # and the copy with the full-depth book and the L3 queue (engine.replay_copy), so that the first
    # --book depth or --queue l3 run loads it too (one compile serves every policy: the depths loop is a cfunc)
    l3 = EventTable(**cols, meta=ev.meta, entry_ts=np.full(2, ENTRY_NONE, np.int64))
    b, cp, bp = _pack(cfg, l3, BacktestOptions(queue="l3"))
    _replay(l3, b if bound is None else bound, cp, bp, 0.0, z, z)


def check_sizes(cfg: RunConfig, ev: EventTable) -> None:
    """Refuse a quote size that rounds down to 0 lots (every order would be empty, silently).

    Names ``size``, the lot and, when the lot was inferred from the data's sizes, how to set it.
    """
    _, lot = replay_grid(cfg, ev)
    size = float(cfg.values["size"])
    if math.floor(size / lot + 1e-9) >= 1:
        return
    unit = ev.meta.qty_unit
    msg = (
        f"{size:g} {unit} is below the lot of {lot:g} {unit}: every order would round down to 0 lots; "
        f"allowed: at least one lot ({lot:g})"
    )
    if ev.meta.lot_inferred:
        msg += (
            f"; the lot {lot:g} was inferred from the data (the smallest step between its sizes): "
            "if that is wrong, set the lot with --lot-size (EventTable.with_meta(lot_size=…) in Python)"
        )
    raise InputError("size", msg)


def run_backtest(
    ev: EventTable,
    cfg: RunConfig,
    opts: BacktestOptions | None = None,
    markouts_s: Sequence[float] = MARKOUTS_S,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay ``cfg``'s policy and controls on ``ev``; see :mod:`flatbook.backtest.engine`.

    ``progress(done, total)``: called about every 0.1 s with the events replayed so far (the
    replay then runs in a worker thread; the numbers are the same either way).
    """
    opts = opts or BacktestOptions()
    n = len(ev)
    if n < 2:
        raise InputError("data", "fewer than 2 events: nothing to replay")
    check_sizes(cfg, ev)
    if opts.queue == "l3" and opts.bound_queue is None and ev.entry_ts is None:
        raise InputError(
            "--queue",
            "l3 needs each order's entry time (the entry_ts column of a LOBSTER message file); this data has "
            "none; allowed here: prorata, l2, prob or a model of --queue-file",
        )
    b, cp, bp = _pack(cfg, ev, opts)
    check_ladder(cfg, b, opts)
    rng = np.random.Generator(np.random.PCG64(opts.seed))
    feed = opts.feed_latency.draw_events_ns(ev, rng, "feed")  # draw_ns(n, rng) unless "measured"
    order = opts.order_latency.draw_events_ns(ev, rng, "order")
    warm_up(b)
    t0 = time.perf_counter()
    path, fills, requests, cnt, acc = _replay(
        ev, b, cp, bp, float(cfg.values["q0"]), feed, order, progress, opts.bound_queue
    )
    elapsed = time.perf_counter() - t0
    del feed, order  # 16 B per event, not needed by the summary (whose temporaries set the run's peak memory)
    m = ev.meta
    mid = ev.mid
    path["ts"] = ev.ts
    path["mid"] = mid
    pnl = contract_value(mid, m.contract, m.contract_size)  # a new array: cash + q·v(mid), in place
    pnl *= path["q"]
    pnl += path["cash"]
    path["pnl"] = pnl
    mid_ff = _ffill(mid)
    for h in markouts_s:
        fills[f"markout_{h:g}s"] = _markout(ev, mid_ff, fills, h)
    summary = _summary(ev, cfg, path, fills, cnt, acc, elapsed, markouts_s, mid_ff)
    if "level" in fills:  # a ladder: fills per level of the ladder (1 nearest the mid), counts and lots
        lv = np.arange(1, int(getattr(b.policy, "levels", 1)) + 1)
        summary["fills_by_level"] = {str(k): int(np.count_nonzero(fills["level"] == k)) for k in lv}
        summary["volume_by_level"] = {str(k): float(fills["qty"][fills["level"] == k].sum()) for k in lv}
    meta = {"data": m.as_dict(), "options": opts.as_dict(), "config": cfg.as_dict()}
    meta["options"].update(measured_options(ev, opts.feed_latency, opts.order_latency))  # the fit used, if any
    return BacktestResult(cfg, opts, summary, fills, path, meta, requests)


def _ffill(x: np.ndarray) -> np.ndarray:
    """``x`` with each NaN replaced by the last finite value before it (leading NaNs stay)."""
    ok = np.isfinite(x)
    idx = np.arange(x.size)
    idx[~ok] = 0
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    del idx
    first = int(np.argmax(ok)) if ok.any() else x.size  # the leading non-finite values stay NaN
    out[:first] = np.nan
    return out


def _mid_at(ev: EventTable, mid_ff: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The mid at times ``t`` (ns): the last one at or before t (previous tick)."""
    idx = np.searchsorted(ev.ts, t, side="right") - 1
    return mid_ff[np.clip(idx, 0, len(ev.ts) - 1)]


def _markout(ev: EventTable, mid_ff: np.ndarray, fills: dict, h_s: float) -> np.ndarray:
    """Per fill: side·(v(mid at t + h) − v(fill price)), settlement currency per unit (price
    units per unit for a linear contract; v: :func:`~flatbook.data.events.contract_value`);
    NaN past the data's end. The mid at t + h is the last one at or before t + h (previous tick).
    """
    m = ev.meta
    t = fills["ts"] + np.int64(round(h_s * NS))
    v = contract_value(_mid_at(ev, mid_ff, t), m.contract, m.contract_size)
    out = fills["side"] * (v - contract_value(fills["px"], m.contract, m.contract_size))
    out[t > ev.ts[-1]] = np.nan
    return out


def _adverse(ev: EventTable, mid_ff: np.ndarray, fills: dict, h_s: float) -> float:
    """Adverse selection over h seconds, the simulator's definition: Σ side·qty·(v(mid(t + h)) −
    v(mid(t))), t a fill's time and mid(t) the mid before it; the horizon is cut at the data's end.
    Settlement currency."""
    m = ev.meta
    t = np.minimum(fills["ts"] + np.int64(round(h_s * NS)), ev.ts[-1])
    v1 = contract_value(_mid_at(ev, mid_ff, t), m.contract, m.contract_size)
    v0 = contract_value(fills["mid"], m.contract, m.contract_size)
    return float(np.sum(fills["side"] * fills["qty"] * (v1 - v0)))


def _fill_levels(ev: EventTable, fills: dict) -> dict:
    """Where in the book our fills were: each fill's distance in ticks from its side's best price just before
    its time, d = (best bid − price)/tick for a buy, (price − best ask)/tick for a sell: < 0 inside the spread
    (we were the touch), 0 at the touch, > 0 behind it (a deeper level, which only a full-depth book or a
    multi-level file queues for). Counts of fills, and the deepest level filled (ticks)."""
    n = fills["qty"].size
    if n == 0 or len(ev) == 0:
        return {"fills_inside_spread": 0, "fills_at_touch": 0, "fills_behind_touch": 0, "fill_depth_max_ticks": None}
    i = np.maximum(np.searchsorted(ev.ts, fills["ts"], "left") - 1, 0)  # the last row before the fill's time
    buy = fills["side"] > 0
    best = np.where(buy, ev.bid_px[i], ev.ask_px[i])
    d = np.round(np.where(buy, best - fills["px"], fills["px"] - best) / ev.meta.tick_size)
    ok = np.isfinite(d)
    return {
        "fills_inside_spread": int(np.count_nonzero(ok & (d < 0))),
        "fills_at_touch": int(np.count_nonzero(ok & (d == 0))),
        "fills_behind_touch": int(np.count_nonzero(ok & (d > 0))),
        "fill_depth_max_ticks": float(d[ok].max()) if ok.any() else None,
    }


def _summary(ev, cfg, path, fills, cnt, acc, elapsed, markouts_s, mid_ff) -> dict:
    m = ev.meta
    ts, q = ev.ts, path["q"]
    dur = np.diff(ts).astype(float)  # time each state lasted (ns)
    w = dur / dur.sum() if dur.sum() > 0 else np.full(dur.size, 1.0 / max(dur.size, 1))
    # numpy's pairwise sums, not np.dot: BLAS's summation order depends on its thread count (Dask workers: 1)
    qm = float(np.sum(w * q[:-1])) if dur.size else float(q[-1])
    qsd = float(math.sqrt(max(np.sum(w * (q[:-1] - qm) ** 2), 0.0))) if dur.size else 0.0
    pnl = path["pnl"]
    fin_idx = np.flatnonzero(np.isfinite(pnl))
    pnl_final = float(pnl[fin_idx[-1]]) if fin_idx.size else None
    ou = inventory_ou(ts, q, grid_s=1.0, time_unit_s=1.0)  # on a 1 s grid, the replay's time unit
    p60 = sample_previous_tick(ts, np.nan_to_num(pnl, nan=0.0), 60.0)
    var, es = var_es(np.diff(p60)) if p60.size > 2 else (None, None)
    buy = fills["side"] > 0
    total = acc[E.A_TIME] if acc[E.A_TIME] > 0 else 1.0
    v = cfg.values
    liq = None
    if pnl_final is not None and q[-1] != 0.0:
        touch = ev.bid_px[-1] if q[-1] > 0 else ev.ask_px[-1]
        tv = float(contract_value(touch, m.contract, m.contract_size))
        fee = v["taker_fee"] * abs(q[-1]) + v["taker_fee_bps"] * 1e-4 * abs(tv) * abs(q[-1])
        liq = float(path["cash"][-1] + q[-1] * tv - fee)
    elif pnl_final is not None:
        liq = pnl_final
    # while we quote: the mean distance of our quotes from the mid, and the market's spread
    dist = acc[E.A_QUOTE_DIST] / acc[E.A_QUOTE_T] if acc[E.A_QUOTE_T] > 0 else None
    mkt = 2.0 * acc[E.A_MKT_HALF] / acc[E.A_QUOTE_T] if acc[E.A_QUOTE_T] > 0 else None
    s = {
        "events": len(ev),
        "trades_in_data": int(np.count_nonzero(ev.kind == TRADE)),
        "duration_s": (int(ts[-1]) - int(ts[0])) / NS,
        "elapsed_s": elapsed,
        "events_per_s": len(ev) / elapsed if elapsed > 0 else None,
        "contract": m.contract,
        "contract_size": m.contract_size,
        "settlement_currency": m.settlement_currency,
        "fills": int(fills["qty"].size),
        "buy_fills": int(np.count_nonzero(buy)),
        "sell_fills": int(np.count_nonzero(~buy)),
        **_fill_levels(ev, fills),
        "maker_volume": float(fills["qty"].sum()),
        "maker_notional": float(
            (fills["qty"] * np.abs(contract_value(fills["px"], m.contract, m.contract_size))).sum()
        ),
        "requests": int(cnt[E.C_REQUESTS]),
        "rejected_post_only": int(cnt[E.C_REJECTED]),
        "pnl_final": pnl_final,
        "pnl_liquidated": liq,
        "final_q": float(q[-1]),
        "q_mean": qm,
        "q_std": qsd,
        "max_abs_q": float(np.max(np.abs(q))),
        "time_at_limit_frac": acc[E.A_AT_LIMIT] / total if math.isfinite(v["limit"]) else 0.0,
        "time_in_yellow_frac": acc[E.A_Z1] / total,
        "time_in_red_frac": acc[E.A_Z2] / total,
        "time_in_critical_frac": acc[E.A_Z3] / total,
        "hedge_requests": int(cnt[E.C_HEDGE_REQ]),
        "spread_mean": acc[E.A_SPREAD_SUM] / acc[E.A_SPREAD_T] if acc[E.A_SPREAD_T] > 0 else None,
        "quote_depth_mean": dist,
        "market_spread_mean": mkt,
        "spread_given_up": float(acc[E.A_GIVEN_UP]),
        "financing": float(acc[E.A_FIN]),
        "fees": float(acc[E.A_FEES]),
        "max_drawdown": float(acc[E.A_MAX_DD]),
        "kill_time_s": (int(cnt[E.C_KILL_TS]) - int(ts[0])) / NS if cnt[E.C_KILL_TS] >= 0 else None,
        "kill_reason": (None, *KILL_REASONS[1:])[int(cnt[E.C_KILL_REASON])],
        "var_95_60s": var,
        "es_95_60s": es,
        "ou_kappa": ou["kappa"],
        "ou_t": ou["t_stat"],
        "half_life": ou["half_life"],
    }
    if m.inverse:
        last = mid_ff[-1]
        s["pnl_final_quote"] = pnl_final * last if pnl_final is not None else None
        s["pnl_liquidated_quote"] = liq * last if liq is not None else None
    for h in markouts_s:
        mk = fills[f"markout_{h:g}s"]
        ok = np.isfinite(mk)
        s[f"markout_{h:g}s"] = float(np.average(mk[ok], weights=fills["qty"][ok])) if ok.any() else None
    s.update(_attribution(ev, cfg, fills, acc, pnl_final, mid_ff, markouts_s))
    s["warnings"] = _warnings(ev, cfg, s)
    return group_timing({k: jsonable(x) for k, x in s.items()})


def _attribution(ev, cfg, fills, acc, pnl_final, mid_ff, markouts_s) -> dict:
    """The simulator's PnL split (:func:`flatbook.sim.metrics.attribution`), settlement currency:
    spread capture against the mid before each fill, adverse selection over ``markout_steps``·dt
    seconds (1 s by default), financing, fees, and inventory as the rest; ``pnl_adverse_by_horizon``
    gives the adverse part at every markout horizon."""
    if pnl_final is None:
        return {}
    h = float(cfg.values["markout_steps"]) * float(cfg.values["dt"])
    parts = attribution(
        {
            "pnl": np.float64(pnl_final),
            "spread_capture": np.float64(acc[E.A_SPREAD_CAP]),
            "adverse": np.float64(_adverse(ev, mid_ff, fills, h)),
            "financing": np.float64(acc[E.A_FIN]),
            "fees": np.float64(acc[E.A_FEES]),
        }
    )
    out: dict[str, Any] = {k: float(x) + 0.0 for k, x in parts.items()}  # + 0.0: no "-0" for an empty part
    out["pnl_adverse_horizon_s"] = h
    out["pnl_adverse_by_horizon"] = {f"{hh:g}s": _adverse(ev, mid_ff, fills, hh) for hh in markouts_s}
    return out


def _warnings(ev, cfg, s: dict) -> list[str]:
    """Why a run that looks fine may say little: 0 fills, or quotes on average more than
    ``FAR_QUOTES`` times the market's own spread from the mid (and, for the finite-horizon
    A–S, that its horizon is the whole tape)."""
    out = []
    pu = ev.meta.price_unit
    dist, mkt = s["quote_depth_mean"], s["market_spread_mean"]
    ratio = dist / mkt if dist is not None and mkt else None
    far = ratio is not None and ratio > FAR_QUOTES
    where = (
        (
            f"quotes sat on average {dist:,.6g} {pu} from the mid, {ratio:,.0f}× the market's own spread "
            f"({mkt:,.6g} {pu}; more than {FAR_QUOTES:g}×)"
        )
        if far
        else ""
    )
    v = cfg.values
    if s["fills"] == 0:
        if s["requests"] == 0:
            why = "the strategy sent no order (every decision quoted no size)"
        elif s["rejected_post_only"] == s["requests"]:
            why = "every order was rejected as crossing the book (post-only)"
        elif far:
            why = where
        else:
            why = "no trade reached our prices through the queue ahead"
        out.append(f"0 fills in {s['events']:,} events: {why}")
    elif far:
        out.append(f"{where}: few trades reach them, so the result says little about quoting in this market")
    spec = policy_spec(cfg.policy)
    if (s["fills"] == 0 or far) and spec.timed(v):  # quotes that move with time over the horizon T
        if "variant" in spec.params and v["variant"] == "finite":
            out.append(
                f"{cfg.policy} variant=finite quotes for a horizon of T = {v['T']:g} s (the whole tape "
                "unless set), so its spread is widest far from the end; for a replay use --set "
                "variant=stationary --set horizon=H (a rolling horizon in s), or a shorter T"
            )
        else:
            out.append(
                f"{cfg.policy} quotes move with time over a horizon of T = {v['T']:g} s (the whole tape "
                "unless set); a shorter T may fit a replay better"
            )
    return out
