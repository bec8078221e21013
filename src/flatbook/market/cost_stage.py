"""Your own cost stage: a small compiled function that gives what one path pays this step in fees and
financing, in place of the built-in rule (:func:`flatbook.market.costs.fill_costs`).

Writing a stage
---------------
In your own file::

    from flatbook.market.cost_stage import Param, cost_stage

    @cost_stage(params={"bps": Param(unit="1e-4", default=-0.5, doc="maker fee on the traded value (< 0: rebate)"),
                        "rate": Param(unit="per time unit", default=1e-5, ge=0, doc="funding on the notional")})
    def bps_costs(p, t, dt, s, q, bought, sold, value, m):
        return p.bps * 1e-4 * value, p.rate * dt * abs(q) * s, 0.0

Arguments:

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.bps``);
- ``t``: the time at the start of the step (time units); ``dt``: the step (time units);
- ``s``: the mid the step's quotes stood around and filled against (price units);
- ``q``: the position after the step's fills (lots; before any hedge trade of the step);
- ``bought``, ``sold``: the lots bought at our bid and sold at our ask this step (>= 0);
- ``value``: their traded value, bought·(s − bid depth) + sold·(s + ask depth) (price units);
- ``m``: the volatility regime's multiplier (1, or ``regime_sigma_mult`` in the volatile regime).

It returns three numbers in price units, each charged to the path's cash this step (a negative one is a
credit, e.g. a maker rebate): ``(fee, financing, borrow)``. They accumulate in the per-path columns ``fees``,
``financing`` and ``borrow`` (``borrow`` is reported when the run hedges or carries, beside the carry's
hard-to-borrow charge; it is in the PnL always). The built-in rule is ``(maker_fee·(bought + sold),
financing_long·dt·max(q, 0), financing_short·dt·max(−q, 0))``; a stage written as it::

    return p.fee * (bought + sold), p.fin_l * dt * max(q, 0.0), p.fin_s * dt * max(-q, 0.0)

gives the built-in's numbers bit for bit. The body is compiled by numba in nopython mode (``math`` and
arithmetic; no Python objects, no arrays).

Where it runs
-------------
The stage replaces the maker fee and the easy-tier financing (``maker_fee``, ``financing_long``,
``financing_short``: set them or not, they are not charged with a stage) in the Monte Carlo kernel
(:mod:`flatbook.sim.kernel`), after the step's fills, with the mid they filled against; the carry
(:func:`flatbook.market.costs.carry`: hard-to-borrow, funding, capital) and the hedge's costs are unchanged. It
draws nothing, so the random numbers stay the market's (common random numbers).

How it runs
-----------
The built-in rule is inlined in the kernel's one pass per path. With a user stage the kernel's copy for cost
stages (``USER_COST``) leaves the costs out of that pass, which writes the fills' cash and traded value to rows
free at that point (``W_CY``, ``W_CV``); the stage's block loop (:data:`COST_SIG`, compiled as a C callback
and cached on disk as :mod:`flatbook.market.stage`) writes the three costs (``W_CFEE``, ``W_CFIN``,
``W_CBOR``) and one more pass charges them, in the built-in's order of operations: one indirect call per block
of 64 paths and step, only when a user stage is given.

Errors are one line (:class:`~flatbook.errors.InputError`, exit 2 on the command line): the wrong arguments, a
parameter out of range or unknown (with "did you mean"), code numba cannot compile, a stage that does not return
three numbers or returns NaN or ±inf on the probe (64 positions from −100 to 100 lots, fills of 0 to 3 lots, both
regimes, the first steps).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types as nt

from ..errors import InputError
from .layout import W_OSZ, W_PA, W_PB, W_UA, W_UB
from .stage import BoundStage, Param, Stage, StageKind, stage_decorator

__all__ = ["COST", "COST_ARGS", "COST_SIG", "CostStage", "Param", "cost_stage"]

#: the arguments of a cost stage, in order
COST_ARGS = ("p", "t", "dt", "s", "q", "bought", "sold", "value", "m")
_A = nt.float64[::1]
#: the compiled calling form the kernel uses: ``loop(pp, i, t, dt, s, q, bought, sold, value, hivol, rmult, fee,
#: fin, bor)`` writes a block's costs ``fee``, ``fin``, ``bor`` for its mids, positions, fills and traded values
COST_SIG = nt.void(_A, nt.int64, nt.float64, nt.float64, _A, _A, _A, _A, _A, _A, nt.float64, _A, _A, _A)

#: block rows the kernel's cost-stage copy uses once the step's fills are made (the flow's uniforms and order
#: sizes and a fill stage's probabilities are read by then and rewritten next step): the fills' cash
#: sold·ask − bought·bid, their traded value, and the stage's fee, financing and borrow
W_CY, W_CV, W_CFEE, W_CFIN, W_CBOR = W_PB, W_PA, W_UB, W_UA, W_OSZ

#: bound per stage by :meth:`~flatbook.market.stage.Stage.loop` (the template is never compiled as it is)
step: Any = None
as_params: Any = None


def _loop(pp, i, t, dt, s, q, bought, sold, value, hivol, rmult, fee, fin, bor):
    """Template: the user's stage over a block (``step`` and ``as_params`` bound per stage)."""
    p = as_params(pp)
    for j in range(s.size):
        m = rmult if hivol[j] > 0.0 else 1.0
        fee[j], fin[j], bor[j] = step(p, t, dt, s[j], q[j], bought[j], sold[j], value[j], m)


