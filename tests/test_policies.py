"""Quoting policies: skew direction, no crossing, and agreement with the published formulas.

All quotes come from :func:`flatbook.policies.quote.quotes` / ``quote``, i.e. the
compiled formula + controls the simulator itself runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import AS_A, AS_C, AS_GAMMA, AS_K, AS_SIGMA, AS_T, EPS, POLICIES, SKEWING, cfg, prop
from flatbook.errors import InputError
from flatbook.policies.glft_solution import glft_closed_form_depths, glft_constants, glft_exact_table
from flatbook.policies.quote import quote, quotes

Q_STEPS = np.arange(-40, 41, dtype=float)  # inventory grid offsets (lots) around q*
# fractional shift of that grid: 0, or at least 1e-3 lot (a 1e-65-lot position is "long" but
# its skew is below float64 resolution at the mid)
BASE = st.one_of(st.just(0.0), st.floats(1e-3, 0.999), st.floats(-0.999, -1e-3))


@st.composite
def policy_case(draw, policies=POLICIES):
    """(policy, overrides, mid s, time t) with parameters in realistic ranges.

    Lower bounds keep one lot's skew far above float64 resolution at the mid
    (skew per lot ≥ ~1e-6 price units vs ulp(500) ≈ 1e-13).
    """
    policy = draw(st.sampled_from(policies))
    f = lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False))  # noqa: E731
    ov: dict = {"q_target": f(-20.0, 20.0)}
    t = 0.0
    if policy in ("symmetric", "linear-skew", "stoll"):
        ov["half_spread"] = f(0.01, 2.0)
    if policy == "linear-skew":
        ov["skew"] = f(1e-3, 0.5)
    elif policy == "stoll":
        ov["stoll_gamma"] = f(1e-4, 0.05)
    elif policy in ("avellaneda-stoikov", "glft"):
        ov.update(gamma=f(0.01, 1.0), sigma=f(0.1, 5.0), k=f(0.3, 5.0), A=f(10.0, 500.0))
        if policy == "avellaneda-stoikov":
            ov["variant"] = draw(st.sampled_from(["finite", "stationary"]))
            ov["horizon"] = f(0.05, 5.0)
            t = f(0.0, 0.95)  # T = 1: τ = T − t ≥ 0.05
    s = f(20.0, 500.0)
    return policy, ov, s, t


def _grid(c, s, t, base):
    """Quotes on q = q* + base + (−40 .. 40), plus the reference quotes at q = q*."""
    qt = c.values["q_target"]
    q = qt + base + Q_STEPS
    r = quotes(c, s, q, t)
    ref = quotes(c, s, qt, t)
    return q, r, ref


@prop(max_examples=150)
@given(case=policy_case(), base=BASE)
def test_quotes_never_cross_and_are_mid_centred_at_target(case, base):
    policy, ov, s, t = case
    c = cfg(policy=policy, **ov)
    q, r, ref = _grid(c, s, t, base)
    assert np.all(np.isfinite(r["bid"])) and np.all(np.isfinite(r["ask"]))
    assert np.all(r["ask"] > r["bid"])
    # at the target inventory every policy quotes symmetrically around the mid
    # (s − δ + s + δ)/2 = s up to the rounding of the two prices: a few ulp of s
    assert abs(float(0.5 * (ref["bid"] + ref["ask"])) - s) <= 4.0 * EPS * s
    assert float(ref["skew"]) == 0.0


@prop(max_examples=200)
@given(case=policy_case(SKEWING), base=BASE)
def test_skew_direction(case, base):
    """Long (q > q*) ⇒ both quotes at or below the mid-centred quotes at q*, short ⇒ at or
    above; both quotes fall strictly as q rises (bid(q+1) < bid(q), ask(q+1) < ask(q))."""
    policy, ov, s, t = case
    c = cfg(policy=policy, **ov)
    q, r, ref = _grid(c, s, t, base)
    bid, ask = r["bid"], r["ask"]
    b0, a0 = float(ref["bid"]), float(ref["ask"])
    qt = c.values["q_target"]
    long, short = q > qt, q < qt
    assert long.any() and short.any()
    assert np.all(bid[long] <= b0) and np.all(ask[long] <= a0)
    assert np.all(bid[short] >= b0) and np.all(ask[short] >= a0)
    assert np.all(np.diff(bid) < 0.0)
    assert np.all(np.diff(ask) < 0.0)
    # the centre (reservation price) is below the mid when long, above when short
    assert np.all(r["skew"][long] < 0.0) and np.all(r["skew"][short] > 0.0)


@prop(max_examples=60)
@given(case=policy_case(("symmetric",)), base=BASE)
def test_symmetric_ignores_inventory(case, base):
    _, ov, s, t = case
    c = cfg(policy="symmetric", **ov)
    q, r, _ = _grid(c, s, t, base)
    h = ov["half_spread"]
    assert np.all(r["bid"] == s - h) and np.all(r["ask"] == s + h)
    assert np.all(r["bid_depth"] == h) and np.all(r["ask_depth"] == h)


def test_quote_matches_quotes_and_defaults_to_s0():
    c = cfg(policy="avellaneda-stoikov")
    one = quote(c, 3.0, t=0.25)
    arr = quotes(c, [100.0], [3.0], [0.25])
    assert one.mid == c.values["s0"] == 100.0
    assert one.bid == float(arr["bid"][0]) and one.ask == float(arr["ask"][0])
    assert one.centre == one.reservation == float(arr["centre"][0])
    assert one.skew == pytest.approx(one.centre - one.mid, abs=1e-12)


def test_quotes_keeps_the_broadcast_shape():
    r = quotes(cfg(policy="linear-skew"), 100.0, np.zeros((2, 3)), np.array([0.0, 0.5, 0.9]))
    assert r["bid"].shape == (2, 3)


# ------------------------------------------------------------------------------ Stoll
def test_stoll_values_by_hand():
    """mini-project preset: h0 = 0.1, g = 0.0005. centre = s − 2g(q−q*), h = h0 + g|q−q*|."""
    c = cfg("mini-project", "stoll")
    assert (c.values["half_spread"], c.values["stoll_gamma"]) == (0.1, 0.0005)
    cases = [  # q, centre, half-spread, bid, ask   (s = 100, q* = 0)
        (100.0, 99.9, 0.15, 99.75, 100.05),
        (-40.0, 100.04, 0.12, 99.92, 100.16),
        (0.0, 100.0, 0.1, 99.9, 100.1),
    ]
    for q, centre, h, bid, ask in cases:
        x = quote(c, q, s=100.0)
        assert x.centre == pytest.approx(centre, abs=1e-12)
        assert x.half_spread == pytest.approx(h, abs=1e-12)
        assert x.bid == pytest.approx(bid, abs=1e-12)
        assert x.ask == pytest.approx(ask, abs=1e-12)
    # q* = 10, q = 30: I = 20 → centre 100 − 0.02 = 99.98, h = 0.11
    x = quote(cfg("mini-project", "stoll", q_target=10.0), 30.0, s=100.0)
    assert (x.bid, x.ask) == (pytest.approx(99.87, abs=1e-12), pytest.approx(100.09, abs=1e-12))


@prop(max_examples=100)
@given(h0=st.floats(0.01, 2.0), g=st.floats(1e-4, 0.05), inv=st.floats(0.01, 200.0))
def test_stoll_long_lowers_the_ask_unlike_the_seed_slip(h0, g, inv):
    """Long by I > 0: ask = s + h0 − gI < s + h0, whereas seed 000's "newAsk = mid +
    halfSpread + γI" would be s + h0 + gI (above the symmetric ask)."""
    c = cfg("as2008", "stoll", half_spread=h0, stoll_gamma=g)
    x = quote(c, inv, s=100.0)
    assert x.ask < 100.0 + h0 < 100.0 + h0 + g * inv
    assert x.bid < 100.0 - h0
    assert x.ask == pytest.approx(100.0 + h0 - g * inv, abs=1e-12)
    assert x.bid == pytest.approx(100.0 - h0 - 3.0 * g * inv, abs=1e-12)


