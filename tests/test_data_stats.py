"""Tests of flatbook.data.stats.inspect_events: a hand-made table with hand-computed
numbers, and sanity on the real LOBSTER / Binance files in ../shared/data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import shared_data
from flatbook.data import EventTable, load
from flatbook.data.events import QUOTE, TRADE, EventMeta, empty_columns
from flatbook.data.stats import SECONDS_PER_YEAR, inspect_events

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z


def table(rows, tick=0.01, skipped=None) -> EventTable:
    """rows: (t seconds after T0, kind, bid, ask, px, qty, side)."""
    cols = empty_columns(len(rows))
    for i, (t, kind, bid, ask, px, qty, side) in enumerate(rows):
        cols["ts"][i] = T0 + round(t * NS)
        cols["kind"][i], cols["bid_px"][i], cols["ask_px"][i] = kind, bid, ask
        cols["bid_sz"][i] = cols["ask_sz"][i] = 1.0
        cols["px"][i], cols["qty"][i], cols["side"][i] = px, qty, side
    meta = EventMeta(instrument="HAND", source="test", tick_size=tick, lot_size=1.0, skipped=skipped or {})
    return EventTable(**cols, meta=meta)


NAN = math.nan
HAND = [  # t (s), kind, bid, ask, px, qty, side      spread (ticks) × lifetime (s)
    (0.0, QUOTE, 100.00, 100.02, NAN, 0, 0),  # 2 × 1
    (1.0, QUOTE, 100.00, 100.04, NAN, 0, 0),  # 4 × 2
    (3.0, QUOTE, 100.01, 100.02, NAN, 0, 0),  # 1 × 1
    (4.0, TRADE, 100.01, 100.02, 100.02, 2, 1),  # 1 × 2   (buy)
    (6.0, QUOTE, 100.00, 100.03, NAN, 0, 0),  # 3 × 0
    (6.0, TRADE, 100.00, 100.03, 100.00, 1, -1),  # 3 × 0.5 (sell)
    (6.5, TRADE, 100.00, 100.03, 100.01, 1, 0),  # 3 × 0   (last row; side unknown)
]


def test_inspect_hand_made_table():
    s = inspect_events(table(HAND, skipped={"crossed book": 2}))
    assert s["instrument"] == "HAND" and s["source"] == "test"
    assert s["start"] == "2023-11-14T22:13:20.000000000Z" and s["end"] == "2023-11-14T22:13:26.500000000Z"
    assert s["duration_s"] == 6.5
    assert (s["events"], s["quotes"], s["trades"], s["buy_trades"], s["sell_trades"]) == (7, 4, 3, 1, 1)
    assert s["tick_size"] == 0.01 and s["lot_size"] == 1.0 and s["skipped"] == {"crossed book": 2}
    assert s["spread_mean_ticks"] == pytest.approx((2 * 1 + 4 * 2 + 1 * 1 + 1 * 2 + 3 * 0.5) / 6.5, rel=1e-12)
    assert s["spread_median_ticks"] == 2.5  # quote rows: 2, 4, 1, 3
    # 1 s grid t = 0..6, previous-tick mid: .01 .02 .02 .015 .015 .015 .015 (+100)
    grid = np.array([100.01, 100.02, 100.02, 100.015, 100.015, 100.015, 100.015])
    d = np.diff(grid)
    assert s["mid_vol_per_s"] == pytest.approx(math.sqrt((0.01**2 + 0.005**2) / 6), rel=1e-9)
    assert s["mid_vol_per_s"] == pytest.approx(math.sqrt(np.mean(d * d)), rel=1e-12)
    r1, r3 = math.log(100.02 / 100.01), math.log(100.015 / 100.02)
    assert s["mid_vol_annualized"] == pytest.approx(math.sqrt((r1**2 + r3**2) / 6 * 365.25 * 86400), rel=1e-9)
    json.dumps(s, allow_nan=False)


def test_inspect_one_sided_and_degenerate():
    # a one-sided state (no bid) lasting 10 s is left out of the spread, and of the mids
    s = inspect_events(
        table(
            [
                (0, QUOTE, 10.00, 10.02, NAN, 0, 0),
                (1, QUOTE, NAN, 10.02, NAN, 0, 0),
                (11, QUOTE, 10.00, 10.04, NAN, 0, 0),
                (12, QUOTE, 10.00, 10.04, NAN, 0, 0),
            ]
        )
    )
    assert s["spread_mean_ticks"] == pytest.approx((2 * 1 + 4 * 1) / 2)
    assert s["spread_median_ticks"] == 4.0  # two-sided quote rows: 2, 4, 4
    # grid 0..12: mid 10.01 until t=11 (carried over the one-sided stretch), then 10.02
    assert s["mid_vol_per_s"] == pytest.approx(math.sqrt(0.01**2 / 12))
    empty = inspect_events(table([]))
    assert empty["events"] == 0 and empty["start"] is None and empty["duration_s"] == 0.0
    assert empty["spread_mean_ticks"] is None and empty["mid_vol_annualized"] is None
    one = inspect_events(table([(0, QUOTE, 1.0, 1.1, NAN, 0, 0)], tick=math.nan))
    assert one["tick_size"] is None and one["spread_median_ticks"] is None and one["mid_vol_per_s"] is None
    json.dumps(empty, allow_nan=False)
    json.dumps(one, allow_nan=False)


def _real(rel: str):
    return load(shared_data(rel))


def test_inspect_real_lobster_aapl():
    ev = _real("lobster/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip")
    s = inspect_events(ev)
    assert s["instrument"] == "AAPL" and s["events"] == 118_497
    assert s["trades"] == s["buy_trades"] + s["sell_trades"] + int(np.sum(ev.is_trade & (ev.side == 0)))
    assert s["trades"] == s["buy_trades"] + s["sell_trades"] == 23_658 + 11_332  # LOBSTER sides are known
    assert s["start"].startswith("2012-06-21T13:30:00") and s["end"].startswith("2012-06-21T19:59:59")
    assert 23_300 < s["duration_s"] < 23_400  # the 6.5 h session
    assert 1 <= s["spread_median_ticks"] <= 100 and s["spread_median_ticks"] == round(s["spread_median_ticks"])
    assert 1 <= s["spread_mean_ticks"] <= 100
    assert 0.05 < s["mid_vol_annualized"] < 2.0
    # the absolute and log vols agree: σ_abs ≈ mid · σ_log per √s
    mid = float(np.nanmean(ev.mid))
    assert s["mid_vol_per_s"] == pytest.approx(mid * s["mid_vol_annualized"] / math.sqrt(SECONDS_PER_YEAR), rel=0.02)
    json.dumps(s, allow_nan=False)


def test_inspect_real_binance_usdm():
    s = inspect_events(_real("binance/usdm_btcusdt_20240808.gz"))
    assert s["instrument"] == "BTCUSDT (usdm)" and s["tick_size"] == 0.1
    assert s["trades"] == s["buy_trades"] + s["sell_trades"] == 21_313
    assert s["quotes"] == 66_089
    assert 300 < s["duration_s"] < 400  # about 6 minutes
    assert s["spread_median_ticks"] == 1.0  # a one-tick book most of the time
    assert 1.0 <= s["spread_mean_ticks"] < 5.0
    assert 0.05 < s["mid_vol_annualized"] < 3.0
