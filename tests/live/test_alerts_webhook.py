"""Alerts reach the ``[alerts] webhook`` as JSON posts, in order, and a failing webhook never blocks the engine.

A monitor-mode engine (examples/live/monitor.toml: yellow 8, red 12, critical 16 lots) runs with
:func:`flatbook.live.runner.run` as a task on the test's asyncio loop; the webhook is an aiohttp
server on 127.0.0.1 (any free port) on the same loop that records what it is sent. Fills posted to
the API move the position across the zone thresholds and back, then the kill switch is fired.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from flatbook.live import runner
from flatbook.live.alerts import RETRY_BACKOFF_S
from flatbook.live.settings import parse_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "webhook-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALERT_KEYS = {"ts", "wall", "level", "kind", "message"}

# (side, lots) posted one fill at a time, and the alerts each must raise (level, kind, message)
STEPS = [
    ("buy", 9.0, [("warning", "zone", "entered yellow zone (|q| = 9 lots; was none)")]),
    ("buy", 1.5, []),  # 10.5: still yellow
    ("buy", 2.0, [("warning", "zone", "entered red zone (|q| = 12.5 lots; was yellow)")]),
    ("buy", 4.0, [("critical", "zone", "entered critical zone (|q| = 16.5 lots; was red)")]),
    ("sell", 1.0, [("info", "zone", "back to red zone (|q| = 15.5 lots; was critical)")]),
    ("sell", 4.0, [("info", "zone", "back to yellow zone (|q| = 11.5 lots; was red)")]),
    ("sell", 4.0, [("info", "zone", "back to none zone (|q| = 7.5 lots; was yellow)")]),
    ("sell", 25.0, [("critical", "zone", "entered critical zone (|q| = 17.5 lots; was none)")]),  # short side
    ("buy", 17.5, [("info", "zone", "back to none zone (|q| = 0 lots; was critical)")]),
]
KILL = ("critical", "kill_switch", "kill switch: manual: webhook drill (PnL 0)")


def settings_for(tmp_path: Path, webhook: str):
    d = tomllib.loads((ROOT / "examples/live/monitor.toml").read_text())
    d["journal"] = {"path": str(tmp_path / "journal.sqlite")}
    d["api"] = {"host": "127.0.0.1", "port": 0, "token": TOKEN}
    d["alerts"] = {"webhook": webhook, "zone_hysteresis": 0.0}  # STEPS: zones without hysteresis
    return parse_settings(d, base=ROOT)


class Hook:
    """A webhook on 127.0.0.1 recording each POST's JSON; answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.posts: list = []

    async def start(self) -> str:
        async def receive(req: web.Request) -> web.Response:
            self.posts.append(await req.json())
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(status=self.status, text="ok" if self.status < 300 else "broken")

        app = web.Application()
        app.router.add_post("/hook", receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_engine(s):
    """(task, engine, url) once run() has its API up."""
    got: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(runner.run(s, port=0, ready=lambda e, u: got.set_result((e, u))))
    done, _ = await asyncio.wait({task, got}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert got in done, "the live engine did not start"
    eng, url = got.result()
    return task, eng, url


async def stop_engine(task, eng) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        eng.journal.close()


async def until(cond, timeout: float = 10.0) -> None:
    t = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t, "timed out"
        await asyncio.sleep(0.01)


def alerts_total(text: str) -> dict:
    fam = {f.name: f for f in text_string_to_metric_families(text)}
    return {x.labels["kind"]: x.value for x in fam["flatbook_alerts"].samples if x.name == "flatbook_alerts_total"}


def test_webhook_receives_zone_and_kill_alerts_in_order(tmp_path):
    async def scenario():
        hook = Hook()
        url = await hook.start()
        task, eng, api = await start_engine(settings_for(tmp_path, url))
        expected, q = [], 0.0
        try:
            async with aiohttp.ClientSession(headers=AUTH) as http:
                for i, (side, lots, alerts) in enumerate(STEPS):
                    async with http.post(
                        f"{api}/api/fills", json={"fill_id": f"z{i}", "side": side, "price": 100.0, "qty": lots}
                    ) as r:
                        assert r.status == 200, await r.text()
                        q += lots if side == "buy" else -lots
                        assert (await r.json())["position"] == pytest.approx(q, abs=1e-9)
                    expected += alerts
                    await until(lambda: len(hook.posts) == len(expected))
                async with http.post(f"{api}/api/kill", json={"reason": "webhook drill"}) as r:
                    assert r.status == 200
                expected.append(KILL)
                await until(lambda: len(hook.posts) == len(expected))
                await asyncio.sleep(0.3)  # nothing else arrives
                async with http.get(f"{api}/api/state") as r:
                    state = await r.json()
                async with http.get(f"{api}/metrics") as r:
                    metrics = await r.text()
            posts = hook.posts
            assert [(p["level"], p["kind"], p["message"]) for p in posts] == expected
            t_now = time.time()
            for p in posts:
                assert isinstance(p, dict) and p.keys() == ALERT_KEYS
                assert isinstance(p["ts"], int) and p["ts"] > 0
                assert isinstance(p["wall"], float) and t_now - 60 < p["wall"] <= t_now
            assert [p["wall"] for p in posts] == sorted(p["wall"] for p in posts)
            # the same alerts, to the byte, in the API's feed; and counted in /metrics
            assert state["alerts"] == posts
            n_zone = sum(1 for a in expected if a[1] == "zone")
            assert n_zone == 8
            assert alerts_total(metrics) == {"zone": n_zone, "kill_switch": 1}
            assert state["counters"]["alerts"] == len(expected)
            assert (eng.alerts.sent, eng.alerts.failed, eng.alerts.dropped) == (len(expected), 0, 0)
            assert state["killed"] and state["position"] == 0.0
        finally:
            await stop_engine(task, eng)
            await hook.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("broken", ["500", "refused"])
def test_a_failing_webhook_is_retried_counted_and_never_blocks(tmp_path, broken):
    async def scenario():
        hook = Hook(status=500, delay=0.1)
        url = await hook.start()
        if broken == "refused":  # nothing listens there any more
            await hook.stop()
        task, eng, api = await start_engine(settings_for(tmp_path, url))
        waits = []  # the sender's backoff waits, in order (it still really waits)

        async def recorded_sleep(delay):
            waits.append(delay)
            await asyncio.sleep(delay)

        eng.alerts.sleep = recorded_sleep
        try:
            async with aiohttp.ClientSession(headers=AUTH) as http:
                t0 = time.monotonic()
                for i, (side, lots) in enumerate((("buy", 9.0), ("sell", 9.0))):  # two alerts
                    async with http.post(
                        f"{api}/api/fills", json={"fill_id": f"w{i}", "side": side, "price": 100.0, "qty": lots}
                    ) as r:
                        assert r.status == 200
                # while the sender retries (0.2 s, 0.4 s, 0.8 s backoff per alert) the API keeps answering:
                # a blocked engine would answer at most once or twice before both failures are counted
                slowest, n = 0.0, 0
                while eng.alerts.failed < 2:
                    assert time.monotonic() - t0 < 20, "the webhook failures were never counted"
                    t = time.monotonic()
                    async with http.post(
                        f"{api}/api/fills", json={"fill_id": f"x{n}", "side": "buy", "price": 100.0, "qty": 0.001}
                    ) as r:
                        assert r.status == 200
                    async with http.get(f"{api}/healthz") as r:
                        assert r.status == 200
                    slowest = max(slowest, time.monotonic() - t)
                    n += 1
                    await asyncio.sleep(0.02)
                async with http.get(f"{api}/api/state") as r:
                    state = await r.json()
            assert n >= 5, (n, slowest)  # answered during the retries (latency printed, not asserted)
            print(f"slowest API answer during the webhook retries: {slowest * 1e3:.0f} ms over {n} requests")
            assert waits == [*RETRY_BACKOFF_S, *RETRY_BACKOFF_S]  # both alerts waited out their retries
            assert (eng.alerts.sent, eng.alerts.failed, eng.alerts.dropped) == (0, 2, 0)
            assert state["counters"]["fills"] == 2 + n
            assert state["position"] == pytest.approx(n * 0.001, abs=1e-9)
            assert [a["message"] for a in state["alerts"]] == [
                "entered yellow zone (|q| = 9 lots; was none)",
                "back to none zone (|q| = 0 lots; was yellow)",
            ]
            if broken == "500":  # each alert was tried 3 times, in order
                assert [p["message"][:7] for p in hook.posts] == ["entered"] * 3 + ["back to"] * 3
                assert all(p == hook.posts[0] for p in hook.posts[:3])
                assert all(p == hook.posts[3] for p in hook.posts[3:])
        finally:
            await stop_engine(task, eng)
            if broken == "500":
                await hook.stop()

    asyncio.run(scenario())
