"""Stress tests of a book, the liquidation check and survivability (the largest common hard limit).

Built-in scenarios (seed note 000, "Stress testing"):

- ``overnight-gap``: every price gaps by ``gap`` (5%) at once, down and up; the worse of the two.
- ``no-liquidity``: no hedge can be done for ``drought_hours`` (2 h); the position is held.
- ``worst-case``: maximum position × maximum daily move, every instrument against the book, no
  diversification: Σ_j Qmax_j·m_j·move_j with Qmax_j the hard limit ``limit`` (or |q_eq,j| when
  none) and move_j = ``max_daily_move``·S_j, or ``max_move_sigmas``·σ_j when not given.
- ``liquidation``: "could the position be liquidated without breaching limits?" (below).

User scenarios (``[[scenarios]]``) combine a price shock (fraction per instrument), a volatility
shock (σ → σ·(1 + vol) for instrument and implied vols), a correlation shock (every off-diagonal
correlation → ρ_stress) and a liquidity drought of ``hours``.

Rules (loss = V_before − V_after in cash, > 0 a loss; V = Σ q_j·m_j·S_j + options at
Black–Scholes; stress moves are instantaneous: expiries are not rolled down):

- **price/vol shock**: full revaluation at S·(1 + shock) and implied vols × (1 + vol); with
  ``both_directions`` also at S·(1 − shock), keeping the worse.
- **drought of D hours** (τ = D/``hours_per_day`` days): the book is held; its move is the k-σ
  move in the worst direction of the delta-equivalent book, ΔS* = ∓k·√τ·Σw/σ_P (Studer's
  maximum loss on the k-σ ellipsoid, which for a linear book loses exactly k·σ_P·√τ,
  σ_P = √(wᵀΣw)), with Σ and w after the shock (stressed vols and correlations; option deltas
  at the shocked prices); options are then fully revalued at ±ΔS* and the worse side is kept.
  k = ``sigmas`` (3). By the reflection principle the running loss of a linear book exceeds
  k·σ_P·√τ at some time in the window with probability 2·(1 − Φ(k)) (0.27% for k = 3), so this
  bounds the maximum loss over the horizon, not just the loss at its end.
- **liquidation**: each instrument's delta-equivalent inventory X_j (lots) is traded out in the
  underlying (options are kept; their gamma is ignored here), over T_j = max(|X_j|/(p·ADV_j), τ₀)
  days (participation p = ``participation`` of ADV; τ₀ = ``step_minutes``), with
  :func:`flatbook.hedging.schedules.almgren_chriss` (N = ``liquidation_steps``, η_j,
  ε_j = half-spread, γ = 0, λ = ``risk_aversion``·m_j; η = 0 gives TWAP for λ = 0 and the
  immediate limit for λ > 0) or :func:`~flatbook.hedging.schedules.immediate` (all in one step of
  τ₀). Loss_j = m_j·(E_j + k·√V_j) (expected cost plus k standard deviations of the price risk
  while liquidating), summed over instruments (no diversification credit: Σ√V_j >= √(ΣV)).
  The check passes when the loss is <= ``max_loss`` (default: the capital). The closed forms
  here are vectorised over instruments and agree with the schedules module to rounding
  (tested).

**Survivability.** The book is scaled so that its largest |delta-equivalent inventory| equals a
common hard limit Q (all positions and option contracts × Q/max_j|q_eq,j|): the book at the
limit. Every scenario is evaluated on that book; for the worst case the maximum positions are
its positions, Σ_j |q_eq,j(Q)|·m_j·move_j (at the current book the worst case reads the
per-instrument hard limits instead, as above). Q_max is the largest Q at which every selected
scenario's loss is <= capital. Every scenario but the liquidation is homogeneous of degree 1 in Q (revaluation is
linear in position size, the drought direction does not depend on it), so its Q_s is the closed
form capital·Q/loss(Q); the liquidation is not (its horizon grows with |X| and impact is
quadratic), so its Q_s is found by bisection (loss increasing in Q; relative tolerance 1e-12).
Q_max = min_s Q_s and the minimiser is the binding scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .book import SEED_SCENARIOS, Book, Scenario
from .greeks import book_greeks

BISECT_RTOL = 1e-12
_LINEAR_BELOW = 1e-100  # as flatbook.hedging.schedules: κT below this is the straight line


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario at the current book: ``loss`` (cash, > 0 a loss), ``linear`` (homogeneous of
    degree 1 in the book's scale: closed-form survivability), ``details``."""

    name: str
    kind: str
    loss: float
    description: str
    linear: bool = True
    details: dict = field(default_factory=dict)

    def as_dict(self, capital: float | None) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "loss": self.loss,
            "description": self.description,
            "loss_over_capital": self.loss / capital if capital else None,
            "breach": bool(self.loss > capital) if capital is not None else None,
            "details": self.details,
        }


