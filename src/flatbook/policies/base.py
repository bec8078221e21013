"""The policy interface: a quoting policy is a small compiled function of the state.

Every policy, built-in or yours, is a :class:`Policy` made by the :func:`policy`
decorator (or :func:`~flatbook.policies.table.table_policy` for depths given on a
grid). The same object runs, with no change, in ``simulate``/``compare`` (the Monte
Carlo kernel), the backtester, the live engine, ``quote``, the multi-instrument
simulator and the explainer app: each engine compiles its kernels for the policy
(:mod:`flatbook.policies.compile`), with the formula inlined.

Writing a policy
----------------
In your own file (``flatbook simulate --policy-file my_policy.py --policy cubic_skew``)::

    from flatbook.policies import Param, policy

    @policy(params={"half_spread": Param(unit="price", default=0.5, ge=0, doc="half-spread at q = 0"),
                    "skew": Param(unit="price/lot", default=0.01, ge=0, doc="linear skew"),
                    "cubic": Param(unit="price/lot³", default=0.0, ge=0, doc="cubic skew")},
            moves_with_time=False)
    def cubic_skew(p, t, tau, s, q):
        c = p.skew * q + p.cubic * q * q * q
        return p.half_spread + c, p.half_spread - c

Arguments (all float64):

- ``p``: the parameters, a named tuple in the order of ``params`` (``p.half_spread``);
- ``t``: time since the start (time units; the backtester and live engine: seconds);
- ``tau``: time to go, T − t (time units; can reach 0, never read past the end);
- ``s``: the mid (price units);
- ``q``: the inventory the policy sees (lots; with an option held, the
  delta-equivalent q + n·Δ; with a proxy hedge, plus y/h*).

It returns ``(bid_depth, ask_depth)`` in price units from the mid: bid = s −
bid_depth, ask = s + ask_depth. ``+inf`` means "do not quote that side". The
controls (hard limit, zones, kill switch, never-cross, tick, size) are applied
after the policy, by the engine, the same way for every policy.

Valid output: a depth is never NaN or −inf, and bid_depth + ask_depth >= 0 (the bid
never above the ask). One depth alone may be negative: a linear skew can push one
quote through the mid. A user policy is probed on a grid of states when it is
loaded and when a run's parameters are packed; a violation, a wrong number of
arguments or outputs, or code numba cannot compile is one line and exit 2. The probe
covers q over ±limit (±100 lots without one), t ∈ {0, T/2, T} and s ∈ {s0/2, s0, 2·s0};
a NaN that a formula returns elsewhere, mid-run, is "side not quoted" in the backtester
and the live engine, and never fills in the Monte Carlo kernel (its spread statistics
then read NaN).

The body is compiled by numba in nopython mode: use ``math`` and arithmetic (no
Python objects, no arrays allocated per call). Numbers, tuples and arrays it reads from
module globals (loaded at import, e.g. from a data file) are compiled in as constants; their
values key the compiled code's cache with the file's source, so changed data never runs
stale. ``moves_with_time=True`` declares
that the quotes change with t or tau alone; the backtester and the live engine then
requote on time, not only when the mid, the spread, q or the kill state change.

Parameters: :class:`Param` carries a unit, a default, bounds (``ge``, ``gt``, ``le``,
``lt``) and a doc. A parameter that is not in flatbook's registry is added to it
when the policy is registered, so ``--set cubic=1e-4`` and TOML ``[params]`` reach
it; one whose name is already there (``half_spread``) reads the run's value and is
also checked against the policy's own bounds.

Built-in policies use this same interface: ``params`` then names registry
parameters (``["gamma", "sigma", ...]``, their units and bounds from
:data:`flatbook.params.PARAMS`) and a ``pack(values, nsteps)`` hook turns them into
the fields of ``p`` (derived constants such as γσ²), or returns a table policy's
arrays (exact GLFT).

Ladders: several levels per side, with sizes
--------------------------------------------
A policy may quote ``L`` levels per side, each with its own size: declare
``@policy(..., levels=L)`` and return ``4·L`` numbers as one flat tuple::

    (db_1, …, db_L, da_1, …, da_L, nb_1, …, nb_L, na_1, …, na_L)

the bid depths, the ask depths (price units from the mid, level 1 nearest it), then
the bid and ask sizes (lots). For example (``examples/my_ladder.py`` is a fuller one)::

    @policy(params={"half_spread": Param(unit="price", default=0.5, ge=0),
                    "step": Param(unit="price", default=0.25, ge=0),
                    "skew": Param(unit="price/lot", default=0.01, ge=0),
                    "lot": Param(unit="lots", default=1.0, ge=0)}, levels=3)
    def three_levels(p, t, tau, s, q):
        c = p.skew * q
        db1, da1 = max(p.half_spread + c, 0.0), max(p.half_spread - c, 0.0)
        return (db1, db1 + p.step, db1 + 2 * p.step, da1, da1 + p.step, da1 + 2 * p.step,
                p.lot, p.lot, 2 * p.lot, p.lot, p.lot, 2 * p.lot)

Valid output, checked by the probe (one line and exit 2 otherwise): ``4·L`` numbers;
depths >= 0 (``+inf``: level not quoted) and non-decreasing outwards on each side
(db_1 <= db_2 <= …); sizes finite and >= 0 (0: level not quoted); no NaN. ``levels=1``
(the default) is the two-depth form above, whose size comes from the controls (``size``).

:func:`flatbook.quote`/:func:`flatbook.quotes` and ``flatbook quote`` show every
level (:func:`flatbook.policies.quote.ladder_controls` applies the controls level by level;
the hard limit caps the sum of a side's sizes). The backtester replays a ladder, every level its own
order with its own queue position (:mod:`flatbook.backtest.ladder`); ``simulate``/``compare``, the live
engine, sweeps and the multi-instrument simulator match one level per side today and refuse a ladder
policy up front, in one line (:func:`~flatbook.policies.compile.refuse_ladder`, called where each
compiles its policy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import keyword
import math
import re
import types
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from ..errors import InputError
from ..params import PARAMS
from .compile import KeyedCache, depths_loop, model_digest

#: the arguments of a policy's formula, in order
ARGS = ("p", "t", "tau", "s", "q")
#: the most levels per side a ladder policy may quote
MAX_LEVELS = 50
_NO_TABLE = np.zeros((1, 1))


@dataclass(frozen=True)
class Param:
    """A policy parameter: unit, default, allowed range and doc.

    ``ge``/``gt``: lower bound (inclusive / exclusive); ``le``/``lt``: upper bound.
    Values are float64; non-finite values are refused.
    """

    unit: str
    default: float = 0.0
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    doc: str = ""

    def allowed(self) -> str:
        """The allowed range, for people: "a number >= 0 and < 1"."""
        parts = [
            f"{op} {b:g}"
            for op, b in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if b is not None
        ]
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def check(self, name: str, raw: object) -> float:
        """``raw`` as a float within range, or :class:`InputError` naming ``name``."""
        try:
            x = float(raw) if not isinstance(raw, bool) else math.nan  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(name, f"got {raw!r}, not a number; allowed: {self.allowed()} ({self.unit})") from None
        if isinstance(raw, bool):
            raise InputError(name, f"got {raw!r}, not a number; allowed: {self.allowed()} ({self.unit})")
        bad = (
            not math.isfinite(x)
            or (self.ge is not None and x < self.ge)
            or (self.gt is not None and x <= self.gt)
            or (self.le is not None and x > self.le)
            or (self.lt is not None and x >= self.lt)
        )
        if bad:
            raise InputError(name, f"got {raw!r}; allowed: {self.allowed()} ({self.unit})")
        return x


@dataclass(frozen=True)
class Bound:
    """A policy bound to a run's values: the policy whose formula the kernels inline, its
    packed parameters ``pp`` (float64, in the order of ``policy.fields``) and table ``tab``
    (a (1, 1) placeholder unless a table policy), and whether its quotes move with time.

    ``regime``: for a table policy with a regime axis (:func:`~flatbook.policies.table.table_policy`),
    the estimator the backtester and the live engine classify the tape's regime with: (half-life in
    seconds, σ threshold in price units/√s) of :mod:`flatbook.estimators.regime`; None otherwise."""

    policy: Policy
    pp: np.ndarray
    tab: np.ndarray
    moves_with_time: bool
    regime: tuple[float, float] | None = None


def _identifier(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    return s if s.isidentifier() and not keyword.iskeyword(s) else f"_{s}"


def _make_as_params(cls, n: int):
    """An inlined numba function ``as_params(a) -> cls(a[0], …, a[n−1])``: the packed array as
    the formula's named tuple (values in registers, so LLVM sees no array that could alias)."""
    body = f"_cls({', '.join(f'a[{k}]' for k in range(n))})" if n else "()"
    ns: dict = {"_cls": cls}
    exec(f"def as_params(a):\n    return {body}\n", ns)  # noqa: S102 - generated from field counts only
    return nb.njit(inline="always", error_model="numpy")(ns["as_params"])


