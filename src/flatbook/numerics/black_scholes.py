"""Black–Scholes price and delta of one option, compiled for the simulator's kernels.

Zero rates; S, K in price units; vol a fraction per √time unit; τ time units.
C = S·N(d₁) − K·N(d₂), P = C − S + K, Δ_C = N(d₁), Δ_P = N(d₁) − 1 with
d₁ = (ln(S/K) + ½σ²τ)/(σ√τ), d₂ = d₁ − σ√τ (Black & Scholes 1973; Hull, ch. 15).
At τ ≤ 0 the option is worth its intrinsic value and Δ is 1{S > K} (call).
The vectorised numpy version for books is :mod:`flatbook.risk.greeks`.
"""

from __future__ import annotations

import math

import numba as nb


@nb.njit(inline="always", cache=True, error_model="numpy")
def _ncdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@nb.njit(inline="always", cache=True, error_model="numpy")
def bs_price_delta(s, K, vol, tau, is_call):
    """(price, delta) per unit of underlying."""
    if tau <= 0.0 or vol <= 0.0 or s <= 0.0:
        call = max(s - K, 0.0)
        d_call = 1.0 if s > K else 0.0
        return (call, d_call) if is_call else (call - s + K, d_call - 1.0)
    sq = vol * math.sqrt(tau)
    d1 = (math.log(s / K) + 0.5 * sq * sq) / sq
    n1 = _ncdf(d1)
    call = s * n1 - K * _ncdf(d1 - sq)
    return (call, n1) if is_call else (call - s + K, n1 - 1.0)
