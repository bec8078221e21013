"""Figures and reports say what they show (issue 13, section 2).

Renders every figure the project writes (six-panel PNG, hedge frontier PNG) and the HTML
reports of simulate, compare and backtest, and checks what a check can see:

- no legend box overlaps another legend, another panel's plot area or an axis' tick labels
  (matplotlib: the legend's window extent; HTML: the rendered page in headless Chromium);
- tick labels have at most 8 significant characters (a constant drawn as float noise had
  13-digit labels, 1.3424876388745), and a flat series is drawn flat;
- quotes that hide behind the mid get their own depth axis;
- frontier labels do not overlap;
- the HTML reports put results first and the parameters last, collapsed; a backtest report
  lists no simulator-only parameter and does not call its replay "sample path 0".

Browser checks wait for conditions (WebDriverWait), never fixed sleeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import cfg, run, shared_data
from flatbook.cli import root as cli_app
from flatbook.report.figure_rules import MIN_REL_SPAN
from flatbook.report.hedge_frontier import hedge_frontier_figure
from flatbook.report.html import REPLAY_PARAMS, simulate_report, write_report
from flatbook.report.six_panel import six_panel_figure
from flatbook.sim.simulator import simulate

MAX_SIG_CHARS = 8
SIM_ONLY = ("sigma", "A", "mid_model", "flow", "jump_rate", "hedge_eta", "s0")  # a replay reads none of these


def significant(label: str) -> int:
    """Significant characters of a tick label: its digits without leading zeros or an exponent."""
    mant = re.split(r"[eE×]", label.replace("−", "-").replace(",", ""))[0]
    digits = re.sub(r"\D", "", mant).lstrip("0")
    return len(digits)


# --------------------------------------------------------------------------- matplotlib figures


def series(n: int = 400, spread: float | None = None, price: float = 100.0, vol: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    mid = price + np.cumsum(rng.normal(0.0, vol, n))
    q = np.cumsum(rng.choice([-1.0, 0.0, 1.0], n))
    h = (0.1 + 0.01 * np.abs(q)) if spread is None else np.full(n, spread / 2)
    return {
        "t": np.arange(n) * 0.01,
        "mid": mid,
        "bid": mid - h,
        "ask": mid + h,
        "q": q,
        "pnl": np.cumsum(rng.normal(0.01, 0.1, n)),
    }


def legend_defects(fig) -> list[str]:
    """Legends that leave their axes or overlap another axes, another legend or any tick label."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    out = []
    for ax in axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        box = leg.get_window_extent(r)
        if not ax.get_window_extent(r).contains(box.x0 + 1, box.y0 + 1) or not ax.get_window_extent(r).contains(
            box.x1 - 1, box.y1 - 1
        ):
            out.append(f"legend of {ax.get_title()!r} leaves its axes")
        for other in axes:
            if other is ax:
                continue
            if box.overlaps(other.get_window_extent(r)):
                out.append(f"legend of {ax.get_title()!r} overlaps axes {other.get_title()!r}")
            leg2 = other.get_legend()
            if leg2 is not None and box.overlaps(leg2.get_window_extent(r)):
                out.append(f"legends of {ax.get_title()!r} and {other.get_title()!r} overlap")
            for lab in other.get_yticklabels() + other.get_xticklabels():
                if lab.get_visible() and lab.get_text() and box.overlaps(lab.get_window_extent(r)):
                    out.append(f"legend of {ax.get_title()!r} covers a tick label of {other.get_title()!r}")
    return out


def long_tick_labels(fig) -> list[str]:
    fig.canvas.draw()
    labels = [lab.get_text() for ax in fig.get_axes() for lab in ax.get_yticklabels() + ax.get_xticklabels()]
    return [lab for lab in labels if significant(lab) > MAX_SIG_CHARS]


