"""``flatbook ensemble FILE``: one policy on one file across an ensemble of models.

Every backtest option is an axis, written as the backtest's own flag with a list of values:
``--queue prorata,prob --latency-ms 0,5,exp:5 --min-requote-ms 0,100`` (and any option the
backtester gains, e.g. ``--fill-rule queue,through``, with no change here: the flags are read
from the API's :func:`flatbook.api.backtest_options`). Values are separated by commas (a comma
inside a value, as in ``uniform:2,8``, stays in it) or by ``;``. The members are every
combination; they share ``--seed`` (common random numbers) and replay the one parsed table,
in this process or, with ``--workers N`` / ``--scheduler``, on a Dask cluster. A bad value of
any axis is one line naming its flag, exit 2, before the file is read.

A separate command rather than ``backtest --ensemble``: its output is a table of members and the
spread across them, not one backtest, so backtest's ``--out`` (fills, inventory) and
``--report`` (one replay's figure) do not apply; and backtest's flags keep their one-value meaning.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .. import api
from ..config import load_toml, parse_set
from ..errors import InputError
from ..suggest import unknown
from . import output
from .common import JsonOpt, SetOpt, _print_json, _stdout, _write, flag_errors, print_warnings
from .policy_file import PolicyFileOpt, load_policy_files
from .replay_cmds import (
    BookOpt,
    ContractOpt,
    ContractSizeOpt,
    FormatOpt,
    LotOpt,
    NoCacheOpt,
    OnErrorOpt,
    OnGapOpt,
    SettlementOpt,
    TradesOpt,
    _load,
)

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it


def _axes(args: list[str], fixed: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """``--flag V1,V2`` / ``--flag=V1,V2`` items → {keyword: values}, each value checked (errors name the flag)."""
    from ..api.batch import axis_names, axis_values  # lazy: start-up (the backtester)

    names = axis_names()

    axes: dict[str, list[Any]] = {}
    i = 0
    while i < len(args):
        tok = args[i]
        if not tok.startswith("--"):
            raise InputError("FILE", f"one data file; got another argument {tok!r}")
        name, eq, val = tok.partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise InputError(name, "needs a value or a list of values, e.g. --queue prorata,prob")
            val = args[i + 1]
            i += 1
        i += 1
        flag = name
        if name.lstrip("-").replace("-", "_") not in names:
            flags = ["--" + n.replace("_", "-") for n in names]
            raise unknown(name, "ensemble axis (a backtest option)", name, flags)
        try:
            is_queue = name.lstrip("-").replace("-", "_") == "queue"
            key, vals = axis_values(name, val, fixed if is_queue else None)
        except InputError as e:
            if e.field in (name, "--queue-file", "queue_file", "--queue-set", "queue_params"):
                raise
            raise InputError(flag, str(e).partition(": ")[2]) from None
        if key in axes:
            raise InputError(flag, "given twice; give one list")
        axes[key] = vals
    if not axes:
        raise InputError(
            "axes",
            "give at least one backtest option with a list of values, e.g. --queue prorata,prob --latency-ms 0,5",
        )
    return axes


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ensemble(
    ctx: typer.Context,
    data: Annotated[str, typer.Argument(metavar="FILE", help="One market data file (see 'flatbook data inspect').")],
    policy: Annotated[
        str, typer.Option("--policy", metavar="NAME", help="Quoting policy; see 'flatbook policies'.")
    ] = "linear-skew",
    set_: SetOpt = None,
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="FILE.toml", help="TOML file with a params table; flags override it."),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", metavar="S", help="Seed shared by every member (default 0).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="tcp://HOST:PORT", help="Run the members on this Dask cluster."),
    ] = None,
    workers: Annotated[
        str | None, typer.Option("--workers", metavar="N", help="Run the members on a local Dask cluster of N.")
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
    queue_file: Annotated[
        str | None,
        typer.Option(
            "--queue-file",
            metavar="FILE.py",
            help="A Python file of queue models (@queue_model), shared by every member: --queue may then name "
            "its models (e.g. --queue prorata,my_model).",
        ),
    ] = None,
    queue_set: Annotated[
        list[str] | None,
        typer.Option("--queue-set", metavar="KEY=VALUE", help="A parameter of the --queue-file model (repeat)."),
    ] = None,
    json_: JsonOpt = False,
    out: Annotated[
        str | None,
        typer.Option("--out", metavar="DIR", help="Write summary.json and members.parquet (one row per member)."),
    ] = None,
    policy_file: PolicyFileOpt = None,
) -> None:
    """Replay one policy on one file across an ensemble of models: the spread of PnL, fills and max |q|.

    The members are every combination of the axes, given as backtest flags with lists, e.g. --queue prorata,prob
    --latency-ms 0,5,exp:5 (any backtest option: --feed-latency-ms, --order-latency-ms, --min-requote-ms,
    --refresh-ticks, ...). Prints each member's figures and the spread across the members (min, max, std, range
    as % of the mean): how much of the result is the model rather than the strategy."""
    load_policy_files(policy_file)
    if queue_set and queue_file is None:
        raise InputError("--queue-set", "sets a parameter of a --queue-file model; give the file with --queue-file")
    try:
        qparams = parse_set(queue_set)
    except InputError as e:
        raise InputError("--queue-set", str(e).partition(": ")[2]) from None
    fixed: dict[str, Any] = {}
    if queue_file is not None:
        fixed["queue_file"] = queue_file
    if qparams:
        fixed["queue_params"] = qparams
    with flag_errors({"queue_file": "--queue-file", "queue_params": "--queue-set"}):
        axes = _axes(list(ctx.args), fixed)
        if queue_file is not None:
            from ..api.batch import check_queue_file_used  # lazy: start-up (the backtester)

            check_queue_file_used(axes, queue_file)
    s = 0
    if seed is not None:
        try:
            s = int(seed)
        except ValueError:
            raise InputError("--seed", f"got {seed!r}; allowed: an integer >= 0") from None
    n_workers = None
    if workers is not None:
        try:
            n_workers = int(workers)
        except ValueError:
            raise InputError("--workers", f"got {workers!r}; allowed: an integer from 1 to 1,024") from None
    overrides = {**(load_toml(config)[1] if config is not None else {}), **parse_set(set_)}
    api.run_config("replay", policy, paths=1, params=overrides)  # flags checked before loading
    out_dir = output.check_out_dir(out) if out is not None else None
    with flag_errors({"seed": "--seed", "workers": "--workers", "scheduler": "--scheduler"}):
        api.backtest_options(seed=s)
        if n_workers is not None or scheduler is not None:
            from ..api.batch import check_cluster  # lazy: start-up (the backtester)

            check_cluster(n_workers, scheduler)
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
    errs = {"seed": "--seed", "workers": "--workers", "scheduler": "--scheduler", "queue_file": "--queue-file"}
    errs |= {"queue_params": "--queue-set", "latency_ms": "--latency-ms", "feed_latency_ms": "--feed-latency-ms"}
    errs |= {"order_latency_ms": "--order-latency-ms"}
    with flag_errors(errs):
        res = api.ensemble(
            ev,
            policy,
            axes=axes,
            params=overrides,
            seed=s,
            queue_file=queue_file,
            queue_params=qparams or None,
            workers=n_workers,
            scheduler=scheduler,
        )
    print_warnings(res.warnings)
    _write(res, out_dir, None)
    if json_:
        _print_json(res)
        return
    _tables(res)
    if out_dir is not None:
        _stdout().print(f"wrote {out_dir}", markup=False, highlight=False)


def _tables(res) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..units import fmt

    con = _stdout()
    m = res.members
    axes = [a for a, v in res.axes.items() if len(v) > 1] or list(res.axes)
    units = res.units
    quote = ("pnl_final_quote",) if "pnl_final_quote" in units else ()  # an inverse contract's PnL in USD
    figs = ("pnl_final", *quote, "fills", "max_abs_q", "final_q", "fees")
    book = res.meta.get("book", "touch")
    t = Table(
        title=Text(
            f"ensemble {res.meta['policy']} — {res.meta['instrument']} ({book} book): {len(m)} members, "
            f"seed {res.meta['seed']}"
            + (f", queue file {res.meta['queue_file']}" if res.meta.get("queue_file") else "")
        ),
        title_justify="left",
    )
    for a in axes:
        t.add_column(a)
    for f in figs:
        u = units.get(f, "")
        t.add_column(f"{f} ({u.replace(' (at the last mid)', '')})" if u and u != f else f, justify="right")
    for _, r in m.iterrows():
        t.add_row(*(Text(str(r[a])) for a in axes), *(fmt(r[f]) for f in figs))
    con.print(t)
    s = Table(title=Text("spread across the members"), title_justify="left")
    for c in ("figure", "min", "max", "mean", "std", "range", "range % of |mean|", "unit"):
        s.add_column(c, justify="left" if c in ("figure", "unit") else "right")
    for k in ("pnl_final", "pnl_liquidated", "fills", "max_abs_q", "fees"):
        sp = res.spread[k]
        unit = res.summary[f"{k}.min"].unit
        s.add_row(k, *(fmt(sp[c]) for c in ("min", "max", "mean", "std", "range", "range_pct_of_mean")), unit)
    con.print(s)
    e = Table(title=Text("effect of each axis: the figure's mean at each value"), title_justify="left")
    for c in ("axis", "figure", "means", "range", "unit"):
        e.add_column(c, justify="right" if c == "range" else "left")
    for k in ("pnl_final", "fills", "max_abs_q"):
        for ax, d in res.effects[k].items():
            means = ", ".join(f"{lv}: {fmt(v)}" for lv, v in d["means"].items())
            e.add_row(ax, k, Text(means), fmt(d["range"]), Text(units.get(k, "")))
    con.print(e)
