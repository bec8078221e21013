"""Every parameter flatbook takes: name, unit, default, allowed range, meaning.

One meaning per name across the whole tool. Names follow the literature:
``gamma`` risk aversion, ``sigma`` volatility, ``A``/``k`` the fill intensity
λ(δ) = A·e^(−kδ), ``skew`` the linear-skew strength, ``limit`` the hard limit.
Time is in abstract "time units" (the preset says what one is); prices in
"price units"; inventory in lots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .suggest import did_you_mean, unknown

INF = math.inf
#: The largest magnitude a price, quantity, rate or time parameter may take, in its own unit
#: (price units, lots, per time unit, time units). Wide enough for any market (a BTC price
#: of 1e5 USD, 1e9 shares), narrow enough that products of prices, lots and steps stay far
#: inside float64 (1e308), so every run ends in finite numbers.
BIG = 1e9
#: The smallest value of a parameter that must be positive (a step, a price, a size, a rate in
#: a denominator), in its own unit: positive and far from float64's underflow.
TINY = 1e-9
#: The most time steps (T/dt) and Monte Carlo paths a run may take.
MAX_STEPS = 10_000_000
MAX_PATHS = 1_000_000_000
#: the simulator's statistics (``[run] stats``, ``--stats``, ``simulate(stats=...)``): every per-path column, or
#: the lean ones only (pnl, final_q, max_abs_q, fills, spread_mean; :mod:`flatbook.sim.simulator`)
STATS = ("full", "lean")


def check_stats(stats: object, field: str = "stats") -> str:
    """``stats`` if it is one of :data:`STATS`, else an :class:`InputError` naming ``field``."""
    if stats not in STATS:
        raise InputError(field, f"expected one of {', '.join(STATS)}; got {stats!r}")
    return str(stats)


def bound_text(x: float) -> str:
    """A bound for people: 1e9, not 1e+09."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


