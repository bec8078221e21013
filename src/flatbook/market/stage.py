"""Your own mid-price stage: a small compiled function that moves one path's mid by one step; and the
machinery every user stage shares (a fill stage, :mod:`flatbook.market.fill_stage`, a cost stage,
:mod:`flatbook.market.cost_stage`, and an impact stage, :mod:`flatbook.hedging.impact_stage`, are other kinds).

Writing a stage
---------------
In your own file::

        from flatbook.market.stage import Param, mid_stage, normals

    @mid_stage(params={"kappa": Param(unit="per time unit", default=2.0, ge=0, doc="mean reversion"),
                       "mean": Param(unit="price", default=100.0, doc="long-run mid"),
                       "vol": Param(unit="price/√time", default=2.0, ge=0, doc="volatility")})
    def ou_mid(p, t, dt, s, m, x):
        z, _ = normals(x)
        return s + p.kappa * (p.mean - s) * dt + m * p.vol * math.sqrt(dt) * z

Arguments:

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.kappa``);
- ``t``: the time at the start of the step (time units); ``dt``: the step (time units);
- ``s``: the path's mid before the move (price units);
- ``m``: the volatility regime's multiplier (1, or ``regime_sigma_mult`` in the volatile
  regime; :mod:`flatbook.market.mid.regimes`): scale your noise by it, or ignore it;
- ``x``: 64 random bits (uint64), the path's draw for this step. Turn it into numbers
  with :func:`normals` (two independent N(0, 1)), :func:`uniforms` (two independent
  U[0, 1), 31 bits each) or :func:`unit` (one U(0, 1), 53 bits).

It returns the new mid (price units). The body is compiled by numba in nopython mode
(``math`` and arithmetic; no Python objects, no arrays).

Where it runs
-------------
The stage replaces the built-in mid model (``mid_model``: binomial, abm, gbm) in the
Monte Carlo kernel (:mod:`flatbook.sim.kernel`), at the place of the diffusive mid:
after the step's fills (the quotes fill at the old mid), before the jumps, the regime
switch, informed flow and the scheduled event, which still apply (jumps and the event
gap are then additive, s + J). Every path draws exactly one word per step for it, from
its own SplitMix64 stream, so the draws depend on the market model only: every policy
sees the same mids (common random numbers) and a path's numbers do not depend on the
number of paths, the blocks or the threads.

How it is compiled
------------------
The stage is inlined into a small block loop (:data:`MID_SIG`) compiled as a C callback,
cached on disk under the SHA-256 of its file and of flatbook's model sources, so an edit
recompiles it and a stale formula never runs. The kernel takes the loop as a first-class
function argument, typed by its signature only, so the kernel itself compiles once for
every stage; the built-in mids stay inlined in the kernel (the fast path) and the
indirect call is made only when a user stage is given (once per block of 64 paths and step).

Errors are one line (:class:`~flatbook.errors.InputError`, exit 2 on the command line): the
wrong arguments, a parameter out of range or unknown (with "did you mean"), code numba
cannot compile, a stage that returns a non-finite mid.

Every kind of stage
-------------------
A kind of stage is a :class:`StageKind`: its formula's arguments, the kernel's calling form
and the block-loop template the formula is inlined into. :class:`Stage` holds what every kind
shares (the parameters and their validation, :meth:`Stage.bind`; the compiled, disk-cached loop,
:meth:`Stage.loop`); each kind's class adds its probe (:meth:`Stage.try_run`) and its Python
call: :class:`MidStage` here, :class:`~flatbook.market.fill_stage.FillStage`,
:class:`~flatbook.market.cost_stage.CostStage`, :class:`~flatbook.hedging.impact_stage.ImpactStage`. A file may
define stages of every kind: :func:`load_stage_file` returns one of a kind, :func:`load_market_stages` those the
command line's ``--market-file F --mid NAME --fill NAME --cost NAME --impact NAME`` selects
(:func:`load_market_file`: the (mid, fill) pair).
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import keyword
import marshal
import re
import types
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numba as nb
import numpy as np
from numba import types as nt
from numba.core.ccallback import CFunc

from ..errors import InputError
from ..numerics.rng import box_muller, hi31, mid31, next_u64, stream_start, unit53
from ..policies.base import Param, source_token
from ..policies.compile import KeyedCache, files_digest, model_digest
from ..suggest import unknown
from ..userfile import import_user_file

__all__ = [
    "MID",
    "MID_ARGS",
    "MID_SIG",
    "BoundStage",
    "MidStage",
    "Param",
    "Stage",
    "StageKind",
    "idle_loop",
    "load_market_file",
    "load_market_stages",
    "load_stage_file",
    "load_stages",
    "mid_stage",
    "stage_decorator",
    "normals",
    "uniforms",
    "unit",
]

#: the arguments of a mid stage, in order
MID_ARGS = ("p", "t", "dt", "s", "m", "x")
#: the compiled calling form the kernel uses: ``loop(pp, i, t, dt, s, hivol, rmult, xs)`` moves the
#: mids ``s`` of a block in place; ``xs[j]`` is path j's draw for the step (the kernel draws it from the
#: path's stream, so the streams stay the kernel's own: an array passed to an opaque call would cost
#: the kernel's other loops their vectorisation)
MID_SIG = nt.void(
    nt.float64[::1],
    nt.int64,
    nt.float64,
    nt.float64,
    nt.float64[::1],
    nt.float64[::1],
    nt.float64,
    nt.uint64[::1],
)
_MARKET = Path(__file__).resolve().parent


@nb.njit(inline="always", cache=True, error_model="numpy")
def normals(x):
    """Two independent N(0, 1) from the 64 bits ``x`` (Box & Muller 1958; :func:`flatbook.numerics.rng.box_muller`)."""
    return box_muller(x)


@nb.njit(inline="always", cache=True, error_model="numpy")
def uniforms(x):
    """Two independent U[0, 1) from the 64 bits ``x`` (bits 33–63 and 1–31, 31 bits each)."""
    return hi31(x), mid31(x)


@nb.njit(inline="always", cache=True, error_model="numpy")
def unit(x):
    """One U(0, 1) from the 64 bits ``x`` (53 bits; never 0, safe for log)."""
    return unit53(x)


_DIGEST: str | None = None


def market_digest() -> str:
    """SHA-256 of every source under ``flatbook/market`` (subpackages included) and of the model digest."""
    global _DIGEST
    if _DIGEST is None:
        _DIGEST = files_digest(sorted(_MARKET.rglob("*.py"))) + model_digest()
    return _DIGEST


def _identifier(name: str) -> str:
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return s if s.isidentifier() and not keyword.iskeyword(s) else f"_{s}"


def _as_params_of(cls, n: int):
    """An inlined ``as_params(a) -> cls(a[0], …, a[n−1])``: the packed array as the stage's named tuple."""
    body = f"_cls({', '.join(f'a[{k}]' for k in range(n))})"
    ns: dict = {"_cls": cls}
    exec(f"def as_params(a):\n    return {body}\n", ns)  # noqa: S102 - generated from the field count only
    return nb.njit(inline="always", error_model="numpy")(ns["as_params"])


