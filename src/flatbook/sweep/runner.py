"""Run a sweep's points on a Dask cluster, stream the results to Parquet, resume, survive worker loss.

- **Points.** A point is (preset, policy, overrides, paths, seed); its id is a stable hash of
  exactly that (overrides parsed and sorted), so the same point has the same id in every run
  and on every machine. Every point of a sweep has the same seed and paths, so all of them run
  on the same random numbers (common random numbers).
- **Tasks.** Points are grouped into tasks of about ``TARGET_TASK_S`` seconds (estimated from
  path-steps), but never so few that a worker would sit idle: at least two tasks per worker when
  the sweep has enough points. A point is never split across tasks.
- **Cluster.** By default a :class:`distributed.LocalCluster` on this machine's cores (one
  process per core, one thread each, ``NUMBA_NUM_THREADS=1``); with ``scheduler`` a
  :class:`distributed.Client` to an existing cluster (its workers need flatbook installed).
- **Streaming.** Results come back with :func:`distributed.as_completed`; each finished task is
  written at once as one small Parquet file ``DIR/points/<time>-<task>.parquet`` (a temporary
  file, then a rename, so a file is whole or absent). ``DIR/manifest.json`` describes the sweep.
- **Resume.** Completed points are read back from ``DIR/points`` by id and not run again; when
  every point is stored, no cluster is started and nothing is simulated.
- **Rows.** One per point: identification, the summary, SEs and jackknife sums, all a
  deterministic function of the point; the wall-clock fields (``elapsed_s``,
  ``path_steps_per_s``, ``wall_s``, ``worker``, ``finished_utc``) in one struct column
  ``timing`` (:mod:`flatbook.timing`), so two identical sweeps give identical rows once
  ``timing`` is dropped. Files written before ``timing`` existed (flat wall-clock columns) are
  read back in the same shape.
- **Your own policies.** A point may run a policy loaded from a user's file
  (``--policy-file``, :func:`flatbook.load_policy_file`) or defined in a script or notebook.
  Its workers have not loaded it: each task carries the policy (:class:`PolicySource`: the
  file's text, or the policy pickled by value when no file defines it), keyed by its SHA-256,
  and the worker loads it before the task's first point (:func:`ensure_policies`) and again
  whenever the key changes (an edited file). A user policy's point id also includes that key,
  so an edited formula never resumes from points saved with the old one.
- **Failures.** Dask re-runs the tasks of a worker that dies on the surviving workers; a task
  that raises is retried ``RETRIES`` times. Completion is idempotent: a point written twice
  (a task re-run after its result had been saved, or two runs racing) is counted once, keyed by
  its id (first copy kept).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..config import RunConfig, build_config
from ..errors import InputError
from ..extras import require
from ..fileio import TMP_GLOB, atomic_file, write_text_atomic
from ..jsonutil import jsonable
from ..params import PARAMS, parse_value
from ..timing import TIMING_KEYS, group_timing

if TYPE_CHECKING:
    from ..policies.base import Policy

TARGET_TASK_S = 3.0  # aimed-for seconds of simulation per task
RETRIES = 2  # retries of a task that raises (worker deaths are handled by the scheduler)
POINT_OVERHEAD_S = 0.02  # per-point cost beyond the kernel (packing, summaries)
CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 15.0
WORKER_WAIT_S = 60.0
POINTS_DIR = "points"
MANIFEST = "manifest.json"
_SCHEDULER_RE = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://[^\s/]+(:\d+)?/?$")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- points


def _canon(v: float | str) -> str | float:
    """A value as it enters the point id: strings as is, numbers by their exact repr."""
    return v if isinstance(v, str) else repr(float(v))


@dataclass(frozen=True)
class Point:
    """One sweep point; ``overrides`` are parsed values, sorted by key; ``policy_key``: for a user
    policy, the SHA-256 of its source (:func:`policy_key`), empty for a built-in one."""

    preset: str
    policy: str
    overrides: tuple[tuple[str, float | str], ...]
    paths: int
    seed: int
    policy_key: str = ""

    @property
    def id(self) -> str:
        """Stable id: sha256 of (preset, policy, sorted overrides, paths, seed[, policy key]), 16 hex digits
        (the policy key only for a user policy, so built-in points keep their ids)."""
        ident: list[object] = [
            self.preset,
            self.policy,
            [[k, _canon(v)] for k, v in self.overrides],
            int(self.paths),
            int(self.seed),
        ]
        if self.policy_key:
            ident.append(self.policy_key)
        blob = json.dumps(ident, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def params(self) -> dict[str, float | str]:
        return dict(self.overrides)

    def config(self) -> RunConfig:
        return build_config(self.preset, self.policy, self.params, paths=self.paths, seed=self.seed)

    def spec(self) -> dict[str, Any]:
        """What a worker needs (picklable, small)."""
        return {
            "id": self.id,
            "preset": self.preset,
            "policy": self.policy,
            "overrides": self.params,
            "paths": self.paths,
            "seed": self.seed,
        }


def make_point(preset: str, policy: str, overrides: Mapping[str, object], paths: int, seed: int) -> Point:
    """A validated point: every override parsed, the whole run checked by :func:`build_config`."""
    parsed = {k: parse_value(k, v) for k, v in overrides.items()}
    cfg = build_config(preset, policy, parsed, paths=paths, seed=seed)
    from ..policies.compile import refuse_ladder  # lazy: start-up (numba)
    from ..policies.registry import policy_spec  # lazy: start-up (numba)

    refuse_ladder(policy_spec(cfg.policy).resolve(cfg.values))  # before any task: one level per side (issue 15)
    return Point(cfg.preset, cfg.policy, tuple(sorted(parsed.items())), cfg.paths, cfg.seed, policy_key(cfg.policy))


def describe(params: Mapping[str, object]) -> str:
    """``k=v, ...`` for messages."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def make_points(
    preset: str, policy: str, base: Mapping[str, object], combos: Sequence[Mapping[str, object]], paths: int, seed: int
) -> list[Point]:
    """One point per combination (base overrides + the combination), validated, duplicates dropped.

    A combination that :func:`build_config` refuses (e.g. T/dt not whole) raises an
    :class:`InputError` naming the point.
    """
    out: list[Point] = []
    seen: set[str] = set()
    for combo in combos:
        try:
            p = make_point(preset, policy, {**base, **combo}, paths, seed)
        except InputError as e:
            if not combo or e.field in ("preset", "policy", "paths", "seed"):
                raise
            raise InputError(f"--grid point {describe(combo)}", str(e)) from None
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


