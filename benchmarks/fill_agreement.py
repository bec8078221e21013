"""Fill agreement between flatbook's replay and hftbacktest on the same strategy, data, fees and latency.

Used by ``benchmarks/bench_backtest.py`` (section "Fill agreement"), and on its own:

    .venv/bin/python benchmarks/fill_agreement.py --hbt-python /path/to/hbt-venv/bin/python
    .venv/bin/python benchmarks/fill_agreement.py --strategy glft --json out.json

**Matching.** Two fills match when they are on the same side at the same price
(to the tick) and at most ``window`` apart (default 1 s, exchange time). The
matching is one to one and greedy by time: the fills of one engine are taken in
time order, each takes the nearest unmatched fill of the other engine that
qualifies (the earlier one on a tie). The agreement of engine A is the share of
A's fills matched by B; it is computed both ways. The same is done ignoring the
price ("same side within 1 s").

**Classes.** Each unmatched fill of engine A (at time t, side s, price p) is
put in the first class that applies, from the other engine B's own logs (B's
orders and position are read 1 ms before t, Binance's time resolution):

1. ``partial``: (flatbook only) another piece of the same flatbook order (same
   side and price, no fill at another price on that side in between) was matched;
   hftbacktest fills whole orders;
2. ``timing``: B has a fill at (s, p) within 5 s, not within the window, and
   not matched to another of A's fills: latency, the requote clock, or the
   order of fills and requotes;
3. ``again``: B filled at (s, p) within 5 s, but each of those fills is
   matched to another of A's fills: A filled once more at a price where B
   filled (after a fill, A's order re-sent at the same price reached the
   front of its queue again, B's did not, or was not re-sent in time);
4. ``post-only``: B sent an order at (s, p) that reached the exchange in
   [t − 1 s, t] and was refused because it would have crossed (flatbook: a
   post-only reject; hftbacktest: a GTX order that expired);
5. ``queue``: B had an order resting at (s, p) at t that did not fill then:
   the queue ahead of it differs between the two engines;
6. ``price: position`` / ``price: mid``: B had an order resting on side s at
   another price, or filled on side s at another price within the window.
   ``position``: the two positions differ by enough to move the quote by half
   a tick or more (|Δq|·skew ≥ tick/2: a different position history); ``mid``:
   they do not, so the quotes differ by the mid each engine quoted around
   (flatbook requotes on events, at most every 100 ms; hftbacktest every
   100 ms of local time, on its depth-built book);
7. ``limit``: B had no order on side s and B's position was at the limit on
   that side;
8. ``no order``: B had no order resting on side s (a request in flight, the
   side just filled and not yet re-sent, or not requoted).

flatbook's state comes from its result: ``path['bid'|'ask']`` (our resting
order after each event, exchange time), ``fills`` and ``requests`` (a request
is a post-only reject when it would have crossed the book as it was before the
first event at or after its arrival, which is the replay's own rule).
hftbacktest's comes from the logs of ``hftbacktest_strategies.quote_loop``: an
order rests from its submission + the order latency to its fill (exchange
time), its cancel + the order latency, or never (expired).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

NS = 1_000_000_000
WINDOW_NS = NS
NEAR_NS = 5 * NS
#: the other engine's orders and position are read this long before a fill (1 ms, Binance's time resolution):
#: the same market event can fill both engines' orders, each a few µs apart
BEFORE_NS = 1_000_000
CLASSES = (
    "partial",
    "timing",
    "again",
    "post-only",
    "queue",
    "price: position",
    "price: mid",
    "limit",
    "no order",
)


# --------------------------------------------------------------------------- matching
def match(
    a_ts: np.ndarray,
    a_side: np.ndarray,
    a_px: np.ndarray,
    b_ts: np.ndarray,
    b_side: np.ndarray,
    b_px: np.ndarray,
    tick: float,
    window_ns: int = WINDOW_NS,
    same_price: bool = True,
) -> np.ndarray:
    """For each fill of A (in its given order), the index of its match in B or −1.

    One to one, greedy by time: A's fills in time order, each takes the nearest unmatched B fill on the same
    side (and at the same price, in ticks, if ``same_price``) within ``window_ns`` (the earlier on a tie).
    Times in ns, prices in price units.
    """
    a_ts = np.asarray(a_ts, np.int64)
    b_ts = np.asarray(b_ts, np.int64)
    a_t = np.round(np.asarray(a_px, float) / tick).astype(np.int64)
    b_t = np.round(np.asarray(b_px, float) / tick).astype(np.int64)
    order_b = np.argsort(b_ts, kind="stable")
    bs = b_ts[order_b]
    used = np.zeros(len(b_ts), bool)
    out = np.full(len(a_ts), -1, np.int64)
    for i in np.argsort(a_ts, kind="stable"):
        lo = np.searchsorted(bs, a_ts[i] - window_ns, "left")
        hi = np.searchsorted(bs, a_ts[i] + window_ns, "right")
        best, best_dt = -1, None
        for jj in range(lo, hi):
            j = order_b[jj]
            if used[j] or b_side[j] != a_side[i] or (same_price and b_t[j] != a_t[i]):
                continue
            dt = abs(int(b_ts[j]) - int(a_ts[i]))
            if best_dt is None or dt < best_dt:
                best, best_dt = j, dt
        if best >= 0:
            used[best] = True
            out[i] = best
    return out


# --------------------------------------------------------------------------- each engine's state over time
class EngineState:
    """One engine's fills, resting orders, post-only refusals and position, queried at exchange times (ns).

    ``fills``: ts, side (+1 buy), px, qty arrays. Resting orders: ``rest_*`` arrays of intervals
    [start, end) with side and price. ``refused``: arrival time, side and price of the refused orders.
    """

    def __init__(self, name, fills, rest, refused, limit, tick, q0=0.0):
        self.name = name
        self.f_ts = np.asarray(fills["ts"], np.int64)
        self.f_side = np.asarray(fills["side"], np.int64)
        self.f_px = np.asarray(fills["px"], float)
        self.f_qty = np.asarray(fills["qty"], float)
        o = np.argsort(self.f_ts, kind="stable")
        self._q_ts = self.f_ts[o]
        self._q = q0 + np.cumsum(self.f_side[o] * self.f_qty[o])
        self.rest = rest  # callable (t, side) -> price or NaN
        self.ref_ts = np.asarray(refused["ts"], np.int64)
        self.ref_side = np.asarray(refused["side"], np.int64)
        self.ref_px = np.asarray(refused["px"], float)
        self.limit = float(limit)
        self.tick = float(tick)
        self.q0 = q0

    def q_before(self, t: int) -> float:
        i = np.searchsorted(self._q_ts, t, "left")
        return float(self._q[i - 1]) if i > 0 else self.q0

    def fills_near(self, t: int, side: int, px: float, window_ns: int) -> np.ndarray:
        """Indices of the fills at (side, px) at most ``window_ns`` from t."""
        tt = round(px / self.tick)
        m = (np.abs(self.f_ts - t) <= window_ns) & (self.f_side == side) & (np.round(self.f_px / self.tick) == tt)
        return np.flatnonzero(m)

    def side_fill_near(self, t: int, side: int, window_ns: int) -> bool:
        return bool(np.any((np.abs(self.f_ts - t) <= window_ns) & (self.f_side == side)))

    def refused_near(self, t: int, side: int, px: float) -> bool:
        tt = round(px / self.tick)
        m = (self.ref_ts <= t) & (self.ref_ts >= t - NS) & (self.ref_side == side)
        return bool(np.any(np.round(self.ref_px[m] / self.tick) == tt))


def flatbook_state(res, ev, limit: float, tick: float) -> EngineState:
    """flatbook's :class:`EngineState` from a ``BacktestResult`` and its EventTable."""
    ts = np.asarray(ev.ts, np.int64)
    bid, ask = np.asarray(res.path["bid"]), np.asarray(res.path["ask"])

    def rest(t, side):
        i = np.searchsorted(ts, t, "left") - 1  # after the last event before t
        if i < 0:
            return np.nan
        return float(bid[i] if side > 0 else ask[i])

    rq = res.requests
    live = np.asarray(rq["size"]) > 0
    arr = np.asarray(rq["arrival"], np.int64)[live]
    side = np.asarray(rq["side"], np.int64)[live]
    px = np.asarray(rq["px"], float)[live]
    # the replay's rule: against the book before the first event at or after the arrival
    idx = np.clip(np.searchsorted(ts, arr, "left") - 1, 0, len(ts) - 1)
    bb, ba = np.asarray(ev.bid_px)[idx], np.asarray(ev.ask_px)[idx]
    crossed = np.where(side > 0, px >= ba - 0.5 * tick, px <= bb + 0.5 * tick)
    refused = {"ts": arr[crossed], "side": side[crossed], "px": px[crossed]}
    f = res.fills
    return EngineState("flatbook", {k: f[k] for k in ("ts", "side", "px", "qty")}, rest, refused, limit, tick)


