"""The compiled Monte Carlo kernel: N paths × n steps, summaries only.

Layout: paths run in blocks of ``BLOCK`` (blocks in parallel across cores with
``prange``). A block's whole state is one ``(W_LEN, BLOCK)`` array, 27 KiB, so
it stays in L1 cache; each row is one variable (``W_*``). Inside a block the
step loop is outer and the path loop inner, and every access is a constant
offset from one pointer, so LLVM vectorises the path loops (8 paths per AVX-512
instruction) without runtime alias checks. Nothing is allocated per step.
Per-path summaries are written once, at the end of each path, so memory grows
with the number of paths only; time series are written for the requested paths.

Each path draws from its own SplitMix64 stream (:mod:`flatbook.numerics.rng`),
a fixed number of draws per step that depends on the market model only, so
every policy sees the same flow (common random numbers) and a path's numbers do
not depend on how many paths run, on the blocks, or on the threads.

Per step, for every path, a fixed sequence of stages (each a compiled, inlined block function in its
own module of :mod:`flatbook.market`, which documents what it reads, writes and draws; the order is
in ``docs/market_models.md``): (1) the policy's depths (the policy's compiled loop, the formulas in
:mod:`flatbook.policies`) on the exposure (q, plus an option's delta and a proxy hedge's y/h*);
(2) the step's random flow, which does not depend on the quotes (:mod:`flatbook.market.flow.intensity`
or :mod:`~flatbook.market.flow.orders`, with the binomial mid's sign); (3) one fused pass (``_book_step``):
the controls (:mod:`flatbook.controls.quote_controls`), the quote statistics, the fills
(:func:`flatbook.market.flow.intensity.fill`, or a user's fill stage's probabilities,
:mod:`flatbook.market.fill_stage`, the pass then split around the stage's call), fees and financing
(:mod:`flatbook.market.costs`, or a user's cost stage after the pass, :mod:`flatbook.market.cost_stage`), inventory
and cash, and the binomial mid move; (4) the optional market stages (:mod:`flatbook.market.mid`:
diffusive mid or a user's mid stage, jumps and regimes, informed flow, the event gap), the proxy's basis,
carry and hedging (:mod:`flatbook.hedging.model`; a user's impact stage prices the hedge trades,
:mod:`flatbook.hedging.impact_stage`); (5) the mark to market and drawdown; (6) the kill
switch. The hard limit holds after every fill and every hedge trade
(:func:`~flatbook.controls.quote_controls.limit_trade`).

The engine takes a few records, not 20 arguments: :func:`simulate_paths` ``(loop, mid_loop, fill_loop, user,
arrays, seed, p_start, p_end, nsteps, outs, rec)``, with the packed parameters, the outputs and the recorded
series each one tuple (measured: the same instructions per path-step as positional arrays).

The policy is not a switch: the kernel takes the policy's compiled depths loop as a
first-class function (:func:`flatbook.policies.compile.depths_loop`; any
:class:`~flatbook.policies.base.Policy`, built-in or a user's), typed by its signature
only, so this kernel compiles once and is cached for every policy; the small loop is
compiled per policy and cached under its source, so an edit never runs stale.

Why the shape: with one array per variable, or with parameters read from an
array, LLVM must prove at run time that no two arrays overlap; past a handful
of arrays it gives up and the loop runs scalar (40M path-steps/s instead of
95M on one core). Calls inside the fused loop (``math.log``, array arguments,
which numba reference-counts) have the same effect, so the flow's random
numbers are drawn in their own loop.
"""

from __future__ import annotations

import functools
import math
import types
import warnings

import numba as nb
import numpy as np
from numba.core.errors import NumbaExperimentalFeatureWarning

from ..controls.kill import kill_fires
from ..controls.quote_controls import (
    ACT_HEDGE,
    CP_CRITICAL,
    CP_HALF_MKT,
    CP_LIMIT,
    CP_RED,
    CP_SIZE,
    CP_TICK,
    CP_YELLOW,
    control_quotes,
    lean_controls,
    limit_clamp,
    limit_trade,
    min_spread,
)
from ..hedging.execution import (
    child_order,
    execution_price,
    hedge_due,
    hedge_size,
    toward_goal,
)
from ..hedging.impact_stage import IMPACT
from ..hedging.model import (
    HP_BAND,
    HP_BETA,
    HP_BPHI,
    HP_BSIG,
    HP_CAPRATE,
    HP_DECAY,
    HP_EJ_MEAN,
    HP_EJ_STD,
    HP_EPS,
    HP_ETA_DT,
    HP_EVENT,
    HP_EXEC,
    HP_EXT,
    HP_FLAT,
    HP_FRAC,
    HP_FUND,
    HP_H0,
    HP_HAIRCUT,
    HP_HRATIO,
    HP_HTB,
    HP_HTB_ABOVE,
    HP_IMPACT,
    HP_MARGIN,
    HP_MARKOUT,
    HP_NH,
    HP_ON,
    HP_OPT,
    HP_OPT_EXP,
    HP_OPT_K,
    HP_OPT_N,
    HP_OPT_VOL,
    HP_PART,
    HP_PAUSE,
    HP_PAUSE_FLAT,
    HP_PERM,
    HP_PROXY,
    HP_QSTAR,
    HP_SESSION,
    HP_SIZING,
    HP_SQRT_COEF,
    HP_THR,
    HP_TRIGGER,
    HP_URG,
)
from ..market import costs
from ..market.cost_stage import COST, W_CBOR, W_CFEE, W_CFIN, W_CV, W_CY
from ..market.fill_stage import FILL
from ..market.flow import informed as informed_
from ..market.flow import intensity, orders
from ..market.layout import (
    BLOCK,
    FLOW_INTENSITY,
    MODEL_BINOMIAL,
    MODEL_GBM,
    MODEL_USER,
    MP_A,
    MP_BIAS,
    MP_BIAS_STD,
    MP_BIAS_STEPS,
    MP_DT,
    MP_FEE,
    MP_FIN_L,
    MP_FIN_S,
    MP_FLOW,
    MP_INF_FRAC,
    MP_INF_MOVE,
    MP_JMEAN,
    MP_JRATE,
    MP_JSTD,
    MP_K,
    MP_MAX_DD,
    MP_MAX_LOSS,
    MP_MODEL,
    MP_ODIST,
    MP_OSIZE,
    MP_Q0,
    MP_RDOWN,
    MP_RMULT,
    MP_RUP,
    MP_S0,
    MP_SIGMA,
    MP_T,
    W_ADV,
    W_ASZ,
    W_ATLIM,
    W_BORROW,
    W_BSZ,
    W_CASH,
    W_DA,
    W_DA0,
    W_DB,
    W_DB0,
    W_DQ,
    W_DS,
    W_FA,
    W_FB,
    W_FEES,
    W_FILLS,
    W_FIN,
    W_FWIN,
    W_GUP,
    W_HIVOL,
    W_HREQ,
    W_KILLED,
    W_KREASON,
    W_KSTEP,
    W_LEN,
    W_MDD,
    W_MTM,
    W_MXQ,
    W_OD,
    W_OPTV,
    W_OSZ,
    W_PA,
    W_PB,
    W_PEAK,
    W_PZONE,
    W_Q,
    W_QEFF,
    W_QMID,
    W_QPOL,
    W_REQ,
    W_S,
    W_SDQ2,
    W_SPR,
    W_SPRCAP,
    W_SPRN,
    W_SQ,
    W_SQ2,
    W_SQDQ,
    W_UA,
    W_UB,
    W_VOL,
    W_Z1,
    W_Z2,
    W_Z3,
    W_ZN,
    WH_B,
    WH_CAP,
    WH_COST,
    WH_COUNT,
    WH_FUND,
    WH_GOAL,
    WH_H,
    WH_HPNL,
    WH_J,
    WH_LEN,
    WH_NEED,
    WH_PK,
    WH_PPNL,
    WH_PREM,
    WH_PSTART,
    WH_PX0,
    WH_TRADES,
    WH_VOL,
    WH_VWIN,
    WH_Y,
)
from ..market.mid import diffusion, event
from ..market.mid import jumps as jumps_
from ..market.stage import MID, idle_loop, market_digest
from ..numerics.black_scholes import bs_price_delta
from ..numerics.rng import box_muller, next_u64, stream_start
from ..policies.base import Policy
from ..policies.compile import KeyedCache, depths_loop, specialise

