"""Shared helpers for flatbook's behavioural tests.

Statistical helpers return an estimate together with its standard error, both
computed from the sample itself, so every statistical assertion reads
``|estimate − expected| < Z·SE`` with ``Z = 4`` (two-sided false-alarm rate
≈ 6e-5 per assertion; all seeds are fixed, so a run is reproducible anyway).

Test modules import these helpers with ``from conftest import ...`` (pytest's
default ``prepend`` import mode puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from flatbook.config import build_config
from flatbook.sim.simulator import simulate

REPO = Path(__file__).resolve().parents[1]
#: ``../shared/data`` resolved from the repository root (never from the working directory).
DATA = (REPO / ".." / "shared" / "data").resolve()
#: CI runs with CI=true: there, nothing may skip (a skipped test is a test that cannot fail).
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def shared_data(rel: str) -> Path:
    """Path of ``../shared/data/<rel>``; a missing file fails the test in CI and skips it elsewhere."""
    path = DATA / rel
    if not path.exists():
        (pytest.fail if IN_CI else pytest.skip)(f"real data file {path} not present")
    return path


def pytest_addoption(parser):
    parser.addoption(
        "--soak",
        action="store_true",
        help="also run the long soaks (tests marked soak; `make soak`); never part of make test or CI",
    )


def pytest_collection_modifyitems(config, items):
    """Soaks are deselected (not skipped) unless --soak is given."""
    if config.getoption("--soak"):
        return
    soaks = [it for it in items if it.get_closest_marker("soak") is not None]
    if soaks:
        config.hook.pytest_deselected(items=soaks)
        items[:] = [it for it in items if it.get_closest_marker("soak") is None]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skip is a failure: every test there must be able to fail."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped in CI (CI=true), which counts as a failure: {rep.longrepr}"


EPS = float(np.finfo(float).eps)
Z = 4.0  # standard errors allowed in every statistical assertion

POLICIES = ("symmetric", "linear-skew", "stoll", "avellaneda-stoikov", "glft")
SKEWING = POLICIES[1:]  # policies whose quotes lean against inventory

# A–S 2008 §3 / as2008 preset: γ = 0.1, σ = 2, k = 1.5, A = 140, T = 1, dt = 0.005, s0 = 100.
AS_GAMMA, AS_SIGMA, AS_K, AS_A, AS_T, AS_DT = 0.1, 2.0, 1.5, 140.0, 1.0, 0.005
# c = (1/γ)·ln(1 + γ/k) = 10·ln(16/15)
AS_C = 0.6453852113757117


def prop(max_examples: int = 60, **kw) -> settings:
    """Hypothesis settings for this suite: reproducible (derandomised), no deadline
    (the first call of a policy may load its compiled kernel from disk)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **kw,
    )


def cfg(preset: str = "as2008", policy: str = "symmetric", paths: int = 1000, seed: int = 0, **overrides):
    """``build_config`` with overrides as keyword arguments."""
    return build_config(preset, policy, overrides, paths=paths, seed=seed)


def run(preset: str = "as2008", policy: str = "symmetric", paths: int = 1000, seed: int = 0, record=(), **overrides):
    """Build a config and simulate it."""
    return simulate(cfg(preset, policy, paths, seed, **overrides), record_paths=record)


def mean_se(x) -> tuple[float, float]:
    """Sample mean and its standard error s/√n."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def var_se(x) -> tuple[float, float]:
    """Sample variance and its standard error, sqrt((m4 − s⁴)/n) (large-n, any distribution)."""
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    s2 = float(d.var(ddof=1))
    m4 = float(np.mean(d**4))
    return s2, math.sqrt(max(m4 - s2 * s2, 0.0) / x.size)


def std_se(x) -> tuple[float, float]:
    """Sample standard deviation and its standard error (delta method on :func:`var_se`)."""
    s2, se2 = var_se(x)
    s = math.sqrt(s2)
    return s, se2 / (2.0 * s) if s > 0 else 0.0


def fill_prob(A: float, k: float, depth: float, dt: float) -> float:
    """Exact per-step fill probability of the kernel's intensity flow.

    A side fills when a 31-bit uniform m·2⁻³¹ (m = 0 .. 2³¹−1) is below p = A·e^(−kδ)·dt,
    so P(fill) = min(1, ⌈p·2³¹⌉/2³¹) — p itself up to 4.7e-10.
    """
    p = A * math.exp(-k * depth) * dt
    return min(1.0, math.ceil(p * 2.0**31) / 2.0**31)


@pytest.fixture
def numba_threads():
    """Yields ``numba.set_num_threads`` and restores the thread count afterwards."""
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


@pytest.fixture(autouse=True, scope="session")
def _private_data_cache(tmp_path_factory):
    """Keep flatbook's parsed-data cache inside the test session's temporary directory."""
    import os

    old = os.environ.get("FLATBOOK_CACHE_DIR")
    os.environ["FLATBOOK_CACHE_DIR"] = str(tmp_path_factory.mktemp("flatbook-cache"))
    yield
    if old is None:
        os.environ.pop("FLATBOOK_CACHE_DIR", None)
    else:
        os.environ["FLATBOOK_CACHE_DIR"] = old
