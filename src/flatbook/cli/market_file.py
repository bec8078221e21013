"""The ``--market-file FILE.py --mid NAME --mid-set KEY=VALUE --fill NAME --fill-set KEY=VALUE`` options: a user's
own mid-price and fill stages.

``flatbook simulate`` and ``compare`` take them; a mid stage (:mod:`flatbook.market.stage`)
then runs in place of the preset's ``mid_model``, a fill stage (:mod:`flatbook.market.fill_stage`) in place of the
flow's fill probability A·e^(−kδ)·dt, on the same random streams (common random numbers).
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
        help="A Python file defining your own market stages (@mid_stage, @fill_stage); then --mid NAME and/or --fill NAME.",
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


def load_stages(
    market_file: str | None,
    mid: str | None,
    mid_set: list[str] | None,
    fill: str | None = None,
    fill_set: list[str] | None = None,
) -> tuple[Any, Any]:
    """The bound (mid, fill) stages (None, None without ``--market-file``); every error is one line naming the flag."""
    if market_file is None:
        for flag, name, sets in (("--mid", mid, mid_set), ("--fill", fill, fill_set)):
            if name is not None or sets:
                raise InputError(flag, "give the stage's file with --market-file FILE.py")
        return None, None
    from ..api.catalogue import load_market_stages  # lazy: start-up (numba)

    return load_market_stages(market_file, mid, parse_set(mid_set), fill, parse_set(fill_set))
