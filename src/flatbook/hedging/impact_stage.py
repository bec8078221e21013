"""Your own impact stage: a small compiled function that prices one hedge trade and says how far it moves the
market, in place of the built-in execution model (:func:`flatbook.hedging.execution.execution_price` and the
permanent impact ``hedge_perm``).

Writing a stage
---------------
In your own file::

    from flatbook.hedging.impact_stage import Param, impact_stage

    @impact_stage(params={"eps": Param(unit="price units", default=0.05, ge=0, doc="half spread"),
                          "eta": Param(unit="price units per (lot per time unit)", default=0.01, ge=0, doc="temporary"),
                          "gamma": Param(unit="price units per lot", default=0.0, ge=0, doc="permanent")})
    def linear(p, t, dt, h, n, J, vol, m):
        sg = 1.0 if n > 0.0 else -1.0
        temp = p.eta / dt * abs(n)
        return h + J + sg * (p.eps + temp), sg * temp, p.gamma * n

Arguments:

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.eta``);
- ``t``: the time at the start of the step (time units); ``dt``: the step (time units);
- ``h``: the hedge instrument's mid before the trade (price units: the mid itself, or the proxy's price);
- ``n``: the lots of the hedge instrument traded, signed (> 0 a buy; 0 when the hard limit leaves nothing);
- ``J``: the temporary displacement outstanding from earlier trades (price units, signed; it decays by half
  every ``hedge_decay`` (time units));
- ``vol``: the market's volume this step (lots; the hedging model's volume curve; +inf when ``market_volume``
  is not set);
- ``m``: the volatility regime's multiplier (1, or ``regime_sigma_mult`` in the volatile regime).

It returns three numbers in price units: ``(price, temporary, permanent)``: the price per lot the trade pays
(the cash moves by −n·price; the hedge's cost is n·(price − h)), the temporary displacement the trade adds to
``J``, and the permanent displacement of the instrument's mid (the mid becomes h + permanent). The built-in model
(Almgren & Chriss 2000, h(v) = ε·sgn(v) + η·v, or the square-root law; Almgren et al. 2005) is
``(h + J + sgn(n)·(ε + η·|n|/dt + c·√|n|), sgn(n)·(η·|n|/dt + c·√|n|), hedge_perm·n)`` with sgn(0) = −1; the
example above is its linear law and, with ``eps``, ``eta``, ``gamma`` set to ``hedge_half_spread``,
``hedge_eta``, ``hedge_perm``, gives the built-in's numbers bit for bit.

Where it runs
-------------
In the Monte Carlo kernel (:mod:`flatbook.sim.kernel`), at each hedge trade (every child order of a hedge
program, the daily reset's and an event's flatten), after the trade's size is decided (triggers, schedule,
participation cap and hard limit are unchanged) and before its cash, cost and impact are booked. It draws
nothing, so the random numbers stay the market's (common random numbers).

How it runs
-----------
The built-in model is inlined in the kernel's hedge loop. With a user stage the kernel's copy for impact stages
(``USER_IMPACT``) calls the stage (:data:`IMPACT_SIG`, compiled as a C callback and cached on disk as
:mod:`flatbook.market.stage`) once per trade: the hedge loop is a scalar loop over the few paths that trade.

Errors are one line (:class:`~flatbook.errors.InputError`, exit 2 on the command line): the wrong arguments, a
parameter out of range or unknown (with "did you mean"), code numba cannot compile, a stage that does not return
three numbers or returns NaN or ±inf on the probe (trades of −100 to 100 lots at the mid s0, with and without an
outstanding displacement, volumes 1, 100 and +inf, both regimes, the first steps).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types as nt

from ..errors import InputError
from ..market.stage import BoundStage, Param, Stage, StageKind, stage_decorator

__all__ = ["IMPACT", "IMPACT_ARGS", "IMPACT_SIG", "ImpactStage", "Param", "impact_stage"]

#: the arguments of an impact stage, in order
IMPACT_ARGS = ("p", "t", "dt", "h", "n", "J", "vol", "m")
#: the compiled calling form the kernel uses: ``call(pp, i, t, dt, h, n, J, vol, m, out)`` writes one trade's
#: (price, temporary, permanent) to ``out[0:3]``
IMPACT_SIG = nt.void(
    nt.float64[::1],
    nt.int64,
    nt.float64,
    nt.float64,
    nt.float64,
    nt.float64,
    nt.float64,
    nt.float64,
    nt.float64,
    nt.float64[::1],
)

#: bound per stage by :meth:`~flatbook.market.stage.Stage.loop` (the template is never compiled as it is)
step: Any = None
as_params: Any = None


def _loop(pp, i, t, dt, h, n, J, vol, m, out):
    """Template: the user's stage on one trade (``step`` and ``as_params`` bound per stage)."""
    p = as_params(pp)
    out[0], out[1], out[2] = step(p, t, dt, h, n, J, vol, m)