def _kernel_form(fn):
    """The engines' calling form ``depths(p, tab, i, t, tau, s, q, x)`` of a formula ``fn(p, t, tau, s, q)``
    (the feature ``x`` is a table policy's: :mod:`flatbook.policies.table`)."""

    @nb.njit(inline="always", error_model="numpy")
    def depths(p, tab, i, t, tau, s, q, x):
        return fn(p, t, tau, s, q)

    return depths


@dataclass(frozen=True, eq=False)
class Policy:
    """A quoting policy (see the module docstring). Make one with :func:`policy` or
    :func:`~flatbook.policies.table.table_policy`; engines use :meth:`bind`."""

    name: str
    param_specs: Mapping[str, Param]
    fields: tuple[str, ...]
    depths: object  # numba dispatcher, kernel form (p, tab, i, t, tau, s, q, x)
    token: str
    moves_with_time: bool | Callable[[Mapping], bool] = False
    packer: Callable[[Mapping, int], object] | None = None
    select: Callable[[Mapping], Policy] | None = None
    # the (p, t, tau, s, q) function, compiled: a numba dispatcher (Any: numba ships no type hints); None for a table
    formula: Any = None
    summary: str = ""
    source: str = ""
    rung: int | None = None
    reads: tuple[str, ...] = ()
    builtin: bool = False
    as_params: object = field(default=None, repr=False)
    #: levels per side: 1 (two depths; size from the controls) or a ladder of ``levels`` (4·levels outputs)
    levels: int = 1

    @property
    def params(self) -> tuple[str, ...]:
        """The run parameters the policy reads (names in :data:`flatbook.params.PARAMS`)."""
        return self.reads or tuple(self.param_specs)

    def resolve(self, values: Mapping) -> Policy:
        """The policy whose formula runs for ``values`` (GLFT: the exact table or the closed form)."""
        pol = self.select(values) if self.select is not None else None
        return self if pol is None else pol

    def _values(self, values: Mapping) -> tuple[float, ...]:
        return tuple(spec.check(name, values.get(name, spec.default)) for name, spec in self.param_specs.items())

    def bind(self, values: Mapping, nsteps: int) -> Bound:
        """Validate and pack for a run of ``nsteps`` steps: :class:`Bound`."""
        pol = self.resolve(values)
        if pol is not self:
            b = pol.bind(values, nsteps)
            return dataclasses.replace(b, moves_with_time=self.timed(values))
        out = self.packer(values, nsteps) if self.packer is not None else self._values(values)
        if isinstance(out, Bound):
            return out
        tab = _NO_TABLE
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], np.ndarray):
            out, tab = out
        pp = np.zeros(max(len(self.fields), 1))
        pp[: len(self.fields)] = np.asarray(out, float)
        b = Bound(self, pp, np.ascontiguousarray(tab, float), self.timed(values))
        if not self.builtin:
            probe(b, values)
        return b

    def pack(self, values: Mapping, nsteps: int) -> tuple[np.ndarray, np.ndarray]:
        """Validated packed parameters and table, ``(pp, tab)`` (see :meth:`bind`)."""
        b = self.bind(values, nsteps)
        return b.pp, b.tab

    def timed(self, values: Mapping) -> bool:
        """Do the quotes move with time alone, for these values?"""
        m = self.moves_with_time
        return bool(m(values) if callable(m) else m)

    def __call__(self, *args, **params):
        """Evaluate the formula in Python: ``pol(t, tau, s, q, **params)`` → (bid_depth, ask_depth), or a
        ladder's 4·levels numbers (depths, then sizes; see the module docstring)."""
        if self.formula is None:
            raise TypeError(f"policy {self.name} is a table: call flatbook.policies.quote.quotes instead")
        return self.formula.py_func(self.params_tuple(params), *args)

    def params_tuple(self, params: Mapping | None = None):
        """The named tuple ``p`` of the formula for ``params`` (defaults for the rest), validated."""
        # a tuple type built at run time from the policy's own field names: mypy cannot type it
        cls = namedtuple(f"{_identifier(self.name)}_params", self.fields)  # type: ignore[misc]
        return cls(*self._values(params or {}))


