"""Your own market model: a mean-reverting (Ornstein–Uhlenbeck) mid price as a flatbook market stage.

The file defines one stage; load it with ``--market-file`` on the command line::

    flatbook compare --policy avellaneda-stoikov --policy glft \
        --market-file examples/my_market.py --mid ou_mid --mid-set kappa=5

or from Python, ``flatbook.api.catalogue.load_mid_stage("examples/my_market.py", "ou_mid", {"kappa": 5})``.
Run as a script, it compares A–S and GLFT on the built-in arithmetic Brownian mid and on this OU mid,
on the same random numbers, and prints what mean reversion does to each policy's PnL. (With A–S fills, λ(δ) = A·e^(−kδ), the fills do not
depend on the mid, so the inventory paths are the same on both mids: only the inventory's revaluation changes.)
"""

import math
import sys

from flatbook.market.stage import Param, mid_stage, normals


@mid_stage(
    params={
        "kappa": Param(unit="per time unit", default=2.0, ge=0, doc="speed of mean reversion κ"),
        "mean": Param(unit="price units", default=100.0, doc="long-run mid μ"),
        "vol": Param(unit="price units per √time unit", default=2.0, ge=0, doc="volatility σ"),
    }
)
def ou_mid(p, t, dt, s, m, x):
    """Ornstein–Uhlenbeck mid, Euler step: s + κ(μ − s)·dt + m·σ·√dt·Z (m: the volatility regime's multiplier)."""
    z, _ = normals(x)
    return s + p.kappa * (p.mean - s) * dt + m * p.vol * math.sqrt(dt) * z


if __name__ == "__main__":
    import flatbook
    from flatbook.api.catalogue import load_mid_stage

    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    policies = ["avellaneda-stoikov", "glft"]
    stage = load_mid_stage(__file__, "ou_mid", {"kappa": 5.0})
    base = flatbook.compare(policies, "as2008", paths=paths, seed=0, mid_model="abm")
    ou = flatbook.compare(policies, "as2008", paths=paths, seed=0, mid=stage)
    print(f"mid stage: {ou.raw[0].summary['mid_stage']['name']} {ou.raw[0].summary['mid_stage']['params']}")
    for name in policies:
        a, b = base.summary[name], ou.summary[name]
        print(
            f"{name:>18}: mean PnL {a['pnl_mean'].value:8.3f} (ABM) -> {b['pnl_mean'].value:8.3f} (OU, κ = 5), "
            f"PnL std {a['pnl_std'].value:.3f} -> {b['pnl_std'].value:.3f} price units × lots"
        )
