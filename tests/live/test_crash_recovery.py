"""Crash recovery of ``flatbook live``: SIGKILL a paper-trading replay at random moments, restart it, compare.

The engine journals every order event and fill before acting on it and snapshots
its state (and the paper venue's) every ``journal.snapshot_every`` events; on
start it rebuilds itself from the journal and resumes the replay at the
snapshot's cursor (:mod:`flatbook.live.recovery`). Its decisions depend only on
its state and the tape, so a run killed with SIGKILL at random moments and
restarted each time must end exactly as one uninterrupted run: same position,
the same cash bit for bit, the same fills (each journaled once, the same ids,
prices, sizes and events), the same PnL attribution, nothing left pending.

Setup (made hard on purpose): AAPL 2012-06-21 LOBSTER level 1, events [0, stop),
linear skew, 1 ms order latency + 0.5 ms feed latency, the randomised ``prob``
queue (seeded), and an end-of-session flatten (``risk.session_end_s``) inside the
slice, so that kills land while quoting, while the immediate-or-cancel flatten
orders are in flight, and after.

Where the kills land (``random.Random`` seeded per variant):

- the first run is killed as soon as its journal has grown by ~25 commits past
  the schema (the replay's first few dozen events: fills are journaled, no
  snapshot exists yet), watched through the size of the ``-wal`` file;
- then kills aimed at target events walking forward through the tape (early,
  mid, in the flatten): the restarted run is watched until it prints that it
  starts replaying (the API's line on a free port, after recovery: its start-up
  is over, however loaded the machine), then killed after (target − resume
  cursor) / replay rate, the cursor read from the journal the last killed run
  left; start-up kills
  (imports, data load, journal open, numba cache) are interleaved at random.
  Start-up and replay rate are measured on the reference run (and a restart
  of it on its finished journal);
- if a run reaches the end of the tape before its kill, only start-up kills remain.

Only kills that hit a running process (``poll() is None``) count. A restart on a
finished journal (a run killed after its last snapshot, before it wrote its
summary) must report the same summary too.

Two sizes of the same campaign:

- **suite** (the tests below, each variant 15–20 s on a quiet machine): events [0, 12,000), the
  flatten at event ~9,800; with snapshots every 500 events 6 kills that must hit, one of every
  kind (journal-triggered, start-up, early, mid, in the flatten's orders, in the tail), and a
  restart on the finished journal; with the default interval 4 (journal-triggered, early, mid,
  in the flatten's orders);
- **soak** (``make soak``, deselected otherwise; ~5 minutes on 2 cores): events [0, 36,000) with the
  flatten at event ~31,050 and 55+ kills per variant; prints its figures.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, shared_data
from flatbook.timing import group_timing

TAPE = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"  # under ../shared/data
SEED = 7
WAL_FRAME = 1024 + 24  # journal page size + WAL frame header
WAL_TRIGGER = 32 + 45 * WAL_FRAME  # ~20 frames of schema, then ~25 commits of the replay
STARTED = "flatbook live: API on "  # printed after recovery, right before the replay (the API on a free port)


@dataclass(frozen=True)
class Campaign:
    """The slice replayed, where the flatten starts, and the kills: ``plan`` counts per stage
    (plus the first, journal-triggered kill); at least ``min_kills`` must hit a running process."""

    stop: int  # events replayed: [0, stop)
    session_end_s: float  # seconds after the tape's first event: the flatten starts there
    plan: dict
    min_kills: int
    max_attempts: int
    min_fills: int  # the slice must trade
    finished_restart: bool = True  # also restart the reference on its finished journal


SUITE = Campaign(
    stop=12_000,
    session_end_s=1000.0,
    plan={"startup": 1, "early": 1, "mid": 1, "flatten": 2},
    min_kills=6,
    max_attempts=12,
    min_fills=100,
)
# the default snapshot interval: the kinds that depend on it (the flatten kill at its immediate-or-cancel orders)
SUITE_FEW = Campaign(
    stop=12_000,
    session_end_s=1000.0,
    plan={"startup": 0, "early": 1, "mid": 1, "flatten": 1},
    min_kills=4,
    max_attempts=8,
    min_fills=100,
    finished_restart=False,
)
SOAK = Campaign(
    stop=36_000,
    session_end_s=4800.0,
    plan={"startup": 12, "early": 12, "mid": 14, "flatten": 16},
    min_kills=55,
    max_attempts=75,
    min_fills=300,
)


def write_config(path: Path, journal: Path, snapshot_every: int | None, c: Campaign) -> Path:
    snap = "" if snapshot_every is None else f"snapshot_every = {snapshot_every}\n"
    path.write_text(f"""
