"""Tests of parameter sweeps (flatbook.sweep, ``flatbook sweep``).

The cluster tests start a real Dask scheduler and two workers on loopback, as separate
processes (``python -m distributed.cli.dask_scheduler`` / ``dask_worker``, one thread each,
no nanny so that killing a worker's pid kills the worker), shared by the module, and run
sweeps through ``--scheduler``. The sweep itself runs as a ``flatbook`` subprocess where a
worker is killed or Ctrl-C is sent mid-sweep.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import flatbook.cli.sweep_cmd  # noqa: F401  (registers 'sweep' until cli/root.py imports it)
from conftest import Z, cfg
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.sim.simulator import simulate
from flatbook.sweep import report
from flatbook.sweep import runner as SR
from flatbook.sweep.grid import grid_points, parse_grid, parse_grid_item, random_points
from flatbook.sweep.objectives import jackknife, mv_utility, pareto_mask
from flatbook.timing import TIMING_KEYS

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FLATBOOK = [sys.executable, "-c", "import flatbook.cli.sweep_cmd; from flatbook.cli.entry import main; main()"]
SWEEP_TIMING = ("elapsed_s", "path_steps_per_s", "wall_s", "worker", "finished_utc")  # a row's "timing"
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


def cli(*args: str):
    return runner.invoke(cli_app.app, list(args))


def wait_for(cond, timeout: float, what: str, every: float = 0.05):
    """``cond()`` once truthy, polled every ``every`` s; ``timeout`` bounds a hang (generous, for a
    loaded machine), it is not a performance budget."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        val = cond()
        if val:
            return val
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def raw_rows(out: Path) -> pd.DataFrame:
    return SR.PointStore(out).read_raw()


def nothing_may_run(monkeypatch) -> None:
    """From here on, starting or joining a cluster, simulating or drawing a figure fails the test."""

    def refuse(what):
        def f(*a, **k):
            raise AssertionError(f"{what} on a sweep with nothing left to do")

        return f

    monkeypatch.setattr(SR, "dask_client", refuse("a cluster was started"))
    monkeypatch.setattr(SR, "run_task", refuse("a task was run"))
    monkeypatch.setattr(SR, "simulate_point", refuse("a point was simulated"))
    for name in ("write_frontier_png", "write_heatmap_png", "write_skew_frontier_png", "write_as_gamma_png"):
        monkeypatch.setattr(report, name, refuse(f"{name} was drawn again"))


# --------------------------------------------------------------------------- grids (no cluster)


def test_grid_items_linspace_log_list_choices():
    ax = parse_grid_item("skew=0:0.04:5")
    assert ax.values == pytest.approx((0.0, 0.01, 0.02, 0.03, 0.04)) and (ax.lo, ax.hi) == (0.0, 0.04)
    ax = parse_grid_item("gamma=log:0.01:1:3")
    assert ax.values == pytest.approx((0.01, 0.1, 1.0)) and ax.log
    assert parse_grid_item("limit=10,20,inf").values == (10.0, 20.0, math.inf)
    assert parse_grid_item("hedge_exec=twap,IMMEDIATE").values == ("twap", "immediate")
    assert parse_grid_item("mid_model").values == ("binomial", "abm", "gbm")  # a choice: all of them
    bounds = parse_grid_item("gamma=log:0.01:1")
    assert bounds.values == () and (bounds.lo, bounds.hi, bounds.log) == (0.01, 1.0, True)
    pts = grid_points(parse_grid(["skew=0.01,0.02", "hedge_trigger=none,threshold", "markout_steps=1:3:3"]))
    assert len(pts) == 12 and pts[0] == {"skew": 0.01, "hedge_trigger": "none", "markout_steps": 1.0}
    assert pts[-1] == {"skew": 0.02, "hedge_trigger": "threshold", "markout_steps": 3.0}


