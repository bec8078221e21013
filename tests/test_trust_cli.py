"""Issue 13 (Trust), the command-line surface: paired differences in ``compare``, ``multi``'s
options, "did you mean", progress, Ctrl-C during imports, parameter ranges and cross-checks,
and the ``timing`` key that keeps every other output bit-identical between identical runs."""

from __future__ import annotations

import json
import math
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import Z, mean_se, prop, std_se
from flatbook.cli import root as cli_app
from flatbook.config import build_config
from flatbook.errors import InputError
from flatbook.params import BIG, PARAMS
from flatbook.policies.quote import quote
from flatbook.policies.registry import POLICIES
from flatbook.sim.simulator import simulate

runner = CliRunner()
FLATBOOK_SCRIPT = Path(sys.executable).with_name("flatbook")


def cli(*args: str):
    return runner.invoke(cli_app.app, list(args))


def one_error_line(r, field: str) -> str:
    """The run exited 2 with exactly one line ``error: <field>: ...`` and no traceback."""
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# --------------------------------------------------------------------------- 3.1 paired differences


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "run"
    r = cli(
        "compare",
        "--policy",
        "linear-skew",
        "--policy",
        "avellaneda-stoikov",
        "--policy",
        "glft",
        "--paths",
        "3000",
        "--seed",
        "3",
        "--json",
        "--out",
        str(out),
    )
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout), out


def test_compare_differences_are_the_differences_of_the_means_exactly(compared):
    d, out = compared
    diff = d["differences"]
    assert diff["baseline"] == "linear-skew" and list(diff["policies"]) == ["avellaneda-stoikov", "glft"]
    base = d["policies"]["linear-skew"]
    for name, rows in diff["policies"].items():
        for key in ("pnl_mean", "pnl_std", "final_q_std", "fills_mean"):
            assert rows[key]["diff"] == d["policies"][name][key] - base[key]  # exactly, not approximately
    assert json.loads((out / "summary.json").read_text())["differences"] == diff


def test_compare_paired_se_from_the_per_path_pnl(compared):
    """The paired SE is std(pnl_i − pnl_0)/√n over the saved per-path PnL, and common random
    numbers make it much smaller than the unpaired √(SE_i² + SE_0²) for A–S against GLFT."""
    d, out = compared
    pp = pd.read_parquet(out / "per_path.parquet")
    a = pp.loc[pp.policy == "linear-skew", "pnl"].to_numpy()
    for name in ("avellaneda-stoikov", "glft"):
        b = pp.loc[pp.policy == name, "pnl"].to_numpy()
        _, se = mean_se(b - a)
        row = d["differences"]["policies"][name]["pnl_mean"]
        assert row["se"] == pytest.approx(se, rel=1e-12)
        assert row["se_unpaired"] == pytest.approx(math.hypot(mean_se(a)[1], mean_se(b)[1]), rel=1e-12)
        assert row["se"] < 0.5 * row["se_unpaired"]
    # the delta-method SE of the pnl_std difference, as for independent samples: conftest's std_se
    # of each (the same estimator up to n/(n − 1) factors, 3e-4 at n = 3000)
    row = d["differences"]["policies"]["glft"]["pnl_std"]
    g = pp.loc[pp.policy == "glft", "pnl"].to_numpy()
    assert row["se_unpaired"] == pytest.approx(math.hypot(std_se(a)[1], std_se(g)[1]), rel=2e-3)


def test_compare_paired_std_se_agrees_with_a_bootstrap(compared):
    """Delta-method SE of std(glft) − std(linear-skew) against a paired bootstrap (paths resampled
    together): the bootstrap SE has relative error ≈ 1/√(2B) = 2.5% at B = 800; allow Z of those
    plus 10% for the delta method's finite-sample bias."""
    d, out = compared
    pp = pd.read_parquet(out / "per_path.parquet")
    a = pp.loc[pp.policy == "linear-skew", "pnl"].to_numpy()
    b = pp.loc[pp.policy == "glft", "pnl"].to_numpy()
    rng = np.random.default_rng(0)
    B = 800
    idx = rng.integers(0, a.size, size=(B, a.size))
    boot = b[idx].std(axis=1, ddof=1) - a[idx].std(axis=1, ddof=1)
    se_boot = boot.std(ddof=1)
    se = d["differences"]["policies"]["glft"]["pnl_std"]["se"]
    assert abs(se / se_boot - 1.0) < Z / math.sqrt(2 * B) + 0.10