# per-path float64 outputs (rows of ``out_f``)
(
    F_PNL,
    F_FINAL_Q,
    F_MAX_ABS_Q,
    F_VOLUME,
    F_SPREAD_MEAN,
    F_GIVEN_UP,
    F_FINANCING,
    F_FEES,
    F_Q_MEAN,
    F_Q_STD,
    F_MAX_DD,
    F_SPREAD_CAPTURE,
    F_ADVERSE,
) = range(13)
F_NAMES = (
    "pnl",
    "final_q",
    "max_abs_q",
    "volume",
    "spread_mean",
    "spread_given_up",
    "financing",
    "fees",
    "q_mean",
    "q_std",
    "max_drawdown",
    "spread_capture",
    "adverse",
)
# per-path hedging and carry outputs (rows of ``out_h``; one column unless the run hedges or carries)
(H_COUNT, H_TRADES, H_COST, H_VOLUME, H_BORROW, H_FUNDING, H_CAPITAL, H_PRICE_PNL, H_HEDGE_PNL, H_FINAL_Y) = range(10)
H_NAMES = (
    "hedge_count",
    "hedge_trades",
    "hedge_cost",
    "hedge_volume",
    "borrow",
    "funding",
    "capital",
    "price_pnl",
    "hedge_pnl",
    "final_y",
)
# per-path int32 outputs (rows of ``out_i``)
(I_FILLS, I_AT_LIMIT, I_ZONE1, I_ZONE2, I_ZONE3, I_HEDGE_REQ, I_KILL_STEP, I_KILL_REASON) = range(8)
I_NAMES = (
    "fills",
    "steps_at_limit",
    "steps_yellow",
    "steps_red",
    "steps_critical",
    "hedge_requests",
    "kill_step",
    "kill_reason",
)
# recorded series (axis 1 of ``series``)
S_MID, S_BID, S_ASK, S_Q, S_PNL, S_ZONE = range(6)
S_NAMES = ("mid", "bid", "ask", "q", "pnl", "zone")


@nb.njit(inline="always", cache=True, error_model="numpy")
def _as_tuple14(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13])


OU_LEN = 6  # per-block OU moments: n, x̄, ȳ, Cxx, Cxy, Cyy (flatbook.estimators.ou.MOMENTS)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _hedge_child(
    x, m, rem, x0, goal, k, start, vwin, J, req, force, inv_left, i, vol_i, vwin_now, cap_i, q, lo, hi, hw, hc
):
    """One path's hedge this step (flatbook.hedging.model): maybe start a program (forced by
    the daily reset, or triggered), then its child order. Returns (lots of exposure traded,
    lots of the hedge instrument traded, price, added temporary impact, and the program's
    new remainder, initial size, goal, child count, start step, window volume, 1 if it started).
    A running program never takes the exposure x past its goal (:func:`toward_goal`), and no
    child takes the inventory q past the hard limit's band [lo, hi] (:func:`limit_trade`;
    ±inf for a proxy hedge, which does not trade q); a program that reaches the limit ends.
    ``hc``: the run's hedge constants (see _run_block)."""
    trigger, qstar, thr, urg, sizing, frac, band, exec_, nh, hr, eps, eta_dt, sqrt_coef = hc
    due = (rem == 0.0) & hedge_due(trigger, x - qstar, thr, urg, req)
    size = hedge_size(sizing, x - qstar, frac, band)
    new_prog = 1.0 if ((not force) & due & (size != 0.0)) else 0.0
    rem = -x if force else (size if due else toward_goal(rem, goal - x))
    goal = 0.0 if force else (x + size if due else goal)
    x0 = rem if (force or due) else x0
    k = 0.0 if (force or due) else k
    start = float(i) if due else start
    vwin = vwin_now if due else vwin
    w_k = hw[np.int64(min(k, nh - 1.0))]  # the schedule's share for child k (twap, almgren-chriss)
    n_want = rem * inv_left if force else child_order(exec_, rem, x0, k, nh, w_k, vol_i, vwin, cap_i)
    n_s = limit_trade(q, n_want, lo, hi)
    n_h = n_s * hr
    price, disp = execution_price(m, n_h, eps, eta_dt, sqrt_coef, J)
    rem -= n_s
    rem = 0.0 if (n_s != n_want) or abs(rem) <= 1e-12 * (1.0 + abs(x0)) else rem
    return n_s, n_h, price, disp, rem, x0, goal, k + 1.0, start, vwin, new_prog


