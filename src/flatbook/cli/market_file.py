"""The ``--market-file FILE.py --mid NAME --mid-set KEY=VALUE`` options: a user's own mid-price stage.

``flatbook simulate`` and ``compare`` take them; the stage (:mod:`flatbook.market.stage`) then runs in place of
the preset's ``mid_model``, on the same random streams (common random numbers).
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
        help="A Python file defining your own mid-price stage (@flatbook.market.stage.mid_stage); then --mid NAME.",
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


def load_mid(market_file: str | None, mid: str | None, mid_set: list[str] | None) -> Any:
    """The bound stage (None without ``--market-file``); every error is one line naming the flag."""
    if market_file is None:
        if mid is not None or mid_set:
            raise InputError("--mid", "give the stage's file with --market-file FILE.py")
        return None
    from ..api.catalogue import load_mid_stage  # lazy: start-up (numba)

    return load_mid_stage(market_file, mid, parse_set(mid_set))
