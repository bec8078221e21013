"""Controls that wrap any policy: soft zones, kill switch, hard limit, never-cross.

One compiled function, :func:`control_quotes`, applies them in this order to the
policy's depths (δb, δa) (price units from the mid, +inf = side not quoted):

1. Soft zones (seed 000, "Soft Limits & Alerts"): zone z = #{thresholds ≤ |q|}
   over (yellow, red, critical). The zone's action:
   ``widen``: h ← h·zone_widen;  ``skew``: m ← m·zone_skew, where
   h = (δa+δb)/2 is the half-spread and m = (δa−δb)/2 the centre offset;
   ``hedge``: quotes unchanged, a hedge request is raised;
   ``flatten``: only the side that reduces |q| is quoted.
2. Kill switch: once fired (loss or drawdown limit), flatten only, sized to |q|.
3. Never cross: bid < best ask and ask > best bid of the market, whose touch is
   mid ± market_spread/2 (inf: unmodelled): a depth is at least −market_spread/2
   + tick (tick = 0: −market_spread/2·(1 − 1e−9)); minimum spread ask − bid ≥
   ``min_spread``; tick rounding (bid down, ask up; both away from the mid).
4. Hard limit (seed 001): the bid size is min(size, limit − q) and the ask size
   min(size, limit + q), so no fill can take |q| past ``limit``; at |q| = limit
   only the flattening side is quoted.

The hard limit is an invariant of every inventory change, not only of the
quotes: |q| ≤ ``limit`` after every fill and every hedge trade, at every step
(:func:`limit_trade` cuts a trade, :func:`limit_clamp` keeps the new inventory
inside the band against rounding). With an option position the band is on the
delta-equivalent q + option_lots·Δ, with the Δ the step's quotes were made at.

Packed ``cp`` layout: see ``CP_*`` below; actions are ``ZONE_ACTIONS`` indices.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..params import ZONE_ACTIONS
from . import zones as _zones

ACT_NONE, ACT_WIDEN, ACT_SKEW, ACT_HEDGE, ACT_FLATTEN = range(5)
assert ZONE_ACTIONS == ("none", "widen", "skew", "hedge", "flatten")

(
    CP_LIMIT,
    CP_SIZE,
    CP_YELLOW,
    CP_RED,
    CP_CRITICAL,
    CP_ACT_Y,
    CP_ACT_R,
    CP_ACT_C,
    CP_WIDEN,
    CP_SKEW,
    CP_TICK,
    CP_MIN_SPREAD,
    CP_HALF_MKT,
    CP_INV_TICK,
) = range(14)
CP_LEN = 14


def pack_controls(v) -> np.ndarray:
    """Pack validated parameter values (a mapping) into the ``cp`` array."""
    cp = np.empty(CP_LEN)
    cp[CP_LIMIT] = v["limit"]
    cp[CP_SIZE] = v["size"]
    cp[CP_YELLOW], cp[CP_RED], cp[CP_CRITICAL] = v["yellow"], v["red"], v["critical"]
    cp[CP_ACT_Y] = ZONE_ACTIONS.index(v["yellow_action"])
    cp[CP_ACT_R] = ZONE_ACTIONS.index(v["red_action"])
    cp[CP_ACT_C] = ZONE_ACTIONS.index(v["critical_action"])
    cp[CP_WIDEN], cp[CP_SKEW] = v["zone_widen"], v["zone_skew"]
    cp[CP_TICK], cp[CP_MIN_SPREAD] = v["tick"], v["min_spread"]
    cp[CP_HALF_MKT] = 0.5 * v["market_spread"]
    cp[CP_INV_TICK] = 1.0 / v["tick"] if v["tick"] > 0.0 else 0.0  # multiply, not divide: see control_quotes
    return cp


#: the zones' one rule (:func:`flatbook.controls.zones.zone_index`), compiled and inlined
zone_index = nb.njit(inline="always", cache=True, error_model="numpy")(_zones.zone_index)


@nb.njit(inline="always", cache=True, error_model="numpy")
def zone_of(cp, q):
    """Soft zone of inventory q: the highest zone whose threshold |q| reaches (0 none, 1 yellow, 2 red, 3 critical).

    The rule is :func:`flatbook.controls.zones.zone_index`; names in :data:`flatbook.controls.zones.ZONE_NAMES`.
    """
    return zone_index(abs(q), cp[CP_YELLOW], cp[CP_RED], cp[CP_CRITICAL])


@nb.njit(inline="always", cache=True, error_model="numpy")
def min_spread(cp, db, da):
    """Depths (price units) widened symmetrically about the centre to the minimum spread
    ``cp[CP_MIN_SPREAD]`` (seed 001, "minimum spread"); unchanged when already wider."""
    gap = cp[CP_MIN_SPREAD] - (da + db)
    if gap > 0.0:
        db += 0.5 * gap
        da += 0.5 * gap
    return db, da


@nb.njit(inline="always", cache=True)
def room_left(k, q, exposure, limit):
    """Lots side k (0 bid, 1 ask) may still add under the hard limit ``limit`` (lots) at inventory q when
    ``exposure`` lots already rest or are in flight on that side: limit − q − exposure (bid) or
    limit + q − exposure (ask) (seed 001, "hard limit"). The one home of the rule: the controls' sizes
    (:func:`limit_room`, exposure 0), the replay at an order's arrival and the live engine's sends."""
    return (limit - q - exposure) if k == 0 else (limit + q - exposure)


@nb.njit(inline="always", cache=True, error_model="numpy")
def limit_room(cp, db, da, q):
    """Order sizes (lots) the hard limit leaves (seed 001, "hard limit"): the resting size counts,
    so bid = min(size, limit − q) and ask = min(size, limit + q), floored at 0; a side with an
    infinite depth is not quoted (size 0)."""
    size = cp[CP_SIZE]
    lim = cp[CP_LIMIT]
    bsz = min(size, max(room_left(0, q, 0.0, lim), 0.0))
    asz = min(size, max(room_left(1, q, 0.0, lim), 0.0))
    if math.isinf(db):
        bsz = 0.0
    if math.isinf(da):
        asz = 0.0
    return bsz, asz


@nb.njit(inline="always", cache=True, error_model="numpy")
def lean_controls(cp, db, da, q):
    """:func:`control_quotes` when no control but the minimum spread and the hard limit can act:
    no zone threshold, tick or market touch is finite, and no path is killed or paused. The same
    numbers (what it leaves out is the identity then), in a fraction of the instructions: inside
    the simulator's fused loop LLVM computes every branch of control_quotes for every path
    (if-conversion), whether a control is on or not. Returns (db, da, bid size, ask size, zone, action)."""
    db, da = min_spread(cp, db, da)
    bsz, asz = limit_room(cp, db, da, q)
    return db, da, bsz, asz, 0.0, 0.0


@nb.njit(inline="always", cache=True, error_model="numpy")
def control_quotes(cp, db, da, s, q, killed):
    """Apply the controls. Returns (δb, δa, bid size, ask size, zone, action); zone and action as floats.

    Depths in price units from the mid s; sizes in lots (0 = side not quoted).
    """
    # zone and action stay floats: numba's int(float) is a checked call that
    # stops LLVM from vectorising the simulator's path loop
    zone = zone_of(cp, q)
    act = 0.0
    if zone == 1:
        act = cp[CP_ACT_Y]
    elif zone == 2:
        act = cp[CP_ACT_R]
    elif zone == 3:
        act = cp[CP_ACT_C]
    h = 0.5 * (da + db)
    m = 0.5 * (da - db)
    if act == ACT_WIDEN:
        h = h * cp[CP_WIDEN]
    elif act == ACT_SKEW:
        m = m * cp[CP_SKEW]
    # a one-sided quote (the other side +inf: not quoted) has no centre: widen and skew leave it as it is
    # (h − m would be inf − inf = NaN)
    if (act == ACT_WIDEN or act == ACT_SKEW) and db < math.inf and da < math.inf:
        db = h - m
        da = h + m
    # never cross the market's touch: at most one tick inside it, or without a
    # tick a relative 1e-9 of the half market spread (so ask > best bid strictly)
    tick = cp[CP_TICK]
    floor_d = -cp[CP_HALF_MKT] + tick if tick > 0.0 else -cp[CP_HALF_MKT] * (1.0 - 1e-9)
    db = max(db, floor_d)
    da = max(da, floor_d)
    db, da = min_spread(cp, db, da)
    # tick rounding away from the mid (×1/tick: a vector division costs as much
    # as the rest of this function). np.floor/np.ceil return floats: math.floor's
    # int64 would need a float64 <-> int64 vector conversion, which AVX2 lacks
    # (LLVM then converts lane by lane); the result is the same number.
    inv_tick = cp[CP_INV_TICK]
    if tick > 0.0 and not math.isinf(db):
        db = s - np.floor((s - db) * inv_tick + 1e-9) * tick
    if tick > 0.0 and not math.isinf(da):
        da = np.ceil((s + da) * inv_tick - 1e-9) * tick - s
    bsz, asz = limit_room(cp, db, da, q)
    if act == ACT_FLATTEN or killed:
        if q > 0.0:
            bsz = 0.0
        elif q < 0.0:
            asz = 0.0
        else:
            bsz = 0.0
            asz = 0.0
    if killed or act == ACT_FLATTEN:
        bsz = min(bsz, max(-q, 0.0))  # flattening never overshoots through zero
        asz = min(asz, max(q, 0.0))
    return db, da, bsz, asz, zone, act


@nb.njit(inline="always", cache=True, error_model="numpy")
def limit_trade(q, dq, lo, hi):
    """A trade of ``dq`` lots from inventory ``q``, cut so that q + dq stays in the hard
    limit's band [lo, hi] (lots; lo = −limit, hi = limit, shifted by an option's delta).
    A trade never pushes q further outside the band than it already is, and is never
    forced: an inventory outside the band may only move towards it."""
    return min(max(dq, min(lo - q, 0.0)), max(hi - q, 0.0))


@nb.njit(inline="always", cache=True, error_model="numpy")
def limit_clamp(qn, q, lo, hi):
    """The new inventory ``qn`` after a trade from ``q``, inside the band [lo, hi] exactly
    (a cut trade can land an ulp outside it), or no further outside than ``q`` was."""
    return min(max(qn, min(lo, q)), max(hi, q))
