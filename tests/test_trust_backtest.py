"""Issue 13 ("Trust"), the replay core: inverse contracts, the queue's print/fall reconciliation,
warnings that say why a run says little, sizes below the lot, the streams of a file, the PnL
attribution of a backtest, progress, and determinism outside the ``timing`` key."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import prop, shared_data
from flatbook.backtest import BacktestOptions, Latency, replay_config, run_backtest
from flatbook.config import build_config
from flatbook.data.events import QUOTE, TRADE, EventMeta, EventTable, contract_value, empty_columns
from flatbook.data.load import load
from flatbook.errors import InputError
from flatbook.sim.metrics import ATTRIBUTION
from flatbook.strategy.contract import unit_value
from flatbook.timing import without_timing
from test_cli_replay import cli, cli_json, one_line_error

NS = 1_000_000_000
MS = 1_000_000
CM = "binance/cm_btcusd_perp_20240808.gz"
USDM = "binance/usdm_btcusdt_20240808.gz"
# the issue's COIN-M command
CM_ARGS = (
    "--policy",
    "linear-skew",
    "--set",
    "size=10",
    "--set",
    "limit=100",
    "--set",
    "half_spread=1",
    "--set",
    "skew=0.02",
    "--latency-ms",
    "10",
    "--min-requote-ms",
    "100",
)


def table(rows, *, tick=0.1, lot=1.0, contract="linear", csize=1.0, settle="") -> EventTable:
    cols = empty_columns(len(rows))
    for i, r in enumerate(rows):
        for k, v in r.items():
            cols[k][i] = v
    return EventTable(
        **cols,
        meta=EventMeta("TEST", "hand", tick, lot, contract=contract, contract_size=csize, settlement_currency=settle),
    )


def cfg(policy="symmetric", **ov):
    base = dict(half_spread=1.0, T=1000.0, s0=100.0, tick=0.1, size=1.0, limit=1e6)
    base.update(ov)
    return build_config("replay", policy, base, paths=1)


def pnl_from_fills(fills, mid_end, q_end, contract, csize) -> float:
    """PnL recomputed from the fills alone, the position marked at the last mid. Inverse (base
    asset): Σ side·n·C/p − fees − q·C/mid_end, i.e. n·C·(1/p_buy − 1/p_sell) per round trip;
    linear (price currency): −Σ side·n·C·p − fees + q·C·mid_end."""
    side, n, p, fee = fills["side"], fills["qty"], fills["px"], fills["fee"]
    if contract == "inverse":
        return float(np.sum(side * n * csize / p) - fee.sum() - q_end * csize / mid_end)
    return float(-np.sum(side * n * csize * p) - fee.sum() + q_end * csize * mid_end)


# ----------------------------------------------------------------------------- 1.1 inverse contracts
def test_inverse_round_trip_is_the_exchange_formula():
    """Buy n contracts at pb, sell them at pa: PnL = n·C·(1/pb − 1/pa) of the base coin (Binance
    COIN-M's formula), and the fee is maker_fee_bps of the notional n·C/p, in the coin too."""
    n, C, p0, p1 = 3.0, 100.0, 60000.0, 60100.0
    bk = lambda p: dict(bid_px=p - 0.1, ask_px=p + 0.1, bid_sz=0.0, ask_sz=0.0)  # noqa: E731
    rows = [
        dict(ts=0, kind=QUOTE, **bk(p0)),
        dict(ts=NS, kind=TRADE, px=p0 - 0.2, qty=n, side=-1, **bk(p0)),  # a sell print through our bid
        dict(ts=2 * NS, kind=QUOTE, **bk(p1)),  # the book runs through our ask
        dict(ts=3 * NS, kind=QUOTE, **bk(p1)),
    ]
    ev = table(rows, contract="inverse", csize=C, settle="BTC")
    res = run_backtest(ev, cfg(half_spread=0.1, size=n, limit=n, maker_fee_bps=2.0))
    f, s = res.fills, res.summary
    pb, pa = p0 - 0.1, p0 + 0.1
    assert list(f["side"]) == [1, -1] and list(f["px"]) == [pb, pa] and s["final_q"] == 0.0
    fees = 2e-4 * n * C * (1 / pb + 1 / pa)
    assert s["fees"] == pytest.approx(fees, rel=1e-12)
    assert s["pnl_final"] == pytest.approx(n * C * (1 / pb - 1 / pa) - fees, rel=1e-12)
    assert s["maker_notional"] == pytest.approx(n * C * (1 / pb + 1 / pa), rel=1e-12)
    assert s["settlement_currency"] == "BTC" and s["contract"] == "inverse"
    assert s["pnl_final_quote"] == pytest.approx(s["pnl_final"] * p1, rel=1e-12)
    # the same tape as a linear contract: the familiar n·(pa − pb) in price units
    lin = run_backtest(table(rows), cfg(half_spread=0.1, size=n, limit=n, maker_fee_bps=2.0)).summary
    assert lin["pnl_final"] == pytest.approx(n * (pa - pb) - 2e-4 * n * (pa + pb), rel=1e-9)


@prop(max_examples=50)
@given(p=st.floats(1e-3, 1e7), csize=st.floats(1e-3, 1e4), inverse=st.booleans())
def test_the_compiled_unit_value_is_the_contract_value(p, csize, inverse):
    """The strategy's compiled v(p) (the replay's and the live engine's) and :func:`contract_value` are one formula."""
    kind = "inverse" if inverse else "linear"
    assert unit_value(p, inverse, csize) == float(contract_value(p, kind, csize))
    # the inverse identity: long n from p0 to p1 gains n·C·(1/p0 − 1/p1)
    n, p1 = 7.0, p * 1.01
    gain = n * (float(contract_value(p1, kind, csize)) - float(contract_value(p, kind, csize)))
    assert gain == pytest.approx(n * csize * (1 / p - 1 / p1) if inverse else n * csize * (p1 - p), rel=1e-9)


@prop(max_examples=30)
@given(
    seed=st.integers(0, 10_000),
    csize=st.sampled_from([1.0, 10.0, 100.0]),
    contract=st.sampled_from(["linear", "inverse"]),
    fee_bps=st.sampled_from([0.0, -0.5, 2.0]),
)
def test_pnl_is_the_fills_recomputed_on_any_tape(seed, csize, contract, fee_bps):
    """On a random tape (a random-walk mid, prints on both sides), the replay's PnL equals the
    fills' cash plus the final position marked at the last mid, computed here from the fills
    alone: n·C/p per inverse contract, n·C·p per linear unit."""
    rng = np.random.default_rng(seed)
    rows, k, t = [], 300000, 0  # the mid in ticks of 0.1
    for _ in range(300):
        t += int(rng.integers(1, 400)) * MS
        k += int(rng.choice([-1, 0, 1]))
        book = dict(
            bid_px=(k - 1) / 10, ask_px=(k + 1) / 10, bid_sz=float(rng.integers(0, 5)), ask_sz=float(rng.integers(0, 5))
        )
        if rng.random() < 0.5:
            sd = int(rng.choice([-1, 1]))
            j = int(rng.integers(0, 3))
            px = (k - 1 - j) / 10 if sd < 0 else (k + 1 + j) / 10
            rows.append(dict(ts=t, kind=TRADE, px=px, qty=float(rng.integers(1, 6)), side=sd, **book))
        else:
            rows.append(dict(ts=t, kind=QUOTE, **book))
    ev = table(rows, contract=contract, csize=csize, settle="BTC" if contract == "inverse" else "")
    res = run_backtest(
        ev, cfg("linear-skew", half_spread=0.1, skew=0.01, size=2.0, limit=6.0, maker_fee_bps=fee_bps, maker_fee=1e-7)
    )
    s, f = res.summary, res.fills
    assert s["fills"] > 5
    mid_end = ev.mid[-1]
    expect = pnl_from_fills(f, mid_end, s["final_q"], contract, csize)
    scale = float(np.sum(f["qty"] * np.abs(contract_value(f["px"], contract, csize))))
    assert s["pnl_final"] == pytest.approx(expect, rel=0, abs=1e-12 * scale)
    # and the attribution adds up
    assert sum(s[k] for k in ATTRIBUTION) == pytest.approx(s["pnl_final"], rel=0, abs=1e-12 * scale)


def test_coin_m_file_is_inverse_and_its_pnl_is_the_fills_in_btc(tmp_path):
    """The issue's command on the COIN-M capture: the PnL is in BTC, equals the fills recomputed
    as inverse contracts (n·100/p BTC each), and is about −22 USD, not −13,776."""
    path = shared_data(CM)
    out = tmp_path / "o"
    d = cli_json("backtest", path, *CM_ARGS, "--out", out)
    assert (d["contract"], d["contract_size"], d["settlement_currency"]) == ("inverse", 100.0, "BTC")
    assert d["data"]["contract"] == "inverse" and d["data"]["settlement_currency"] == "BTC"
    f = pd.read_parquet(out / "fills.parquet")
    inv = pd.read_parquet(out / "inventory.parquet")
    assert len(f) == d["fills"] > 100
    expect = pnl_from_fills(
        {k: f[k].to_numpy() for k in ("side", "qty", "px", "fee")}, inv["mid"].iloc[-1], d["final_q"], "inverse", 100.0
    )
    assert d["pnl_final"] == pytest.approx(expect, rel=1e-9)
    assert -0.0005 < d["pnl_final"] < -0.0002  # BTC (the issue: −0.000362)
    assert d["pnl_final_quote"] == pytest.approx(d["pnl_final"] * inv["mid"].iloc[-1], rel=1e-12)
    assert -30.0 < d["pnl_final_quote"] < -15.0  # USD (the issue: about −22.3)
    assert sum(d[k] for k in ATTRIBUTION) == pytest.approx(d["pnl_final"], rel=0, abs=1e-15)


def test_contract_flags_and_their_errors(tmp_path):
    q = tmp_path / "q.csv"
    q.write_text(
        "timestamp,bid,ask,bid_size,ask_size\n"
        + "".join(f"{i * NS},{100 + 0.1 * (i % 3):.1f},{100.2 + 0.1 * (i % 3):.1f},1,1\n" for i in range(1, 40))
    )
    d = cli_json(
        "data", "inspect", q, "--contract", "inverse", "--contract-size", "10", "--settlement", "ETH", "--no-cache"
    )
    assert (d["contract"], d["contract_size"], d["settlement_currency"]) == ("inverse", 10.0, "ETH")
    assert cli_json("data", "inspect", q, "--no-cache")["contract"] == "linear"
    one_line_error(cli("backtest", q, "--contract", "inverted"), "--contract", "did you mean inverse?")
    one_line_error(cli("backtest", q, "--contract", "inverse"), "--contract-size")
    one_line_error(cli("backtest", q, "--contract", "inverse", "--contract-size", "-1"), "--contract-size")
    # the contract recorded by data convert travels with the Parquet file
    dest = tmp_path / "q.parquet"
    assert cli("data", "convert", q, dest, "--contract", "inverse", "--contract-size", "10").exit_code == 0
    assert load(dest).meta.contract == "inverse" and load(dest).meta.contract_size == 10.0


# -------------------------------------------------------------------------- 1.2 queue double count
def _repro(tmp_path):
    q, t = tmp_path / "q.csv", tmp_path / "t.csv"
    q.write_text(
        "timestamp,bid,ask,bid_size,ask_size\n1000000000,100.0,100.1,1.0,1.0\n"
        "2000000000,100.0,100.1,1.0,1.0\n3000000000,100.0,100.1,0.5,1.0\n5000000000,100.0,100.1,0.2,1.0\n"
    )
    t.write_text("timestamp,price,quantity,side\n3000000000,100.0,0.5,sell\n4000000000,100.0,0.3,sell\n")
    return q, t


@pytest.mark.parametrize("queue", ["prorata", "prob"])
def test_issue_repro_a_fall_then_its_print_is_not_counted_twice(tmp_path, queue):
    """The issue's tape: we join behind 1.0; the book shows 0.5 gone and then the 0.5 print that
    took it (same time); later 0.3 prints. 0.2 is still ahead of us: no fill (it filled 0.3)."""
    q, t = _repro(tmp_path)
    d = cli_json(
        "backtest",
        q,
        "--trades",
        t,
        "--format",
        "generic",
        "--policy",
        "linear-skew",
        "--set",
        "half_spread=0.05",
        "--set",
        "skew=0",
        "--set",
        "size=0.5",
        "--set",
        "limit=10",
        "--set",
        "tick=0.1",
        "--no-cache",
        "--queue",
        queue,
    )
    assert d["fills"] == 0 and d["maker_volume"] == 0.0
    assert any("0 fills" in w for w in d["warnings"])


def _queue_model(level, bursts, size):
    """The queue as it should evolve: we are behind ``level``; a print of v takes the queue from
    the front (what passes it fills us), a cancel of c takes c/L of what is ahead (pro rata)."""
    ahead, L, filled = level, level, 0.0
    for kind, x in bursts:
        if kind == "trade":
            filled += min(math.floor(max(x - ahead, 0.0) + 1e-9), size - filled)  # whole lots
            ahead = max(ahead - x, 0.0)
            L = max(L - x, 0.0)
        else:
            ahead = min(ahead * (1.0 - x / L), L - x)
            L -= x
    return filled


@prop(max_examples=60)
@given(
    level=st.integers(2, 30),
    bursts=st.lists(
        st.tuples(st.sampled_from(["trade", "cancel"]), st.integers(1, 4), st.booleans()), min_size=1, max_size=8
    ),
)
def test_fills_do_not_depend_on_whether_the_fall_or_the_print_comes_first(level, bursts):
    """A print and the fall of the level it causes share a time stamp (Binance: the same ms) and
    arrive in either order; pure cancels are falls without a print. The fills equal the queue
    model's (trades from the front, cancels pro rata) whatever the order within each burst."""
    size = 1000.0
    rows, L, t = [], float(level), 0
    book = dict(bid_px=99.0, ask_px=101.0, ask_sz=5.0)
    rows.append(dict(ts=0, kind=QUOTE, bid_sz=L, **book))
    model = []
    for kind, x, fall_first in bursts:
        x = min(float(x), L - 1.0)  # leave one lot visible: the level stays at 99
        if x <= 0:
            continue
        t += NS
        L -= x
        fall = dict(ts=t, kind=QUOTE, bid_sz=L, **book)
        if kind == "cancel":
            rows.append(fall)
        else:
            pr = dict(ts=t, kind=TRADE, px=99.0, qty=x, side=-1, bid_sz=L if fall_first else L + x, **book)
            rows.extend([fall, pr] if fall_first else [pr, fall])
        model.append((kind, x))
    rows.append(dict(ts=t + NS, kind=QUOTE, bid_sz=L, **book))
    ev = table(rows, tick=1.0, lot=1.0)
    res = run_backtest(ev, cfg(half_spread=1.0, tick=1.0, size=size, limit=1e6, T=100.0))
    got = float(res.fills["qty"][res.fills["side"] > 0].sum())
    assert got == pytest.approx(_queue_model(float(level), model, size), abs=1e-9)


# ----------------------------------------------------------------------- 1.3 warnings that say why
def test_far_quotes_and_zero_fills_warn_and_the_stationary_a_s_trades():
    """The issue's calibrate → backtest: A–S with calibrate's values over the whole tape
    (variant=finite, T = the tape) quotes ~900 USDT from the mid and never trades; the summary
    says so and how to fix it. The stationary variant (rolling horizon 1 s) trades, and is
    still told that its quotes sit far outside the market."""
    ev = load(shared_data(USDM), cache=True)
    calib = {"sigma": 7.50244, "A": 1.51995, "k": 0.378916, "gamma": 0.181985}
    s = run_backtest(ev, replay_config(ev, "avellaneda-stoikov", calib)).summary
    assert s["fills"] == 0 and s["quote_depth_mean"] > 1000 * s["market_spread_mean"]
    assert len(s["warnings"]) == 2
    assert s["warnings"][0].startswith("0 fills in 87,402 events: quotes sat on average")
    assert "variant=finite" in s["warnings"][1] and "--set variant=stationary" in s["warnings"][1]
    st_ = run_backtest(
        ev, replay_config(ev, "avellaneda-stoikov", {**calib, "variant": "stationary", "horizon": 1.0})
    ).summary
    assert st_["fills"] > 100 and st_["quote_depth_mean"] < s["quote_depth_mean"] / 50
    assert len(st_["warnings"]) == 1 and "few trades reach them" in st_["warnings"][0]
    # quotes at the touch: no warning
    ok = run_backtest(ev, replay_config(ev, "symmetric", {"half_spread": 0.05, "size": 0.01, "limit": 1.0})).summary
    assert ok["fills"] > 100 and ok["warnings"] == []


def test_warnings_are_printed_on_stderr_and_kept_in_json(tmp_path):
    q, t = _repro(tmp_path)
    args = (
        "backtest",
        q,
        "--trades",
        t,
        "--format",
        "generic",
        "--set",
        "half_spread=0.05",
        "--set",
        "skew=0",
        "--set",
        "size=0.5",
        "--set",
        "limit=10",
        "--set",
        "tick=0.1",
        "--no-cache",
    )
    r = cli(*args)
    assert r.exit_code == 0
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("warning: 0 fills")]
    r = cli(*args, "--json")
    assert json.loads(r.stdout)["warnings"] and "warning: 0 fills" in r.stderr


