"""``flatbook calibrate``: σ, A and k (with confidence intervals) from real data, and optionally γ.

Bad input exits 2 with one line naming the flag or the file.
"""
from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import typer

from ..errors import InputError
from .app import JsonOpt, _number, _print_json, _stdout, app
from .replay_cmds import FormatOpt, NoCacheOpt, OnErrorOpt, TradesOpt, _load


# --------------------------------------------------------------------------- calibrate

@app.command()
def calibrate(
    data: Annotated[str, typer.Argument(metavar="DATA", help="Market data file (see 'flatbook data inspect').")],
    target_q_std: Annotated[str | None, typer.Option("--target-q-std", metavar="LOTS", help="Suggest γ for this std of final inventory, in lots of one fill (the simulator fills one lot at a time).")] = None,
    policy: Annotated[str, typer.Option("--policy", metavar="NAME", help="Policy for the γ suggestion and the Stoll/OU fits: avellaneda-stoikov or glft.")] = "avellaneda-stoikov",
    time_unit_s: Annotated[str | None, typer.Option("--time-unit-s", metavar="S", help="Seconds per time unit of the printed parameters (default 1).")] = None,
    horizon: Annotated[str | None, typer.Option("--horizon", metavar="T", help="Horizon T for the γ suggestion, in time units (default: the data's span).")] = None,
    inventory: Annotated[str | None, typer.Option("--inventory", metavar="FILE.parquet", help="A backtest's inventory path (backtest --out DIR writes DIR/inventory.parquet): adds the Stoll γ and the OU fit.")] = None,
    fmt: FormatOpt = "auto",
    trades: TradesOpt = None,
    on_error: OnErrorOpt = "fail",
    no_cache: NoCacheOpt = False,
    json_: JsonOpt = False,
) -> None:
    """σ, A and k (with confidence intervals) from real data, in the units the policies take; optionally γ."""
    from ..calibrate.calibration import calibrate as run_calibration

    if policy not in ("avellaneda-stoikov", "glft"):
        raise InputError("--policy", f"got {policy!r}; allowed: avellaneda-stoikov, glft")
    unit_s = _number("--time-unit-s", time_unit_s, 1.0)
    if not unit_s > 0:
        raise InputError("--time-unit-s", f"got {time_unit_s}; allowed: a number > 0 (seconds)")
    target = _number("--target-q-std", target_q_std)
    if target is not None and not target > 0:
        raise InputError("--target-q-std", f"got {target_q_std}; allowed: a number > 0")
    hz = _number("--horizon", horizon)
    if hz is not None and not hz > 0:
        raise InputError("--horizon", f"got {horizon}; allowed: a number > 0 (time units)")
    ev = _load(data, fmt, trades, on_error, no_cache)
    if hz is None and target is not None:
        hz = max((int(ev.ts[-1]) - int(ev.ts[0])) / 1e9 / unit_s, 1e-9) if len(ev) > 1 else 1.0
    inv = _read_inventory(inventory) if inventory is not None else None
    res = run_calibration(ev, time_unit_s=unit_s, target_q_std=target, policy=policy, T=hz,
                          inventory=None if inv is None else (inv["ts"], inv["q"]))
    if inv is not None:
        from ..calibrate.stoll_gamma import stoll_gamma_from_quotes

        st = stoll_gamma_from_quotes(inv["q"], inv["bid"], inv["ask"], inv["mid"])
        res["stoll"] = st.as_dict()
        if st.ok:
            res.setdefault("set", {})["stoll_gamma"] = st.stoll_gamma
    if json_:
        _print_json(res)
        return
    con = _stdout()
    for table in _calibrate_tables(ev, res, unit_s):
        con.print(table)
    for line in (res.get("gamma") or {}).get("reasoning", []) or []:
        con.print(line, markup=False, highlight=False)
    for line in res.get("warnings", []) or []:
        con.print(f"warning: {line}", markup=False, highlight=False)
    sets = {k: v for k, v in (res.get("set") or {}).items() if isinstance(v, (int, float))}
    if sets:
        con.print("use: " + " ".join(f"--set {k}={v:.6g}" for k, v in sets.items()), markup=False, highlight=False)


INVENTORY_COLUMNS = ("ts", "q", "bid", "ask", "mid")


def _read_inventory(path: str) -> dict[str, np.ndarray]:
    """Columns ts (int64 ns), q, bid, ask, mid of a backtest's inventory.parquet."""
    import pyarrow.parquet as pq

    from ..data.generic import check_file

    p = check_file(path)
    try:
        table = pq.read_table(p)
    except (OSError, ValueError) as exc:
        raise InputError("--inventory", f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in INVENTORY_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError("--inventory", f"{path}: missing columns {', '.join(missing)}; expected "
                                        f"{', '.join(INVENTORY_COLUMNS)} (as written by backtest --out)")
    out = {c: table.column(c).to_numpy() for c in INVENTORY_COLUMNS}
    if out["ts"].dtype.kind not in "iu" or out["ts"].size < 3:
        raise InputError("--inventory", f"{path}: need at least 3 rows with integer ns timestamps")
    return out


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
        t.add_row("σ", f"{vol['sigma_per_time_unit']:.6g} ± {vol['sigma_se'] * math.sqrt(unit_s):.2g}", f"{pu} per √({tu})")
        t.add_row("σ per day", f"{vol['sigma_day']:.6g}", f"{pu} per √day")
        t.add_row("σ annualised (log)", f"{vol['sigma_log_annual']:.4g}", "per √year (365.25 days)")
        t.add_row("increments", f"{vol['n']:,}", f"on a {vol['grid_s']:g} s grid")
    else:
        t.add_row("σ", "refused", str(vol.get("reason")))
    tables = [t]
    it = res.get("intensity") or {}
    t2 = Table(title=Text("fill intensity λ(δ) = A·e^(−kδ), 95% intervals"), title_justify="left")
    for c in ("side", "A (per " + tu + ")", f"k (per {pu})", "orders", "status"):
        t2.add_column(c)
    for side in ("bid", "ask", "pooled"):
        d = it.get(side) or {}
        t2.add_row(side, _ci(d, "A"), _ci(d, "k"), str(d.get("n_trades", "—")),
                   "ok" if d.get("ok") else f"refused: {d.get('reason')}")
    tables.append(t2)
    g = res.get("gamma")
    if g:
        t3 = Table(title=Text("suggested γ"), title_justify="left")
        for c in ("γ", "achieved std", "status"):
            t3.add_column(c)
        t3.add_row(f"{g['gamma']:.6g}" if g.get("gamma") is not None else "—",
                   f"{g['achieved']:.4g} ± {g['achieved_se']:.2g}" if g.get("achieved") is not None else "—",
                   "ok" if g.get("ok") else f"refused: {g.get('reason')}")
        tables.append(t3)
    st, ou = res.get("stoll"), res.get("inventory_ou")
    if st or ou:
        t4 = Table(title=Text("from the backtest's inventory path"), title_justify="left")
        for c in ("estimate", "value", "unit"):
            t4.add_column(c)
        if st:
            t4.add_row("Stoll γ (stoll_gamma)", f"{st['stoll_gamma']:.6g} ± {st['stoll_gamma_se']:.2g}" if st.get("ok")
                       else f"refused: {st.get('reason')}", f"{pu} per lot")
        if ou:
            for k, v in ou.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    t4.add_row(f"OU {k}", f"{v:.6g}", "")
        tables.append(t4)
    return tables
