"""The live dashboard (path ``/live``): the live engine's state, redrawn every 500 ms.

The Dash server, not the browser, reads the engine's JSON API (``GET {live_url}/api/state``
and ``/api/history``) with the standard library's urllib and a short timeout, so the page
loads nothing from elsewhere and a missing or hung engine only changes the status line.
Component ids are module constants, shared with the browser test.
"""

from __future__ import annotations

import datetime as _dt
import http.client
import ipaddress
import json
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence

import numpy as np
from dash import dcc, html

from ..controls.zones import ZONE_LEVELS, ZONE_NAMES, zone_name

DEFAULT_LIVE_URL = "http://127.0.0.1:8765"
INTERVAL_MS = 500  # refresh period (the requirement: at least once per second)
FETCH_TIMEOUT_S = 0.4  # per request; below the refresh period
HISTORY_N = 600  # points of history asked for
MAX_BYTES = 8 << 20  # an answer larger than this is refused

PNL_UNIT = "price units × lots"  # until the engine names its settlement currency
COLORS = {
    "position": "#1d2433",
    "target": "#1f6feb",
    "limit": "#5b6475",
    "mid": "#8a93a6",
    "bid": "#0b7a53",
    "ask": "#c0392b",
    "pnl": "#7b3fb8",
    "yellow": "rgba(241,196,15,0.22)",
    "red": "rgba(231,76,60,0.20)",
    "critical": "rgba(120,0,0,0.28)",
}

# --------------------------------------------------------------------------- ids

PATH = "/live"
INTERVAL_ID = "live-interval"
STATUS_ID = "live-status"
BODY_ID = "live-body"
NAV_EXPLAINER_ID = "nav-explainer"
# summary bar
POSITION_ID = "live-position"
TARGET_ID = "live-target"
LIMIT_ID = "live-limit"
MODE_ID = "live-mode"
SESSION_ID = "live-session"
SEQ_ID = "live-seq"
TS_ID = "live-ts"
COUNTERS_ID = "live-counters"
# the five panels
POSITION_PANEL_ID = "live-position-panel"
QUOTES_PANEL_ID = "live-quotes-panel"
PNL_PANEL_ID = "live-pnl-panel"
HEDGE_PANEL_ID = "live-hedge-panel"
ALERTS_PANEL_ID = "live-alerts-panel"
PANEL_IDS = (POSITION_PANEL_ID, QUOTES_PANEL_ID, PNL_PANEL_ID, HEDGE_PANEL_ID, ALERTS_PANEL_ID)
POSITION_GRAPH_ID = "live-position-graph"
QUOTES_GRAPH_ID = "live-quotes-graph"
PNL_GRAPH_ID = "live-pnl-graph"
ZONE_BADGE_ID = "live-zone"
KILLED_ID = "live-killed"
HEDGE_BOX_ID = "live-hedge"
HEDGE_SUMMARY_ID = "live-hedge-summary"
ORDERS_ID = "live-orders"
ALERTS_ID = "live-alerts"
QUOTE_FIELDS = (
    "bid",
    "ask",
    "bid-size",
    "ask-size",
    "centre",
    "skew",
    "half-spread",
    "age",
    "market-bid",
    "market-ask",
    "mid",
)
PNL_PARTS = ("total", "spread", "adverse", "inventory", "fees", "financing")
HEDGE_FIELDS = ("action", "side", "qty", "method", "reason")


def quote_id(name: str) -> str:
    """Quote-panel readout id, e.g. ``live-q-bid``."""
    return f"live-q-{name}"


def pnl_id(part: str) -> str:
    """PnL attribution cell id, e.g. ``live-pnl-spread``."""
    return f"live-pnl-{part}"


def pnl_unit_id(part: str) -> str:
    """The unit cell beside :func:`pnl_id` (``_table(..., unit_ids=True)`` names it so)."""
    return f"{pnl_id(part)}-unit"


def hedge_id(field: str) -> str:
    """Hedge-box field id, e.g. ``live-hedge-qty``."""
    return f"live-hedge-{field}"


