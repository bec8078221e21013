"""Results of :func:`flatbook.quote` (one state's quotes, with units) and :func:`flatbook.quotes` (many states)."""

from __future__ import annotations

import re
from typing import Any

from ..config import RunConfig
from ..policies.quote import Quote
from ..presets import PRESETS
from ..units import QUOTE_UNITS, unit
from ._base import Result
from .summary import Summary

__all__ = ["QuoteResult", "QuotesResult"]


class QuoteResult(Result):
    """The quotes of one policy for one state (inventory q, mid, time t).

    Attributes
    ----------
    quote : flatbook.policies.quote.Quote
        The plain record: bid/ask (None: side not quoted), depths (price units), sizes (lots), ...
    summary : Summary
        The same fields with units (``"price units"``, ``"lots"``, the preset's time unit).
    config : flatbook.config.RunConfig
        The run the quote was computed for.
    levels : tuple of dict
        A ladder policy's levels, nearest the mid first (level, bid, ask, bid_depth, ask_depth, bid_size,
        ask_size; the hard limit caps the sum of a side's sizes); empty for a one-level policy. The other
        fields are then level 1's, and the summary adds ``levels`` and each side's total size.
    """

    _key_figures = (
        "mid",
        "q",
        "t",
        "bid",
        "ask",
        "bid_depth",
        "ask_depth",
        "bid_size",
        "ask_size",
        "half_spread",
        "skew",
        "zone",
    )

    def __init__(self, config: RunConfig, quote: Quote):
        self.config = config
        self.quote = quote
        qd = quote.as_dict()
        lv = qd.pop("levels", ())
        run_cfg = {k: v for k, v in config.as_dict().items() if k not in ("paths", "seed")}
        self._obj = {**qd, "preset": config.preset, "policy": config.policy, "config": run_cfg}
        tu = PRESETS[config.preset].time_unit
        units = {k: unit(QUOTE_UNITS, k, tu) for k in qd}
        if lv:
            self._obj["levels"] = [dict(x) for x in lv]
            qd = {
                **qd,
                "levels": len(lv),
                "bid_size_total": sum(x["bid_size"] for x in lv),
                "ask_size_total": sum(x["ask_size"] for x in lv),
            }
            units.update(levels="levels per side", bid_size_total="lots", ask_size_total="lots")
        self.summary = Summary.build(qd, units, f"quote — {config.policy}, preset {config.preset}")

    @property
    def levels(self) -> tuple[dict[str, Any], ...]:
        """A ladder's levels (see the class docstring); empty for a one-level policy."""
        return self.quote.levels

    def __getattr__(self, name: str) -> Any:
        # bid, ask, ... straight from the Quote record (only called for names not found otherwise)
        if name.startswith("_") or name in ("quote", "config", "summary"):
            raise AttributeError(name)
        return getattr(self.quote, name)

    def to_pandas(self):
        """One-row DataFrame of the quote's fields."""
        import pandas as pd  # lazy: start-up

        d = self.quote.as_dict()
        d.pop("levels", None)
        return pd.DataFrame([d])


class QuotesResult(Result):
    """One policy's quotes over many states (arrays of inventory q, mid and time t, broadcast together).

    Attributes
    ----------
    arrays : dict of str to numpy.ndarray
        q, mid, t and bid, ask (NaN where the side is not quoted), bid_depth, ask_depth, bid_size,
        ask_size, centre, half_spread, skew, zone: one value per state, flattened in C order. A ladder
        policy: those of level 1, and ``bid_k``, ``ask_k``, ``bid_depth_k``, ``ask_depth_k``, ``bid_size_k``,
        ``ask_size_k`` for each level k (1 nearest the mid).
    units : dict of str to str
        The unit of each array.
    summary : Summary
        states (count), the fraction of states with each side quoted, and the ranges of the depths.
    """

    _key_figures = (
        "states",
        "bid_quoted_frac",
        "ask_quoted_frac",
        "bid_depth_min",
        "bid_depth_max",
        "ask_depth_min",
        "ask_depth_max",
    )

    def __init__(self, config: RunConfig, arrays: dict):
        import numpy as np  # lazy: start-up

        self.config = config
        self.arrays = arrays
        tu = PRESETS[config.preset].time_unit
        self.units = {k: unit(QUOTE_UNITS, re.sub(r"_\d+$", "", k), tu) for k in arrays}
        n = int(arrays["q"].size)
        fig: dict = {
            "states": n,
            "bid_quoted_frac": float(np.mean(arrays["bid_size"] > 0)) if n else 0.0,
            "ask_quoted_frac": float(np.mean(arrays["ask_size"] > 0)) if n else 0.0,
        }
        units = {"states": "states", "bid_quoted_frac": "fraction of states", "ask_quoted_frac": "fraction of states"}
        for side in ("bid", "ask"):
            d = arrays[f"{side}_depth"]
            ok = d[np.isfinite(d)]
            for stat, fn in (("min", np.min), ("max", np.max)):
                fig[f"{side}_depth_{stat}"] = float(fn(ok)) if ok.size else None
                units[f"{side}_depth_{stat}"] = self.units[f"{side}_depth"]
        self._obj = {**fig, "preset": config.preset, "policy": config.policy}
        self.summary = Summary.build(fig, units, f"quotes — {config.policy}, preset {config.preset}, {n:,} states")

    def to_dict(self) -> dict[str, Any]:
        """The arrays as lists (NaN → None), with the units, preset and policy."""
        from ..jsonutil import jsonable  # lazy: start-up

        return jsonable(
            {
                "preset": self.config.preset,
                "policy": self.config.policy,
                "units": self.units,
                **{k: v.tolist() for k, v in self.arrays.items()},
            }
        )

    def to_pandas(self):
        """One row per state: q, mid, t, bid, ask, depths, sizes, centre, half_spread, skew, zone."""
        import pandas as pd  # lazy: start-up

        return pd.DataFrame(self.arrays)

    def plot(self):
        """Bid and ask depths (and the skew) against inventory q: a Figure, not written anywhere."""
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # lazy: start-up (matplotlib)
        )
        from matplotlib.figure import Figure

        a = self.arrays
        fig = Figure(figsize=(7.0, 4.2), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(a["q"], a["bid_depth"], ".", ms=3, label="bid depth (below the mid)")
        ax.plot(a["q"], a["ask_depth"], ".", ms=3, label="ask depth (above the mid)")
        ax.plot(a["q"], a["skew"], ".", ms=2, color="0.4", label="skew = centre − mid")
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xlabel(f"inventory q ({self.units['q']})")
        ax.set_ylabel("price units")
        ax.set_title(self.summary.title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return fig
