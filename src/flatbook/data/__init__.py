"""Market data: loaders for LOBSTER, Binance captures and a generic CSV/Parquet
format, all producing one columnar :class:`~flatbook.data.events.EventTable`."""

from .events import QUOTE, TRADE, DataError, EventMeta, EventTable
from .load import convert, load

__all__ = ["QUOTE", "TRADE", "DataError", "EventMeta", "EventTable", "convert", "load"]
