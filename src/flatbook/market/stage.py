"""Your own mid-price stage: a small compiled function that moves one path's mid by one step.

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
"""

from __future__ import annotations

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
from typing import Any

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
    "MID_ARGS",
    "MID_SIG",
    "BoundStage",
    "MidStage",
    "Param",
    "load_stage_file",
    "mid_stage",
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


#: bound per stage by :meth:`MidStage.loop` (the template below is never compiled as it is)
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


_LOOPS: dict[str, CFunc] = {}


def _cfunc(fn, key: str) -> CFunc:
    cf = _LOOPS.get(key)
    if cf is None:
        fn.__qualname__ = f"{fn.__name__}__{key[:16]}"
        cf = CFunc(fn, (MID_SIG.args, MID_SIG.return_type), {}, {"error_model": "numpy", "nopython": True})
        cf._cache = KeyedCache(fn, key)  # type: ignore[attr-defined]  # numba's CFunc keeps its cache here
        cf.compile()
        _LOOPS[key] = cf
    return cf


def idle_loop() -> CFunc:
    """The compiled placeholder of signature :data:`MID_SIG` (the built-in mids need no call)."""
    key = hashlib.sha256(f"idle:{market_digest()}".encode()).hexdigest()
    if key in _LOOPS:
        return _LOOPS[key]
    fn = types.FunctionType(_idle.__code__, dict(globals()), "_idle")
    fn.__module__ = __name__
    return _cfunc(fn, key)


@dataclass(frozen=True, eq=False)
class MidStage:
    """A user's mid-price stage (see the module docstring). Make one with :func:`mid_stage`;
    :meth:`bind` validates its parameters for a run."""

    name: str
    param_specs: Mapping[str, Param]
    fields: tuple[str, ...]
    formula: Any  # the (p, t, dt, s, m, x) function, a numba dispatcher (inline="always")
    token: str
    source: str = ""
    summary: str = ""
    _cls: Any = field(default=None, repr=False)

    @property
    def params(self) -> tuple[str, ...]:
        """The stage's parameter names, in the order of ``p``."""
        return self.fields

    def loop(self) -> CFunc:
        """The stage inlined into its block loop, compiled (or loaded from the cache) once per source."""
        key = hashlib.sha256(f"{self.token}:{self.name}:{market_digest()}".encode()).hexdigest()
        if key in _LOOPS:
            return _LOOPS[key]
        g = dict(globals())
        g.update(step=self.formula, as_params=_as_params_of(self._cls, len(self.fields)))
        fn = types.FunctionType(_loop.__code__, g, "_loop")
        fn.__module__ = __name__
        try:
            return _cfunc(fn, key)
        except Exception as exc:  # noqa: BLE001 - numba's typing errors are pages long: one line
            raise InputError(f"mid stage {self.name}", f"numba cannot compile it: {_reason(exc)}") from None

    def bind(self, values: Mapping[str, object] | None = None, **params: object) -> BoundStage:
        """Validate ``values`` (and keyword parameters; defaults for the rest): a :class:`BoundStage`."""
        given = {**(values or {}), **params}
        for k in given:
            if k not in self.param_specs:
                raise unknown(f"mid stage {self.name}", "parameter", k, self.param_specs)
        vals = [spec.check(k, given.get(k, spec.default)) for k, spec in self.param_specs.items()]
        pp = np.zeros(max(len(vals), 1))
        pp[: len(vals)] = vals
        return BoundStage(self, pp)

    def __call__(self, t: float, dt: float, s: float, m: float, x: int, **params: object) -> float:
        """Evaluate the stage in Python: ``stage(t, dt, s, m, x, **params)`` → the new mid."""
        b = self.bind(params)
        return self.formula.py_func(self._cls(*b.pp[: len(self.fields)]), t, dt, s, m, np.uint64(x))


@dataclass(frozen=True, eq=False)
class BoundStage:
    """A stage with validated parameters ``pp`` (float64, in the order of ``stage.fields``)."""

    stage: MidStage
    pp: np.ndarray

    @property
    def values(self) -> dict[str, float]:
        """The parameters by name."""
        return {k: float(v) for k, v in zip(self.stage.fields, self.pp)}

    def probe(self, s0: float, dt: float, steps: int = 4) -> None:
        """Run the compiled stage on 64 paths for a few steps from s0; a non-finite mid is one line."""
        s = np.full(64, float(s0))
        hv = np.zeros(64)
        st = np.array([_start(7, j) for j in range(64)], dtype=np.uint64)
        xs = np.empty(64, np.uint64)
        loop = self.stage.loop()
        for i in range(steps):
            _call(loop, self.pp, i, i * dt, dt, s, hv, 1.0, st, xs)
            if not np.all(np.isfinite(s)):
                bad = float(s[~np.isfinite(s)][0])
                raise InputError(
                    f"mid stage {self.stage.name}",
                    f"returned a non-finite mid ({bad}) from s0 = {s0:g}, dt = {dt:g}, step {i}, "
                    f"parameters {self.values}",
                )


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


def mid_stage(
    params: Mapping[str, Param] | None = None, *, name: str | None = None, summary: str = ""
) -> Callable[[Callable], MidStage]:
    """Decorator: a function ``f(p, t, dt, s, m, x) -> new mid`` as a :class:`MidStage`.

    params: ``{name: Param}``, the fields of ``p`` in order (units, bounds, defaults, docs).
    name: defaults to the function's name. See the module docstring.
    """
    specs = dict(params or {})

    def wrap(fn) -> MidStage:
        py = getattr(fn, "py_func", fn)
        nm = name or py.__name__
        field_ = f"mid stage {nm}"
        sig = inspect.signature(py)
        if len(sig.parameters) != len(MID_ARGS):
            got = ", ".join(sig.parameters)
            raise InputError(
                field_,
                f"must take {len(MID_ARGS)} arguments ({', '.join(MID_ARGS)}); got {len(sig.parameters)} ({got})",
            )
        for k, v in specs.items():
            if not isinstance(v, Param):
                raise InputError(field_, f"parameter {k!r} must be a flatbook.market.stage.Param; got {v!r}")
            if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_"):
                raise InputError(field_, f"parameter name {k!r} must be a Python identifier not starting with '_'")
        cls = namedtuple(f"{_identifier(nm)}_params", tuple(specs))  # type: ignore[misc]  # fields known at run time
        return MidStage(
            name=nm,
            param_specs=specs,
            fields=tuple(specs),
            formula=nb.njit(inline="always", error_model="numpy")(py),
            token=_token(py),
            source=str(inspect.getsourcefile(py)),
            summary=summary or (inspect.getdoc(py) or "").split("\n")[0],
            _cls=cls,
        )

    return wrap


def load_stages(path: str | Path, field_: str = "--market-file") -> dict[str, MidStage]:
    """Import ``path`` (a module of its own, named after its path) and return the stages it defines."""
    p = Path(path)
    module = import_user_file(path, field_, "flatbook_user_market_")
    found = {v.name: v for v in vars(module).values() if isinstance(v, MidStage)}
    if not found:
        raise InputError(field_, f"{p.name} defines no market stage (decorate a function with @mid_stage)")
    return found


def load_stage_file(path: str | Path, name: str | None = None) -> MidStage:
    """Import ``path`` and return its mid stage ``name`` (the only one if None); errors are one line."""
    found = load_stages(path)
    if name is None:
        if len(found) > 1:
            raise InputError("--mid", f"{Path(path).name} defines {len(found)} stages ({', '.join(found)}); name one")
        name = next(iter(found))
    st = found.get(name)
    if st is None:
        raise unknown("--mid", "mid stage", name, found)
    return st
