"""Black–Scholes price and Greeks, vectorised (numpy + scipy.special), and an option set that
revalues many options on many price scenarios at once.

European options on a non-dividend-paying underlying (F. Black & M. Scholes, "The pricing of
options and corporate liabilities", J. Political Economy 81(3), 1973, 637–654; the formulas as
in J. C. Hull, *Options, Futures, and Other Derivatives*, the chapters on the Black–Scholes–Merton
model and on the Greek letters):

- d₁ = [ln(S/K) + (r + σ²/2)·T] / (σ√T),  d₂ = d₁ − σ√T;
- call C = S·N(d₁) − K·e^(−rT)·N(d₂);  put P = K·e^(−rT)·N(−d₂) − S·N(−d₁);
- delta ∂V/∂S: N(d₁) (call), −N(−d₁) (put; = N(d₁) − 1);
- gamma ∂²V/∂S² = φ(d₁)/(S·σ√T) (call and put);
- vega ∂V/∂σ = S·φ(d₁)·√T (call and put).

Units: S and K in price units; T in **years**; σ the implied volatility **annualised**, a
fraction per √year (0.2 = 20 vol points); r continuously compounded **per year**. Price in
price units per unit of underlying; delta dimensionless (units of underlying per option);
gamma in 1/price unit; **vega per 1.00 of volatility** (i.e. per 100 vol points: divide by 100
for the usual "per vol point"). N is the standard normal cdf (``scipy.special.ndtr``), φ its
density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ..jsonutil import readonly

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density φ(x)."""
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _d1_d2(S, K, T, vol, r):
    with np.errstate(divide="ignore"):  # S = 0 (a floored scenario price): ln 0 = −inf, d₁ = −inf
        sq = vol * np.sqrt(T)
        d1 = (np.log(S / K) + (r + 0.5 * vol * vol) * T) / sq
    return d1, d1 - sq, sq


def bs_price(S, K, T, vol, r=0.0, is_call=True) -> np.ndarray:
    """Black–Scholes price (price units per unit of underlying), broadcast over all arguments.

    Written as φ·[S·N(φd₁) − K·e^(−rT)·N(φd₂)], φ = +1 for a call and −1 for a put (the two
    formulas of the module docstring in one). T <= 0 gives the intrinsic value max(φ(S − K), 0)
    (an option that expired inside a horizon). S must be >= 0 (S = 0: call 0, put K·e^(−rT))."""
    S, K, T, vol, r = (np.asarray(a, dtype=float) for a in (S, K, T, vol, r))
    phi = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    live = T > 0
    Tl = np.where(live, T, 1.0)
    d1, d2, _ = _d1_d2(S, K, Tl, vol, r)
    value = phi * (S * ndtr(phi * d1) - K * np.exp(-r * Tl) * ndtr(phi * d2))
    if not np.all(live):
        value = np.where(live, value, np.maximum(phi * (S - K), 0.0))
    return value


def _price_rows(S: np.ndarray, K, T, vol, r: float, phi) -> np.ndarray:
    """bs_price for scenario rows S (n, k) of k options with T > 0, per-option constants computed
    once and the (n, k) work done in place (the Monte Carlo hot path)."""
    sq = vol * np.sqrt(T)
    c1 = (np.log(K) - (r + 0.5 * vol * vol) * T) / sq  # d₁ = ln S/sq − c1
    disc = K * np.exp(-r * T)
    with np.errstate(divide="ignore"):
        x = np.log(S)
    x /= sq
    x -= c1  # d₁
    x *= phi  # φd₁
    out = ndtr(x)
    out *= S
    x -= phi * sq  # φd₂ = φd₁ − φ·sq
    out -= disc * ndtr(x)
    out *= phi
    return out


