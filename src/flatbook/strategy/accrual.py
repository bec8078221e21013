"""Financing of the position over an event gap, in the settlement currency (seed 001, "carrying costs").

Over a gap of dt time units at inventory q: cost = financing_long·q⁺·dt + financing_short·q⁻·dt
(``financing_long``/``financing_short``: money per lot per time unit). q is constant between events,
so the sum over the gaps is the integral of the rate. Plain Python compiled by numba: the replay
inlines it, the live engine calls its source (:func:`flatbook.policies.compile.python_form`: the same body,
the same arithmetic).
"""

from __future__ import annotations

import numba as nb


@nb.njit(inline="always", cache=True)
def financing(q, dt, fin_long, fin_short):
    """The carrying cost (money, ≥ 0) of inventory ``q`` (lots) held for ``dt`` time units."""
    return fin_long * max(q, 0.0) * dt + fin_short * max(-q, 0.0) * dt
