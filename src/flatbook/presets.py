"""Named market set-ups: values over the registry defaults, and their time unit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .suggest import unknown


def _as2008_derive(v: dict, user: set[str]) -> None:
    """A–S 2008 §3.2: the benchmark quotes at the time-average A–S spread.

    Unless set by the user: half_spread = γσ²T/4 + ln(1+γ/k)/γ; linear-skew's
    ``skew`` = γσ²T/2 (the time-average of A–S's slope γσ²(T−t)); Stoll's
    ``stoll_gamma`` = γσ²T/4 (so that its centre shade 2g equals that slope).
    """
    g, sig, k, T = v["gamma"], v["sigma"], v["k"], v["T"]
    if "half_spread" not in user:
        # lazy: start-up (the policy module compiles with numba; presets are read by 'flatbook --help')
        from .policies.avellaneda_stoikov import time_average_half_spread

        v["half_spread"] = time_average_half_spread(g, sig, k, T)
    if "skew" not in user:
        v["skew"] = g * sig * sig * T / 2.0
    if "stoll_gamma" not in user:
        v["stoll_gamma"] = g * sig * sig * T / 4.0


@dataclass(frozen=True)
class Preset:
    """A preset: description, source, time unit and parameter values."""

    name: str
    description: str
    source: str
    time_unit: str
    values: Mapping[str, Any]  # as config.RunConfig.values: float, or str for a choice parameter
    derive: Callable[[dict, set[str]], None] | None = field(default=None, repr=False)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "as2008",
            "Avellaneda & Stoikov (2008) §3: binomial mid, Poisson fills λ(δ)=A·e^(−kδ), PnL marked at the mid at T. "
            "symmetric/linear-skew/stoll default to the time-average A–S spread and slope for the same γ.",
            "Avellaneda & Stoikov, Quantitative Finance 8(3), 2008, §3",
            "session (T = 1)",
            dict(
                s0=100.0,
                T=1.0,
                sigma=2.0,
                dt=0.005,
                k=1.5,
                A=140.0,
                q0=0.0,
                gamma=0.1,
                mid_model="binomial",
                flow="intensity",
                size=1.0,
            ),
            _as2008_derive,
        ),
        Preset(
            "worked-example",
            "Seed 001's worked example: mid fixed at 100, half-spread 0.05, 60% sells / 40% buys of 1 lot, "
            "skew 0.01 per lot; about 200 fills. Fills are likelier the closer the quote is to the mid "
            "(A·e^(−kδ)·dt with A·dt = 1, k = 3 per price unit). Set limit=30 for the hard-limit variant.",
            "seed 001 (inventory-skew-explainer), 'Worked example'",
            "market-order arrival (dt = 1)",
            dict(
                s0=100.0,
                sigma=0.0,
                T=235.0,
                dt=1.0,
                half_spread=0.05,
                skew=0.01,
                flow="orders",
                flow_bias=-0.1,
                flow_bias_std=0.0,
                order_size_dist="fixed",
                order_size_mean=1.0,
                size=1.0,
                A=1.0,
                k=3.0,
                mid_model="abm",
                gamma=0.1,
            ),
        ),
        Preset(
            "mini-project",
            "Seed 000's mini-project: 2000 periods, GBM mid with 1.5% daily vol (σ = 100·0.015/√252 per period), "
            "one market order per period, exponential sizes (mean 10), buy bias μ ~ N(0, 0.1²) redrawn every 100 "
            "periods, Stoll quotes (half-spread 0.1, g = 0.0005), financing 0.00005 per share per period, limit 500, "
            "red zone at 150 raising hedge requests.",
            "seed 000 (inventory-management-framework), section 5",
            "period (dt = 1)",
            dict(
                s0=100.0,
                T=2000.0,
                dt=1.0,
                sigma=100.0 * 0.015 / math.sqrt(252.0),
                mid_model="gbm",
                flow="orders",
                order_size_dist="exponential",
                order_size_mean=10.0,
                flow_bias=0.0,
                flow_bias_std=0.1,
                flow_regime_steps=100.0,
                A=1.0,
                k=5.0,
                half_spread=0.1,
                stoll_gamma=0.0005,
                financing_long=0.00005,
                financing_short=0.00005,
                limit=500.0,
                size=1000.0,
                red=150.0,
                red_action="hedge",
                gamma=0.1,
            ),
        ),
        Preset(
            "hedging",
            "A crypto maker long spot BTC, hedged in the USDⓈ-M perpetual (a proxy: H = β·S + basis): "
            "linear-skew quotes on the hedged exposure, fills λ(δ) = A·e^(−kδ) with A, k, σ as calibrated on the "
            "Binance capture in ../shared/data. The basis H − S is an Ornstein–Uhlenbeck process fitted on the two "
            "simultaneous captures (flatbook.hedging.basis.estimate_basis_ou, 1 s grid, 344 steps): half-life "
            "1.09 ± 0.15 s, σ_b = 4.04 ± 0.21 USD/√s (std 3.6 USD), the perp 23 USD below spot; β = 1 (spot and "
            "its perp are tied one for one by funding; the 1 s regression β = 0.96 ± 0.05 is the fast basis noise). "
            "A hedge when the exposure passes 0.05 BTC, worked by TWAP over 10 s; perp funding 0.01% per 8 h, spot "
            "financing 5% a year. --set hedge_basis_halflife=inf is the 'basis breaks' stress case (a random walk).",
            "this project; parameters from flatbook calibrate and flatbook.hedging.basis on the 2024-08-08 capture",
            "second (dt = 0.5)",
            dict(
                s0=61830.0,
                T=1800.0,
                dt=0.5,
                sigma=7.0,
                mid_model="abm",
                flow="intensity",
                A=1.5,
                k=0.38,
                q0=0.2,
                half_spread=1.5,
                skew=20.0,
                size=0.01,
                limit=1.0,
                gamma=0.1,
                hedge_trigger="threshold",
                hedge_threshold=0.05,
                hedge_sizing="target",
                hedge_exec="twap",
                hedge_horizon=10.0,
                hedge_half_spread=0.05,
                hedge_instrument="proxy",
                hedge_beta=1.0,
                hedge_basis_sigma=4.04,
                hedge_basis_halflife=1.09,
                hedge_s0=61807.0,
                funding_rate=0.0001 / 28800.0,
                financing_long=0.05 * 61830.0 / (365.25 * 86400.0),
                market_volume=20.0,
                hedge_participation=0.2,
            ),
        ),
        Preset(
            "earnings-gap",
            "An equity maker through an earnings release (seed 000's edge case): the mid gaps with std 5 at "
            "t = 1 day. Compare holding through (pause_before=0) with pausing the quotes and flattening "
            "30 minutes before (--set pause_before=0.0769 --set pause_flatten=yes).",
            "seed 000 (inventory-management-framework), edge cases",
            "trading day (dt = 1 minute of 390)",
            dict(
                s0=100.0,
                T=2.0,
                dt=1.0 / 390.0,
                sigma=2.0,
                mid_model="abm",
                flow="intensity",
                A=300.0,
                k=20.0,
                half_spread=0.05,
                skew=0.002,
                size=1.0,
                limit=50.0,
                gamma=0.1,
                event_time=1.0,
                event_jump_std=5.0,
                hedge_half_spread=0.02,
            ),
        ),
        Preset(
            "replay",
            "Real data (flatbook backtest / calibrate): time unit 1 second; quantities in the instrument's "
            "units. Unless set, T, s0, tick, size, half_spread, skew, stoll_gamma, limit, sigma, A, k and "
            "gamma are derived from the data (flatbook.backtest.backtester.data_defaults).",
            "this project",
            "second (dt = 1)",
            dict(dt=1.0, T=3600.0, mid_model="abm", flow="intensity"),
        ),
    )
}


def preset(name: str) -> Preset:
    """Look up a preset, or raise :class:`~flatbook.errors.InputError` with "did you mean …?"."""
    p = PRESETS.get(name)
    if p is None:
        raise unknown("preset", "preset", name, PRESETS)
    return p
