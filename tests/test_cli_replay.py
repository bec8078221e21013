"""The real-data commands end to end: data inspect / convert, backtest, calibrate (on ../shared/data)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import DATA
from flatbook.backtest import BacktestOptions, Latency, replay_config, run_backtest
from flatbook.cli import root as cli_app
from flatbook.data.load import load
from flatbook.timing import without_timing

runner = CliRunner()
AAPL = DATA / "lobster" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
AMZN5 = DATA / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
BTC = DATA / "binance" / "usdm_btcusdt_20240808.gz"
SPOT = DATA / "binance" / "spot_btcusdt_20240808.gz"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BACKTEST_KEYS = {
    "events",
    "fills",
    "maker_volume",
    "pnl_final",
    "max_abs_q",
    "markout_1s",
    "markout_10s",
    "markout_60s",
    "final_q",
    "spread_mean",
    "fees",
    "financing",
    "time_at_limit_frac",
    "half_life",
    "timing",
    "warnings",
    "pnl_spread",
    "pnl_inventory",
    "pnl_adverse",
    "pnl_fees",
    "pnl_financing",
    "contract",
    "settlement_currency",
}


def cli(*args):
    return runner.invoke(cli_app.app, [str(a) for a in args])


def cli_json(*args) -> dict:
    r = cli(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def one_line_error(r, *needles):
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------- data inspect
def test_data_inspect_json_on_lobster_and_binance():
    a = cli_json("data", "inspect", AAPL)
    assert a["instrument"] == "AAPL" and a["tick_size"] == 0.01
    assert a["trades"] == a["buy_trades"] + a["sell_trades"] + a.get("unknown_trades", 0)
    assert 1 <= a["spread_median_ticks"] <= 100 and a["spread_mean_ticks"] > 0
    assert 0.05 < a["mid_vol_annualized"] < 2.0  # AAPL 2012: tens of % a year
    b = cli_json("data", "inspect", BTC)
    assert b["tick_size"] == pytest.approx(0.1) and b["events"] == 87402
    assert b["quotes"] + b["trades"] == b["events"]


def test_data_convert_round_trip(tmp_path):
    dest = tmp_path / "aapl.parquet"
    r = cli("data", "convert", AAPL, dest)
    assert r.exit_code == 0 and dest.is_file()
    a, b = load(AAPL, cache=False), load(dest)
    for name in ("ts", "kind", "bid_px", "ask_px", "px", "qty", "side"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)


# ------------------------------------------------------------------------------- backtest
def test_backtest_json_and_out_on_binance(tmp_path):
    out = tmp_path / "bt"
    d = cli_json(
        "backtest",
        BTC,
        "--policy",
        "linear-skew",
        "--set",
        "size=0.01",
        "--set",
        "limit=0.1",
        "--set",
        "half_spread=1.0",
        "--set",
        "skew=20",
        "--latency-ms",
        "5",
        "--out",
        out,
    )
    assert BACKTEST_KEYS <= set(d)
    assert set(d["timing"]) == {"elapsed_s", "events_per_s"} and not {"elapsed_s", "events_per_s"} & set(d)
    assert d["events"] == 87402 and d["fills"] > 50
    assert d["max_abs_q"] <= 0.1 + 1e-12
    assert d["options"]["feed_latency"] == "5 ms" and d["config"]["policy"] == "linear-skew"
    assert {p.name for p in out.iterdir()} == {"summary.json", "fills.parquet", "inventory.parquet", "six_panel.png"}
    fills = pd.read_parquet(out / "fills.parquet")
    assert len(fills) == d["fills"] and fills["qty"].sum() == pytest.approx(d["maker_volume"])
    inv = pd.read_parquet(out / "inventory.parquet")
    assert len(inv) == d["events"] and inv["q"].abs().max() == d["max_abs_q"]
    assert (out / "six_panel.png").read_bytes()[:8] == PNG_MAGIC
    # the Stoll γ and OU fit from that inventory path
    c = cli_json("calibrate", BTC, "--inventory", out / "inventory.parquet")
    assert c["stoll"]["n"] > 0 and "stoll_gamma" in c["stoll"]
    assert c["inventory_ou"]["n"] > 300


@pytest.mark.parametrize(
    "path,limit,size", [(AAPL, 300.0, 100.0), (AMZN5, 200.0, 100.0), (BTC, 0.05, 0.02), (SPOT, 0.03, 0.01)]
)
def test_hard_limit_never_exceeded_on_real_data(path, limit, size):
    """Aggressive quotes (half-spread of one tick, no skew) fill often; q stays within ±limit."""
    ev = load(path)
    cfg = replay_config(ev, "symmetric", {"limit": limit, "size": size, "half_spread": ev.meta.tick_size})
    res = run_backtest(ev, cfg, BacktestOptions(order_latency=Latency("const", 1.0)))
    q = res.path["q"]
    assert res.summary["fills"] > 20
    assert np.max(np.abs(q)) <= limit
    assert np.max(np.abs(res.fills["q"])) <= limit


def test_backtest_is_deterministic():
    a = cli_json("backtest", AAPL, "--policy", "stoll", "--latency-ms", "exp:3", "--queue", "prob", "--seed", "4")
    b = cli_json("backtest", AAPL, "--policy", "stoll", "--latency-ms", "exp:3", "--queue", "prob", "--seed", "4")
    assert without_timing(a) == without_timing(b)


def test_backtest_a_s_with_calibrated_defaults():
    """avellaneda-stoikov without --set: σ, A, k and γ come from the data."""
    d = cli_json("backtest", AAPL, "--policy", "avellaneda-stoikov")
    p = d["config"]["params"]
    assert p["sigma"] > 0 and p["A"] > 0 and p["k"] > 0 and p["gamma"] > 0
    assert d["fills"] > 0


# ----------------------------------------------------------------------------- calibrate
def test_calibrate_json_set_values():
    d = cli_json("calibrate", AAPL)
    assert d["ok"] and set(d["set"]) >= {"sigma", "A", "k"}
    assert 0.001 < d["set"]["sigma"] < 1.0  # USD per √s for a $580 stock
    pooled = d["intensity"]["pooled"]
    assert pooled["k_lo"] <= pooled["k"] <= pooled["k_hi"] and pooled["A_lo"] <= pooled["A"] <= pooled["A_hi"]


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs_exit_2_with_one_line(tmp_path):
    one_line_error(cli("data", "inspect", tmp_path / "nope.zip"), "nope.zip", "no such file")
    one_line_error(cli("backtest", BTC, "--latency-ms", "gamma:3"), "--feed-latency-ms", "unknown latency")
    one_line_error(cli("backtest", BTC, "--queue", "fifo"), "--queue", "prorata")
    one_line_error(cli("backtest", BTC, "--policy", "nope"), "policy", "allowed")
    one_line_error(cli("backtest", BTC, "--set", "gamma=-1"), "gamma")
    one_line_error(cli("backtest", BTC, "--min-requote-ms", "x"), "--min-requote-ms")
    one_line_error(cli("backtest", BTC, "--format", "csv"), "--format", "unknown format 'csv'")
    one_line_error(cli("calibrate", BTC, "--target-q-std", "-1"), "--target-q-std")
    one_line_error(cli("calibrate", BTC, "--inventory", tmp_path / "none.parquet"), "none.parquet")
    one_line_error(cli("data", "convert", AAPL, tmp_path / "x.csv"), "DEST")
    # a malformed capture: a line of bad JSON, named by file and line; nothing written to --out
    bad = tmp_path / "bad_btcusdt.gz"
    with gzip.open(BTC, "rb") as src, gzip.open(bad, "wb") as dst:
        for i, line in enumerate(src):
            dst.write(b"1723100000000000000 {not json\n" if i == 5 else line)
            if i > 50:
                break
    out = tmp_path / "never"
    r = cli("backtest", bad, "--out", out, "--no-cache")
    one_line_error(r, "bad_btcusdt.gz:6", "malformed JSON")
    assert not out.exists()
    # a truncated gzip
    trunc = tmp_path / "trunc_btcusdt.gz"
    trunc.write_bytes(BTC.read_bytes()[:20000])
    one_line_error(cli("data", "inspect", trunc, "--no-cache"), "trunc_btcusdt.gz", "truncated")
    # skip-and-count instead of failing
    d = cli_json("data", "inspect", bad, "--on-error", "skip", "--no-cache")
    assert d["skipped"] == {"malformed JSON": 1}