# every output of the refresh callback, in order: (component id, property)
OUTPUTS: tuple[tuple[str, str], ...] = (
    (STATUS_ID, "children"),
    (STATUS_ID, "className"),
    (BODY_ID, "className"),
    *((i, "children") for i in (POSITION_ID, TARGET_ID, LIMIT_ID, MODE_ID, SESSION_ID, SEQ_ID, TS_ID, COUNTERS_ID)),
    (ZONE_BADGE_ID, "children"),
    (ZONE_BADGE_ID, "className"),
    (KILLED_ID, "children"),
    (KILLED_ID, "className"),
    (HEDGE_BOX_ID, "className"),
    (HEDGE_SUMMARY_ID, "children"),
    *((hedge_id(f), "children") for f in HEDGE_FIELDS),
    *((quote_id(f), "children") for f in QUOTE_FIELDS),
    (ORDERS_ID, "children"),
    *((pnl_id(p), "children") for p in PNL_PARTS),
    *((pnl_unit_id(p), "children") for p in PNL_PARTS),
    (ALERTS_ID, "children"),
    (POSITION_GRAPH_ID, "figure"),
    (QUOTES_GRAPH_ID, "figure"),
    (PNL_GRAPH_ID, "figure"),
)

# --------------------------------------------------------------------------- fetching


class EngineUnreachable(Exception):
    """The engine's API did not answer usefully; ``str()`` says why, in a few words."""


def _opener(url: str) -> urllib.request.OpenerDirector:
    """A direct connection (no proxy from the environment) for loopback hosts; the default otherwise."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()


def fetch_json(url: str, timeout: float = FETCH_TIMEOUT_S) -> object:
    """GET ``url`` and decode its JSON, or :class:`EngineUnreachable`.

    stdlib urllib on purpose: one GET needs no HTTP-client dependency; the short timeout
    keeps a hung engine from stalling the page's refresh.
    """
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _opener(url).open(req, timeout=timeout) as r:
            body = r.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise EngineUnreachable(f"HTTP {e.code} from {urllib.parse.urlsplit(url).path}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ConnectionRefusedError):
            raise EngineUnreachable("connection refused") from None
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise EngineUnreachable(f"no answer within {timeout:g} s") from None
        raise EngineUnreachable(str(reason)) from None
    except TimeoutError:
        raise EngineUnreachable(f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as e:
        raise EngineUnreachable(str(e) or type(e).__name__) from None
    if len(body) > MAX_BYTES:
        raise EngineUnreachable(f"answer larger than {MAX_BYTES >> 20} MiB")
    try:
        return json.loads(body)
    except ValueError:
        raise EngineUnreachable("answer is not JSON") from None


def poll(live_url: str) -> tuple[dict, dict | None]:
    """The engine's state and history (None when only the history failed), or :class:`EngineUnreachable`."""
    state = fetch_json(f"{live_url}/api/state")
    if not isinstance(state, dict):
        raise EngineUnreachable("/api/state is not a JSON object")
    try:
        hist = fetch_json(f"{live_url}/api/history?n={HISTORY_N}")
    except EngineUnreachable:
        hist = None
    return state, hist if isinstance(hist, dict) else None


# --------------------------------------------------------------------------- formatting


def _num(x: object) -> float | None:
    """A finite float, or None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _get(d: object, *keys: str) -> object:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _table_of(d: Mapping, key: str) -> Mapping:
    """``d[key]`` when it is a mapping, else {} (a missing or malformed part of the engine's answer)."""
    v = d.get(key)
    return v if isinstance(v, Mapping) else {}


def fmt_lots(x: object) -> str:
    """Signed lots, e.g. ``+12.5``; '—' when missing."""
    v = _num(x)
    return "—" if v is None else f"{v + 0.0:+.6g}"


def fmt_price(x: object) -> str:
    v = _num(x)
    return "—" if v is None else f"{v:.10g}"


def fmt_signed(x: object) -> str:
    v = _num(x)
    return "—" if v is None else f"{v + 0.0:+.6g}"


def fmt_ts(ns: object, date: bool = True) -> str:
    """Epoch ns as UTC time, e.g. ``2024-05-01 13:30:00.123 UTC``; '—' when missing."""
    if isinstance(ns, bool) or not isinstance(ns, int):
        return "—"
    t = _dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=_dt.UTC)
    ms = (ns % 1_000_000_000) // 1_000_000
    return t.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S") + f".{ms:03d}" + (" UTC" if date else "")


