"""Plain-NumPy reference for the as2008 / avellaneda-stoikov workload.

The same model as flatbook's simulator on the ``as2008`` preset with the
``avellaneda-stoikov`` policy (Avellaneda & Stoikov 2008, §3), written the way
one would write it in NumPy: vectorised over paths, the step loop in Python.

Model, per step i (t = i·dt, τ = T − t):

    slope  = γσ²τ,   h = slope/2 + ln(1 + γ/k)/γ
    δb = h + q·slope,  δa = h − q·slope                     (A–S eqs. 29–30)
    bid hit  w.p. min(1, A·e^(−kδb)·dt),  ask lifted w.p. min(1, A·e^(−kδa)·dt)
    cash += fa·(s + δa) − fb·(s − δb);  q += fb − fa        (1 lot per fill)
    s += ±σ√dt with probability ½ each                      (binomial mid)

PnL = cash + q·s_T. Since a uniform u on [0, 1) is always < 1, ``u < p`` is
the same event as ``u < min(1, p)``: the cap needs no operation.

No allocation inside the step loop: every array is preallocated, every
operation writes through ``out=``, and one ``Generator.random(out=...)`` call
fills a (3, block) array of uniforms per step (bid fill, ask fill, mid move).
Paths run in blocks of ``block`` so the working set stays in cache; each block
is an independent batch with its own stream from one ``SeedSequence``.

The random numbers differ from flatbook's (NumPy's PCG64 here, per-path
SplitMix64 there), so results agree only within Monte Carlo error.
"""

from __future__ import annotations

import math
import time

import numpy as np

#: The as2008 preset's parameters (flatbook.presets) for γ = 0.1.
AS2008 = dict(s0=100.0, T=1.0, sigma=2.0, dt=0.005, k=1.5, A=140.0, gamma=0.1)

#: Per-path output names, same meaning as flatbook's per-path summaries.
OUTPUTS = ("pnl", "final_q", "max_abs_q", "fills", "spread_mean")


