"""Sweeps of a user's own policy on Dask workers (issue 14 §2), and a worker's first compilation.

The workers of a sweep never loaded the user's policy file: each task carries the policy (the
file's text, or the policy pickled by value when no file defines it), keyed by its SHA-256, and
the worker loads it before its first point. The numbers must equal an in-process run of the same
points. The clusters are real :class:`distributed.LocalCluster` processes on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import flatbook
from flatbook.errors import InputError
from flatbook.policies.loader import load_policies
from flatbook.policies.registry import register
from flatbook.sweep import runner as SR

COMPARED = (
    "pnl_mean",
    "pnl_std",
    "pnl_se",
    "final_q_mean",
    "final_q_std",
    "q_std_mean",
    "es_95",
    "var_95",
    "spread_given_up_mean",
    "fills_mean",
    "max_abs_q_mean",
)

# a linear skew scaled by {f}: an edit of the file changes f, and so every quote
SRC = """
from flatbook.policies import Param, policy


@policy(
    params={{
        "w_half": Param(unit="price units", default=0.6, ge=0, doc="half-spread"),
        "w_skew": Param(unit="price units per lot", default=0.02, ge=0, doc="linear skew per lot"),
    }}
)
def {name}(p, t, tau, s, q):
    return p.w_half + {f} * p.w_skew * q, p.w_half - {f} * p.w_skew * q
