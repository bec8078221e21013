"""User-defined policies: one file, every engine, the same numbers as the built-in they re-implement.

A user's re-implementation of ``linear-skew`` (written to a temporary file, loaded with
``--policy-file``) must give the built-in's numbers bit for bit in simulate, compare,
backtest (the Binance file), quote and the live engine in paper mode; a bad policy is one
line and exit 2; an edited file runs its new formula (no stale compiled cache).
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_data
from flatbook.backtest import replay_config, run_backtest
from flatbook.cli import root as cli_app
from flatbook.config import build_config
from flatbook.data.load import load as load_events
from flatbook.errors import InputError
from flatbook.live.runner import run as live_run
from flatbook.live.settings import parse_settings
from flatbook.policies import Param, load_policy_file, policy, table_policy
from flatbook.policies.quote import quote, quotes
from flatbook.sim.simulator import simulate

BINANCE = "binance/usdm_btcusdt_20240808.gz"
AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
runner = CliRunner()

LINEAR = """
from flatbook.policies import Param, policy


@policy(params={"half_spread": Param(unit="price units", default=0.5, ge=0),
                "skew": Param(unit="price units per lot", default=0.01, ge=0),
                "q_target": Param(unit="lots", default=0.0)})
def my_linear(p, t, tau, s, q):
    c = p.skew * (q - p.q_target)
    return p.half_spread + c, p.half_spread - c
