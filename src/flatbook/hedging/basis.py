"""The hedge relationship between an inventory instrument S and a hedge instrument H, from data.

Both mids (price units) are sampled on one regular grid t_i = t_0 + iΔ over the
window where both tables have quotes, by the previous-tick rule of
:func:`flatbook.estimators.volatility.sample_previous_tick` (the last mid at or
before t_i; Andersen, Bollerslev, Diebold & Labys 2001; Hansen & Lunde 2006).
With ``lag_steps = k`` H is sampled at t_i + kΔ instead (k > 0: H's moves follow
S's). From the n grid increments x_i = ΔS_i, y_i = ΔH_i, centred
(x̃ = x − x̄, ỹ = y − ȳ), Sxx = Σx̃², Syy = Σỹ², Sxy = Σx̃ỹ, and τ the time unit
in seconds:

    β  = Sxy / Sxx                                  OLS slope of ΔH on ΔS (× : H per S)
    e  = ỹ − β·x̃                                    residual: the basis noise
    σ_S² = Sxx/((n−1)Δ)·τ,  σ_H² = Syy/((n−1)Δ)·τ   (price units² per time unit)
    σ_b² = Σe²/((n−1)Δ)·τ                           (price units of H² per time unit)
    ρ  = Sxy / √(Sxx·Syy) = βσ_S / √(β²σ_S² + σ_b²)
    h* = Sxy / Syy = Cov(ΔS, ΔH)/Var(ΔH)            minimum-variance hedge ratio (units of H per unit of S)
    VR = 1 − Var(ΔS − h*·ΔH)/Var(ΔS) = ρ²           variance removed by shorting h* units of H per long unit of S

(Johnson 1960, RES 27; Stein 1961, AER 51; Ederington 1979, J. Finance 34(1),
157–170, eqs. 5–6: h* and VR = ρ² for a hedge held over one grid interval.)
All second moments share the divisor n − 1, so the identities above hold
exactly for the estimates: the simulator's ΔH = β·ΔS + σ_b·dW with these
numbers reproduces ρ, σ_H and h*. Standard errors (the classical ones assume iid
Gaussian increments; with volatility clustering and fat tails, as in crypto
mids, prefer the robust ones, which can be twice as large; the Fisher CI
assumes bivariate normality and is then too narrow):

    SE(β)  = √(Σe²/(n−2) / Sxx)                     classical OLS
    SE(h*) = √(Σu²/(n−2) / Syy),  u = x̃ − h*·ỹ      the reverse regression
    SE_HC(β) = √(n/(n−2)·Σx̃²e²) / Sxx               heteroskedasticity-robust, White (1980,
    SE_HC(h*) = √(n/(n−2)·Σỹ²u²) / Syy              Econometrica 48) with the HC1 factor
    SE(σ)  ≈ σ/√(2(n−1))  (σ_b: σ_b/√(2(n−2)))       Gaussian increments, delta method
    ρ 95% CI = tanh(atanh ρ ± 1.96/√(n−3))          Fisher (1915) z

The price basis H − S (levels on the grid, price units) is reported as mean and
std; it is a level, not a volatility, and is what a basis trade carries.

Lead–lag: c(j) = corr(ΔS_i, ΔH_{i+j}) for j = −max_lag..max_lag (Pearson, over
the overlapping pairs), reported at the absolute lag k + j. Two captures'
clocks may be offset (the bundled Binance spot bookTicker has no exchange time
and is placed at local time − median offset; see :mod:`flatbook.data.binance`),
and asynchronous sampling lowers the correlation at short grids (Epps 1979,
JASA 74): a ``best_lag`` (largest |c|) other than ``lag_steps``, or a ρ that
rises a lot with ``grid_s``, says the grid is too fine for the clocks.

Caveats: the increments' σ_b is a random walk's (its spread grows like σ_b·√t);
a real basis that mean-reverts (a perpetual is tied to spot by funding) has σ̂_b
falling as Δ grows, and σ_b·√(nΔ) far above the observed std of H − S. For such
a basis use :func:`estimate_basis_ou`, which fits the level H − β·S as an
Ornstein–Uhlenbeck process (the simulator's ``hedge_basis_halflife``). With few,
fat-tailed increments the estimates also move with the grid's phase t_0 mod Δ by
a few classical SEs.

Differences from :func:`~flatbook.estimators.volatility.realized_volatility`:
there σ is Σx²/(nΔ) without demeaning; here the increments are demeaned with
divisor n − 1 (standard for regressions). Over minutes to hours the difference
is x̄²Δ-sized, far below the standard error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from ..jsonutil import jsonable

Z95 = 1.959963984540054  # Φ⁻¹(0.975)

#: units of :attr:`BasisEstimate.params` (the simulator's ``--set`` names).
PARAM_UNITS: dict[str, str] = {
    "sigma": "price units (S) per √time unit",
    "s0": "price units (S)",
    "hedge_beta": "× (price units of H per price unit of S)",
    "hedge_basis_sigma": "price units (H) per √time unit",
    "hedge_s0": "price units (H)",
}


@dataclass(frozen=True)
class BasisEstimate:
    """The hedge relationship of S (inventory) and H (hedge); formulas in the module docstring.

    n: grid increments used; grid_s: Δ (seconds); time_unit_s: τ (seconds per time unit);
    lag_steps: k, H sampled at t + kΔ; start_ns / end_ns: first and last grid time (ns, UTC, S's clock).
    sigma_s, sigma_h: σ of ΔS, ΔH (price units per √time unit) and their SEs.
    beta, beta_se, beta_se_hc: OLS slope of ΔH on ΔS (×), classical and robust (HC1) SE. rho, rho_lo, rho_hi: correlation and its Fisher-z 95% CI.
    sigma_b, sigma_b_se: std of the OLS residual (price units of H per √time unit).
    hedge_ratio, hedge_ratio_se, hedge_ratio_se_hc: h* = Cov(ΔS, ΔH)/Var(ΔH) (units of H per unit of S).
    variance_reduction: 1 − Var(ΔS − h*ΔH)/Var(ΔS) (= ρ², fraction).
    basis_mean, basis_std: of the level H − S on the grid (price units).
    s_first, h_first: the first grid mids (price units).
    lag_corr: absolute lag (grid steps) → corr(ΔS_i, ΔH_{i+lag}); best_lag: the lag of largest |corr|.
    params: simulator values (see :data:`PARAM_UNITS`); param_units: their units.
    """

    n: int
    grid_s: float
    time_unit_s: float
    lag_steps: int
    start_ns: int
    end_ns: int
    sigma_s: float
    sigma_s_se: float
    sigma_h: float
    sigma_h_se: float
    beta: float
    beta_se: float
    beta_se_hc: float
    rho: float
    rho_lo: float
    rho_hi: float
    sigma_b: float
    sigma_b_se: float
    hedge_ratio: float
    hedge_ratio_se: float
    hedge_ratio_se_hc: float
    variance_reduction: float
    basis_mean: float
    basis_std: float
    s_first: float
    h_first: float
    lag_corr: dict[int, float]
    best_lag: int
    params: dict[str, float] = field(default_factory=dict)
    param_units: dict[str, str] = field(default_factory=lambda: dict(PARAM_UNITS))

    @property
    def span_s(self) -> float:
        """Length of the grid window, nΔ (seconds)."""
        return self.n * self.grid_s

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise InputError(name, f"must be a positive number of seconds; got {value!r}")
    return float(value)


def _quotes(name: str, ev) -> tuple[np.ndarray, np.ndarray]:
    """(ts, mid) rows with a finite mid."""
    ts, mid = np.asarray(ev.ts, dtype=np.int64), np.asarray(ev.mid, dtype=float)
    good = np.isfinite(mid)
    if not good.any():
        raise InputError(name, "has no quotes (no row with a finite bid and ask)")
    return ts[good], mid[good]


def _at(ts: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Previous-tick values at ``grid`` (every grid time is at or after ts[0])."""
    return v[np.searchsorted(ts, grid, side="right") - 1]


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc)))
    return float(np.dot(xc, yc)) / den if den > 0 else math.nan


