"""Sweep figures (matplotlib, PNG, written atomically): the Pareto frontiers, the heatmaps of a
two-parameter grid, and the built-in studies' figures. Every axis carries its unit."""

from __future__ import annotations

import math
import os
import pathlib
import textwrap
from collections.abc import Sequence

import numpy as np

from ..fileio import atomic_file
from ..params import PARAMS
from .objectives import LAMBDA_UNIT, PNL_UNIT, RISKS, frontier, jk_arrays, mv_utility, section_figures

DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> pathlib.Path:
    plt = _plt()
    target = pathlib.Path(path)
    try:
        with atomic_file(target) as fh:
            fig.savefig(fh, format="png")
    finally:
        plt.close(fig)
    return target


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


def _label(df, i: int, keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={_fmt(df[k].iloc[i])}" for k in keys)


def _col(df, key: str) -> np.ndarray:
    return np.asarray(df[key], dtype=float) if key in df.columns else np.full(len(df), np.nan)


def write_frontier_png(path, df, *, keys: Sequence[str], lam: float, title: str) -> pathlib.Path:
    """Mean PnL against each risk measure (one panel each): every point with its ±1 SE bars,
    the Pareto frontier joined, the best mean–variance point starred."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.2), dpi=DPI)
    y, yse = _col(df, "pnl_mean"), _col(df, "pnl_mean_se")
    u, _ = mv_utility(df, lam)
    best = int(np.nanargmax(u)) if np.isfinite(u).any() else None
    for ax, (risk, (label, unit)) in zip(axes.flat, RISKS.items()):
        x, xse = _col(df, risk), _col(df, risk + "_se")
        ax.errorbar(
            x,
            y,
            xerr=np.nan_to_num(xse),
            yerr=np.nan_to_num(yse),
            fmt="o",
            ms=3.5,
            color="0.55",
            ecolor="0.8",
            lw=0.8,
            label="points (±1 SE)",
        )
        f = frontier(df, risk)
        if f:
            ax.plot(x[f], y[f], "o-", color="tab:blue", ms=5, label="Pareto frontier")
            if len(f) <= 12 and keys:
                for i in f:
                    ax.annotate(
                        _label(df, i, keys), (x[i], y[i]), textcoords="offset points", xytext=(5, 4), fontsize=7
                    )
        if best is not None:
            ax.plot(x[best], y[best], "*", color="tab:red", ms=14, label=f"best mean–variance (λ = {lam:g})")
        ax.set_xlabel(f"{label} ({unit})")
        ax.set_ylabel(f"mean PnL ({PNL_UNIT})")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(textwrap.fill(title, 150), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


HEATMAP_METRICS = (
    ("pnl_mean", "mean PnL", PNL_UNIT),
    ("pnl_std", "std of PnL", PNL_UNIT),
    ("final_q_std", "std of final inventory", "lots"),
    ("mv", "mean–variance utility", PNL_UNIT),
)


def write_heatmap_png(path, df, keys: Sequence[str], *, lam: float, title: str) -> pathlib.Path:
    """Heatmaps of a two-parameter grid (x: keys[1], y: keys[0]): mean PnL, PnL std, final
    inventory std and the mean–variance utility; cells annotated when the grid is small."""
    plt = _plt()
    ky, kx = keys
    xs = list(dict.fromkeys(df[kx].tolist()))
    ys = list(dict.fromkeys(df[ky].tolist()))
    if all(isinstance(v, (int, float)) for v in xs):
        xs = sorted(xs)
    if all(isinstance(v, (int, float)) for v in ys):
        ys = sorted(ys)
    u, _ = mv_utility(df, lam)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6), dpi=DPI)
    for ax, (key, label, unit) in zip(axes.flat, HEATMAP_METRICS):
        vals = u if key == "mv" else _col(df, key)
        grid = np.full((len(ys), len(xs)), np.nan)
        for v, a, b in zip(vals, df[ky], df[kx]):
            grid[ys.index(a), xs.index(b)] = v
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(f"{label} ({unit})" + (f", λ = {lam:g}" if key == "mv" else ""), fontsize=8)
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs], rotation=45, fontsize=7)
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys], fontsize=7)
        ax.set_xlabel(f"{kx} ({PARAMS[kx].unit})")
        ax.set_ylabel(f"{ky} ({PARAMS[ky].unit})")
        ax.set_title(label, fontsize=9)
        if len(xs) * len(ys) <= 100:
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if np.isfinite(grid[i, j]):
                        ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=6, color="w")
    fig.suptitle(textwrap.fill(title, 150), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def write_skew_frontier_png(path, df, analysis: dict) -> pathlib.Path:
    """Left: mean PnL and spread given up against the skew (symlog axis, k = 0 included).
    Right: mean PnL against the mean-square inventory, the frontier, and the balancing points
    of each inventory charge φ with their iso-J lines."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5), dpi=DPI)
    k = _col(df, "skew")
    pnl, pse = _col(df, "pnl_mean"), _col(df, "pnl_mean_se")
    gu, gse = _col(df, "spread_given_up_mean"), _col(df, "spread_given_up_mean_se")
    a1.errorbar(k, pnl, yerr=pse, fmt="o-", ms=4, label="mean PnL")
    a1.errorbar(k, gu, yerr=gse, fmt="s-", ms=4, label="spread given up by skewing")
    a1.set_xscale("symlog", linthresh=1e-3)
    a1.set_xlabel("skew k (price units per lot; symlog)")
    a1.set_ylabel(f"per path ({PNL_UNIT})")
    a1.axvline(analysis["seed_skew"]["skew"], color="0.6", ls=":", label="seed 001's k = 0.01")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8)
    a1b = a1.twinx()
    a1b.plot(k, _col(df, "q_rms"), "^--", color="tab:green", ms=4, label="rms inventory")
    a1b.set_ylabel("rms inventory over the session (lots)", color="tab:green")
    qsq = _col(df, "q_rms") ** 2
    a2.plot(qsq, pnl, "o", color="0.6", ms=4)
    front = [i for i in range(len(df)) if float(df["skew"].iloc[i]) in set(analysis["frontier_skews"])]
    a2.plot(qsq[front], pnl[front], "o-", color="tab:blue", ms=4, label="Pareto frontier (PnL vs inventory)")
    for i in range(0, len(df), 2):
        a2.annotate(f"k={k[i]:.3g}", (qsq[i], pnl[i]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    colors = plt.cm.plasma(np.linspace(0.1, 0.85, len(analysis["balance"])))
    for c, row in zip(colors, analysis["balance"]):
        ks = row["best_skew"]
        if ks is None:
            continue
        q_at = float(np.exp(np.interp(np.log(ks), np.log(k[k > 0]), np.log(qsq[k > 0]))))
        p_at = float(np.interp(np.log(ks), np.log(k[k > 0]), pnl[k > 0]))
        xx = np.geomspace(np.nanmin(qsq), np.nanmax(qsq), 200)
        a2.plot(xx, p_at + row["charge"] * (xx - q_at), "-", color=c, lw=0.8, alpha=0.7)
        a2.plot(q_at, p_at, "D", color=c, ms=6, label=f"φ = {row['charge']:g}: k* = {ks:.3g}")
    a2.set_xscale("log")
    a2.set_xlabel("mean-square inventory E[q̄²] (lots²; log)")
    a2.set_ylabel(f"mean PnL ({PNL_UNIT})")
    a2.set_ylim(np.nanmin(pnl) - 0.5, np.nanmax(pnl) + 0.5)
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "skew-frontier — preset worked-example, policy linear-skew: where spread given up and "
        "inventory variance balance (lines: J = E[PnL] − φ·E[q̄²] constant)",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)


def write_as_gamma_png(path, df, analysis: dict) -> pathlib.Path:
    """Left: U_λ(k) − max U_λ for linear skew against k/(λσ²T/2), one curve per λ, with A–S's
    time-averaged slope at 1 and GLFT's ω marked. Right: the A–S frontier traced by γ."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5), dpi=DPI)
    m = analysis["market"]
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(analysis["rows"])))
    floor = -1.0
    for c, row in zip(colors, analysis["rows"]):
        lam = row["lambda"]
        ls = df[(df["policy"] == "linear-skew") & np.isclose(df["gamma"].astype(float), lam)].sort_values("skew")
        if ls.empty:
            continue
        f = section_figures(jk_arrays(ls), None)
        u = f["pnl_mean"] - 0.5 * lam * f["pnl_var"]
        x = ls["skew"].to_numpy(float) / row["as_avg_slope"]
        a1.plot(x, u - np.nanmax(u), "o-", color=c, ms=3.5, label=f"λ = {lam:g}")
        near = (u - np.nanmax(u))[x <= 1.5]
        if near.size:
            floor = min(floor, float(np.nanmin(near)))
        if row["ls_best_skew"]:
            a1.axvline(row["ls_best_skew"] / row["as_avg_slope"], color=c, ls="--", lw=0.8)
        a1.plot(row["glft_omega"] / row["as_avg_slope"], 0.0, "v", color=c, ms=8)
    a1.axvline(1.0, color="k", lw=1.2, label="A–S: k = λσ²T/2")
    a1.set_xscale("log")
    a1.set_ylim(max(floor, -25.0) * 1.1, 0.5)
    a1.set_xlabel("linear skew k / (λσ²T/2)  (dashed: best k; ▼: GLFT ω)")
    a1.set_ylabel(f"U_λ(k) − max U_λ ({PNL_UNIT})")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=7)
    a_s = df[df["policy"] == "avellaneda-stoikov"].sort_values("gamma")
    x, y = _col(a_s, "pnl_std"), _col(a_s, "pnl_mean")
    a2.errorbar(
        x,
        y,
        xerr=_col(a_s, "pnl_std_se"),
        yerr=_col(a_s, "pnl_mean_se"),
        fmt="o-",
        ms=3.5,
        color="0.5",
        label="A–S, γ swept",
    )
    g = a_s["gamma"].to_numpy(float)
    for i in range(0, len(g), 3):
        a2.annotate(f"γ={g[i]:.3g}", (x[i], y[i]), textcoords="offset points", xytext=(4, 3), fontsize=7)
    for c, row in zip(colors, analysis["rows"]):
        gs = row["as_best_gamma"]
        if gs is None:
            continue
        xi = float(np.interp(math.log(gs), np.log(g), x))
        yi = float(np.interp(math.log(gs), np.log(g), y))
        a2.plot(xi, yi, "*", color=c, ms=13, label=f"best for λ = {row['lambda']:g}: γ* = {gs:.3g}")
    a2.set_xlabel(f"std of PnL ({PNL_UNIT})")
    a2.set_ylabel(f"mean PnL ({PNL_UNIT})")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7)
    fig.suptitle(
        f"as-gamma — preset as2008 (σ = {m['sigma']:g}, T = {m['T']:g}, k = {m['k']:g}, A = {m['A']:g}): "
        f"best points of U_λ = E[PnL] − (λ/2)·Var[PnL], λ in {LAMBDA_UNIT}",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)