# ------------------------------------------------------------------------ 1.6 / 6.3 sizes and lots
def test_size_below_the_lot_is_refused():
    one_line_error(cli("backtest", shared_data(USDM), "--set", "size=0.0001"), "size", "0.001", "lot")


def test_an_inferred_lot_that_zeroes_every_order_is_an_error(tmp_path):
    """Sizes only 10 and 1e6: the inferred lot is their step, 999990, and the default size
    rounds to 0 lots. The error names size, the lot, that it was inferred and --lot-size."""
    q = tmp_path / "q.csv"
    q.write_text(
        "timestamp,bid,ask,bid_size,ask_size\n"
        + "".join(f"{i * NS},100.0,100.2,{10 if i % 2 else 1000000},10\n" for i in range(1, 40))
    )
    sz = ("--set", "size=10", "--set", "limit=100")
    one_line_error(cli("backtest", q, "--no-cache", *sz), "size", "999990", "inferred", "--lot-size")
    d = cli_json("backtest", q, "--no-cache", "--lot-size", "1", *sz)
    assert d["data"]["lot_size"] == 1.0 and d["data"]["lot_inferred"] is False and d["requests"] > 0
    ev = load(q)
    assert ev.meta.lot_inferred and ev.meta.lot_size == 999990.0
    with pytest.raises(InputError, match="size: 10 .* below the lot of 999990"):
        run_backtest(ev, replay_config(ev, "symmetric", {"size": 10.0, "limit": 100.0}))


