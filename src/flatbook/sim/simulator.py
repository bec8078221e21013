"""Run the compiled kernel for a :class:`~flatbook.config.RunConfig`.

Paths run in chunks (each kernel call a fraction of a second) so that a
progress callback can report and Ctrl-C is honoured between chunks; the chunking
does not change any number, because each path's random stream depends only on
(seed, path index).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import RunConfig
from ..controls.quote_controls import pack_controls
from ..hedging.model import HP_EXT, pack_hedge
from ..market.model import pack_market
from ..policies.registry import policy_spec
from . import kernel as K
from .metrics import attribution, pool_moments, summarize

CHUNK_PATH_STEPS = 8_000_000


@dataclass(frozen=True)
class Packed:
    """A run's arrays as the kernel reads them."""

    pid: int
    pp: np.ndarray
    tab: np.ndarray
    cp: np.ndarray
    mp: np.ndarray
    hp: np.ndarray
    hw: np.ndarray
    hvol: np.ndarray
    hcvol: np.ndarray

    @property
    def extended(self) -> bool:
        """Does the run hedge or carry costs beyond the core ones (per-path hedge outputs)?"""
        return bool(self.hp[HP_EXT] > 0.0)

    def market(self) -> tuple:
        return (self.pid, self.pp, self.tab, self.cp, self.mp, self.hp, self.hw, self.hvol, self.hcvol)


def pack(cfg: RunConfig) -> Packed:
    """Pack a config's policy, controls, market and hedging into kernel arrays."""
    pid, pp, tab = policy_spec(cfg.policy).pack(cfg.values, cfg.steps)
    hp, hw, hvol, hcvol = pack_hedge(cfg.values, cfg.steps)
    return Packed(pid, pp, tab, pack_controls(cfg.values), pack_market(cfg.values), hp, hw, hvol, hcvol)


@dataclass(frozen=True)
class SimResult:
    """Summary, per-path summaries and (optionally) the recorded paths' series."""

    config: RunConfig
    summary: dict
    per_path: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    record_paths: np.ndarray

    def path_series(self, r: int = 0) -> dict[str, np.ndarray]:
        """The time series of the r-th recorded path (keys t, mid, bid, ask, q, pnl, zone)."""
        return {k: v[r] if v.ndim == 2 else v for k, v in self.series.items()}


def _warm_up(pk: Packed, nsteps: int) -> None:
    """Compile (or load from cache) the kernel outside the timed region."""
    out_f = np.empty((len(K.F_NAMES), 1))
    out_i = np.empty((len(K.I_NAMES), 1), np.int32)
    out_h = np.zeros((len(K.H_NAMES), 1))
    K.simulate_paths(*pk.market(), 0, 0, 1, min(nsteps, 2), out_f, out_i, out_h,
                     np.zeros((1, K.OU_LEN)), np.zeros(0, np.int64), np.zeros((0, 6, 3)))


def simulate(cfg: RunConfig, record_paths: Sequence[int] = (),
             progress: Callable[[int, int], None] | None = None) -> SimResult:
    """Simulate ``cfg.paths`` paths; record full series for ``record_paths``."""
    pk = pack(cfg)
    n, nsteps = cfg.paths, cfg.steps
    rec = np.unique(np.asarray(record_paths, dtype=np.int64))
    rec = rec[(rec >= 0) & (rec < n)]
    series = np.full((rec.size, len(K.S_NAMES), nsteps + 1), np.nan)
    out_f = np.empty((len(K.F_NAMES), n))
    out_i = np.empty((len(K.I_NAMES), n), np.int32)
    out_h = np.zeros((len(K.H_NAMES), n if pk.extended else 1))    # memory only when used
    _warm_up(pk, nsteps)
    chunk = max(K.BLOCK, (CHUNK_PATH_STEPS // max(nsteps, 1)) // K.BLOCK * K.BLOCK)
    ou = np.zeros((chunk // K.BLOCK + 1, K.OU_LEN))
    moments = np.zeros(K.OU_LEN)
    t0 = time.perf_counter()
    for p0 in range(0, n, chunk):
        p1 = min(n, p0 + chunk)
        ou[:] = 0.0
        K.simulate_paths(*pk.market(), cfg.seed, p0, p1, nsteps, out_f, out_i, out_h, ou, rec, series)
        moments = pool_moments(np.vstack((moments, ou)))
        if progress is not None:
            progress(p1, n)
    elapsed = time.perf_counter() - t0
    per_path = {name: out_f[r] for r, name in enumerate(K.F_NAMES)}
    per_path.update({name: out_i[r] for r, name in enumerate(K.I_NAMES)})
    if pk.extended:
        per_path.update({name: out_h[r] for r, name in enumerate(K.H_NAMES)})
    per_path.update(attribution(per_path))
    v = cfg.values
    summary = summarize(per_path, moments, steps=nsteps, dt=v["dt"], limit=v["limit"], elapsed_s=elapsed)
    ser = {name: series[:, r, :] for r, name in enumerate(K.S_NAMES)}
    ser["t"] = np.arange(nsteps + 1) * v["dt"]
    return SimResult(cfg, summary, per_path, ser, rec)
