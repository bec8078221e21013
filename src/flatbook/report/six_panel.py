"""Six-panel simulation figure (3 x 2 grid) written to PNG.

Reproduces the mini-project figure of the seed document
"inventory-management-framework.txt" (seed 000, section 5) -- price and
quotes, inventory, quoted spread, inventory-vs-spread (Stoll regression),
cumulative PnL and the inventory histogram -- with the axes/units
improvements: every axis labelled with units, a real time axis, hard-limit /
soft-zone / target reference lines, gaps where a side was not quoted, and a
Stoll regression of the spread on |q − q*| with time held fixed, its slope
printed as b ± SE in price units per lot (:func:`flatbook.sim.metrics.stoll_regression`).
Axis ranges, the quote-depth axis and the printing of estimates follow
:mod:`.figure_rules`, shared with the HTML report.

Only :class:`matplotlib.figure.Figure` and the Agg canvas are used (never
pyplot's global state), so building and writing figures is headless and safe
to do from several threads at once.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..controls.zones import ZONE_LEVELS
from ..fileio import atomic_file
from ..policies.registry import policy_spec
from ..sim.metrics import StollFit, stoll_regression
from .figure_rules import depth_clip, display_range, estimate_text, limit_off_axis, quotes_hidden, repeated_points
from .six_panel_model import LEVELS, six_panel_model

if TYPE_CHECKING:
    from ..sim.simulator import SimResult

__all__ = ["FORMATS", "REQUIRED_KEYS", "figure_title", "six_panel_figure", "stoll_label", "write_six_panel"]

#: Keys every ``series`` mapping must provide (equal-length 1-D float arrays).
REQUIRED_KEYS: tuple[str, ...] = ("t", "mid", "bid", "ask", "q", "pnl")

FIGSIZE = (14.0, 11.0)
DPI = 120
#: write_six_panel writes these formats by the file's suffix (vector ones for papers); anything else is PNG.
FORMATS = ("png", "pdf", "svg", "eps")

# Soft-zone (legend label, colour), in the order of the ``zones`` tuple: the figure model's.
_ZONE_STYLE = tuple(LEVELS[z] for z in ZONE_LEVELS)
# Display budgets. Long time series are reduced to a min/max envelope per
# bucket (visually identical at this figure's pixel width) and the scatter to a
# fixed random subsample, so drawing and legend "best" placement stay fast for
# very long series. Statistics (fit, histogram) always use all the data.
MAX_LINE_POINTS = 8_000
MAX_SCATTER_POINTS = 20_000


def _validate(series: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(series, Mapping):
        raise TypeError(f"series must be a mapping, got {type(series).__name__}")
    out: dict[str, np.ndarray] = {}
    n: int | None = None
    first = None
    for key in REQUIRED_KEYS:
        if key not in series:
            raise ValueError(f"series is missing required key {key!r}")
        try:
            arr = np.asarray(series[key], dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"series[{key!r}] is not convertible to a float array: {exc}") from exc
        if arr.ndim != 1:
            raise ValueError(f"series[{key!r}] must be 1-D, got shape {arr.shape}")
        if n is None:
            n, first = arr.shape[0], key
        elif arr.shape[0] != n:
            raise ValueError(f"series[{key!r}] has length {arr.shape[0]}, expected {n} (length of series[{first!r}])")
        out[key] = arr
    return out


def _finite_level(value: float) -> float | None:
    """abs(value) if it is a finite number, else None (not drawn)."""
    v = float(value)
    return abs(v) if math.isfinite(v) else None


def _legend(ax) -> None:
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="best", fontsize="small", framealpha=0.85)


def stoll_label(fit: StollFit, price_unit: str, per_q: str) -> str:
    """Legend text of the fitted line: b ± SE and its unit, time-controlled."""
    return f"time-controlled fit: b = {estimate_text(fit.b, fit.se, fit.level)} {price_unit} per {per_q} of |q − q*|"


def _envelope(t: np.ndarray, y: np.ndarray, max_points: int = MAX_LINE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max envelope decimation for display: at most ``max_points`` points.

    Each bucket keeps its minimum and maximum (in time order), so extremes are
    preserved; an all-NaN bucket stays NaN, so long quoting gaps stay gaps.
    Series at or below the budget are returned unchanged.
    """
    n = y.size
    if n <= max_points:
        return t, y
    k = -(-n // (max_points // 2))  # bucket length
    nb = -(-n // k)
    rows = np.concatenate([y, np.full(nb * k - n, np.nan)]).reshape(nb, k)
    nan = np.isnan(rows)
    lo = np.where(nan, np.inf, rows).argmin(axis=1)
    hi = np.where(nan, -np.inf, rows).argmax(axis=1)
    base = np.arange(nb) * k
    idx = np.column_stack([base + np.minimum(lo, hi), base + np.maximum(lo, hi)]).ravel()
    # all-NaN buckets point at a NaN sample, so y[idx] is NaN there: gap kept
    return t[idx], y[idx]


def _hist_bins(x: np.ndarray):
    """Unit-wide bins centred on integers for integer lots, else ~sqrt(n) bins."""
    lo, hi = float(x.min()), float(x.max())
    if np.all(x == np.round(x)) and hi - lo <= 200:
        return np.arange(lo - 0.5, hi + 1.5, 1.0)
    return int(np.clip(np.sqrt(x.size), 10, 80))


def six_panel_figure(
    series: Mapping[str, np.ndarray],
    *,
    limit: float = math.inf,
    zones: Sequence[float] = (math.inf, math.inf, math.inf),
    q_target: float = 0.0,
    q_hist: np.ndarray | None = None,
    title: str = "flatbook",
    time_unit: str = "time units",
    hist_title: str | None = None,
    hist_ylabel: str = "count",
    price_unit: str = "price units",
    qty_unit: str = "lots",
    pnl_unit: str = "price units × lots",
    tick: float | None = None,
) -> Figure:
    """Build the six-panel simulation figure (3 x 2 grid).

    Reproduces the mini-project figure of the seed document
    "inventory-management-framework.txt" (seed 000, section 5) with the
    axes/units improvements.

    ``series`` holds equal-length 1-D float arrays ``t``, ``mid``, ``bid``,
    ``ask``, ``q``, ``pnl``; ``bid``/``ask`` may be NaN where that side was
    not quoted (drawn as gaps). ``limit`` and the soft-zone thresholds
    ``zones`` = (yellow, red, critical) are drawn at +/- their value when
    finite. ``q_hist`` is the inventory sample for panel 6 (e.g. terminal q of
    every path); defaults to ``series["q"]``; ``hist_title`` says what it is
    (the panel title gets ``(n = …)`` appended) and ``hist_ylabel`` what is
    counted. Panel 6 also marks the hard limit. Points of panel 4 that repeat
    (discrete q and spreads) are drawn once, with marker area ∝ count.

    ``price_unit``, ``qty_unit`` and ``pnl_unit`` label the axes (a backtest
    passes its instrument's units, e.g. USDT, BTC and USDT).

    When the quotes cannot be told apart from the mid at the price axis' scale
    (:func:`quotes_hidden`), panel 1 gets a second axis below it with the quotes'
    distance from the mid, in ticks when ``tick`` (price units) is given, else in
    price units. Axes never zoom into float noise (:func:`display_range`).

    Raises ValueError (naming the key) for a missing key or unequal lengths.
    The Stoll regression of panel 4 (spread on |q − q*|, time controlled; see
    :func:`flatbook.sim.metrics.stoll_regression`) is attached as
    ``fig.flatbook_stoll_fit``: a :class:`~flatbook.sim.metrics.StollFit`, or None;
    the axes by role as ``fig.flatbook_axes`` (price, depth (None unless drawn),
    inventory, spread, stoll, pnl, hist).
    """
    s = _validate(series)
    zones = tuple(zones)
    if len(zones) != 3:
        raise ValueError(f"zones must be (yellow, red, critical), got {len(zones)} values")
    t, mid, bid, ask, q, pnl = (s[k] for k in REQUIRED_KEYS)
    spread = ask - bid  # NaN whenever either side is missing
    time_label = f"time ({time_unit})"
    pu, qu = price_unit, qty_unit
    per_q = qu[:-1] if qu in ("lots", "shares", "contracts", "units") else qu  # "per lot", "per share", "per BTC"

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(3, 2)
    depth_panel = quotes_hidden(mid, bid, ask)
    if depth_panel:
        top = gs[0, 0].subgridspec(2, 1, height_ratios=(3, 2), hspace=0.0)
        ax_px = fig.add_subplot(top[0])
        ax_depth = fig.add_subplot(top[1], sharex=ax_px)
    else:
        ax_px, ax_depth = fig.add_subplot(gs[0, 0]), None
    ax_q = fig.add_subplot(gs[0, 1], sharex=ax_px)
    ax_sp = fig.add_subplot(gs[1, 0], sharex=ax_px)
    ax_qs = fig.add_subplot(gs[1, 1])
    ax_pnl = fig.add_subplot(gs[2, 0], sharex=ax_px)
    ax_hist = fig.add_subplot(gs[2, 1])
    axes = [ax for ax in (ax_px, ax_depth, ax_q, ax_sp, ax_qs, ax_pnl, ax_hist) if ax is not None]

    # 1. Mid price and quotes ------------------------------------------------
    ax_px.plot(*_envelope(t, bid), color="tab:blue", lw=0.8, alpha=0.9, label="our bid")
    ax_px.plot(*_envelope(t, ask), color="tab:orange", lw=0.8, alpha=0.9, label="our ask")
    ax_px.plot(*_envelope(t, mid), color="black", lw=1.0, label="mid")
    _legend(ax_px)
    if ax_depth is not None:
        per_tick = tick is not None and math.isfinite(tick) and tick > 0
        scale, dunit = (float(tick), "ticks") if (per_tick and tick is not None) else (1.0, pu)
        ax_depth.plot(*_envelope(t, (ask - mid) / scale), color="tab:orange", lw=0.8, label="ask − mid")
        ax_depth.plot(*_envelope(t, (bid - mid) / scale), color="tab:blue", lw=0.8, label="bid − mid")
        ax_depth.axhline(0.0, color="black", lw=1.0)
        clip = depth_clip(bid - mid, ask - mid)
        if clip is not None:
            ax_depth.set_ylim(-clip / scale, clip / scale)
            ax_depth.plot([], [], ls="none", label=f"axis cut at ±{clip / scale:.3g}")
        ax_depth.set_ylabel(f"from mid ({dunit})")
        ax_depth.set_xlabel(time_label)
        ax_px.tick_params(labelbottom=False)
        ax_depth.legend(loc="best", fontsize="x-small", framealpha=0.85, ncols=3)  # one row: the axis is short

    # 2. Inventory over time ---------------------------------------------------
    ax_q.plot(*_envelope(t, q), color="tab:blue", lw=1.0, drawstyle="steps-post", label="inventory q", zorder=3)
    lim = _finite_level(limit)
    if lim is not None:
        for sign, lab in ((1.0, f"hard limit ±{lim:g}"), (-1.0, "_nolegend_")):
            ln = ax_q.axhline(sign * lim, color="red", ls="--", lw=1.4, label=lab)
            ln.set_gid("hard_limit")
    for (name, colour), z in zip(_ZONE_STYLE, zones):
        lvl = _finite_level(z)
        if lvl is None:
            continue
        for sign, lab in ((1.0, f"{name} ±{lvl:g}"), (-1.0, "_nolegend_")):
            ln = ax_q.axhline(sign * lvl, color=colour, ls="-.", lw=1.0, label=lab)
            ln.set_gid(name.replace(" ", "_"))
    if math.isfinite(float(q_target)):
        ln = ax_q.axhline(float(q_target), color="green", ls=":", lw=1.4, label=f"target q = {q_target:g}")
        ln.set_gid("q_target")
    _legend(ax_q)

    # 3. Quoted spread over time -----------------------------------------------
    ax_sp.plot(*_envelope(t, spread), color="tab:purple", lw=0.8, label="ask − bid")
    _legend(ax_sp)

    # 4. Inventory against spread (Stoll regression) ---------------------------
    ok = np.isfinite(q) & np.isfinite(spread)
    q_ok, s_ok = q[ok], spread[ok]
    label = "two-sided quotes"
    sizes: np.ndarray | float = 6.0
    alpha = 0.3
    agg = repeated_points(q_ok, s_ok)
    if agg is not None:
        # few distinct points (integer lots, a handful of spreads): one marker each, area ∝ count
        q_show, s_show, counts = agg
        sizes = 8.0 + 240.0 * counts / counts.max()
        alpha = 0.5
        label += f" (area ∝ count; max {int(counts.max()):,})"
    elif q_ok.size > MAX_SCATTER_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(q_ok.size, MAX_SCATTER_POINTS, replace=False))
        label += f" ({MAX_SCATTER_POINTS:,} of {q_ok.size:,} shown)"
        q_show, s_show = q_ok[keep], s_ok[keep]
    else:
        q_show, s_show = q_ok, s_ok
    ax_qs.scatter(q_show, s_show, s=sizes, alpha=alpha, color="tab:purple", linewidths=0, label=label)
    fit = stoll_regression(q, spread, t, q_target if math.isfinite(float(q_target)) else 0.0)
    if fit is not None:
        qt = float(q_target) if math.isfinite(float(q_target)) else 0.0
        xs = np.unique(np.clip(np.array([q_ok.min(), qt, q_ok.max()]), q_ok.min(), q_ok.max()))
        ax_qs.plot(xs, fit.at(xs, qt), color="red", ls="--", lw=1.8, label=stoll_label(fit, pu, per_q))[0].set_gid(
            "stoll_fit"
        )
    _legend(ax_qs)

    # 5. Cumulative PnL ---------------------------------------------------------
    ax_pnl.plot(*_envelope(t, pnl), color="tab:green", lw=1.0, label="cumulative PnL (marked to mid)")
    ax_pnl.axhline(0.0, color="black", ls="--", lw=0.8, alpha=0.5)
    _legend(ax_pnl)

    # 6. Inventory histogram ----------------------------------------------------
    hist = q if q_hist is None else np.asarray(q_hist, dtype=float).ravel()
    hist = hist[np.isfinite(hist)]
    if hist.size:
        ax_hist.hist(hist, bins=_hist_bins(hist), color="tab:blue", alpha=0.7, edgecolor="black", lw=0.4)
        mean = float(hist.mean())
        ax_hist.axvline(mean, color="red", ls="--", lw=1.8, label=f"mean = {mean:.3g} {qu}").set_gid("hist_mean")
    else:
        ax_hist.text(0.5, 0.5, "no finite inventory data", transform=ax_hist.transAxes, ha="center", va="center")
    if math.isfinite(float(q_target)):
        ax_hist.axvline(float(q_target), color="green", ls="--", lw=1.8, label=f"target = {q_target:g} {qu}").set_gid(
            "hist_target"
        )
    if lim is not None:
        if limit_off_axis(lim, hist):
            # far beyond the data: the bars would shrink to needles; say where it is instead
            ax_hist.plot([], [], color="red", ls=":", lw=1.4, label=f"hard limit ±{lim:g} (off axis)")
        else:
            for sign, lab in ((1.0, f"hard limit ±{lim:g}"), (-1.0, "_nolegend_")):
                ax_hist.axvline(sign * lim, color="red", ls=":", lw=1.4, label=lab).set_gid("hist_limit")
    # titles and axis labels: the figure model's (the HTML report draws the same one)
    model = six_panel_model(
        time_unit=time_unit,
        price_unit=pu,
        qty_unit=qu,
        pnl_unit=pnl_unit,
        hist_title=f"{hist_title or 'Inventory distribution'} (n = {hist.size:,})",
        hist_ylabel=hist_ylabel,
    )
    for ax, key in (
        (ax_px, "price"),
        (ax_q, "inventory"),
        (ax_sp, "spread"),
        (ax_qs, "stoll"),
        (ax_pnl, "pnl"),
        (ax_hist, "hist"),
    ):
        panel = model[key]
        ax.set_title(panel.title)
        ax.set_ylabel(panel.ylabel)
        ax.set_xlabel("" if (ax is ax_px and ax_depth is not None) else panel.xlabel)  # else: under the depth axis
    _legend(ax_hist)

    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False)
    for ax, values in ((ax_px, (mid, bid, ask)), (ax_sp, (spread,)), (ax_qs, (s_ok,)), (ax_pnl, (pnl,))):
        rng = display_range(*values)
        if rng is not None:
            ax.set_ylim(*rng)
    ax_hist.set_axisbelow(True)
    fig.suptitle(title)
    by_role = {
        "price": ax_px,
        "depth": ax_depth,
        "inventory": ax_q,
        "spread": ax_sp,
        "stoll": ax_qs,
        "pnl": ax_pnl,
        "hist": ax_hist,
    }
    # the figure's extras (documented above): attributes of our own, which matplotlib's Figure does not declare
    setattr(fig, "flatbook_stoll_fit", fit)  # noqa: B010
    setattr(fig, "flatbook_axes", by_role)  # noqa: B010
    return fig


