"""Table policies with a regime axis, (t, q, regime): the same table read in every engine (issue 14 §2).

- the simulator reads each path's own regime: with constant depths d0 (calm) and d1 (volatile) and a σ
  multiplier of 1 (the regime moves nothing but the quotes), the fills per path equal the closed form
  Σ_i [P(calm at i)·p(d0) + P(volatile at i)·p(d1)] within 4 standard errors, the regime's occupation
  probabilities from its two-state chain;
- a table whose two regime blocks are equal gives the (t, q) table's numbers bit for bit, in the simulator
  and the backtester;
- the backtester and the live engine estimate the regime online (:mod:`flatbook.estimators.regime`); the
  estimator equals its closed form, and on real data they quote exactly when the estimate says calm;
- ``quote`` takes the regime; bad tables and a regime table without its threshold are one line.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import flatbook
from conftest import shared_data
from flatbook.backtest.backtester import BacktestOptions, replay_config, run_backtest
from flatbook.data.load import load
from flatbook.errors import InputError
from flatbook.estimators import regime as R
from flatbook.numerics.fastexp import fast_exp
from flatbook.policies.compile import python_form
from flatbook.policies.registry import register
from flatbook.policies.table import table_policy

USDM = "binance/usdm_btcusdt_20240808.gz"
Q = np.arange(-50.0, 51.0)


def _flat(name: str, d0: float, d1: float | None, **kw):
    """Constant depths d0 (calm) and d1 (volatile; None: a (t, q) table of d0) on every inventory."""
    if d1 is None:
        b = np.full((1, Q.size), d0)
    else:
        b = np.stack([np.full((1, Q.size), d0), np.full((1, Q.size), d1)], axis=2)
    return register(table_policy(None, Q, b, b.copy(), name=name, **kw))


def test_simulator_reads_each_paths_regime_closed_form():
    d0, d1 = 0.5, 2.0
    pol = _flat("reg_sim", d0, d1)
    A, k, T, n = 140.0, 1.5, 1.0, 200
    up, down = 2.0, 6.0
    params = {
        "A": A,
        "k": k,
        "T": T,
        "dt": T / n,
        "limit": 1e6,
        "regime_up_rate": up,
        "regime_down_rate": down,
        "regime_sigma_mult": 1.0,
    }
    r = flatbook.simulate(preset="as2008", policy=pol, paths=20_000, seed=3, params=params)
    fills = r.to_pandas().per_path["fills"].to_numpy()  # fills per path, both sides
    dt = T / n
    p0, p1 = min(1.0, A * dt * fast_exp(-k * d0)), min(1.0, A * dt * fast_exp(-k * d1))
    pi, expect = 0.0, 0.0  # P(volatile at step i): the chain starts calm, switches after each step's fills
    for _ in range(n):
        expect += 2.0 * ((1.0 - pi) * p0 + pi * p1)
        pi = pi * (1.0 - down * dt) + (1.0 - pi) * up * dt
    se = fills.std(ddof=1) / math.sqrt(fills.size)
    assert abs(fills.mean() - expect) < 4.0 * se
    # and it is not the calm table's count: the volatile regime's wider quotes fill less
    calm = 2.0 * n * p0
    assert calm - fills.mean() > 20.0 * se


def test_equal_blocks_are_the_plain_table_bit_for_bit():
    plain, twin = _flat("reg_plain", 0.7, None), _flat("reg_twin", 0.7, 0.7, regime_sigma=1.0)
    params = {"regime_up_rate": 3.0, "regime_down_rate": 3.0, "regime_sigma_mult": 2.0, "limit": 10.0}
    a = flatbook.simulate(preset="as2008", policy=plain, paths=2_000, seed=1, params=params)
    b = flatbook.simulate(preset="as2008", policy=twin, paths=2_000, seed=1, params=params)
    assert a.summary["pnl_mean"].value == b.summary["pnl_mean"].value
    assert a.to_pandas().per_path.equals(b.to_pandas().per_path)
    ev = load(shared_data(USDM)).take(np.arange(20_000))
    p = {"limit": 0.05, "size": 0.01}
    x = run_backtest(ev, replay_config(ev, "reg_plain", p), BacktestOptions())
    y = run_backtest(ev, replay_config(ev, "reg_twin", p), BacktestOptions())

    def untimed(d):
        return {k: v for k, v in d.items() if k != "timing"}

    assert x.summary["fills"] > 0 and untimed(x.summary) == untimed(y.summary)
    assert np.array_equal(x.fills["px"], y.fills["px"]) and np.array_equal(x.requests["ts"], y.requests["ts"])


def test_estimator_equals_its_closed_form():
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.exponential(0.05, 400))  # seconds
    ds = rng.normal(0.0, 0.3, 400)
    halflife = 2.5
    it = R.inv_tau(halflife)
    v = w = cv = cw = 0.0
    upd = python_form(R.ew_update)  # what the live engine runs; the replay inlines the compiled form
    for i in range(1, t.size):
        v, w = upd(v, w, t[i] - t[i - 1], ds[i], it)
        cv, cw = R.ew_update(cv, cw, t[i] - t[i - 1], ds[i], it)
        assert (cv, cw) == (v, w)
    tau = halflife / math.log(2.0)
    want_v = float(np.sum(np.exp(-(t[-1] - t[1:]) / tau) * ds[1:] ** 2))
    want_w = tau * (1.0 - math.exp(-(t[-1] - t[0]) / tau))
    assert math.isclose(v, want_v, rel_tol=1e-12) and math.isclose(w, want_w, rel_tol=1e-12)
    # unbiased for a Brownian mid: σ̂² → σ² (σ = 0.3/√0.05 per √s here), within its sampling error
    assert R.regime_of(v, w, 0.5 * (0.3**2 / 0.05)) == 1.0 and R.regime_of(v, w, 2.0 * (0.3**2 / 0.05)) == 0.0


def _offline_regime(ev, halflife: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The regime at each event with a two-sided book, in plain Python (zero feed latency): (ts, regime)."""
    ok = ~np.isnan(ev.bid_px) & ~np.isnan(ev.ask_px)
    ts, mid = ev.ts[ok], 0.5 * (ev.bid_px[ok] + ev.ask_px[ok])
    it = R.inv_tau(halflife)
    v = w = 0.0
    out = np.zeros(ts.size)
    for i in range(1, ts.size):
        v, w = R.ew_update.py_func(v, w, (ts[i] - ts[i - 1]) / 1e9, mid[i] - mid[i - 1], it)
        out[i] = R.regime_of.py_func(v, w, sigma * sigma)
    return ts, out


