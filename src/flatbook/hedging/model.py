"""The simulator's hedging and carrying-cost model, and how its parameters are packed.

Every step, after the quotes have filled and the mid has moved, each path may
hedge (the backstop of seed 000 and seed 001: skew mean-reverts inventory only
on average). With x the exposure in inventory lots (x = q for a hedge in the
same instrument; x = q + y/h* for a proxy hedge, y the hedge position in H):

- **Trigger** (``hedge_trigger``), checked when no hedge is running; a
  program's goal is the exposure it was started to reach, x + its size:
  ``threshold`` |x − q*| > hedge_threshold; ``urgency`` α·|x − q*|·σ² ≥ 1
  (seed 000's urgency = α·q·σ²); ``zone`` a hedge request from the soft-limit
  zones. Time-based ("|I| > X must be under X within H"): threshold X, sizing
  ``band`` with hedge_band = X, and hedge_horizon = H.
- **Sizing** (``hedge_sizing``): to the target q*; a fraction of x − q*; or
  down to the edge of a band, |x − q*| = hedge_band. q* is ``q_target``, or
  with ``hedge_target_mode=cost`` the critical fractile of the carry costs
  (:func:`target_from_costs`).
- **Execution** (``hedge_exec``): ``immediate`` (one market order); ``twap``,
  ``vwap`` (against the session's volume curve) or ``almgren-chriss`` (Almgren
  & Chriss 2000) child orders over hedge_horizon. Every child order is capped
  at hedge_participation × the market volume of its step; what the cap holds
  back is carried forward. A running program never takes the exposure past its
  goal: when fills have done part of its work the remainder shrinks, and when
  they have done all of it the program ends
  (:func:`flatbook.hedging.execution.toward_goal`).
- **Hard limit**: no hedge trade takes |q| past ``limit`` (with an option, the
  delta-equivalent band; :func:`flatbook.controls.quote_controls.limit_trade`);
  a program that reaches the limit ends there. |q| ≤ limit holds at every step.
- **Quotes see the hedge**: with a proxy hedge the policy quotes on the
  exposure x = q + y/h* (as on an option's delta-equivalent), so the quotes
  and the hedge manage one exposure; the zones and the hard limit stay on q,
  the position in the quoted instrument.
- **Cost of a child order** of n lots at mid m (price units per lot):
  ε + η·|n|/dt (linear temporary impact) or ε + Y·σ_H·√(|n|/(V·dt)) (square
  root law), plus J, the temporary impact still in the price from earlier
  child orders: J decays with half-life ``hedge_decay`` (0: it is gone by the
  next step). Permanent impact γ moves the mid by γ·n. Hedge fills enter the
  same cash as the quotes' fills.
- **Instrument** (``hedge_instrument``): the same one (q changes), or a proxy
  H = h0 + β·(S − s0) + b + (permanent impact), whose basis b is an
  Ornstein–Uhlenbeck process db = −κ·b·dt + σ_b·dW started at 0, with
  κ = ln 2/``hedge_basis_halflife``, stepped exactly:
  b' = φ·b + σ_b·√((1 − φ²)/(2κ))·Z, φ = e^(−κ·dt) (stationary std σ_b/√(2κ));
  ``hedge_basis_halflife = inf`` makes it a random walk, b' = b + σ_b·√dt·Z,
  the "basis breaks" stress case whose spread grows like σ_b·√t. The proxy is
  hedged at the minimum-variance ratio over the run's horizon T (Ederington
  1979, the holding period being the run):
  h* = Cov(S_T − S_0, H_T − H_0)/Var(H_T − H_0)
     = βσ²T/(β²σ²T + σ_b²·(1 − e^(−κT))/κ) units of H per lot of S,
  which for the random walk (κ → 0) is βσ²/(β²σ² + σ_b²) at every horizon and
  for a mean-reverting basis tends to 1/β. Price risk becomes basis risk, and
  both are reported.
- **Daily reset** (``session_length``, ``session_flatten``): quoting is
  flatten-only from session_flatten before each close and the exposure is
  worked to zero by the close (TWAP over the window; whatever is left at the
  close is sold at once), so no position is held overnight.
- **Options**: an option position (``option_type``, ``option_lots`` lots of the
  underlying, Black–Scholes at ``option_vol``) is held through the run. Its value is
  in the mark, and the policy, the zones and the hard limit see the delta-equivalent
  inventory q + option_lots·Δ (seed 000: delta-equivalent inventory drives the skew).
- **Counts**: ``hedge_count`` counts triggered programs; the forced flattens of
  the daily reset and of an event pause show in ``hedge_trades`` (child orders),
  ``hedge_volume`` and ``hedge_cost``.
- **Carrying costs**, each accrued separately per step and per lot: financing
  of a long (``financing_long``), borrow on a short (``financing_short``, and
  ``borrow_htb`` beyond ``htb_above``), funding on the perpetual leg
  (``funding_rate`` × notional, longs pay), and the cost of the capital held
  for haircut and margin (``capital_rate`` × (haircut·|q|·s + margin·|y|·h)).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .schedules import ac_kappa, trade_fractions, volume_curve

(
    HP_TRIGGER,
    HP_THR,
    HP_URG,
    HP_SIZING,
    HP_FRAC,
    HP_BAND,
    HP_QSTAR,
    HP_EXEC,
    HP_NH,
    HP_EPS,
    HP_ETA_DT,
    HP_IMPACT,
    HP_SQRT_COEF,
    HP_PERM,
    HP_DECAY,
    HP_PROXY,
    HP_BETA,
    HP_BSIG,
    HP_H0,
    HP_HRATIO,
    HP_SESSION,
    HP_FLAT,
    HP_EVENT,
    HP_EJ_MEAN,
    HP_EJ_STD,
    HP_PAUSE,
    HP_PAUSE_FLAT,
    HP_FUND,
    HP_HTB,
    HP_HTB_ABOVE,
    HP_HAIRCUT,
    HP_MARGIN,
    HP_CAPRATE,
    HP_ON,
    HP_EXT,
    HP_PART,
    HP_MARKOUT,
    HP_OPT,
    HP_OPT_N,
    HP_OPT_K,
    HP_OPT_VOL,
    HP_OPT_EXP,
    HP_BPHI,
) = range(43)
HP_LEN = 43
TRIGGERS = ("none", "threshold", "urgency", "zone")
SIZINGS = ("target", "fraction", "band")
EXECS = ("immediate", "twap", "vwap", "almgren-chriss")


def target_from_costs(c_long: float, c_short: float, q_std: float) -> float:
    """Hedge target q* that minimises the expected carry E[c_long·q⁺ + c_short·q⁻]
    when q ~ N(q*, q_std²): Φ(q*/q_std) = c_short/(c_long + c_short), the critical
    fractile of the newsvendor problem (Arrow, Harris & Marschak 1951). Shorts costing
    more than longs lean the target long. Lots; 0 when both costs are 0."""
    from scipy.stats import norm

    tot = c_long + c_short
    if tot <= 0.0:
        return 0.0
    return float(q_std * norm.ppf(c_short / tot))


def _steps(t: float, dt: float) -> int:
    return int(math.ceil(t / dt - 1e-9))


def hedging_on(v) -> bool:
    """Does the run hedge, reset daily, pause for an event or carry extra costs?"""
    return (
        v["hedge_trigger"] != "none"
        or math.isfinite(v["session_length"])
        or math.isfinite(v["event_time"])
        or v["financing_short"] > 0
        or v["borrow_htb"] > 0
        or v["funding_rate"] != 0
        or v["capital_rate"] > 0
    )


def pack_hedge(v, nsteps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hp, hw, hvol, hcvol): scalars; the program's per-step fractions
    (:func:`flatbook.hedging.schedules.trade_fractions`: twap, almgren-chriss); the
    market volume of each step (lots; inf when not modelled) and the prefix sums of the
    relative volume curve (for VWAP). See the module docstring."""
    dt, sig = v["dt"], v["sigma"]
    hp = np.zeros(HP_LEN)
    ext = hedging_on(v)
    hp[HP_EXT] = float(ext)
    hp[HP_ON] = float(v["hedge_trigger"] != "none" or math.isfinite(v["session_length"]) or v["pause_flatten"] == "yes")
    hp[HP_TRIGGER] = TRIGGERS.index(v["hedge_trigger"])
    hp[HP_THR] = v["hedge_threshold"]
    hp[HP_URG] = v["hedge_urgency"] * sig * sig
    hp[HP_SIZING] = SIZINGS.index(v["hedge_sizing"])
    hp[HP_FRAC], hp[HP_BAND] = v["hedge_fraction"], v["hedge_band"]
    hp[HP_PART] = v["hedge_participation"]
    hp[HP_MARKOUT] = v["markout_steps"]
    # an option position: 1 call, 2 put (flatbook.numerics.black_scholes)
    hp[HP_OPT] = ("none", "call", "put").index(v["option_type"]) if v["option_lots"] != 0 else 0.0
    hp[HP_OPT_N], hp[HP_OPT_K] = v["option_lots"], v["option_strike"]
    hp[HP_OPT_VOL], hp[HP_OPT_EXP] = v["option_vol"], v["option_expiry"]
    if v["hedge_target_mode"] == "cost":
        c_short = v["financing_short"] + (v["borrow_htb"] if v["htb_above"] == 0 else 0.0)
        hp[HP_QSTAR] = target_from_costs(v["financing_long"], c_short, v["hedge_q_std"])
    else:
        hp[HP_QSTAR] = v["q_target"]
    hp[HP_EXEC] = EXECS.index(v["hedge_exec"])
    nh = 1 if v["hedge_exec"] == "immediate" else max(1, _steps(v["hedge_horizon"], dt))
    hp[HP_NH] = nh
    proxy = v["hedge_instrument"] == "proxy"
    beta, bsig = v["hedge_beta"], v["hedge_basis_sigma"]
    sig_h = math.sqrt(beta * beta * sig * sig + bsig * bsig) if proxy else sig
    hp[HP_EPS] = v["hedge_half_spread"]
    hp[HP_ETA_DT] = v["hedge_eta"] / dt
    hp[HP_IMPACT] = ("linear", "sqrt").index(v["hedge_impact"])
    V = v["market_volume"]
    hp[HP_SQRT_COEF] = v["hedge_sqrt_y"] * sig_h / math.sqrt(V * dt) if math.isfinite(V) else 0.0
    hp[HP_PERM] = v["hedge_perm"]
    hl = v["hedge_decay"]
    hp[HP_DECAY] = math.exp(-math.log(2.0) * dt / hl) if hl > 0 else 0.0
    hp[HP_PROXY] = float(proxy)
    hp[HP_BETA], hp[HP_BSIG], hp[HP_H0] = beta, bsig * math.sqrt(dt), v["hedge_s0"]
    hp[HP_BPHI] = 1.0  # the basis's AR(1) coefficient per step: 1 = random walk
    hl_b = v["hedge_basis_halflife"]
    if math.isfinite(hl_b):  # OU, stepped exactly
        kap = math.log(2.0) / hl_b
        hp[HP_BPHI] = math.exp(-kap * dt)
        hp[HP_BSIG] = bsig * math.sqrt(-math.expm1(-2.0 * kap * dt) / (2.0 * kap))
        T = v["T"]
        den = beta * beta * sig * sig * T - bsig * bsig * math.expm1(-kap * T) / kap
        num = beta * sig * sig * T
    else:
        den = beta * beta * sig * sig + bsig * bsig
        num = beta * sig * sig
    hp[HP_HRATIO] = (num / den if den > 0 else 1.0 / beta) if proxy else 1.0
    L = v["session_length"]
    if math.isfinite(L) and not v["session_flatten"] < L:
        raise InputError(
            "session_flatten", f"must be shorter than session_length = {L:g} (time units); got {v['session_flatten']:g}"
        )
    hp[HP_SESSION] = max(1, _steps(L, dt)) if math.isfinite(L) else 0.0
    hp[HP_FLAT] = _steps(v["session_flatten"], dt)
    ev = v["event_time"]
    hp[HP_EVENT] = max(0, _steps(ev, dt) - 1) if math.isfinite(ev) else -1.0
    hp[HP_EJ_MEAN], hp[HP_EJ_STD] = v["event_jump_mean"], v["event_jump_std"]
    hp[HP_PAUSE] = hp[HP_EVENT] - _steps(v["pause_before"], dt) + 1 if math.isfinite(ev) else -1.0
    hp[HP_PAUSE_FLAT] = float(v["pause_flatten"] == "yes")
    hp[HP_FUND] = v["funding_rate"] * dt
    hp[HP_HTB], hp[HP_HTB_ABOVE] = v["borrow_htb"] * dt, v["htb_above"]
    hp[HP_HAIRCUT], hp[HP_MARGIN], hp[HP_CAPRATE] = v["haircut"], v["hedge_margin"], v["capital_rate"] * dt
    kappa = 0.0  # the program's Almgren–Chriss κ (per time unit); 0: the straight line
    if v["hedge_exec"] == "almgren-chriss":
        eta_t = v["hedge_eta"] - 0.5 * v["hedge_perm"] * dt
        if not eta_t > 0.0:
            raise InputError(
                "hedge_eta",
                f"almgren-chriss needs η̃ = hedge_eta − hedge_perm·dt/2 > 0 (price units "
                f"per lot per time unit); got hedge_eta={v['hedge_eta']:g}, "
                f"hedge_perm={v['hedge_perm']:g}",
            )
        kappa = ac_kappa(dt, sig_h, eta_t, v["hedge_risk_aversion"])
    hw = np.asarray(
        trade_fractions(v["hedge_exec"], nh, kappa=kappa, tau=dt, volume_curve=v["volume_curve"]), dtype=float
    )
    S = int(hp[HP_SESSION]) if hp[HP_SESSION] > 0 else nsteps + 1
    curve = np.asarray(volume_curve(v["volume_curve"], S), dtype=float)
    curve = curve / curve.mean()
    per_step = V * dt if math.isfinite(V) else math.inf
    share = curve[np.arange(nsteps + 1) % S]  # relative volume of each step (mean 1)
    hvol = per_step * share  # lots (inf: volume not modelled)
    hcvol = np.concatenate(([0.0], np.cumsum(share)))  # VWAP windows use the relative curve
    return hp, hw, hvol, hcvol