# --------------------------------------------------------------------------- user policies on the workers

USER_POLICY_DIR = "flatbook-user-policies"  # under the worker's temporary directory: shipped files, by SHA-256

#: (SHA-256 of the source, policy name) -> the policy this process loaded (or, on the client, registered)
_LOADED: dict[tuple[str, str], Policy] = {}


@dataclass(frozen=True)
class PolicySource:
    """A user policy as a worker gets it, keyed by ``sha256`` (of ``blob``).

    ``kind`` "file": ``blob`` is the text of the file that defines it, ``path`` where it was on the
    client (a worker that sees the same bytes there loads that file, else a copy written under
    its temporary directory); "pickle": the policy defined in no file (a script's ``__main__``, a
    notebook) pickled by value with cloudpickle (which comes with dask).
    """

    name: str
    kind: str
    blob: bytes
    sha256: str
    path: str = ""


def _user_policy(name: str) -> Policy | None:
    """The registered policy ``name`` if it is a user's one (None for a built-in or an unknown name)."""
    from ..policies.registry import POLICIES  # lazy: start-up (numba)

    pol = POLICIES.get(name)
    return None if pol is None or pol.builtin else pol


def _policy_file(pol: Policy) -> Path | None:
    """The Python file whose module defines ``pol`` (None: defined in ``__main__``, a notebook, memory).

    The module is the formula's; a table policy has none, so the modules of loaded policy files
    (:mod:`flatbook.policies.loader`) are searched for the object itself."""
    if pol.formula is not None:
        mods = [getattr(pol.formula.py_func, "__module__", "") or ""]
    else:
        mods = [m for m, mod in list(sys.modules.items()) if m.startswith("flatbook_user_policy_") and mod is not None]
        mods = [m for m in mods if any(v is pol for v in vars(sys.modules[m]).values())]
    for m in mods:
        mod = sys.modules.get(m)
        f = getattr(mod, "__file__", None) if m != "__main__" else None
        if f and f.endswith(".py") and Path(f).is_file():
            return Path(f)
    return None


