"""Run the compiled kernel for a :class:`~flatbook.config.RunConfig`.

Paths run in chunks (each kernel call a fraction of a second) so that a
progress callback can report and Ctrl-C is honoured between chunks; the chunking
does not change any number, because each path's random stream depends only on
(seed, path index).

A run that hedges (``hedge_trigger``, the daily reset or an event flatten) is also
run without its hedge trades, on the same paths: every random draw is the same
(the draws depend on the market model only), so the paired difference, path by
path, is what the hedge did (common random numbers). The summary reports

- ``unhedged_pnl_mean``, ``unhedged_pnl_std``: the same run with no hedge trades
  (quotes, pauses and carry unchanged; price units);
- ``hedge_pnl_mean_change`` ± ``hedge_pnl_mean_change_se``: mean of the paired
  differences, hedged − unhedged: what the hedge costs (< 0) or earns;
- ``hedge_pnl_std_change`` ± ``hedge_pnl_std_change_se``: pnl_std − unhedged_pnl_std,
  what the hedge removes (< 0); SE by the delta method over paired paths, std(ψ_h − ψ_u)/√n
  with ψ = ((x − x̄)² − s²)/(2s), the influence function of the sample std;

and a warning in ``warnings`` when the hedge raises the PnL std.

Statistics (``stats``): ``"full"`` (the default) computes every per-path column; ``"lean"`` only
:data:`LEAN_COLUMNS` (pnl, final_q, max_abs_q, fills, spread_mean: the NumPy reference's five outputs),
in the kernel's lean copy (:data:`flatbook.sim.kernel.LEAN`), each bit for bit the full run's, and a summary
of the statistics those columns give (:func:`flatbook.sim.metrics.summarize_lean`). The model is the same:
only statistics are left out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..config import RunConfig, check_stats
from ..controls.quote_controls import pack_controls
from ..errors import InputError
from ..estimators.ou import pool_moments
from ..hedging.model import HP_EXT, HP_ON, pack_hedge
from ..jsonutil import jsonable
from ..market.layout import MODEL_USER, MP_MODEL, MP_RMULT
from ..market.pack import pack_market
from ..market.stage import BoundStage, Stage
from ..policies.base import Policy
from ..policies.registry import policy_spec
from . import kernel as K
from .metrics import attribution, influence, summarize, summarize_lean

CHUNK_PATH_STEPS = 8_000_000
#: the per-path columns of a lean run (the kernel's ``LEAN_F`` and ``LEAN_I`` rows)
LEAN_COLUMNS = tuple(K.F_NAMES[r] for r in K.LEAN_F) + tuple(K.I_NAMES[r] for r in K.LEAN_I)


@dataclass(frozen=True)
class Packed:
    """A run's arrays as the kernel reads them, and the policy whose formula it inlines."""

    policy: Policy
    pp: np.ndarray
    tab: np.ndarray
    cp: np.ndarray
    mp: np.ndarray
    hp: np.ndarray
    hw: np.ndarray
    hvol: np.ndarray
    hcvol: np.ndarray
    mid: BoundStage | None = None  # a user's mid-price stage (flatbook.market.stage), or the built-in mid
    fill: BoundStage | None = None  # a user's fill stage (flatbook.market.fill_stage), or A·e^(−kδ)·dt
    lean: bool = False  # the kernel's lean-statistics copy (stats="lean")
    cost: BoundStage | None = None  # a user's cost stage (flatbook.market.cost_stage), or fees and financing
    impact: BoundStage | None = None  # a user's impact stage (flatbook.hedging.impact_stage), or the built-in

    @property
    def extended(self) -> bool:
        """Does the run hedge or carry costs beyond the core ones (per-path hedge outputs)?"""
        return bool(self.hp[HP_EXT] > 0.0)

    @property
    def hedges(self) -> bool:
        """Does the run trade hedges (a trigger, the daily reset or an event flatten)?"""
        return bool(self.hp[HP_ON] > 0.0)

    def unhedged(self) -> Packed:
        """The same run without hedge trades (quotes, pauses and carry unchanged)."""
        hp = self.hp.copy()
        hp[HP_ON] = 0.0
        return replace(self, hp=hp)

    @property
    def kernel(self):
        """The kernel's entry point compiled for this run's policy (and user stages)."""
        mid, fill, cost, impact = (
            None if b is None else b.stage for b in (self.mid, self.fill, self.cost, self.impact)
        )
        return K.kernels(self.policy, mid, fill, cost, impact, lean=self.lean).simulate_paths

    def arrays(self) -> tuple:
        """The kernel's parameter record (see :func:`flatbook.sim.kernel.simulate_paths`)."""
        mpu, mpf, mpc, mpi = (_NO_STAGE if b is None else b.pp for b in (self.mid, self.fill, self.cost, self.impact))
        arrays = (self.pp, self.tab, self.cp, self.mp, self.hp, self.hw, self.hvol, self.hcvol, mpu, mpf)
        return arrays if self.cost is None and self.impact is None else (*arrays, mpc, mpi)


