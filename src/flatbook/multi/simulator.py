"""Several correlated instruments quoted by one maker: configuration, run, summary.

Each instrument is an ordinary single-instrument config (a preset, a policy and
``--set`` overrides, validated by :func:`flatbook.config.build_config`); they share
the time grid and one cash account, their mids move together with correlation
matrix ρ, and with ``portfolio_skew`` each policy skews on the portfolio's risk
(see :mod:`flatbook.multi.kernel`). PnL is marked at the mids at T.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import RunConfig, build_config, check_int
from ..controls.quote_controls import pack_controls
from ..errors import InputError
from ..policies.compile import refuse_ladder
from ..policies.registry import POLICIES, policy_spec
from ..sim.metrics import var_es
from ..suggest import unknown
from . import kernel as MK

# the multi-asset preset: two A–S makers on instruments whose mids move with correlation 0.8
# a preset's entries: instruments (name, preset, policy, params), correlation matrix, portfolio_skew
MULTI_ASSET: dict[str, Any] = {
    "instruments": (
        {"name": "A", "preset": "as2008", "policy": "avellaneda-stoikov", "params": {"sigma": 2.0, "s0": 100.0}},
        {"name": "B", "preset": "as2008", "policy": "avellaneda-stoikov", "params": {"sigma": 3.0, "s0": 50.0}},
    ),
    "correlation": ((1.0, 0.8), (0.8, 1.0)),
    "portfolio_skew": True,
}
MULTI_PRESETS: dict[str, dict[str, Any]] = {"multi-asset": MULTI_ASSET}


@dataclass(frozen=True)
class MultiConfig:
    """Validated instruments, their correlation, and the run's size."""

    names: tuple[str, ...]
    configs: tuple[RunConfig, ...]
    correlation: np.ndarray
    portfolio_skew: bool
    paths: int
    seed: int

    @property
    def covariance(self) -> np.ndarray:
        """Σ_ij = ρ_ij σ_i σ_j (price units² per time unit)."""
        sig = np.array([c.values["sigma"] for c in self.configs])
        return self.correlation * np.outer(sig, sig)

    def as_dict(self) -> dict:
        return {
            "instruments": [{"name": n, **c.as_dict()} for n, c in zip(self.names, self.configs)],
            "correlation": self.correlation.tolist(),
            "portfolio_skew": self.portfolio_skew,
            "paths": self.paths,
            "seed": self.seed,
        }


#: what the multi-instrument simulator reads of each instrument besides its policy's parameters
#: (:func:`flatbook.multi.simulator._pack`): the grid, the Gaussian mid, the fill intensity and the quote controls
MULTI_CORE = ("T", "dt", "s0", "q0", "sigma", "flow", "A", "k", "size", "limit")
MULTI_PARAMS = (
    *MULTI_CORE,
    "yellow",
    "red",
    "critical",
    "yellow_action",
    "red_action",
    "critical_action",
    "zone_widen",
    "zone_skew",
    "tick",
    "min_spread",
    "market_spread",
)


def check_read(overrides: dict, mc) -> None:
    """Refuse a ``--set``/``[params]`` key the multi-instrument simulator does not read (it would be
    silently ignored): neither in :data:`MULTI_PARAMS` nor a parameter of that instrument's policy."""
    for key in overrides:
        head, dot, rest = str(key).partition(".")
        base = rest if dot else head
        cfgs = [mc.configs[mc.names.index(head)]] if dot else list(mc.configs)
        if base in MULTI_PARAMS or all(base in POLICIES[c.policy].params for c in cfgs):
            continue
        pols = sorted({c.policy for c in cfgs})
        raise InputError(
            str(key),
            f"the multi-instrument simulator does not read {base} (Gaussian mids, intensity "
            f"fills, no hedging, jumps or costs); it reads {', '.join(MULTI_PARAMS)} and the "
            f"parameters of {', '.join(pols)}",
        )


