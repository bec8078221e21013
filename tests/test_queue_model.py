"""Issue 15 §1: queue models are pluggable, like the policies and the simulator's stages.

The built-in queues written as models (:data:`flatbook.backtest.queue_model.PRORATA`, ``PROB``) give the
built-in numbers bit for bit on real data; examples/my_queue.py (hftbacktest's power-law probability queue) runs;
a bad file, name or parameter is one line (exit 2 on the command line).
"""

from __future__ import annotations

import pickle
import runpy
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, shared_data
from flatbook import api
from flatbook.backtest.queue_model import PROB, PRORATA, load_queue_file, queue_model
from flatbook.errors import InputError

AMZN5 = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
EXAMPLE = REPO / "examples" / "my_queue.py"


@pytest.fixture(scope="module")
def amzn5():
    ev = api.load_data(shared_data(AMZN5))
    return ev.between(int(ev.ts[0]), int(ev.ts[0]) + 1800 * 10**9)  # the first half hour


def _same(a, b):
    sa = {k: v for k, v in a.raw.summary.items() if k != "timing"}
    sb = {k: v for k, v in b.raw.summary.items() if k != "timing"}
    assert sa == sb
    for k in a.fills:
        assert np.array_equal(a.fills[k], b.fills[k], equal_nan=True), k


@pytest.mark.parametrize("builtin,model,seed", [("prorata", PRORATA, 0), ("prob", PROB, 7)])
def test_the_built_in_queues_written_as_models_give_the_built_in_numbers_bit_for_bit(amzn5, builtin, model, seed):
    base = api.backtest(amzn5, "linear-skew", options=api.backtest_options(queue=builtin, latency_ms=1, seed=seed))
    user = api.backtest(amzn5, "linear-skew", options=api.backtest_options(queue=model, latency_ms=1, seed=seed))
    assert base.raw.summary["fills"] > 100
    _same(base, user)
    assert user.meta["options"]["queue_model"]["name"] == model.name


def test_a_model_is_a_python_function_too():
    """prorata: 8 ahead of a level of 10 that lost 5 to cancels keeps 8·(1 − 5/10) = 4; prob: all 5 ahead of
    us when the draw u < 8/10, else none."""
    assert PRORATA(8.0, 10.0, 5.0, 5.0) == 4.0
    assert PROB(8.0, 10.0, 5.0, 5.0, u=0.79) == 3.0 and PROB(8.0, 10.0, 5.0, 5.0, u=0.8) == 8.0


def test_the_example_power_law_queue_runs(capsys, monkeypatch, amzn5):
    """examples/my_queue.py as a script on the AMZN file: with n = 1 the power-law queue is prorata
    (p = b/(a + b): a − (a/L)·c), so its fills are prorata's; n = 3 moves them."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), str(shared_data(AMZN5))])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    fills = {ln[:15].strip(): int(ln.split("fills")[1].split()[0].replace(",", "")) for ln in out.splitlines()}
    assert set(fills) == {"prorata", "power_prob n=1", "power_prob n=3"} and fills["prorata"] > 0
    assert fills["power_prob n=1"] == fills["prorata"]
    m = load_queue_file(EXAMPLE, "power_prob")
    # a = 8 ahead, b = 2 behind, c = 5 cancelled: p = 2³/(2³ + 8³) = 1/65 behind, ahead 8 − (64/65)·5 + min(2 − 5/65, 0)
    assert m(8.0, 10.0, 5.0, 5.0) == pytest.approx(8.0 - 5.0 * 64 / 65)


def _write(tmp_path, body: str):
    p = tmp_path / "q.py"
    p.write_text("from flatbook.backtest.queue_model import Param, queue_model\n" + body)
    return p


def test_bad_models_are_one_line(tmp_path):
    """Through the API the errors name its keywords (queue_file, queue, queue_params)."""
    with pytest.raises(InputError, match=r"^queue_file: 'nope\.py' is not a file$"):
        api.backtest_options(queue_file="nope.py")
    empty = _write(tmp_path, "x = 1\n")
    with pytest.raises(InputError, match=r"^queue_file: q\.py defines no queue model"):
        api.backtest_options(queue_file=empty)
    f = _write(
        tmp_path,
        "@queue_model(params={'n': Param(unit='1', default=2.0, gt=0)})\n"
        "def half(p, ahead, level_before, level_after, cancelled, u):\n    return ahead / p.n\n",
    )
    with pytest.raises(InputError, match=r"^queue: unknown queue model 'hlaf'; did you mean half\?"):
        api.backtest_options(queue="hlaf", queue_file=f)
    with pytest.raises(InputError, match=r"^queue_params: .*unknown parameter 'm'"):
        api.backtest_options(queue_file=f, queue_params={"m": 1})
    with pytest.raises(InputError, match=r"^queue_params: .*n"):
        api.backtest_options(queue_file=f, queue_params={"n": -1})
    opts = api.backtest_options(queue_file=f, queue_params={"n": 4})
    assert opts.bound_queue.values == {"n": 4.0}
    again = pickle.loads(pickle.dumps(opts))  # to a Dask worker: the model is loaded again from its file
    assert again == opts and again.bound_queue.values == {"n": 4.0} and again.as_dict() == opts.as_dict()
    inf = _write(
        tmp_path, "@queue_model\ndef inf(p, ahead, level_before, level_after, cancelled, u):\n    return 1e308 * 10\n"
    )
    with pytest.raises(InputError, match=r"^queue model inf: returned inf for ahead=0"):
        api.backtest_options(queue_file=inf)
    with pytest.raises(InputError, match=r"must take 6 arguments"):
        queue_model(lambda p, ahead: ahead)


def test_the_command_line_takes_a_queue_file(tmp_path):
    f = _write(
        tmp_path, "@queue_model\ndef keep(p, ahead, level_before, level_after, cancelled, u):\n    return ahead\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "flatbook", "backtest", "x.gz", "--queue-file", str(f), "--queue-set", "n=1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["error: --queue-set: queue model keep: unknown parameter 'n'"], r.stderr
