"""Real exchanges through ccxt: :class:`CcxtVenue` (orders, fills) and :class:`CcxtFeed` (market data).

Both wrap a ccxt *async* exchange object (``ccxt.async_support`` or ``ccxt.pro``;
the websocket ``watch_*`` methods are used when the object has them, REST
polling otherwise).

Units: prices in the quote currency, amounts (sizes, fill quantities) in ccxt's
units (base units for spot, contracts for derivatives: the engine's lots), fees
in the market's settlement currency (the quote currency for spot and linear
contracts, the base asset for inverse ones), times int64 ns since the Unix epoch
(exchange time where the exchange gives one). :func:`contract_of_market` reads a
market's contract (ccxt's ``inverse``, ``contractSize`` and ``settle`` fields)
for the engine's PnL (:meth:`flatbook.live.engine.Engine.set_contract`).

Status: built and unit-tested against ccxt's own exchange classes with their HTTP
layer replaced by recorded responses; it has not been exercised against a live
exchange (this project's CI has no network).
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import numpy as np

from ...errors import InputError
from ...extras import require
from ..types import BUY, QUOTE, SELL, TRADE, Fill, MarketEvent, OrderRequest, OrderUpdate
from .base import FillListener, UpdateListener

try:  # ccxt is an optional dependency of the live engine
    import ccxt
    import ccxt.async_support as ccxt_async
except ImportError:  # pragma: no cover - exercised only without ccxt
    ccxt = ccxt_async = None

log = logging.getLogger(__name__)

CLOCK_MARGIN_MS = 5_000
"""Fill polling starts this far before ``start()`` (local vs exchange clock skew)."""

MAX_LOOKBACK_MS = 3_600_000
"""Fill polling never asks for more than the last hour (some venues read ``since`` as the
start of a bounded window, so a stale cursor would never reach new fills; a longer gap
is what :meth:`CcxtVenue.fills_since` reconciliation is for)."""

_CID_KEYS = ("clientOrderId", "clOrdId", "clientOid", "client_order_id", "newClientOrderId", "origClientOrderId")
_SEEN_CAP = 100_000


def _need_ccxt() -> None:
    if ccxt is None:
        require("live", "ccxt", field="exchange_id")


def _retryable():
    """Errors after which a request may be repeated (ccxt's own retry class: network errors,
    exchange-side 'internal error, try again' responses)."""
    return ccxt.OperationFailed


def _unsent():
    """Network errors that mean the exchange refused the request (so it was not executed)."""
    return (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce)


def _check_exchange_id(exchange_id: str) -> None:
    _need_ccxt()
    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError("exchange_id", f"got {exchange_id!r}{hint}; allowed: {', '.join(ccxt.exchanges)}")


def _build_exchange(exchange_id: str, config: dict, sandbox: bool, pro: bool = False):
    """``getattr(ccxt.async_support, exchange_id)(config)`` (ccxt.pro when ``pro`` and available)."""
    _check_exchange_id(exchange_id)
    module = ccxt_async
    if pro:
        import ccxt.pro as ccxt_pro

        if exchange_id in ccxt_pro.exchanges:
            module = ccxt_pro
    ex = getattr(module, exchange_id)(config)
    if sandbox:
        # ccxt's set_sandbox_mode raises TypeError, not NotSupported, for a urls['test'] of None
        # (ccxt/base/exchange.py, Exchange.set_sandbox_mode): check first
        if not ex.urls.get("test"):
            raise InputError("sandbox", f"{exchange_id} has no sandbox/testnet in ccxt; allowed: false")
        ex.set_sandbox_mode(True)
    return ex


def contract_of_market(market: dict) -> tuple[str, float, str]:
    """(contract, contract_size, settlement currency) of a ccxt unified market: ``inverse`` when ccxt's
    ``inverse`` is true (a contract worth ``contractSize`` quote units, settled in the base), else
    ``linear``; ``contractSize`` (1 when absent, as for spot); ``settle`` (else the base if inverse,
    the quote if not)."""
    inverse = bool(market.get("inverse"))
    cs = market.get("contractSize")
    size = float(cs) if cs is not None and float(cs) > 0 else 1.0
    settle = market.get("settle") or market.get("base" if inverse else "quote") or ""
    return ("inverse" if inverse else "linear"), size, str(settle)


async def _market(exchange, symbol: str, load) -> dict:
    """``symbol``'s ccxt market, after ``load(exchange.load_markets)``; :class:`InputError` if not listed."""
    await load(exchange.load_markets)
    markets = exchange.markets or {}
    if symbol not in markets:
        close = difflib.get_close_matches(symbol, list(markets), n=5)
        raise InputError(
            "symbol",
            f"got {symbol!r}, not a market of {exchange.id}" + (f"; close: {', '.join(close)}" if close else ""),
        )
    return markets[symbol]


