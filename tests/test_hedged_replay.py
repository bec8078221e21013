"""The hedged replay (issue 15 §4): inventory in one instrument, hedged in another, two files on one clock.

Hand-made tapes with hand-computed IOC and market fills (two levels walked, taker fee, latency; a depth
array and a LEVEL/CLEAR book), the PnL decomposition summing to the total exactly, the refusals, and one
run on the real Binance spot and USDⓈ-M captures (a short slice) checking invariants and determinism.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import flatbook as fb
from conftest import shared_data
from flatbook.api.replay import backtest_hedged
from flatbook.backtest import BacktestOptions, Latency, replay_config, run_backtest
from flatbook.backtest import hedge_pass as H
from flatbook.backtest.hedged import HedgeSpec, hedge_pass, run_hedged
from flatbook.cli import root as cli_app
from flatbook.data.events import CLEAR, LEVEL, QUOTE, EventMeta, EventTable, empty_columns
from flatbook.errors import InputError
from flatbook.timing import without_timing

NS = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * NS
TOUCH = dict(bid_px=99.5, bid_sz=2.0, ask_px=100.5, ask_sz=0.3)
#: per level (bid_px, bid_sz, ask_px, ask_sz): the touch, then two deeper levels
LEVELS = [(99.5, 2.0, 100.5, 0.3), (99.0, 5.0, 101.0, 0.4), (98.5, 5.0, 101.5, 5.0)]


def table(rows: list[dict], tick: float, lot: float, depth=None, book="touch", name="H") -> EventTable:
    cols = empty_columns(len(rows))
    for i, r in enumerate(rows):
        for k, v in r.items():
            cols[k][i] = v
    meta = EventMeta(name, "hand", tick, lot, price_unit="USDT", qty_unit="BTC", book=book, levels=1)
    return EventTable(**cols, meta=meta, depth=depth)


def pass_params(ioc=False, ticks=0, fee=0.01, fee_bps=10.0) -> np.ndarray:
    pv = np.zeros(H.HQ_LEN)
    pv[H.HQ_TRIGGER], pv[H.HQ_THR] = 1.0, 0.0  # threshold at 0
    pv[H.HQ_NH], pv[H.HQ_RATIO] = 1.0, 1.0  # immediate, ratio 1
    pv[H.HQ_IOC], pv[H.HQ_IOC_TICKS] = float(ioc), float(ticks)
    pv[H.HQ_FEE], pv[H.HQ_FEE_BPS], pv[H.HQ_CSIZE_S] = fee, fee_bps, 1.0
    return pv


def run_pass(hedge: EventTable, pv: np.ndarray):
    """Our spot leg sells 0.6 at 0.5 s; every row seen 1 ms late, every order 2 ms on the way."""
    fills = {
        "ts": np.array([T0 + NS // 2]),
        "q": np.array([-0.6]),
        "side": np.array([-1.0]),
        "px": np.array([100.0]),
        "qty": np.array([0.6]),
        "fee": np.array([0.0]),
    }
    rows = len(hedge) + 1
    lat = np.full(rows, MS, np.int64)
    return hedge_pass(hedge, fills, (np.zeros(0, np.int64), np.zeros(0)), pv, np.ones(1), lat, 2 * lat, T0)


def depth_tape(refresh=False) -> EventTable:
    """A touch book with a depth array (as a LOBSTER file): rows at 0, 1 s and 2 s, the book unchanged
    (``refresh``: at 1 s the touch ask shows 0.6: 0.3 more than the 0.3 our order took)."""
    rows = [dict(ts=T0 + i * NS, kind=QUOTE, **TOUCH) for i in range(3)]
    depth = np.array([LEVELS] * 3, dtype=float)
    if refresh:
        rows[1]["ask_sz"] = depth[1, 0, 3] = 0.6
    return table(rows, tick=0.5, lot=0.1, depth=depth)


def level_tape(unknown_at=None, refresh=False) -> EventTable:
    """The same book from LEVEL rows after a CLEAR (meta.book "depth"), with a stale ask at 100.0 inside the
    touch (the bookTicker's touch wins); ``unknown_at``: a CLEAR with qty 0 then (the depth unknown);
    ``refresh``: at 1 s the touch ask shows 0.6 (a LEVEL row at 100.5 and the touch columns)."""
    rows = [dict(ts=T0, kind=CLEAR, qty=1.0, **TOUCH)]
    for bp, bs, ap, as_ in LEVELS:
        rows.append(dict(ts=T0, kind=LEVEL, side=1, px=bp, qty=bs, **TOUCH))
        rows.append(dict(ts=T0, kind=LEVEL, side=-1, px=ap, qty=as_, **TOUCH))
    rows.append(dict(ts=T0, kind=LEVEL, side=-1, px=100.0, qty=9.0, **TOUCH))
    if unknown_at is not None:
        rows.append(dict(ts=T0 + unknown_at, kind=CLEAR, qty=0.0, **TOUCH))
    rows += [dict(ts=T0 + i * NS, kind=QUOTE, **TOUCH) for i in (1, 2)]
    if refresh:
        rows[-2] = dict(ts=T0 + NS, kind=LEVEL, side=-1, px=100.5, qty=0.6, **{**TOUCH, "ask_sz": 0.6})
        rows[-1]["ask_sz"] = 0.6
    return table(rows, tick=0.5, lot=0.1, book="depth")


def fee(n, p):
    return 0.01 * n + 10e-4 * n * p


@pytest.mark.parametrize("tape", [depth_tape, level_tape], ids=["depth-array", "level-rows"])
@pytest.mark.parametrize("kind", ["market", "ioc+1"])
def test_market_order_walks_two_levels_with_fee_after_the_latency(tape, kind):
    """Decided at 0.5 s + 1 ms, arrives at + 2 ms: buys 0.3 at the touch 100.5 and 0.3 at 101.0 (the next
    level's 0.4); each level pays 0.01 per BTC + 10 bps of its notional; the stale 100.0 ask is not taken."""
    pv = pass_params(ioc=kind != "market", ticks=1)
    f, o, cnt, acc = run_pass(tape(), pv)
    arrival = T0 + NS // 2 + 3 * MS
    assert o["ts"].tolist() == [T0 + NS // 2 + MS] and o["arrival"].tolist() == [arrival]
    assert o["qty"].tolist() == pytest.approx([0.6])
    assert np.isnan(o["limit"][0]) if kind == "market" else o["limit"][0] == 101.0
    assert f["ts"].tolist() == [arrival, arrival] and f["side"].tolist() == [1, 1]
    assert f["px"].tolist() == [100.5, 101.0] and f["qty"].tolist() == pytest.approx([0.3, 0.3])
    assert f["fee"].tolist() == pytest.approx([fee(0.3, 100.5), fee(0.3, 101.0)], rel=1e-12)
    assert f["mid"].tolist() == [100.0, 100.0]
    assert acc[H.HA_UNFILLED] == 0.0 and cnt[H.H_LEVELS_MAX] == 2
    # the edge against the mid: −(0.3·0.5 + 0.3·1.0); the fees are the two above
    assert acc[H.HA_HEDGE_EDGE] == pytest.approx(-0.45, abs=1e-12)
    assert acc[H.HA_TAKER_FEES] == pytest.approx(fee(0.3, 100.5) + fee(0.3, 101.0), rel=1e-12)


@pytest.mark.parametrize("tape", [depth_tape, level_tape], ids=["depth-array", "level-rows"])
def test_ioc_at_the_touch_fills_one_level_then_waits_for_the_touch_to_change(tape):
    """IOC limit 100.5: 0.3 fills at 0.503 s, 0.3 is cancelled. The rows at 1 s and 2 s show the same ask
    (0.3 @ 100.5), which our order has already taken: nothing is sent again, and the 0.3 counts once as
    unfilled. When the ask shows 0.6 at 1 s (0.3 more at that price, the recorded queue without our trade),
    the hedger buys the 0.3 again, decided at 1.001 s, filled at 1.003 s at 100.5: 0.6 − 0.3 taken before."""
    f, o, cnt, acc = run_pass(tape(), pass_params(ioc=True, ticks=0))
    assert o["ts"].tolist() == [T0 + NS // 2 + MS] and o["qty"].tolist() == pytest.approx([0.6])
    assert f["qty"].tolist() == pytest.approx([0.3]) and acc[H.HA_UNFILLED] == pytest.approx(0.3)
    f, o, cnt, acc = run_pass(tape(refresh=True), pass_params(ioc=True, ticks=0))
    assert o["ts"].tolist() == [T0 + NS // 2 + MS, T0 + NS + MS]
    assert o["limit"].tolist() == [100.5, 100.5] and o["qty"].tolist() == pytest.approx([0.6, 0.3])
    assert f["ts"].tolist() == [T0 + NS // 2 + 3 * MS, T0 + NS + 3 * MS]
    assert f["px"].tolist() == [100.5, 100.5] and f["qty"].tolist() == pytest.approx([0.3, 0.3])
    assert acc[H.HA_UNFILLED] == pytest.approx(0.3) and acc[H.HA_FILLED] == pytest.approx(0.6)
    assert acc[H.HA_RESENT] == pytest.approx(0.3)  # the 0.3 left over is sent again: unfilled 0 in all


def test_unknown_depth_fills_the_touch_only():
    """A CLEAR with qty 0 (a sequence gap) leaves only the touch: the market order gets 0.3, the rest is not
    assumed to exist; the touch (already ours) is not taken again while it shows the same 0.3."""
    f, o, cnt, acc = run_pass(level_tape(unknown_at=NS // 5), pass_params())
    assert f["px"].tolist() == [100.5] and f["qty"].tolist() == pytest.approx([0.3])
    assert acc[H.HA_UNFILLED] == pytest.approx(0.3) and cnt[H.H_LEVELS_MAX] == 1


@pytest.mark.parametrize("tape", [depth_tape, level_tape], ids=["depth-array", "level-rows"])
def test_orders_at_one_ns_take_the_displayed_liquidity_once(tape):
    """Zero latency. Our spot leg sells 0.2 BTC twice at the same ns (0.5 s), then S's row at that ns: the
    first hedge buys 0.2 of the touch's 0.3 at 100.5; the second, arriving at the same ns before any hedge
    row, finds 0.1 left at 100.5 and takes the next level (0.1 @ 101.0), not the 0.3 again. Each level's
    total taken is at most what it shows."""
    t = T0 + NS // 2
    fills = {
        "ts": np.array([t, t]),
        "q": np.array([-0.2, -0.4]),
        "side": np.array([-1.0, -1.0]),
        "px": np.array([100.0, 100.0]),
        "qty": np.array([0.2, 0.2]),
        "fee": np.zeros(2),
    }
    hed = tape()
    marks = (np.array([t]), np.array([100.0]))
    rows = len(hed) + 3
    lat = np.zeros(rows, np.int64)
    f, o, cnt, acc = hedge_pass(hed, fills, marks, pass_params(), np.ones(1), lat, lat, T0)
    assert o["ts"].tolist() == [t, t] and o["qty"].tolist() == pytest.approx([0.2, 0.2])
    assert f["px"].tolist() == [100.5, 100.5, 101.0] and f["qty"].tolist() == pytest.approx([0.2, 0.1, 0.1])
    assert acc[H.HA_UNFILLED] == 0.0


def test_deeper_fills_are_priced_on_the_tick_grid():
    """A LEVEL book on a 0.1 tick: the walk's second level, 1001 ticks, fills at 100.1 (= 1001 / 10, the
    replay engine's tick price), not 1001 · 0.1 = 100.10000000000001."""
    touch = dict(bid_px=99.9, bid_sz=5.0, ask_px=100.0, ask_sz=0.3)
    rows = [dict(ts=T0, kind=CLEAR, qty=1.0, **touch)]
    rows += [dict(ts=T0, kind=LEVEL, side=-1, px=p, qty=0.3, **touch) for p in (100.0, 100.1, 100.3)]
    rows += [dict(ts=T0 + i * NS, kind=QUOTE, **touch) for i in (1, 2)]
    f, o, cnt, acc = run_pass(table(rows, tick=0.1, lot=0.1, book="depth"), pass_params())
    assert f["px"].tolist() == [100.0, 100.1] and f["qty"].tolist() == pytest.approx([0.3, 0.3])


# --------------------------------------------------------------------------- the decomposition, exactly
def mids_tape(name, t0_ns, mids, half, tick, lot, size=50.0):
    rows = [
        dict(ts=t0_ns + i * NS, kind=QUOTE, bid_px=m - half, ask_px=m + half, bid_sz=size, ask_sz=size)
        for i, m in enumerate(mids)
    ]
    return table(rows, tick=tick, lot=lot, name=name)


def hand_pair(shift_s=0.25):
    """S and H on a quarter grid (every number is exact in binary): S moves by ±0.25 a second, H follows
    with a basis that wanders; H's rows come ``shift_s`` after S's."""
    rng = np.random.default_rng(7)
    steps = rng.integers(-2, 3, 40)
    s = 100.0 + 0.25 * np.cumsum(steps)
    h = s + 0.5 + 0.25 * np.cumsum(rng.integers(-1, 2, 40))
    inv = mids_tape("S", T0, s, 0.25, 0.25, 0.5)
    hed = mids_tape("H", T0 + int(shift_s * NS), h, 0.25, 0.25, 0.5)
    return inv, hed, s, h


def hand_run(inv, hed, ratio=1.0, **ov):
    values = dict(half_spread=40.0, size=1.0, limit=10.0, q0=1.0, taker_fee=0.25, **ov)
    values.setdefault("hedge_trigger", "threshold")
    values.setdefault("hedge_threshold", 0.0)
    cfg = replay_config(inv, "symmetric", values)
    return run_hedged(inv, hed, cfg, BacktestOptions(), HedgeSpec(ratio))


def test_decomposition_sums_to_the_total_exactly():
    """q0 = 1 held all along (quotes ±40 never fill); at H's first row the hedger sells 1 H at its bid
    (mid − 0.25) and pays 0.25. Then, exactly: the legs are the sums of their parts, the two position
    PnLs are net delta + basis, and each part is its closed form."""
    inv, hed, s, h = hand_pair()
    r = hand_run(inv, hed)
    p = r.summary["pnl"]
    assert r.inventory.summary["fills"] == 0 and r.summary["hedge"]["fills"] == 1
    assert p["inventory_leg"] == p["spot_edge"] - p["maker_fees"] - p["financing"] + p["spot_position"]
    assert p["hedge_leg"] == p["hedge_edge"] - p["taker_fees"] + p["hedge_position"]
    assert p["spot_position"] + p["hedge_position"] == p["net_delta"] + p["basis"]
    assert p["hedged"] == p["inventory_leg"] + p["hedge_leg"]
    # closed forms over the window [0.25 s, 39 s] (H's first row to S's last; H's row at 39.25 s is cut):
    # S from its mark at t_a (its row at 0 s) to s[-1]; the hedge held from 0.25 s, H from h[0] to h[-2]
    ds, dh = s[-1] - s[0], h[-2] - h[0]
    assert p["spot_position"] == ds and p["unhedged"] == ds
    assert p["hedge_edge"] == -0.25 and p["taker_fees"] == 0.25
    assert p["hedge_position"] == -dh
    # x = 1 + y = 0 from the fill at t_a on (zero latency): no net-delta PnL at all, the rest is basis
    assert p["net_delta"] == 0.0 and p["basis"] == ds - dh
    assert p["hedged"] == ds - dh - 0.5
    assert r.summary["risk"]["max_abs_net_delta"] == 0.0 and r.summary["risk"]["max_abs_q"] == 1.0
    assert r.hedge_orders["qty"].tolist() == [-1.0]


def test_ratio_scales_the_hedge_and_the_basis():
    """Ratio 0.5: 0.5 H per unit of S; x = q + y/h is still 0 after the hedge; the identity still holds."""
    inv, hed, s, h = hand_pair()
    r = hand_run(inv, hed, ratio=0.5)
    p = r.summary["pnl"]
    assert r.hedge_fills["qty"].tolist() == [0.5]
    assert p["spot_position"] + p["hedge_position"] == p["net_delta"] + p["basis"]
    assert p["basis"] == (s[-1] - s[0]) - 0.5 * (h[-2] - h[0])
    assert r.path["x"][-1] == 0.0


# --------------------------------------------------------------------------- refusals
def test_clocks_that_do_not_overlap_are_refused_naming_both_spans():
    inv, _, _, _ = hand_pair()
    _, hed, _, _ = hand_pair(shift_s=100.0)
    with pytest.raises(InputError) as e:
        hand_run(inv, hed)
    msg = str(e.value)
    assert e.value.field == "hedge_data" and "do not overlap" in msg
    assert "2023-11-14T22:13:20.000Z" in msg and "2023-11-14T22:15:00.000Z" in msg  # S's start, H's start


@pytest.mark.parametrize(
    "change, field, text",
    [
        (lambda t: t.with_contract("inverse", 100.0), "hedge_data", "inverse"),
        (lambda t: t.with_meta(price_unit="USD", settlement_currency="USD"), "hedge_data", "no conversion"),
    ],
)
def test_units_without_a_conversion_are_refused(change, field, text):
    inv, hed, _, _ = hand_pair()
    with pytest.raises(InputError) as e:
        hand_run(inv, change(hed))
    assert e.value.field == field and text in str(e.value)


@pytest.mark.parametrize("ratio", [None, "abc", 0, -1.0, float("nan")])
def test_a_missing_or_bad_hedge_ratio_is_refused(ratio):
    inv, hed, _, _ = hand_pair()
    with pytest.raises(InputError) as e:
        backtest_hedged(inv, hed, "symmetric", hedge_ratio=ratio, half_spread=40.0, size=1.0)
    assert e.value.field == "hedge_ratio" and ("required" in str(e.value) or "allowed" in str(e.value))


@pytest.mark.parametrize(
    "ov, field", [({"hedge_trigger": "zone"}, "hedge_trigger"), ({"hedge_exec": "vwap"}, "hedge_exec")]
)
def test_hedge_settings_the_replay_cannot_honour_are_refused(ov, field):
    inv, hed, _, _ = hand_pair()
    with pytest.raises(InputError) as e:
        hand_run(inv, hed, **ov)
    assert e.value.field == field


def test_cli_refusals_exit_2_with_one_line_and_json_is_the_api(tmp_path):
    inv, hed, _, _ = hand_pair()
    a, b = inv.to_parquet(tmp_path / "s.parquet"), hed.to_parquet(tmp_path / "h.parquet")
    runner = CliRunner()
    base = ["backtest", str(a), "--policy", "symmetric", "--set", "half_spread=40", "--set", "size=1"]
    r = runner.invoke(cli_app.app, [*base, "--hedge-data", str(b)])
    assert r.exit_code == 2 and "--hedge-ratio" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli_app.app, [*base, "--hedge-ratio", "1"])
    assert r.exit_code == 2 and "--hedge-data" in r.output
    r = runner.invoke(cli_app.app, [*base, "--hedge-data", str(b), "--hedge-ratio", "0"])
    assert r.exit_code == 2 and "--hedge-ratio" in r.output
    args = [*base, "--set", "q0=1", "--hedge-data", str(b), "--hedge-ratio", "1", "--hedge-order", "ioc", "--json"]
    r = runner.invoke(cli_app.app, args)
    assert r.exit_code == 0, r.output
    api = backtest_hedged(
        a, b, "symmetric", hedge_ratio=1, hedge_order="ioc", half_spread="40", size="1", q0="1"
    ).to_dict()
    assert without_timing(json.loads(r.stdout)) == without_timing(json.loads(json.dumps(api)))


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def binance_pair():
    spot = fb.load_data(shared_data("binance/spot_btcusdt_20240808.gz"))
    perp = fb.load_data(shared_data("binance/usdm_btcusdt_20240808.gz"))
    t0 = max(int(spot.ts[0]), int(perp.ts[0]))
    return spot.between(t0, t0 + 120 * NS), perp.between(t0, t0 + 120 * NS)


def test_real_spot_hedged_in_the_perpetual(binance_pair):
    """Two minutes of the Binance spot and USDⓈ-M BTCUSDT captures: the inventory leg is the plain replay,
    bit for bit; the net delta stays below the unhedged |q|; orders at one ns never take more of a touch than
    it shows; hedged PnL varies less than unhedged; financing is 0 with zero rates; same seed, same numbers."""
    spot, perp = binance_pair
    thr = 0.003
    values = {"hedge_trigger": "threshold", "hedge_threshold": thr}
    cfg = replay_config(spot, "linear-skew", values)
    r = run_hedged(spot, perp, cfg, BacktestOptions(), HedgeSpec(1.0))
    plain = run_backtest(spot, cfg, BacktestOptions())
    assert r.inventory.summary["pnl_final"] == plain.summary["pnl_final"]
    assert np.array_equal(r.inventory.fills["q"], plain.fills["q"])
    s, risk, hs = r.summary, r.summary["risk"], r.summary["hedge"]
    assert s["inventory"]["fills"] > 50 and hs["fills"] > 5
    assert risk["max_abs_net_delta"] < risk["max_abs_q"]
    # a touch-only book: an order larger than the touch is filled in part, the rest sent again once the touch
    # changes (the remainder counts once); several orders at one ns share the size the touch shows
    assert hs["volume_filled"] + hs["volume_unfilled"] == pytest.approx(hs["volume_sent"], abs=1e-12)
    f = r.hedge_fills
    ticks = np.round(f["px"] / perp.meta.tick_size).astype(np.int64)
    keys = np.stack([f["ts"], f["side"].astype(np.int64), ticks]).T  # int64: ns stamps stay exact
    uniq, inv_k = np.unique(keys, axis=0, return_inverse=True)
    took = np.bincount(inv_k.ravel(), weights=f["qty"])
    i0 = np.searchsorted(perp.ts, uniq[:, 0], side="left") - 1  # the book before that ns
    i1 = np.searchsorted(perp.ts, uniq[:, 0], side="right")  # … to its last row at that ns
    for (_, sd, _), a, b, n in zip(uniq, i0, i1, took, strict=True):
        assert n <= np.max((perp.ask_sz if sd > 0 else perp.bid_sz)[a:b]) + 1e-9
    assert s["pnl"]["financing"] == 0.0
    assert risk["pnl_std_1s_hedged"] < risk["pnl_std_1s_unhedged"]
    assert risk["price_pnl_std_1s_hedged"] < risk["price_pnl_std_1s_unhedged"]
    assert 0.0 < risk["variance_reduction_1s"] < 1.0 and 0.0 < risk["theory_rho2"] <= 1.0
    p = s["pnl"]
    total = p["spot_edge"] - p["maker_fees"] - p["financing"] + p["spot_position"]
    total += p["hedge_edge"] - p["taker_fees"] + p["hedge_position"]
    assert total == pytest.approx(p["hedged"], abs=1e-9)
    assert p["net_delta"] + p["basis"] == pytest.approx(p["spot_position"] + p["hedge_position"], abs=1e-9)
    # with latency drawn (exponential, mean 5 ms), IOC orders and a 5 bp taker fee, twice: the same numbers
    cfg = replay_config(spot, "linear-skew", {**values, "taker_fee_bps": 5.0})
    opts = BacktestOptions(feed_latency=Latency("exp", 5.0), order_latency=Latency("exp", 5.0), seed=3)
    a = run_hedged(spot, perp, cfg, opts, HedgeSpec(1.0, "ioc", 1))
    b = run_hedged(spot, perp, cfg, opts, HedgeSpec(1.0, "ioc", 1))
    fills = a.hedge_fills
    assert a.summary["pnl"]["taker_fees"] == pytest.approx(5e-4 * np.sum(fills["qty"] * fills["px"]), rel=1e-12)
    assert np.all(np.diff(a.hedge_orders["arrival"] - a.hedge_orders["ts"]) != 0)  # latencies drawn
    assert without_timing(a.summary) == without_timing(b.summary)
    assert all(np.array_equal(a.hedge_fills[k], b.hedge_fills[k]) for k in a.hedge_fills)


def test_measured_latency_per_leg(binance_pair):
    """``measured`` on both legs: each order's latency (arrival − decision) is one of the perpetual's measured
    feed latencies (the bootstrap of :class:`MeasuredLatency`), each decision comes a measured feed latency
    after its row; same seed, same numbers."""
    from flatbook.backtest.latency import MeasuredLatency

    spot, perp = binance_pair
    cfg = replay_config(spot, "linear-skew", {"hedge_trigger": "threshold", "hedge_threshold": 0.003})
    opts = BacktestOptions(feed_latency=Latency("measured", 0.0), order_latency=Latency("measured", 0.0), seed=5)
    a = run_hedged(spot, perp, cfg, opts, HedgeSpec(1.0))
    b = run_hedged(spot, perp, cfg, opts, HedgeSpec(1.0))
    assert without_timing(a.summary) == without_timing(b.summary) and a.summary["hedge"]["orders"] > 5
    o = a.hedge_orders
    pool = np.unique(np.round(MeasuredLatency.of(perp).sample_ms * 1e6).astype(np.int64))
    lat = o["arrival"] - o["ts"]
    assert np.all(np.isin(lat, pool)) and np.unique(lat).size > 1
    # a leg without local receive stamps: refused, naming the option given (--order-latency-ms in the CLI)
    inv, hed, _, _ = hand_pair()
    cfg = replay_config(inv, "symmetric", {"half_spread": 40.0, "size": 1.0})
    with pytest.raises(InputError) as e:
        run_hedged(inv, hed, cfg, BacktestOptions(order_latency=Latency("measured", 0.0)), HedgeSpec(1.0))
    assert e.value.field == "order_latency" and "local receive stamps" in str(e.value)


@pytest.mark.parametrize(
    "change, text",
    [
        (lambda t: t.with_meta(instrument="ETHUSDT (usdm)", qty_unit="ETH"), "same base asset"),
        (lambda t: t.with_meta(instrument="S"), "same instrument"),
    ],
    ids=["eth-perp-for-btc", "same-instrument"],
)
def test_mismatched_instruments_are_refused(change, text):
    """BTC inventory hedged in an ETH contract, or an instrument hedged in itself: one line naming
    --hedge-data (``hedge_data`` in the API)."""
    inv, hed, _, _ = hand_pair()
    with pytest.raises(InputError) as e:
        hand_run(inv, change(hed))
    assert e.value.field == "hedge_data" and text in str(e.value)


def test_trigger_none_warns_that_no_hedge_is_sent():
    inv, hed, _, _ = hand_pair()
    r = hand_run(inv, hed, hedge_trigger="none")
    assert r.summary["hedge"]["orders"] == 0
    assert any("no hedge order is sent" in w for w in r.summary["warnings"])


def test_cli_names_the_flags_and_the_replay_units(tmp_path):
    """Setting errors name the flag typed and the replay's units (quantity units of DATA, s); measured
    latency on files without local stamps names --order-latency-ms; a glob matching one file is that file;
    the table shows hedge.ioc_ticks as a number of ticks."""
    inv, hed, _, _ = hand_pair()
    a, b = inv.to_parquet(tmp_path / "s.parquet"), hed.to_parquet(tmp_path / "h.parquet")
    runner = CliRunner()
    base = ["backtest", str(a), "--policy", "symmetric", "--set", "half_spread=40", "--set", "size=1"]
    base += ["--hedge-data", str(b), "--hedge-ratio", "1"]
    cases = [
        (["--hedge-threshold", "-1"], "--hedge-threshold", "(quantity units of DATA, e.g. BTC)"),
        (["--hedge-exec", "twap", "--hedge-horizon", "0"], "--hedge-horizon", "(s)"),
        (["--hedge-exec", "almgren-chriss", "--hedge-horizon", "10"], "hedge_eta", "--set hedge_eta=X"),
        (["--order-latency-ms", "measured"], "--order-latency-ms", "local receive stamps"),
    ]
    for extra, flag, text in cases:
        r = runner.invoke(cli_app.app, [*base, *extra])
        assert r.exit_code == 2 and f"error: {flag}:" in r.output and text in r.output, r.output
        assert "(lots)" not in r.output and "time units" not in r.output
    one = ["backtest", str(tmp_path / "s.parq*"), *base[2:], "--hedge-order", "ioc", "--json"]
    r = runner.invoke(cli_app.app, one)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["hedge"]["ioc_ticks"] == 0
    from flatbook.backtest.hedged import units

    assert units("USDT", "USDT", "BTC", "BTC")["hedge.ioc_ticks"].startswith("ticks")
    assert "USDT" not in units("USDT", "USDT", "BTC", "BTC")["hedge.ioc_ticks"]


def test_out_and_report_carry_the_figure(tmp_path):
    """``--out`` writes hedged.png (PnL hedged and unhedged, q, y/h, net delta) beside the tables; ``--report``
    embeds it."""
    inv, hed, _, _ = hand_pair()
    a, b = inv.to_parquet(tmp_path / "s.parquet"), hed.to_parquet(tmp_path / "h.parquet")
    args = ["backtest", str(a), "--policy", "symmetric", "--set", "half_spread=40", "--set", "size=1", "--set"]
    args += ["q0=1", "--hedge-data", str(b), "--hedge-ratio", "1", "--out", str(tmp_path / "o")]
    args += ["--report", str(tmp_path / "r.html")]
    r = CliRunner().invoke(cli_app.app, args)
    assert r.exit_code == 0, r.output
    png = (tmp_path / "o" / "hedged.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()
    ax = backtest_hedged(inv, hed, "symmetric", hedge_ratio=1, half_spread=40.0, size=1.0, q0=1.0).plot().axes
    assert [x.get_ylabel() for x in ax] == ["PnL (USDT)", "position (BTC of S)"]


@pytest.mark.parametrize("tape", [depth_tape, level_tape], ids=["depth-array", "level-rows"])
def test_a_smaller_size_at_the_same_touch_is_not_taken_again(tape):
    """IOC limit 100.5: the first order takes the 0.3 shown; at 1 s the ask shows 0.2 at the same price
    (the recorded queue shrank, without our trade), and still at 2 s: nothing is left for us, so the order
    sent again at 1 s fills nothing, none is sent at 2 s, and the 0.3 counts once as unfilled."""
    hed = tape(refresh=True)
    hed.ask_sz[hed.ts >= T0 + NS] = 0.2  # at 1 s and 2 s
    if hed.depth is not None:
        hed.depth[1:, 0, 3] = 0.2
    if hed.meta.book == "depth":
        hed.qty[(hed.ts == T0 + NS) & (hed.kind == LEVEL)] = 0.2
    f, o, cnt, acc = run_pass(hed, pass_params(ioc=True, ticks=0))
    assert f["qty"].tolist() == pytest.approx([0.3]) and o["qty"].tolist() == pytest.approx([0.6, 0.3])
    assert acc[H.HA_UNFILLED] - acc[H.HA_RESENT] == pytest.approx(0.3)
