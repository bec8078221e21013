"""Issue 14 §3: the engines take a few records, not long positional argument lists.

The matching the replay and the paper venue share (:func:`flatbook.backtest.engine.arrive`,
:func:`~flatbook.backtest.engine.match_side_at`) reads our orders' queue state (``Orders``), the event
(``Event``), the book after it (``Book``) and the venue's rules (``Rules``); the multi-instrument kernel
reads ``Instruments``, ``Portfolio``, ``Run`` and writes ``Result``; the paper venue takes its fees as one
``Fees``. These tests drive the shared matching through its records with hand-made numbers, check the
paper venue's fees from its record, and keep the argument counts down.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from flatbook.backtest import engine as E
from flatbook.data.events import QUOTE, TRADE
from flatbook.live.adapters.paper_venue import Fees, PaperVenue
from flatbook.live.types import BUY, SELL, MarketEvent, OrderRequest
from flatbook.multi import kernel as MK
from flatbook.multi.simulator import _pack, multi_preset

SRC = Path(__file__).resolve().parents[1] / "src" / "flatbook"
TICK, LOT = 0.1, 0.1
RULES = (TICK, LOT, E.QUEUE_PRORATA)
NO_DEPTH = np.full((1, 1, 4), np.nan)


def _book(bid_sz, ask_sz=2.0):
    """The book 100.0 / 100.1 (ticks 1000 / 1001) with these sizes, as the matching reads it."""
    return E.book_at(100.0, bid_sz, 100.1, ask_sz, 0, TICK)


def test_book_at_puts_the_touch_on_the_tick_grid_and_marks_an_empty_side():
    assert E.book_at(100.0, 1.0, 100.1, 2.0, 3, TICK) == (True, 1000, 1001, 1.0, 2.0, 3)
    ok, bid_t, ask_t, *_ = E.book_at(math.nan, 0.0, 100.1, 2.0, 0, TICK)
    assert not ok and bid_t == -(2**62) and ask_t == 1001


def test_a_bid_joins_the_back_of_its_level_and_a_crossing_one_is_rejected():
    od = tuple(E.new_orders())
    assert not E.arrive(0, 1000, 0.5, _book(1.0), NO_DEPTH, TICK, od)
    o = E.Orders(*od)
    assert (o.live_p[0], o.live_sz[0], o.ahead[0], o.lvl[0]) == (1000, 0.5, 1.0, 1.0)
    assert E.arrive(0, 1001, 0.5, _book(1.0), NO_DEPTH, TICK, od)  # at the ask: post-only refuses it
    assert o.live_sz[0] == 0.0
    # a level beyond the touch, read from the depth levels: 0.7 at 99.9 (level 1)
    depth = np.array([[[100.0, 1.0, 100.1, 2.0], [99.9, 0.7, 100.2, 3.0]]])
    assert not E.arrive(0, 999, 0.5, _book(1.0), depth, TICK, od)
    assert o.ahead[0] == 0.7


def test_the_queue_ahead_takes_cancels_pro_rata_and_a_print_reconciles_with_the_fall():
    """Our 0.5 bid at 100.0 behind 1.0. The level grows to 2.0 behind us, then falls to 1.5 with no print:
    0.5 of cancels, a quarter of the level, so ahead 1.0 → 0.75. The 0.5 sell print that explains the fall
    arrives within 1 ms: the cancels are undone (ahead back to 1.0) and the print takes the queue as a trade
    (ahead 0.5). A 0.7 print then fills 0.2 (whole lots) and leaves 0.3 of our order."""
    od = tuple(E.new_orders())
    o = E.Orders(*od)
    E.arrive(0, 1000, 0.5, _book(1.0), NO_DEPTH, TICK, od)
    t = 1_000_000_000
    assert E.match_side_at(0, (t, QUOTE, 0, math.nan, 0.0), _book(2.0), NO_DEPTH, RULES, od) == 0.0
    assert (o.ahead[0], o.lvl[0]) == (1.0, 2.0)
    assert E.match_side_at(0, (t + 1, QUOTE, 0, math.nan, 0.0), _book(1.5), NO_DEPTH, RULES, od) == 0.0
    assert o.ahead[0] == 0.75 and tuple(o.pend[0]) == (0.5, 0.25) and o.pend_ts[0] == t + 1
    t_print = t + 1 + E.RECONCILE_NS
    assert E.match_side_at(0, (t_print, TRADE, -1, 100.0, 0.5), _book(1.5), NO_DEPTH, RULES, od) == 0.0
    assert o.ahead[0] == 0.5 and tuple(o.pend[0]) == (0.0, 0.0) and o.traded[0] == 0.0
    fill = E.match_side_at(0, (t_print + 1, TRADE, -1, 100.0, 0.7), _book(1.5), NO_DEPTH, RULES, od)
    assert fill == pytest.approx(0.2) and o.live_sz[0] == pytest.approx(0.3) and o.ahead[0] == 0.0
    # a buyer's print at our bid's price does not touch the bid
    assert E.match_side_at(0, (t_print + 2, TRADE, 1, 100.0, 5.0), _book(1.5), NO_DEPTH, RULES, od) == 0.0


def test_a_book_through_our_price_fills_all_of_it():
    od = tuple(E.new_orders())
    E.arrive(1, 1002, 0.4, _book(1.0), NO_DEPTH, TICK, od)  # our ask at 100.2, behind nobody (inside)
    through = E.book_at(100.2, 1.0, 100.3, 1.0, 0, TICK)  # the best bid reaches our ask
    assert E.match_side_at(1, (5, QUOTE, 0, math.nan, 0.0), through, NO_DEPTH, RULES, od) == 0.4
    assert E.Orders(*od).live_sz[1] == 0.0


def test_the_venue_charges_its_fee_record():
    """A 0.3 taker buy against 100.1 pays taker + taker_bps of the notional: 0.01·0.3 + 2 bps·0.3·100.1;
    a 0.2 maker fill of our ask at 100.2 gets maker + maker_bps (rebates): −0.002·0.2 − 0.5 bps·0.2·100.2."""
    fees = Fees.of({"maker_fee": -0.002, "maker_fee_bps": -0.5, "taker_fee": 0.01, "taker_fee_bps": 2.0})
    assert fees == Fees(maker=-0.002, maker_bps=-0.5, taker=0.01, taker_bps=2.0)
    venue = PaperVenue(TICK, 0.01, fees=fees)
    got: list = []
    venue.set_listeners(lambda u: None, got.append)
    venue.on_market(MarketEvent(0, 1_000, QUOTE, 100.0, 1.0, 100.1, 1.0))
    venue.submit(OrderRequest("t", BUY, 100.1, 0.3, 1_000, True))
    venue.submit(OrderRequest("m", SELL, 100.2, 0.2, 1_000))
    venue.on_market(MarketEvent(1, 2_000, QUOTE, 100.0, 1.0, 100.1, 1.0))  # both arrive; our ask rests at 100.2
    venue.on_market(MarketEvent(2, 3_000, TRADE, 100.0, 1.0, 100.1, 1.0, 100.3, 0.5, BUY))  # through our ask
    assert [(f.client_id, f.liquidity) for f in got] == [("t", "taker"), ("m", "maker")]
    assert got[0].qty == pytest.approx(0.3) and got[1].qty == pytest.approx(0.2)
    assert got[0].fee == pytest.approx(0.01 * 0.3 + 2e-4 * 100.1 * 0.3, rel=1e-12)
    assert got[1].fee == pytest.approx(-0.002 * 0.2 - 0.5e-4 * 100.2 * 0.2, rel=1e-12)
    with pytest.raises(TypeError):
        PaperVenue(TICK, 0.01, maker_fee=1.0)  # the four fee keywords are one record now


def test_the_multi_kernel_records_carry_the_run():
    mc = multi_preset("multi-asset", paths=64, seed=11)
    policies, ins, pf, run = _pack(mc)
    assert isinstance(ins, MK.Instruments) and isinstance(pf, MK.Portfolio) and isinstance(run, MK.Run)
    v = [c.values for c in mc.configs]
    assert list(ins.adt) == [x["A"] * x["dt"] for x in v] and list(ins.s0) == [100.0, 50.0]
    assert run == (v[0]["dt"], v[0]["T"], mc.configs[0].steps, 11) and pf.skew is True
    # Σ = [[4, 4.8], [4.8, 9]] (σ 2 and 3, ρ 0.8): L Lᵀ = Σ and R_ij = Σ_ij / Σ_ii
    assert np.allclose(pf.chol @ pf.chol.T, [[4.0, 4.8], [4.8, 9.0]])
    assert np.allclose(pf.risk, [[1.0, 1.2], [4.8 / 9.0, 1.0]])
    # the kernel called with the records as plain tuples: two runs give the same bits
    n = len(mc.configs)
    outs = []
    for _ in range(2):
        res = (np.empty(64), np.empty((MK.M_PER_INST * n, 64)))
        MK.kernels(policies).simulate_multi(tuple(ins), tuple(pf), tuple(run), 0, 64, res)
        outs.append(res)
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])


def _arity(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)
    return n - (1 if a.args and a.args[0].arg in ("self", "cls") else 0)


@pytest.mark.parametrize(
    "path", ["backtest/engine.py", "live/adapters/paper_venue.py", "multi/kernel.py", "multi/simulator.py"]
)
def test_no_function_of_the_matching_or_the_multi_kernel_takes_more_than_ten_arguments(path):
    tree = ast.parse((SRC / path).read_text())
    long = {
        f.name: _arity(f)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and _arity(f) > 10
    }
    assert long == {}
