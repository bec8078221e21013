"""The monitor's HTTP API (aiohttp), bound to 127.0.0.1 by default.

Reads (no token): ``GET /api/state`` (position, target, zone, quotes, PnL with
attribution, hedge recommendation, open orders, recent alerts, counters),
``GET /api/history?n=600``, ``GET /api/alerts``, ``GET /api/orders``,
``GET /healthz``, ``GET /metrics`` (Prometheus text format).

Writes (``Authorization: Bearer <token>``; a missing or wrong token gets 401 and
changes nothing): ``POST /api/fills`` (monitor mode: one fill or a list, all or
nothing), ``POST /api/market`` (monitor mode: one top-of-book update or a list),
``POST /api/kill`` (the kill switch), ``POST /api/flatten``. A malformed body
gets 400 with the reason and changes nothing; a list is validated whole before
any of it is applied.

A journal fault (e.g. a full disk) answers 503 with the reason: the engine
halts (nothing of the request is applied) and the run ends.

Fill: {"fill_id": str, "side": "buy"|"sell", "price": > 0, "qty": > 0,
"fee": the contract's settlement currency, i.e. price units for a linear contract and
the base asset for an inverse one (default 0), "ts": ns (default now), "client_id": str}.
``/api/state`` names the contract (``contract``) and gives the PnL in that currency, with
``pnl.total_quote`` its value in the price currency.
Market: {"ts": ns (default now), "bid": > 0, "ask": > bid, "bid_size": ≥ 0,
"ask_size": ≥ 0}.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .journal import JournalError
from .types import BUY, QUOTE, SELL, Fill, MarketEvent

MAX_BODY = 16 * 1024 * 1024
MAX_BATCH = 100_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Pos = Annotated[float, Field(gt=0.0, lt=1e15, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0.0, lt=1e15, allow_inf_nan=False)]


class FillIn(_In):
    fill_id: str = Field(min_length=1, max_length=128)
    side: Literal["buy", "sell"]
    price: Pos
    qty: Pos
    fee: Annotated[float, Field(gt=-1e15, lt=1e15, allow_inf_nan=False)] = 0.0
    ts: int | None = Field(default=None, ge=0, lt=2**63)
    client_id: str = Field(default="", max_length=128)


class MarketIn(_In):
    ts: int | None = Field(default=None, ge=0, lt=2**63)
    bid: Pos
    ask: Pos
    bid_size: NonNeg = 0.0
    ask_size: NonNeg = 0.0

    @model_validator(mode="after")
    def _uncrossed(self):
        if not self.bid < self.ask:
            raise ValueError(f"bid ({self.bid}) must be below ask ({self.ask})")
        return self


class KillIn(_In):
    reason: str = Field(default="manual", max_length=500)


FILL, FILL_LIST = TypeAdapter(FillIn), TypeAdapter(Annotated[list[FillIn], Field(min_length=1, max_length=MAX_BATCH)])
MARKET, MARKET_LIST = (
    TypeAdapter(MarketIn),
    TypeAdapter(Annotated[list[MarketIn], Field(min_length=1, max_length=MAX_BATCH)]),
)
KILL = TypeAdapter(KillIn)
FILLS, MARKETS = (FILL, FILL_LIST), (MARKET, MARKET_LIST)


def _json(obj, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status=status, content_type="application/json"
    )


def _bad(reason: str, status: int = 400) -> web.Response:
    return _json({"error": reason}, status)


def _reason(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc or 'body'}: {err['msg']}"


def build_app(engine, token: str | None) -> web.Application:
    """The API's aiohttp application for ``engine``. ``token`` None: every mutating call gets 401."""
    app = web.Application(client_max_size=MAX_BODY)
    expected = token.encode() if token else None

    def authorised(req: web.Request) -> bool:
        h = req.headers.get("Authorization", "")
        if expected is None or h[:7].lower() != "bearer ":  # the scheme is case-insensitive (RFC 9110)
            return False
        try:  # aiohttp decodes header bytes as UTF-8 with surrogate escapes: non-UTF-8 is no token
            got = h[7:].encode()
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(got, expected)

    async def body(req: web.Request, adapters):
        """The body validated by ``adapters`` = (one object, a list) or (one object,); else a 400 response."""
        raw = await req.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            try:  # the standard library reads integers beyond a double's range and NaN/Infinity,
                data = json.loads(raw)  # which the validation then refuses naming the field
            except (ValueError, RecursionError):
                return None, _bad(f"body: not valid JSON ({e})")
        if isinstance(data, list) and len(adapters) > 1:
            adapter = adapters[1]
        elif isinstance(data, dict):
            adapter = adapters[0]
        else:
            kinds = "an object or a list of objects" if len(adapters) > 1 else "an object"
            return None, _bad(f"body: must be {kinds}; got {type(data).__name__}")
        try:
            return adapter.validate_python(data), None
        except ValidationError as e:
            return None, _bad(_reason(e))

    def halted() -> web.Response:
        return _bad(f"the engine has halted: {engine.halted}", 503)

    def unauthorised() -> web.Response:
        r = _bad("missing or wrong bearer token (Authorization: Bearer <token>)", 401)
        r.headers["WWW-Authenticate"] = 'Bearer realm="flatbook"'
        return r

    async def state(req):
        return _json(engine.state())

    async def history(req):
        raw = req.query.get("n", "600")
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
            return _bad(f"n: must be an integer from 1 to 100000; got {raw!r}")
        return _json(engine.history_view(int(raw)))

    async def alerts(req):
        return _json([a.as_dict() for a in engine.alerts.recent])

    async def orders(req):
        return _json(engine.open_orders())

    async def health(req):
        return _json({"ok": True, "mode": engine.mode, "events": engine.events})

    async def metrics(req):
        return web.Response(body=engine.metrics.render(), content_type="text/plain", charset="utf-8")

    async def external(req, what: str, adapters):
        """A monitor-mode ingestion: the token, the mode, then the body."""
        if not authorised(req):
            return None, unauthorised()
        if engine.mode != "monitor":
            return None, _bad(f'{what} accepted in monitor mode only ([live] mode = "monitor")', 409)
        return await body(req, adapters)

    async def fills(req):
        parsed, err = await external(req, "external fills are", FILLS)
        if err is not None:
            return err
        items = parsed if isinstance(parsed, list) else [parsed]
        ids = [f.fill_id for f in items]
        if len(set(ids)) != len(ids):
            return _bad("fill_id: repeated within the batch")
        lot = engine.lot
        for i, f in enumerate(items):
            if abs(f.qty / lot - round(f.qty / lot)) > 1e-9 * max(1.0, f.qty / lot):
                where = f"{i}.qty" if isinstance(parsed, list) else "qty"
                return _bad(f"{where}: {f.qty!r} is not a multiple of the lot size {lot:g} ([live] lot)")
        now = time.time_ns()
        batch = [
            Fill(
                f.fill_id,
                f.client_id,
                BUY if f.side == "buy" else SELL,
                f.price,
                f.qty,
                f.fee,
                now if f.ts is None else f.ts,
            )
            for f in items
        ]
        if engine.halted:
            return halted()
        try:
            applied = engine.on_fills(batch)
        except JournalError as e:  # nothing of the batch was applied (journaled first, all or nothing)
            engine.halt(engine.last_ts or now, e)
            return halted()
        n = sum(applied)
        return _json({"accepted": n, "duplicates": len(applied) - n, "position": engine.q})

    async def market(req):
        parsed, err = await external(req, "market data is", MARKETS)
        if err is not None:
            return err
        items = parsed if isinstance(parsed, list) else [parsed]
        now = time.time_ns()
        if engine.halted:
            return halted()
        try:
            for m in items:
                engine.on_market(
                    MarketEvent(
                        engine.events, now if m.ts is None else m.ts, QUOTE, m.bid, m.bid_size, m.ask, m.ask_size
                    )
                )
        except JournalError as e:
            engine.halt(engine.last_ts or now, e)
            return halted()
        return _json({"accepted": len(items), "quotes": engine.quote, "zone": engine.zone, "hedge": engine.hedge})

    async def kill(req):
        if not authorised(req):
            return unauthorised()
        parsed, err = await body(req, (KILL,)) if req.can_read_body else (KillIn(), None)
        if err is not None:
            return err
        engine.kill(engine.last_ts or time.time_ns(), f"manual: {parsed.reason}")
        return _json({"killed": True})

    async def flatten(req):
        if not authorised(req):
            return unauthorised()
        if req.can_read_body and (await req.read()).strip() not in (b"", b"{}"):
            return _bad("body: must be empty or {}")
        if not engine.flattening:
            engine.start_flatten(engine.last_ts or time.time_ns(), "manual flatten")
        return _json({"flattening": True})

    app.router.add_get("/api/state", state)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/api/orders", orders)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/fills", fills)
    app.router.add_post("/api/market", market)
    app.router.add_post("/api/kill", kill)
    app.router.add_post("/api/flatten", flatten)
    return app
