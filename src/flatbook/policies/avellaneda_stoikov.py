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
Packed ``p = (gs2 = γσ², c = (1/γ)ln(1+γ/k), q_target, stationary (0/1), horizon)``
(:func:`pack`; :mod:`flatbook.policies.base`). The finite variant's quotes move with time.
"""

from __future__ import annotations

import math

from .base import policy


def pack(v, nsteps):
    """The formula's constants from the run's values (γ, σ, k, q*, variant, horizon)."""
    g, sig, k = v["gamma"], v["sigma"], v["k"]
    return (
        g * sig * sig,
        math.log1p(g / k) / g,
        v["q_target"],
        1.0 if v["variant"] == "stationary" else 0.0,
        v["horizon"],
    )


@policy(
    ["gamma", "sigma", "k", "T", "q_target", "variant", "horizon"],
    name="avellaneda-stoikov",
    rung=2,
    fields=("gs2", "c", "q_target", "stationary", "horizon"),
    pack=pack,
    moves_with_time=lambda v: v["variant"] == "finite",
    source="Avellaneda & Stoikov (2008), eqs. 29–30",
    summary="r = s − (q − q*)γσ²τ; spread = γσ²τ + (2/γ)ln(1+γ/k); τ = T − t or horizon",
)
def avellaneda_stoikov(p, t, tau, s, q):
    """(bid depth, ask depth) = (h + (q−q*)γσ²τ, h − (q−q*)γσ²τ), h = γσ²τ/2 + ln(1+γ/k)/γ."""
    tau_eff = p.horizon if p.stationary > 0.5 else max(tau, 0.0)
    slope = p.gs2 * tau_eff
    h = 0.5 * slope + p.c
    c = (q - p.q_target) * slope
    return h + c, h - c


def time_average_half_spread(gamma: float, sigma: float, k: float, T: float) -> float:
    """Mean over t∈[0,T] of the A–S optimal half-spread (price units).

    (1/T)∫₀ᵀ [γσ²(T−t)/2 + ln(1+γ/k)/γ] dt = γσ²T/4 + ln(1+γ/k)/γ. Avellaneda &
    Stoikov (2008), §3.2, quote their symmetric benchmark at this spread.
    """
    return gamma * sigma * sigma * T / 4.0 + math.log1p(gamma / k) / gamma
