"""The fill matching and classification of ``benchmarks/fill_agreement.py`` (flatbook against hftbacktest).

Hand-made fills with times in ns and prices on a 0.1 grid; every expected match and class is worked out
in the comments. No engine runs here: the benchmark itself runs both tools.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fill_agreement as FA  # noqa: E402

S = 1_000_000_000
TICK = 0.1


def _m(a, b, same_price=True):
    """match() on (t in s, side, px) triples."""
    a_t, a_s, a_p = (np.array(x) for x in zip(*a))
    b_t, b_s, b_p = (np.array(x) for x in zip(*b))
    return FA.match(
        (a_t * S).astype(np.int64), a_s, a_p, (b_t * S).astype(np.int64), b_s, b_p, TICK, same_price=same_price
    ).tolist()


def test_match_one_to_one_nearest_in_time():
    a = [(0.0, 1, 100.0), (0.5, 1, 100.0)]
    b = [(0.2, 1, 100.0), (0.3, 1, 100.1), (2.0, 1, 100.0)]
    # A0 takes B0 (0.2 s away, same price); A1 finds B0 used and B2 1.5 s away: unmatched
    assert _m(a, b) == [0, -1]
    # ignoring the price, A1 takes B1 (0.2 s away)
    assert _m(a, b, same_price=False) == [0, 1]


def test_match_prefers_the_nearer_then_the_earlier():
    # B1 is 0.3 s away, B0 0.6 s: the nearer wins
    assert _m([(1.0, -1, 50.0)], [(0.4, -1, 50.0), (1.3, -1, 50.0)]) == [1]
    # a tie (0.5 s each side): the earlier wins
    assert _m([(1.0, -1, 50.0)], [(0.5, -1, 50.0), (1.5, -1, 50.0)]) == [0]
    # another side, or more than the 1 s window away, never matches
    assert _m([(1.0, -1, 50.0)], [(1.0, 1, 50.0), (2.01, -1, 50.0)]) == [-1]


def test_match_prices_compare_in_ticks():
    # 100.00000001 and 100.0 are the same tick; 100.1 is the next one
    assert _m([(0.0, 1, 100.00000001), (0.0, 1, 100.1)], [(0.1, 1, 100.0), (0.1, 1, 100.0)]) == [0, -1]


def _state(name, fills, rest=None, refused=None, limit=0.03):
    t, s, p, q = (np.array(x) for x in zip(*fills)) if fills else ([], [], [], [])
    f = {"ts": (np.asarray(t) * S).astype(np.int64), "side": np.asarray(s), "px": np.asarray(p), "qty": np.asarray(q)}
    ref = refused or {"ts": np.zeros(0, np.int64), "side": np.zeros(0), "px": np.zeros(0)}
    return FA.EngineState(name, f, rest or (lambda t, side: np.nan), ref, limit, TICK)


def test_classes_from_the_other_engines_state():
    # engine A (hftbacktest): five buys of 0.01 at 100.0, at 1, 3, 10, 20 and 30 s
    a = _state("hftbacktest", [(1.0, 1, 100.0, 0.01), (3.0, 1, 100.0, 0.01), (10.0, 1, 100.0, 0.01),
                               (20.0, 1, 100.0, 0.01), (30.0, 1, 100.0, 0.01)])  # fmt: skip

    # engine B (flatbook): one buy at 100.0 at 4.5 s (A's fill at 3 s is 1.5 s away: "timing"); a refused buy
    # at 100.0 arriving at 9.5 s (A's 10 s fill: "post-only"); resting at 100.0 around 20 s ("queue"); resting
    # at 99.8 around 30 s ("price": positions A 0.04, B 0.01 BTC, Δq·skew = 0.03·20 = 0.6 ≥ half a tick)
    def rest(t, side):
        if 19 * S <= t <= 21 * S:
            return 100.0
        if 29 * S <= t <= 31 * S:
            return 99.8
        return np.nan

    refused = {"ts": np.array([int(9.5 * S)]), "side": np.array([1]), "px": np.array([100.0])}
    b = _state("flatbook", [(4.5, 1, 100.0, 0.01)], rest, refused)
    m = FA.match(a.f_ts, a.f_side, a.f_px, b.f_ts, b.f_side, b.f_px, TICK)
    assert m.tolist() == [-1, -1, -1, -1, -1]  # B's fill is 1.5 s from A's nearest
    cls = FA.classify(a, b, m, skew=20.0)
    # 1 s: B's only fill is 3.5 s away (< 5 s): timing; 30 s: B rests elsewhere and q differs by 0.03 BTC
    assert cls == ["timing", "timing", "post-only", "queue", "price: position"]
    # with no skew the same difference at 30 s is the mid's, not the position's
    assert FA.classify(a, b, m, skew=0.0)[-1] == "price: mid"


def test_timing_against_again():
    # A fills twice at 100.0, at 0 s and 2 s; B once, at 0.1 s. A0 takes it, so A1 (1.9 s away) finds only a
    # matched fill near: "again"
    a = _state("hftbacktest", [(0.0, 1, 100.0, 0.01), (2.0, 1, 100.0, 0.01)])
    b = _state("flatbook", [(0.1, 1, 100.0, 0.01)])
    m = FA.match(a.f_ts, a.f_side, a.f_px, b.f_ts, b.f_side, b.f_px, TICK)
    assert m.tolist() == [0, -1]
    assert FA.classify(a, b, m, skew=20.0) == ["", "again"]
    # B's one fill at 3.5 s instead: 3.5 s and 1.5 s from A's, outside the 1 s window, unmatched: both "timing"
    b2 = _state("flatbook", [(3.5, 1, 100.0, 0.01)])
    m2 = FA.match(a.f_ts, a.f_side, a.f_px, b2.f_ts, b2.f_side, b2.f_px, TICK)
    assert m2.tolist() == [-1, -1]
    assert FA.classify(a, b2, m2, skew=20.0) == ["timing", "timing"]


def test_limit_and_no_order():
    # A sells at 100.0 at 10 s and B has no order on the ask: B short 0.03 = the limit gives "limit",
    # B long 0.01 gives "no order"
    a = _state("hftbacktest", [(10.0, -1, 100.0, 0.01)])
    b_short = _state("flatbook", [(1.0, -1, 90.0, 0.03)])
    b_long = _state("flatbook", [(1.0, 1, 90.0, 0.01)])
    m = np.array([-1])
    assert FA.classify(a, b_short, m, skew=20.0) == ["limit"]
    assert FA.classify(a, b_long, m, skew=20.0) == ["no order"]


def test_agreement_shares_and_partial_pieces():
    # flatbook fills one 0.01 order in two pieces at 100.0 (1.0 s and 1.2 s); hftbacktest fills it once at 1.1 s
    fb = _state("flatbook", [(1.0, 1, 100.0, 0.004), (1.2, 1, 100.0, 0.006)], lambda t, side: 100.0)
    hb = _state("hftbacktest", [(1.1, 1, 100.0, 0.01)])
    r = FA.agreement(fb, hb, skew=20.0)
    assert r["hftbacktest_matched_pct"] == 100.0  # its one fill matched (the nearer piece, a tie: the earlier)
    assert r["flatbook_matched_pct"] == 50.0
    # the unmatched second piece belongs to the order whose first piece was matched: hftbacktest fills whole
    # orders, so it is "partial" (checked before "again", which the 0.1 s-away matched fill would also give)
    assert r["flatbook_unmatched"]["partial"] == 1
    assert sum(r["flatbook_unmatched"].values()) == 1
    assert "partial" not in r["hftbacktest_unmatched"]
