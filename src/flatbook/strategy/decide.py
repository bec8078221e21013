"""The decision: the policy's depths and the controls around the mid → both sides' orders (compiled).

:func:`decide` runs the policy's compiled depths loop (:func:`flatbook.policies.compile.depths_loop`)
for one state, then the controls (:func:`flatbook.controls.quote_controls.control_quotes`: zones and
their actions, kill switch → flatten-only, never-cross, minimum spread, tick rounding, hard-limit
sizes) with the market's own half spread as the never-cross touch; :func:`side_order` turns a side
into whole lots and integer ticks. The replay loop inlines both; :func:`strategy_quotes` is the same
step as one compiled call for the live engine (its outputs in the ``LD_*`` slots).

Units: prices and depths in price units, t and tau in time units (the replay and live: seconds),
sizes in lots, prices of orders in integer ticks.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..controls.quote_controls import CP_HALF_MKT, CP_LEN, control_quotes
from .contract import inverse_tick, tick_price, ticks


@nb.njit(inline="always", cache=True, error_model="numpy")
def as_tuple14(a):
    """The packed controls array ``cp`` (CP_LEN = 14 floats) as a tuple (what control_quotes reads)."""
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


@nb.njit(inline="always", cache=True)
def with_touch(cp, half_mkt):
    """The controls' parameter tuple with the market's half spread as the never-cross touch
    (element CP_HALF_MKT = 12 of CP_LEN = 14, asserted below)."""
    return (cp[0], cp[1], cp[2], cp[3], cp[4], cp[5], cp[6], cp[7], cp[8], cp[9], cp[10], cp[11], half_mkt, cp[13])


assert (CP_HALF_MKT, CP_LEN) == (12, 14), "update with_touch and as_tuple14 to the controls' layout"


@nb.njit(inline="always", cache=True)
def decide(loop, pp, tab, cp, i, t, tau, mid, half_mkt, q, x, killed, one):
    """The policy's depths (``loop``) at step i, time t / time-to-go tau, regime x (0 calm, 1 volatile), then
    the controls with the market's half spread as the never-cross touch. Returns (raw δb, raw δa, δb, δa,
    bid size, ask size, zone, action) as :func:`flatbook.controls.quote_controls.control_quotes`; ``one``:
    a (5, 1) scratch array, whose rows are the depths loop's 1-element arrays (s, q, x, δb, δa)."""
    one[0, 0] = mid
    one[1, 0] = q
    one[2, 0] = x
    loop(pp, tab, i, t, tau, one[0], one[1], one[2], one[3], one[4])
    db0 = one[3, 0]
    da0 = one[4, 0]
    db0 = math.inf if math.isnan(db0) else db0  # a NaN depth (a user policy off its probed grid): not quoted
    da0 = math.inf if math.isnan(da0) else da0
    db, da, bsz, asz, zone, act = control_quotes(with_touch(cp, half_mkt), db0, da0, mid, q, killed)
    return db0, da0, db, da, bsz, asz, zone, act


@nb.njit(inline="always", cache=True)
def side_order(k, mid, db, da, bsz, asz, lot, tick):
    """Side k's order from a decision: (size in whole lots, price in ticks; 0 when not quoted)."""
    if k == 0:
        sz = math.floor(bsz / lot + 1e-9) * lot
        p_t = ticks(mid - db, tick) if sz > 0.0 else np.int64(0)
    else:
        sz = math.floor(asz / lot + 1e-9) * lot
        p_t = ticks(mid + da, tick) if sz > 0.0 else np.int64(0)
    return sz, p_t


@nb.njit(inline="always", cache=True)
def step_of(t, dt, nsteps):
    """The policy's step i of time t (time units): floor(t/dt), clipped to [0, nsteps] (an int64 compiled,
    a Python int from its Python source)."""
    return min(max(math.floor(t / dt), 0), nsteps)


# decision output slots (``strategy_quotes``)
(LD_DB0, LD_DA0, LD_DB, LD_DA, LD_BSZ, LD_ASZ, LD_ZONE, LD_ACT, LD_BID_T, LD_ASK_T, LD_BID_PX, LD_ASK_PX) = range(12)
LD_LEN = 12  # flatbook.live.engine unpacks the slots in this order
# decision input slots (``strategy_quotes``' record ``sv``): step, time, time to go, mid, the market's half
# spread, q, regime, killed (1.0/0.0), lot, tick
(SV_I, SV_T, SV_TAU, SV_MID, SV_HALF, SV_Q, SV_X, SV_KILLED, SV_LOT, SV_TICK) = range(10)
SV_LEN = 10


@nb.njit(cache=True, error_model="numpy")
def strategy_quotes(loop, pp, tab, cpa, sv, out):
    """One decision, the replay's exactly (:func:`decide` then :func:`side_order`, prices by
    :func:`~flatbook.strategy.contract.tick_price`), written to ``out`` (``LD_*`` slots).

    ``sv``: the decision's inputs, one float64 record (``SV_*`` slots): the step i of t; t and tau, time
    since the start and time to go (time units); the mid and the market's half spread (price units); q
    (lots); the regime (0 calm, 1 volatile); killed (1.0/0.0); the lot (lots) and the tick (price units)."""
    lot = sv[SV_LOT]
    tick = sv[SV_TICK]
    mid = sv[SV_MID]
    db0, da0, db, da, bsz, asz, zone, act = decide(
        loop,
        pp,
        tab,
        as_tuple14(cpa),
        np.int64(sv[SV_I]),
        sv[SV_T],
        sv[SV_TAU],
        mid,
        sv[SV_HALF],
        sv[SV_Q],
        sv[SV_X],
        sv[SV_KILLED] > 0.5,
        np.empty((5, 1)),
    )
    out[LD_DB0] = db0
    out[LD_DA0] = da0
    out[LD_DB] = db
    out[LD_DA] = da
    out[LD_ZONE] = zone
    out[LD_ACT] = act
    inv_tick = inverse_tick(tick)
    sz, p_t = side_order(0, mid, db, da, bsz, asz, lot, tick)
    out[LD_BSZ] = sz
    out[LD_BID_T] = p_t
    out[LD_BID_PX] = tick_price(p_t, tick, inv_tick)
    sz, p_t = side_order(1, mid, db, da, bsz, asz, lot, tick)
    out[LD_ASZ] = sz
    out[LD_ASK_T] = p_t
    out[LD_ASK_PX] = tick_price(p_t, tick, inv_tick)
