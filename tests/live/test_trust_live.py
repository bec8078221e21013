"""Issue 13 for the live engine: zone hysteresis, a clean stop on SIGTERM/SIGINT, journal faults as one
line, a full disk that stops quoting and resumes identically, the Dash app's 404, the summary's timing key.

Real data: the LOBSTER AAPL sample (``conftest.shared_data``), short replays (a few thousand events).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, prop, shared_data
from flatbook.controls.quote_controls import pack_controls, zone_of
from flatbook.errors import InputError
from flatbook.live.engine import zone_with_hysteresis
from flatbook.live.journal import Journal, JournalError
from flatbook.live.runner import run
from flatbook.live.settings import parse_settings
from flatbook.params import defaults
from flatbook.timing import without_timing

AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def replay(tmp: Path, journal: str = "journal.sqlite", **tables) -> dict:
    """A paper-trading replay of the AAPL sample as a LIVE.toml mapping (API off unless a table sets it)."""
    d = {
        "run": {"policy": "linear-skew"},
        "params": {
            "yellow": 600.0,
            "red": 1200.0,
            "critical": 1800.0,
            "red_action": "skew",
            "critical_action": "flatten",
        },
        "feed": {"kind": "replay", "path": str(shared_data(AAPL)), "stop": 6000},
        "venue": {"kind": "paper", "feed_latency": 0.5, "order_latency": 1.0},
        "journal": {"path": str(tmp / journal), "snapshot_every": 500},
        "api": {"enabled": False},
    }
    for k, v in tables.items():
        d[k] = {**d.get(k, {}), **v}
    return d


def toml(d: dict) -> str:
    """A LIVE.toml mapping (tables of strings, numbers, booleans) as TOML text."""
    out = []
    for tab, kv in d.items():
        out.append(f"[{tab}]")
        for k, v in kv.items():
            out.append(f"{k} = {json.dumps(v) if isinstance(v, (str, bool)) else repr(v)}")
    return "\n".join(out) + "\n"


def run_replay(d: dict, ready=None) -> dict:
    return asyncio.run(run(parse_settings(d), ready=ready, announce=lambda m: None))


# --------------------------------------------------------------------------- zone hysteresis
THRESHOLDS = (8.0, 12.0, 16.0)


@prop(200)
@given(
    path=st.lists(st.floats(0.0, 25.0, allow_nan=False), min_size=1, max_size=40),
    h=st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5]),
)
def test_zone_hysteresis_enters_at_the_threshold_and_leaves_below_its_fraction(path, h):
    cp = pack_controls({**defaults(), "yellow": THRESHOLDS[0], "red": THRESHOLDS[1], "critical": THRESHOLDS[2]})
    z = 0
    for a in path:
        new = zone_with_hysteresis(a, z, THRESHOLDS, h)
        raw = int(zone_of(cp, a))  # the controls' zone (no hysteresis)
        assert new >= raw  # entering is immediate, at the threshold
        if new > raw:  # held above the raw zone only inside the band
            assert new <= z and a >= THRESHOLDS[new - 1] * (1.0 - h)
        if new < z:  # left: below threshold × (1 − h) of every zone left
            assert all(a < THRESHOLDS[k - 1] * (1.0 - h) for k in range(new + 1, z + 1))
        if h == 0.0:
            assert new == raw
        z = new


def test_hysteresis_turns_a_hovering_position_into_one_alert(tmp_path):
    """|q| crossing yellow (8) back and forth by one 0.5 lot (8 ↔ 7.5): h = 0 alerts on every crossing,
    h = 0.1 (leave below 7.2) once."""
    from flatbook.config import build_config
    from flatbook.live.engine import Engine
    from flatbook.live.types import BUY, QUOTE, SELL, Fill, MarketEvent

    counts = {}
    for h in (0.0, 0.1):
        cfg = build_config(
            "replay",
            "linear-skew",
            {"yellow": 8.0, "red": 12.0, "critical": 16.0, "limit": 20.0, "size": 1.0, "tick": 0.01, "s0": 100.0},
            paths=1,
        )
        eng = Engine(cfg, Journal(tmp_path / f"h{h}.sqlite"), None, lot=0.5, zone_hysteresis=h)
        eng.on_market(MarketEvent(0, 1, QUOTE, 99.99, 1.0, 100.01, 1.0))
        eng.on_fills([Fill("f0", "", BUY, 100.0, 8.0, 0.0, 2)])
        for i in range(10):
            eng.on_fills([Fill(f"s{i}", "", SELL, 100.0, 0.5, 0.0, 3 + 2 * i)])
            eng.on_fills([Fill(f"b{i}", "", BUY, 100.0, 0.5, 0.0, 4 + 2 * i)])
        counts[h] = sum(a.kind == "zone" for a in eng.alerts.recent)
        assert eng.state()["zone_name"] == "yellow"
        eng.journal.close()
    assert counts == {0.0: 21, 0.1: 1}


def test_hysteresis_on_a_real_replay(tmp_path):
    """The AAPL replay (first 20,000 events): hysteresis never adds alerts, every 'back to' alert happens
    below threshold × (1 − h), and the trading is unchanged (the zone with hysteresis is the monitor's)."""
    got = {}
    for h in (0.0, 0.5):
        seen = []

        def ready(eng, url, seen=seen):
            seen.append(eng)

        d = replay(tmp_path, f"j{h}.sqlite", feed={"stop": 20_000}, alerts={"zone_hysteresis": h})
        s = run_replay(d, ready)
        eng = seen[0]
        zone = [a for a in eng.alerts.recent if a.kind == "zone"]
        got[h] = (len(zone), s["position"], s["fills"], s["cash"])
        for a in zone:
            if a.message.startswith("back to"):
                q = float(a.message.split("|q| = ")[1].split(" ")[0])
                was = a.message.split("was ")[1].rstrip(")")
                thr = {"yellow": 600.0, "red": 1200.0, "critical": 1800.0}[was]
                assert q < thr * (1 - h), a.message
    assert 0 < got[0.5][0] <= got[0.0][0]
    assert got[0.5][1:] == got[0.0][1:]


@pytest.mark.parametrize("h", [-0.1, 1.0, 1.5, float("nan"), float("inf"), "wide"])
def test_zone_hysteresis_is_validated(tmp_path, h):
    with pytest.raises(InputError, match=r"^alerts\.zone_hysteresis: "):
        parse_settings(replay(tmp_path, alerts={"zone_hysteresis": h}))


# --------------------------------------------------------------------------- SIGTERM / SIGINT
def _state(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/state", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize(
    "sig, flatten", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["SIGTERM", "SIGINT-flatten-on-exit"]
)
def test_a_stop_signal_cancels_journals_and_reports_the_position(tmp_path, sig, flatten):
    """SIGTERM/SIGINT mid-session: resting orders cancelled through the venue, the final state journaled
    (no open order in the engine or at the paper venue), the open position printed (flattened to 0 with
    --flatten-on-exit). The signal goes once the process has reported its start and holds a position."""
    d = replay(tmp_path, feed={"stop": None, "speed": 100.0}, api={"enabled": True, "port": 0})
    d["feed"].pop("stop")
    cfg = tmp_path / "live.toml"
    cfg.write_text(toml(d))
    cmd = [sys.executable, "-m", "flatbook", "live", "--config", str(cfg), "--json"]
    if flatten:
        cmd.append("--flatten-on-exit")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        url = None
        for line in p.stderr:  # the condition: the start-up line with the API's address
            if "API on " in line:
                url = line.split("API on ")[1].split(" ")[0]
                break
        assert url, "flatbook live did not report its start"
        deadline = time.monotonic() + 240  # a safety net, not a budget: the replay runs at 100×
        while _state(url)["position"] == 0.0:
            assert p.poll() is None and time.monotonic() < deadline, "no position was taken"
            time.sleep(0.05)
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err[-2000:]
    s = json.loads(out)
    stop = s["stop"]
    assert stop["signal"] == sig.name and stop["cancelled"] and stop["open_orders"] == 0 == s["open_orders"]
    line = f"stopped by {sig.name}: quotes cancelled"
    assert line in err and f"open position {s['position']:g} lots" in err and "Traceback" not in err
    if flatten:
        assert s["position"] == 0.0 and stop["flattened"]
    else:
        assert s["position"] != 0.0 and "not flattened" in err
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        state = json.loads(db.execute("SELECT state FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()[0])
        cancels = db.execute("SELECT COUNT(*) FROM order_events WHERE reason = 'cancel request'").fetchone()[0]
    assert state["engine"]["open"] == {} and state["venue"]["live_sz"] == [0.0, 0.0]
    assert state["engine"]["q"] == s["position"] and state["engine"]["flattening"] is False
    assert cancels >= 1


# --------------------------------------------------------------------------- journal faults
def _live_cli(cfg: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flatbook", "live", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def _read_only(path: Path) -> None:
    """Make ``path`` unwritable, for root too (the immutable attribute; chmod for anyone else)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
    else:
        path.chmod(0o555 if path.is_dir() else 0o444)


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


def _journal_with_a_session(path: Path) -> None:
    j = Journal(path)
    j.snapshot(0, {"engine": {}})
    for i in range(300):
        j._write1(
            "INSERT INTO rejects (client_id,side,price,size,ts,reason) VALUES (?,?,?,?,?,?)",
            ("x" * 100, 1, 1.0, 1.0, i, "filler"),
        )
    j.close()


FAULTS = ["directory", "not sqlite", "read-only file", "read-only directory", "truncated", "locked"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_journal_fault_is_one_line_naming_the_journal(tmp_path, fault):
    """Each journal fault on opening: JournalError (journal.path) naming the file and what to do, nothing
    changed; the CLI's form (one line, exit 2) is checked once below."""
    path = tmp_path / "journal.sqlite"
    held = None
    protect = None
    if fault == "directory":
        path.mkdir()
        want = "is a directory"
    elif fault == "not sqlite":
        path.write_text("timestamp,price\n1,2\n" * 100)
        want = "is not a SQLite journal"
    elif fault == "read-only file":
        _journal_with_a_session(path)
        protect = path
        want = "cannot write it"
    elif fault == "read-only directory":
        protect = path.parent / "ro"
        protect.mkdir()
        path = protect / "journal.sqlite"
        want = "cannot write it"
    elif fault == "truncated":
        _journal_with_a_session(path)
        os.truncate(path, path.stat().st_size // 2)
        want = "is damaged"
    else:
        held = Journal(path)  # the first engine's journal, held open
        want = "is in use by another process"
    before = sorted(p.name for p in path.parent.iterdir())
    if protect is not None:
        _read_only(protect)
    try:
        with pytest.raises(JournalError) as e:
            Journal(path)
        after = sorted(p.name for p in path.parent.iterdir())
    finally:
        if protect is not None:
            _writable(protect)
        if held is not None:
            held.close()
    msg = str(e.value)
    assert msg.startswith(f"journal.path: {path}") and want in msg and "\n" not in msg
    assert after == before


def test_the_cli_prints_one_line_and_exits_2_on_a_journal_fault(tmp_path):
    (tmp_path / "j").mkdir()
    cfg = tmp_path / "live.toml"
    cfg.write_text(
        f'[feed]\nkind = "replay"\npath = "{shared_data(AAPL)}"\nstop = 100\n'
        f'[journal]\npath = "{tmp_path / "j"}"\n[api]\nenabled = false\n'
    )
    r = _live_cli(cfg)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: journal.path: {tmp_path / 'j'} is a directory: set [journal] "
        f"path to a file inside it (e.g. {tmp_path / 'j' / 'journal.sqlite'})"
    ]


def test_a_second_engine_on_the_same_journal_is_refused(tmp_path):
    """Two `flatbook live` processes on one journal: the second exits 2 at once, the first is unharmed."""
    d = replay(tmp_path, feed={"stop": 3000})
    s_ref = run_replay(replay(tmp_path, "ref.sqlite", feed={"stop": 3000}))
    cfg = tmp_path / "live.toml"
    cfg.write_text(toml(d))
    box, go, done = {}, threading.Event(), threading.Event()

    def ready(eng, url):
        go.set()
        done.wait(300)  # hold the journal while the second process tries

    th = threading.Thread(target=lambda: box.setdefault("s", run_replay(d, ready)))
    th.start()
    assert go.wait(300)
    try:
        r = _live_cli(cfg)
    finally:
        done.set()
        th.join(300)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "is in use by another process" in r.stderr and str(tmp_path / "journal.sqlite") in r.stderr
    assert {k: box["s"][k] for k in ("position", "cash", "fills", "orders")} == {
        k: s_ref[k] for k in ("position", "cash", "fills", "orders")
    }


COMPARED = (
    "events",
    "position",
    "cash",
    "pnl",
    "fills",
    "journal_fills",
    "orders",
    "rejected_orders",
    "duplicate_fills",
)


def test_a_full_disk_stops_quoting_and_a_restart_ends_as_a_clean_run(tmp_path):
    """The journal's disk fills mid-replay (SQLite's max_page_count: the same SQLITE_FULL error): the engine
    stops quoting, cancels its resting orders at the venue and the run ends with a JournalError; after
    'freeing space' (a new connection has no page limit) a restart ends identical to a clean run."""
    clean = run_replay(replay(tmp_path, "clean.sqlite"))
    d = replay(tmp_path, "full.sqlite")
    seen = []

    def ready(eng, url):
        seen.append(eng)
        n = eng.journal.db.execute("PRAGMA page_count").fetchone()[0]
        eng.journal.db.execute(f"PRAGMA max_page_count={n + 40}")

    with pytest.raises(JournalError) as e:
        run_replay(d, ready)
    eng = seen[0]
    msg = str(e.value)
    assert e.value.full and msg.startswith(f"journal.path: {tmp_path / 'full.sqlite'}: the disk is full")
    assert "free space" in msg and "quoting stopped" in msg and f"open position {eng.q:g} lots" in msg
    assert eng.halted and eng.events < clean["events"]
    assert any(a.kind == "journal" and a.level == "critical" for a in eng.alerts.recent)
    # the venue got the cancels (unjournaled): no side of ours rests once they arrive
    assert eng.venue.fifo and all(f[4] == 0.0 for f in list(eng.venue.fifo)[-2:])
    again = run_replay(d)
    assert {k: again[k] for k in COMPARED} == {k: clean[k] for k in COMPARED}


# --------------------------------------------------------------------------- summary and the Dash app
def test_the_summary_keeps_wall_clock_fields_under_timing(tmp_path):
    """Two identical replays: everything outside "timing" is equal (the session id is the journal's)."""
    a = run_replay(replay(tmp_path, "a.sqlite", feed={"stop": 3000}))
    b = run_replay(replay(tmp_path, "b.sqlite", feed={"stop": 3000}))
    assert {"wall_s", "events_per_s", "tick_to_quote", "rss_mb"} <= a["timing"].keys()
    assert not {"wall_s", "events_per_s", "tick_to_quote", "rss_mb"} & a.keys()
    wa, wb = without_timing(a), without_timing(b)
    assert wa.pop("session") != wb.pop("session")
    assert wa == wb and wa["fills"] > 0


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/dash/nope.js",
        "/_dash-component-suites/nope/x.js",
        "/_dash-component-suites/dash/dcc/../../x.js",
        "/_dash-component-suites/dash/deps/react@18.v9_9_9m1.3.min.js",
    ],
)
def test_the_app_answers_404_for_a_bad_component_suite_path(path, caplog):
    from flatbook.app.server import create_app

    app = create_app(warm=False)
    r = app.server.test_client().get(path)
    assert r.status_code == 404
    assert not [x for x in caplog.records if x.levelname == "ERROR"]
    ok = app.server.test_client().get("/_dash-component-suites/plotly/package_data/plotly.min.js")
    assert ok.status_code == 200


def test_a_stop_on_a_live_venue_cancels_at_the_exchange(tmp_path):
    """The stop through a ccxt venue (ccxt's binance class over a fake REST layer, tests/live/test_ccxt_adapter):
    both resting quotes are cancelled at the exchange before the stop reports, and with the flatten an IOC
    order takes q to 0."""
    import math

    from test_ccxt_adapter import CLOCK, SYMBOL, T0_MS, FakeBinance, binance

    from flatbook.config import build_config
    from flatbook.live.adapters.ccxt_adapter import CcxtVenue
    from flatbook.live.engine import Engine
    from flatbook.live.runner import _finish_exit
    from flatbook.live.types import BUY, QUOTE, Fill, MarketEvent

    async def scenario(flatten: bool):
        ex = binance()
        rest = FakeBinance(ex)
        venue = CcxtVenue(ex, SYMBOL, "s", since_ns=T0_MS * 1_000_000, clock=CLOCK, backoff_s=0.005)
        cfg = build_config(
            "replay",
            "linear-skew",
            {
                "s0": 30000.0,
                "tick": 0.01,
                "size": 0.001,
                "limit": 0.01,
                "half_spread": 1.0,
                "yellow": math.inf,
                "red": math.inf,
                "critical": math.inf,
            },
            paths=1,
        )
        eng = Engine(
            cfg, Journal(tmp_path / f"j{flatten}.sqlite"), venue, tick=0.01, lot=0.00001, t0_ns=T0_MS * 1_000_000
        )
        await venue.start(fills=False)
        eng.on_fills([Fill("pre-1", "", BUY, 30000.0, 0.003, 0.0, T0_MS * 1_000_000)])  # q = 0.003 BTC
        eng.on_market(MarketEvent(0, T0_MS * 1_000_000, QUOTE, 30000.0, 1.5, 30000.01, 0.25))
        await venue.drain()
        assert len(rest.open) == 2 and len(eng.open) == 2  # a bid and an ask rest
        info = await _finish_exit(eng, venue, flatten, "SIGTERM")
        await venue.close()
        eng.journal.close()
        return info, rest, eng

    info, rest, eng = asyncio.run(asyncio.wait_for(scenario(False), 60))
    assert rest.open == {} and eng.open == {} and info["cancelled"] and info["open_orders"] == 0
    assert len(rest.of("DELETE", "/api/v3/order")) == 2
    assert info["position"] == pytest.approx(0.003) and "not flattened" in info["message"]
    info, rest, eng = asyncio.run(asyncio.wait_for(scenario(True), 60))
    assert rest.open == {} and info["flattened"] and eng.q == 0.0 and "open position 0 lots" in info["message"]
    (ioc,) = [c for c in rest.of("POST", "/api/v3/order") if c.params.get("timeInForce") == "IOC"]
    assert ioc.params["side"] == "SELL" and ioc.params["quantity"] == "0.003"
