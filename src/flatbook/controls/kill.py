"""Kill-switch firing: the one rule (seed 001, "Kill switch"), compiled.

The switch fires, once, on the first mark at which the mark-to-market PnL reaches the loss
limit, mtm ≤ −``max_loss``, or the drawdown from its running peak reaches the drawdown limit,
peak − mtm ≥ ``max_drawdown`` (money: price units × lots, or the contract's settlement
currency). Loss takes precedence when both fire. After it, the controls quote only the side
that flattens (:func:`flatbook.controls.quote_controls.control_quotes`).

:func:`kill_fires` is scalar in, scalar out, branch-free and inlined, so the simulator's path
loop stays vectorised; the live engine calls the same compiled function from Python.
"""

from __future__ import annotations

import numba as nb

#: reason codes (floats, as the compiled loops store them): 0 not fired
KILL_NONE, KILL_LOSS, KILL_DRAWDOWN = 0.0, 1.0, 2.0
#: names of the reason codes
KILL_REASONS = ("none", "loss", "drawdown")


@nb.njit(inline="always", cache=True, error_model="numpy")
def kill_fires(killed, mtm, peak, max_loss, max_dd):
    """Reason code the kill switch fires with at this mark: ``KILL_LOSS``, ``KILL_DRAWDOWN`` or 0.

    killed: already fired (then 0); mtm, peak: mark-to-market PnL and its running peak (money);
    max_loss, max_dd: the limits (money; +inf: off).
    """
    alive = not killed
    loss = alive & (mtm <= -max_loss)
    dd = alive & (peak - mtm >= max_dd)
    return KILL_LOSS if loss else (KILL_DRAWDOWN if dd else KILL_NONE)
