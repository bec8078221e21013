"""The live load benchmark's core (benchmarks/bench_live_load.py), small and short, as a functional check.

A real ``flatbook live`` subprocess in monitor mode takes ~1 s of concurrent fill posts, batched
and one per POST: no fill may be lost or doubled (engine count, journal rows after SIGTERM) and
the position must equal the exact sum of the signed quantities. No speed is asserted here (the
benchmark does that).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_live_load as B  # noqa: E402


@pytest.mark.parametrize("batch,clients", [(50, 3), (1, 2)])
def test_no_fill_is_lost_under_concurrent_posts(tmp_path, batch, clients):
    r = B.load_run(seconds=1.0, clients=clients, batch=batch, workdir=tmp_path, seed=batch)
    assert r["fills"] >= clients * batch and r["requests"] * batch == r["fills"]
    assert r["engine_fills"] == r["fills"] and r["duplicate_fills"] == 0
    assert r["journal_rows"] == r["fills"]
    assert r["position"] == pytest.approx(r["expected_position"], abs=1e-9 * r["fills"])
    assert r["exit_code"] == 0
    assert r["checks"] and all(r["checks"].values()), r["checks"]
    # the journal on disk, read independently: one row per posted fill id, none twice
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        ids = {i for (i,) in db.execute("SELECT fill_id FROM fills")}
    db.close()
    assert len(ids) == r["fills"]
    per_client = [sum(1 for i in ids if i.startswith(f"c{c}-")) for c in range(clients)]
    for c, k in enumerate(per_client):  # each client's ids are 0..k-1, without a gap
        assert {f"c{c}-{j}" for j in range(k)} <= ids
    assert sum(per_client) == r["fills"]
