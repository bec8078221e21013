"""Commands on real market data: ``data inspect``, ``data convert`` and ``backtest``.

Every bad input (a missing or malformed file, a flag out of range) exits 2 with
one line naming the file and line or the flag; ``--out`` gets all files or none.
Loading shows a spinner and the replay a bar over events, on a terminal only and
never under ``--json`` (:mod:`flatbook.cli.progress`). A backtest's ``warnings``
are printed as ``warning: …`` lines on stderr (and kept in ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import build_config, check_int, load_toml, parse_set
from ..errors import InputError
from ..suggest import unknown
from . import output
from .common import (
    JsonOpt,
    OutOpt,
    ReportOpt,
    SetOpt,
    _check_report,
    _number,
    _print_json,
    _stdout,
    compiling,
    print_warnings,
)
from .policy_file import PolicyFileOpt, load_policy_files
from .progress import ProgressBar, spinner

if TYPE_CHECKING:
    from rich.console import JustifyMethod

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

data_app = typer.Typer(help="Market data: inspect or convert LOBSTER, Binance and generic files.", no_args_is_help=True)
# mounted as `flatbook data` by the root (flatbook.cli.root), after the commands, as typer lists groups

FormatOpt = Annotated[
    str, typer.Option("--format", metavar="FMT", help="auto, lobster, binance, generic or events (flatbook Parquet).")
]
TradesOpt = Annotated[
    str | None, typer.Option("--trades", metavar="FILE", help="Generic format: the trades file (CSV or Parquet).")
]
OnErrorOpt = Annotated[
    str, typer.Option("--on-error", metavar="POLICY", help="Malformed rows: fail (default) or skip (and count them).")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Parse the file again instead of reusing flatbook's parsed-data cache.")
]
ContractOpt = Annotated[
    str | None,
    typer.Option(
        "--contract",
        metavar="TYPE",
        help="linear or inverse (default: from the file; Binance COIN-M is inverse, every other file linear).",
    ),
]
ContractSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--contract-size",
        metavar="C",
        help="Inverse: price-currency units per contract (e.g. 100 for 100 USD); linear: the multiplier (default 1).",
    ),
]
SettlementOpt = Annotated[
    str | None,
    typer.Option(
        "--settlement",
        metavar="CUR",
        help="The currency PnL is settled in (default: the price unit for linear, "
        "the base asset for inverse contracts).",
    ),
]
LotOpt = Annotated[
    str | None,
    typer.Option(
        "--lot-size",
        metavar="LOT",
        help="The instrument's lot (smallest size step), instead of the one known "
        "for the source or inferred from the data.",
    ),
]


def _load(
    path: str,
    fmt: str,
    trades: str | None,
    on_error: str,
    no_cache: bool = False,
    *,
    contract: str | None = None,
    contract_size: str | None = None,
    settlement: str | None = None,
    lot_size: str | None = None,
    quiet: bool = False,
):
    """Load a data file (a spinner on a terminal unless ``quiet``), then apply the contract and
    lot flags (:meth:`~flatbook.data.events.EventTable.with_contract`)."""
    from ..data.events import CONTRACTS
    from ..data.load import load

    if contract is not None and contract not in CONTRACTS:  # flags checked before a long load
        raise unknown("--contract", "contract type", contract, CONTRACTS)
    csize = _number("--contract-size", contract_size)
    if csize is not None and not csize > 0:
        raise InputError(
            "--contract-size", f"got {contract_size!r}; allowed: a positive number (price-currency units per contract)"
        )
    lot = _number("--lot-size", lot_size)
    if lot is not None and not lot > 0:
        raise InputError("--lot-size", f"got {lot_size!r}; allowed: a positive number (quantity units)")
    with spinner(f"loading {Path(path).name}…", enabled=not quiet):
        ev = load(path, fmt=fmt, trades=trades, on_error=on_error, cache=not no_cache)
    ev = ev.with_contract(contract, csize, settlement)
    if lot is not None:
        ev = ev.with_meta(lot_size=float(lot), lot_inferred=False)
    return ev


def _streams_table(streams: dict):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text("streams in the file"), title_justify="left")
    cols: tuple[tuple[str, JustifyMethod], ...] = (
        ("stream", "left"),
        ("messages", "right"),
        ("used", "left"),
        ("note", "left"),
    )
    for col, just in cols:
        t.add_column(col, justify=just)
    for name, d in streams.items():
        t.add_row(Text(name), f"{d['messages']:,}", "yes" if d["used"] else "no", Text(d["note"]))
    return t


def _kv_table(title: str, rows: dict, units: dict[str, str] | None = None):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=Text(title), title_justify="left")
    t.add_column("key")
    t.add_column("value", justify="right")
    t.add_column("unit")
    for k, v in rows.items():
        if isinstance(v, float):
            v = f"{v:,.6g}"
        t.add_row(k, Text(str(v)), Text((units or {}).get(k, "")))
    return t


@data_app.command("inspect")
def data_inspect(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="LOBSTER zip, Binance .gz, generic CSV/Parquet quotes, or flatbook Parquet."
        ),
    ],
    fmt: FormatOpt = "auto",
    trades: TradesOpt = None,
    on_error: OnErrorOpt = "fail",
    no_cache: NoCacheOpt = False,
    contract: ContractOpt = None,
    contract_size: ContractSizeOpt = None,
    settlement: SettlementOpt = None,
    lot_size: LotOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Instrument, time span, tick size, contract, event counts, spread and volatility of a data file,
    and every stream (or file) it holds: which are used and which are ignored, and why."""
    from ..data.stats import inspect_events

    ev = _load(
        file,
        fmt,
        trades,
        on_error,
        no_cache,
        contract=contract,
        contract_size=contract_size,
        settlement=settlement,
        lot_size=lot_size,
        quiet=json_,
    )
    m = ev.meta
    info = {
        **inspect_events(ev),
        "lot_inferred": m.lot_inferred,
        "contract": m.contract,
        "contract_size": m.contract_size,
        "settlement_currency": m.settlement_currency,
    }
    if json_:
        _print_json({**info, "streams": m.streams})
    else:
        con = _stdout()
        con.print(
            _kv_table(
                f"data inspect — {file}",
                info,
                {
                    "duration_s": "s",
                    "tick_size": m.price_unit,
                    "lot_size": m.qty_unit,
                    "contract_size": m.price_unit if m.inverse else "",
                    "spread_mean_ticks": "ticks, time-weighted",
                    "spread_median_ticks": "ticks",
                    "mid_vol_annualized": "per √year",
                    "mid_vol_per_s": f"{m.price_unit} per √s",
                },
            )
        )
        if m.streams:
            con.print(_streams_table(m.streams))


