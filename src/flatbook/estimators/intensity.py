"""The fill intensity λ(δ) = A·e^(−kδ), per side, by maximum likelihood from trades.

Model (Avellaneda & Stoikov 2008, §2.2, eq. 2 and the derivation before it):
a limit order resting at depth δ from the mid (price units) is filled at rate
λ(δ) = A·e^(−kδ) — market orders on its side arrive as a Poisson process, and
the depth an order reaches is exponential. So λ(δ) is the rate of market
orders that *reach* depth δ, and that is what is measured here:

- One market order = a run of consecutive trades with the same timestamp and
  aggressor side (a sweep through several levels prints several trades;
  ``group_sweeps``). Its reach δ = side·(price − m), the furthest trade price's
  distance from the mid m of the book *before* its first trade (the previous
  row's book): buyer-initiated orders (side +1) reach up the ask side, δ = px − m;
  seller-initiated (−1) down the bid side, δ = m − px.

- Above a threshold δ0, the reach events form a Poisson process of rate
  Λ0 = A·e^(−kδ0) whose excesses δ − δ0 are iid exponential with rate k
  (memorylessness), independent of the count. The likelihood factorises
  (peaks over threshold; Davison & Smith 1990, JRSS B 52(3), §2–3):

      L(Λ0, k) = Poisson(N0; Λ0·T) × Π_i k·e^(−k(δ_i − δ0))
      Λ̂0 = N0/T,   k̂ = n/Σ(δ_i − δ0),   SE(k̂) = k̂/√n (Fisher),   Var(ln Λ̂0) = 1/N0

  and A = Λ0·e^(kδ0), so ln Â = ln Λ̂0 + k̂δ0 with Var(ln Â) = 1/N0 + δ0²·SE(k̂)²
  (delta method; Λ̂0 and k̂ are orthogonal). The 95% interval of k is the
  profile-likelihood (Wilks) interval {k : 2[ℓ(k̂) − ℓ(k)] ≤ χ²₁(0.95)}, that of A
  is exp(ln Â ± 1.96·SE(ln Â)).

- Prices live on a tick grid, so reaches do too (on the half-tick grid of
  px − m). A reach observed on a lattice of spacing h is a floored exponential,
  i.e. geometric: j = (δ − δ0)/h, P(j) = (1 − p)p^j with p = e^(−kh), whose MLE
  is k̂ = ln(1 + 1/j̄)/h with SE(k̂) = (1 − p)/(h√(N0·p)). Treating lattice data
  as continuous would overstate k when most orders trade only at the touch
  (k̂ = 1/(h·j̄) against ln(1 + 1/j̄)/h: 100/h against 4.6/h at j̄ = 0.01).
  ``lattice="auto"`` uses h = tick or tick/2 when every excess is a whole
  multiple of it, and the continuous model otherwise.

Why a threshold δ0, and δ measured from the mid: A–S's δ is the distance of
our quote from the mid, so the policies need λ relative to the mid. On a real
book, market orders trade at the touch, half a spread from the mid, so there
are no reaches below the half-spread and λ(δ) is flat there (a quote inside the
spread is hit by every market order on its side) — the exponential law can only
hold above that floor. δ0 is therefore the floor: by default the
``floor_quantile`` (5%) quantile of the observed reaches (an observed value;
robust to a few odd trades inside the spread, e.g. hidden or mid-point
executions), and A is the law's extrapolation to δ = 0, the number the
policies' formulas take; λ at depths below δ0 is not observed. When δ0 is a
data order statistic in the continuous model, the observation at δ0 itself is
left out of the excesses (the others are then exactly iid Exp(k): Rényi's
representation of exponential order statistics). On a lattice the floor is
censored — every market order prints at least at the touch, so the floor
collects the orders that would have reached less as well — and the fit starts
one lattice step above it: δ0 = floor + h, N0 = the orders beyond the floor.

The standard errors above assume independent Poisson arrivals. Real trade
flow is clustered in time, so, given the orders' times and at least 20 bins of
``dispersion_bin_s`` seconds (default min(60 s, duration/30)): the index of dispersion φ of the tail counts per
bin, when above 1, scales Var(ln Λ̂0) (quasi-Poisson; McCullagh & Nelder 1989,
§4.5); and the cluster-robust (sandwich) variance of k̂ with the bins as
clusters (Liang & Zeger 1986, Biometrika 73(1)), when larger than the Fisher
variance, widens the profile interval by scaling the deviance by their ratio
(Chandler & Bate 2007, Biometrika 94(1), §3). Both only ever widen.
Varying spreads enter as "reach" too: an order at the touch of a wide book
reaches further from the mid than one at the touch of a tight book.

Near the touch (``window``): on a real book most market orders stop at the
touch and a few sweep deep, so the tail law above (fitted beyond the touch)
can decay far more slowly than the rate does just off the touch. A policy
quoting δ ≈ 1/k from the mid then sits many spreads away, where only the deep
sweeps reach it. The near-touch law is fitted where a maker quotes: from the
floor itself (the touch: a quote there is reached by every order on its side,
so its rate N0/T is observed, not censored) up to a window of m lattice steps,
with the reaches beyond the window right-censored at it (Type I censoring;
Klein & Moeschberger 2003, §3.5). With j = (δ − floor)/h, S = Σ min(j, m) and
n_e = #{j < m}, the geometric likelihood n_e·ln(1 − p) + S·ln p gives
p̂ = S/(S + n_e) and k̂ = ln(1 + n_e/S)/h, Fisher information n_e·h²p/(1 − p)²;
A = (N0/T)·e^(k̂·floor). ``window="auto"`` takes the smallest m at which the
fitted law has fallen to 5% of its touch rate inside the window,
m·h·k̂(m) >= ln 20 (the window holds 95% of the fitted law's mass); where the
reaches are exponential from the touch on (LOBSTER AAPL) that is the tail law
again, while a heavy tail (Binance BTCUSDT: 81% of orders at the touch) no
longer sets the decay at the touch. Prices must be on a lattice for this fit.

Units: δ, δ0, h in price units; k per price unit; A and Λ0 per time unit, the
time unit being ``time_unit_s`` seconds (default 1 s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from ..data.events import TRADE
from ..jsonutil import jsonable
from . import CalibrationError

LATTICE_TOL = 1e-6  # an excess is on the lattice when |δ−δ0|/h is within this of a whole number


@dataclass(frozen=True, eq=False)
class Reach:
    """Market orders' reach distances from the mid, from an event table.

    t_s: each order's time (seconds since the table's first event); delta: its
    reach (price units, ≥ 0); side: +1 buyer-initiated (ask side), −1
    seller-initiated (bid side); duration_s: the table's time span (seconds);
    trades: trade rows seen; dropped: trade rows or orders not used, by reason.
    """

    t_s: np.ndarray
    delta: np.ndarray
    side: np.ndarray
    duration_s: float
    trades: int
    grouped: bool
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "trades": self.trades,
            "orders": int(self.delta.size),
            "orders_ask_side": int((self.side > 0).sum()),
            "orders_bid_side": int((self.side < 0).sum()),
            "sweeps_grouped": self.grouped,
            "duration_s": self.duration_s,
            "dropped": dict(self.dropped),
        }


def reach_distances(ev, *, group_sweeps: bool = True) -> Reach:
    """The reach of every market order in ``ev`` (see the module docstring)."""
    n = len(ev)
    duration = (int(ev.ts[-1]) - int(ev.ts[0])) / 1e9 if n else 0.0
    ti = np.flatnonzero(ev.kind == TRADE)
    dropped: dict[str, int] = {}

    def drop(mask: np.ndarray, reason: str) -> np.ndarray:
        c = int((~mask).sum())
        if c:
            dropped[reason] = dropped.get(reason, 0) + c
        return mask

    ntr = int(ti.size)
    keep = drop(ev.side[ti] != 0, "trade side unknown")
    keep &= drop(np.isfinite(ev.px[ti]) | ~keep, "trade price not finite")
    ti = ti[keep]
    if ti.size == 0:
        return Reach(np.empty(0), np.empty(0), np.empty(0, np.int8), duration, ntr, group_sweeps, dropped)
    side = ev.side[ti].astype(np.int64)
    ts = ev.ts[ti]
    if group_sweeps:
        start = np.ones(ti.size, bool)
        start[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    else:
        start = np.ones(ti.size, bool)
    first = np.flatnonzero(start)
    gid = np.cumsum(start) - 1
    prev = ti[first] - 1
    has_prev = prev >= 0
    pv = np.where(has_prev, prev, 0)
    bid, ask = ev.bid_px[pv], ev.ask_px[pv]
    book_ok = has_prev & np.isfinite(bid) & np.isfinite(ask) & (ask > bid)
    ref = 0.5 * (bid + ask)
    d = side * (ev.px[ti] - ref[gid])
    reach = np.maximum.reduceat(d, first)
    g_side = side[first]
    g_t = (ts[first] - ev.ts[0]) / 1e9
    nb = int((~book_ok).sum())
    if nb:
        dropped["no valid book before the order (none yet, or crossed/locked)"] = nb
    ok = book_ok & np.isfinite(reach)
    neg = ok & (reach < 0)
    if neg.any():
        dropped[
            "traded on the far side of the mid (stale book, misclassified side, or a hidden order inside the spread)"
        ] = int(neg.sum())
    ok &= reach >= 0
    return Reach(
        g_t[ok].astype(float), reach[ok].astype(float), g_side[ok].astype(np.int8), duration, ntr, group_sweeps, dropped
    )


@dataclass(frozen=True)
class SideFit:
    """λ(δ) = A·e^(−kδ) fitted on one side (``bid``, ``ask``) or both (``pooled``, A per side).

    ok / reason: False and why when the data cannot identify the law (then the numbers are NaN).
    n_trades: market orders (reaches) on the side; n_tail: those with δ ≥ δ0 (N0);
    n_beyond: those strictly beyond δ0 (they carry the information on k).
    duration: observation time (time units); time_unit_s: seconds per time unit.
    floor: the floor of the reaches (their ``floor_quantile`` quantile, or ``delta0`` when
    given; price units).
    delta0: the threshold (price units): the floor, one lattice step above it on a lattice
    (the floor itself is censored), or as given; the floor itself in the near-touch fit.
    lattice: the reach lattice h (price units; 0 = continuous). window: the near-touch fit's
    censoring depth in lattice steps above the floor (0 = the tail fit, no window).
    k, k_se, k_lo, k_hi: decay (per price unit), its SE and profile-likelihood interval; the SE
    is the larger of k_se_fisher (inverse Fisher information) and k_se_robust (cluster-robust,
    time bins as clusters; NaN when not measured), and the interval is widened to match.
    A, A_se, A_lo, A_hi: intensity at δ = 0 (per time unit), delta-method SE and interval.
    rate0: Λ0 = rate of reaches ≥ δ0 (per time unit, per side). floor_rate: observed rate
    of reaches ≥ the floor (per time unit, per side); floor_ratio: floor_rate / λ̂(floor), a
    goodness-of-fit check on a lattice (identically 1 in the continuous model, where the floor
    is δ0; ≈ 1 when the law holds down to the floor; ≫ 1 when most orders
    stop at the touch and a few sweep deep, i.e. a tail heavier than exponential). dispersion: index of
    dispersion of the tail counts per time bin (1 = Poisson; NaN when not measured);
    above 1 it scales Var(ln Λ̂0).
    delta_mean, delta_median: of the reaches (price units). level: confidence level.
    """

    side: str
    ok: bool
    reason: str | None
    n_trades: int
    n_tail: int
    n_beyond: int
    duration: float
    time_unit_s: float
    floor: float
    delta0: float
    lattice: float
    k: float
    k_se: float
    k_se_fisher: float
    k_se_robust: float
    k_lo: float
    k_hi: float
    A: float
    A_se: float
    A_lo: float
    A_hi: float
    rate0: float
    floor_rate: float
    floor_ratio: float
    dispersion: float
    delta_mean: float
    delta_median: float
    level: float
    window: int = 0

    def lam(self, delta):
        """λ(δ) = A·e^(−kδ), per time unit, at depth(s) δ (price units)."""
        return self.A * np.exp(-self.k * np.asarray(delta, dtype=float))

    def require(self) -> SideFit:
        """Self, or :class:`CalibrationError` (field ``k``, or ``trades`` for too few) when not ok."""
        if not self.ok:
            fld = "trades" if self.reason and self.reason.startswith("only") else "k"
            raise CalibrationError(fld, f"{self.side} side: {self.reason}")
        return self

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


def _detect_lattice(excess: np.ndarray, tick: float | None) -> float:
    """h = tick or tick/2 when every excess is a whole multiple of it (largest first); else 0."""
    if tick is None or not math.isfinite(tick) or tick <= 0:
        return 0.0
    for h in (tick, tick / 2.0):
        r = excess / h
        if np.all(np.abs(r - np.rint(r)) <= LATTICE_TOL):
            return h
    return 0.0


def _profile_ci(dev, u_hat: float, crit: float, maxiter: int = 200) -> tuple[float, float]:
    """Endpoints in u = ln k of {u : dev(u) ≤ crit}, dev(u) = 2[ℓ(k̂) − ℓ(e^u)] ≥ 0, convex-ish around û.

    Brackets by doubling the step (at most 60 times each way), then Brent's method
    (bounded iterations). Raises RuntimeError if a side cannot be bracketed.
    """
    g = lambda u: dev(u) - crit  # noqa: E731
    out = []
    for sgn in (-1.0, 1.0):
        step = 0.05
        for _ in range(60):
            u = u_hat + sgn * step
            if g(u) > 0:
                break
            step *= 2.0
        else:
            raise RuntimeError("profile likelihood does not cross the critical value")
        a, b = sorted((u_hat, u))
        out.append(optimize.brentq(g, a, b, xtol=1e-12, rtol=1e-12, maxiter=maxiter))
    return out[0], out[1]


MIN_BINS = 20  # time bins needed before dispersion and the cluster-robust variance are used


def _bins(times_s: np.ndarray | None, duration_s: float, bin_s: float) -> tuple[np.ndarray | None, int]:
    """Each time's bin index (bins of ``bin_s`` s from the window start) and the number of *full*
    bins in the window; (None, 0) when there are no times or fewer than ``MIN_BINS`` full bins."""
    if times_s is None or not bin_s > 0 or duration_s / bin_s < MIN_BINS:
        return None, 0
    return np.maximum((np.asarray(times_s) // bin_s).astype(np.int64), 0), int(duration_s // bin_s)


def _dispersion(b: np.ndarray, nfull: int) -> float:
    """Index of dispersion (variance/mean) of the counts per full bin (the last, partial bin left out)."""
    c = np.bincount(b[b < nfull], minlength=nfull).astype(float)
    m = c.mean()
    return float(c.var(ddof=1) / m) if m > 0 else math.nan


def _robust_se(scores: np.ndarray, b: np.ndarray, info: float) -> float:
    """Cluster-robust SE of a scalar MLE, time bins as clusters (Liang & Zeger 1986; CR1 factor G/(G−1)):
    √(G/(G−1)·Σ_g (Σ_{i∈g} s_i)²) / I, with s_i the per-observation scores and I the Fisher information."""
    sg = np.bincount(b, weights=scores)
    g = int((np.bincount(b) > 0).sum())
    if g < 2:
        return math.nan
    return math.sqrt(g / (g - 1.0) * float(sg @ sg)) / info


def fit_reach(
    delta,
    duration_s: float,
    *,
    times_s=None,
    side: str = "pooled",
    n_sides: int = 1,
    delta0: float | None = None,
    floor_quantile: float = 0.05,
    lattice: float | str = "auto",
    tick: float | None = None,
    min_trades: int = 30,
    min_tail: int = 10,
    time_unit_s: float = 1.0,
    level: float = 0.95,
    dispersion_bin_s: float | None = None,
    window: int | str | None = None,
) -> SideFit:
    """Fit λ(δ) = A·e^(−kδ) to reach distances ``delta`` (price units) seen over ``duration_s`` seconds.

    ``n_sides``: how many sides the reaches come from (2 when pooled: A is per side).
    ``delta0``: the threshold (price units; default the ``floor_quantile`` quantile of
    ``delta``). ``lattice``: ``"auto"`` (from ``tick``), ``"continuous"``, or a spacing h.
    Fewer than ``min_trades`` reaches, fewer than ``min_tail`` strictly beyond δ0, or a k
    not significantly positive at ``level`` give ``ok=False`` with the reason.
    ``times_s``: the reaches' times (seconds from the start); with at least 20 bins of
    ``dispersion_bin_s`` seconds (default min(60 s, duration/30)) they give the dispersion
    index and the cluster-robust SE. ``window``: None for the tail law (beyond the floor);
    ``"auto"`` or a number of lattice steps m >= 1 for the law near the touch (from the floor,
    reaches beyond floor + m·h censored there; see the module docstring).
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise CalibrationError("duration", f"the observation time must be positive; got {duration_s!r} s")
    if not (math.isfinite(time_unit_s) and time_unit_s > 0):
        raise CalibrationError("time_unit_s", f"must be a positive number of seconds; got {time_unit_s!r}")
    if not 0 < level < 1:
        raise CalibrationError("level", f"must be in (0, 1); got {level!r}")
    if not 0 <= floor_quantile < 1:
        raise CalibrationError("floor_quantile", f"must be in [0, 1); got {floor_quantile!r}")
    if min_trades < 2 or min_tail < 2:
        raise CalibrationError(
            "min_trades", f"min_trades and min_tail must be at least 2; got {min_trades}, {min_tail}"
        )
    if n_sides not in (1, 2):
        raise CalibrationError("n_sides", f"must be 1 or 2; got {n_sides!r}")
    if not (window is None or window == "auto" or (isinstance(window, int) and window >= 1)):
        raise CalibrationError("window", f"must be None, 'auto' or a number of lattice steps >= 1; got {window!r}")
    d = np.asarray(delta, dtype=float)
    t = None if times_s is None else np.asarray(times_s, dtype=float)
    if t is not None and t.shape != d.shape:
        raise CalibrationError("times_s", f"must have the shape of delta {d.shape}; got {t.shape}")
    good = np.isfinite(d) & (d >= 0)
    d = d[good]
    if t is not None:
        t = t[good]
    n = int(d.size)
    dur = duration_s / time_unit_s
    nan = math.nan
    where = "both sides (pooled)" if side == "pooled" else f"the {side} side"
    fl = nan  # the floor: the floor_quantile quantile, or δ0 as given

    def fail(reason, n_tail=0, n_beyond=0, d0=nan, h=0.0) -> SideFit:
        mean = float(d.mean()) if n else nan
        med = float(np.median(d)) if n else nan
        return SideFit(
            side,
            False,
            reason,
            n,
            n_tail,
            n_beyond,
            dur,
            time_unit_s,
            fl,
            d0,
            h,
            *(nan,) * 14,  # the fit's 14 estimates and their errors: none
            mean,
            med,
            level,
        )

    if n < min_trades:
        return fail(f"only {n} trades on {where} (need at least {min_trades})")
    chosen = delta0 is None
    if delta0 is None:
        d0 = float(np.quantile(d, floor_quantile, method="inverted_cdf"))
    else:
        d0 = float(delta0)
        if not (math.isfinite(d0) and d0 >= 0):
            raise CalibrationError("delta0", f"must be a finite depth >= 0 (price units); got {delta0!r}")
    if lattice == "auto":
        h = _detect_lattice(d[d >= d0] - d0, tick)
    elif lattice == "continuous" or lattice is None:
        h = 0.0
    else:
        h = float(lattice)
        if not (math.isfinite(h) and h > 0):
            raise CalibrationError("lattice", f"must be 'auto', 'continuous' or a spacing > 0; got {lattice!r}")
    fl = d0
    m_win = 0  # near-touch window (lattice steps); 0 = the tail fit
    if window is not None and h <= 0:
        return fail(f"the near-touch fit needs prices on a tick lattice (reaches on {where} are not)")
    if h > 0:
        if chosen and window is None:  # the floor is censored: shift δ0 one step up
            d0 = fl + h
        jf = (d - d0) / h
        tail = jf > -0.5
        x = np.rint(jf[tail])  # lattice steps beyond δ0
        if window is not None:
            m_win = _auto_window(x) if window == "auto" else int(window)
    else:
        tail = d >= d0
        x = d[tail] - d0  # excesses (price units)
    n0, n_beyond = int(tail.sum()), int((x > 0).sum())
    n_above = int((d > fl + LATTICE_TOL * max(h, fl, 1e-300)).sum())
    if n_above < min_tail:
        return fail(
            f"degenerate distances: only {n_above} of {n} trades on {where} reached beyond the floor "
            f"{fl:.6g} (need at least {min_tail}), so k is not identified",
            n0,
            n_beyond,
            d0,
            h,
        )
    if n0 < min_trades:
        return fail(
            f"only {n0} trades at or beyond δ0 = {d0:.6g} on {where} (need at least {min_trades})", n0, n_beyond, d0, h
        )
    if n_beyond < min_tail:
        return fail(
            f"degenerate distances: only {n_beyond} of {n0} trades on {where} reached beyond "
            f"δ0 = {d0:.6g} (need at least {min_tail}), so k is not identified",
            n0,
            n_beyond,
            d0,
            h,
        )
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    crit = float(stats.chi2.ppf(level, 1))
    bin_s = min(60.0, duration_s / 30.0) if dispersion_bin_s is None else float(dispersion_bin_s)
    tb, nbins = _bins(None if t is None else t[tail], duration_s, bin_s)
    use = np.ones(n0, bool)
    if h > 0:
        cens = x >= m_win if m_win else np.zeros(x.size, bool)  # beyond the window: censored there
        xc = np.minimum(x, m_win) if m_win else x
        n_e = n0 - int(cens.sum())
        J = float(xc.sum())
        if n_e == 0 or J == 0:
            return fail(
                f"degenerate distances: every reach on {where} is {'beyond' if n_e == 0 else 'at'} "
                "the window's edge, so k is not identified",
                n0,
                n_beyond,
                d0,
                h,
            )
        m = J / n_e
        p = m / (1.0 + m)
        k = math.log1p(1.0 / m) / h
        info = n_e * h * h * p / (1.0 - p) ** 2
        scores = h * (m * ~cens - xc)  # d/dk of ln(1 − e^(−kh)) − khj (uncensored), −khm (censored)
        ell = lambda kk: n_e * math.log(-math.expm1(-kk * h)) - kk * h * J  # noqa: E731
        l_hat = ell(k)
        dev = lambda u: 2.0 * (l_hat - ell(math.exp(u)))  # noqa: E731
    else:
        if chosen:  # leave out the order statistic at δ0 (Rényi)
            use[int(np.argmin(x))] = False
        n_exc = int(use.sum())
        k = n_exc / float(x[use].sum())
        info = n_exc / (k * k)
        scores = 1.0 / k - x[use]  # d/dk of ln k − kx
        dev = lambda u: 2.0 * n_exc * (math.expm1(u - math.log(k)) - (u - math.log(k)))  # noqa: E731
    if not (math.isfinite(k) and k > 0 and info > 0):
        return fail(f"the maximum-likelihood k is not finite and positive (k = {k!r})", n0, n_beyond, d0, h)
    se_f = 1.0 / math.sqrt(info)
    se_r = _robust_se(scores, tb[use], info) if tb is not None else nan
    # Chandler & Bate (2007, Biometrika 94(1)): scale the deviance by Var_Fisher/Var_robust, never below Fisher
    c = min(1.0, (se_f / se_r) ** 2) if math.isfinite(se_r) and se_r > 0 else 1.0
    k_se = se_f / math.sqrt(c)
    if k / k_se < z:
        return fail(
            f"k = {k:.4g} ± {k_se:.2g} per price unit is not significantly positive at the {level:.0%} level",
            n0,
            n_beyond,
            d0,
            h,
        )
    try:
        u_lo, u_hi = _profile_ci(lambda u: c * dev(u), math.log(k), crit)
    except (RuntimeError, ValueError, OverflowError) as exc_:
        return fail(f"the profile-likelihood interval for k did not converge ({exc_})", n0, n_beyond, d0, h)
    phi = _dispersion(tb, nbins) if tb is not None else nan
    infl = max(1.0, phi) if math.isfinite(phi) else 1.0
    rate0 = n0 / (duration_s * n_sides)  # per second, per side
    se_log_a = math.sqrt(infl / n0 + (d0 * k_se) ** 2)
    A = rate0 * math.exp(k * d0) * time_unit_s
    floor_rate = int((d >= fl - LATTICE_TOL * max(h, fl)).sum()) / (duration_s * n_sides) * time_unit_s
    return SideFit(
        side,
        True,
        None,
        n,
        n0,
        n_beyond,
        dur,
        time_unit_s,
        fl,
        d0,
        h,
        k,
        k_se,
        se_f,
        se_r,
        math.exp(u_lo),
        math.exp(u_hi),
        A,
        A * se_log_a,
        A * math.exp(-z * se_log_a),
        A * math.exp(z * se_log_a),
        rate0 * time_unit_s,
        floor_rate,
        floor_rate / (A * math.exp(-k * fl)),
        phi,
        float(d.mean()),
        float(np.median(d)),
        level,
        m_win,
    )


