"""The Binance full-depth book: a REST snapshot plus diff messages, sequenced by update id.

Binance API docs, "How to manage a local order book correctly" (spot and USDⓈ-M / COIN-M
futures differ). With ``L`` the snapshot's ``lastUpdateId`` and each diff carrying its first
and last update ids ``U``, ``u`` (futures also ``pu``, the previous diff's ``u``):

* futures: diffs with ``u < L`` are dropped; the first one applied has ``U <= L <= u``; from
  then on each diff's ``pu`` equals the previous diff's ``u``;
* spot: diffs with ``u <= L`` are dropped; the first one applied has ``U <= L + 1 <= u``; from
  then on each diff's ``U`` equals the previous ``u`` + 1 (a diff with ``u`` <= the previous
  ``u`` is stale and dropped).

Diffs are taken in file (arrival) order; those received before the snapshot line are buffered
and sequenced against it, as a live client buffers the stream while it fetches the snapshot.
A diff that breaks the chain is a **gap**: with ``on_gap="fail"`` a :class:`DataError` names the
file, line and update ids; with ``"resync"`` the book is emptied (a CLEAR row with qty 0: depth
unknown) and rebuilt from the next snapshot line. A snapshot older than the first diff after it
(``U > L`` futures, ``U > L + 1`` spot) cannot start the book: it counts as a gap too. A
snapshot that arrives while the book is in sync is not needed and is ignored.

Rows (:mod:`flatbook.data.events`): when a snapshot starts the book, a CLEAR row (qty 1) and
its levels as LEVEL rows (bids best first, then asks), at the exchange time of the snapshot
(``T``, else ``E``; spot snapshots carry none) or of the first diff applied on it, whichever is
earlier; then per applied diff one LEVEL row per level whose size changed (``px`` the level's
price, ``qty`` the new absolute size, 0 = gone; ``side`` +1 bid, −1 ask), at the diff's exchange
time. A diff level whose size is unchanged yields no row.

The book is kept on the tick grid inside a fixed price window ``[lo, hi]`` (the loader makes
it ± ``depth_window`` around the touch prices seen in the file); levels outside it are counted
and dropped. A snapshot lists a limited number of levels per side (1000 on the bundled
captures, about ±0.3 % of BTC's price): the book deeper than its last level is known only
where a later diff updates it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .events import CLEAR, LEVEL, DataError, Problems

ON_GAP = ("resync", "fail")
_SCAN = 1024  # ticks scanned per step when the best level empties


@dataclass(frozen=True)
class Snapshot:
    """A REST depth snapshot line: ``bids``/``asks`` arrays (k, 2) of (price, size), best first."""

    line: int
    local_ns: int
    last_update_id: int
    ts_ns: int  # exchange time (T, else E) in ns; -1 when the snapshot carries none (spot)
    bids: np.ndarray
    asks: np.ndarray


@dataclass(frozen=True)
class Diffs:
    """Depth diff messages in file order; message i's levels are ``offsets[i]:offsets[i + 1]``
    of ``side`` (+1 bid, −1 ask), ``px`` (price units) and ``qty`` (new size, 0 = gone)."""

    line: np.ndarray
    local_ns: np.ndarray
    first_id: np.ndarray  # U
    last_id: np.ndarray  # u
    prev_id: np.ndarray  # pu (futures), -1 when absent
    ts_ns: np.ndarray  # exchange time, ns, non-decreasing
    offsets: np.ndarray
    side: np.ndarray
    px: np.ndarray
    qty: np.ndarray


@dataclass(frozen=True)
class Gap:
    """A break in the update-id chain: where (line, exchange ns) and which ids."""

    line: int
    ts_ns: int
    detail: str


@dataclass
class DepthRows:
    """The book's rows, in emission order, with their merge keys.

    ``uid``: the update id the row's message brings the book to (a snapshot's ``L``);
    ``touch``: (rows, 4) best bid px, size, best ask px, size of the book after the row's
    message (NaN when a side is empty or the depth unknown)."""

    ts: np.ndarray
    uid: np.ndarray
    local_ts: np.ndarray
    line: np.ndarray
    kind: np.ndarray
    px: np.ndarray
    qty: np.ndarray
    side: np.ndarray
    touch: np.ndarray
    gaps: list[Gap] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


class _Book:
    """Sizes per tick on the grid lo + i·tick, i = 0..n−1: bids in slots 0..n−1, asks in n..2n−1 (one flat
    array, so one message is applied with a few array operations); the exact parsed prices alongside."""

    def __init__(self, lo: float, tick: float, n: int):
        self.lo, self.tick, self.n = lo, tick, n
        self.q = np.zeros(2 * n)
        self.p = np.zeros(2 * n)
        self.bid, self.ask = -1, 2 * n  # best slots (none: −1 and 2n)

    def clear(self) -> None:
        self.q[:] = 0.0
        self.bid, self.ask = -1, 2 * self.n

    def index(self, px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slot on one side, in window, on the grid) per price."""
        x = (px - self.lo) / self.tick
        i = np.rint(x)
        inside = (i >= 0) & (i < self.n)
        on_grid = np.abs(x - i) <= 1e-3
        return i.astype(np.int64), inside, on_grid

    def set(self, slot: np.ndarray, px: np.ndarray, qty: np.ndarray, is_bid: np.ndarray) -> np.ndarray:
        """Set sizes at flat slots; returns the mask of levels whose size changed."""
        q, n = self.q, self.n
        changed = q[slot] != qty
        q[slot] = qty
        self.p[slot] = px
        live = qty > 0
        lb = slot[live & is_bid]
        if lb.size:
            self.bid = max(self.bid, int(lb.max()))
        la = slot[live & ~is_bid]
        if la.size:
            self.ask = min(self.ask, int(la.min()))
        if self.bid >= 0 and q[self.bid] == 0:
            self.bid = self._down(q, self.bid)
        if self.ask < 2 * n and q[self.ask] == 0:
            self.ask = self._up(q, self.ask)
        return changed

    @staticmethod
    def _down(q: np.ndarray, i: int) -> int:
        while i > 0:
            lo = max(0, i - _SCAN)
            nz = np.flatnonzero(q[lo:i])
            if nz.size:
                return lo + int(nz[-1])
            i = lo
        return -1

    def _up(self, q: np.ndarray, i: int) -> int:
        end = 2 * self.n
        while i < end - 1:
            hi = min(end, i + 1 + _SCAN)
            nz = np.flatnonzero(q[i + 1 : hi])
            if nz.size:
                return i + 1 + int(nz[0])
            i = hi - 1
        return end

    def touch(self) -> tuple[float, float, float, float]:
        b, a = self.bid, self.ask
        nan = math.nan
        bid = (float(self.p[b]), float(self.q[b])) if b >= 0 else (nan, nan)
        ask = (float(self.p[a]), float(self.q[a])) if a < 2 * self.n else (nan, nan)
        return bid + ask