def _check_int(name: str, v, lo: int | None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or (lo is not None and v < lo):
        raise InputError(name, f"must be an integer{'' if lo is None else f' >= {lo}'}; got {v!r}")
    return int(v)


def _sample(inventory, hedge, grid_s: float, lag_steps: int, min_increments: int) -> tuple[np.ndarray, ...]:
    """(grid, s, h): both mids by the previous-tick rule on the grid t_0 + iΔ (H at t + kΔ) over
    the window where both have quotes; at least ``min_increments`` steps, or :class:`InputError`."""
    ts_s, m_s = _quotes("inventory", inventory)
    ts_h, m_h = _quotes("hedge", hedge)
    step = int(round(grid_s * 1e9))
    shift = lag_steps * step
    t0 = max(int(ts_s[0]), int(ts_h[0]) - shift)
    t1 = min(int(ts_s[-1]), int(ts_h[-1]) - shift)
    n = (t1 - t0) // step if t1 >= t0 else -1
    if n < min_increments:
        have = "they do not overlap" if n < 0 else f"they overlap for {(t1 - t0) / 1e9:.6g} s = {n} grid steps"
        raise InputError(
            "overlap",
            f"inventory quotes span {(ts_s[-1] - ts_s[0]) / 1e9:.6g} s and hedge quotes "
            f"{(ts_h[-1] - ts_h[0]) / 1e9:.6g} s (lag {lag_steps} steps); {have}, need at "
            f"least {min_increments} steps of {grid_s:g} s (use a smaller grid_s or more data)",
        )
    grid = t0 + step * np.arange(n + 1, dtype=np.int64)
    return grid, _at(ts_s, m_s, grid), _at(ts_h, m_h, grid + shift)


def estimate_basis(
    inventory,
    hedge,
    *,
    grid_s: float = 1.0,
    time_unit_s: float = 1.0,
    lag_steps: int = 0,
    max_lag: int = 5,
    min_increments: int = 30,
) -> BasisEstimate:
    """The hedge relationship of ``inventory`` (S) and ``hedge`` (H), two
    :class:`~flatbook.data.events.EventTable` s, from their mids on a common grid.

    ``grid_s`` Δ (seconds); ``time_unit_s`` seconds per simulator time unit (σs are
    per √time unit); ``lag_steps`` k: sample H at t + kΔ to undo a known clock offset
    (k > 0: H lags S); ``max_lag`` the lead–lag check's range (grid steps);
    ``min_increments`` the fewest grid increments accepted.

    Raises :class:`~flatbook.errors.InputError`: ``overlap`` when the two tables share
    fewer than ``min_increments`` grid steps, ``inventory`` / ``hedge`` when a table
    has no quotes or its mid does not move on the grid, and for bad arguments.
    """
    grid_s = _positive("grid_s", grid_s)
    time_unit_s = _positive("time_unit_s", time_unit_s)
    lag_steps = _check_int("lag_steps", lag_steps, None)
    max_lag = _check_int("max_lag", max_lag, 0)
    min_increments = _check_int("min_increments", min_increments, 3)
    min_increments = max(min_increments, 2 * max_lag + 3)
    grid, s, h = _sample(inventory, hedge, grid_s, lag_steps, min_increments)
    n = grid.size - 1
    x, y = np.diff(s), np.diff(h)
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy = float(np.dot(xc, xc)), float(np.dot(yc, yc))
    for name, ss, inc in (("inventory", sxx, x), ("hedge", syy, y)):
        if not ss > 0:
            what = "never changes" if not np.any(inc != 0.0) else "changes by the same amount every step"
            raise InputError(
                name, f"the mid {what} over the {n} grid steps of {grid_s:g} s: no variance to estimate a hedge from"
            )

    sxy = float(np.dot(xc, yc))
    scale = time_unit_s / ((n - 1) * grid_s)  # Σ(…)² → variance per time unit
    beta = sxy / sxx
    e = yc - beta * xc
    see = float(np.dot(e, e))
    hstar = sxy / syy
    u = xc - hstar * yc
    suu = float(np.dot(u, u))
    rho = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    if abs(rho) < 1.0 and n > 3:
        z, dz = math.atanh(rho), Z95 / math.sqrt(n - 3)
        rho_lo, rho_hi = math.tanh(z - dz), math.tanh(z + dz)
    else:
        rho_lo = rho_hi = rho
    hc1 = n / (n - 2)
    beta_se_hc = math.sqrt(hc1 * float(np.dot(xc * xc, e * e))) / sxx
    hstar_se_hc = math.sqrt(hc1 * float(np.dot(yc * yc, u * u))) / syy
    sig_s, sig_h, sig_b = math.sqrt(sxx * scale), math.sqrt(syy * scale), math.sqrt(see * scale)

    lag_corr: dict[int, float] = {}
    for j in range(-max_lag, max_lag + 1):
        a, b = (x[: n - j], y[j:]) if j >= 0 else (x[-j:], y[: n + j])
        lag_corr[lag_steps + j] = _corr(a, b)
    finite = {k: v for k, v in lag_corr.items() if math.isfinite(v)}
    best = max(finite, key=lambda k: (abs(finite[k]), -abs(k - lag_steps))) if finite else lag_steps

    basis = h - s
    params = {
        "sigma": sig_s,
        "s0": float(s[0]),
        "hedge_beta": beta,
        "hedge_basis_sigma": sig_b,
        "hedge_s0": float(h[0]),
    }
    return BasisEstimate(
        n=int(n),
        grid_s=grid_s,
        time_unit_s=time_unit_s,
        lag_steps=lag_steps,
        start_ns=int(grid[0]),
        end_ns=int(grid[-1]),
        sigma_s=sig_s,
        sigma_s_se=sig_s / math.sqrt(2 * (n - 1)),
        sigma_h=sig_h,
        sigma_h_se=sig_h / math.sqrt(2 * (n - 1)),
        beta=beta,
        beta_se=math.sqrt(see / (n - 2) / sxx),
        beta_se_hc=beta_se_hc,
        rho=rho,
        rho_lo=rho_lo,
        rho_hi=rho_hi,
        sigma_b=sig_b,
        sigma_b_se=sig_b / math.sqrt(2 * (n - 2)),
        hedge_ratio=hstar,
        hedge_ratio_se=math.sqrt(suu / (n - 2) / syy),
        hedge_ratio_se_hc=hstar_se_hc,
        variance_reduction=1.0 - suu / sxx,
        basis_mean=float(basis.mean()),
        basis_std=float(basis.std(ddof=1)),
        s_first=float(s[0]),
        h_first=float(h[0]),
        lag_corr=lag_corr,
        best_lag=int(best),
        params=params,
    )


# --------------------------------------------------------------------------- a mean-reverting basis

#: grid lags (steps) at which :func:`estimate_basis_ou` compares the level's autocorrelation with the fit's φ^lag
OU_ACF_LAGS = (1, 2, 5, 10, 20, 60)


@dataclass(frozen=True)
class BasisOU:
    """The basis b = H − β·S as an Ornstein–Uhlenbeck process; see :func:`estimate_basis_ou`.

    n: grid increments; grid_s: Δ (seconds); time_unit_s: τ (seconds per time unit); beta: the β
    of b = H − β·S (×, given); mean: the level b̄ the basis reverts to (price units of H);
    phi, phi_se: the AR(1) coefficient on the grid and its SE; kappa, kappa_se: the reversion rate
    (per time unit); half_life, half_life_se: ln 2/κ (time units; inf: no reversion seen);
    sigma, sigma_se: the diffusion coefficient σ_b (price units of H per √time unit);
    stationary_std, stationary_std_se: σ_b/√(2κ) (price units); level_std: the sample std of b;
    acf / acf_fit: lag (grid steps) → the level's sample autocorrelation / the fit's φ^lag;
    params: the simulator's values (:data:`OU_PARAM_UNITS`).
    """

    n: int
    grid_s: float
    time_unit_s: float
    beta: float
    mean: float
    phi: float
    phi_se: float
    kappa: float
    kappa_se: float
    half_life: float
    half_life_se: float
    sigma: float
    sigma_se: float
    stationary_std: float
    stationary_std_se: float
    level_std: float
    acf: dict[int, float]
    acf_fit: dict[int, float]
    params: dict[str, float] = field(default_factory=dict)
    param_units: dict[str, str] = field(default_factory=lambda: dict(OU_PARAM_UNITS))

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


#: units of :attr:`BasisOU.params` (the simulator's ``--set`` names).
OU_PARAM_UNITS: dict[str, str] = {
    "hedge_beta": "× (price units of H per price unit of S)",
    "hedge_basis_sigma": "price units (H) per √time unit",
    "hedge_basis_halflife": "time units",
}


def estimate_basis_ou(
    inventory,
    hedge,
    *,
    beta: float = 1.0,
    grid_s: float = 1.0,
    time_unit_s: float = 1.0,
    lag_steps: int = 0,
    min_increments: int = 30,
) -> BasisOU:
    """The basis b = H − β·S of two :class:`~flatbook.data.events.EventTable` s as an
    Ornstein–Uhlenbeck process, db = −κ(b − b̄)dt + σ_b·dW, the simulator's proxy basis with
    ``hedge_basis_halflife`` = ln 2/κ and ``hedge_basis_sigma`` = σ_b.

    Both mids are sampled on one grid as in :func:`estimate_basis`. The OU process observed
    every Δ is exactly an AR(1), b_{i+1} = c + φ·b_i + e_i with φ = e^(−κΔ) and
    Var(e) = σ_b²(1 − φ²)/(2κ); its Gaussian (conditional) maximum likelihood estimate is the
    OLS fit of b_{i+1} on b_i (e.g. Tang & Chen 2009, J. Econometrics 149, §2):

        φ = Σũṽ/Σũ²   (ũ = b_i − mean, ṽ = b_{i+1} − mean),  s² = Σe²/(n − 2),  SE(φ) = √(s²/Σũ²)
        κ = −ln φ/Δ,  half-life = ln 2/κ,  σ_b² = 2κ·s²/(1 − φ²),  b̄ = c/(1 − φ)

    with delta-method SEs (s² taken independent of φ, SE(ln s) = 1/√(2(n − 2))). Δ and the
    results are in time units (``time_unit_s`` seconds). φ is biased down by about
    (1 + 3φ)/n in short samples (Kendall 1954), well inside SE(φ) for n in the hundreds.

    ``beta`` is the cointegrating coefficient (given, not estimated): 1 for spot and its
    perpetual, which funding ties one for one (the short-grid regression β of
    :func:`estimate_basis` is below 1 because the basis noise itself moves against S for
    a few seconds). A single OU has one time scale: :attr:`BasisOU.acf` against
    :attr:`BasisOU.acf_fit` shows whether the level's autocorrelation decays as φ^lag
    (a slower tail means the basis also has a slow component; fit on a coarser grid).

    φ ≥ 1 (no reversion on this grid): κ = 0, half-life inf and σ_b the random walk's σ of
    the increments. φ not above 0 at 95 % (φ ≤ 1.96·SE(φ): the basis decorrelates within one
    step, so κ is not estimable): :class:`InputError` naming ``grid_s``. Other errors as for
    :func:`estimate_basis`.
    """
    grid_s = _positive("grid_s", grid_s)
    time_unit_s = _positive("time_unit_s", time_unit_s)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta > 0):
        raise InputError("beta", f"must be a positive number (price units of H per price unit of S); got {beta!r}")
    lag_steps = _check_int("lag_steps", lag_steps, None)
    min_increments = _check_int("min_increments", min_increments, 3)
    grid, s, h = _sample(inventory, hedge, grid_s, lag_steps, min_increments)
    n = grid.size - 1
    b = h - float(beta) * s
    u, v = b[:-1], b[1:]
    uc, vc = u - u.mean(), v - v.mean()
    suu = float(np.dot(uc, uc))
    if not suu > 0:
        raise InputError(
            "hedge", f"the basis H − {beta:g}·S never changes over the {n} grid steps of {grid_s:g} s: nothing to fit"
        )
    phi = float(np.dot(uc, vc)) / suu
    e = vc - phi * uc
    s2 = float(np.dot(e, e)) / (n - 2)
    phi_se = math.sqrt(s2 / suu)
    dt = grid_s / time_unit_s
    se_ln_s = 1.0 / math.sqrt(2.0 * (n - 2))
    if phi <= Z95 * phi_se:
        raise InputError(
            "grid_s",
            f"the basis decorrelates within one grid step of {grid_s:g} s (φ = {phi:.3g} ± "
            f"{phi_se:.2g}, not above 0 at 95 %): its half-life is shorter than the grid; "
            "use a smaller grid_s",
        )
    if phi >= 1.0:
        d = np.diff(b)
        sig = math.sqrt(float(d.var(ddof=1)) / dt)
        kappa = kappa_se = 0.0
        half_life, half_life_se = math.inf, math.nan
        sig_se = sig * se_ln_s
        stat = stat_se = math.inf
        mean = float(b.mean())
    else:
        kappa = -math.log(phi) / dt
        kappa_se = phi_se / (phi * dt)
        half_life = math.log(2.0) / kappa
        half_life_se = math.log(2.0) * kappa_se / (kappa * kappa)
        var_stat = s2 / (1.0 - phi * phi)
        sig = math.sqrt(2.0 * kappa * var_stat)
        d_phi = 1.0 / (2.0 * phi * math.log(phi)) + phi / (1.0 - phi * phi)  # ∂ln σ_b/∂φ
        sig_se = sig * math.hypot(d_phi * phi_se, se_ln_s)
        stat = math.sqrt(var_stat)
        stat_se = stat * math.hypot(phi / (1.0 - phi * phi) * phi_se, se_ln_s)
        mean = (float(v.mean()) - phi * float(u.mean())) / (1.0 - phi)
    bc = b - b.mean()
    acf = {k: _corr(bc[:-k], bc[k:]) for k in OU_ACF_LAGS if k <= n // 4}
    acf_fit = {k: max(phi, 0.0) ** k for k in acf}
    params = {"hedge_beta": float(beta), "hedge_basis_sigma": sig, "hedge_basis_halflife": half_life}
    return BasisOU(
        n=int(n),
        grid_s=grid_s,
        time_unit_s=time_unit_s,
        beta=float(beta),
        mean=mean,
        phi=phi,
        phi_se=phi_se,
        kappa=kappa,
        kappa_se=kappa_se,
        half_life=half_life,
        half_life_se=half_life_se,
        sigma=sig,
        sigma_se=sig_se,
        stationary_std=stat,
        stationary_std_se=stat_se,
        level_std=float(b.std(ddof=1)),
        acf=acf,
        acf_fit=acf_fit,
        params=params,
    )