WINDOW_SURVIVAL = 0.05  # the auto window ends where the fitted law has fallen to this fraction of its touch rate


def _auto_window(j: np.ndarray) -> int:
    """The smallest window m (lattice steps) with m·h·k̂(m) >= ln(1/WINDOW_SURVIVAL), k̂(m) the censored
    geometric MLE of the steps ``j`` (>= 0) censored at m; max(j) + 1 (no censoring) when none is."""
    j = j.astype(np.int64)
    top = int(j.max()) + 1 if j.size else 1
    cnt = np.bincount(j, minlength=top + 1)[: top + 1]
    below = np.cumsum(cnt)  # #{j <= i}
    surv = j.size - below  # #{j > i}
    m = np.arange(1, top + 1)
    S = np.cumsum(surv[:top])  # Σ min(j, m) = Σ_{i<m} #{j > i}
    n_e = below[:top]  # #{j < m} = #{j <= m − 1}
    with np.errstate(divide="ignore", invalid="ignore"):
        k_h = np.log1p(np.where(S > 0, n_e / S, np.inf))
    ok = np.flatnonzero(m * k_h >= math.log(1.0 / WINDOW_SURVIVAL))
    return int(m[ok[0]]) if ok.size else top


@dataclass(frozen=True)
class IntensityFit:
    """λ(δ) = A·e^(−kδ) per side and pooled (A per side), and what went into it.

    ``touch``: the pooled law near the touch (``window="auto"``, see the module docstring),
    the one a policy quoting near the market needs; ``quoting``: ``touch`` when it is ok,
    else ``pooled``.
    """

    bid: SideFit
    ask: SideFit
    pooled: SideFit
    reach: dict
    touch: SideFit | None = None

    @property
    def quoting(self) -> SideFit:
        return self.touch if self.touch is not None and self.touch.ok else self.pooled

    def as_dict(self) -> dict:
        out = {
            "bid": self.bid.as_dict(),
            "ask": self.ask.as_dict(),
            "pooled": self.pooled.as_dict(),
            "reach": jsonable(self.reach),
        }
        if self.touch is not None:
            out["touch"] = self.touch.as_dict()
        return out