_NO_STAGE = np.zeros(1)


def pack(
    cfg: RunConfig,
    mid: BoundStage | None = None,
    fill: BoundStage | None = None,
    cost: BoundStage | None = None,
    impact: BoundStage | None = None,
) -> Packed:
    """Pack a config's policy, controls, market and hedging into kernel arrays; ``mid``: a user's
    mid-price stage with its parameters, in place of ``mid_model``; ``fill``: a user's fill stage, in
    place of the flow's fill probability A·e^(−kδ)·dt; ``cost``: a user's cost stage, in place of the maker
    fee and financing; ``impact``: a user's impact stage, in place of the hedge's execution price and permanent
    impact (each probed on a few steps first)."""
    b = policy_spec(cfg.policy).bind(cfg.values, cfg.steps)
    hp, hw, hvol, hcvol = pack_hedge(cfg.values, cfg.steps)
    mp = pack_market(cfg.values)
    for stage in (mid, fill, cost, impact):  # fill, cost, impact: the kernel's copy (sim.kernel.kernels)
        if stage is not None:
            stage.probe(cfg.values["s0"], cfg.values["dt"], mp[MP_RMULT])
    if mid is not None:
        mp[MP_MODEL] = MODEL_USER
    return Packed(
        b.policy,
        b.pp,
        b.tab,
        pack_controls(cfg.values),
        mp,
        hp,
        hw,
        hvol,
        hcvol,
        mid=mid,
        fill=fill,
        cost=cost,
        impact=impact,
    )


def lean_kernel(cfg: RunConfig):
    """The kernel copy a lean run of ``cfg`` compiles (the policy's own, :func:`flatbook.sim.kernel.lean_copy`;
    without user stages)."""
    return K.lean_copy(("LEAN",), policy_spec(cfg.policy).bind(cfg.values, cfg.steps).policy)


def bound_stage(stage: BoundStage | Stage | None, kind: str) -> BoundStage | None:
    """``stage`` bound (a :class:`~flatbook.market.stage.Stage` runs with its defaults), checked to be a
    ``kind`` stage (``mid``, ``fill``, ``cost``, ``impact``): the argument ``simulate(<kind>=...)`` takes."""
    if stage is None:
        return None
    b = stage.bind() if isinstance(stage, Stage) else stage
    if not isinstance(b, BoundStage) or b.stage.kind.name != kind:
        got = b.stage.label if isinstance(b, BoundStage) else repr(stage)
        art = "an" if kind[0] in "aeiou" else "a"
        raise InputError(kind, f"expected {art} {kind} stage (@{kind}_stage, bound or not); got {got}")
    return b


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
    outs = (out_f, out_i, out_h, np.zeros((1, K.OU_LEN)))
    pk.kernel(pk.arrays(), 0, 0, 1, min(nsteps, 2), outs, (np.zeros(0, np.int64), np.zeros((0, 6, 3))))