def test_compare_table_prints_differences_with_se():
    r = cli("compare", "--policy", "linear-skew", "--policy", "glft", "--paths", "400")
    assert r.exit_code == 0, r.stderr
    assert "paired differences vs linear-skew" in r.stdout
    assert "glft − linear-skew" in r.stdout and " ± " in r.stdout


def test_fmt_pm_rounds_to_the_se():
    from flatbook.cli.tables import fmt_pm

    assert fmt_pm(2.90049, 0.0301) == "2.900 ± 0.030"
    assert fmt_pm(-3.812, 0.26) == "-3.81 ± 0.26"
    assert fmt_pm(1234.5, 12.0) == "1,234 ± 12"  # (round half to even)


def test_summary_warnings_print_one_line_each_and_stay_in_json(monkeypatch, tmp_path):
    """The convention for every face: each of a summary's "warnings" is one ``warning: ...`` line
    on stderr, also under --json, which keeps the list (and summary.parquet a column of it)."""
    import flatbook.sim.simulator as sim_mod

    real = sim_mod.simulate

    def with_warnings(cfg, **kw):
        res = real(cfg, **kw)
        res.summary["warnings"] = ["hedging raised pnl_std", "second\nline"]
        return res

    monkeypatch.setattr(sim_mod, "simulate", with_warnings)
    r = cli("simulate", "--paths", "20", "--json", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == ["warning: hedging raised pnl_std", "warning: second line"]
    assert json.loads(r.stdout)["warnings"] == ["hedging raised pnl_std", "second\nline"]
    assert list(pd.read_parquet(tmp_path / "o" / "summary.parquet")["warnings"][0]) == [
        "hedging raised pnl_std",
        "second\nline",
    ]
    r = cli("compare", "--policy", "symmetric", "--policy", "glft", "--paths", "20")
    assert r.exit_code == 0, r.stderr
    assert "warning: glft: hedging raised pnl_std" in r.stderr.splitlines()


# --------------------------------------------------------------------------- 6.4 timing, bit-identical outputs


def _without_timing(obj):
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if k != "timing"}
    return obj


def _same_outputs(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        fa, fb = a / name, b / name
        if name == "summary.json":
            ja, jb = json.loads(fa.read_text()), json.loads(fb.read_text())
            assert ja != jb or "timing" not in json.dumps(ja)  # wall-clock fields differ …
            assert _without_timing(ja) == _without_timing(jb)  # … and nothing else
        elif name.endswith(".parquet"):
            da, db = pd.read_parquet(fa), pd.read_parquet(fb)
            da, db = (x.drop(columns=[c for c in ("timing",) if c in x.columns]) for x in (da, db))
            pd.testing.assert_frame_equal(da, db, check_exact=True)
            if "timing" not in pd.read_parquet(fa).columns:
                assert fa.read_bytes() == fb.read_bytes()
        else:
            assert fa.read_bytes() == fb.read_bytes(), name


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "--policy", "glft", "--paths", "300"),
        ("compare", "--policy", "symmetric", "--policy", "avellaneda-stoikov", "--paths", "300"),
        ("multi", "--paths", "300"),
    ],
)
def test_identical_runs_identical_outputs_but_timing(tmp_path, args):
    objs = []
    for run in ("a", "b"):
        r = cli(*args, "--seed", "5", "--json", "--out", str(tmp_path / run))
        assert r.exit_code == 0, r.stderr
        objs.append(json.loads(r.stdout))
    _same_outputs(tmp_path / "a", tmp_path / "b")
    assert _without_timing(objs[0]) == _without_timing(objs[1])
    for key in ("elapsed_s", "path_steps_per_s"):
        assert key not in json.dumps(_without_timing(objs[0]))
    timing = objs[0]["timing"] if args[0] != "compare" else objs[0]["policies"]["symmetric"]["timing"]
    assert set(timing) == {"elapsed_s", "path_steps_per_s"}


