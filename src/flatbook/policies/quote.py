"""Quotes for one state or arrays of states, through the engines' own code.

:func:`quote` and :func:`quotes` call :func:`evaluate_quotes`, compiled for the
policy like every engine's kernel (:mod:`flatbook.policies.compile`): the same
formula and controls as the simulator, the backtester and the live engine.

A built-in formula policy quoted for a few states (at most :data:`PYTHON_MAX`; ``flatbook
quote`` asks for one) runs the same two functions as plain Python instead
(:func:`~flatbook.policies.compile.python_form`: the policy's formula and :func:`~flatbook.controls.quote_controls.control_quotes`,
with every compiled function they call replaced by its Python source). Loading even a cached
numba function sets up numba's compiler (about 0.5 s, most of ``flatbook quote``'s time); the
arithmetic is IEEE float64 either way, and ``tests/test_startup_imports.py`` checks that both
forms give the same bits on a grid of states, controls and policies. Table policies (exact
GLFT) and your own policies always run compiled, as in the engines.

A ladder policy (``levels`` > 1, see :mod:`flatbook.policies.base`) runs its compiled formula
(:func:`~flatbook.policies.base.ladder_loop`) and then :func:`ladder_controls`, compiled too;
``tests/test_ladder.py`` checks that its plain-Python form gives the same bits.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple
from dataclasses import asdict, dataclass, field
from typing import Any

import numba as nb
import numpy as np

from ..config import RunConfig
from ..controls.quote_controls import ACT_FLATTEN, CP_LIMIT, control_quotes, pack_controls
from ..errors import InputError
from .base import Policy, ladder_loop
from .compile import depths_loop, key_on_model, python_form
from .registry import policy_spec


@nb.njit(inline="always", cache=True, error_model="numpy")
def _as_tuple14(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


@nb.njit(cache=True, error_model="numpy")
def evaluate_quotes(loop, pp, tab, cp, i, t, tau, s, q, x, killed, out):
    """Policy depths (``loop``, :func:`flatbook.policies.compile.depths_loop`) and controlled
    quotes for arrays of states (the engines' code); ``x``: the regime (0 calm, 1 volatile).

    Rows of ``out``: raw δb, raw δa, controlled δb, δa, bid size, ask size, zone, action.
    """
    cp = _as_tuple14(cp)
    one_s = np.empty(1)
    one_q = np.empty(1)
    one_x = np.empty(1)
    one_db = np.empty(1)
    one_da = np.empty(1)
    for j in range(s.size):
        one_s[0] = s[j]
        one_q[0] = q[j]
        one_x[0] = x[j]
        loop(pp, tab, i[j], t[j], tau[j], one_s, one_q, one_x, one_db, one_da)
        db0 = one_db[0]
        da0 = one_da[0]
        out[0, j] = db0
        out[1, j] = da0
        db, da, bsz, asz, zone, act = control_quotes(cp, db0, da0, s[j], q[j], killed[j])
        out[2, j] = db
        out[3, j] = da
        out[4, j] = bsz
        out[5, j] = asz
        out[6, j] = zone
        out[7, j] = act


@nb.njit(cache=True, error_model="numpy")
def ladder_controls(cp, levels, raw, s, q, killed, out):
    """The controls applied to a ladder's levels, for arrays of states (columns).

    ``raw``: the policy's outputs, rows db_1..db_L, da_1..da_L, nb_1..nb_L, na_1..na_L (L = ``levels``).
    ``out``: the same rows after the controls, then the zone and the action (4·L + 2 rows).

    Level by level, from level 1 (nearest the mid) outwards:

    - the depths go through :func:`~flatbook.controls.quote_controls.control_quotes` as a one-level
      quote would (zone widen/skew, never-cross, minimum spread, tick), then are kept non-decreasing
      outwards (a level is never nearer the mid than the level inside it);
    - a level's size is the policy's, 0 where its depth is +inf (not quoted; it stays +inf after the controls);
    - the hard limit caps the **sum** of a side's sizes: the bid sizes add up to at most
      max(limit − q, 0) and the ask sizes to at most max(limit + q, 0), filled from level 1 outwards
      (seed 001, "hard limit", level by level), so |q| does not pass the limit even if every level of
      a side filled (up to a rounding ulp, as the one-level rule; the engines clamp it);
    - in a flatten zone or once killed, only the side that reduces |q| is quoted, its sizes adding up
      to at most |q|.

    The ``size`` control does not apply: a ladder's sizes are its own.
    """
    L = levels
    for j in range(s.size):
        qj = q[j]
        room_b = max(cp[CP_LIMIT] - qj, 0.0)
        room_a = max(cp[CP_LIMIT] + qj, 0.0)
        prev_b = -math.inf
        prev_a = -math.inf
        zone = 0.0
        act = 0.0
        for k in range(L):
            db, da, _, _, zone, act = control_quotes(cp, raw[k, j], raw[L + k, j], s[j], qj, killed[j])
            if k == 0 and (killed[j] or act == ACT_FLATTEN):
                room_b = min(room_b, max(-qj, 0.0))
                room_a = min(room_a, max(qj, 0.0))
            # a level the policy does not quote (+inf) stays unquoted (the controls never quote it either; the
            # test also catches a NaN, which no control returns)
            if not (raw[k, j] < math.inf and db < math.inf):
                db = math.inf
            if not (raw[L + k, j] < math.inf and da < math.inf):
                da = math.inf
            db = max(db, prev_b)
            da = max(da, prev_a)
            prev_b = db
            prev_a = da
            nb_ = min(raw[2 * L + k, j], room_b) if db < math.inf else 0.0
            na_ = min(raw[3 * L + k, j], room_a) if da < math.inf else 0.0
            room_b = max(room_b - nb_, 0.0)
            room_a = max(room_a - na_, 0.0)
            out[k, j] = db
            out[L + k, j] = da
            out[2 * L + k, j] = nb_
            out[3 * L + k, j] = na_
        out[4 * L, j] = zone
        out[4 * L + 1, j] = act


def quote_kernel(policy: Policy):
    """:func:`evaluate_quotes` for ``policy``, its compiled depths loop bound."""
    return functools.partial(evaluate_quotes, depths_loop(policy))


#: at most this many states are quoted in plain Python (a built-in formula policy); more run compiled
PYTHON_MAX = 64


def _python_ok(policy: Policy, n: int) -> bool:
    """Quote ``n`` states of ``policy`` in plain Python? A built-in formula (not a table, no closure)."""
    return n <= PYTHON_MAX and policy.builtin and policy.formula is not None and not policy.formula.py_func.__closure__


def _evaluate_python(policy: Policy, pp, cp, t, tau, s, q, killed, out) -> None:
    """:func:`evaluate_quotes` in plain Python (see :func:`~flatbook.policies.compile.python_form`), for a built-in formula."""
    formula = python_form(policy.formula)
    controls = python_form(control_quotes)
    # the formula's named tuple, built at run time from the policy's own fields (mypy cannot type it)
    params = namedtuple("p", policy.fields)  # type: ignore[misc]
    p = params(*(float(x) for x in pp[: len(policy.fields)]))
    cpt = tuple(float(x) for x in cp)
    for j in range(s.size):
        sj, qj = float(s[j]), float(q[j])
        db0, da0 = formula(p, float(t[j]), float(tau[j]), sj, qj)
        out[0, j] = db0
        out[1, j] = da0
        out[2:, j] = controls(cpt, float(db0), float(da0), sj, qj, bool(killed[j]))


@dataclass(frozen=True)
class Quote:
    """One state's quotes. Prices and depths in price units, sizes in lots.

    ``bid``/``ask`` are None when that side is not quoted (e.g. at the hard
    limit). ``centre`` is the policy's reservation price / quote centre,
    ``half_spread`` its half-spread and ``skew`` = centre − mid (negative when
    the quotes are shaded down, i.e. when long), all before the controls.

    A ladder policy (``levels`` > 1): the fields above are level 1's (the best
    bid and ask), and ``levels`` holds every level, nearest the mid first, as
    dicts of level, bid, ask, bid_depth, ask_depth, bid_size, ask_size (see
    :func:`ladder_controls`); empty for a one-level policy.
    """

    mid: float
    q: float
    t: float
    bid: float | None
    ask: float | None
    bid_depth: float | None
    ask_depth: float | None
    bid_size: float
    ask_size: float
    centre: float
    reservation: float
    half_spread: float
    skew: float
    zone: int
    levels: tuple[dict[str, Any], ...] = field(default=())

    def as_dict(self) -> dict:
        """Plain dict (JSON-ready); ``levels`` only for a ladder."""
        d = asdict(self)
        if not self.levels:
            del d["levels"]
        return d


def quotes(cfg: RunConfig, s, q, t, killed=None, regime=None) -> dict[str, np.ndarray]:
    """Vectorised quotes for arrays (broadcast) of mid s, inventory q (lots), time t and volatility
    regime (0 calm, 1 volatile; default 0; read by a (t, q, regime) table policy only).

    Returns arrays: bid, ask (NaN where not quoted), bid_depth, ask_depth,
    bid_size, ask_size, centre, half_spread, skew, zone. A ladder policy: those of
    level 1, and ``bid_k``, ``ask_k``, ``bid_depth_k``, ``ask_depth_k``, ``bid_size_k``,
    ``ask_size_k`` for every level k = 1..levels (:func:`ladder_controls`).
    """
    kill = np.asarray(False if killed is None else killed, np.bool_)
    reg = np.asarray(0.0 if regime is None else regime, float)
    bad = ~np.isin(reg, (0.0, 1.0))
    if bad.any():
        raise InputError("regime", f"got {float(reg[bad].flat[0]):g}; allowed: 0 (calm) or 1 (volatile)")
    s, q, t, kill, reg = np.broadcast_arrays(
        np.asarray(s, float), np.asarray(q, float), np.asarray(t, float), kill, reg
    )
    shape = s.shape
    s, q, t, kill, reg = (np.ascontiguousarray(x).ravel() for x in (s, q, t, kill, reg))
    v = cfg.values
    b = policy_spec(cfg.policy).bind(v, cfg.steps)
    cp = pack_controls(v)
    i = np.clip(np.floor(t / v["dt"] + 1e-9), 0, cfg.steps).astype(np.int64)
    tau = v["T"] - t
    if b.policy.levels > 1:
        return {k: a.reshape(shape) for k, a in _ladder_quotes(b, cp, i, t, tau, s, q, kill).items()}
    out = np.empty((8, s.size))
    if _python_ok(b.policy, s.size):
        _evaluate_python(b.policy, b.pp, cp, t, tau, s, q, kill, out)
    else:
        quote_kernel(b.policy)(b.pp, b.tab, cp, i, t, tau, s, q, reg, kill, out)
    db0, da0, db, da, bsz, asz, zone, _ = out
    res = {
        **_level(s, db, da, bsz, asz),
        "centre": s + 0.5 * (da0 - db0),
        "half_spread": 0.5 * (da0 + db0),
        "skew": 0.5 * (da0 - db0),
        "zone": zone.astype(np.int64),
    }
    return {k: a.reshape(shape) for k, a in res.items()}


def _level(s, db, da, bsz, asz) -> dict[str, np.ndarray]:
    """One level's prices and depths (price units; NaN where that side is not quoted) and sizes (lots)."""
    return {
        "bid": np.where(bsz > 0, s - db, np.nan),
        "ask": np.where(asz > 0, s + da, np.nan),
        "bid_depth": np.where(bsz > 0, db, np.nan),
        "ask_depth": np.where(asz > 0, da, np.nan),
        "bid_size": bsz,
        "ask_size": asz,
    }