@dataclass(frozen=True)
class Survivability:
    """Q_max (lots; +inf when no scenario loses) and the binding scenario; ``reference`` is the
    current max_j |q_eq,j| (lots); ``per_scenario`` rows: name, q_max, method, loss at Q_max."""

    q_max: float
    binding: str | None
    reference: float
    capital: float
    per_scenario: list

    def as_dict(self) -> dict:
        return {
            "q_max": self.q_max,
            "binding": self.binding,
            "current_max_position": self.reference,
            "capital": self.capital,
            "headroom": self.q_max / self.reference if self.reference > 0 else None,
            "per_scenario": self.per_scenario,
        }


@dataclass(frozen=True)
class StressReport:
    capital: float
    scenarios: list
    survivability: Survivability
    settings: dict

    @property
    def worst(self) -> ScenarioResult:
        return max(self.scenarios, key=lambda s: s.loss)

    def as_dict(self) -> dict:
        w = self.worst
        return {
            "capital": self.capital,
            "settings": self.settings,
            "scenarios": [s.as_dict(self.capital) for s in self.scenarios],
            "worst_scenario": {"name": w.name, "loss": w.loss},
            "survivability": self.survivability.as_dict(),
        }


# --------------------------------------------------------------------------- revaluation


class _State:
    """The arrays of a book needed to revalue it (positions are fixed; scale by multiplying)."""

    def __init__(self, book: Book):
        self.book = book
        self.S = book.prices
        self.m = book.multipliers
        self.q = book.positions
        self.vols = book.vols
        self.corr = np.asarray(book.corr)
        self.opts = book.option_set()
        self.greeks = book_greeks(book)
        self.v0 = self.value(self.S)

    def value(self, S: np.ndarray, vol_mult: float = 1.0) -> float:
        """Cash value of the book at prices S (d,) or rows (n, d) → float or (n,)."""
        v = (S * (self.q * self.m)).sum(axis=-1)
        if self.opts is not None:
            v = v + self.opts.value(S, vol_mult).sum(axis=-1)
        return v

    def exposure(self, S: np.ndarray, vol_mult: float = 1.0) -> np.ndarray:
        """w = delta-equivalent lots × m (cash per price unit) at prices S."""
        qeq = self.q.copy()
        if self.opts is not None:
            g = self.opts.greeks(S, vol_mult)
            np.add.at(qeq, self.opts.underlying, g.delta * self.opts.lots)
        return qeq * self.m

    def cov(self, vol_mult: float = 1.0, rho: float | None = None) -> np.ndarray:
        C = self.corr
        if rho is not None:
            C = np.full_like(C, rho)
            np.fill_diagonal(C, 1.0)
        s = self.vols * vol_mult
        return C * np.outer(s, s)