@pytest.mark.parametrize(
    "item, field, text",
    [
        ("skw=0:1:3", "--grid skw=0:1:3", "unknown parameter 'skw'; did you mean skew?"),
        ("skew=0:0.1:0", "--grid skew=0:0.1:0", "empty range: n = 0"),
        ("skew=0.1:0:3", "--grid skew=0.1:0:3", "empty range: lo = 0.1 > hi = 0"),
        ("skew=0.1:0.1:3", "--grid skew=0.1:0.1:3", "single value"),
        ("skew=", "--grid skew=", "empty list"),
        ("skew=-1,0.1", "--grid skew=-1,0.1", "skew: got '-1'; allowed: a number >= 0"),
        ("skew=-1:1:3", "--grid skew=-1:1:3", "skew: got -1.0; allowed: a number >= 0"),
        ("hedge_fraction=0.5:2:4", "--grid hedge_fraction=0.5:2:4", "hedge_fraction: got 2.0; allowed: a number"),
        ("mid_model=binomial,levy", "--grid mid_model=binomial,levy", "mid_model: unknown value 'levy'"),
        ("gamma=log:0:1:3", "--grid gamma=log:0:1:3", "a log range needs lo > 0"),
        ("skew=0.1,0.1", "--grid skew=0.1,0.1", "listed twice"),
        ("markout_steps=1:2:5", "--grid markout_steps=1:2:5", "integer"),
    ],
)
def test_bad_grid_item_names_it(item, field, text):
    with pytest.raises(InputError) as e:
        parse_grid_item(item)
    assert e.value.field == field
    assert text in str(e.value)


