"""The hedging frontier figure: hedge cost against the residual PnL risk, one point per threshold."""
from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Sequence

from ..fileio import atomic_file

DPI = 120


def write_hedge_frontier(path: str | os.PathLike, rows: Sequence[dict], *, title: str, pnl_unit: str) -> pathlib.Path:
    """PNG of hedge cost (y) against the std of hedged PnL (x), points labelled by the
    threshold; written atomically (a temporary file, then os.replace)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["residual_risk"] for r in rows]
    y = [r["hedge_cost"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=DPI)
    ax.plot(x, y, "o-", color="tab:blue")
    for r in rows:
        thr = r["threshold"]
        label = "no hedge" if thr is None or (isinstance(thr, float) and math.isinf(thr)) else f"{thr:g}"
        ax.annotate(label, (r["residual_risk"], r["hedge_cost"]), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    ax.set_xlabel(f"residual risk: std of hedged PnL ({pnl_unit})")
    ax.set_ylabel(f"hedge cost per path ({pnl_unit})")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    target = pathlib.Path(path)
    try:
        with atomic_file(target) as fh:
            fig.savefig(fh, format="png")
    finally:
        plt.close(fig)
    return target
