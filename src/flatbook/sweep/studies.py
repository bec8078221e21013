"""The built-in studies of ``flatbook sweep --study NAME``.

``skew-frontier`` (seed 001's worked example): linear-skew ``skew`` k swept on the
``worked-example`` preset. The mid is fixed there, so the PnL is the spread earned less the
spread given up by leaning the quotes, and inventory costs nothing unless it is charged. Charge
it as A–S and Cartea–Jaimungal do, φ·E[q̄²] with q̄² the session's mean square inventory
(lots²; φ in price units per lot, the same unit as k): the skew that balances the spread given
up against the inventory variance removed maximises J_φ(k) = E[PnL](k) − φ·E[q̄²](k). With a
mid of volatility σ, φ = γσ²T/2 is exactly A–S's inventory penalty (γ/2)σ²∫E[q²]dt, and A–S's
time-averaged slope γσ²T/2 equals φ: the theory's balancing skew is k = φ.

``as-gamma`` (A–S 2008 §3 market, preset ``as2008``): for each risk aversion λ of interest,
the best point under the mean–variance utility U_λ = E[PnL] − (λ/2)·Var[PnL] (the second-order
expansion of A–S's CARA objective), in two sweeps on the same random numbers:

1. A–S's own γ swept (policy ``avellaneda-stoikov``); theory: the best γ is λ.
2. linear-skew's constant k swept, with the half-spread at A–S's time average for γ = λ (the
   preset's derivation); theory: k ≈ γσ²(T − t), which a constant skew can match only on
   average: λσ²T/2. The exact solution's asymptotic slope (GLFT 2013, ω) is the reference that
   accounts for the quotes' own pull on inventory.

Each best point is the vertex of a parabola fitted, in log of the swept parameter, through the
discrete best point and two neighbours each side; its SE is a delete-a-section jackknife over
the paths' sections (the same paths at every point, so the errors are paired; see
:func:`flatbook.sweep.objectives.jackknife`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import build_config
from ..policies.glft_solution import glft_constants
from .objectives import (
    LAMBDA_UNIT,
    PNL_UNIT,
    fit_vertex,
    jackknife,
    jk_arrays,
    pareto_mask,
    section_figures,
    vertex_window,
)
from .report import write_as_gamma_png, write_skew_frontier_png
from .runner import Point, make_point


def _r6(x: float) -> float:
    """Round to 6 significant digits (tidy, stable grid values)."""
    return float(f"{x:.6g}")


@dataclass(frozen=True)
class Study:
    """A built-in study: its points, its analysis and its figure."""

    name: str
    title: str
    default_paths: int
    points: Callable[[int, int], list[Point]]
    analyse: Callable[[object], dict]
    figure: Callable[[Path, object, dict], None]


def _vertex_se(df, x: np.ndarray, util: Callable[[dict], np.ndarray]) -> tuple[float | None, float | None, str]:
    """Best x (vertex in log x) of the utility ``util(section figures)`` over rows ``df`` ordered
    by x, and its jackknife SE (in x)."""
    full = util(section_figures(jk_arrays(df), None))
    win, note = vertex_window(full)
    if win is None:
        i = int(np.nanargmax(full))
        return float(x[i]), None, note
    lx = np.log(x[win])

    def stat(fig: dict) -> float | None:
        v = fit_vertex(lx, util(fig)[win])
        return None if v is None else v

    lv, se = jackknife(df, stat)
    if lv is None:
        return None, None, "not concave near the best point"
    return math.exp(lv), (math.exp(lv) * se if se is not None else None), "ok"


def _fit_sensitivity(df, x: np.ndarray, util: Callable[[dict], np.ndarray], best: float | None) -> float | None:
    """|vertex of the 3-point fit − vertex of the 5-point fit| (in x): the grid's resolution, which
    the Monte Carlo SE does not include."""
    if best is None:
        return None
    full = util(section_figures(jk_arrays(df), None))
    win, _ = vertex_window(full, window=1)
    if win is None:
        return None
    v = fit_vertex(np.log(x[win]), full[win])
    return None if v is None else abs(math.exp(v) - best)


def _ratio(a: float | None, a_se: float | None, b: float) -> tuple[float | None, float | None]:
    if a is None or not b:
        return None, None
    return a / b, (a_se / b if a_se is not None else None)


# --------------------------------------------------------------------------- skew-frontier

SKEW_GRID = (0.0,) + tuple(_r6(v) for v in np.geomspace(0.001, 0.1, 13))
CHARGES = (0.0025, 0.005, 0.01, 0.02, 0.04)  # φ, price units per lot
SEED_SKEW = 0.01


def _skew_points(paths: int, seed: int) -> list[Point]:
    return [make_point("worked-example", "linear-skew", {"skew": k}, paths, seed) for k in SKEW_GRID]


def _skew_analyse(df) -> dict:
    df = df.sort_values("skew").reset_index(drop=True)
    pos = df[df["skew"] > 0].reset_index(drop=True)
    k = pos["skew"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    for phi in CHARGES:
        util = lambda f, phi=phi: f["pnl_mean"] - phi * f["qsq"]  # noqa: E731
        kstar, se, note = _vertex_se(pos, k, util)
        ratio, ratio_se = _ratio(kstar, se, phi)
        rows.append(
            {
                "charge": phi,
                "best_skew": kstar,
                "best_skew_se": se,
                "best_skew_fit_sensitivity": _fit_sensitivity(pos, k, util, kstar),
                "theory_skew": phi,
                "ratio": ratio,
                "ratio_se": ratio_se,
                "note": note,
            }
        )
    # the charge at which each interior skew balances: φ(k) = (dE[PnL]/dlog k)/(dE[q̄²]/dlog k)
    lk = np.log(k)
    marg: list[dict[str, Any]] = []
    for i in range(1, len(k) - 1):
        sl = slice(i - 1, i + 2)

        def stat(f: dict, sl=sl) -> float | None:
            dp = np.polyfit(lk[sl], f["pnl_mean"][sl], 1)[0]
            dq = np.polyfit(lk[sl], f["qsq"][sl], 1)[0]
            return dp / dq if dq < 0 and dp < 0 else None  # J' = E[PnL]' − φ·E[q̄²]' = 0

        phi_k, phi_se = jackknife(pos, stat)
        marg.append({"skew": float(k[i]), "balancing_charge": phi_k, "balancing_charge_se": phi_se})
    seed_row = next((m for m in marg if abs(m["skew"] - SEED_SKEW) < 1e-12), None)
    if seed_row is None:  # the seed's skew between grid points: interpolate in log k
        xs = np.array([m["skew"] for m in marg])
        ys = np.array([m["balancing_charge"] or np.nan for m in marg])
        seed_phi = float(np.exp(np.interp(np.log(SEED_SKEW), np.log(xs), np.log(ys))))
        seed_se = None
    else:
        seed_phi, seed_se = seed_row["balancing_charge"], seed_row["balancing_charge_se"]
    front = pareto_mask(df["pnl_mean"], df["q_rms"])
    sym = df.index[df["skew"] == 0][0]
    dominating = [
        float(df["skew"][j])
        for j in range(len(df))
        if df["pnl_mean"][j] >= df["pnl_mean"][sym] and df["q_rms"][j] <= df["q_rms"][sym] and j != sym
    ]
    ok = [r for r in rows if r["ratio"] is not None]
    lo = min(r["ratio"] for r in ok) if ok else None
    hi = max(r["ratio"] for r in ok) if ok else None
    fit = max((r["best_skew_fit_sensitivity"] or 0.0) / r["best_skew"] for r in ok) if ok else None
    summary = (
        f"Charging φ per lot² of mean-square inventory (φ in price units per lot), the balancing "
        f"skew is {lo:.2f}–{hi:.2f} × φ over φ = {CHARGES[0]:g}–{CHARGES[-1]:g}; A–S's time-averaged "
        f"slope puts it at 1 × φ (Monte Carlo SEs ≤ {max(r['ratio_se'] or 0 for r in ok):.1g} in the "
        f"ratio; the grid's resolution moves k* by up to {fit:.0%}). The seed's skew {SEED_SKEW:g} "
        f"balances at φ = {seed_phi:.4g}" + (f" ± {seed_se:.2g}" if seed_se else "") + " price units per lot."
        if ok
        else "no interior optimum on the grid"
    )
    if dominating:
        summary += (
            f" Symmetric quoting (k = 0) is dominated: k = {min(dominating):g} earns more and holds less inventory."
        )
    return {
        "study": "skew-frontier",
        "compare": "best skew k*(φ) maximising J_φ = E[PnL] − φ·E[q̄²] (worked-example, fixed mid), "
        "against A–S's balancing skew k = φ (= γσ²T/2 when φ = γσ²T/2)",
        "units": {"skew": "price units per lot", "charge": "price units per lot", "pnl": PNL_UNIT, "q_rms": "lots"},
        "balance": rows,
        "balancing_charge_by_skew": marg,
        "seed_skew": {"skew": SEED_SKEW, "balancing_charge": seed_phi, "balancing_charge_se": seed_se},
        "frontier_skews": [float(df["skew"][j]) for j in np.flatnonzero(front)],
        "symmetric_dominated_by": dominating,
        "summary": summary,
    }


def _skew_figure(path: Path, df, analysis: dict) -> None:
    write_skew_frontier_png(path, df.sort_values("skew").reset_index(drop=True), analysis)


# --------------------------------------------------------------------------- as-gamma

LAMBDAS = (0.02, 0.05, 0.1, 0.2, 0.5)  # risk aversions of interest, per (price unit × lot)
AS_GAMMAS = tuple(_r6(v) for v in np.geomspace(0.002, 1.0, 19))
SKEW_MULTS = tuple(_r6(v) for v in np.geomspace(1 / 16, 2.0, 11))  # k / (λσ²T/2)


def _as2008() -> dict:
    v = build_config("as2008", "avellaneda-stoikov", {}, paths=1, seed=0).values
    return {"sigma": v["sigma"], "T": v["T"], "k": v["k"], "A": v["A"]}


def glft_omega(lam: float, sigma: float, k: float, A: float) -> float:
    """GLFT's asymptotic inventory slope ω (price units per lot) at risk aversion γ = ``lam``.

    ω = √(σ²γ/(2kA)·(1 + γ/k)^(1 + k/γ)) (GLFT 2013 §4), from its one home,
    :func:`flatbook.policies.glft_solution.glft_constants`.
    """
    return glft_constants(lam, sigma, A, k)[1]


def _as_points(paths: int, seed: int) -> list[Point]:
    m = _as2008()
    pts = [make_point("as2008", "avellaneda-stoikov", {"gamma": g}, paths, seed) for g in AS_GAMMAS]
    for lam in LAMBDAS:
        base = lam * m["sigma"] ** 2 * m["T"] / 2
        pts += [
            make_point("as2008", "linear-skew", {"gamma": lam, "skew": _r6(base * r)}, paths, seed) for r in SKEW_MULTS
        ]
    return pts


def _mv(lam: float) -> Callable[[dict], np.ndarray]:
    return lambda f: f["pnl_mean"] - 0.5 * lam * f["pnl_var"]


def _as_analyse(df) -> dict:
    m = _as2008()
    a_s = df[df["policy"] == "avellaneda-stoikov"].sort_values("gamma").reset_index(drop=True)
    g = a_s["gamma"].to_numpy(float)
    rows = []
    for lam in LAMBDAS:
        gstar, gse, gnote = _vertex_se(a_s, g, _mv(lam))
        ls = df[(df["policy"] == "linear-skew") & np.isclose(df["gamma"].astype(float), lam)]
        ls = ls.sort_values("skew").reset_index(drop=True)
        k = ls["skew"].to_numpy(float)
        kstar, kse, knote = _vertex_se(ls, k, _mv(lam))
        avg = lam * m["sigma"] ** 2 * m["T"] / 2
        om = glft_omega(lam, m["sigma"], m["k"], m["A"])
        r_as, r_as_se = _ratio(kstar, kse, avg)
        r_om, r_om_se = _ratio(kstar, kse, om)
        r_g, r_g_se = _ratio(gstar, gse, lam)
        # utility lost by quoting A–S's average slope instead of the best constant skew (paired)
        j_as = int(np.argmin(np.abs(np.log(k / avg))))
        win, _ = vertex_window(_mv(lam)(_figs(ls)))

        def loss(f: dict, j_as=j_as, win=win, lk=np.log(k), lam=lam) -> float | None:
            u = _mv(lam)(f)
            if win is None:
                return float(np.max(u) - u[j_as])
            c = np.polyfit(lk[win], u[win], 2)
            return None if c[0] >= 0 else float(c[2] - c[1] ** 2 / (4 * c[0]) - u[j_as])

        du, du_se = jackknife(ls, loss)
        rows.append(
            {
                "lambda": lam,
                "as_best_gamma": gstar,
                "as_best_gamma_se": gse,
                "as_best_gamma_over_lambda": r_g,
                "as_best_gamma_over_lambda_se": r_g_se,
                "as_note": gnote,
                "as_best_gamma_avg_skew": (gstar * m["sigma"] ** 2 * m["T"] / 2) if gstar else None,
                "as_best_gamma_fit_sensitivity": _fit_sensitivity(a_s, g, _mv(lam), gstar),
                "ls_best_skew": kstar,
                "ls_best_skew_se": kse,
                "ls_note": knote,
                "ls_best_skew_fit_sensitivity": _fit_sensitivity(ls, k, _mv(lam), kstar),
                "as_avg_slope": avg,
                "ls_best_over_as_avg": r_as,
                "ls_best_over_as_avg_se": r_as_se,
                "glft_omega": om,
                "ls_best_over_glft": r_om,
                "ls_best_over_glft_se": r_om_se,
                "utility_loss_at_as_slope": du,
                "utility_loss_at_as_slope_se": du_se,
            }
        )
    ok = [r for r in rows if r["ls_best_over_as_avg"] is not None]
    okg = [r for r in rows if r["as_best_gamma_over_lambda"] is not None]
    rng = lambda key, rs: (min(r[key] for r in rs), max(r[key] for r in rs))  # noqa: E731
    parts = []
    if ok:
        a, b = rng("ls_best_over_as_avg", ok)
        c, d = rng("ls_best_over_glft", ok)
        se = max(r["ls_best_over_as_avg_se"] or 0.0 for r in ok)
        fit = max((r["ls_best_skew_fit_sensitivity"] or 0.0) / r["ls_best_skew"] for r in ok)
        parts.append(
            f"The best constant skew is {a:.2f}–{b:.2f} × A–S's time-averaged slope λσ²T/2 "
            f"(theory: 1; SEs ≤ {se:.1g}, grid resolution ≤ {fit:.0%} of k*) and {c:.2f}–{d:.2f} × "
            f"GLFT's asymptotic slope ω, over λ = {LAMBDAS[0]:g}–{LAMBDAS[-1]:g} {LAMBDA_UNIT}."
        )
    if okg:
        a, b = rng("as_best_gamma_over_lambda", okg)
        parts.append(f"Within A–S, the best γ is {a:.2f}–{b:.2f} × the objective's λ (theory: 1).")
    front = pareto_mask(a_s["pnl_mean"], a_s["pnl_std"])
    return {
        "study": "as-gamma",
        "compare": "for each λ, the best point under U_λ = E[PnL] − (λ/2)·Var[PnL] on as2008: (1) A–S's γ "
        "against λ; (2) linear-skew's constant k (half-spread at A–S's time average for γ = λ) "
        "against A–S's k = γσ²(T − t), time-averaged λσ²T/2, and GLFT's ω",
        "units": {"lambda": LAMBDA_UNIT, "gamma": LAMBDA_UNIT, "skew": "price units per lot", "utility": PNL_UNIT},
        "market": m,
        "rows": rows,
        "as_frontier_gammas": [float(g[j]) for j in np.flatnonzero(front)],
        "summary": " ".join(parts) if parts else "no interior optimum on the grids",
    }


def _figs(df) -> dict:
    return section_figures(jk_arrays(df), None)


def _as_figure(path: Path, df, analysis: dict) -> None:
    write_as_gamma_png(path, df, analysis)


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "skew-frontier",
            "linear-skew k on the worked example: spread given up against inventory variance",
            50_000,
            _skew_points,
            _skew_analyse,
            _skew_figure,
        ),
        Study(
            "as-gamma",
            "A–S γ and linear-skew k on as2008: the best points against k ≈ γσ²(T − t)",
            100_000,
            _as_points,
            _as_analyse,
            _as_figure,
        ),
    )
}


def study_names() -> Sequence[str]:
    return tuple(STUDIES)