def _source_file(pol: Policy) -> Path | None:
    """:func:`_policy_file`, refused when the file changed since ``pol`` was loaded from it: the workers
    would run the new text and this process the old formula."""
    f = _policy_file(pol)
    if f is not None and pol.formula is not None:
        from ..policies.base import source_token  # lazy: start-up (numba)

        if source_token(pol.formula.py_func) != pol.token:
            raise InputError(
                f"policy {pol.name}",
                f"{f} changed since the policy was loaded; load it again (flatbook.load_policy_file, or "
                f"--policy-file) so that the workers run what this process runs",
            )
    return f


def policy_key(name: str) -> str:
    """What a point id adds for the policy ``name``: "" for a built-in one; for a user's, the SHA-256
    of its file, or (defined in no file) its formula's source token
    (:func:`flatbook.policies.base.source_token`)."""
    pol = _user_policy(name)
    if pol is None:
        return ""
    f = _source_file(pol)
    return hashlib.sha256(f.read_bytes()).hexdigest() if f is not None else pol.token


def policy_sources(names: Iterable[str]) -> dict[str, PolicySource]:
    """The user policies among ``names`` as the workers get them (built-in names are left out)."""
    out: dict[str, PolicySource] = {}
    for name in dict.fromkeys(names):
        pol = _user_policy(name)
        if pol is None:
            continue
        f = _source_file(pol)
        if f is not None:
            blob = f.read_bytes()
            src = PolicySource(name, "file", blob, hashlib.sha256(blob).hexdigest(), str(f.resolve()))
        else:
            # lazy: an optional dependency (dask's), needed only to ship such a policy; it has no type hints
            import cloudpickle  # type: ignore[import-untyped]

            blob = cloudpickle.dumps(pol)
            src = PolicySource(name, "pickle", blob, hashlib.sha256(blob).hexdigest())
        _LOADED.setdefault((src.sha256, name), pol)  # this process has it already: a task run here loads nothing
        out[name] = src
    return out


def _load_source(src: PolicySource) -> Policy:
    """Load a shipped policy in this process (not registered yet)."""
    if src.kind == "pickle":
        import pickle

        pol = pickle.loads(src.blob)  # noqa: S301 - the sweep's own client pickled it for this worker
    else:
        from ..policies.loader import load_policies  # lazy: start-up (numba)

        here = Path(src.path)
        try:
            same = here.is_file() and hashlib.sha256(here.read_bytes()).hexdigest() == src.sha256
        except OSError:
            same = False
        if not same:  # another machine, or the file changed since: the shipped text, under its key
            here = (
                Path(tempfile.gettempdir()) / USER_POLICY_DIR / src.sha256[:16] / (Path(src.path).name or "policy.py")
            )
            if not here.is_file():
                here.parent.mkdir(parents=True, exist_ok=True)
                with atomic_file(here) as fh:
                    fh.write(src.blob)
        found = load_policies(here)
        if src.name not in found:
            raise InputError("--policy-file", f"{here.name} no longer defines the policy {src.name!r}")
        pol = found[src.name]
    return pol


def ensure_policies(sources: Mapping[str, PolicySource]) -> None:
    """Make the shipped policies known by name in this process (a worker), loading each source once
    per SHA-256: an edited file (a new key) is loaded again, an unchanged one is not."""
    if not sources:
        return
    from ..policies.registry import POLICIES, register  # lazy: start-up (numba)

    for name, src in sources.items():
        key = (src.sha256, name)
        pol = _LOADED.get(key)
        if pol is None:
            pol = _LOADED[key] = _load_source(src)
        if POLICIES.get(name) is not pol:
            register(pol)


