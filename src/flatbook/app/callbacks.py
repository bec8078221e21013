"""The explainer's computations (plain functions) and their Dash wiring (:func:`register`).

Every number comes from flatbook itself: the quote panel calls
:func:`flatbook.policies.quote.quote` / :func:`~flatbook.policies.quote.quotes`
on a config built by :func:`flatbook.config.build_config` from the
``worked-example`` preset; the path panel calls
:func:`flatbook.sim.simulator.simulate` on the same config for the skew-off
(symmetric) and skew-on policies with one seed, so both see the same order
flow (common random numbers). Path results are memoised per parameter set.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TypedDict

import numba
import numpy as np

from ..config import RunConfig, build_config
from ..policies.quote import Quote, quote, quotes
from ..sim.simulator import simulate
from . import explain
from . import layout as L

BASE_PRESET = "worked-example"
PATHS = 64  # Monte Carlo paths per side in the path panel
SEED = 0
Q_GRID = np.arange(-50.0, 50.5, 0.5)  # lots: the quote panel's x axis

_SIM_LOCK = threading.Lock()  # the kernel is numba-parallel: one simulation at a time

COLORS = {
    "mid": "#8a93a6",
    "centre": "#7b3fb8",
    "bid": "#0b7a53",
    "ask": "#c0392b",
    "off": "#c0392b",
    "on": "#1f6feb",
    "limit": "#5b6475",
}


# --------------------------------------------------------------------------- state → config


def limit_lots(raw: float) -> float:
    """The limit slider's value in lots; its last stop means no limit (inf)."""
    return math.inf if raw is None or raw >= L.LIMIT_NONE else float(raw)


def skew_on_policy(policy: str) -> str:
    """The policy of the skew-on path: the chosen one, or linear skew when it is symmetric."""
    return "linear-skew" if policy == "symmetric" else policy


def overrides(values: Mapping[str, float]) -> dict[str, float]:
    """Slider values → ``build_config`` overrides of the worked-example preset."""
    return {
        "gamma": float(values["gamma"]),
        "sigma": float(values["sigma"]),
        "skew": float(values["skew"]),
        "half_spread": float(values["half_spread"]),
        "k": float(values["k"]),
        "limit": limit_lots(values["limit"]),
        "flow_bias": float(values["flow_bias"]),
    }


def config_for(policy: str, values: Mapping[str, float], paths: int = 1) -> RunConfig:
    """A validated flatbook config for this policy and these slider values."""
    return build_config(BASE_PRESET, policy, overrides(values), paths=paths, seed=SEED)


def time_of(cfg: RunConfig, tau: float) -> float:
    """The time t (arrivals) at which T − t = tau."""
    T = cfg.values["T"]
    return min(max(T - float(tau), 0.0), T)


# --------------------------------------------------------------------------- quote panel


def quote_state(policy: str, values: Mapping[str, float]) -> Quote:
    """flatbook's quote for the panel's state (q, T − t) at the mid."""
    cfg = config_for(policy, values)
    return quote(cfg, float(values["q"]), L.MID, time_of(cfg, values["tau"]))


def fmt_price(x: float | None) -> str:
    """A price with 3 decimals, or 'not quoted'."""
    return "not quoted" if x is None else f"{x:.3f}"


def fmt_signed(x: float, nd: int = 3) -> str:
    # avoid "-0.000"
    v = round(x, nd)
    return f"{0.0 if v == 0 else v:+.{nd}f}"


class QuoteReadouts(TypedDict):
    """:func:`quote_readouts`: the quote, its numbers and texts by readout, and the plain-language line."""

    quote: Quote
    num: dict[str, float | None]
    text: dict[str, str]
    sentence: str