def axis_times(ts: Sequence) -> list[str]:
    """Epoch ns → plotly date strings (UTC, ms)."""
    ok = [t if isinstance(t, int) and not isinstance(t, bool) else 0 for t in ts]
    if not ok:
        return []
    s = np.datetime_as_string(np.array(ok, dtype=np.int64).astype("datetime64[ns]"), unit="ms")
    return np.char.replace(s, "T", " ").tolist()


def _series(hist: Mapping, key: str, n: int) -> list:
    v = hist.get(key)
    if not isinstance(v, list):
        return [None] * n
    return [_num(x) for x in v[:n]] + [None] * max(0, n - len(v))


# --------------------------------------------------------------------------- figures

_X_TITLE = "exchange time (UTC)"


def _base_layout(y_title: str, revision: str) -> dict:
    return {
        "margin": {"l": 64, "r": 10, "t": 30, "b": 45},
        "height": 300,
        "uirevision": revision,
        "xaxis": {"title": {"text": _X_TITLE}, "type": "date"},
        "yaxis": {"title": {"text": y_title}, "zeroline": True},
        "legend": {"orientation": "h", "y": 1.14, "x": 0},
        "plot_bgcolor": "#fbfcfe",
    }


def _line(name: str, x: list, y: list, color: str, dash: str = "solid", width: float = 2) -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y,
        "line": {"color": color, "dash": dash, "width": width, "shape": "hv"},
        "connectgaps": False,
    }


def position_figure(state: Mapping, hist: Mapping) -> dict:
    """Position and target (lots) over time, with the ± zone bands shaded and the ± limit dashed."""
    x = axis_times(hist.get("ts") or [])
    pos, tgt = _series(hist, "position", len(x)), _series(hist, "target", len(x))
    limit = _num(state.get("limit"))
    zones = _table_of(state, "zones")
    levels = sorted((v, name) for name in ZONE_LEVELS if (v := _num(zones.get(name))) is not None and v > 0)
    seen = [abs(v) for v in pos + tgt if v is not None]
    top = 1.12 * max([limit or 0.0, *(v for v, _ in levels), *seen, 1e-9])
    shapes = []
    for i, (lo, name) in enumerate(levels):
        hi = levels[i + 1][0] if i + 1 < len(levels) else top
        for a, b in ((lo, hi), (-hi, -lo)):
            shapes.append(
                {
                    "type": "rect",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": a,
                    "y1": b,
                    "fillcolor": COLORS[name],
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
    annotations = [
        {
            "text": f"{name} ≥ {v:g}",
            "x": 1,
            "xref": "paper",
            "xanchor": "right",
            "y": v,
            "yref": "y",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 10, "color": "#5b6475"},
        }
        for v, name in levels
    ]
    if limit is not None and limit > 0:
        for s in (-limit, limit):
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": s,
                    "y1": s,
                    "line": {"color": COLORS["limit"], "dash": "dash", "width": 1.5},
                }
            )
        annotations.append(
            {
                "text": f"limit ±{limit:g} lots",
                "x": 0,
                "xref": "paper",
                "xanchor": "left",
                "y": limit,
                "yref": "y",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 10, "color": COLORS["limit"]},
            }
        )
    lay = _base_layout("position (lots)", "live-position")
    lay["yaxis"]["range"] = [-top, top]
    lay.update(shapes=shapes, annotations=annotations)
    return {
        "data": [_line("position", x, pos, COLORS["position"]), _line("target", x, tgt, COLORS["target"], "dash")],
        "layout": lay,
    }


def quotes_figure(hist: Mapping) -> dict:
    """Our bid/ask against the market's bid/ask/mid (price units) over time."""
    x = axis_times(hist.get("ts") or [])
    s = {k: _series(hist, k, len(x)) for k in ("bid", "ask", "mid", "quote_bid", "quote_ask")}
    data = [
        _line("market bid", x, s["bid"], COLORS["bid"], "dot", 1.2),
        _line("market ask", x, s["ask"], COLORS["ask"], "dot", 1.2),
        _line("mid", x, s["mid"], COLORS["mid"], "dash", 1.2),
        _line("our bid", x, s["quote_bid"], COLORS["bid"]),
        _line("our ask", x, s["quote_ask"], COLORS["ask"]),
    ]
    lay = _base_layout("price (price units)", "live-quotes")
    lay["yaxis"]["zeroline"] = False
    return {"data": data, "layout": lay}


