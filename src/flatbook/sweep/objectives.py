"""Objectives of a sweep, each point's Monte Carlo standard errors, and the Pareto frontier.

Figures per point (from its per-path summaries; n paths):

- means (PnL, final q, q std along a path, spread given up, fills): SE = s/√n;
- standard deviations (PnL, final q): SE = √((m4 − m2²)/n) / (2s) (no normality assumed);
- ``q_rms``: the root of the time-averaged mean square inventory, √E[(1/n_steps)·Σ q_t²]
  (lots), the running inventory risk of A–S/Cartea–Jaimungal; SE by the delta method;
- ES (95%) of the loss −PnL: Var ≈ (Var(L | L ≥ VaR) + α·(ES − VaR)²) / (n·(1 − α))
  (Manistre & Hancock 2005); VaR: the spread of its value over ``JK_BATCHES`` sections;
- Sharpe ratio mean/std: Var ≈ (1 − S·m3/s³ + S²·(m4/s⁴ − 1)/4) / n (Mertens 2002).

Objectives (PnL in price units × lots):

- ``pnl_mean`` (max); the risk measures ``pnl_std``, ``final_q_std``, ``q_rms``, ``es_95`` (min);
- ``mv``: the mean–variance utility U = E[PnL] − (λ/2)·Var[PnL] for a risk aversion λ per
  (price unit × lot) (max). Its SE is √((m2 − λ·m3 + λ²/4·(m4 − m2²))/n);
- ``sharpe`` (max).

The Pareto frontier for a risk measure is the set of points that no other point dominates:
no other point has mean PnL ≥ and risk ≤, with one of the two strict.

Common random numbers make the points' errors strongly correlated, so the difference between
two points is much more precise than either SE suggests. Each row therefore also keeps the
sums of ``JK_BATCHES`` consecutive sections of its paths (``jk_*``): section b holds the same
path indices, hence the same random numbers, at every point of a sweep, so a delete-a-section
jackknife over them gives paired standard errors of any smooth function of several points
(e.g. the location of the best point, :func:`jackknife`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PNL_UNIT = "price units × lots"
LAMBDA_UNIT = "per (price unit × lot)"
JK_BATCHES = 16
ES_LEVEL = 0.95

#: risk measures of the frontiers: key → (label, unit)
RISKS: dict[str, tuple[str, str]] = {
    "pnl_std": ("std of PnL", PNL_UNIT),
    "final_q_std": ("std of final inventory", "lots"),
    "q_rms": ("rms inventory over the session", "lots"),
    "es_95": ("95% expected shortfall of PnL", PNL_UNIT),
}
#: the jackknife sums each row keeps (lists of JK_BATCHES numbers)
JK_KEYS = ("jk_n", "jk_pnl1", "jk_pnl2", "jk_qsq1", "jk_gu1", "jk_fq1", "jk_fq2")


# --------------------------------------------------------------------------- per-point figures (worker side)


def _moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean and central moments m2, m3, m4 (population)."""
    m = float(x.mean())
    d = x - m
    d2 = d * d
    return m, float(d2.mean()), float((d2 * d).mean()), float((d2 * d2).mean())


def _std_se(x: np.ndarray) -> float | None:
    n = x.size
    if n < 2:
        return None
    _, m2, _, m4 = _moments(x)
    s = math.sqrt(m2 * n / (n - 1))
    return math.sqrt(max(m4 - m2 * m2, 0.0) / n) / (2.0 * s) if s > 0 else 0.0


def _mean_se(x: np.ndarray) -> float | None:
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else None


def es_se(pnl: np.ndarray, level: float = ES_LEVEL) -> float | None:
    """Asymptotic SE of the expected shortfall of the loss −pnl at ``level``."""
    n = pnl.size
    loss = -np.asarray(pnl, dtype=float)
    var = float(np.quantile(loss, level))
    tail = loss[loss >= var]
    if n < 20 or tail.size < 2:
        return None
    es = max(float(tail.mean()), var)
    v = float(tail.var(ddof=1)) + level * (es - var) ** 2
    return math.sqrt(v / (n * (1.0 - level)))


def _sections(n: int) -> list[slice]:
    b = min(JK_BATCHES, n)
    edges = np.linspace(0, n, b + 1).round().astype(int)
    return [slice(int(edges[i]), int(edges[i + 1])) for i in range(b)]