def quote_readouts(policy: str, values: Mapping[str, float]) -> QuoteReadouts:
    """The quote panel's readouts: raw numbers (keys as in ``layout.QUOTE_READOUTS``) and texts."""
    qt = quote_state(policy, values)
    q = qt.q
    slope = -qt.skew / q if q != 0 else None
    num: dict[str, float | None] = {
        "mid": qt.mid,
        "centre": qt.centre,
        "bid": qt.bid,
        "ask": qt.ask,
        "skew": qt.skew,
        "given-up": abs(qt.skew),
        "half-spread": qt.half_spread,
        "slope": slope,
    }
    text = {
        "mid": fmt_price(qt.mid),
        "centre": fmt_price(qt.centre),
        "bid": fmt_price(qt.bid),
        "ask": fmt_price(qt.ask),
        "skew": fmt_signed(qt.skew),
        "given-up": f"{round(abs(qt.skew), 3):.3f}",
        "half-spread": f"{qt.half_spread:.3f}",
        "slope": "— (q = 0)" if slope is None else f"{0.0 if round(slope, 4) == 0 else slope:.4f}",
    }
    return {"quote": qt, "num": num, "text": text, "sentence": quote_sentence(policy, values, qt)}


def quote_sentence(policy: str, values: Mapping[str, float], qt: Quote) -> str:
    """One plain-language line about the current quote."""
    q, lim = qt.q, limit_lots(values["limit"])
    parts = []
    if qt.bid is None or qt.ask is None:
        side, other = ("bid", "ask") if qt.bid is None else ("ask", "bid")
        parts.append(
            f"|q| = {abs(q):g} lots is at the hard limit ({lim:g} lots): the {side} would grow the "
            f"position, so it is not quoted; only the {other}, which flattens you, is shown."
        )
    if policy == "symmetric":
        parts.append(
            f"Symmetric quoting: bid and ask stay {qt.half_spread:.3f} either side of the mid "
            "whatever q is, so nothing pulls the position back."
        )
    elif q == 0:
        parts.append("Flat book: no skew, the quotes sit symmetrically around the mid. Move q away from 0.")
    elif round(qt.skew, 6) == 0:
        why = (
            "σ = 0 or T − t = 0"
            if policy == "avellaneda-stoikov"
            else "σ = 0"
            if policy == "glft"
            else "the skew strength is 0"
            if policy == "linear-skew"
            else f"{policy} quotes no skew at these values"
        )
        parts.append(f"The skew is 0 here because {why}: the quotes do not lean against q.")
    else:
        long_ = q > 0
        way = "below" if long_ else "above"
        parts.append(
            f"{'Long' if long_ else 'Short'} {abs(q):g} lots: both quotes are shaded "
            f"{abs(qt.skew):.3f} {way} a flat book's."
        )
        keen, stingy = ("ask", "bid") if long_ else ("bid", "ask")
        px = {"bid": qt.bid, "ask": qt.ask}
        because = {
            "ask": ("buyers lift it and you sell down toward flat", "fewer sellers hit it"),
            "bid": ("sellers hit it and you buy back toward flat", "fewer buyers lift it"),
        }
        keen_px, stingy_px = px[keen], px[stingy]
        if keen_px is not None:
            parts.append(
                f"Keener {keen}: {keen_px:.3f} ({fmt_signed(keen_px - qt.mid)} from the mid), so {because[keen][0]}."
            )
        if stingy_px is not None:
            parts.append(
                f"Stingier {stingy}: {stingy_px:.3f} ({fmt_signed(stingy_px - qt.mid)}), so {because[stingy][1]}."
            )
    return " ".join(parts)


def _nan_to_none(a: np.ndarray) -> list:
    return [None if not math.isfinite(x) else float(x) for x in a]


