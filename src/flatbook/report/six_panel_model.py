"""The six-panel figure's model (seed 000, section 5): which panel is where, its title and axis labels.

Drawn by both renderers, so the PNG/PDF (:func:`flatbook.report.six_panel.six_panel_figure`,
matplotlib) and the HTML report (:mod:`flatbook.report.html`, plotly) say the same thing:

====  ===========  =======================================  =====================
cell  key          title                                    axes (x / y)
====  ===========  =======================================  =====================
1,1   price        Mid price and quotes (… and fills)       time / price
1,2   inventory    Inventory over time                      time / inventory q
2,1   spread       Quoted spread                            time / spread ask − bid
2,2   stoll        Spread against inventory (Stoll …)       inventory q / spread
3,1   pnl          Cumulative PnL                           time / PnL
3,2   hist         (what the sample is)                     inventory q / (what is counted)
====  ===========  =======================================  =====================

and the styles of the ± reference levels (the hard limit and the soft zones,
:data:`flatbook.controls.zones.ZONE_LEVELS`). Units are the caller's (a backtest passes its
instrument's, e.g. USDT and BTC).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..controls.zones import ZONE_LEVELS

#: ± reference levels drawn on the inventory panel: name → (legend label, colour)
LEVELS: dict[str, tuple[str, str]] = {
    "limit": ("hard limit", "red"),
    **dict(zip(ZONE_LEVELS, (("yellow zone", "gold"), ("red zone", "red"), ("critical zone", "darkred")))),
}


@dataclass(frozen=True)
class Panel:
    """One panel: its key, grid cell (row, col from 1), title and axis labels (with units)."""

    key: str
    row: int
    col: int
    title: str
    xlabel: str
    ylabel: str


@dataclass(frozen=True)
class SixPanelModel:
    """The six panels in drawing order (row by row)."""

    panels: tuple[Panel, ...]

    def __getitem__(self, key: str) -> Panel:
        for p in self.panels:
            if p.key == key:
                return p
        raise KeyError(key)

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(p.title for p in self.panels)


def six_panel_model(
    *,
    time_unit: str,
    price_unit: str,
    qty_unit: str,
    pnl_unit: str,
    hist_title: str,
    hist_ylabel: str,
    fills: bool = False,
) -> SixPanelModel:
    """The model for these units. ``fills``: panel 1 also shows the fills (a backtest);
    ``hist_title``/``hist_ylabel``: what panel 6's sample is and what it counts."""
    tl, pu, q = f"time ({time_unit})", price_unit, f"inventory q ({qty_unit})"
    spread = f"spread ask − bid ({pu})"
    return SixPanelModel(
        (
            Panel(
                "price", 1, 1, "Mid price, quotes and fills" if fills else "Mid price and quotes", tl, f"price ({pu})"
            ),
            Panel("inventory", 1, 2, "Inventory over time", tl, q),
            Panel("spread", 2, 1, "Quoted spread", tl, spread),
            Panel("stoll", 2, 2, "Spread against inventory (Stoll regression, time controlled)", q, spread),
            Panel("pnl", 3, 1, "Cumulative PnL", tl, f"PnL ({pnl_unit})"),
            Panel("hist", 3, 2, hist_title, q, hist_ylabel),
        )
    )
