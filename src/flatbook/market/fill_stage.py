"""Your own fill (order-flow) stage: a small compiled function that gives a resting quote's probability to
fill in one step.

Writing a stage
---------------
In your own file::

    from flatbook.market.fill_stage import Param, fill_stage

    @fill_stage(params={"A": Param(unit="per time unit", default=140.0, gt=0, doc="fill rate at the mid"),
                        "k": Param(unit="per price unit", default=1.5, gt=0, doc="decay scale"),
                        "alpha": Param(unit="1", default=2.0, gt=0, doc="tail exponent")})
    def power_law(p, t, dt, s, depth, side, m):
        return p.A * dt / (1.0 + p.k * max(depth, 0.0)) ** p.alpha

Arguments:

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.A``);
- ``t``: the time at the start of the step (time units); ``dt``: the step (time units);
- ``s``: the path's mid the quotes stand around (price units; before the step's move);
- ``depth``: the quote's distance from the mid after the controls (price units; ``+inf`` for a side
  that is not quoted, whose fill is 0 whatever you return; below 0 when a quote crosses the mid);
- ``side``: ``+1.0`` for our bid (a fill buys), ``-1.0`` for our ask (a fill sells): an asymmetric
  model reads it (``A_b`` and ``k_b`` on the bid, ``A_a`` and ``k_a`` on the ask);
- ``m``: the volatility regime's multiplier (1, or ``regime_sigma_mult`` in the volatile regime;
  :mod:`flatbook.market.mid.regimes`): scale the activity by it, or ignore it.

It returns the probability that the quote fills this step: a number >= 0, where anything above 1
counts as 1 (the built-in rule is min(1, A·e^(−kδ)·dt), Avellaneda & Stoikov 2008, eq. 2
discretised). The body is compiled by numba in nopython mode (``math`` and arithmetic; no Python
objects, no arrays); ``fast_exp`` (exported here, :func:`flatbook.numerics.fastexp.fast_exp`) is the
built-in rule's exponential.

Where it runs
-------------
The stage replaces the flow's fill probability A·e^(−kδ)·dt in the Monte Carlo kernel
(:mod:`flatbook.sim.kernel`), for either flow (``flow``: ``intensity`` or ``orders``). The flow still
draws the step's uniforms u (one per side), the side of the mini-project's market order and its size:
a side fills when u < your probability, and the fill is min(order size, quote size), as with the
built-in rule (:func:`flatbook.market.flow.intensity.filled`). The stage draws nothing, so the
random numbers stay the flow's (common random numbers: every policy sees the same uniforms; a path's
numbers do not depend on the number of paths, the blocks or the threads), and a stage that returns
``p.A * dt * fast_exp(-p.k * depth)`` gives the built-in's numbers bit for bit.

How it runs
-----------
The built-in rule is inlined in the kernel's one pass per path (controls, fills, accounting). With a
user stage the kernel splits that pass at the fills: the controls pass writes every path's final
depths, the stage's block loop (:data:`FILL_SIG`, compiled as a C callback and cached on disk under
the SHA-256 of its file and of flatbook's model sources, as :mod:`flatbook.market.stage`) turns them
into probabilities (rows ``W_PB``, ``W_PA``), and the fills and accounting pass reads them: one
indirect call per block of 64 paths and step, only when a user stage is given.

Errors are one line (:class:`~flatbook.errors.InputError`, exit 2 on the command line): the wrong
arguments, a parameter out of range or unknown (with "did you mean"), code numba cannot compile, a
stage that returns NaN or a negative number on the probe (64 depths from 0 to s0, both sides, both
regimes, the first steps).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types as nt

from ..errors import InputError
from ..numerics.fastexp import fast_exp
from .stage import BoundStage, Param, Stage, StageKind, stage_decorator

__all__ = ["ASK", "BID", "FILL", "FILL_ARGS", "FILL_SIG", "FillStage", "Param", "fast_exp", "fill_stage"]

#: the arguments of a fill stage, in order
FILL_ARGS = ("p", "t", "dt", "s", "depth", "side", "m")
#: ``side`` of our bid and of our ask
BID, ASK = 1.0, -1.0
_A = nt.float64[::1]
#: the compiled calling form the kernel uses: ``loop(pp, i, t, dt, s, db, da, hivol, rmult, pb, pa)`` writes
#: the fill probabilities ``pb``, ``pa`` of a block's bids and asks at depths ``db``, ``da`` around mids ``s``
FILL_SIG = nt.void(_A, nt.int64, nt.float64, nt.float64, _A, _A, _A, _A, nt.float64, _A, _A)

#: bound per stage by :meth:`~flatbook.market.stage.Stage.loop` (the template is never compiled as it is)
step: Any = None
as_params: Any = None


def _loop(pp, i, t, dt, s, db, da, hivol, rmult, pb, pa):
    """Template: the user's stage over a block, both sides (``step`` and ``as_params`` bound per stage)."""
    p = as_params(pp)
    for j in range(s.size):
        m = rmult if hivol[j] > 0.0 else 1.0
        pb[j] = step(p, t, dt, s[j], db[j], 1.0, m)
        pa[j] = step(p, t, dt, s[j], da[j], -1.0, m)