def hftbacktest_state(fill_log, order_log, order_latency_ns: int, limit: float, tick: float) -> EngineState:
    """hftbacktest's :class:`EngineState` from the logs of ``hftbacktest_strategies.quote_loop``."""
    import hftbacktest_strategies as H

    fl, ol = np.asarray(fill_log), np.asarray(order_log)
    fills = {
        "ts": fl[:, H.F_TS].astype(np.int64),
        "side": fl[:, H.F_SIDE].astype(np.int64),
        "px": fl[:, H.F_PX],
        "qty": fl[:, H.F_QTY],
    }
    fill_at = {int(i): int(t) for i, t in zip(fl[:, H.F_ID], fills["ts"])}
    sub = ol[ol[:, H.L_WHAT] == H.OL_SUBMIT]
    cancel_at = {int(r[H.L_ID]): int(r[H.L_TS]) + order_latency_ns for r in ol[ol[:, H.L_WHAT] == H.OL_CANCEL]}
    expired = ol[ol[:, H.L_WHAT] == H.OL_EXPIRED]
    exp_ids = {int(i) for i in expired[:, H.L_ID]}
    big = np.iinfo(np.int64).max
    starts, ends, sides, pxs = [], [], [], []
    ref = {"ts": [], "side": [], "px": []}
    for r in sub:
        oid = int(r[H.L_ID])
        start = int(r[H.L_TS]) + order_latency_ns
        if oid in exp_ids:
            ref["ts"].append(start)
            ref["side"].append(int(r[H.L_SIDE]))
            ref["px"].append(float(r[H.L_PX]))
            continue
        end = min(fill_at.get(oid, big), cancel_at.get(oid, big))
        starts.append(start)
        ends.append(end)
        sides.append(int(r[H.L_SIDE]))
        pxs.append(float(r[H.L_PX]))
    st, en, sd, px = np.array(starts, np.int64), np.array(ends, np.int64), np.array(sides), np.array(pxs)

    def rest(t, side):
        m = (st <= t) & (en > t) & (sd == side)  # strictly before t's own fill: end > t
        if not m.any():
            return np.nan
        return float(px[m][np.argmax(st[m])])  # the newest, if a cancelled one still rests

    return EngineState("hftbacktest", fills, rest, {k: np.array(v) for k, v in ref.items()}, limit, tick)


