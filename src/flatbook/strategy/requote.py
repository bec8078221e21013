"""When to decide again, and which side to (re)send or cancel (compiled and inlined; the live engine runs the source).

- **Decide again** (:func:`decision_due`): not within ``min_requote`` (ns) of the last request, and,
  for a policy whose quotes do not move with time alone, only when something the decision reads
  changed: the mid, the market's spread, q or the kill switch (the last decision then stands,
  exactly). ``force`` (the live engine's "dirty": a venue rejected or cancelled an order) decides
  even when they did not.
- **Refresh** (:func:`requote_side`): a side is re-sent only if its size changed, or it is quoted
  and its price moved by ``refresh`` ticks or more (``refresh`` = refresh_ticks·(1 − 1e−9), so a
  whole number of ticks is not lost to rounding). A size of 0 is a cancel.
- **Limit room** (:func:`~flatbook.controls.quote_controls.room_left`, :func:`room_size`): an order on side k may add at most
  limit − q − exposure (bid) or limit + q − exposure (ask) lots, ``exposure`` the size already
  resting or in flight on that side that could still fill; a larger order is cut to whole lots of
  that room (seed 001, "hard limit"). The replay applies it when a request reaches the exchange
  (exposure 0: a request replaces the side's order), the live engine when it sends one (exposure:
  its open orders, the worst case).

Times in ns, prices in integer ticks, sizes in lots.
"""

from __future__ import annotations

import math

import numba as nb


@nb.njit(inline="always", cache=True)
def inputs_unchanged(last, mid, spread, q, killed):
    """Whether (mid, spread, q, killed) equal the last decision's ``last`` = (mid, spread, q, killed as 1.0/0.0),
    a tuple of floats (NaN entries: never equal)."""
    return mid == last[0] and spread == last[1] and q == last[2] and (1.0 if killed else 0.0) == last[3]


@nb.njit(inline="always", cache=True)
def decision_due(timed, force, last, mid, spread, q, killed, t, last_req, min_requote):
    """Whether to decide at time ``t`` (ns): ``min_requote`` ns after the last request ``last_req``, and for a
    time-independent policy (``timed`` False) only when (mid, spread, q, killed) differ from the last
    decision's ``last`` (:func:`inputs_unchanged`; NaNs before the first decision) or ``force``."""
    return t - last_req >= min_requote and not (
        not timed and not force and inputs_unchanged(last, mid, spread, q, killed)
    )


@nb.njit(inline="always", cache=True)
def room_size(sz, room, lot):
    """Order size ``sz`` cut to the whole lots of ``room`` when it does not fit (room ≤ 0: 0)."""
    if room < sz:
        return math.floor(max(room, 0.0) / lot + 1e-9) * lot
    return sz


@nb.njit(inline="always", cache=True)
def requote_side(sz, p_t, want_sz, want_p, refresh, room, lot):
    """(send?, size) for one side whose decision is ``sz`` lots at ``p_t`` ticks, after the last request
    (``want_sz`` at ``want_p``). ``refresh``: ticks a quoted price must move to be re-sent;
    ``room``: :func:`~flatbook.controls.quote_controls.room_left` (inf: cut later, at the exchange)."""
    moved = sz > 0.0 and p_t != want_p and abs(p_t - want_p) >= refresh
    if sz == want_sz and not moved:
        return False, sz
    if room < sz:
        sz = room_size(sz, room, lot)
        if sz == want_sz and not moved:
            return False, sz
    return True, sz
