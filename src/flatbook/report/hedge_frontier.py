"""The hedging frontier figure: hedge cost against the residual PnL risk, one point per threshold."""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.path import Path
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from ..fileio import atomic_file

__all__ = ["hedge_frontier_figure", "place_labels", "threshold_label", "write_hedge_frontier"]

DPI = 120
#: Label offsets tried around a point (points), nearest first; the first free one wins.
#: From the ninth on, the label is far enough from its point to get a leader line.
OFFSETS = (
    (6, 4),
    (6, -12),
    (-6, 4),
    (-6, -12),
    (8, -4),
    (-8, -4),
    (0, 8),
    (0, -16),
    (14, 14),
    (14, -22),
    (-14, 14),
    (-14, -22),
    (24, 0),
    (-24, 0),
    (0, 22),
    (0, -30),
    (30, 24),
    (-30, 24),
    (30, -32),
    (-30, -32),
)
LEADER_FROM = 8


def threshold_label(thr) -> str:
    """A frontier point's label: its threshold (lots), or "no hedge" for None/inf."""
    return "no hedge" if thr is None or (isinstance(thr, float) and math.isinf(thr)) else f"{thr:g}"


def place_labels(ax, xy: Sequence[tuple[float, float]], labels: Sequence[str], fontsize: float = 8) -> list[Annotation]:
    """Label the points of a line: points that fall on the same spot (within a marker) share one
    label ("2, 4"); each label goes to the first offset of :data:`OFFSETS` where its text box
    stays in the axes and overlaps no label already placed, no marker and no segment of the
    line (greedy placement). Call after the layout is final (``fig.canvas.draw()``). Returns
    the annotations."""
    renderer = ax.figure.canvas.get_renderer()
    ax_box = ax.get_window_extent(renderer)
    pts = [tuple(ax.transData.transform(p)) for p in xy]
    r = 4.0 * ax.figure.dpi / 72.0  # marker radius, pixels
    line = Path(pts) if len(pts) > 1 else None
    groups: list[tuple[int, list[str]]] = []  # (index of the first point, labels)
    for i, (p, text) in enumerate(zip(pts, labels)):
        for j, names in groups:
            if math.dist(pts[j], p) < r:
                names.append(text)
                break
        else:
            groups.append((i, [text]))
    placed: list[Bbox] = []
    out: list[Annotation] = []
    for i, names in groups:
        x, y = xy[i]
        for k, (dx, dy) in enumerate(OFFSETS):
            arrow = dict(arrowstyle="-", lw=0.5, color="grey", shrinkA=0, shrinkB=3) if k >= LEADER_FROM else None
            ann = ax.annotate(
                ", ".join(names),
                (x, y),
                textcoords="offset points",
                xytext=(dx, dy),
                fontsize=fontsize,
                ha="left" if dx >= 0 else "right",
                va="bottom",
                arrowprops=arrow,
            )
            box = ann.get_window_extent(renderer)
            free = (
                ax_box.x0 <= box.x0
                and box.x1 <= ax_box.x1
                and ax_box.y0 <= box.y0
                and box.y1 <= ax_box.y1
                and not any(box.overlaps(b) for b in placed)
                and not any(box.x0 - r < px < box.x1 + r and box.y0 - r < py < box.y1 + r for px, py in pts)
                and not (line is not None and line.intersects_bbox(box, filled=False))
            )
            if free or k == len(OFFSETS) - 1:
                break
            ann.remove()
        placed.append(box)
        out.append(ann)
    return out


def hedge_frontier_figure(rows: Sequence[dict], *, title: str, pnl_unit: str) -> Figure:
    """Hedge cost (y) against the std of hedged PnL (x), one point per threshold, labelled
    by the threshold (lots) without overlaps (:func:`place_labels`)."""
    x = [r["residual_risk"] for r in rows]
    y = [r["hedge_cost"] for r in rows]
    fig = Figure(figsize=(7.5, 5.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, y, "o-", color="tab:blue")
    ax.set_xlabel(f"residual risk: std of hedged PnL ({pnl_unit})")
    ax.set_ylabel(f"hedge cost per path ({pnl_unit})")
    ax.set_title(f"{title}\npoints labelled by hedge threshold (lots)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.margins(0.15)
    fig.canvas.draw()  # the layout is final before text is measured
    fig.set_layout_engine("none")
    place_labels(ax, list(zip(x, y)), [threshold_label(r["threshold"]) for r in rows])
    return fig


def write_hedge_frontier(path: str | os.PathLike, rows: Sequence[dict], *, title: str, pnl_unit: str) -> pathlib.Path:
    """Write :func:`hedge_frontier_figure` as PNG, atomically (a temporary file, then os.replace)."""
    fig = hedge_frontier_figure(rows, title=title, pnl_unit=pnl_unit)
    target = pathlib.Path(path)
    with atomic_file(target) as fh:
        fig.savefig(fh, format="png")
    return target