@data_app.command("convert")
def data_convert(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Input data file.")],
    dest: Annotated[str, typer.Argument(metavar="DEST.parquet", help="Output: flatbook event Parquet.")],
    fmt: FormatOpt = "auto",
    trades: TradesOpt = None,
    on_error: OnErrorOpt = "fail",
    contract: ContractOpt = None,
    contract_size: ContractSizeOpt = None,
    settlement: SettlementOpt = None,
    lot_size: LotOpt = None,
) -> None:
    """Convert a data file to flatbook's columnar event Parquet (written atomically); the contract and
    lot flags are recorded in it."""
    if not dest.endswith(".parquet"):
        raise InputError("DEST", f"got {dest!r}; allowed: a path ending in .parquet")
    ev = _load(
        file,
        fmt,
        trades,
        on_error,
        contract=contract,
        contract_size=contract_size,
        settlement=settlement,
        lot_size=lot_size,
    )
    ev.to_parquet(dest)
    _stdout().print(f"wrote {dest}: {len(ev):,} events", markup=False, highlight=False)


# --------------------------------------------------------------------------- backtest


def _options(latency, feed_latency, order_latency, queue, min_requote_ms, refresh_ticks, seed):
    from ..backtest import BacktestOptions, Latency  # lazy: start-up (numba)

    both = latency if latency is not None else "0"
    return BacktestOptions(
        feed_latency=Latency.parse("--feed-latency-ms", feed_latency if feed_latency is not None else both),
        order_latency=Latency.parse("--order-latency-ms", order_latency if order_latency is not None else both),
        queue=queue,
        min_requote_ms=_number("--min-requote-ms", min_requote_ms, 0.0),
        refresh_ticks=_number("--refresh-ticks", refresh_ticks, 1.0),
        seed=check_int("--seed", seed if seed is not None else 0, 0, 2**63 - 1),
    )


def _write_backtest(tmp: Path, res, obj: dict) -> list[str]:
    import numpy as np
    import pandas as pd

    from ..backtest.summaries import figure_series
    from ..report.six_panel import write_six_panel

    (tmp / "summary.json").write_text(output.dumps(obj) + "\n", encoding="utf-8")
    fills = pd.DataFrame({k: np.asarray(v) for k, v in res.fills.items()})
    fills.insert(0, "time", pd.to_datetime(fills["ts"], unit="ns", utc=True))
    fills.to_parquet(tmp / "fills.parquet", index=False, engine="pyarrow")
    path = pd.DataFrame({k: res.path[k] for k in ("ts", "mid", "bid", "ask", "q", "pnl")})
    path.insert(0, "time", pd.to_datetime(path["ts"], unit="ns", utc=True))
    path.to_parquet(tmp / "inventory.parquet", index=False, engine="pyarrow")
    v = res.config.values
    title = (
        f"flatbook backtest — {res.meta['data']['instrument']}, policy {res.config.policy}\n"
        f"{res.summary['events']:,} events, {res.summary['fills']:,} fills; "
        f"latency feed {res.options.feed_latency.describe()}, order {res.options.order_latency.describe()}; "
        f"queue {res.options.queue}"
    )
    write_six_panel(
        tmp / "six_panel.png",
        figure_series(res),
        limit=v["limit"],
        zones=(v["yellow"], v["red"], v["critical"]),
        q_target=v["q_target"],
        title=title,
        time_unit="s",
        hist_title="Inventory at evenly spaced events",
        hist_ylabel="count (events)",
        price_unit=res.meta["data"]["price_unit"],
        qty_unit=res.meta["data"]["qty_unit"],
        pnl_unit=res.meta["data"]["settlement_currency"],
        tick=res.meta["data"]["tick_size"],
    )
    return ["summary.json", "fills.parquet", "inventory.parquet", "six_panel.png"]