def _reason(exc: BaseException) -> str:
    """The line of a numba error that says what is wrong (its messages run to pages, with colour codes)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(exc).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith(("Failed in", "File ", "During:", "<source"))]
    return useful[0] if useful else type(exc).__name__


#: bound per stage by :meth:`Stage.loop` (the templates are never compiled as they are)
step: Any = None
as_params: Any = None


def _loop(pp, i, t, dt, s, hivol, rmult, xs):
    """Template: the user's stage over a block (``step`` and ``as_params`` bound per stage)."""
    p = as_params(pp)
    for j in range(s.size):
        m = rmult if hivol[j] > 0.0 else 1.0
        s[j] = step(p, t, dt, s[j], m, xs[j])


def _idle(pp, i, t, dt, s, hivol, rmult, xs):
    """The placeholder the kernel receives when no user stage is given (never called)."""
    return


@dataclass(frozen=True)
class StageKind:
    """A kind of stage: its name (``mid``, ``fill``: the flag ``--mid``, the summary's ``mid_stage``), the
    arguments of its formula, the kernel's calling form ``sig`` and the block loop ``template`` that inlines
    the formula (globals ``step``, ``as_params`` bound per stage), the placeholder ``idle`` of the same
    signature, and what the formula returns (for people)."""

    name: str
    args: tuple[str, ...]
    sig: Any
    template: Callable
    idle: Callable
    returns: str


#: the mid-price stage (this module's docstring)
MID = StageKind("mid", MID_ARGS, MID_SIG, _loop, _idle, "the new mid (price units)")

_LOOPS: dict[str, CFunc] = {}


