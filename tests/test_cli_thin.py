"""The command line is a thin face over the Python API (issue 14 §1): no logic that the API lacks.

1. What ``flatbook/cli/*`` may import (read with :mod:`ast`, nothing executed): the faces (``flatbook.api``,
   ``flatbook.results``, ``flatbook.report``, ``flatbook.app``, the command line itself), the version and
   the errors, and the few helpers below the faces listed in :data:`ALLOWED` with the reason each is
   parsing, an error message or presentation, never a computation.
2. Each command's ``--json`` equals ``flatbook.<call>(...).to_dict()`` for the same inputs (outside the
   wall-clock ``timing`` fields), and ``--out``/``--report`` write what ``result.save(dir)`` and
   ``result.report(path)`` write.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import flatbook
from conftest import shared_data
from flatbook.cli import root as cli_app
from flatbook.timing import without_timing

SRC = Path(__file__).resolve().parents[1] / "src" / "flatbook"
CLI = SRC / "cli"

#: packages the command line may import freely: the faces, and the package root's light modules
FACES = ("flatbook.cli", "flatbook.api", "flatbook.results", "flatbook.report", "flatbook.app")
ROOT_OK = {"flatbook._version", "flatbook.errors"}

#: (module, name) below the faces that a command may import, and why that is not logic the API lacks
ALLOWED = {
    ("flatbook.config", "load_toml"): "parsing: reads --config's TOML into [run] and [params] tables",
    ("flatbook.config", "parse_set"): "parsing: turns --set KEY=VALUE items into a mapping",
    ("flatbook.config", "check_int"): "parsing: an integer flag (--port) with its range, as one error line",
    ("flatbook.extras", "require"): "error message: names the extra a command needs (pip install 'flatbook[x]')",
    ("flatbook.suggest", "unknown"): "error message: an unknown flag value with 'did you mean …?'",
    ("flatbook.units", "*"): "presentation: number formats and unit labels of the tables",
    ("flatbook.controls.zones", "zone_name"): "presentation: the display name of a quote's zone code",
    ("flatbook.params", "PARAMS"): "presentation: a swept parameter's unit in the sweep table's header",
    ("flatbook.params", "check_stats"): "parsing: --stats, --set run.stats= or [run] stats, as one error line",
    ("flatbook.hedging.schedule_methods", "*"): "presentation: schedule's defaults and choices in --help",
}


def _imports(path: Path) -> list[tuple[str, str, int]]:
    """``(module, name, line)`` for every flatbook import of ``path`` (at any depth), outside
    ``if TYPE_CHECKING:`` blocks (annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "flatbook.cli"
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "flatbook":
                continue
            for a in node.names:
                out.append((mod, a.name, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "flatbook":
                    out.append((a.name, "*", node.lineno))
    return out


def _ok(mod: str, name: str) -> bool:
    if mod == "flatbook":  # from .. import api
        mod = f"flatbook.{name}"
    if mod in ROOT_OK or any(mod == f or mod.startswith(f + ".") for f in FACES):
        return True
    return (mod, name) in ALLOWED or (mod, "*") in ALLOWED


def test_the_reader_sees_the_commands_imports():
    found = {(m, n) for m, n, _ in _imports(CLI / "sim_cmds.py")}
    assert ("flatbook", "api") in found  # guards a silent empty list


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_the_command_line_imports_only_the_faces_and_listed_helpers(path):
    bad = [f"{path.name}:{line}: {mod} import {name}" for mod, name, line in _imports(path) if not _ok(mod, name)]
    assert not bad, "the command line computes through the API (flatbook.api) only:\n" + "\n".join(bad)


def test_every_allowed_helper_is_still_used():
    used = {(m, n) for p in CLI.glob("*.py") for m, n, _ in _imports(p)}
    used |= {(m, "*") for m, _ in used}
    stale = [k for k in ALLOWED if k not in used]
    assert not stale, f"no longer imported by the command line; drop from ALLOWED: {stale}"


# --------------------------------------------------------------------------- same numbers

runner = CliRunner()
LOBSTER = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
BOOK = str(SRC.parents[1] / "examples" / "books" / "two_stocks.toml")


def cli_json(*args: str) -> dict:
    r = runner.invoke(cli_app.app, [*args, "--json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def same(cli_obj: dict, res) -> None:
    assert without_timing(cli_obj) == without_timing(json.loads(res.to_json()))
    assert json.loads(res.to_json()) == res.to_dict() or without_timing(res.to_dict()) == without_timing(cli_obj)


@pytest.mark.parametrize(
    "args, call",
    [
        (
            ("simulate", "--policy", "glft", "--paths", "300", "--seed", "4", "--set", "gamma=0.2"),
            lambda: flatbook.simulate(policy="glft", paths=300, seed=4, gamma=0.2),
        ),
        (
            ("compare", "--policy", "avellaneda-stoikov", "--policy", "glft", "--paths", "300"),
            lambda: flatbook.compare(["avellaneda-stoikov", "glft"], paths=300),
        ),
        (
            ("quote", "--q", "-3", "--mid", "101", "--t", "0.25", "--policy", "stoll"),
            lambda: flatbook.quote(-3, mid=101, t=0.25, policy="stoll"),
        ),
        (
            ("schedule", "--method", "vwap", "--participation", "0.5", "--market-volume", "1e7"),
            lambda: flatbook.schedule("vwap", participation=0.5, market_volume=1e7),
        ),
        (("risk", "--config", BOOK, "--mc-scenarios", "2000"), lambda: flatbook.risk(BOOK, mc_scenarios=2000)),
        (("stress", "--config", BOOK), lambda: flatbook.stress(BOOK)),
        (
            ("hedge-frontier", "--thresholds", "1,4,inf", "--paths", "200"),
            lambda: flatbook.hedge_frontier([1, 4, math.inf], paths=200),
        ),
        (
            ("multi", "--paths", "200", "--correlation", "0.3", "--own-skew"),
            lambda: flatbook.multi(paths=200, correlation=0.3, portfolio_skew=False),
        ),
    ],
    ids=lambda x: x[0] if isinstance(x, tuple) else "",
)
def test_cli_json_is_the_api_result(args, call):
    same(cli_json(*args), call())


def test_schedule_frontier_json_is_the_api_result():
    obj = cli_json("schedule", "--frontier", "--risk-aversion", "3e-6")
    assert obj == json.loads(json.dumps(flatbook.schedule(risk_aversion=3e-6).frontier_object()))


def test_data_backtest_and_calibrate_json_are_the_api_results(tmp_path):
    path = str(shared_data(LOBSTER))
    same(cli_json("data", "inspect", path), flatbook.inspect_data(path))
    args = ("--policy", "glft", "--latency-ms", "5", "--set", "gamma=0.05")
    bt = flatbook.backtest(path, "glft", latency_ms=5, gamma=0.05)
    same(cli_json("backtest", path, *args), bt)
    same(cli_json("calibrate", path, "--time-unit-s", "60"), flatbook.calibrate(path, time_unit_s=60))
    # --inventory: the backtest's saved inventory path, or its DataFrame, gives the same Stoll γ and OU fit
    inv = next(p for p in bt.save(tmp_path / "bt") if p.name == "inventory.parquet")
    cal = flatbook.calibrate(path, inventory=inv)
    same(cli_json("calibrate", path, "--inventory", str(inv)), cal)
    assert without_timing(flatbook.calibrate(path, inventory=bt.to_pandas().inventory).to_dict()) == without_timing(
        cal.to_dict()
    )
    assert "stoll" in cal.to_dict() and cal.to_dict()["inventory_ou"] is not None


def test_sweep_json_is_the_api_result_in_process():
    obj = cli_json("sweep", "--grid", "skew=0,0.05", "--policy", "linear-skew", "--paths", "100", "--workers", "1")
    res = flatbook.sweep(["skew=0,0.05"], policy="linear-skew", paths=100)  # in this process
    api = json.loads(res.to_json())
    assert obj["run"]["points"] == api["run"]["points"] == 2
    strip = lambda d: {k: v for k, v in d.items() if k != "run"}  # noqa: E731  (tasks and cluster differ)
    assert without_timing(strip(obj)) == without_timing(strip(api))


# --------------------------------------------------------------------------- same files


def same_files(a: Path, b: Path) -> None:
    """The same file names in ``a`` and ``b`` and the same contents, outside the wall-clock fields."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for pa in sorted(a.iterdir()):
        pb = b / pa.name
        if pa.suffix == ".json":
            assert without_timing(json.loads(pa.read_text())) == without_timing(json.loads(pb.read_text()))
        elif pa.suffix == ".parquet":
            da, db = (pd.read_parquet(p).drop(columns=["timing"], errors="ignore") for p in (pa, pb))
            pd.testing.assert_frame_equal(da, db, check_exact=True)
        else:
            assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_save_writes_the_files_of_out_and_report_the_html_of_report(tmp_path):
    r = runner.invoke(
        cli_app.app,
        ["compare", "--policy", "symmetric", "--policy", "glft", "--paths", "200", "--out", str(tmp_path / "cli")],
    )
    assert r.exit_code == 0, r.stderr
    res = flatbook.compare(["symmetric", "glft"], paths=200)
    written = res.save(tmp_path / "api")
    assert sorted(p.name for p in written) == sorted(p.name for p in (tmp_path / "cli").iterdir())
    same_files(tmp_path / "api", tmp_path / "cli")
    # the report: the same HTML as a report rebuilt from the saved directory (rendering is deterministic)
    html = res.report(tmp_path / "r" / "api.html")
    rebuilt = flatbook.rebuild_report(tmp_path / "api", tmp_path / "r" / "rebuilt.html")
    assert html.read_text() == rebuilt.read_text()


def test_errors_about_the_written_files_name_the_api_keywords(tmp_path):
    res = flatbook.quote(1.0)
    assert not hasattr(res, "save") and not hasattr(res, "report")  # a quote has no --out and no --report
    book = flatbook.risk(SRC.parents[1] / "examples" / "books" / "two_stocks.toml")
    assert hasattr(book, "save") and not hasattr(book, "report")  # risk: its --json and tables, no HTML report
    sim = flatbook.simulate(paths=50)
    (tmp_path / "f").write_text("")
    with pytest.raises(flatbook.InputError) as e:
        sim.save(tmp_path / "f")
    assert e.value.field == "dir"
    with pytest.raises(flatbook.InputError) as e:
        sim.report(tmp_path / "x.txt")
    assert e.value.field == "path"


def test_results_without_out_save_their_json_and_frames(tmp_path):
    res = flatbook.risk(BOOK, mc_scenarios=1000)
    written = sorted(p.name for p in res.save(tmp_path / "risk"))
    assert written == ["contributions.parquet", "positions.parquet", "summary.json", "var.parquet"]
    assert json.loads((tmp_path / "risk" / "summary.json").read_text()) == json.loads(res.to_json())
    sched = flatbook.schedule("twap")
    assert sorted(p.name for p in sched.save(tmp_path / "s")) == ["schedule.parquet", "summary.json"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s" / "schedule.parquet"), sched.to_pandas())


@pytest.mark.parametrize(("kind", "section"), [("run", "controls"), ("live", "feed"), ("book", "instruments")])
def test_params_schema_is_the_api_schema(kind, section):
    """``flatbook params --schema KIND`` prints flatbook.config_schema(KIND): a JSON schema with the file's tables."""
    r = CliRunner().invoke(cli_app.app, ["params", "--schema", kind])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got == json.loads(json.dumps(flatbook.config_schema(kind)))
    assert section in got["properties"]


def test_params_schema_bad_kind_names_the_flag():
    r = CliRunner().invoke(cli_app.app, ["params", "--schema", "runn"])
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("error: --schema:") and "did you mean run?" in r.stderr