class _Seen:
    """A bounded set of ids (oldest forgotten first)."""

    def __init__(self, cap: int = _SEEN_CAP):
        self._d: OrderedDict[str, None] = OrderedDict()
        self._cap = cap

    def add(self, key: str) -> bool:
        """Add ``key``; False if it was already there."""
        if key in self._d:
            return False
        self._d[key] = None
        if len(self._d) > self._cap:
            self._d.popitem(last=False)
        return True


def _f(x, default: float = float("nan")) -> float:
    return default if x is None else float(x)


class CcxtVenue:
    """The :class:`~flatbook.live.adapters.base.Venue` for one symbol of a ccxt async exchange.

    One resting order per side: a request cancels that side's open order(s), then
    (size > 0) places a post-only limit order (a taker request: a limit IOC).
    Requests of a side run in order on one worker task per side; with ``coalesce``
    a maker request superseded by a later one of its side before it was sent is
    dropped (reported ``cancelled``, reason "superseded"). Results go to the
    listeners: ``accepted`` / ``rejected`` (with the ccxt error as reason) /
    ``cancelled`` / ``filled`` / ``expired``.

    Errors of ccxt's retryable class (``ccxt.OperationFailed``: network errors and
    "internal error, retry" responses) are retried ``max_retries`` times with
    exponential backoff from ``backoff_s``. A maker order whose placement may have
    reached the exchange is looked up by client id among the open orders before a
    retry; a taker order is retried only after errors that mean it was refused
    (rate limits), otherwise it is reported rejected ("state unknown"): an IOC
    order cannot be looked up once done, and repeating it could double a trade.

    Fills: ``watch_my_trades`` when the exchange object has it, else
    ``fetch_my_trades`` every ``poll_s`` seconds from ``start()`` − 5 s (at most the
    last hour). A fill's client id comes from the order id → client id map this
    object keeps (orders it placed, or adopted through :meth:`open_orders`), else
    from the trade's raw exchange fields, else ``""``. Each fill id is delivered
    once per process. ``filled`` is inferred when an order's fills add up to its size.
    """

    def __init__(
        self,
        exchange,
        symbol: str,
        session: str,
        *,
        poll_s: float = 1.0,
        max_retries: int = 3,
        backoff_s: float = 0.25,
        coalesce: bool = True,
        since_ns: int | None = None,
        clock: Callable[[], int] = time.time_ns,
    ):
        _need_ccxt()
        self.exchange = exchange
        self.symbol = symbol
        self.session = session
        self.name = f"ccxt:{exchange.id}:{symbol}:{session}"
        self.poll_s = poll_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.coalesce = coalesce
        self._since_ns = since_ns
        self._clock = clock
        self._on_update: UpdateListener | None = None
        self._on_fill: FillListener | None = None
        self._queues: dict[int, asyncio.Queue] = {}
        self._tasks: list[asyncio.Task] = []
        self._resting: dict[int, list[str]] = {BUY: [], SELL: []}  # open order ids per side, oldest first
        self._cid_by_oid: dict[str, str] = {}
        self._remaining: dict[str, float] = {}  # open size per resting order id (base units)
        self._filled: set[str] = set()  # resting order ids reported filled (from their fills)
        self._seen = _Seen()
        self._fill_cursor_ms: int | None = None
        self._fee_warned: set[str] = set()
        self.market: dict | None = None

    @classmethod
    def from_config(
        cls,
        exchange_id: str,
        symbol: str,
        api_key_env: str,
        secret_env: str,
        sandbox: bool,
        session: str,
        *,
        pro: bool = False,
        options: dict | None = None,
        **kw,
    ) -> CcxtVenue:
        """Build the exchange from its ccxt id, reading the key and secret from the named
        environment variables. ``options``: ccxt exchange options (e.g. binance
        ``{'fetchMarkets': {'types': ['spot']}}``). Raises :class:`InputError`."""
        _check_exchange_id(exchange_id)
        key, secret = os.environ.get(api_key_env), os.environ.get(secret_env)
        if not key:
            raise InputError(api_key_env, "environment variable not set (the exchange API key)")
        if not secret:
            raise InputError(secret_env, "environment variable not set (the exchange API secret)")
        config = {"apiKey": key, "secret": secret, "enableRateLimit": True}
        if options:
            config["options"] = options
        ex = _build_exchange(exchange_id, config, sandbox, pro)
        missing = [m for m in ("createOrder", "cancelOrder", "fetchOpenOrders", "fetchMyTrades") if not ex.has.get(m)]
        if missing:
            raise InputError("exchange_id", f"{exchange_id} lacks {', '.join(missing)} in ccxt")
        return cls(ex, symbol, session, **kw)

    # ---------------------------------------------------------------- Venue protocol

    def set_listeners(self, on_update: UpdateListener, on_fill: FillListener) -> None:
        self._on_update, self._on_fill = on_update, on_fill

    async def start(self, fills: bool = True) -> None:
        """Load the markets (precision), start the per-side workers and (``fills``) the fill task.

        Call on the loop that will call :meth:`submit`. Raises :class:`InputError`
        for a symbol the exchange does not list. A second call does nothing.
        """
        if self._queues:
            return
        self.market = await _market(self.exchange, self.symbol, self._call)
        if self._fill_cursor_ms is None:
            since_ns = self._since_ns if self._since_ns is not None else self._clock() - CLOCK_MARGIN_MS * 1_000_000
            self._fill_cursor_ms = since_ns // 1_000_000
        for side in (BUY, SELL):
            self._queues[side] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._worker(side), name=f"{self.name}:side{side}"))
        if fills:
            self._tasks.append(asyncio.create_task(self._fill_loop(), name=f"{self.name}:fills"))

    async def market_contract(self) -> tuple[str, float, str]:
        """The symbol's contract (:func:`contract_of_market`), loading the markets if need be."""
        if self.market is None:
            self.market = await _market(self.exchange, self.symbol, self._call)
        return contract_of_market(self.market)

    def submit(self, req: OrderRequest) -> None:
        """Queue ``req`` on its side's worker; returns at once."""
        if not self._queues:
            raise RuntimeError("CcxtVenue.submit before start()")
        self._queues[req.side].put_nowait(req)

    async def drain(self) -> None:
        """Wait until every submitted request has been executed and reported."""
        for q in self._queues.values():
            await q.join()

    async def open_orders(self) -> list[OrderRequest]:
        """Our open orders on this symbol (``fetch_open_orders``: all of the account's, any
        session); they are adopted: the next request of their side cancels them."""
        orders = await self._call(self.exchange.fetch_open_orders, self.symbol)
        out = []
        for o in orders:
            oid = str(o["id"])
            side = BUY if o["side"] == "buy" else SELL
            cid = o.get("clientOrderId") or self._cid_by_oid.get(oid) or ""
            remaining = _f(o.get("remaining"), _f(o.get("amount"), 0.0))
            if cid:
                self._cid_by_oid[oid] = cid
            if oid not in self._resting[side]:
                self._resting[side].append(oid)
            self._remaining[oid] = remaining
            self._filled.discard(oid)
            ts = o.get("timestamp")
            out.append(
                OrderRequest(
                    client_id=cid,
                    side=side,
                    price=_f(o.get("price")),
                    size=remaining,
                    ts=int(ts) * 1_000_000 if ts is not None else 0,
                )
            )
        return out

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        """Our fills at or after ``ts_ns`` (``fetch_my_trades`` from that ms, paged forward)."""
        since_ms = ts_ns // 1_000_000
        out: dict[str, Fill] = {}
        got: set[str] = set()
        for _ in range(50):  # pages: the exchange caps a response (binance 500 trades)
            trades = await self._call(self.exchange.fetch_my_trades, self.symbol, since=since_ms)
            new = [t for t in trades if str(t["id"]) not in got]
            if not new:
                break
            for t in new:
                got.add(str(t["id"]))
                f = self._to_fill(t)
                if f.ts >= ts_ns:
                    out[f.fill_id] = f
            since_ms = max(since_ms, max(int(t["timestamp"] or since_ms) for t in new))
        for fid in out:
            self._seen.add(fid)
        return sorted(out.values(), key=lambda f: (f.ts, f.fill_id))

    async def poll_fills(self) -> list[Fill]:
        """One ``fetch_my_trades`` poll: deliver (and return) the fills not delivered before."""
        if self._fill_cursor_ms is None:
            raise RuntimeError("CcxtVenue.poll_fills before start()")
        since = max(self._fill_cursor_ms, self._clock() // 1_000_000 - MAX_LOOKBACK_MS)
        trades = await self._call(self.exchange.fetch_my_trades, self.symbol, since=since)
        return self._ingest_trades(trades)

    async def close(self) -> None:
        """Stop the workers and the fill task, close the exchange's connections. Resting
        orders are left as they are (cancelling them is the engine's decision)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.exchange.close()

    # ---------------------------------------------------------------- internals

    def _update(self, client_id: str, status: str, remaining: float, reason: str = "") -> None:
        if self._on_update is None:
            log.warning("%s: no listener for update %s %s", self.name, client_id, status)
            return
        try:
            self._on_update(OrderUpdate(client_id, status, remaining, self._clock(), reason))
        except Exception:
            log.exception("%s: update listener failed", self.name)

    async def _call(self, fn, *args, **kw):
        """``await fn(*args, **kw)``, retrying ccxt's retryable errors with exponential backoff."""
        for attempt in range(self.max_retries + 1):
            try:
                return await fn(*args, **kw)
            except _retryable() as e:
                if attempt >= self.max_retries:
                    raise
                log.warning(
                    "%s: %s failed (%s: %s), retry %d/%d",
                    self.name,
                    getattr(fn, "__name__", fn),
                    type(e).__name__,
                    e,
                    attempt + 1,
                    self.max_retries,
                )
                await asyncio.sleep(self.backoff_s * 2**attempt)

    async def _worker(self, side: int) -> None:
        q = self._queues[side]
        while True:
            req = await q.get()
            n = 1
            try:
                while self.coalesce and not req.taker and not q.empty():
                    self._update(req.client_id, "cancelled", 0.0, "superseded before it was sent")
                    req = q.get_nowait()
                    n += 1
                await self._execute(side, req)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # never let a side's worker die
                log.exception("%s: request %s failed", self.name, req.client_id)
                self._update(req.client_id, "rejected", 0.0, f"{type(e).__name__}: {e}")
            finally:
                for _ in range(n):
                    q.task_done()

    async def _execute(self, side: int, req: OrderRequest) -> None:
        # 1. cancel what rests on this side
        for oid in list(self._resting[side]):
            err = await self._cancel(side, oid)
            if err is not None:
                if req.size > 0:
                    self._update(req.client_id, "rejected", 0.0, f"previous order {oid} could not be cancelled: {err}")
                return
        if req.size <= 0:
            return
        # 2. place
        ex, sym = self.exchange, self.symbol
        try:
            amount = float(ex.amount_to_precision(sym, req.size))
            price = float(ex.price_to_precision(sym, req.price))
            order = await self._create(req, amount, price)
        except ccxt.BaseError as e:
            self._update(req.client_id, "rejected", 0.0, f"{type(e).__name__}: {e}")
            return
        oid = str(order["id"])
        self._cid_by_oid[oid] = req.client_id
        status = order.get("status")
        remaining = _f(order.get("remaining"), amount)
        if status == "rejected":
            self._update(req.client_id, "rejected", 0.0, "rejected by the exchange")
            return
        self._update(req.client_id, "accepted", remaining)
        if status in (None, "open"):
            self._resting[side].append(oid)
            self._remaining[oid] = remaining
        # trades the exchange returned with the order (e.g. binance FULL responses of a taker order)
        liquidity = "taker" if req.taker else "maker"
        self._ingest_trades(
            [
                dict(
                    t,
                    order=t.get("order") or oid,
                    side=t.get("side") or order.get("side"),
                    timestamp=t.get("timestamp") or order.get("timestamp"),
                    takerOrMaker=t.get("takerOrMaker") or liquidity,
                )
                for t in order.get("trades") or ()
                if t.get("id") is not None
            ]
        )
        if status == "closed":
            self._update(req.client_id, "filled", 0.0)
        elif status in ("canceled", "expired"):
            self._update(req.client_id, "expired", remaining)

    async def _cancel(self, side: int, oid: str) -> str | None:
        """Cancel resting order ``oid``; None when it is gone (cancelled, or not found: filled
        or cancelled already), else the error text."""
        try:
            await self._call(self.exchange.cancel_order, oid, self.symbol)
            reason = ""
        except ccxt.OrderNotFound as e:
            reason = f"not open on the venue (filled or cancelled already): {e}"
        except ccxt.BaseError as e:
            return f"{type(e).__name__}: {e}"
        if oid in self._resting[side]:
            self._resting[side].remove(oid)
            self._remaining.pop(oid, None)
            if not (reason and oid in self._filled):  # not found after it was reported filled: quiet
                self._update(self._cid_by_oid.get(oid, ""), "cancelled", 0.0, reason)
            self._filled.discard(oid)
        return None

    async def _find_open(self, client_id: str) -> dict | None:
        """Our open order with ``client_id``, if the venue lists one (None also when it cannot tell)."""
        try:
            for o in await self.exchange.fetch_open_orders(self.symbol):
                if o.get("clientOrderId") == client_id:
                    return o
        except ccxt.BaseError as e:
            log.warning("%s: open-order lookup of %s failed: %s", self.name, client_id, e)
        return None

    async def _create(self, req: OrderRequest, amount: float, price: float) -> dict:
        side = "buy" if req.side == BUY else "sell"
        params: dict[str, str | bool] = {"clientOrderId": req.client_id}
        params.update({"timeInForce": "IOC"} if req.taker else {"postOnly": True})
        maybe_sent = False  # an earlier attempt may have reached the exchange
        for attempt in range(self.max_retries + 1):
            if maybe_sent and (o := await self._find_open(req.client_id)) is not None:
                return o
            try:
                return await self.exchange.create_order(self.symbol, "limit", side, amount, price, params=dict(params))
            except _retryable() as e:
                refused = isinstance(e, _unsent())
                if req.taker and not refused:
                    raise type(e)(
                        f"{e} (taker order state unknown, not retried: a fill, if any, arrives through the fill feed)"
                    ) from e
                maybe_sent = maybe_sent or not refused
                if attempt >= self.max_retries:
                    if maybe_sent and (o := await self._find_open(req.client_id)) is not None:
                        return o
                    raise
                log.warning(
                    "%s: create %s failed (%s: %s), retry %d/%d",
                    self.name,
                    req.client_id,
                    type(e).__name__,
                    e,
                    attempt + 1,
                    self.max_retries,
                )
                await asyncio.sleep(self.backoff_s * 2**attempt)
            except ccxt.BaseError:
                # e.g. a duplicate client id after a placement that did get through
                if maybe_sent and (o := await self._find_open(req.client_id)) is not None:
                    return o
                raise
        raise AssertionError("unreachable")

    async def _fill_loop(self) -> None:
        watch = bool(self.exchange.has.get("watchMyTrades"))
        while True:
            try:
                if watch:
                    self._ingest_trades(await self.exchange.watch_my_trades(self.symbol))
                    continue
                await self.poll_fills()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("%s: fill %s failed: %s: %s", self.name, "watch" if watch else "poll", type(e).__name__, e)
                await asyncio.sleep(max(self.poll_s, self.backoff_s))
                continue
            await asyncio.sleep(self.poll_s)

    def _ingest_trades(self, trades) -> list[Fill]:
        """Deliver the trades not delivered before, oldest first; track resting sizes."""
        out = []
        for t in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            if t.get("symbol") not in (None, self.symbol):
                continue
            f = self._to_fill(t)
            ts_ms = t.get("timestamp")
            if ts_ms is not None and self._fill_cursor_ms is not None:
                self._fill_cursor_ms = max(self._fill_cursor_ms, int(ts_ms))
            if not self._seen.add(f.fill_id):
                continue
            out.append(f)
            if self._on_fill is not None:
                try:
                    self._on_fill(f)
                except Exception:
                    log.exception("%s: fill listener failed", self.name)
            else:
                log.warning("%s: no listener for fill %s", self.name, f.fill_id)
            self._track_fill(str(t.get("order")), f)
        return out

    def _track_fill(self, oid: str, f: Fill) -> None:
        """Report ``filled`` when our fills add up to the order's size. The order stays on
        its side's list (the next request still cancels it; "not found" is then quiet):
        an inference from fills must never leave an order resting unknown to us."""
        if oid not in self._remaining or oid in self._filled:
            return
        rem = self._remaining[oid] - f.qty
        self._remaining[oid] = rem
        if rem <= 1e-9 * max(f.qty, 1e-12):
            self._filled.add(oid)
            self._update(f.client_id, "filled", 0.0)

    def _client_id(self, t: dict) -> str:
        oid = t.get("order")
        if oid is not None and str(oid) in self._cid_by_oid:
            return self._cid_by_oid[str(oid)]
        info = t.get("info") or {}
        for k in _CID_KEYS:
            if info.get(k):
                return str(info[k])
        return ""

    def _fee(self, t: dict) -> float:
        """The trade's fee in the market's settlement currency (:func:`contract_of_market`): a
        base-currency fee × price when it settles in the quote, a quote-currency fee / price when
        it settles in the base (inverse); another currency's fee is passed through as given, with
        a one-time warning."""
        fee = t.get("fee") or {}
        cost = fee.get("cost")
        if cost is None:
            return 0.0
        cur = fee.get("currency")
        m = self.market or {}
        settle = contract_of_market(m)[2] if m else None
        if cur is None or cur == settle:
            return float(cost)
        if cur == m.get("base") and settle == m.get("quote"):
            return float(cost) * float(t["price"])
        if cur == m.get("quote") and settle == m.get("base"):
            return float(cost) / float(t["price"])
        if cur not in self._fee_warned:
            self._fee_warned.add(cur)
            log.warning("%s: fees charged in %s are reported unconverted", self.name, cur)
        return float(cost)

    def _to_fill(self, t: dict) -> Fill:
        ts = t.get("timestamp")
        return Fill(
            fill_id=str(t["id"]),
            client_id=self._client_id(t),
            side=BUY if t.get("side") == "buy" else SELL,
            price=float(t["price"]),
            qty=float(t["amount"]),
            fee=self._fee(t),
            ts=int(ts) * 1_000_000 if ts is not None else self._clock(),
            seq=-1,
            liquidity=t.get("takerOrMaker") or "maker",
        )


class CcxtFeed:
    """The :class:`~flatbook.live.adapters.base.Feed` of one symbol of a ccxt async exchange.

    Book: ``watch_order_book`` when the object has it (ccxt.pro), else
    ``fetch_order_book(symbol, limit=depth)`` every ``poll_s`` s; a book that did
    not change in its first ``depth`` levels is not re-emitted. Trades (``trades=True``):
    ``watch_trades`` or polling ``fetch_trades`` for the latest prints (prints older
    than the feed's start, or seen before, are skipped; a poll returns the venue's
    default count, binance 500, so a busier interval loses prints). ``seq`` counts the events yielded; ``ts`` is exchange time
    (ns; local time when the exchange gives none), held non-decreasing. Network
    errors are logged and retried forever with backoff; other ccxt errors end the
    iteration by raising.
    """

    def __init__(
        self,
        exchange,
        symbol: str,
        *,
        poll_s: float = 1.0,
        trades: bool = False,
        depth: int = 5,
        backoff_s: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
    ):
        _need_ccxt()
        self.exchange = exchange
        self.symbol = symbol
        self.name = f"ccxt:{exchange.id}:{symbol}"
        self.poll_s, self.trades, self.depth, self.backoff_s = poll_s, trades, depth, backoff_s
        self._clock = clock
        self._seq = 0
        self._last_ts = 0
        self._top = (float("nan"), 0.0, float("nan"), 0.0)
        self._last_depth: np.ndarray | None = None

    @classmethod
    def from_config(
        cls,
        exchange_id: str,
        symbol: str,
        sandbox: bool = False,
        *,
        pro: bool = True,
        options: dict | None = None,
        **kw,
    ) -> CcxtFeed:
        """Build a public (keyless) exchange object from its ccxt id; ccxt.pro when available."""
        config = {"enableRateLimit": True, **({"options": options} if options else {})}
        return cls(_build_exchange(exchange_id, config, sandbox, pro), symbol, **kw)

    async def market_contract(self) -> tuple[str, float, str]:
        """The symbol's contract (:func:`contract_of_market`), loading the markets if need be."""
        return contract_of_market(await _market(self.exchange, self.symbol, self._retry_forever))

    async def events(self, start: int = 0) -> AsyncIterator[MarketEvent]:
        """Market events from now on (``start`` is ignored: a live feed cannot rewind)."""
        await _market(self.exchange, self.symbol, self._retry_forever)
        q: asyncio.Queue = asyncio.Queue(maxsize=1024)
        tasks = [asyncio.create_task(self._book_loop(q))]
        if self.trades:
            tasks.append(asyncio.create_task(self._trade_loop(q, self._clock() // 1_000_000)))
        try:
            while True:
                kind, payload = await q.get()
                if kind == "error":
                    raise payload
                if kind == "book":
                    ev = self.book_event(payload)
                    if ev is not None:
                        yield ev
                else:
                    for t in payload:
                        yield self.trade_event(t)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.exchange.close()

    # ------------------------------------------------------------ conversion

    def _ts(self, ms) -> int:
        ts = int(ms) * 1_000_000 if ms is not None else self._clock()
        self._last_ts = max(self._last_ts, ts)
        return self._last_ts

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    def book_event(self, ob: dict) -> MarketEvent | None:
        """A ccxt order book → a QUOTE event (None when unchanged or empty)."""
        bids, asks = ob.get("bids") or [], ob.get("asks") or []
        n = min(max(len(bids), len(asks)), self.depth)
        if n == 0:
            return None
        depth = np.full((n, 4), np.nan)
        depth[:, 1] = depth[:, 3] = 0.0
        for i, lvl in enumerate(bids[:n]):
            depth[i, 0], depth[i, 1] = lvl[0], lvl[1]
        for i, lvl in enumerate(asks[:n]):
            depth[i, 2], depth[i, 3] = lvl[0], lvl[1]
        if (
            self._last_depth is not None
            and self._last_depth.shape == depth.shape
            and np.array_equal(self._last_depth, depth, equal_nan=True)
        ):
            return None
        self._last_depth = depth
        self._top = (float(depth[0, 0]), float(depth[0, 1]), float(depth[0, 2]), float(depth[0, 3]))
        return MarketEvent(self._next_seq(), self._ts(ob.get("timestamp")), QUOTE, *self._top, depth=depth)

    def trade_event(self, t: dict) -> MarketEvent:
        """A ccxt public trade → a TRADE event carrying the last known top of book."""
        sides: dict[object, int] = {"buy": 1, "sell": -1}  # ccxt's side may be None (unknown aggressor)
        side = sides.get(t.get("side"), 0)
        return MarketEvent(
            self._next_seq(),
            self._ts(t.get("timestamp")),
            TRADE,
            *self._top,
            px=float(t["price"]),
            qty=float(t["amount"]),
            side=side,
        )

    # ------------------------------------------------------------ producers

    async def _retry_forever(self, fn, *args, **kw):
        while True:
            try:
                return await fn(*args, **kw)
            except ccxt.NetworkError as e:
                log.warning("%s: %s: %s; retrying in %g s", self.name, type(e).__name__, e, self.backoff_s)
                await asyncio.sleep(self.backoff_s)

    async def _book_loop(self, q: asyncio.Queue) -> None:
        ex = self.exchange
        watch = bool(ex.has.get("watchOrderBook"))
        try:
            while True:
                if watch:
                    ob = await self._retry_forever(ex.watch_order_book, self.symbol, self.depth)
                else:
                    ob = await self._retry_forever(ex.fetch_order_book, self.symbol, limit=self.depth)
                await q.put(("book", ob))
                if not watch:
                    await asyncio.sleep(self.poll_s)
        except ccxt.BaseError as e:
            await q.put(("error", e))

    async def _trade_loop(self, q: asyncio.Queue, start_ms: int) -> None:
        ex = self.exchange
        watch = bool(ex.has.get("watchTrades"))
        seen = _Seen()
        try:
            while True:
                if watch:
                    trades = await self._retry_forever(ex.watch_trades, self.symbol)
                else:
                    # the latest prints (no ``since``: binance, e.g., reads it as a 1-hour window)
                    trades = await self._retry_forever(ex.fetch_trades, self.symbol)
                new = []
                for t in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                    key = (
                        str(t.get("id"))
                        if t.get("id") is not None
                        else f"{t.get('timestamp')}:{t.get('price')}:{t.get('amount')}:{t.get('side')}"
                    )
                    if (t.get("timestamp") or start_ms) < start_ms or not seen.add(key):
                        continue
                    new.append(t)
                if new:
                    await q.put(("trades", new))
                if not watch:
                    await asyncio.sleep(self.poll_s)
        except ccxt.BaseError as e:
            await q.put(("error", e))
