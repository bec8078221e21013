"""The hedge recommendation shown by the monitor: what to trade, how much, and why.

From the same parameters the simulator's hedger uses (``hedge_trigger``,
``hedge_threshold``, ``hedge_sizing``, ``hedge_fraction``, ``hedge_band``,
``hedge_exec``) and the controls' zone action (seed 000, "Soft Limits &
Alerts": the red zone's ``hedge`` action):

- killed or flattening: ``flatten`` all of q;
- the zone's action is ``hedge``, or the trigger fires (``threshold``:
  |q − q*| > hedge_threshold; ``urgency``: hedge_urgency·|q − q*|·σ² ≥ 1):
  ``hedge`` by the sizing rule — ``target``:
  |q − q*|; ``fraction``: hedge_fraction·|q − q*|; ``band``: |q − q*| − hedge_band
  (at least 0) — on the side that moves q towards q*, executed by ``hedge_exec``;
- otherwise ``none``.

Quantities in lots.
"""

from __future__ import annotations

from ..controls.quote_controls import ACT_HEDGE


def hedge_advice(v, q: float, target: float, act: float, zone: int, killed: bool, flattening: bool) -> dict:
    """The recommendation as a JSON-ready dict (action, side, qty, method, reason)."""
    x = q - target
    side = "sell" if x > 0 else "buy" if x < 0 else None
    if killed or flattening:
        side = "sell" if q > 0 else "buy" if q < 0 else None
        return {
            "action": "flatten" if q != 0 else "none",
            "side": side,
            "qty": abs(q),
            "method": "immediate",
            "reason": "kill switch" if killed else "end of session",
        }
    trigger = v.get("hedge_trigger", "none")
    trig = (trigger == "threshold" and abs(x) > v.get("hedge_threshold", float("inf"))) or (
        trigger == "urgency" and v.get("hedge_urgency", 0.0) * abs(x) * v.get("sigma", 0.0) ** 2 >= 1.0
    )
    if not (act == ACT_HEDGE or trig) or x == 0:
        return {"action": "none", "side": None, "qty": 0.0, "method": v.get("hedge_exec", "immediate"), "reason": ""}
    sizing = v.get("hedge_sizing", "target")
    if sizing == "fraction":
        qty = v.get("hedge_fraction", 1.0) * abs(x)
    elif sizing == "band":
        qty = max(abs(x) - v.get("hedge_band", 0.0), 0.0)
    else:
        qty = abs(x)
    names = ("none", "yellow", "red", "critical")
    reason = (
        f"zone {names[zone]} action is hedge" if act == ACT_HEDGE else f"hedge_trigger {trigger}: |q − q*| = {abs(x):g}"
    )
    return {"action": "hedge", "side": side, "qty": qty, "method": v.get("hedge_exec", "immediate"), "reason": reason}
