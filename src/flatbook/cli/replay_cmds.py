"""Commands on real market data: ``data inspect``, ``data convert`` and ``backtest``.

Every bad input (a missing or malformed file, a flag out of range) exits 2 with
one line naming the file and line or the flag; ``--out`` gets all files or none.
Loading shows a spinner and the replay a bar over events, on a terminal only and
never under ``--json`` (:mod:`flatbook.cli.progress`). A backtest's ``warnings``
are printed as ``warning: …`` lines on stderr (and kept in ``--json``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import api
from ..config import load_toml, parse_set
from ..errors import InputError
from ..suggest import unknown
from . import output
from .batch_run import backtest_many, is_batch
from .common import (
    JsonOpt,
    OutOpt,
    ReportOpt,
    SetOpt,
    _check_report,
    _number,
    _print_json,
    _stdout,
    _write,
    _wrote,
    compiling,
    flag_errors,
    print_warnings,
    warm_up,
)
from .policy_file import PolicyFileOpt, load_policy_files
from .progress import ProgressBar, spinner

if TYPE_CHECKING:
    from rich.console import JustifyMethod

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

data_app = typer.Typer(help="Market data: inspect or convert LOBSTER, Binance and generic files.", no_args_is_help=True)
# mounted as `flatbook data` by the root (flatbook.cli.root), after the commands, as typer lists groups

FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="FMT",
        help="auto, lobster, binance, generic, hftbacktest (.npz), tardis (CSV, a directory or a comma list) "
        "or events (flatbook Parquet).",
    ),
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
BookOpt = Annotated[
    str,
    typer.Option(
        "--book",
        metavar="BOOK",
        help="Binance: touch (bookTicker + trades, default) or depth (also the full-depth book from the REST "
        "snapshot and the depth stream).",
    ),
]
OnGapOpt = Annotated[
    str,
    typer.Option(
        "--on-gap",
        metavar="POLICY",
        help="--book depth: a sequence gap in the depth stream is resynced from the next snapshot (resync, "
        "default; warned about) or refused (fail).",
    ),
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


ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        metavar="MAP",
        help="Generic format: our column names mapped to the file's, e.g. ts=time,bid=best_bid,ask=best_ask "
        "(timestamp/ts, bid, ask, bid_size, ask_size, price, quantity, side, code).",
    ),
]
TimeUnitOpt = Annotated[
    str | None,
    typer.Option(
        "--time-unit",
        metavar="UNIT",
        help="Generic format: the unit of numeric timestamps, s, ms, us, ns (default) or auto (from their magnitude).",
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
    book: str = "touch",
    on_gap: str = "resync",
    columns: str | None = None,
    time_unit: str | None = None,
):
    """Load a data file with :func:`flatbook.load_data` (a spinner on a terminal unless ``quiet``), the contract
    and lot flags applied (:meth:`~flatbook.data.events.EventTable.with_contract`); ``--book``/``--on-gap``
    choose the Binance book (a depth stream's sequence gaps print as ``warning:`` lines)."""
    from ..api.replay import CONTRACTS, DepthGapWarning  # lazy: start-up (the backtester)

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
    with (
        spinner(f"loading {Path(path).name}…", enabled=not quiet),
        flag_errors(_LOAD_FLAGS),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", DepthGapWarning)
        ev = api.load_data(
            path,
            format=fmt,
            trades=trades,
            on_error=on_error,
            cache=not no_cache,
            contract=contract,
            contract_size=csize,
            settlement=settlement,
            lot_size=lot,
            book=book,
            on_gap=on_gap,
            columns=columns,
            time_unit=time_unit,
        )
    print_warnings([str(w.message) for w in caught if issubclass(w.category, DepthGapWarning)])
    for w in caught:  # any other warning as Python would have shown it
        if not issubclass(w.category, DepthGapWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ev


#: the API's keywords → the flags, in errors
_LOAD_FLAGS = {
    "format": "--format",
    "on_error": "--on-error",
    "trades": "--trades",
    "book": "--book",
    "on_gap": "--on-gap",
    "columns": "--columns",
    "time_unit": "--time-unit",
}
_OPTION_FLAGS = {
    "latency_ms": "--feed-latency-ms",
    "feed_latency_ms": "--feed-latency-ms",
    "order_latency_ms": "--order-latency-ms",
    "queue": "--queue",
    "queue_file": "--queue-file",
    "queue_params": "--queue-set",
    "fill_rule": "--fill-rule",
    "min_requote_ms": "--min-requote-ms",
    "refresh_ticks": "--refresh-ticks",
    "seed": "--seed",
}


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
    book: BookOpt = "touch",
    on_gap: OnGapOpt = "resync",
    columns: ColumnsOpt = None,
    time_unit: TimeUnitOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Instrument, time span, tick size, contract, event counts, spread and volatility of a data file,
    and every stream (or file) it holds: which are used and which are ignored, and why; with --book depth
    the depth book's rows and sequence gaps; on a Binance capture the feed latency measured from its stamps
    (p1/p50/p99 ms, the fitted shifted lognormal and its KS statistic; see --latency-ms measured), and a
    "latency note" under the table when the fit is poor (KS > 0.1) or spot bookTicker rows lack exchange time.

    Binance bookTicker and depth: both count one update-id sequence, so the newer message (larger update
    id) decides the touch; levels behind the touch come from the depth book."""
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
        book=book,
        on_gap=on_gap,
        columns=columns,
        time_unit=time_unit,
    )
    res = api.inspect_data(ev)
    if json_:
        _print_json(res)
    else:
        from rich.text import Text

        con = _stdout()
        info = dict(res.info)
        note = info.pop("latency_note", None)
        rows = {k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v for k, v in info.items()}
        con.print(_kv_table(f"data inspect — {file}", rows, res.units))
        if note:
            con.print(Text(f"latency note: {note}"))
        if res.streams:
            con.print(_streams_table(res.streams))


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
    book: BookOpt = "touch",
    on_gap: OnGapOpt = "resync",
    columns: ColumnsOpt = None,
    time_unit: TimeUnitOpt = None,
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
        book=book,
        on_gap=on_gap,
        columns=columns,
        time_unit=time_unit,
    )
    ev.to_parquet(dest)
    _stdout().print(f"wrote {dest}: {len(ev):,} events", markup=False, highlight=False)


# --------------------------------------------------------------------------- backtest


def _options(
    latency,
    feed_latency,
    order_latency,
    queue,
    min_requote_ms,
    refresh_ticks,
    seed,
    queue_file=None,
    queue_set=None,
    fill_rule="queue",
):
    if queue_set and queue_file is None:
        raise InputError("--queue-set", "sets a parameter of a --queue-file model; give the file with --queue-file")
    try:
        qparams = parse_set(queue_set)
    except InputError as e:
        raise InputError("--queue-set", str(e).partition(": ")[2]) from None
    with flag_errors(_OPTION_FLAGS):
        return api.backtest_options(
            latency_ms=latency,
            feed_latency_ms=feed_latency,
            order_latency_ms=order_latency,
            queue=queue,
            min_requote_ms=_number("--min-requote-ms", min_requote_ms, 0.0),
            refresh_ticks=_number("--refresh-ticks", refresh_ticks, 1.0),
            seed=seed if seed is not None else 0,
            queue_file=queue_file,
            queue_params=qparams,
            fill_rule=fill_rule,
        )


@app.command()
def backtest(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="Market data file (see 'flatbook data inspect'), or a directory or glob of files: "
            "one task per file on a Dask cluster, merged per file and across days.",
        ),
    ],
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
            "--latency-ms",
            metavar="SPEC",
            help="Feed and order latency, ms: 5, exp:5, uniform:2,8, lognormal:5,0.5, or measured "
            "(Binance: from each line's local stamp; see data inspect).",
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
        str,
        typer.Option(
            "--queue",
            metavar="MODEL",
            help="The queue ahead of our orders: prorata (= l2), prob, l3 (LOBSTER order ids: FIFO), "
            "or a --queue-file model's name.",
        ),
    ] = "prorata",
    queue_file: Annotated[
        str | None,
        typer.Option("--queue-file", metavar="FILE.py", help="A Python file defining queue models (@queue_model)."),
    ] = None,
    queue_set: Annotated[
        list[str] | None,
        typer.Option("--queue-set", metavar="KEY=VALUE", help="A parameter of the --queue-file model (repeat)."),
    ] = None,
    fill_rule: Annotated[
        str,
        typer.Option(
            "--fill-rule",
            metavar="RULE",
            help="queue (a print at our price fills us once the queue ahead is gone) or through "
            "(only a print through our price, or a crossing book, fills us).",
        ),
    ] = "queue",
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
    book: BookOpt = "touch",
    on_gap: OnGapOpt = "resync",
    columns: ColumnsOpt = None,
    time_unit: TimeUnitOpt = None,
    json_: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    policy_file: PolicyFileOpt = None,
    hedge_data: Annotated[
        str | None,
        typer.Option(
            "--hedge-data",
            metavar="FILE",
            help="Hedge the inventory in this instrument's data (same clock), e.g. the perpetual of a spot "
            "DATA; needs --hedge-ratio. See 'Hedged replay' in the README.",
        ),
    ] = None,
    hedge_ratio: Annotated[
        str | None,
        typer.Option(
            "--hedge-ratio",
            metavar="X|auto",
            help="Units of the hedge traded per unit of inventory; auto: the minimum-variance ratio (printed with "
            "its SE).",
        ),
    ] = None,
    hedge_order: Annotated[
        str | None, typer.Option("--hedge-order", metavar="TYPE", help="Hedge orders: market (default) or ioc.")
    ] = None,
    hedge_ioc_ticks: Annotated[
        str | None,
        typer.Option(
            "--hedge-ioc-ticks", metavar="N", help="IOC limit: the touch seen ± N ticks of the hedge (default 0)."
        ),
    ] = None,
    hedge_trigger: Annotated[
        str | None,
        typer.Option(
            "--hedge-trigger",
            metavar="RULE",
            help="= --set hedge_trigger: threshold (default with --hedge-data), urgency or none (no hedge: warned).",
        ),
    ] = None,
    hedge_threshold: Annotated[
        str | None,
        typer.Option(
            "--hedge-threshold",
            metavar="LOTS",
            help="= --set hedge_threshold: hedge when |net delta − q*| passes "
            "it (quantity units of DATA; default 0 with --hedge-data).",
        ),
    ] = None,
    hedge_sizing: Annotated[
        str | None,
        typer.Option("--hedge-sizing", metavar="RULE", help="= --set hedge_sizing: target, fraction or band."),
    ] = None,
    hedge_exec: Annotated[
        str | None,
        typer.Option(
            "--hedge-exec",
            metavar="SCHEDULE",
            help="= --set hedge_exec: immediate, twap or almgren-chriss (needs --set hedge_eta=X > 0).",
        ),
    ] = None,
    hedge_horizon: Annotated[
        str | None,
        typer.Option(
            "--hedge-horizon", metavar="S", help="= --set hedge_horizon: a twap/almgren-chriss program's length (s)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            help="Several files: run them on this existing Dask cluster (default: a local cluster).",
        ),
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option("--workers", metavar="N", help="Several files: local cluster size (default: one per core)."),
    ] = None,
) -> None:
    """Replay a policy with its controls against real quotes and trades (queue position, latency, fees).

    Money is in the contract's settlement currency (BTC for Binance COIN-M, with its USD value in
    ``pnl_final_quote``); warnings (0 fills, quotes far outside the market) go to stderr. With
    ``--hedge-data`` the inventory is hedged in a second instrument and the hedged risk is reported. DATA may
    name several files (a directory or a glob): see flatbook.cli.batch_run (resumable with --out)."""
    load_policy_files(policy_file)
    opts = _options(
        latency,
        feed_latency,
        order_latency,
        queue,
        min_requote_ms,
        refresh_ticks,
        seed,
        queue_file,
        queue_set,
        fill_rule,
    )
    overrides = {**(load_toml(config)[1] if config is not None else {}), **parse_set(set_)}
    if hedge_data is not None and is_batch(data):
        data = _one_file(data)  # a glob matching one file is that file
    if is_batch(data):  # several files: flatbook.cli.batch_run
        csize, lot = _number("--contract-size", contract_size), _number("--lot-size", lot_size)
        load: dict[str, object] = {"format": fmt, "trades": trades, "on_error": on_error, "cache": not no_cache}
        load |= {"contract": contract, "contract_size": csize, "settlement": settlement, "lot_size": lot}
        if (book, on_gap) != ("touch", "resync"):
            load |= {"book": book, "on_gap": on_gap}
        backtest_many(data, policy, overrides, opts, load, workers, scheduler, out, report, json_)
        return
    if workers is not None or scheduler is not None:
        flag = "--workers" if workers is not None else "--scheduler"
        raise InputError(flag, "runs the files of a directory or glob on a cluster; DATA is one file")
    hedge_flags = {
        "hedge_trigger": ("--hedge-trigger", hedge_trigger),
        "hedge_threshold": ("--hedge-threshold", hedge_threshold),
        "hedge_sizing": ("--hedge-sizing", hedge_sizing),
        "hedge_exec": ("--hedge-exec", hedge_exec),
        "hedge_horizon": ("--hedge-horizon", hedge_horizon),
    }
    hedge_only = {
        "--hedge-ratio": hedge_ratio,
        "--hedge-order": hedge_order,
        "--hedge-ioc-ticks": hedge_ioc_ticks,
        **{flag: raw for flag, raw in hedge_flags.values()},
    }
    if hedge_data is None:
        given = [f for f, raw in hedge_only.items() if raw is not None]
        if given:
            raise InputError(given[0], "hedges in a second instrument: give its data with --hedge-data FILE")
    else:
        for key, (flag, raw) in hedge_flags.items():
            if raw is not None:
                if key in overrides:
                    raise InputError(flag, f"{key} is also given with --set or --config; give it once")
                overrides[key] = raw
        _backtest_hedged(
            data,
            hedge_data,
            policy,
            overrides,
            opts,
            hedge_ratio,
            hedge_order,
            hedge_ioc_ticks,
            (fmt, trades, on_error, no_cache, contract, contract_size, settlement, lot_size, book, on_gap),
            json_,
            out,
            report,
        )
        return
    api.run_config("replay", policy, paths=1, params=overrides)  # flags checked before loading
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
        book=book,
        on_gap=on_gap,
        columns=columns,
        time_unit=time_unit,
    )
    api.check_backtest_data(ev, opts)  # e.g. --latency-ms measured needs local stamps
    with compiling("backtest", enabled=not json_) as need:
        if need:
            warm_up("backtest")
    with ProgressBar(len(ev), description="replaying", unit="events", enabled=not json_) as bar:
        res = api.backtest(
            ev, policy, params=overrides, options=opts, progress=(lambda d, t: bar.update(d)) if bar.enabled else None
        )
    _write(res, out_dir, report_path)
    print_warnings(res.warnings)
    if json_:
        _print_json(res)
    else:
        con = _stdout()
        figures, units = res.table()
        con.print(_kv_table(f"backtest {policy} — {ev.meta.instrument}", figures, units))
        _wrote(con, out_dir, report_path)


#: the hedged backtest's API keywords → the flags, in errors
_HEDGE_FLAGS = {
    "hedge_ratio": "--hedge-ratio",
    "hedge_order": "--hedge-order",
    "hedge_ioc_ticks": "--hedge-ioc-ticks",
    "hedge_data": "--hedge-data",
    "data": "DATA",
}


def _one_file(data: str) -> str:
    """DATA with ``--hedge-data``: a glob that matches exactly one file is that file; else one line, exit 2."""
    import glob  # lazy: start-up

    hits = sorted(glob.glob(str(Path(data).expanduser()))) if not Path(data).expanduser().is_dir() else []
    if len(hits) == 1 and Path(hits[0]).is_file():
        return hits[0]
    raise InputError(
        "--hedge-data",
        f"hedges one file's inventory; DATA names {len(hits) if hits else 'a directory of'} files "
        f"({data}); allowed: one file",
    )


#: a hedged run's settings (the registry's keys) → the flags, in errors; the registry's units in a replay
_HEDGE_SET_FLAGS = {
    "hedge_trigger": "--hedge-trigger",
    "hedge_threshold": "--hedge-threshold",
    "hedge_sizing": "--hedge-sizing",
    "hedge_exec": "--hedge-exec",
    "hedge_horizon": "--hedge-horizon",
    "latency": "--latency-ms",
    "order_latency": "--order-latency-ms",
}
_REPLAY_UNITS = (
    ("price units per lot per time unit", "price units per quantity unit per s"),
    ("(lots)", "(quantity units of DATA, e.g. BTC)"),
    ("(time units)", "(s)"),
)


def _hedged_error(e: InputError) -> InputError:
    """A hedged replay's setting error in the replay's units (a lot is one quantity unit of DATA, a time unit
    1 s), naming the flag (``--hedge-threshold`` for hedge_threshold); almgren-chriss says what it needs."""
    msg = str(e).partition(": ")[2]
    for a, b in _REPLAY_UNITS:
        msg = msg.replace(a, b)
    if e.field == "hedge_eta":
        msg += "; give it with --set hedge_eta=X (X > 0; the replay uses it only for the schedule's urgency κ)"
    return InputError(_HEDGE_SET_FLAGS.get(e.field, e.field), msg)


def _backtest_hedged(
    data, hedge_data, policy, overrides, opts, ratio, order, ioc_ticks, load, json_, out, report
) -> None:
    """``backtest DATA --hedge-data FILE``: :func:`flatbook.api.replay.backtest_hedged`, its table or JSON (setting
    errors in the replay's units and naming the flags: :func:`_hedged_error`)."""
    try:
        _run_hedged(data, hedge_data, policy, overrides, opts, ratio, order, ioc_ticks, load, json_, out, report)
    except InputError as e:
        if e.field in _HEDGE_SET_FLAGS or e.field == "hedge_eta" or any(a in str(e) for a, _ in _REPLAY_UNITS):
            raise _hedged_error(e) from None
        raise


def _run_hedged(data, hedge_data, policy, overrides, opts, ratio, order, ioc_ticks, load, json_, out, report) -> None:
    from ..api.replay import backtest_hedged  # lazy: start-up (the backtester)

    fmt, trades, on_error, no_cache, contract, contract_size, settlement, lot_size, book, on_gap = load
    if ratio is None:
        raise InputError(
            "--hedge-ratio",
            "required with --hedge-data: units of the hedge per unit of inventory (e.g. 1), or auto",
        )
    if ratio.strip().lower() != "auto":  # checked before a long load (the API checks it too)
        r = _number("--hedge-ratio", ratio)
        if not r > 0:
            raise InputError(
                "--hedge-ratio", f"got {ratio!r}; allowed: a number > 0 (units of H per unit of S) or auto"
            )
    if order is not None and order not in ("market", "ioc"):
        raise unknown("--hedge-order", "order type", order, ("market", "ioc"))
    ticks = _number("--hedge-ioc-ticks", ioc_ticks, 0.0)
    if ticks != int(ticks) or ticks < 0:
        raise InputError("--hedge-ioc-ticks", f"got {ioc_ticks!r}; allowed: an integer >= 0 (ticks of the hedge)")
    with flag_errors(_HEDGE_FLAGS):
        api.run_config("replay", policy, paths=1, params=overrides)  # flags checked before loading
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
        book=book,
        on_gap=on_gap,
    )
    hev = _load(hedge_data, "auto", None, on_error, no_cache, quiet=json_, book=book, on_gap=on_gap)
    with compiling("backtest", enabled=not json_) as need:
        if need:
            warm_up("backtest")
    with flag_errors(_HEDGE_FLAGS):
        res = backtest_hedged(
            ev,
            hev,
            policy,
            hedge_ratio=ratio,
            hedge_order=order or "market",
            hedge_ioc_ticks=int(ticks),
            params=overrides,
            options=opts,
        )
    _write(res, out_dir, report_path)
    print_warnings(res.warnings)
    if json_:
        _print_json(res)
    else:
        con = _stdout()
        figures, units = res.table()
        con.print(_kv_table(res.title, figures, units))
        _wrote(con, out_dir, report_path)