# --------------------------------------------------------------------------- tasks


def estimate_seconds(cfg: RunConfig) -> float:
    """Rough single-core seconds of one point (path-steps over a throughput by market model).

    From ``make bench``: ~80M path-steps/s for the binomial/intensity market, ~15M for order
    flow or Gaussian mids, about 40% slower with a hedge programme.
    """
    v = cfg.values
    rate = 60e6 if (v["flow"] == "intensity" and v["mid_model"] == "binomial") else 15e6
    if v["hedge_trigger"] != "none" or v["option_type"] != "none":
        rate *= 0.6
    return cfg.paths * cfg.steps / rate + POINT_OVERHEAD_S


def plan_tasks(
    points: Sequence[Point],
    n_workers: int,
    *,
    target_s: float = TARGET_TASK_S,
    per_task: int | None = None,
    costs: Sequence[float] | None = None,
) -> list[list[Point]]:
    """Group points (in order) into tasks of about ``target_s`` estimated seconds, capped so that
    each worker gets at least two tasks when there are enough points; or ``per_task`` points each."""
    pts = list(points)
    if not pts:
        return []
    if per_task is not None:
        k = max(1, int(per_task))
        return [pts[i : i + k] for i in range(0, len(pts), k)]
    costs = list(costs) if costs is not None else [estimate_seconds(p.config()) for p in pts]
    cap = max(1, math.ceil(len(pts) / (2 * max(1, n_workers))))
    tasks: list[list[Point]] = []
    cur: list[Point] = []
    acc = 0.0
    for p, c in zip(pts, costs):
        if cur and (acc + c > target_s or len(cur) >= cap):
            tasks.append(cur)
            cur, acc = [], 0.0
        cur.append(p)
        acc += c
    if cur:
        tasks.append(cur)
    return tasks


# --------------------------------------------------------------------------- worker side

_SIM_LOCK = threading.Lock()  # numba's default threading layer must not be entered by two threads at once


def simulate_point(spec: Mapping) -> dict:
    """Simulate one point and return its row: identification, the summary, SEs and jackknife sums,
    and under ``timing`` the wall-clock fields (the summary's ``elapsed_s`` and ``path_steps_per_s``,
    and ``wall_s``, seconds for the whole point)."""
    # lazy: start-up (numba and the kernel load in the process that runs a point, not in the one that plans)
    from ..sim.simulator import simulate
    from .objectives import point_stats

    t0 = time.perf_counter()
    cfg = build_config(spec["preset"], spec["policy"], spec["overrides"], paths=spec["paths"], seed=spec["seed"])
    res = simulate(cfg)
    row: dict = {
        "point_id": spec["id"],
        "preset": cfg.preset,
        "policy": cfg.policy,
        "paths": cfg.paths,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "overrides": json.dumps({k: _canon(v) for k, v in sorted(spec["overrides"].items())}),
    }
    for k, v in spec["overrides"].items():
        row[k] = v
    for k, v in res.summary.items():
        if k not in row:
            row[k] = float("nan") if v is None else v
    row.update(point_stats(res.per_path, res.summary))
    row["wall_s"] = time.perf_counter() - t0
    return group_timing(row)


def one_numba_thread() -> None:
    """Run numba on one thread in this process, its configuration read from the environment first.

    A worker process may import numba before its nanny sets ``NUMBA_NUM_THREADS=1`` in its
    environment (the spawned process re-imports the parent's ``__main__``, e.g. a script that
    imports numba): numba then sizes its thread pool from the core count, and the first
    compilation in the worker (an empty cache, or a user's policy) re-reads the environment
    (:func:`numba.core.config.reload_config`), sees 1 against the pool's 2 and raises "Cannot set
    NUMBA_NUM_THREADS to a different value once the threads have been launched". Reloading the
    configuration before the pool starts makes the two agree, so later reloads find no change."""
    import numba
    from numba.core import config as numba_config
    from numba.np.ufunc import parallel as numba_parallel

    if not numba_parallel._is_initialized:
        numba_config.reload_config()
    numba.set_num_threads(1)


