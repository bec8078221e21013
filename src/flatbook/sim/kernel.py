"""The compiled Monte Carlo kernel: N paths × n steps, summaries only.

Layout: paths are processed in blocks of ``BLOCK`` (in parallel across cores
with ``prange``); inside a block the step loop is outer and the path loop inner,
so LLVM vectorises the per-step work across paths. No allocation happens per
step: a block's state lives in a few arrays of length ``BLOCK``. Per-path
summaries are written once, at the end of each path, so memory grows with the
number of paths only; time series are written for the requested paths only.

Each path draws from its own SplitMix64 stream (:mod:`flatbook.kernels.rng`),
a fixed number of draws per step that depends on the market model only, so
every policy sees the same flow (common random numbers) and a path's numbers do
not depend on how many paths run, on the blocks, or on the threads.

Per step, for every path: the policy's depths (its formula, passed in as a
compiled function), the controls (:mod:`flatbook.controls.quote_controls`),
the fills, the fees and financing, the mid move, the kill switch, then the
summary accumulators. The market models are documented in
:mod:`flatbook.market.model`.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..controls.quote_controls import ACT_HEDGE, CP_LIMIT, control_quotes
from ..kernels.fastexp import fast_exp
from ..kernels.rng import box_muller, hi31, low_bit, mid31, next_u64, stream_start, unit53
from ..policies import avellaneda_stoikov, glft, linear_skew, stoll, symmetric

BLOCK = 512

# market parameter layout (see flatbook.market.model.pack_market)
(MP_DT, MP_T, MP_S0, MP_Q0, MP_SIGMA, MP_MODEL, MP_JRATE, MP_JMEAN, MP_JSTD,
 MP_RMULT, MP_RUP, MP_RDOWN, MP_FLOW, MP_A, MP_K, MP_BIAS, MP_BIAS_STD,
 MP_BIAS_STEPS, MP_OSIZE, MP_ODIST, MP_INF_FRAC, MP_INF_MOVE, MP_FIN_L,
 MP_FIN_S, MP_FEE, MP_MAX_LOSS, MP_MAX_DD) = range(27)
MP_LEN = 27
MODEL_BINOMIAL, MODEL_ABM, MODEL_GBM = 0, 1, 2
FLOW_INTENSITY, FLOW_ORDERS = 0, 1

# per-path float64 outputs (rows of ``out_f``)
(F_PNL, F_FINAL_Q, F_MAX_ABS_Q, F_VOLUME, F_SPREAD_MEAN, F_GIVEN_UP, F_FINANCING,
 F_FEES, F_Q_MEAN, F_Q_STD, F_MAX_DD) = range(11)
F_NAMES = ("pnl", "final_q", "max_abs_q", "volume", "spread_mean", "spread_given_up",
           "financing", "fees", "q_mean", "q_std", "max_drawdown")
# per-path int32 outputs (rows of ``out_i``)
(I_FILLS, I_AT_LIMIT, I_ZONE1, I_ZONE2, I_ZONE3, I_HEDGE_REQ, I_KILL_STEP,
 I_KILL_REASON) = range(8)
I_NAMES = ("fills", "steps_at_limit", "steps_yellow", "steps_red", "steps_critical",
           "hedge_requests", "kill_step", "kill_reason")
# recorded series (axis 1 of ``series``)
S_MID, S_BID, S_ASK, S_Q, S_PNL, S_ZONE = range(6)
S_NAMES = ("mid", "bid", "ask", "q", "pnl", "zone")
KILL_LOSS, KILL_DRAWDOWN = 1, 2

# policy kernel ids (flatbook.policies.registry maps names to these)
PID_SYMMETRIC, PID_LINEAR_SKEW, PID_STOLL, PID_AS, PID_GLFT_CLOSED, PID_GLFT_EXACT = range(6)


@nb.njit(cache=True, error_model="numpy")
def policy_depths(pid, pp, tab, i, tau, s, q, db, da):
    """The policy's (bid, ask) depths for arrays of mids s and inventories q at step i.

    The switch is outside the loops and each formula is called as a global
    (so inlined): every loop vectorises. The formulas live in flatbook.policies.
    """
    n = s.size
    if pid == PID_SYMMETRIC:
        for j in range(n):
            db[j], da[j] = symmetric.depths(pp, tab, i, tau, s[j], q[j])
    elif pid == PID_LINEAR_SKEW:
        for j in range(n):
            db[j], da[j] = linear_skew.depths(pp, tab, i, tau, s[j], q[j])
    elif pid == PID_STOLL:
        for j in range(n):
            db[j], da[j] = stoll.depths(pp, tab, i, tau, s[j], q[j])
    elif pid == PID_AS:
        for j in range(n):
            db[j], da[j] = avellaneda_stoikov.depths(pp, tab, i, tau, s[j], q[j])
    elif pid == PID_GLFT_CLOSED:
        for j in range(n):
            db[j], da[j] = glft.depths_closed(pp, tab, i, tau, s[j], q[j])
    else:
        for j in range(n):
            db[j], da[j] = glft.depths_exact(pp, tab, i, tau, s[j], q[j])


@nb.njit(cache=True, error_model="numpy")
def _run_block(pid, pp, tab, cp, mp, seed, p0, nb_, nsteps,
               out_f, out_i, ou, blk, rec_paths, series):
    """One block of paths. Each step is a few short loops over the block, each
    guarded by loop-invariant flags, so the common case (intensity flow,
    binomial mid) compiles to straight-line SIMD code."""
    dt = mp[MP_DT]
    T = mp[MP_T]
    s0 = mp[MP_S0]
    limit = cp[CP_LIMIT]
    model = int(mp[MP_MODEL])
    flow = int(mp[MP_FLOW])
    sq_dt = mp[MP_SIGMA] * math.sqrt(dt)
    rel_sq_dt = sq_dt / s0
    jump_p = mp[MP_JRATE] * dt
    jmean = mp[MP_JMEAN]
    jstd = mp[MP_JSTD]
    rmult = mp[MP_RMULT]
    rup_p = mp[MP_RUP] * dt
    rdown_p = mp[MP_RDOWN] * dt
    regimes = rup_p > 0.0
    Adt = mp[MP_A] * dt
    kk = mp[MP_K]
    bias = mp[MP_BIAS]
    bias_std = mp[MP_BIAS_STD]
    bias_steps = int(mp[MP_BIAS_STEPS])
    osize = mp[MP_OSIZE]
    oexp = mp[MP_ODIST] > 0.5
    inf_frac = mp[MP_INF_FRAC]
    inf_move = mp[MP_INF_MOVE]
    fin_l = mp[MP_FIN_L] * dt
    fin_s = mp[MP_FIN_S] * dt
    fee = mp[MP_FEE]
    max_loss = mp[MP_MAX_LOSS]
    max_dd = mp[MP_MAX_DD]
    binomial = model == MODEL_BINOMIAL
    jumps = jump_p > 0.0
    informed = inf_frac > 0.0 and inf_move > 0.0
    kill_on = max_loss < math.inf or max_dd < math.inf
    recording = np.searchsorted(rec_paths, p0 + nb_) > np.searchsorted(rec_paths, p0)

    # Block state: one array per variable, so that each loop over the block is
    # a simple loop over a few arrays.
    st = np.empty(nb_, np.uint64)
    s = np.zeros(nb_)
    q = np.zeros(nb_)
    cash = np.zeros(nb_)
    peak = np.zeros(nb_)
    killed = np.zeros(nb_)
    hi_vol = np.zeros(nb_)
    mu = np.zeros(nb_)
    prev_zone = np.zeros(nb_)
    mxq = np.zeros(nb_)
    fills = np.zeros(nb_)
    vol = np.zeros(nb_)
    spr = np.zeros(nb_)
    spr_n = np.zeros(nb_)
    gup = np.zeros(nb_)
    fin = np.zeros(nb_)
    fees = np.zeros(nb_)
    at_lim = np.zeros(nb_)
    z1 = np.zeros(nb_)
    z2 = np.zeros(nb_)
    z3 = np.zeros(nb_)
    hreq = np.zeros(nb_)
    sq = np.zeros(nb_)
    sq2 = np.zeros(nb_)
    sqdq = np.zeros(nb_)
    mdd = np.zeros(nb_)
    kstep = np.zeros(nb_)
    kreason = np.zeros(nb_)
    db0 = np.zeros(nb_)
    da0 = np.zeros(nb_)
    db = np.zeros(nb_)
    da = np.zeros(nb_)
    bsz = np.zeros(nb_)
    asz = np.zeros(nb_)
    mo = np.zeros(nb_)
    zn = np.zeros(nb_)
    fb = np.zeros(nb_)
    fa = np.zeros(nb_)
    ups = np.zeros(nb_)
    s[:] = s0
    q[:] = mp[MP_Q0]
    cash[:] = -mp[MP_Q0] * s0     # PnL starts at 0: the initial position is bought at s0
    mxq[:] = abs(mp[MP_Q0])
    kstep[:] = -1.0
    for j in range(nb_):
        st[j] = stream_start(seed, p0 + j)
    if recording:
        _record_marks(rec_paths, p0, nb_, 0, s, q, cash, series)
    for i in range(nsteps):
        tau = T - i * dt
        # ---- 1. quotes: the policy's formula, then the controls
        policy_depths(pid, pp, tab, i, tau, s, q, db0, da0)
        for j in range(nb_):
            b, a, bs, as_, zone, act = control_quotes(cp, db0[j], da0[j], s[j], q[j], killed[j] > 0.0)
            db[j] = b
            da[j] = a
            bsz[j] = bs
            asz[j] = as_
            m = 0.5 * (da0[j] - db0[j])          # pre-control centre offset (the skew);
            mo[j] = m if abs(m) < math.inf else 0.0  # undefined when the policy quotes one side
            zn[j] = zone
            z1[j] += zone == 1
            z2[j] += zone == 2
            z3[j] += zone == 3
            at_lim[j] += abs(q[j]) >= limit
            hreq[j] += (act == ACT_HEDGE) and (zone > prev_zone[j])
            prev_zone[j] = zone
            both = bs > 0.0 and as_ > 0.0
            spr[j] += (a + b) if both else 0.0
            spr_n[j] += both
        if recording:
            _record_quotes(rec_paths, p0, nb_, i, s, db, da, bsz, asz, zn, series)
        # ---- 2. order flow: fill sizes fb (our bid hit), fa (our ask lifted)
        if flow == FLOW_INTENSITY:
            for j in range(nb_):
                stj, x = next_u64(st[j])
                st[j] = stj
                fb[j] = bsz[j] if hi31(x) < Adt * fast_exp(-kk * db[j]) else 0.0
                fa[j] = asz[j] if mid31(x) < Adt * fast_exp(-kk * da[j]) else 0.0
                ups[j] = low_bit(x)
        else:
            redraw = bias_std > 0.0 and i % bias_steps == 0
            for j in range(nb_):
                stj, x = next_u64(st[j])
                if redraw:
                    stj, xm = next_u64(stj)
                    zmu, _ = box_muller(xm)
                    mu[j] = zmu * bias_std
                osz = osize
                if oexp:
                    stj, xs = next_u64(stj)
                    osz = -osize * math.log(unit53(xs))
                st[j] = stj
                buy = hi31(x) < min(max(0.5 + bias + mu[j], 0.0), 1.0)
                hit = mid31(x) < Adt * fast_exp(-kk * (da[j] if buy else db[j]))
                fa[j] = min(osz, asz[j]) if (buy and hit) else 0.0
                fb[j] = min(osz, bsz[j]) if (hit and not buy) else 0.0
                ups[j] = low_bit(x)
        # ---- 3. accounting: cash, fees, financing, spread given up; binomial mid
        for j in range(nb_):
            sj = s[j]
            b = fb[j]
            a = fa[j]
            qn = min(max(q[j] + b - a, -limit), limit)   # never past the limit, not even by an ulp
            fee_j = fee * (a + b)
            fc = fin_l * max(qn, 0.0) + fin_s * max(-qn, 0.0)
            # a side that is not quoted has an infinite depth: add its cash only when it filled
            cash_a = a * (sj + da[j]) if a > 0.0 else 0.0
            cash_b = b * (sj - db[j]) if b > 0.0 else 0.0
            cash[j] += cash_a - cash_b - fee_j - fc
            fees[j] += fee_j
            fin[j] += fc
            fills[j] += (b > 0.0) * 1.0 + (a > 0.0) * 1.0
            vol[j] += a + b
            gup[j] += mo[j] * (b - a)
            dq = qn - q[j]
            sq[j] += q[j]
            sq2[j] += q[j] * q[j]
            sqdq[j] += q[j] * dq
            q[j] = qn
            mxq[j] = max(mxq[j], abs(qn))
            if binomial:
                mult = rmult if hi_vol[j] > 0.0 else 1.0
                s[j] = sj + sq_dt * mult * (2.0 * ups[j] - 1.0)
        # ---- 4. optional market features (scalar loops, run only when enabled)
        if not binomial:
            for j in range(nb_):
                stj, xn = next_u64(st[j])
                st[j] = stj
                zn1, _ = box_muller(xn)
                mult = rmult if hi_vol[j] > 0.0 else 1.0
                if model == MODEL_ABM:
                    s[j] += sq_dt * mult * zn1
                else:
                    a_ = rel_sq_dt * mult
                    s[j] *= math.exp(a_ * zn1 - 0.5 * a_ * a_)
        if jumps or regimes:
            for j in range(nb_):
                stj, xj = next_u64(st[j])
                if jumps and hi31(xj) < jump_p:
                    stj, xn = next_u64(stj)
                    _, zj = box_muller(xn)
                    jmp = jmean + jstd * zj
                    s[j] = s[j] * math.exp(jmp / s0) if model == MODEL_GBM else s[j] + jmp
                st[j] = stj
                if regimes:
                    u = mid31(xj)
                    hi_vol[j] = (u >= rdown_p) * 1.0 if hi_vol[j] > 0.0 else (u < rup_p) * 1.0
        if informed:
            for j in range(nb_):
                stj, xi = next_u64(st[j])
                st[j] = stj
                if fa[j] > 0.0 and hi31(xi) < inf_frac:
                    s[j] += inf_move
                if fb[j] > 0.0 and mid31(xi) < inf_frac:
                    s[j] -= inf_move
        # ---- 5. mark to market, drawdown, kill switch
        for j in range(nb_):
            mtm = cash[j] + q[j] * s[j]
            pk = max(peak[j], mtm)
            peak[j] = pk
            mdd[j] = max(mdd[j], pk - mtm)
            if kill_on:
                fire_loss = killed[j] == 0.0 and mtm <= -max_loss
                fire_dd = killed[j] == 0.0 and not fire_loss and pk - mtm >= max_dd
                if fire_loss or fire_dd:
                    killed[j] = 1.0
                    kstep[j] = i + 1
                    kreason[j] = KILL_LOSS if fire_loss else KILL_DRAWDOWN
        if recording:
            _record_marks(rec_paths, p0, nb_, i + 1, s, q, cash, series)

    sxx = 0.0
    sxy = 0.0
    n = float(nsteps)
    for j in range(nb_):
        p = p0 + j
        out_f[F_PNL, p] = cash[j] + q[j] * s[j]
        out_f[F_FINAL_Q, p] = q[j]
        out_f[F_MAX_ABS_Q, p] = mxq[j]
        out_f[F_VOLUME, p] = vol[j]
        out_f[F_SPREAD_MEAN, p] = spr[j] / spr_n[j] if spr_n[j] > 0 else np.nan
        out_f[F_GIVEN_UP, p] = gup[j]
        out_f[F_FINANCING, p] = fin[j]
        out_f[F_FEES, p] = fees[j]
        qm = sq[j] / n
        out_f[F_Q_MEAN, p] = qm
        out_f[F_Q_STD, p] = math.sqrt(max(sq2[j] / n - qm * qm, 0.0))
        out_f[F_MAX_DD, p] = mdd[j]
        out_i[I_FILLS, p] = fills[j]
        out_i[I_AT_LIMIT, p] = at_lim[j]
        out_i[I_ZONE1, p] = z1[j]
        out_i[I_ZONE2, p] = z2[j]
        out_i[I_ZONE3, p] = z3[j]
        out_i[I_HEDGE_REQ, p] = hreq[j]
        out_i[I_KILL_STEP, p] = kstep[j]
        out_i[I_KILL_REASON, p] = kreason[j]
        # per-path demeaned regression sums of dq on q (OU fit, pooled later);
        # sum(dq) over a path is q_T - q_0
        sdq = q[j] - mp[MP_Q0]
        sxx += sq2[j] - sq[j] * sq[j] / n
        sxy += sqdq[j] - sq[j] * sdq / n
    ou[blk, 0] = sxx
    ou[blk, 1] = sxy


@nb.njit(cache=True, error_model="numpy")
def _record_quotes(rec_paths, p0, nb_, i, s, db, da, bsz, asz, zn, series):
    for r in range(np.searchsorted(rec_paths, p0), np.searchsorted(rec_paths, p0 + nb_)):
        j = rec_paths[r] - p0
        series[r, S_BID, i] = s[j] - db[j] if bsz[j] > 0.0 else np.nan
        series[r, S_ASK, i] = s[j] + da[j] if asz[j] > 0.0 else np.nan
        series[r, S_ZONE, i] = zn[j]
        if i + 1 == series.shape[2] - 1:
            series[r, S_ZONE, i + 1] = zn[j]


@nb.njit(cache=True, error_model="numpy")
def _record_marks(rec_paths, p0, nb_, i, s, q, cash, series):
    for r in range(np.searchsorted(rec_paths, p0), np.searchsorted(rec_paths, p0 + nb_)):
        j = rec_paths[r] - p0
        series[r, S_MID, i] = s[j]
        series[r, S_Q, i] = q[j]
        series[r, S_PNL, i] = cash[j] + q[j] * s[j]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def simulate_paths(pid, pp, tab, cp, mp, seed, p_start, p_end, nsteps, out_f, out_i, ou, rec_paths, series):
    """Simulate paths [p_start, p_end) of policy ``pid`` into ``out_f[:, p]``, ``out_i[:, p]``.

    ``ou[b]`` receives block b's OU regression sums (Σ(q−q̄)², Σ(q−q̄)Δq);
    ``series[r]`` the time series of path ``rec_paths[r]`` (sorted) if it runs here.
    """
    ppa = np.zeros(6)
    ppa[:pp.size] = pp
    for b in nb.prange((p_end - p_start + BLOCK - 1) // BLOCK):
        p0 = p_start + b * BLOCK
        _run_block(pid, ppa, tab, cp, mp, seed, p0, min(BLOCK, p_end - p0), nsteps, out_f, out_i, ou, b, rec_paths, series)


@nb.njit(cache=True, error_model="numpy")
def evaluate_quotes(pid, pp, tab, cp, i, tau, s, q, killed, out):
    """Policy depths and controlled quotes for arrays of states (same code as the kernel).

    Rows of ``out``: raw δb, raw δa, controlled δb, δa, bid size, ask size, zone, action.
    """
    for j in range(s.size):
        policy_depths(pid, pp, tab, i[j], tau[j], s[j:j + 1], q[j:j + 1], out[0, j:j + 1], out[1, j:j + 1])
        db, da, bsz, asz, zone, act = control_quotes(cp, out[0, j], out[1, j], s[j], q[j], killed[j])
        out[2, j] = db
        out[3, j] = da
        out[4, j] = bsz
        out[5, j] = asz
        out[6, j] = zone
        out[7, j] = act