def pnl_unit(state: Mapping) -> str:
    """The PnL's unit: the contract's settlement currency from ``/api/state`` (BTC for an inverse
    COIN-M contract), else :data:`PNL_UNIT`."""
    return str(_get(state, "contract", "settlement_currency") or PNL_UNIT)


def pnl_figure(hist: Mapping, unit: str = PNL_UNIT) -> dict:
    """Total PnL over time, in ``unit``."""
    x = axis_times(hist.get("ts") or [])
    return {
        "data": [_line("PnL total", x, _series(hist, "pnl", len(x)), COLORS["pnl"])],
        "layout": _base_layout(f"PnL ({unit})", "live-pnl"),
    }


# --------------------------------------------------------------------------- the view


def _alert_items(alerts: object) -> list:
    items = []
    for a in reversed(alerts if isinstance(alerts, list) else []):
        if not isinstance(a, Mapping):
            continue
        level = str(a.get("level") or "info")
        items.append(
            html.Li(
                className=f"alert alert-{level}",
                children=[
                    html.Span(fmt_ts(a.get("ts"), date=False), className="alert-time"),
                    html.Span(level, className="alert-level"),
                    html.Span(str(a.get("kind") or ""), className="alert-kind"),
                    html.Span(str(a.get("message") or ""), className="alert-msg"),
                ],
            )
        )
    return items or [html.Li("no alerts", className="alert alert-none")]


def _orders_text(orders: object) -> str:
    rows = [o for o in (orders if isinstance(orders, list) else []) if isinstance(o, Mapping)]
    if not rows:
        return "none"
    return " · ".join(
        f"{o.get('side', '?')} {_num(o.get('size')) or 0:g} lots @ {fmt_price(o.get('price'))} "
        f"({o.get('client_id', '')})"
        for o in rows
    )


def _hedge_summary(h: Mapping) -> str:
    action, side, qty = h.get("action"), h.get("side"), _num(h.get("qty"))
    if action in ("hedge", "flatten") and side and qty:
        return f"{str(action).capitalize()}: {side} {qty:g} lots"
    if action in (None, "none"):
        return "No hedge needed"
    return str(action)