@dataclass(frozen=True)
class Param:
    """Specification of one parameter.

    Numbers are finite and within [lo, hi] (``lo_open``: > lo). A parameter whose default is
    +inf ("off": no limit, no zone, no event) also takes ``inf``; no other takes a non-finite value.
    """

    name: str
    group: str  # run | policy | market | controls | hedging | costs
    unit: str
    default: float | str
    doc: str
    lo: float = -BIG  # inclusive bounds for numbers
    hi: float = BIG
    lo_open: bool = False  # True: value must be > lo
    choices: tuple[str, ...] = ()
    integer: bool = False

    @property
    def inf_allowed(self) -> bool:
        """Does ``inf`` (= off) mean something here? True when the default is +inf."""
        return isinstance(self.default, float) and math.isinf(self.default)

    def allowed(self) -> str:
        """Human-readable allowed values."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        lo = f"> {bound_text(self.lo)}" if self.lo_open else f">= {bound_text(self.lo)}"
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {lo} and <= {bound_text(self.hi)}" + (", or inf (off)" if self.inf_allowed else "")

    def parse(self, raw: Any) -> float | str:
        """Parse and range-check ``raw`` (any value: TOML, ``--set`` text, Python); raise :class:`InputError`
        naming the field."""
        if self.choices:
            choice = str(raw).strip().lower()
            if choice not in self.choices:
                raise unknown(self.name, "value", raw, self.choices)
            return choice
        if isinstance(raw, bool):
            raise InputError(self.name, f"got {raw!r}; allowed: {self.allowed()} ({self.unit})")
        try:
            val = float(raw)  # accepts 'inf'
        except (TypeError, ValueError):
            raise InputError(self.name, f"got {raw!r}, not a number; allowed: {self.allowed()} ({self.unit})") from None
        if val == INF and self.inf_allowed:
            return val
        bad = not math.isfinite(val) or val < self.lo or val > self.hi or (self.lo_open and val <= self.lo)
        if self.integer and not bad and val != int(val):
            bad = True
        if bad:
            raise InputError(self.name, f"got {raw!r}; allowed: {self.allowed()} ({self.unit})")
        return float(int(val)) if self.integer else val


ZONE_ACTIONS = ("none", "widen", "skew", "hedge", "flatten")

_P = [
    # --- run / time grid
    Param("T", "run", "time units", 1.0, "horizon: the session length", lo=TINY, hi=BIG),
    Param("dt", "run", "time units", 0.005, "time step", lo=TINY, hi=BIG),
    Param("s0", "run", "price units", 100.0, "initial mid price", lo=TINY, hi=BIG),
    Param("q0", "run", "lots", 0.0, "initial inventory", hi=BIG, lo=-BIG),
    # --- policy
    Param(
        "half_spread",
        "policy",
        "price units",
        0.5,
        "half-spread h around the centre (symmetric, linear-skew, stoll)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "skew",
        "policy",
        "price units per lot",
        0.01,
        "linear-skew strength (seed 001's k): centre = s − skew·(q − q_target)",
        lo=0.0,
        hi=BIG,
    ),
    Param("q_target", "policy", "lots", 0.0, "target inventory q* the quotes lean towards", hi=BIG, lo=-BIG),
    Param(
        "stoll_gamma",
        "policy",
        "price units per lot",
        0.001,
        "Stoll inventory-cost parameter g: centre shade 2g per lot, half-spread widening g per lot",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "gamma",
        "policy",
        "per (price unit × lot)",
        0.1,
        "CARA risk aversion γ (avellaneda-stoikov, glft)",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "variant",
        "policy",
        "-",
        "finite",
        "avellaneda-stoikov horizon: finite (τ = T − t) or stationary (τ = horizon, rolling)",
        choices=("finite", "stationary"),
    ),
    Param(
        "horizon",
        "policy",
        "time units",
        1.0,
        "rolling horizon τ of the stationary avellaneda-stoikov variant",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "solution",
        "policy",
        "-",
        "closed",
        "glft: closed-form asymptotic quotes or the exact finite-horizon ODE solution",
        choices=("closed", "exact"),
    ),
    # --- market: mid price
    Param(
        "sigma",
        "market",
        "price units per √time unit",
        2.0,
        "mid-price volatility (for gbm: at s0, i.e. relative vol = sigma/s0)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "mid_model",
        "market",
        "-",
        "binomial",
        "mid-price model: binomial (±σ√dt, A–S 2008 §3), abm (Gaussian) or gbm",
        choices=("binomial", "abm", "gbm"),
    ),
    Param("jump_rate", "market", "per time unit", 0.0, "Poisson rate of price jumps (gap events)", lo=0.0, hi=BIG),
    Param("jump_mean", "market", "price units", 0.0, "mean jump size", hi=BIG, lo=-BIG),
    Param("jump_std", "market", "price units", 0.0, "jump size standard deviation", lo=0.0, hi=BIG),
    Param(
        "regime_sigma_mult",
        "market",
        "×",
        1.0,
        "volatility multiplier in the high-volatility regime (1 = no regimes)",
        lo=0.0,
        hi=BIG,
    ),
    Param("regime_up_rate", "market", "per time unit", 0.0, "switching rate calm → volatile", lo=0.0, hi=BIG),
    Param("regime_down_rate", "market", "per time unit", 0.0, "switching rate volatile → calm", lo=0.0, hi=BIG),
    # --- market: order flow
    Param(
        "flow",
        "market",
        "-",
        "intensity",
        "order flow: intensity (A–S: each side fills w.p. min(1, A·e^(−kδ)·dt)) or orders (one market order per step, seed 000)",
        choices=("intensity", "orders"),
    ),
    Param("A", "market", "per time unit", 140.0, "fill intensity at zero depth, λ(δ) = A·e^(−kδ)", lo=0.0, hi=BIG),
    Param(
        "k", "market", "per price unit", 1.5, "decay of fill intensity with depth, λ(δ) = A·e^(−kδ)", lo=TINY, hi=BIG
    ),
    Param(
        "flow_bias",
        "market",
        "probability",
        0.0,
        "orders flow: buy probability is 0.5 + flow_bias + μ (μ redrawn)",
        lo=-0.5,
        hi=0.5,
    ),
    Param(
        "flow_bias_std",
        "market",
        "probability",
        0.0,
        "orders flow: std of μ, redrawn every flow_regime_steps steps",
        lo=0.0,
        hi=1.0,
    ),
    Param(
        "flow_regime_steps",
        "market",
        "steps",
        100.0,
        "orders flow: steps between redraws of μ",
        lo=1.0,
        integer=True,
        hi=BIG,
    ),
    Param("order_size_mean", "market", "lots", 1.0, "orders flow: mean market-order size", lo=TINY, hi=BIG),
    Param(
        "order_size_dist",
        "market",
        "-",
        "fixed",
        "orders flow: order size fixed or exponential",
        choices=("fixed", "exponential"),
    ),
    Param(
        "informed_frac",
        "market",
        "probability",
        0.0,
        "fraction of fills followed by an adverse price move (informed flow)",
        lo=0.0,
        hi=1.0,
    ),
    Param("informed_move", "market", "price units", 0.0, "size of that move, in the taker's direction", lo=0.0, hi=BIG),
    Param(
        "market_spread",
        "market",
        "price units",
        INF,
        "the market's own quoted spread around the mid (inf = not modelled); quotes never cross it",
        lo=0.0,
        hi=BIG,
    ),
    # --- controls
    Param(
        "limit",
        "controls",
        "lots",
        INF,
        "hard limit Q_max on |q|: at the limit only the flattening side is quoted; sizes never let a fill pass it",
        lo=TINY,
        hi=BIG,
    ),
    Param("size", "controls", "lots", 1.0, "quote size per side", lo=TINY, hi=BIG),
    Param("yellow", "controls", "lots", INF, "yellow-zone threshold on |q|", lo=0.0, hi=BIG),
    Param("red", "controls", "lots", INF, "red-zone threshold on |q|", lo=0.0, hi=BIG),
    Param("critical", "controls", "lots", INF, "critical-zone threshold on |q|", lo=0.0, hi=BIG),
    Param("yellow_action", "controls", "-", "widen", "action in the yellow zone", choices=ZONE_ACTIONS),
    Param(
        "red_action",
        "controls",
        "-",
        "hedge",
        "action in the red zone (hedge = raise a hedge request)",
        choices=ZONE_ACTIONS,
    ),
    Param(
        "critical_action",
        "controls",
        "-",
        "flatten",
        "action in the critical zone (flatten = quote the flattening side only)",
        choices=ZONE_ACTIONS,
    ),
    Param("zone_widen", "controls", "×", 1.5, "half-spread multiplier of the widen action", lo=1.0, hi=BIG),
    Param("zone_skew", "controls", "×", 2.0, "skew multiplier of the skew action", lo=1.0, hi=BIG),
    Param(
        "max_loss",
        "controls",
        "price units × lots",
        INF,
        "kill switch: stop quoting and flatten when PnL <= −max_loss",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "max_drawdown",
        "controls",
        "price units × lots",
        INF,
        "kill switch: stop quoting and flatten when PnL falls this far below its peak",
        lo=TINY,
        hi=BIG,
    ),
    Param("tick", "controls", "price units", 0.0, "tick size: bids round down, asks up (0 = none)", lo=0.0, hi=BIG),
    Param("min_spread", "controls", "price units", 0.0, "minimum quoted spread ask − bid", lo=0.0, hi=BIG),
    # --- hedging (flatbook.hedging.model)
    Param(
        "hedge_trigger",
        "hedging",
        "-",
        "none",
        "when a hedge starts: none, threshold (|x − q*| > hedge_threshold), urgency (α·|x − q*|·σ² ≥ 1, seed 000) or zone (a hedge request of the soft-limit zones)",
        choices=("none", "threshold", "urgency", "zone"),
    ),
    Param(
        "hedge_threshold",
        "hedging",
        "lots",
        INF,
        "threshold trigger on the exposure's distance from the target, |x − q*|",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_urgency",
        "hedging",
        "per (lot × price unit² per time unit)",
        0.0,
        "urgency trigger α: hedge when α·|x − q*|·σ² ≥ 1",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_sizing",
        "hedging",
        "-",
        "target",
        "hedge size: all the way to the target, a fraction of the distance, or down to the band edge",
        choices=("target", "fraction", "band"),
    ),
    Param(
        "hedge_fraction", "hedging", "fraction", 1.0, "fraction of |x − q*| hedged (sizing fraction)", lo=TINY, hi=1.0
    ),
    Param("hedge_band", "hedging", "lots", 0.0, "sizing band: hedge down to |x − q*| = hedge_band", lo=0.0, hi=BIG),
    Param(
        "hedge_target_mode",
        "hedging",
        "-",
        "fixed",
        "target q*: fixed (q_target) or cost (the critical fractile of the carry costs: leans long when shorts cost more)",
        choices=("fixed", "cost"),
    ),
    Param(
        "hedge_q_std",
        "hedging",
        "lots",
        1.0,
        "cost-mode target: std of inventory around its target, q* = hedge_q_std·Φ⁻¹(c_short/(c_long + c_short))",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "hedge_exec",
        "hedging",
        "-",
        "immediate",
        "execution: immediate (market order), twap, vwap or almgren-chriss over hedge_horizon",
        choices=("immediate", "twap", "vwap", "almgren-chriss"),
    ),
    Param(
        "hedge_horizon",
        "hedging",
        "time units",
        0.05,
        "length of a twap / vwap / almgren-chriss hedge (a position over the trigger is brought under it within this time)",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "hedge_half_spread",
        "hedging",
        "price units (hedge instrument)",
        0.1,
        "half-spread ε paid per lot by hedge market orders",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_eta",
        "hedging",
        "price units per (lot per time unit)",
        0.0,
        "temporary impact η: a child order of n lots in dt pays η·|n|/dt per lot (Almgren–Chriss 2000)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_impact",
        "hedging",
        "-",
        "linear",
        "temporary impact law: linear (η·|n|/dt) or sqrt (hedge_sqrt_y·σ·√(|n|/(market_volume·dt)))",
        choices=("linear", "sqrt"),
    ),
    Param("hedge_sqrt_y", "hedging", "×", 1.0, "square-root law coefficient Y", lo=0.0, hi=BIG),
    Param(
        "hedge_perm",
        "hedging",
        "price units per lot",
        0.0,
        "permanent impact γ: each hedge lot moves the hedge instrument's mid by γ",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_decay",
        "hedging",
        "time units",
        0.0,
        "half-life over which temporary impact decays (0: the price recovers at once)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_risk_aversion",
        "hedging",
        "per price unit",
        1e-3,
        "Almgren–Chriss risk aversion λ of the hedge schedule",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "market_volume",
        "hedging",
        "lots per time unit",
        INF,
        "market volume of the hedge instrument (VWAP, participation cap, square-root law)",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "volume_curve",
        "hedging",
        "-",
        "u",
        "intraday volume curve over each session: flat or u (U-shaped)",
        choices=("flat", "u"),
    ),
    Param(
        "hedge_participation",
        "hedging",
        "fraction",
        1.0,
        "participation cap: a child order is at most this fraction of the market volume in its step",
        lo=TINY,
        hi=1.0,
    ),
    Param(
        "hedge_instrument",
        "hedging",
        "-",
        "same",
        "hedge in the same instrument, or in a correlated proxy (ΔH = hedge_beta·ΔS + basis noise)",
        choices=("same", "proxy"),
    ),
    Param("hedge_beta", "hedging", "×", 1.0, "proxy: price move of H per unit move of S", lo=TINY, hi=BIG),
    Param(
        "hedge_basis_sigma",
        "hedging",
        "price units (H) per √time unit",
        0.0,
        "proxy: volatility σ_b of the basis H − β·S (its diffusion coefficient; with a finite hedge_basis_halflife an OU process)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "hedge_basis_halflife",
        "hedging",
        "time units",
        INF,
        "proxy: half-life of the basis H − β·S, an Ornstein–Uhlenbeck process that reverts to its start (stationary std hedge_basis_sigma/√(2·ln2/half-life)); inf: a random walk, the 'basis breaks' stress case",
        lo=TINY,
        hi=BIG,
    ),
    Param("hedge_s0", "hedging", "price units (H)", 100.0, "proxy: initial price of H", lo=TINY, hi=BIG),
    Param(
        "option_type",
        "hedging",
        "-",
        "none",
        "an option position held with the inventory (a hedge or inventory): none, call or put; the policy and the limits then see the delta-equivalent inventory q + option_lots·Δ",
        choices=("none", "call", "put"),
    ),
    Param(
        "option_lots",
        "hedging",
        "lots",
        0.0,
        "the option position, in lots of the underlying (negative = short)",
        hi=BIG,
        lo=-BIG,
    ),
    Param("option_strike", "hedging", "price units", 100.0, "strike K", lo=TINY, hi=BIG),
    Param(
        "option_vol",
        "hedging",
        "fraction per √time unit",
        0.02,
        "Black–Scholes implied volatility σ (relative)",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "option_expiry",
        "hedging",
        "time units",
        1.0,
        "expiry, from the start (≥ T: the option lives through the run)",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "session_length",
        "hedging",
        "time units",
        INF,
        "daily reset: a session closes every session_length; the book is flat at each close",
        lo=TINY,
        hi=BIG,
    ),
    Param(
        "session_flatten",
        "hedging",
        "time units",
        0.0,
        "daily reset: quoting is flatten-only and the hedge flattens from this long before each close",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "event_time",
        "market",
        "time units",
        INF,
        "a scheduled event (earnings): the mid gaps at this time",
        lo=0.0,
        hi=BIG,
    ),
    Param("event_jump_mean", "market", "price units", 0.0, "mean of the scheduled gap", hi=BIG, lo=-BIG),
    Param("event_jump_std", "market", "price units", 0.0, "std of the scheduled gap", lo=0.0, hi=BIG),
    Param(
        "pause_before",
        "controls",
        "time units",
        0.0,
        "pause: quote only the flattening side from this long before event_time until it (0 = hold through)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "pause_flatten",
        "controls",
        "-",
        "no",
        "pause: also flatten with a market order when the pause starts",
        choices=("no", "yes"),
    ),
    # --- costs
    Param(
        "financing_long",
        "costs",
        "price units per lot per time unit",
        0.0,
        "financing cost of a long position (cost of capital)",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "financing_short",
        "costs",
        "price units per lot per time unit",
        0.0,
        "borrow fee of a short position, easy-to-borrow tier",
        lo=0.0,
        hi=BIG,
    ),
    Param(
        "borrow_htb",
        "costs",
        "price units per lot per time unit",
        0.0,
        "borrow fee, hard-to-borrow tier: on the part of a short beyond htb_above",
        lo=0.0,
        hi=BIG,
    ),
    Param("htb_above", "costs", "lots", INF, "short size beyond which the hard-to-borrow fee applies", lo=0.0, hi=BIG),
    Param(
        "funding_rate",
        "costs",
        "fraction of notional per time unit",
        0.0,
        "perpetual funding on the perp leg (the hedge leg of a proxy hedge, else the inventory): longs pay when > 0",
        lo=-1.0,
        hi=1.0,
    ),
    Param(
        "haircut",
        "costs",
        "fraction of notional",
        0.0,
        "haircut on the inventory (|q|·s), held as capital",
        lo=0.0,
        hi=1.0,
    ),
    Param(
        "hedge_margin",
        "costs",
        "fraction of notional",
        0.0,
        "margin on the hedge leg (|y|·h), held as capital",
        lo=0.0,
        hi=1.0,
    ),
    Param(
        "capital_rate", "costs", "per time unit", 0.0, "cost of the capital held for haircut and margin", lo=0.0, hi=BIG
    ),
    Param("maker_fee", "costs", "price units per lot", 0.0, "fee per lot filled (negative = rebate)", hi=BIG, lo=-BIG),
    Param(
        "markout_steps",
        "costs",
        "steps",
        1.0,
        "PnL attribution: a fill's markout over this many steps counts as adverse selection",
        lo=1.0,
        hi=1000.0,
        integer=True,
    ),
    Param(
        "maker_fee_bps",
        "costs",
        "basis points of notional",
        0.0,
        "maker fee per fill as a fraction of price × quantity (negative = rebate; backtest)",
        lo=-100.0,
        hi=100.0,
    ),
    Param("taker_fee", "costs", "price units per lot", 0.0, "fee per lot taken (hedges, liquidation)", lo=0.0, hi=BIG),
    Param(
        "taker_fee_bps",
        "costs",
        "basis points of notional",
        0.0,
        "taker fee as a fraction of price × quantity (hedges, liquidation)",
        lo=0.0,
        hi=100.0,
    ),
]

PARAMS: dict[str, Param] = {p.name: p for p in _P}
assert len(PARAMS) == len(_P)


#: The typed parameter groups (:mod:`flatbook.paramgroups`), in the order of a run config's TOML sections.
GROUPS = ("run", "policy", "market", "controls", "hedge", "costs")
#: A registry tag that differs from its group's name (``Param.group`` keeps the tag ``flatbook params`` prints).
_TAG_GROUP = {"hedging": "hedge"}


def group_of(name: str) -> str:
    """The group (one of :data:`GROUPS`) of the registry parameter ``name``."""
    tag = PARAMS[name].group
    return _TAG_GROUP.get(tag, tag)


def names_in(group: str) -> tuple[str, ...]:
    """The registry parameters of ``group``, in registry order (user-policy parameters last)."""
    return tuple(n for n in PARAMS if group_of(n) == group)


def _unknown_param(field: str, name: str) -> InputError:
    return unknown(field, "parameter", name, PARAMS, list_all=False, see="see 'flatbook params'")


def resolve(key: str, field: str | None = None) -> str:
    """The registry name of ``key``: a short name (``limit``) or a dotted long name (``controls.limit``).

    Short names are unique (one registry; a user policy's parameter whose name is already there *is*
    that parameter), so a short name is never ambiguous. An unknown name, an unknown group or a name
    in the wrong group raises :class:`InputError` naming ``field`` (default: ``key``) with "did you mean …?".
    """
    key = key.strip()
    field = key if field is None else field
    group, dot, name = key.rpartition(".")
    if not dot:
        if name not in PARAMS:
            raise _unknown_param(field, name)
        return name
    if group not in GROUPS:
        raise unknown(field, "group", group, GROUPS, see="a long name is group.name, e.g. controls.limit")
    if name not in PARAMS:
        pool = names_in(group) if did_you_mean(name, names_in(group)) else PARAMS
        raise unknown(field, "parameter", name, pool, list_all=False, see="see 'flatbook params'")
    if group_of(name) != group:
        raise InputError(field, f"unknown key; {name} is in [{group_of(name)}]")
    return name


def parse_value(name: str, raw: object) -> float | str:
    """Parse one ``name=value`` setting (``name`` short or dotted, see :func:`resolve`); unknown names
    raise :class:`InputError`."""
    return PARAMS[resolve(name)].parse(raw)


def defaults() -> dict[str, Any]:
    """The registry's defaults, name → value."""
    return {p.name: p.default for p in _P}