@nb.njit(inline="always", cache=True, error_model="numpy")
def _book_step(w, cp, lean, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, quotes, fills, xv=None, fast=False):
    """Step 3 of :func:`_run_block` for the block, one pass per path: controls, quote statistics, fills,
    accounting. ``lean``, ``quotes`` and ``fills`` are literals at each call site, so each call compiles to
    its own loop: the lean one (:func:`~flatbook.controls.quote_controls.lean_controls`, no zone rows) and the
    general one; with a user's fill stage, the controls alone (``fills=False``: the final depths and sizes in
    rows ``W_DB``, ``W_DA``, ``W_BSZ``, ``W_ASZ``), then, after the stage, the fills and accounting alone
    (``quotes=False``: those rows read back, each side filled at the stage's probability ``W_PB``, ``W_PA``).

    Lean statistics (``STATS`` False, the ``LEAN`` copy): only the rows the lean outputs and the model read are
    written. ``fast`` (that copy only, :func:`_run_block` says when): the step's draw fused in (intensity flow,
    ``xv = (st, binomial, rmult, sq_dt)``), no limit (``lean_controls`` with limit = inf: every size is
    ``cp[CP_SIZE]``, finite, or 0 at an infinite depth; ``limit_clamp`` the identity), no fees or financing (each
    ``+0.0``: ``x − 0.0 == x``), and no row that only the other stages read (``W_DB``…``W_ASZ``, ``W_FB``,
    ``W_FA``, ``W_OD``, ``W_QMID``, the draw rows): the same numbers, in fewer instructions."""
    if fast:
        st, binomial, rmult, sq_dt = xv
        size = cp[CP_SIZE]
    for j in range(BLOCK):
        s_ = w[W_S, j]
        q = w[W_Q, j]
        db0 = w[W_DB0, j]
        da0 = w[W_DA0, j]
        qc = w[W_QEFF, j] if opt_on else q  # the limits and zones see the delta-equivalent
        if fast:  # intensity.draw's numbers, from the same word
            stj, x = next_u64(st[j])
            st[j] = stj
            ub, ua, ds = intensity.draw_one(x, binomial, w[W_HIVOL, j], rmult, sq_dt)
            db, da = min_spread(cp, db0, da0)
            bs = 0.0 if math.isinf(db) else size
            as_ = 0.0 if math.isinf(da) else size
            both = bs > 0.0 and as_ > 0.0
            w[W_SPR, j] += (da + db) if both else 0.0
            w[W_SPRN, j] += both
            b = intensity.fill(ub, math.inf, bs, Adt, kk, db)
            a = intensity.fill(ua, math.inf, as_, Adt, kk, da)
            qn = q + b - a
            cash_a = a * (s_ + da) if a > 0.0 else 0.0
            cash_b = b * (s_ - db) if b > 0.0 else 0.0
            w[W_CASH, j] += cash_a - cash_b
            w[W_FILLS, j] += (b > 0.0) * 1.0 + (a > 0.0) * 1.0
            w[W_Q, j] = qn
            w[W_MXQ, j] = max(w[W_MXQ, j], abs(qn))
            w[W_S, j] = s_ + ds
            continue
        if quotes:
            if lean:
                db, da, bs, as_, zone, act = lean_controls(cp, db0, da0, qc)
            else:
                db, da, bs, as_, zone, act = control_quotes(cp, db0, da0, s_, qc, w[W_KILLED, j] > 0.0 or paused)
            w[W_DB, j] = db
            w[W_DA, j] = da
            w[W_BSZ, j] = bs
            w[W_ASZ, j] = as_
            if STATS:
                w[W_ATLIM, j] += abs(q) >= limit
            if not lean:  # lean: zone and action are 0, these rows stay 0
                w[W_ZN, j] = zone
                if STATS:
                    w[W_Z1, j] += zone == 1
                    w[W_Z2, j] += zone == 2
                    w[W_Z3, j] += zone == 3
                req = (act == ACT_HEDGE) and (zone > w[W_PZONE, j])
                if STATS:
                    w[W_HREQ, j] += req
                w[W_REQ, j] = req
                w[W_PZONE, j] = zone
            both = bs > 0.0 and as_ > 0.0
            w[W_SPR, j] += (da + db) if both else 0.0
            w[W_SPRN, j] += both
        else:
            db, da, bs, as_ = w[W_DB, j], w[W_DA, j], w[W_BSZ, j], w[W_ASZ, j]
        if fills:
            # fills: a side fills with probability min(1, A·e^(−kδ)·dt) (or the user stage's), at most its size
            osz = w[W_OSZ, j]
            if quotes:
                b = intensity.fill(w[W_UB, j], osz, bs, Adt, kk, db)
                a = intensity.fill(w[W_UA, j], osz, as_, Adt, kk, da)
            else:
                b = intensity.filled(w[W_UB, j], osz, bs, w[W_PB, j])
                a = intensity.filled(w[W_UA, j], osz, as_, w[W_PA, j])
            w[W_FB, j] = b
            w[W_FA, j] = a
            od = qc - q  # the option's delta-equivalent (0 without one)
            qn = limit_clamp(q + b - a, q, -limit - od, limit - od)  # never past the limit, not even by an ulp
            w[W_OD, j] = od
            fee_j, fl, fs = costs.fill_costs(fee, fin_l, fin_s, a, b, qn)
            # a side that is not quoted has an infinite depth: add its cash only when it filled
            cash_a = a * (s_ + da) if a > 0.0 else 0.0
            cash_b = b * (s_ - db) if b > 0.0 else 0.0
            if USER_COST:  # a user's cost stage charges the costs after this pass (_charge_costs)
                w[W_CY, j] = cash_a - cash_b
                w[W_CV, j] = cash_a + cash_b
            else:
                w[W_CASH, j] += cash_a - cash_b - fee_j - fl - fs
            if STATS:  # lean statistics: none of these rows (W_DQ: the markout's and the OU moments')
                w[W_SPRCAP, j] += (a * da if a > 0.0 else 0.0) + (b * db if b > 0.0 else 0.0)  # vs the mid
                if not USER_COST:
                    w[W_FEES, j] += fee_j
                    w[W_FIN, j] += fl
                    w[W_BORROW, j] += fs
                w[W_DQ, j] = qn - q
            w[W_FILLS, j] += (b > 0.0) * 1.0 + (a > 0.0) * 1.0
            if STATS:
                w[W_VOL, j] += a + b
                m = 0.5 * (da0 - db0)  # spread given up: the policy's centre offset (skew) × signed fill
                w[W_GUP, j] += m * (b - a) if abs(m) < math.inf else 0.0
                w[W_SQ, j] += q
                w[W_SQ2, j] += q * q
                w[W_SQDQ, j] += q * (qn - q)
                w[W_SDQ2, j] += (qn - q) * (qn - q)
            w[W_Q, j] = qn
            w[W_MXQ, j] = max(w[W_MXQ, j], abs(qn))
            w[W_QMID, j] = s_
            w[W_S, j] = s_ + w[W_DS, j]


