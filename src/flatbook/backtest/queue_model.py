"""Your own queue model for the replay: how cancels at our price level move the queue ahead of our order.

Writing a model
---------------
In your own file::

    from flatbook.backtest.queue_model import Param, queue_model

    @queue_model(params={"n": Param(unit="1", default=2.0, gt=0, doc="power")})
    def power_prob(p, ahead, level_before, level_after, cancelled, u):
        behind = max(level_before - ahead, 0.0)
        x = ahead ** p.n
        share = x / (x + behind ** p.n) if x > 0.0 else 0.0
        return ahead - cancelled * share

(``@queue_model`` without arguments works too, for a model with no parameters.) Arguments:

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.n``), as every user stage
  (:mod:`flatbook.market.stage`): checked with units, bounds and defaults, set by ``--queue-set n=3``;
- ``ahead``: the visible size ahead of our order before the update (quantity units, > 0 or 0);
- ``level_before``: the level's visible size at the last update (> 0); ``level_after``: its size now;
- ``cancelled``: the fall not explained by prints at our price since the last update, c =
  level_before − level_after − traded > 0 (quantity units): the cancels;
- ``u``: one uniform draw in [0, 1), from the replay's seeded generator (``--seed``): one per cancel, in
  event order, so a run is reproducible.

It returns the new queue ahead (quantity units). The replay then keeps 0 ≤ ahead ≤ level_after (a
negative answer is 0, as the built-in ``prob`` relies on; a NaN answer leaves ahead as it was). The body is compiled by numba in nopython mode (``math`` and
arithmetic).

Where it runs
-------------
The replay (:mod:`flatbook.backtest.engine`) calls the model where the built-in queues take cancels:
on a book update that shows our level (a quote row, or a LEVEL row at our price behind the touch)
fallen by more than the volume printed there since the last update. Everything else is the replay's:
a new order joins the back of its level (ahead = the level's size), prints at our price consume ahead
first (with the reconciliation of a print and its book fall), prints through our price and a book
that crosses it fill us in full. The built-ins written as models::

    prorata:  ahead * (1 - cancelled / level_before)
    prob:     ahead - cancelled if u < ahead / level_before else ahead

give the built-in numbers bit for bit (:data:`PRORATA`, :data:`PROB`; tests/test_queue_model.py).
The model's family, e.g. hftbacktest's probability queues (``PowerProbQueueFunc``: a cancel falls
ahead of us with probability f(back)/(f(front) + f(back))... written here from the front's view,
p = a^n / (a^n + b^n)), is the user's to choose; examples/my_queue.py has one.

How it runs
-----------
The model is compiled as a small C callback (:data:`QUEUE_SIG`), cached on disk under its file's
SHA-256, and called from the replay's copy for user queue models
(:func:`flatbook.backtest.engine.replay_copy`: one copy for every model, compiled once; the
default kernel is untouched and keeps its speed).

Errors are one line (:class:`~flatbook.errors.InputError`, exit 2 on the command line): a file that is
not there or does not import, no model or no model of that name (with "did you mean"), the wrong
arguments, an unknown or out-of-range parameter, code numba cannot compile, a model that returns an
infinite ahead on the probe (a grid of queues, levels and cancels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numba import types as nt

from ..errors import InputError
from ..market.stage import BoundStage, Param, Stage, StageKind, stage_decorator
from ..suggest import unknown
from ..userfile import import_user_file
from .engine import QUEUE_MODELS

__all__ = [
    "PROB",
    "PRORATA",
    "QUEUE",
    "QUEUE_ARGS",
    "QUEUE_SIG",
    "Param",
    "QueueModel",
    "load_queue_file",
    "queue_model",
    "user_queue",
]

#: the arguments of a queue model, in order
QUEUE_ARGS = ("p", "ahead", "level_before", "level_after", "cancelled", "u")
#: the compiled calling form the replay uses: ``qfn(pp, ahead, level_before, level_after, cancelled, u)``
QUEUE_SIG = nt.float64(nt.float64[::1], nt.float64, nt.float64, nt.float64, nt.float64, nt.float64)

#: bound per model by :meth:`~flatbook.market.stage.Stage.loop` (the template is never compiled as it is)
step: Any = None
as_params: Any = None


def _call(pp, ahead, level_before, level_after, cancelled, u):
    """Template: the user's model on one update (``step`` and ``as_params`` bound per model)."""
    return step(as_params(pp), ahead, level_before, level_after, cancelled, u)


def _idle(pp, ahead, level_before, level_after, cancelled, u):
    """A placeholder of the same form (never called by the replay)."""
    return ahead


#: the queue model kind (this module's docstring)
QUEUE = StageKind("queue", QUEUE_ARGS, QUEUE_SIG, _call, _idle, "the new queue ahead (quantity units)")


