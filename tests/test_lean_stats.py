"""The simulator's lean statistics (``stats="lean"``): the kernel's LEAN copy computes pnl, final_q, max_abs_q,
fills and spread_mean only, each bit for bit the full run's, for every feature of the model (lean prunes
statistics, never the model); its summary's keys equal the full summary's same keys; compare's paired
differences on lean runs equal those of full runs; bad input is one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import flatbook
from conftest import cfg
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.sim import kernel as K
from flatbook.sim.metrics import LEAN_SUMMARY_KEYS
from flatbook.sim.simulator import LEAN_COLUMNS, simulate
from flatbook.sim.summaries import paired_differences

runner = CliRunner()
RUNTIME = {"stats", "elapsed_s", "path_steps_per_s"}

#: (policy, overrides): a dozen runs that between them switch on every feature the kernel has; one policy
#: (A–S) for all but glft's, since each policy's lean copy is a kernel compile of its own (~20 s cold)
CASES = {
    "default": ("avellaneda-stoikov", {}),
    "limit+min_spread": ("avellaneda-stoikov", dict(limit=3.0, min_spread=1.8)),
    "session reset": ("avellaneda-stoikov", dict(session_length=0.25, session_flatten=0.02)),
    "fees+financing": ("avellaneda-stoikov", dict(maker_fee=0.01, financing_long=0.1, financing_short=0.05)),
    "markout+q0": ("avellaneda-stoikov", dict(markout_steps=5.0, q0=2.0)),
    "orders flow": ("avellaneda-stoikov", dict(flow="orders", order_size_dist="exponential", flow_bias_std=0.1)),
    "abm+jumps": ("avellaneda-stoikov", dict(mid_model="abm", jump_rate=2.0, jump_std=0.5)),
    "glft+limit": ("glft", dict(q0=-3.0, limit=4.0)),
    "zones+kill": ("avellaneda-stoikov", dict(yellow=2.0, red=4.0, critical=6.0, tick=0.01, max_loss=3.0)),
    "hedge": ("avellaneda-stoikov", dict(hedge_trigger="threshold", hedge_threshold=2.0, hedge_horizon=0.05)),
    "proxy+carry": (
        "avellaneda-stoikov",
        dict(
            hedge_trigger="threshold",
            hedge_threshold=2.0,
            hedge_instrument="proxy",
            hedge_basis_sigma=0.5,
            funding_rate=0.05,
            borrow_htb=0.1,
        ),
    ),
    "regimes+informed": (
        "avellaneda-stoikov",
        dict(regime_sigma_mult=2.0, regime_up_rate=1.0, regime_down_rate=1.0, informed_frac=0.3, informed_move=0.05),
    ),
    "option+gbm": ("avellaneda-stoikov", dict(option_type="call", option_lots=-2.0, limit=5.0, mid_model="gbm")),
    "size 3, min_spread": ("avellaneda-stoikov", dict(size=3.0, min_spread=2.0)),
}


def _bits(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.view(np.uint64) if x.dtype == np.float64 else x


def _same_lean(full, lean) -> None:
    """lean has exactly the lean columns, each the full run's bit for bit; its summary's keys the full one's."""
    assert tuple(lean.per_path) == LEAN_COLUMNS
    for c in LEAN_COLUMNS:
        assert lean.per_path[c].dtype == full.per_path[c].dtype, c
        assert np.array_equal(_bits(lean.per_path[c]), _bits(full.per_path[c])), c
    assert set(lean.summary) - {"mid_stage", "fill_stage", "cost_stage", "impact_stage", "warnings"} - set(
        k for k in lean.summary if k.startswith(("unhedged_", "hedge_pnl_"))
    ) == set(LEAN_SUMMARY_KEYS)
    assert lean.summary["stats"] == "lean" and "stats" not in full.summary
    for k, v in lean.summary.items():
        if k not in RUNTIME:
            assert json.dumps(v) == json.dumps(full.summary[k]), k  # floats compared by their repr: bit for bit
    for k, v in full.series.items():  # a recorded path's series are the model's, so the same in lean
        assert np.array_equal(_bits(v), _bits(lean.series[k])), k


@pytest.mark.parametrize("name", list(CASES))
def test_lean_columns_are_the_full_runs_bit_for_bit(name):
    policy, over = CASES[name]
    c = cfg("as2008", policy, 2000, 3, **over)
    rec = (0, 700, 1999)  # recorded paths: blocks that take the lean copy's general step, the rest its fast one
    _same_lean(simulate(c, record_paths=rec), simulate(c, record_paths=rec, stats="lean"))


def test_lean_without_recorded_paths_and_short_paths():
    c = cfg("as2008", "avellaneda-stoikov", 1500, 5, T=0.25)  # 50 steps, a partial last block
    full, lean = simulate(c), simulate(c, stats="lean")
    _same_lean(full, lean)
    assert lean.summary["steps"] == 50 and lean.summary["paths"] == 1500