def _idle(pp, i, t, dt, s, q, bought, sold, value, hivol, rmult, fee, fin, bor):
    """The placeholder the kernel receives when no user cost stage is given (never called)."""
    return


#: the cost stage (this module's docstring)
COST = StageKind("cost", COST_ARGS, COST_SIG, _loop, _idle, "(fee, financing, borrow) in price units")


@nb.njit(cache=True, error_model="numpy")
def _call(loop, pp, i, t, dt, s, q, b, a, v, hv, rmult, fee, fin, bor):
    """The stage's block loop, as the kernel calls it."""
    loop(pp, i, t, dt, s, q, b, a, v, hv, rmult, fee, fin, bor)


class CostStage(Stage):
    """A user's cost stage (see the module docstring). Make one with :func:`cost_stage`."""

    kind = COST

    def __call__(
        self,
        t: float,
        dt: float,
        s: float,
        q: float,
        bought: float = 0.0,
        sold: float = 0.0,
        value: float | None = None,
        m: float = 1.0,
        **params: object,
    ) -> tuple[float, float, float]:
        """Evaluate the stage in Python: ``stage(t, dt, s, q, bought, sold, value, m, **params)`` → (fee, financing,
        borrow); ``value`` defaults to s·(bought + sold)."""
        v = s * (bought + sold) if value is None else value
        fee, fin, bor = self.evaluate(params, t, dt, s, q, bought, sold, v, m)
        return float(fee), float(fin), float(bor)

    def try_run(self, bound: BoundStage, s0: float, dt: float, rmult: float) -> None:
        """64 positions from −100 to 100 lots, fills of 0 to 3 lots a side at the mid s0, half the paths in the
        volatile regime, 4 steps: anything but three finite numbers is one line."""
        n = 64
        q = np.linspace(-100.0, 100.0, n)
        b = (np.arange(n) % 4).astype(float)
        a = ((np.arange(n) // 4) % 4).astype(float)
        s = np.full(n, float(s0))
        v = s * (a + b)
        hv = (np.arange(n) % 2).astype(float)
        try:  # the clearest error for a wrong number of returned values: Python's, before numba's
            got = self.formula.py_func(self._cls(*bound.pp[: len(self.fields)]), 0.0, dt, s0, 1.0, 1.0, 0.0, s0, 1.0)
        except Exception:  # noqa: BLE001 - numba-only code may not run in Python: the compiled probe decides
            got = (0.0, 0.0, 0.0)
        if not isinstance(got, tuple) or len(got) != 3:
            raise InputError(self.label, f"must return three numbers (fee, financing, borrow); got {got!r}")
        out = [np.empty(n) for _ in range(3)]
        loop = self.loop()
        for i in range(4):
            _call(loop, bound.pp, i, i * dt, dt, s, q, b, a, v, hv, rmult, *out)
            for name, x in zip(("fee", "financing", "borrow"), out):
                bad = ~np.isfinite(x)
                if bad.any():
                    j = int(np.flatnonzero(bad)[0])
                    raise InputError(
                        self.label,
                        f"returned {name} = {float(x[j])} at q = {q[j]:g}, bought {b[j]:g}, sold {a[j]:g} "
                        f"(s = {s0:g}, t = {i * dt:g}, dt = {dt:g}, m = {rmult if hv[j] > 0 else 1.0:g}, "
                        f"parameters {bound.values}); allowed: finite numbers (price units; < 0 a credit)",
                    )


#: ``@cost_stage(params={...}, name=None, summary="")``: a function ``f(p, t, dt, s, q, bought, sold, value, m) ->
#: (fee, financing, borrow)`` as a :class:`CostStage` (see the module docstring)
cost_stage = stage_decorator(CostStage, "f(p, t, dt, s, q, bought, sold, value, m) -> (fee, financing, borrow)")