def simulate_numpy(
    paths: int,
    seed: int = 0,
    *,
    block: int = 1 << 16,
    s0: float = 100.0,
    T: float = 1.0,
    sigma: float = 2.0,
    dt: float = 0.005,
    k: float = 1.5,
    A: float = 140.0,
    gamma: float = 0.1,
) -> dict[str, np.ndarray]:
    """Simulate ``paths`` paths; return per-path arrays named in :data:`OUTPUTS`."""
    nsteps = int(round(T / dt))
    out = {name: np.empty(paths) for name in OUTPUTS}
    block = max(1, min(block, paths))
    rngs = [
        np.random.Generator(np.random.PCG64(ss))
        for ss in np.random.SeedSequence(seed).spawn((paths + block - 1) // block)
    ]

    # preallocated state and scratch, reused by every block
    s = np.empty(block)
    q = np.empty(block)
    cash = np.empty(block)
    mxq = np.empty(block)
    fills = np.empty(block)
    spr = np.empty(block)
    ubuf = np.empty(3 * block)
    u = ubuf.reshape(3, block)
    c = np.empty(block)
    db = np.empty(block)
    da = np.empty(block)
    pb = np.empty(block)
    pa = np.empty(block)
    fb = np.empty(block)
    fa = np.empty(block)
    tmp = np.empty(block)
    hit = np.empty(block, dtype=bool)

    g2 = gamma * sigma * sigma
    c0 = math.log1p(gamma / k) / gamma
    Adt = A * dt
    step = sigma * math.sqrt(dt)

    for b, rng in enumerate(rngs):
        p0 = b * block
        n = min(block, paths - p0)
        if n < block:  # last, shorter block: views of the same buffers
            s, q, cash, mxq, fills, spr = (x[:n] for x in (s, q, cash, mxq, fills, spr))
            u = ubuf[: 3 * n].reshape(3, n)  # contiguous, as Generator.random(out=) needs
            c, db, da, pb, pa, fb, fa, tmp, hit = (x[:n] for x in (c, db, da, pb, pa, fb, fa, tmp, hit))
        s.fill(s0)
        q.fill(0.0)
        cash.fill(0.0)
        mxq.fill(0.0)
        fills.fill(0.0)
        spr.fill(0.0)
        for i in range(nsteps):
            tau = T - i * dt
            slope = g2 * tau
            h = 0.5 * slope + c0
            rng.random(out=u)
            # quotes: δb = h + q·slope, δa = h − q·slope
            np.multiply(q, slope, out=c)
            np.add(c, h, out=db)
            np.subtract(h, c, out=da)
            np.add(db, da, out=tmp)
            np.add(spr, tmp, out=spr)  # both sides always quoted
            # fill probabilities A·e^(−kδ)·dt and fills
            np.multiply(db, -k, out=pb)
            np.exp(pb, out=pb)
            np.multiply(pb, Adt, out=pb)
            np.less(u[0], pb, out=hit)
            np.copyto(fb, hit)
            np.multiply(da, -k, out=pa)
            np.exp(pa, out=pa)
            np.multiply(pa, Adt, out=pa)
            np.less(u[1], pa, out=hit)
            np.copyto(fa, hit)
            # cash += fa·(s + δa) − fb·(s − δb)
            np.add(s, da, out=tmp)
            np.multiply(tmp, fa, out=tmp)
            np.add(cash, tmp, out=cash)
            np.subtract(s, db, out=tmp)
            np.multiply(tmp, fb, out=tmp)
            np.subtract(cash, tmp, out=cash)
            np.add(fills, fb, out=fills)
            np.add(fills, fa, out=fills)
            # q += fb − fa; running max |q|
            np.subtract(fb, fa, out=tmp)
            np.add(q, tmp, out=q)
            np.abs(q, out=tmp)
            np.maximum(mxq, tmp, out=mxq)
            # binomial mid: s += σ√dt·(+1 if u < ½ else −1)
            np.less(u[2], 0.5, out=hit)
            np.copyto(tmp, hit)
            np.multiply(tmp, 2.0 * step, out=tmp)
            np.subtract(tmp, step, out=tmp)
            np.add(s, tmp, out=s)
        sl = slice(p0, p0 + n)
        np.multiply(q, s, out=out["pnl"][sl])
        out["pnl"][sl] += cash
        out["final_q"][sl] = q
        out["max_abs_q"][sl] = mxq
        out["fills"][sl] = fills
        np.divide(spr, nsteps, out=out["spread_mean"][sl])
    return out


def summarize_numpy(per_path: dict[str, np.ndarray], nsteps: int, elapsed_s: float) -> dict:
    """The summaries that flatbook's :func:`flatbook.sim.metrics.summarize` also reports."""
    pnl = per_path["pnl"]
    n = pnl.size
    std = float(pnl.std(ddof=1))
    return {
        "paths": n,
        "steps": nsteps,
        "pnl_mean": float(pnl.mean()),
        "pnl_std": std,
        "pnl_se": std / math.sqrt(n),
        "final_q_mean": float(per_path["final_q"].mean()),
        "final_q_std": float(per_path["final_q"].std(ddof=1)),
        "max_abs_q_mean": float(per_path["max_abs_q"].mean()),
        "fills_mean": float(per_path["fills"].mean()),
        "spread_mean": float(per_path["spread_mean"].mean()),
        "elapsed_s": elapsed_s,
        "path_steps_per_s": n * nsteps / elapsed_s if elapsed_s > 0 else None,
    }


def run(paths: int, seed: int = 0, **params) -> tuple[dict, dict[str, np.ndarray]]:
    """Time one run; returns (summary, per-path arrays)."""
    p = {**AS2008, **params}
    t0 = time.perf_counter()
    per_path = simulate_numpy(paths, seed, **p)
    elapsed = time.perf_counter() - t0
    return summarize_numpy(per_path, int(round(p["T"] / p["dt"])), elapsed), per_path


if __name__ == "__main__":
    summary, _ = run(100_000)
    for key, val in summary.items():
        print(f"{key:>18}: {val}")
