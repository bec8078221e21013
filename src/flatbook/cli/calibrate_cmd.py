"""``flatbook calibrate``: σ, A and k (with confidence intervals) from real data, and optionally γ.

With ``--target-q-std`` it suggests a complete ``--set`` line for ``flatbook backtest`` on
the same data (avellaneda-stoikov's stationary variant with its horizon, or glft; quote
size and limit), replays it once and reports what the replay did. Bad input exits 2 with
one line naming the flag or the file. Long work shows a spinner on a terminal (not under
``--json``, not when piped).
"""

from __future__ import annotations

import math
import shlex
from typing import Annotated

import typer

from .. import api
from ..errors import InputError
from ..suggest import unknown
from .common import JsonOpt, _number, _print_json, _stdout, flag_errors, needs_compiling, print_warnings
from .progress import spinner
from .replay_cmds import FormatOpt, NoCacheOpt, OnErrorOpt, TradesOpt, _load

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it


# --------------------------------------------------------------------------- calibrate


@app.command()
def calibrate(
    data: Annotated[str, typer.Argument(metavar="DATA", help="Market data file (see 'flatbook data inspect').")],
    target_q_std: Annotated[
        str | None,
        typer.Option(
            "--target-q-std",
            metavar="QTY",
            help="Suggest γ for this std of inventory, in the data's quantity units (e.g. BTC), the backtest's q_std.",
        ),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            metavar="NAME",
            help="Policy for the γ suggestion and the Stoll/OU fits: avellaneda-stoikov or glft.",
        ),
    ] = "avellaneda-stoikov",
    time_unit_s: Annotated[
        str | None,
        typer.Option("--time-unit-s", metavar="S", help="Seconds per time unit of the printed parameters (default 1)."),
    ] = None,
    horizon: Annotated[
        str | None,
        typer.Option(
            "--horizon",
            metavar="TAU",
            help="avellaneda-stoikov: the rolling horizon τ of its stationary variant, in time units (default 60 s).",
        ),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(
            "--size",
            metavar="QTY",
            help="Quote size for the γ suggestion, quantity units (default the backtest's: 100 lots).",
        ),
    ] = None,
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit",
            metavar="QTY",
            help="Hard limit on |q| for the γ suggestion, quantity units (default the backtest's: 20 × 100 lots).",
        ),
    ] = None,
    paths: Annotated[
        str | None, typer.Option("--paths", metavar="N", help="Simulated paths per γ in the γ search (default 200).")
    ] = None,
    inventory: Annotated[
        str | None,
        typer.Option(
            "--inventory",
            metavar="FILE.parquet",
            help="A backtest's inventory path (backtest --out DIR writes DIR/inventory.parquet): adds the Stoll γ and the OU fit.",
        ),
    ] = None,
    fmt: FormatOpt = "auto",
    trades: TradesOpt = None,
    on_error: OnErrorOpt = "fail",
    no_cache: NoCacheOpt = False,
    json_: JsonOpt = False,
) -> None:
    """σ, A and k (with confidence intervals) from real data, in the units the policies take; optionally γ."""
    if policy not in ("avellaneda-stoikov", "glft"):
        raise unknown("--policy", "policy", policy, ("avellaneda-stoikov", "glft"))
    unit_s = _number("--time-unit-s", time_unit_s, 1.0)
    if not (math.isfinite(unit_s) and unit_s > 0):
        raise InputError("--time-unit-s", f"got {time_unit_s}; allowed: a number > 0 (seconds)")
    target = _positive("--target-q-std", target_q_std, "quantity units")
    hz = _positive("--horizon", horizon, "time units")
    if hz is not None and policy != "avellaneda-stoikov":
        raise InputError("--horizon", f"{policy} has no horizon; it goes with --policy avellaneda-stoikov")
    qty = _positive("--size", size, "quantity units")
    lim = _positive("--limit", limit, "quantity units")
    n_paths = _number("--paths", paths, 200.0)
    if not (n_paths == int(n_paths) and 2 <= n_paths <= 100_000):
        raise InputError("--paths", f"got {paths}; allowed: an integer from 2 to 100000")
    if (hz is not None or qty is not None or lim is not None or paths is not None) and target is None:
        raise InputError(
            "--target-q-std",
            "--horizon, --size, --limit and --paths shape the γ suggestion, which needs --target-q-std",
        )
    ev = _load(data, fmt, trades, on_error, no_cache, quiet=json_)
    compile_note = " — compiling kernels (first run only)…" if needs_compiling("simulate") else ""
    with spinner("calibrate: fitting σ, A and k…", enabled=not json_) as sp, flag_errors({"inventory": "--inventory"}):

        def status(line: str) -> None:
            sp.update(description=f"calibrate: {line}" + (compile_note if "simulation 1," in line else ""))

        result = api.calibrate(
            ev,
            time_unit_s=unit_s,
            target_q_std=target,
            policy=policy,
            horizon=hz,
            size=qty,
            limit=lim,
            paths=int(n_paths),
            inventory=inventory,
            progress=status,
        )
    print_warnings(result.warnings)
    if json_:
        _print_json(result)
        return
    res = result.summary_object()
    con = _stdout()
    for table in _calibrate_tables(ev, res, unit_s):
        con.print(table)
    for line in (res.get("gamma") or {}).get("reasoning", []) or []:
        con.print(line, markup=False, highlight=False)
    sets = res.get("backtest_set") or res.get("set") or {}
    if sets:
        args = " ".join(f"--set {k}={v:.6g}" if isinstance(v, float) else f"--set {k}={v}" for k, v in sets.items())
        if res.get("backtest_set"):  # the whole backtest command the suggestion was checked with (1 s units)
            src = " ".join(
                shlex.quote(str(a))
                for a in (
                    data,
                    *(("--format", fmt) if fmt != "auto" else ()),
                    *(("--trades", trades) if trades else ()),
                    *(("--on-error", on_error) if on_error != "fail" else ()),
                )
            )
            args = f"flatbook backtest {src} --policy {policy} {args}"
        con.print(f"use: {args}", markup=False, highlight=False, soft_wrap=True)


