"""Issue 13 ("Trust"), data and calibrate: generic files that used to load wrongly or with a
misleading error, refused in one line naming the file, row and column (exit 2, nothing written);
and calibrate's suggestion, pasted into the backtest it is made for, trades sensibly."""

from __future__ import annotations

import json
import math
import shlex

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import shared_data
from flatbook.cli import root as cli_app
from flatbook.data.events import DataError
from flatbook.data.generic import load_generic

runner = CliRunner()
HEAD = "timestamp,bid,ask,bid_size,ask_size\n"
GOOD = "1723161256313000000,100.0,100.1,1,1\n1723161257313000000,100.0,100.2,1,2\n"
TRADES_HEAD = "timestamp,price,quantity,side\n"


def cli(*args):
    return runner.invoke(cli_app.app, [str(a) for a in args])


def refused(tmp_path, quotes: str, *needles, trades: str | None = None, command: str = "backtest"):
    """Run ``command`` on the files; assert exit 2, one ``error:`` line holding every needle,
    no traceback, and nothing written to --out."""
    q = tmp_path / "q.csv"
    q.write_text(quotes)
    args = (
        ["data", "inspect", q, "--no-cache"]
        if command == "inspect"
        else ["backtest", q, "--no-cache", "--out", tmp_path / "out"]
    )
    if trades is not None:
        (tmp_path / "t.csv").write_text(trades)
        args += ["--trades", tmp_path / "t.csv"]
    r = cli(*args)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not (tmp_path / "out").exists()
    return lines[0]


COMMANDS = ("backtest", "inspect")


# ----------------------------------------------------------------- 1.6 timestamps in ms or µs
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("unit,scale", [("ms", 10**6), ("µs", 10**3)])
def test_ms_and_us_timestamps_refused_with_the_unit(tmp_path, command, unit, scale):
    t0 = 1723161256313 * 10**6 // scale  # 2024-08-08T23:54:16.313Z in that unit
    text = HEAD + f"{t0},100.0,100.1,1,1\n{t0 + 1000 * 10**6 // scale},100.0,100.2,1,2\n"
    line = refused(
        tmp_path,
        text,
        "q.csv: row 1",
        "column timestamp",
        f"looks like {unit}",
        "2024-08-08T23:54:16.313Z",
        "1970-01-",
        command=command,
    )
    assert f"× {scale:,}" in line


def test_plausible_and_synthetic_ns_timestamps_still_load(tmp_path):
    """ns in 2024, ISO text, and small synthetic ns (counting from 0 or 1 s) load as before."""
    for i, text in enumerate(
        [
            GOOD,
            "2024-08-08T23:54:16.313Z,100,100.1,1,1\n",
            "0,100,100.1,1,1\n",
            "1000000000,100,100.1,1,1\n2000000000,100,100.1,1,1\n",
        ]
    ):
        p = tmp_path / f"q{i}.csv"
        p.write_text(HEAD + text)
        assert len(load_generic(p)) == text.count("\n")
    # the first good row decides: a µs value in a later row of a ns file is out of order, not a unit
    p = tmp_path / "later.csv"
    p.write_text(HEAD + GOOD + "1723161256313000,100,100.1,1,1\n")
    with pytest.raises(DataError, match="row 3: timestamp out of order"):
        load_generic(p)


def test_ms_timestamps_in_parquet_and_trades_refused(tmp_path):
    pq.write_table(
        pa.table(
            {
                "timestamp": pa.array([1723161256313, 1723161256314], pa.int64()),
                "bid": [100.0, 100.0],
                "ask": [100.1, 100.1],
                "bid_size": [1.0, 1.0],
                "ask_size": [1.0, 1.0],
            }
        ),
        tmp_path / "q.parquet",
    )
    with pytest.raises(DataError, match=r"q\.parquet: row 1: column timestamp = 1723161256313 .* looks like ms"):
        load_generic(tmp_path / "q.parquet")
    (tmp_path / "q.csv").write_text(HEAD + GOOD)
    (tmp_path / "t.csv").write_text(TRADES_HEAD + "1723161256313000,100.0,1,buy\n")
    with pytest.raises(DataError, match=r"t\.csv: row 1: .* looks like µs"):
        load_generic(tmp_path / "q.csv", tmp_path / "t.csv")


# ----------------------------------------------------------------- 6.3 prices: nan, negative, zero
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("cell", ["nan", "NaN", "NA", "null", "inf", "-inf"])
def test_nan_price_cell_refused_not_an_empty_side(tmp_path, command, cell):
    text = HEAD + GOOD + f"1723161258313000000,{cell},100.2,1,2\n"
    refused(tmp_path, text, "q.csv: row 3", f"column bid = {cell!r} is not a finite number", command=command)