class QueueModel(Stage):
    """A user's queue model (see the module docstring). Make one with :func:`queue_model`."""

    kind = QUEUE

    @property
    def label(self) -> str:
        """``"queue model <name>"``: the field its errors name."""
        return f"queue model {self.name}"

    def __call__(
        self, ahead: float, level_before: float, level_after: float, cancelled: float, u: float = 0.5, **params
    ) -> float:
        """Evaluate the model in Python: ``model(ahead, level_before, level_after, cancelled, u, **params)``."""
        return float(self.evaluate(params, ahead, level_before, level_after, cancelled, u))

    def try_run(self, bound: BoundStage, s0: float = 0.0, dt: float = 0.0, rmult: float = 1.0) -> None:
        """The compiled model on a grid: levels 1 and 10⁴, ahead 0 to the level, cancels from 1e−6 of the
        level to all of it, u 0 to 0.999; an infinite answer is one line (a negative one is clipped to 0 by
        the replay, as the built-in ``prob`` relies on; NaN keeps the queue as it was)."""
        fn = self.loop()
        for lb in (1.0, 1e4):
            for fa in (0.0, 0.25, 0.5, 1.0):
                for fc in (1e-6, 0.1, 0.5, 1.0):
                    for u in (0.0, 0.5, 0.999):
                        a, c = fa * lb, fc * lb
                        got = fn(bound.pp, a, lb, lb - c, c, u)
                        if got == got and not abs(got) < np.inf:
                            raise InputError(
                                self.label,
                                f"returned {got} for ahead={a:g}, level_before={lb:g}, level_after={lb - c:g}, "
                                f"cancelled={c:g}, u={u:g} (parameters {bound.values}); allowed: a queue "
                                "ahead that is finite (quantity units; the replay keeps it within 0 … level_after)",
                            )


_decorator = stage_decorator(QueueModel, "f(p, ahead, level_before, level_after, cancelled, u) -> new ahead")


def queue_model(
    fn: Callable | None = None,
    *,
    params: Mapping[str, Param] | None = None,
    name: str | None = None,
    summary: str = "",
) -> Any:
    """Decorator: a function ``f(p, ahead, level_before, level_after, cancelled, u) -> new ahead`` as a
    :class:`QueueModel`; ``@queue_model`` or ``@queue_model(params={name: Param}, name=None, summary="")``
    (see the module docstring)."""
    deco = _decorator(params, name=name, summary=summary)
    return deco if fn is None else deco(fn)


def _prorata(p, ahead, level_before, level_after, cancelled, u):
    """The built-in ``prorata`` (``l2``): cancels spread evenly over the level, ahead of us and behind."""
    return ahead * (1.0 - cancelled / level_before)


def _prob(p, ahead, level_before, level_after, cancelled, u):
    """The built-in ``prob``: the whole cancel is ahead of us with probability ahead / level_before."""
    return ahead - cancelled if u < ahead / level_before else ahead


#: the built-in queues as models (their numbers are the built-ins', bit for bit)
PRORATA = queue_model(_prorata, name="prorata-model")
PROB = queue_model(_prob, name="prob-model")


def load_queue_file(path: str | Path, name: str | None = None) -> QueueModel:
    """Import ``path`` (``--queue-file``) and return its queue model ``name`` (``--queue``; the only one if
    None). Errors are one line naming the flag."""
    module = import_user_file(path, "--queue-file", "flatbook_user_queue_")
    found = {v.name: v for v in vars(module).values() if isinstance(v, QueueModel)}
    if not found:
        raise InputError(
            "--queue-file", f"{Path(path).name} defines no queue model (decorate a function with @queue_model)"
        )
    if name is None:
        if len(found) != 1:
            raise InputError(
                "--queue", f"{Path(path).name} defines {len(found)} queue models ({', '.join(found)}); name one"
            )
        return next(iter(found.values()))
    got = found.get(name)
    if got is None:
        raise unknown("--queue", "queue model", name, found)
    return got


def user_queue(
    name: str | None, path: str | Path | None, params: Mapping[str, object] | None, model: QueueModel | None = None
) -> BoundStage:
    """The bound, probed user queue model for the backtest options: ``model`` itself (the API's ``queue=``
    with a :class:`QueueModel`), else the model ``name`` of the file ``path``. A name that is neither a
    built-in queue nor given a file is one line naming ``--queue``."""
    if model is None:
        if path is None:
            raise unknown("--queue", "queue model", str(name), QUEUE_MODELS, see="or a model of --queue-file")
        model = load_queue_file(path, name)
    elif not isinstance(model, QueueModel):
        raise InputError("--queue", f"expected a queue name or a @queue_model function, got {type(model).__name__}")
    try:
        bound = model.bind(params or {})
    except InputError as e:
        raise InputError("--queue-set", str(e)) from None
    bound.probe(0.0, 0.0)
    return bound
