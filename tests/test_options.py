"""An option held with the inventory: Black–Scholes value in the mark, delta-equivalent skew and limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import cfg, prop, run
from flatbook.numerics.black_scholes import bs_price_delta
from flatbook.policies.quote import quote
from flatbook.risk.greeks import bs_greeks, bs_price


@prop(max_examples=200)
@given(
    s=st.floats(10, 300), K=st.floats(10, 300), vol=st.floats(0.01, 1.0), tau=st.floats(0.0, 5.0), call=st.booleans()
)
def test_compiled_black_scholes_matches_the_risk_library(s, K, vol, tau, call):
    p, d = bs_price_delta(s, K, vol, tau, call)
    assert p == pytest.approx(float(bs_price(s, K, tau, vol, is_call=call)), rel=1e-9, abs=1e-9)
    if tau > 1e-6:
        assert d == pytest.approx(float(bs_greeks(s, K, tau, vol, is_call=call).delta), rel=1e-9, abs=1e-9)


def test_the_policy_skews_on_the_delta_equivalent_inventory():
    """No stock, 10 lots of a deep in-the-money call (Δ ≈ 1): the A–S quotes at t = 0 are those
    of a book long q + 10·Δ lots."""
    ov = dict(option_type="call", option_lots=10.0, option_strike=60.0, option_vol=0.02, option_expiry=2.0)
    res = run(policy="avellaneda-stoikov", paths=4, seed=1, record=[0], **ov)
    _, delta = bs_price_delta(100.0, 60.0, 0.02, 2.0, True)
    x = quote(cfg(policy="avellaneda-stoikov"), 10.0 * delta, 100.0, 0.0)
    ser = res.path_series(0)
    assert ser["bid"][0] == pytest.approx(x.bid, abs=1e-9) and ser["ask"][0] == pytest.approx(x.ask, abs=1e-9)


def test_option_value_is_in_the_pnl():
    """No fills (A = 0): the PnL is the option's change in Black–Scholes value, marked at the
    final mid, plus the stock's (q0 = 0 here)."""
    ov = dict(option_type="put", option_lots=-5.0, option_strike=100.0, option_vol=0.02, option_expiry=1.5, A=0.0)
    res = run(policy="symmetric", paths=200, seed=2, record=range(200), **ov)
    sT = res.series["mid"][:, -1]
    v0, _ = bs_price_delta(100.0, 100.0, 0.02, 1.5, False)
    vT = np.array([bs_price_delta(x, 100.0, 0.02, 0.5, False)[0] for x in sT])
    np.testing.assert_allclose(res.per_path["pnl"], -5.0 * (vT - v0), rtol=0, atol=1e-9)


def test_hard_limit_holds_on_the_delta_equivalent_inventory():
    """Limit 10, long 8 lots of a call with Δ ≈ 1: every market order is a sell that hits our
    bid, yet the stock position stops at about 2 — the delta-equivalent q + 8Δ never passes 10."""
    ov = dict(
        option_type="call",
        option_lots=8.0,
        option_strike=50.0,
        option_vol=0.01,
        option_expiry=2.0,
        limit=10.0,
        A=1e4,
        flow="orders",
        flow_bias=-0.5,
    )
    res = run(policy="symmetric", paths=300, seed=3, record=range(300), **ov)
    q = res.series["q"]
    s = res.series["mid"]
    t = np.arange(q.shape[1]) * 0.005
    delta = np.array(
        [
            [bs_price_delta(s[p, i], 50.0, 0.01, 2.0 - t[i], True)[1] for i in range(0, q.shape[1], 25)]
            for p in range(0, 300, 30)
        ]
    )
    qeq = q[::30, ::25] + 8.0 * delta
    assert np.all(qeq <= 10.0 + 1e-9) and q.max() == pytest.approx(2.0) and np.abs(delta - 1.0).max() < 1e-12
