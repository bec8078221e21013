"""Fast tests of the explainer app (flatbook.app): its callbacks as plain functions, the page's
assets, and the ``flatbook app`` command's input checks. The browser tests are in
test_app_browser.py."""

from __future__ import annotations

import math
import re
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

import flatbook.cli.app_cmd  # noqa: F401  (registers `flatbook app` until cli/root.py imports it)
from flatbook.app import callbacks as C
from flatbook.app import layout as L
from flatbook.cli import root as cli_app
from flatbook.config import build_config
from flatbook.policies.quote import quote
from flatbook.sim.simulator import simulate

SKEWING = ("linear-skew", "avellaneda-stoikov", "glft")


def state(preset: str = L.DEFAULT_PRESET, **changes) -> tuple[str, dict]:
    """A preset's policy and slider values, with changes."""
    p = L.PRESET[preset]
    vals = {s.key: s.default for s in L.SLIDERS}
    vals.update(p.values)
    vals.update(changes)
    return p.policy, vals


# --------------------------------------------------------------------------- quote panel


@pytest.mark.parametrize("policy", SKEWING)
@pytest.mark.parametrize("q", [1, 20, 45])
def test_long_inventory_lowers_both_quotes(policy, q):
    _, v = state()
    flat = C.quote_readouts(policy, dict(v, q=0))["quote"]
    long_ = C.quote_readouts(policy, dict(v, q=q))["quote"]
    short = C.quote_readouts(policy, dict(v, q=-q))["quote"]
    assert long_.bid < flat.bid and long_.ask < flat.ask
    assert short.bid > flat.bid and short.ask > flat.ask
    assert long_.skew < 0 < short.skew


def test_symmetric_quotes_ignore_inventory():
    _, v = state("symmetric")
    quotes = [C.quote_readouts("symmetric", dict(v, q=q))["quote"] for q in (-40, 0, 40)]
    assert {(x.bid, x.ask) for x in quotes} == {(quotes[0].bid, quotes[0].ask)}
    assert quotes[0].ask - quotes[0].bid == pytest.approx(2 * v["half_spread"])


def test_worked_example_numbers():
    """Seed 001: k = 0.01 per lot, q = +45 → centre 99.55, bid 99.50, ask 99.60, 0.45 given up per lot."""
    policy, v = state("linear-skew")
    r = C.quote_readouts(policy, v)
    assert (r["text"]["centre"], r["text"]["bid"], r["text"]["ask"]) == ("99.550", "99.500", "99.600")
    assert r["text"]["given-up"] == "0.450" and r["text"]["skew"] == "-0.450"


@pytest.mark.parametrize("policy", ["symmetric", "linear-skew", "avellaneda-stoikov", "glft"])
@pytest.mark.parametrize("q,quoted", [(30, "ask"), (-30, "bid"), (35, "ask")])
def test_hard_limit_quotes_only_the_flattening_side(policy, q, quoted):
    _, v = state("hard-limit", q=q)
    r = C.quote_readouts(policy, v)
    other = "bid" if quoted == "ask" else "ask"
    assert r["num"][other] is None and r["text"][other] == "not quoted"
    assert r["num"][quoted] is not None
    assert "hard limit" in r["sentence"] and f"the {other} would grow the position" in r["sentence"]


def test_below_the_limit_both_sides_are_quoted():
    _, v = state("hard-limit", q=29)
    r = C.quote_readouts("linear-skew", v)
    assert r["num"]["bid"] is not None and r["num"]["ask"] is not None


@pytest.mark.parametrize("policy", ["avellaneda-stoikov", "glft", "linear-skew"])
@pytest.mark.parametrize(
    "q,tau,gamma,sigma,k",
    [(20, 235, 0.5, 0.01, 3.0), (-7, 100, 1.3, 0.02, 8.0), (30, 0, 0.2, 0.05, 1.0), (0, 50, 2.0, 0.0, 20.0)],
)
def test_readouts_equal_flatbook_quote(policy, q, tau, gamma, sigma, k):
    """The panel's numbers are flatbook.policies.quote.quote's for the same state."""
    _, v = state(q=q, tau=tau, gamma=gamma, sigma=sigma, k=k, limit=40)
    cfg = build_config(
        "worked-example",
        policy,
        {
            "gamma": gamma,
            "sigma": sigma,
            "k": k,
            "limit": 40,
            "skew": v["skew"],
            "half_spread": v["half_spread"],
            "flow_bias": v["flow_bias"],
        },
    )
    want = quote(cfg, q, 100.0, cfg.values["T"] - tau)
    r = C.quote_readouts(policy, v)
    assert r["quote"] == want
    for name, val in (("bid", want.bid), ("ask", want.ask), ("centre", want.reservation), ("mid", want.mid)):
        assert r["num"][name] == val
        assert r["text"][name] == f"{val:.3f}"
    assert r["num"]["skew"] == want.skew and r["num"]["given-up"] == abs(want.skew)
    assert r["num"]["half-spread"] == want.half_spread