def view(live_url: str, state: Mapping, hist: Mapping | None) -> dict[tuple[str, str], object]:
    """Every output's value for one answer of the engine (``hist`` None: the graphs are left as they are)."""
    zone = state.get("zone_name")
    if zone not in ZONE_NAMES:
        z = state.get("zone")
        zone = zone_name(z) if isinstance(z, int) else "unknown"
    killed = bool(state.get("killed"))
    hedge = _table_of(state, "hedge")
    c = _table_of(state, "counters")
    limit = _num(state.get("limit"))
    age = _num(_get(state, "quotes", "age_s"))
    out: dict[tuple[str, str], object] = {
        (STATUS_ID, "children"): (
            f"connected to {live_url} · last event {fmt_ts(state.get('ts'))}"
            + ("" if hist is not None else " · history unavailable")
        ),
        (STATUS_ID, "className"): "live-status status-ok",
        (BODY_ID, "className"): "live-grid",
        (POSITION_ID, "children"): fmt_lots(state.get("position")),
        (TARGET_ID, "children"): fmt_lots(state.get("target")),
        (LIMIT_ID, "children"): "—" if limit is None else f"±{limit:g}",
        (MODE_ID, "children"): str(state.get("mode") or "—"),
        (SESSION_ID, "children"): str(state.get("session") or "—"),
        (SEQ_ID, "children"): str(state.get("seq", "—")),
        (TS_ID, "children"): fmt_ts(state.get("ts")),
        (COUNTERS_ID, "children"): " · ".join(
            f"{label} {c.get(k, '—')}"
            for k, label in (
                ("fills", "fills"),
                ("duplicate_fills", "duplicate fills"),
                ("rejected_orders", "rejected"),
                ("orders", "orders"),
            )
        ),
        (ZONE_BADGE_ID, "children"): zone,
        (ZONE_BADGE_ID, "className"): f"badge zone-badge zone-{zone}",
        (KILLED_ID, "children"): "KILLED" if killed else "not killed",
        (KILLED_ID, "className"): "badge killed" if killed else "badge running",
        (HEDGE_BOX_ID, "className"): f"hedge-box hedge-{hedge.get('action') or 'none'}",
        (HEDGE_SUMMARY_ID, "children"): _hedge_summary(hedge),
        (hedge_id("action"), "children"): str(hedge.get("action") or "none"),
        (hedge_id("side"), "children"): str(hedge.get("side") or "—"),
        (hedge_id("qty"), "children"): "—" if _num(hedge.get("qty")) is None else f"{_num(hedge.get('qty')):g}",
        (hedge_id("method"), "children"): str(hedge.get("method") or "—"),
        (hedge_id("reason"), "children"): str(hedge.get("reason") or "—"),
        (quote_id("bid"), "children"): fmt_price(_get(state, "quotes", "bid")),
        (quote_id("ask"), "children"): fmt_price(_get(state, "quotes", "ask")),
        (quote_id("bid-size"), "children"): fmt_price(_get(state, "quotes", "bid_size")),
        (quote_id("ask-size"), "children"): fmt_price(_get(state, "quotes", "ask_size")),
        (quote_id("centre"), "children"): fmt_price(_get(state, "quotes", "centre")),
        (quote_id("skew"), "children"): fmt_signed(_get(state, "quotes", "skew")),
        (quote_id("half-spread"), "children"): fmt_price(_get(state, "quotes", "half_spread")),
        (quote_id("age"), "children"): "—" if age is None else f"{age:.1f}",
        (quote_id("market-bid"), "children"): fmt_price(_get(state, "market", "bid")),
        (quote_id("market-ask"), "children"): fmt_price(_get(state, "market", "ask")),
        (quote_id("mid"), "children"): fmt_price(_get(state, "market", "mid")),
        (ORDERS_ID, "children"): _orders_text(state.get("open_orders")),
        **{(pnl_id(p), "children"): fmt_signed(_get(state, "pnl", p)) for p in PNL_PARTS},
        **{(pnl_unit_id(p), "children"): pnl_unit(state) for p in PNL_PARTS},
        (ALERTS_ID, "children"): _alert_items(state.get("alerts")),
    }
    if hist is not None:
        out[(POSITION_GRAPH_ID, "figure")] = position_figure(state, hist)
        out[(QUOTES_GRAPH_ID, "figure")] = quotes_figure(hist)
        out[(PNL_GRAPH_ID, "figure")] = pnl_figure(hist, pnl_unit(state))
    return out


def down_view(live_url: str, reason: str) -> dict[tuple[str, str], object]:
    """The outputs when the engine cannot be read: the status says so, the last values stay (dimmed)."""
    return {
        (STATUS_ID, "children"): f"live engine not reachable at {live_url} ({reason}); "
        f"retrying every {INTERVAL_MS / 1000:g} s",
        (STATUS_ID, "className"): "live-status status-down",
        (BODY_ID, "className"): "live-grid stale",
    }


def refresh(live_url: str) -> dict[tuple[str, str], object]:
    """Poll the engine once and build the outputs; never raises."""
    try:
        state, hist = poll(live_url)
    except EngineUnreachable as e:
        return down_view(live_url, str(e))
    try:
        return view(live_url, state, hist)
    except Exception as e:  # a malformed answer must not break the page  # noqa: BLE001
        return down_view(live_url, f"unexpected answer: {type(e).__name__}: {e}")


# --------------------------------------------------------------------------- layout

GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "displaylogo": False, "responsive": True}


def _stat(label: str, elem_id: str, unit: str = "") -> html.Div:
    parts = [html.Span(label, className="stat-label"), html.Span("…", id=elem_id, className="stat-value")]
    return html.Div(className="stat", children=parts + ([html.Span(unit, className="unit")] if unit else []))


def _table(rows: Sequence[tuple[str, str, str]], elem_id: str, unit_ids: bool = False) -> html.Table:
    """Readout rows (label, value id, unit); ``unit_ids``: the unit cells get ids ``<value id>-unit``
    (units the refresh fills in, e.g. the PnL's settlement currency)."""
    return html.Table(
        className="readouts",
        id=elem_id,
        children=[
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Th(label),
                            html.Td("…", id=vid, className="num"),
                            html.Td(unit, className="unit", id=f"{vid}-unit")
                            if unit_ids
                            else html.Td(unit, className="unit"),
                        ]
                    )
                    for label, vid, unit in rows
                ]
            )
        ],
    )