# ------------------------------------------------------------------ Avellaneda–Stoikov
# γ = 0.1, σ = 2, k = 1.5, T = 1 (as2008): γσ² = 0.4, (1/γ)ln(1+γ/k) = 10·ln(16/15) = AS_C.
AS_CASES = [  # q, t, reservation r, half-spread  (s = 100)
    (0.0, 0.0, 100.0, 0.2 + AS_C),  # r = s, spread = 0.4 + 2·AS_C
    (3.0, 0.5, 99.4, 0.1 + AS_C),  # r = 100 − 3·0.4·0.5
    (-2.0, 0.25, 100.6, 0.15 + AS_C),  # r = 100 + 2·0.4·0.75
    (5.0, 1.0, 100.0, AS_C),  # τ = 0: r = s, spread = (2/γ)ln(1+γ/k)
]


def test_as_constant_c_by_hand():
    assert 10.0 * math.log(16.0 / 15.0) == pytest.approx(AS_C, rel=1e-15)


@pytest.mark.parametrize("q,t,r,h", AS_CASES)
def test_avellaneda_stoikov_by_hand(q, t, r, h):
    x = quote(cfg(policy="avellaneda-stoikov"), q, s=100.0, t=t)
    assert x.reservation == pytest.approx(r, abs=1e-12)
    assert x.half_spread == pytest.approx(h, abs=1e-12)
    assert x.bid == pytest.approx(r - h, abs=1e-12)
    assert x.ask == pytest.approx(r + h, abs=1e-12)
    assert x.ask - x.bid == pytest.approx(0.4 * (1.0 - t) + 2.0 * AS_C, abs=1e-12)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.9, 1.0])
