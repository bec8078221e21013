"""The explainer's page: controls, presets, the quote panel and the path panel.

Component ids are module constants so that the callbacks and the browser tests
use the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from dash import dcc, html

from ..policies.registry import POLICIES
from . import explain

MID = 100.0  # price units: the worked-example mid
SESSION = 235  # arrivals (time units) in the worked-example session
LIMIT_NONE = 101  # the limit slider's last stop: no hard limit

#: the built-in policies the explainer's texts walk through, with their labels
POLICY_LABELS = {
    "symmetric": "Symmetric",
    "linear-skew": "Linear skew",
    "avellaneda-stoikov": "Avellaneda–Stoikov",
    "glft": "GLFT",
}


def policy_labels() -> dict[str, str]:
    """The policy radio list, ``{name: label}``, from :data:`flatbook.policies.registry.POLICIES`.

    The built-in policies of :data:`POLICY_LABELS`, then every user policy registered so far
    (``flatbook app --policy-file FILE.py``, or :func:`flatbook.policies.loader.load_policies`),
    labelled by its name. Built when the page is served, so a policy registered later shows.
    """
    out = {k: v for k, v in POLICY_LABELS.items() if k in POLICIES}
    out.update({name: name for name, pol in POLICIES.items() if not pol.builtin})
    return out


@dataclass(frozen=True)
class SliderSpec:
    """One slider: parameter key, label, unit, range, step and default."""

    key: str
    label: str
    unit: str
    lo: float
    hi: float
    step: float
    default: float
    marks: tuple[float, ...]

    @property
    def id(self) -> str:
        return f"slider-{self.key.replace('_', '-')}"


SLIDERS: tuple[SliderSpec, ...] = (
    SliderSpec("q", "Inventory q", "lots", -50, 50, 1, 0, (-50, -25, 0, 25, 50)),
    SliderSpec("gamma", "Risk aversion γ", "per (price unit × lot)", 0.01, 2.0, 0.01, 0.5, (0.01, 0.5, 1, 1.5, 2)),
    SliderSpec(
        "sigma", "Volatility σ", "price units per √arrival", 0.0, 0.05, 0.001, 0.01, (0, 0.01, 0.02, 0.03, 0.04, 0.05)
    ),
    SliderSpec("tau", "Time to close T − t", "arrivals", 0, SESSION, 1, SESSION, (0, 50, 100, 150, 200, SESSION)),
    SliderSpec(
        "skew", "Skew strength", "price units per lot", 0.0, 0.05, 0.001, 0.01, (0, 0.01, 0.02, 0.03, 0.04, 0.05)
    ),
    SliderSpec("half_spread", "Half-spread h", "price units", 0.01, 0.5, 0.01, 0.05, (0.01, 0.1, 0.2, 0.3, 0.4, 0.5)),
    SliderSpec("k", "Fill-intensity decay k", "per price unit", 0.5, 20.0, 0.1, 3.0, (0.5, 5, 10, 15, 20)),
    SliderSpec("limit", "Hard limit", "lots", 5, LIMIT_NONE, 1, LIMIT_NONE, (5, 30, 50, 75)),
    SliderSpec(
        "flow_bias", "Flow imbalance", "buy probability − ½", -0.45, 0.45, 0.05, -0.1, (-0.4, -0.2, 0, 0.2, 0.4)
    ),
)
SLIDER = {s.key: s for s in SLIDERS}
KEYS = tuple(s.key for s in SLIDERS)
# what each panel reads: the path panel ignores the quote state (q, T − t)
PATH_KEYS = ("gamma", "sigma", "skew", "half_spread", "k", "limit", "flow_bias")


@dataclass(frozen=True)
class AppPreset:
    """A preset button: label, policy and slider values (the rest keep their defaults)."""

    key: str
    label: str
    policy: str
    values: dict


# seed 001's worked example (h = 0.05, skew 0.01 per lot, k = 3), with σ = 0.01 so that A–S and GLFT skew too
# (the inventory paths do not depend on σ: the fills depend only on the quotes' depth from the mid)
_BASE = dict(gamma=0.5, sigma=0.01, tau=SESSION, skew=0.01, half_spread=0.05, k=3.0)
PRESETS: tuple[AppPreset, ...] = (
    AppPreset("symmetric", "Symmetric", "symmetric", dict(_BASE, q=20, limit=LIMIT_NONE, flow_bias=-0.1)),
    AppPreset("linear-skew", "Linear skew", "linear-skew", dict(_BASE, q=45, limit=LIMIT_NONE, flow_bias=-0.1)),
    AppPreset(
        "avellaneda-stoikov",
        "Avellaneda–Stoikov",
        "avellaneda-stoikov",
        dict(_BASE, q=20, limit=LIMIT_NONE, flow_bias=-0.1),
    ),
    AppPreset("hard-limit", "Hard-limit skew", "linear-skew", dict(_BASE, q=30, limit=30, flow_bias=-0.4)),
    AppPreset("one-sided", "One-sided imbalance, skew off", "symmetric", dict(_BASE, q=30, limit=30, flow_bias=-0.2)),
)
PRESET = {p.key: p for p in PRESETS}
DEFAULT_PRESET = "avellaneda-stoikov"

# ids
URL_ID = "url"  # dcc.Location: the page's path
PAGE_ID = "page-content"  # the routed page: the explainer at /, the live dashboard at /live
NAV_LIVE_ID = "nav-live"
LIVE_PATH = "/live"
POLICY_ID = "policy"
PRESET_NOTE_ID = "preset-note"
QUOTE_GRAPH_ID = "quote-graph"
PATH_GRAPH_ID = "path-graph"
QUOTE_SENTENCE_ID = "quote-sentence"
QUOTE_READOUTS = ("mid", "centre", "bid", "ask", "skew", "given-up", "half-spread", "slope")
PATH_METRICS = ("maxq", "std", "given-up", "pnl", "at-limit")
SIDES = ("off", "on")


def preset_button_id(key: str) -> str:
    return f"preset-{key}"


def readout_id(name: str) -> str:
    """Quote-panel readout element id, e.g. ``ro-bid``."""
    return f"ro-{name}"


def path_readout_id(metric: str, side: str) -> str:
    """Path-panel readout element id, e.g. ``po-maxq-off``."""
    return f"po-{metric}-{side}"


def path_header_id(side: str) -> str:
    return f"po-head-{side}"


def value_label_id(key: str) -> str:
    return f"val-{key.replace('_', '-')}"


def initial_state() -> tuple[str, dict]:
    """The page's opening state: the default preset's policy and slider values."""
    p = PRESET[DEFAULT_PRESET]
    vals = {s.key: s.default for s in SLIDERS}
    vals.update(p.values)
    return p.policy, vals


def _fmt_mark(x: float) -> str:
    return f"{x:g}"


def _slider(spec: SliderSpec, value: float) -> html.Div:
    marks = {m: _fmt_mark(m) for m in spec.marks}
    if spec.key == "limit":
        marks[LIMIT_NONE] = "none"
    return html.Div(
        className="control",
        children=[
            html.Div(
                className="control-head",
                children=[
                    html.Label(spec.label, htmlFor=spec.id, className="control-label"),
                    html.Span(f" ({spec.unit})", className="unit"),
                    html.Span("", id=value_label_id(spec.key), className="value-label"),
                ],
            ),
            dcc.Slider(
                id=spec.id,
                min=spec.lo,
                max=spec.hi,
                step=spec.step,
                value=value,
                marks=marks,
                updatemode="mouseup",
                className="slider",
            ),
            html.Div(f"used by: {explain.SLIDER_HELP[spec.key]}", className="control-help"),
        ],
    )


def _notice(paragraphs: tuple[str, ...]) -> html.Div:
    return html.Div(
        className="notice",
        children=[
            html.H4("What to notice"),
            html.Ul([html.Li(p) for p in paragraphs]),
        ],
    )


def _quote_readouts() -> html.Table:
    labels = {
        "mid": ("Mid", "price units"),
        "centre": ("Reservation price / centre", "price units"),
        "bid": ("Your bid", "price units"),
        "ask": ("Your ask", "price units"),
        "skew": ("Skew (centre − mid)", "price units"),
        "given-up": ("Spread given up per flattening lot", "price units per lot"),
        "half-spread": ("Half-spread", "price units"),
        "slope": ("Skew per lot (−skew / q)", "price units per lot"),
    }
    rows = [
        html.Tr(
            [
                html.Th(labels[n][0], id=f"{readout_id(n)}-label"),
                html.Td("…", id=readout_id(n), className="num"),
                html.Td(labels[n][1], className="unit"),
            ]
        )
        for n in QUOTE_READOUTS
    ]
    return html.Table(className="readouts", id="quote-readouts", children=[html.Tbody(rows)])


def _path_readouts() -> html.Table:
    labels = {
        "maxq": ("Max |q|", "lots"),
        "std": ("Inventory std along a path", "lots"),
        "given-up": ("Spread given up", "price units × lots"),
        "pnl": ("PnL", "price units × lots"),
        "at-limit": ("Time at the limit", "% of steps"),
    }
    head = html.Tr(
        [
            html.Th("mean over paths"),
            html.Th("skew off", id=path_header_id("off")),
            html.Th("skew on", id=path_header_id("on")),
            html.Th("unit"),
        ]
    )
    rows = [
        html.Tr(
            [html.Th(labels[m][0])]
            + [html.Td("…", id=path_readout_id(m, s), className="num") for s in SIDES]
            + [html.Td(labels[m][1], className="unit")]
        )
        for m in PATH_METRICS
    ]
    return html.Table(className="readouts", id="path-readouts", children=[html.Thead(head), html.Tbody(rows)])


GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "displaylogo": False, "responsive": True}


def build_layout() -> html.Div:
    """The whole page."""
    policy, vals = initial_state()
    presets = html.Div(
        className="presets",
        children=[html.Span("Presets:", className="presets-label")]
        + [html.Button(p.label, id=preset_button_id(p.key), n_clicks=0, className="preset-btn") for p in PRESETS],
    )
    controls = html.Div(
        className="card controls",
        children=[
            html.H3("Controls"),
            html.Div(
                className="control",
                children=[
                    html.Label("Quoting policy", className="control-label"),
                    dcc.RadioItems(
                        id=POLICY_ID,
                        value=policy,
                        className="policy",
                        inline=True,
                        options=[{"label": v, "value": k} for k, v in policy_labels().items()],
                    ),
                ],
            ),
            *[_slider(s, vals[s.key]) for s in SLIDERS],
        ],
    )
    quote_panel = html.Div(
        className="card panel",
        id="quote-panel",
        children=[
            html.H3(explain.QUOTE_TITLE),
            dcc.Graph(id=QUOTE_GRAPH_ID, config=GRAPH_CONFIG, className="graph"),
            html.P("", id=QUOTE_SENTENCE_ID, className="sentence"),
            _quote_readouts(),
            _notice(explain.QUOTE_NOTICE),
        ],
    )
    path_panel = html.Div(
        className="card panel",
        id="path-panel",
        children=[
            html.H3(explain.PATH_TITLE),
            dcc.Graph(id=PATH_GRAPH_ID, config=GRAPH_CONFIG, className="graph"),
            _path_readouts(),
            html.P("", id="path-footnote", className="footnote"),
            _notice(explain.PATH_NOTICE),
        ],
    )
    return html.Div(
        className="page",
        children=[
            html.Header(
                [
                    html.H1(explain.TITLE),
                    html.P(
                        dcc.Link("Live dashboard →", href=LIVE_PATH, id=NAV_LIVE_ID, className="nav-link"),
                        className="nav",
                    ),
                    html.P(explain.INTRO, className="intro"),
                    html.P(explain.MARKET, className="intro market"),
                ]
            ),
            presets,
            html.P(explain.PRESET_NOTES[DEFAULT_PRESET], id=PRESET_NOTE_ID, className="preset-note"),
            html.Div(className="grid", children=[controls, quote_panel, path_panel]),
            html.Footer(explain.FOOTER),
        ],
    )


def build_root() -> html.Div:
    """The app's layout: the location and the routed page (filled by the routing callback)."""
    return html.Div([dcc.Location(id=URL_ID), html.Div(id=PAGE_ID)])


