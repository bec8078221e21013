"""A contract's value in its settlement currency, and prices as integer ticks (compiled, inlined).

A unit (contract) at price p is worth v(p) = C·p for a linear contract and −C/p for an inverse one
(C in price-currency units: Binance COIN-M, BitMEX XBTUSD), up to a constant
(:func:`flatbook.data.events.contract_value` is the array form). Prices are compared in integer ticks;
:func:`tick_price` turns ticks back into the exact decimal price.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(inline="always", cache=True)
def ticks(p, tick):
    """The nearest whole number of ticks of price p (int64): floor(p/tick + 1/2)."""
    return np.int64(math.floor(p / tick + 0.5))


@nb.njit(inline="always", cache=True)
def unit_value(p, inverse, csize):
    """Value of one unit (contract) at price p in the settlement currency, up to a constant:
    C·p (linear) or −C/p (inverse); see :func:`flatbook.data.events.contract_value`."""
    return -csize / p if inverse else csize * p


@nb.njit(inline="always", cache=True)
def unit_value_slope(p, inverse, csize):
    """dv/dp: settlement currency per contract per price unit (C, or C/p² inverse)."""
    return csize / (p * p) if inverse else csize


@nb.njit(inline="always", cache=True)
def inverse_tick(tick):
    """1/tick when the tick is 10^−d (prices are then exactly ticks / 10^d), else 0."""
    inv = np.rint(1.0 / tick)
    return inv if abs(inv * tick - 1.0) <= 1e-12 else 0.0


@nb.njit(inline="always", cache=True)
def tick_price(p_t, tick, inv_tick):
    """The price of p_t ticks: p_t / 10^d for a decimal tick (998/10 = 99.8 exactly), else p_t·tick."""
    return p_t / inv_tick if inv_tick > 0.0 else p_t * tick