def point_stats(per_path: Mapping[str, np.ndarray], summary: Mapping) -> dict:
    """SEs, extra figures (q_rms, moments) and the jackknife section sums of one point."""
    pnl = np.asarray(per_path["pnl"], dtype=float)
    n = pnl.size
    fq = np.asarray(per_path["final_q"], dtype=float)
    qsq = np.asarray(per_path["q_mean"], dtype=float) ** 2 + np.asarray(per_path["q_std"], dtype=float) ** 2
    gu = np.asarray(per_path["spread_given_up"], dtype=float)
    mean, m2, m3, m4 = _moments(pnl)
    q_rms = math.sqrt(float(qsq.mean()))
    qsq_se = _mean_se(qsq)
    sd = math.sqrt(m2)
    if sd > 0 and n > 1:
        sh = mean / sd
        sharpe_se = math.sqrt(max(1.0 - sh * m3 / sd**3 + sh * sh * (m4 / m2**2 - 1.0) / 4.0, 0.0) / n)
    else:
        sharpe_se = None
    secs = _sections(n)
    loss = -pnl
    var_sec = [float(np.quantile(loss[s], ES_LEVEL)) for s in secs if s.stop - s.start >= 20]
    out: dict[str, Any] = {
        "pnl_mean_se": _mean_se(pnl),
        "pnl_std_se": _std_se(pnl),
        "pnl_m3": m3,
        "pnl_m4": m4,
        "final_q_mean_se": _mean_se(fq),
        "final_q_std_se": _std_se(fq),
        "q_std_mean_se": _mean_se(np.asarray(per_path["q_std"], dtype=float)),
        "q_rms": q_rms,
        "q_rms_se": (qsq_se / (2.0 * q_rms) if q_rms > 0 else 0.0) if qsq_se is not None else None,
        "max_abs_q_mean_se": _mean_se(np.asarray(per_path["max_abs_q"], dtype=float)),
        "spread_given_up_mean_se": _mean_se(gu),
        "fills_mean_se": _mean_se(np.asarray(per_path["fills"], dtype=float)),
        "es_95_se": es_se(pnl),
        "var_95_se": float(np.std(var_sec, ddof=1) / math.sqrt(len(var_sec))) if len(var_sec) >= 4 else None,
        "sharpe_se": sharpe_se,
        "jk_c": mean,
    }
    d = pnl - mean
    out["jk_n"] = [s.stop - s.start for s in secs]
    out["jk_pnl1"] = [float(d[s].sum()) for s in secs]
    out["jk_pnl2"] = [float((d[s] ** 2).sum()) for s in secs]
    out["jk_qsq1"] = [float(qsq[s].sum()) for s in secs]
    out["jk_gu1"] = [float(gu[s].sum()) for s in secs]
    out["jk_fq1"] = [float(fq[s].sum()) for s in secs]
    out["jk_fq2"] = [float((fq[s] ** 2).sum()) for s in secs]
    return out


# --------------------------------------------------------------------------- objectives


def _col(rows, key: str) -> np.ndarray:
    """A column of a DataFrame or a list of row dicts, as floats (None → NaN)."""
    if hasattr(rows, "columns"):
        return np.asarray(rows[key], dtype=float) if key in rows.columns else np.full(len(rows), np.nan)
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows], dtype=float)


def mv_utility(rows, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """U = mean − (λ/2)·var of PnL per point (var with ddof = 1, as pnl_std), and its SE."""
    mean, sd, n = _col(rows, "pnl_mean"), _col(rows, "pnl_std"), _col(rows, "paths")
    m3, m4 = _col(rows, "pnl_m3"), _col(rows, "pnl_m4")
    u = mean - 0.5 * lam * sd * sd
    m2 = sd * sd * (n - 1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.maximum(m2 - lam * m3 + 0.25 * lam * lam * (m4 - m2 * m2), 0.0) / n)
    return u, se


@dataclass(frozen=True)
class Objective:
    """A scalar objective: ``sense`` +1 to maximise, −1 to minimise."""

    name: str
    label: str
    unit: str
    sense: int

    def evaluate(self, rows, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """(values, SEs) per point."""
        if self.name == "mv":
            return mv_utility(rows, lam)
        return _col(rows, self.name), _col(rows, self.name + "_se")


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("pnl_mean", "mean PnL", PNL_UNIT, +1),
        Objective("mv", "mean–variance utility E[PnL] − (λ/2)·Var[PnL]", PNL_UNIT, +1),
        Objective("sharpe", "Sharpe ratio mean/std of PnL", "ratio", +1),
        Objective("pnl_std", RISKS["pnl_std"][0], PNL_UNIT, -1),
        Objective("final_q_std", RISKS["final_q_std"][0], "lots", -1),
        Objective("q_rms", RISKS["q_rms"][0], "lots", -1),
        Objective("es_95", RISKS["es_95"][0], PNL_UNIT, -1),
    )
}


