"""What ``flatbook quote`` loads, and that its plain-Python quote is the compiled one, bit for bit.

``flatbook quote`` for a built-in formula policy runs the policy's formula and the controls as plain
Python (:func:`flatbook.policies.quote.python_form`): it never sets up numba's compiler (which
loads scipy.linalg) nor the engines. Its figures must be those of the engines' compiled code, so
the two forms are compared on a grid of states, controls and policies. Module sets only: the
start-up times are measured in ``benchmarks/bench_startup.py``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from flatbook.config import build_config
from flatbook.controls.quote_controls import pack_controls
from flatbook.policies.quote import PYTHON_MAX, _evaluate_python, _python_ok, quote_kernel, quotes
from flatbook.policies.registry import policy_spec

_PROBE = """
import contextlib, io, json, sys
sys.argv = ["flatbook", "quote", "--preset", "as2008", "--policy", {policy!r}, "--q", "3", "--json"]
from flatbook.cli.entry import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        main()
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps({{"quote": json.loads(out.getvalue()), "modules": sorted(sys.modules)}}))
"""

#: never loaded by ``flatbook quote`` of a built-in formula policy
NOT_LOADED = (
    "numba.np.arraymath",  # numba's compiler set-up: anything compiled or loaded from numba's cache
    "scipy.linalg",
    "pandas",
    "matplotlib",
    "pyarrow",
    "plotly",
    "dash",
    "flatbook.sim.kernel",
    "flatbook.sim.simulator",
    "flatbook.backtest.engine",
    "flatbook.backtest.backtester",
    "flatbook.calibrate",
    "flatbook.estimators.intensity",
)


@pytest.mark.parametrize("policy", ["glft", "avellaneda-stoikov", "linear-skew"])
def test_flatbook_quote_loads_neither_the_compiler_nor_the_engines(policy):
    r = subprocess.run(
        [sys.executable, "-c", _PROBE.format(policy=policy)], capture_output=True, text=True, check=True, timeout=300
    )
    res = json.loads(r.stdout)
    loaded = set(res["modules"])
    assert [m for m in NOT_LOADED if m in loaded] == []
    assert "flatbook.policies.quote" in loaded
    q = res["quote"]
    assert q["policy"] == policy and q["q"] == 3.0 and q["mid"] == 100.0
    assert q["bid"] < q["ask"] and q["centre"] < q["mid"] and q["skew"] < 0.0  # long 3 lots: the quotes lean down


def _grid(cfg):
    v = cfg.values
    lim = v["limit"] if np.isfinite(v["limit"]) else 10.0
    qs = np.array([-lim, -lim + 0.5, -3.0, -1.0, -0.0, 0.0, 0.25, 1.0, 2.0, 3.0, 5.0, lim - 0.5, lim])
    ts = np.array([0.0, 0.5 * v["T"], v["T"]])
    ss = np.array([0.5 * v["s0"], v["s0"], v["s0"] + 0.037, 2.0 * v["s0"]])
    Q, T, S, K = (a.ravel() for a in np.meshgrid(qs, ts, ss, [False, True], indexing="ij"))
    return S, Q, T, K


CASES = [
    ("symmetric", {}),
    ("linear-skew", {"skew": 0.3, "q_target": 1.0}),
    ("stoll", {"stoll_gamma": 0.05}),
    ("avellaneda-stoikov", {}),
    ("avellaneda-stoikov", {"variant": "stationary", "horizon": 0.3}),
    ("glft", {}),
    ("glft", {"q_target": -2.0}),
]
CONTROLS = [
    {},
    {"tick": 0.01, "market_spread": 0.05, "min_spread": 0.03},
    {"limit": 6.0, "yellow": 1.0, "red": 2.5, "critical": 5.0, "yellow_action": "widen", "red_action": "skew"},
    {"limit": 6.0, "yellow": 2.0, "red": 3.0, "critical": 4.0, "red_action": "flatten", "tick": 0.05},
]


@pytest.mark.parametrize("controls", CONTROLS, ids=lambda c: ",".join(c) or "none")
@pytest.mark.parametrize(("policy", "params"), CASES, ids=lambda x: x if isinstance(x, str) else ",".join(x))
def test_python_quote_equals_the_compiled_quote_bit_for_bit(policy, params, controls):
    cfg = build_config("as2008", policy, {**params, **controls}, paths=1)
    v = cfg.values
    b = policy_spec(policy).bind(v, cfg.steps)
    assert _python_ok(b.policy, 1) and not _python_ok(b.policy, PYTHON_MAX + 1)
    s, q, t, kill = _grid(cfg)
    cp = pack_controls(v)
    i = np.clip(np.floor(t / v["dt"] + 1e-9), 0, cfg.steps).astype(np.int64)
    tau = v["T"] - t
    compiled, python = np.empty((8, s.size)), np.empty((8, s.size))
    quote_kernel(b.policy)(b.pp, b.tab, cp, i, t, tau, s, q, np.zeros_like(s), kill, compiled)
    _evaluate_python(b.policy, b.pp, cp, t, tau, s, q, kill, python)
    assert np.isfinite(compiled[:2]).all() and (compiled[4:6] > 0).any() and (compiled[4:6] == 0).any()
    np.testing.assert_array_equal(python.view(np.int64), compiled.view(np.int64))  # the same bits (−0.0 too)


def test_quotes_of_many_states_run_compiled_and_agree_with_one_state_quotes():
    cfg = build_config("as2008", "avellaneda-stoikov", {"tick": 0.01}, paths=1)
    q = np.linspace(-5.0, 5.0, PYTHON_MAX + 1)  # one more than the Python form takes: compiled
    many = quotes(cfg, 100.0, q, 0.25)
    for j in (0, 17, PYTHON_MAX):
        one = quotes(cfg, 100.0, q[j : j + 1], 0.25)
        for k, a in many.items():
            assert a[j] == one[k][0] or (np.isnan(a[j]) and np.isnan(one[k][0])), k
    assert many["bid"][0] > many["bid"][-1]  # short 5 lots: the bid is higher than when long
