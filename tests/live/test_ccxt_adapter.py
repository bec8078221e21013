"""ccxt adapter against ccxt's real binance class, its HTTP layer replaced by recorded responses.

Only ``Exchange.fetch`` (ccxt/async_support/base/exchange.py, the lowest transport:
one signed HTTP request → decoded JSON) is replaced, by :class:`FakeBinance`, a
small stateful Binance spot REST server answering in Binance's own JSON formats.
Everything above it is ccxt's code: market loading and precision, request
building and HMAC signing, response parsing, and error mapping (the fake runs the
tail of ``fetch``: ``handle_errors`` then ``handle_http_status_code``). No test
opens a connection (aiohttp is made to fail if anything tries).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import defaultdict, deque
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import ccxt  # a dependency of flatbook: a broken import fails, never skips
import ccxt.async_support as ccxt_async
import numpy as np
import pytest

from flatbook.errors import InputError
from flatbook.live.adapters.base import Feed, Venue
from flatbook.live.adapters.ccxt_adapter import CcxtFeed, CcxtVenue
from flatbook.live.types import BUY, QUOTE, SELL, TRADE, OrderRequest

T0_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the recorded responses' exchange time
CLOCK = lambda: (T0_MS + 60_000) * 1_000_000  # noqa: E731  local time: one minute later
SYMBOL = "BTC/USDT"

EXCHANGE_INFO = {  # GET /api/v3/exchangeInfo, trimmed to one symbol
    "timezone": "UTC",
    "serverTime": T0_MS,
    "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01000000",
                    "maxPrice": "1000000.00000000",
                    "tickSize": "0.01000000",
                },
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {
                    "filterType": "NOTIONAL",
                    "minNotional": "5.00000000",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }
    ],
}


def _q(x) -> str:
    return f"{float(x):.8f}"


@dataclass
class Call:
    method: str
    path: str
    params: dict
    url: str
    headers: dict
    body: str | None


class FakeBinance:
    """Binance spot REST in miniature; replaces ``exchange.fetch`` on one instance.

    State: open orders (POST LIMIT_MAKER rests; POST LIMIT IOC fills at its limit),
    ``my_trades`` (GET myTrades), ``book`` (GET depth), ``agg_trades`` (GET aggTrades).
    ``script(method, path, *responses)`` queues one-off answers: ``(status, json)``
    or an exception (raised as ccxt's ``fetch`` raises transport failures).
    """

    def __init__(self, ex):
        self.ex = ex
        self.calls: list[Call] = []
        self.open: dict[int, dict] = {}
        self.next_id = 101
        self.my_trades: list[dict] = []
        self.book = {
            "lastUpdateId": 1027024,
            "bids": [["30000.00000000", "1.50000000"]],
            "asks": [["30000.01000000", "0.25000000"]],
        }
        self.agg_trades: list[dict] = []
        self.scripted: dict[tuple[str, str], deque] = defaultdict(deque)
        ex.fetch = self.fetch

    def script(self, method: str, path: str, *responses) -> None:
        self.scripted[(method, path)].extend(responses)

    def of(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query)) | dict(parse_qsl(body or ""))
        self.calls.append(Call(method, parts.path, params, url, dict(headers or {}), body))
        key = (method, parts.path)
        if self.scripted[key]:
            answer = self.scripted[key].popleft()
            if isinstance(answer, BaseException):
                raise answer
            status, payload = answer
        else:
            status, payload = self.route(method, parts.path, params)
        # the tail of ccxt's async Exchange.fetch after the HTTP round trip
        text = json.dumps(payload) if payload is not None else ""
        js = self.ex.parse_json(text)
        reason = {200: "OK", 400: "Bad Request", 503: "Service Unavailable"}.get(status, "")
        self.ex.handle_errors(status, reason, url, method, {}, text, js, headers, body)
        self.ex.handle_http_status_code(status, reason, url, method, text)
        return js

    def order_json(self, o: dict) -> dict:
        return {
            "symbol": "BTCUSDT",
            "orderId": o["orderId"],
            "orderListId": -1,
            "clientOrderId": o["cid"],
            "price": _q(o["price"]),
            "origQty": _q(o["qty"]),
            "executedQty": _q(o["executed"]),
            "cummulativeQuoteQty": _q(float(o["executed"]) * float(o["price"])),
            "status": o["status"],
            "timeInForce": o["tif"],
            "type": o["type"],
            "side": o["side"],
        }

    def route(self, method: str, path: str, p: dict):
        if path == "/api/v3/exchangeInfo":
            return 200, EXCHANGE_INFO
        if (method, path) == ("POST", "/api/v3/order"):
            o = {
                "orderId": self.next_id,
                "cid": p["newClientOrderId"],
                "price": p["price"],
                "qty": p["quantity"],
                "executed": "0",
                "status": "NEW",
                "tif": p.get("timeInForce", "GTC"),
                "type": p["type"],
                "side": p["side"],
            }
            self.next_id += 1
            fills = []
            if p.get("timeInForce") == "IOC":  # crosses: fills in full at its limit, taker
                o["executed"], o["status"] = o["qty"], "FILLED"
                fills = [
                    {
                        "price": _q(p["price"]),
                        "qty": _q(p["quantity"]),
                        "commission": _q(float(p["price"]) * float(p["quantity"]) * 0.001),
                        "commissionAsset": "USDT",
                        "tradeId": 9000 + o["orderId"],
                    }
                ]
            else:
                self.open[o["orderId"]] = o
            return 200, self.order_json(o) | {
                "transactTime": T0_MS,
                "workingTime": T0_MS,
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "fills": fills,
            }
        if (method, path) == ("DELETE", "/api/v3/order"):
            o = self.open.pop(int(p["orderId"]), None)
            if o is None:
                return 400, {"code": -2011, "msg": "Unknown order sent."}
            o["status"] = "CANCELED"
            return 200, self.order_json(o) | {
                "origClientOrderId": o["cid"],
                "clientOrderId": "cxl" + o["cid"],
                "transactTime": T0_MS + 5,
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
        if (method, path) == ("GET", "/api/v3/openOrders"):
            return 200, [
                self.order_json(o)
                | {
                    "stopPrice": "0.00000000",
                    "icebergQty": "0.00000000",
                    "time": T0_MS,
                    "updateTime": T0_MS,
                    "isWorking": True,
                    "workingTime": T0_MS,
                    "origQuoteOrderQty": "0.00000000",
                    "selfTradePreventionMode": "EXPIRE_MAKER",
                }
                for o in self.open.values()
            ]
        if (method, path) == ("GET", "/api/v3/myTrades"):
            return 200, list(self.my_trades)
        if (method, path) == ("GET", "/api/v3/depth"):
            return 200, self.book
        if (method, path) == ("GET", "/api/v3/aggTrades"):
            return 200, list(self.agg_trades)
        return 404, {"code": -1, "msg": f"no route {method} {path}"}


def my_trade(tid, order_id, price, qty, fee, fee_asset, is_buyer, is_maker, t_ms):
    """One GET /api/v3/myTrades element."""
    return {
        "symbol": "BTCUSDT",
        "id": tid,
        "orderId": order_id,
        "orderListId": -1,
        "price": _q(price),
        "qty": _q(qty),
        "quoteQty": _q(price * qty),
        "commission": _q(fee),
        "commissionAsset": fee_asset,
        "time": t_ms,
        "isBuyer": is_buyer,
        "isMaker": is_maker,
        "isBestMatch": True,
    }


def signature_ok(c: Call) -> bool:
    """Binance HMAC-SHA256 of the signed payload with the secret 's'."""
    raw = c.body if c.method == "POST" else urlsplit(c.url).query
    payload, _, sig = raw.rpartition("&signature=")
    return bool(sig) and hmac.new(b"s", payload.encode(), hashlib.sha256).hexdigest() == sig


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    import aiohttp

    def refuse(*a, **k):
        raise AssertionError("a test tried to open an HTTP connection")

    monkeypatch.setattr(aiohttp.ClientSession, "_request", refuse)


def binance():
    ex = ccxt_async.binance(
        {
            "apiKey": "k",
            "secret": "s",
            "enableRateLimit": False,
            # markets: the spot exchangeInfo only (no futures, margin or currency endpoints)
            "options": {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]}},
        }
    )
    ex.timeout_on_exit = 0  # close() would sleep 250 ms
    return ex


class Rec:
    def __init__(self):
        self.updates, self.fills = [], []

    def u(self):
        return [(x.client_id, x.status) for x in self.updates]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


async def started(**kw):
    ex = binance()
    rest = FakeBinance(ex)
    kw.setdefault("backoff_s", 0.005)
    v = CcxtVenue(ex, SYMBOL, "s", since_ns=T0_MS * 1_000_000, clock=CLOCK, **kw)
    rec = Rec()
    v.set_listeners(rec.updates.append, rec.fills.append)
    await v.start(fills=False)
    return v, rest, rec


def req(cid, side, price, size, taker=False):
    return OrderRequest(cid, side, price, size, ts=0, taker=taker)


# ---------------------------------------------------------------- venue


def test_protocols_and_market_precision():
    async def go():
        v, rest, _ = await started()
        assert isinstance(v, Venue)
        assert [c.path for c in rest.calls] == ["/api/v3/exchangeInfo"]
        assert v.exchange.amount_to_precision(SYMBOL, 0.0123456) == "0.01234"
        assert v.exchange.price_to_precision(SYMBOL, 30000.016) == "30000.02"
        await v.close()

    run(go())


def test_maker_order_request_built_signed_and_accepted():
    async def go():
        v, rest, rec = await started()
        v.submit(req("s-1", BUY, 30000.0149, 0.0123456))
        await v.drain()
        (c,) = rest.of("POST", "/api/v3/order")
        p = c.params
        assert (p["symbol"], p["side"], p["type"]) == ("BTCUSDT", "BUY", "LIMIT_MAKER")  # postOnly
        assert (p["quantity"], p["price"]) == ("0.01234", "30000.01")  # step 0.00001, tick 0.01
        assert p["newClientOrderId"] == "s-1" and "timeInForce" not in p
        assert signature_ok(c) and c.headers["X-MBX-APIKEY"] == "k" and "timestamp" in p
        (u,) = rec.updates
        assert (u.client_id, u.status, u.remaining, u.reason) == ("s-1", "accepted", 0.01234, "")
        assert u.ts == CLOCK()
        await v.close()

    run(go())


def test_replace_cancels_previous_order_of_its_side_first():
    async def go():
        v, rest, rec = await started(coalesce=False)
        v.submit(req("s-1", BUY, 30000.00, 0.01))
        v.submit(req("s-2", SELL, 30001.00, 0.02))
        v.submit(req("s-3", BUY, 29999.99, 0.01))  # replaces s-1
        v.submit(req("s-4", BUY, 29999.98, 0.0))  # size 0: cancel s-3 only
        await v.drain()
        # the two sides run concurrently; within the bid side: place, cancel, place, cancel
        posts = {c.params["newClientOrderId"]: i for i, c in enumerate(rest.calls) if c.method == "POST"}
        ids = {cid: 101 + sorted(posts, key=posts.get).index(cid) for cid in posts}
        bid = [
            (c.method, c.params.get("newClientOrderId") or int(c.params["orderId"]))
            for c in rest.calls
            if c.path == "/api/v3/order" and c.params.get("side") != "SELL"
        ]
        assert bid == [("POST", "s-1"), ("DELETE", ids["s-1"]), ("POST", "s-3"), ("DELETE", ids["s-3"])]
        assert [o["cid"] for o in rest.open.values()] == ["s-2"]
        bu = [x for x in rec.u() if x[0] != "s-2"]
        assert bu == [("s-1", "accepted"), ("s-1", "cancelled"), ("s-3", "accepted"), ("s-3", "cancelled")]
        assert all(signature_ok(c) for c in rest.calls if c.path != "/api/v3/exchangeInfo")
        await v.close()

    run(go())


def test_superseded_maker_requests_are_not_sent():
    async def go():
        v, rest, rec = await started()
        for i in range(1, 4):
            v.submit(req(f"s-{i}", BUY, 30000.0 - i, 0.01))
        await v.drain()
        assert [c.params["newClientOrderId"] for c in rest.of("POST", "/api/v3/order")] == ["s-3"]
        assert rec.u() == [("s-1", "cancelled"), ("s-2", "cancelled"), ("s-3", "accepted")]
        assert rec.updates[0].reason.startswith("superseded")
        await v.close()

    run(go())


def test_taker_is_limit_ioc_and_reports_its_fill():
    async def go():
        v, rest, rec = await started()
        v.submit(req("s-9", SELL, 29990.004, 0.5, taker=True))
        await v.drain()
        (c,) = rest.of("POST", "/api/v3/order")
        assert (c.params["type"], c.params["timeInForce"], c.params["price"]) == (
            "LIMIT",
            "IOC",
            "29990",
        )  # ccxt strips zeros
        assert rec.u() == [("s-9", "accepted"), ("s-9", "filled")]
        (f,) = rec.fills
        assert (f.fill_id, f.client_id, f.side, f.price, f.qty) == ("9101", "s-9", SELL, 29990.0, 0.5)
        assert f.fee == pytest.approx(29990.0 * 0.5 * 0.001) and f.liquidity == "taker"
        assert f.ts == T0_MS * 1_000_000 and f.seq == -1
        await v.close()

    run(go())


@pytest.mark.parametrize(
    "msg, err",
    [
        ("Order would immediately match and take.", "OrderImmediatelyFillable"),
        ("Account has insufficient balance for requested action.", "InsufficientFunds"),
        ("Duplicate order sent.", "InvalidOrder"),
    ],
)
def test_exchange_error_is_rejected_with_reason(msg, err):
    async def go():
        v, rest, rec = await started()
        rest.script("POST", "/api/v3/order", (400, {"code": -2010, "msg": msg}))
        v.submit(req("s-1", BUY, 30000.02, 0.01))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 1  # not retried
        (u,) = rec.updates
        assert (u.client_id, u.status, u.remaining) == ("s-1", "rejected", 0.0)
        assert u.reason.startswith(err + ":") and msg in u.reason
        await v.close()

    run(go())


def test_network_error_is_retried_after_an_open_order_lookup():
    async def go():
        v, rest, rec = await started()
        rest.script("POST", "/api/v3/order", (503, None))  # ccxt: ExchangeNotAvailable
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        assert [(c.method, c.path) for c in rest.calls[1:]] == [
            ("POST", "/api/v3/order"),
            ("GET", "/api/v3/openOrders"),
            ("POST", "/api/v3/order"),
        ]
        assert rec.u() == [("s-1", "accepted")]
        await v.close()

    run(go())


def test_network_error_whose_order_got_through_is_adopted_not_resent():
    async def go():
        v, rest, rec = await started()
        real = rest.route

        def route_then_timeout(method, path, p):  # the order is placed, the response is lost
            status, payload = real(method, path, p)
            rest.route = real
            raise ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order")

        rest.route = route_then_timeout
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 1 and len(rest.of("GET", "/api/v3/openOrders")) == 1
        assert rec.u() == [("s-1", "accepted")]
        v.submit(req("s-2", BUY, 30000.0, 0.01))  # the adopted order is the one replaced
        await v.drain()
        assert rest.of("DELETE", "/api/v3/order")[0].params["orderId"] == "101"
        await v.close()

    run(go())


def test_network_errors_exhausted_then_rejected():
    async def go():
        v, rest, rec = await started(max_retries=2)
        rest.script("POST", "/api/v3/order", *[(503, None)] * 3)
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 3
        assert len(rest.of("GET", "/api/v3/openOrders")) == 3  # before each retry and a last look
        (u,) = rec.updates
        assert u.status == "rejected" and u.reason.startswith("ExchangeNotAvailable:")
        await v.close()

    run(go())


def test_taker_not_retried_after_an_ambiguous_network_error_but_after_a_rate_limit():
    async def go():
        v, rest, rec = await started()
        rest.script("POST", "/api/v3/order", ccxt.RequestTimeout("binance POST timeout"))
        v.submit(req("s-1", SELL, 29990.0, 0.1, taker=True))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 1
        assert rec.u() == [("s-1", "rejected")] and "state unknown" in rec.updates[0].reason
        rest.script("POST", "/api/v3/order", (429, {"code": -1003, "msg": "Too many requests."}))
        v.submit(req("s-2", SELL, 29990.0, 0.1, taker=True))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 3
        assert rec.u()[1:] == [("s-2", "accepted"), ("s-2", "filled")]
        await v.close()

    run(go())


def test_cancel_of_an_order_gone_from_the_venue_counts_as_cancelled():
    async def go():
        v, rest, rec = await started()
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        rest.open.clear()  # filled or cancelled behind our back: binance answers -2011
        v.submit(req("s-2", BUY, 30000.0, 0.01))
        await v.drain()
        assert rec.u() == [("s-1", "accepted"), ("s-1", "cancelled"), ("s-2", "accepted")]
        assert "Unknown order sent." in rec.updates[1].reason
        await v.close()

    run(go())


def test_failed_cancel_blocks_the_replacement():
    async def go():
        v, rest, rec = await started()
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        rest.script("DELETE", "/api/v3/order", (400, {"code": -1013, "msg": "Filter failure: whatever"}))
        v.submit(req("s-2", BUY, 30000.0, 0.01))
        await v.drain()
        assert len(rest.of("POST", "/api/v3/order")) == 1
        assert rec.u()[1] == ("s-2", "rejected") and "101 could not be cancelled" in rec.updates[1].reason
        await v.close()

    run(go())


def test_poll_fills_maps_trades_and_delivers_each_id_once():
    async def go():
        v, rest, rec = await started()
        v.submit(req("s-1", BUY, 30000.0, 0.01))
        await v.drain()
        rest.my_trades = [
            my_trade(501, 101, 30000.0, 0.004, 0.000004, "BTC", True, True, T0_MS + 1000),  # fee in base
            my_trade(502, 101, 30000.0, 0.006, -0.03, "USDT", True, True, T0_MS + 2000),  # rebate in quote
            my_trade(77, 55, 30010.0, 0.1, 0.5, "USDT", False, False, T0_MS + 1500),  # not our order id
        ]
        got = await v.poll_fills()
        assert [f.fill_id for f in got] == ["501", "77", "502"] == [f.fill_id for f in rec.fills]
        f1, f77, f2 = got
        assert (f1.client_id, f1.side, f1.price, f1.qty, f1.liquidity) == ("s-1", BUY, 30000.0, 0.004, "maker")
        assert f1.fee == pytest.approx(0.000004 * 30000.0) and f2.fee == pytest.approx(-0.03)
        assert (f1.ts, f2.ts) == ((T0_MS + 1000) * 1_000_000, (T0_MS + 2000) * 1_000_000)
        assert (f77.client_id, f77.side, f77.liquidity) == ("", SELL, "taker")
        (c,) = rest.of("GET", "/api/v3/myTrades")
        assert c.params["symbol"] == "BTCUSDT" and c.params["startTime"] == str(T0_MS) and signature_ok(c)
        assert rec.u() == [("s-1", "accepted"), ("s-1", "filled")]  # 0.004 + 0.006 = all of it
        rest.my_trades.append(my_trade(503, 55, 30010.0, 0.1, 0.5, "USDT", False, False, T0_MS + 3000))
        again = await v.poll_fills()  # the venue returns 501, 502, 77 again
        assert [f.fill_id for f in again] == ["503"] and len(rec.fills) == 4
        assert rest.of("GET", "/api/v3/myTrades")[1].params["startTime"] == str(T0_MS + 2000)
        rest.open.pop(101)  # filled on the venue: its cancel answers -2011, quietly absorbed
        v.submit(req("s-2", BUY, 30000.0, 0.01))
        await v.drain()
        assert rest.of("DELETE", "/api/v3/order")[0].params["orderId"] == "101"
        assert rec.u()[2:] == [("s-2", "accepted")]
        await v.close()

    run(go())


def test_fill_task_polls_in_the_background():
    async def go():
        ex = binance()
        rest = FakeBinance(ex)
        rest.my_trades = [my_trade(601, 9, 30000.0, 0.01, 0.0, "USDT", True, True, T0_MS + 10)]
        v = CcxtVenue(ex, SYMBOL, "s", poll_s=0.01, since_ns=T0_MS * 1_000_000, clock=CLOCK)
        got = asyncio.Event()
        v.set_listeners(lambda u: None, lambda f: got.set())
        await v.start()
        await asyncio.wait_for(got.wait(), 0.2)
        await asyncio.sleep(0.03)  # a few more polls: still one fill
        n = len(rest.of("GET", "/api/v3/myTrades"))
        await v.close()
        assert n >= 2

    run(go())


def test_open_orders_and_fills_since_for_reconciliation():
    async def go():
        v, rest, rec = await started()
        rest.open[7] = {
            "orderId": 7,
            "cid": "old-3",
            "price": "29000.5",
            "qty": "0.2",
            "executed": "0.05",
            "status": "PARTIALLY_FILLED",
            "tif": "GTC",
            "type": "LIMIT_MAKER",
            "side": "SELL",
        }
        (o,) = await v.open_orders()
        assert (o.client_id, o.side, o.price, o.size, o.ts, o.taker) == (
            "old-3",
            SELL,
            29000.5,
            pytest.approx(0.15),
            T0_MS * 1_000_000,
            False,
        )
        rest.my_trades = [
            my_trade(41, 7, 29000.5, 0.05, 0.01, "USDT", False, True, T0_MS + 1500),
            my_trade(40, 7, 29000.5, 0.01, 0.01, "USDT", False, True, T0_MS + 500),
        ]
        fills = await v.fills_since((T0_MS + 1000) * 1_000_000)
        assert [(f.fill_id, f.client_id, f.side) for f in fills] == [("41", "old-3", SELL)]
        assert rest.of("GET", "/api/v3/myTrades")[0].params["startTime"] == str(T0_MS + 1000)
        # fills_since counts as delivery: the next poll (from T0, the venue returns both) delivers 40 only
        assert [f.fill_id for f in await v.poll_fills()] == ["40"] == [f.fill_id for f in rec.fills]
        v.submit(req("s-1", SELL, 29001.0, 0.1))  # the adopted order is cancelled first
        await v.drain()
        assert rest.of("DELETE", "/api/v3/order")[0].params["orderId"] == "7"
        assert rec.u() == [("old-3", "cancelled"), ("s-1", "accepted")]
        await v.close()

    run(go())


def test_unknown_symbol_and_submit_before_start():
    async def go():
        ex = binance()
        FakeBinance(ex)
        v = CcxtVenue(ex, "BTC/USDX", "s")
        with pytest.raises(RuntimeError):
            v.submit(req("s-1", BUY, 1.0, 1.0))
        with pytest.raises(InputError) as e:
            await v.start()
        assert e.value.field == "symbol" and "BTC/USDT" in str(e.value)
        await v.close()

    run(go())


def test_from_config(monkeypatch):
    with pytest.raises(InputError) as e:
        CcxtVenue.from_config("binanse", SYMBOL, "FB_KEY", "FB_SECRET", False, "s")
    assert e.value.field == "exchange_id" and "did you mean binance" in str(e.value)
    assert "allowed: " in str(e.value) and "kraken" in str(e.value)
    monkeypatch.delenv("FB_KEY", raising=False)
    with pytest.raises(InputError) as e:
        CcxtVenue.from_config("binance", SYMBOL, "FB_KEY", "FB_SECRET", False, "s")
    assert e.value.field == "FB_KEY"
    monkeypatch.setenv("FB_KEY", "key1")
    monkeypatch.setenv("FB_SECRET", "sec1")
    v = CcxtVenue.from_config("binance", SYMBOL, "FB_KEY", "FB_SECRET", True, "s", poll_s=0.5)
    ex = v.exchange
    assert isinstance(ex, ccxt_async.binance) and (ex.apiKey, ex.secret) == ("key1", "sec1")
    assert "testnet" in ex.urls["api"]["private"] and v.poll_s == 0.5
    with pytest.raises(InputError) as e:
        CcxtVenue.from_config("zaif", "BTC/JPY", "FB_KEY", "FB_SECRET", True, "s")  # no sandbox in ccxt
    assert e.value.field == "sandbox"


# ---------------------------------------------------------------- feed


def test_feed_polls_the_book_and_trades():
    async def go():
        ex = binance()
        rest = FakeBinance(ex)
        rest.book = {
            "lastUpdateId": 1,
            "bids": [["30000.00", "1.5"], ["29999.50", "2.0"]],
            "asks": [["30000.01", "0.25"], ["30000.50", "3.0"], ["30001.00", "4.0"]],
        }
        rest.agg_trades = [
            {"a": 11, "p": "30000.01", "q": "0.10", "f": 1, "l": 1, "T": T0_MS + 100, "m": False, "M": True},
            {"a": 10, "p": "29999.00", "q": "0.20", "f": 0, "l": 0, "T": T0_MS - 5000, "m": True, "M": True},
        ]
        feed = CcxtFeed(ex, SYMBOL, poll_s=0.01, trades=True, clock=lambda: T0_MS * 1_000_000)
        assert isinstance(feed, Feed)
        out = []
        async for ev in feed.events():
            out.append(ev)
            if len(out) == 1:  # the next polls return the same book (not re-emitted), then a new one
                rest.book = {"lastUpdateId": 2, "bids": [["30000.00", "1.0"]], "asks": [["30000.02", "0.5"]]}
                rest.agg_trades.append(
                    {"a": 12, "p": "29999.99", "q": "0.30", "f": 2, "l": 2, "T": T0_MS + 200, "m": True, "M": True}
                )
            if len(out) == 4:
                break
        await feed.close()
        quotes = [e for e in out if e.kind == QUOTE]
        trades = [e for e in out if e.kind == TRADE]
        assert [e.seq for e in out] == [0, 1, 2, 3]
        q0 = quotes[0]
        assert (q0.bid_px, q0.bid_sz, q0.ask_px, q0.ask_sz) == (30000.0, 1.5, 30000.01, 0.25)
        np.testing.assert_array_equal(
            q0.depth, [[30000.0, 1.5, 30000.01, 0.25], [29999.5, 2.0, 30000.5, 3.0], [np.nan, 0.0, 30001.0, 4.0]]
        )
        assert q0.ts == T0_MS * 1_000_000  # binance depth has no time: local clock
        assert (quotes[1].bid_sz, quotes[1].ask_px, quotes[1].depth.shape) == (1.0, 30000.02, (1, 4))
        assert [(t.px, t.qty, t.side, t.ts) for t in trades] == [
            (30000.01, 0.10, 1, (T0_MS + 100) * 1_000_000),
            (29999.99, 0.30, -1, (T0_MS + 200) * 1_000_000),
        ]
        assert all(t.bid_px == 30000.0 for t in trades)  # the top of book before the print
        assert rest.of("GET", "/api/v3/depth")[0].params == {"symbol": "BTCUSDT", "limit": "5"}
        assert all(out[i].ts <= out[i + 1].ts for i in range(3))

    run(go())