def not_found(pathname: str) -> html.Div:
    """The page for an unknown path: links to the two pages."""
    return html.Div(
        className="page",
        children=[
            html.H1("Page not found"),
            html.P(f"No page at {pathname}."),
            html.P(
                [
                    dcc.Link("Inventory-skew explainer", href="/", className="nav-link"),
                    " · ",
                    dcc.Link("Live dashboard", href=LIVE_PATH, className="nav-link"),
                ]
            ),
        ],
    )


CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#d9dee8; --bg:#f5f7fb; --card:#ffffff;
        --off:#c0392b; --on:#1f6feb; --accent:#0b7a53; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       font-size:14px; line-height:1.45; }
.page { max-width:1760px; margin:0 auto; padding:16px 20px 28px; }
header h1 { font-size:22px; margin:4px 0 6px; }
.nav { margin:0 0 4px; }
.intro { margin:2px 0; color:var(--muted); max-width:1100px; }
.presets { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:12px 0 6px; }
.presets-label { font-weight:600; margin-right:4px; }
.preset-btn { border:1px solid var(--line); background:var(--card); border-radius:6px; padding:6px 12px;
              font:inherit; cursor:pointer; }
.preset-btn:hover { border-color:var(--on); color:var(--on); }
.preset-note { background:#eef4ff; border-left:3px solid var(--on); padding:6px 10px; margin:4px 0 12px;
               max-width:1100px; }
