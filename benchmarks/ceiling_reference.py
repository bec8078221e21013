"""The bare as2008 / avellaneda-stoikov model, compiled: the ceiling of any kernel that runs it.

The same model as ``benchmarks/numpy_reference.py`` (Avellaneda & Stoikov 2008, §3, eqs. 29–30: per
step the A–S depths from q and τ, each side filled with probability A·e^(−kδ)·dt, cash and inventory
updated, the binomial mid moved), written as the tightest numba loop: flatbook's own random numbers
(one SplitMix64 word per path-step: two 31-bit uniforms for the fills, one bit for the mid) and its
own ``fast_exp``, paths in blocks of 64 vectorised by LLVM, and nothing else: no controls (hard limit,
zones, kill switch, tick, never-cross), no per-step statistics (spread, time in zones, q moments,
fees, financing), no recording. Per path it returns what the NumPy reference returns: PnL, final q,
max |q| and the fill count.

It answers one question with a measurement: how fast can this model's arithmetic go on this machine?
flatbook's kernel does all that this loop does and the controls and statistics besides, so its
path-steps per second cannot exceed this loop's; ``bench_simulator.py --ratio-only`` runs the three
(flatbook, this ceiling, NumPy) alternately and prints ceiling ÷ NumPy beside flatbook ÷ NumPy. Where
the ceiling itself is below 3× NumPy, the 3× target cannot be met by any kernel with these random
numbers and this exp (bit-identical numbers forbid changing them).

Run: python benchmarks/ceiling_reference.py
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from flatbook.numerics.fastexp import fast_exp  # noqa: E402
from flatbook.numerics.rng import hi31, low_bit, mid31, next_u64, stream_start  # noqa: E402
from flatbook.policies.compile import key_on_model  # noqa: E402

#: The as2008 preset's parameters (flatbook.presets), as in numpy_reference.AS2008.
AS2008 = dict(s0=100.0, T=1.0, sigma=2.0, dt=0.005, k=1.5, A=140.0, gamma=0.1)
BLOCK = 64


@nb.njit(cache=True, error_model="numpy")
def _bare(paths, nsteps, seed, s0, T, sigma, dt, k, A, gamma, out):
    """``out`` rows: PnL, final q, max |q|, fills (per path)."""
    g2 = gamma * sigma * sigma
    c0 = math.log1p(gamma / k) / gamma
    Adt = A * dt
    dz = sigma * math.sqrt(dt)
    st = np.empty(BLOCK, np.uint64)
    s = np.empty(BLOCK)
    q = np.empty(BLOCK)
    cash = np.empty(BLOCK)
    mxq = np.empty(BLOCK)
    nf = np.empty(BLOCK)
    for b in range((paths + BLOCK - 1) // BLOCK):
        p0 = b * BLOCK
        for j in range(BLOCK):
            st[j] = stream_start(seed, p0 + j)
            s[j] = s0
            q[j] = 0.0
            cash[j] = 0.0
            mxq[j] = 0.0
            nf[j] = 0.0
        for i in range(nsteps):
            slope = g2 * (T - i * dt)
            h = 0.5 * slope + c0
            for j in range(BLOCK):
                stj, x = next_u64(st[j])
                st[j] = stj
                db = h + q[j] * slope
                da = h - q[j] * slope
                fb = 1.0 if hi31(x) < Adt * fast_exp(-k * db) else 0.0
                fa = 1.0 if mid31(x) < Adt * fast_exp(-k * da) else 0.0
                cash[j] += fa * (s[j] + da) - fb * (s[j] - db)
                q[j] += fb - fa
                mxq[j] = max(mxq[j], abs(q[j]))
                nf[j] += fb + fa
                s[j] += dz if low_bit(x) > 0 else -dz
        for j in range(min(BLOCK, paths - p0)):
            out[0, p0 + j] = cash[j] + q[j] * s[j]
            out[1, p0 + j] = q[j]
            out[2, p0 + j] = mxq[j]
            out[3, p0 + j] = nf[j]


# numba keys this loop's cache on this file only: key it on flatbook's model sources too, so that an edit to
# fast_exp, the random numbers or fastexp's LLVM settings recompiles it (as the kernel, flatbook.sim.kernel)
key_on_model(_bare)


def run(paths: int, seed: int = 0) -> dict:
    """Time one run of ``paths`` paths (one thread): path-steps per second and the per-path arrays."""
    p = AS2008
    nsteps = int(round(p["T"] / p["dt"]))
    out = np.empty((4, paths))
    t0 = time.perf_counter()
    _bare(paths, nsteps, np.uint64(seed), p["s0"], p["T"], p["sigma"], p["dt"], p["k"], p["A"], p["gamma"], out)
    elapsed = time.perf_counter() - t0
    return {"path_steps_per_s": paths * nsteps / elapsed, "elapsed_s": elapsed, "pnl": out[0], "fills": out[3]}


if __name__ == "__main__":
    run(1024)  # compile (or load numba's cache)
    r = run(1_000_000)
    print(f"bare as2008 / A–S model, compiled: {r['path_steps_per_s'] / 1e6:.1f} M path-steps/s (one thread)")
    print(f"mean PnL {r['pnl'].mean():.3f}, mean fills {r['fills'].mean():.2f} per path")
