"""Tests of the HTML report (flatbook.report.html): ``--report`` on simulate, compare and
backtest, and ``flatbook report RESULTS_DIR``."""

from __future__ import annotations

import html as htmllib
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import shared_data
from flatbook.cli import root as cli_app
from flatbook.errors import InputError
from flatbook.report import html as report_html

runner = CliRunner()
ZONES = ("--set", "limit=8", "--set", "yellow=2", "--set", "red=4", "--set", "critical=6")
POLICIES = ("symmetric", "linear-skew", "glft")


def cli(*args: str):
    return runner.invoke(cli_app.app, [str(a) for a in args])


class _Attrs(HTMLParser):
    """Every element's attributes, and the script elements (script/style bodies are not parsed as HTML)."""

    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[dict] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "script":
            self._script = {**dict(attrs), "text": ""}

    def handle_data(self, data):
        if self._script is not None:
            self._script["text"] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None


def parse(text: str) -> _Attrs:
    p = _Attrs()
    p.feed(text)
    p.close()
    return p


def data_block(text: str) -> dict:
    blocks = [s for s in parse(text).scripts if s.get("id") == report_html.DATA_ID]
    assert len(blocks) == 1
    assert blocks[0].get("type") == "application/json"
    return json.loads(blocks[0]["text"])


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


# --------------------------------------------------------------------------- runs (one each, shared)


def _run(tmp: Path, *args: str) -> dict:
    rep, out = tmp / "report.html", tmp / "out"
    r = cli(*args, "--json", "--report", rep, "--out", out)
    assert r.exit_code == 0, r.stderr
    return {"json": json.loads(r.stdout), "html": rep.read_text(encoding="utf-8"), "out": out, "tmp": tmp}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return _run(
        tmp_path_factory.mktemp("sim"), "simulate", "--paths", "200", "--seed", "3", "--policy", "linear-skew", *ZONES
    )


@pytest.fixture(scope="module")
def comp(tmp_path_factory):
    return _run(
        tmp_path_factory.mktemp("compare"),
        "compare",
        *(x for p in POLICIES for x in ("--policy", p)),
        "--paths",
        "200",
        "--seed",
        "5",
        *ZONES,
    )


@pytest.fixture(scope="module")
def bt(tmp_path_factory):
    return _run(
        tmp_path_factory.mktemp("backtest"),
        "backtest",
        shared_data("binance/usdm_btcusdt_20240808.gz"),
        "--policy",
        "linear-skew",
        "--set",
        "size=0.01",
        "--set",
        "limit=0.1",
        "--set",
        "half_spread=1",
        "--set",
        "skew=20",
        "--set",
        "yellow=0.05",
        "--latency-ms",
        "5",
    )


@pytest.fixture(params=["sim", "comp", "bt"])
def run(request):
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- self-contained

URL_ATTRS = {"src", "href", "data", "action", "poster", "srcset", "xlink:href"}


def test_no_network_sources(run):
    text = run["html"]
    p = parse(text)
    for tag, k, v in p.attrs:
        if k in URL_ATTRS:
            assert not re.match(r"\s*(https?:)?//", v, re.I), (tag, k, v)
    assert not any("src" in s for s in p.scripts)  # every script is inline
    assert not [a for a in p.attrs if a[0] == "link"]  # no external stylesheet or font
    # outside the embedded plotly.js, no http(s) URL in any src/href at all (regex)
    rest = text.replace(plotly_js(), "")
    assert not re.search(r"""(?:src|href)\s*=\s*\\?["']?\s*(?:https?:)?//""", rest, re.I)
    assert "cdn.plot.ly" not in rest and "mathjax" not in rest.lower()


def test_plotly_js_inline_exactly_once(run):
    text = run["html"]
    js = plotly_js()
    assert text.count(js) == 1
    assert text.count(js[:120]) == 1  # the version banner too
    inline = [s for s in parse(text).scripts if js[:120] in s["text"]]
    assert len(inline) == 1 and "src" not in inline[0]
    assert text.count("Plotly.newPlot(") >= 2  # several charts share it


# --------------------------------------------------------------------------- content


def _numbers_in_tables(text: str, values: dict) -> None:
    """Every number of ``values`` is shown in a table cell whose title holds its exact value."""
    for k, v in values.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            assert f'title="{htmllib.escape(repr(v))}"' in text, k


def test_simulate_report_matches_json(sim):
    block = data_block(sim["html"])
    d = sim["json"]
    assert block["kind"] == "simulate" and block["policies"] == ["linear-skew"]
    assert block["result"] == d  # config and summary, every number
    _numbers_in_tables(sim["html"], {k: v for k, v in d.items() if k != "config"})
    shown, _ = report_html._shown_params(report_html.load_dir(sim["out"]))
    _numbers_in_tables(sim["html"], {k: d["config"]["params"][k] for k in shown})
    for k in ("sigma", "A", "k", "half_spread", "skew", "limit", "yellow", "red", "critical"):
        assert k in shown, k  # read by the run or set away from the default
    assert "hedge_eta" not in shown and "option_strike" not in shown  # neither used nor changed
    for k in ("preset", "paths", "seed", "steps"):
        assert k in d["config"]
    text = sim["html"]
    for section in ("summary", "panels", "zones", "attribution"):
        assert f'<section id="{section}">' in text
    assert text.index('<section id="summary">') < text.index('<details id="config">')  # results first, then
    assert '<details id="config" open' not in text  # parameters, collapsed
    for label in (
        "price (price units)",
        "inventory q (lots)",
        "PnL (price units × lots)",
        "hard limit ±8 lots",
        "yellow zone ±2 lots",
        "red zone ±4 lots",
        "critical zone ±6 lots",
        "number of paths",
        "per √time unit",
    ):  # units on axes, limits drawn, param units
        assert label in text, label


