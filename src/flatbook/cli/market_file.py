"""The ``--market-file FILE.py --mid NAME --mid-set KEY=VALUE --fill NAME --fill-set KEY=VALUE --cost NAME
--cost-set KEY=VALUE --impact NAME --impact-set KEY=VALUE`` options: a user's own market stages.

``flatbook simulate`` and ``compare`` take them; a mid stage (:mod:`flatbook.market.stage`)
then runs in place of the preset's ``mid_model``, a fill stage (:mod:`flatbook.market.fill_stage`) in place of the
flow's fill probability A·e^(−kδ)·dt, a cost stage (:mod:`flatbook.market.cost_stage`) in place of the maker fee
and financing, an impact stage (:mod:`flatbook.hedging.impact_stage`) in place of the hedge's execution price and
permanent impact, on the same random streams (common random numbers).
"""

from typing import Annotated, Any

import typer

from ..config import parse_set
from ..errors import InputError

MarketFileOpt = Annotated[
    str | None,
    typer.Option(
        "--market-file",
        metavar="FILE.py",
        help="A Python file defining your own market stages (@mid_stage, @fill_stage, @cost_stage, @impact_stage); "
        "then --mid, --fill, --cost and/or --impact NAME.",
    ),
]
MidOpt = Annotated[
    str | None,
    typer.Option("--mid", metavar="NAME", help="The --market-file stage to run in place of mid_model."),
]
MidSetOpt = Annotated[
    list[str] | None,
    typer.Option("--mid-set", metavar="KEY=VALUE", help="A parameter of the --mid stage (repeat)."),
]


FillOpt = Annotated[
    str | None,
    typer.Option(
        "--fill",
        metavar="NAME",
        help="The --market-file stage giving a quote's fill probability per step (A·e^(−kδ)·dt).",
    ),
]
FillSetOpt = Annotated[
    list[str] | None,
    typer.Option("--fill-set", metavar="KEY=VALUE", help="A parameter of the --fill stage (repeat)."),
]


CostOpt = Annotated[
    str | None,
    typer.Option(
        "--cost",
        metavar="NAME",
        help="The --market-file stage charging fees and financing per step (maker_fee, financing_long/short).",
    ),
]
CostSetOpt = Annotated[
    list[str] | None,
    typer.Option("--cost-set", metavar="KEY=VALUE", help="A parameter of the --cost stage (repeat)."),
]
ImpactOpt = Annotated[
    str | None,
    typer.Option(
        "--impact",
        metavar="NAME",
        help="The --market-file stage pricing each hedge trade (execution price, temporary and permanent impact).",
    ),
]
ImpactSetOpt = Annotated[
    list[str] | None,
    typer.Option("--impact-set", metavar="KEY=VALUE", help="A parameter of the --impact stage (repeat)."),
]


def load_stages(
    market_file: str | None,
    mid: str | None,
    mid_set: list[str] | None,
    fill: str | None = None,
    fill_set: list[str] | None = None,
    cost: str | None = None,
    cost_set: list[str] | None = None,
    impact: str | None = None,
    impact_set: list[str] | None = None,
) -> dict[str, Any]:
    """The bound stages by kind (``mid``, ``fill``, ``cost``, ``impact``: the keyword arguments of
    :func:`flatbook.simulate`; all None without ``--market-file``); every error is one line naming the flag."""
    given = {"mid": (mid, mid_set), "fill": (fill, fill_set), "cost": (cost, cost_set), "impact": (impact, impact_set)}
    if market_file is None:
        for kind, (name, sets) in given.items():
            if name is not None or sets:
                raise InputError(f"--{kind}", "give the stage's file with --market-file FILE.py")
        return dict.fromkeys(given)
    from ..api.catalogue import load_market_stages  # lazy: start-up (numba)

    params = {f"{k}_params": parse_set(sets) for k, (_, sets) in given.items()}
    return load_market_stages(market_file, mid, fill=fill, cost=cost, impact=impact, **params)