def quote_figure(policy: str, values: Mapping[str, float], qt: Quote) -> dict:
    """Bid, ask, centre and mid against inventory, with the current state marked (a plotly figure dict)."""
    cfg = config_for(policy, values)
    r = quotes(cfg, L.MID, Q_GRID, time_of(cfg, values["tau"]))
    x = Q_GRID.tolist()
    centre_name = "reservation price" if policy in ("avellaneda-stoikov", "glft") else "quote centre"
    line = lambda name, y, color, dash="solid", width=2: {  # noqa: E731
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y,
        "hoverinfo": "x+y+name",
        "line": {"color": color, "dash": dash, "width": width},
    }
    traces = [
        line("mid", [L.MID] * len(x), COLORS["mid"], "dot", 1.5),
        line(centre_name, _nan_to_none(r["centre"]), COLORS["centre"], "dash"),
        line("bid", _nan_to_none(r["bid"]), COLORS["bid"]),
        line("ask", _nan_to_none(r["ask"]), COLORS["ask"]),
    ]
    pts = [(qt.bid, COLORS["bid"], "bid"), (qt.ask, COLORS["ask"], "ask"), (qt.centre, COLORS["centre"], centre_name)]
    pts = [p for p in pts if p[0] is not None]
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "showlegend": False,
            "hoverinfo": "y+text",
            "x": [qt.q] * len(pts),
            "y": [p[0] for p in pts],
            "text": [p[2] for p in pts],
            "marker": {"size": 10, "color": [p[1] for p in pts], "line": {"color": "white", "width": 1}},
        }
    )
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": qt.q,
            "x1": qt.q,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#1d2433", "width": 1},
        }
    ]
    lim = limit_lots(values["limit"])
    if math.isfinite(lim):
        for s in (-lim, lim):
            if Q_GRID[0] <= s <= Q_GRID[-1]:
                shapes.append(
                    {
                        "type": "line",
                        "xref": "x",
                        "yref": "paper",
                        "x0": s,
                        "x1": s,
                        "y0": 0,
                        "y1": 1,
                        "line": {"color": COLORS["limit"], "dash": "dash", "width": 1},
                    }
                )
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 60, "r": 10, "t": 30, "b": 45},
            "height": 330,
            "xaxis": {"title": {"text": "inventory q (lots)"}, "zeroline": False, "range": [Q_GRID[0], Q_GRID[-1]]},
            "yaxis": {"title": {"text": "price (price units)"}, "zeroline": False},
            "legend": {"orientation": "h", "y": 1.1, "x": 0},
            "shapes": shapes,
            "uirevision": "quote",
            "plot_bgcolor": "#fbfcfe",
            "annotations": [
                {
                    "text": f"q = {qt.q:+g}",
                    "x": qt.q,
                    "xref": "x",
                    "y": 0,
                    "yref": "paper",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 11},
                }
            ],
        },
    }


# --------------------------------------------------------------------------- path panel


def _path_args(policy: str, values: Mapping[str, float]) -> tuple[str, tuple[float, ...]]:
    return policy, tuple(float(limit_lots(values[k]) if k == "limit" else values[k]) for k in L.PATH_KEYS)


@lru_cache(maxsize=256)
def _simulate_cached(policy: str, args: tuple[float, ...]) -> dict:
    values = dict(zip(L.PATH_KEYS, args))
    cfg = config_for(policy, values, paths=PATHS)
    with _SIM_LOCK:
        before = numba.get_num_threads()
        numba.set_num_threads(1)  # 64 × 235 path-steps: one thread beats waking the pool (≈1.5 vs ≈15 ms)
        try:
            res = simulate(cfg, record_paths=range(PATHS))
        finally:
            numba.set_num_threads(before)
    s = res.summary
    keep = (
        "max_abs_q_mean",
        "q_std_mean",
        "spread_given_up_mean",
        "pnl_mean",
        "time_at_limit_frac",
        "fills_mean",
        "final_q_mean",
    )
    return {
        "policy": policy,
        "summary": {k: float(s[k]) for k in keep},
        "limit": cfg.values["limit"],
        "t": res.series["t"].tolist(),
        "q": res.series["q"],
        "q_mean": res.per_path["q_mean"],
        "steps": cfg.steps,
    }


def typical_path(q_mean: np.ndarray) -> int:
    """The path whose time-average q is closest to the paths' median (lowest index on ties): the one drawn."""
    med = float(np.median(q_mean))
    return int(np.argmin(np.abs(q_mean - med)))


def path_results(policy: str, values: Mapping[str, float]) -> dict[str, dict]:
    """Skew-off (symmetric) and skew-on simulations on the same seed.

    Each side has the summaries of its ``PATHS`` paths and ``path``, the inventory series of the
    path drawn: the same path index (so the same orders and fill draws) for both, chosen as the
    skew-off side's typical path (:func:`typical_path`).
    """
    off = _simulate_cached(*_path_args("symmetric", values))
    on = _simulate_cached(*_path_args(skew_on_policy(policy), values))
    i = typical_path(off["q_mean"])
    return {side: dict(r, index=i, path=_nan_to_none(r["q"][i])) for side, r in (("off", off), ("on", on))}