@dataclass(frozen=True, eq=False)
class BSGreeks:
    """Price and Greeks per unit of underlying (units: see the module docstring)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray  # per 1.00 of volatility


def bs_greeks(S, K, T, vol, r=0.0, is_call=True) -> BSGreeks:
    """Black–Scholes price, delta, gamma and vega (per 1.00 vol) for T > 0, broadcast."""
    S, K, T, vol, r = (np.asarray(a, dtype=float) for a in (S, K, T, vol, r))
    is_call = np.asarray(is_call, dtype=bool)
    d1, d2, sq = _d1_d2(S, K, T, vol, r)
    disc = K * np.exp(-r * T)
    n1, nm1 = ndtr(d1), ndtr(-d1)
    price = np.where(is_call, S * n1 - disc * ndtr(d2), disc * ndtr(-d2) - S * nm1)
    delta = np.where(is_call, n1, -nm1)
    pdf = _pdf(d1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(S > 0, pdf / (S * sq), 0.0)
    vega = S * pdf * np.sqrt(T)
    return BSGreeks(price, delta, np.broadcast_to(gamma, price.shape), np.broadcast_to(vega, price.shape))


# --------------------------------------------------------------------------- a set of option positions


@dataclass(frozen=True, eq=False)
class OptionSet:
    """Option positions on the instruments of a book, as arrays (one entry per option position).

    ``underlying`` — index of the underlying instrument (0 … d−1); ``strike`` (price units);
    ``expiry`` (years); ``vol`` (implied, annualised); ``is_call``; ``lots`` = contracts ×
    contract multiplier (signed lots of the underlying the position controls); ``cash`` = lots ×
    the underlying's lot multiplier (units of underlying, i.e. cash per 1 price unit of option
    price); ``rate`` (per year); ``d`` the number of instruments.
    """

    underlying: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    vol: np.ndarray
    is_call: np.ndarray
    lots: np.ndarray
    cash: np.ndarray
    rate: float
    d: int

    @staticmethod
    def build(underlying, strike, expiry, vol, is_call, lots, cash, rate: float, d: int) -> OptionSet:
        u = np.array(underlying, dtype=np.intp)
        u.flags.writeable = False
        c = np.array(is_call, dtype=bool)
        c.flags.writeable = False
        return OptionSet(
            u, readonly(strike), readonly(expiry), readonly(vol), c, readonly(lots), readonly(cash), float(rate), int(d)
        )

    @property
    def n(self) -> int:
        return int(self.underlying.size)

    @property
    def underlyings(self) -> np.ndarray:
        """The distinct underlying indices, ascending."""
        return np.unique(self.underlying)

    def greeks(self, prices: np.ndarray, vol_mult: float = 1.0) -> BSGreeks:
        """Per-unit Greeks of each option at underlying prices ``prices`` (length d)."""
        S = np.asarray(prices, dtype=float)[self.underlying]
        return bs_greeks(S, self.strike, self.expiry, self.vol * vol_mult, self.rate, self.is_call)

    def value(self, prices: np.ndarray, vol_mult: float = 1.0, elapsed_years: float = 0.0) -> np.ndarray:
        """Cash value of each position (Σ-able), for one price vector (d,) or scenario rows (n, d).

        Prices are floored at 0 (arithmetic price moves can cross zero); ``elapsed_years`` rolls
        the expiries down (full revaluation over a horizon; expired options pay intrinsic)."""
        P = np.asarray(prices, dtype=float)
        S = np.maximum(P[..., self.underlying], 0.0)
        T = self.expiry - elapsed_years
        if S.ndim == 2 and np.all(T > 0):
            px = _price_rows(S, self.strike, T, self.vol * vol_mult, self.rate, np.where(self.is_call, 1.0, -1.0))
        else:
            px = bs_price(S, self.strike, T, self.vol * vol_mult, self.rate, self.is_call)
        return px * self.cash

    def value_by_instrument(self, prices: np.ndarray, vol_mult: float = 1.0, elapsed_years: float = 0.0) -> np.ndarray:
        """Cash value of the options grouped by underlying: shape (d,) or (n, d)."""
        v = self.value(prices, vol_mult, elapsed_years)
        out = np.zeros(v.shape[:-1] + (self.d,))
        if v.ndim == 1:
            np.add.at(out, self.underlying, v)
        else:
            for j in self.underlyings:  # a few underlyings: a column sum each
                out[:, j] = v[:, self.underlying == j].sum(axis=1)
        return out


# --------------------------------------------------------------------------- the book's Greeks


@dataclass(frozen=True, eq=False)
class BookGreeks:
    """Greeks of a book, per position and per instrument (underlying).

    Per instrument j (arrays of length d):

    - ``position`` q_j (lots) and ``option_delta`` Σ_k Δ_k·c_k·M_k over the options on j (lots);
    - ``delta_equivalent`` q_j + Σ_k Δ_k·c_k·M_k (lots): the inventory the skew and the limits
      read when options are present;
    - ``gamma`` Σ_k Γ_k·c_k·M_k (lots per price unit: the change of the delta-equivalent
      inventory per 1 price-unit move);
    - ``vega`` Σ_k vega_k·c_k·M_k·m_j (cash per 1.00 of implied volatility);
    - ``exposure`` w_j = delta_equivalent·m_j (cash per price unit; the delta-normal VaR vector)
      and ``linear_exposure`` q_j·m_j (the stock part, for full revaluation);
    - ``value`` (cash) of stock and options.

    c_k = contracts (signed), M_k = lots per contract, m_j = units per lot.
    ``rows`` has one dict per position; ``breaches`` one per limit exceeded.
    """

    names: list
    position: np.ndarray
    option_delta: np.ndarray
    delta_equivalent: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    exposure: np.ndarray
    linear_exposure: np.ndarray
    value: np.ndarray
    rows: list
    breaches: list
    delta_cash: float

    @property
    def totals(self) -> dict:
        """Book totals: value (cash), vega (cash per 1.00 vol; a parallel shift of every implied
        vol), delta_cash Σ w_j·S_j (cash per 100% move of every price)."""
        return {"value": float(self.value.sum()), "vega": float(self.vega.sum()), "delta_cash": self.delta_cash}


def book_greeks(book) -> BookGreeks:
    """Greeks of a :class:`flatbook.risk.book.Book`, and its limit breaches: |delta-equivalent
    inventory| > ``limit``, |gamma| > ``gamma_limit``, |vega| > ``vega_limit`` per instrument,
    |Σ vega| > ``limits.book_vega``."""
    d = book.d
    S = book.prices
    m = book.multipliers
    q = book.positions
    opt_delta = np.zeros(d)
    gamma = np.zeros(d)
    vega = np.zeros(d)
    value = q * m * S
    rows = [
        {
            "kind": "instrument",
            "name": i.name,
            "underlying": i.name,
            "quantity": i.position,
            "quantity_unit": "lots",
            "price": i.price,
            "value": float(value[j]),
            "delta": i.position,
            "gamma": 0.0,
            "vega": 0.0,
        }
        for j, i in enumerate(book.instruments)
    ]
    os_ = book.option_set()
    if os_ is not None:
        g = os_.greeks(S)
        dl, gl, vc, val = g.delta * os_.lots, g.gamma * os_.lots, g.vega * os_.cash, g.price * os_.cash
        np.add.at(opt_delta, os_.underlying, dl)
        np.add.at(gamma, os_.underlying, gl)
        np.add.at(vega, os_.underlying, vc)
        np.add.at(value, os_.underlying, val)
        for k, o in enumerate(book.options):
            rows.append(
                {
                    "kind": "option",
                    "name": o.name,
                    "underlying": o.underlying,
                    "quantity": o.contracts,
                    "quantity_unit": "contracts",
                    "price": float(g.price[k]),
                    "value": float(val[k]),
                    "delta": float(dl[k]),
                    "gamma": float(gl[k]),
                    "vega": float(vc[k]),
                    "type": o.type,
                    "strike": o.strike,
                    "expiry": o.expiry,
                    "implied_vol": o.vol,
                    "multiplier": o.multiplier,
                }
            )
    qeq = q + opt_delta
    breaches = []
    for j, i in enumerate(book.instruments):
        for what, val_, lim in (
            ("position", qeq[j], i.limit),
            ("gamma", gamma[j], i.gamma_limit),
            ("vega", vega[j], i.vega_limit),
        ):
            if lim is not None and abs(val_) > lim:
                breaches.append({"instrument": i.name, "limit": what, "value": float(val_), "allowed": lim})
    if book.book_vega_limit is not None and abs(vega.sum()) > book.book_vega_limit:
        breaches.append(
            {"instrument": None, "limit": "book_vega", "value": float(vega.sum()), "allowed": book.book_vega_limit}
        )
    w = qeq * m
    return BookGreeks(book.names, q, opt_delta, qeq, gamma, vega, w, q * m, value, rows, breaches, float(np.dot(w, S)))