@app.command()
def backtest(
    data: Annotated[str, typer.Argument(metavar="DATA", help="Market data file (see 'flatbook data inspect').")],
    policy: Annotated[
        str, typer.Option("--policy", metavar="NAME", help="Quoting policy; see 'flatbook policies'.")
    ] = "linear-skew",
    set_: SetOpt = None,
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="FILE.toml", help="TOML file with a params table; flags override it."),
    ] = None,
    latency: Annotated[
        str | None,
        typer.Option(
            "--latency-ms", metavar="SPEC", help="Feed and order latency, ms: 5, exp:5, uniform:2,8, lognormal:5,0.5."
        ),
    ] = None,
    feed_latency: Annotated[
        str | None,
        typer.Option("--feed-latency-ms", metavar="SPEC", help="Market data latency (overrides --latency-ms)."),
    ] = None,
    order_latency: Annotated[
        str | None,
        typer.Option("--order-latency-ms", metavar="SPEC", help="Order entry latency (overrides --latency-ms)."),
    ] = None,
    queue: Annotated[
        str, typer.Option("--queue", metavar="MODEL", help="Cancels ahead of us: prorata or prob.")
    ] = "prorata",
    min_requote_ms: Annotated[
        str | None, typer.Option("--min-requote-ms", metavar="MS", help="Minimum time between requotes (default 0).")
    ] = None,
    refresh_ticks: Annotated[
        str | None,
        typer.Option(
            "--refresh-ticks", metavar="N", help="Re-send a side only if its price moves N ticks (default 1)."
        ),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", metavar="S", help="Seed of latency and queue draws (default 0).")
    ] = None,
    fmt: FormatOpt = "auto",
    trades: TradesOpt = None,
    on_error: OnErrorOpt = "fail",
    no_cache: NoCacheOpt = False,
    contract: ContractOpt = None,
    contract_size: ContractSizeOpt = None,
    settlement: SettlementOpt = None,
    lot_size: LotOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    policy_file: PolicyFileOpt = None,
) -> None:
    """Replay a policy with its controls against real quotes and trades (queue position, latency, fees).

    Money is in the contract's settlement currency (BTC for Binance COIN-M, with its USD value in
    ``pnl_final_quote``); warnings (0 fills, quotes far outside the market) go to stderr."""
    from ..backtest import engine, replay_config, run_backtest
    from ..backtest.backtester import warm_up
    from ..backtest.summaries import flat_summary, table_units

    load_policy_files(policy_file)
    opts = _options(latency, feed_latency, order_latency, queue, min_requote_ms, refresh_ticks, seed)
    overrides = {**(load_toml(config)[1] if config is not None else {}), **parse_set(set_)}
    build_config("replay", policy, {k: v for k, v in overrides.items()}, paths=1)  # flags checked before loading
    out_dir = output.check_out_dir(out) if out is not None else None
    report_path = _check_report(report)
    ev = _load(
        data,
        fmt,
        trades,
        on_error,
        no_cache,
        contract=contract,
        contract_size=contract_size,
        settlement=settlement,
        lot_size=lot_size,
        quiet=json_,
    )
    cfg = replay_config(ev, policy, overrides, seed=opts.seed)
    with compiling([engine.replay], enabled=not json_) as need:
        if need:
            warm_up()
    with ProgressBar(len(ev), description="replaying", unit="events", enabled=not json_) as bar:
        res = run_backtest(ev, cfg, opts, progress=(lambda done, total: bar.update(done)) if bar.enabled else None)
    obj = output.jsonable(
        {**res.summary, "data": res.meta["data"], "options": res.meta["options"], "config": res.meta["config"]}
    )
    if out_dir is not None:
        output.publish_dir(out_dir, lambda tmp: _write_backtest(tmp, res, obj))
    if report_path is not None:
        from ..report.html import backtest_report, write_report

        write_report(report_path, backtest_report(res, obj))
    print_warnings(res.summary.get("warnings"))
    if json_:
        _print_json(obj)
    else:
        con = _stdout()
        con.print(
            _kv_table(
                f"backtest {policy} — {ev.meta.instrument}",
                flat_summary(res.summary),
                table_units(res.summary, ev.meta),
            )
        )
        if out_dir is not None:
            con.print(f"wrote {out_dir}", markup=False, highlight=False)
        if report_path is not None:
            con.print(f"wrote {report_path}", markup=False, highlight=False)


#: names that moved to :mod:`flatbook.backtest.summaries`, still importable from here (PEP 562;
#: lazy: start-up, as that module imports the backtester and numba)
_MOVED = {"_figure_series": "figure_series", "_flat": "flat_summary", "_units": "table_units"}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        from ..backtest import summaries

        return getattr(summaries, _MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
