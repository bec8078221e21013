"""Quotes for one state or arrays of states, through the engines' own code.

:func:`quote` and :func:`quotes` call :func:`evaluate_quotes`, compiled for the
policy like every engine's kernel (:mod:`flatbook.policies.compile`): the same
formula and controls as the simulator, the backtester and the live engine.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numba as nb
import numpy as np

from ..config import RunConfig
from ..controls.quote_controls import control_quotes, pack_controls
from .base import Policy
from .compile import depths_loop, key_on_model
from .registry import policy_spec


@nb.njit(inline="always", cache=True, error_model="numpy")
def _as_tuple14(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


@nb.njit(cache=True, error_model="numpy")
def evaluate_quotes(loop, pp, tab, cp, i, t, tau, s, q, killed, out):
    """Policy depths (``loop``, :func:`flatbook.policies.compile.depths_loop`) and controlled
    quotes for arrays of states (the engines' code).

    Rows of ``out``: raw δb, raw δa, controlled δb, δa, bid size, ask size, zone, action.
    """
    cp = _as_tuple14(cp)
    one_s = np.empty(1)
    one_q = np.empty(1)
    one_db = np.empty(1)
    one_da = np.empty(1)
    for j in range(s.size):
        one_s[0] = s[j]
        one_q[0] = q[j]
        loop(pp, tab, i[j], t[j], tau[j], one_s, one_q, one_db, one_da)
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


def quote_kernel(policy: Policy):
    """:func:`evaluate_quotes` for ``policy``, its compiled depths loop bound."""
    return functools.partial(evaluate_quotes, depths_loop(policy))


@dataclass(frozen=True)
class Quote:
    """One state's quotes. Prices and depths in price units, sizes in lots.

    ``bid``/``ask`` are None when that side is not quoted (e.g. at the hard
    limit). ``centre`` is the policy's reservation price / quote centre,
    ``half_spread`` its half-spread and ``skew`` = centre − mid (negative when
    the quotes are shaded down, i.e. when long), all before the controls.
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

    def as_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def quotes(cfg: RunConfig, s, q, t, killed=None) -> dict[str, np.ndarray]:
    """Vectorised quotes for arrays (broadcast) of mid s, inventory q (lots) and time t.

    Returns arrays: bid, ask (NaN where not quoted), bid_depth, ask_depth,
    bid_size, ask_size, centre, half_spread, skew, zone.
    """
    kill = np.asarray(False if killed is None else killed, np.bool_)
    s, q, t, kill = np.broadcast_arrays(np.asarray(s, float), np.asarray(q, float), np.asarray(t, float), kill)
    shape = s.shape
    s, q, t, kill = (np.ascontiguousarray(x).ravel() for x in (s, q, t, kill))
    v = cfg.values
    b = policy_spec(cfg.policy).bind(v, cfg.steps)
    cp = pack_controls(v)
    i = np.clip(np.floor(t / v["dt"] + 1e-9), 0, cfg.steps).astype(np.int64)
    tau = v["T"] - t
    out = np.empty((8, s.size))
    quote_kernel(b.policy)(b.pp, b.tab, cp, i, t, tau, s, q, kill, out)
    db0, da0, db, da, bsz, asz, zone, _ = out
    res = {
        "bid": np.where(bsz > 0, s - db, np.nan),
        "ask": np.where(asz > 0, s + da, np.nan),
        "bid_depth": np.where(bsz > 0, db, np.nan),
        "ask_depth": np.where(asz > 0, da, np.nan),
        "bid_size": bsz,
        "ask_size": asz,
        "centre": s + 0.5 * (da0 - db0),
        "half_spread": 0.5 * (da0 + db0),
        "skew": 0.5 * (da0 - db0),
        "zone": zone.astype(np.int64),
    }
    return {k: a.reshape(shape) for k, a in res.items()}


def quote(cfg: RunConfig, q: float, s: float | None = None, t: float = 0.0, killed: bool = False) -> Quote:
    """Quotes for one state: inventory q (lots), mid s (default s0), time t (time units)."""
    s = cfg.values["s0"] if s is None else s
    r = quotes(cfg, [s], [q], [t], [killed])

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
    )


key_on_model(evaluate_quotes)  # edits to inlined model modules recompile