def _drought(st: _State, S1: np.ndarray, vol_mult: float, rho: float | None, hours: float, k: float) -> dict:
    """Held for ``hours`` from prices S1: loss from S1 at the worse of ±ΔS* (module docstring)."""
    tau = hours / st.book.hours_per_day
    w = st.exposure(S1, vol_mult)
    Sig = st.cov(vol_mult, rho)
    Sw = Sig @ w
    sig_p = math.sqrt(max(float(w @ Sw), 0.0))
    v1 = st.value(S1, vol_mult)
    if sig_p == 0.0:
        return {"loss": 0.0, "tau_days": tau, "sigma_p": 0.0, "move": np.zeros_like(S1), "linear_loss": 0.0}
    dS = -k * math.sqrt(tau) * Sw / sig_p
    lo, hi = v1 - st.value(S1 + dS, vol_mult), v1 - st.value(S1 - dS, vol_mult)
    loss, move = (lo, dS) if lo >= hi else (hi, -dS)
    return {
        "loss": float(loss),
        "tau_days": tau,
        "sigma_p": sig_p,
        "move": move,
        "linear_loss": k * math.sqrt(tau) * sig_p,
    }


def _shock(
    st: _State, shock: np.ndarray, vol_mult: float, rho: float | None, hours: float, k: float
) -> tuple[float, dict]:
    S1 = st.S * (1.0 + shock)
    shock_loss = float(st.v0 - st.value(S1, vol_mult))
    det = {"shock_loss": shock_loss, "drought_loss": 0.0}
    if hours > 0:
        dr = _drought(st, S1, vol_mult, rho, hours, k)
        det.update(drought_loss=dr["loss"], drought_days=dr["tau_days"], sigma_p_per_sqrt_day=dr["sigma_p"])
    return shock_loss + det["drought_loss"], det


def gap_scenario(st: _State, gap: float) -> ScenarioResult:
    shock = np.full(st.book.d, gap)
    down, _ = _shock(st, -shock, 1.0, None, 0.0, 0.0)
    up, _ = _shock(st, shock, 1.0, None, 0.0, 0.0)
    loss, direction = (down, "down") if down >= up else (up, "up")
    return ScenarioResult(
        "overnight-gap",
        "gap",
        loss,
        f"every price gaps {gap:.2%} overnight (worse of down and up), full revaluation",
        details={"gap": gap, "direction": direction, "loss_down": down, "loss_up": up},
    )


def drought_scenario(st: _State, hours: float, k: float) -> ScenarioResult:
    dr = _drought(st, st.S, 1.0, None, hours, k)
    return ScenarioResult(
        "no-liquidity",
        "drought",
        dr["loss"],
        f"no liquidity for {hours:g} h: the position is held; {k:g}σ move of the book",
        details={
            "hours": hours,
            "days": dr["tau_days"],
            "sigmas": k,
            "sigma_p_per_sqrt_day": dr["sigma_p"],
            "linear_loss": dr["linear_loss"],
            "move": {n: float(x) for n, x in zip(st.book.names, dr["move"])},
        },
    )


def _max_moves(book: Book) -> np.ndarray:
    """max daily move per instrument, price units: max_daily_move·S or max_move_sigmas·σ."""
    k = book.stress.max_move_sigmas
    return np.array(
        [
            i.max_daily_move * i.price if i.max_daily_move is not None else k * s
            for i, s in zip(book.instruments, book.vols)
        ]
    )


def worst_case_scenario(st: _State) -> ScenarioResult:
    book = st.book
    qeq = np.abs(st.greeks.delta_equivalent)
    maxpos = np.array([i.limit if i.limit is not None else a for i, a in zip(book.instruments, qeq)])
    moves = _max_moves(book)
    per = maxpos * st.m * moves
    loss = float(per.sum()) if np.all(np.isfinite(maxpos)) else math.inf
    return ScenarioResult(
        "worst-case",
        "worst-case",
        loss,
        "max position (hard limit, else current |q_eq|) × max daily move, every instrument "
        "against the book, no diversification",
        details={
            "per_instrument": [
                {"instrument": n, "max_position": float(p), "max_move": float(mv), "loss": float(x)}
                for n, p, mv, x in zip(book.names, maxpos, moves, per)
            ]
        },
    )