def test_data_inspect_lists_every_stream_used_or_ignored():
    d = cli_json("data", "inspect", shared_data(USDM))
    st_ = d["streams"]
    assert st_["btcusdt@bookTicker"]["used"] and st_["btcusdt@trade"]["used"]
    depth = [k for k in st_ if "@depth" in k]
    assert depth and not st_[depth[0]]["used"] and "ignored" in st_[depth[0]]["note"]
    assert st_[depth[0]]["messages"] > 1000
    assert st_["btcusdt@bookTicker"]["messages"] + st_["btcusdt@trade"]["messages"] == d["events"]
    r = cli("data", "inspect", shared_data(USDM))
    assert r.exit_code == 0 and "ignored" in r.stdout and "depth" in r.stdout


# ------------------------------------------------------------------------------ 3.2 attribution
@pytest.mark.parametrize(
    "rel,policy,ov",
    [
        (USDM, "linear-skew", {"maker_fee_bps": -0.5, "financing_long": 1e-4}),
        (CM, "linear-skew", {"size": 10, "limit": 100, "half_spread": 0.2, "skew": 0.002, "maker_fee_bps": 1.0}),
    ],
)
def test_backtest_attribution_adds_up_and_is_the_mark_to_market(rel, policy, ov):
    """The parts sum to the PnL (float precision), and independently of the kernel's sums:
    PnL = spread capture + Σ_e q_e·(v(mid_e) − v(mid_{e−1})) − fees − financing, with
    inventory + adverse = that mark-to-market sum (v: the contract's unit value)."""
    ev = load(shared_data(rel), cache=True)
    res = run_backtest(
        ev,
        replay_config(ev, policy, ov),
        BacktestOptions(feed_latency=Latency("const", 5.0), order_latency=Latency("const", 5.0)),
    )
    s, f, m = res.summary, res.fills, ev.meta
    assert s["fills"] > 20
    scale = float(np.sum(f["qty"] * np.abs(contract_value(f["px"], m.contract, m.contract_size))))
    assert sum(s[k] for k in ATTRIBUTION) == pytest.approx(s["pnl_final"], rel=0, abs=1e-14 * scale)
    v = contract_value(ev.mid, m.contract, m.contract_size)
    mtm = float(np.sum(res.path["q"][1:] * np.diff(v)))
    spread = float(
        np.sum(
            f["side"]
            * f["qty"]
            * (
                contract_value(f["mid"], m.contract, m.contract_size)
                - contract_value(f["px"], m.contract, m.contract_size)
            )
        )
    )
    assert s["pnl_spread"] == pytest.approx(spread, rel=1e-9)
    assert s["pnl_inventory"] + s["pnl_adverse"] == pytest.approx(mtm, rel=0, abs=1e-9 * scale)
    assert s["pnl_final"] == pytest.approx(spread + mtm - s["fees"] - s["financing"], rel=0, abs=1e-9 * scale)
    assert set(s["pnl_adverse_by_horizon"]) == {"1s", "10s", "60s"}
    assert s["pnl_adverse_by_horizon"]["1s"] == s["pnl_adverse"]


