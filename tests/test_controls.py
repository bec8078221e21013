"""Controls wrapping every policy: hard limit, soft zones, kill switch, never-cross, ticks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import EPS, POLICIES, cfg, prop, run
from flatbook.policies.quote import quote, quotes

ALL = POLICIES + ("glft-exact",)


def _policy(name: str, limit: float) -> tuple[str, dict, float]:
    """('glft-exact' → glft with solution=exact, which needs an integer limit)."""
    if name == "glft-exact":
        return "glft", {"solution": "exact"}, float(max(1, min(20, round(limit))))
    return name, {}, limit


# The hard limit is exact: q_new = q + b − a is two roundings, which could land a few ulp
# past ±limit, so the kernel clamps q_new to [−limit, limit]. No tolerance.
def _lim_tol(limit: float) -> float:
    return limit


ZONE_ACTION = st.sampled_from(["none", "widen", "skew", "hedge", "flatten"])


# ------------------------------------------------------------------------- hard limit
@prop(max_examples=40)
@given(
    name=st.sampled_from(ALL),
    limit=st.floats(0.5, 50.0),
    size_frac=st.floats(0.05, 3.0),
    q0_frac=st.floats(-1.0, 1.0),
    osize_frac=st.floats(0.2, 3.0),
    bias=st.sampled_from([0.5, -0.5]),
    seed=st.integers(0, 2**40),
    zones=st.one_of(
        st.none(),
        st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), ZONE_ACTION, ZONE_ACTION, ZONE_ACTION),
    ),
)
def test_hard_limit_one_sided_order_flow(name, limit, size_frac, q0_frac, osize_frac, bias, seed, zones):
    """All-buy (flow_bias = 0.5) or all-sell (−0.5) market orders of exponential size,
    A so large that every quote on the hit side fills: no path ever passes ±limit."""
    policy, ov, limit = _policy(name, limit)
    ov.update(
        T=100.0,
        A=1e6,
        k=0.01,
        mid_model="abm",
        sigma=0.3,
        flow="orders",
        flow_bias=bias,
        order_size_dist="exponential",
        order_size_mean=osize_frac * limit,
        size=size_frac * limit,
        limit=limit,
        q0=q0_frac * limit,
    )
    flatten = False
    if zones is not None:
        y, r, c = sorted(zones[:3])
        ov.update(
            yellow=y * limit,
            red=r * limit,
            critical=c * limit,
            yellow_action=zones[3],
            red_action=zones[4],
            critical_action=zones[5],
        )
        flatten = "flatten" in zones[3:]
    res = run("worked-example", policy, paths=64, seed=seed, **ov)
    mq = res.per_path["max_abs_q"]
    assert np.all(mq <= _lim_tol(limit))
    assert np.all(np.abs(res.per_path["final_q"]) <= _lim_tol(limit))
    if not flatten and name != "glft-exact":
        # every step fills the hit side: each path is driven all the way to the limit
        # (so the assertion above is not vacuous) and then sits there. (Not glft-exact: its
        # depths are interpolated in q and +inf within the last lot before ±Q, so a path
        # that lands strictly between −Q and −Q+1 is never quoted on that side again.)
        target = -limit if bias > 0 else limit
        assert np.all(np.abs(res.per_path["final_q"] - target) <= 4.0 * EPS * limit)
        assert res.summary["time_at_limit_frac"] > 0.0


@prop(max_examples=25)
@given(
    name=st.sampled_from(ALL),
    limit=st.floats(0.5, 50.0),
    size_frac=st.floats(0.05, 3.0),
    q0_frac=st.floats(-1.0, 1.0),
    seed=st.integers(0, 2**40),
)
def test_hard_limit_intensity_flow_with_huge_A(name, limit, size_frac, q0_frac, seed):
    """Intensity flow with A·dt ≫ 1: both quoted sides fill every step."""
    policy, ov, limit = _policy(name, limit)
    ov.update(T=0.5, A=1e9, size=size_frac * limit, limit=limit, q0=q0_frac * limit)
    res = run("as2008", policy, paths=64, seed=seed, **ov)
    assert np.all(res.per_path["max_abs_q"] <= _lim_tol(limit))
    steps = res.config.steps
    # both sides fill whenever quoted: at least one fill per step on every path
    assert np.all(res.per_path["fills"] >= steps)


def test_hard_limit_exact_in_floating_point():
    """q0 = 0.1, limit = 0.3: the ask is sized limit + q = 0.4, an all-buy flow lifts it,
    and q must land on −0.3 — not on −0.30000000000000004."""
    res = run(
        "worked-example",
        "symmetric",
        paths=4,
        T=5.0,
        A=1e6,
        k=0.01,
        flow="orders",
        flow_bias=0.5,
        limit=0.3,
        q0=0.1,
        size=1.0,
    )
    assert np.all(res.per_path["max_abs_q"] <= 0.3)


@pytest.mark.parametrize("name", ALL)
def test_at_the_limit_only_the_flattening_side_is_quoted(name):
    policy, ov, _ = _policy(name, 5.0)
    c = cfg("as2008", policy, limit=5.0, size=2.0, **ov)
    top, bottom = quote(c, 5.0), quote(c, -5.0)
    assert top.bid is None and top.bid_size == 0.0
    assert top.ask is not None and top.ask_size == 2.0
    assert bottom.ask is None and bottom.ask_size == 0.0
    assert bottom.bid is not None and bottom.bid_size == 2.0
    # one lot inside the limit, the resting size is cut to the room left
    near = quote(c, 4.0)
    assert near.bid_size == 1.0 and near.ask_size == 2.0
    assert quote(c, -4.0).ask_size == 1.0


# -------------------------------------------------------------------------- soft zones
ZONES = dict(yellow=2.0, red=4.0, critical=6.0)


def _zone_of(q, y, r, c):
    a = np.abs(q)
    return (a >= y).astype(int) + (a >= r) + (a >= c)


def test_time_in_zones_counts_the_steps_in_each_zone():
    res = run(
        policy="symmetric",
        paths=500,
        seed=11,
        record=range(0, 500, 25),
        yellow_action="none",
        red_action="none",
        critical_action="none",
        **ZONES,
    )
    s, pp = res.summary, res.per_path
    n_ps = 500 * res.config.steps
    assert s["time_in_yellow_frac"] > 0 and s["time_in_red_frac"] > 0 and s["time_in_critical_frac"] > 0
    assert s["time_in_yellow_frac"] == pp["steps_yellow"].sum() / n_ps
    assert np.all(pp["steps_yellow"] + pp["steps_red"] + pp["steps_critical"] <= res.config.steps)
    # per recorded path: the zone of q at the start of each step, counted independently
    for r, p in enumerate(res.record_paths):
        q = res.series["q"][r, :-1]
        z = _zone_of(q, **{k[0]: v for k, v in ZONES.items()})
        np.testing.assert_array_equal(res.series["zone"][r, :-1], z)
        for zone, key in ((1, "steps_yellow"), (2, "steps_red"), (3, "steps_critical")):
            assert pp[key][p] == np.count_nonzero(z == zone)


def test_no_zones_when_thresholds_are_infinite():
    s = run(policy="symmetric", paths=500, seed=11).summary
    assert s["time_in_yellow_frac"] == s["time_in_red_frac"] == s["time_in_critical_frac"] == 0.0
    assert s["hedge_requests_mean"] == 0.0


def _pair(action: str, **kw):
    """(controlled, uncontrolled) linear-skew configs; yellow zone from |q| = 3."""
    base = dict(skew=0.05, **kw)
    return cfg(policy="linear-skew", yellow=3.0, yellow_action=action, **base), cfg(policy="linear-skew", **base)


@pytest.mark.parametrize("q", [4.0, -7.5])
def test_zone_widen_multiplies_the_half_spread(q):
    c, raw = _pair("widen", zone_widen=1.5)
    x, y = quote(c, q), quote(raw, q)
    assert x.zone == 1
    assert (x.ask - x.bid) / 2 == pytest.approx(1.5 * (y.ask - y.bid) / 2, abs=1e-12)
    assert (x.ask + x.bid) / 2 == pytest.approx(y.centre, abs=1e-12)  # centre unchanged
    inside = quote(c, 2.0)
    assert inside.zone == 0 and (inside.bid, inside.ask) == (quote(raw, 2.0).bid, quote(raw, 2.0).ask)


@pytest.mark.parametrize("q", [4.0, -7.5])
def test_zone_skew_multiplies_the_centre_offset(q):
    c, raw = _pair("skew", zone_skew=2.0)
    x, y = quote(c, q), quote(raw, q)
    assert (x.ask + x.bid) / 2 - 100.0 == pytest.approx(2.0 * (y.centre - 100.0), abs=1e-12)
    assert (x.ask - x.bid) / 2 == pytest.approx((y.ask - y.bid) / 2, abs=1e-12)  # spread unchanged


@pytest.mark.parametrize("action", ["widen", "skew"])
def test_zone_action_leaves_a_one_sided_quote_as_it_is(action):
    """A policy that quotes one side only (the other +inf) in a widen or skew zone: that side keeps its depth,
    the other stays unquoted (the action needs a centre; inf − inf was NaN)."""
    from flatbook.config import build_config
    from flatbook.policies.registry import register
    from flatbook.policies.table import table_policy

    qg = np.arange(-10.0, 11.0)
    bid = np.where(qg > 0, np.inf, 0.5)[None, :]  # long: stop buying
    ask = np.full((1, qg.size), 0.7)
    register(table_policy(None, qg, bid, ask, name="one_sided"))
    c = build_config(
        "as2008", "one_sided", {"yellow": 3.0, "yellow_action": action, "zone_widen": 1.5, "zone_skew": 2.0}
    )
    x = quote(c, 5.0)
    assert x.zone == 1 and x.bid is None and x.bid_size == 0.0
    assert x.ask_depth == 0.7 and x.ask == 100.7
    two = quote(c, -5.0)  # both sides quoted: the action applies
    assert two.zone == 1 and two.bid_depth is not None and (two.bid_depth, two.ask_depth) != (0.5, 0.7)


@pytest.mark.parametrize("preset,policy,q,zone", [("mini-project", "stoll", 200.0, 2), ("as2008", "symmetric", 6.0, 3)])
def test_zone_is_the_highest_threshold_crossed(preset, policy, q, zone):
    over = {} if preset == "mini-project" else {"critical": 5.0}
    assert quote(cfg(preset, policy, **over), q).zone == zone


ALL_ZONES = dict(yellow=1.0, red=3.0, critical=5.0, yellow_action="none", red_action="none")


@pytest.mark.parametrize("policy", POLICIES)
def test_zone_flatten_quotes_only_the_reducing_side(policy):
    c = cfg(policy=policy, critical_action="flatten", **ALL_ZONES)
    long, short = quote(c, 6.0), quote(c, -6.0)
    assert long.zone == 3 and long.bid is None and long.bid_size == 0 and long.ask is not None
    assert short.ask is None and short.ask_size == 0 and short.bid is not None
    inside = quote(c, 4.0)
    assert inside.zone == 2 and inside.bid is not None and inside.ask is not None


def test_zone_flatten_fill_never_increases_abs_q():
    x = quote(cfg(policy="symmetric", critical=0.25), 0.3)
    assert x.ask_size <= 2 * 0.3  # a fill of ask_size takes q to 0.3 − ask_size; |·| must not grow


def test_zone_hedge_leaves_quotes_alone_and_counts_red_entries():
    c = cfg(policy="linear-skew", yellow=1.0, yellow_action="none", red=3.0, red_action="hedge")
    q = np.linspace(-10, 10, 41)
    np.testing.assert_array_equal(
        quotes(c, 100.0, q, 0.0)["bid"], quotes(cfg(policy="linear-skew"), 100.0, q, 0.0)["bid"]
    )
    res = run(
        policy="symmetric",
        paths=500,
        seed=3,
        record=range(0, 500, 10),
        yellow=1.0,
        red=3.0,
        yellow_action="none",
        red_action="hedge",
    )
    pp = res.per_path
    assert res.summary["hedge_requests_mean"] > 0
    visited = pp["steps_red"] > 0
    assert visited.any()
    # unit fills from q0 = 0 reach red only by entering it from below: at least one request,
    # at most one per step spent there, and none on paths that never got there
    assert np.all(pp["hedge_requests"][visited] >= 1)
    assert np.all(pp["hedge_requests"] <= pp["steps_red"])
    assert np.all(pp["hedge_requests"][~visited] == 0)
    for r, p in enumerate(res.record_paths):
        z = res.series["zone"][r, :-1]
        prev = np.concatenate(([0.0], z[:-1]))
        assert pp["hedge_requests"][p] == np.count_nonzero((z == 2) & (z > prev))


# -------------------------------------------------------------------------- kill switch
def _killed_runs(**kill):
    """Find killed paths in a 2000-path run, then re-run recording them (paths are
    deterministic, so the recorded paths are the same paths)."""
    first = run(policy="symmetric", paths=2000, seed=5, **kill)
    killed = np.flatnonzero(first.per_path["kill_reason"] > 0)
    rec = np.concatenate((killed[:40], np.flatnonzero(first.per_path["kill_reason"] == 0)[:20]))
    res = run(policy="symmetric", paths=2000, seed=5, record=rec, **kill)
    for key in first.per_path:
        np.testing.assert_array_equal(first.per_path[key], res.per_path[key])
    return res


def _check_flatten_only_after_kill(res):
    pp, ser = res.per_path, res.series
    n_killed = 0
    for r, p in enumerate(res.record_paths):
        k = int(pp["kill_step"][p])
        q = ser["q"][r]
        if k < 0:
            continue
        n_killed += 1
        after = q[k:]
        # from the kill on, |q| never increases and q never changes sign
        assert np.all(np.abs(after[1:]) <= np.abs(after[:-1]))
        assert np.all(after[1:] * after[:-1] >= 0)
        # the side that would add to |q| is never quoted
        if after[0] > 0:
            assert np.all(np.isnan(ser["bid"][r, k:-1]))
        elif after[0] < 0:
            assert np.all(np.isnan(ser["ask"][r, k:-1]))
        else:
            assert np.all(np.isnan(ser["bid"][r, k:-1])) and np.all(np.isnan(ser["ask"][r, k:-1]))
    assert n_killed > 0


def test_kill_switch_on_loss():
    res = _killed_runs(max_loss=1.0)
    s, pp, ser = res.summary, res.per_path, res.series
    assert s["kill_frac"] > 0 and s["kill_loss_frac"] == s["kill_frac"] and s["kill_drawdown_frac"] == 0
    assert np.all((pp["kill_step"] > 0) == (pp["kill_reason"] == 1))
    for r, p in enumerate(res.record_paths):
        pnl = ser["pnl"][r]
        below = np.flatnonzero(pnl[1:] <= -1.0) + 1  # marks after each step
        k = int(pp["kill_step"][p])
        # the kill fires at the first mark with PnL <= −max_loss, and only then
        assert k == (below[0] if below.size else -1)
    _check_flatten_only_after_kill(res)


def test_kill_switch_on_drawdown():
    res = _killed_runs(max_drawdown=3.0)
    s, pp, ser = res.summary, res.per_path, res.series
    assert s["kill_frac"] > 0 and s["kill_drawdown_frac"] == s["kill_frac"] and s["kill_loss_frac"] == 0
    for r, p in enumerate(res.record_paths):
        pnl = ser["pnl"][r]
        peak = np.maximum.accumulate(np.maximum(pnl, 0.0))  # the peak starts at PnL 0
        hit = np.flatnonzero((peak - pnl)[1:] >= 3.0) + 1
        assert int(pp["kill_step"][p]) == (hit[0] if hit.size else -1)
        # the recorded drawdown is the largest fall from the running peak
        assert pp["max_drawdown"][p] == pytest.approx(float(np.max(peak - pnl)), abs=1e-9)
    _check_flatten_only_after_kill(res)


def test_killed_quotes_are_flatten_only_and_sized_to_the_position():
    c = cfg(policy="linear-skew", size=5.0)
    x = quote(c, 2.0, killed=True)
    assert x.bid is None and x.ask is not None and x.ask_size == 2.0
    y = quote(c, -0.5, killed=True)
    assert y.ask is None and y.bid_size == 0.5
    z = quote(c, 0.0, killed=True)
    assert z.bid is None and z.ask is None


# ------------------------------------------------------------------- never cross, ticks
@prop(max_examples=150)
@given(
    policy=st.sampled_from(POLICIES),
    q=st.floats(-2000.0, 2000.0),
    s=st.floats(50.0, 150.0),
    spread=st.floats(0.01, 2.0),
    tick=st.sampled_from([0.001, 0.01, 0.05]),
)
def test_never_cross_the_market(policy, q, s, spread, tick):
    """Extreme inventories push one quote through the market; it stays strictly inside
    the touch mid ± market_spread/2 (tick > 0), and the two quotes never cross."""
    c = cfg(policy=policy, market_spread=spread, tick=tick, skew=0.05)
    x = quote(c, q, s=s)
    assert x.bid < s + spread / 2
    assert x.ask > s - spread / 2
    assert x.ask > x.bid


def test_never_cross_without_a_tick():
    x = quote(cfg(policy="linear-skew", market_spread=0.2, skew=1.0), 1000.0)
    assert x.ask > 100.0 - 0.1
    y = quote(cfg(policy="linear-skew", market_spread=0.2, skew=1.0), -1000.0)
    assert y.bid < 100.0 + 0.1


@prop(max_examples=150)
@given(
    policy=st.sampled_from(POLICIES),
    q=st.floats(-50.0, 50.0),
    s=st.floats(50.0, 150.0),
    tick=st.sampled_from([0.001, 0.01, 0.05, 0.25]),
)
def test_tick_rounding_bid_down_ask_up(policy, q, s, tick):
    ticked, raw = quote(cfg(policy=policy, tick=tick), q, s=s), quote(cfg(policy=policy), q, s=s)
    for price in (ticked.bid, ticked.ask):
        assert abs(price / tick - round(price / tick)) < 1e-6  # on the grid (to float rounding)
    slack = 1e-9 * tick + 4 * EPS * s  # the rounding's own tolerance, and float noise in s ∓ δ
    assert raw.bid - tick < ticked.bid <= raw.bid + slack
    assert raw.ask - slack <= ticked.ask < raw.ask + tick


@prop(max_examples=150)
@given(
    policy=st.sampled_from(POLICIES),
    q=st.floats(-50.0, 50.0),
    min_spread=st.floats(0.0, 5.0),
    tick=st.sampled_from([0.0, 0.01]),
)
def test_min_spread_respected(policy, q, min_spread, tick):
    c = cfg(policy=policy, min_spread=min_spread, tick=tick)
    x, raw = quote(c, q), quote(cfg(policy=policy), q)
    assert x.ask - x.bid >= min_spread - 1e-12
    if tick == 0.0 and raw.ask - raw.bid < min_spread:
        # widened symmetrically about the policy's centre, to exactly min_spread
        assert x.ask - x.bid == pytest.approx(min_spread, abs=1e-12)
        assert (x.ask + x.bid) / 2 == pytest.approx((raw.ask + raw.bid) / 2, abs=1e-12)
    if tick == 0.0 and raw.ask - raw.bid >= min_spread:
        assert (x.bid, x.ask) == (raw.bid, raw.ask)
