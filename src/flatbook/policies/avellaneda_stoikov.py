"""Rung 2: Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book".

Quantitative Finance 8(3), 217–224, eqs. (29)–(30):

    r      = s − (q − q*)·γ·σ²·τ                          reservation price
    δa+δb  = γ·σ²·τ + (2/γ)·ln(1 + γ/k)                     optimal total spread
    bid/ask = r ∓ (δa+δb)/2

τ = T − t for the finite-horizon ``variant=finite``. ``variant=stationary``
uses a rolling horizon, τ ≡ ``horizon`` (time units), for 24/7 markets with
no close: the quotes are those of an agent who always has ``horizon`` left.
Note σ² (variance): the reservation shift is linear in the *variance*.

Units: γ = ``gamma`` per (price unit·lot), σ = ``sigma`` price units per
√time unit, k = ``k`` per price unit, τ in time units, q in lots.
Packed ``pp = [γσ², (1/γ)ln(1+γ/k), q*, stationary (0/1), horizon]``.
"""
from __future__ import annotations

import math

import numba as nb


@nb.njit(inline="always", cache=True, error_model="numpy")
def depths(pp, tab, i, tau, s, q):
    """(bid depth, ask depth) = (h + (q−q*)γσ²τ, h − (q−q*)γσ²τ), h = γσ²τ/2 + ln(1+γ/k)/γ."""
    tau_eff = pp[4] if pp[3] > 0.5 else max(tau, 0.0)
    slope = pp[0] * tau_eff
    h = 0.5 * slope + pp[1]
    c = (q - pp[2]) * slope
    return h + c, h - c


def time_average_half_spread(gamma: float, sigma: float, k: float, T: float) -> float:
    """Mean over t∈[0,T] of the A–S optimal half-spread (price units).

    (1/T)∫₀ᵀ [γσ²(T−t)/2 + ln(1+γ/k)/γ] dt = γσ²T/4 + ln(1+γ/k)/γ. Avellaneda &
    Stoikov (2008), §3.2, quote their symmetric benchmark at this spread.
    """
    return gamma * sigma * sigma * T / 4.0 + math.log1p(gamma / k) / gamma
