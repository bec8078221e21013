"""The hedge recommendation shown by the monitor: what to trade, how much, and why.

It is the simulator's own hedge decision, not a copy of it: the parameters are packed by
:func:`flatbook.hedging.model.pack_hedge` (the simulator's packer) and the decision is made by
the simulator's compiled rules :func:`flatbook.hedging.execution.hedge_due` (does a hedge
start?) and :func:`flatbook.hedging.execution.hedge_size` (signed lots), so the same
inputs give the same due/size as in ``flatbook simulate``:

- killed or flattening: ``flatten`` all of q;
- the trigger fires (``threshold``: |q − q*| > hedge_threshold; ``urgency``:
  α·σ²·|q − q*| ≥ 1), or the zone's action is ``hedge`` (seed 000, "Soft Limits & Alerts":
  the red zone's ``hedge`` action; the rule's ``zone`` trigger with the zone's request raised):
  ``hedge`` by the sizing rule — ``target``: |q − q*|; ``fraction``: hedge_fraction·|q − q*|;
  ``band``: down to |q − q*| = hedge_band — on the side that moves q towards q*, executed by
  ``hedge_exec``; a size of 0 is no hedge (as in the simulator);
- otherwise ``none``.

The monitor raises the zone's request for as long as the zone's action is ``hedge`` (a standing
recommendation), where the simulator raises it once, on entering the zone.
Quantities in lots; q* is the simulator's target (``q_target``, or the carry costs' critical
fractile with ``hedge_target_mode = cost``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..controls.quote_controls import ACT_HEDGE
from ..controls.zones import zone_name
from ..hedging.execution import TRIG_ZONE, hedge_due, hedge_size
from ..hedging.model import HP_BAND, HP_FRAC, HP_QSTAR, HP_SIZING, HP_THR, HP_TRIGGER, HP_URG, pack_hedge


@dataclass(frozen=True)
class HedgeRule:
    """The simulator's packed hedge constants (see :func:`flatbook.hedging.model.pack_hedge`).

    trigger, sizing: codes of ``hedge_trigger`` / ``hedge_sizing``; thr: lots; urg: α·σ² (1/lot);
    frac: fraction; band: lots; qstar: the target q* (lots); method: ``hedge_exec``.
    """

    trigger: float
    thr: float
    urg: float
    sizing: float
    frac: float
    band: float
    qstar: float
    method: str
    trigger_name: str


def hedge_rule(v: Mapping) -> HedgeRule:
    """Pack the validated parameter values ``v`` as the simulator does (one step: no schedule is needed)."""
    hp = pack_hedge(v, 1)[0]
    return HedgeRule(
        float(hp[HP_TRIGGER]),
        float(hp[HP_THR]),
        float(hp[HP_URG]),
        float(hp[HP_SIZING]),
        float(hp[HP_FRAC]),
        float(hp[HP_BAND]),
        float(hp[HP_QSTAR]),
        str(v["hedge_exec"]),
        str(v["hedge_trigger"]),
    )


def hedge_decision(rule: HedgeRule, q: float, target: float, act: float) -> tuple[bool, float]:
    """(due, signed lots) of the simulator's rules for inventory q (lots) against the target (lots).

    ``act``: the zone's action code (``ACT_HEDGE`` raises the zone's hedge request).
    """
    dev = q - target
    zone_due = bool(hedge_due(TRIG_ZONE, dev, rule.thr, rule.urg, 1.0 if act == ACT_HEDGE else 0.0))
    trig_due = bool(hedge_due(rule.trigger, dev, rule.thr, rule.urg, 0.0))
    size = float(hedge_size(rule.sizing, dev, rule.frac, rule.band))
    return (zone_due or trig_due) and size != 0.0, size


def hedge_advice(
    rule: HedgeRule, q: float, target: float, act: float, zone: int, killed: bool, flattening: bool
) -> dict:
    """The recommendation as a JSON-ready dict (action, side, qty, method, reason)."""
    if killed or flattening:
        return {
            "action": "flatten" if q != 0 else "none",
            "side": "sell" if q > 0 else "buy" if q < 0 else None,
            "qty": abs(q),
            "method": "immediate",
            "reason": "kill switch" if killed else "end of session",
        }
    due, size = hedge_decision(rule, q, target, act)
    if not due:
        return {"action": "none", "side": None, "qty": 0.0, "method": rule.method, "reason": ""}
    if act == ACT_HEDGE:
        reason = f"zone {zone_name(zone)} action is hedge"
    else:
        reason = f"hedge_trigger {rule.trigger_name}: |q − q*| = {abs(q - target):g}"
    side = "sell" if size < 0 else "buy"
    return {"action": "hedge", "side": side, "qty": abs(size), "method": rule.method, "reason": reason}
