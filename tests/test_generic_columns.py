"""Generic CSV/Parquet: column mapping (``--columns``), time units (``--time-unit``), and the chunked reader
(issue 15 §5). Files are crafted in tmp_path; every expectation is a hand computation."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flatbook.cli import root as cli_app
from flatbook.data import load
from flatbook.data.events import COLUMNS, DataError
from flatbook.data.generic import load_generic, parse_columns
from flatbook.errors import InputError

T0_MS = 1723161256313  # 2024-08-08T23:54:16.313Z
T0_NS = T0_MS * 10**6
OURS = "timestamp,bid,ask,bid_size,ask_size\n"
THEIRS = "time,best_bid,best_ask,bq,aq\n"
MAP = "ts=time,bid=best_bid,ask=best_ask,bid_size=bq,ask_size=aq"


def rows(stamps, n=None):
    n = len(stamps) if n is None else n
    return "".join(f"{t},{100 + i % 3}.0,{101 + i % 3}.5,{1 + i},{2 + i}\n" for i, t in zip(range(n), stamps))


def tables_equal(a, b):
    for c in COLUMNS:
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)
    assert (a.meta.tick_size, a.meta.lot_size) == (b.meta.tick_size, b.meta.lot_size)


def test_a_mapping_reads_the_files_own_names(tmp_path):
    stamps = [T0_NS + k * 10**9 for k in range(4)]
    (tmp_path / "ours.csv").write_text(OURS + rows(stamps))
    (tmp_path / "theirs.csv").write_text(THEIRS + rows(stamps))
    (tmp_path / "t_ours.csv").write_text("timestamp,price,quantity,side\n" + f"{stamps[1]},101.5,3,buy\n")
    # one mapping for both files; the trades file has our name "timestamp", not "time": it keeps it
    (tmp_path / "t.csv").write_text("timestamp,px,amount,aggressor\n" + f"{stamps[1]},101.5,3,buy\n")
    want = load_generic(tmp_path / "ours.csv", tmp_path / "t_ours.csv")
    got = load_generic(
        tmp_path / "theirs.csv", tmp_path / "t.csv", columns=MAP + ",price=px,quantity=amount,side=aggressor"
    )
    tables_equal(got, want)
    assert len(got) == 5 and got.ts[0] == T0_NS and got.qty[2] == 3 and got.side[2] == 1
    assert parse_columns({"ts": "time"}) == {"timestamp": "time"}
    assert parse_columns(" ts = time , bid=b ") == {"timestamp": "time", "bid": "b"}


@pytest.mark.parametrize(
    "spec,field,needle",
    [
        ("tss=time", "--columns", "unknown column 'tss'; did you mean ts?"),
        ("ts", "--columns", "allowed: OURS=THEIRS pairs"),
        ("ts=a,timestamp=b", "--columns", "mapped twice"),
    ],
)
def test_bad_mappings_are_refused_naming_the_flag(spec, field, needle):
    with pytest.raises(InputError) as e:
        parse_columns(spec)
    assert e.value.field == field and needle in str(e.value)


def test_a_mapped_column_the_file_lacks_is_named(tmp_path):
    (tmp_path / "q.csv").write_text(THEIRS + rows([T0_NS]))
    with pytest.raises(
        DataError, match=r"--columns maps timestamp to 'tme', which is not a column .*did you mean time"
    ):
        load_generic(tmp_path / "q.csv", columns="ts=tme,bid=best_bid,ask=best_ask,bid_size=bq,ask_size=aq")
    with pytest.raises(DataError, match=r"missing columns bid, ask.*map other names with --columns"):
        load_generic(tmp_path / "q.csv", columns="ts=time")


@pytest.mark.parametrize(
    "unit,text,ns",
    [
        ("s", "1723161256.313000001", T0_NS + 1),  # decimal seconds read exactly, to the ns
        ("s", "1723161256", T0_NS - 313 * 10**6),
        ("ms", str(T0_MS), T0_NS),
        ("ms", f"{T0_MS}.5", T0_NS + 500_000),
        ("us", str(T0_MS * 1000 + 7), T0_NS + 7000),
        ("ns", str(T0_NS + 9), T0_NS + 9),
    ],
)
def test_declared_and_detected_units(tmp_path, unit, text, ns):
    p = tmp_path / "q.csv"
    p.write_text(OURS + f"{text},100.0,100.5,1,1\n")
    assert load_generic(p, time_unit=unit).ts[0] == ns
    assert load_generic(p, time_unit="auto").ts[0] == ns  # the magnitude says the same unit


def test_parquet_units_and_datetimes(tmp_path):
    base = {"bid": [100.0, 100.0], "ask": [100.5, 100.5], "bid_size": [1.0, 1.0], "ask_size": [1.0, 1.0]}
    pq.write_table(pa.table({"timestamp": pa.array([T0_MS, T0_MS + 1], pa.int64()), **base}), tmp_path / "ms.parquet")
    np.testing.assert_array_equal(load_generic(tmp_path / "ms.parquet", time_unit="ms").ts, [T0_NS, T0_NS + 10**6])
    # float seconds: allowed once the unit is declared (rounded to the ns); refused as ns
    pq.write_table(pa.table({"timestamp": [1723161256.25, 1723161257.5], **base}), tmp_path / "s.parquet")
    np.testing.assert_array_equal(
        load_generic(tmp_path / "s.parquet", time_unit="s").ts, [1723161256_250_000_000, 1723161257_500_000_000]
    )
    with pytest.raises(DataError, match="floating point.*--time-unit s"):
        load_generic(tmp_path / "s.parquet")


@pytest.mark.parametrize(
    "declared,text,needle",
    [
        ("ns", str(T0_MS), "column timestamp = 1723161256313 is 1970-01-01T00:28:43Z read as ns"),
        ("s", str(T0_MS), "the file looks like ms; pass --time-unit ms"),
        ("us", str(T0_MS), "is 1970-01-20T22:39:21Z read as µs since the epoch, but 2024-08-08T23:54:16.313Z"),
        ("ms", str(T0_NS), "the file looks like ns; pass --time-unit ns"),
        ("auto", "12345", "cannot be detected; pass --time-unit"),
    ],
)
def test_a_magnitude_of_another_unit_is_refused_never_1970(tmp_path, declared, text, needle):
    p = tmp_path / "q.csv"
    p.write_text(OURS + f"{text},100.0,100.5,1,1\n")
    with pytest.raises(DataError) as e:
        load_generic(p, time_unit=declared)
    assert "row 1" in str(e.value) and "column timestamp" in str(e.value) and needle in str(e.value)


def test_chunks_change_nothing(tmp_path):
    """The reader streams in chunks: a file read 7 rows at a time gives the table read at once, the order
    check runs across chunk boundaries, and errors and skips name the row in the whole file."""
    n = 200
    rng = np.random.default_rng(3)
    stamps = T0_NS + np.cumsum(rng.integers(0, 5_000_000, n))
    stamps[100] = stamps[99] - 1_000  # 1 µs back, across no boundary; row 141 starts a chunk:
    stamps[140] = stamps[139] - 2_000
    p = tmp_path / "q.csv"
    p.write_text(OURS + rows(stamps.tolist()))
    whole = load_generic(p, tolerance_ns=2_000)
    chunked = load_generic(p, tolerance_ns=2_000, chunk_rows=7)
    tables_equal(chunked, whole)
    np.testing.assert_array_equal(chunked.ts[[100, 140]], [stamps[99], stamps[139]])  # raised to the previous
    with pytest.raises(DataError, match=r"row 141: timestamp out of order"):  # 0-based 140, in the 21st chunk
        load_generic(p, tolerance_ns=1_000, chunk_rows=7)
    lines = (OURS + rows(stamps.tolist())).splitlines()
    lines[150] = lines[150].replace(",1", ",x", 1)  # data row 150
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 150: non-numeric value: column bid = 'x02\.0'"):
        load_generic(p, tolerance_ns=2_000, chunk_rows=7)
    skipped = load_generic(p, tolerance_ns=2_000, chunk_rows=7, on_error="skip")
    assert skipped.meta.skipped == {"non-numeric value": 1} and len(skipped) == n - 1


def test_cli_flags(tmp_path):
    runner = CliRunner()
    q = tmp_path / "q.csv"
    q.write_text(THEIRS + rows([T0_MS, T0_MS + 1000]))
    r = runner.invoke(
        cli_app.app, ["data", "inspect", str(q), "--no-cache", "--json", "--columns", MAP, "--time-unit", "ms"]
    )
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["start"] == "2024-08-08T23:54:16.313000000Z" and info["duration_s"] == 1.0
    for args, needle in (
        (["--columns", MAP, "--time-unit", "hours"], "error: --time-unit: unknown time unit 'hours'"),
        (["--columns", "bid=best_bid,oops"], "error: --columns: got 'oops'"),
        (["--columns", MAP], "looks like ms; write integer ns"),
    ):
        r = runner.invoke(cli_app.app, ["data", "inspect", str(q), "--no-cache", *args])
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and needle in lines[0], r.stderr
    # the generic options belong to the generic format only
    z = tmp_path / "x.zip"
    z.write_bytes(b"")
    with pytest.raises(InputError, match="--time-unit: goes only with the generic format"):
        load(z, fmt="lobster", time_unit="ms")


def test_rows_with_the_wrong_number_of_fields(tmp_path):
    """A short or long CSV row is named (fail) or skipped and counted (skip), across chunk boundaries."""
    p = tmp_path / "q.csv"
    good = [f"{T0_NS + k},100.0,100.5,1,1" for k in range(6)]
    good[1] = f"{T0_NS + 1},100.0,100.5"  # row 2: 3 fields
    good[3] = f"{T0_NS + 3},100.0,100.5,1,1,9"  # row 4: 6 fields
    good[5] = f"{T0_NS + 5},100.0,abc,1,1"  # row 6: a bad cell
    p.write_text(OURS + "\n".join(good) + "\n")
    with pytest.raises(DataError, match=r"q\.csv: row 2: wrong number of columns: expected 5, got 3"):
        load_generic(p)
    ev = load_generic(p, on_error="skip", chunk_rows=2)
    assert ev.meta.skipped == {"wrong number of columns": 2, "non-numeric value": 1}
    np.testing.assert_array_equal(ev.ts - T0_NS, [0, 2, 4])