def write_six_panel(path: str | os.PathLike, series: Mapping[str, np.ndarray], **kwargs: Any) -> pathlib.Path:
    """Build :func:`six_panel_figure` and write it, atomically: PNG, or PDF/SVG/EPS
    (vector, for papers) when the file name ends in .pdf, .svg or .eps.

    The PNG is rendered into a temporary file in the target directory and then
    moved into place with :func:`os.replace`; on any error the temporary file
    is removed and the exception propagates, so no half-written file is left.
    ``kwargs`` are passed to :func:`six_panel_figure`. Returns the path.
    """
    target = pathlib.Path(path)
    fmt = target.suffix.lower().lstrip(".")
    fmt = fmt if fmt in FORMATS else "png"
    fig = six_panel_figure(series, **kwargs)
    with atomic_file(target) as fh:
        fig.savefig(fh, format=fmt, dpi=DPI)
    return target


def figure_title(res: SimResult) -> str:
    """Preset, policy and the key parameters (those the policy's formula reads, plus the limit)."""
    cfg, v = res.config, res.config.values
    keys = [k for k in policy_spec(cfg.policy).params if k != "T"]
    if "limit" not in keys and math.isfinite(v["limit"]):
        keys.append("limit")
    par = ", ".join(f"{k}={v[k]:g}" if isinstance(v[k], float) else f"{k}={v[k]}" for k in keys)
    return (
        f"flatbook — preset {cfg.preset}, policy {cfg.policy} (sample path 0)\n"
        f"{par}; T={v['T']:g}, dt={v['dt']:g}; {cfg.paths:,} paths, seed {cfg.seed}"
    )