#: True only in the copy of the kernel compiled for runs with a user's fill stage (:func:`kernel_copy`, through
#: :func:`flatbook.policies.compile.specialise`): a global constant, so numba prunes the branch that reads it before
#: it inlines ``_book_step`` there. The default kernel then compiles two ``_book_step`` loops, not five (measured:
#: the first ``simulate``'s cold compile 34.5 → 24 s CPU).
USER_FILL = False
#: True only in the copies compiled for lean statistics (``stats="lean"``, :func:`lean_copy`): per path only pnl,
#: final_q, max_abs_q, spread_mean and fills (:data:`LEAN_F`, :data:`LEAN_I`), each the same number as the full
#: kernel's. The model runs whole (controls, costs, hedging, stages…); only statistics no lean output reads are
#: pruned, and the fast step of :func:`_book_step` runs where it applies. ``STATS`` is its negation (numba prunes
#: ``if STATS:`` on a global constant, not ``if not LEAN:``); the copy binds both, and copies ``_book_step`` too.
LEAN = False
STATS = True
#: the lean copy's policy (its ``depths`` and ``as_params``, :class:`~flatbook.policies.base.Policy`), bound per
#: policy by :func:`kernels`: the copy inlines the formula as ``flatbook.policies.compile._loop`` does, with no
#: C callback (P's measurement: 0.64 ns of the ~8 ns path-step). Never read in the default kernel.
LEAN_DEPTHS = None
LEAN_AS_PARAMS = None
#: the lean copy's per-path outputs (rows of ``out_f``, ``out_i``)
LEAN_F = (F_PNL, F_FINAL_Q, F_MAX_ABS_Q, F_SPREAD_MEAN)
LEAN_I = (I_FILLS,)
#: True only in the copies for runs with a user's cost stage (:mod:`flatbook.market.cost_stage`: the book step
#: leaves the costs to the stage) or impact stage (:mod:`flatbook.hedging.impact_stage`: it prices each hedge
#: trade); pruned from the default kernel as ``USER_FILL``
USER_COST = False
USER_IMPACT = False


@nb.njit(inline="always", cache=True, error_model="numpy")
def _charge_costs(w):
    """Charge a cost stage's fee, financing and borrow (rows ``W_CFEE``, ``W_CFIN``, ``W_CBOR``) with the fills'
    cash ``W_CY``, in the built-in's order of operations (:func:`_book_step`)."""
    for j in range(BLOCK):
        fee_j = w[W_CFEE, j]
        fl = w[W_CFIN, j]
        fs = w[W_CBOR, j]
        w[W_CASH, j] += w[W_CY, j] - fee_j - fl - fs
        w[W_FEES, j] += fee_j
        w[W_FIN, j] += fl
        w[W_BORROW, j] += fs