.grid { display:grid; grid-template-columns: 390px minmax(0,1fr) minmax(0,1fr); gap:14px; align-items:start; }
@media (max-width: 1200px) { .grid { grid-template-columns: 1fr; } }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card h3 { margin:0 0 8px; font-size:16px; }
.control { margin-bottom:12px; }
.control-head { display:flex; align-items:baseline; gap:4px; flex-wrap:wrap; }
.control-label { font-weight:600; }
.unit { color:var(--muted); font-size:12px; }
.value-label { margin-left:auto; color:var(--accent); font-size:12px; }
.control-help { color:var(--muted); font-size:11.5px; }
.policy label { margin-right:12px; white-space:nowrap; }
.graph { height:330px; }
.sentence { min-height:2.8em; margin:6px 0; }
.readouts { border-collapse:collapse; width:100%; margin:4px 0 8px; }
.readouts th, .readouts td { border-bottom:1px solid var(--line); padding:3px 6px; text-align:left;
                             font-weight:normal; }
.readouts thead th { font-weight:600; }
.readouts td.num { font-variant-numeric: tabular-nums; text-align:right; font-weight:600; white-space:nowrap; }
.readouts td.unit { width:1%; white-space:nowrap; }
.not-quoted { color:var(--off); }
.notice { background:#f7faf7; border:1px solid #d4e7da; border-radius:6px; padding:4px 12px; }
.notice h4 { margin:6px 0 2px; }
.notice ul { margin:4px 0 6px; padding-left:18px; }
.notice li { margin:3px 0; }
.footnote { color:var(--muted); font-size:12px; }
footer { color:var(--muted); font-size:12px; margin-top:16px; }
"""