# --------------------------------------------------------------------------- classification
def classify(a: EngineState, b: EngineState, matched: np.ndarray, skew: float, window_ns: int = WINDOW_NS) -> list[str]:
    """The class (:data:`CLASSES`) of each of A's fills that B did not match (``matched`` from :func:`match`:
    −1), in A's order; matched fills get ''. ``skew``: the strategy's quote shift per unit of position (price
    units per unit), which tells a price difference the positions explain from one they do not."""
    out = []
    tick = a.tick
    b_used = np.zeros(len(b.f_ts), bool)
    b_used[matched[matched >= 0]] = True
    for i in range(len(a.f_ts)):
        if matched[i] >= 0:
            out.append("")
            continue
        t, s, p = int(a.f_ts[i]), int(a.f_side[i]), float(a.f_px[i])
        if a.name == "flatbook" and _partial_piece(a, i, matched):
            out.append("partial")
            continue
        near = b.fills_near(t, s, p, NEAR_NS)
        if near.size and not b_used[near].all():
            out.append("timing")
            continue
        if near.size:
            out.append("again")
            continue
        if b.refused_near(t, s, p):
            out.append("post-only")
            continue
        bp = b.rest(t - BEFORE_NS, s)
        if bp == bp and round(bp / tick) == round(p / tick):
            out.append("queue")
            continue
        if bp == bp or b.side_fill_near(t, s, window_ns):
            dq = a.q_before(t - BEFORE_NS) - b.q_before(t - BEFORE_NS)
            out.append("price: position" if abs(dq * skew) >= 0.5 * tick else "price: mid")
            continue
        qb = b.q_before(t - BEFORE_NS)
        at_limit = (s > 0 and qb >= b.limit - 1e-9) or (s < 0 and qb <= -b.limit + 1e-9)
        out.append("limit" if at_limit else "no order")
    return out


