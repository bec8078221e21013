"""Prometheus metrics (prometheus-client), served at ``/metrics`` by the API.

Gauges read the engine when scraped (``set_function``), so the hot path pays
nothing for them; the tick-to-quote latency histogram is fed after each
hand-off (outside the measured interval) and the counters when things happen.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# seconds: 1 µs .. 10 ms
LATENCY_BUCKETS = (1e-6, 2e-6, 5e-6, 1e-5, 1.5e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 1e-2)


class Metrics:
    """One registry per engine (tests run several engines in one process)."""

    def __init__(self, engine):
        r = self.registry = CollectorRegistry()
        e = engine
        Gauge("flatbook_position_lots", "inventory q, lots", registry=r).set_function(lambda: e.q)
        Gauge("flatbook_target_lots", "target inventory q*, lots", registry=r).set_function(lambda: e.target)
        Gauge(
            "flatbook_pnl", "mark-to-market PnL since the first mark, the contract's settlement currency", registry=r
        ).set_function(e.pnl_total)
        Gauge("flatbook_zone", "soft-limit zone: 0 none, 1 yellow, 2 red, 3 critical", registry=r).set_function(
            lambda: e.zone
        )
        Gauge("flatbook_killed", "1 once the kill switch fired", registry=r).set_function(lambda: float(e.killed))
        Gauge(
            "flatbook_quote_age_seconds", "wall-clock seconds since the last quote decision", registry=r
        ).set_function(e.quote_age)
        Gauge(
            "flatbook_journal_lag_seconds",
            "duration of the last journal commit (synchronous: the lag between a record and its being durable)",
            registry=r,
        ).set_function(lambda: e.journal.last_commit_s)
        Gauge("flatbook_journal_errors", "failed journal writes", registry=r).set_function(lambda: e.journal.errors)
        Gauge("flatbook_fills", "fills applied", registry=r).set_function(lambda: e.fills)
        Gauge("flatbook_duplicate_fills", "fills ignored as duplicates (same fill id)", registry=r).set_function(
            lambda: e.duplicates
        )
        Gauge("flatbook_events", "market events processed", registry=r).set_function(lambda: e.events)
        self.tick_to_quote = Histogram(
            "flatbook_tick_to_quote_seconds",
            "market-data event arrival to the order handed to the venue adapter (in process)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "flatbook_rejected_orders", "requests rejected by pre-trade risk", ["reason"], registry=r
        )
        self.alerts = Counter("flatbook_alerts", "alerts raised", ["kind"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
