"""Tests of the ``flatbook`` command line (flatbook.cli.root, output, tables)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flatbook.cli import root as cli_app
from flatbook.params import PARAMS
from flatbook.policies.registry import POLICIES
from flatbook.presets import PRESETS
from test_trust_cli import interrupt_after_progress

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REQUIRED_SUMMARY_KEYS = {
    "paths",
    "steps",
    "pnl_mean",
    "pnl_std",
    "final_q_mean",
    "final_q_std",
    "max_abs_q_mean",
    "max_abs_q_max",
    "spread_mean",
    "fills_mean",
    "spread_given_up_mean",
    "time_at_limit_frac",
    "var_95",
    "es_95",
    "half_life",
    "timing",
}
OUT_FILES = {"summary.json", "summary.parquet", "per_path.parquet", "series.parquet"}


def cli(*args: str):
    return runner.invoke(cli_app.app, list(args))


def cli_json(*args: str) -> dict:
    r = cli(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def without_timing(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "timing"}


# --------------------------------------------------------------------------- simulate


def test_simulate_json_keys_paths_steps():
    d = cli_json("simulate", "--paths", "300", "--seed", "1")
    assert REQUIRED_SUMMARY_KEYS <= set(d)
    assert set(d["timing"]) == {"elapsed_s", "path_steps_per_s"}
    assert d["paths"] == 300
    assert d["steps"] == 200  # as2008: T/dt = 1/0.005
    cfg = d["config"]
    assert cfg["preset"] == "as2008" and cfg["policy"] == "avellaneda-stoikov"
    assert cfg["paths"] == 300 and cfg["seed"] == 1 and cfg["steps"] == 200
    assert set(cfg["params"]) == set(PARAMS)
    assert cfg["params"]["limit"] is None  # infinite → null: strict JSON


def test_simulate_same_seed_same_numbers_other_seed_differs():
    a = cli_json("simulate", "--paths", "300", "--seed", "7")
    b = cli_json("simulate", "--paths", "300", "--seed", "7")
    c = cli_json("simulate", "--paths", "300", "--seed", "8")
    assert without_timing(a) == without_timing(b)
    assert a["pnl_mean"] != c["pnl_mean"]


def test_simulate_table_shows_units():
    r = cli("simulate", "--paths", "200", "--preset", "worked-example", "--policy", "linear-skew")
    assert r.exit_code == 0, r.stderr
    for text in (
        "pnl_mean",
        "price units × lots",
        "fills per path",
        "path-steps/s",
        "market-order arrival (dt = 1)",
        "linear-skew",
    ):
        assert text in r.stdout


# --------------------------------------------------------------------------- compare


def test_compare_common_random_numbers():
    d = cli_json(
        "compare", "--preset", "worked-example", "--policy", "symmetric", "--policy", "linear-skew", "--paths", "1000"
    )
    assert list(d["policies"]) == ["symmetric", "linear-skew"]
    sym, lin = d["policies"]["symmetric"], d["policies"]["linear-skew"]
    assert sym["paths"] == lin["paths"] == 1000
    assert lin["max_abs_q_mean"] < sym["max_abs_q_mean"]
    assert lin["spread_given_up_mean"] > 0
    assert sym["spread_given_up_mean"] == 0
    assert d["config"]["policies"] == ["symmetric", "linear-skew"]
    assert d["config"]["preset"] == "worked-example"


def test_compare_table_has_a_column_per_policy():
    r = cli("compare", "--policy", "symmetric", "--policy", "stoll", "--paths", "100")
    assert r.exit_code == 0, r.stderr
    assert "symmetric" in r.stdout and "stoll" in r.stdout and "price units × lots" in r.stdout


# --------------------------------------------------------------------------- quote


def test_quote_worked_example():
    d = cli_json("quote", "--preset", "worked-example", "--policy", "linear-skew", "--q", "45")
    assert abs(d["bid"] - 99.50) < 1e-9
    assert abs(d["ask"] - 99.60) < 1e-9
    for key in ("bid", "ask", "bid_depth", "ask_depth", "half_spread", "skew", "centre", "reservation"):
        assert key in d
    assert abs(d["bid_depth"] - 0.5) < 1e-9 and abs(d["ask_depth"] + 0.4) < 1e-9


def test_quote_hard_limit_quotes_flattening_side_only():
    d = cli_json("quote", "--preset", "worked-example", "--policy", "linear-skew", "--q", "30", "--set", "limit=30")
    assert d["bid"] is None
    assert isinstance(d["ask"], float)


def test_quote_avellaneda_stoikov_reservation():
    d = cli_json("quote", "--policy", "avellaneda-stoikov", "--q", "2")
    assert abs(d["reservation"] - (100 - 2 * 0.1 * 4 * 1)) < 1e-9
    assert d["ask"] > d["bid"]


def test_quote_table_marks_unquoted_side():
    r = cli("quote", "--preset", "worked-example", "--policy", "linear-skew", "--q", "30", "--set", "limit=30")
    assert r.exit_code == 0, r.stderr
    assert "not quoted" in r.stdout and "price units" in r.stdout


# --------------------------------------------------------------------------- catalogues


def test_policies_list_every_parameter_with_unit_default_allowed():
    d = cli_json("policies")
    assert set(d) == set(POLICIES)
    for name, spec in POLICIES.items():
        assert list(d[name]["params"]) == list(spec.params)
        for key, row in d[name]["params"].items():
            assert row["unit"] == PARAMS[key].unit
            assert row["allowed"] == PARAMS[key].allowed()
            assert "default" in row


def test_presets_list_values_description_time_unit():
    d = cli_json("presets")
    assert set(d) == set(PRESETS)
    for name, p in PRESETS.items():
        assert d[name]["time_unit"] == p.time_unit and d[name]["description"] == p.description
        for key, val in p.values.items():
            row = d[name]["params"][key]
            assert row["unit"] == PARAMS[key].unit and row["allowed"] == PARAMS[key].allowed()
            assert row["value"] == (None if isinstance(val, float) and math.isinf(val) else val)
    assert d["as2008"]["params"]["half_spread"]["derived"] is True


def test_params_grouped_and_complete():
    d = cli_json("params")
    assert list(d) == ["run", "policy", "market", "controls", "hedging", "costs"]
    seen = {k for rows in d.values() for k in rows}
    assert seen == set(PARAMS)
    assert d["controls"]["limit"]["unit"] == "lots"


@pytest.mark.parametrize("cmd", ["presets", "policies", "params"])
def test_catalogue_tables(cmd):
    r = cli(cmd)
    assert r.exit_code == 0, r.stderr
    assert "allowed" in r.stdout and "unit" in r.stdout


# --------------------------------------------------------------------------- --out


def test_simulate_out_writes_everything(tmp_path):
    out = tmp_path / "run"
    r = cli(
        "simulate",
        "--preset",
        "worked-example",
        "--policy",
        "linear-skew",
        "--paths",
        "300",
        "--out",
        str(out),
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert set(os.listdir(out)) == OUT_FILES | {"six_panel.png"}
    assert json.loads((out / "summary.json").read_text()) == json.loads(r.stdout)
    summ = pd.read_parquet(out / "summary.parquet")
    assert len(summ) == 1 and summ["policy"][0] == "linear-skew" and summ["paths"][0] == 300
    per_path = pd.read_parquet(out / "per_path.parquet")
    assert len(per_path) == 300 and {"pnl", "final_q", "max_abs_q"} <= set(per_path.columns)
    series = pd.read_parquet(out / "series.parquet")
    assert {"policy", "t", "mid", "bid", "ask", "q", "pnl", "zone"} <= set(series.columns)
    assert len(series) == 235 + 1
    assert (out / "six_panel.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no temporary directory left behind


def test_compare_out_writes_everything(tmp_path):
    out = tmp_path / "a" / "b"  # parents created as needed
    r = cli(
        "compare",
        "--preset",
        "worked-example",
        "--policy",
        "symmetric",
        "--policy",
        "linear-skew",
        "--paths",
        "200",
        "--out",
        str(out),
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert set(os.listdir(out)) == OUT_FILES | {"six_panel_symmetric.png", "six_panel_linear-skew.png"}
    assert json.loads((out / "summary.json").read_text()) == json.loads(r.stdout)
    assert list(pd.read_parquet(out / "summary.parquet")["policy"]) == ["symmetric", "linear-skew"]
    per_path = pd.read_parquet(out / "per_path.parquet")
    assert len(per_path) == 2 * 200
    assert per_path.groupby("policy").size().to_dict() == {"symmetric": 200, "linear-skew": 200}
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 2 * 236
    for p in ("symmetric", "linear-skew"):
        assert (out / f"six_panel_{p}.png").read_bytes()[:8] == PNG_MAGIC


def test_out_into_existing_directory_keeps_other_files(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "summary.json").write_text("old")
    r = cli("simulate", "--paths", "100", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert (out / "notes.txt").read_text() == "keep me"
    assert json.loads((out / "summary.json").read_text())["paths"] == 100
    assert sorted(os.listdir(tmp_path)) == ["run"]


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch, exc):
    def boom(path, res):
        raise exc

    import flatbook.results.simulation as sim_results

    monkeypatch.setattr(sim_results, "_write_png", boom)
    out = tmp_path / "x" / "run"
    r = cli("simulate", "--paths", "50", "--out", str(out))
    if isinstance(exc, OSError):
        assert r.exit_code == 2 and r.stderr.startswith("error: --out: ")
    else:
        assert r.exit_code == 130 and "interrupted" in r.stderr
    assert "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []  # neither the output, a temp dir, nor the created parent


def test_interrupt_during_simulation(tmp_path, monkeypatch):
    import flatbook.sim.simulator as simulator

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator, "simulate", interrupted)
    r = cli("simulate", "--paths", "50", "--out", str(tmp_path / "run"))
    assert r.exit_code == 130
    assert r.stderr.strip() == "interrupted"
    assert r.stdout == ""
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- --config


def test_config_toml_and_set_override(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text(
        '[run]\npreset = "worked-example"\npolicy = "linear-skew"\npaths = 40\nseed = 3\n'
        "[params]\nskew = 0.02\nlimit = 30\n"
    )
    d = cli_json("simulate", "--config", str(f))
    assert d["paths"] == 40 and d["config"]["seed"] == 3
    assert d["config"]["preset"] == "worked-example" and d["config"]["policy"] == "linear-skew"
    assert d["config"]["params"]["skew"] == 0.02 and d["config"]["params"]["limit"] == 30
    d = cli_json("simulate", "--config", str(f), "--set", "skew=0.03", "--paths", "20", "--policy", "symmetric")
    assert d["paths"] == 20 and d["config"]["policy"] == "symmetric"
    assert d["config"]["params"]["skew"] == 0.03 and d["config"]["params"]["limit"] == 30


def test_config_policy_list_for_compare(tmp_path):
    f = tmp_path / "cmp.toml"
    f.write_text('[run]\npolicy = ["symmetric", "stoll"]\npaths = 30\n')
    d = cli_json("compare", "--config", str(f))
    assert list(d["policies"]) == ["symmetric", "stoll"]


# --------------------------------------------------------------------------- bad input

BAD_INPUTS = [
    (["simulate", "--preset", "nope"], "preset"),
    (["simulate", "--policy", "nope"], "policy"),
    (["compare", "--policy", "symmetric", "--policy", "nope"], "policy"),
    (["simulate", "--set", "nope=1"], "nope"),
    (["simulate", "--set", "gamma"], "--set"),
    (["simulate", "--set", "gamma=abc"], "gamma"),
    (["simulate", "--set", "gamma=-1"], "gamma"),
    (["simulate", "--set", "informed_frac=2"], "informed_frac"),
    (["simulate", "--set", "mid_model=foo"], "mid_model"),
    (["simulate", "--paths", "0"], "paths"),
    (["simulate", "--paths", "abc"], "paths"),
    (["simulate", "--seed", "-1"], "seed"),
    (["simulate", "--set", "T=1", "--set", "dt=0.3"], "dt"),
    (["simulate", "--set", "yellow=10", "--set", "red=5"], "yellow"),
    (["simulate", "--policy", "glft", "--set", "solution=exact"], "limit"),
    (["simulate", "--config", "{tmp}/missing.toml"], "--config"),
    (["simulate", "--config", "{tmp}/invalid.toml"], "--config"),
    (["simulate", "--config", "{tmp}/table.toml"], "--config"),
    (["simulate", "--config", "{tmp}/runkey.toml"], "run.colour"),
    (["simulate", "--config", "{tmp}/paramkey.toml"], "params.colour"),
    (["compare", "--policy", "symmetric", "--policy", "symmetric"], "--policy"),
    (["compare"], "--policy"),
    (["simulate", "--bogus"], "--bogus"),
    (["compare", "--policy", "symmetric", "--paths"], "--paths"),  # missing value
    (["quote", "--q", "abc"], "--q"),
    (["quote", "--q", "1", "--t", "5"], "--t"),
]


def _config_files(tmp: Path) -> None:
    (tmp / "invalid.toml").write_text("[run\npaths = 1\n")
    (tmp / "table.toml").write_text("[colours]\nred = 1\n")
    (tmp / "runkey.toml").write_text('[run]\ncolour = "red"\n')
    (tmp / "paramkey.toml").write_text("[params]\ncolour = 1\n")


def _check_one_error_line(stderr: str, field: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and field in lines[0], stderr


@pytest.mark.parametrize("args,field", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, field):
    _config_files(tmp_path)
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "out"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] != "quote":
        args = [args[0], "--out", str(out), *args[1:]]
    r = cli(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    _check_one_error_line(r.stderr, field)
    assert r.stdout == ""
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == before


def test_out_pointing_at_a_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("precious")
    r = cli("simulate", "--paths", "10", "--out", str(f))
    assert r.exit_code == 2
    _check_one_error_line(r.stderr, "--out")
    assert f.read_text() == "precious"
    assert os.listdir(tmp_path) == ["taken"]


# --------------------------------------------------------------------------- real processes


def _run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flatbook", *args], capture_output=True, text=True, timeout=120, **kw)


def test_subprocess_success_and_help():
    p = _run("quote", "--preset", "worked-example", "--policy", "linear-skew", "--q", "45", "--json")
    assert p.returncode == 0, p.stderr
    assert abs(json.loads(p.stdout)["bid"] - 99.5) < 1e-9
    p = _run("--help")
    assert p.returncode == 0 and "simulate" in p.stdout


@pytest.mark.parametrize(
    "args,field",
    [
        (["simulate", "--paths", "abc"], "paths"),
        (["simulate", "--set", "gamma=-1"], "gamma"),
        (["simulate", "--unknown-option"], "--unknown-option"),
        (["simulate", "--seed"], "--seed"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_subprocess_errors_exit_2_without_traceback(tmp_path, args, field):
    p = _run(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    _check_one_error_line(p.stderr, field)
    assert p.stdout == ""
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_subprocess_ctrl_c_exits_130_and_writes_nothing(tmp_path):
    # ~30 s of work uninterrupted (as2008, 8,000 steps × 200,000 paths, in chunks of 512 paths);
    # interrupted once the command reports that it has started: its progress bar, drawn on a
    # pseudo-terminal, shows the paths done (no fixed sleep)
    code, out, term = interrupt_after_progress(
        [
            sys.executable,
            "-m",
            "flatbook",
            "simulate",
            "--set",
            "T=40",
            "--paths",
            "200000",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 130, term
    assert "interrupted" in term and "Traceback" not in term
    assert out == b""
    assert os.listdir(tmp_path) == []