def build_layout(live_url: str = DEFAULT_LIVE_URL) -> html.Div:
    """The dashboard page."""
    summary = html.Div(
        className="card live-summary",
        children=[
            _stat("Position", POSITION_ID, "lots"),
            _stat("Target", TARGET_ID, "lots"),
            _stat("Limit", LIMIT_ID, "lots"),
            _stat("Mode", MODE_ID),
            _stat("Session", SESSION_ID),
            _stat("Seq", SEQ_ID),
            _stat("Last event", TS_ID),
            _stat("Counters", COUNTERS_ID),
        ],
    )
    position = html.Div(
        className="card panel",
        id=POSITION_PANEL_ID,
        children=[
            html.H3("Position vs target, risk zones and limit"),
            dcc.Graph(id=POSITION_GRAPH_ID, config=GRAPH_CONFIG, className="live-graph"),
            html.P(
                "Shaded: the yellow, red and critical zones (|position| ≥ threshold, lots); dashed: the ± limit.",
                className="footnote",
            ),
        ],
    )
    P = "price units"
    quotes = html.Div(
        className="card panel",
        id=QUOTES_PANEL_ID,
        children=[
            html.H3("Our quotes vs the market"),
            dcc.Graph(id=QUOTES_GRAPH_ID, config=GRAPH_CONFIG, className="live-graph"),
            _table(
                [
                    ("Our bid", quote_id("bid"), P),
                    ("Our ask", quote_id("ask"), P),
                    ("Bid size", quote_id("bid-size"), "lots"),
                    ("Ask size", quote_id("ask-size"), "lots"),
                    ("Quote centre", quote_id("centre"), P),
                    ("Skew (centre − mid)", quote_id("skew"), P),
                    ("Half-spread", quote_id("half-spread"), P),
                    ("Quote age", quote_id("age"), "s"),
                    ("Market bid", quote_id("market-bid"), P),
                    ("Market ask", quote_id("market-ask"), P),
                    ("Mid", quote_id("mid"), P),
                ],
                "live-quote-readouts",
            ),
            html.P(["Open orders: ", html.Span("…", id=ORDERS_ID)], className="footnote"),
        ],
    )
    pnl = html.Div(
        className="card panel",
        id=PNL_PANEL_ID,
        children=[
            html.H3("PnL and its attribution"),
            dcc.Graph(id=PNL_GRAPH_ID, config=GRAPH_CONFIG, className="live-graph"),
            _table(
                [
                    (label, pnl_id(p), PNL_UNIT)
                    for p, label in zip(
                        PNL_PARTS,
                        (
                            "Total",
                            "Spread captured",
                            "Adverse selection",
                            "Inventory (mark-to-market)",
                            "Fees",
                            "Financing",
                        ),
                    )
                ],
                "live-pnl-table",
                unit_ids=True,
            ),
        ],
    )
    hedge = html.Div(
        className="card panel",
        id=HEDGE_PANEL_ID,
        children=[
            html.H3("Risk zone and hedge recommendation"),
            html.Div(
                className="badges",
                children=[
                    html.Span("Zone", className="stat-label"),
                    html.Span("…", id=ZONE_BADGE_ID, className="badge zone-badge"),
                    html.Span("Kill switch", className="stat-label"),
                    html.Span("…", id=KILLED_ID, className="badge"),
                ],
            ),
            html.Div(
                id=HEDGE_BOX_ID,
                className="hedge-box",
                children=[
                    html.Div("…", id=HEDGE_SUMMARY_ID, className="hedge-summary"),
                    _table(
                        [
                            ("Action", hedge_id("action"), ""),
                            ("Side", hedge_id("side"), ""),
                            ("Quantity", hedge_id("qty"), "lots"),
                            ("Method", hedge_id("method"), ""),
                            ("Reason", hedge_id("reason"), ""),
                        ],
                        "live-hedge-table",
                    ),
                ],
            ),
        ],
    )
    alerts = html.Div(
        className="card panel live-alerts-panel",
        id=ALERTS_PANEL_ID,
        children=[
            html.H3("Alerts (newest first)"),
            html.Ul([html.Li("…", className="alert alert-none")], id=ALERTS_ID, className="alerts"),
        ],
    )
    return html.Div(
        className="page live-page",
        children=[
            html.Header(
                [
                    html.H1("flatbook · live dashboard"),
                    html.P(
                        [
                            "Engine API: ",
                            html.Code(live_url),
                            f"; refreshed every {INTERVAL_MS} ms. ",
                            dcc.Link("← Inventory-skew explainer", href="/", id=NAV_EXPLAINER_ID, className="nav-link"),
                        ],
                        className="intro",
                    ),
                ]
            ),
            html.P(f"connecting to {live_url} …", id=STATUS_ID, className="live-status status-wait"),
            summary,
            html.Div(id=BODY_ID, className="live-grid", children=[position, quotes, pnl, hedge, alerts]),
            dcc.Interval(id=INTERVAL_ID, interval=INTERVAL_MS, n_intervals=0),
        ],
    )