[live]
mode = "trade"

[run]
policy = "linear-skew"
seed = {SEED}

[params]
yellow = 600
red = 1200
critical = 1800
red_action = "skew"
critical_action = "flatten"

[feed]
kind = "replay"
path = "{shared_data(TAPE)}"
speed = 0
stop = {c.stop}

[venue]
kind = "paper"
queue = "prob"
feed_latency = 0.5
order_latency = 1.0

[risk]
session_end_s = {c.session_end_s}

[journal]
path = "{journal}"
{snap}
[api]
enabled = true
port = 0
""")
    return path


def command(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "flatbook", "live", "--config", str(cfg), "--out", str(out)]


def run_to_end(cfg: Path, out: Path) -> tuple[dict, float]:
    """Run to the end of the tape: (summary, start-up s = summary written − process start − replay wall)."""
    t = time.time()
    r = subprocess.run(command(cfg, out), cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    s = group_timing(json.loads((out / "summary.json").read_text()))  # wall-clock fields under "timing"
    return s, (out / "summary.json").stat().st_mtime - t - s["timing"]["wall_s"]


def flatten_event(c: Campaign) -> int:
    """Index of the first event at or after the session end (where the engine starts the flatten)."""
    from flatbook.data.load import load

    ts = load(str(shared_data(TAPE))).ts
    return int(np.searchsorted(ts, int(ts[0]) + int(c.session_end_s * 1e9), "left"))


def journal_state(path: Path) -> tuple[int, int, bool]:
    """(cursor of the newest snapshot or 0, fills journaled, a snapshot exists) of a journal no process holds."""
    if not path.exists():
        return 0, 0, False
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT cursor FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
        n = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the schema was created
        row, n = None, 0
    finally:
        db.close()
    return (0 if row is None else int(row[0])), n, row is not None


def replaying(out: Path) -> bool:
    """Whether the run writing ``out`` has said it starts replaying: ``flatbook live`` prints its API
    line once the journal is recovered, right before the first event."""
    return STARTED in out.read_text(errors="replace")


def journal_fills(path: Path) -> list[tuple]:
    """The journal's fills in journal order, the session prefix of the ids stripped (sessions differ per run)."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT fill_id, client_id, side, price, qty, fee, ts, seq, liquidity, mid FROM fills ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [(r[0].split("-", 1)[1], r[1].split("-", 1)[1], *r[2:]) for r in rows]


