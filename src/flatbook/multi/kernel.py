"""The multi-instrument Monte Carlo kernel: one maker quoting n correlated instruments.

Built from the single-instrument parts — each instrument's policy formula
(:mod:`flatbook.policies`, inlined by :func:`kernels`), the controls
(:func:`flatbook.controls.quote_controls.control_quotes`), the SplitMix64 streams
and the A–S fills — with one shared cash account and correlated mids:

    ΔS = L·Z·√dt,  L Lᵀ = Σ (covariance per time unit, price units²),  Z ~ N(0, I)

(arithmetic Brownian motion). With ``portfolio skew`` each instrument's policy sees
the risk-equivalent inventory q̃_i = Σ_j Σ_ij q_j / Σ_ii instead of its own q_i, so
that the A–S reservation price becomes r_i = s_i − γτ·Σ_j Σ_ij q_j: the multi-asset
reservation price of Guéant (2017, "Optimal market making", Appl. Math. Finance
24(2), §4, the quadratic approximation) — a long position in one instrument shades
the quotes of every instrument correlated with it. The hard limit still applies to
each instrument's own q.

The kernel takes four records (named tuples, passed to numba as plain tuples):
:class:`Instruments` (per-instrument parameters), :class:`Portfolio` (the covariance's
root, the risk ratios, the skew switch), :class:`Run` (grid and seed) and :class:`Result`
(what it writes).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from ..controls.quote_controls import control_quotes
from ..numerics.fastexp import fast_exp
from ..numerics.rng import box_muller, hi31, mid31, next_u64, stream_start
from ..policies.compile import specialise

#: bound per run by :func:`kernels`: ``slot_depths(slot, pp, tab, i, t, tau, s, q, db, da)``, the
#: depths of the policy in slot ``slot`` for arrays of states (templates are never compiled as they are)
slot_depths = None

BLOCK = 64


@nb.njit(inline="always", cache=True, error_model="numpy")
def _as_tuple14(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


# per-path outputs: rows of out (instrument rows are M_* × n_inst + i)
(M_FINAL_Q, M_MAX_ABS_Q, M_FILLS, M_SPREAD) = range(4)
M_PER_INST = 4


class Instruments(NamedTuple):
    """The n instruments, one row (or entry) each: ``slots`` (int64) the policy slot of
    :func:`kernels`, ``pps`` (n × P) the policy's packed parameters, ``cps`` (n × 14) the packed
    controls (:func:`flatbook.controls.quote_controls.pack_controls`), ``adt`` A·dt (fill probability
    per step at depth 0), ``k`` the intensity's decay (per price unit), ``s0`` the initial mid (price
    units), ``q0`` the initial position (units)."""

    slots: np.ndarray
    pps: np.ndarray
    cps: np.ndarray
    adt: np.ndarray
    k: np.ndarray
    s0: np.ndarray
    q0: np.ndarray


class Portfolio(NamedTuple):
    """How the instruments move and skew together: ``chol`` L with L Lᵀ = Σ (n × n, price units² per
    time unit), ``risk`` R_ij = Σ_ij / Σ_ii (n × n) and ``skew`` whether each policy sees the
    risk-equivalent inventory q̃ = R·q (True) or its own q."""

    chol: np.ndarray
    risk: np.ndarray
    skew: bool


class Run(NamedTuple):
    """The time grid and the seed: dt and T (time units), the number of steps, the SplitMix64 seed."""

    dt: float
    T: float
    nsteps: int
    seed: int


class Result(NamedTuple):
    """What the kernel writes per path p: ``pnl[p]`` (price units, marked at the mids at T) and
    ``out[row, p]``, rows M_* × n + instrument."""

    pnl: np.ndarray
    out: np.ndarray


@nb.njit(cache=True, error_model="numpy")
def _run_block(ins, pf, run, p0, nb_, res):
    """Paths p0 … p0 + nb_ − 1 (one block; p0 a multiple of BLOCK) of the records ``ins``
    (:class:`Instruments`), ``pf`` (:class:`Portfolio`), ``run`` (:class:`Run`) into ``res``
    (:class:`Result`), all plain tuples."""
    slots, pps, cps, Adt, kk, s0, q0 = ins
    chol, R, portfolio = pf
    dt, T, nsteps, seed = run
    pnl, out = res
    n = slots.size
    s = np.empty((n, BLOCK))
    q = np.empty((n, BLOCK))
    qe = np.empty((n, BLOCK))
    db0 = np.empty((n, BLOCK))
    da0 = np.empty((n, BLOCK))
    z = np.empty(n)
    cash = np.zeros(BLOCK)
    st = np.empty(BLOCK, np.uint64)
    mxq = np.zeros((n, BLOCK))
    fills = np.zeros((n, BLOCK))
    spr = np.zeros((n, BLOCK))
    for j in range(BLOCK):
        st[j] = stream_start(seed, p0 + j)
    for k in range(n):
        for j in range(BLOCK):
            s[k, j] = s0[k]
            q[k, j] = q0[k]
            mxq[k, j] = abs(q0[k])
            cash[j] -= q0[k] * s0[k]  # PnL starts at 0: the initial positions are bought at s0
    sq_dt = math.sqrt(dt)
    for i in range(nsteps):
        tau = T - i * dt
        # the inventory each policy sees: its own, or the risk-equivalent q̃ = R·q
        for k in range(n):
            for j in range(BLOCK):
                acc = q[k, j]
                if portfolio:
                    acc = 0.0
                    for m in range(n):
                        acc += R[k, m] * q[m, j]
                qe[k, j] = acc
        for k in range(n):
            slot_depths(slots[k], pps[k], pps[k : k + 1], i, i * dt, tau, s[k], qe[k], db0[k], da0[k])
        # quotes, fills, accounting per instrument
        for k in range(n):
            cp = _as_tuple14(cps[k])
            for j in range(BLOCK):
                sj = s[k, j]
                qj = q[k, j]
                db, da, bs, as_, zone, act = control_quotes(cp, db0[k, j], da0[k, j], sj, qj, False)
                stj, x = next_u64(st[j])
                st[j] = stj
                b = bs if hi31(x) < Adt[k] * fast_exp(-kk[k] * db) else 0.0
                a = as_ if mid31(x) < Adt[k] * fast_exp(-kk[k] * da) else 0.0
                cash[j] += (a * (sj + da) if a > 0.0 else 0.0) - (b * (sj - db) if b > 0.0 else 0.0)
                spr[k, j] += (a * da if a > 0.0 else 0.0) + (b * db if b > 0.0 else 0.0)
                qn = min(max(qj + b - a, -cp[0]), cp[0])
                q[k, j] = qn
                fills[k, j] += (a > 0.0) * 1.0 + (b > 0.0) * 1.0
                mxq[k, j] = max(mxq[k, j], abs(qn))
        # correlated mid moves: ΔS = L·Z·√dt
        for j in range(BLOCK):
            stj = st[j]
            for k in range(0, n, 2):
                stj, xz = next_u64(stj)
                z0, z1 = box_muller(xz)
                z[k] = z0
                if k + 1 < n:
                    z[k + 1] = z1
            st[j] = stj
            for k in range(n):
                d = 0.0
                for m in range(k + 1):
                    d += chol[k, m] * z[m]
                s[k, j] += d * sq_dt
    for j in range(nb_):
        p = p0 + j
        v = cash[j]
        for k in range(n):
            v += q[k, j] * s[k, j]
            out[M_FINAL_Q * n + k, p] = q[k, j]
            out[M_MAX_ABS_Q * n + k, p] = mxq[k, j]
            out[M_FILLS * n + k, p] = fills[k, j]
            out[M_SPREAD * n + k, p] = spr[k, j]
        pnl[p] = v


@nb.njit(cache=True, parallel=True, error_model="numpy")
def simulate_multi(ins, pf, run, p_start, p_end, res):
    """Simulate paths ``p_start`` to ``p_end − 1`` of the instruments ``ins`` (:class:`Instruments`) under
    ``pf`` (:class:`Portfolio`) and ``run`` (:class:`Run`) into ``res`` (:class:`Result`: ``pnl[p]`` and
    ``out[row, p]``, rows M_* × n + instrument); the records are plain tuples (numba types a tuple of
    arrays in its fast C path, a named tuple in a slow Python pass per call). ``p_start`` is a multiple
    of BLOCK; each path's numbers depend only on (seed, p), so running the paths in several calls
    changes nothing."""
    for b in nb.prange(p_start // BLOCK, (p_end + BLOCK - 1) // BLOCK):
        p0 = b * BLOCK
        _run_block(ins, pf, run, p0, min(BLOCK, p_end - p0), res)


_KERNELS: dict[tuple, object] = {}


def kernels(policies):
    """:func:`simulate_multi` compiled for the distinct resolved policies ``policies`` (slot k runs
    ``policies[k]``), cached on disk per policy sources."""
    key = tuple(f"{p.token}:{p.name}" for p in policies)
    k = _KERNELS.get(key)
    if k is None:
        bind = {}
        lines = ["def slot_depths(slot, pp, tab, i, t, tau, s, q, db, da):"]
        for m, pol in enumerate(policies):
            bind[f"_depths{m}"], bind[f"_as_params{m}"] = pol.depths, pol.as_params
            lines += [
                f"    {'if' if m == 0 else 'elif'} slot == {m}:",
                f"        p = _as_params{m}(pp)",
                "        for j in range(s.size):",
                f"            db[j], da[j] = _depths{m}(p, tab, i, t, tau, s[j], q[j], 0.0)",
            ]
        ns = dict(bind)
        exec("\n".join(lines) + "\n", ns)  # noqa: S102 - generated from the slot count only
        fn = nb.njit(error_model="numpy")(ns["slot_depths"])
        k = specialise(globals(), ["_run_block", "simulate_multi"], {"slot_depths": fn}, "|".join(key))
        _KERNELS[key] = k
    return k
