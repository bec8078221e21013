"""``flatbook live --config LIVE.toml``: the live engine (see :mod:`flatbook.live`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..config import check_int
from ..extras import require
from .common import JsonOpt, _print_json, _stdout
from .output import check_out_dir
from .policy_file import PolicyFileOpt, load_policy_files

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it


@app.command()
def live(
    config: Annotated[
        str,
        typer.Option(
            "--config",
            metavar="LIVE.toml",
            help="the live configuration (see examples/live/*.toml and flatbook.live.settings)",
        ),
    ],
    out: Annotated[str | None, typer.Option("--out", metavar="DIR", help="write summary.json here")] = None,
    port: Annotated[
        str | None, typer.Option("--port", metavar="N", help="API port (overrides api.port; 0: any free port)")
    ] = None,
    hold: Annotated[bool, typer.Option("--hold", help="keep the API up after a replay ends (until Ctrl-C)")] = False,
    flatten_on_exit: Annotated[
        bool,
        typer.Option(
            "--flatten-on-exit",
            help="on Ctrl-C / SIGTERM also flatten the "
            "position through the venue (resting orders are always "
            "cancelled)",
        ),
    ] = False,
    json_: JsonOpt = False,
    policy_file: PolicyFileOpt = None,
) -> None:
    """Run the live engine: quote through a venue (trade mode) or advise another bot (monitor mode).

    Prints its address, then, when the replay ends or on Ctrl-C / SIGTERM, its summary: position (lots), cash and
    PnL (in the contract's settlement currency), fills, events per second and tick-to-quote latency percentiles (µs). A stop signal cancels
    the resting orders (and with --flatten-on-exit flattens), journals the final state and prints the open
    position.
    """
    require("live", "aiohttp", "prometheus_client", field="flatbook live")  # ccxt: only for a ccxt venue or feed
    import logging

    from ..api import live as L  # lazy: start-up

    load_policy_files(policy_file)
    s = L.load_live_settings(config)
    # alerts and rejections go to stderr, one timestamped line each
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    p = None if port is None else check_int("--port", port, 0, 65535)
    out_dir = None
    if out is not None:
        out_dir = check_out_dir(out)
    # with --json, stdout carries the summary only: the start-up lines go to stderr
    summary = L.run_live(
        s,
        out=out_dir,
        port=p,
        hold=hold,
        flatten_on_exit=flatten_on_exit,
        announce=(lambda m: print(m, file=sys.stderr, flush=True)) if json_ else None,
    )
    if json_:
        _print_json(summary)
        return
    con = _stdout()
    timing = summary["timing"]
    lat = timing["tick_to_quote"]
    con.print(f"[bold]flatbook live[/bold] ({summary['mode']}, session {summary['session']})")
    con.print(
        f"  events {summary['events']:,} ({timing['events_per_s']:,.0f} events/s this run, {timing['wall_s']:.2f} s)"
    )
    pnl, unit = summary["pnl"], summary.get("settlement_currency") or "price units"
    quote = (
        f" (≈ {pnl['total_quote']:,.2f} in the price currency)"
        if summary.get("contract") == "inverse" and pnl.get("total_quote") is not None
        else ""
    )
    con.print(
        f"  position {summary['position']:g} lots, cash {summary['cash']:,.6g}, PnL {pnl['total']:,.6g} "
        f"{unit}{quote}; fills {summary['fills']:,} (journal {summary['journal_fills']:,}, duplicates "
        f"{summary['duplicate_fills']})"
    )
    con.print(
        f"  orders {summary['orders']:,}, rejected {summary['rejected_orders']}, journal errors "
        f"{summary['journal_errors']}"
    )
    if lat.get("n"):
        con.print(
            f"  tick-to-quote µs: p50 {lat['p50_us']:.1f}, p99 {lat['p99_us']:.1f}, max {lat['max_us']:.0f} "
            f"(n = {lat['n']:,})"
        )
    if out_dir is not None:
        con.print(f"  summary: {Path(out_dir) / 'summary.json'}")