def test_tables_still_show_the_timing():
    r = cli("simulate", "--paths", "50")
    assert r.exit_code == 0 and "elapsed_s" in r.stdout and "path_steps_per_s" in r.stdout
    r = cli("multi", "--paths", "64")
    assert r.exit_code == 0 and "elapsed_s" in r.stdout


# --------------------------------------------------------------------------- 3.3 multi's options


def test_multi_set_config_out_json(tmp_path):
    base = json.loads(cli("multi", "--paths", "256", "--json").stdout)
    r = cli("multi", "--paths", "256", "--set", "B.sigma=1", "--set", "gamma=0.2", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    a_par, b_par = (i["params"] for i in d["config"]["instruments"])
    assert (a_par["sigma"], b_par["sigma"], a_par["gamma"], b_par["gamma"]) == (2.0, 1.0, 0.2, 0.2)
    assert d["pnl_mean"] != base["pnl_mean"]
    toml = tmp_path / "m.toml"
    toml.write_text("[run]\npaths = 256\nseed = 2\n[params]\ngamma = 0.2\n")
    r = cli("multi", "--config", str(toml), "--set", "B.sigma=1", "--out", str(tmp_path / "o"), "--json")
    assert r.exit_code == 0, r.stderr
    d2 = json.loads(r.stdout)
    assert d2["config"]["seed"] == 2 and d2["paths"] == 256
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"summary.json", "per_path.parquet"}
    pp = pd.read_parquet(tmp_path / "o" / "per_path.parquet")
    assert len(pp) == 256 and {"pnl", "A.final_q", "B.final_q"} <= set(pp.columns)
    assert float(pp.pnl.mean()) == pytest.approx(d2["pnl_mean"], rel=1e-12)


@pytest.mark.parametrize(
    "args,field",
    [
        (["--set", "C.sigma=1"], "C.sigma"),
        (["--set", "B.sigmaa=1"], "instruments[1].sigmaa"),
        (["--set", "gamma=-1"], "instruments[0].gamma"),
        (["--paths", "0"], "paths"),
        (["--preset", "multi-aset"], "--preset"),
        (["--out", "{tmp}/taken"], "--out"),
    ],
)
def test_multi_bad_values_exit_2_one_line(tmp_path, args, field):
    (tmp_path / "taken").write_text("precious")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    line = one_error_line(cli("multi", *args), field)
    assert (tmp_path / "taken").read_text() == "precious" and os.listdir(tmp_path) == ["taken"]
    if "C.sigma" in args[-1] or "aset" in args[-1] or "sigmaa" in args[-1]:
        assert "did you mean" in line or "allowed: A, B" in line