def _partial_piece(a: EngineState, i: int, matched: np.ndarray) -> bool:
    """True if an earlier fill of A on the same side and price, with no fill at another price on that side in
    between, was matched: another piece of the same order (A's fills are in time order)."""
    tt = round(a.f_px[i] / a.tick)
    for j in range(i - 1, -1, -1):
        if a.f_side[j] != a.f_side[i]:
            continue
        if round(a.f_px[j] / a.tick) != tt:
            return False
        if matched[j] >= 0:
            return True
    return False


def agreement(fb: EngineState, hb: EngineState, skew: float, window_ns: int = WINDOW_NS) -> dict:
    """Both directions: the share matched (same side and price, and same side only, within the window) and the
    classes of the unmatched fills, with counts. ``skew``: as for :func:`classify`. Also the share of
    hftbacktest's fills matched among those at which the two positions were equal (1 ms before)."""
    tick = fb.tick
    m_h = match(hb.f_ts, hb.f_side, hb.f_px, fb.f_ts, fb.f_side, fb.f_px, tick, window_ns)
    m_f = match(fb.f_ts, fb.f_side, fb.f_px, hb.f_ts, hb.f_side, hb.f_px, tick, window_ns)
    s_h = match(hb.f_ts, hb.f_side, hb.f_px, fb.f_ts, fb.f_side, fb.f_px, tick, window_ns, same_price=False)
    s_f = match(fb.f_ts, fb.f_side, fb.f_px, hb.f_ts, hb.f_side, hb.f_px, tick, window_ns, same_price=False)
    c_h = Counter(x for x in classify(hb, fb, m_h, skew, window_ns) if x)
    c_f = Counter(x for x in classify(fb, hb, m_f, skew, window_ns) if x)
    same_q = np.array(
        [abs(hb.q_before(int(t) - BEFORE_NS) - fb.q_before(int(t) - BEFORE_NS)) < 1e-9 for t in hb.f_ts], bool
    )
    n_h, n_f = len(hb.f_ts), len(fb.f_ts)

    def pct(x, n):
        return 100.0 * x / n if n else float("nan")

    return {
        "window_s": window_ns / NS,
        "hftbacktest_fills": n_h,
        "flatbook_fills": n_f,
        "hftbacktest_matched_pct": pct(int((m_h >= 0).sum()), n_h),
        "flatbook_matched_pct": pct(int((m_f >= 0).sum()), n_f),
        "hftbacktest_same_side_pct": pct(int((s_h >= 0).sum()), n_h),
        "flatbook_same_side_pct": pct(int((s_f >= 0).sum()), n_f),
        "matched_pairs": int((m_h >= 0).sum()),
        "hftbacktest_same_q_fills": int(same_q.sum()),
        "hftbacktest_matched_same_q_pct": pct(int((m_h[same_q] >= 0).sum()), int(same_q.sum())),
        "hftbacktest_unmatched": {k: c_h.get(k, 0) for k in CLASSES if k != "partial"},
        "flatbook_unmatched": {k: c_f.get(k, 0) for k in CLASSES},
    }


# --------------------------------------------------------------------------- standalone run
def main(argv: list[str] | None = None) -> int:
    import bench_backtest as B

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_mode_args(ap)
    ap.add_argument("--strategy", choices=sorted(B.ALL), action="append", default=None)
    ap.add_argument("--latency-ms", type=float, default=B.MAIN_LATENCY_MS)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    hbt_py = B.find_hbt_python(args.hbt_python)
    if hbt_py is None:
        print("hftbacktest not found: pass --hbt-python (a Python with hftbacktest 2.4 installed)", file=sys.stderr)
        return 2
    npz, _ = B.hbt_npz(hbt_py, args.data, args.latency_ms)
    ev = B.load_flatbook_events(args, B.flatbook_input(args, npz))
    out = {}
    for name in args.strategy or list(B.ALL):
        out[name] = B.fill_agreement_case(ev, name, args.latency_ms, args, hbt_py, npz)
        B.print_agreement(name, out[name])
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