def test_backtest_quotes_only_in_the_estimated_calm_regime():
    ev = load(shared_data(USDM)).take(np.arange(30_000))
    # a threshold that splits the tape: both regimes last a while
    sigma = float(np.sqrt(np.median(_sig2(ev, 5.0))))
    ts, reg = _offline_regime(ev, 5.0, sigma)
    assert 0.2 < reg.mean() < 0.8
    _flat("reg_bt", 2.0, math.inf, regime_halflife=5.0, regime_sigma=sigma)
    bt = run_backtest(ev, replay_config(ev, "reg_bt", {"limit": 0.05, "size": 0.01}), BacktestOptions())
    r = bt.requests
    # the regimes of the events at each request's time (Binance stamps in ms: several events share one)
    lo, hi = np.searchsorted(ts, r["ts"], side="left"), np.searchsorted(ts, r["ts"], side="right")
    assert (hi > lo).all()  # every decision is made at an event's time
    calm_then = np.array([(reg[a:b] == 0.0).any() for a, b in zip(lo, hi, strict=True)])
    volatile_then = np.array([(reg[a:b] == 1.0).all() for a, b in zip(lo, hi, strict=True)])
    assert calm_then[r["size"] > 0.0].all()  # a quote is sent only when the estimate says calm
    assert (r["size"][volatile_then] == 0.0).all() and volatile_then.sum() >= 5  # volatile: only cancels
    assert bt.summary["fills"] > 0