def test_avellaneda_stoikov_stationary_uses_the_horizon(t):
    """variant=stationary: τ ≡ horizon whatever t. horizon = 0.5, q = 3 → r = 100 − 3·0.4·0.5."""
    x = quote(cfg(policy="avellaneda-stoikov", variant="stationary", horizon=0.5), 3.0, s=100.0, t=t)
    assert x.reservation == pytest.approx(99.4, abs=1e-12)
    assert x.half_spread == pytest.approx(0.1 + AS_C, abs=1e-12)


def test_avellaneda_stoikov_q_target_shifts_reservation():
    """r = s − (q − q*)γσ²τ: q = 5 with q* = 2 quotes exactly like q = 3 with q* = 0."""
    a = quote(cfg(policy="avellaneda-stoikov", q_target=2.0), 5.0, s=100.0, t=0.5)
    b = quote(cfg(policy="avellaneda-stoikov"), 3.0, s=100.0, t=0.5)
    assert a.reservation == pytest.approx(99.4, abs=1e-12)
    assert (a.bid, a.ask) == (pytest.approx(b.bid, abs=1e-12), pytest.approx(b.ask, abs=1e-12))
    at_target = quote(cfg(policy="avellaneda-stoikov", q_target=2.0), 2.0, s=100.0, t=0.5)
    assert at_target.reservation == pytest.approx(100.0, abs=1e-12)


