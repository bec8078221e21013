"""Pre-trade risk: every request is checked here before it is journaled and handed to the venue.

Checks, in order (the first failure rejects the request, which is journaled,
logged, counted and alerted):

1. **kill switch**: once fired, only requests that reduce |q| pass;
2. **hard limit**: the worst case if every resting and in-flight same-side
   order *and* this one fill in full, q + side·(exposure + size), must stay
   within ±limit (a replace can be filled before it reaches the exchange, so
   the order it replaces still counts);
3. **throttle**: at most ``max_per_s`` requests in any sliding 1 s of event time
   (cancels always pass: refusing a cancel adds risk; they still count).

Sizes in lots, times in ns.
"""

from __future__ import annotations

from collections import deque

NS = 1_000_000_000

KILLED, LIMIT, THROTTLE = "kill switch", "hard limit", "throttle"
REASONS = (KILLED, LIMIT, THROTTLE)


class PreTradeRisk:
    """Stateful checks; ``window`` (request times of the last second) is part of the engine's snapshot."""

    def __init__(self, limit: float, max_per_s: float, lot: float):
        self.limit = float(limit)
        self.max_per_s = float(max_per_s)
        self.eps = float(lot) * 1e-9
        self.window: deque[int] = deque()

    def _window(self, ts: int) -> deque[int]:
        """Request times in (ts − 1 s, ts]."""
        w = self.window
        while w and w[0] <= ts - NS:
            w.popleft()
        return w

    def has_room(self, ts: int) -> bool:
        """Whether the throttle lets one more request go at ``ts`` (the engine paces itself with this)."""
        return len(self._window(ts)) < self.max_per_s

    def check(
        self, side: int, size: float, q: float, exposure: float, ts: int, killed: bool, taker: bool = False
    ) -> str | None:
        """None if the request may go, else the reason. ``exposure``: resting + in-flight same-side size."""
        w = self._window(ts)
        if size <= 0.0:  # a cancel
            w.append(ts)
            return None
        worst = q + side * (exposure + size)
        reduces = abs(q + side * size) < abs(q) and abs(worst) <= abs(q) + self.eps
        if killed and not reduces:
            return KILLED
        if abs(worst) > self.limit + self.eps and not (taker and reduces):
            return LIMIT
        if len(w) >= self.max_per_s:
            return THROTTLE
        w.append(ts)
        return None