def user_scenario(st: _State, sc: Scenario, k: float) -> ScenarioResult:
    vm = 1.0 + sc.vol
    loss, det = _shock(st, sc.price, vm, sc.correlation, sc.hours, k)
    if sc.both_directions:
        loss2, det2 = _shock(st, -sc.price, vm, sc.correlation, sc.hours, k)
        if loss2 > loss:
            loss, det = loss2, {**det2, "direction": "reversed"}
    parts = []
    if np.any(sc.price != 0):
        u = np.unique(sc.price)
        parts.append(f"prices {u[0]:+.2%}" if u.size == 1 else "price shocks per instrument")
    if sc.vol:
        parts.append(f"vols ×{vm:g}")
    if sc.correlation is not None:
        parts.append(f"correlations → {sc.correlation:g}")
    if sc.hours:
        parts.append(f"held {sc.hours:g} h at {k:g}σ")
    det.update(
        {
            "price": {n: float(x) for n, x in zip(st.book.names, sc.price) if x != 0},
            "both_directions": sc.both_directions,
            "vol": sc.vol,
            "correlation": sc.correlation,
            "hours": sc.hours,
        }
    )
    return ScenarioResult(sc.name, "user", float(loss), ", ".join(parts) or "no shock", details=det)


# --------------------------------------------------------------------------- liquidation


def liquidation_costs(
    X,
    sigma,
    eta,
    epsilon,
    adv,
    *,
    method: str = "almgren-chriss",
    participation: float = 0.1,
    steps: int = 20,
    risk_aversion=0.0,
    step_days: float = 5.0 / 390.0,
) -> dict:
    """Vectorised Almgren–Chriss (or immediate) cost of trading out X_j lots per instrument.

    Horizon T_j = max(|X_j|/(participation·ADV_j), step_days) days in ``steps`` steps
    (immediate: one step of ``step_days``). Returns arrays T, N, tau, kappa, expected_cost E and
    variance V (price units × lots, and its square), as :mod:`flatbook.hedging.schedules`
    computes them with γ = 0 (eqs. 5, 8, 17; η = 0: TWAP for λ = 0, immediate limit for λ > 0)."""
    X, sigma, eta, epsilon, adv = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (X, sigma, eta, epsilon, adv))
    )
    lam = np.broadcast_to(np.asarray(risk_aversion, dtype=float), X.shape)
    absX = np.abs(X)
    if method == "immediate":
        tau = np.full(X.shape, float(step_days))
        E = epsilon * absX + eta / tau * X * X
        return {
            "T": tau,
            "N": np.ones(X.shape, dtype=int),
            "tau": tau,
            "kappa": np.full(X.shape, math.inf),
            "expected_cost": E,
            "variance": np.zeros(X.shape),
        }
    if method != "almgren-chriss":
        raise InputError("liquidation", f"got {method!r}; allowed: almgren-chriss, immediate")
    with np.errstate(divide="ignore", invalid="ignore"):
        T = np.maximum(np.where(np.isfinite(adv), absX / (participation * adv), 0.0), step_days)
    N = int(steps)
    tau = T / N
    # κ from (2/τ²)(cosh κτ − 1) = λσ²/η̃ (η̃ = η with γ = 0), as schedules.ac_kappa
    num = lam * sigma * sigma
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kt2 = np.where(num == 0, 0.0, num / eta)
        kappa = np.where(kt2 == 0, 0.0, 2.0 / tau * np.arcsinh(np.sqrt(kt2) * tau / 2.0))
    kappa = np.where(np.isfinite(kappa), kappa, math.inf)
    kt = kappa * tau
    k = np.arange(N + 1, dtype=float)
    r = np.empty(X.shape + (N + 1,))
    lin = kt * N < _LINEAR_BELOW
    inf = ~np.isfinite(kt)
    mid = ~(lin | inf)
    r[lin] = (N - k) / N
    r[inf] = 0.0
    r[inf, 0] = 1.0
    if np.any(mid):
        km = kt[mid][:, None]
        e = np.expm1(-2.0 * km * (N - k))
        r[mid] = np.exp(-km * k) * (e / e[:, :1])
        r[mid, 0] = 1.0
    hold = X[..., None] * r
    trades = hold[..., :-1] - hold[..., 1:]
    E = epsilon * np.abs(trades).sum(axis=-1) + eta / tau * (trades * trades).sum(axis=-1)
    s = (sigma * np.sqrt(tau))[..., None] * hold[..., 1:]
    V = (s * s).sum(axis=-1)
    return {"T": T, "N": np.full(X.shape, N), "tau": tau, "kappa": kappa, "expected_cost": E, "variance": V}


