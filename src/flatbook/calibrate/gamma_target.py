"""The risk aversion γ that gives a target inventory std, found by simulation.

For given market parameters (σ price units per √time unit, A per time unit, k
per price unit, horizon T and step dt in time units), the core simulator runs
``avellaneda-stoikov`` (or ``glft``) on the ``as2008`` market (binomial mid,
fills with probability min(1, A·e^(−kδ)·dt) per side per step) for a γ, with
a fixed seed, so every γ sees the same random numbers (common random numbers:
the simulated std is a smooth-ish, nearly monotone function of γ instead of a
noisy one). The statistic matched is, by default, ``final_q_std``: the standard
deviation across paths of the inventory at T, the "Std(final q)" of Avellaneda
& Stoikov (2008), Tables 1–3, with SE from the sample variance's
SE √((m₄ − s⁴)/n) by the delta method. (``q_std_mean``, the mean over paths of
each path's time-std of q, is the alternative; it is smaller, as each path is
demeaned and starts at q0.)

Search: the std on a log-spaced grid of γ over the bracket (default from
γ₀ = 1/(kσ²τ·size), where one fill's skew over the horizon γσ²τ·size equals the
no-skew depth 1/k (τ = T, or the rolling ``horizon`` of the stationary A–S
variant; size = the quote size, 1 lot by default), and from k, where the
spread term ln(1 + γ/k)/γ bends: [10⁻³·min(γ₀, k), 10³·max(γ₀, k)]), the
first adjacent pair whose stds straddle the target, then
Brent's method (``scipy.optimize.brentq``) on ln γ inside it. A target outside
the simulated range is reported unreachable, with the range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize

from ..config import build_config
from ..errors import InputError
from ..sim.simulator import simulate
from . import CalibrationError, jsonable

STATISTICS = ("final_q_std", "q_std_mean")
POLICIES = ("avellaneda-stoikov", "glft")


@dataclass(frozen=True)
class GammaSuggestion:
    """γ (per price unit·lot) for a target inventory std (lots), and how it was found.

    ok / reason: False and why when the target is unreachable or the search failed.
    gamma: the suggestion (NaN if not ok). achieved, achieved_se: the simulated statistic
    at γ and its Monte Carlo SE (lots). target: lots. statistic, policy, paths, steps, seed:
    what was simulated. bracket: the γ range searched. evaluations: (γ, std, SE) for every
    simulation, in order. iterations: Brent iterations. reasoning: human-readable lines.
    """

    ok: bool
    reason: str | None
    gamma: float
    achieved: float
    achieved_se: float
    target: float
    statistic: str
    policy: str
    paths: int
    steps: int
    seed: int
    bracket: tuple[float, float]
    evaluations: tuple[tuple[float, float, float], ...]
    iterations: int
    reasoning: tuple[str, ...]

    def require(self) -> GammaSuggestion:
        if not self.ok:
            raise CalibrationError("gamma", self.reason or "no γ found")
        return self

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


def std_and_se(x: np.ndarray) -> tuple[float, float]:
    """Sample std (ddof 1) and its SE, sqrt((m₄ − s⁴)/n)/(2s) (delta method on the variance)."""
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    s2 = float(d.var(ddof=1))
    se2 = math.sqrt(max(float(np.mean(d**4)) - s2 * s2, 0.0) / x.size)
    s = math.sqrt(s2)
    return s, se2 / (2.0 * s) if s > 0 else 0.0


def simulated_std(
    sigma: float,
    A: float,
    k: float,
    gamma: float,
    T: float,
    dt: float,
    *,
    policy: str = "avellaneda-stoikov",
    statistic: str = "final_q_std",
    paths: int = 4000,
    seed: int = 0,
    overrides: dict | None = None,
) -> tuple[float, float]:
    """(statistic, its SE) in lots for one γ, from the core simulator (``as2008`` preset)."""
    ov = {**(overrides or {}), "sigma": sigma, "A": A, "k": k, "gamma": gamma, "T": T, "dt": dt}
    res = simulate(build_config("as2008", policy, ov, paths=paths, seed=seed))
    if statistic == "final_q_std":
        return std_and_se(res.per_path["final_q"])
    qs = np.asarray(res.per_path["q_std"], dtype=float)
    return float(qs.mean()), float(qs.std(ddof=1) / math.sqrt(qs.size))


def default_bracket(sigma: float, k: float, T: float, size: float = 1.0) -> tuple[float, float]:
    """[10⁻³·min(γ₀, k), 10³·max(γ₀, k)], γ₀ = 1/(kσ²T·size) (k alone when σ = 0); per price unit·lot.

    At γ₀ one fill of ``size`` lots moves the reservation price by the no-skew depth 1/k over T."""
    g0 = 1.0 / (k * sigma * sigma * T * size) if sigma > 0 else k
    return 1e-3 * min(g0, k), 1e3 * max(g0, k)


def suggest_gamma(
    sigma: float,
    A: float,
    k: float,
    T: float,
    dt: float,
    target_q_std: float,
    *,
    policy: str = "avellaneda-stoikov",
    statistic: str = "final_q_std",
    paths: int = 4000,
    seed: int = 0,
    bracket: tuple[float, float] | None = None,
    points_per_decade: int = 2,
    xtol: float = 1e-3,
    maxiter: int = 60,
    overrides: dict | None = None,
    progress: Callable[[str], None] | None = None,
    unit: str = "lots",
) -> GammaSuggestion:
    """γ such that the simulated ``statistic`` (lots) equals ``target_q_std``.

    σ price units per √time unit, A per time unit, k per price unit, T and dt in time
    units, with A·dt <= 1 (else the per-step fill probability saturates); ``xtol`` the
    tolerance on ln γ; ``overrides`` further simulator parameters (e.g. ``limit``,
    ``q_target``, ``size``, ``variant``, ``horizon``); ``progress`` is called with a status
    line before each simulation; ``unit`` names the inventory unit in the reasoning (the
    quantity unit when the simulation mirrors a replay). Bad arguments raise
    :class:`CalibrationError`.
    """
    if policy not in POLICIES:
        raise CalibrationError("policy", f"must be one of {', '.join(POLICIES)}; got {policy!r}")
    if statistic not in STATISTICS:
        raise CalibrationError("statistic", f"must be one of {', '.join(STATISTICS)}; got {statistic!r}")
    for name, v, pos in (
        ("sigma", sigma, False),
        ("A", A, True),
        ("k", k, True),
        ("T", T, True),
        ("dt", dt, True),
        ("target_q_std", target_q_std, True),
    ):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 if pos else v >= 0)):
            raise CalibrationError(name, f"must be a finite number {'> 0' if pos else '>= 0'}; got {v!r}")
    if A * dt > 1.0:
        raise CalibrationError(
            "dt",
            f"A·dt = {A * dt:.3g} > 1: the simulator fills a side with probability "
            f"min(1, A·e^(−kδ)·dt) per step, which saturates at every depth below "
            f"ln(A·dt)/k = {math.log(A * dt) / k:.3g} price units; use dt <= {0.5 / A:.3g} "
            "time units (A·dt <= 0.5)",
        )
    if paths < 2:
        raise CalibrationError("paths", f"need at least 2 paths; got {paths}")
    ov = overrides or {}
    tau = ov.get("horizon", 1.0) if ov.get("variant") == "stationary" else T  # the horizon in γσ²τ
    lo, hi = bracket if bracket is not None else default_bracket(sigma, k, tau, ov.get("size", 1.0))
    if not (0 < lo < hi and math.isfinite(hi)):
        raise CalibrationError("bracket", f"must satisfy 0 < lo < hi < inf; got ({lo!r}, {hi!r})")
    try:
        steps = build_config(
            "as2008",
            policy,
            {**(overrides or {}), "sigma": sigma, "A": A, "k": k, "gamma": lo, "T": T, "dt": dt},
            paths=paths,
            seed=seed,
        ).steps
    except InputError as e:
        raise CalibrationError(e.field, str(e).split(": ", 1)[-1]) from None

    evals: list[tuple[float, float, float]] = []
    cache: dict[float, tuple[float, float]] = {}

    def measure(g: float) -> tuple[float, float]:
        if g not in cache:
            if progress is not None:
                progress(f"searching γ: simulation {len(evals) + 1}, γ = {g:.4g}")
            cache[g] = simulated_std(
                sigma, A, k, g, T, dt, policy=policy, statistic=statistic, paths=paths, seed=seed, overrides=overrides
            )
            evals.append((g, *cache[g]))
        return cache[g]

    lines = [
        f"simulated {paths} paths × {steps} steps (T = {T:g}, dt = {dt:g} time units) of {policy} on the "
        f"as2008 market: binomial mid σ = {sigma:.6g} price units/√time unit, fills A·e^(−kδ) with "
        f"A = {A:.6g}/time unit, k = {k:.6g}/price unit; seed {seed}, the same random numbers for every γ"
        + (
            f"; also {', '.join(f'{n} = {v:.6g}' if isinstance(v, float) else f'{n} = {v}' for n, v in overrides.items())}"
            if overrides
            else ""
        ),
        f"matched statistic: {statistic} "
        + (
            "(std across paths of the inventory at T, A–S 2008 'Std(final q)')"
            if statistic == "final_q_std"
            else "(mean over paths of each path's time-std of q)"
        )
        + f" = target {target_q_std:g} {unit}",
    ]
    ndec = math.log10(hi / lo)
    npts = max(3, int(math.ceil(ndec * points_per_decade)) + 1)
    grid = np.geomspace(lo, hi, npts)
    lines.append(f"bracket γ ∈ [{lo:.4g}, {hi:.4g}] per (price unit × {unit}), scanned at {npts} log-spaced points")
    vals = [measure(float(g)) for g in grid]
    for g, (s, se) in zip(grid, vals):
        lines.append(f"  γ = {g:.4g}: {statistic} = {s:.4g} ± {se:.2g} {unit}")
    f = np.array([s for s, _ in vals]) - target_q_std
    s_min, s_max = min(s for s, _ in vals), max(s for s, _ in vals)
    cross = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) <= 0)
    base: dict[str, Any] = dict(  # the GammaSuggestion fields every outcome shares
        target=target_q_std,
        statistic=statistic,
        policy=policy,
        paths=paths,
        steps=steps,
        seed=seed,
        bracket=(float(lo), float(hi)),
    )
    if cross.size == 0:
        reason = (
            f"target {target_q_std:g} {unit} is unreachable: {statistic} ranges over "
            f"[{s_min:.4g}, {s_max:.4g}] {unit} for γ in [{lo:.4g}, {hi:.4g}]"
        )
        lines.append(reason)
        return GammaSuggestion(
            False,
            reason,
            math.nan,
            math.nan,
            math.nan,
            evaluations=tuple(evals),
            iterations=0,
            reasoning=tuple(lines),
            **base,
        )
    if cross.size > 1:
        lines.append(
            f"the target is crossed {cross.size} times on the grid (the std is not monotone in γ); "
            "taking the smallest γ"
        )
    i = int(cross[0])
    a, b = float(grid[i]), float(grid[i + 1])
    lines.append(
        f"the target lies between γ = {a:.4g} ({vals[i][0]:.4g} {unit}) and γ = {b:.4g} ({vals[i + 1][0]:.4g} {unit})"
    )
    if f[i] == 0.0 or f[i + 1] == 0.0:
        g_hat, iters = (a if f[i] == 0.0 else b), 0
    else:
        try:
            x, info = optimize.brentq(
                lambda x: measure(math.exp(x))[0] - target_q_std,
                math.log(a),
                math.log(b),
                xtol=xtol,
                maxiter=maxiter,
                full_output=True,
                disp=False,
            )
        except (ValueError, RuntimeError) as e:
            reason = f"Brent's method failed in [{a:.4g}, {b:.4g}]: {e}"
            lines.append(reason)
            return GammaSuggestion(
                False,
                reason,
                math.nan,
                math.nan,
                math.nan,
                evaluations=tuple(evals),
                iterations=0,
                reasoning=tuple(lines),
                **base,
            )
        iters = int(info.iterations)
        if not info.converged:
            reason = f"Brent's method did not converge in {maxiter} iterations ({info.flag})"
            lines.append(reason)
            return GammaSuggestion(
                False,
                reason,
                math.nan,
                math.nan,
                math.nan,
                evaluations=tuple(evals),
                iterations=iters,
                reasoning=tuple(lines),
                **base,
            )
        g_hat = math.exp(x)
    s, se = measure(g_hat)
    lines.append(f"Brent's method on ln γ (xtol {xtol:g}): {iters} iterations, {len(evals)} simulations in all")
    lines.append(
        f"γ = {g_hat:.4g} per (price unit × {unit}) gives {statistic} = {s:.4g} ± {se:.2g} {unit} "
        f"(target {target_q_std:g}); --set gamma={g_hat:.4g}"
    )
    return GammaSuggestion(
        True, None, g_hat, s, se, evaluations=tuple(evals), iterations=iters, reasoning=tuple(lines), **base
    )