def best_index(values: np.ndarray, sense: int) -> int | None:
    """Index of the best finite value (first on ties), or None."""
    v = np.asarray(values, dtype=float) * sense
    ok = np.isfinite(v)
    if not ok.any():
        return None
    return int(np.flatnonzero(ok)[np.argmax(v[ok])])


def pareto_mask(reward: Sequence[float] | np.ndarray, risk: Sequence[float] | np.ndarray) -> np.ndarray:
    """Non-dominated points, maximising ``reward`` and minimising ``risk``.

    A point is dominated when another has reward ≥ and risk ≤ with one of them strict;
    points with a non-finite coordinate are never on the frontier. Equal points are both kept.
    O(n log n): sort by risk (then reward, descending) and keep running maxima.
    """
    r = np.asarray(reward, dtype=float)
    x = np.asarray(risk, dtype=float)
    mask = np.zeros(r.size, dtype=bool)
    ok = np.flatnonzero(np.isfinite(r) & np.isfinite(x))
    if ok.size == 0:
        return mask
    order = ok[np.lexsort((-r[ok], x[ok]))]
    best_prev = -math.inf  # best reward among points of strictly smaller risk
    i = 0
    while i < order.size:
        j = i
        while j < order.size and x[order[j]] == x[order[i]]:
            j += 1
        group = order[i:j]  # equal risk; the first has the highest reward
        top = r[group[0]]
        if top > best_prev:
            mask[group[r[group] == top]] = True
        best_prev = max(best_prev, top)
        i = j
    return mask


def frontier(rows, risk: str) -> list[int]:
    """Indices of the Pareto frontier of mean PnL against ``risk``, by increasing risk."""
    if risk not in RISKS:
        raise KeyError(risk)
    x = _col(rows, risk)
    idx = np.flatnonzero(pareto_mask(_col(rows, "pnl_mean"), x))
    return [int(i) for i in idx[np.argsort(x[idx], kind="stable")]]


# --------------------------------------------------------------------------- paired (jackknife) errors


def jk_arrays(rows) -> dict[str, np.ndarray]:
    """The jackknife section sums as (points × sections) arrays, plus ``jk_c`` (points,)."""
    recs = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    out = {k: np.array([np.asarray(r[k], dtype=float) for r in recs]) for k in JK_KEYS}
    out["jk_c"] = np.array([float(r["jk_c"]) for r in recs])
    return out


def section_figures(jk: Mapping[str, np.ndarray], drop: int | None) -> dict[str, np.ndarray]:
    """Per point: n, pnl mean and var (ddof 1), mean q², final q var, given-up mean — from all
    sections, or leaving section ``drop`` out."""

    def tot(k: str) -> np.ndarray:
        a = jk[k]
        return a.sum(axis=1) - (a[:, drop] if drop is not None else 0.0)

    n = tot("jk_n")
    s1, s2 = tot("jk_pnl1"), tot("jk_pnl2")
    f1, f2 = tot("jk_fq1"), tot("jk_fq2")
    return {
        "n": n,
        "pnl_mean": jk["jk_c"] + s1 / n,
        "pnl_var": (s2 - s1 * s1 / n) / (n - 1),
        "qsq": tot("jk_qsq1") / n,
        "final_q_var": (f2 - f1 * f1 / n) / (n - 1),
        "gu_mean": tot("jk_gu1") / n,
    }


