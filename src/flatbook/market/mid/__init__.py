"""Mid-price stages of the Monte Carlo kernel (:mod:`flatbook.market`).

Each step the mid moves by one of the models below, then by the optional features:

- :mod:`.binomial`: ±σ√dt (Avellaneda & Stoikov 2008, §3), from bit 0 of the flow's draw;
- :mod:`.diffusion`: arithmetic or geometric Brownian motion, one draw;
- :mod:`.regimes`: a two-state volatility chain that scales σ; shares its draw with
- :mod:`.jumps`: compound-Poisson gaps;
- :mod:`.event`: the scheduled event's gap (earnings), one draw at its step only;
- a user's stage (:mod:`flatbook.market.stage`), one draw, in place of the model.

:func:`pack` writes the slots the mid models share (σ and the model's number).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..layout import MODEL_USER, MP_MODEL, MP_SIGMA

#: the built-in mid models, in the order of their numbers (``MP_MODEL``; a user stage is MODEL_USER)
MODELS = ("binomial", "abm", "gbm")


def pack(v: Mapping, mp: np.ndarray, user: bool = False) -> None:
    """Write σ (price units per √time unit) and the mid model's number (``user``: a user's stage)."""
    mp[MP_SIGMA] = v["sigma"]
    mp[MP_MODEL] = MODEL_USER if user else MODELS.index(v["mid_model"])
