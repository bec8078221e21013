"""One home for each small rule (issue 14 §5): zones, the atomic writer, GLFT's ω, hedge due/size,
kill-switch firing; and user policies in the live settings and the explainer app (§2)."""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import math
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data
from flatbook.app import callbacks as C
from flatbook.app import layout as L
from flatbook.config import build_config
from flatbook.controls import zones as Z
from flatbook.controls.kill import KILL_DRAWDOWN, KILL_LOSS, KILL_REASONS, kill_fires
from flatbook.controls.quote_controls import ACT_HEDGE, ACT_NONE, pack_controls, zone_of
from flatbook.errors import InputError
from flatbook.fileio import TMP_GLOB, atomic_file, write_text_atomic
from flatbook.hedging.model import pack_hedge
from flatbook.live.hedge_advice import hedge_advice, hedge_rule
from flatbook.live.runner import run
from flatbook.live.settings import parse_settings
from flatbook.policies.glft_solution import glft_constants
from flatbook.policies.quote import quote
from flatbook.policies.registry import POLICIES
from flatbook.sim import kernel as K
from flatbook.sweep import studies

SRC = Path(__file__).resolve().parents[1] / "src" / "flatbook"
AAPL = "lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def _sources():
    for f in sorted(SRC.rglob("*.py")):
        yield f, ast.parse(f.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- zones
def test_zone_names_are_defined_once():
    """The tuple of zone names appears in flatbook.controls.zones only."""
    where = []
    for f, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and [getattr(e, "value", None) for e in node.elts] == list(Z.ZONE_NAMES):
                where.append(f.relative_to(SRC).as_posix())
    assert where == ["controls/zones.py"]


def test_the_compiled_zone_python_zone_and_array_zone_agree():
    """zone_of (compiled, the simulator's), zone_index (Python: the live monitor) and zone_codes (the report) give
    the same code on a grid of q across thresholds 2, 4, 6 lots, with -inf..inf and NaN."""
    v = build_config("as2008", "linear-skew", {"yellow": 2.0, "red": 4.0, "critical": 6.0}, paths=1, seed=0).values
    cp = pack_controls(v)
    q = np.array([-7.0, -6.0, -5.999, -4.0, -3.5, -2.0, -1.999, 0.0, 1.0, 2.0, 3.9, 4.0, 6.0, 1e9, math.inf, -math.inf])
    compiled = np.array([zone_of(cp, x) for x in q])
    python = np.array([Z.zone_index(abs(x), 2.0, 4.0, 6.0) for x in q])
    arr = Z.zone_codes(q, {"yellow": 2.0, "red": 4.0, "critical": 6.0})
    expect = np.array([3, 3, 2, 2, 1, 1, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3], dtype=float)
    np.testing.assert_array_equal(compiled, expect)
    np.testing.assert_array_equal(python, expect)
    np.testing.assert_array_equal(arr, np.where(np.isfinite(q), expect, np.nan))  # the report: no zone off the chart
    assert np.isnan(Z.zone_codes([math.nan], {"yellow": 2.0, "red": 4.0, "critical": 6.0})[0])
    assert [Z.zone_name(c) for c in (0, 1, 2.0, 3, 4, 1.5, None)] == [
        "none",
        "yellow",
        "red",
        "critical",
        "unknown",
        "unknown",
        "unknown",
    ]


# --------------------------------------------------------------------------- one atomic writer
def test_os_replace_is_called_in_fileio_only():
    calls = []
    for f, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("replace", "rename")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os"
            ):
                calls.append(f.relative_to(SRC).as_posix())
    assert set(calls) == {"fileio.py"}


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "a.json"
    write_text_atomic(target, '{"x": 1}\n')
    with pytest.raises(RuntimeError):
        with atomic_file(target) as fh:
            fh.write(b'{"x": 2, "half')
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"x": 1}  # untouched
    assert list(tmp_path.glob(TMP_GLOB)) == []  # no temporary file left
    with atomic_file(target, hold_sigint=True) as fh:
        fh.write(b'{"x": 3}\n')
    assert json.loads(target.read_text()) == {"x": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_event_table_parquet_and_sweep_points_go_through_the_atomic_writer(tmp_path):
    """Real data: an AAPL tape written as Parquet and read back; a sweep store's points file and manifest."""
    from flatbook.data.load import load as load_events
    from flatbook.sweep.runner import PointStore

    ev = load_events(shared_data(AAPL))
    p = ev.to_parquet(tmp_path / "aapl.parquet")
    back = type(ev).from_parquet(p)
    assert len(back.columns()["ts"]) == len(ev.columns()["ts"]) > 1000
    np.testing.assert_array_equal(back.columns()["bid_px"], ev.columns()["bid_px"])
    store = PointStore(tmp_path / "sweep")
    store.open()
    try:
        f = store.write([{"point_id": "a", "pnl_mean": 1.25}, {"point_id": "b", "pnl_mean": -0.5}], "t")
        store.write_manifest({"n": 2, "bad": math.inf})
        assert store.read_manifest() == {"n": 2, "bad": None}
        got = store.read()
        assert {k: r["pnl_mean"] for k, r in got.items()} == {"a": 1.25, "b": -0.5}
        assert f.name.endswith("-t.parquet") and list(store.points_dir.glob(TMP_GLOB)) == []
    finally:
        store.close()
    assert sorted(os.listdir(tmp_path)) == ["aapl.parquet", "sweep"]


# --------------------------------------------------------------------------- GLFT's ω
def test_the_study_takes_glft_omega_from_glft_constants():
    m = studies._as2008()
    for lam in studies.LAMBDAS:
        assert studies.glft_omega(lam, m["sigma"], m["k"], m["A"]) == glft_constants(lam, m["sigma"], m["A"], m["k"])[1]


# --------------------------------------------------------------------------- hedge due/size
def _sim_decision(v, q, req):
    """The simulator's own hedge step (flatbook.sim.kernel._hedge_child) for a path with no running program,
    immediate execution, no limit and no cap: (started a program, signed lots traded)."""
    hp = pack_hedge(v, 1)[0]
    from flatbook.hedging import model as HM

    hc = tuple(
        float(x)
        for x in (
            hp[HM.HP_TRIGGER],
            hp[HM.HP_QSTAR],
            hp[HM.HP_THR],
            hp[HM.HP_URG],
            hp[HM.HP_SIZING],
            hp[HM.HP_FRAC],
            hp[HM.HP_BAND],
            hp[HM.HP_EXEC],
            hp[HM.HP_NH],
            1.0,
            0.0,
            0.0,
            0.0,
        )
    )
    inf = math.inf
    out = K._hedge_child(
        q, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, req, False, 1.0, 0, inf, 1.0, inf, q, -inf, inf, np.ones(1), hc
    )
    return out[10] > 0.0, out[0]


CASES = [
    {"hedge_trigger": "threshold", "hedge_threshold": 5.0},
    {"hedge_trigger": "threshold", "hedge_threshold": 5.0, "hedge_sizing": "fraction", "hedge_fraction": 0.3},
    {"hedge_trigger": "threshold", "hedge_threshold": 5.0, "hedge_sizing": "band", "hedge_band": 2.0},
    {"hedge_trigger": "urgency", "hedge_urgency": 2.5},
    {"hedge_trigger": "urgency", "hedge_urgency": 2.5, "q_target": 1.5, "hedge_sizing": "band", "hedge_band": 1.0},
    {"hedge_trigger": "zone", "hedge_sizing": "band", "hedge_band": 4.0},
    {"hedge_trigger": "zone", "hedge_sizing": "fraction", "hedge_fraction": 0.5, "q_target": -2.0},
]


@pytest.mark.parametrize("over", CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_hedge_advice_is_the_simulators_decision(over):
    """Same parameters and inventory: the monitor's advice (action, side, qty) = the simulator's hedge step.
    The zone's hedge action is the zone trigger's request."""
    v = build_config("hedging", "linear-skew", {"limit": 30.0, **over}, paths=1, seed=0).values
    rule = hedge_rule(v)
    assert rule.qstar == v["q_target"]
    acts = (ACT_NONE, ACT_HEDGE) if over["hedge_trigger"] == "zone" else (ACT_NONE,)
    seen = set()
    for q, act in itertools.product(np.arange(-12.0, 12.25, 0.25), acts):
        started, n = _sim_decision(v, float(q), 1.0 if act == ACT_HEDGE else 0.0)
        adv = hedge_advice(rule, float(q), rule.qstar, act, 2, False, False)
        if started:
            assert (adv["action"], adv["side"]) == ("hedge", "buy" if n > 0 else "sell"), (q, act, adv, n)
            assert adv["qty"] == abs(n)  # bit for bit
        else:
            assert adv["action"] == "none" and adv["qty"] == 0.0, (q, act, adv, n)
        seen.add(started)
    assert seen == {True, False}  # both decisions occur on the grid


def test_hedge_advice_flattens_when_killed():
    v = build_config("hedging", "linear-skew", {}, paths=1, seed=0).values
    adv = hedge_advice(hedge_rule(v), -3.5, 0.0, ACT_NONE, 0, True, False)
    assert adv == {"action": "flatten", "side": "buy", "qty": 3.5, "method": "immediate", "reason": "kill switch"}


# --------------------------------------------------------------------------- kill switch
def test_kill_fires_is_the_rule_of_all_three_engines():
    """The expression the simulator, the backtester and the live engine each used, against the one function."""
    for killed, mtm, peak, ml, dd in itertools.product(
        (False, True), (-5.0, -1.0, 0.0, 2.0), (0.0, 3.0), (1.0, 5.0, math.inf), (2.0, 6.0, math.inf)
    ):
        old = 0 if killed else (KILL_LOSS if mtm <= -ml else (KILL_DRAWDOWN if peak - mtm >= dd else 0))
        assert kill_fires(killed, mtm, peak, ml, dd) == old
    assert KILL_REASONS[int(KILL_LOSS)] == "loss" and KILL_REASONS[int(KILL_DRAWDOWN)] == "drawdown"


def test_live_engine_kill_switch_fires_on_real_data(tmp_path):
    """A paper replay of AAPL with a tiny drawdown limit: the engine is killed, by the drawdown rule."""
    d = {
        "run": {"policy": "linear-skew"},
        "params": {"max_drawdown": 0.5},
        "feed": {"kind": "replay", "path": str(shared_data(AAPL)), "stop": 20_000},
        "venue": {"kind": "paper"},
        "journal": {"path": str(tmp_path / "journal.sqlite")},
        "api": {"enabled": False},
    }
    box = {}
    asyncio.run(run(parse_settings(d), ready=lambda eng, url: box.setdefault("eng", eng)))
    eng = box["eng"]
    assert eng.killed and eng.kill_reason == "drawdown limit"


# --------------------------------------------------------------------------- user policies: live settings, app
CUBIC = """
from flatbook.policies import Param, policy


@policy(params={"half_spread": Param(unit="price units", default=0.5, ge=0),
                "skew": Param(unit="price units per lot", default=0.01, ge=0),
                "q_target": Param(unit="lots", default=0.0),
                "s_cubic": Param(unit="price units per lot³", default=0.0, ge=0)})
def s_cubic_skew(p, t, tau, s, q):
    x = q - p.q_target
    c = p.skew * x + p.s_cubic * x * x * x
    return p.half_spread + c, p.half_spread - c
"""


@pytest.fixture(scope="module")
def cubic_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("pol")
    f = d / "s_cubic.py"
    f.write_text(textwrap.dedent(CUBIC))
    return f


def _monitor(tmp_path, run_table):
    return {
        "live": {"mode": "monitor"},
        "run": {"preset": "replay", **run_table},
        "feed": {"kind": "api"},
        "venue": {"kind": "none"},
        "journal": {"path": str(tmp_path / "j.sqlite")},
        "api": {"enabled": False},
    }


def test_live_settings_policy_file_registers_the_policy(cubic_file, tmp_path):
    s = parse_settings(
        _monitor(tmp_path, {"policy": "s_cubic_skew", "policy_file": cubic_file.name}), base=cubic_file.parent
    )
    assert s.run.policy_file == str(cubic_file)
    assert "s_cubic_skew" in POLICIES and not POLICIES["s_cubic_skew"].builtin
    with pytest.raises(InputError) as e:
        parse_settings(_monitor(tmp_path, {"policy": "s_cubic_skew", "policy_file": "nope.py"}), base=tmp_path)
    assert str(e.value).startswith("run.policy_file: ") and "is not a file" in str(e.value)


def test_app_lists_and_quotes_a_user_policy(cubic_file):
    from flatbook.policies.loader import load_policies

    load_policies(cubic_file)
    labels = L.policy_labels()
    assert list(labels)[:4] == list(L.POLICY_LABELS) and labels["s_cubic_skew"] == "s_cubic_skew"
    radio = _find(L.build_layout(), L.POLICY_ID)
    assert {"label": "s_cubic_skew", "value": "s_cubic_skew"} in radio.options
    _, vals = L.initial_state()
    vals = dict(vals, q=12, skew=0.02, half_spread=0.1)
    got = C.quote_readouts("s_cubic_skew", vals)
    ref = C.quote_readouts("linear-skew", vals)  # s_cubic = 0: linear skew, number for number
    assert got["num"] == ref["num"]
    assert got["num"]["skew"] == pytest.approx(-0.02 * 12, rel=1e-12)
    q = quote(
        C.config_for("s_cubic_skew", vals), 12.0, L.MID, C.time_of(C.config_for("s_cubic_skew", vals), vals["tau"])
    )
    assert (got["num"]["bid"], got["num"]["ask"]) == (q.bid, q.ask)
    assert C._side_label("s_cubic_skew", vals) == "s_cubic_skew"
    paths = C.path_results("s_cubic_skew", {k: vals[k] for k in L.PATH_KEYS})
    assert paths["on"]["summary"] == C.path_results("linear-skew", {k: vals[k] for k in L.PATH_KEYS})["on"]["summary"]


def _find(node, cid):
    if getattr(node, "id", None) == cid:
        return node
    kids = getattr(node, "children", None)
    for k in kids if isinstance(kids, (list, tuple)) else ([kids] if kids is not None else []):
        if not isinstance(k, (str, int, float)):
            hit = _find(k, cid)
            if hit is not None:
                return hit
    return None


def test_flatbook_app_policy_file_loads_before_listening(cubic_file, tmp_path):
    """``flatbook app --policy-file``: a missing file is one line naming the option, exit 2; a good file is
    registered before the port is checked (here: busy, so the command stops there)."""
    import socket

    from typer.testing import CliRunner

    from flatbook.cli import root as cli_app

    runner = CliRunner()
    r = runner.invoke(cli_app.app, ["app", "--policy-file", str(tmp_path / "nope.py")])
    assert r.exit_code == 2 and r.stderr.startswith("error: --policy-file:") and len(r.stderr.splitlines()) == 1
    other = tmp_path / "s_other.py"
    other.write_text(textwrap.dedent(CUBIC).replace("s_cubic_skew", "s_other_skew"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = runner.invoke(cli_app.app, ["app", "--port", str(s.getsockname()[1]), "--policy-file", str(other)])
    assert r.exit_code == 2 and r.stderr.startswith("error: --port: cannot listen")
    assert "s_other_skew" in L.policy_labels()


# --------------------------------------------------------------------------- one six-panel figure model
def test_both_renderers_draw_the_six_panel_model():
    """A 300-path as2008 run with zones: the matplotlib figure's titles/labels are the model's, and the HTML
    report's plotly six-panel carries every title and axis label of the model for the same units."""
    from flatbook.presets import PRESETS
    from flatbook.report.html import simulate_report
    from flatbook.report.six_panel import six_panel_figure
    from flatbook.report.six_panel_model import LEVELS, six_panel_model
    from flatbook.sim.simulator import simulate

    cfg = build_config("as2008", "linear-skew", {"yellow": 2.0, "red": 4.0, "critical": 6.0}, paths=300, seed=1)
    res = simulate(cfg, record_paths=[0])
    s = res.path_series(0)
    tu = PRESETS["as2008"].time_unit
    fig = six_panel_figure(
        {k: s[k] for k in ("t", "mid", "bid", "ask", "q", "pnl")},
        zones=(2.0, 4.0, 6.0),
        q_hist=res.per_path["final_q"],
        time_unit=tu,
        hist_title="Final inventory over all paths",
        hist_ylabel="count (paths)",
    )
    units = dict(time_unit=tu, price_unit="price units", qty_unit="lots", pnl_unit="price units × lots")
    m = six_panel_model(**units, hist_title="Final inventory over all paths (n = 300)", hist_ylabel="count (paths)")
    ax = fig.flatbook_axes
    for key, a in (
        ("price", "price"),
        ("inventory", "inventory"),
        ("spread", "spread"),
        ("stoll", "stoll"),
        ("pnl", "pnl"),
        ("hist", "hist"),
    ):
        got = (ax[a].get_title(), ax[a].get_ylabel())
        assert got == (m[key].title, m[key].ylabel), key
    legend = [t.get_text() for t in ax["inventory"].get_legend().get_texts()]
    assert [x for x in legend if "zone" in x] == [
        f"{LEVELS[z][0]} ±{v:g}" for z, v in (("yellow", 2), ("red", 4), ("critical", 6))
    ]
    page = simulate_report([res], compare=False)
    hm = six_panel_model(**units, hist_title="", hist_ylabel="number of paths")

    def shown(text: str) -> bool:  # as written, or as plotly's JSON escapes it
        return text in page or json.dumps(text)[1:-1] in page

    for p in hm.panels[:5]:
        assert shown(p.title) and shown(p.ylabel), p
    assert shown(hm["hist"].ylabel)
