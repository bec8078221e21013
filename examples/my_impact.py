"""Your own hedge execution model: a square-root temporary impact with a linear permanent part, as a flatbook
impact stage in place of the built-in ``hedge_half_spread``, ``hedge_eta`` (or the square-root law) and
``hedge_perm``.

Load it with ``--market-file`` on the command line::

    flatbook simulate --preset hedging --market-file examples/my_impact.py --impact sqrt_impact --impact-set y=2

or from Python, ``flatbook.api.catalogue.load_impact_stage("examples/my_impact.py", "sqrt_impact", {"y": 2})``.
Run as a script, it simulates the hedging preset with the built-in execution model and with this stage, on the
same random numbers, and prints what the costlier execution does to the hedge's cost and the mean PnL.
"""

import math
import sys

from flatbook.hedging.impact_stage import Param, impact_stage


@impact_stage(
    params={
        "eps": Param(unit="price units", default=0.05, ge=0, doc="half spread paid on every trade"),
        "y": Param(unit="price units per √lot", default=1.0, ge=0, doc="square-root coefficient"),
        "gamma": Param(unit="price units per lot", default=0.5, ge=0, doc="permanent impact"),
    }
)
def sqrt_impact(p, t, dt, h, n, J, vol, m):
    """price h + J + sgn(n)·(ε + Y·m·√(|n|/max(vol, 1))); temporary sgn(n)·Y·m·√(|n|/max(vol, 1)); permanent γ·n."""
    sg = 1.0 if n > 0.0 else -1.0
    temp = p.y * m * math.sqrt(abs(n) / max(vol, 1.0))
    return h + J + sg * (p.eps + temp), sg * temp, p.gamma * n


if __name__ == "__main__":
    import flatbook
    from flatbook.api.catalogue import load_impact_stage

    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    base = flatbook.simulate("hedging", paths=paths, seed=0)
    run = flatbook.simulate("hedging", paths=paths, seed=0, impact=load_impact_stage(__file__))
    b, r = base.raw.per_path, run.raw.per_path
    print(f"impact stage: {run.raw.summary['impact_stage']['name']} {run.raw.summary['impact_stage']['params']}")
    print(
        f"hedge cost per path {b['hedge_cost'].mean():.4f} -> {r['hedge_cost'].mean():.4f}, mean PnL "
        f"{base.summary['pnl_mean'].value:.4f} -> {run.summary['pnl_mean'].value:.4f} price units × lots"
    )