def test_compare_report_names_every_policy(comp):
    text = comp["html"]
    block = data_block(text)
    assert block["kind"] == "compare" and block["policies"] == list(POLICIES)
    assert block["result"] == comp["json"]
    for name in POLICIES:
        _numbers_in_tables(text, comp["json"]["policies"][name])
        assert f"<th>{name}</th>" in text  # comparison table column
        for trace in (f"{name} bid", f"{name} ask"):
            assert f'"name":"{trace}"' in text, trace  # overlaid in the six panels
        assert text.count(f'"name":"{name}"') >= 4  # inventory, spread, PnL, histogram (colour = policy)
    assert '<section id="compare">' in text and '<section id="attribution">' in text


def test_backtest_report(bt):
    text = bt["html"]
    block = data_block(text)
    assert block["kind"] == "backtest" and block["result"] == bt["json"]
    _numbers_in_tables(text, {k: v for k, v in bt["json"].items() if k not in ("config", "data", "options")})
    for label in (
        "time (s)",
        "price (USDT)",
        "inventory q (BTC)",
        "PnL (USDT)",
        "our buys (at bid)",
        "our sells (at ask)",
        "USDT per BTC",
        '<section id="markouts">',
        '<section id="zones">',
    ):
        assert label in text, label


def test_zone_timeline_only_when_zones(tmp_path):
    rep = tmp_path / "r.html"
    r = cli("simulate", "--paths", "50", "--report", rep)  # --report alone, no --out
    assert r.exit_code == 0, r.stderr
    assert f"wrote {rep}" in r.stdout
    text = rep.read_text(encoding="utf-8")
    assert '<section id="panels">' in text and '<section id="zones">' not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


# --------------------------------------------------------------------------- rebuilding from --out


def test_report_from_dir_rebuilds_the_same_report(run):
    out = run["out"]
    r = cli("report", out)
    assert r.exit_code == 0, r.stderr
    rebuilt = (out / "report.html").read_text(encoding="utf-8")
    assert data_block(rebuilt) == data_block(run["html"])
    assert rebuilt == run["html"]  # same rendering from the same data
    other = run["tmp"] / "elsewhere" / "again.html"
    r = cli("report", out, "--out", other)
    assert r.exit_code == 0, r.stderr
    assert other.read_text(encoding="utf-8") == rebuilt


# --------------------------------------------------------------------------- bad input


def _one_line_error(r, field: str) -> None:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), r.stderr


@pytest.mark.parametrize("bad", ["report.txt", "report", "afile/r.html", "adir.html", " "])
def test_bad_report_path_exits_2_and_writes_nothing(tmp_path, bad):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir.html").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    target = bad if bad.strip() == "" else tmp_path / bad
    for args in (("simulate", "--paths", "10"), ("compare", "--policy", "symmetric", "--paths", "10")):
        r = cli(*args, "--report", target, "--out", tmp_path / "out")
        _one_line_error(r, "--report")
    _one_line_error(cli("backtest", shared_data("binance/usdm_btcusdt_20240808.gz"), "--report", target), "--report")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_bad_results_dir_exits_2_and_writes_nothing(tmp_path, sim):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("summary.json", "series.parquet", "per_path.parquet"):
        (broken / name).write_bytes((sim["out"] / name).read_bytes())
    (broken / "series.parquet").write_bytes(b"not parquet")
    badjson = tmp_path / "badjson"
    badjson.mkdir()
    for name in ("summary.json", "series.parquet", "per_path.parquet"):
        (badjson / name).write_bytes((sim["out"] / name).read_bytes())
    (badjson / "summary.json").write_text("{oops")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for d in ("missing", "afile", "empty", "broken", "badjson"):
        _one_line_error(cli("report", tmp_path / d), "RESULTS_DIR")
    _one_line_error(cli("report", sim["out"], "--out", tmp_path / "r.txt"), "--out")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_write_report_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "new" / "deeper" / "r.html"
    assert report_html.write_report(target, "<p>one</p>") == target
    assert target.read_text() == "<p>one</p>"

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_html.os, "replace", fail)
    with pytest.raises(InputError, match="--report: cannot write"):
        report_html.write_report(target, "<p>two</p>")
    assert target.read_text() == "<p>one</p>"  # old file untouched
    assert os.listdir(target.parent) == ["r.html"]  # no temporary file left
    with pytest.raises(InputError):
        report_html.write_report(tmp_path / "other" / "x.html", "<p>three</p>")
    assert not (tmp_path / "other").exists()  # created directories removed again
