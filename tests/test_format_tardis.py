"""Tardis-style CSVs (incremental_book_L2, trades, quotes; µs timestamps), one file or several merged on one clock
(issue 15 §5). Files are written in tmp_path; expectations by hand."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from flatbook.cli import root as cli_app
from flatbook.data import load
from flatbook.data.events import CLEAR, LEVEL, QUOTE, TRADE, DataError
from flatbook.data.load import detect_format
from flatbook.data.tardis import CODE_BOOK, CODE_QUOTE, CODE_TRADE, load_tardis

T0 = 1723075200000000  # µs: 2024-08-08T00:00:00Z
PRE = "binance-futures,BTCUSDT"
BOOK = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n" + "".join(
    f"{PRE},{T0 + t},{T0 + t + 1000},{snap},{side},{px},{amt}\n"
    for t, snap, side, px, amt in [
        (0, "true", "bid", 100.0, 5),
        (0, "true", "bid", 99.5, 7),
        (0, "true", "ask", 101.0, 3),
        (100_000, "false", "bid", 100.5, 2),
        (300_000, "false", "bid", 100.5, 0),
        (400_000, "true", "bid", 99.0, 1),  # a new snapshot: the book is reset first
        (400_000, "true", "ask", 99.5, 4),
    ]
)
TRADES = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n" + (
    f"{PRE},{T0 + 200_000},{T0 + 201_000},1,sell,100.5,1\n{PRE},{T0 + 300_000},{T0 + 301_000},2,unknown,100.5,1\n"
)
QUOTES = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n" + (
    f"{PRE},{T0 + 100_000},{T0 + 101_000},3,101.0,100.5,2\n{PRE},{T0 + 350_000},{T0 + 351_000},,,100.0,5\n"
)


def files(tmp_path):
    (tmp_path / "book.csv").write_text(BOOK)
    with gzip.open(tmp_path / "trades.csv.gz", "wt") as fh:
        fh.write(TRADES)
    (tmp_path / "quotes.csv").write_text(QUOTES)
    return [tmp_path / "book.csv", tmp_path / "trades.csv.gz", tmp_path / "quotes.csv"]


def test_book_trades_and_quotes_merged(tmp_path):
    paths = files(tmp_path)
    ev = load_tardis(paths)
    nan = np.nan
    us = (ev.ts - T0 * 1000) // 1000
    np.testing.assert_array_equal(
        us, [0, 0, 0, 0, 100_000, 100_000, 200_000, 300_000, 300_000, 350_000] + [400_000] * 3
    )
    np.testing.assert_array_equal(ev.local_ts - ev.ts, [1_000_000] * 13)  # local_timestamp, ns
    K = [CLEAR, LEVEL, LEVEL, LEVEL, LEVEL, QUOTE, TRADE, LEVEL, TRADE, QUOTE, CLEAR, LEVEL, LEVEL]
    np.testing.assert_array_equal(ev.kind, K)
    np.testing.assert_array_equal(
        ev.code, [CODE_BOOK] * 5 + [CODE_QUOTE, CODE_TRADE, CODE_BOOK, CODE_TRADE, CODE_QUOTE] + [CODE_BOOK] * 3
    )
    np.testing.assert_array_equal(ev.side, [0, 1, 1, -1, 1, 0, -1, 1, 0, 0, 0, 1, -1])
    np.testing.assert_array_equal(ev.px, [nan, 100, 99.5, 101, 100.5, nan, 100.5, 100.5, 100.5, nan, nan, 99, 99.5])
    np.testing.assert_array_equal(ev.qty, [1, 5, 7, 3, 2, 0, 1, 0, 1, 0, 1, 1, 4])
    # the touch: replayed levels on book and trade rows, the quote's own on quote rows (an empty ask side: NaN, 0)
    np.testing.assert_array_equal(ev.bid_px, [nan, 100, 100, 100, 100.5, 100.5, 100.5, 100, 100, 100, nan, 99, 99])
    np.testing.assert_array_equal(ev.ask_px, [nan, nan, nan, 101, 101, 101, 101, 101, 101, nan, nan, nan, 99.5])
    np.testing.assert_array_equal(ev.ask_sz, [0, 0, 0, 3, 3, 3, 3, 3, 3, 0, 0, 0, 4])
    m = ev.meta
    assert (m.instrument, m.source, m.book, m.tick_size, m.lot_size) == (
        "BTCUSDT",
        "tardis (binance-futures)",
        "depth",
        0.5,
        1.0,
    )
    assert m.streams["trades.csv.gz"] == {"messages": 2, "used": True, "note": "Tardis trades"}
    # a directory and a comma list, through load(); each file is told by its header
    for given in (tmp_path, ",".join(map(str, paths))):
        got = load(given)
        np.testing.assert_array_equal(got.kind, ev.kind)
    assert [detect_format(p) for p in paths] == ["tardis"] * 3
    (tmp_path / "generic.csv").write_text("timestamp,bid,ask,bid_size,ask_size\n1,100,101,1,1\n")
    assert detect_format(tmp_path / "generic.csv") == "generic"


def test_trades_without_a_book_carry_the_last_quote(tmp_path):
    paths = files(tmp_path)
    ev = load_tardis(paths[1:])
    assert ev.meta.book == "touch"
    np.testing.assert_array_equal(ev.kind, [QUOTE, TRADE, TRADE, QUOTE])
    np.testing.assert_array_equal(ev.bid_px, [100.5, 100.5, 100.5, 100.0])
    np.testing.assert_array_equal(ev.ask_sz, [3, 3, 3, 0])


@pytest.mark.parametrize(
    "text,needle",
    [
        (BOOK.replace(",ask,101.0,", ",offer,101.0,"), r"row 3: unknown side: side 'offer'; expected bid or ask"),
        (BOOK.replace(f"{T0 + 100_000},{T0 + 101_000}", f"{T0 - 5},{T0}"), r"row 4: timestamp out of order"),
        (BOOK.replace(",99.5,7", ",-99.5,7"), r"row 2: non-positive price"),
        (BOOK.replace("is_snapshot,", "snapshot,"), r"not a Tardis CSV"),
    ],
)
def test_bad_rows_are_named(tmp_path, text, needle):
    p = tmp_path / "b.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=needle):
        load_tardis(p)


def test_cli_inspect_and_backtest_a_directory(tmp_path):
    files(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli_app.app, ["data", "inspect", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["events"], info["trades"], info["quotes"]) == (13, 2, 2)
    r = runner.invoke(cli_app.app, ["backtest", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["events"] == 13
    r = runner.invoke(cli_app.app, ["data", "inspect", str(tmp_path), "--trades", str(tmp_path / "quotes.csv")])
    assert r.exit_code == 2 and "--trades: Tardis files are given together as DATA" in r.stderr
