"""Compile a policy for the engines, with a numba cache keyed on its source.

Two mechanisms, both measured:

- :func:`depths_loop` (the simulator, the backtester, the live engine, ``quote``, the
  probe): the policy's formula is inlined into a small loop ``loop(pp, tab, i, t, tau,
  s, q, x, db, da)`` compiled as a C callback (:data:`LOOP_SIG`). The engines' kernels take
  it as a first-class function argument, which numba types by its signature alone, so
  each kernel is compiled once and cached on disk for every policy; a new policy compiles
  only its loop (about 0.5 s). The call is indirect, once per block of 64 paths and step,
  as the non-inlined integer switch it replaces was; inside the loop the formula is
  inlined and vectorises. Measured (as2008, 100k × 200, one thread, alternating runs of
  the old and new code): the same path-steps/s within noise.
- :func:`specialise` (the multi-instrument kernel, one slot per distinct policy):
  copies of an engine's numba *templates* whose globals (``slot_depths``) are bound to
  the policies, compiled as a whole; each new combination of policies compiles the
  kernel again (then it is cached).

Why not pass the policy's numba dispatcher as an argument: numba specialises on it, but
its type pickles with a per-process id, so the on-disk cache never hits (measured: a
recompile on every run). Here signatures hold arrays, numbers and function types only,
and the cache index key adds a *token*: the SHA-256 of the policy's source file and of
every flatbook model-layer module a kernel may inline (``INLINED_DIRS``). Editing a
policy file, or any of those modules, changes the token, so a stale formula never runs.
The engines' own kernels, compiled once for every policy, are keyed on the same model
digest (:func:`key_on_model`), so an edit to a module they inline recompiles them too.
Every compiled copy is named ``<name>__<key>``, so it has its own index file and symbol
names: two copies loaded from the cache into one process must not share a symbol
(measured: the first one loaded then ran for both).
"""

from __future__ import annotations

import functools
import hashlib
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numba as nb
from numba import types as nt
from numba.core.caching import FunctionCache, NullCache
from numba.core.ccallback import CFunc

from ..errors import InputError

_PKG = Path(__file__).resolve().parent.parent  # src/flatbook
#: flatbook's model- and strategy-layer packages a kernel may inline, sub-packages included (their sources
#: key every specialisation; reading a file's bytes is not an import, so the layer rule is untouched)
INLINED_DIRS = ("policies", "controls", "hedging", "numerics", "market", "strategy", "estimators")


class _KeyedCache(FunctionCache):
    """numba's on-disk function cache, with ``token`` added to the index key."""

    def __init__(self, py_func, token: str):
        super().__init__(py_func)
        self._token = token

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), self._token)


#: numba's on-disk function cache with a token in its index key (for the model layer's other compilers)
KeyedCache = _KeyedCache