@pytest.mark.parametrize("policy", ["avellaneda-stoikov", "glft"])
def test_raising_gamma_steepens_the_skew(policy):
    _, v = state(q=20)
    skews = [C.quote_readouts(policy, dict(v, gamma=g))["num"]["skew"] for g in (0.1, 0.5, 1.0, 2.0)]
    assert all(b < a < 0 for a, b in zip(skews, skews[1:]))


def test_as_skew_fades_at_the_close():
    _, v = state(q=20)
    skews = [C.quote_readouts("avellaneda-stoikov", dict(v, tau=tau))["num"]["skew"] for tau in (235, 100, 10, 0)]
    assert all(b > a for a, b in zip(skews, skews[1:]))
    assert skews[-1] == pytest.approx(0.0, abs=1e-12)
    r = C.quote_readouts("avellaneda-stoikov", dict(v, tau=0))
    assert "skew is 0" in r["sentence"]


def test_quote_figure_draws_the_policy_and_the_limits():
    policy, v = state("hard-limit")
    r = C.quote_readouts(policy, v)
    fig = C.quote_figure(policy, v, r["quote"])
    names = [t.get("name") for t in fig["data"]]
    assert {"mid", "quote centre", "bid", "ask"} <= set(names)
    bid = fig["data"][names.index("bid")]
    # at and beyond +30 lots the bid is not quoted (a gap in the line); below it, it is
    qs = np.asarray(bid["x"])
    ys = bid["y"]
    assert all(y is None for x, y in zip(qs, ys) if x >= 30)
    assert all(y is not None for x, y in zip(qs, ys) if -30 < x < 30)
    assert sum(s["line"].get("dash") == "dash" for s in fig["layout"]["shapes"]) == 2
    assert "lots" in fig["layout"]["xaxis"]["title"]["text"]
    assert "price units" in fig["layout"]["yaxis"]["title"]["text"]


# --------------------------------------------------------------------------- path panel


def _num(text: str) -> float:
    return float(text.rstrip("%"))


def test_paths_share_the_flow():
    """Common random numbers: linear skew with strength 0 is symmetric, path for path."""
    _, v = state("symmetric", skew=0.0)
    r = C.path_results("linear-skew", v)
    assert r["off"]["path"] == r["on"]["path"]
    assert r["off"]["summary"] == r["on"]["summary"]
    assert r["off"]["index"] == r["on"]["index"]


def test_path_readouts_equal_simulate():
    policy, v = state("linear-skew")
    r = C.path_results(policy, v)
    for side, pol in (("off", "symmetric"), ("on", "linear-skew")):
        cfg = build_config("worked-example", pol, C.overrides(v), paths=C.PATHS, seed=C.SEED)
        want = simulate(cfg, record_paths=[r[side]["index"]])
        for key in ("max_abs_q_mean", "q_std_mean", "spread_given_up_mean", "pnl_mean"):
            assert r[side]["summary"][key] == want.summary[key]
        assert r[side]["path"] == want.series["q"][0].tolist()
    text = C.path_readouts(policy, v)
    assert text["maxq"]["on"] == f"{r['on']['summary']['max_abs_q_mean']:.1f}"
    assert text["pnl"]["off"] == f"{r['off']['summary']['pnl_mean']:.2f}"


def test_linear_skew_mean_reverts():
    policy, v = state("linear-skew")
    t = C.path_readouts(policy, v)
    assert _num(t["maxq"]["on"]) < 0.5 * _num(t["maxq"]["off"])
    assert _num(t["std"]["on"]) < 0.5 * _num(t["std"]["off"])


def test_one_sided_flow_skew_off_sticks_at_the_limit():
    policy, v = state("one-sided")
    assert policy == "symmetric"
    t = C.path_readouts(policy, v)
    r = C.path_results(policy, v)
    assert _num(t["maxq"]["off"]) >= 29.0
    assert _num(t["at-limit"]["off"]) >= 25.0
    path = np.asarray(r["off"]["path"])
    assert np.mean(path >= 25) > 0.3  # the drawn path spends much of the session near +30
    assert _num(t["maxq"]["on"]) < _num(t["maxq"]["off"])
    assert _num(t["at-limit"]["on"]) < _num(t["at-limit"]["off"])


def test_hard_limit_caps_the_skewed_path():
    policy, v = state("hard-limit")
    r = C.path_results(policy, v)
    assert max(abs(q) for q in r["on"]["path"]) == 30.0
    assert r["on"]["summary"]["max_abs_q_mean"] == pytest.approx(30.0)
    free = C.path_results(policy, dict(v, limit=L.LIMIT_NONE))
    assert free["on"]["summary"]["max_abs_q_mean"] > 35.0  # skew alone lets this flow run past 30


