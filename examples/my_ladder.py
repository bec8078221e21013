"""A ladder policy in its own file: three levels per side around a linear skew.

Level k (k = 1, 2, 3) of each side sits ``level_step`` further from the mid than level k − 1;
level 1 is the linear skew's quote (depth h ± skew·(q − q*), at least 0); the sizes are
``level_size``, ``level_size`` and ``2·level_size`` lots, the larger size furthest out::

    δb_k = max(h + c, 0) + (k − 1)·step,   δa_k = max(h − c, 0) + (k − 1)·step,   c = skew·(q − q*)

Inspect it (``flatbook backtest DATA --book depth --policy-file examples/my_ladder.py --policy three_levels
--set limit=6`` replays it, each level its own order; the simulator and the live engine refuse it in one line)::

    flatbook quote --policy-file examples/my_ladder.py --policy three_levels --q 3 --set limit=6
    python examples/my_ladder.py          # the same through flatbook.quote / flatbook.quotes
"""

from flatbook.policies import Param, policy


@policy(
    params={
        "half_spread": Param(unit="price units", default=0.5, ge=0, doc="half-spread h of level 1 at q = q*"),
        "skew": Param(unit="price units per lot", default=0.01, ge=0, doc="linear skew per lot"),
        "q_target": Param(unit="lots", default=0.0, doc="target inventory q*"),
        "level_step": Param(unit="price units", default=0.25, ge=0, doc="distance between a side's levels"),
        "level_size": Param(unit="lots", default=1.0, ge=0, doc="size of levels 1 and 2 (level 3: twice it)"),
    },
    levels=3,
)
def three_levels(p, t, tau, s, q):
    """Three levels per side, ``level_step`` apart, around a linear skew; sizes 1, 1, 2 × level_size."""
    c = p.skew * (q - p.q_target)
    db = max(p.half_spread + c, 0.0)
    da = max(p.half_spread - c, 0.0)
    d = p.level_step
    n = p.level_size
    return db, db + d, db + 2.0 * d, da, da + d, da + 2.0 * d, n, n, 2.0 * n, n, n, 2.0 * n


if __name__ == "__main__":
    import numpy as np

    import flatbook

    # one state: q = 3 lots long, limit 6 lots, so the bid side may add at most 3 lots in all
    r = flatbook.quote(3, policy=three_levels, preset="as2008", limit=6, half_spread=0.5, skew=0.01)
    print(f"quote at q = 3, limit 6 (mid {r.mid:g}):")
    for lv in r.levels:
        print(
            f"  level {lv['level']}: bid {lv['bid']:.4f} × {lv['bid_size']:g}   ask {lv['ask']:.4f} × {lv['ask_size']:g}"
        )
    total_bid = sum(lv["bid_size"] for lv in r.levels)
    print(f"bid sizes add up to {total_bid:g} lots = limit − q")
    # many states at once: the bid side's total size shrinks as q nears the limit
    qs = np.arange(-6.0, 7.0, 3.0)
    a = flatbook.quotes(qs, policy=three_levels, preset="as2008", limit=6, half_spread=0.5, skew=0.01).arrays
    for j, qj in enumerate(qs):
        nb = sum(a[f"bid_size_{k}"][j] for k in (1, 2, 3))
        na = sum(a[f"ask_size_{k}"][j] for k in (1, 2, 3))
        print(f"q = {qj:+g}: bid sizes sum {nb:g}, ask sizes sum {na:g}")
    try:
        flatbook.simulate(policy=three_levels, preset="as2008", paths=10)
    except flatbook.InputError as exc:
        print(f"simulate refuses it: {exc}")
