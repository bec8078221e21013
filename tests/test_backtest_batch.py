"""Many files in one backtest (issue 15 §6 "Many days, many machines"): ``flatbook backtest DIR_OR_GLOB``.

Real data: the three LOBSTER level-1 sample files (AAPL, AMZN, GOOG, 2012-06-21) as three "days".
Checked: the files a directory or glob names; each file's figures bit for bit those of the one-file
backtest; the figures across days by hand (mean, sample std, SE, Sharpe, worst day, totals); an
interrupted run resumes without replaying a stored file (its stored row and file untouched); a file
that does not load is one warning and the run goes on; the Dask path gives the same numbers; the
command line is the API; bad flags are one line, exit 2.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import flatbook
from conftest import shared_data
from flatbook.api.batch import BatchInterrupted
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.sweep.backtests import data_files
from flatbook.timing import without_timing

runner = CliRunner()
NAMES = ("AAPL", "AMZN", "GOOG")


@pytest.fixture(scope="module")
def lobster() -> Path:
    return shared_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip").parent


@pytest.fixture(scope="module")
def glob_1(lobster) -> str:
    return str(lobster / "LOBSTER_SampleFile_*_1.zip")


@pytest.fixture(scope="module")
def batch(glob_1, tmp_path_factory):
    """The three days replayed in this process into a store (the reference run)."""
    out = tmp_path_factory.mktemp("batch")
    return flatbook.backtest_files(glob_1, "linear-skew", cluster=False, out=out), out


def test_a_directory_names_its_data_files_and_a_glob_its_matches(lobster, glob_1):
    names = [p.name for p in data_files(lobster)]
    assert len(names) == 4 and all(n.endswith(".zip") for n in names)  # not the ReadMe, not SHA256SUMS
    assert names == sorted(names)
    assert [p.name for p in data_files(glob_1)] == [f"LOBSTER_SampleFile_{n}_2012-06-21_1.zip" for n in NAMES]
    with pytest.raises(InputError, match=r"^data: .*matches no file"):
        data_files(str(lobster / "nothing_*.zip"))


def test_each_day_is_the_one_file_backtest_and_the_days_merge_by_hand(batch, lobster):
    res, _ = batch
    amzn = lobster / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    one = flatbook.backtest(amzn, "linear-skew")
    got = res.results[NAMES.index("AMZN")]
    assert got == {k: v for k, v in without_timing(one.to_dict()).items()}  # bit for bit, every figure
    df = res.files
    assert list(df["ok"]) == [True] * 3 and df.loc[1, "pnl_final"] == one.summary["pnl_final"].value
    pnl = [float(x) for x in df["pnl_final"]]
    s = res.summary
    mean, sd = statistics.fmean(pnl), statistics.stdev(pnl)
    assert s["days"].value == 3 and s["files_failed"].value == 0
    assert s["pnl_total"].value == pytest.approx(sum(pnl), rel=1e-15)
    assert s["pnl_mean_per_day"].value == pytest.approx(mean, rel=1e-14)
    assert s["pnl_std_per_day"].value == pytest.approx(sd, rel=1e-12)
    assert s["pnl_se"].value == pytest.approx(sd / math.sqrt(3), rel=1e-12)
    assert s["sharpe_per_day"].value == pytest.approx(mean / sd, rel=1e-12)
    assert s["worst_day_pnl"].value == min(pnl) and s["best_day_pnl"].value == max(pnl)
    assert s["worst_day"].value == df.loc[pnl.index(min(pnl)), "name"]
    assert s["fills_total"].value == int(df["fills"].sum()) and s["max_abs_q"].value == df["max_abs_q"].max()
    assert s["fees_total"].value == pytest.approx(df["fees"].sum(), abs=1e-12)
    assert s["pnl_total"].unit == "USD" and s["pnl_mean_per_day"].unit == "USD per day"


def test_an_interrupted_run_resumes_without_replaying_a_stored_file(batch, glob_1, tmp_path):
    ref, _ = batch
    out = tmp_path / "run"

    def stop_after_first(st):
        if st.done == 1:
            raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted) as ei:
        flatbook.backtest_files(glob_1, "linear-skew", cluster=False, out=out, progress=stop_after_first)
    assert (ei.value.saved, ei.value.total) == (1, 3)
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    [stored] = list((out / "points").glob("*.parquet"))
    before = (stored.name, stored.stat().st_mtime_ns, stored.read_bytes())
    row = pd.read_parquet(stored).iloc[0]
    seen = []
    res = flatbook.backtest_files(
        glob_1, "linear-skew", cluster=False, out=out, progress=lambda st: seen.append(st.last)
    )
    assert res.summary["resumed"].value == 1 and res.summary["computed"].value == 2
    assert row["name"] not in seen  # the stored day was not replayed again ...
    assert (stored.name, stored.stat().st_mtime_ns, stored.read_bytes()) == before  # ... nor rewritten
    assert len(list((out / "points").glob("*.parquet"))) == 3
    assert res.results == ref.results  # and the merged run is the uninterrupted one, bit for bit
    strip = lambda d: {k: v for k, v in d.items() if k not in ("computed", "resumed", "out")}  # noqa: E731
    assert strip(without_timing(res.to_dict())) == strip(without_timing(ref.to_dict()))
    again = flatbook.backtest_files(glob_1, "linear-skew", cluster=False, out=out)  # all stored: nothing runs
    assert again.summary["resumed"].value == 3 and again.summary["computed"].value == 0


def test_a_file_that_does_not_load_is_one_warning_and_the_run_goes_on(lobster, tmp_path):
    d = tmp_path / "days"
    d.mkdir()
    (d / "AMZN_1.zip").symlink_to(lobster / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    (d / "broken.zip").write_text("not a zip\n")
    res = flatbook.backtest_files(d, "linear-skew", cluster=False, out=tmp_path / "out")
    assert res.summary["days"].value == 1 and res.summary["files_failed"].value == 1
    [w] = res.warnings
    assert "broken.zip" in w and "not a zip" in w and "\n" not in w
    assert len(list((tmp_path / "out" / "points").glob("*.parquet"))) == 1  # a failure is not stored: retried
    (d / "AMZN_1.zip").unlink()
    with pytest.raises(InputError, match=r"^data: no file could be backtested; broken.zip"):
        flatbook.backtest_files(d, "linear-skew", cluster=False)


def test_the_files_on_a_dask_cluster_give_the_same_numbers(batch, glob_1):
    from distributed import Client, LocalCluster

    ref, _ = batch
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster, set_as_default=False) as client:
            res = flatbook.backtest_files(glob_1, "linear-skew", client=client)
    assert res.results == ref.results
    assert res.summary.to_dict() == ref.summary.to_dict() | {"computed": 3, "resumed": 0}


def test_the_command_line_is_the_api_and_resumes_from_its_store(batch, glob_1):
    ref, out = batch
    r = runner.invoke(cli_app.app, ["backtest", glob_1, "--out", str(out), "--json"])  # every day stored: no cluster
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["resumed"] == 3 and obj["computed"] == 0
    strip = lambda d: {k: v for k, v in d.items() if k not in ("computed", "resumed")}  # noqa: E731
    assert strip(without_timing(obj)) == strip(without_timing(ref.to_dict()))
    assert (out / "summary.json").is_file() and len(pd.read_parquet(out / "files.parquet")) == 3


@pytest.mark.parametrize(
    "args, line",
    [
        (["--workers", "0"], "error: --workers: got '0'; allowed: an integer from 1 to 1,024"),
        (["--scheduler", "localhost"], "error: --scheduler: got 'localhost'; expected an address"),
        (["--report", "r.html"], "error: --report: draws one backtest; DATA names several files"),
        (["--queue", "fifo"], "error: --queue: unknown queue model 'fifo' (allowed: l2, l3, prob, prorata)"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(glob_1, args, line):
    r = runner.invoke(cli_app.app, ["backtest", glob_1, *args])
    assert r.exit_code == 2
    assert r.stderr.startswith(line) and r.stderr.count("\n") == 1


def test_one_file_with_cluster_flags_is_refused(lobster):
    r = runner.invoke(
        cli_app.app, ["backtest", str(lobster / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"), "--workers", "2"]
    )
    assert r.exit_code == 2 and r.stderr.startswith("error: --workers: runs the files of a directory or glob")
    r = runner.invoke(cli_app.app, ["backtest", str(lobster / "nothing_*.zip")])
    assert r.exit_code == 2 and r.stderr.startswith("error: DATA: ") and "matches no file" in r.stderr


# --------------------------------------------------------------------------- QA defects (session 5, helper D2)


@pytest.mark.parametrize(
    "args, line",
    [
        (["--on-gap", "fail"], "error: --on-gap: applies to book='depth' (--book depth) only"),
        (["--book", "depth"], "error: --book: depth needs a full-depth book (Binance captures, hftbacktest, Tardis); "),
        (["--latency-ms", "measured"], "error: --latency-ms: measured latency needs local receive stamps; "),
        (["--order-latency-ms", "measured"], "error: --order-latency-ms: measured latency needs local receive "),
    ],
)
def test_bad_options_for_the_files_are_refused_before_any_work_and_leave_no_out(glob_1, tmp_path, args, line):
    out = tmp_path / "never"
    r = runner.invoke(cli_app.app, ["backtest", glob_1, *args, "--workers", "1", "--out", str(out)])
    assert r.exit_code == 2 and r.stderr.startswith(line) and r.stderr.count("\n") == 1, r.stderr
    if "--on-gap" not in args:  # the first file named, and how many more
        assert "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip is a lobster file (and 2 more of the 3 files" in r.stderr
    assert not out.exists()  # no lock, no empty points/, no manifest


def test_a_run_in_which_no_file_replays_leaves_no_store(tmp_path):
    d = tmp_path / "days"
    d.mkdir()
    for n in ("a.zip", "b.zip"):
        (d / n).write_text("not a zip\n")
    out = tmp_path / "out"
    r = runner.invoke(cli_app.app, ["backtest", str(d), "--out", str(out)])
    assert r.exit_code == 2 and "error: DATA: no file could be backtested; a.zip" in r.stderr
    assert not out.exists()  # created by this run, nothing stored: removed, not "complete"


def test_sigterm_ends_the_batch_as_ctrl_c_does_with_the_manifest_interrupted(glob_1, tmp_path):
    import os
    import signal

    out = tmp_path / "run"
    before = signal.getsignal(signal.SIGTERM)

    def kill_after_first(st):
        if st.done - st.resumed == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(BatchInterrupted) as ei:
        flatbook.backtest_files(glob_1, "linear-skew", cluster=False, out=out, progress=kill_after_first)
    assert (ei.value.saved, ei.value.total, ei.value.signum) == (1, 3, signal.SIGTERM)
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the batch's only while it runs


def test_units_per_file_and_no_max_q_across_quantity_units(batch):
    from flatbook.results.batch import BatchBacktestResult
    from flatbook.sweep.backtests import across_days

    res, _ = batch
    df = res.files
    assert list(df["settlement_currency"]) == ["USD"] * 3 and list(df["qty_unit"]) == ["shares"] * 3
    assert res.summary["max_abs_q"].unit == "shares (largest over the days)"
    rows = [
        {"ok": True, "name": "btc", "pnl_final": -13.5, "fills": 10, "fees": 0.0, "max_abs_q": 0.02,
         "settlement_currency": "USDT", "qty_unit": "BTC"},
        {"ok": True, "name": "eth", "pnl_final": -60.0, "fills": 20, "fees": 0.0, "max_abs_q": 2.0,
         "settlement_currency": "USDT", "qty_unit": "ETH"},
    ]  # fmt: skip
    a = across_days(rows)
    assert a["pnl_total"] == -73.5 and a["settlement_currency"] == "USDT"  # one currency: money adds
    assert a["max_abs_q"] is None and a["qty_unit"] == "BTC, ETH"  # BTC beside ETH: not compared
    r = BatchBacktestResult(rows, a, {"policy": "linear-skew"})
    assert r.summary["max_abs_q"].unit == "BTC, ETH: units differ, not compared"
    assert any("different units (BTC, ETH)" in w for w in r.warnings)
    r2 = BatchBacktestResult(rows, across_days([rows[0], {**rows[1], "settlement_currency": "BTC"}]), {})
    assert r2.summary["pnl_total"].value is None and r2.summary["pnl_total"].unit.endswith(
        "currencies differ, not added"
    )


def test_the_per_file_table_shows_each_files_currency_and_quantity_unit(batch, glob_1):
    _, out = batch
    r = runner.invoke(cli_app.app, ["backtest", glob_1, "--out", str(out)])  # every day stored: no cluster
    assert r.exit_code == 0, r.stderr
    header = next(ln for ln in r.stdout.splitlines() if "pnl_final" in ln and "currency" in ln)
    assert "qty unit" in header
    amzn = next(ln for ln in r.stdout.splitlines() if "AMZN" in ln and "shares" in ln)
    assert " USD " in amzn and "-2415.62" in amzn


def test_ctrl_c_of_a_two_worker_batch_is_one_line_and_exit_130_never_a_dask_traceback(lobster, tmp_path):
    """The terminal's Ctrl-C (SIGINT to the whole process group, workers included) once a file is stored."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    for i in range(4):  # four days (copies: four files, four ids), two workers
        shutil.copy(lobster / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip", tmp_path / f"day{i}.zip")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "flatbook",
        "backtest",
        str(tmp_path / "day*.zip"),
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)
    try:
        deadline = time.monotonic() + 600  # a guard against a hang only; the test waits for the condition
        while not list((out / "points").glob("*.parquet")) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert p.poll() is None, p.communicate()  # still running: at least one file left
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[1] == "interrupted", err  # no traceback, no distributed log line
    assert lines[0].endswith(f"of 4 files saved in {out}; rerun the same command to resume")
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
