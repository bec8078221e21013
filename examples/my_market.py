"""Your own market model: a mean-reverting (Ornstein–Uhlenbeck) mid price and a power-law fill curve as flatbook
market stages.

The file defines two stages, a mid stage and a fill stage; load them with ``--market-file`` on the command line::

    flatbook compare --policy avellaneda-stoikov --policy glft \
        --market-file examples/my_market.py --mid ou_mid --mid-set kappa=5
    flatbook simulate --policy glft --market-file examples/my_market.py --fill power_law --fill-set alpha=3

or from Python, ``flatbook.api.catalogue.load_mid_stage("examples/my_market.py", "ou_mid", {"kappa": 5})`` and
``load_fill_stage("examples/my_market.py", "power_law", {"alpha": 3})``.
Run as a script, it compares A–S and GLFT on the built-in arithmetic Brownian mid and on this OU mid,
on the same random numbers, and prints what mean reversion does to each policy's PnL. (With A–S fills, λ(δ) = A·e^(−kδ), the fills do not
depend on the mid, so the inventory paths are the same on both mids: only the inventory's revaluation changes.)
Then it runs both policies with the power-law fill curve in place of A·e^(−kδ)·dt (the same uniforms decide the
fills) and prints what the fatter tail does to their fills and PnL.
"""

import math
import sys

from flatbook.market.fill_stage import fill_stage
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


@fill_stage(
    params={
        "A": Param(unit="per time unit", default=140.0, gt=0, doc="fill rate of a quote at the mid"),
        "k": Param(unit="per price unit", default=1.5, gt=0, doc="depth scale"),
        "alpha": Param(unit="1", default=2.0, gt=0, doc="tail exponent"),
    }
)
def power_law(p, t, dt, s, depth, side, m):
    """Power-law fill probability per step, A·dt/(1 + k·δ)^α: a fatter tail than A·e^(−kδ)·dt (δ < 0 counts as 0)."""
    return p.A * dt / (1.0 + p.k * max(depth, 0.0)) ** p.alpha


if __name__ == "__main__":
    import flatbook
    from flatbook.api.catalogue import load_fill_stage, load_mid_stage

    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    policies = ["avellaneda-stoikov", "glft"]
    base = flatbook.compare(policies, "as2008", paths=paths, seed=0, mid_model="abm")
    mid = flatbook.compare(
        policies, "as2008", paths=paths, seed=0, mid=load_mid_stage(__file__, "ou_mid", {"kappa": 5.0})
    )
    fill = flatbook.compare(
        policies, "as2008", paths=paths, seed=0, mid_model="abm", fill=load_fill_stage(__file__, "power_law")
    )
    # each stage against the built-in model, on the same random numbers: mean reversion moves the PnL's
    # revaluation; the power law's fatter tail (and thinner centre) moves the fills
    for kind, runs, line in (
        (
            "mid",
            mid,
            lambda a, b: (
                f"mean PnL {a['pnl_mean'].value:8.3f} (ABM) -> {b['pnl_mean'].value:8.3f} (OU, κ = 5), "
                f"PnL std {a['pnl_std'].value:.3f} -> {b['pnl_std'].value:.3f} price units × lots"
            ),
        ),
        (
            "fill",
            fill,
            lambda a, b: (
                f"fills per path {a['fills_mean'].value:6.1f} (A·e^(−kδ)) -> {b['fills_mean'].value:6.1f} "
                f"(power law), mean PnL {a['pnl_mean'].value:8.3f} -> {b['pnl_mean'].value:8.3f} price units × lots"
            ),
        ),
    ):
        st = runs.raw[0].summary[f"{kind}_stage"]
        print(f"{kind} stage: {st['name']} {st['params']}")
        for name in policies:
            print(f"{name:>18}: {line(base.summary[name], runs.summary[name])}")
