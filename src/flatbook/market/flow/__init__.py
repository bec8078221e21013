"""Order-flow stages of the Monte Carlo kernel (:mod:`flatbook.market`).

- :mod:`.intensity`: the A–S Poisson fills, λ(δ) = A·e^(−kδ) per side, and the fill rule
  every flow uses;
- :mod:`.orders`: the seed-000 mini-project flow, one market order per step, with a
  biased side and fixed or exponential sizes;
- :mod:`.informed`: adverse selection, the mid moves after a fill.

The flow's draw for a step does not depend on the quotes (common random numbers: every
policy sees the same flow); a quote fills when the flow's uniform beats its fill probability.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..layout import MP_FLOW

#: the flows, in the order of their numbers (``MP_FLOW``)
FLOWS = ("intensity", "orders")


def pack(v: Mapping, mp: np.ndarray) -> None:
    """Write the flow's number."""
    mp[MP_FLOW] = FLOWS.index(v["flow"])