def test_constant_spread_drawn_flat_with_short_tick_labels():
    """The demo's GLFT spread (as2008, path 0) is 1.3424876388735 give or take float noise. Before,
    the axis zoomed into the noise and printed 13-digit labels (1.3424876388720, …); now the axis
    spans at least MIN_REL_SPAN of the value and every label has at most 8 significant characters."""
    s = run("as2008", "glft", paths=20, seed=0, record=(0,)).path_series(0)
    spread = s["ask"] - s["bid"]
    assert 0 < np.ptp(spread[np.isfinite(spread)]) < 1e-12  # a constant, up to float noise
    fig = six_panel_figure({k: s[k] for k in ("t", "mid", "bid", "ask", "q", "pnl")})
    assert long_tick_labels(fig) == []
    for role in ("spread", "stoll"):
        lo, hi = fig.flatbook_axes[role].get_ylim()
        assert hi - lo >= MIN_REL_SPAN * np.nanmean(spread) * (1 - 1e-9)
    assert legend_defects(fig) == []


@pytest.mark.parametrize("kind", ["sim", "btc"])
def test_six_panel_legends_and_ticks(kind):
    s = series() if kind == "sim" else series(n=5000, spread=0.3, price=61800.0, vol=2.0)
    fig = six_panel_figure(
        s, limit=40.0, zones=(10.0, 20.0, 30.0), price_unit="USDT" if kind == "btc" else "price units"
    )
    assert legend_defects(fig) == []
    assert long_tick_labels(fig) == []
    # quotes 0.3 wide on a mid that moves by hundreds hide behind the mid: a depth axis shows them
    assert (fig.flatbook_axes["depth"] is not None) == (kind == "btc")


def test_histogram_not_stretched_to_a_far_limit():
    """Final inventory within ±0.06 and a hard limit of 1 (the hedging preset): the axis stays
    on the data (the bars were needles); the limit is named in the legend as off axis."""
    s = series()
    fig = six_panel_figure(s, limit=1000.0, q_hist=np.random.default_rng(0).normal(0.0, 0.02, 2000))
    ax = fig.flatbook_axes["hist"]
    lo, hi = ax.get_xlim()
    assert hi - lo < 1.0
    assert any("off axis" in t.get_text() for t in ax.get_legend().get_texts())


def test_hedge_frontier_labels_do_not_overlap():
    """The README's frontier: thresholds 4 and inf (no hedge) land on the same point (4 lots never
    triggers); their labels overlapped. Now coincident points share one label and no two labels
    overlap."""
    rows = [
        {"threshold": thr, "residual_risk": rr, "hedge_cost": hc}
        for thr, rr, hc in (
            (0.5, 5.862, 7.04),
            (1.0, 6.330, 2.25),
            (2.0, 6.413, 0.57),
            (4.0, 6.380, 0.0),
            (float("inf"), 6.381, 0.0),
        )
    ]
    fig = hedge_frontier_figure(rows, title="t", pnl_unit="price units × lots")
    r = fig.canvas.get_renderer()
    (ax,) = fig.get_axes()
    texts = ax.texts
    boxes = [t.get_window_extent(r) for t in texts]
    assert sorted(t.get_text() for t in texts) == ["0.5", "1", "2", "4, no hedge"]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    ax_box = ax.get_window_extent(r)
    assert all(ax_box.x0 <= b.x0 and b.x1 <= ax_box.x1 and ax_box.y0 <= b.y0 and b.y1 <= ax_box.y1 for b in boxes)
    assert long_tick_labels(fig) == []


# --------------------------------------------------------------------------- HTML reports in Chromium

runner = CliRunner()


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("trust-reports")
    out = {}
    pols = ("symmetric", "linear-skew", "avellaneda-stoikov", "glft")
    res = [simulate(cfg("as2008", p, paths=300, seed=0), record_paths=(0,)) for p in pols]
    out["compare"] = write_report(tmp / "compare.html", simulate_report(res, compare=True))
    hedging = simulate(cfg("hedging", "linear-skew", paths=200, seed=0), record_paths=(0,))
    out["hedging"] = write_report(tmp / "hedging.html", simulate_report([hedging], compare=False))
    rep = tmp / "backtest.html"
    r = runner.invoke(
        cli_app.app, ["backtest", str(shared_data("binance/usdm_btcusdt_20240808.gz")), "--report", str(rep), "--json"]
    )
    assert r.exit_code == 0, r.stderr
    out["backtest"] = rep
    out["backtest_json"] = json.loads(r.stdout)
    return out