def build_multi(
    instruments: Sequence[Mapping], correlation, portfolio_skew: bool = True, paths: int = 10_000, seed: int = 0
) -> MultiConfig:
    """Validate a multi-instrument run; every problem raises :class:`InputError` naming the field."""
    if not instruments or len(instruments) > 50:
        raise InputError("instruments", "give 1 to 50 instruments")
    paths = check_int("paths", paths, 1, 100_000_000)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    names: list[str] = []
    cfgs: list[RunConfig] = []
    for i, ins in enumerate(instruments):
        name = str(ins.get("name", f"instrument {i}"))
        try:
            cfg = build_config(
                ins.get("preset", "as2008"),
                ins.get("policy", "avellaneda-stoikov"),
                dict(ins.get("params", {})),
                paths=paths,
                seed=seed,
            )
        except InputError as e:
            raise InputError(f"instruments[{i}].{e.field}", str(e).split(": ", 1)[-1]) from None
        v = cfg.values
        if v["flow"] != "intensity":
            raise InputError(f"instruments[{i}].flow", "the multi-instrument simulator takes flow=intensity only")
        refuse_ladder(policy_spec(cfg.policy).resolve(v), f"instruments[{i}].policy")  # one level per side
        if policy_spec(cfg.policy).resolve(v).formula is None:  # a table policy (glft solution=exact)
            field = "solution" if "solution" in policy_spec(cfg.policy).params else "policy"
            raise InputError(
                f"instruments[{i}].{field}",
                "the multi-instrument simulator takes formula policies only, not tables (glft: solution=closed)",
            )
        if cfgs and (v["T"] != cfgs[0].values["T"] or v["dt"] != cfgs[0].values["dt"]):
            raise InputError(f"instruments[{i}].dt", "every instrument must share T and dt with the first")
        names.append(name)
        cfgs.append(cfg)
    rho = np.asarray(correlation, dtype=float)
    n = len(cfgs)
    if (
        rho.shape != (n, n)
        or not np.all(np.isfinite(rho))
        or not np.allclose(rho, rho.T)
        or not np.allclose(np.diag(rho), 1.0)
        or np.any(np.abs(rho) > 1.0)
    ):
        raise InputError("correlation", f"need a symmetric {n}×{n} matrix with unit diagonal and entries in [−1, 1]")
    if np.linalg.eigvalsh(rho).min() < -1e-12:
        raise InputError("correlation", "the matrix is not positive semi-definite")
    return MultiConfig(tuple(names), tuple(cfgs), rho, bool(portfolio_skew), paths, seed)


def multi_preset(
    name: str,
    correlation: float | None = None,
    portfolio_skew: bool | None = None,
    paths: int = 10_000,
    seed: int = 0,
    overrides: Mapping[str, object] | None = None,
) -> MultiConfig:
    """A named multi-instrument set-up (``multi-asset``), optionally with another ρ (two instruments).

    ``overrides`` are ``--set``-style parameters: ``key`` sets every instrument's parameter,
    ``NAME.key`` one instrument's (NAME as in the preset, e.g. ``B.sigma``); the latter wins.
    """
    pre = MULTI_PRESETS.get(name)
    if pre is None:
        raise unknown("--preset", "multi-instrument preset", name, MULTI_PRESETS)
    rho = np.array(pre["correlation"], dtype=float)
    if correlation is not None:
        if rho.shape != (2, 2):
            raise InputError("--correlation", f"a single ρ needs two instruments; {name} has {rho.shape[0]}")
        if not -1.0 <= correlation <= 1.0:
            raise InputError("--correlation", f"got {correlation}; allowed: a number from −1 to 1")
        rho = np.array([[1.0, correlation], [correlation, 1.0]])
    skew = pre["portfolio_skew"] if portfolio_skew is None else portfolio_skew
    names = [str(ins["name"]) for ins in pre["instruments"]]
    common: dict = {}
    own: dict[str, dict] = {nm: {} for nm in names}
    for key, val in (overrides or {}).items():
        head, dot, rest = str(key).partition(".")
        if not dot:
            common[key] = val
        elif head in own and rest:
            own[head][rest] = val
        else:
            raise unknown(key, "instrument", head, names)
    instruments = [
        {**ins, "params": {**ins["params"], **common, **own[nm]}} for nm, ins in zip(names, pre["instruments"])
    ]
    return build_multi(instruments, rho, skew, paths, seed)


@dataclass(frozen=True)
class MultiResult:
    config: MultiConfig
    summary: dict
    pnl: np.ndarray
    per_instrument: dict[str, dict[str, np.ndarray]]


def _pack(mc: MultiConfig) -> tuple[list, MK.Instruments, MK.Portfolio, MK.Run]:
    """The distinct policies (in slot order) and the kernel's records for ``mc``."""
    n = len(mc.configs)
    bounds = [policy_spec(cfg.policy).bind(cfg.values, cfg.steps) for cfg in mc.configs]
    policies = list(dict.fromkeys(b.policy for b in bounds))  # distinct, in order of first use
    slots = np.array([policies.index(b.policy) for b in bounds], np.int64)
    pps = np.zeros((n, max(b.pp.size for b in bounds)))
    cps = np.zeros((n, 14))
    for k, (cfg, b) in enumerate(zip(mc.configs, bounds, strict=True)):
        pps[k, : b.pp.size] = b.pp
        cps[k] = pack_controls(cfg.values)
    cov = mc.covariance
    chol = np.linalg.cholesky(cov + 1e-300 * np.eye(n)) if np.all(np.diag(cov) > 0) else _psd_root(cov)
    d = np.diag(cov)
    R = np.where(d[:, None] > 0, cov / np.where(d > 0, d, 1.0)[:, None], np.eye(n))
    v0 = mc.configs[0].values
    vals = [c.values for c in mc.configs]
    ins = MK.Instruments(
        slots,
        pps,
        cps,
        np.array([v["A"] * v["dt"] for v in vals]),
        np.array([v["k"] for v in vals]),
        np.array([v["s0"] for v in vals]),
        np.array([v["q0"] for v in vals]),
    )
    run = MK.Run(float(v0["dt"]), float(v0["T"]), mc.configs[0].steps, mc.seed)
    return policies, ins, MK.Portfolio(chol, R, mc.portfolio_skew), run


