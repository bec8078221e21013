"""Your own costs: a maker fee in basis points of the traded value (negative: a rebate) and funding on the
position's notional, as a flatbook cost stage in place of ``maker_fee`` and ``financing_long/short``.

Load it with ``--market-file`` on the command line::

    flatbook simulate --preset as2008 --market-file examples/my_costs.py --cost bps_costs --cost-set fee_bps=-1

or from Python, ``flatbook.api.catalogue.load_cost_stage("examples/my_costs.py", "bps_costs", {"fee_bps": -1})``.
Run as a script, it simulates A–S on the as2008 preset without costs and with this stage, on the same random
numbers (the costs do not move the fills), and prints what the rebate and the funding do to the mean PnL.
"""

import sys

from flatbook.market.cost_stage import Param, cost_stage


@cost_stage(
    params={
        "fee_bps": Param(unit="basis points of the traded value", default=-0.5, doc="maker fee (< 0: a rebate)"),
        "funding": Param(unit="per time unit", default=0.05, ge=0, doc="funding rate on |q|·s, long or short"),
    }
)
def bps_costs(p, t, dt, s, q, bought, sold, value, m):
    """(fee_bps·1e-4·value, funding·dt·|q|·s, 0): a fee on the traded value and funding on the notional."""
    return p.fee_bps * 1e-4 * value, p.funding * dt * abs(q) * s, 0.0


if __name__ == "__main__":
    import flatbook
    from flatbook.api.catalogue import load_cost_stage

    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    base = flatbook.simulate("as2008", "avellaneda-stoikov", paths=paths, seed=0)
    run = flatbook.simulate("as2008", "avellaneda-stoikov", paths=paths, seed=0, cost=load_cost_stage(__file__))
    b, r = base.summary, run.summary
    print(f"cost stage: {run.raw.summary['cost_stage']['name']} {run.raw.summary['cost_stage']['params']}")
    print(
        f"mean PnL {b['pnl_mean'].value:.4f} -> {r['pnl_mean'].value:.4f} price units × lots "
        f"(fees {run.raw.per_path['fees'].mean():+.4f}, financing {run.raw.per_path['financing'].mean():+.4f}; "
        f"fills per path {b['fills_mean'].value:.1f} -> {r['fills_mean'].value:.1f})"
    )