@pytest.mark.parametrize(
    "args, text",
    [
        (["--grid", "skw=0:1:3"], "error: --grid skw=0:1:3: unknown parameter 'skw'; did you mean skew?"),
        (["--grid", "skew=0:0.1:0"], "error: --grid skew=0:0.1:0: empty range: n = 0"),
        (["--grid", "gamma=0.1,-2"], "error: --grid gamma=0.1,-2: gamma: got '-2'; allowed: a number"),
        (["--grid", "skew=0:0.1"], "error: --grid skew=0:0.1: bounds only; a grid needs values"),
        (["--grid", "skew=0,1", "--grid", "skew=2,3"], "error: --grid skew=2,3: skew is already swept"),
        (["--grid", "skew=0,1", "--set", "skew=2"], "error: --grid skew=0,1: skew is also fixed with --set"),
        ([], "error: --grid: give at least one parameter to sweep"),
        (["--grid", "T=1,1.003"], "error: --grid point T=1.003: dt: T/dt must be a whole number"),
        (
            ["--grid", "skew=0,1", "--scheduler", "localhost"],
            "error: --scheduler: got 'localhost'; expected an address",
        ),
        (["--grid", "skew=0,1", "--random", "0"], "error: --random: got 0"),
        (
            ["--study", "skew-frontier", "--grid", "skew=0,1"],
            "error: --study: a study fixes its own points; drop --grid",
        ),
        (["--study", "nope"], "error: --study: unknown study 'nope'; allowed: skew-frontier, as-gamma"),
        (["--grid", "skew=0,1", "--objective", "profit"], "error: --objective: got 'profit'"),
    ],
)
def test_bad_sweep_exits_2_with_one_line(args, text, tmp_path):
    r = cli("sweep", "--policy", "linear-skew", "--paths", "10", "--out", str(tmp_path / "o"), *args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(text), r.stderr
    assert r.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()  # refused before any work


def test_optuna_missing_exits_2_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed (find_spec gives None)
    r = cli("sweep", "--grid", "skew=0:0.1", "--optuna", "4", "--policy", "linear-skew")
    assert r.exit_code == 2
    assert r.stderr == (
        "error: --optuna: needs optuna, not installed; install the extra: pip install 'flatbook[sweep]'\n"
    )


def test_random_search_seeded_within_bounds():
    axes = parse_grid(["gamma=log:0.01:1", "skew=0:0.2", "hedge_exec=twap,vwap", "markout_steps=1:5"])
    a = random_points(axes, 400, seed=3)
    assert a == random_points(axes, 400, seed=3)
    assert a != random_points(axes, 400, seed=4)
    g = np.array([p["gamma"] for p in a])
    k = np.array([p["skew"] for p in a])
    assert g.min() >= 0.01 and g.max() <= 1.0 and k.min() >= 0 and k.max() <= 0.2
    # log-uniform: log10 γ uniform on [−2, 0], mean −1 with SE (2/√12)/√n
    lg = np.log10(g)
    assert abs(lg.mean() + 1.0) < Z * (2 / math.sqrt(12)) / math.sqrt(lg.size)
    assert abs(k.mean() - 0.1) < Z * (0.2 / math.sqrt(12)) / math.sqrt(k.size)
    assert {p["hedge_exec"] for p in a} == {"twap", "vwap"}
    assert {p["markout_steps"] for p in a} == {1.0, 2.0, 3.0, 4.0, 5.0}
    with pytest.raises(InputError, match="no finite range"):
        parse_grid_item("skew")  # random search needs bounds when the parameter has none


# --------------------------------------------------------------------------- objectives (no cluster)


def brute_pareto(reward, risk):
    n = len(reward)
    out = np.zeros(n, bool)
    for i in range(n):
        if not (math.isfinite(reward[i]) and math.isfinite(risk[i])):
            continue
        out[i] = not any(
            reward[j] >= reward[i] and risk[j] <= risk[i] and (reward[j] > reward[i] or risk[j] < risk[i])
            for j in range(n)
            if j != i and math.isfinite(reward[j]) and math.isfinite(risk[j])
        )
    return out


def test_pareto_frontier_hand_made():
    #        A    B    C    D    E    F    G     H     I
    pnl = [10.0, 9.0, 8.0, 9.5, 7.0, 10.0, 8.0, np.nan, 6.0]
    risk = [5.0, 3.0, 1.0, 4.0, 2.0, 6.0, 1.0, 0.5, 1.0]
    # A: best PnL at risk 5; F dominated by A (same PnL, more risk); B, D on the frontier;
    # C and G equal (8, 1): both kept; E dominated by C; H has no PnL; I dominated by C
    assert pareto_mask(pnl, risk).tolist() == [True, True, True, True, False, False, True, False, False]
    rng = np.random.default_rng(0)
    for _ in range(50):
        r = rng.integers(0, 6, 30).astype(float)
        x = rng.integers(0, 6, 30).astype(float)
        assert (pareto_mask(r, x) == brute_pareto(r, x)).all()


def test_point_id_stable_and_canonical():
    p = SR.make_point("as2008", "linear-skew", {"skew": 0.05, "gamma": "0.1"}, 2000, 0)
    assert p.id == "6fe286f352633a81"  # fixed forever: resume relies on it
    assert SR.make_point("as2008", "linear-skew", {"gamma": 0.1, "skew": "5e-2"}, 2000, 0).id == p.id
    others = [
        SR.make_point("as2008", "linear-skew", {"skew": 0.05, "gamma": "0.1"}, 2001, 0),
        SR.make_point("as2008", "linear-skew", {"skew": 0.05, "gamma": "0.1"}, 2000, 1),
        SR.make_point("as2008", "stoll", {"skew": 0.05, "gamma": "0.1"}, 2000, 0),
        SR.make_point("as2008", "linear-skew", {"skew": 0.05}, 2000, 0),
    ]
    assert len({p.id, *(o.id for o in others)}) == 5


def test_plan_tasks_seconds_not_milliseconds():
    pts = [SR.make_point("as2008", "linear-skew", {"skew": k}, 10_000, 0) for k in np.linspace(0, 1, 40)]
    tasks = SR.plan_tasks(pts, 2, target_s=3.0, costs=[0.05] * 40)
    assert [len(t) for t in tasks] == [10, 10, 10, 10]  # cap: at least 2 tasks per worker
    tasks = SR.plan_tasks(pts, 1, target_s=3.0, costs=[0.25] * 40)
    assert [len(t) for t in tasks] == [12, 12, 12, 4]  # ~3 s each
    tasks = SR.plan_tasks(pts, 2, target_s=3.0, costs=[5.0] * 40)
    assert all(len(t) == 1 for t in tasks)  # never split a point
    assert sum((t for t in SR.plan_tasks(pts, 2, per_task=7)), []) == pts


def test_point_row_ses_consistent():
    row = SR.simulate_point(SR.make_point("as2008", "linear-skew", {"skew": 0.1}, 4000, 2).spec())
    assert set(row["timing"]) == {"elapsed_s", "path_steps_per_s", "wall_s"} and not set(row) & set(TIMING_KEYS)
    df = pd.DataFrame([row])
    u, se = mv_utility(df, 0.0)
    assert u[0] == row["pnl_mean"] and se[0] == pytest.approx(row["pnl_mean_se"], rel=1e-3)
    # jackknife over the 16 sections of a mean ≈ s/√n (a 15-df estimate: within ±60%)
    m, jse = jackknife(df, lambda f: float(f["pnl_mean"][0]))
    assert m == pytest.approx(row["pnl_mean"], rel=1e-12)
    assert 0.4 < jse / row["pnl_mean_se"] < 1.6
    assert row["q_rms"] >= row["q_std_mean"] > 0 and row["es_95_se"] > 0 and row["pnl_std_se"] > 0


# --------------------------------------------------------------------------- a real cluster on loopback


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.file = tmp / "scheduler.json"
        self.env = {**os.environ, "NUMBA_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.log = open(tmp / "dask.log", "ab")
        self.scheduler = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
            stdout=self.log,
            stderr=self.log,
            env=self.env,
        )
        wait_for(lambda: self.file.exists() and self.file.stat().st_size > 0, 120, "the scheduler file")
        self.address = json.loads(self.file.read_text())["address"]
        self.workers: dict[str, subprocess.Popen] = {}
        self.n = 0

    def spawn(self) -> None:
        self.n += 1
        name = f"w{self.n}"
        self.workers[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                "--scheduler-file",
                str(self.file),
                "--nthreads",
                "1",
                "--no-nanny",
                "--name",
                name,
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--death-timeout",
                "60",
            ],
            stdout=self.log,
            stderr=self.log,
            env=self.env,
        )

    def client(self):
        from distributed import Client

        return Client(self.address, timeout="60s", set_as_default=False)

    def ensure(self, n: int) -> None:
        """At least n live workers, registered and warmed up (kernel loaded)."""
        for name, p in list(self.workers.items()):
            if p.poll() is not None:
                del self.workers[name]
        while len(self.workers) < n:
            self.spawn()
        with self.client() as c:
            c.wait_for_workers(n, timeout=180)
            c.run(SR.warm_up)

    def close(self) -> None:
        """The workers first, then the scheduler. A worker stopped by SIGTERM tells the scheduler it
        is leaving; when the scheduler was stopped at the same moment, a worker often hung on the
        broken connection until killed 10 s later, one wait per worker (the module's teardown took
        0.5 to 20 s). In this order each process exits within about a second."""
        for group in ([*self.workers.values()], [self.scheduler]):
            for p in group:
                if p.poll() is None:
                    p.terminate()
            for p in group:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.ensure(2)
        yield c
    finally:
        c.close()