def _side_label(policy: str, values: Mapping[str, float]) -> str:
    name = L.policy_labels()[policy]
    if policy == "symmetric":
        return f"{name}, h = {values['half_spread']:g}"
    if policy == "linear-skew":
        return f"{name}, {values['skew']:g} per lot"
    if policy in ("avellaneda-stoikov", "glft"):
        return f"{name}, γ = {values['gamma']:g}"
    return name  # a user policy: its own parameters take their defaults


def path_readouts(policy: str, values: Mapping[str, float]) -> dict[str, dict[str, str]]:
    """Formatted path readouts, ``{metric: {"off": text, "on": text}}``, plus the column headers."""
    res = path_results(policy, values)
    out: dict[str, dict[str, str]] = {m: {} for m in L.PATH_METRICS}
    for side, r in res.items():
        s = r["summary"]
        out["maxq"][side] = f"{s['max_abs_q_mean']:.1f}"
        out["std"][side] = f"{s['q_std_mean']:.2f}"
        out["given-up"][side] = f"{s['spread_given_up_mean']:.2f}"
        out["pnl"][side] = f"{s['pnl_mean']:.2f}"
        out["at-limit"][side] = f"{100 * s['time_at_limit_frac']:.0f}%" if math.isfinite(r["limit"]) else "— (no limit)"
    out["head"] = {
        "off": f"skew off: {_side_label('symmetric', values)}",
        "on": f"skew on: {_side_label(skew_on_policy(policy), values)}",
    }
    return out


def path_figure(policy: str, values: Mapping[str, float]) -> dict:
    """Inventory path 0 for skew off and skew on, with the hard limits (a plotly figure dict)."""
    res = path_results(policy, values)
    heads = {
        "off": f"skew off ({_side_label('symmetric', values)})",
        "on": f"skew on ({_side_label(skew_on_policy(policy), values)})",
    }
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": heads[side],
            "x": r["t"],
            "y": r["path"],
            "line": {"color": COLORS[side], "width": 2, "shape": "hv"},
        }
        for side, r in res.items()
    ]
    lim = res["off"]["limit"]
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": 0,
            "y1": 0,
            "line": {"color": "#8a93a6", "width": 1, "dash": "dot"},
        }
    ]
    annotations = []
    if math.isfinite(lim):
        for y in (-lim, lim):
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": y,
                    "y1": y,
                    "line": {"color": COLORS["limit"], "dash": "dash", "width": 1.5},
                }
            )
        annotations.append(
            {
                "text": f"hard limit ±{lim:g} lots",
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "y": lim,
                "yref": "y",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": COLORS["limit"]},
            }
        )
    ys = [abs(v) for r in res.values() for v in r["path"] if v is not None]
    top = max([10.0, *ys, lim if math.isfinite(lim) else 0.0]) * 1.1
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 60, "r": 10, "t": 30, "b": 45},
            "height": 330,
            "xaxis": {"title": {"text": "time (market-order arrivals)"}, "zeroline": False},
            "yaxis": {"title": {"text": "inventory q (lots)"}, "range": [-top, top], "zeroline": False},
            "legend": {"orientation": "h", "y": 1.1, "x": 0},
            "shapes": shapes,
            "annotations": annotations,
            "plot_bgcolor": "#fbfcfe",
        },
    }


# --------------------------------------------------------------------------- value labels


def value_labels(values: Mapping[str, float]) -> dict[str, str]:
    """Short text next to a slider where its number needs reading: q, the limit, the flow."""
    buy = 0.5 + float(values["flow_bias"])
    lim = limit_lots(values["limit"])
    out = {k: "" for k in L.KEYS}
    out.update(
        q=f"{float(values['q']):+g} lots",
        limit="none" if math.isinf(lim) else f"{lim:g} lots",
        flow_bias=f"{100 * (1 - buy):.0f}% sells / {100 * buy:.0f}% buys",
    )
    return out


