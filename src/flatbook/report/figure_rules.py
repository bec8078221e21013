"""Rules shared by the six-panel PNG (:mod:`.six_panel`) and the HTML report (:mod:`.html`), so the
two renderers draw the same data the same way: axis ranges that never zoom into float noise,
when quotes need their own depth axis, how far that axis reaches, repeated scatter points,
and how an estimate is printed with its standard error. Plain numpy; no plotting library.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "HIST_LIMIT_REACH",
    "MIN_REL_SPAN",
    "MIN_VISIBLE_SPREAD",
    "depth_clip",
    "display_range",
    "estimate_text",
    "limit_off_axis",
    "quotes_hidden",
    "repeated_points",
]

#: An axis never spans less than this fraction of its values' magnitude, so float noise on a
#: constant (a spread of 1.3424876388745 ± 1e-13) is drawn flat, with ticks of ≤ 6 significant digits.
MIN_REL_SPAN = 1e-3
#: Quotes are drawn apart from the mid only when the typical spread is at least this fraction of
#: the price axis; below it the price panel gets a second axis with the quotes' distance from the mid.
MIN_VISIBLE_SPREAD = 0.03
#: The histogram's axis stretches to the hard limit only if it is within this multiple of max |q|.
HIST_LIMIT_REACH = 4.0


def display_range(*series: np.ndarray, rel: float = MIN_REL_SPAN) -> tuple[float, float] | None:
    """The axis range for ``series`` when its finite values span less than ``rel`` × their
    magnitude (float noise on a constant, or changes too small to label): centred, of width
    ``rel`` × |centre|. None when the values vary enough for the plotting library's own range,
    or are all zero or non-finite. One rule for the PNG and the HTML report."""
    vals = np.concatenate([np.asarray(x, dtype=float).ravel() for x in series]) if series else np.zeros(0)
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    centre = 0.5 * (lo + hi)
    floor = rel * abs(centre)
    if floor == 0.0 or hi - lo >= floor:
        return None
    return centre - 0.5 * floor, centre + 0.5 * floor


def limit_off_axis(limit: float, *samples: np.ndarray, reach: float = HIST_LIMIT_REACH) -> bool:
    """True when the hard limit lies so far beyond an inventory histogram's data (more than
    ``reach`` × max |q|) that stretching the axis to it would shrink the bars to needles: the
    limit is then named in the legend as off axis instead of drawn."""
    vals = np.concatenate([np.abs(np.asarray(x, dtype=float)).ravel() for x in samples]) if samples else np.zeros(0)
    vals = vals[np.isfinite(vals)]
    top = float(vals.max()) if vals.size else 0.0
    return math.isfinite(limit) and top > 0.0 and abs(limit) > reach * top


def quotes_hidden(mid: np.ndarray, bid: np.ndarray, ask: np.ndarray, frac: float = MIN_VISIBLE_SPREAD) -> bool:
    """True when our quotes cannot be told apart from the mid on the price axis: the median
    quoted spread is below ``frac`` of the price axis' span (e.g. BTC at 61,800 USDT quoted
    0.3 USDT wide over a 250 USDT move)."""
    spread = np.asarray(ask, dtype=float) - np.asarray(bid, dtype=float)
    spread = spread[np.isfinite(spread)]
    prices = np.concatenate([np.asarray(a, dtype=float).ravel() for a in (mid, bid, ask)])
    prices = prices[np.isfinite(prices)]
    if not spread.size or not prices.size:
        return False
    span = float(np.ptp(prices))
    rng = display_range(prices)
    if rng is not None:
        span = rng[1] - rng[0]
    return span > 0.0 and float(np.median(spread)) < frac * span


def depth_clip(*depths: np.ndarray) -> float | None:
    """Half-height of the quote-depth axis when a few stale quotes (a resting order left far
    behind by a jump of the mid) would flatten the rest: 1.5 × the 99th percentile of
    |depth| if the largest |depth| exceeds it; else None (the whole range is shown)."""
    d = np.abs(np.concatenate([np.asarray(x, dtype=float).ravel() for x in depths]))
    d = d[np.isfinite(d)]
    if d.size < 100:
        return None
    lim = 1.5 * float(np.quantile(d, 0.99))
    return lim if lim > 0.0 and float(d.max()) > lim else None


def estimate_text(value: float, se: float, scale: float = 1.0) -> str:
    """``value ± se`` rounded to the standard error's second significant digit; a standard
    error below 1e-9 × ``scale`` (an exact fit) prints as ``value (SE ≈ 0)``."""
    if not (math.isfinite(value) and math.isfinite(se)):
        return f"{value:.4g} ± {se:.2g}"
    tiny = 1e-9 * max(abs(scale), abs(value))
    if se <= tiny:
        return f"{0.0 if abs(value) <= tiny else value:.4g} (exact fit, SE ≈ 0)"
    d = max(0, 1 - math.floor(math.log10(se)))
    return f"{value:.{d}f} ± {se:.{d}f}"


def repeated_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Distinct (x, y) points and their counts, when points repeat a lot (at most half as many
    distinct points as points: integer lots, a handful of spreads); else None. Scatter plots
    then draw each distinct point once, with area ∝ count."""
    if x.size < 4:
        return None
    pts, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    return (pts[:, 0], pts[:, 1], counts) if pts.shape[0] <= x.size // 2 else None
