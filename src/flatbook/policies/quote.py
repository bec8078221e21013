"""Quotes for one state or arrays of states, through the simulator's own code.

:func:`quote` and :func:`quotes` call :func:`flatbook.sim.kernel.evaluate_quotes`,
which runs the same compiled policy formula and controls as the simulator, the
backtester and the live engine.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..config import RunConfig
from ..controls.quote_controls import pack_controls
from ..sim import kernel as K
from .registry import policy_spec


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
    pid, pp, tab = policy_spec(cfg.policy).pack(v, cfg.steps)
    cp = pack_controls(v)
    i = np.clip(np.floor(t / v["dt"] + 1e-9), 0, cfg.steps).astype(np.int64)
    tau = v["T"] - t
    out = np.empty((8, s.size))
    K.evaluate_quotes(pid, pp, tab, cp, i, tau, s, q, kill, out)
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

    return Quote(mid=float(s), q=float(q), t=float(t), bid=opt(r["bid"]), ask=opt(r["ask"]),
                 bid_depth=opt(r["bid_depth"]), ask_depth=opt(r["ask_depth"]),
                 bid_size=float(r["bid_size"][0]), ask_size=float(r["ask_size"][0]),
                 centre=float(r["centre"][0]), reservation=float(r["centre"][0]),
                 half_spread=float(r["half_spread"][0]), skew=float(r["skew"][0]), zone=int(r["zone"][0]))