@nb.njit(cache=True, error_model="numpy")
def _run_block(loop, mid_loop, fill_loop, user, arrays, seed, p0, nb_, nsteps, outs, blk, rec):
    """One block of paths (``BLOCK`` of them are simulated; the first ``nb_``
    are written out). Each step is a few loops over the block, each guarded by
    loop-invariant flags, so the common case (intensity flow, binomial mid)
    compiles to straight-line SIMD code on state that stays in L1 cache.
    The records ``arrays``, ``outs`` and ``rec`` are those of :func:`simulate_paths`."""
    pp, tab, cp, mp, hp, hw, hvol, hcvol, mpu, mpf = arrays[:10]
    out_f, out_i, out_h, ou = outs
    rec_paths, series = rec
    cp = _as_tuple14(cp)
    dt = mp[MP_DT]
    T = mp[MP_T]
    s0 = mp[MP_S0]
    limit = cp[CP_LIMIT]
    model = np.int64(mp[MP_MODEL])
    flow = np.int64(mp[MP_FLOW])
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
    bias_steps = np.int64(mp[MP_BIAS_STEPS])
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
    user_mid = model == MODEL_USER  # a user's stage (flatbook.market.stage), called through mid_loop
    jumps = jump_p > 0.0
    informed = inf_frac > 0.0 and inf_move > 0.0
    kill_on = max_loss < math.inf or max_dd < math.inf
    # no control but the minimum spread and the size limit can act (see controls.quote_controls.lean_controls)
    lean_block = (
        not kill_on
        and cp[CP_YELLOW] == math.inf
        and cp[CP_RED] == math.inf
        and cp[CP_CRITICAL] == math.inf
        and cp[CP_TICK] == 0.0
        and cp[CP_HALF_MKT] == math.inf
    )
    recording = np.searchsorted(rec_paths, p0 + nb_) > np.searchsorted(rec_paths, p0)
    # hedging, daily reset, scheduled event, extra carry (flatbook.hedging.model)
    ext = hp[HP_EXT] > 0.0
    hedge_on = hp[HP_ON] > 0.0
    proxy = hp[HP_PROXY] > 0.0
    trigger = hp[HP_TRIGGER]
    h_thr = hp[HP_THR]
    h_urg = hp[HP_URG]
    sizing = hp[HP_SIZING]
    h_frac = hp[HP_FRAC]
    h_band = hp[HP_BAND]
    qstar = hp[HP_QSTAR]
    h_exec = hp[HP_EXEC]
    h_nh = hp[HP_NH]
    h_eps = hp[HP_EPS]
    h_eta = hp[HP_ETA_DT]
    sqrt_law = hp[HP_IMPACT] > 0.5
    h_sqrt = hp[HP_SQRT_COEF]
    h_perm = hp[HP_PERM]
    h_decay = hp[HP_DECAY]
    h_beta = hp[HP_BETA]
    h_bsig = hp[HP_BSIG]
    h_bphi = hp[HP_BPHI]
    hr = hp[HP_HRATIO]
    inv_hr = 1.0 / hr if (proxy and hr > 0.0) else 0.0  # h* = 0 (σ = 0: no price risk): nothing to hedge
    session = np.int64(hp[HP_SESSION])
    flat_steps = np.int64(hp[HP_FLAT])
    ev_step = np.int64(hp[HP_EVENT])
    pause_start = np.int64(hp[HP_PAUSE])
    pause_flat = hp[HP_PAUSE_FLAT] > 0.0
    fund_dt = hp[HP_FUND]
    htb_dt = hp[HP_HTB]
    htb_above = hp[HP_HTB_ABOVE]
    haircut = hp[HP_HAIRCUT]
    margin = hp[HP_MARGIN]
    cap_dt = hp[HP_CAPRATE]
    carry_on = htb_dt > 0.0 or fund_dt != 0.0 or cap_dt > 0.0
    nvol = hcvol.size - 1

    w = np.zeros((W_LEN, BLOCK))
    wh = np.zeros((WH_LEN, BLOCK))
    hact = np.empty(BLOCK, np.int64)  # the paths that hedge this step
    opt_on = hp[HP_OPT] > 0.0
    opt_call = hp[HP_OPT] == 1.0
    opt_n = hp[HP_OPT_N]
    opt_k = hp[HP_OPT_K]
    opt_vol = hp[HP_OPT_VOL]
    opt_exp = hp[HP_OPT_EXP]
    markout = max(np.int64(hp[HP_MARKOUT]), 1)  # steps over which a fill's markout counts as adverse
    ring = np.zeros((markout, BLOCK))  # the fills of the last ``markout`` steps
    st = np.empty(BLOCK, np.uint64)
    xs = np.empty(BLOCK, np.uint64)  # a step's draws, for stages that draw in a loop of their own
    if USER_IMPACT:
        imp = np.empty(3)  # a hedge trade's (price, temporary, permanent) from the user's impact stage
    for j in range(BLOCK):
        st[j] = stream_start(seed, p0 + j)
        w[W_S, j] = s0
        w[W_Q, j] = mp[MP_Q0]
        w[W_CASH, j] = -mp[MP_Q0] * s0  # PnL starts at 0: the initial position is bought at s0
        w[W_MXQ, j] = abs(mp[MP_Q0])
        w[W_KSTEP, j] = -1.0
        wh[WH_H, j] = hp[HP_H0]
        if opt_on:  # the option is bought at its t = 0 value
            v0, _ = bs_price_delta(s0, opt_k, opt_vol, opt_exp, opt_call)
            w[W_OPTV, j] = opt_n * v0
            w[W_CASH, j] -= opt_n * v0
    if recording:
        # np.int64(0): a literal 0 would compile a second _record_marks (the call below passes i + 1)
        _record_marks(rec_paths, p0, nb_, np.int64(0), w[W_S], w[W_Q], w[W_MTM], series)
    fast_run = False
    if LEAN:
        mark_steps = kill_on or recording  # does anything read the mark to market before the end
        xv = (st, binomial, rmult, sq_dt)  # the draw's inputs, for _book_step's fast step
        # the fast step where nothing it leaves out acts (no limit, fee, option, informed flow, recorded path…)
        fast_run = (
            not USER_FILL
            and not USER_COST  # the fast step charges no costs
            and lean_block
            and flow == FLOW_INTENSITY
            and limit == math.inf
            and cp[CP_SIZE] < math.inf
            and fee == 0.0
            and fin_l == 0.0
            and fin_s == 0.0
            and not opt_on
            and not informed
            and not ext
            and not recording
        )
    for i in range(nsteps):
        tau = T - i * dt
        # daily reset and event pause: quote the flattening side only; force a flatten
        paused = False
        force = False
        left = np.int64(0)
        if session > 0:
            left = (session - (i + 1) % session) % session  # steps after this one to the close
            paused = left < flat_steps
            force = left == 0 or left < flat_steps
        if pause_start >= 0 and pause_start <= i <= ev_step:
            paused = True
            if pause_flat and i == pause_start:
                force = True
                left = np.int64(0)
        # ---- 1. the policy's depths (rows W_DB0, W_DA0), on the delta-equivalent
        # inventory q + option_lots·Δ when an option is held, plus the proxy hedge's
        # y/h* (the exposure the hedge hedges: quotes and hedge manage one exposure,
        # so the quotes do not unwind inventory the hedge has already covered)
        if opt_on:
            for j in range(BLOCK):
                _, dlt = bs_price_delta(w[W_S, j], opt_k, opt_vol, opt_exp - i * dt, opt_call)
                w[W_QEFF, j] = w[W_Q, j] + opt_n * dlt
        if proxy:
            for j in range(BLOCK):
                w[W_QPOL, j] = (w[W_QEFF, j] if opt_on else w[W_Q, j]) + wh[WH_Y, j] * inv_hr
        if LEAN and not (proxy or opt_on):  # the lean copy is the policy's own: its formula inlined (kernels)
            pv = LEAN_AS_PARAMS(pp)
            for j in range(BLOCK):
                w[W_DB0, j], w[W_DA0, j] = LEAN_DEPTHS(pv, tab, i, i * dt, tau, w[W_S, j], w[W_Q, j], w[W_HIVOL, j])
        else:
            loop(
                pp,
                tab,
                i,
                i * dt,
                tau,
                w[W_S],
                w[W_QPOL] if proxy else (w[W_QEFF] if opt_on else w[W_Q]),
                w[W_HIVOL],  # the path's regime (0 calm, 1 volatile): a regime table policy's axis
                w[W_DB0],
                w[W_DA0],
            )
        # ---- 2. this step's random flow, which does not depend on the quotes:
        # uniforms W_UB, W_UA that a bid / ask fill must beat (inf = no order
        # on that side), the order size W_OSZ, and the binomial mid move W_DS
        fast = fast_run and not paused
        if fast:
            pass  # drawn in the fast book step
        elif flow == FLOW_INTENSITY:
            intensity.draw(w, st, binomial, rmult, sq_dt)
        else:
            orders.draw(
                w, st, bias_std > 0.0 and i % bias_steps == 0, bias, bias_std, osize, oexp, binomial, rmult, sq_dt
            )
        # ---- 3. one pass per path: controls, quote statistics, fills, accounting; with a user's
        # fill stage, two passes around it: the controls, then the stage's probabilities at the final
        # depths (rows W_PB, W_PA), then the fills and accounting
        if LEAN and fast:  # the lean copy's fused step (numba prunes it from the default kernel)
            _book_step(w, cp, True, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, True, True, xv, True)
        elif USER_FILL:  # the copy for runs with a user's fill stage (kernels); numba prunes it from the default kernel
            if lean_block and not paused:
                _book_step(w, cp, True, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, True, False)
            else:
                _book_step(w, cp, False, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, True, False)
            fill_loop(mpf, i, i * dt, dt, w[W_S], w[W_DB], w[W_DA], w[W_HIVOL], rmult, w[W_PB], w[W_PA])
            _book_step(w, cp, True, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, False, True)
        elif lean_block and not paused:
            _book_step(w, cp, True, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, True, True)
        else:
            _book_step(w, cp, False, paused, opt_on, limit, Adt, kk, fee, fin_l, fin_s, True, True)
        if USER_COST:  # a user's cost stage (kernels): its fee, financing and borrow, then charged
            user[0](arrays[10], i, i * dt, dt, w[W_QMID], w[W_Q], w[W_FB], w[W_FA], w[W_CV], w[W_HIVOL], rmult,
                    w[W_CFEE], w[W_CFIN], w[W_CBOR])  # fmt: skip
            _charge_costs(w)
        if recording:
            _record_quotes(rec_paths, p0, nb_, i, w[W_QMID], w[W_DB], w[W_DA], w[W_BSZ], w[W_ASZ], w[W_ZN], series)
        # ---- 4. optional market features (scalar loops, run only when enabled)
        if user_mid:  # one draw per path; the stream stays here (passed to a call, it would not vectorise)
            for j in range(BLOCK):
                stj, xu = next_u64(st[j])
                st[j] = stj
                xs[j] = xu
            mid_loop(mpu, i, i * dt, dt, w[W_S], w[W_HIVOL], rmult, xs)
        elif not binomial:
            diffusion.step(w, st, xs, model, rmult, sq_dt, rel_sq_dt)
        if jumps or regimes:
            jumps_.step(w, st, jumps, regimes, jump_p, jmean, jstd, model == MODEL_GBM, s0, rup_p, rdown_p)
        if informed:
            informed_.step(w, st, inf_frac, inf_move)
        # ---- 4b. the scheduled event's gap (earnings): one draw per path, at its step only
        if i == ev_step:
            event.step(w, st, hp[HP_EJ_MEAN], hp[HP_EJ_STD], model == MODEL_GBM, s0)
        # ---- 4c. the proxy's move (ΔH = β·ΔS + Δb, b the OU basis: b' = φ·b + σ·Z, φ = 1 a
        # random walk; flatbook.hedging.model) and the carrying costs
        if proxy:
            for j in range(BLOCK):
                stj, xz = next_u64(st[j])
                st[j] = stj
                zb, _ = box_muller(xz)
                dbas = (h_bphi - 1.0) * wh[WH_B, j] + h_bsig * zb
                wh[WH_B, j] += dbas
                dh = h_beta * (w[W_S, j] - w[W_QMID, j]) + dbas
                wh[WH_HPNL, j] += wh[WH_Y, j] * dh
                wh[WH_H, j] += dh
        if carry_on:
            costs.carry(w, wh, proxy, htb_dt, htb_above, fund_dt, cap_dt, haircut, margin)
        # ---- 4d. price PnL of the inventory; which paths hedge this step
        nact = 0
        if ext:
            for j in range(BLOCK):  # vectorised
                q = w[W_Q, j]
                wh[WH_PPNL, j] += q * (w[W_S, j] - w[W_QMID, j])
                x = q + wh[WH_Y, j] * inv_hr  # exposure, inventory lots
                wh[WH_J, j] *= h_decay  # temporary impact decays before each step's hedge
                need = hedge_on & (
                    (wh[WH_PREM, j] != 0.0) | force | hedge_due(trigger, x - qstar, h_thr, h_urg, w[W_REQ, j])
                )
                wh[WH_NEED, j] = need
            for j in range(BLOCK):  # branch-free compaction of those paths
                hact[nact] = j
                nact += wh[WH_NEED, j] > 0.0
        # ---- 4e. hedging (flatbook.hedging): start a program on a trigger, work it. Most
        # paths, most steps, have nothing to do: a scalar loop over the few that do.
        if nact > 0:
            vol_i = hvol[min(i, nvol - 1)]  # market volume this step (lots)
            cap_i = hp[HP_PART] * vol_i  # participation cap
            rel_i = hcvol[min(i + 1, nvol)] - hcvol[min(i, nvol)]  # volume curve this step
            vwin_now = hcvol[min(i + np.int64(h_nh), nvol)] - hcvol[min(i, nvol)]  # … for a program starting now
            inv_left = 1.0 / (left + 1.0)  # the daily reset: TWAP of what is left to the close
            hc = (
                trigger,
                qstar,
                h_thr,
                h_urg,
                sizing,
                h_frac,
                h_band,
                h_exec,
                h_nh,
                hr,
                h_eps,
                0.0 if sqrt_law else h_eta,
                h_sqrt if sqrt_law else 0.0,
            )
            for t in range(nact):
                j = hact[t]
                q = w[W_Q, j]
                y = wh[WH_Y, j]
                m = wh[WH_H, j] if proxy else w[W_S, j]  # the hedge instrument's mid
                od = w[W_OD, j]  # the hard limit's band for q (proxy: none)
                lo = -math.inf if proxy else -limit - od
                hi = math.inf if proxy else limit - od
                n_s, n_h, price, disp, rem, x0, goal, k, start, vwin, new_prog = _hedge_child(
                    q + y * inv_hr,
                    m,
                    wh[WH_PREM, j],
                    wh[WH_PX0, j],
                    wh[WH_GOAL, j],
                    wh[WH_PK, j],
                    wh[WH_PSTART, j],
                    wh[WH_VWIN, j],
                    wh[WH_J, j],
                    w[W_REQ, j],
                    force,
                    inv_left,
                    i,
                    rel_i,
                    vwin_now,
                    cap_i,
                    q,
                    lo,
                    hi,
                    hw,
                    hc,
                )
                perm = h_perm * n_h
                if USER_IMPACT:  # a user's impact stage prices the trade (kernels)
                    user[1](
                        arrays[11],
                        i,
                        i * dt,
                        dt,
                        m,
                        n_h,
                        wh[WH_J, j],
                        vol_i,
                        rmult if w[W_HIVOL, j] > 0.0 else 1.0,
                        imp,
                    )
                    price, disp, perm = imp[0], imp[1], imp[2]
                wh[WH_COUNT, j] += new_prog
                wh[WH_PREM, j] = rem
                wh[WH_PX0, j] = x0
                wh[WH_GOAL, j] = goal
                wh[WH_PK, j] = k
                wh[WH_PSTART, j] = start
                wh[WH_VWIN, j] = vwin
                w[W_CASH, j] -= n_h * price
                wh[WH_COST, j] += n_h * (price - m)
                wh[WH_VOL, j] += abs(n_h)
                wh[WH_TRADES, j] += n_h != 0.0
                wh[WH_J, j] += disp
                if proxy:  # the trade moves the instrument (permanent impact)
                    wh[WH_H, j] = m + perm
                    wh[WH_Y, j] = y + n_h
                else:
                    dq = w[W_DQ, j]
                    w[W_S, j] = m + perm
                    if STATS:
                        w[W_SQDQ, j] += (q - dq) * n_h  # the step's Δq includes the hedge
                        w[W_SDQ2, j] += 2.0 * dq * n_h + n_h * n_h
                    qn = limit_clamp(q + n_h, q, lo, hi)
                    w[W_Q, j] = qn
                    w[W_MXQ, j] = max(w[W_MXQ, j], abs(qn))
        # ---- 5. mark to market at the new mid: running peak, max drawdown
        if opt_on:
            for j in range(BLOCK):
                ov, _ = bs_price_delta(w[W_S, j], opt_k, opt_vol, opt_exp - (i + 1) * dt, opt_call)
                w[W_OPTV, j] = opt_n * ov
        if LEAN and not mark_steps:
            pass  # lean: marked once, at the end
        elif proxy:
            for j in range(BLOCK):
                w[W_MTM, j] = w[W_CASH, j] + w[W_Q, j] * w[W_S, j] + wh[WH_Y, j] * wh[WH_H, j] + w[W_OPTV, j]
        else:
            for j in range(BLOCK):
                w[W_MTM, j] = w[W_CASH, j] + w[W_Q, j] * w[W_S, j] + w[W_OPTV, j]
        # adverse selection: the mid's move this step times the fills of the last
        # ``markout`` steps (their markout at that horizon, accrued step by step)
        if LEAN:
            pass  # lean: no markout
        elif markout > 1:
            slot = i % markout
            for j in range(BLOCK):
                f = w[W_DQ, j]
                fw = w[W_FWIN, j] - ring[slot, j] + f
                ring[slot, j] = f
                w[W_FWIN, j] = fw
                w[W_ADV, j] += fw * (w[W_S, j] - w[W_QMID, j])
        elif markout == 1:  # a loop of its own: a condition inside the loop becomes masked
            for j in range(BLOCK):  # loads and stores, slow without AVX-512 (vmaskmovpd)
                w[W_ADV, j] += w[W_DQ, j] * (w[W_S, j] - w[W_QMID, j])
        if STATS or kill_on:  # lean: the peak for the kill switch only
            for j in range(BLOCK):
                mtm = w[W_MTM, j]
                pk = max(w[W_PEAK, j], mtm)
                w[W_PEAK, j] = pk
                w[W_MDD, j] = max(w[W_MDD, j], pk - mtm)
        # ---- 6. kill switch
        if kill_on:
            for j in range(BLOCK):
                r = kill_fires(w[W_KILLED, j] != 0.0, w[W_MTM, j], w[W_PEAK, j], max_loss, max_dd)
                if r > 0.0:
                    w[W_KILLED, j] = 1.0
                    w[W_KSTEP, j] = i + 1
                    w[W_KREASON, j] = r
        if recording:
            _record_marks(rec_paths, p0, nb_, i + 1, w[W_S], w[W_Q], w[W_MTM], series)

    if LEAN:  # the lean outputs (LEAN_F, LEAN_I); the mark to market at the end, if not marked step by step
        for j in range(nb_):
            p = p0 + j
            if mark_steps:
                mtm = w[W_MTM, j]
            elif proxy:  # the same sums as step 5's
                mtm = w[W_CASH, j] + w[W_Q, j] * w[W_S, j] + wh[WH_Y, j] * wh[WH_H, j] + w[W_OPTV, j]
            else:
                mtm = w[W_CASH, j] + w[W_Q, j] * w[W_S, j] + w[W_OPTV, j]
            out_f[F_PNL, p] = mtm
            out_f[F_FINAL_Q, p] = w[W_Q, j]
            out_f[F_MAX_ABS_Q, p] = w[W_MXQ, j]
            out_f[F_SPREAD_MEAN, p] = w[W_SPR, j] / w[W_SPRN, j] if w[W_SPRN, j] > 0 else np.nan
            out_i[I_FILLS, p] = w[W_FILLS, j]
        return
    # OU regression moments of (x, y) = (q_t, Δq_t), merged over the block's
    # paths (Chan, Golub & LeVeque 1979); see flatbook.estimators.ou.ou_fit
    bn = 0.0
    bmx = 0.0
    bmy = 0.0
    bxx = 0.0
    bxy = 0.0
    byy = 0.0
    n = float(nsteps)
    for j in range(nb_):
        p = p0 + j
        q = w[W_Q, j]
        out_f[F_PNL, p] = w[W_MTM, j]
        out_f[F_FINAL_Q, p] = q
        out_f[F_MAX_ABS_Q, p] = w[W_MXQ, j]
        out_f[F_VOLUME, p] = w[W_VOL, j]
        out_f[F_SPREAD_MEAN, p] = w[W_SPR, j] / w[W_SPRN, j] if w[W_SPRN, j] > 0 else np.nan
        out_f[F_GIVEN_UP, p] = w[W_GUP, j]
        out_f[F_FINANCING, p] = w[W_FIN, j]
        out_f[F_FEES, p] = w[W_FEES, j]
        sq = w[W_SQ, j]
        sq2 = w[W_SQ2, j]
        mx = sq / n
        out_f[F_Q_MEAN, p] = mx
        out_f[F_Q_STD, p] = math.sqrt(max(sq2 / n - mx * mx, 0.0))
        out_f[F_MAX_DD, p] = w[W_MDD, j]
        out_f[F_SPREAD_CAPTURE, p] = w[W_SPRCAP, j]
        out_f[F_ADVERSE, p] = w[W_ADV, j]
        out_i[I_FILLS, p] = w[W_FILLS, j]
        out_i[I_AT_LIMIT, p] = w[W_ATLIM, j]
        out_i[I_ZONE1, p] = w[W_Z1, j]
        out_i[I_ZONE2, p] = w[W_Z2, j]
        out_i[I_ZONE3, p] = w[W_Z3, j]
        out_i[I_HEDGE_REQ, p] = w[W_HREQ, j]
        out_i[I_KILL_STEP, p] = w[W_KSTEP, j]
        out_i[I_KILL_REASON, p] = w[W_KREASON, j]
        if ext:
            out_h[H_COUNT, p] = wh[WH_COUNT, j]
            out_h[H_TRADES, p] = wh[WH_TRADES, j]
            out_h[H_COST, p] = wh[WH_COST, j]
            out_h[H_VOLUME, p] = wh[WH_VOL, j]
            out_h[H_BORROW, p] = w[W_BORROW, j]
            out_h[H_FUNDING, p] = wh[WH_FUND, j]
            out_h[H_CAPITAL, p] = wh[WH_CAP, j]
            out_h[H_PRICE_PNL, p] = wh[WH_PPNL, j]
            out_h[H_HEDGE_PNL, p] = wh[WH_HPNL, j]
            out_h[H_FINAL_Y, p] = wh[WH_Y, j]
        my = (q - mp[MP_Q0]) / n  # Σ Δq over a path is q_T − q_0
        cxx = sq2 - sq * mx
        cxy = w[W_SQDQ, j] - sq * my
        cyy = w[W_SDQ2, j] - (q - mp[MP_Q0]) * my
        tot = bn + n
        dx = mx - bmx
        dy = my - bmy
        bxx += cxx + dx * dx * bn * n / tot
        bxy += cxy + dx * dy * bn * n / tot
        byy += cyy + dy * dy * bn * n / tot
        bmx += dx * n / tot
        bmy += dy * n / tot
        bn = tot
    ou[blk, 0] = bn
    ou[blk, 1] = bmx
    ou[blk, 2] = bmy
    ou[blk, 3] = bxx
    ou[blk, 4] = bxy
    ou[blk, 5] = byy