# ------------------------------------------------------------------------------- GLFT
@prop(max_examples=100)
@given(
    gamma=st.floats(0.01, 1.0),
    sigma=st.floats(0.0, 5.0),
    A=st.floats(10.0, 500.0),
    k=st.floats(0.3, 5.0),
    qt=st.floats(-10.0, 10.0),
    base=BASE,
)
def test_glft_closed_policy_equals_glft_solution(gamma, sigma, A, k, qt, base):
    c = cfg(policy="glft", gamma=gamma, sigma=sigma, A=A, k=k, q_target=qt)
    q = qt + base + Q_STEPS
    r = quotes(c, 100.0, q, 0.0)
    db, da = glft_closed_form_depths(q - qt, gamma, sigma, A, k)
    np.testing.assert_allclose(r["bid_depth"], db, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(r["ask_depth"], da, rtol=1e-13, atol=1e-13)
    cc, omega = glft_constants(gamma, sigma, A, k)
    # half-spread c + ω/2 at every q; the centre moves by −ω per lot
    np.testing.assert_allclose(r["half_spread"], cc + 0.5 * omega, rtol=1e-13)
    np.testing.assert_allclose(np.diff(r["centre"]), -omega, rtol=1e-9, atol=1e-12)


GLFT_Q = 4


def _glft_exact(**ov):
    return cfg(policy="glft", solution="exact", limit=float(GLFT_Q), **ov)


def test_glft_exact_terminal_row_is_c_at_every_q():
    """At t = T, v ≡ 1: δb = δa = c = (1/γ)ln(1+γ/k) wherever the side is quoted."""
    c = _glft_exact()
    q = np.arange(-GLFT_Q, GLFT_Q + 1, dtype=float)
    r = quotes(c, 100.0, q, AS_T)
    np.testing.assert_allclose(r["bid_depth"][:-1], AS_C, rtol=1e-14)
    np.testing.assert_allclose(r["ask_depth"][1:], AS_C, rtol=1e-14)
    assert np.isnan(r["bid"][-1]) and r["bid_size"][-1] == 0.0  # q = Q: no bid
    assert np.isnan(r["ask"][0]) and r["ask_size"][0] == 0.0  # q = −Q: no ask


@pytest.mark.parametrize("t", [0.0, 0.25, 0.5, 0.995, 1.0])
def test_glft_exact_policy_equals_exact_table(t):
    c = _glft_exact()
    q = np.arange(-GLFT_Q, GLFT_Q + 1, dtype=float)
    tb, ta = glft_exact_table(AS_GAMMA, AS_SIGMA, AS_A, AS_K, GLFT_Q, AS_T, c.steps)
    i = round(t / c.values["dt"])
    r = quotes(c, 100.0, q, t)
    np.testing.assert_allclose(r["bid_depth"][:-1], tb[i, :-1], rtol=1e-14)
    np.testing.assert_allclose(r["ask_depth"][1:], ta[i, 1:], rtol=1e-14)
    assert np.isnan(r["bid"][-1]) and np.isnan(r["ask"][0])
    assert np.all(np.isfinite(r["bid"][:-1])) and np.all(np.isfinite(r["ask"][1:]))
    # between integer inventories the depths are interpolated linearly
    mid_q = q[:-2] + 0.5  # −Q+0.5 .. Q−1.5, both neighbours quoted on both sides
    rm = quotes(c, 100.0, mid_q, t)
    np.testing.assert_allclose(rm["bid_depth"], 0.5 * (tb[i, :-2] + tb[i, 1:-1]), rtol=1e-13)


def test_glft_exact_needs_a_finite_integer_limit():
    with pytest.raises(InputError) as e:
        cfg(policy="glft", solution="exact")
    assert e.value.field == "limit"
    with pytest.raises(InputError):
        cfg(policy="glft", solution="exact", limit=2.5)


# ------------------------------------------------------------------- linear skew, presets
def test_linear_skew_worked_example():
    """Seed 001's worked example: mid 100, h = 0.05, skew 0.01/lot, q = 45:
    centre = 100 − 0.01·45 = 99.55, bid 99.50, ask 99.60."""
    x = quote(cfg("worked-example", "linear-skew"), 45.0)
    assert x.mid == 100.0
    assert x.centre == pytest.approx(99.55, abs=1e-12)
    assert x.bid == pytest.approx(99.50, abs=1e-12)
    assert x.ask == pytest.approx(99.60, abs=1e-12)
    assert x.skew == pytest.approx(-0.45, abs=1e-12)


def test_as2008_derived_defaults():
    """half_spread = γσ²T/4 + ln(1+γ/k)/γ (A–S 2008 §3.2), skew = γσ²T/2, stoll_gamma = γσ²T/4."""
    c = cfg(policy="symmetric")
    h = 0.1 * 4.0 * 1.0 / 4.0 + AS_C  # 0.1 + 10·ln(16/15)
    assert c.values["half_spread"] == pytest.approx(h, rel=1e-14)
    assert c.values["skew"] == pytest.approx(0.2, rel=1e-14)
    assert c.values["stoll_gamma"] == pytest.approx(0.1, rel=1e-14)
    x = quote(c, 7.0)
    assert (x.bid, x.ask) == (pytest.approx(100.0 - h, abs=1e-12), pytest.approx(100.0 + h, abs=1e-12))
    # the derivation follows the user's γ, σ, k, T ...
    c2 = cfg(policy="symmetric", gamma=0.2)
    h2 = 0.2 * 4.0 / 4.0 + 5.0 * math.log(17.0 / 15.0)
    assert quote(c2, 0.0).half_spread == pytest.approx(h2, rel=1e-14)
    # ... but never overrides a value the user set
    c3 = cfg(policy="symmetric", half_spread=0.3, skew=0.05, stoll_gamma=0.01)
    assert (c3.values["half_spread"], c3.values["skew"], c3.values["stoll_gamma"]) == (0.3, 0.05, 0.01)
    # A–S's time-average half-spread: mean over t of the A–S half-spread on the grid
    t = np.linspace(0.0, 1.0, 100_001)
    as_h = quotes(cfg(policy="avellaneda-stoikov"), 100.0, 0.0, t)["half_spread"]
    assert float(np.trapezoid(as_h, t)) == pytest.approx(h, rel=1e-9)