def _idle(pp, i, t, dt, h, n, J, vol, m, out):
    """The placeholder the kernel receives when no user impact stage is given (never called)."""
    return


#: the impact stage (this module's docstring)
IMPACT = StageKind("impact", IMPACT_ARGS, IMPACT_SIG, _loop, _idle, "(price, temporary, permanent) in price units")


@nb.njit(cache=True, error_model="numpy")
def _call(loop, pp, i, t, dt, h, n, J, vol, m, out):
    """The stage on one trade, as the kernel calls it."""
    loop(pp, i, t, dt, h, n, J, vol, m, out)


class ImpactStage(Stage):
    """A user's impact stage (see the module docstring). Make one with :func:`impact_stage`."""

    kind = IMPACT

    def __call__(
        self,
        t: float,
        dt: float,
        h: float,
        n: float,
        J: float = 0.0,
        vol: float = 1.0,
        m: float = 1.0,
        **params: object,
    ) -> tuple[float, float, float]:
        """Evaluate the stage in Python: ``stage(t, dt, h, n, J, vol, m, **params)`` → (price, temporary,
        permanent)."""
        price, temp, perm = self.evaluate(params, t, dt, h, n, J, vol, m)
        return float(price), float(temp), float(perm)

    def try_run(self, bound: BoundStage, s0: float, dt: float, rmult: float) -> None:
        """Trades of −100 to 100 lots (0 included) at the mid s0, with J = 0 and J = ±0.01·s0, volume 1, 100 lots
        and +inf, both regimes, 4 steps: anything but three finite numbers is one line."""
        try:  # the clearest error for a wrong number of returned values: Python's, before numba's
            got = self.formula.py_func(self._cls(*bound.pp[: len(self.fields)]), 0.0, dt, s0, 1.0, 0.0, 1.0, 1.0)
        except Exception:  # noqa: BLE001 - numba-only code may not run in Python: the compiled probe decides
            got = (0.0, 0.0, 0.0)
        if not isinstance(got, tuple) or len(got) != 3:
            raise InputError(self.label, f"must return three numbers (price, temporary, permanent); got {got!r}")
        out = np.empty(3)
        loop = self.loop()
        ns = np.concatenate((-np.geomspace(100.0, 1e-3, 6), [0.0], np.geomspace(1e-3, 100.0, 6)))
        for i in range(4):
            for n in ns:
                for J in (0.0, 0.01 * s0 * np.sign(n)):
                    for vol, m in ((1.0, 1.0), (100.0, rmult), (np.inf, 1.0)):
                        _call(loop, bound.pp, i, i * dt, dt, float(s0), float(n), float(J), vol, m, out)
                        if not np.all(np.isfinite(out)):
                            k = int(np.flatnonzero(~np.isfinite(out))[0])
                            name = ("price", "temporary", "permanent")[k]
                            raise InputError(
                                self.label,
                                f"returned {name} = {float(out[k])} for a trade of {n:g} lots at h = {s0:g} "
                                f"(J = {J:g}, vol = {vol:g}, t = {i * dt:g}, dt = {dt:g}, m = {m:g}, "
                                f"parameters {bound.values}); allowed: finite numbers (price units)",
                            )


#: ``@impact_stage(params={...}, name=None, summary="")``: a function ``f(p, t, dt, h, n, J, vol, m) -> (price,
#: temporary, permanent)`` as an :class:`ImpactStage` (see the module docstring)
impact_stage = stage_decorator(ImpactStage, "f(p, t, dt, h, n, J, vol, m) -> (price, temporary, permanent)")