# --------------------------------------------------------------------------- warm-up and wiring


def warm_up() -> None:
    """Compile/load the kernels and precompute every preset's paths, so the first clicks are fast."""
    for p in L.PRESETS:
        vals = dict(L.initial_state()[1])
        vals.update(p.values)
        for pol in L.policy_labels():
            quote_readouts(pol, vals)
            quote_figure(pol, vals, quote_state(pol, vals))
        path_results(p.policy, vals)
        path_results("avellaneda-stoikov" if p.policy != "avellaneda-stoikov" else "glft", vals)


def _values(args: Sequence[float]) -> dict[str, float] | None:
    if any(a is None for a in args):
        return None
    return dict(zip(L.KEYS, args))


def register(app) -> None:
    """Attach the callbacks to a Dash app built with :func:`flatbook.app.layout.build_layout`."""
    from dash import Input, Output, ctx
    from dash.exceptions import PreventUpdate

    slider_inputs = [Input(s.id, "value") for s in L.SLIDERS]

    @app.callback(
        [Output(L.POLICY_ID, "value")]
        + [Output(s.id, "value") for s in L.SLIDERS]
        + [Output(L.PRESET_NOTE_ID, "children")],
        [Input(L.preset_button_id(p.key), "n_clicks") for p in L.PRESETS],
        prevent_initial_call=True,
    )
    def apply_preset(*_clicks):
        key = str(ctx.triggered_id or "").removeprefix("preset-")
        if key not in L.PRESET:
            raise PreventUpdate
        p = L.PRESET[key]
        vals = {s.key: s.default for s in L.SLIDERS}
        vals.update(p.values)
        return [p.policy] + [vals[k] for k in L.KEYS] + [explain.PRESET_NOTES[key]]

    @app.callback(
        [Output(L.readout_id(n), "children") for n in L.QUOTE_READOUTS]
        + [Output(L.readout_id(n), "className") for n in ("bid", "ask")]
        + [
            Output(L.readout_id("centre") + "-label", "children"),
            Output(L.QUOTE_SENTENCE_ID, "children"),
            Output(L.QUOTE_GRAPH_ID, "figure"),
        ]
        + [Output(L.value_label_id(k), "children") for k in L.KEYS],
        [Input(L.POLICY_ID, "value")] + slider_inputs,
    )
    def update_quote(policy, *args):
        values = _values(args)
        if values is None or policy not in L.policy_labels():
            raise PreventUpdate
        r = quote_readouts(policy, values)
        qt = r["quote"]
        cls = ["num not-quoted" if x is None else "num" for x in (qt.bid, qt.ask)]
        centre_label = "Reservation price" if policy in ("avellaneda-stoikov", "glft") else "Quote centre"
        labels = value_labels(values)
        return (
            [r["text"][n] for n in L.QUOTE_READOUTS]
            + cls
            + [centre_label, r["sentence"], quote_figure(policy, values, qt)]
            + [labels[k] for k in L.KEYS]
        )

    path_keys = [L.KEYS.index(k) for k in L.PATH_KEYS]

    @app.callback(
        [Output(L.path_readout_id(m, s), "children") for m in L.PATH_METRICS for s in L.SIDES]
        + [Output(L.path_header_id(s), "children") for s in L.SIDES]
        + [Output(L.PATH_GRAPH_ID, "figure"), Output("path-footnote", "children")],
        [Input(L.POLICY_ID, "value")] + [slider_inputs[i] for i in path_keys],
    )
    def update_paths(policy, *args):
        if any(a is None for a in args) or policy not in L.policy_labels():
            raise PreventUpdate
        values = dict(zip(L.PATH_KEYS, args))
        r = path_readouts(policy, values)
        res = path_results(policy, values)
        note = explain.PATH_FOOTNOTE.format(paths=PATHS, steps=res["off"]["steps"], index=res["off"]["index"])
        return (
            [r[m][s] for m in L.PATH_METRICS for s in L.SIDES]
            + [r["head"][s] for s in L.SIDES]
            + [path_figure(policy, values), note]
        )
