"""The live engine's HTTP API, end to end in process: auth, effects, malformed payloads, reads.

Each test starts the real application with :func:`flatbook.live.runner.run` (settings from
``examples/live/monitor.toml``, a temporary journal, ``port=0``) on its own asyncio loop in a
background thread (:class:`LiveServer`), and talks to it over loopback with a plain
``http.client`` connection, so Hypothesis can drive it example by example. The engine is only
touched on its own loop (:meth:`LiveServer.call`); the journal is read through the engine's
connection while it runs (the journal holds an exclusive SQLite lock) and with ``sqlite3``
once it has stopped.

Quantities are on the monitor config's lot grid (``lot = 0.001``): integers × 0.001.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import http.client
import json
import math
import sqlite3
import threading
import tomllib
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from conftest import shared_data
from flatbook.live import runner
from flatbook.live.settings import parse_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Test-Token-0123456789-abcdef"  # ≥ 16 characters, mixed case
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOT = 0.001
TAPE = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"  # under ../shared/data (conftest.shared_data)
TABLES = ("fills", "orders", "order_events", "rejects")
WRITES = ("/api/fills", "/api/market", "/api/kill", "/api/flatten")

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --------------------------------------------------------------------------- the server
def monitor_settings(tmp_path: Path, **tables):
    """examples/live/monitor.toml with a temporary journal, any free port and the test token."""
    d = tomllib.loads((ROOT / "examples/live/monitor.toml").read_text())
    d["journal"] = {"path": str(tmp_path / "journal.sqlite")}
    d["api"] = {"host": "127.0.0.1", "port": 0, "token": TOKEN}
    for k, v in tables.items():
        d[k] = {**d.get(k, {}), **v}
    return parse_settings(d, base=ROOT)


def trade_settings(tmp_path: Path):
    """A paper-trading replay of the first 3000 AAPL events (examples/live/paper_aapl.toml's policy)."""
    d = tomllib.loads((ROOT / "examples/live/paper_aapl.toml").read_text())
    d["feed"] = {"kind": "replay", "path": str(shared_data(TAPE)), "stop": 3000}
    d["venue"] = {"kind": "paper"}
    d["journal"] = {"path": str(tmp_path / "journal.sqlite")}
    d["api"] = {"host": "127.0.0.1", "port": 0, "token": TOKEN}
    return parse_settings(d, base=ROOT)


class LiveServer:
    """``runner.run(settings, port=0, hold=...)`` on an asyncio loop in a daemon thread."""

    def __init__(self, s, hold: bool = False):
        self.s = s
        self.hold = hold
        self.engine = self.url = self.loop = None
        self.summary = None
        self.failure: BaseException | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(60), "the live engine did not start in 60 s"
        if self.failure is not None:
            raise self.failure
        u = urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._host())
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            self.failure = e
        finally:
            self._ready.set()
            self._done.set()

    async def _host(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(engine, url):
            self.engine, self.url = engine, url
            self._ready.set()

        task = asyncio.create_task(runner.run(self.s, port=0, hold=self.hold, ready=ready))
        waiter = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:  # ended by itself (or failed): nothing to stop
            waiter.cancel()
            self.summary = task.result()
            return
        task.cancel()
        try:
            self.summary = await task
        except asyncio.CancelledError:
            # run() closes its journal only when it returns; a cancelled run leaves that to us
            self.engine.journal.close()

    def stop(self) -> None:
        if self.loop is not None and not self._done.is_set():
            self.loop.call_soon_threadsafe(self._stop.set)
        assert self._done.wait(30), "the live engine did not stop in 30 s"

    # ---- on the engine's loop
    def call(self, fn):
        """``fn()`` run on the server's loop (the engine is not thread-safe)."""
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def go():
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(go)
        return fut.result(10)

    def journal_rows(self) -> dict:
        db = self.engine.journal.db
        return self.call(lambda: {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES})

    # ---- HTTP
    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        """(status, headers, body bytes); ``body``: bytes as is, anything else as JSON (NaN allowed)."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        c = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def post(self, path: str, body=None, headers: dict | None = AUTH):
        status, hdrs, data = self.request("POST", path, body, headers)
        return status, hdrs, json.loads(data) if data else None

    def get_json(self, path: str):
        status, _, data = self.request("GET", path)
        assert status == 200, (path, status, data[:500])
        return json.loads(data)

    def state(self) -> dict:
        return self.get_json("/api/state")

    def stable_state(self) -> dict:
        """/api/state without what changes with the wall clock alone (quote age, alerts' wall times)."""
        s = self.state()
        s["quotes"].pop("age_s")
        for a in s["alerts"]:
            a.pop("wall")
        return s


@pytest.fixture
def monitor(tmp_path):
    srv = LiveServer(monitor_settings(tmp_path)).start()
    yield srv
    srv.stop()


def fill(fid: str, side: str, k: int, price: float = 100.0, **kw) -> dict:
    """A fill of k lots-grid units (qty = k·0.001)."""
    return {"fill_id": fid, "side": side, "price": price, "qty": k * LOT, **kw}


def signed(fills) -> int:
    """Σ side·k in grid units (exact integers)."""
    return sum((1 if f["side"] == "buy" else -1) * round(f["qty"] / LOT) for f in fills)


def prime(srv: LiveServer) -> list[dict]:
    """Give the engine some state (a book, a position, PnL, an alert) through the API."""
    st_, _, body = srv.post("/api/market", {"bid": 99.99, "ask": 100.01, "bid_size": 3.0, "ask_size": 4.0})
    assert st_ == 200, body
    fills = [fill("p1", "buy", 9000, 100.0, fee=0.01), fill("p2", "sell", 500, 100.02), fill("p3", "buy", 250, 99.98)]
    st_, _, body = srv.post("/api/fills", fills)
    assert (st_, body["accepted"], body["duplicates"]) == (200, 3, 0), body
    return fills


# --------------------------------------------------------------------------- auth
def bad_auth_headers() -> list[dict]:
    basic = base64.b64encode(f"flatbook:{TOKEN}".encode()).decode()
    return [
        {},  # no token
        {"Authorization": f"Bearer {'Z' * len(TOKEN)}"},  # wrong token, right length
        {"Authorization": f"Bearer {TOKEN[:-1]}"},  # a prefix
        {"Authorization": f"Bearer {TOKEN}x"},  # an extension
        {"Authorization": f"Bearer {TOKEN.upper()}"},  # case
        {"Authorization": f"Bearer {TOKEN.lower()}"},
        {"Authorization": f"Bearer {TOKEN.swapcase()}"},
        {"Authorization": f"Bearer  {TOKEN}"},  # whitespace
        {"Authorization": f"Bearer\t{TOKEN}"},
        {"Authorization": f"Bearer {TOKEN[:6]} {TOKEN[6:]}"},
        {"Authorization": f"Bearer{TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {basic}"},  # another scheme
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Token {TOKEN}"},
        {"Authorization": TOKEN},
        {"X-Api-Key": TOKEN},  # another header
    ]


VALID_BODY = {
    "/api/fills": fill("auth-1", "buy", 3000, 100.0),
    "/api/market": {"bid": 101.0, "ask": 101.5},
    "/api/kill": {"reason": "auth drill"},
    "/api/flatten": None,
}


def test_writes_without_the_right_token_get_401_and_change_nothing(monitor):
    fills = prime(monitor)
    before, rows = monitor.stable_state(), monitor.journal_rows()
    assert rows["fills"] == 3
    for path in WRITES:
        for h in bad_auth_headers():
            status, hdrs, body = monitor.post(path, VALID_BODY[path], headers=h)
            assert status == 401, (path, h, body)
            assert hdrs["WWW-Authenticate"].startswith("Bearer"), (path, h)
            assert "token" in body["error"], body
            assert monitor.stable_state() == before, (path, h)
            assert monitor.journal_rows() == rows, (path, h)
        # the same request with the right token is accepted: the 401s were about the token only
    status, _, body = monitor.post("/api/fills", VALID_BODY["/api/fills"])
    assert (status, body["accepted"]) == (200, 1)
    fills.append(VALID_BODY["/api/fills"])
    assert monitor.state()["position"] == pytest.approx(signed(fills) * LOT, abs=1e-9)
    assert monitor.post("/api/market", VALID_BODY["/api/market"])[0] == 200
    assert monitor.state()["market"] == {"bid": 101.0, "ask": 101.5, "mid": 101.25}
    assert monitor.post("/api/flatten")[0] == 200
    assert monitor.state()["flattening"] is True
    assert monitor.post("/api/kill", VALID_BODY["/api/kill"])[0] == 200
    s = monitor.state()
    assert (s["killed"], s["kill_reason"]) == (True, "manual: auth drill")
    monitor.stop()
    # the journal on disk: exactly the four accepted fills, nothing from the 401s
    with sqlite3.connect(monitor.s.journal.path) as db:
        got = db.execute("SELECT fill_id, side, qty FROM fills ORDER BY id").fetchall()
    assert [g[0] for g in got] == ["p1", "p2", "p3", "auth-1"]
    assert sum(g[1] * round(g[2] / LOT) for g in got) == signed(fills)


def test_no_token_configured_refuses_every_write(tmp_path, monkeypatch):
    monkeypatch.delenv("FLATBOOK_LIVE_TOKEN", raising=False)
    s = monitor_settings(tmp_path)
    s = s.model_copy(update={"api": s.api.model_copy(update={"token": None})})
    srv = LiveServer(s).start()
    try:
        before = srv.stable_state()
        for path in WRITES:
            for h in (AUTH, {"Authorization": "Bearer "}, {}):
                status, hdrs, _ = srv.post(path, VALID_BODY[path], headers=h)
                assert status == 401 and "WWW-Authenticate" in hdrs, (path, h)
        assert srv.stable_state() == before
        assert srv.journal_rows()["fills"] == 0
    finally:
        srv.stop()


def test_a_non_utf8_authorization_header_gets_401_not_500(monitor, caplog):
    """Header bytes that are not UTF-8 (aiohttp keeps them as surrogate escapes) are no token: 401, nothing
    logged as an error, nothing changed."""
    import logging
    import socket

    caplog.set_level(logging.ERROR)
    before = monitor.stable_state()
    body = json.dumps(VALID_BODY["/api/fills"]).encode()
    for raw in (
        b"Bearer \xff\xfe\xfd",
        b"Bearer " + TOKEN.encode()[:-1] + b"\xc3",
        b"bearer \x80" + TOKEN.encode(),
        b"\xff\xfe " + TOKEN.encode(),
    ):
        with socket.create_connection((monitor.host, monitor.port), timeout=15) as sock:
            sock.sendall(
                b"POST /api/fills HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Authorization: "
                + raw
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            resp = b""
            while chunk := sock.recv(65536):
                resp += chunk
        assert resp.split(b"\r\n", 1)[0] == b"HTTP/1.1 401 Unauthorized", (raw, resp[:300])
    assert monitor.stable_state() == before
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --------------------------------------------------------------------------- effects
SKEW = 0.0005  # examples/live/monitor.toml: price units per lot


def test_a_fill_updates_quotes_zone_and_hedge_advice_at_once(monitor):
    """POST /api/fills, then /api/state: the quotes (skew, centre), the zone and the hedge advice are those of
    the new q at once, with no market data in between (linear skew: centre = mid − skew·q)."""
    assert monitor.post("/api/market", {"bid": 99.99, "ask": 100.01})[0] == 200
    s = monitor.state()
    seq = s["seq"]
    assert (s["quotes"]["skew"], s["zone_name"], s["hedge"]["action"]) == (0.0, "none", "none")
    # monitor.toml: yellow 8, red 12 (action hedge), band sizing 4 lots; zones are left below 0.9 × threshold
    for fid, k, zone, action, qty in (
        ("t1", 5000, "none", "none", 0.0),
        ("t2", 4000, "yellow", "none", 0.0),
        ("t3", 4000, "red", "hedge", 9.0),
        ("t4", -2000, "red", "hedge", 7.0),
        ("t5", -3500, "yellow", "none", 0.0),
        ("t6", -1000, "none", "none", 0.0),
    ):
        assert monitor.post("/api/fills", fill(fid, "buy" if k > 0 else "sell", abs(k)))[0] == 200
        s = monitor.state()
        q = s["position"]
        assert s["seq"] == seq  # no market data arrived in between
        assert s["quotes"]["skew"] == pytest.approx(-SKEW * q, rel=1e-9), (fid, q, s["quotes"])
        assert s["quotes"]["centre"] == pytest.approx(100.0 - SKEW * q, rel=1e-12)
        assert s["quotes"]["bid_size"] > 0 and s["quotes"]["ask"] > s["quotes"]["bid"]
        assert (s["zone_name"], s["hedge"]["action"]) == (zone, action), (fid, q)
        assert s["hedge"]["qty"] == pytest.approx(qty)


def test_a_journal_fault_answers_503_and_applies_nothing(monitor):
    """A full journal (SQLite's page limit: the disk-full error) during POST /api/fills: 503 naming the journal,
    the position unchanged, the engine halted and the run ended with the JournalError."""
    from flatbook.live.journal import JournalError

    assert monitor.post("/api/market", {"bid": 99.99, "ask": 100.01})[0] == 200
    assert monitor.post("/api/fills", fill("ok-1", "buy", 1000))[0] == 200
    db = monitor.engine.journal.db
    monitor.call(lambda: db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}"))
    big = [fill(f"x{i}", "buy", 1, client_id="c" * 120) for i in range(200)]
    status, _, body = monitor.post("/api/fills", big)
    assert status == 503, body
    assert "disk is full" in body["error"] and str(monitor.s.journal.path) in body["error"]
    assert monitor._done.wait(30)  # the run ended on the fault
    assert isinstance(monitor.failure, JournalError) and monitor.failure.full
    assert monitor.engine.q == pytest.approx(1.0) and monitor.engine.fills == 1
    with sqlite3.connect(monitor.s.journal.path) as con:
        assert con.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == 1


def test_fills_move_the_position_by_their_signed_sum(monitor):
    rng = np.random.default_rng(7)
    assert monitor.post("/api/market", {"bid": 99.99, "ask": 100.01})[0] == 200
    posted, n = [], 0
    for b in range(40):
        size = 1 if b % 4 == 0 else int(rng.integers(2, 50))
        batch = []
        for _ in range(size):
            k = int(rng.integers(1, 400))
            side = "buy" if rng.random() < 0.5 else "sell"
            batch.append(
                fill(
                    f"f{n}",
                    side,
                    k,
                    round(100 + 0.01 * int(rng.integers(-5, 6)), 2),
                    fee=round(0.001 * int(rng.integers(-2, 5)), 3),
                    ts=1_700_000_000_000_000_000 + n,
                )
            )
            n += 1
        status, _, body = monitor.post("/api/fills", batch[0] if size == 1 else batch)
        assert (status, body["accepted"], body["duplicates"]) == (200, size, 0), body
        posted += batch
        assert body["position"] == pytest.approx(signed(posted) * LOT, abs=1e-9 * len(posted))
    s = monitor.state()
    assert s["counters"]["fills"] == len(posted) and s["counters"]["duplicate_fills"] == 0
    assert s["position"] == pytest.approx(signed(posted) * LOT, abs=1e-9 * len(posted))
    assert monitor.journal_rows()["fills"] == len(posted)
    # a later mark at mid 100.5 matures every 1 s markout (the fills' ts are in 2023)
    assert monitor.post("/api/market", {"bid": 100.49, "ask": 100.51})[0] == 200
    p = monitor.state()["pnl"]
    sq = [(1 if f["side"] == "buy" else -1) * f["qty"] for f in posted]
    tol = 1e-9 * len(posted) * 100
    cash = -sum(x * f["price"] + f["fee"] for x, f in zip(sq, posted))
    assert p["cash"] == pytest.approx(cash, abs=tol)
    assert p["fees"] == pytest.approx(-sum(f["fee"] for f in posted), abs=tol)
    assert p["spread"] == pytest.approx(sum(x * (100.0 - f["price"]) for x, f in zip(sq, posted)), abs=tol)
    assert p["adverse"] == pytest.approx(sum(sq) * 0.5, abs=tol)
    assert p["total"] == pytest.approx(cash + signed(posted) * LOT * 100.5, abs=tol)


def test_duplicate_fill_ids_are_counted_and_ignored(monitor):
    fills = prime(monitor)
    q = monitor.state()["position"]
    status, _, body = monitor.post("/api/fills", fills[0])  # the same fill again
    assert (status, body["accepted"], body["duplicates"], body["position"]) == (200, 0, 1, q)
    again = dict(fills[1], side="buy", qty=5.0)  # same id, other content: still a duplicate
    status, _, body = monitor.post("/api/fills", [again, fill("new-1", "buy", 7)])
    assert (status, body["accepted"], body["duplicates"]) == (200, 1, 1)
    s = monitor.state()
    assert s["position"] == pytest.approx(q + 7 * LOT, abs=1e-12)
    assert (s["counters"]["fills"], s["counters"]["duplicate_fills"]) == (4, 2)
    assert monitor.journal_rows()["fills"] == 4
    # a batch repeating an id within itself is refused whole
    before = monitor.stable_state()
    status, _, body = monitor.post(
        "/api/fills", [fill("rep", "buy", 1), fill("rep-2", "buy", 1), fill("rep", "sell", 1)]
    )
    assert status == 400 and "fill_id" in body["error"]
    assert monitor.stable_state() == before and monitor.journal_rows()["fills"] == 4


BAD_ITEMS = {
    "qty as a string": ("/api/fills", lambda f: {**f, "qty": "1"}, "qty"),
    "negative price": ("/api/fills", lambda f: {**f, "price": -1.0}, "price"),
    "no side": ("/api/fills", lambda f: {k: v for k, v in f.items() if k != "side"}, "side"),
    "extra key": ("/api/fills", lambda f: {**f, "venue": "x"}, "venue"),
    "crossed book": ("/api/market", lambda m: {**m, "bid": m["ask"]}, "bid"),
    "negative size": ("/api/market", lambda m: {**m, "ask_size": -1.0}, "ask_size"),
}


def _batch(path: str, bad, at: int, n: int = 5) -> list[dict]:
    if path == "/api/fills":
        items = [fill(f"b{i}", "buy" if i % 2 else "sell", 100 + i) for i in range(n)]
    else:
        items = [{"bid": 100.0 + i, "ask": 100.5 + i, "bid_size": 1.0, "ask_size": 2.0} for i in range(n)]
    items[at] = bad(items[at])
    return items


@pytest.mark.parametrize("case", sorted(BAD_ITEMS))
def test_a_batch_with_one_bad_item_applies_nothing(monitor, case):
    path, bad, _ = BAD_ITEMS[case]
    prime(monitor)
    before, rows = monitor.stable_state(), monitor.journal_rows()
    for at in (0, 2, 4):
        status, _, body = monitor.post(path, _batch(path, bad, at))
        assert status == 400 and isinstance(body["error"], str) and body["error"], body
        assert monitor.stable_state() == before
        assert monitor.journal_rows() == rows


@pytest.mark.parametrize("case", sorted(BAD_ITEMS))
def test_a_batch_error_names_the_bad_field(monitor, case):
    """The 400 for a list names the offending item's field, as it does for a single object."""
    path, bad, field = BAD_ITEMS[case]
    status, _, body = monitor.post(path, _batch(path, bad, 2))
    assert status == 400
    assert field in body["error"] and "should be an object" not in body["error"], body["error"]


@pytest.mark.parametrize("path", ["/api/fills", "/api/market"])
def test_an_empty_list_is_refused_as_an_empty_list(monitor, path):
    status, _, body = monitor.post(path, [])
    assert status == 400
    assert "item" in body["error"] and "should be an object" not in body["error"], body["error"]


@pytest.mark.parametrize("key", ["FillInfo", "MarketInfo", "list[0]", "function-x"])
def test_an_extra_key_is_named_whatever_its_name(monitor, key):
    status, _, body = monitor.post("/api/fills", {**fill("x1", "buy", 1), key: 1})
    assert status == 400 and body["error"].startswith(key), body["error"]


# --------------------------------------------------------------------------- fuzzing
FILL_FIELDS = {"fill_id", "side", "price", "qty", "fee", "ts", "client_id"}
MARKET_FIELDS = {"ts", "bid", "ask", "bid_size", "ask_size"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["nan", "inf", "-inf", "NaN", "1e999"])
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def _could_be_valid(path: str, raw: bytes) -> bool:
    """Whether ``raw`` might be a well-formed request for ``path`` (such examples are skipped)."""
    if path == "/api/flatten":
        return raw.strip() in (b"", b"{}")
    if path == "/api/kill" and raw == b"":
        return True
    try:
        v = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    items = v if isinstance(v, list) else [v]
    need = {"/api/fills": {"fill_id", "side", "price", "qty"}, "/api/market": {"bid", "ask"}, "/api/kill": set()}[path]
    allowed = {"/api/fills": FILL_FIELDS, "/api/market": MARKET_FIELDS, "/api/kill": {"reason"}}[path]
    return all(isinstance(x, dict) and need <= x.keys() <= allowed for x in items) and bool(items)


def assert_refused_and_unchanged(srv: LiveServer, path: str, raw: bytes, before: dict, rows: dict) -> dict:
    status, hdrs, data = srv.request("POST", path, raw, AUTH)
    assert status == 400, (path, raw[:300], status, data[:300])
    assert hdrs["Content-Type"].startswith("application/json")
    body = json.loads(data)
    assert isinstance(body["error"], str) and body["error"], body
    assert srv.request("GET", "/healthz")[0] == 200
    assert srv.stable_state() == before, (path, raw[:300])
    assert srv.journal_rows() == rows, (path, raw[:300])
    return body


@FUZZ
@given(
    path=st.sampled_from(WRITES),
    raw=st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.binary(min_size=1, max_size=50).map(lambda b: b'{"fill_id": "' + b + b'"}'),
        st.sampled_from(
            [
                b"\xff\xfe\x00",
                b'{"bid": 1, "ask": 2, "x": "\xc3\x28"}',
                b"[" * 5000,
                b'{"reason": "\\ud800"}',
                b"[]",
                b"{}",
                b"null",
                b"[{}]",
                b"   ",
            ]
        ),
    ),
)
def test_fuzz_malformed_bodies_get_400(monitor, path, raw):
    if not hasattr(monitor, "primed"):
        prime(monitor)
        monitor.primed = (monitor.stable_state(), monitor.journal_rows())
    if _could_be_valid(path, raw):
        return
    assert_refused_and_unchanged(monitor, path, raw, *monitor.primed)


def _huge():
    return st.sampled_from([1e15, 1e300, 10**400, float("inf"), float("-inf"), float("nan")])


WRONG_TYPE = st.sampled_from([None, True, False, [], {}, [1.0], {"v": 1}])
BAD_NUMBER = st.one_of(
    WRONG_TYPE,
    _huge(),
    st.sampled_from(["1", "100.0", "nan", "inf", 0, 0.0, -0.0, -1, -1e-300]),
    st.floats(max_value=0.0, allow_nan=False),
)
FILL_MUTATIONS = {
    "fill_id": st.one_of(WRONG_TYPE, st.integers(), st.just(""), st.text(min_size=129, max_size=140)),
    "side": st.one_of(WRONG_TYPE, st.integers(-2, 2), st.sampled_from(["BUY", "Sell", "b", "", "long", " buy"])),
    "price": BAD_NUMBER,
    "qty": BAD_NUMBER,
    "fee": st.one_of(WRONG_TYPE.filter(lambda v: v is not None), _huge(), st.sampled_from(["0", -1e15, -1e300])),
    "ts": st.one_of(
        WRONG_TYPE.filter(lambda v: v is not None),
        st.integers(max_value=-1),
        st.integers(min_value=2**63, max_value=2**70),
        st.sampled_from([1.5, 1e18, "1", 2**63]),
    ),
    "client_id": st.one_of(WRONG_TYPE, st.integers(), st.text(min_size=129, max_size=140)),
}
MARKET_MUTATIONS = {
    "bid": BAD_NUMBER,
    "ask": BAD_NUMBER,
    "bid_size": st.one_of(WRONG_TYPE, _huge(), st.sampled_from(["1", -1, -1e-9])),
    "ask_size": st.one_of(WRONG_TYPE, _huge(), st.sampled_from(["1", -1, -1e-9])),
    "ts": FILL_MUTATIONS["ts"],
}
REQUIRED = {"/api/fills": ["fill_id", "side", "price", "qty"], "/api/market": ["bid", "ask"]}
extra_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda k: k not in FILL_FIELDS | MARKET_FIELDS
)


@st.composite
def mutated(draw):
    """(path, item, field the error must name): one valid fill or market update with one field broken."""
    path = draw(st.sampled_from(["/api/fills", "/api/market"]))
    i = draw(st.integers(0, 10**6))
    if path == "/api/fills":
        item = fill(
            f"m{i}",
            draw(st.sampled_from(["buy", "sell"])),
            draw(st.integers(1, 10**4)),
            draw(st.floats(0.01, 1e6)),
            fee=draw(st.floats(-1.0, 1.0)),
            ts=draw(st.integers(0, 2**62)),
            client_id=draw(st.text(max_size=10)),
        )
        muts = FILL_MUTATIONS
    else:
        bid = draw(st.floats(0.01, 1e6))
        item = {
            "bid": bid,
            "ask": bid + draw(st.floats(0.01, 10.0)),
            "bid_size": draw(st.floats(0.0, 1e6)),
            "ask_size": draw(st.floats(0.0, 1e6)),
            "ts": draw(st.integers(0, 2**62)),
        }
        muts = MARKET_MUTATIONS
    how = draw(st.sampled_from(["value", "value", "value", "missing", "extra", "crossed"]))
    if how == "missing":
        field = draw(st.sampled_from(REQUIRED[path]))
        del item[field]
    elif how == "extra":
        field = draw(extra_keys)
        item[field] = draw(json_values)
    elif how == "crossed" and path == "/api/market":
        field = "bid"
        item["bid"] = item["ask"] + draw(st.sampled_from([0.0, 0.01, 1.0, 1e6]))
    else:
        field = draw(st.sampled_from(sorted(muts)))
        item[field] = draw(muts[field])
    return path, item, field


@FUZZ
@given(case=mutated(), batch=st.integers(0, 3), at=st.integers(0, 3))
def test_fuzz_one_bad_field_gets_400_naming_it(monitor, case, batch, at):
    if not hasattr(monitor, "primed"):
        prime(monitor)
        monitor.primed = (monitor.stable_state(), monitor.journal_rows())
    path, item, field = case
    if batch == 0:
        body = assert_refused_and_unchanged(monitor, path, json.dumps(item).encode(), *monitor.primed)
        assert field in body["error"], (item, body["error"])
    else:  # the bad item among good ones: nothing of the batch applies
        items = _batch(path, lambda x: x, 0, batch + 1)
        items.insert(min(at, len(items)), item)
        assert_refused_and_unchanged(monitor, path, json.dumps(items).encode(), *monitor.primed)


@pytest.mark.parametrize(
    "path,raw",
    [
        ("/api/kill", b'{"reason": 5}'),
        ("/api/kill", b'{"reason": "x", "force": true}'),
        ("/api/kill", b'{"reason": "' + b"r" * 501 + b'"}'),
        ("/api/kill", b"[]"),
        ("/api/kill", b"null"),
        ("/api/kill", b"\xff"),
        ("/api/flatten", b'{"now": true}'),
        ("/api/flatten", b"[]"),
        ("/api/flatten", b"\xff"),
    ],
)
def test_malformed_kill_and_flatten_bodies_change_nothing(monitor, path, raw):
    prime(monitor)
    assert_refused_and_unchanged(monitor, path, raw, monitor.stable_state(), monitor.journal_rows())
    s = monitor.state()
    assert not s["killed"] and not s["flattening"]


# --------------------------------------------------------------------------- reads
@pytest.mark.parametrize("n", ["bad", "", "0", "-1", "1.5", "1e3", "100001", "99999999999999999999", " 5", "0x10", "²"])
def test_history_rejects_a_bad_n(monitor, n):
    status, hdrs, data = monitor.request("GET", f"/api/history?n={quote(n)}")
    assert status == 400, (n, status, data[:200])
    assert json.loads(data)["error"].startswith("n:")


def test_history_returns_at_most_n_samples(monitor):
    prime(monitor)
    h = monitor.get_json("/api/history?n=5")
    assert set(h) == {"ts", "position", "target", "mid", "bid", "ask", "quote_bid", "quote_ask", "pnl"}
    assert 1 <= len(h["ts"]) <= 5 and all(len(v) == len(h["ts"]) for v in h.values())
    assert h["mid"][-1] == 100.0


def test_metrics_report_the_position_and_the_latency_histogram(monitor):
    fills = prime(monitor)
    assert monitor.post("/api/fills", fill("m-1", "sell", 4321))[0] == 200
    fills.append(fill("m-1", "sell", 4321))
    status, hdrs, data = monitor.request("GET", "/metrics")
    assert status == 200 and hdrs["Content-Type"].startswith("text/plain")
    fam = {f.name: f for f in text_string_to_metric_families(data.decode())}
    s = monitor.state()
    assert s["position"] == pytest.approx(signed(fills) * LOT, abs=1e-9)
    (pos,) = fam["flatbook_position_lots"].samples
    assert pos.value == s["position"]
    assert fam["flatbook_fills"].samples[0].value == s["counters"]["fills"] == 4
    assert fam["flatbook_zone"].samples[0].value == s["zone"]
    buckets = [
        x for x in fam["flatbook_tick_to_quote_seconds"].samples if x.name == "flatbook_tick_to_quote_seconds_bucket"
    ]
    assert len(buckets) >= 2 and buckets[-1].labels["le"] == "+Inf"
    assert b"\nflatbook_tick_to_quote_seconds_bucket{" in data


def test_state_has_the_documented_keys(monitor):
    prime(monitor)
    s = monitor.state()
    assert {
        "mode",
        "session",
        "ts",
        "seq",
        "position",
        "target",
        "limit",
        "zones",
        "zone",
        "zone_name",
        "killed",
        "kill_reason",
        "flattening",
        "market",
        "quotes",
        "pnl",
        "hedge",
        "open_orders",
        "alerts",
        "counters",
    } <= s.keys()
    assert (
        s["mode"] == "monitor"
        and s["zone_name"] == "yellow"
        and s["zones"] == {"yellow": 8.0, "red": 12.0, "critical": 16.0}
    )
    assert {"bid", "ask", "mid"} == s["market"].keys()
    assert {"bid", "ask", "bid_size", "ask_size", "centre", "skew", "half_spread", "age_s"} <= s["quotes"].keys()
    assert {"total", "inventory", "spread", "adverse", "fees", "financing", "cash"} <= s["pnl"].keys()
    assert {"action", "side", "qty"} <= s["hedge"].keys()
    assert {"fills", "duplicate_fills", "rejected_orders", "orders", "events", "journal_errors", "alerts"} <= s[
        "counters"
    ].keys()
    assert s["open_orders"] == [] and s["counters"]["orders"] == 0  # monitor mode sends nothing
    (a,) = s["alerts"]
    assert a.keys() == {"ts", "wall", "level", "kind", "message"} and a["kind"] == "zone"
    assert monitor.get_json("/api/alerts") == s["alerts"]
    assert monitor.get_json("/api/orders") == []
    assert monitor.get_json("/healthz") == {"ok": True, "mode": "monitor", "events": 1}


# --------------------------------------------------------------------------- trade mode
def test_trade_mode_refuses_external_fills_and_market_data(tmp_path):
    srv = LiveServer(trade_settings(tmp_path), hold=True).start()
    try:
        for _ in range(600):  # the replay runs after `ready`: wait for its end
            s = srv.state()
            if s["seq"] == 3000:
                break
            threading.Event().wait(0.05)
        assert s["mode"] == "trade" and s["seq"] == 3000
        before, rows = srv.stable_state(), srv.journal_rows()
        assert rows["orders"] > 0
        for path, body in (
            ("/api/fills", fill("ext-1", "buy", 1000)),
            ("/api/fills", [fill("ext-2", "sell", 1)]),
            ("/api/market", {"bid": 1.0, "ask": 2.0}),
        ):
            status, _, out = srv.post(path, body)
            assert status == 409 and "monitor" in out["error"], (path, out)
            assert srv.post(path, body, headers={})[0] == 401
            assert srv.stable_state() == before and srv.journal_rows() == rows
        status, _, data = srv.request("GET", "/metrics")
        fam = {f.name: f for f in text_string_to_metric_families(data.decode())}
        count = next(
            x.value
            for x in fam["flatbook_tick_to_quote_seconds"].samples
            if x.name == "flatbook_tick_to_quote_seconds_count"
        )
        assert count == srv.call(lambda: srv.engine.latency_samples().size) > 0
        assert fam["flatbook_position_lots"].samples[0].value == before["position"]
        assert math.isfinite(before["pnl"]["total"])
    finally:
        srv.stop()