def test_nan_in_parquet_refused_null_is_an_empty_side(tmp_path):
    def write(name, bid):
        pq.write_table(
            pa.table(
                {
                    "timestamp": pa.array([1, 2], pa.int64()),
                    "bid": pa.array(bid, pa.float64()),
                    "ask": [100.1, 100.1],
                    "bid_size": [1.0, 0.0],
                    "ask_size": [1.0, 1.0],
                }
            ),
            tmp_path / name,
        )
        return tmp_path / name

    ev = load_generic(write("null.parquet", [100.0, None]))
    assert np.isnan(ev.bid_px[1]) and ev.bid_sz[1] == 0  # null: the bid side is empty
    with pytest.raises(DataError, match=r"nan\.parquet: row 2: non-numeric value: column bid = 'nan'"):
        load_generic(write("nan.parquet", [100.0, math.nan]))


def test_empty_cell_is_still_an_empty_side(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(HEAD + "1,100.0,100.1,1,1\n2,,100.1,,1\n")
    ev = load_generic(p)
    assert np.isnan(ev.bid_px[1]) and ev.bid_sz[1] == 0 and ev.meta.skipped == {}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "row,what",
    [
        ("-100.0,100.1", "bid -100, ask 100.1"),
        ("0,0", "bid 0, ask 0"),
        ("100.0,0", "bid 100, ask 0"),
        ("0,100.1", "bid 0, ask 100.1"),
    ],
)
def test_non_positive_prices_refused_with_the_real_reason(tmp_path, command, row, what):
    line = refused(
        tmp_path,
        HEAD + f"1723161256313000000,{row},1,1\n",
        "q.csv: row 1",
        "non-positive price",
        what,
        "prices must be > 0",
        command=command,
    )
    assert "crossed" not in line


@pytest.mark.parametrize("price", ["0", "-5", "nan"])
def test_bad_trade_price_refused(tmp_path, price):
    refused(tmp_path, HEAD + GOOD, "t.csv: row 1", "price", trades=TRADES_HEAD + f"1723161256313000000,{price},1,buy\n")