def jackknife(rows, stat: Callable[[dict[str, np.ndarray]], float | None]) -> tuple[float | None, float | None]:
    """``stat`` of the section figures (see :func:`section_figures`) and its delete-a-section
    jackknife SE, paired across points (common random numbers). (None, None) if ``stat`` is None."""
    jk = jk_arrays(rows)
    full = stat(section_figures(jk, None))
    if full is None:
        return None, None
    b = jk["jk_n"].shape[1]
    vals = [stat(section_figures(jk, i)) for i in range(b)]
    reps = np.array([np.nan if v is None else v for v in vals], dtype=float)
    if b < 2 or not np.isfinite(reps).all():
        return float(full), None
    return float(full), float(math.sqrt((b - 1) / b * float(((reps - reps.mean()) ** 2).sum())))


def vertex_window(y: Sequence[float] | np.ndarray, window: int = 2) -> tuple[slice | None, str]:
    """The fitting window around the discrete maximum of y (y ordered by x): the argmax and
    ``window`` neighbours each side; None when the maximum is at an edge of the grid."""
    y = np.asarray(y, dtype=float)
    if y.size < 3 or not np.isfinite(y).all():
        return None, "fewer than 3 finite points"
    i = int(np.argmax(y))
    if i == 0 or i == y.size - 1:
        return None, "best point at the edge of the grid"
    return slice(max(0, i - window), min(y.size, i + window + 1)), "ok"


def fit_vertex(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Maximum of the least-squares parabola through (x, y), clipped to [min x, max x];
    None when the parabola is not concave."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    a, b, _ = np.polyfit(x, y, 2)
    if not a < 0:
        return None
    return float(min(max(-b / (2 * a), x.min()), x.max()))


# --------------------------------------------------------------------------- a sweep's points, frontiers and best points

#: the figures of every point (each with its standard error ``<figure>_se``)
FIGURES = (
    "pnl_mean",
    "pnl_std",
    "final_q_std",
    "q_rms",
    "q_std_mean",
    "es_95",
    "var_95",
    "spread_given_up_mean",
    "fills_mean",
    "sharpe",
)


def _num(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def point_object(r: dict, keys: list[str], u: float, u_se: float) -> dict:
    """One point of a sweep as JSON: id, policy, swept params, each figure of :data:`FIGURES` with its SE,
    the mean–variance utility ``mv`` (± ``mv_se``), paths and steps (non-finite → None)."""
    d = {"point_id": r["point_id"], "policy": r["policy"], "params": {k: r.get(k) for k in keys}}
    for f in FIGURES:
        d[f] = _num(r.get(f))
        d[f + "_se"] = _num(r.get(f + "_se"))
    d["mv"], d["mv_se"] = _num(u), _num(u_se)
    d["paths"], d["steps"] = int(r["paths"]), int(r["steps"])
    return d


def analyse(df, keys: list[str], lam: float) -> tuple[list[dict], dict, dict]:
    """(points, frontiers, best per objective) of a sweep's rows ``df``: what ``flatbook sweep --json``
    prints and ``sweep.json`` holds. ``keys``: the swept parameters; ``lam``: the risk aversion of
    the mean–variance objective (per price unit × lot)."""
    u, use = mv_utility(df, lam)
    recs = df.to_dict("records")
    points = [point_object(r, keys, float(u[i]), float(use[i])) for i, r in enumerate(recs)]
    fronts = {}
    for risk in RISKS:
        idx = frontier(df, risk)
        fronts[risk] = [
            {
                "point_id": points[i]["point_id"],
                "params": points[i]["params"],
                "pnl_mean": points[i]["pnl_mean"],
                "pnl_mean_se": points[i]["pnl_mean_se"],
                risk: points[i][risk],
                risk + "_se": points[i][risk + "_se"],
            }
            for i in idx
        ]
    best = {}
    for name, obj in OBJECTIVES.items():
        vals, ses = obj.evaluate(df, lam)
        i = best_index(vals, obj.sense)
        if i is None:
            continue
        best[name] = {
            "objective": obj.label,
            "sense": "max" if obj.sense > 0 else "min",
            "unit": obj.unit,
            "value": _num(float(vals[i])),
            "se": _num(float(ses[i])) if np.isfinite(ses[i]) else None,
            "point_id": points[i]["point_id"],
            "params": points[i]["params"],
        }
    return points, fronts, best