def _positive(flag: str, raw: str | None, unit: str) -> float | None:
    """``raw`` as a finite number > 0, or None when not given; else :class:`InputError` naming ``flag``."""
    v = _number(flag, raw)
    if v is not None and not (math.isfinite(v) and v > 0):
        raise InputError(flag, f"got {raw}; allowed: a finite number > 0 ({unit})")
    return v


def _ci(d: dict, key: str) -> str:
    v, lo, hi = d.get(key), d.get(f"{key}_lo"), d.get(f"{key}_hi")
    if v is None:
        return "—"
    return f"{v:.6g}" + (f"  [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else "")


def _calibrate_tables(ev, res: dict, unit_s: float) -> list:
    from rich.table import Table
    from rich.text import Text

    pu = ev.meta.price_unit
    tu = f"{unit_s:g} s"
    vol = res.get("volatility") or {}
    t = Table(title=Text(f"calibrate — {ev.meta.instrument}: volatility"), title_justify="left")
    for c in ("estimate", "value", "unit"):
        t.add_column(c, justify="right" if c == "value" else "left")
    if vol.get("ok"):
        t.add_row(
            "σ", f"{vol['sigma_per_time_unit']:.6g} ± {vol['sigma_se'] * math.sqrt(unit_s):.2g}", f"{pu} per √({tu})"
        )
        t.add_row("σ per day", f"{vol['sigma_day']:.6g}", f"{pu} per √day")
        t.add_row("σ annualised (log)", f"{vol['sigma_log_annual']:.4g}", "per √year (365.25 days)")
        t.add_row("increments", f"{vol['n']:,}", f"on a {vol['grid_s']:g} s grid")
    else:
        t.add_row("σ", "refused", str(vol.get("reason")))
    tables = [t]
    it = res.get("intensity") or {}
    t2 = Table(title=Text("fill intensity λ(δ) = A·e^(−kδ), 95% intervals"), title_justify="left")
    for c in ("fit", "A (per " + tu + ")", f"k (per {pu})", "orders", "status"):
        t2.add_column(c)
    rows = [
        (side, f"{side}, above the touch" if side != "pooled" else "both sides, above the touch")
        for side in ("bid", "ask", "pooled")
    ]
    d = it.get("touch")
    if d:
        top = d["floor"] + d["window"] * d["lattice"] if d.get("ok") else math.nan
        rows.append(
            ("touch", f"both sides, near the touch (δ ≤ {top:.4g})" if d.get("ok") else "both sides, near the touch")
        )
    law = res.get("quoting_law")
    for side, label in rows:
        d = it.get(side) or {}
        mark = " ← suggested" if side == law else ""
        t2.add_row(
            label,
            _ci(d, "A"),
            _ci(d, "k"),
            str(d.get("n_trades", "—")),
            ("ok" if d.get("ok") else f"refused: {d.get('reason')}") + mark,
        )
    tables.append(t2)
    g = res.get("gamma")
    if g:
        t3 = Table(title=Text(f"suggested γ, for the backtest's q_std ({ev.meta.qty_unit})"), title_justify="left")
        for c in ("γ", "simulated std", "run", "status"):
            t3.add_column(c)
        run = g.get("run") or {}
        ov = run.get("overrides") or {}
        what = (f"{ov.get('variant', '')} horizon τ = {run['horizon']:g} × {tu}, " if "horizon" in run else "") + (
            f"size {ov['size']:g}, limit {ov['limit']:g}, T = {run['T']:g} × {tu}" if ov else ""
        )
        t3.add_row(
            f"{g['gamma']:.6g}" if g.get("gamma") is not None else "—",
            f"{g['achieved']:.4g} ± {g['achieved_se']:.2g}" if g.get("achieved") is not None else "—",
            what,
            "ok" if g.get("ok") else f"refused: {g.get('reason')}",
        )
        tables.append(t3)
    chk = res.get("backtest_check")
    if chk:
        t5 = Table(title=Text("backtest check: the suggestion replayed on this data (latency 0)"), title_justify="left")
        for c in (
            "fills",
            f"mean spread ({pu})",
            f"market spread ({pu})",
            f"quote depth ({pu})",
            f"q_std ({ev.meta.qty_unit})",
            "pnl_final",
        ):
            t5.add_column(c)
        f = lambda x, p=".4g": "—" if x is None else f"{x:{p}}"  # noqa: E731
        t5.add_row(
            f"{chk['fills']:,}",
            f(chk["spread_mean"]),
            f(chk["market_spread_mean"]),
            f(chk["quote_depth_mean"]),
            f(chk["q_std"]),
            f(chk["pnl_final"], ",.6g"),
        )
        tables.append(t5)
    st, ou = res.get("stoll"), res.get("inventory_ou")
    if st or ou:
        t4 = Table(title=Text("from the backtest's inventory path"), title_justify="left")
        for c in ("estimate", "value", "unit"):
            t4.add_column(c)
        if st:
            t4.add_row(
                "Stoll γ (stoll_gamma)",
                f"{st['stoll_gamma']:.6g} ± {st['stoll_gamma_se']:.2g}"
                if st.get("ok")
                else f"refused: {st.get('reason')}",
                f"{pu} per lot",
            )
        if ou:
            for k, v in ou.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    t4.add_row(f"OU {k}", f"{v:.6g}", "")
        tables.append(t4)
    return tables