def _liquidation_loss(book: Book, X: np.ndarray) -> tuple[float, dict]:
    s = book.stress
    m = book.multipliers
    ins = book.instruments
    c = liquidation_costs(
        X,
        book.vols,
        [i.eta for i in ins],
        [i.half_spread for i in ins],
        [i.adv for i in ins],
        method=s.liquidation,
        participation=s.participation,
        steps=s.liquidation_steps,
        risk_aversion=s.risk_aversion * m,
        step_days=s.step_minutes / (60.0 * book.hours_per_day),
    )
    per = m * (c["expected_cost"] + s.sigmas * np.sqrt(c["variance"]))
    return float(per.sum()), {**c, "loss": per}


def liquidation_scenario(st: _State) -> ScenarioResult:
    book = st.book
    s = book.stress
    X = st.greeks.delta_equivalent
    loss, c = _liquidation_loss(book, X)
    limit = book.max_loss if book.max_loss is not None else book.capital
    rows = [
        {
            "instrument": n,
            "lots": float(x),
            "horizon_days": float(T),
            "expected_cost": float(m * e),
            "std": float(m * math.sqrt(v)),
            "loss": float(lo),
        }
        for n, x, T, e, v, lo, m in zip(
            book.names, X, c["T"], c["expected_cost"], c["variance"], c["loss"], book.multipliers
        )
    ]
    return ScenarioResult(
        "liquidation",
        "liquidation",
        loss,
        f"trade out every delta-equivalent position ({s.liquidation}, ≤ {s.participation:.0%} of ADV, "
        f"loss = expected cost + {s.sigmas:g}σ)",
        linear=False,
        details={
            "method": s.liquidation,
            "participation": s.participation,
            "sigmas": s.sigmas,
            "expected_cost": float(sum(r["expected_cost"] for r in rows)),
            "risk": float(sum(r["std"] for r in rows)) * s.sigmas,
            "limit": limit,
            "limit_source": "book.max_loss" if book.max_loss is not None else "book.capital",
            "passes": bool(loss <= limit) if limit is not None else None,
            "longest_horizon_days": float(np.max(c["T"])),
            "per_instrument": rows,
        },
    )


# --------------------------------------------------------------------------- survivability


def _bisect_liquidation(book: Book, qeq: np.ndarray, ref: float, capital: float) -> float:
    """Largest Q with liquidation loss(Q) <= capital (loss increasing in Q)."""

    def f(Q: float) -> float:
        return _liquidation_loss(book, qeq * (Q / ref))[0]

    lo, hi = 0.0, ref
    while f(hi) <= capital:
        lo, hi = hi, 2.0 * hi
        if hi > 1e300:
            return math.inf
    while hi - lo > BISECT_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if f(mid) <= capital:
            lo = mid
        else:
            hi = mid
    return lo


