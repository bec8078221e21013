"""``multi --report`` and the spot–perp basis example (issue 13, section 3: multi takes --report like
every other command; section 1.4: the basis as an OU process, fitted on the two Binance captures).

The multi report is checked as a user sees it: rendered in headless Chromium, no legend box over a
plot area, another legend or axis text (the checks of test_trust_figures.py), results before the
collapsed configuration, the instruments' final inventories on shared bins, and only the
parameters the multi-instrument simulator reads. Browser checks wait for conditions, never time.
"""

from __future__ import annotations

import json
import math
import re
import runpy

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REPO, shared_data
from flatbook.cli import root as cli_app
from flatbook.report.html import DATA_ID
from test_report import parse, plotly_js
from test_trust_cli import one_error_line
from test_trust_figures import READY_JS, _page_defects

runner = CliRunner()
PATHS = 600


def cli(*args) -> object:
    return runner.invoke(cli_app.app, [str(a) for a in args])


def data_block(text: str) -> dict:
    raw = re.search(rf'<script type="application/json" id="{DATA_ID}">\n(.*?)\n</script>', text, re.S).group(1)
    return json.loads(raw)


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("multi-report")
    rep, out = tmp / "m.html", tmp / "o"
    r = cli(
        "multi", "--paths", PATHS, "--set", "B.sigma=2.5", "--set", "yellow=4", "--out", out, "--report", rep, "--json"
    )
    assert r.exit_code == 0, r.stderr
    return {"tmp": tmp, "report": rep, "out": out, "obj": json.loads(r.stdout)}


def test_multi_report_is_written_with_the_runs_numbers(multi_run):
    text = multi_run["report"].read_text(encoding="utf-8")
    obj = multi_run["obj"]
    block = data_block(text)
    assert block["kind"] == "multi" and block["result"] == obj  # the --json object, verbatim
    assert obj["config"]["preset"] == "multi-asset"
    # self-contained: plotly.js inline once, nothing loaded from the network
    assert text.count(plotly_js()) == 1 and not any("src" in s for s in parse(text).scripts)
    rest = text.replace(plotly_js(), "")
    assert not re.search(r"""(?:src|href)\s*=\s*\\?["']?\s*(?:https?:)?//""", rest, re.I)
    assert "cdn.plot.ly" not in rest and "mathjax" not in rest.lower()
    summary = re.search(r'<section id="summary">(.*?)</section>', text, re.S).group(1)
    for key in ("pnl_mean", "pnl_std", "var_95", "es_95", "final_q_corr"):
        cell = re.search(rf"<td>{key}</td><td class=\"num\" title=\"([^\"]+)\">", summary).group(1)
        assert float(cell) == obj[key], key  # the exact value on hover
    for name in ("A", "B"):
        assert f"<td>{name}</td><td>avellaneda-stoikov</td>" in summary
    # the units of what a user reads
    assert "price units × lots" in summary and "lots" in summary and "(price units × lots)² per time unit" in summary


def test_multi_config_lists_what_the_run_read_and_what_differs(multi_run):
    text = multi_run["report"].read_text(encoding="utf-8")
    cfg = re.search(r'<details id="config">(.*?)</details>', text, re.S).group(1)
    tables = dict(re.findall(r"<h3>Instrument (\w+):.*?</h3>\s*(<table class=\"params\">.*?</table>)", cfg, re.S))
    assert set(tables) == {"A", "B"}
    for name, table in tables.items():
        rows = dict(
            re.findall(r"<tr><td( class=\"changed\")?>([^<]+)</td>", table)[i][::-1]
            for i in range(len(re.findall(r"<tr><td", table)))
        )
        # the Gaussian multi kernel reads no mid_model, jumps, hedging or costs: none is listed
        for unread in ("mid_model", "jump_rate", "hedge_trigger", "fee_maker", "half_spread"):
            assert unread not in rows, (name, unread)
        assert {"sigma", "s0", "A", "k", "gamma", "limit", "yellow"} <= set(rows), name
        assert rows["yellow"] == ' class="changed"'  # set by the user: bold
        assert rows["sigma"] == (' class="changed"' if name == "B" else "")  # B.sigma=2.5 against 3 in the preset


def test_multi_report_rebuilt_from_out_dir_is_identical(multi_run):
    r = cli("report", multi_run["out"])
    assert r.exit_code == 0, r.stderr
    assert (multi_run["out"] / "report.html").read_bytes() == multi_run["report"].read_bytes()