def test_multi_config_policy_is_refused(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('[run]\npolicy = "glft"\n')
    one_error_line(cli("multi", "--config", str(toml)), "run.policy")


def test_multi_chunked_run_is_bit_identical_to_one_call():
    """Progress needs the paths in chunks; each path's numbers depend only on (seed, path)."""
    from flatbook.multi import simulator as MS

    mc = MS.multi_preset("multi-asset", paths=640, seed=7)
    one = MS.simulate_multi(mc)
    old = MS.CHUNK_PATH_STEPS
    try:
        MS.CHUNK_PATH_STEPS = 64 * 200 * 2  # one block per call
        calls = []
        many = MS.simulate_multi(mc, progress=lambda done, total: calls.append((done, total)))
    finally:
        MS.CHUNK_PATH_STEPS = old
    np.testing.assert_array_equal(one.pnl, many.pnl)
    assert calls == [(64 * i, 640) for i in range(1, 11)]


# --------------------------------------------------------------------------- 3.4 did you mean


@pytest.mark.parametrize(
    "args,field,hint",
    [
        (["simulate", "--set", "gama=1"], "gama", "gamma"),
        (["simulate", "--set", "hedge_exec=twapp"], "hedge_exec", "twap"),
        (["simulate", "--policy", "glt"], "policy", "glft"),
        (["compare", "--policy", "linear-skw"], "policy", "linear-skew"),
        (["quote", "--q", "1", "--policy", "avellaneda-stoikof"], "policy", "avellaneda-stoikov"),
        (["simulate", "--preset", "as208"], "preset", "as2008"),
    ],
)
def test_unknown_names_get_did_you_mean(args, field, hint):
    line = one_error_line(cli(*args), field)
    assert f"did you mean {hint}" in line


@pytest.mark.parametrize(
    "text,field,hint",
    [
        ("[rn]\npaths = 1\n", "--config", "[run]"),
        ('[run]\npresett = "as2008"\n', "run.presett", "preset"),
        ("[params]\nsgima = 1\n", "params.sgima", "sigma"),
    ],
)
def test_unknown_toml_tables_and_keys_get_did_you_mean(tmp_path, text, field, hint):
    toml = tmp_path / "c.toml"
    toml.write_text(text)
    line = one_error_line(cli("simulate", "--config", str(toml)), field)
    assert f"did you mean {hint}" in line and str(toml) in line


# --------------------------------------------------------------------------- 6.3 parameter ranges

NUMERIC = [name for name, p in PARAMS.items() if not p.choices]
_HEDGE = {"hedge_trigger": "threshold", "hedge_threshold": 0.5}
#: what makes each parameter matter (else a bound would test nothing), on a 10-step grid
CONTEXT = {
    "flow_bias": {"flow": "orders"},
    "flow_bias_std": {"flow": "orders"},
    "flow_regime_steps": {"flow": "orders"},
    "order_size_mean": {"flow": "orders"},
    "jump_mean": {"jump_rate": 10.0},
    "jump_std": {"jump_rate": 10.0},
    "regime_sigma_mult": {"regime_up_rate": 5.0, "regime_down_rate": 5.0},
    "informed_move": {"informed_frac": 0.5},
    "event_jump_mean": {"event_time": 0.5},
    "event_jump_std": {"event_time": 0.5},
    "pause_before": {"event_time": 0.5},
    "session_length": {"dt": 1000.0, "T": 10000.0},
    "session_flatten": {"session_length": 0.5},
    "htb_above": {"borrow_htb": 0.1},
    "hedge_urgency": {"hedge_trigger": "urgency"},
    "hedge_fraction": {**_HEDGE, "hedge_sizing": "fraction"},
    "hedge_band": {"hedge_trigger": "urgency", "hedge_urgency": 1.0, "hedge_sizing": "band"},
    "hedge_q_std": {**_HEDGE, "hedge_target_mode": "cost", "financing_short": 0.1, "financing_long": 0.05},
    "hedge_risk_aversion": {**_HEDGE, "hedge_exec": "almgren-chriss", "hedge_eta": 0.01, "hedge_horizon": 0.3},
    "hedge_sqrt_y": {**_HEDGE, "hedge_impact": "sqrt", "market_volume": 100.0},
    "market_volume": {**_HEDGE, "hedge_exec": "vwap", "hedge_horizon": 0.3},
    "hedge_participation": {**_HEDGE, "hedge_exec": "twap", "market_volume": 100.0, "hedge_horizon": 0.3},
    "hedge_beta": {**_HEDGE, "hedge_instrument": "proxy"},
    "hedge_basis_sigma": {**_HEDGE, "hedge_instrument": "proxy"},
    "hedge_s0": {**_HEDGE, "hedge_instrument": "proxy"},
    "hedge_basis_halflife": {**_HEDGE, "hedge_instrument": "proxy", "hedge_basis_sigma": 1.0},
    "option_lots": {"option_type": "call"},
    "option_strike": {"option_type": "call", "option_lots": -1.0},
    "option_vol": {"option_type": "call", "option_lots": -1.0},
    "option_expiry": {"option_type": "put", "option_lots": 1.0},
    **{
        k: {**_HEDGE, "hedge_exec": "twap", "hedge_eta": 0.01, "hedge_horizon": 0.3}
        for k in ("hedge_half_spread", "hedge_perm", "hedge_decay", "hedge_threshold", "hedge_eta")
    },
}
CORE = (
    "pnl_mean",
    "pnl_std",
    "var_95",
    "es_95",
    "final_q_mean",
    "max_abs_q_max",
    "fills_mean",
    "spread_given_up_mean",
    "max_drawdown_mean",
)


def _bound_overrides(name: str, value: float) -> dict:
    """The parameter at ``value`` with its context, the run on a 10-step grid; a companion moved
    where a cross-parameter check ties it (T/dt, a session longer than session_flatten …)."""
    ov = {"T": 1.0, "dt": 0.1, **CONTEXT.get(name, {}), name: value}
    if name == "T":
        ov["dt"] = max(value / 10, PARAMS["dt"].lo) if value / 10 >= PARAMS["dt"].lo else value
    if name == "dt":
        ov["T"] = value * 10 if value * 10 <= PARAMS["T"].hi else value
    if name == "hedge_threshold" and value >= BIG:
        ov["hedge_trigger"] = "none"  # a hedge at the largest threshold cannot fire: refused
    if name == "session_flatten" and value >= BIG:
        ov["session_length"] = math.inf  # session_flatten < session_length <= BIG
    if name == "hedge_horizon" and value >= BIG:
        ov.update(dt=1000.0, T=10000.0)  # at most MAX_STEPS steps of dt
    return ov


def _assert_finite_run(policy: str, ov: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        res = simulate(build_config("as2008", policy, ov, paths=64, seed=1))
    s = res.summary
    assert all(s[k] is not None for k in CORE), {k: s[k] for k in CORE}
    assert all(math.isfinite(v) for v in s.values() if isinstance(v, float)), s


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("side", ["lo", "hi"])
def test_every_parameter_at_each_bound_runs_to_finite_numbers(name, side):
    p = PARAMS[name]
    value = getattr(p, side)
    assert math.isfinite(value)
    if p.integer:
        value = math.ceil(value) if side == "lo" else math.floor(value)
    _assert_finite_run("avellaneda-stoikov", _bound_overrides(name, value))


@prop(max_examples=120)
@given(
    name=st.sampled_from(NUMERIC),
    side=st.sampled_from(["lo", "hi"]),
    policy=st.sampled_from(sorted(POLICIES)),
    mid_model=st.sampled_from(["binomial", "abm", "gbm"]),
)
def test_bounds_run_finite_for_every_policy_and_mid_model(name, side, policy, mid_model):
    p = PARAMS[name]
    value = getattr(p, side)
    if p.integer:
        value = math.ceil(value) if side == "lo" else math.floor(value)
    ov = {"mid_model": mid_model, **_bound_overrides(name, value)}
    if policy == "glft" and name == "A" and value == 0:
        with pytest.raises(InputError, match="^A: "):  # GLFT's ω needs fills: A > 0 (documented in glft)
            build_config("as2008", policy, ov, paths=8)
        return
    _assert_finite_run(policy, ov)


def _beyond(p) -> list[str]:
    out = ["nan", "-inf", repr(math.nextafter(p.hi, math.inf) if p.hi < BIG else p.hi * 10)]
    if not p.inf_allowed:  # else inf (and 1e309, which is inf) means "off"
        out += ["inf", "1e309"]
    out.append(repr(p.lo - 1.0) if p.lo <= 0 or p.lo >= 1 else repr(p.lo / 10))
    if p.integer:
        out.append(repr(p.lo + 0.5))
    return out


@pytest.mark.parametrize("name", NUMERIC)
def test_every_parameter_beyond_its_bounds_is_refused_naming_it(name):
    p = PARAMS[name]
    for raw in _beyond(p):
        r = cli("simulate", "--paths", "1", "--set", f"{name}={raw}")
        line = one_error_line(r, name)
        assert "allowed:" in line and f"({p.unit})" in line, line


def test_sigma_inf_and_huge_size_are_refused():
    assert "sigma" in one_error_line(cli("simulate", "--set", "sigma=inf"), "sigma")
    one_error_line(cli("simulate", "--set", "sigma=1e309"), "sigma")
    one_error_line(cli("simulate", "--set", "size=1e308"), "size")


def test_inf_means_off_where_the_default_is_off():
    r = cli("simulate", "--paths", "20", "--set", "limit=inf", "--set", "market_spread=inf", "--json")
    assert r.exit_code == 0, r.stderr


# --------------------------------------------------------------------------- 6.3 cross-parameter checks


@pytest.mark.parametrize(
    "sets,field,other",
    [
        (["limit=5", "q_target=20"], "q_target", "limit"),
        (["limit=5", "q0=-6"], "q0", "limit"),
        (["limit=5", "red=6"], "red", "limit"),
        (["yellow=3", "red=2"], "yellow", "critical"),
        (["limit=5", "q_target=1", "hedge_trigger=threshold", "hedge_threshold=6"], "hedge_threshold", "q_target"),
        (
            ["hedge_trigger=threshold", "hedge_threshold=1", "hedge_sizing=band", "hedge_band=1"],
            "hedge_band",
            "hedge_threshold",
        ),
        (["pause_before=0.1"], "pause_before", "event_time"),
        (["hedge_target_mode=cost", "financing_short=0.1"], "hedge_target_mode", "financing_long"),
        (["session_length=1e6"], "session_length", "dt"),
        (["hedge_exec=twap", "hedge_horizon=1e6"], "hedge_horizon", "dt"),
    ],
)
def test_cross_parameter_checks_name_both_fields(sets, field, other):
    args = [a for s in sets for a in ("--set", s)]
    line = one_error_line(cli("simulate", "--paths", "1", *args), field)
    assert other in line


def test_issue_6_1_q_target_beyond_limit_with_hedging_is_refused():
    r = cli(
        "simulate",
        "--policy",
        "linear-skew",
        "--paths",
        "20",
        "--set",
        "limit=5",
        "--set",
        "q_target=20",
        "--set",
        "hedge_trigger=threshold",
        "--set",
        "hedge_threshold=0.5",
    )
    assert "|q_target| = 20 exceeds the hard limit limit = 5" in one_error_line(r, "q_target")


def test_hedge_frontier_names_thresholds_that_cannot_fire():
    line = one_error_line(cli("hedge-frontier", "--preset", "hedging", "--paths", "10"), "--thresholds")
    assert "threshold 1" in line and "never fire" in line


# --------------------------------------------------------------------------- 6.3 quote --q


@pytest.mark.parametrize("raw", ["1e308", "-1.0000001e9", "inf", "nan"])
def test_quote_q_beyond_the_largest_inventory_is_refused(raw):
    one_error_line(cli("quote", "--q", raw), "--q")


@prop(max_examples=80)
@given(q=st.floats(-BIG, BIG), policy=st.sampled_from(sorted(POLICIES)))
def test_quotes_are_finite_and_ordered_for_every_allowed_inventory(q, policy):
    qd = quote(build_config("as2008", policy, {}, paths=1), q, 100.0, 0.5).as_dict()
    nums = [v for k, v in qd.items() if k != "zone" and v is not None]
    assert all(math.isfinite(v) for v in nums), qd
    if qd["bid"] is not None and qd["ask"] is not None:
        assert qd["bid"] < qd["ask"], qd


def test_quote_at_the_largest_inventory_is_finite_cli():
    r = cli("quote", "--q", "1e9", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert math.isfinite(d["bid"]) and math.isfinite(d["ask"]) and d["bid"] < d["ask"]


# --------------------------------------------------------------------------- 3.5 compiling spinner: honest detection


def test_kernels_need_compiling_reads_the_dispatcher_and_numbas_cache(tmp_path):
    mod = tmp_path / "h6_probe_kernel.py"
    mod.write_text(
        textwrap.dedent("""
        import numba as nb

        @nb.njit(cache=True)
        def twice(x):
            return 2.0 * x
    """)
    )
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from flatbook.cli.root import kernels_need_compiling
        import h6_probe_kernel as m
        before = kernels_need_compiling(m.twice)
        m.twice(1.0)
        print(before, kernels_need_compiling(m.twice))
    """)
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert first.stdout.split() == ["True", "False"], first.stderr  # nothing cached: it compiles
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert second.stdout.split() == ["False", "False"], second.stderr  # a new process loads the cache
    mod.write_text(mod.read_text().replace("2.0 * x", "3.0 * x"))  # source changed: cache stale
    os.utime(mod, (time.time() + 5, time.time() + 5))
    third = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert third.stdout.split() == ["True", "False"], third.stderr


# --------------------------------------------------------------------------- 3.5 progress, 6.2 Ctrl-C


def interrupt_after_progress(argv: list[str], marker: bytes = b"paths", timeout: float = 300.0, **kw):
    """Run ``argv`` with stderr on a pseudo-terminal (so the progress bar draws), wait until the
    bar shows ``marker`` (the command has started its work), send SIGINT, and return
    (exit status, stdout, everything drawn on the terminal)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env, **kw)
    os.close(slave)
    seen = b""

    def pump(wait: float) -> bool:
        nonlocal seen
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        seen += chunk
        return bool(chunk)

    deadline = time.monotonic() + timeout
    try:
        while marker not in seen:
            assert proc.poll() is None, f"ended before showing progress: {seen[-2000:]!r}"
            assert time.monotonic() < deadline, f"no progress bar within {timeout:.0f} s: {seen[-2000:]!r}"
            pump(0.2)
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()
        proc.wait(timeout=120)
        while pump(0.2):
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, out, seen.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_multi_shows_a_bar_and_ctrl_c_exits_130_writing_nothing(tmp_path):
    code, out, term = interrupt_after_progress(
        [sys.executable, "-m", "flatbook", "multi", "--paths", "400000", "--set", "T=4", "--out", str(tmp_path / "run")]
    )
    assert code == 130, term
    assert "simulating" in term and "interrupted" in term and "Traceback" not in term
    assert out == b""
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("launcher", ["module", "script"])
def test_ctrl_c_during_the_imports_exits_130_without_traceback(launcher):
    """SIGINT as soon as flatbook.cli.entry is imported, while typer/rich/numpy/numba are still
    being imported (PYTHONPROFILEIMPORTTIME reports each import on stderr as it completes).
    stderr is a pipe of one page, so the child blocks on it a few dozen imports later until this
    test reads on: the signal lands in the import window however loaded the machine is."""
    import fcntl

    argv = [sys.executable, "-m", "flatbook"] if launcher == "module" else [str(FLATBOOK_SCRIPT)]
    if launcher == "script" and not FLATBOOK_SCRIPT.exists():
        pytest.fail(f"console script {FLATBOOK_SCRIPT} missing: pip install -e .")
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    r_fd, w_fd = os.pipe()
    fcntl.fcntl(w_fd, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([*argv, "simulate", "--paths", "2000"], stdout=subprocess.PIPE, stderr=w_fd, env=env)
    os.close(w_fd)
    lines = []
    with os.fdopen(r_fd, "rb") as stderr:
        try:
            for raw in stderr:
                lines.append(raw.decode("utf-8", "replace"))
                if raw.rstrip().endswith(b"flatbook.cli.entry"):
                    proc.send_signal(signal.SIGINT)
                    break
            rest = stderr.read().decode("utf-8", "replace")
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    err = "".join(lines) + rest
    assert proc.returncode == 130, err[-3000:]
    tail = [ln for ln in err.splitlines() if not ln.startswith("import time:")]
    assert tail == ["interrupted"], err[-3000:]
    assert proc.stdout.read() == b""
    # the signal landed before the command line was imported: fewer imports reported after
    # flatbook.cli.entry than a full import of flatbook.cli.root makes (an interrupted import
    # still reports its enclosing modules as it unwinds, so count, don't look for a name)
    full = subprocess.run(
        [sys.executable, "-c", "import flatbook.cli.entry, flatbook.cli.root"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    ).stderr.splitlines()

    def after(ls):
        return len(ls) - next(i for i, ln in enumerate(ls) if ln.rstrip().endswith("flatbook.cli.entry"))

    assert after(err.splitlines()) < after(full) // 2, "the signal arrived after the imports"