def build_depth(
    diffs: Diffs,
    snapshots: list[Snapshot],
    *,
    futures: bool,
    lo: float,
    hi: float,
    tick: float,
    on_gap: str = "resync",
    path=None,
    problems: Problems | None = None,
) -> DepthRows:
    """Sequence ``snapshots`` and ``diffs`` (see the module docstring) into LEVEL/CLEAR rows.

    ``futures``: the USDⓈ-M/COIN-M rules (``pu`` chain), else spot's (``U`` = previous ``u`` + 1).
    ``lo``/``hi``: the price window kept (price units); ``tick``: the price grid (price units).
    Off-grid prices are malformed rows for ``problems`` (named by ``path`` and line).
    """
    if on_gap not in ON_GAP:
        raise InputError("on_gap", f"got {on_gap!r}; allowed: {', '.join(ON_GAP)}")
    problems = problems or Problems("fail")
    lo_g = math.floor(lo / tick) * tick
    n = int(round((math.ceil(hi / tick) * tick - lo_g) / tick)) + 1
    book = _Book(lo_g, tick, n)
    keys: list[tuple] = []  # per emitted message: (rows, ts, uid, local, line, kind, bid px, bid sz, ask px, ask sz)
    parts: dict[str, list] = {"px": [], "qty": [], "side": []}
    gaps: list[Gap] = []
    st: dict[str, Any] = {
        "snapshots": len(snapshots),
        "snapshots_used": 0,
        "diffs": len(diffs.line),
        "diffs_applied": 0,
        "diffs_dropped": 0,
        "diffs_unsynced": 0,  # before the first snapshot (or a long run without one), never applied
        "diffs_after_gap": 0,  # after the last gap, with no snapshot after it to rebuild the book from
        "levels_outside_window": 0,
        "levels_unchanged": 0,
        "window": (lo_g, lo_g + (n - 1) * tick),
        "snapshot_range": [],
    }
    last_ts = np.iinfo(np.int64).min

    def emit(ts, uid, local, line, kind, px, qty, side, touch):
        nonlocal last_ts
        ts = max(int(ts), last_ts)
        last_ts = ts
        keys.append((len(px), ts, int(uid), int(local), int(line), kind, *touch))
        parts["px"].append(np.asarray(px, np.float64))
        parts["qty"].append(np.asarray(qty, np.float64))
        parts["side"].append(np.asarray(side, np.int8))

    def levels(lines, px: np.ndarray):
        """(slot, kept) per price: kept = in the window and on the grid (off-grid: a malformed row)."""
        idx, inside, on_grid = book.index(px)
        bad = np.flatnonzero(inside & ~on_grid)
        for j in bad:
            problems.report(path, int(lines[j]), "depth price off the tick grid", f"{px[j]!r} (tick {tick:g})")
        return idx, inside & on_grid

    msg_of = np.repeat(np.arange(len(diffs.line)), np.diff(diffs.offsets))
    idx_all, keep_all = levels(diffs.line[msg_of], diffs.px)
    kept = np.flatnonzero(keep_all)  # the levels inside the window, in message order
    k_off = np.searchsorted(kept, diffs.offsets)  # message i: kept[k_off[i]:k_off[i + 1]]
    k_bid = diffs.side[kept] == 1
    k_slot = idx_all[kept] + np.where(k_bid, 0, n)
    k_px, k_qty = diffs.px[kept], diffs.qty[kept]

    def apply(i: int) -> None:
        a, b = int(k_off[i]), int(k_off[i + 1])
        st["levels_outside_window"] += int(diffs.offsets[i + 1] - diffs.offsets[i]) - (b - a)
        is_bid, px, qty = k_bid[a:b], k_px[a:b], k_qty[a:b]
        changed = book.set(k_slot[a:b], px, qty, is_bid)
        st["diffs_applied"] += 1
        nc = int(changed.sum())
        st["levels_unchanged"] += (b - a) - nc
        if nc:
            emit(
                diffs.ts_ns[i],
                diffs.last_id[i],
                diffs.local_ns[i],
                diffs.line[i],
                LEVEL,
                px[changed],
                qty[changed],
                np.where(is_bid[changed], 1, -1).astype(np.int8),
                book.touch(),
            )

    def start(snap: Snapshot, i: int) -> None:
        book.clear()
        got = []
        for s, lv in ((1, snap.bids), (-1, snap.asks)):
            idx, keep = levels(np.full(len(lv), snap.line), lv[:, 0])
            st["levels_outside_window"] += int((~keep).sum())
            px, qty = lv[:, 0], lv[:, 1]
            keep &= qty > 0
            book.set(idx[keep] + (0 if s == 1 else n), px[keep], qty[keep], np.full(int(keep.sum()), s == 1))
            got.append((px[keep], qty[keep], np.full(int(keep.sum()), s, np.int8)))
        ts = int(diffs.ts_ns[i]) if snap.ts_ns < 0 else min(snap.ts_ns, int(diffs.ts_ns[i]))
        t = book.touch()
        emit(ts, snap.last_update_id, snap.local_ns, snap.line, CLEAR, [math.nan], [1.0], [0], t)
        emit(
            ts,
            snap.last_update_id,
            snap.local_ns,
            snap.line,
            LEVEL,
            np.concatenate([g[0] for g in got]),
            np.concatenate([g[1] for g in got]),
            np.concatenate([g[2] for g in got]),
            t,
        )
        st["snapshots_used"] += 1
        if len(snap.bids) and len(snap.asks):
            st["snapshot_range"].append((float(snap.bids[-1, 0]), float(snap.asks[-1, 0])))

    def gap(i: int, detail: str, known: bool) -> None:
        g = Gap(int(diffs.line[i]), int(diffs.ts_ns[i]), detail)
        if on_gap == "fail":
            raise DataError(
                path or "",
                g.line,
                f"depth stream sequence gap: {detail}; with on_gap='resync' (--on-gap resync) the book is "
                "rebuilt from the next snapshot instead",
            )
        gaps.append(g)
        if known:
            book.clear()
            nan = math.nan
            emit(diffs.ts_ns[i], diffs.last_id[i], diffs.local_ns[i], g.line, CLEAR, [nan], [0.0], [0], (nan,) * 4)

    synced = False
    snap: Snapshot | None = None
    prev_u = 0
    buffer: list[int] = []

    def feed(i: int) -> None:
        nonlocal synced, snap, prev_u, buffer
        U, u, pu = int(diffs.first_id[i]), int(diffs.last_id[i]), int(diffs.prev_id[i])
        if synced:
            if futures and pu >= 0:
                ok, detail = pu == prev_u, f"pu {pu} != previous u {prev_u} (U {U}, u {u})"
            elif u <= prev_u:
                st["diffs_dropped"] += 1  # stale: already applied
                return
            else:
                ok, detail = U == prev_u + 1, f"U {U} != previous u {prev_u} + 1 (u {u})"
            if ok:
                apply(i)
                prev_u = u
                return
            gap(i, detail, True)
            synced, snap, buffer = False, None, [i]
            return
        if snap is None:
            buffer.append(i)
            if len(buffer) > 100_000:  # no snapshot for a long time: the oldest diffs can never be used
                st["diffs_after_gap" if gaps else "diffs_unsynced"] += 50_000
                buffer = buffer[50_000:]
            return
        L = snap.last_update_id
        first = L if futures else L + 1
        if u < first:
            st["diffs_dropped"] += 1
        elif U <= first:
            start(snap, i)
            apply(i)
            synced, prev_u = True, u
        else:
            gap(i, f"the snapshot's lastUpdateId {L} is older than the first diff after it (U {U}, u {u})", False)
            snap, buffer = None, [i]

    events = sorted(
        [(int(diffs.line[i]), 1, i) for i in range(len(diffs.line))] + [(s.line, 0, j) for j, s in enumerate(snapshots)]
    )
    for _, is_diff, j in events:
        if is_diff:
            feed(j)
            continue
        if synced:
            continue  # in sync: the snapshot is not needed
        snap = snapshots[j]
        pending, buffer = buffer, []
        for i in pending:
            feed(i)
    st["diffs_after_gap" if gaps else "diffs_unsynced"] += len(buffer)  # never sequenced: no snapshot after them
    k = np.array([x[:5] for x in keys], np.int64).reshape(-1, 5)
    f = np.array([x[6:] for x in keys], np.float64).reshape(-1, 4)
    rows = k[:, 0]
    return DepthRows(
        ts=np.repeat(k[:, 1], rows),
        uid=np.repeat(k[:, 2], rows),
        local_ts=np.repeat(k[:, 3], rows),
        line=np.repeat(k[:, 4], rows),
        kind=np.repeat(np.array([x[5] for x in keys], np.int8), rows),
        px=np.concatenate(parts["px"]) if keys else np.zeros(0),
        qty=np.concatenate(parts["qty"]) if keys else np.zeros(0),
        side=np.concatenate(parts["side"]) if keys else np.zeros(0, np.int8),
        touch=np.repeat(f, rows, axis=0),
        gaps=gaps,
        stats=st,
    )