def _psd_root(cov: np.ndarray) -> np.ndarray:
    """A lower-triangular L with L Lᵀ = Σ for a semi-definite Σ (Cholesky of Σ + tiny ridge)."""
    return np.linalg.cholesky(cov + 1e-12 * max(1.0, float(np.abs(cov).max())) * np.eye(cov.shape[0]))


CHUNK_PATH_STEPS = 4_000_000  # path-steps per kernel call: progress is reported and Ctrl-C honoured between calls


def simulate_multi(mc: MultiConfig, progress: Callable[[int, int], None] | None = None) -> MultiResult:
    """Run the paths; summaries for the portfolio and per instrument.

    Paths run in chunks of whole blocks; ``progress(done, total)`` is called after each.
    Chunking changes no number (each path's random stream depends only on (seed, path)).
    """
    policies, ins, pf, run = _pack(mc)
    kernel = MK.kernels(policies).simulate_multi
    n = len(mc.configs)
    nsteps = mc.configs[0].steps
    pnl = np.empty(mc.paths)
    out = np.empty((MK.M_PER_INST * n, mc.paths))
    # the records go to numba as plain tuples (see simulate_multi)
    args = (tuple(ins), tuple(pf), tuple(run))
    warm = min(mc.paths, MK.BLOCK)  # compile or load the kernel outside the timing
    kernel(*args, 0, warm, tuple(MK.Result(np.empty(warm), np.empty((MK.M_PER_INST * n, warm)))))
    chunk = max(MK.BLOCK, (CHUNK_PATH_STEPS // max(nsteps * n, 1)) // MK.BLOCK * MK.BLOCK)
    t0 = time.perf_counter()
    for p0 in range(0, mc.paths, chunk):
        p1 = min(mc.paths, p0 + chunk)
        kernel(*args, p0, p1, tuple(MK.Result(pnl, out)))
        if progress is not None:
            progress(p1, mc.paths)
    elapsed = time.perf_counter() - t0
    per = {}
    for k, name in enumerate(mc.names):
        per[name] = {
            "final_q": out[MK.M_FINAL_Q * n + k],
            "max_abs_q": out[MK.M_MAX_ABS_Q * n + k],
            "fills": out[MK.M_FILLS * n + k],
            "spread_capture": out[MK.M_SPREAD * n + k],
        }
    var, es = var_es(pnl)
    fq = np.stack([per[nm]["final_q"] for nm in mc.names])
    cov = mc.covariance
    risk = np.einsum("ip,ij,jp->p", fq, cov, fq)  # q̃ᵀΣq̃ per path: terminal portfolio variance rate
    sd = float(pnl.std(ddof=1)) if pnl.size > 1 else 0.0
    summary = {
        "paths": mc.paths,
        "steps": mc.configs[0].steps,
        "instruments": list(mc.names),
        "portfolio_skew": mc.portfolio_skew,
        "pnl_mean": float(pnl.mean()),
        "pnl_std": sd,
        "pnl_se": sd / math.sqrt(pnl.size),
        "var_95": var,
        "es_95": es,
        "final_risk_mean": float(risk.mean()),
        "final_q_corr": (float(np.corrcoef(fq)[0, 1]) if n == 2 and np.all(fq.std(axis=1) > 0) else None),
        "per_instrument": {
            nm: {
                "final_q_mean": float(d["final_q"].mean()),
                "final_q_std": float(d["final_q"].std(ddof=1)) if mc.paths > 1 else 0.0,
                "max_abs_q_mean": float(d["max_abs_q"].mean()),
                "fills_mean": float(d["fills"].mean()),
                "spread_capture_mean": float(d["spread_capture"].mean()),
            }
            for nm, d in per.items()
        },
        "elapsed_s": elapsed,
        "path_steps_per_s": mc.paths * nsteps * n / elapsed if elapsed > 0 else None,
    }
    return MultiResult(mc, summary, pnl, per)