def run_task(specs: Sequence[Mapping], sources: Mapping[str, PolicySource] | None = None) -> list[dict]:
    """A Dask task: simulate its points one after another on one numba thread; each row's
    ``timing`` also gets the worker's address and the UTC time the point finished. ``sources``:
    the user policies the points run (:func:`policy_sources`), loaded here first."""
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    rows = []
    with _SIM_LOCK:
        one_numba_thread()
        ensure_policies(sources or {})
        for spec in specs:
            row = simulate_point(spec)
            row["timing"]["worker"] = where
            row["timing"]["finished_utc"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            rows.append(row)
    return rows


def warm_up() -> int:
    """Load the compiled kernel in a worker (``client.run(warm_up)``); returns the worker's pid."""
    run_task([make_point("as2008", "linear-skew", {}, 64, 0).spec()])
    return os.getpid()


# --------------------------------------------------------------------------- storage


class PointStore:
    """``DIR/points/*.parquet`` (one file per finished task) and ``DIR/manifest.json``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.points_dir = self.root / POINTS_DIR
        self._lock_fh: TextIO | None = None

    # -- locking: one sweep at a time per directory
    def open(self) -> None:
        self.points_dir.mkdir(parents=True, exist_ok=True)
        for pattern in (TMP_GLOB, ".tmp-*"):  # left by a crash during a write (".tmp-*": older versions)
            for tmp in self.points_dir.glob(pattern):
                tmp.unlink(missing_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        fh = open(self.root / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise InputError(
                "--out", f"{self.root} is in use by another run; wait for it or use another directory"
            ) from None
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def files(self) -> list[Path]:
        return sorted(p for p in self.points_dir.glob("*.parquet") if not p.name.startswith("."))

    def read_raw(self):
        """Every stored row, duplicates included (a DataFrame)."""
        import pandas as pd
        import pyarrow.parquet as pq

        frames = []
        for f in self.files():
            try:
                frames.append(timing_column(pq.read_table(f).to_pandas()))
            except Exception as e:  # noqa: BLE001 - an unreadable file is skipped, its points re-run
                log.warning("skipping unreadable %s: %s", f, e)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"point_id": []})

    def read(self) -> dict[str, dict]:
        """Completed points by id (the first stored copy of each)."""
        df = self.read_raw()
        if df.empty:
            return {}
        df = df.drop_duplicates("point_id", keep="first")
        recs = df.to_dict("records")
        return {r["point_id"]: _clean(r) for r in recs}

    def write(self, rows: Sequence[dict], tag: str) -> Path | None:
        """One Parquet file for ``rows``, atomically (temporary name, then rename)."""
        if not rows:
            return None
        import pandas as pd

        name = f"{time.time_ns():020d}-{tag}.parquet"
        with atomic_file(self.points_dir / name, hold_sigint=True) as fh:
            pd.DataFrame(list(rows)).to_parquet(fh, index=False, engine="pyarrow")
        return self.points_dir / name

    def write_manifest(self, meta: Mapping) -> None:
        write_json_atomic(self.root / MANIFEST, meta)

    def read_manifest(self) -> dict | None:
        try:
            return json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def timing_column(df):
    """``df`` with its wall-clock columns (:data:`flatbook.timing.TIMING_KEYS`; flat in files written
    before the ``timing`` struct column existed) moved into ``timing``, one dict per row."""
    flat = [k for k in TIMING_KEYS if k in df.columns]
    if not flat:
        return df
    have = df["timing"].tolist() if "timing" in df.columns else [None] * len(df)
    recs = df[flat].to_dict("records")
    df = df.drop(columns=flat + (["timing"] if "timing" in df.columns else []))
    df["timing"] = [{**(t or {}), **r} for t, r in zip(have, recs)]
    return df


def _clean(rec: dict) -> dict:
    """A row read back from Parquet: numpy arrays (list columns) → lists, NaN kept."""
    out = {}
    for k, v in rec.items():
        if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
            v = v.tolist()
        out[k] = v
    return out


def write_json_atomic(path: Path, obj: object) -> None:
    """Strict JSON (non-finite → null) written atomically (:func:`flatbook.fileio.write_text_atomic`)."""
    write_text_atomic(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


# --------------------------------------------------------------------------- cluster


def local_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_scheduler(address: str) -> str:
    """``tcp://HOST:PORT`` (or tls://, ws://, ...), else :class:`InputError`."""
    a = str(address).strip()
    if not _SCHEDULER_RE.match(a):
        raise InputError("--scheduler", f"got {address!r}; expected an address such as tcp://HOST:PORT")
    return a


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A :class:`distributed.Client`: to ``scheduler``, or to a fresh local cluster of ``workers``
    single-threaded processes (default: one per core), closed on exit. Needs the extra ``sweep``."""
    require("sweep", "distributed", field="flatbook sweep")
    from distributed import Client, LocalCluster  # an optional dependency: imported when a cluster starts

    if scheduler is not None:
        addr = check_scheduler(scheduler)
        try:
            client = Client(addr, timeout=f"{CONNECT_TIMEOUT_S:g}s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise InputError("--scheduler", f"cannot connect to {addr}: {e}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise InputError("--scheduler", f"no worker joined {addr} within {WORKER_WAIT_S:g} s") from None
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close()
        return
    n = workers or local_cores()
    with warnings.catch_warnings(), _sigint_ignored():
        # "Port 8787 is already in use": the scheduler's HTTP server moves to a free port, fine
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env={"NUMBA_NUM_THREADS": "1"},
        )
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        with contextlib.suppress(BaseException):
            client.close(timeout=CLOSE_TIMEOUT_S)
        with contextlib.suppress(BaseException):
            cluster.close(timeout=CLOSE_TIMEOUT_S)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the local workers are spawned: they inherit it, so a Ctrl-C in the
    terminal (sent to the whole process group) interrupts the sweep here, which then shuts the
    workers down cleanly, instead of killing them mid-task with a traceback each."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class SweepTaskError(RuntimeError):
    """A task failed on every retry; the message names its points and the error."""


@dataclass
class Progress:
    """Counts for a progress callback."""

    points_done: int = 0
    points_total: int = 0
    paths_done: int = 0
    paths_total: int = 0
    cached: int = 0


class SweepRunner:
    """Runs lists of points (cached ones from ``out``, the rest on the cluster); a context manager.

    The cluster is started on the first point that needs computing, so a sweep that is already
    complete in ``out`` starts nothing; or pass ``client`` to use (and keep) an existing one.
    """

    def __init__(
        self,
        out: Path | None = None,
        *,
        scheduler: str | None = None,
        workers: int | None = None,
        per_task: int | None = None,
        target_task_s: float = TARGET_TASK_S,
        progress: Callable[[Progress], None] | None = None,
        client=None,
    ):
        self.store = PointStore(out) if out is not None else None
        self.scheduler = scheduler
        self.workers = workers
        self.per_task = per_task
        self.target_task_s = target_task_s
        self.progress = progress
        self.stats = Progress()
        self.tasks_run = 0
        self._stack = contextlib.ExitStack()
        self._client = client  # an existing Client (kept open), else one is made when needed
        self._done: dict[str, dict] = {}

    def __enter__(self) -> SweepRunner:
        if self.store is not None:
            self.store.open()
            self._stack.callback(self.store.close)
            self._done = self.store.read()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    @property
    def client(self):
        if self._client is None:
            self._client = self._stack.enter_context(dask_client(self.scheduler, self.workers))
        return self._client

    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def done_ids(self) -> set[str]:
        return set(self._done)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.stats)

    def run(self, points: Sequence[Point]) -> list[dict]:
        """Rows of ``points`` (in order): stored ones as they are, the others computed now (the
        cluster is started, and distributed imported, only if there are any)."""
        pts = list({p.id: p for p in points}.values())
        todo = [p for p in pts if p.id not in self._done]
        st = self.stats
        st.points_total += len(pts)
        st.paths_total += sum(p.paths for p in pts)
        st.cached += len(pts) - len(todo)
        st.points_done += len(pts) - len(todo)
        st.paths_done += sum(p.paths for p in pts if p.id in self._done)
        self._tick()
        if todo:
            require("sweep", "distributed", field="flatbook sweep")
            from distributed import as_completed  # an optional dependency: imported when points run

            client = self.client
            costs = [estimate_seconds(p.config()) for p in todo]
            tasks = plan_tasks(todo, self.n_workers(), target_s=self.target_task_s, per_task=self.per_task, costs=costs)
            sources = policy_sources(p.policy for p in todo)  # read once: every task ships the same text
            futures = {}
            for chunk in tasks:
                tag = hashlib.sha256("".join(p.id for p in chunk).encode()).hexdigest()[:12]
                fut = client.submit(
                    run_task,
                    [p.spec() for p in chunk],
                    {p.policy: sources[p.policy] for p in chunk if p.policy in sources},
                    key=f"flatbook-sweep-{tag}-{secrets.token_hex(3)}",
                    retries=RETRIES,
                    pure=False,
                )
                futures[fut] = (tag, chunk)
            try:
                for fut in as_completed(list(futures), loop=client.loop):
                    tag, chunk = futures[fut]
                    try:
                        rows = fut.result()
                    except Exception as e:  # noqa: BLE001 - reported with the task's points
                        raise SweepTaskError(
                            f"a task of {len(chunk)} point(s) failed after {RETRIES} retries "
                            f"(first: {describe(chunk[0].params) or chunk[0].id}): "
                            f"{type(e).__name__}: {e}"
                        ) from e
                    new = [r for r in rows if r["point_id"] not in self._done]
                    if self.store is not None:
                        self.store.write(new, tag)
                    for r in new:
                        self._done[r["point_id"]] = r
                    self.tasks_run += 1
                    st.points_done += len(new)
                    st.paths_done += sum(int(r["paths"]) for r in new)
                    self._tick()
            except BaseException:
                with contextlib.suppress(Exception):
                    client.cancel(list(futures))
                raise
            finally:
                futures.clear()
        return [self._done[p.id] for p in pts]


def run_sweep(points: Sequence[Point], out: Path | None = None, **kw) -> list[dict]:
    """Run ``points`` (see :class:`SweepRunner` for the keywords); their rows in order."""
    with SweepRunner(out, **kw) as runner:
        return runner.run(points)


# --------------------------------------------------------------------------- adaptive search (optional extra)


def optuna_available() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def optuna_search(
    runner: SweepRunner,
    axes,
    make: Callable[[dict], Point],
    n_trials: int,
    score: Callable[[dict], float | None],
    *,
    direction: str,
    seed: int,
    batch: int | None = None,
) -> list[dict]:
    """``n_trials`` adaptive trials with optuna's TPE sampler (seeded), evaluated on the cluster
    in batches of ``batch`` (default: the number of workers). Trials whose point is already
    stored are answered from the store. Returns the trials' rows in order."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists: dict[str, optuna.distributions.BaseDistribution] = {}
    for ax in axes:
        if ax.lo is None:
            dists[ax.key] = optuna.distributions.CategoricalDistribution(list(ax.values))
        elif ax.numeric and _is_int(ax.key):
            dists[ax.key] = optuna.distributions.IntDistribution(
                int(math.ceil(ax.lo)), int(math.floor(ax.hi)), log=ax.log
            )
        else:
            dists[ax.key] = optuna.distributions.FloatDistribution(ax.lo, ax.hi, log=ax.log)
    study = optuna.create_study(
        direction="maximize" if direction == "maximize" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    rows: list[dict] = []
    left = n_trials
    while left > 0:
        k = min(left, batch or runner.n_workers())
        trials = [study.ask(dists) for _ in range(k)]
        pts = [make({key: t.params[key] for key in dists}) for t in trials]
        got = runner.run(pts)
        by_id = {r["point_id"]: r for r in got}
        for t, p in zip(trials, pts):
            r = by_id[p.id]
            val = score(r)
            if val is None or not math.isfinite(val):
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(t, val)
            rows.append(r)
        left -= k
    return rows


def _is_int(key: str) -> bool:
    return PARAMS[key].integer