def _sig2(ev, halflife: float) -> np.ndarray:
    ok = ~np.isnan(ev.bid_px) & ~np.isnan(ev.ask_px)
    ts, mid = ev.ts[ok], 0.5 * (ev.bid_px[ok] + ev.ask_px[ok])
    it = R.inv_tau(halflife)
    v = w = 0.0
    out = []
    for i in range(1, ts.size):
        v, w = R.ew_update.py_func(v, w, (ts[i] - ts[i - 1]) / 1e9, mid[i] - mid[i - 1], it)
        if w > 0:
            out.append(v / w)
    return np.array(out[len(out) // 10 :])


def test_quote_reads_the_regime_and_bad_input_is_one_line():
    _flat("reg_q", 0.5, 1.5, regime_sigma=1.0)
    assert flatbook.quote(0.0, preset="as2008", policy="reg_q").summary["bid_depth"].value == 0.5
    assert flatbook.quote(0.0, regime=1, preset="as2008", policy="reg_q").summary["ask_depth"].value == 1.5
    many = flatbook.quotes(np.zeros(2), regime=[0, 1], preset="as2008", policy="reg_q").arrays
    assert many["bid_depth"].tolist() == [0.5, 1.5]
    with pytest.raises(InputError, match="regime"):
        flatbook.quote(0.0, regime=0.5, preset="as2008", policy="reg_q")
    from flatbook.config import build_config
    from flatbook.policies.quote import quote

    cfg = build_config("as2008", "reg_q", {})
    assert quote(cfg, 0.0, regime=1).bid_depth == 1.5 and quote(cfg, 0.0, regime=0).ask_depth == 0.5
    with pytest.raises(InputError, match="regime"):
        quote(cfg, 0.0, regime=2)
    with pytest.raises(InputError, match="regime"):
        table_policy(None, Q, np.zeros((1, Q.size, 3)), np.zeros((1, Q.size, 3)))
    with pytest.raises(InputError, match="regime_sigma"):
        table_policy(None, Q, np.zeros((1, Q.size, 2)), np.zeros((1, Q.size, 2)), regime_sigma=-1.0)
    _flat("reg_nosig", 0.5, 1.5)  # fine in the simulator; the backtester needs the threshold
    ev = load(shared_data(USDM)).take(np.arange(2_000))
    with pytest.raises(InputError, match="regime_sigma"):
        run_backtest(ev, replay_config(ev, "reg_nosig", {}), BacktestOptions())


POLICY_FILE = """
import numpy as np
from flatbook.policies.table import table_policy

Q = np.arange(-50.0, 51.0)
B = np.stack([np.full((1, Q.size), {d0}), np.full((1, Q.size), np.inf)], axis=2)
reg_live = table_policy(None, Q, B, B.copy(), name="reg_live", regime_halflife=5.0, regime_sigma={sigma!r})
"""


def test_live_engine_estimates_the_regime_as_the_replay(tmp_path):
    """The live engine (paper venue, replay feed, zero latency) and the replay run a regime table on the same
    tape: the same requests and fills, bit for bit (the regime estimate is one rule, run by both)."""
    from test_strategy_parity import live_run

    ev = load(shared_data(USDM)).take(np.arange(30_000))
    sigma = float(np.sqrt(np.median(_sig2(ev, 5.0))))
    f = tmp_path / "reg_policy.py"
    f.write_text(POLICY_FILE.format(d0=2.0, sigma=sigma))
    from flatbook.policies.loader import load_policy_file

    load_policy_file(f, "reg_live")
    params = {"limit": 5.0}
    bt = run_backtest(ev, replay_config(ev, "reg_live", params), BacktestOptions(min_requote_ms=20.0))
    events = ev.to_parquet(tmp_path / "events.parquet")
    live, orders, fills = live_run(tmp_path, events, "reg_live", params, 20.0, 1.0, policy_file=str(f))
    r, fl = bt.requests, bt.fills
    want = np.column_stack([r["ts"], r["side"], r["px"], r["size"]]).astype(float)
    assert orders.shape[0] == want.shape[0] > 50 and np.array_equal(orders[:, :4], want)
    assert (r["size"] == 0.0).sum() > 10  # the volatile regime's cancels are among them
    got = np.column_stack([fl["ts"], fl["side"], fl["px"], fl["qty"], fl["fee"]]).astype(float)
    assert fills.shape[0] == got.shape[0] > 0 and np.array_equal(fills, got)
    assert live["pnl"]["total"] == bt.summary["pnl_final"]


def test_cli_quote_takes_the_regime(tmp_path):
    """``flatbook quote --regime``: the table's volatile block; a bad value is one line and exit 2."""
    import json
    import subprocess
    import sys

    f = tmp_path / "reg_cli.py"
    f.write_text(POLICY_FILE.format(d0=0.5, sigma=1.0).replace("np.inf", "1.5"))
    cmd = [sys.executable, "-m", "flatbook", "quote", "--policy-file", str(f), "--policy", "reg_live", "--q", "2"]
    r = subprocess.run([*cmd, "--regime", "1", "--json"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["bid_depth"] == 1.5
    r = subprocess.run([*cmd, "--regime", "2"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --regime: got 2; allowed: 0 (calm) or 1 (volatile)"
    ]