def fit_intensity(
    ev,
    *,
    time_unit_s: float = 1.0,
    delta0: float | None = None,
    floor_quantile: float = 0.05,
    lattice: float | str = "auto",
    min_trades: int = 30,
    min_tail: int = 10,
    group_sweeps: bool = True,
    level: float = 0.95,
    dispersion_bin_s: float | None = None,
) -> IntensityFit:
    """Fit λ(δ) on the bid side (seller-initiated orders), the ask side (buyer-initiated) and both
    pooled, and both pooled near the touch (``touch``, unless ``delta0`` is given), from an
    :class:`~flatbook.data.events.EventTable` (see :func:`fit_reach` for the options; the lattice
    tick is ``ev.meta.tick_size``)."""
    r = reach_distances(ev, group_sweeps=group_sweeps)
    dur = r.duration_s
    if not dur > 0:
        raise CalibrationError("trades", f"the event table spans no time ({len(ev)} events)")
    kw = dict(
        delta0=delta0,
        floor_quantile=floor_quantile,
        lattice=lattice,
        tick=ev.meta.tick_size,
        min_trades=min_trades,
        min_tail=min_tail,
        time_unit_s=time_unit_s,
        level=level,
        dispersion_bin_s=dispersion_bin_s,
    )
    fits = {}
    for name, sel in (("bid", r.side < 0), ("ask", r.side > 0)):
        fits[name] = fit_reach(r.delta[sel], dur, times_s=r.t_s[sel], side=name, **kw)
    pooled = fit_reach(r.delta, dur, times_s=r.t_s, side="pooled", n_sides=2, **kw)
    touch = (
        fit_reach(r.delta, dur, times_s=r.t_s, side="touch", n_sides=2, window="auto", **{**kw, "delta0": None})
        if delta0 is None
        else None
    )
    return IntensityFit(fits["bid"], fits["ask"], pooled, r.summary(), touch)