RECTS_JS = """
const rect = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const out = [];
for (const div of document.querySelectorAll('.js-plotly-plot')) {
  out.push({
    id: div.id,
    legends: Array.from(div.querySelectorAll('g.legend')).map(g => rect(g.querySelector('rect.bg') || g)),
    plots: Array.from(div.querySelectorAll('rect.nsewdrag')).map(rect),
    ticks: Array.from(div.querySelectorAll('g.xtick text, g.ytick text')).map(t => [t.textContent, ...rect(t)]),
    titles: Array.from(div.querySelectorAll('.infolayer g[class^="g-x"] text, .infolayer g[class^="g-y"] text, '
                                            + 'g.annotation text'))
      .map(t => [t.textContent, ...rect(t)]),
    annotations: Array.from(div.querySelectorAll('g.annotation text')).map(t => [t.textContent, ...rect(t)]),
  });
}
return out;
"""
READY_JS = """
const divs = Array.from(document.querySelectorAll('.js-plotly-plot'));
return divs.length > 0 && divs.every(d => d._fullLayout && d.querySelector('.main-svg g.legend, .main-svg .cartesianlayer'));
"""


def _overlap(a, b, pad: float = 0.5) -> bool:
    return a[0] < b[2] - pad and b[0] < a[2] - pad and a[1] < b[3] - pad and b[1] < a[3] - pad


def _page_defects(drv) -> list[str]:
    out = []
    for fig in drv.execute_script(RECTS_JS):
        legends, plots = fig["legends"], fig["plots"]
        for i, leg in enumerate(legends):
            if leg[2] - leg[0] < 1:
                continue
            for p in plots:
                if _overlap(leg, p):
                    out.append(f"{fig['id']}: legend {i} {leg} overlaps plot area {p}")
            for j, other in enumerate(legends[i + 1 :], start=i + 1):
                if _overlap(leg, other):
                    out.append(f"{fig['id']}: legends {i} and {j} overlap")
            for text, *box in fig["ticks"] + fig["titles"]:
                if _overlap(leg, box):
                    out.append(f"{fig['id']}: legend {i} covers axis text {text!r}")
        out += [
            f"{fig['id']}: tick label {text!r} too long"
            for text, *_ in fig["ticks"]
            if significant(text) > MAX_SIG_CHARS
        ]
        out += [
            f"{fig['id']}: panel title {title!r} runs into tick label {text!r}"
            for title, *a in fig["annotations"]
            for text, *b in fig["ticks"]
            if _overlap(a, b)
        ]
    return out


@pytest.mark.parametrize("width", [1100, 1400])
def test_html_reports_render_without_overlaps(reports, width):
    from browser_util import By, chromium, wait_for

    with chromium() as drv:
        drv.set_window_size(width, 1600)
        for name in ("compare", "hedging", "backtest"):
            drv.get(reports[name].as_uri())
            wait_for(drv, lambda d: d.execute_script(READY_JS), f"the plotly charts of the {name} report")
            assert _page_defects(drv) == [], name
            ids = [e.get_attribute("id") for e in drv.find_elements(By.CSS_SELECTOR, "body > section, body > details")]
            assert ids.index("summary") < ids.index("panels") < ids.index("config"), ids  # results first
            assert ids[-1] == "config"
            details = drv.find_element(By.ID, "config")
            assert details.tag_name == "details" and details.get_attribute("open") is None  # collapsed
            assert not drv.find_element(By.CSS_SELECTOR, "table.params").is_displayed()


def test_backtest_report_says_what_it_shows(reports):
    text = reports["backtest"].read_text(encoding="utf-8")
    params = re.search(r'<table class="params">(.*?)</table>', text, re.S).group(1)
    rows = re.findall(r"<tr><td[^>]*>([^<]+)</td>", params)
    assert rows and set(rows) <= set(REPLAY_PARAMS) | {"half_spread", "skew", "q_target"}
    for name in SIM_ONLY:
        assert name not in rows, name
    panels = re.search(r'<section id="panels"><h2>(.*?)</h2>', text).group(1)
    assert "sample path" not in panels
    assert "usdm_btcusdt_20240808.gz" in panels and "2024-08-08" in panels and "BTCUSDT" in panels
    assert '"yaxis7"' in text and "from mid (ticks)" in text  # quotes 0.3 USDT wide on 61,800: depth axis