def source_token(fn) -> str:
    """SHA-256 of the file that defines ``fn``, its qualified name and the values numba compiles into it as
    constants (:func:`_frozen_values`): the cache key of its kernels."""
    h = hashlib.sha256(f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}".encode())
    try:
        h.update(Path(inspect.getsourcefile(fn) or "").read_bytes())
    except (OSError, TypeError):
        h.update(inspect.getsource(fn).encode())
    h.update(_frozen_values(fn))
    return h.hexdigest()


def _frozen_values(fn) -> bytes:
    """The values numba freezes into ``fn``'s compiled code: the numbers, tuples and arrays among the globals it
    reads, and its closure's cells. A formula that reads a table or a constant loaded from a data file at import
    then gets a new cache key when the data changes, as when its source does (a stale value never runs)."""
    py = getattr(fn, "py_func", fn)
    code = getattr(py, "__code__", None)
    if code is None:
        return b""
    g = getattr(py, "__globals__", {})
    vals = [(n, g[n]) for n in sorted(set(code.co_names)) if n in g]
    vals += [(f"<cell {i}>", c.cell_contents) for i, c in enumerate(py.__closure__ or ()) if _has_contents(c)]
    out = []
    for name, v in vals:
        if isinstance(v, np.ndarray):
            out.append(f"{name}:{v.dtype.str}{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (bool, int, float, complex, str, tuple, np.number)):
            out.append(f"{name}={v!r}".encode())
    return b"\0".join(out)


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _registry_params(names: Sequence[str]) -> dict[str, Param]:
    out = {}
    for n in names:
        p = PARAMS[n]
        if isinstance(p.default, str):
            continue  # a choice (variant, solution): read by the packer, not a number
        lo = None if p.lo <= -1e9 else p.lo
        out[n] = Param(
            unit=p.unit,
            default=float(p.default),
            ge=None if p.lo_open else lo,
            gt=lo if p.lo_open else None,
            le=None if p.inf_allowed or p.hi >= 1e9 else p.hi,
            doc=p.doc,
        )
    return out


def policy(
    params: Mapping[str, Param] | Sequence[str] = (),
    *,
    moves_with_time: bool | Callable = False,
    name: str | None = None,
    fields: Sequence[str] | None = None,
    pack: Callable | None = None,
    select: Callable | None = None,
    summary: str = "",
    source: str = "",
    rung: int | None = None,
    reads: Sequence[str] = (),
    levels: int = 1,
) -> Callable[[Callable], Policy]:
    """Decorator: a formula ``f(p, t, tau, s, q) -> (bid_depth, ask_depth)`` as a :class:`Policy`.

    params: ``{name: Param}`` (the fields of ``p``, in order), or names of registry parameters
    (built-ins). moves_with_time: bool, or a function of the run's values. name: defaults to the
    function's name. fields, pack: the fields of ``p`` and a ``pack(values, nsteps)`` hook
    returning their values (derived constants), when they are not the parameters themselves.
    select: a function of the values returning the policy to run instead (a variant).
    summary, source: one line each for ``flatbook policies``. levels: quotes per side; ``levels=L > 1``
    is a ladder whose formula returns ``4·L`` numbers (depths, then sizes). See the module docstring.
    """

    def wrap(fn) -> Policy:
        py = getattr(fn, "py_func", fn)
        nm = name or py.__name__
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 1 <= levels <= MAX_LEVELS:
            raise InputError(f"policy {nm}", f"levels must be a whole number from 1 to {MAX_LEVELS}; got {levels!r}")
        sig = inspect.signature(py)
        if len(sig.parameters) != len(ARGS):
            got = ", ".join(sig.parameters)
            raise InputError(
                f"policy {nm}",
                f"the formula must take {len(ARGS)} arguments ({', '.join(ARGS)}); got {len(sig.parameters)} ({got})",
            )
        specs = dict(params) if isinstance(params, Mapping) else _registry_params(params)
        for k, v in specs.items():
            if not isinstance(v, Param):
                raise InputError(f"policy {nm}", f"parameter {k!r} must be a flatbook.policies.Param; got {v!r}")
        flds = tuple(fields) if fields is not None else tuple(specs)
        for f in flds:
            if not f.isidentifier() or keyword.iskeyword(f) or f.startswith("_"):
                raise InputError(
                    f"policy {nm}", f"parameter name {f!r} must be a Python identifier not starting with '_'"
                )
        cls = namedtuple(f"{_identifier(nm)}_params", flds)  # type: ignore[misc]  # built at run time, as above
        formula = nb.njit(inline="always", error_model="numpy")(py)
        return Policy(
            name=nm,
            param_specs=specs,
            fields=flds,
            depths=_kernel_form(formula),
            token=source_token(py),
            moves_with_time=moves_with_time,
            packer=pack,
            select=select,
            formula=formula,
            summary=summary or (inspect.getdoc(py) or "").split("\n")[0],
            source=source or f"{inspect.getsourcefile(py)}",
            rung=rung,
            reads=tuple(reads) or (() if isinstance(params, Mapping) else tuple(params)),
            builtin=py.__module__.startswith("flatbook."),
            as_params=_make_as_params(cls, len(flds)),
            levels=int(levels),
        )

    return wrap


# ------------------------------------------------------------------ the probe
@nb.njit(cache=True, error_model="numpy")
def _probe(loop, pp, tab, i, t, tau, s, q, x, out):
    """The policy's depths over arrays of states, one call each, as the engines call it."""
    one = np.empty(1)
    one_q = np.empty(1)
    one_x = np.empty(1)
    db = np.empty(1)
    da = np.empty(1)
    for j in range(s.size):
        one[0] = s[j]
        one_q[0] = q[j]
        one_x[0] = x[j]
        loop(pp, tab, i[j], t[j], tau[j], one, one_q, one_x, db, da)
        out[0, j] = db[0]
        out[1, j] = da[0]


def probe(b: Bound, values: Mapping) -> None:
    """Evaluate a bound policy on a grid of states; refuse NaN, −inf, a negative spread, the wrong
    number of outputs or code numba cannot compile, with one line (:class:`InputError`)."""
    pol = b.policy
    field_ = f"policy {pol.name}"
    T = float(values.get("T", 1.0))
    dt = float(values.get("dt", T))
    s0 = float(values.get("s0", 100.0))
    lim = float(values.get("limit", math.inf))
    L = lim if math.isfinite(lim) else 100.0
    qs = np.unique(np.concatenate([np.linspace(-L, L, 21), [0.0, float(values.get("q_target", 0.0))]]))
    taus = np.array([T, 0.5 * T, 0.0])
    Q, TAU, S = (a.ravel() for a in np.meshgrid(qs, taus, [0.5 * s0, s0, 2.0 * s0], indexing="ij"))
    t = T - TAU
    i = np.minimum(np.floor(t / dt + 1e-9), max(round(T / dt), 0)).astype(np.int64)
    if pol.levels > 1:
        _probe_ladder(pol, b, field_, i, t, TAU, S, Q)
        return
    if pol.formula is not None:  # the number of outputs, in plain Python (a clearer message than numba's)
        try:
            # fields known only at run time (as in params_tuple): mypy sees a bare tuple constructor
            p = namedtuple("p", pol.fields)(*(float(x) for x in b.pp[: len(pol.fields)]))  # type: ignore[arg-type]
            r = pol.formula.py_func(p, float(t[0]), float(TAU[0]), float(S[0]), float(Q[0]))
        except Exception as exc:  # noqa: BLE001 - any failure of the user's code is one line
            raise InputError(field_, f"raised {type(exc).__name__}: {exc}") from None
        if not (isinstance(r, tuple) and len(r) == 2):
            n = len(r) if isinstance(r, tuple) else 1
            raise InputError(
                field_, f"must return 2 numbers (bid_depth, ask_depth); got {n} value{'s' if n != 1 else ''}: {r!r}"
            )
        if not all(isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) for x in r):
            raise InputError(field_, f"must return 2 numbers (bid_depth, ask_depth); got {r!r}")
    out = np.empty((2, Q.size))
    try:
        loop = depths_loop(pol)
    except nb.core.errors.NumbaError as exc:
        lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()]
        why = next((ln for ln in lines if ln and not ln.startswith("Failed in")), type(exc).__name__)
        raise InputError(field_, f"does not compile with numba (nopython): {why}") from None
    _probe(loop, b.pp, b.tab, i, t, TAU, S, Q, np.zeros_like(Q), out)
    db, da = out
    bad = np.isnan(db) | np.isnan(da) | (db == -np.inf) | (da == -np.inf) | ~(db + da >= 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        what = (
            "NaN"
            if math.isnan(db[j]) or math.isnan(da[j])
            else "-inf"
            if -np.inf in (db[j], da[j])
            else "crossed quotes (bid_depth + ask_depth < 0)"
        )
        raise InputError(
            field_,
            f"returned {what} at q={Q[j]:g}, t={t[j]:g}, s={S[j]:g}: (bid_depth, ask_depth) = "
            f"({db[j]:g}, {da[j]:g}); allowed: numbers or +inf (side not quoted) with "
            "bid_depth + ask_depth >= 0",
        )


# ------------------------------------------------------------------ ladders
def ladder_names(levels: int) -> tuple[str, ...]:
    """The names of a ladder's ``4·levels`` outputs, in order: db_1..db_L, da_1..da_L, nb_1..nb_L, na_1..na_L."""
    return tuple(f"{x}_{k}" for x in ("db", "da", "nb", "na") for k in range(1, levels + 1))


def _make_store(n: int):
    """An inlined numba function ``store(out, j, r)``: ``out[k, j] = r[k]`` for the n outputs of a ladder (a
    tuple indexed by constants, so a formula may mix ints and floats)."""
    body = "\n".join(f"    out[{k}, j] = r[{k}]" for k in range(n))
    ns: dict = {}
    exec(f"def store(out, j, r):\n{body}\n", ns)  # noqa: S102 - generated from the level count only
    return nb.njit(inline="always", error_model="numpy")(ns["store"])


#: bound per ladder policy by :func:`ladder_loop` (the template below is never compiled as it is)
_ladder_depths: Any = None
_ladder_as_params: Any = None
_ladder_store: Any = None


def _ladder_template(pp, tab, i, t, tau, s, q, out):
    """A ladder policy's 4·L outputs (rows of ``out``) for arrays of states (columns)."""
    p = _ladder_as_params(pp)
    for j in range(s.size):
        _ladder_store(out, j, _ladder_depths(p, tab, i[j], t[j], tau[j], s[j], q[j], 0.0))


_LADDERS: dict[str, Any] = {}


def ladder_loop(pol: Policy):
    """A ladder policy's formula compiled over arrays of states: ``loop(pp, tab, i, t, tau, s, q, out)``
    writes its ``4·levels`` outputs (:func:`ladder_names`) into the rows of ``out`` (float64, (4·levels, n));
    i, t, tau, s, q are arrays of n states. Cached on disk under the policy's source token, as
    :func:`~flatbook.policies.compile.depths_loop`; used by the probe and ``quote``."""
    key = hashlib.sha256(f"ladder:{pol.token}:{pol.name}:{pol.levels}:{model_digest()}".encode()).hexdigest()
    cached = _LADDERS.get(key)
    if cached is not None:
        return cached
    g = dict(globals())
    g.update(_ladder_depths=pol.depths, _ladder_as_params=pol.as_params, _ladder_store=_make_store(4 * pol.levels))
    py = types.FunctionType(_ladder_template.__code__, g, _ladder_template.__name__)
    py.__qualname__ = f"_ladder__{key[:16]}"  # a symbol (and cache index) of its own, as depths_loop's
    py.__module__ = __name__
    fn: Any = nb.njit(error_model="numpy")(py)  # Any: numba ships no type hints
    fn._cache = KeyedCache(py, key)
    _LADDERS[key] = fn
    return fn


def _probe_ladder(pol: Policy, b: Bound, field_: str, i, t, tau, s, q) -> None:
    """The probe of a ladder policy (levels > 1): 4·levels numbers, no NaN, depths >= 0 (+inf: level not
    quoted) and non-decreasing outwards, sizes finite and >= 0; each failure one line (:class:`InputError`)."""
    L = pol.levels
    n_out = 4 * L
    shape = f"{n_out} numbers (db_1..db_{L}, da_1..da_{L}, nb_1..nb_{L}, na_1..na_{L})"
    try:
        p = namedtuple("p", pol.fields)(*(float(x) for x in b.pp[: len(pol.fields)]))  # type: ignore[arg-type]
        r = pol.formula.py_func(p, float(t[0]), float(tau[0]), float(s[0]), float(q[0]))
    except Exception as exc:  # noqa: BLE001 - any failure of the user's code is one line
        raise InputError(field_, f"raised {type(exc).__name__}: {exc}") from None
    if not (isinstance(r, tuple) and len(r) == n_out):
        n = len(r) if isinstance(r, tuple) else 1
        raise InputError(
            field_, f"declares levels={L}, so must return {shape}; got {n} value{'s' if n != 1 else ''}: {r!r}"
        )
    if not all(isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) for x in r):
        raise InputError(field_, f"declares levels={L}, so must return {shape}; got {r!r}")
    out = np.empty((n_out, s.size))
    try:
        loop = ladder_loop(pol)
        loop(b.pp, b.tab, i, t, tau, s, q, out)
    except nb.core.errors.NumbaError as exc:
        lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()]
        why = next((ln for ln in lines if ln and not ln.startswith("Failed in")), type(exc).__name__)
        raise InputError(field_, f"does not compile with numba (nopython): {why}") from None
    names = ladder_names(L)
    is_depth = (np.arange(n_out) < 2 * L)[:, None]
    checks = (
        (np.isnan(out), "NaN", "numbers"),
        (is_depth & (out < 0), "a negative depth", "depths >= 0 (price units from the mid; +inf: level not quoted)"),
        (
            ~is_depth & (~np.isfinite(out) | (out < 0)),
            "a size that is not a finite number >= 0",
            "sizes finite and >= 0 (lots)",
        ),
    )
    for bad, what, allowed in checks:
        if bad.any():
            k, j = (int(x[0]) for x in np.nonzero(bad))
            raise InputError(
                field_,
                f"returned {what}: {names[k]} = {out[k, j]:g} at q={q[j]:g}, t={t[j]:g}, s={s[j]:g}; allowed: {allowed}",
            )
    for side, rows in (("db", out[:L]), ("da", out[L : 2 * L])):
        bad = np.diff(rows, axis=0) < 0
        if bad.any():
            k, j = (int(x[0]) for x in np.nonzero(bad))
            raise InputError(
                field_,
                f"returned {side}_{k + 2} = {rows[k + 1, j]:g} < {side}_{k + 1} = {rows[k, j]:g} at q={q[j]:g}, "
                f"t={t[j]:g}, s={s[j]:g}; allowed: depths non-decreasing outwards (level 1 nearest the mid)",
            )
