"""Browser tests of the explainer (``flatbook app``) in real headless Chromium.

The app runs as ``flatbook app --host 127.0.0.1 --port <free port>`` in a subprocess; Selenium
drives Debian's ``chromium`` through ``chromedriver`` (``make browser`` installs both; helpers in
browser_util.py). If either is missing or cannot start, these tests FAIL with a message; they never skip.

The tests wait for conditions, never for time: after every action the page has settled when no
Dash callback is pending and every readout shows what :mod:`flatbook.app.callbacks` computes for
the state the page shows (its policy and slider values), elements found afresh at each poll.
How fast the page updates is measured by ``benchmarks/bench_app.py`` (``make bench``), not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_util import ARTIFACTS, By, Keys, app_server, chromium, text, wait_for
from flatbook.app import callbacks as C
from flatbook.app import explain
from flatbook.app import layout as L

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``flatbook app`` on a free loopback port; yields its base URL."""
    with app_server(tmp_path_factory.mktemp("app") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver; fails (never skips) when either is unusable."""
    with chromium() as drv:
        yield drv


@pytest.fixture
def page(server, browser):
    """The app freshly loaded, with every panel rendered."""
    browser.get(server)
    wait_for(
        browser,
        lambda d: (
            text(d, L.readout_id("bid")) not in ("", "…")
            and text(d, L.path_readout_id("maxq", "on")) not in ("", "…")
            and len(d.find_elements(By.CSS_SELECTOR, f"#{L.QUOTE_GRAPH_ID} .main-svg")) > 0
            and len(d.find_elements(By.CSS_SELECTOR, f"#{L.PATH_GRAPH_ID} .main-svg")) > 0
        ),
        "the page to render",
    )
    idle(browser)
    return browser


# --------------------------------------------------------------------------- helpers


def number(drv, elem_id: str) -> float:
    return float(text(drv, elem_id).rstrip("%"))


def page_state(drv) -> tuple[str, dict]:
    """(policy, slider values) as the page shows them (elements found afresh)."""
    policy = drv.find_element(By.CSS_SELECTOR, f"#{L.POLICY_ID} input:checked").get_attribute("value")
    vals = {
        s.key: float(drv.find_element(By.CSS_SELECTOR, f"#{s.id} [role=slider]").get_attribute("aria-valuenow"))
        for s in L.SLIDERS
    }
    return policy, vals


def expected_texts(policy: str, vals: dict) -> dict[str, str]:
    """Element id → text the callbacks give for this state: quote readouts, path readouts and headers."""
    q = C.quote_readouts(policy, vals)["text"]
    p = C.path_readouts(policy, {k: vals[k] for k in L.PATH_KEYS})
    want = {L.readout_id(n): q[n] for n in L.QUOTE_READOUTS}
    want.update({L.path_readout_id(m, s): p[m][s] for m in L.PATH_METRICS for s in L.SIDES})
    want.update({L.path_header_id(s): p["head"][s] for s in L.SIDES})
    return want


def _settled(d) -> bool:
    if d.execute_script("return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length !== 0"):
        return False
    policy, vals = page_state(d)
    mark = d.execute_script(
        "const a = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "return a && a.layout && a.layout.annotations ? a.layout.annotations.map(x => x.text) : null;",
        f"#{L.QUOTE_GRAPH_ID}",
    )
    if not mark or f"q = {vals['q']:+g}" not in mark:
        return False
    return all(text(d, i) == t for i, t in expected_texts(policy, vals).items())


def idle(drv) -> None:
    """Wait until the page has settled: no callback pending, every readout (and the quote graph's
    q marker) showing what the callbacks compute for the policy and sliders on the page."""
    wait_for(drv, _settled, "the page to show the readouts of its own state")


def set_slider(drv, key: str, value: float) -> None:
    """Type a value into the slider's number box (Dash 4 sliders have one) and commit it (Tab)."""
    box = drv.find_element(By.CSS_SELECTOR, f"#{L.SLIDER[key].id} input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(f"{value:g}")
    box.send_keys(Keys.TAB)
    wait_for(
        drv,
        lambda d: (
            float(d.find_element(By.CSS_SELECTOR, f"#{L.SLIDER[key].id} [role=slider]").get_attribute("aria-valuenow"))
            == pytest.approx(value)
        ),
        f"slider {key} to read {value:g}",
    )
    idle(drv)


def choose_policy(drv, policy: str) -> None:
    drv.find_element(By.CSS_SELECTOR, f"#{L.POLICY_ID} input[value='{policy}']").click()
    idle(drv)


def click_preset(drv, key: str) -> None:
    drv.find_element(By.ID, L.preset_button_id(key)).click()
    wait_for(drv, lambda d: text(d, L.PRESET_NOTE_ID) == explain.PRESET_NOTES[key], f"preset {key}")
    idle(drv)


def screenshot(drv, name: str) -> Path:
    path = ARTIFACTS / f"app-{name}.png"
    assert drv.save_screenshot(str(path)), f"could not save {path}"
    assert path.stat().st_size > 10_000
    return path


# --------------------------------------------------------------------------- tests


def test_every_resource_is_local(page, server):
    """Nothing is fetched from the internet: every loaded resource comes from the app's own origin."""
    urls = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    urls.append(page.current_url)
    assert any("plotly" in u for u in urls), urls
    foreign = [u for u in urls if not u.startswith(server)]
    assert not foreign, f"resources from outside {server}: {foreign}"
    srcs = page.execute_script("return Array.from(document.scripts).map(s => s.src).filter(Boolean)")
    assert srcs and all(s.startswith(server) for s in srcs), srcs
    screenshot(page, "initial")


def test_positive_inventory_lowers_both_quotes(page):
    for policy in ("avellaneda-stoikov", "linear-skew", "glft"):
        choose_policy(page, policy)
        set_slider(page, "q", 0)
        bid0, ask0 = number(page, "ro-bid"), number(page, "ro-ask")
        set_slider(page, "q", 25)
        bid1, ask1 = number(page, "ro-bid"), number(page, "ro-ask")
        assert bid1 < bid0 and ask1 < ask0, (policy, (bid0, ask0), (bid1, ask1))
        assert number(page, "ro-skew") < 0
        assert "Keener ask" in text(page, L.QUOTE_SENTENCE_ID)
    screenshot(page, "positive-q-glft")
    # symmetric: the quotes do not move with q
    choose_policy(page, "symmetric")
    before = (text(page, "ro-bid"), text(page, "ro-ask"))
    set_slider(page, "q", -30)
    assert (text(page, "ro-bid"), text(page, "ro-ask")) == before


def test_raising_gamma_steepens_the_skew(page):
    """Seed 001: 'Raise γ and the skew gets more aggressive.'"""
    click_preset(page, "avellaneda-stoikov")
    skews = []
    for g in (0.2, 0.5, 1.0, 2.0):
        set_slider(page, "gamma", g)
        skews.append(number(page, "ro-skew"))
    assert all(b < a < 0 for a, b in zip(skews, skews[1:])), skews
    screenshot(page, "avellaneda-stoikov-gamma-2")


def test_presets_readouts_follow_the_theory(page):
    # linear skew at +45 lots: the worked example's quotes; skew on holds inventory far lower
    click_preset(page, "linear-skew")
    assert (text(page, "ro-centre"), text(page, "ro-bid"), text(page, "ro-ask")) == ("99.550", "99.500", "99.600")
    assert text(page, "ro-given-up") == "0.450"
    assert number(page, "po-maxq-on") < 0.5 * number(page, "po-maxq-off")
    screenshot(page, "preset-linear-skew")

    # hard-limit skew at the limit: only the flattening side (the ask) is quoted; the path is capped
    click_preset(page, "hard-limit")
    assert text(page, "ro-bid") == "not quoted"
    assert number(page, "ro-ask") < L.MID
    assert number(page, "po-maxq-on") == pytest.approx(30.0)
    assert number(page, "po-at-limit-on") > 10
    screenshot(page, "preset-hard-limit")
    set_slider(page, "q", -30)
    assert text(page, "ro-ask") == "not quoted" and number(page, "ro-bid") > L.MID

    # one-sided imbalance, skew off: the symmetric path sticks near the limit
    click_preset(page, "one-sided")
    assert text(page, "ro-bid") == "not quoted"
    assert number(page, "po-maxq-off") >= 29.0
    assert number(page, "po-at-limit-off") >= 25
    assert number(page, "po-maxq-on") < number(page, "po-maxq-off")
    assert number(page, "po-std-on") < number(page, "po-std-off")
    screenshot(page, "preset-one-sided-skew-off")

    # symmetric: flat quotes, and the skew-off path runs far from flat
    click_preset(page, "symmetric")
    assert (text(page, "ro-bid"), text(page, "ro-ask")) == ("99.950", "100.050")
    assert text(page, "ro-skew") == "+0.000"
    assert number(page, "po-maxq-off") > 2 * number(page, "po-maxq-on")


def test_skew_strength_trades_inventory_for_spread(page):
    """Seed 001: push the skew strength up; the path is pulled in while spread given up climbs."""
    click_preset(page, "linear-skew")
    rows = []
    for k in (0.01, 0.02, 0.04):
        set_slider(page, "skew", k)
        rows.append((number(page, "po-maxq-on"), number(page, "po-given-up-on")))
    assert all(b[0] < a[0] and b[1] > a[1] for a, b in zip(rows, rows[1:])), rows


@pytest.mark.parametrize(
    "preset, key, arrow",
    [
        ("avellaneda-stoikov", "q", "right"),
        ("avellaneda-stoikov", "tau", "left"),
        ("avellaneda-stoikov", "gamma", "right"),
        ("avellaneda-stoikov", "flow_bias", "left"),
        ("linear-skew", "skew", "right"),
        ("hard-limit", "limit", "left"),
    ],
)
def test_a_key_on_a_slider_updates_every_panel_it_feeds(page, preset, key, arrow):
    """One arrow key moves the slider one step, and the readouts of both panels (and the quote
    graph) then show what the callbacks compute for the new state; panels the slider does not
    feed keep their numbers. (How fast: benchmarks/bench_app.py.)"""
    click_preset(page, preset)
    policy, before = page_state(page)
    old = expected_texts(policy, before)
    page.find_element(By.CSS_SELECTOR, f"#{L.SLIDER[key].id} [role=slider]").send_keys(
        Keys.ARROW_RIGHT if arrow == "right" else Keys.ARROW_LEFT
    )
    step = L.SLIDER[key].step * (1 if arrow == "right" else -1)
    wait_for(page, lambda d: page_state(d)[1][key] == pytest.approx(before[key] + step), f"{key} to move one step")
    idle(page)
    _, after = page_state(page)
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    new = expected_texts(policy, after)
    for i, t in new.items():
        assert text(page, i) == t, i
    changed = {i for i in new if new[i] != old[i]}
    if key in L.PATH_KEYS:
        assert any(i.startswith("po-") for i in changed), (key, changed)
    else:  # q and T − t feed the quote panel only
        assert changed and not any(i.startswith("po-") for i in changed), (key, changed)