def _cfunc(template: Callable, glob: Mapping[str, Any], key: str, sig) -> CFunc:
    """``template``'s code with the globals ``glob``, compiled as a C callback of signature ``sig`` and cached
    on disk under ``key``."""
    cf = _LOOPS.get(key)
    if cf is None:
        fn = types.FunctionType(template.__code__, dict(glob), template.__name__)
        fn.__module__ = template.__module__
        fn.__qualname__ = f"{fn.__name__}__{key[:16]}"
        cf = CFunc(fn, (sig.args, sig.return_type), {}, {"error_model": "numpy", "nopython": True})
        cf._cache = KeyedCache(fn, key)  # type: ignore[attr-defined]  # numba's CFunc keeps its cache here
        cf.compile()
        _LOOPS[key] = cf
    return cf


def idle_loop(kind: StageKind = MID) -> CFunc:
    """The compiled placeholder of ``kind``'s signature (the built-in stages need no call)."""
    key = hashlib.sha256(f"idle:{kind.name}:{market_digest()}".encode()).hexdigest()
    return _cfunc(kind.idle, kind.idle.__globals__, key, kind.sig)


@dataclass(frozen=True, eq=False)
class Stage(abc.ABC):
    """A user's market stage; its kind (:class:`StageKind`) is its class's. Make one with :func:`mid_stage`
    or :func:`flatbook.market.fill_stage.fill_stage`; :meth:`bind` validates its parameters for a run."""

    name: str
    param_specs: Mapping[str, Param]
    fields: tuple[str, ...]
    formula: Any  # the user's function, a numba dispatcher (inline="always")
    token: str
    source: str = ""
    summary: str = ""
    _cls: Any = field(default=None, repr=False)
    kind: ClassVar[StageKind]

    @property
    def params(self) -> tuple[str, ...]:
        """The stage's parameter names, in the order of ``p``."""
        return self.fields

    @property
    def label(self) -> str:
        """``"<kind> stage <name>"``: the field its errors name."""
        return f"{self.kind.name} stage {self.name}"

    def loop(self) -> CFunc:
        """The stage inlined into its block loop, compiled (or loaded from the cache) once per source."""
        k = self.kind
        key = hashlib.sha256(f"{k.name}:{self.token}:{self.name}:{market_digest()}".encode()).hexdigest()
        if key in _LOOPS:
            return _LOOPS[key]
        glob = {**k.template.__globals__, "step": self.formula}
        glob["as_params"] = _as_params_of(self._cls, len(self.fields))
        try:
            return _cfunc(k.template, glob, key, k.sig)
        except Exception as exc:  # noqa: BLE001 - numba's typing errors are pages long: one line
            raise InputError(self.label, f"numba cannot compile it: {_reason(exc)}") from None

    def bind(self, values: Mapping[str, object] | None = None, **params: object) -> BoundStage:
        """Validate ``values`` (and keyword parameters; defaults for the rest): a :class:`BoundStage`."""
        given = {**(values or {}), **params}
        for k in given:
            if k not in self.param_specs:
                raise unknown(self.label, "parameter", k, self.param_specs)
        vals = [spec.check(k, given.get(k, spec.default)) for k, spec in self.param_specs.items()]
        pp = np.zeros(max(len(vals), 1))
        pp[: len(vals)] = vals
        return BoundStage(self, pp)

    def evaluate(self, params: Mapping[str, object], *args: object) -> Any:
        """The formula in Python, with ``params`` bound (defaults for the rest), on the arguments after ``p``."""
        b = self.bind(params)
        return self.formula.py_func(self._cls(*b.pp[: len(self.fields)]), *args)

    @abc.abstractmethod
    def try_run(self, bound: BoundStage, s0: float, dt: float, rmult: float) -> None:
        """Run the compiled stage on a few inputs; raise a one-line :class:`InputError` on a bad output (each
        kind's class says what a bad output is: :class:`MidStage`, :class:`~flatbook.market.fill_stage.FillStage`)."""


