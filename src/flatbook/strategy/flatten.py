"""The order that flattens the position: an immediate-or-cancel order for |q| through the touch.

Used at the end of a session, on a stop with flattening, and when the kill switch asks for it
(the kill switch's own quotes are the controls' flatten-only quotes,
:func:`flatbook.controls.quote_controls.control_quotes`). The order sells q > 0 at
best bid − slippage or buys −q at best ask + slippage, rounded to the nearest tick
(``slippage``: price units, e.g. ``flatten_slippage_ticks``·tick), so it takes the touch and at most
that far behind it. Plain Python compiled by numba (the live engine calls its source,
:func:`flatbook.policies.compile.python_form`).
"""

from __future__ import annotations

import math

import numba as nb


@nb.njit(inline="always", cache=True)
def flatten_order(q, bid, ask, slippage, tick):
    """(side index k: 0 buy / 1 sell / −1 none, limit price in ticks, size in lots) flattening ``q``.

    None (k = −1) when q = 0 or the touch on the side to take is unknown (NaN)."""
    if q == 0.0 or bid != bid or ask != ask:
        return -1, 0, 0.0
    if q > 0.0:
        return 1, int(math.floor((bid - slippage) / tick + 0.5)), abs(q)
    return 0, int(math.floor((ask + slippage) / tick + 0.5)), abs(q)
