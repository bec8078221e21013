"""The public Python API (flatbook.simulate, compare, quote, backtest, calibrate, sweep, risk, schedule)
and its result objects: the same numbers as the command line, bit for bit; typed summaries with units;
DataFrames, Parquet, figures and notebook display; every bad input an InputError naming the field."""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

import flatbook
from conftest import REPO, shared_data
from flatbook.cli import root as cli_app
from flatbook.timing import without_timing

runner = CliRunner()
BINANCE = "binance/usdm_btcusdt_20240808.gz"
API = ("simulate", "compare", "quote", "backtest", "calibrate", "sweep", "risk", "schedule")


def cli_json(*args: str) -> dict:
    r = runner.invoke(cli_app.app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def same_json(api_obj: dict, cli_obj: dict) -> bool:
    """Equal outside "timing", after the same JSON round trip (floats as the CLI prints them)."""
    return without_timing(json.loads(json.dumps(api_obj))) == without_timing(cli_obj)


@pytest.fixture(scope="module")
def sim():
    return flatbook.simulate(preset="as2008", policy="glft", paths=300, seed=3, gamma=0.2)


@pytest.fixture(scope="module")
def cmp():
    return flatbook.compare(["avellaneda-stoikov", "glft", "linear-skew"], preset="as2008", paths=400, seed=1)


# --------------------------------------------------------------------------- the package


def test_import_is_light_and_help_lists_the_api():
    code = (
        "import sys, pydoc, flatbook; heavy = [m for m in ('numpy', 'numba', 'pandas', 'flatbook.sim.kernel') "
        "if m in sys.modules]; print(heavy); print(pydoc.render_doc(flatbook))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert r.returncode == 0, r.stderr
    first, _, doc = r.stdout.partition("\n")
    assert first == "[]"  # nothing heavy at import time
    for name in API:
        assert f"{name}(" in doc  # help(flatbook) lists every call
    assert "SimulationResult" in doc and "Quantity" in doc


def test_every_public_name_resolves():
    for name in flatbook.__all__:
        assert getattr(flatbook, name) is not None
    assert set(API) <= set(flatbook.__all__)
    assert (REPO / "src" / "flatbook" / "py.typed").is_file()


def test_subpackages_named_like_api_calls_stay_modules_and_are_callable(monkeypatch):
    import flatbook.backtest.backtester as bt
    import flatbook.risk.var as var  # noqa: PLR0402  (this very form must work on a callable package)
    from flatbook.sweep import runner  # noqa: F401

    assert flatbook.backtest.backtester is bt and flatbook.risk.var is var
    assert callable(flatbook.backtest) and callable(flatbook.sweep)
    assert "data" in inspect.signature(flatbook.backtest).parameters
    assert "book" in inspect.signature(flatbook.risk).parameters
    monkeypatch.setattr("flatbook.risk.var.METHODS", var.METHODS)  # dotted paths still resolve
    assert "flatbook.api.risk" in flatbook.risk.__doc__


# --------------------------------------------------------------------------- simulate


def test_simulate_equals_the_cli_bit_for_bit(sim, tmp_path):
    r = runner.invoke(
        cli_app.app,
        [
            "simulate",
            "--preset",
            "as2008",
            "--policy",
            "glft",
            "--paths",
            "300",
            "--seed",
            "3",
            "--set",
            "gamma=0.2",
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    assert r.exit_code == 0, r.output
    cli_obj = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert same_json(sim.to_dict(), cli_obj)
    assert sim.summary.to_dict() == {
        k: v for k, v in without_timing(cli_obj).items() if k not in ("config", "warnings")
    }
    frames = sim.to_pandas()
    pd.testing.assert_frame_equal(frames.per_path, pd.read_parquet(tmp_path / "cli" / "per_path.parquet"))
    pd.testing.assert_frame_equal(frames.series, pd.read_parquet(tmp_path / "cli" / "series.parquet"))


def test_summary_is_typed_read_only_with_units_and_se(sim):
    s = sim.summary
    pnl = s["pnl_mean"]
    assert isinstance(pnl, flatbook.Quantity)
    assert pnl.unit == "price units × lots"
    assert pnl.se == s["pnl_se"].value and pnl.se > 0
    assert float(pnl) == pnl.value == sim.raw.summary["pnl_mean"]
    assert abs(pnl.value - sim.per_path["pnl"].mean()) < 1e-9 * abs(pnl.value)
    assert s["final_q_std"].unit == "lots"
    assert s["paths"].value == 300 and s["steps"].value == 200
    assert "session (T = 1)" in s["half_life"].unit  # the preset's time unit
    assert "±" in str(pnl) and "price units × lots" in str(pnl)
    with pytest.raises(TypeError):
        s["pnl_mean"] = 0.0  # type: ignore[index]
    with pytest.raises(KeyError, match="did you mean pnl_mean"):
        s["pnl_mena"]
    df = s.to_pandas()
    assert df.loc["pnl_mean", "unit"] == "price units × lots" and df.loc["pnl_mean", "se"] == pnl.se
    assert sim.timing and "elapsed_s" in sim.timing and "elapsed_s" not in s


def test_to_pandas_shapes(sim):
    f = sim.to_pandas()
    assert len(f.per_path) == 300 and {"pnl", "final_q", "fills", "max_abs_q"} <= set(f.per_path.columns)
    assert len(f.series) == 201 and list(f.series.columns) == ["policy", "t", "mid", "bid", "ask", "q", "pnl", "zone"]
    assert len(f.summary) == 1 and f.summary["pnl_mean"].iloc[0] == sim.summary["pnl_mean"].value
    assert f.series["t"].iloc[-1] == pytest.approx(1.0)
    assert f.per_path["pnl"].mean() == pytest.approx(sim.summary["pnl_mean"].value, rel=1e-12)


def test_to_parquet_round_trip(sim, tmp_path):
    written = sim.to_parquet(tmp_path / "new" / "dir")
    assert sorted(p.name for p in written.values()) == ["per_path.parquet", "series.parquet", "summary.parquet"]
    f = sim.to_pandas()
    pd.testing.assert_frame_equal(pd.read_parquet(written["per_path"]), f.per_path)
    pd.testing.assert_frame_equal(pd.read_parquet(written["series"]), f.series)
    assert pd.read_parquet(written["summary"])["pnl_std"].iloc[0] == sim.summary["pnl_std"].value


def test_plot_returns_a_figure_and_writes_nothing(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = sim.plot()
    assert isinstance(fig, Figure) and len(fig.axes) >= 6
    assert "policy glft" in fig.get_suptitle()
    assert os.listdir(tmp_path) == []


def test_repr_html_shows_the_key_numbers(sim):
    h = sim._repr_html_()
    for key in ("pnl_mean", "pnl_std", "final_q_std", "fills_mean"):
        assert key in h
        assert f"{sim.summary[key].value:.6g}" in h
    assert "price units × lots" in h and "glft" in h
    assert "pnl_mean" in repr(sim)


def test_config_object_toml_and_keywords_give_the_same_run(tmp_path):
    cfg = flatbook.run_config(preset="as2008", policy="stoll", paths=150, seed=7, stoll_gamma=0.02)
    assert isinstance(cfg, flatbook.RunConfig) and cfg.values["stoll_gamma"] == 0.02
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\npreset = "as2008"\npolicy = "stoll"\npaths = 150\nseed = 7\n[params]\nstoll_gamma = 0.02\n')
    a = flatbook.simulate(config=cfg)
    b = flatbook.simulate(config=toml)
    c = flatbook.simulate(preset="as2008", policy="stoll", paths=150, seed=7, params={"stoll_gamma": 0.02})
    assert a.summary.to_dict() == b.summary.to_dict() == c.summary.to_dict()
    d = flatbook.simulate(config=cfg, seed=8)  # arguments override the config
    assert d.config.seed == 8 and d.config.values["stoll_gamma"] == 0.02
    assert d.summary["pnl_mean"].value != a.summary["pnl_mean"].value


def test_progress_callbacks_count_paths_and_do_not_change_numbers(sim):
    calls: list = []
    res = flatbook.simulate(
        preset="as2008",
        policy="glft",
        paths=300,
        seed=3,
        gamma=0.2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls and calls[-1] == (300, 300)
    assert res.summary.to_dict() == sim.summary.to_dict()
    calls.clear()
    one = flatbook.compare(["glft", "stoll"], paths=100, seed=0, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (200, 200) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert set(one.differences) == {"stoll"}
    single = flatbook.compare(["glft"], paths=100, seed=0)
    assert dict(single.differences) == {} and "differences" not in single.to_dict()


# --------------------------------------------------------------------------- compare


def test_compare_equals_the_cli_and_pairs_the_differences(cmp):
    cli_obj = cli_json(
        "compare",
        "--policy",
        "avellaneda-stoikov",
        "--policy",
        "glft",
        "--policy",
        "linear-skew",
        "--preset",
        "as2008",
        "--paths",
        "400",
        "--seed",
        "1",
    )
    assert same_json(cmp.to_dict(), cli_obj)
    assert cmp.policies == ("avellaneda-stoikov", "glft", "linear-skew") and cmp.baseline == "avellaneda-stoikov"
    d = cmp.differences["glft"]["pnl_mean"]
    assert isinstance(d, flatbook.Difference) and d.unit == "price units × lots"
    assert d.value == cmp.summary["glft"]["pnl_mean"].value - cmp.summary["avellaneda-stoikov"]["pnl_mean"].value
    # common random numbers: the paired SE is far below the SE of independent runs
    assert 0 < d.se < 0.7 * d.se_unpaired
    # and it is the SE of the per-path differences
    diff = cmp.results["glft"].per_path["pnl"] - cmp.results["avellaneda-stoikov"].per_path["pnl"]
    assert d.se == pytest.approx(diff.std(ddof=1) / math.sqrt(diff.size), rel=1e-12)
    df = cmp.differences_frame()
    assert set(df["policy"]) == {"glft", "linear-skew"} and {"diff", "se", "se_unpaired", "unit"} <= set(df.columns)


def test_compare_frames_files_plot_and_html(cmp, tmp_path, monkeypatch):
    f = cmp.to_pandas()
    assert len(f.per_path) == 3 * 400 and set(f.per_path["policy"]) == set(cmp.policies)
    assert len(f.summary) == 3 and len(f.series) == 3 * 201
    written = cmp.to_parquet(tmp_path / "out")
    assert pd.read_parquet(written["differences"]).equals(cmp.differences_frame())
    monkeypatch.chdir(tmp_path / "out")
    before = sorted(os.listdir("."))
    assert isinstance(cmp.plot("glft"), Figure) and sorted(os.listdir(".")) == before
    h = cmp._repr_html_()
    assert f"{cmp.summary['glft']['pnl_mean'].value:.6g}" in h
    assert f"{cmp.differences['glft']['pnl_mean'].value:.6g}" in h
    with pytest.raises(flatbook.InputError, match="did you mean glft"):
        cmp.plot("glfx")


# --------------------------------------------------------------------------- quote, schedule, risk, sweep


def test_quote_equals_the_cli():
    res = flatbook.quote(3, policy="glft", mid=101.0, t=0.25)
    cli_obj = cli_json("quote", "--q", "3", "--policy", "glft", "--mid", "101", "--t", "0.25")
    assert same_json(res.to_dict(), cli_obj)
    assert res.bid == cli_obj["bid"] and res.bid < 101.0 < res.ask
    assert res.summary["bid_depth"].unit == "price units below mid"
    assert res.summary["bid_size"].unit == "lots"


def test_quotes_over_arrays_are_the_single_state_quotes(tmp_path, monkeypatch):
    import numpy as np

    grid = flatbook.quotes(q=np.arange(-5, 6), t=[[0.0], [0.5]], policy="glft", limit=4)
    df = grid.to_pandas()
    assert len(df) == 22 and grid.summary["states"].value == 22
    for q, t in ((3.0, 0.0), (-5.0, 0.5), (4.0, 0.5)):
        one = flatbook.quote(q, t=t, policy="glft", limit=4)
        row = df[(df["q"] == q) & (df["t"] == t)].iloc[0]
        for k in ("bid", "ask", "bid_size", "ask_size", "skew"):
            want = getattr(one, k)
            assert (math.isnan(row[k]) and want is None) or row[k] == want
    assert (df.loc[df["q"] >= 4, "bid_size"] == 0).all()  # at the hard limit only the flattening side
    assert grid.units["bid_depth"] == "price units below mid"
    monkeypatch.chdir(tmp_path)
    assert isinstance(grid.plot(), Figure) and os.listdir(tmp_path) == []
    with pytest.raises(flatbook.InputError, match="do not broadcast"):
        flatbook.quotes(q=[1.0, 2.0], t=[0.0, 0.5, 1.0])
    with pytest.raises(flatbook.InputError) as e:
        flatbook.quotes(q=[1.0, float("nan")])
    assert e.value.field == "q" and "got nan" in str(e.value)


def test_schedule_equals_the_cli_and_has_a_frontier(tmp_path, monkeypatch):
    res = flatbook.schedule()
    assert same_json(res.to_dict(), cli_json("schedule"))
    assert res.summary["expected_cost"].unit == "$" and res.summary["kappa"].value == pytest.approx(0.6, abs=0.01)
    vw = flatbook.schedule("vwap", shares=5000, horizon=1, steps=10, participation=0.1, market_volume=40_000)
    assert same_json(
        vw.to_dict(),
        cli_json(
            "schedule",
            "--method",
            "vwap",
            "--shares",
            "5000",
            "--horizon",
            "1",
            "--steps",
            "10",
            "--participation",
            "0.1",
            "--market-volume",
            "40000",
        ),
    )
    steps = res.to_pandas()
    assert len(steps) == 6 and steps["holdings"].iloc[0] == 1e6 and steps["holdings"].iloc[-1] == 0
    fr = res.frontier()
    assert fr["expected_cost"].is_monotonic_increasing and fr["variance"].is_monotonic_decreasing
    monkeypatch.chdir(tmp_path)
    assert isinstance(res.plot(), Figure) and os.listdir(tmp_path) == []


def test_risk_equals_the_cli():
    book = str(REPO / "examples" / "books" / "options_hedged.toml")
    res = flatbook.risk(book, mc_scenarios=2000, seed=4)
    cli_obj = cli_json("risk", "--config", book, "--mc-scenarios", "2000", "--seed", "4")
    assert same_json(res.to_dict(), cli_obj)
    assert res.summary["monte-carlo.var"].value == cli_obj["var"]["monte-carlo"]["var"]
    assert "price units × units" in res.summary["parametric.es"].unit
    frames = res.to_pandas()
    assert list(frames.var["method"]) == list(cli_obj["var"])
    assert len(frames.contributions) == len(cli_obj["var"]) * len(cli_obj["instruments"])
    assert isinstance(res.plot(), Figure)


def test_sweep_points_are_the_simulators_numbers(tmp_path):
    res = flatbook.sweep({"skew": [0.0, 0.02, 0.05]}, preset="as2008", policy="linear-skew", paths=200, seed=2)
    assert len(res.points) == 3 and res.keys == ("skew",)
    cli_obj = cli_json(
        "sweep",
        "--grid",
        "skew=0,0.02,0.05",
        "--preset",
        "as2008",
        "--policy",
        "linear-skew",
        "--paths",
        "200",
        "--seed",
        "2",
        "--workers",
        "1",
    )  # on a Dask cluster: the same numbers
    api_obj = json.loads(json.dumps(res.to_dict()))
    for key in ("points", "frontiers", "best"):
        assert without_timing({key: api_obj[key]}) == without_timing({key: cli_obj[key]}), key
    one = flatbook.simulate(preset="as2008", policy="linear-skew", paths=200, seed=2, skew=0.02)
    row = res.points[res.points["skew"] == 0.02].iloc[0]
    assert row["pnl_mean"] == one.summary["pnl_mean"].value and row["pnl_std"] == one.summary["pnl_std"].value
    assert res.summary["best.mv"].unit == "price units × lots" and res.summary["best.mv"].se > 0
    best = res.points["pnl_mean"] - 0.5 * 0.1 * res.points["pnl_std"] ** 2
    assert res.summary["best.mv"].value == pytest.approx(best.max(), rel=1e-12)
    assert set(res.frontier("pnl_std")["skew"]) <= {0.0, 0.02, 0.05}
    written = res.to_parquet(tmp_path)
    assert len(pd.read_parquet(written["results"])) == 3
    assert isinstance(res.plot(), Figure)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def bt():
    return flatbook.backtest(shared_data(BINANCE), policy="glft")


def test_backtest_equals_the_cli(bt):
    cli_obj = cli_json("backtest", str(shared_data(BINANCE)), "--policy", "glft")
    assert same_json(bt.to_dict(), cli_obj)
    assert bt.summary["pnl_final"].value == cli_obj["pnl_final"]
    assert bt.summary["pnl_final"].unit == "USDT" and bt.summary["q_std"].unit == "BTC"
    assert bt.summary["events"].value == 87_402


def test_backtest_frames_and_figure(bt, tmp_path, monkeypatch):
    f = bt.to_pandas()
    assert len(f.fills) == bt.summary["fills"].value and len(f.inventory) == bt.summary["events"].value
    assert str(f.fills["time"].dtype).startswith("datetime64")
    written = bt.to_parquet(tmp_path / "bt")
    pd.testing.assert_frame_equal(pd.read_parquet(written["fills"]), f.fills)
    monkeypatch.chdir(tmp_path / "bt")
    assert isinstance(bt.plot(), Figure) and sorted(os.listdir(".")) == ["fills.parquet", "inventory.parquet"]
    assert f"{bt.summary['pnl_final'].value:.6g}" in bt._repr_html_()


def test_backtest_on_loaded_data_with_overrides_equals_the_cli():
    ev = flatbook.load_data(shared_data(BINANCE))
    res = flatbook.backtest(ev, policy="linear-skew", skew=0.5, latency_ms=5, queue="prob")
    cli_obj = cli_json(
        "backtest",
        str(shared_data(BINANCE)),
        "--policy",
        "linear-skew",
        "--set",
        "skew=0.5",
        "--latency-ms",
        "5",
        "--queue",
        "prob",
    )
    assert same_json(res.to_dict(), cli_obj)


def test_calibrate_equals_the_cli():
    res = flatbook.calibrate(shared_data(BINANCE))
    cli_obj = cli_json("calibrate", str(shared_data(BINANCE)))
    assert same_json(res.to_dict(), cli_obj)
    sig = res.summary["volatility.sigma_per_time_unit"]
    assert sig.value == cli_obj["volatility"]["sigma_per_time_unit"] and sig.unit == "USDT per √(1 s)"
    assert res.summary["intensity.pooled.k"].unit == "per USDT"
    assert res.suggested == cli_obj["set"]


# --------------------------------------------------------------------------- bad input

BAD = [
    (flatbook.simulate, {"gama": 0.1}, "gama", "did you mean gamma"),
    (flatbook.simulate, {"path": 10}, "path", "did you mean paths"),
    (flatbook.simulate, {"preset": "as2009"}, "preset", "did you mean as2008"),
    (flatbook.simulate, {"policy": "glfx", "paths": 10}, "policy", "did you mean glft"),
    (flatbook.simulate, {"paths": 0}, "paths", "integer from 1"),
    (flatbook.simulate, {"paths": 10, "gamma": -1.0}, "gamma", ">= 1e-9"),
    (flatbook.simulate, {"paths": 10, "params": {"gamma": 0.1}, "gamma": 0.2}, "gamma", "give it once"),
    (flatbook.simulate, {"paths": 10, "params": [("gamma", 0.1)]}, "params", "mapping"),
    (flatbook.simulate, {"paths": 10, "config": 3}, "config", "RunConfig"),
    (flatbook.compare, {"policies": ["glft", "glft"], "paths": 10}, "policies", "duplicate"),
    (flatbook.compare, {"policies": [], "paths": 10}, "policies", "at least one"),
    (flatbook.quote, {"q": 1.0, "t": 5.0}, "t", "from 0 to T = 1"),
    (flatbook.quote, {"q": 1.0, "mid": -3.0}, "mid", "> 0"),
    (flatbook.quote, {"q": float("nan")}, "q", "finite"),
    (flatbook.schedule, {"method": "twapp"}, "method", "did you mean twap"),
    (flatbook.schedule, {"steps": 0}, "steps", "integer >= 1"),
    (flatbook.schedule, {"method": "twap", "risk_aversion": 1e-6}, "risk_aversion", "almgren-chriss"),
    (flatbook.sweep, {"grid": {"skw": [0.0, 0.1]}, "paths": 10}, "grid skw=0.0,0.1", "did you mean skew"),
    (flatbook.sweep, {"paths": 10}, "grid", "at least one"),
    (flatbook.sweep, {"study": "skew-frontiers", "paths": 10}, "study", "did you mean skew-frontier"),
    (flatbook.risk, {"book": "no/such/book.toml"}, "book", "no such file"),
    (flatbook.risk, {"book": str(REPO / "examples/books/two_stocks.toml"), "confidence": 1.5}, "confidence", "< 1"),
    (flatbook.backtest, {"data": "no/such/file.gz"}, "no/such/file.gz", "no such file"),  # names the file
    (flatbook.backtest, {"data": "x.gz", "queue": "fifo"}, "queue", "prorata"),
    (flatbook.backtest, {"data": "x.gz", "latency_ms": "exp:-1"}, "latency_ms", "0 to"),
    (flatbook.backtest, {"data": "x.gz", "skw": 0.1}, "skw", "did you mean skew"),
    (flatbook.calibrate, {"data": "x.gz", "policy": "stoll"}, "policy", "allowed: avellaneda-stoikov, glft"),
    (flatbook.calibrate, {"data": "x.gz", "size": 1.0}, "target_q_std", "needs target_q_std"),
]


@pytest.mark.parametrize("fn, kwargs, field, text", BAD, ids=[f"{f.__name__}-{fld}" for f, _, fld, _ in BAD])
def test_bad_input_raises_input_error_naming_the_field(fn, kwargs, field, text):
    with pytest.raises(flatbook.InputError) as e:
        fn(**kwargs)
    assert e.value.field == field, str(e.value)
    assert text in str(e.value)
    assert "\n" not in str(e.value)