def kill_plan(rng: random.Random, flat: int, every: int, c: Campaign) -> list[tuple[str, int | None]]:
    """(stage, target event; None: start-up; -1: the journal-triggered kill) in the order they are tried."""
    stop, plan = c.stop, c.plan
    tape = [("early", rng.randrange(every, stop // 4)) for _ in range(plan["early"])]
    tape += [("mid", rng.randrange(stop // 4, flat)) for _ in range(plan["mid"])]
    k = plan["flatten"]
    # about half right at the flatten's immediate-or-cancel orders, the rest over the quiet tail
    tape += [("flatten", flat + rng.randrange(0, 150)) for _ in range(k - k // 2)]
    tape += [("flatten", rng.randrange(flat + 150, stop - 1500)) for _ in range(k // 2)]
    tape.sort(key=lambda x: x[1])
    for _ in range(plan["startup"]):
        tape.insert(rng.randrange(0, len(tape) + 1), ("startup", None))
    return [("early (no snapshot)", -1), *tape]


COMPARED = (
    "position",
    "cash",
    "fills",
    "journal_fills",
    "duplicate_fills",
    "pending_redelivery",
    "events",
    "orders",
    "rejected_orders",
    "killed",
    "pnl",
)


def campaign(tmp_path: Path, snapshot_every: int | None, c: Campaign) -> None:
    """Run the campaign ``c``; fail with every divergence from the uninterrupted run; print the figures
    and every kill (shown with ``-s``, as ``make soak`` runs)."""
    stop = c.stop
    flat = flatten_event(c)
    assert stop // 2 < flat < stop - 2000, "the flatten must start inside the slice"
    problems = []  # every divergence is collected, then the test fails with all of them

    # ---- reference: one uninterrupted run; then a restart on its finished journal
    ref_journal = tmp_path / "ref.sqlite"
    ref_cfg = write_config(tmp_path / "ref.toml", ref_journal, snapshot_every, c)
    t = time.perf_counter()
    ref, startup1 = run_to_end(ref_cfg, tmp_path / "ref_out")
    ref_wall = time.perf_counter() - t
    assert ref["fills"] >= c.min_fills, f"the slice must trade: {ref['fills']} fills"
    assert ref["journal_fills"] == ref["fills"] and ref["duplicate_fills"] == 0 and ref["pending_redelivery"] == 0
    assert ref["events"] == stop and ref["position"] == 0.0  # flat after the end-of-session flatten
    startup2 = startup1
    if c.finished_restart:
        # a run killed after its last snapshot but before its summary: the restart replays nothing, reports the same
        again, startup2 = run_to_end(ref_cfg, tmp_path / "again_out")
        for k in COMPARED:
            if again[k] != ref[k]:
                problems.append(f"restart on the finished journal: summary[{k!r}] {again[k]!r} != first run {ref[k]!r}")
    startup = max(min(startup1, startup2), 0.2)  # imports + data load + journal + numba cache
    rate = stop / ref["timing"]["wall_s"]  # events per second of the replay itself

    # ---- crash runs: a fresh journal, killed with SIGKILL and restarted
    journal = tmp_path / "crash.sqlite"
    wal = Path(f"{journal}-wal")
    cfg = write_config(tmp_path / "crash.toml", journal, snapshot_every, c)
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(20240621 + (snapshot_every or 0))
    every = snapshot_every or 2000  # journal.snapshot_every's default
    plan = kill_plan(rng, flat, every, c)
    log = []
    hits = attempts = 0
    t_crash = time.perf_counter()
    while attempts < c.max_attempts and (attempts < len(plan) or hits < c.min_kills):
        stage, target = plan[attempts] if attempts < len(plan) else ("startup", None)
        attempts += 1
        cur, _, _ = journal_state(journal)
        if cur >= stop and target is not None:  # a run finished the tape before its kill: only start-ups left
            stage, target = "startup (tape done)", None
        with open(logs / f"{attempts:02d}.out", "w") as fo, open(logs / f"{attempts:02d}.err", "w") as fe:
            t0 = time.perf_counter()
            proc = subprocess.Popen(command(cfg, tmp_path / "crash_out"), cwd=REPO, stdout=fo, stderr=fe)
            try:
                if target is None:  # somewhere in the start-up (imports, data load, journal open)
                    time.sleep(rng.uniform(0.05, 0.9) * startup)
                elif target >= 0:
                    # once the run says it is replaying (its start-up is over, however loaded the
                    # machine), the replay's own time to the target event
                    while (
                        proc.poll() is None
                        and not replaying(logs / f"{attempts:02d}.out")
                        and time.perf_counter() - t0 < 120
                    ):
                        time.sleep(0.002)
                    time.sleep(max(target - cur, 0) / rate)
                else:  # watch the journal grow: kill after the replay's first few dozen commits
                    while proc.poll() is None and time.perf_counter() - t0 < 30:
                        if wal.exists() and wal.stat().st_size >= WAL_TRIGGER:
                            break
                        time.sleep(0.0002)
                wait = time.perf_counter() - t0
                hit = proc.poll() is None
                proc.kill()  # SIGKILL
                rc = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if not hit:
            assert rc == 0, (
                f"attempt {attempts} ({stage}) exited with {rc} before the kill:\n"
                + (logs / f"{attempts:02d}.err").read_text()[-3000:]
            )
        else:
            assert rc == -signal.SIGKILL, rc
        hits += hit
        log.append((stage, target, cur, wait, hit, *journal_state(journal)))
    crash_s = time.perf_counter() - t_crash
    report = "\n".join(
        f"  {i + 1:2d} {s:19s} target {'' if tg is None or tg < 0 else tg:>6} cursor {c0:>6} -> "
        f"{c1:>6}  wait {w:6.3f} s  {'KILLED' if h else 'finished first'}; then {n} fills journaled"
        f"{'' if snap else ', no snapshot'}"
        for i, (s, tg, c0, w, h, c1, n, snap) in enumerate(log)
    )
    header = (
        f"snapshot_every={snapshot_every}, events [0, {stop:,}), flatten from event {flat:,}: reference "
        f"{ref_wall:.2f} s (start-up {startup:.2f} s, {rate:,.0f} events/s, {ref['fills']} fills); "
        f"{hits} SIGKILLs hit a running process in {attempts} attempts, {crash_s:.1f} s"
    )
    assert hits >= c.min_kills, f"only {hits} kills hit a running process:\n{report}"

    # ---- the final run, to the end of the tape
    got, _ = run_to_end(cfg, tmp_path / "final_out")

    # ---- compare
    for k in COMPARED:
        if got[k] != ref[k]:
            problems.append(f"summary[{k!r}]: {got[k]!r} != reference {ref[k]!r}")
    if float(got["cash"]).hex() != float(ref["cash"]).hex():
        problems.append(f"cash not bit-identical: {float(got['cash']).hex()} vs {float(ref['cash']).hex()}")
    if not (got["fills"] == got["journal_fills"] == ref["fills"]):
        problems.append(f"fills {got['fills']} / journal {got['journal_fills']} / reference {ref['fills']}")
    if got["duplicate_fills"] != 0 or got["pending_redelivery"] != 0:
        problems.append(f"duplicates {got['duplicate_fills']}, pending {got['pending_redelivery']}")

    db = sqlite3.connect(journal)
    try:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        dups = db.execute("SELECT fill_id, COUNT(*) FROM fills GROUP BY fill_id HAVING COUNT(*) > 1").fetchall()
        q = db.execute("SELECT COALESCE(SUM(side * qty), 0) FROM fills").fetchone()[0]
    finally:
        db.close()
    if mode.lower() != "wal":
        problems.append(f"journal_mode {mode!r}, expected wal")
    if dups:
        problems.append(f"duplicate fill ids in the journal: {dups[:5]}")
    if q != got["position"]:
        problems.append(f"journal Σ side·qty = {q} != final position {got['position']}")

    mine, theirs = journal_fills(journal), journal_fills(ref_journal)
    key = lambda rows: [r[:-1] for r in rows]  # noqa: E731  (all but the mid at the fill)
    if key(mine) != key(theirs):
        i = next((i for i, (a, b) in enumerate(zip(key(mine), key(theirs))) if a != b), min(len(mine), len(theirs)))
        problems.append(
            f"journal fills diverge at fill #{i} (of {len(mine)} vs {len(theirs)}): "
            f"crash {mine[i] if i < len(mine) else None} vs reference "
            f"{theirs[i] if i < len(theirs) else None}"
        )
    elif [r[-1] for r in mine] != [r[-1] for r in theirs]:
        bad = [(a, b) for a, b in zip(mine, theirs) if a[-1] != b[-1]]
        problems.append(
            f"{len(bad)} journaled fills carry a different mid, e.g. crash {bad[0][0]} vs reference {bad[0][1]}"
        )
    assert not problems, f"{header}\n" + "\n".join(problems) + f"\nkills:\n{report}"
    print(
        f"\ncrash recovery: {header}; the final run ends identical to the uninterrupted one (position, "
        f"cash bit for bit, {got['fills']} fills, none doubled or lost)\n{report}"
    )


@pytest.mark.parametrize(
    "snapshot_every, plan", [(500, SUITE), (None, SUITE_FEW)], ids=["snapshot500", "snapshot-default"]
)
def test_killed_and_restarted_replay_ends_as_an_uninterrupted_run(tmp_path, snapshot_every, plan):
    campaign(tmp_path, snapshot_every, plan)


@pytest.mark.soak
@pytest.mark.parametrize("snapshot_every", [500, None], ids=["snapshot500", "snapshot-default"])
def test_soak_many_kills_over_the_whole_slice(tmp_path, snapshot_every):
    """``make soak``: the same campaign over events [0, 36,000) with 55+ SIGKILLs per variant."""
    campaign(tmp_path, snapshot_every, SOAK)
