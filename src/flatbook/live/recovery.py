"""Rebuilding the engine from its journal on start, and the snapshots that make it cheap.

A snapshot holds the engine's state (and the paper venue's: it stands in for an
exchange, whose state outlives our process) as of a feed position ``cursor``,
plus the journal row of the last fill it includes (``fill_rowid``).

On start:

- monitor mode or a live venue without a snapshot: a fresh session, then the
  fills already journaled are applied;
- trade mode on a replay: the engine and venue resume from the snapshot and
  the feed from ``cursor`` (no snapshot yet: from the start, with fresh
  state). Fills journaled after the snapshot belong to events
  at or after the cursor: replaying those events makes the venue deliver them
  again (same ids: ``<client id>-<n>``, and client ids are numbered from the
  snapshot), so they are held as *pending* and applied once when re-delivered,
  never twice. Order requests and reports after the snapshot are re-issued the
  same way (the journal ignores a repeated client id).
- otherwise (monitor mode, live venues): the snapshot's state, then every fill
  journaled after it, applied in journal order. A live venue is then asked for
  its fills since the last one journaled (ingested idempotently: duplicates are
  ignored and counted) and its open orders.

The engine's decisions depend only on its state and the events, so a killed
and restarted replay ends with the same position, cash and fills as one run
straight through (``tests/live/test_crash_recovery.py`` kills it 20+ times).
"""

from __future__ import annotations


def snapshot(engine, venue, cursor: int) -> None:
    """Write a snapshot of engine (+ paper venue) state as of feed position ``cursor``."""
    state = {"engine": engine.snapshot_state()}
    if venue is not None and hasattr(venue, "state"):
        state["venue"] = venue.state()
    engine.journal.snapshot(cursor, state)


def recover(engine, venue, replay: bool) -> int:
    """Rebuild ``engine`` (and a paper ``venue``) from the journal; returns the feed cursor to resume from."""
    j = engine.journal
    snap = j.last_snapshot()
    cursor, watermark = 0, 0
    if snap is not None:
        cursor, watermark, state = snap
        engine.restore(state["engine"])
        if venue is not None and "venue" in state and hasattr(venue, "restore"):
            venue.restore(state["venue"])
    later = j.fills_after(watermark)
    if replay:
        # the replay re-issues the orders after the snapshot (or from the start, without one) with the
        # same numbers, and the paper venue re-delivers their fills
        engine.pending = {f.fill_id for _, f, _ in later}
    else:
        for _, f, mid in later:
            engine._apply(f, mid)
        engine.order_n = max(engine.order_n, j.next_order_n())
    return max(cursor, 0)


async def reconcile(engine, venue) -> dict:
    """A live venue after a restart: ingest its fills since the last one journaled (duplicates are
    ignored and counted) and adopt its view of our open orders. Returns what changed."""
    fills = await venue.fills_since(int(engine.journal.last_fill_ts()))
    applied = engine.on_fills(fills) if fills else []
    orders = await venue.open_orders()
    engine.open = {o.client_id: [o.side, o.price, o.size, o.size, "open"] for o in orders}
    engine.dirty = True
    return {"fills_seen": len(fills), "fills_applied": int(sum(applied)), "open_orders": len(orders)}
