"""The hedge's per-path arithmetic, compiled and inlined into the simulator's step loop.

Scalar in, scalar out, no calls: the simulator's hedge loop stays vectorised.
The model is documented in :mod:`flatbook.hedging.model`.
"""

from __future__ import annotations

import math

import numba as nb

TRIG_THRESHOLD, TRIG_URGENCY, TRIG_ZONE = 1.0, 2.0, 3.0
SIZE_FRACTION, SIZE_BAND = 1.0, 2.0
EXEC_IMMEDIATE, EXEC_VWAP = 0.0, 2.0


@nb.njit(inline="always", cache=True, error_model="numpy")
def hedge_due(trigger, dev, thr, urg, req):
    """Does a hedge start? dev = x − q* (lots); urg = α·σ² (seed 000's urgency α·|dev|·σ² ≥ 1)."""
    adev = abs(dev)
    # bitwise, not short-circuit: straight-line code that vectorises
    return (
        ((trigger == TRIG_THRESHOLD) & (adev > thr))
        | ((trigger == TRIG_URGENCY) & (urg * adev >= 1.0))
        | ((trigger == TRIG_ZONE) & (req > 0.0) & (adev > 0.0))
    )


@nb.njit(inline="always", cache=True, error_model="numpy")
def hedge_size(sizing, dev, frac, band):
    """Signed lots to trade: −dev (to target), −frac·dev, or down to the band edge |dev| = band."""
    to_band = -(dev - band) if dev > band else (-(dev + band) if dev < -band else 0.0)
    return -frac * dev if sizing == SIZE_FRACTION else (to_band if sizing == SIZE_BAND else -dev)


@nb.njit(inline="always", cache=True, error_model="numpy")
def toward_goal(rem, gap):
    """A running program's remainder ``rem`` (signed lots), cut so that it never takes the
    exposure past the program's goal: gap = goal − x, the goal being the exposure the
    program was started to reach (x + its size). Fills since the start may have done part
    of its work (the remainder shrinks) or all of it (the program ends: 0)."""
    return min(rem, max(gap, 0.0)) if rem > 0.0 else max(rem, min(gap, 0.0))


@nb.njit(inline="always", cache=True, error_model="numpy")
def child_order(exec_, rem, x0, k, nh, w_k, vol_i, vol_window, cap_i):
    """This step's child order (signed lots): the whole remainder (immediate, or the
    program's last step); x0·w_k (twap, almgren-chriss); x0·vol_i/vol_window (vwap);
    never past the remainder and at most cap_i lots (participation cap)."""
    n = rem
    if exec_ != EXEC_IMMEDIATE and k < nh - 1:
        n = x0 * vol_i / vol_window if exec_ == EXEC_VWAP else x0 * w_k
    n = min(max(n, 0.0), rem) if rem > 0.0 else max(min(n, 0.0), rem)
    return min(max(n, -cap_i), cap_i)


@nb.njit(inline="always", cache=True, error_model="numpy")
def execution_price(m, n, eps, eta_dt, sqrt_coef, J):
    """(price per lot, added temporary displacement) of a market order of n lots at mid m:
    m + J + sgn(n)·(ε + η·|n|/dt) (Almgren & Chriss 2000, h(v) = ε·sgn(v) + η·v), or with
    the square-root law m + J + sgn(n)·(ε + Y·σ·√(|n|/(V·dt))) (sqrt_coef = Y·σ/√(V·dt));
    the law not chosen has its coefficient 0."""
    an = abs(n)
    sg = 1.0 if n > 0.0 else -1.0
    temp = eta_dt * an + sqrt_coef * math.sqrt(an)
    return m + J + sg * (eps + temp), sg * temp
