"""Spot inventory hedged in the perpetual: the hedge relationship from two real captures.

Loads Binance spot BTCUSDT (the inventory S) and the USDⓈ-M BTCUSDT perpetual (the
hedge H), captured over the same minutes on 2024-08-08 (``../shared/data/binance``,
see PROVENANCE.md there), estimates β, ρ, σ_S, σ_H, σ_b and the minimum-variance
hedge ratio h* with :func:`flatbook.hedging.basis.estimate_basis`, fits the basis
H − β·S as an Ornstein–Uhlenbeck process (half-life, σ_b, with standard errors) with
:func:`flatbook.hedging.basis.estimate_basis_ou`, and prints the ``--set`` line to paste
into ``flatbook simulate --preset hedging`` (time unit 1 s).

    python examples/basis_spot_perp.py [--inventory FILE] [--hedge FILE] [--grid-s 1] [--time-unit-s 1] [--beta 1]

Exits 2 with one line on bad input (a missing file, too short an overlap, …).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "binance"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--inventory",
        type=Path,
        default=DATA / "spot_btcusdt_20240808.gz",
        help="market data of the inventory instrument S (any format flatbook loads)",
    )
    ap.add_argument(
        "--hedge", type=Path, default=DATA / "usdm_btcusdt_20240808.gz", help="market data of the hedge instrument H"
    )
    ap.add_argument("--grid-s", type=float, default=1.0, help="sampling grid Δ, seconds (default 1)")
    ap.add_argument(
        "--time-unit-s",
        type=float,
        default=1.0,
        help="seconds per simulator time unit: σs are per √time unit (default 1)",
    )
    ap.add_argument("--lag-steps", type=int, default=0, help="sample H this many grid steps after S (default 0)")
    ap.add_argument(
        "--beta",
        type=float,
        default=1.0,
        help="β of the OU basis H − β·S, given (default 1: spot and its perpetual, tied by funding)",
    )
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from flatbook.data.load import load
    from flatbook.errors import InputError
    from flatbook.hedging.basis import estimate_basis, estimate_basis_ou

    try:
        s_ev, h_ev = load(args.inventory), load(args.hedge)
        est = estimate_basis(s_ev, h_ev, grid_s=args.grid_s, time_unit_s=args.time_unit_s, lag_steps=args.lag_steps)
        ou = estimate_basis_ou(
            s_ev, h_ev, beta=args.beta, grid_s=args.grid_s, time_unit_s=args.time_unit_s, lag_steps=args.lag_steps
        )
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    s_name, h_name = s_ev.meta.instrument, h_ev.meta.instrument
    per = f"per √({args.time_unit_s:g} s)"
    t = Table(
        title=f"inventory S = {s_name}, hedge H = {h_name}: {est.n} increments of "
        f"{est.grid_s:g} s over {est.span_s:g} s"
    )
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    t.add_column("uncertainty", justify="right")
    t.add_column("unit")
    rows = [
        ("β (ΔH on ΔS)", f"{est.beta:.4f}", f"± {est.beta_se:.4f} (robust ± {est.beta_se_hc:.4f})", "×"),
        ("ρ", f"{est.rho:.4f}", f"95% CI [{est.rho_lo:.4f}, {est.rho_hi:.4f}]", "-"),
        ("σ_S", f"{est.sigma_s:.4g}", f"± {est.sigma_s_se:.2g}", f"price units (S) {per}"),
        ("σ_H", f"{est.sigma_h:.4g}", f"± {est.sigma_h_se:.2g}", f"price units (H) {per}"),
        ("σ_b (basis noise)", f"{est.sigma_b:.4g}", f"± {est.sigma_b_se:.2g}", f"price units (H) {per}"),
        (
            "h* = Cov(ΔS,ΔH)/Var(ΔH)",
            f"{est.hedge_ratio:.4f}",
            f"± {est.hedge_ratio_se:.4f} (robust ± {est.hedge_ratio_se_hc:.4f})",
            "units of H per unit of S",
        ),
        ("variance reduction (ρ²)", f"{est.variance_reduction:.4f}", "", "fraction"),
        ("basis H − S, mean", f"{est.basis_mean:.4g}", "", "price units"),
        ("basis H − S, std", f"{est.basis_std:.4g}", "", "price units"),
        (
            "best lag (max |corr|)",
            f"{est.best_lag:d}",
            f"corr {est.lag_corr[est.best_lag]:.3f}",
            f"grid steps ({est.grid_s:g} s; > 0: H lags S)",
        ),
    ]
    for r in rows:
        t.add_row(*r)
    con = Console(width=max(Console().width, 110))
    con.print(t)
    print("corr(ΔS_i, ΔH_i+lag): " + ", ".join(f"{k:+d}: {v:.3f}" for k, v in est.lag_corr.items()))
    if est.best_lag != est.lag_steps:
        print(
            f"warning: the correlation peaks at lag {est.best_lag}, not {est.lag_steps}: "
            f"the clocks may be offset; try --lag-steps {est.best_lag} or a coarser --grid-s"
        )
    drift = est.sigma_b * math.sqrt(est.span_s / est.time_unit_s)
    if drift > 3 * est.basis_std:
        print(
            f"note: a random-walk basis with this σ_b would wander ±{drift:.3g} over the window, the "
            f"basis std was {est.basis_std:.3g}: the basis mean-reverts, σ_b depends on --grid-s "
            "(use Δ near the hedge's holding time)"
        )
    con.print(_ou_table(ou))
    print(
        "autocorrelation of the basis level at lag k (grid steps): data / OU fit φ^k: "
        + ", ".join(f"{k}: {ou.acf[k]:.3f} / {ou.acf_fit[k]:.3f}" for k in ou.acf)
    )
    slow = [k for k in ou.acf if k > 1 and ou.acf[k] - ou.acf_fit[k] > 2.0 / math.sqrt(ou.n)]
    if slow:
        print(
            f"note: at lags {', '.join(map(str, slow))} the basis stays correlated longer than one OU allows "
            f"(beyond ±2/√n = ±{2.0 / math.sqrt(ou.n):.2f}): it also has a slower component; refit with a "
            "coarser --grid-s to see it"
        )
    # the OU reverts to its start hedge_s0 − β·s0, so the start is put at the fitted level b̄
    line = {
        "sigma": est.params["sigma"],
        "s0": est.params["s0"],
        **ou.params,
        "hedge_s0": ou.beta * est.params["s0"] + ou.mean,
    }
    unit = "1 s" if args.time_unit_s == 1 else f"{args.time_unit_s:g} s"
    print(f"paste (time unit {unit}; the hedging preset's is 1 s):")
    print("  flatbook simulate --preset hedging " + " ".join(f"--set {k}={v:.8g}" for k, v in line.items()))
    print("  the 'basis breaks' stress case (a random walk): add --set hedge_basis_halflife=inf")
    return 0


def _ou_table(ou):
    """The OU fit of the basis b = H − β·S: estimates ± standard errors, with units."""
    from rich.table import Table

    tu = f"{ou.time_unit_s:g} s" if ou.time_unit_s != 1 else "s"
    t = Table(
        title=f"basis b = H − {ou.beta:g}·S, Ornstein–Uhlenbeck db = −κ(b − b̄)dt + σ_b dW: "
        f"{ou.n} steps of {ou.grid_s:g} s"
    )
    t.add_column("quantity")
    t.add_column("estimate", justify="right")
    t.add_column("± SE", justify="right")
    t.add_column("unit")
    for name, v, se, u in (
        ("half-life ln2/κ", ou.half_life, ou.half_life_se, f"time units ({tu})"),
        ("κ (reversion rate)", ou.kappa, ou.kappa_se, f"per time unit ({tu})"),
        ("φ = e^(−κΔ) (AR(1) on the grid)", ou.phi, ou.phi_se, "-"),
        ("σ_b (diffusion)", ou.sigma, ou.sigma_se, f"price units (H) per √({tu})"),
        ("stationary std σ_b/√(2κ)", ou.stationary_std, ou.stationary_std_se, "price units (H)"),
        ("level b̄", ou.mean, None, "price units (H)"),
        ("sample std of b", ou.level_std, None, "price units (H)"),
    ):
        t.add_row(name, f"{v:.4g}", "" if se is None else f"{se:.2g}", u)
    return t


if __name__ == "__main__":
    sys.exit(main())