class MidStage(Stage):
    """A user's mid-price stage (see the module docstring). Make one with :func:`mid_stage`."""

    kind = MID

    def __call__(self, t: float, dt: float, s: float, m: float, x: int, **params: object) -> float:
        """Evaluate the stage in Python: ``stage(t, dt, s, m, x, **params)`` → the new mid."""
        return float(self.evaluate(params, t, dt, s, m, np.uint64(x)))

    def try_run(self, bound: BoundStage, s0: float, dt: float, rmult: float) -> None:
        """64 paths, 4 steps from s0 (the calm regime); a non-finite mid is one line."""
        s = np.full(64, float(s0))
        hv = np.zeros(64)
        st = np.array([_start(7, j) for j in range(64)], dtype=np.uint64)
        xs = np.empty(64, np.uint64)
        loop = self.loop()
        for i in range(4):
            _call(loop, bound.pp, i, i * dt, dt, s, hv, 1.0, st, xs)
            if not np.all(np.isfinite(s)):
                bad = float(s[~np.isfinite(s)][0])
                raise InputError(
                    self.label,
                    f"returned a non-finite mid ({bad}) from s0 = {s0:g}, dt = {dt:g}, step {i}, "
                    f"parameters {bound.values}",
                )


@dataclass(frozen=True, eq=False)
class BoundStage:
    """A stage with validated parameters ``pp`` (float64, in the order of ``stage.fields``)."""

    stage: Stage
    pp: np.ndarray

    @property
    def values(self) -> dict[str, float]:
        """The parameters by name."""
        return {k: float(v) for k, v in zip(self.stage.fields, self.pp)}

    def probe(self, s0: float, dt: float, rmult: float = 1.0) -> None:
        """Run the compiled stage on a short probe (:meth:`Stage.try_run`): a bad output is one line."""
        self.stage.try_run(self, s0, dt, rmult)

    def describe(self) -> dict[str, Any]:
        """What a run's summary says of the stage: its name, parameters and source file."""
        return {"name": self.stage.name, "params": self.values, "source": self.stage.source}


@nb.njit(cache=True, error_model="numpy")
def _start(seed, path):
    return stream_start(seed, path)


@nb.njit(cache=True, error_model="numpy")
def _call(loop, pp, i, t, dt, s, hv, rmult, st, xs):
    """One step of the stage's loop, as the kernel calls it: one draw per path, then the loop."""
    for j in range(st.size):
        st[j], xs[j] = next_u64(st[j])
    loop(pp, i, t, dt, s, hv, rmult, xs)


def _token(fn) -> str:
    """The cache key of a stage's loop: its file's SHA-256 (:func:`~flatbook.policies.base.source_token`), or,
    for a function whose source cannot be read (typed at a prompt), its code object's."""
    try:
        return source_token(fn)
    except (OSError, TypeError):
        return hashlib.sha256(marshal.dumps(fn.__code__)).hexdigest()


S = TypeVar("S", bound=Stage)


def stage_decorator(cls: type[S], form: str) -> Callable[..., Callable[[Callable], S]]:
    """The decorator of a kind of stage, ``decorator(params=None, *, name=None, summary="")``, that makes a
    function ``form`` a stage of class ``cls`` (its kind's arguments checked): :func:`mid_stage`,
    :func:`~flatbook.market.fill_stage.fill_stage`."""

    def decorator(
        params: Mapping[str, Param] | None = None, *, name: str | None = None, summary: str = ""
    ) -> Callable[[Callable], S]:
        specs = dict(params or {})
        args = cls.kind.args

        def wrap(fn) -> S:
            py = getattr(fn, "py_func", fn)
            nm = name or py.__name__
            field_ = f"{cls.kind.name} stage {nm}"
            sig = inspect.signature(py)
            if len(sig.parameters) != len(args):
                got = ", ".join(sig.parameters)
                raise InputError(
                    field_, f"must take {len(args)} arguments ({', '.join(args)}); got {len(sig.parameters)} ({got})"
                )
            for k, v in specs.items():
                if not isinstance(v, Param):
                    raise InputError(field_, f"parameter {k!r} must be a flatbook.market.stage.Param; got {v!r}")
                if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_"):
                    raise InputError(field_, f"parameter name {k!r} must be a Python identifier not starting with '_'")
            tup = namedtuple(f"{_identifier(nm)}_params", tuple(specs))  # type: ignore[misc]  # fields known at run time
            return cls(
                name=nm,
                param_specs=specs,
                fields=tuple(specs),
                formula=nb.njit(inline="always", error_model="numpy")(py),
                token=_token(py),
                source=str(inspect.getsourcefile(py)),
                summary=summary or (inspect.getdoc(py) or "").split("\n")[0],
                _cls=tup,
            )

        return wrap

    decorator.__name__ = decorator.__qualname__ = f"{cls.kind.name}_stage"
    decorator.__module__ = cls.__module__
    decorator.__doc__ = (
        f"Decorator: a function ``{form}`` as a :class:`{cls.__name__}`.\n\n"
        "params: ``{name: Param}``, the fields of ``p`` in order (units, bounds, defaults, docs).\n"
        f"name: defaults to the function's name. See the module docstring of :mod:`{cls.__module__}`.\n"
    )
    return decorator