def hedge_effect(hedged: np.ndarray, unhedged: np.ndarray) -> dict:
    """What a hedge did to the PnL (price units), paired path by path (see the module docstring).
    SEs are None for a single path."""
    n = hedged.size
    std_h, std_u = (float(x.std(ddof=1)) if n > 1 else 0.0 for x in (hedged, unhedged))
    change = {"mean": float(hedged.mean() - unhedged.mean()), "std": std_h - std_u}
    out: dict[str, float | None] = {"unhedged_pnl_mean": float(unhedged.mean()), "unhedged_pnl_std": std_u}
    for stat in ("mean", "std"):
        psi = influence(hedged, stat) - influence(unhedged, stat)
        out[f"hedge_pnl_{stat}_change"] = change[stat]
        out[f"hedge_pnl_{stat}_change_se"] = float(psi.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    return out


def hedge_warning(summary: dict) -> str | None:
    """The warning for a run whose hedge raised the PnL std, or None."""
    d, se = summary.get("hedge_pnl_std_change"), summary.get("hedge_pnl_std_change_se")
    if d is None or not d > 0.0:
        return None
    clear = se is None or d > 2.0 * se
    return (
        f"hedging raised the PnL std from {summary['unhedged_pnl_std']:.4g} to {summary['pnl_std']:.4g} "
        f"price units (+{d:.3g}" + ("" if se is None else f" ± {se:.2g}") + ", paired against the same paths "
        "without hedge trades)" + (": the hedge adds risk here" if clear else ", within 2 standard errors of no change")
    )


def simulate(
    cfg: RunConfig,
    record_paths: Sequence[int] = (),
    progress: Callable[[int, int], None] | None = None,
    counterfactual: bool = True,
    mid: BoundStage | Stage | None = None,
    fill: BoundStage | Stage | None = None,
    stats: str = "full",
    cost: BoundStage | Stage | None = None,
    impact: BoundStage | Stage | None = None,
) -> SimResult:
    """Simulate ``cfg.paths`` paths; record full series for ``record_paths``.

    ``counterfactual``: for a run that hedges, also run it without hedge trades on the same
    paths and report what the hedge did (see the module docstring). ``mid``: a user's mid-price
    stage bound to its parameters (:meth:`flatbook.market.stage.Stage.bind`), in place of
    ``mid_model`` (an unbound stage runs with its defaults); ``fill``: a user's fill stage
    (:mod:`flatbook.market.fill_stage`), in place of the flow's fill probability A·e^(−kδ)·dt; ``cost``: a
    user's cost stage (:mod:`flatbook.market.cost_stage`), in place of the maker fee and financing; ``impact``:
    a user's impact stage (:mod:`flatbook.hedging.impact_stage`), in place of the hedge's execution price and
    permanent impact. The summary then names them under ``mid_stage``, ``fill_stage``, ``cost_stage`` and
    ``impact_stage``. ``stats``: ``"full"`` or ``"lean"`` (the lean columns and summary only; see the module
    docstring)."""
    lean = check_stats(stats) == "lean"
    mid, fill = bound_stage(mid, "mid"), bound_stage(fill, "fill")
    cost, impact = bound_stage(cost, "cost"), bound_stage(impact, "impact")
    pk = replace(pack(cfg, mid, fill, cost, impact), lean=lean)
    n, nsteps = cfg.paths, cfg.steps
    rec = np.unique(np.asarray(record_paths, dtype=np.int64))
    rec = rec[(rec >= 0) & (rec < n)]
    series = np.full((rec.size, len(K.S_NAMES), nsteps + 1), np.nan)
    out_f = np.empty((len(K.F_NAMES), n))
    out_i = np.empty((len(K.I_NAMES), n), np.int32)
    out_h = np.zeros((len(K.H_NAMES), n if pk.extended and not lean else 1))  # memory only when used
    _warm_up(pk, nsteps)
    chunk = max(K.BLOCK, (CHUNK_PATH_STEPS // max(nsteps, 1)) // K.BLOCK * K.BLOCK)
    ou = np.zeros((chunk // K.BLOCK + 1, K.OU_LEN))
    moments = np.zeros(K.OU_LEN)
    cf = pk.unhedged() if (counterfactual and pk.hedges) else None
    if cf is not None:  # the unhedged run: its own outputs, nothing recorded
        cf_f, cf_i, cf_h = np.empty_like(out_f), np.empty_like(out_i), np.zeros_like(out_h)
        cf_ou, no_rec, no_series = np.zeros_like(ou), np.zeros(0, np.int64), np.zeros((0, len(K.S_NAMES), 1))
    elapsed = 0.0  # the run's own kernel time (the counterfactual's is not counted)
    for p0 in range(0, n, chunk):
        p1 = min(n, p0 + chunk)
        ou[:] = 0.0
        t0 = time.perf_counter()
        pk.kernel(pk.arrays(), cfg.seed, p0, p1, nsteps, (out_f, out_i, out_h, ou), (rec, series))
        elapsed += time.perf_counter() - t0
        if not lean:  # the lean copy writes no OU moments
            moments = pool_moments(np.vstack((moments, ou)))
        if cf is not None:
            cf.kernel(cf.arrays(), cfg.seed, p0, p1, nsteps, (cf_f, cf_i, cf_h, cf_ou), (no_rec, no_series))
        if progress is not None:
            progress(p1, n)
    v = cfg.values
    if lean:
        per_path = {K.F_NAMES[r]: out_f[r] for r in K.LEAN_F}
        per_path.update({K.I_NAMES[r]: out_i[r] for r in K.LEAN_I})
        summary = summarize_lean(per_path, steps=nsteps, elapsed_s=elapsed)
    else:
        per_path = {name: out_f[r] for r, name in enumerate(K.F_NAMES)}
        per_path.update({name: out_i[r] for r, name in enumerate(K.I_NAMES)})
        if pk.extended:
            per_path.update({name: out_h[r] for r, name in enumerate(K.H_NAMES)})
        per_path.update(attribution(per_path))
        summary = summarize(per_path, moments, steps=nsteps, dt=v["dt"], limit=v["limit"], elapsed_s=elapsed)
    if cf is not None:
        summary.update(jsonable(hedge_effect(per_path["pnl"], cf_f[K.F_PNL])))
        warn = hedge_warning(summary)
        if warn is not None:
            summary["warnings"] = [*summary.get("warnings", []), warn]
    for key, b in (("mid_stage", mid), ("fill_stage", fill), ("cost_stage", cost), ("impact_stage", impact)):
        if b is not None:
            summary[key] = b.describe()
    ser = {name: series[:, r, :] for r, name in enumerate(K.S_NAMES)}
    ser["t"] = np.arange(nsteps + 1) * v["dt"]
    return SimResult(cfg, summary, per_path, ser, rec)