@nb.njit(cache=True, error_model="numpy")
def _record_quotes(rec_paths, p0, nb_, i, s, db, da, bsz, asz, zn, series):
    """Step i's quotes of the recorded paths, around the mid s they were quoted at."""
    for r in range(np.searchsorted(rec_paths, p0), np.searchsorted(rec_paths, p0 + nb_)):
        j = rec_paths[r] - p0
        series[r, S_BID, i] = s[j] - db[j] if bsz[j] > 0.0 else np.nan
        series[r, S_ASK, i] = s[j] + da[j] if asz[j] > 0.0 else np.nan
        series[r, S_ZONE, i] = zn[j]
        if i + 1 == series.shape[2] - 1:
            series[r, S_ZONE, i + 1] = zn[j]


@nb.njit(cache=True, error_model="numpy")
def _record_marks(rec_paths, p0, nb_, i, s, q, mtm, series):
    for r in range(np.searchsorted(rec_paths, p0), np.searchsorted(rec_paths, p0 + nb_)):
        j = rec_paths[r] - p0
        series[r, S_MID, i] = s[j]
        series[r, S_Q, i] = q[j]
        series[r, S_PNL, i] = mtm[j]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def simulate_paths(loop, mid_loop, fill_loop, user, arrays, seed, p_start, p_end, nsteps, outs, rec):
    """Simulate paths [p_start, p_end) of the policy ``loop`` (its compiled depths,
    :func:`flatbook.policies.compile.depths_loop`) into ``out_f[:, p]``, ``out_i[:, p]``, ``out_h[:, p]``.

    Records (tuples, so the engine takes a few arguments, not 19):

    - ``arrays = (pp, tab, cp, mp, hp, hw, hvol, hcvol, mpu, mpf)``: the packed parameters, each
      written by its packer: the policy's ``pp``/``tab`` (:meth:`~flatbook.policies.base.Policy.bind`),
      the controls' ``cp`` (:func:`~flatbook.controls.quote_controls.pack_controls`), the market's
      ``mp`` (:func:`~flatbook.market.pack.pack_market`), the hedging model's ``hp``, ``hw``,
      ``hvol``, ``hcvol`` (:func:`~flatbook.hedging.model.pack_hedge`), a user mid stage's ``mpu`` and
      fill stage's ``mpf``; with a user cost or impact stage, their ``mpc``, ``mpi`` follow (12 arrays);
    - ``outs = (out_f, out_i, out_h, ou)``: per-path outputs (rows ``F_*``, ``I_*``, ``H_*``) and
      ``ou[b]``, block b's OU regression moments (``OU_LEN`` numbers);
    - ``rec = (rec_paths, series)``: ``series[r]`` receives the time series of path
      ``rec_paths[r]`` (sorted) if it runs here.

    ``mid_loop``: a user's mid stage (:meth:`flatbook.market.stage.Stage.loop`), called when
    ``mp[MP_MODEL] == MODEL_USER``; ``fill_loop``: a user's fill stage (:mod:`flatbook.market.fill_stage`),
    called by the kernel's copy for runs with a fill stage (``USER_FILL``, :func:`kernels`); otherwise each is a
    placeholder that is never called. ``user``: ``()``, or ``(cost_loop, impact_loop)``, a user's cost stage
    (:mod:`flatbook.market.cost_stage`, ``USER_COST``) and impact stage (:mod:`flatbook.hedging.impact_stage`,
    ``USER_IMPACT``; a placeholder for the one not given), called by the kernel's copies for them: the default
    kernel takes an empty tuple, so its code does not carry them (measured: two more arguments cost it 200
    instructions of reference counting).
    """
    for b in nb.prange((p_end - p_start + BLOCK - 1) // BLOCK):
        p0 = p_start + b * BLOCK
        # np.int64(b): prange(n)'s index is int64 when numba types this loop and uint64 once it lowers it as a
        # parfor, so passing b as it is compiled _run_block twice (measured: 42 -> 24 s CPU for a cold first run)
        blk = np.int64(b)
        _run_block(loop, mid_loop, fill_loop, user, arrays, seed, p0, min(BLOCK, p_end - p0), nsteps, outs, blk, rec)


def kernels(policy: Policy, mid=None, fill=None, cost=None, impact=None, lean: bool = False) -> types.SimpleNamespace:
    """This module's entry point for ``policy`` (a resolved :class:`~flatbook.policies.base.Policy`) and the
    optional user stages ``mid`` (a :class:`~flatbook.market.stage.MidStage`), ``fill`` (a
    :class:`~flatbook.market.fill_stage.FillStage`), ``cost`` (a :class:`~flatbook.market.cost_stage.CostStage`)
    and ``impact`` (an :class:`~flatbook.hedging.impact_stage.ImpactStage`): ``.simulate_paths(arrays, …)``, the
    compiled kernel with the policy's depths loop and the stages' loops bound; ``lean``: the copy that computes
    the lean statistics only (``LEAN``)."""
    mid_loop = idle_loop(MID) if mid is None else mid.loop()
    fill_loop = idle_loop(FILL) if fill is None else fill.loop()
    user = () if cost is None and impact is None else (_loop(COST, cost), _loop(IMPACT, impact))
    switches = (("LEAN", lean), ("USER_COST", cost is not None), ("USER_FILL", fill is not None))
    flags = tuple(f for f, on in (*switches, ("USER_IMPACT", impact is not None)) if on)  # sorted
    loop = depths_loop(policy)  # also refuses a ladder policy, in one line
    entry = lean_copy(flags, policy) if lean else (kernel_copy(flags) if flags else simulate_paths)
    if user:  # numba warns that first-class functions are "experimental" when it types a tuple of them
        entry = _quiet(entry)
    return types.SimpleNamespace(simulate_paths=functools.partial(entry, loop, mid_loop, fill_loop, user))


_LEAN_COPIES: dict[tuple, object] = {}


def lean_copy(flags: tuple[str, ...], policy: Policy):
    """:func:`kernel_copy` for ``flags`` (``LEAN`` among them) with ``policy``'s formula inlined (``LEAN_DEPTHS``):
    one copy per policy and set of switches, compiled on first use (about as long as the default kernel) and
    cached on disk under the policy's source token, so an edited policy never runs stale."""
    key = (flags, policy.token, policy.name)
    got = _LEAN_COPIES.get(key)
    if got is None:
        bind: dict[str, object] = dict.fromkeys(flags, True)
        bind.update(STATS=False, LEAN_DEPTHS=policy.depths, LEAN_AS_PARAMS=policy.as_params)
        token = "+".join(f.lower() for f in flags) + f":{policy.token}:{policy.name}"
        got = specialise(globals(), ["_book_step", "_run_block", "simulate_paths"], bind, token).simulate_paths
        _LEAN_COPIES[key] = got
    return got


def _quiet(entry):
    """``entry`` called with numba's ``NumbaExperimentalFeatureWarning`` ignored (compiling a kernel's copy is not
    the user's concern)."""

    @functools.wraps(entry)
    def run(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
            return entry(*args)

    return run


def _loop(kind, stage):
    """``stage``'s compiled loop, or ``kind``'s placeholder when it is None."""
    return idle_loop(kind) if stage is None else stage.loop()


@functools.cache
def kernel_copy(flags: tuple[str, ...]):
    """:func:`simulate_paths` with each of this module's switch constants named in ``flags`` set True (e.g.
    ``USER_FILL``: a user's fill stage, the book step split around the stage's call), compiled on first use and
    cached on disk under its own key. ``flags`` is sorted, so one set of switches is one copy."""
    bind = dict.fromkeys(flags, True)
    return specialise(
        globals(), ["_book_step", "_run_block", "simulate_paths"], bind, "+".join(f.lower() for f in flags)
    ).simulate_paths


# edits to the model modules the kernel inlines (market/** included) recompile it (flatbook.policies.compile)
for _d in (_run_block, simulate_paths, _record_quotes, _record_marks):
    _d._cache = KeyedCache(_d.py_func, market_digest())