def test_report_dir_with_a_foreign_summary_exits_2(tmp_path):
    """A directory with summary.json + per_path.parquet that is not a multi run: one line, exit 2."""
    (tmp_path / "summary.json").write_text('{"config": {"params": {}}}')
    pd.DataFrame({"pnl": [1.0]}).to_parquet(tmp_path / "per_path.parquet")
    line = one_error_line(cli("report", tmp_path), "RESULTS_DIR")
    assert "not a multi summary" in line and "(multi)" in line
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("width", [1100, 1400])
def test_multi_report_renders_results_first_without_overlaps(multi_run, width):
    from browser_util import By, chromium, wait_for

    with chromium() as drv:
        drv.set_window_size(width, 1600)
        drv.get(multi_run["report"].as_uri())
        wait_for(drv, lambda d: d.execute_script(READY_JS), "the plotly charts of the multi report")
        assert _page_defects(drv) == []
        ids = [e.get_attribute("id") for e in drv.find_elements(By.CSS_SELECTOR, "body > section, body > details")]
        assert ids == ["summary", "distributions", "paired", "config"], ids  # results first, config last
        details = drv.find_element(By.ID, "config")
        assert details.tag_name == "details" and details.get_attribute("open") is None  # collapsed
        assert not any(t.is_displayed() for t in drv.find_elements(By.CSS_SELECTOR, "table.params"))
        # the instruments' final inventories share their bins; each histogram counts every path
        traces = drv.execute_script(
            "return document.getElementById('fb-multi-hist')._fullData"
            ".map(t => [t.name, t.type, Array.from(t.x), Array.from(t.y)]);"
        )
        outlines = {name: (np.array(x, float), np.array(y, float)) for name, kind, x, y in traces if name in ("A", "B")}
        np.testing.assert_array_equal(outlines["A"][0], outlines["B"][0])
        per_path = pd.read_parquet(multi_run["out"] / "per_path.parquet")
        for name, (x, y) in outlines.items():
            # bar i is the segment (x[2i+1], y[2i+1]) → (x[2i+2], y[2i+2]): one bar per lot level, its height
            # the number of paths ending there (before, each outline was drawn one bin to the right)
            left, right, h = x[1:-1:2], x[2::2], y[1:-1:2]
            np.testing.assert_array_equal(y[1:-1:2], y[2:-1:2])
            levels, counts = np.unique(per_path[f"{name}.final_q"], return_counts=True)
            np.testing.assert_allclose(right - left, 1.0)  # contiguous bins of 1 lot
            got = dict(zip(np.round(0.5 * (left + right), 9), h))
            want = dict(zip(levels, counts.astype(float)))
            assert {lv: want.get(lv, 0.0) for lv in got} == got, name  # empty levels inside the range at 0
            assert h.sum() == PATHS
        (bars,) = [np.array(y, float) for name, kind, x, y in traces if kind == "bar"]
        assert bars.sum() == PATHS


@pytest.mark.parametrize("bad", ["report.txt", "afile/r.html", "adir.html", " "])
def test_bad_report_path_exits_2_before_any_work(tmp_path, monkeypatch, bad):
    from flatbook.multi import simulator as MS

    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir.html").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())

    def no_work(*a, **k):
        raise AssertionError("simulated before checking --report")

    monkeypatch.setattr(MS, "simulate_multi", no_work)
    target = bad if not bad.strip() else str(tmp_path / bad)
    one_error_line(cli("multi", "--paths", "64", "--out", tmp_path / "o", "--report", target), "--report")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no --out dir, no report


@pytest.mark.parametrize(
    "args,field",
    [
        (["--set", "jump_rate=2"], "jump_rate"),
        (["--set", "B.hedge_trigger=threshold"], "B.hedge_trigger"),
        (["--set", "A.half_spread=1"], "A.half_spread"),  # linear-skew's parameter; both instruments run A–S
    ],
)
def test_multi_refuses_a_parameter_it_would_ignore(tmp_path, args, field):
    """Before, ``multi --set jump_rate=2`` ran without jumps and said nothing."""
    line = one_error_line(cli("multi", "--paths", "64", *args, "--report", tmp_path / "r.html"), field)
    assert "does not read" in line
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the basis example


def test_basis_example_prints_the_ou_fit_and_a_working_set_line(capsys):
    """examples/basis_spot_perp.py on the two 2024-08-08 captures prints the OU half-life and σ_b
    with standard errors and units, and a --set line that `simulate --preset hedging` accepts."""
    from flatbook.data.load import load
    from flatbook.hedging.basis import estimate_basis, estimate_basis_ou

    spot, perp = shared_data("binance/spot_btcusdt_20240808.gz"), shared_data("binance/usdm_btcusdt_20240808.gz")
    main = runpy.run_path(str(REPO / "examples" / "basis_spot_perp.py"))["main"]
    assert main(["--inventory", str(spot), "--hedge", str(perp)]) == 0
    text = capsys.readouterr().out
    s_ev, h_ev = load(spot), load(perp)
    ou, est = estimate_basis_ou(s_ev, h_ev), estimate_basis(s_ev, h_ev)
    assert re.search(
        rf"half-life ln2/κ\s*│\s*{ou.half_life:.4g}\s*│\s*{ou.half_life_se:.2g}\s*│ time units \(s\)", text
    )
    assert re.search(
        rf"σ_b \(diffusion\)\s*│\s*{ou.sigma:.4g}\s*│\s*{ou.sigma_se:.2g}\s*│ price units \(H\) per √\(s\)", text
    )
    line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("flatbook simulate --preset hedging"))
    sets = dict(kv.split("=", 1) for kv in re.findall(r"--set (\S+)", line))
    assert float(sets["hedge_basis_halflife"]) == pytest.approx(ou.half_life, rel=1e-7)
    assert float(sets["hedge_basis_sigma"]) == pytest.approx(ou.sigma, rel=1e-7)
    # the OU reverts to its start, hedge_s0 − β·s0: the start is the fitted level b̄
    assert float(sets["hedge_s0"]) - float(sets["hedge_beta"]) * float(sets["s0"]) == pytest.approx(ou.mean, abs=1e-3)
    assert float(sets["s0"]) == pytest.approx(est.params["s0"], rel=1e-7)
    assert math.isfinite(ou.half_life) and 0 < ou.half_life < 10  # seconds: the basis mean-reverts fast
    r = cli(*line.split()[1:], "--paths", "64", "--json")
    assert r.exit_code == 0, r.stderr
    params = json.loads(r.stdout)["config"]["params"]
    assert params["hedge_basis_halflife"] == pytest.approx(ou.half_life, rel=1e-7)