"""


def write_policy(path: Path, name: str, f: float = 1.0) -> Path:
    path.write_text(textwrap.dedent(SRC.format(name=name, f=repr(f))))
    return path


def figures(row: dict) -> dict:
    return {k: row[k] for k in COMPARED}


def in_process(points: list[SR.Point]) -> list[dict]:
    """The rows of ``points`` simulated here, one after another (no cluster)."""
    return [SR.simulate_point(p.spec()) for p in points]


@pytest.fixture(scope="module")
def client():
    """One local cluster of one worker process for the module (started once, closed once)."""
    with SR.dask_client(workers=1) as c:
        c.wait_for_workers(1, timeout=120)
        yield c


def test_sweep_of_a_policy_file_on_workers_equals_in_process(tmp_path):
    """flatbook.sweep with a policy loaded from a file, on a local cluster the runner starts: the same
    points and numbers as the same sweep run in this process."""
    pol = flatbook.load_policy_file(write_policy(tmp_path / "w_pol.py", "w_file_skew"), "w_file_skew")
    grid = {"w_skew": [0.0, 0.05]}
    on_cluster = flatbook.sweep(grid, "as2008", pol, paths=400, seed=3, workers=1)
    here = flatbook.sweep(grid, "as2008", pol, paths=400, seed=3, cluster=False)
    a, b = on_cluster.points, here.points
    assert a["point_id"].tolist() == b["point_id"].tolist() and len(a) == 2
    for k in COMPARED:
        assert a[k].tolist() == b[k].tolist(), k
    assert a["pnl_mean"].iloc[0] != a["pnl_mean"].iloc[1]  # the swept parameter reaches the worker's formula


def test_edited_file_is_reloaded_by_the_same_worker(client, tmp_path):
    """The same worker runs a file, then the file edited: it loads the new text (a new SHA-256), the
    edited points get new ids (never resumed from the old formula's) and equal an in-process run."""
    f = tmp_path / "w_edit.py"
    rows, ids = [], []
    for factor in (1.0, 3.0):
        load_policies(write_policy(f, "w_edited", factor))
        pts = SR.make_points("as2008", "w_edited", {}, [{"w_skew": 0.05}], 300, 1)
        with SR.SweepRunner(client=client) as r:
            got = r.run(pts)
        assert [figures(g) for g in got] == [figures(x) for x in in_process(pts)]
        rows.append(got[0])
        ids.append(pts[0].id)
    assert ids[0] != ids[1]
    assert rows[0]["pnl_mean"] != rows[1]["pnl_mean"] and rows[0]["final_q_std"] > rows[1]["final_q_std"]


def test_policy_defined_in_no_file_is_shipped_pickled(client, tmp_path):
    """A policy defined in a script's ``__main__`` (or a notebook) has no module file to load: it
    travels pickled by value and gives the in-process numbers."""
    src = tmp_path / "cell.py"
    write_policy(src, "w_main_skew")
    ns: dict = {"__name__": "__main__"}
    exec(compile(src.read_text(), str(src), "exec"), ns)  # noqa: S102 - a test's own code, as a notebook cell runs
    register(ns["w_main_skew"])
    assert SR.policy_sources(["w_main_skew"])["w_main_skew"].kind == "pickle"
    pts = SR.make_points("as2008", "w_main_skew", {}, [{"w_skew": 0.04}], 300, 2)
    with SR.SweepRunner(client=client) as r:
        got = r.run(pts)
    assert [figures(g) for g in got] == [figures(x) for x in in_process(pts)]


def test_a_worker_without_the_file_loads_the_shipped_text(tmp_path, monkeypatch):
    """A worker on another machine (the client's path absent there) writes the shipped text under its
    temporary directory, keyed by SHA-256, and loads it from there: the same numbers."""
    f = write_policy(tmp_path / "w_remote.py", "w_remote_skew")
    load_policies(f)
    pts = SR.make_points("as2008", "w_remote_skew", {}, [{"w_skew": 0.02}], 300, 5)
    want = [figures(x) for x in in_process(pts)]
    src = SR.policy_sources(["w_remote_skew"])["w_remote_skew"]
    assert src.kind == "file" and src.blob == f.read_bytes()
    gone = SR.PolicySource(src.name, src.kind, src.blob, src.sha256, str(tmp_path / "elsewhere" / "w_remote.py"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "worker-tmp"))
    monkeypatch.setattr(SR, "_LOADED", {})  # a fresh worker: nothing loaded yet
    SR.ensure_policies({src.name: gone})
    copy = tmp_path / "worker-tmp" / SR.USER_POLICY_DIR / src.sha256[:16] / "w_remote.py"
    assert copy.read_bytes() == f.read_bytes()
    assert SR._LOADED[(src.sha256, src.name)].source == str(copy)
    assert [figures(x) for x in in_process(pts)] == want


def test_file_edited_but_not_reloaded_is_refused(tmp_path):
    """Workers would load the edited text while this process runs the loaded formula: one clear error."""
    f = write_policy(tmp_path / "w_stale.py", "w_stale_skew")
    load_policies(f)
    write_policy(f, "w_stale_skew", 2.0)
    with pytest.raises(InputError, match="changed since the policy was loaded; load it again"):
        SR.make_points("as2008", "w_stale_skew", {}, [{"w_skew": 0.02}], 300, 5)
    load_policies(f)
    assert len(SR.make_points("as2008", "w_stale_skew", {}, [{"w_skew": 0.02}], 300, 5)) == 1


def test_builtin_points_ship_nothing_and_keep_their_ids():
    p = SR.make_point("as2008", "linear-skew", {"skew": 0.05, "gamma": "0.1"}, 2000, 0)
    assert p.policy_key == "" and p.id == "6fe286f352633a81"
    assert SR.policy_sources(["linear-skew", "glft"]) == {}


# a worker that imported numba before its nanny set NUMBA_NUM_THREADS=1 (a spawned process
# re-imports the parent's __main__), then compiles a kernel for the first time: a user's policy
WORKER = """
import json, os, sys
import numba  # sizes numba's thread pool from NUMBA_NUM_THREADS=2, as the core count would

os.environ["NUMBA_NUM_THREADS"] = "1"  # what the nanny does after the import
from flatbook.policies.loader import load_policies
from flatbook.policies.registry import register
from flatbook.sweep import runner as SR

load_policies(sys.argv[1])
point = SR.Point("as2008", "w_cold_skew", (("w_skew", 0.03),), 300, 4)
rows = SR.run_task([point.spec()], SR.policy_sources([point.policy]))
print(json.dumps({k: rows[0][k] for k in sys.argv[2].split(",")}))
"""


def test_worker_compiling_after_numba_was_imported_returns_the_numbers(tmp_path):
    """numba's configuration is reloaded from the worker's environment before its thread pool starts,
    so the first compilation there does not fail with "Cannot set NUMBA_NUM_THREADS"."""
    f = write_policy(tmp_path / "w_cold.py", "w_cold_skew")
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"}
    p = subprocess.run(
        [sys.executable, "-c", WORKER, str(f), ",".join(COMPARED)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    load_policies(f)
    want = figures(SR.simulate_point(SR.make_point("as2008", "w_cold_skew", {"w_skew": 0.03}, 300, 4).spec()))
    assert got == want


def test_cli_sweep_loads_the_policy_file_on_the_workers(tmp_path):
    """``flatbook sweep --policy-file F --policy NAME`` on a one-worker local cluster gives the in-process numbers."""
    from typer.testing import CliRunner

    from flatbook.cli import root

    f = write_policy(tmp_path / "w_cli.py", "w_cli_skew")
    args = ["sweep", "--policy-file", str(f), "--policy", "w_cli_skew", "--grid", "w_skew=0,0.05"]
    r = CliRunner().invoke(root.app, [*args, "--paths", "300", "--seed", "2", "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["points"]
    here = flatbook.sweep({"w_skew": [0.0, 0.05]}, "as2008", "w_cli_skew", paths=300, seed=2, cluster=False)
    assert [p["pnl_mean"] for p in got] == here.points["pnl_mean"].tolist()