def files_digest(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the contents (and names) of ``paths``, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(str(p.name).encode())
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


_MODEL_DIGEST: str | None = None


def model_digest() -> str:
    """SHA-256 of every flatbook model-layer source a kernel may inline (``INLINED_DIRS``)."""
    global _MODEL_DIGEST
    if _MODEL_DIGEST is None:
        files = sorted(f for d in INLINED_DIRS for f in (_PKG / d).rglob("*.py"))
        _MODEL_DIGEST = files_digest(files)
    return _MODEL_DIGEST


def key_on_model(*dispatchers, also: Iterable[str | Path] = ()) -> None:
    """Key the on-disk cache of these numba dispatchers on :func:`model_digest` too (numba's own
    key follows only their own file): an edit to a module they inline (controls, hedging, market,
    numerics, policies, strategy) then recompiles them instead of loading stale code. ``also``: more
    source files they inline (e.g. an engine's matching functions), added to the key."""
    digest = model_digest()
    extra = list(also)
    if extra:
        digest = _combine(digest, extra)
    for d in dispatchers:
        if not isinstance(d._cache, NullCache):
            d._cache = _KeyedCache(d.py_func, digest)


def _combine(digest: str, files: Sequence[str | Path]) -> str:
    """:func:`model_digest` extended by ``files``' contents."""
    return hashlib.sha256((digest + files_digest(files)).encode()).hexdigest()


@functools.cache
def python_form(fn: Any) -> Callable[..., Any]:
    """The plain-Python form of a numba function ``fn`` (its ``py_func``), in which every global name bound
    to a numba function is bound to that function's Python form too.

    A caller in Python (the live engine's rules, ``flatbook quote``) then runs the compiled function's own
    code objects without a dispatcher: no compile, no cache load (setting numba's compiler up costs about
    0.5 s) and no call overhead (about 1.5 µs a call). The arithmetic is the same IEEE float64 (no kernel
    uses fastmath); ``tests/test_startup_imports.py`` and ``tests/test_strategy_parity.py`` check the bits.
    """
    py = getattr(fn, "py_func", fn)
    g = dict(py.__globals__)
    out = types.FunctionType(py.__code__, g, py.__name__, py.__defaults__, py.__closure__)
    out.__qualname__, out.__doc__, out.__module__ = py.__qualname__, py.__doc__, py.__module__
    for name in py.__code__.co_names:  # the globals the body reads
        if hasattr(g.get(name), "py_func"):
            g[name] = python_form(g[name])
    return out


def specialise(
    namespace: Mapping[str, object], names: Sequence[str], bind: Mapping[str, object], token: str
) -> types.SimpleNamespace:
    """Copies of the numba templates ``names`` of ``namespace`` (a module's globals) with the
    global names in ``bind`` rebound, compiled lazily and cached on disk under ``token``.

    The copies share one globals dict, so a template that calls another template in ``names``
    calls its copy. Options (inline, parallel, error_model, nogil) are the template's; a
    template compiled with ``cache=True`` gets the keyed cache.
    """
    g = dict(namespace)
    g.update(bind)
    out = {}
    key = hashlib.sha256((token + model_digest()).encode()).hexdigest()
    for name in names:
        tmpl = namespace[name]
        py = tmpl.py_func
        fn = types.FunctionType(py.__code__, g, py.__name__, py.__defaults__, py.__closure__)
        # a name of its own: numba's symbol names (and its cache index file) derive from the
        # qualified name, and two specialisations loaded from the cache into one process must not
        # share a symbol (the first one loaded would run for both)
        fn.__qualname__ = f"{py.__qualname__}__{key[:16]}"
        fn.__module__ = py.__module__
        fn.__doc__ = py.__doc__
        disp = nb.njit(**{k: v for k, v in tmpl.targetoptions.items() if k != "nopython"})(fn)
        if not isinstance(tmpl._cache, NullCache):
            disp._cache = _KeyedCache(fn, key)
        g[name] = disp
        out[name] = disp
    return types.SimpleNamespace(**out)


# ------------------------------------------------------------------ the policy as a function pointer
#: The compiled calling form every engine uses: ``loop(pp, tab, i, t, tau, s, q, x, db, da)`` writes the
#: policy's depths for arrays of mids ``s``, inventories ``q`` and features ``x`` (the volatility regime,
#: 0 calm / 1 volatile: :mod:`flatbook.policies.table`; a formula policy ignores it) at step i, time t,
#: time to go tau.
LOOP_SIG = nt.void(
    nt.float64[::1],
    nt.float64[:, ::1],
    nt.int64,
    nt.float64,
    nt.float64,
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[::1],
    nt.float64[::1],
)
#: bound per policy by :func:`depths_loop` (the template below is never compiled as it is)
depths = None
as_params = None


def _loop(pp, tab, i, t, tau, s, q, x, db, da):
    """The policy's depths over arrays of states; the parameters become values (registers)
    once, before the loop, so LLVM sees no array that could alias the outputs and vectorises."""
    p = as_params(pp)
    for j in range(s.size):
        db[j], da[j] = depths(p, tab, i, t, tau, s[j], q[j], x[j])


_LOOPS: dict[str, CFunc] = {}


def refuse_ladder(policy, field: str | None = None) -> None:
    """Raise :class:`~flatbook.errors.InputError` (one line) if ``policy`` quotes a ladder (``levels > 1``):
    these engines match one level per side today (ladder matching: issue 15); ``quote`` shows a ladder and the
    backtester replays it (:mod:`flatbook.backtest.ladder`, which never calls :func:`depths_loop`)."""
    levels = getattr(policy, "levels", 1)
    if levels > 1:
        raise InputError(
            field or f"policy {policy.name}",
            f"quotes {levels} levels per side; the simulator, the live engine, sweeps and the multi-instrument "
            "simulator match one level per side today (issue 15): use flatbook.quote() or `flatbook quote` to "
            "inspect it, or `flatbook backtest` to replay it",
        )


def depths_loop(policy) -> CFunc:
    """The policy's formula compiled as a C callback of signature :data:`LOOP_SIG`.

    The engines' kernels take it as a first-class function argument: numba types it by its
    signature only, so one compiled (and disk-cached) kernel serves every policy, and a new
    policy compiles only this small loop, cached under its source token. The call is indirect,
    once per block of 64 paths and step (as the non-inlined switch it replaces); the formula is
    inlined inside the loop, which vectorises.

    Every engine (the simulator, the backtester, the live engine, sweeps) compiles its policy here, so a
    ladder policy (``levels > 1``) is refused here, up front, in one line (:func:`refuse_ladder`); the
    backtester runs a ladder through :mod:`flatbook.backtest.ladder` instead, which does not come here.
    """
    refuse_ladder(policy)
    key = hashlib.sha256(f"{policy.token}:{policy.name}:{model_digest()}".encode()).hexdigest()
    cf = _LOOPS.get(key)
    if cf is None:
        g = dict(globals())
        g.update(depths=policy.depths, as_params=policy.as_params)
        fn = types.FunctionType(_loop.__code__, g, _loop.__name__)
        fn.__qualname__ = f"_loop__{key[:16]}"
        fn.__module__ = __name__
        cf = CFunc(fn, (LOOP_SIG.args, LOOP_SIG.return_type), {}, {"error_model": "numpy", "nopython": True})
        cf._cache = _KeyedCache(fn, key)
        cf.compile()
        _LOOPS[key] = cf
    return cf