def test_lean_copies_are_keyed_by_policy_and_flags():
    from flatbook.policies.registry import policy_spec

    c = cfg("as2008", "glft", 10, 0)
    glft = policy_spec("glft").bind(c.values, c.steps).policy
    as_ = policy_spec("avellaneda-stoikov").bind(c.values, c.steps).policy
    assert K.lean_copy(("LEAN",), glft) is K.lean_copy(("LEAN",), glft)
    assert K.lean_copy(("LEAN", "USER_FILL"), glft) is not K.lean_copy(("LEAN",), glft)
    assert K.lean_copy(("LEAN",), as_) is not K.lean_copy(("LEAN",), glft)
    assert K.LEAN is False and K.STATS is True and K.LEAN_DEPTHS is None  # the default kernel: every statistic


def test_hedge_counterfactual_in_lean_is_the_full_runs():
    c = cfg("as2008", "avellaneda-stoikov", 2000, 3, hedge_trigger="threshold", hedge_threshold=1.0)
    full, lean = simulate(c), simulate(c, stats="lean")
    for k in ("unhedged_pnl_mean", "unhedged_pnl_std", "hedge_pnl_mean_change", "hedge_pnl_std_change_se"):
        assert json.dumps(lean.summary[k]) == json.dumps(full.summary[k]), k


def test_api_and_results_on_a_lean_run(tmp_path):
    res = flatbook.simulate(paths=2000, seed=1, stats="lean")
    full = flatbook.simulate(paths=2000, seed=1)
    assert res.summary["pnl_mean"].value == full.summary["pnl_mean"].value
    frames = res.to_pandas()
    assert tuple(frames.per_path.columns) == LEAN_COLUMNS
    assert frames.summary["stats"].tolist() == ["lean"] and "volume_mean" not in frames.summary.columns
    assert frames.series["pnl"].iloc[-1] == full.to_pandas().series["pnl"].iloc[-1]
    res.to_parquet(tmp_path / "out")
    assert "pnl_mean" in res._repr_html_()
    res.plot()  # every panel: the lean run records the sample path's series as the full run does
    comp, comp_full = (
        flatbook.compare(["avellaneda-stoikov", "glft"], paths=2000, seed=1, stats=s) for s in ("lean", "full")
    )
    lean_d = paired_differences([comp.results[n].raw for n in ("avellaneda-stoikov", "glft")])
    full_d = paired_differences([comp_full.results[n].raw for n in ("avellaneda-stoikov", "glft")])
    rows, rows_full = lean_d["policies"]["glft"], full_d["policies"]["glft"]
    assert set(rows) == {"pnl_mean", "pnl_std", "final_q_mean", "final_q_std", "max_abs_q_mean", "fills_mean"}
    for k, v in rows.items():
        assert v == rows_full[k], k  # diff, paired SE and unpaired SE: the same floats
    with pytest.raises(InputError, match="stats: expected one of full, lean; got 'fast'"):
        flatbook.simulate(paths=10, stats="fast")
    with pytest.raises(InputError, match="stats"):
        flatbook.compare(["glft"], paths=10, stats="minimal")


def _cli(*args: str):
    return runner.invoke(cli_app.app, list(args))


@pytest.mark.parametrize("args", [("--stats", "fast"), ("--set", "run.stats=fast")])
@pytest.mark.parametrize("cmd", ["simulate", "compare"])
def test_cli_bad_stats_is_one_line_exit_2(cmd, args):
    r = _cli(cmd, "--paths", "10", *args)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "expected one of full, lean; got 'fast'" in r.stderr
    assert r.stderr.startswith(f"error: {'--stats' if args[0] == '--stats' else '--set run.stats'}: ")
    assert "Traceback" not in r.stderr


def test_cli_lean_simulate_and_compare(tmp_path):
    r = _cli("simulate", "--paths", "1000", "--seed", "2", "--stats", "lean", "--json")
    assert r.exit_code == 0, r.stderr
    lean = json.loads(r.stdout)
    full = json.loads(_cli("simulate", "--paths", "1000", "--seed", "2", "--json").stdout)
    assert lean["stats"] == "lean" and "volume_mean" not in lean
    assert all(lean[k] == full[k] for k in ("pnl_mean", "pnl_std", "final_q_std", "max_abs_q_mean", "spread_mean"))
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\npaths = 1000\nseed = 2\nstats = "lean"\n')
    via_toml = json.loads(_cli("simulate", "--config", str(toml), "--json").stdout)
    via_set = json.loads(_cli("simulate", "--paths", "1000", "--seed", "2", "--set", "run.stats=lean", "--json").stdout)
    for other in (via_toml, via_set):
        assert other["stats"] == "lean" and other["pnl_mean"] == lean["pnl_mean"]
    assert flatbook.simulate(config=toml).raw.summary["stats"] == "lean"  # the API reads [run] stats too
    assert "stats" not in flatbook.simulate(config=toml, stats="full").raw.summary  # the argument wins
    r = _cli("compare", "--policy", "avellaneda-stoikov", "--policy", "glft", "--paths", "1000", "--stats", "lean")
    assert r.exit_code == 0, r.stderr
    args = ("compare", "--policy", "avellaneda-stoikov", "--policy", "glft", "--paths", "1000", "--json")
    comp, comp_full = (json.loads(_cli(*args, *x).stdout) for x in (("--stats", "lean"), ()))
    for k, v in comp["differences"]["policies"]["glft"].items():
        assert v == comp_full["differences"]["policies"]["glft"][k], k