def test_more_skew_less_inventory_more_spread_given_up():
    _, v = state("linear-skew")
    rows = [C.path_results("linear-skew", dict(v, skew=k))["on"]["summary"] for k in (0.01, 0.02, 0.04)]
    assert all(b["max_abs_q_mean"] < a["max_abs_q_mean"] for a, b in zip(rows, rows[1:]))
    assert all(b["spread_given_up_mean"] > a["spread_given_up_mean"] for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("policy", ["avellaneda-stoikov", "glft"])
def test_raising_gamma_pulls_the_path_in(policy):
    _, v = state()
    lo = C.path_results(policy, dict(v, gamma=0.1))["on"]["summary"]["max_abs_q_mean"]
    hi = C.path_results(policy, dict(v, gamma=2.0))["on"]["summary"]["max_abs_q_mean"]
    assert hi < lo


def test_path_figure_has_both_paths_and_limits():
    policy, v = state("hard-limit")
    fig = C.path_figure(policy, v)
    assert len(fig["data"]) == 2
    assert fig["data"][0]["name"].startswith("skew off") and fig["data"][1]["name"].startswith("skew on")
    ys = sorted(s["y0"] for s in fig["layout"]["shapes"] if s["line"].get("dash") == "dash")
    assert ys == [-30.0, 30.0]
    assert "lots" in fig["layout"]["yaxis"]["title"]["text"]
    assert "arrivals" in fig["layout"]["xaxis"]["title"]["text"]


# --------------------------------------------------------------------------- layout, presets


def test_presets_fit_the_sliders():
    for p in L.PRESETS:
        assert p.policy in L.POLICY_LABELS
        for key, val in p.values.items():
            s = L.SLIDER[key]
            assert s.lo <= val <= s.hi, (p.key, key)
            steps = (val - s.lo) / s.step
            assert abs(steps - round(steps)) < 1e-6, (p.key, key)
    assert [p.label for p in L.PRESETS] == [
        "Symmetric",
        "Linear skew",
        "Avellaneda–Stoikov",
        "Hard-limit skew",
        "One-sided imbalance, skew off",
    ]


def test_every_slider_has_a_unit_and_help():
    for s in L.SLIDERS:
        assert s.unit and s.label
        assert s.key in C.explain.SLIDER_HELP
    assert len({s.id for s in L.SLIDERS}) == len(L.SLIDERS)


def test_value_labels():
    lab = C.value_labels(dict(state("hard-limit")[1]))
    assert lab["limit"] == "30 lots" and lab["flow_bias"] == "90% sells / 10% buys" and lab["q"] == "+30 lots"
    assert C.value_labels(dict(state()[1]))["limit"] == "none"
    assert math.isinf(C.limit_lots(L.LIMIT_NONE))


# --------------------------------------------------------------------------- served page


@pytest.fixture(scope="module")
def client():
    from flatbook.app.server import create_app

    return create_app(warm=False).server.test_client()


def test_page_references_no_external_assets(client):
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r"https?://", html), "the page must not reference any absolute URL"
    assert not re.search(r"""(src|href)\s*=\s*["']//""", html)
    srcs = re.findall(r"""<script[^>]*\ssrc=["']([^"']+)""", html)
    hrefs = re.findall(r"""<link[^>]*\shref=["']([^"']+)""", html)
    assert srcs, "expected Dash's scripts"
    for url in srcs + hrefs:
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url
    # plotly.js is loaded on demand by dcc.Graph; the browser test checks every resource actually fetched


def test_layout_and_callbacks_served(client):
    assert client.get("/_dash-layout").status_code == 200
    deps = client.get("/_dash-dependencies").get_json()
    outputs = " ".join(d["output"] for d in deps)
    for rid in (
        "ro-bid",
        "ro-ask",
        "ro-centre",
        "ro-skew",
        "ro-given-up",
        "po-maxq-off",
        "po-pnl-on",
        "quote-graph",
        "path-graph",
        "slider-q",
    ):
        assert rid in outputs


def test_quote_callback_over_http(client):
    """One round trip through Dash's callback endpoint returns flatbook's quote."""
    policy, v = state("linear-skew")
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "ro-bid.children" in d["output"])
    inputs = [
        {
            "id": i["id"],
            "property": i["property"],
            "value": policy if i["id"] == L.POLICY_ID else v[next(s.key for s in L.SLIDERS if s.id == i["id"])],
        }
        for i in dep["inputs"]
    ]
    body = {
        "output": dep["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]} for o in dep["output"].strip(".").split("...")
        ],
        "inputs": inputs,
        "changedPropIds": [f"{L.SLIDER['q'].id}.value"],
        "state": [],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    resp = r.get_json()["response"]
    assert resp["ro-bid"]["children"] == "99.500" and resp["ro-ask"]["children"] == "99.600"


# --------------------------------------------------------------------------- the command

runner = CliRunner()


@pytest.mark.parametrize(
    "args,field",
    [
        (["--port", "abc"], "--port"),
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--port", "80.5"], "--port"),
        (["--host", "not a host"], "--host"),
        (["--host", ""], "--host"),
        (["--host", "-x"], "--host"),
    ],
)
def test_app_command_rejects_bad_values(args, field):
    r = runner.invoke(cli_app.app, ["app", *args])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), r.stderr


def test_app_command_rejects_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(cli_app.app, ["app", "--port", str(port)])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --port: cannot listen on 127.0.0.1:") and len(r.stderr.splitlines()) == 1


def test_app_command_help():
    r = runner.invoke(cli_app.app, ["app", "--help"])
    assert r.exit_code == 0 and "--host" in r.stdout and "--port" in r.stdout
