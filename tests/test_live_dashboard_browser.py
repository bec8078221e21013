"""The live dashboard (``/live`` of ``flatbook app``) in real headless Chromium, against a fake engine.

The fake engine is the live engine's JSON API (``/api/state``, ``/api/history``) served by the
standard library's http.server in a thread, with values the tests change; the app runs as
``flatbook app --live-url <fake engine>`` in a subprocess (helpers in browser_util.py). The
end-to-end test against the real engine lives elsewhere. A few fast checks of the page's
pure functions and of ``--live-url`` come first.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait
from typer.testing import CliRunner

import flatbook.cli.app_cmd as app_cmd
from browser_util import (
    ARTIFACTS,
    RENDERING,
    WAIT_S,
    By,
    app_server,
    chromium,
    free_port,
    text,
    wait_for,
)
from flatbook.app import layout as L
from flatbook.app import live_page as LP
from flatbook.cli import root as cli_app

T0 = 1_714_570_200_000_000_000  # 2024-05-01 13:30:00 UTC, ns
STEP_NS = 100_000_000


def base_state() -> dict:
    return {
        "mode": "trade",
        "session": "test-session",
        "ts": T0,
        "seq": 40,
        "position": 3.0,
        "target": 0.0,
        "limit": 30.0,
        "zones": {"yellow": 10.0, "red": 20.0, "critical": 25.0},
        "zone": 0,
        "zone_name": "none",
        "killed": False,
        "market": {"bid": 99.9, "ask": 100.1, "mid": 100.0},
        "quotes": {
            "bid": 99.95,
            "ask": 100.04,
            "bid_size": 1.0,
            "ask_size": 1.0,
            "centre": 99.995,
            "skew": -0.005,
            "half_spread": 0.045,
            "age_s": 0.3,
        },
        "pnl": {"total": 1.5, "spread": 2.0, "adverse": -0.5, "inventory": 0.125, "fees": -0.125, "financing": 0.0},
        "hedge": {"action": "none", "side": None, "qty": 0.0, "method": "none", "reason": "inside the yellow zone"},
        "open_orders": [{"client_id": "test-session-7", "side": "buy", "price": 99.95, "size": 1.0}],
        "alerts": [
            {"ts": T0 - 5 * STEP_NS, "wall": 1.7e9, "level": "info", "kind": "start", "message": "engine started"}
        ],
        "counters": {"fills": 4, "duplicate_fills": 0, "rejected_orders": 0, "orders": 12},
    }


def base_history(n: int = 40) -> dict:
    pos = [min(i // 10, 3) * 1.0 for i in range(n)]
    return {
        "ts": [T0 - (n - 1 - i) * STEP_NS for i in range(n)],
        "position": pos,
        "target": [0.0] * n,
        "mid": [100.0] * n,
        "bid": [99.9] * n,
        "ask": [100.1] * n,
        "quote_bid": [None if i < 3 else 99.95 for i in range(n)],
        "quote_ask": [None if i < 3 else 100.04 for i in range(n)],
        "pnl": [i * 1.5 / n for i in range(n)],
    }


class FakeEngine:
    """The live engine's GET API on a loopback port; counts the /api/state requests."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.state_requests = 0
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.state, self.history = base_state(), base_history()

    def step(self, alert: dict | None = None, **changes) -> int:
        """One engine event: apply ``changes`` to the state, append a history point; returns the new seq."""
        with self.lock:
            s, h = self.state, self.history
            s.update(copy.deepcopy(changes))
            s["seq"] += 1
            s["ts"] += STEP_NS
            if alert:
                s["alerts"] = (s["alerts"] + [dict(alert, ts=s["ts"], wall=time.time())])[-100:]
            point = {
                "ts": s["ts"],
                "position": s["position"],
                "target": s["target"],
                "mid": s["market"]["mid"],
                "bid": s["market"]["bid"],
                "ask": s["market"]["ask"],
                "quote_bid": s["quotes"]["bid"],
                "quote_ask": s["quotes"]["ask"],
                "pnl": s["pnl"]["total"],
            }
            for k, v in point.items():
                h[k] = (h[k] + [v])[-600:]
            return s["seq"]

    def _answer(self, path: str) -> bytes | None:
        with self.lock:
            if path == "/api/state":
                self.state_requests += 1
                return json.dumps(self.state).encode()
            if path == "/api/history":
                return json.dumps(self.history).encode()
        return None

    def start(self) -> None:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = engine._answer(urllib.parse.urlsplit(self.path).path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


# --------------------------------------------------------------------------- fast checks (no browser)

runner = CliRunner()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "127.0.0.1:8765",
        "ftp://127.0.0.1:8765",
        "http://",
        "http://h:0",
        "http://h:70000",
        "http://bad host:1",
        "http://u:p@h:1",
        "http://h:1/?a=1",
    ],
)
def test_app_command_rejects_a_bad_live_url(url):
    r = runner.invoke(cli_app.app, ["app", "--live-url", url])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --live-url:"), r.stderr


