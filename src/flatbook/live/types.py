"""The live engine's messages: market events, order requests and updates, fills.

Plain slotted dataclasses (not frozen: a frozen dataclass's ``__init__`` costs
3× more, and these are made once per tick). Units: prices in the instrument's
price units, sizes in its quantity units (lots), times in int64 ns since the
Unix epoch (exchange time for market data and fills).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BUY, SELL = 1, -1

# market-event kinds (the same codes as flatbook.data.events)
QUOTE, TRADE = 0, 1


@dataclass(slots=True)
class MarketEvent:
    """One market-data event: the top of book after it and, for a trade, the print.

    ``seq``: the feed's position (a replay's event index; a live feed's counter),
    the cursor a restart resumes from. ``kind``: QUOTE (book update) or TRADE.
    ``side``: a trade's aggressor, +1 buyer-initiated, −1 seller-initiated, 0 unknown.
    ``depth``: optional (levels, 4) array [bid px, bid sz, ask px, ask sz] (level 0 = touch).
    """

    seq: int
    ts: int
    kind: int
    bid_px: float
    bid_sz: float
    ask_px: float
    ask_sz: float
    px: float = float("nan")
    qty: float = 0.0
    side: int = 0
    depth: np.ndarray | None = None


@dataclass(slots=True)
class OrderRequest:
    """What the engine hands a venue: the resting quote on one side, placed or replaced.

    One resting order per side: a request for a side replaces that side's order
    (size 0 = cancel it). ``client_id``: unique and deterministic
    ("<session>-<n>"), the venue's idempotency key. ``side``: BUY or SELL.
    ``taker``: a marketable (immediate-or-cancel) order, used by the end-of-session
    flatten and the kill switch; ``price`` is then a limit (worst price accepted).
    """

    client_id: str
    side: int
    price: float
    size: float
    ts: int
    taker: bool = False


@dataclass(slots=True)
class Fill:
    """A fill of one of our orders (or, in external mode, of the other bot's).

    ``fill_id``: unique per venue; ingesting it twice is a no-op (counted).
    ``qty`` > 0; ``side`` BUY (our bid was hit) or SELL. ``fee`` in price units
    (negative = rebate). ``seq``: the market event during which it happened
    (−1 when unknown: external and live venues).
    """

    fill_id: str
    client_id: str
    side: int
    price: float
    qty: float
    fee: float
    ts: int
    seq: int = -1
    liquidity: str = "maker"


@dataclass(slots=True)
class OrderUpdate:
    """A venue's report on a request: ``status`` is one of ORDER_STATUSES.

    ``remaining``: the order's open size after the update (lots).
    """

    client_id: str
    status: str
    remaining: float
    ts: int
    reason: str = ""


ORDER_STATUSES = ("accepted", "rejected", "cancelled", "filled", "expired")
