"""Guéant, Lehalle & Fernandez-Tapia (2013) quotes, closed form or exact.

"Dealing with the inventory risk: a solution to the market making problem",
Math. Financ. Econ. 7, 477–507. With c = (1/γ)ln(1+γ/k) and
ω = sqrt(σ²γ/(2kA)·(1+γ/k)^(1+k/γ)) the asymptotic closed form is

    δb(q) = c + (2(q−q*)+1)/2·ω,     δa(q) = c − (2(q−q*)−1)/2·ω

(``solution=closed``, the default). ``solution=exact`` quotes from the exact
finite-horizon solution v_q(t) = [expm(−M(T−t))·1]_q of the linear ODE system
(see :mod:`flatbook.policies.glft_solution`), tabulated on the simulation's
time grid and interpolated linearly in q. The inventory bound Q is the hard
``limit`` (lots); the exact solution needs it finite.

The closed form is a policy like any other, ``p = (c, omega, q_target)`` (:func:`pack_closed`);
the exact solution is a table policy (:mod:`flatbook.policies.table`) on the run's step grid,
``q_j = −Q + j``, built per run by :func:`pack_exact` (+inf where a side is not quoted), solved
with the penalty α(q − q*)² (so q* is in the table, and q indexes it absolutely: the bound ±Q
is the hard limit, whatever q*). ``solution`` selects one; the exact quotes move with time.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .base import policy
from .glft_solution import glft_constants, glft_exact_table
from .table import table_bound, table_kernel_policy


def pack_closed(v, nsteps):
    """(c, ω, q*) of the closed form (:func:`flatbook.policies.glft_solution.glft_constants`)."""
    c, omega = glft_constants(v["gamma"], v["sigma"], v["A"], v["k"])
    return c, omega, v["q_target"]


def pack_exact(v, nsteps):
    """The exact table on the run's ``nsteps`` steps, inventory bound Q = ``limit``."""
    lim = v["limit"]
    if math.isinf(lim) or lim != int(lim) or lim > 2000:
        raise InputError(
            "limit",
            f"glft solution=exact needs a finite integer limit (the inventory bound Q, lots) of at most 2000; got {lim:g}",
        )
    Q = int(lim)
    db, da = glft_exact_table(v["gamma"], v["sigma"], v["A"], v["k"], Q, v["T"], nsteps, v["q_target"])
    return table_bound(GLFT_EXACT, None, np.arange(-Q, Q + 1, dtype=float), db, da, check=False)


#: the exact finite-horizon solution, a table policy
GLFT_EXACT = table_kernel_policy(
    "glft",
    pack_exact,
    summary="GLFT exact finite-horizon solution (table)",
    source="Guéant, Lehalle & Fernandez-Tapia (2013), §3",
)


@policy(
    ["gamma", "sigma", "A", "k", "q_target", "solution", "limit", "T"],
    name="glft",
    rung=2,
    fields=("c", "omega", "q_target"),
    pack=pack_closed,
    select=lambda v: GLFT_EXACT if v["solution"] == "exact" else None,
    moves_with_time=lambda v: v["solution"] == "exact",
    source="Guéant, Lehalle & Fernandez-Tapia (2013)",
    summary="GLFT asymptotic closed form (or exact ODE solution) with inventory bound Q = limit",
)
def glft(p, t, tau, s, q):
    """Closed-form GLFT depths (price units) at inventory q (lots)."""
    x = q - p.q_target
    return p.c + (x + 0.5) * p.omega, p.c - (x - 0.5) * p.omega