def test_live_url_accepts_http_urls():
    assert app_cmd.DEFAULT_LIVE_URL == LP.DEFAULT_LIVE_URL
    for raw, want in [
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://localhost:9000", None),
        ("https://engine.example.com/desk1", None),
        ("http://[::1]:8765", None),
    ]:
        assert app_cmd.check_live_url(raw) == (want or raw)
    assert "--live-url" in runner.invoke(cli_app.app, ["app", "--help"]).stdout


def test_refresh_without_an_engine_reports_it():
    url = f"http://127.0.0.1:{free_port()}"
    out = LP.refresh(url)
    assert out[(LP.STATUS_ID, "children")].startswith(f"live engine not reachable at {url}")
    assert set(out) < set(LP.OUTPUTS)


def test_view_tolerates_a_partial_state():
    out = LP.view("http://x", {"seq": 1}, {})
    assert out[(LP.POSITION_ID, "children")] == "—" and out[(LP.ZONE_BADGE_ID, "children")] == "unknown"
    assert set(out) == set(LP.OUTPUTS)


# --------------------------------------------------------------------------- browser fixtures


@pytest.fixture(scope="module")
def engine():
    eng = FakeEngine()
    eng.start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    with app_server(tmp_path_factory.mktemp("app") / "server.log", "--live-url", engine.url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as drv:
        yield drv


GRAPHS = (LP.POSITION_GRAPH_ID, LP.QUOTES_GRAPH_ID, LP.PNL_GRAPH_ID)


def trace_y(drv, graph_id: str, i: int = 0) -> list:
    return (
        drv.execute_script(
            "const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
            "return gd && gd.data && gd.data[arguments[1]] ? gd.data[arguments[1]].y : null;",
            graph_id,
            i,
        )
        or []
    )


def first_alert(drv) -> str:
    items = drv.find_elements(By.CSS_SELECTOR, f"#{LP.ALERTS_ID} li")
    return items[0].text if items else ""


@pytest.fixture
def live(server, engine, browser):
    """/live freshly loaded against the fake engine in its base state, every panel rendered."""
    if not engine.running:
        engine.start()
    engine.reset()
    browser.get(server + "live")
    wait_for(
        browser,
        lambda d: (
            text(d, LP.POSITION_ID) == "+3" and all(len(trace_y(d, g)) == len(engine.history["ts"]) for g in GRAPHS)
        ),
        "the live page to render",
    )
    return browser


def eventually(drv, check, what: str) -> None:
    """Run ``check(drv)`` (assertions on elements it finds afresh) until it passes: the page re-renders every
    500 ms, so an element found once may be replaced before it is read. A failure after ``WAIT_S`` re-raises
    the last assertion (the bound only stops a hang; it is no time budget)."""
    last: list[BaseException] = []

    def ok(d):
        try:
            check(d)
            return True
        except (AssertionError, *RENDERING) as e:
            last[:] = [e]
            return False

    try:
        WebDriverWait(drv, WAIT_S, poll_frequency=0.05).until(ok)
    except TimeoutException:
        if last:
            raise AssertionError(f"{what}: {last[0]!r}") from last[0]
        raise


def screenshot(drv, name: str) -> None:
    path = ARTIFACTS / f"live-{name}.png"
    assert drv.save_screenshot(str(path)), f"could not save {path}"


# --------------------------------------------------------------------------- browser tests


def test_live_page_renders_every_panel(live, server, engine):
    # every check finds its elements afresh and is retried until the page has settled (it refreshes every
    # 500 ms: an element found before a refresh is stale after it)
    def panels(d):
        for pid in LP.PANEL_IDS:
            panel = d.find_element(By.ID, pid)
            assert panel.is_displayed() and panel.find_element(By.TAG_NAME, "h3").text.strip(), pid

    eventually(live, panels, "every panel shown with its heading")

    def header(d):
        assert text(d, LP.STATUS_ID).startswith(f"connected to {engine.url}")
        assert (text(d, LP.SEQ_ID), text(d, LP.TARGET_ID), text(d, LP.LIMIT_ID)) == ("40", "+0", "±30")

    eventually(live, header, "the status line")

    # (1) position: zone bands (3 per side) and the ± limit; units on the axes
    def bands(d):
        shapes = d.execute_script(
            f"return document.querySelector('#{LP.POSITION_GRAPH_ID} .js-plotly-plot').layout.shapes.map(s => s.type)"
        )
        assert shapes.count("rect") == 6 and shapes.count("line") == 2, shapes

    eventually(live, bands, "the zone bands and limit lines")

    def titles(d, gid: str, axis: str) -> str:
        return " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, f"#{gid} .g-{axis}title"))

    def axes(d):
        assert "lots" in titles(d, LP.POSITION_GRAPH_ID, "y")
        assert "price units" in titles(d, LP.QUOTES_GRAPH_ID, "y") and "price units" in titles(d, LP.PNL_GRAPH_ID, "y")
        assert all("time" in titles(d, g, "x") for g in GRAPHS)

    eventually(live, axes, "the axis titles with units")

    # (2) quotes, (3) PnL attribution, (4) hedge, zone and kill switch, (5) alerts
    def panels_content(d):
        assert text(d, LP.quote_id("bid")) == "99.95" and text(d, LP.quote_id("mid")) == "100"
        assert text(d, LP.ORDERS_ID).startswith("buy 1 lots @ 99.95")
        assert [text(d, LP.pnl_id(p)) for p in LP.PNL_PARTS] == ["+1.5", "+2", "-0.5", "+0.125", "-0.125", "+0"]
        assert text(d, LP.ZONE_BADGE_ID) == "none" and text(d, LP.KILLED_ID) == "not killed"
        assert text(d, LP.HEDGE_SUMMARY_ID) == "No hedge needed"
        assert text(d, LP.hedge_id("reason")) == "inside the yellow zone"
        assert "engine started" in first_alert(d)

    eventually(live, panels_content, "the quotes, PnL, hedge, zone and alert panels")
    # everything from the app's own origin
    urls = live.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("plotly" in u for u in urls)
    assert not [u for u in urls if not u.startswith(server)], urls
    screenshot(live, "initial")


def test_live_page_follows_the_engine(live, engine, capsys):
    n0, t0 = engine.state_requests, time.monotonic()
    # the page polls the engine by itself (a condition, not a rate: the machine may be loaded)
    wait_for(live, lambda d: engine.state_requests - n0 >= 3, "three /api/state polls from the page")
    rate = (engine.state_requests - n0) / (time.monotonic() - t0)

    times = []
    t = time.monotonic()
    seq = engine.step(
        position=-21.5,
        target=-10.0,
        zone=2,
        zone_name="red",
        hedge={"action": "hedge", "side": "buy", "qty": 11.5, "method": "taker", "reason": "position in the red zone"},
        alert={"level": "warning", "kind": "zone", "message": "zone red: position -21.5 lots"},
    )
    wait_for(
        live,
        lambda d: (
            text(d, LP.POSITION_ID) == "-21.5"
            and text(d, LP.ZONE_BADGE_ID) == "red"
            and "zone red: position -21.5 lots" in first_alert(d)
        ),
        "the red-zone update",
    )
    times.append(time.monotonic() - t)

    def red(d):
        assert "zone-red" in d.find_element(By.ID, LP.ZONE_BADGE_ID).get_attribute("class")
        assert text(d, LP.SEQ_ID) == str(seq)
        assert text(d, LP.HEDGE_SUMMARY_ID) == "Hedge: buy 11.5 lots"
        assert "engine started" in d.find_elements(By.CSS_SELECTOR, f"#{LP.ALERTS_ID} li")[-1].text

    eventually(live, red, "the red zone's badge, hedge and alerts")
    wait_for(live, lambda d: trace_y(d, LP.POSITION_GRAPH_ID)[-1:] == [-21.5], "the position graph")
    screenshot(live, "red-zone")

    t = time.monotonic()
    engine.step(
        position=-27.0,
        zone=3,
        zone_name="critical",
        killed=True,
        alert={"level": "critical", "kind": "kill", "message": "kill switch: critical zone"},
    )
    wait_for(
        live,
        lambda d: (
            text(d, LP.POSITION_ID) == "-27"
            and text(d, LP.ZONE_BADGE_ID) == "critical"
            and text(d, LP.KILLED_ID) == "KILLED"
            and "kill switch" in first_alert(d)
        ),
        "the critical-zone update",
    )
    times.append(time.monotonic() - t)
    wait_for(
        live,
        lambda d: "alert-critical" in d.find_element(By.CSS_SELECTOR, f"#{LP.ALERTS_ID} li").get_attribute("class"),
        "the critical alert's style",
    )
    with capsys.disabled():
        print(
            f"\nlive dashboard: {rate:.2f} state polls/s; engine change → page shown in "
            + ", ".join(f"{x * 1000:.0f} ms" for x in times)
        )


def test_explainer_still_served_at_root(live, server):
    live.find_element(By.ID, LP.NAV_EXPLAINER_ID).click()
    wait_for(
        live,
        lambda d: (
            d.find_elements(By.ID, L.readout_id("bid"))
            and text(d, L.readout_id("bid")) not in ("", "…")
            and d.find_elements(By.CSS_SELECTOR, f"#{L.QUOTE_GRAPH_ID} .main-svg")
        ),
        "the explainer",
    )
    assert live.current_url == server
    live.find_element(By.ID, L.NAV_LIVE_ID).click()
    wait_for(
        live,
        lambda d: d.find_elements(By.ID, LP.POSITION_ID) and text(d, LP.POSITION_ID) == "+3",
        "the live page again",
    )


def test_unreachable_engine_is_reported(live, engine):
    engine.stop()
    try:
        wait_for(
            live,
            lambda d: text(d, LP.STATUS_ID).startswith(f"live engine not reachable at {engine.url}"),
            "the not-reachable status",
        )

        def down(d):
            assert "status-down" in d.find_element(By.ID, LP.STATUS_ID).get_attribute("class")
            assert "stale" in d.find_element(By.ID, LP.BODY_ID).get_attribute("class")
            assert text(d, LP.POSITION_ID) == "+3"  # the last values stay, dimmed

        eventually(live, down, "the dimmed last values")
        screenshot(live, "unreachable")
    finally:
        engine.start()
    wait_for(live, lambda d: text(d, LP.STATUS_ID).startswith("connected to"), "the reconnection")