#: the per-level arrays of a ladder's quotes, in order
LEVEL_FIELDS = ("bid", "ask", "bid_depth", "ask_depth", "bid_size", "ask_size")


def _ladder_quotes(b, cp, i, t, tau, s, q, kill) -> dict[str, np.ndarray]:
    """:func:`quotes`' arrays for a ladder policy: level 1's under the plain names, every level's with ``_k``."""
    L = b.policy.levels
    raw = np.empty((4 * L, s.size))
    ladder_loop(b.policy)(b.pp, b.tab, i, t, tau, s, q, raw)
    out = np.empty((4 * L + 2, s.size))
    ladder_controls(cp, L, raw, s, q, kill, out)
    res: dict[str, np.ndarray] = {}
    for k in range(L):
        db, da, bsz, asz = out[k], out[L + k], out[2 * L + k], out[3 * L + k]
        lvl = _level(s, db, da, bsz, asz)
        if k == 0:
            res.update(lvl)
            res.update(
                centre=s + 0.5 * (raw[L] - raw[0]),
                half_spread=0.5 * (raw[L] + raw[0]),
                skew=0.5 * (raw[L] - raw[0]),
                zone=out[4 * L].astype(np.int64),
            )
        res.update({f"{name}_{k + 1}": a for name, a in lvl.items()})
    return res


