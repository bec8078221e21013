"""``flatbook live`` from the command line: a short real replay end to end, and bad input → exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_data

AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"  # under ../shared/data (conftest.shared_data)


def live(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flatbook", "live", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_replay_writes_its_summary(tmp_path):
    cfg = tmp_path / "live.toml"
    cfg.write_text(
        f'[feed]\nkind = "replay"\npath = "{shared_data(AAPL)}"\nstop = 8000\n'
        f'[journal]\npath = "{tmp_path / "j.sqlite"}"\n[api]\nport = 0\n'
    )
    r = live("--config", str(cfg), "--out", str(tmp_path / "out"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["fills"] == s["fills"] > 0 and on_disk["events"] == s["events"] == 8000
    assert s["journal_fills"] == s["fills"] and s["duplicate_fills"] == 0 and s["journal_errors"] == 0
    lat = s["timing"]["tick_to_quote"]  # wall-clock measurements: under "timing"
    assert lat["n"] > 0 and lat["p50_us"] > 0 and s["timing"]["wall_s"] > 0
    # PnL attribution sums to the total
    p = s["pnl"]
    assert p["spread"] + p["adverse"] + p["inventory"] + p["fees"] + p["financing"] == pytest.approx(
        p["total"], abs=1e-6
    )


@pytest.mark.parametrize(
    "body, message",
    [
        ('[venue]\nkind = "paperr"\n', "venue.kind"),
        ("[risk]\nmax_orders = 3\n", "risk.max_orders: unknown key; allowed: max_orders_per_s"),
        ("[params]\nlimitt = 3\n", "params.limitt: unknown parameter"),
        ('[feed]\nkind = "replay"\npath = "no/such.zip"\n', "feed.path: no such file"),
        ('[live]\nmode = "monitor"\n[feed]\nkind = "api"\n', "venue.kind: monitor mode sends no orders"),
        ("not toml [", "--config"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path, body, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body + f'\n[journal]\npath = "{tmp_path / "j.sqlite"}"\n' if "journal" not in body else body)
    r = live("--config", str(cfg), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "j.sqlite").exists()


def test_port_in_use_exits_2_and_leaves_no_journal(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = tmp_path / "live.toml"
        cfg.write_text(
            f'[feed]\nkind = "replay"\npath = "{shared_data(AAPL)}"\nstop = 100\n'
            f'[journal]\npath = "{tmp_path / "j.sqlite"}"\n'
        )
        r = live("--config", str(cfg), "--port", str(port))
    assert r.returncode == 2 and "api.port" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "j.sqlite").exists()
