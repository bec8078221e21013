"""Summary statistics of an :class:`~flatbook.data.events.EventTable` (``flatbook inspect``)."""

from __future__ import annotations

import math

import numpy as np

from .events import CLEAR, LEVEL, QUOTE, TRADE, EventTable

SECONDS_PER_YEAR = 365.25 * 86400.0  # calendar-time annualisation, the same for every market
NS = 1_000_000_000


def _iso(ts_ns: int) -> str:
    """ISO-8601 UTC with ns, e.g. ``2012-06-21T13:30:00.017459617Z``."""
    return f"{np.datetime_as_string(np.datetime64(int(ts_ns), 'ns'), unit='ns')}Z"


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def inspect_events(ev: EventTable) -> dict:
    """Counts, time span, spreads and mid volatility of ``ev``, as a JSON-ready dict.

    * ``start``/``end``: first/last event time, ISO-8601 UTC; ``duration_s`` = end − start (s).
    * ``events``/``quotes``/``trades``; ``buy_trades``/``sell_trades`` by aggressor side
      (trades with side 0 are neither).
    * ``spread_mean_ticks``: time-weighted mean of (ask − bid)/tick over the book states
      after each event (quote and trade rows), each weighted by its lifetime
      ts[i+1] − ts[i]; the state after the last event has no lifetime; one-sided
      books are left out. ``spread_median_ticks``: median over the quote rows.
      Per-row spreads in ticks are rounded to 10⁻⁶ tick (float noise of decimal prices).
    * Mid volatility on a regular 1-second grid t_k = t_0 + k s (t_0 = first two-sided
      quote, t_k ≤ last event), mid(t_k) = the last mid at or before t_k (previous tick):
      ``mid_vol_annualized`` = sqrt(mean r_k²) · sqrt(365.25·86400) with r_k =
      ln mid(t_k) − ln mid(t_{k−1}) — realised vol around zero mean, calendar-time
      annualised (24 h × 365.25 d, also for an exchange session like NASDAQ's, so
      the figure is a per-second vol scaled, not a per-trading-year one);
      ``mid_vol_per_s`` = sqrt(mean (mid(t_k) − mid(t_{k−1}))²), price units per √s.
    * ``skipped``: malformed rows skipped by the loader, by reason.

    Statistics that cannot be computed (too few rows, unknown tick) are None.
    """
    m = ev.meta
    n = len(ev)
    kind, side = ev.kind, ev.side
    trades = kind == TRADE
    out: dict = {
        "instrument": m.instrument,
        "source": m.source,
        "start": _iso(ev.ts[0]) if n else None,
        "end": _iso(ev.ts[-1]) if n else None,
        "duration_s": float((int(ev.ts[-1]) - int(ev.ts[0])) / NS) if n else 0.0,
        "tick_size": _num(m.tick_size),
        "lot_size": _num(m.lot_size),
        "events": int(n),
        "quotes": int(np.sum(kind == QUOTE)),
        "levels": int(np.sum(kind == LEVEL)),
        "clears": int(np.sum(kind == CLEAR)),
        "trades": int(trades.sum()),
        "buy_trades": int(np.sum(trades & (side > 0))),
        "sell_trades": int(np.sum(trades & (side < 0))),
        "spread_mean_ticks": None,
        "spread_median_ticks": None,
        "mid_vol_annualized": None,
        "mid_vol_per_s": None,
        "skipped": {str(k): int(v) for k, v in m.skipped.items()},
    }
    if n == 0:
        return out

    tick = m.tick_size
    if math.isfinite(tick) and tick > 0:
        spread = np.round((ev.ask_px - ev.bid_px) / tick, 6)  # float noise off (61800.3 − 61800.2 ≠ 0.1)
        ok = np.isfinite(spread)
        life = np.append(np.diff(ev.ts), 0).astype(np.float64)
        w = np.where(ok, life, 0.0)
        if w.sum() > 0:
            out["spread_mean_ticks"] = float(np.sum(w * np.where(ok, spread, 0.0)) / w.sum())
        q = ok & ((kind == QUOTE) | (kind == LEVEL))  # the book-update rows (a LEVEL row carries the touch after it)
        if q.any():
            out["spread_median_ticks"] = float(np.median(spread[q]))

    mid = ev.mid
    ok = np.isfinite(mid) & (mid > 0)
    if ok.any():
        ts_ok, mid_ok = ev.ts[ok], mid[ok]
        t0 = int(ts_ok[0])
        k = (int(ev.ts[-1]) - t0) // NS
        if k >= 1:
            grid = t0 + np.arange(k + 1, dtype=np.int64) * NS
            g = mid_ok[np.searchsorted(ts_ok, grid, side="right") - 1]
            r = np.diff(np.log(g))
            out["mid_vol_annualized"] = float(math.sqrt(np.mean(r * r)) * math.sqrt(SECONDS_PER_YEAR))
            d = np.diff(g)
            out["mid_vol_per_s"] = float(math.sqrt(np.mean(d * d)))
    return out
