"""The two interfaces a live adapter implements: :class:`Feed` and :class:`Venue`.

The engine (:mod:`flatbook.live.engine`) is written against these only:

- a **feed** yields :class:`~flatbook.live.types.MarketEvent` in exchange-time order;
- a **venue** takes :class:`~flatbook.live.types.OrderRequest` through the
  synchronous :meth:`Venue.submit` (the *hand-off*: the tick-to-quote latency
  stops there) and reports back through the listener it was given:
  ``on_update(OrderUpdate)`` and ``on_fill(Fill)``, called on the event loop.

Adapters in this package: ``replay_feed`` (a file of ``../shared/data`` at 1× or
N× speed), ``paper_venue`` (fills our orders against the replayed tape with the
backtester's queue and latency model), ``ccxt_adapter`` (real exchanges through
ccxt; unit-tested against ccxt's own classes, never run against a live exchange
here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

from ..types import Fill, MarketEvent, OrderRequest, OrderUpdate

FillListener = Callable[[Fill], None]
UpdateListener = Callable[[OrderUpdate], None]


@runtime_checkable
class Feed(Protocol):
    """A source of market events."""

    name: str

    def events(self, start: int = 0) -> AsyncIterator[MarketEvent]:
        """Events from position ``start`` (a replay's event index; live feeds ignore it)."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class Venue(Protocol):
    """Where orders go.

    ``submit`` must not block: it queues or schedules the request and returns.
    Results arrive later through the listeners set by :meth:`set_listeners`.
    """

    name: str

    def set_listeners(self, on_update: UpdateListener, on_fill: FillListener) -> None: ...

    def submit(self, req: OrderRequest) -> None:
        """Hand over one request (place, replace, or cancel with size 0)."""
        ...

    async def open_orders(self) -> list[OrderRequest]:
        """The venue's view of our resting orders (reconciliation on start)."""
        ...

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        """Our fills at or after ``ts_ns`` (reconciliation on start: missed fills are ingested, duplicates ignored)."""
        ...

    async def close(self) -> None: ...