#: ``@mid_stage(params={...}, name=None, summary="")``: a function ``f(p, t, dt, s, m, x) -> new mid`` as a
#: :class:`MidStage` (see the module docstring)
mid_stage = stage_decorator(MidStage, "f(p, t, dt, s, m, x) -> new mid")


def load_stages(path: str | Path, field_: str = "--market-file") -> dict[str, Stage]:
    """Import ``path`` (a module of its own, named after its path) and return the stages it defines, every kind."""
    p = Path(path)
    module = import_user_file(path, field_, "flatbook_user_market_")
    found = {v.name: v for v in vars(module).values() if isinstance(v, Stage)}
    if not found:
        raise InputError(
            field_,
            f"{p.name} defines no market stage (decorate a function with @mid_stage, @fill_stage, @cost_stage or "
            "@impact_stage)",
        )
    return found


def _pick(found: Mapping[str, Stage], path: str | Path, kind: str, name: str | None) -> Stage:
    """The ``kind`` stage ``name`` of ``found`` (the only one if None); errors name the flag ``--<kind>``."""
    flag = f"--{kind}"
    of = {k: v for k, v in found.items() if v.kind.name == kind}
    if name is None:
        if len(of) != 1:
            say = f"{len(of)} {kind} stages ({', '.join(of)}); name one" if of else f"no {kind} stage"
            raise InputError(flag, f"{Path(path).name} defines {say} (decorate a function with @{kind}_stage)")
        return next(iter(of.values()))
    st = of.get(name)
    if st is None:
        raise unknown(flag, f"{kind} stage", name, of)
    return st


def load_stage_file(path: str | Path, name: str | None = None, kind: str = "mid") -> Stage:
    """Import ``path`` and return its ``kind`` stage (``mid``, ``fill``, ``cost``, ``impact``) ``name`` (the only
    one if None); errors are one line naming ``--<kind>``."""
    return _pick(load_stages(path), path, kind, name)


#: the kinds of stage a ``--market-file`` may select, in the order of :func:`load_market_stages`'s result
STAGE_KINDS = ("mid", "fill", "cost", "impact")


def load_market_stages(
    path: str | Path, chosen: Mapping[str, tuple[str | None, Mapping[str, object] | None]]
) -> dict[str, BoundStage | None]:
    """The bound stages of the file ``path``, imported once, by kind (every kind of :data:`STAGE_KINDS`):
    ``chosen[kind] = (name, params)``; a kind named or given parameters is loaded (its only stage if unnamed),
    the others are None; with none, the file's only stage, whatever its kind. Errors are one line naming the
    flag (``--market-file``, ``--mid``, ``--fill``, ``--cost``, ``--impact``)."""
    found = load_stages(path)
    for k in chosen:
        if k not in STAGE_KINDS:
            raise unknown("kind", "stage kind", k, STAGE_KINDS)
    picks = {k: chosen.get(k, (None, None)) for k in STAGE_KINDS}
    want = {k: name is not None or bool(params) for k, (name, params) in picks.items()}
    if not any(want.values()):
        kinds = {st.kind.name for st in found.values()}
        if len(found) > 1 and len(kinds) > 1:
            raise InputError(
                "--market-file", f"{Path(path).name} defines {len(found)} stages ({', '.join(found)}); name one"
            )
        want[kinds.pop()] = True
    return {k: _pick(found, path, k, name).bind(params) if want[k] else None for k, (name, params) in picks.items()}


def load_market_file(
    path: str | Path,
    mid: str | None = None,
    mid_params: Mapping[str, object] | None = None,
    fill: str | None = None,
    fill_params: Mapping[str, object] | None = None,
) -> tuple[BoundStage | None, BoundStage | None]:
    """The bound (mid, fill) stages of the file ``path`` (:func:`load_market_stages` with those two kinds)."""
    got = load_market_stages(path, {"mid": (mid, mid_params), "fill": (fill, fill_params)})
    return got["mid"], got["fill"]