"""


def _write(tmp_path, body: str, name: str = "user_pol.py"):
    f = tmp_path / name
    f.write_text(textwrap.dedent(body))
    return f


def _strip(d):
    """A summary without wall-clock fields."""
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in ("timing", "elapsed_s", "path_steps_per_s")}
    if isinstance(d, list):
        return [_strip(x) for x in d]
    return d


@pytest.fixture(scope="module")
def linear_file(tmp_path_factory):
    f = _write(tmp_path_factory.mktemp("pol"), LINEAR)
    load_policy_file(f, "my_linear")
    return f


def test_simulate_equals_builtin_bit_for_bit(linear_file):
    a = simulate(build_config("as2008", "linear-skew", {"q0": 2.0}, paths=700, seed=3), record_paths=(0,))
    b = simulate(build_config("as2008", "my_linear", {"q0": 2.0}, paths=700, seed=3), record_paths=(0,))
    for k in a.per_path:
        assert np.array_equal(a.per_path[k], b.per_path[k], equal_nan=True), k
    for k in a.series:
        assert np.array_equal(a.series[k], b.series[k], equal_nan=True), k
    assert _strip(a.summary) == _strip(b.summary)
    assert a.summary["pnl_mean"] != 0.0 and a.summary["fills_mean"] > 10


def test_compare_cli_with_policy_file(linear_file):
    r = runner.invoke(
        cli_app.app,
        [
            "compare",
            "--policy-file",
            str(linear_file),
            "--policy",
            "linear-skew",
            "--policy",
            "my_linear",
            "--paths",
            "300",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    pols = json.loads(r.stdout)["policies"]
    assert _strip(pols["linear-skew"]) == _strip(pols["my_linear"])


def test_quote_equals_builtin(linear_file):
    for q, t in ((-3.0, 0.0), (0.0, 0.4), (2.5, 0.9), (40.0, 0.2)):
        a = quote(build_config("as2008", "linear-skew", {"limit": 10}), q, 101.0, t)
        b = quote(build_config("as2008", "my_linear", {"limit": 10}), q, 101.0, t)
        assert a == b
    r = runner.invoke(
        cli_app.app, ["quote", "--policy-file", str(linear_file), "--policy", "my_linear", "--q", "3", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["bid"] == quote(build_config("as2008", "linear-skew"), 3.0).bid


def test_backtest_on_binance_equals_builtin(linear_file):
    ev = load_events(shared_data(BINANCE))
    res = [run_backtest(ev, replay_config(ev, name, {"limit": 0.05})) for name in ("linear-skew", "my_linear")]
    assert res[0].summary["fills"] > 0
    assert _strip(res[0].summary) == _strip(res[1].summary)
    for k in res[0].fills:
        assert np.array_equal(res[0].fills[k], res[1].fills[k], equal_nan=True), k


def test_live_paper_equals_builtin(linear_file, tmp_path):
    out = {}
    for name in ("linear-skew", "my_linear"):
        d = tmp_path / name
        d.mkdir()
        s = parse_settings(
            {
                "run": {"policy": name},
                "feed": {"kind": "replay", "path": str(shared_data(AAPL)), "stop": 20_000},
                "venue": {"kind": "paper"},
                "journal": {"path": str(d / "journal.sqlite")},
                "api": {"enabled": False},
            }
        )
        summary = asyncio.run(live_run(s))
        out[name] = (summary["position"], summary["cash"], summary["fills"], summary["pnl"]["total"], summary["orders"])
    assert out["linear-skew"] == out["my_linear"]
    assert out["linear-skew"][2] > 0


def test_python_call_and_params():
    @policy(params={"h": Param(unit="price units", default=0.5, ge=0)})
    def flat(p, t, tau, s, q):
        return p.h, p.h

    assert flat(0.0, 1.0, 100.0, 3.0, h=0.25) == (0.25, 0.25)
    with pytest.raises(InputError, match="h"):
        flat.bind({"h": -1.0}, 10)


def test_table_policy_matches_the_formula_on_its_grid():
    q = np.arange(-10.0, 11.0)
    h, k = 0.4, 0.05
    pol = table_policy(None, q, np.tile(h + k * q, (1, 1)), np.tile(h - k * q, (1, 1)), name="tbl")
    from flatbook.policies.registry import register

    register(pol)
    cfg = build_config("as2008", "tbl", {})
    r = quotes(cfg, 100.0, q, 0.5)
    assert np.array_equal(r["bid_depth"], h + k * q) and np.array_equal(r["ask_depth"], h - k * q)
    mid = quotes(cfg, 100.0, 0.5, 0.5)
    assert math.isclose(float(mid["bid_depth"]), h + k * 0.5, rel_tol=1e-12)
    far = quotes(cfg, 100.0, 50.0, 0.5)  # clamped at the grid's end
    assert float(far["bid_depth"]) == h + k * 10.0
    with pytest.raises(InputError, match="q_grid"):
        table_policy(None, [0.0, 1.0, 3.0], np.zeros((1, 3)), np.zeros((1, 3)))
    # rows on a time grid of its own: the row in force at t (piecewise constant), moving with time
    timed = register(
        table_policy([0.0, 0.5], [-1.0, 1.0], [[1.0, 1.0], [2.0, 2.0]], [[1.0, 1.0], [3.0, 3.0]], name="tbl_t")
    )
    cfg = build_config("as2008", "tbl_t", {})
    r = quotes(cfg, 100.0, 0.0, np.array([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert r["bid_depth"].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0] and r["ask_depth"].tolist() == [1.0, 1.0, 3.0, 3.0, 3.0]
    assert timed.bind(cfg.values, cfg.steps).moves_with_time


def test_glft_exact_is_a_table_policy_and_time_rules_are_declared():
    from flatbook.policies import table
    from flatbook.policies.registry import policy_spec

    v = build_config("as2008", "glft", {"solution": "exact", "limit": 5}).values
    assert policy_spec("glft").resolve(v).depths is table.depths
    assert policy_spec("glft").bind(v, 200).moves_with_time
    assert not policy_spec("glft").bind({**v, "solution": "closed"}, 200).moves_with_time
    w = build_config("as2008", "avellaneda-stoikov", {}).values
    assert policy_spec("avellaneda-stoikov").timed(w) and not policy_spec("avellaneda-stoikov").timed(
        {**w, "variant": "stationary"}
    )

    @policy(params={"h": Param(unit="price units", default=0.5, ge=0)}, moves_with_time=True)
    def decay(p, t, tau, s, q):
        return p.h * (1.0 + tau), p.h * (1.0 + tau)

    assert decay.bind({"T": 1.0, "dt": 0.01}, 100).moves_with_time


# ------------------------------------------------------------------ errors and the cache, real processes
def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flatbook", *args], capture_output=True, text=True, check=False, timeout=300, cwd=cwd
    )


BAD = {
    "nan": ("return math.nan, p.h", "NaN"),
    "arity": (None, "5 arguments"),
    "outputs": ("return p.h, p.h, p.h", "2 numbers"),
    "crossed": ("return -p.h - 1.0, 0.0", "crossed"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_policy_is_one_line_exit_2(tmp_path, case):
    body, needle = BAD[case]
    sig = "p, t, tau, s" if body is None else "p, t, tau, s, q"
    body = body or "return p.h, p.h"
    f = _write(
        tmp_path,
        f"""
        import math
        from flatbook.policies import Param, policy

        @policy(params={{"h": Param(unit="price units", default=0.5, ge=0)}})
        def bad(p, {sig.split(", ", 1)[1]}):
            {body}
        """,
    )
    p = _cli("quote", "--policy-file", str(f), "--policy", "bad", "--q", "1", cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], p.stderr


def test_edited_file_runs_its_new_formula(tmp_path):
    src = """
        from flatbook.policies import Param, policy

        @policy(params={{"h": Param(unit="price units", default=0.5, ge=0)}})
        def edited(p, t, tau, s, q):
            return {f} * p.h, {f} * p.h
        """
    f = tmp_path / "edited.py"
    bids = []
    for factor in ("1.0", "3.0"):
        f.write_text(textwrap.dedent(src.format(f=factor)))
        p = _cli("quote", "--policy-file", str(f), "--policy", "edited", "--q", "0", "--mid", "100", "--json")
        assert p.returncode == 0, p.stderr
        bids.append(json.loads(p.stdout)["bid"])
    assert bids == [99.5, 98.5]


def test_data_the_formula_reads_keys_its_cache(tmp_path):
    """A formula that reads a constant and a table loaded from a data file at import: numba compiles them in as
    constants, so the cache key holds their values; when the data file changes (the source does not), the next
    run, in a new process or this one, runs the new values, never the stale compiled ones."""
    src = """
        from pathlib import Path
        import numpy as np
        from flatbook.policies import Param, policy

        HERE = Path(__file__).parent
        SCALE = float((HERE / "scale.txt").read_text())
        STEPS = np.array([float(x) for x in (HERE / "steps.txt").read_text().split()])

        @policy(params={"h": Param(unit="price units", default=0.5, ge=0)})
        def from_data(p, t, tau, s, q):
            return SCALE * p.h + STEPS[0], SCALE * p.h + STEPS[1]
        """
    f = tmp_path / "from_data.py"
    f.write_text(textwrap.dedent(src))
    got = []
    for scale, steps in (("1.0", "0 0"), ("3.0", "0 0"), ("3.0", "0.25 0.5")):
        (tmp_path / "scale.txt").write_text(scale)
        (tmp_path / "steps.txt").write_text(steps)
        p = _cli("quote", "--policy-file", str(f), "--policy", "from_data", "--q", "0", "--mid", "100", "--json")
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        got.append((d["bid"], d["ask"]))
        pol = load_policy_file(f, "from_data")  # in this process: the compiled loop follows the data too
        r = quotes(build_config("as2008", "from_data", {}), 100.0, [0.0], 0.0)
        assert (100.0 - float(r["bid_depth"][0]), 100.0 + float(r["ask_depth"][0])) == got[-1], pol.token
    assert got == [(99.5, 100.5), (98.5, 101.5), (98.25, 102.0)]