def test_skip_counts_bad_prices(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(HEAD + GOOD + "1723161258313000000,nan,100.2,1,1\n1723161259313000000,-1,100.2,1,1\n")
    ev = load_generic(p, on_error="skip")
    assert len(ev) == 2 and ev.meta.skipped == {"non-numeric value": 1, "non-positive price": 1}


# ----------------------------------------------------------------- 6.3 header-only and all-skipped files
@pytest.mark.parametrize("command", COMMANDS)
def test_header_only_quotes_refused_by_inspect_and_backtest_alike(tmp_path, command):
    line = refused(tmp_path, HEAD, "q.csv", "no data rows", command=command)
    assert line == f"error: {tmp_path / 'q.csv'}: no data rows (a header only?): nothing to load"


def test_all_rows_skipped_refused(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(HEAD + "1,abc,100.1,1,1\n2,-1,100.1,1,1\n")
    with pytest.raises(
        DataError,
        match=r"no usable rows: all 2 rows were skipped \(1 non-numeric value, "
        r"1 non-positive price\)",
    ):
        load_generic(p, on_error="skip")


def test_header_only_trades_file_means_no_trades(tmp_path):
    (tmp_path / "q.csv").write_text(HEAD + GOOD)
    (tmp_path / "t.csv").write_text(TRADES_HEAD)
    ev = load_generic(tmp_path / "q.csv", tmp_path / "t.csv")
    assert len(ev) == 2 and not ev.is_trade.any()


# ----------------------------------------------------------------- 6.3 unknown columns: did you mean
@pytest.mark.parametrize("command", COMMANDS)
def test_misnamed_columns_get_did_you_mean(tmp_path, command):
    text = "time,bid,ask,bidsize,ask_size\n" + GOOD
    refused(
        tmp_path,
        text,
        "missing columns timestamp, bid_size",
        "column 'time': did you mean timestamp?",
        "column 'bidsize': did you mean bid_size?",
        command=command,
    )


def test_misnamed_trade_column_gets_did_you_mean(tmp_path):
    refused(
        tmp_path,
        HEAD + GOOD,
        "t.csv",
        "missing column price",
        "column 'Price': did you mean price?",
        trades="timestamp,Price,quantity,side\n1723161256313000000,100.0,1,buy\n",
    )


# ----------------------------------------------------------------- 1.3 calibrate → backtest trades sensibly
USDM = "binance/usdm_btcusdt_20240808.gz"


def test_calibrate_suggestion_trades_sensibly_in_the_backtest():
    """The issue's command: calibrate USDM BTCUSDT --target-q-std 0.5, paste its `use:` line.

    Before: γ for the finite-horizon A–S (T = the 344 s tape) and the tail intensity law
    (k = 0.38/USDT): 0 fills, mean spread 1,775 USDT. Now the line is a whole backtest command
    (stationary variant, horizon, size, limit; k of the law near the touch), and its replay
    - fills (> 0);
    - quotes, on average, within 10× the market's own spread of the mid (the issue's rule) and
      without any backtest warning;
    - has the mean quoted spread the A–S formula gives for these values, S = γσ²τ +
      (2/γ)·ln(1 + γ/k) (independent of q), widened by rounding bid down and ask up to the
      tick: S <= mean spread < S + 2·tick.
    """
    data = shared_data(USDM)
    r = cli("calibrate", data, "--target-q-std", "0.5", "--paths", "40")
    assert r.exit_code == 0, r.stderr
    use = [ln for ln in r.stdout.splitlines() if ln.startswith("use: ")]
    assert len(use) == 1
    argv = shlex.split(use[0][len("use: ") :])
    assert argv[:3] == ["flatbook", "backtest", str(data)] and "variant=stationary" in argv
    sets = dict(a.split("=", 1) for a in argv[argv.index("--set") + 1 :: 2])
    assert set(sets) == {"sigma", "A", "k", "gamma", "size", "limit", "variant", "horizon"}
    b = cli(*argv[1:], "--json")
    assert b.exit_code == 0, b.stderr
    s = json.loads(b.stdout)
    assert s["fills"] > 0 and s["warnings"] == [] and "warning:" not in b.stderr
    assert s["quote_depth_mean"] <= 10 * s["market_spread_mean"]
    g, sig, k, tau = (float(sets[x]) for x in ("gamma", "sigma", "k", "horizon"))
    spread = g * sig**2 * tau + 2 / g * math.log1p(g / k)
    tick = s["data"]["tick_size"]
    assert spread <= s["spread_mean"] < spread + 2 * tick
    # calibrate replayed the same command: its check is this backtest
    c = json.loads(cli("calibrate", data, "--target-q-std", "0.5", "--paths", "40", "--json").stdout)
    assert c["backtest_check"]["fills"] == s["fills"] and c["backtest_check"]["q_std"] == s["q_std"]


def test_calibrate_horizon_is_the_users_and_is_shown():
    data = shared_data(USDM)
    r = cli("calibrate", data, "--target-q-std", "0.5", "--paths", "20", "--horizon", "5", "--json")
    assert r.exit_code == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["set"]["horizon"] == 5.0 and c["set"]["variant"] == "stationary"
    assert "horizon = 5" in c["gamma"]["reasoning"][0]
    assert c["gamma"]["run"]["horizon"] == 5.0


@pytest.mark.parametrize(
    "args,field",
    [
        (["--target-q-std", "0.5", "--policy", "glft", "--horizon", "5"], "--horizon"),
        (["--target-q-std", "0.5", "--horizon", "0"], "--horizon"),
        (["--target-q-std", "0.5", "--horizon", "inf"], "--horizon"),
        (["--target-q-std", "0.5", "--size", "-1"], "--size"),
        (["--target-q-std", "0.5", "--limit", "nan"], "--limit"),
        (["--limit", "1"], "--target-q-std"),
        (["--target-q-std", "0.5", "--paths", "1"], "--paths"),
        (["--target-q-std", "0.5", "--paths", "2.5"], "--paths"),
        (["--horizon", "5"], "--target-q-std"),
        (["--policy", "glf"], "--policy"),
    ],
)
def test_calibrate_bad_options_one_line(args, field):
    r = cli("calibrate", shared_data(USDM), *args)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: "), r.stderr
    assert "Traceback" not in r.stderr


def test_calibrate_warnings_go_to_stderr_and_json_stays_clean():
    """Warnings are `warning:` lines on stderr in both modes (and kept in --json); no progress
    output when stderr is not a terminal."""
    r = cli("calibrate", shared_data(USDM), "--json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["warnings"] and r.stderr.splitlines() == [f"warning: {w}" for w in d["warnings"]]
    t = cli("calibrate", shared_data(USDM))
    assert t.stderr.splitlines() == [f"warning: {w}" for w in d["warnings"]]
    assert "warning" not in t.stdout


@pytest.mark.parametrize("json_", [False, True])
def test_calibrate_progress_on_a_terminal_only_without_json(monkeypatch, json_):
    """On a terminal (rich's Console.is_terminal forced true, the show-after delay set to 0 so the
    test does not depend on how long the work takes) the γ search draws a spinner naming its
    step on stderr; under --json nothing but the warnings reaches stderr."""
    import rich.console

    from flatbook.cli import progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda self: True))
    r = cli("calibrate", shared_data(USDM), "--target-q-std", "0.5", "--paths", "20", *(["--json"] if json_ else []))
    assert r.exit_code == 0, r.stderr
    if json_:
        assert "calibrate:" not in r.stderr and "searching γ" not in r.stderr
    else:
        assert "calibrate: searching γ: simulation" in r.stderr


def test_calibrate_size_and_limit_are_the_users(tmp_path):
    r = cli(
        "calibrate",
        shared_data(USDM),
        "--target-q-std",
        "0.05",
        "--paths",
        "20",
        "--size",
        "0.01",
        "--limit",
        "0.2",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    c = json.loads(r.stdout)
    assert (c["set"]["size"], c["set"]["limit"]) == (0.01, 0.2)
    assert c["backtest_check"]["max_abs_q"] <= 0.2 + 1e-12


def test_a_parse_cached_by_the_old_rules_is_not_served(tmp_path, monkeypatch):
    """A file parsed and cached by the loader before its rules changed (here: before ms
    timestamps were refused) is parsed again, and refused, rather than served from the cache:
    the cache key carries CACHE_VERSION, bumped with the rules."""
    from flatbook.data import cache, generic
    from flatbook.data.load import load

    monkeypatch.setenv("FLATBOOK_CACHE_DIR", str(tmp_path / "cache"))
    q = tmp_path / "q.csv"
    q.write_text(HEAD + "1723161256313,100.0,100.1,1,1\n1723161257313,100.0,100.2,1,1\n")
    with monkeypatch.context() as old:  # the previous rules, under the previous version
        old.setattr(cache, "CACHE_VERSION", 1)
        old.setattr(generic, "check_epoch_unit", lambda *a: None)
        assert load(q, cache=True).ts[0] == 1723161256313  # 1970, cached
    with pytest.raises(DataError, match="looks like ms"):
        load(q, cache=True)


def test_a_cached_parse_reports_the_path_given_this_time(tmp_path, monkeypatch):
    """The cache is keyed on the resolved path, so a relative and an absolute name of one file share an entry;
    each load reports the name it was given (data.files), not the one of the parse that filled the cache."""
    from flatbook.data.load import load

    monkeypatch.setenv("FLATBOOK_CACHE_DIR", str(tmp_path / "cache"))
    q = tmp_path / "q.csv"
    q.write_text(HEAD + "1723161256,100.0,100.1,1,1\n1723161257,100.0,100.2,1,1\n")
    first = load(q.resolve(), cache=True)
    monkeypatch.chdir(tmp_path)
    again = load("q.csv", cache=True)
    assert first.meta.files == (str(q.resolve()),) and again.meta.files == ("q.csv",)
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 1  # one entry, served the second time
    assert np.array_equal(first.ts, again.ts)


def test_calibrate_backtest_line_is_in_seconds_whatever_the_time_unit():
    """--time-unit-s 60 prints σ per √min and A per min for the simulator, but the backtest
    (time unit 1 s) gets σ/√60, A/60 and the horizon in seconds; the check replays those."""
    r = cli("calibrate", shared_data(USDM), "--target-q-std", "0.5", "--paths", "20", "--time-unit-s", "60", "--json")
    assert r.exit_code == 0, r.stderr
    c = json.loads(r.stdout)
    st, bt = c["set"], c["backtest_set"]
    assert bt["sigma"] == pytest.approx(st["sigma"] / math.sqrt(60), rel=1e-12)
    assert bt["A"] == pytest.approx(st["A"] / 60, rel=1e-12)
    assert (st["horizon"], bt["horizon"]) == (1.0, 60.0)
    assert bt["k"] == st["k"] and bt["gamma"] == st["gamma"] and bt["size"] == st["size"]
    t = cli("calibrate", shared_data(USDM), "--target-q-std", "0.5", "--paths", "20", "--time-unit-s", "60")
    use = [ln for ln in t.stdout.splitlines() if ln.startswith("use: ")][0]
    assert f"--set sigma={bt['sigma']:.6g}" in use and "--set horizon=60 " in use + " "
