"""EventTable.from_parquet reads each column alone into an array it owns (issue 15 §6, memory per event):
the same numbers bit for bit as the table written, over one or several row groups, with depth levels and the
optional int64 columns; and the replay's forward fill of the mid (backtester._ffill)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flatbook.backtest.backtester import _ffill
from flatbook.data.events import EventMeta, EventTable, empty_columns


def _table(n: int) -> EventTable:
    """n hand-made rows: a 2-level book, NaN prices on the trade rows, local and entry stamps (ns)."""
    cols = empty_columns(n)
    i = np.arange(n)
    cols["ts"][:] = 1_000_000_000 + 7 * i
    cols["kind"][:] = i % 2
    cols["bid_px"][:] = 100.0 + 0.1 * i
    cols["ask_px"][:] = cols["bid_px"] + 0.1
    cols["bid_sz"][:] = 1.0 + i
    cols["ask_sz"][:] = 2.0 + i
    cols["px"][i % 2 == 0] = np.nan
    cols["qty"][:] = 0.5 * i
    lvl = np.stack([cols["bid_px"] - 0.1, cols["bid_sz"] * 3, cols["ask_px"] + 0.1, -0.0 * i], axis=1)
    depth = np.stack([lvl, lvl + 0.25], axis=1)  # (n, 2 levels, 4)
    meta = EventMeta("TEST", "hand", 0.1, 0.5, levels=2)
    return EventTable(
        **cols, meta=meta, depth=depth, local_ts=cols["ts"] + 5, entry_ts=np.where(i % 3 == 0, -1, cols["ts"] - 3)
    )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("row_group", [None, 3])
def test_round_trip_bit_for_bit_in_owned_writable_arrays(tmp_path, row_group):
    ev = _table(10)
    path = ev.to_parquet(tmp_path / "ev.parquet")
    if row_group is not None:  # the same file in row groups of 3 rows: 4 chunks per column
        t = pq.read_table(path)
        pq.write_table(t, path, row_group_size=row_group)
        assert pq.ParquetFile(path).num_row_groups == 4
    got = EventTable.from_parquet(path)
    for name in (*ev.columns(), "local_ts", "entry_ts"):
        a = getattr(got, name)
        assert _same(a, getattr(ev, name)), name
        assert a.flags.writeable and a.flags.owndata, name
    assert _same(got.depth, ev.depth)
    assert got.depth.shape == (10, 2, 4) and got.meta.levels == 2


def test_empty_table_reads_back_empty(tmp_path):
    ev = _table(0)
    got = EventTable.from_parquet(ev.to_parquet(tmp_path / "empty.parquet"))
    assert len(got) == 0 and got.ts.dtype == np.int64 and got.bid_px.dtype == np.float64


def test_damaged_column_is_a_data_error(tmp_path):
    from flatbook.data.events import DataError

    t = pa.table({"ts": pa.array([1, 2], pa.int64())})
    t = t.replace_schema_metadata({b"flatbook": json.dumps(EventMeta("X", "hand", 1.0, 1.0).as_dict()).encode()})
    pq.write_table(t, tmp_path / "x.parquet")
    with pytest.raises(DataError, match="missing columns"):
        EventTable.from_parquet(tmp_path / "x.parquet")


def test_ffill_carries_the_last_finite_value_and_keeps_leading_nans():
    x = np.array([np.nan, np.nan, 1.0, np.nan, np.inf, 2.5, np.nan, np.nan, -0.0, np.nan])
    want = np.array([np.nan, np.nan, 1.0, 1.0, 1.0, 2.5, 2.5, 2.5, -0.0, -0.0])
    assert _same(_ffill(x), want)
    assert _same(_ffill(np.full(3, np.nan)), np.full(3, np.nan))
    assert _same(_ffill(np.array([3.0, np.nan])), np.array([3.0, 3.0]))
    assert _ffill(np.empty(0)).size == 0


def test_decreasing_timestamps_are_still_refused():
    cols = empty_columns(3)
    cols["ts"][:] = [5, 7, 6]
    with pytest.raises(ValueError, match="non-decreasing"):
        EventTable(**cols, meta=EventMeta("X", "hand", 1.0, 1.0))
    cols["ts"][:] = [5, 5, 6]  # equal stamps are allowed
    assert len(EventTable(**cols, meta=EventMeta("X", "hand", 1.0, 1.0))) == 3