# ----------------------------------------------------------------------- 3.5 / 6.4 progress, timing
def test_progress_callback_sees_every_event_and_changes_no_number():
    ev = load(shared_data(USDM), cache=True)
    c = replay_config(ev, "linear-skew")
    seen = []
    a = run_backtest(ev, c, progress=lambda done, total: seen.append((done, total)))
    b = run_backtest(ev, c)
    assert seen[-1] == (len(ev), len(ev)) and all(0 <= d <= t for d, t in seen)
    assert without_timing(a.summary) == without_timing(b.summary)
    for k in a.fills:
        assert np.array_equal(a.fills[k], b.fills[k], equal_nan=True)


def test_two_identical_backtests_differ_only_in_timing(tmp_path):
    """summary.json and fills.parquet of two identical runs are identical once ``timing`` is removed
    (and the wall-clock fields sit only there)."""
    path = shared_data(USDM)
    args = (
        "backtest",
        path,
        "--policy",
        "stoll",
        "--latency-ms",
        "exp:3",
        "--queue",
        "prob",
        "--seed",
        "4",
        "--set",
        "size=0.01",
        "--set",
        "limit=0.1",
    )
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        assert cli(*args, "--out", out).exit_code == 0
        outs.append(out)
    a, b = (json.loads((o / "summary.json").read_text()) for o in outs)
    assert set(a["timing"]) == {"elapsed_s", "events_per_s"}
    assert not {"elapsed_s", "events_per_s"} & set(a)
    assert without_timing(a) == without_timing(b)
    fa, fb = (pd.read_parquet(o / "fills.parquet") for o in outs)
    assert len(fa) > 0
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    assert (outs[0] / "fills.parquet").read_bytes() == (outs[1] / "fills.parquet").read_bytes()


def test_unknown_format_names_the_flag(tmp_path):
    one_line_error(
        cli("data", "inspect", shared_data(USDM), "--format", "binanse"), "--format", "did you mean binance?"
    )
