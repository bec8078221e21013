"""``--latency-ms measured`` (issue 15 §3): feed latency from each row's exchange and local stamps, the
order and response legs drawn from the measured distribution (seeded bootstrap) or a shifted lognormal
fitted to it by MLE, and the fit shown by ``data inspect``.

Hand computations on crafted tables; real figures from the Binance captures in ``../shared/data``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from conftest import shared_data
from flatbook import api
from flatbook.backtest.latency import KS_POOR, OFFSET_QUANTILE, Latency, MeasuredLatency, measured_options
from flatbook.cli import root as cli_app
from flatbook.data.binance import load_binance
from flatbook.data.events import CODE_BOOK_TICKER, CODE_TRADE, LEVEL, QUOTE, TRADE, EventMeta, EventTable, empty_columns
from flatbook.errors import InputError

MS = 1_000_000
OFFSET = -1_270 * MS  # the capture clock behind the exchange


def table(lat_ns: np.ndarray, *, instrument="BTCUSDT (usdm)", kind=None, code=None, local=True) -> EventTable:
    n = len(lat_ns)
    c = empty_columns(n)
    c["ts"] = 1_723_161_256_000 * MS + np.arange(n, dtype=np.int64) * MS
    c["bid_px"][:], c["ask_px"][:], c["bid_sz"][:], c["ask_sz"][:] = 100.0, 100.1, 1.0, 1.0
    if kind is not None:
        c["kind"][:] = kind
    if code is not None:
        c["code"][:] = code
    meta = EventMeta(instrument, "binance", 0.1, 0.001)
    return EventTable(**c, meta=meta, local_ts=c["ts"] + OFFSET + lat_ns if local else None)


def test_parse_and_describe():
    assert Latency.parse("--latency-ms", "measured") == Latency("measured", 0.0)
    assert Latency.parse("--latency-ms", "Measured:lognormal") == Latency("measured", 1.0)
    assert "measured" in Latency.parse("x", "measured").describe()
    with pytest.raises(InputError, match=r"--latency-ms: measured:gamma is not known .*measured:lognormal"):
        Latency.parse("--latency-ms", "measured:gamma")
    with pytest.raises(InputError, match="needs a data table"):
        Latency.parse("x", "measured").draw_ns(3, np.random.default_rng(0))
    # the other kinds draw as before: n draws from the generator, the same bits
    a = Latency.parse("x", "exp:5").draw_events_ns(table(np.zeros(50, np.int64)), np.random.default_rng(7), "feed")
    np.testing.assert_array_equal(a, Latency.parse("x", "exp:5").draw_ns(50, np.random.default_rng(7)))


def test_feed_leg_by_hand():
    """offset = the 0.1 % quantile (lower) of local − exchange; feed = local − exchange − offset, >= 0."""
    lat = (np.arange(2000, dtype=np.int64) % 97) * 37_000 + 400_000  # 0.4 .. 3.95 ms
    ev = table(lat)
    m = MeasuredLatency.of(ev)
    d = ev.local_ts - ev.ts
    off = int(np.sort(d)[int(np.floor(OFFSET_QUANTILE * (len(d) - 1)))])
    assert m.offset_ns == off == OFFSET + 400_000  # the fastest messages define the zero
    np.testing.assert_array_equal(m.feed_ns(), d - off)
    assert m.feed_ns().min() == 0 and m.feed_ns().max() == 96 * 37_000
    np.testing.assert_allclose(m.quantiles_ms((0.5,)), [np.quantile((d - off) / 1e6, 0.5)])
    # feed is the data's own: no draws
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(Latency.parse("x", "measured").draw_events_ns(ev, rng, "feed"), d - off)
    assert rng.bit_generator.state == np.random.default_rng(1).bit_generator.state


def test_spot_bookticker_and_depth_rows():
    """Spot bookTicker times are estimated from the local stamp: out of the sample, given its median. On a
    Binance table only bookTicker and trade rows enter the sample (LEVEL rows keep their own feed latency)."""
    n = 1000
    lat = (np.arange(n, dtype=np.int64) % 10) * MS
    code = np.where(np.arange(n) % 2 == 0, CODE_BOOK_TICKER, CODE_TRADE).astype(np.int16)
    kind = np.where(code == CODE_BOOK_TICKER, QUOTE, TRADE)
    ev = table(lat, instrument="BTCUSDT (spot)", kind=kind, code=code)
    m = MeasuredLatency.of(ev)
    trades = lat[1::2]  # the odd rows
    assert m.estimated_rows == n // 2 and m.sample_ms.size == n // 2
    np.testing.assert_array_equal(np.sort(m.sample_ms), np.sort((trades - trades.min()) / 1e6))
    assert (m.feed_ms[::2] == np.median(m.sample_ms)).all()
    # LEVEL rows: out of a Binance sample; elsewhere (e.g. Tardis) three rows of one message count once
    lat2 = np.array([0, 5, 5, 5, 2, 9], np.int64) * MS
    ev2 = table(lat2, kind=np.array([QUOTE, LEVEL, LEVEL, LEVEL, TRADE, QUOTE]))
    object.__setattr__(ev2, "ts", np.array([0, 1, 1, 1, 2, 3], np.int64) * MS)
    object.__setattr__(ev2, "local_ts", ev2.ts + OFFSET + lat2)
    m2 = MeasuredLatency.of(ev2)
    np.testing.assert_array_equal(np.sort(m2.sample_ms), [0, 2, 9])
    assert m2.feed_ns().tolist() == [0, 5 * MS, 5 * MS, 5 * MS, 2 * MS, 9 * MS]
    object.__setattr__(ev2, "meta", EventMeta("BTC-PERPETUAL", "tardis", 0.1, 0.001))
    np.testing.assert_array_equal(np.sort(MeasuredLatency.of(ev2).sample_ms), [0, 2, 5, 9])


def test_order_leg_bootstrap_and_fitted_lognormal():
    rng = np.random.default_rng(3)
    lat = np.round(0.3e6 + rng.lognormal(np.log(2e6), 0.7, 5000)).astype(np.int64)
    m = MeasuredLatency.of(table(lat))
    a = m.draw_ns(4000, np.random.default_rng(11))
    b = m.draw_ns(4000, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)  # seeded
    assert np.isin(a, np.round(m.sample_ms * 1e6).astype(np.int64)).all()  # a bootstrap of the sample
    # the MLE: no nearby shifted lognormal fits better; the KS statistic is scipy's
    p = (m.shape, m.loc_ms, m.scale_ms)
    ll = stats.lognorm.logpdf(m.sample_ms, *p).sum()
    for dp in ((0.02, 0, 0), (0, 0.005, 0), (0, 0, 0.05), (-0.02, 0, 0), (0, 0, -0.05)):
        assert stats.lognorm.logpdf(m.sample_ms, *(np.add(p, dp))).sum() <= ll
    assert m.ks == pytest.approx(stats.kstest(m.sample_ms, "lognorm", p).statistic)
    assert m.ks < 0.02 and abs(m.shape - 0.7) < 0.05  # drawn from a shifted lognormal: recovered
    f = m.draw_ns(5000, np.random.default_rng(5), fitted=True)
    assert f.min() >= 0 and abs(np.median(f) / 1e6 - (m.loc_ms + m.scale_ms)) < 0.1
    s = m.summary()
    assert s["latency_model"] == "shifted lognormal (MLE)" and s["latency_lognormal_log_sd"] == m.shape


def test_refused_without_local_stamps():
    ev = table(np.zeros(10, np.int64), local=False)
    with pytest.raises(InputError, match="--latency-ms: measured latency needs local receive stamps"):
        Latency.parse("x", "measured").draw_events_ns(ev, np.random.default_rng(0), "order")
    lob = shared_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    r = CliRunner().invoke(cli_app.app, ["backtest", str(lob), "--latency-ms", "measured"])
    assert r.exit_code == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: --latency-ms: measured latency needs local receive stamps")


def test_real_capture_offset_and_inspect():
    """The bundled capture's clock ran ≈ 1.27 s behind the exchange; data inspect shows the fit."""
    path = shared_data("binance/spot_btcusdt_20240808.gz")
    m = MeasuredLatency.of(load_binance(path))
    assert -1300 < m.offset_ns / MS < -1240
    p1, p50, p99 = m.quantiles_ms()
    assert 0 <= p1 < p50 < p99 and 1 < p50 < 10
    r = CliRunner().invoke(cli_app.app, ["data", "inspect", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["latency_p50_ms"] == pytest.approx(p50) and d["latency_offset_ms"] == m.offset_ns / MS
    assert d["latency_model"] == "shifted lognormal (MLE)" and 0 < d["latency_ks"] < 1
    assert d["book"] == "touch" and "pass --book depth" in d["streams"]["btcusdt@depth@100ms"]["note"]


def test_backtest_with_measured_latency_is_reproducible():
    ev = load_binance(shared_data("binance/spot_btcusdt_20240808.gz")).take(slice(0, 8000))
    a = api.backtest(ev, "linear-skew", latency_ms="measured", seed=4)
    b = api.backtest(ev, "linear-skew", latency_ms="measured", seed=4)
    c = api.backtest(ev, "linear-skew", latency_ms="measured", seed=5)
    keys = ("fills", "pnl_final", "requests", "max_abs_q")
    va, vb, vc = ([r.summary[k].value for k in keys] for r in (a, b, c))
    assert va == vb  # same seed: the same numbers, bit for bit
    assert va[2] > 0 and va != vc  # another seed: other order-latency draws
    assert "measured" in a.meta["options"]["feed_latency"]


def test_order_leg_is_the_same_with_touch_and_depth_books():
    """Same file, same seed: the bookTicker and trade rows get the same sample, offset, feed and order latencies
    with book="touch" and book="depth" (the LEVEL/CLEAR rows draw after them); the options record the fit."""
    path = shared_data("binance/spot_btcusdt_20240808.gz")
    touch, depth = (load_binance(path, book=b).take(slice(0, 30_000)) for b in ("touch", "depth"))
    main = depth.kind <= TRADE  # QUOTE 0, TRADE 1
    assert (depth.kind[~main] >= LEVEL).any()
    # the depth table's first 30,000 rows hold fewer bookTicker/trade rows: compare those
    k = int(main.sum())
    touch = touch.take(slice(0, k))
    np.testing.assert_array_equal(depth.local_ts[main], touch.local_ts)
    np.testing.assert_array_equal(depth.ts[main], touch.ts)
    for spec in ("measured", "measured:lognormal"):
        lat = Latency.parse("x", spec)
        a = lat.draw_events_ns(touch, np.random.default_rng(9), "order")
        b = lat.draw_events_ns(depth, np.random.default_rng(9), "order")
        np.testing.assert_array_equal(b[main], a)
        assert b[~main].min() >= 0
    mt, md = MeasuredLatency.of(touch), MeasuredLatency.of(depth)
    assert mt.offset_ns == md.offset_ns and np.array_equal(mt.sample_ms, md.sample_ms)
    np.testing.assert_array_equal(md.feed_ns()[main], mt.feed_ns())
    # what a backtest records: the order leg's kind, offset, quantiles, lognormal parameters and KS (ms)
    d = measured_options(touch, Latency("const", 0.0), Latency.parse("x", "measured:lognormal"))["latency_measured"]
    assert d["order_leg"] == "fitted shifted lognormal" and d["offset_ms"] == mt.offset_ns / MS
    assert [d["p1_ms"], d["p50_ms"], d["p99_ms"]] == mt.quantiles_ms() and d["ks"] == mt.ks
    assert d["lognormal_log_sd"] == mt.shape and d["lognormal_median_ms"] == mt.loc_ms + mt.scale_ms
    assert measured_options(touch, Latency("exp", 5.0), Latency("const", 1.0)) == {}


def test_inspect_latency_units_and_caveats():
    """data inspect: the latency rows in ms, the spot bookTicker rows explained, a caveat when KS > 0.1."""
    path = shared_data("binance/spot_btcusdt_20240808.gz")
    m = MeasuredLatency.of(load_binance(path))
    s = m.summary()
    assert m.ks > KS_POOR and "Heavy tail" in s["latency_note"] and "bootstrap (measured) follows" in s["latency_note"]
    assert f"{m.estimated_rows:,} bookTicker rows carry no exchange time" in s["latency_note"]
    r = CliRunner().invoke(cli_app.app, ["data", "inspect", str(path)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.stderr
    rows = {ln.split("│")[1].strip(): ln.split("│")[3].strip() for ln in r.stdout.splitlines() if ln.count("│") == 4}
    assert rows["latency_p50_ms"] == rows["latency_offset_ms"] == "ms" and rows["events"] == "rows"
    assert rows["latency_ks"].startswith("KS statistic")
    assert "latency note: " in r.stdout and "Heavy tail" in r.stdout
    # a good fit: no caveat
    rng = np.random.default_rng(3)
    good = MeasuredLatency.of(table(np.round(0.3e6 + rng.lognormal(np.log(2e6), 0.7, 3000)).astype(np.int64)))
    assert good.ks < KS_POOR and "latency_note" not in good.summary()