def survivability(st: _State, results: list[ScenarioResult], capital: float) -> Survivability:
    """Q_max over ``results`` (module docstring): closed form for the linear scenarios, bisection
    for the liquidation; the binding scenario is the one with the smallest Q_s."""
    book = st.book
    qeq = st.greeks.delta_equivalent
    ref = float(np.max(np.abs(qeq))) if qeq.size else 0.0
    rows: list[dict[str, Any]] = []
    for r in results:
        if r.kind == "worst-case":
            slope = float(np.sum(np.abs(qeq) * st.m * _max_moves(book))) / ref if ref > 0 else 0.0
            q = capital / slope if slope > 0 else math.inf
            method = "closed form: loss = (Q/Q_now)·Σ|q_eq,j|·m_j·move_j"

            def at(Q, slope=slope):
                return Q * slope
        elif ref == 0.0:
            q = math.inf if r.loss <= capital else 0.0
            method = "book has no delta-equivalent inventory: loss does not scale with Q"

            def at(Q, r=r):
                return r.loss
        elif r.linear:
            slope = r.loss / ref
            q = capital / slope if slope > 0 else math.inf
            method = "closed form: loss linear in Q"

            def at(Q, slope=slope):
                return Q * slope
        else:
            q = _bisect_liquidation(book, qeq, ref, capital)
            method = f"bisection (relative tolerance {BISECT_RTOL:g})"

            # every variant is called as at(Q); the others bind loop values as defaults, hence the ignore
            def at(Q):  # type: ignore[misc]
                return _liquidation_loss(book, qeq * (Q / ref))[0]

        rows.append({"name": r.name, "q_max": q, "method": method, "_at": at})
    finite = [x for x in rows if math.isfinite(x["q_max"])]
    if finite:
        b = min(finite, key=lambda x: x["q_max"])
        qmax, binding = b["q_max"], b["name"]
    else:
        qmax, binding = math.inf, None
    for x in rows:
        at = x.pop("_at")
        x["loss_at_q_max"] = float(at(qmax)) if math.isfinite(qmax) else None
    return Survivability(qmax, binding, ref, capital, rows)


# --------------------------------------------------------------------------- the whole set


def scenario_names(book: Book) -> list[str]:
    return list(SEED_SCENARIOS) + [s.name for s in book.scenarios]


def run_stress(book: Book, names: list[str] | None = None, capital: float | None = None) -> StressReport:
    """Every scenario (or those in ``names``, in the given order), at the current book, and the
    survivability over the same set. ``capital`` defaults to ``book.capital`` (required)."""
    cap = capital if capital is not None else book.capital
    if cap is None:
        raise InputError("book.capital", "missing; required by the stress tests: the capital budget (cash)")
    allowed = scenario_names(book)
    if names:
        for n in names:
            if n not in allowed:
                raise InputError("--scenario", f"got {n!r}; allowed: {', '.join(allowed)}")
        chosen = list(dict.fromkeys(names))
    else:
        chosen = allowed
    st = _State(book)
    s = book.stress
    user = {sc.name: sc for sc in book.scenarios}
    out = []
    for n in chosen:
        if n == "overnight-gap":
            out.append(gap_scenario(st, s.gap))
        elif n == "no-liquidity":
            out.append(drought_scenario(st, s.drought_hours, s.sigmas))
        elif n == "worst-case":
            out.append(worst_case_scenario(st))
        elif n == "liquidation":
            out.append(liquidation_scenario(st))
        else:
            out.append(user_scenario(st, user[n], s.sigmas))
    settings = {
        "gap": s.gap,
        "drought_hours": s.drought_hours,
        "sigmas": s.sigmas,
        "max_move_sigmas": s.max_move_sigmas,
        "participation": s.participation,
        "liquidation": s.liquidation,
        "liquidation_steps": s.liquidation_steps,
        "risk_aversion": s.risk_aversion,
        "step_minutes": s.step_minutes,
        "hours_per_day": book.hours_per_day,
    }
    return StressReport(cap, out, survivability(st, out, cap), settings)