def register(app, live_url: str = DEFAULT_LIVE_URL) -> None:
    """Attach the refresh callback (one poll of the engine per interval tick)."""
    from dash import Input, Output, no_update

    @app.callback([Output(i, p) for i, p in OUTPUTS], Input(INTERVAL_ID, "n_intervals"))
    def _refresh(_n):
        vals = refresh(live_url)
        return [vals.get(k, no_update) for k in OUTPUTS]


CSS = """
.nav-link { color:var(--on); font-weight:600; text-decoration:none; white-space:nowrap; }
.nav-link:hover { text-decoration:underline; }
.live-status { margin:8px 0; padding:6px 10px; border-radius:6px; font-weight:600; }
.status-ok { background:#e8f6ee; border-left:3px solid var(--accent); color:#0b5a3d; }
.status-wait { background:#eef4ff; border-left:3px solid var(--on); }
.status-down { background:#fdecea; border-left:3px solid var(--off); color:#8e1c10; }
.live-summary { display:flex; flex-wrap:wrap; gap:6px 22px; margin-bottom:12px; }
.stat { display:flex; gap:5px; align-items:baseline; }
.stat-label { color:var(--muted); font-size:12px; }
.stat-value { font-weight:600; font-variant-numeric: tabular-nums; }
.live-grid { display:grid; grid-template-columns: repeat(3, minmax(0,1fr)); gap:14px; align-items:start; }
.live-grid.stale { opacity:.5; }
.live-alerts-panel { grid-column: span 2; }
@media (max-width: 1200px) { .live-grid { grid-template-columns: 1fr; } .live-alerts-panel { grid-column:auto; } }
.live-graph { height:300px; }
.badges { display:flex; gap:8px; align-items:center; margin-bottom:10px; }
.badge { display:inline-block; padding:2px 10px; border-radius:10px; font-weight:700; border:1px solid var(--line); }
.zone-none { background:#e8f6ee; color:#0b5a3d; }
.zone-yellow { background:#f1c40f; color:#3d3000; }
.zone-red { background:#e74c3c; color:#fff; }
.zone-critical { background:#780000; color:#fff; }
.killed { background:#1d2433; color:#fff; }
.running { background:#e8f6ee; color:#0b5a3d; }
.hedge-box { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.hedge-hedge { border-color:#f1c40f; background:#fffbea; }
.hedge-flatten { border-color:var(--off); background:#fdecea; }
.hedge-summary { font-size:16px; font-weight:700; margin-bottom:6px; }
.alerts { list-style:none; margin:0; padding:0; max-height:320px; overflow-y:auto; }
.alert { display:flex; gap:10px; padding:4px 6px; border-bottom:1px solid var(--line); }
.alert-time { font-variant-numeric: tabular-nums; color:var(--muted); white-space:nowrap; }
.alert-level { font-weight:700; text-transform:uppercase; font-size:11.5px; min-width:62px; }
.alert-kind { color:var(--muted); white-space:nowrap; }
.alert-warning { background:#fffbea; }
.alert-critical { background:#fdecea; }
.alert-critical .alert-level { color:var(--off); }
.alert-none { color:var(--muted); }
"""