def quote(
    cfg: RunConfig, q: float, s: float | None = None, t: float = 0.0, killed: bool = False, regime: float = 0
) -> Quote:
    """Quotes for one state: inventory q (lots), mid s (default s0), time t (time units), volatility
    regime (0 calm, 1 volatile: a (t, q, regime) table policy's axis)."""
    s = cfg.values["s0"] if s is None else s
    r = quotes(cfg, [s], [q], [t], [killed], [regime])

    def opt(x):
        x = float(x[0])
        return None if np.isnan(x) else x

    return Quote(
        mid=float(s),
        q=float(q),
        t=float(t),
        bid=opt(r["bid"]),
        ask=opt(r["ask"]),
        bid_depth=opt(r["bid_depth"]),
        ask_depth=opt(r["ask_depth"]),
        bid_size=float(r["bid_size"][0]),
        ask_size=float(r["ask_size"][0]),
        centre=float(r["centre"][0]),
        reservation=float(r["centre"][0]),
        half_spread=float(r["half_spread"][0]),
        skew=float(r["skew"][0]),
        zone=int(r["zone"][0]),
        levels=tuple(
            {
                "level": k,
                **{f: opt(r[f"{f}_{k}"]) if "size" not in f else float(r[f"{f}_{k}"][0]) for f in LEVEL_FIELDS},
            }
            for k in range(1, policy_spec(cfg.policy).resolve(cfg.values).levels + 1)
            if f"bid_{k}" in r
        ),
    )


key_on_model(evaluate_quotes, ladder_controls)  # edits to inlined model modules recompile