@pytest.fixture
def two_workers(cluster):
    cluster.ensure(2)
    return cluster


def sweep_json(*args: str) -> dict:
    r = cli("sweep", *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_sweep_on_scheduler_equals_simulate_and_resumes(two_workers, tmp_path, monkeypatch):
    out = tmp_path / "s"
    args = [
        "--scheduler",
        two_workers.address,
        "--preset",
        "as2008",
        "--policy",
        "linear-skew",
        "--grid",
        "skew=0.02,0.2",
        "--grid",
        "hedge_trigger=none,threshold",
        "--set",
        "hedge_threshold=3",
        "--paths",
        "1500",
        "--seed",
        "5",
        "--out",
        str(out),
        "--points-per-task",
        "1",
    ]
    d = sweep_json(*args)
    assert d["run"] == {"points": 4, "computed": 4, "resumed": 0, "tasks": 4, "out": str(out)}
    rows = pd.read_parquet(out / "results.parquet")
    with two_workers.client() as c:
        assert {t["worker"] for t in rows["timing"]} <= set(c.scheduler_info()["workers"])
    for p in d["points"]:
        ref = simulate(cfg("as2008", "linear-skew", 1500, 5, hedge_threshold=3, **p["params"])).summary
        row = rows[rows["point_id"] == p["point_id"]].iloc[0]
        for key in COMPARED:
            assert row[key] == ref[key], key  # same point, same seed: the same numbers
        assert p["pnl_mean"] == ref["pnl_mean"] and p["pnl_mean_se"] == pytest.approx(ref["pnl_se"], rel=1e-12)
    # the frontier of the JSON is the non-dominated set of the points
    mask = pareto_mask([p["pnl_mean"] for p in d["points"]], [p["pnl_std"] for p in d["points"]])
    assert {f["point_id"] for f in d["frontiers"]["pnl_std"]} == {p["point_id"] for p, m in zip(d["points"], mask) if m}
    assert (out / "heatmap.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "frontier.png").read_bytes()[:8] == PNG_MAGIC
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and sorted(manifest["points"]) == sorted(rows["point_id"])

    # rerun: every point is skipped, nothing new is written, the numbers are the same; and nothing
    # runs: no cluster joined or started, no point simulated, the figures (drawn from these points) kept
    files = sorted(p.name for p in (out / "points").iterdir())
    with monkeypatch.context() as m:
        nothing_may_run(m)
        again = sweep_json(*args)
        assert again["run"]["computed"] == 0 and again["run"]["resumed"] == 4 and again["run"]["tasks"] == 0
        r = cli("sweep", *args)
        assert r.exit_code == 0, r.stderr
        assert "frontier.png (kept: up to date), heatmap.png (kept: up to date)" in " ".join(r.stdout.split())
    assert sorted(p.name for p in (out / "points").iterdir()) == files
    assert [p["pnl_mean"] for p in again["points"]] == [p["pnl_mean"] for p in d["points"]]
    # lose one saved task: only its point runs again
    (out / "points" / files[0]).unlink()
    third = sweep_json(*args)
    assert (third["run"]["computed"], third["run"]["resumed"]) == (1, 3)
    assert [p["pnl_mean"] for p in third["points"]] == [p["pnl_mean"] for p in d["points"]]
    # a larger sweep into the same DIR reuses the overlapping points
    more = sweep_json(*[a if a != "skew=0.02,0.2" else "skew=0.02,0.1,0.2" for a in args])
    assert (more["run"]["computed"], more["run"]["resumed"]) == (2, 4)


def _start_sweep(address: str, out: Path, n_points: int, paths: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *FLATBOOK,
            "sweep",
            "--scheduler",
            address,
            "--preset",
            "worked-example",
            "--policy",
            "linear-skew",
            "--grid",
            f"skew=0:0.05:{n_points}",
            "--paths",
            str(paths),
            "--points-per-task",
            "1",
            "--out",
            str(out),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_killed_worker_every_point_exactly_once(two_workers, tmp_path):
    out = tmp_path / "k"
    n_points = 8
    proc = _start_sweep(two_workers.address, out, n_points, 30_000)  # ~0.5 s per point on a quiet core
    with two_workers.client() as c:
        pid_of = c.run(os.getpid)  # worker address → pid
        wait_for(
            lambda: proc.poll() is not None or (out / "points").is_dir() and any((out / "points").glob("*.parquet")),
            180,
            "the first saved task",
        )
        busy = wait_for(
            lambda: {w: ks for w, ks in c.processing().items() if ks} or proc.poll() is not None, 60, "a busy worker"
        )
        assert proc.poll() is None, "the sweep finished before a worker could be killed"
        victim, keys = next(iter(busy.items()))
        done_at_kill = len(raw_rows(out))
        os.kill(pid_of[victim], signal.SIGKILL)
        killed_at = pd.Timestamp.now(tz="UTC").isoformat(timespec="milliseconds")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert done_at_kill < n_points  # the kill was mid-sweep
    raw = raw_rows(out)
    assert len(raw) == n_points and raw["point_id"].is_unique  # every point, exactly once
    d = json.loads(stdout)
    assert d["run"]["points"] == n_points and d["run"]["computed"] == n_points
    assert set(raw["point_id"]) == set(json.loads((out / "manifest.json").read_text())["points"])
    # the tasks the killed worker held were finished by the other worker (unless done just before the kill)
    worker = {p: t["worker"] for p, t in zip(raw["point_id"], raw["timing"])}
    finished = {p: t["finished_utc"] for p, t in zip(raw["point_id"], raw["timing"])}
    held = [p for p in raw["point_id"] if any(k.startswith(f"flatbook-sweep-{_tag(p)}-") for k in keys)]
    assert held and all(worker[p] != victim or finished[p] <= killed_at for p in held)
    assert any(worker[p] != victim for p in held)
    assert not any(worker[p] == victim and finished[p] > killed_at for p in worker)


def _tag(point_id: str) -> str:
    import hashlib

    return hashlib.sha256(point_id.encode()).hexdigest()[:12]


def test_ctrl_c_keeps_completed_points_and_resumes(two_workers, tmp_path):
    out = tmp_path / "c"
    proc = _start_sweep(two_workers.address, out, 14, 12_000)
    wait_for(
        lambda: proc.poll() is not None or (out / "points").is_dir() and any((out / "points").glob("*.parquet")),
        180,
        "the first saved task",
    )
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "rerun the same command to resume" in stderr
    saved = raw_rows(out)
    assert 1 <= len(saved) < 14 and saved["point_id"].is_unique
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    proc = _start_sweep(two_workers.address, out, 14, 12_000)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    d = json.loads(stdout)
    assert d["run"]["resumed"] == len(saved) and d["run"]["computed"] == 14 - len(saved)
    assert raw_rows(out)["point_id"].is_unique and len(raw_rows(out)) == 14


def test_study_as_gamma_best_skew_below_as_slope(two_workers, tmp_path):
    """The as-gamma study (small): the best constant skew lies below A–S's λσ²T/2 by more than Z SEs,
    and within A–S the best γ lies below λ."""
    d = sweep_json(
        "--study", "as-gamma", "--scheduler", two_workers.address, "--paths", "3000", "--out", str(tmp_path / "a")
    )
    rows = {r["lambda"]: r for r in d["study"]["rows"]}
    r = rows[0.1]
    assert r["ls_best_over_as_avg"] + Z * r["ls_best_over_as_avg_se"] < 1.0
    assert r["as_best_gamma_over_lambda"] + Z * r["as_best_gamma_over_lambda_se"] < 1.0
    assert r["utility_loss_at_as_slope"] > Z * r["utility_loss_at_as_slope_se"]
    assert d["run"]["points"] == 19 + 5 * 11
    assert (tmp_path / "a" / "study.png").read_bytes()[:8] == PNG_MAGIC


def test_study_skew_frontier_trade_off(two_workers, tmp_path):
    """skew-frontier (small): more skew gives up more spread and holds less inventory (differences
    beyond Z SEs), and the balancing skew grows with the inventory charge."""
    d = sweep_json("--study", "skew-frontier", "--scheduler", two_workers.address, "--paths", "2000")
    pts = sorted(d["points"], key=lambda p: p["params"]["skew"])
    big = [p for p in pts if p["params"]["skew"] >= 0.01]
    for a, b in zip(big, big[1:]):
        assert b["spread_given_up_mean"] - a["spread_given_up_mean"] > Z * math.hypot(
            a["spread_given_up_mean_se"], b["spread_given_up_mean_se"]
        )
        assert a["q_rms"] - b["q_rms"] > Z * math.hypot(a["q_rms_se"], b["q_rms_se"])
    ks = [r["best_skew"] for r in d["study"]["balance"]]
    ses = [r["best_skew_se"] for r in d["study"]["balance"]]
    assert all(k2 - k1 > Z * math.hypot(s1, s2) for k1, k2, s1, s2 in zip(ks, ks[1:], ses, ses[1:]))


def test_local_cluster_by_default(tmp_path):
    d = sweep_json(
        "--preset", "as2008", "--policy", "symmetric", "--grid", "half_spread=0.5,1", "--paths", "300", "--workers", "1"
    )
    assert d["run"]["computed"] == 2 and d["run"]["out"] is None
    wide, narrow = sorted(d["points"], key=lambda p: -p["params"]["half_spread"])
    assert narrow["fills_mean"] - wide["fills_mean"] > Z * math.hypot(narrow["fills_mean_se"], wide["fills_mean_se"])


def test_optuna_trials_on_the_cluster(two_workers, tmp_path, monkeypatch):
    """optuna is in the test extra: this test runs (and fails if optuna cannot be imported)."""
    out = tmp_path / "o"
    args = [
        "--scheduler",
        two_workers.address,
        "--preset",
        "as2008",
        "--policy",
        "linear-skew",
        "--grid",
        "skew=log:0.005:0.5",
        "--optuna",
        "6",
        "--paths",
        "500",
        "--out",
        str(out),
    ]
    d = sweep_json(*args)
    assert d["run"]["points"] == len({p["point_id"] for p in d["points"]}) <= 6
    assert all(0.005 <= p["params"]["skew"] <= 0.5 for p in d["points"])
    assert json.loads((out / "manifest.json").read_text())["optuna_batch"] == 2  # the scheduler's 2 workers
    with monkeypatch.context() as m:  # TPE is seeded: the same trials, all resumed, and nothing runs
        nothing_may_run(m)
        again = sweep_json(*args)
    assert again["run"]["computed"] == 0 and [p["point_id"] for p in again["points"]] == [
        p["point_id"] for p in d["points"]
    ]


def test_two_identical_sweeps_differ_only_in_timing(two_workers, tmp_path):
    """results.parquet and sweep.json of two identical sweeps are identical, bit for bit, once the
    wall-clock fields (all in the ``timing`` struct column) and the output directory are set aside."""
    outs = [tmp_path / "a", tmp_path / "b"]
    js = [
        sweep_json(
            "--scheduler",
            two_workers.address,
            "--preset",
            "as2008",
            "--policy",
            "linear-skew",
            "--grid",
            "skew=0.01,0.1",
            "--grid",
            "gamma=0.05,0.5",
            "--paths",
            "800",
            "--seed",
            "3",
            "--points-per-task",
            str(n),
            "--out",
            str(o),
        )
        for o, n in zip(outs, (1, 3))
    ]
    a, b = (pd.read_parquet(o / "results.parquet") for o in outs)
    assert not set(a.columns) & set(TIMING_KEYS)
    assert all(set(t) == set(SWEEP_TIMING) for t in a["timing"])
    assert len(a) == 4 and a["point_id"].tolist() == b["point_id"].tolist()
    pd.testing.assert_frame_equal(a.drop(columns="timing"), b.drop(columns="timing"), check_exact=True)
    for d in js:
        d["run"].pop("out")
        d["run"].pop("tasks")  # 4 tasks of 1 point against 2 of up to 3: how the work was cut, not its result
    assert js[0] == js[1]
    s0, s1 = (json.loads((o / "sweep.json").read_text()) for o in outs)
    assert s0["points"] == s1["points"] and s0["frontiers"] == s1["frontiers"] and s0["best"] == s1["best"]


def test_resume_reads_points_saved_before_the_timing_column(tmp_path, monkeypatch, numba_threads):
    """Point files of an older flatbook (flat wall_s, worker, finished_utc, elapsed_s, path_steps_per_s
    columns) resume as they are: no point runs again, and the rows come back with ``timing``."""
    pts = [SR.make_point("as2008", "symmetric", {"half_spread": h}, 300, 1) for h in (0.5, 1.0)]
    rows = SR.run_task([p.spec() for p in pts])
    flat = [{**{k: v for k, v in r.items() if k != "timing"}, **r["timing"]} for r in rows]
    store = SR.PointStore(tmp_path)
    store.open()
    try:
        store.write(flat, "old")
    finally:
        store.close()
    assert set(SWEEP_TIMING) <= set(pd.read_parquet(next((tmp_path / "points").glob("*.parquet"))).columns)
    nothing_may_run(monkeypatch)
    got = SR.run_sweep(pts, tmp_path)
    assert [g["point_id"] for g in got] == [p.id for p in pts]
    for g, r in zip(got, rows):
        assert g["timing"] == r["timing"] and not set(g) & set(TIMING_KEYS)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got).drop(columns="timing"), pd.DataFrame(rows).drop(columns="timing"), check_exact=True
    )