def _idle(pp, i, t, dt, s, db, da, hivol, rmult, pb, pa):
    """The placeholder the kernel receives when no user fill stage is given (never called)."""
    return


#: the fill stage (this module's docstring)
FILL = StageKind("fill", FILL_ARGS, FILL_SIG, _loop, _idle, "a fill probability per step")


@nb.njit(cache=True, error_model="numpy")
def _call(loop, pp, i, t, dt, s, db, da, hv, rmult, pb, pa):
    """The stage's block loop, as the kernel calls it."""
    loop(pp, i, t, dt, s, db, da, hv, rmult, pb, pa)


class FillStage(Stage):
    """A user's fill stage (see the module docstring). Make one with :func:`fill_stage`."""

    kind = FILL

    def __call__(
        self, t: float, dt: float, s: float, depth: float, side: float = BID, m: float = 1.0, **params: object
    ) -> float:
        """Evaluate the stage in Python: ``stage(t, dt, s, depth, side, m, **params)`` → the fill probability."""
        return float(self.evaluate(params, t, dt, s, depth, side, m))

    def try_run(self, bound: BoundStage, s0: float, dt: float, rmult: float) -> None:
        """64 depths from 0 to s0 (0, then log-spaced from 1e-6·s0), both sides, half the paths in the volatile
        regime, 4 steps; NaN or a negative probability is one line."""
        n = 64
        depth = np.concatenate(([0.0], abs(s0) * np.geomspace(1e-6, 1.0, n - 1)))
        s = np.full(n, float(s0))
        hv = (np.arange(n) % 2).astype(float)
        pb, pa = np.empty(n), np.empty(n)
        loop = self.loop()
        for i in range(4):
            _call(loop, bound.pp, i, i * dt, dt, s, depth, depth, hv, rmult, pb, pa)
            for side, pr in ((BID, pb), (ASK, pa)):
                bad = ~(pr >= 0.0)
                if bad.any():
                    j = int(np.flatnonzero(bad)[0])
                    raise InputError(
                        self.label,
                        f"returned {float(pr[j])} at depth {depth[j]:g} on the {'bid' if side > 0 else 'ask'} "
                        f"(s = {s0:g}, t = {i * dt:g}, dt = {dt:g}, m = {rmult if hv[j] > 0 else 1.0:g}, "
                        f"parameters {bound.values}); allowed: a probability >= 0 (above 1 counts as 1)",
                    )


#: ``@fill_stage(params={...}, name=None, summary="")``: a function ``f(p, t, dt, s, depth, side, m) -> fill
#: probability`` as a :class:`FillStage` (see the module docstring)
fill_stage = stage_decorator(FillStage, "f(p, t, dt, s, depth, side, m) -> fill probability")
