"""End to end in real headless Chromium: ``flatbook live`` (monitor mode) → its API → the /live dashboard.

Another bot's market data and fills are posted to the real engine's API; the page must show the
engine's position, zone, hedge recommendation and alerts as they change. The test waits for each
condition on the page (re-finding elements after the page's 500 ms refresh); it has no time budget
(the latency it prints is for the reader; benchmarks measure it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser_util import ROOT, app_server, chromium, free_port, text, wait_for
from flatbook.app import live_page as LP

TOKEN = "e2e-token-0123456789abcdef"


def post(url: str, path: str, obj) -> dict:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(obj).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    cfg = (
        (ROOT / "examples/live/monitor.toml")
        .read_text()
        .replace('path = "results/live/monitor.sqlite"', f'path = "{tmp / "monitor.sqlite"}"')
    )
    (tmp / "monitor.toml").write_text(cfg)
    port = free_port()
    env = {**os.environ, "FLATBOOK_LIVE_TOKEN": TOKEN}
    log = open(tmp / "live.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flatbook", "live", "--config", str(tmp / "monitor.toml"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"flatbook live did not start: {(tmp / 'live.log').read_text()}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(20)
    log.close()


def test_dashboard_follows_the_real_engine(engine, tmp_path, capsys):
    post(engine, "/api/market", {"bid": 99.99, "ask": 100.01, "bid_size": 3.0, "ask_size": 2.0})
    with app_server(tmp_path / "app.log", "--live-url", engine) as app, chromium() as drv:
        drv.get(app + "live")
        wait_for(drv, lambda d: text(d, LP.STATUS_ID).startswith("connected to"), "the page to reach the engine")
        assert text(drv, LP.MODE_ID) == "monitor"
        assert text(drv, LP.ZONE_BADGE_ID) == "none"
        # the other bot buys 13 lots (red zone: 12) and the market moves
        t0 = time.monotonic()
        r = post(
            engine,
            "/api/fills",
            [{"fill_id": f"bot-{i}", "side": "buy", "price": 100.0, "qty": 1.0} for i in range(13)],
        )
        assert r == {"accepted": 13, "duplicates": 0, "position": 13.0}
        post(engine, "/api/market", {"bid": 100.09, "ask": 100.11})
        wait_for(
            drv,
            lambda d: text(d, LP.POSITION_ID) == "+13" and text(d, LP.ZONE_BADGE_ID) == "red",
            "position +13 and the red zone on the page",
        )
        seen_s = time.monotonic() - t0
        # the red zone's action is hedge (examples/live/monitor.toml): band sizing down to |q| = 4
        wait_for(
            drv,
            lambda d: (
                text(d, LP.hedge_id("action")) == "hedge"
                and text(d, LP.hedge_id("side")) == "sell"
                and float(re.sub(r"[^\d.]", "", text(d, LP.hedge_id("qty")))) == pytest.approx(9.0)
            ),
            "the hedge recommendation: sell 9",
        )
        wait_for(
            drv,
            lambda d: any(
                "entered red zone" in e.text for e in d.find_elements("css selector", f"#{LP.ALERTS_ID} li")[:1]
            ),
            "the red-zone alert first in the list",
        )
        # the engine's own state agrees with the page
        state = json.loads(urllib.request.urlopen(engine + "/api/state", timeout=5).read())
        assert state["position"] == 13.0 and state["zone_name"] == "red"
        assert state["hedge"]["qty"] == pytest.approx(9.0)
        # PnL: bought 13 at 100, marked at 100.10
        assert state["pnl"]["total"] == pytest.approx(13 * 0.10, abs=1e-9)
        drv.save_screenshot(str(Path(ROOT / "results" / "test-artifacts" / "live-e2e.png")))
    with capsys.disabled():
        print(f"\nlive e2e: fills posted → page shows them in {seen_s * 1000:.0f} ms")
