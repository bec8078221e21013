"""All of the calibration from one event table, JSON-ready, with ``--set`` values.

- σ: realised volatility of the mid (:mod:`flatbook.estimators.volatility`), reported per second,
  day and year, and per time unit as ``sigma`` = σ_s·√time_unit_s.
- A, k: λ(δ) = A·e^(−kδ) per side and pooled above the touch, and pooled near
  the touch (:mod:`flatbook.estimators.intensity`); ``A`` per time unit = A_s·time_unit_s, ``k``
  per price unit. The values suggested for the policies are the near-touch
  law's (``quoting_law`` = ``"touch"``) when it is fitted, else the pooled law's:
  a policy quotes δ ≈ 1/k from the mid, and a tail law fitted beyond the touch
  puts quotes where only deep sweeps reach them (on Binance BTCUSDT 1/k is
  2.6 USDT against a 0.1 USDT spread).
- OU κ and half-life of an inventory path, when one is given: the path is
  previous-tick sampled on the volatility grid and fitted by
  :func:`flatbook.estimators.ou.ou_fit` (AR(1) with a Dickey–Fuller test).
- γ for a target inventory std, when one is given (:mod:`.gamma_target`), for
  the policy as the backtest will run it on this data: avellaneda-stoikov in
  its stationary variant (rolling horizon τ = ``horizon``, default 60 s: a
  finite horizon spanning the whole tape makes γσ²(T − t) dwarf the spread),
  or glft; quote size, hard limit, tick and s0 as the backtest derives them
  from the data (:func:`flatbook.backtest.backtester.data_defaults`) unless
  given; a run as long as the data. The matched statistic is ``q_std_mean``,
  the time-std of q along a path averaged over the paths, which is the
  backtest's ``q_std`` on one path; target and statistic are in the data's
  quantity units. The suggestion, in the replay's time unit of 1 s
  (``backtest_set``), is then replayed on the data (``backtest_check``: fills,
  spreads, q_std and the backtest's own warnings).

Warnings (list of strings): pieces that failed, k differing between the sides
by more than 3 SEs, the fitted law's rate at the floor off the observed one by
more than a factor 2 (``floor_ratio`` outside [0.5, 2]: the reaches are not
exponential near the touch), and mid increments with lag-1 autocorrelation
below −0.2 (microstructure noise). These thresholds are for the warnings only.

``set``: the values the policies take, in their units with the time unit
stated (``sigma`` price units per √time unit, ``A`` per time unit, ``k`` per
price unit, ``gamma`` per price unit·quantity unit, ``horizon`` time units,
``size`` and ``limit`` quantity units, ``variant``), only for the pieces that
are ok; ``set_args`` the same as ``key=value`` strings for ``--set``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..backtest.backtester import data_defaults, replay_config, run_backtest
from ..estimators.intensity import fit_intensity
from ..estimators.ou import inventory_ou
from ..estimators.volatility import realized_volatility
from . import CalibrationError, jsonable
from .gamma_target import POLICIES, suggest_gamma

DEFAULT_HORIZON_S = 60.0  # the stationary A–S variant's rolling horizon τ unless given (seconds)


def calibrate(
    ev,
    *,
    time_unit_s: float = 1.0,
    grid_s: float = 1.0,
    target_q_std: float | None = None,
    T: float | None = None,
    dt: float | None = None,
    policy: str = "avellaneda-stoikov",
    horizon: float | None = None,
    size: float | None = None,
    limit: float | None = None,
    paths: int = 200,
    seed: int = 0,
    inventory=None,
    delta0: float | None = None,
    floor_quantile: float = 0.05,
    lattice: float | str = "auto",
    min_trades: int = 30,
    min_tail: int = 10,
    group_sweeps: bool = True,
    level: float = 0.95,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Calibrate σ, A, k (and optionally OU κ and γ) from an :class:`~flatbook.data.events.EventTable`.

    ``time_unit_s``: seconds per simulator time unit (A per time unit, σ per √time unit).
    ``grid_s``: the volatility sampling grid (seconds). ``inventory``: optional (ts_ns, q)
    arrays for the OU fit. ``target_q_std`` (quantity units): suggest γ for ``policy``
    from ``paths`` simulated paths of length ``T`` (time units; default the data's span)
    with step ``dt`` (default T/max(200, ⌈2AT⌉), so that A·dt <= 0.5); ``horizon``: the
    rolling horizon τ of avellaneda-stoikov's stationary variant (time units; default
    60 s); ``size``, ``limit``: quote size and hard limit (quantity units; default the
    backtest's defaults for this data, 100 lots and 20 × that). ``progress``: called with a short status line
    before each simulation of the γ search.
    The intensity options are those of :func:`~flatbook.estimators.intensity.fit_reach`.
    """
    if not (isinstance(time_unit_s, (int, float)) and math.isfinite(time_unit_s) and time_unit_s > 0):
        raise CalibrationError("time_unit_s", f"must be a positive number of seconds; got {time_unit_s!r}")
    if policy not in POLICIES:
        raise CalibrationError("policy", f"must be one of {', '.join(POLICIES)}; got {policy!r}")
    for name, v in (("T", T), ("horizon", horizon), ("size", size), ("limit", limit)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise CalibrationError(name, f"must be a finite number > 0; got {v!r}")
    if horizon is not None and policy != "avellaneda-stoikov":
        raise CalibrationError("horizon", f"{policy} has no horizon (its closed form is the stationary one)")
    warnings: list[str] = []
    vol = realized_volatility(ev, grid_s=grid_s)
    inten = fit_intensity(
        ev,
        time_unit_s=time_unit_s,
        delta0=delta0,
        floor_quantile=floor_quantile,
        lattice=lattice,
        min_trades=min_trades,
        min_tail=min_tail,
        group_sweeps=group_sweeps,
        level=level,
    )
    sig_tu = vol.per_time_unit(time_unit_s) if vol.ok else math.nan
    pooled, quoting = inten.pooled, inten.quoting
    law = "touch" if quoting is inten.touch else "pooled"
    out: dict = {
        "instrument": ev.meta.instrument,
        "source": ev.meta.source,
        "price_unit": ev.meta.price_unit,
        "qty_unit": ev.meta.qty_unit,
        "tick_size": ev.meta.tick_size,
        "time_unit": {"seconds": time_unit_s, "label": f"{time_unit_s:g} s"},
        "window": {
            "start_ns": int(ev.ts[0]) if len(ev) else None,
            "end_ns": int(ev.ts[-1]) if len(ev) else None,
            "duration_s": inten.reach["duration_s"],
            "events": len(ev),
            "trades": int(ev.is_trade.sum()),
        },
        "volatility": {**vol.as_dict(), "sigma_per_time_unit": sig_tu},
        "intensity": inten.as_dict(),
        "quoting_law": law,
    }
    if not vol.ok:
        warnings.append(f"volatility: {vol.reason}")
    for side in (inten.bid, inten.ask, pooled):
        if not side.ok:
            warnings.append(f"intensity, {side.side} side: {side.reason}")
    if inten.bid.ok and inten.ask.ok:
        diff = inten.bid.k - inten.ask.k
        z = diff / math.hypot(inten.bid.k_se, inten.ask.k_se)
        if abs(z) > 3:
            warnings.append(
                f"k differs between the sides ({inten.bid.k:.4g} bid, {inten.ask.k:.4g} ask; "
                f"z = {z:.2g}): the pooled fit averages an asymmetric market"
            )
    if pooled.ok and not 0.5 <= pooled.floor_ratio <= 2.0:
        t = inten.touch
        warnings.append(
            f"the law fitted above the touch predicts {1 / pooled.floor_ratio:.2g}× the observed rate "
            f"of orders reaching the floor δ = {pooled.floor:.4g}"
            " (the touch): the reach distribution is not exponential there (most orders stop at "
            "the touch, a few sweep deep)"
            + (
                f"; the suggested A and k are the law near the touch (δ up to "
                f"{t.floor + t.window * t.lattice:.4g}, k = {t.k:.4g} against {pooled.k:.4g} above it)"
                if law == "touch" and t is not None
                else "; the suggested A and k are that tail law: quotes ≈ 1/k deep"
            )
        )
    if vol.ok and vol.acf1 < -0.2:
        warnings.append(
            f"mid increments at {grid_s:g} s have lag-1 autocorrelation {vol.acf1:.2f}: "
            "microstructure noise inflates σ; try a coarser grid_s"
        )
    out["inventory_ou"] = (
        None if inventory is None else inventory_ou(inventory[0], inventory[1], grid_s=grid_s, time_unit_s=time_unit_s)
    )
    gamma, run = None, None
    if target_q_std is not None:
        if not (vol.ok and quoting.ok):
            why = "; ".join(r for r in (vol.reason, quoting.reason) if r)
            out["gamma"] = {"ok": False, "reason": f"σ, A and k are needed first ({why})"}
        else:
            run = _gamma_run(ev, policy, time_unit_s, T, horizon, size, limit, quoting.A, dt)
            gamma = suggest_gamma(
                sig_tu,
                quoting.A,
                quoting.k,
                run["T"],
                run["dt"],
                target_q_std,
                policy=policy,
                statistic="q_std_mean",
                paths=paths,
                seed=seed,
                overrides=run["overrides"],
                progress=progress,
                unit=ev.meta.qty_unit,
            )
            out["gamma"] = {**gamma.as_dict(), "run": run}
            if not gamma.ok:
                warnings.append(f"gamma: {gamma.reason}")
    else:
        out["gamma"] = None
    st: dict = {}
    if vol.ok:
        st["sigma"] = sig_tu
    if quoting.ok:
        st["A"] = quoting.A
        st["k"] = quoting.k
    if gamma is not None and gamma.ok and run is not None:
        st["gamma"] = gamma.gamma
        st.update({k: v for k, v in run["overrides"].items() if k in ("variant", "horizon", "size", "limit")})
    out["set"] = st
    out["backtest_set"] = out["backtest_check"] = None
    if gamma is not None and gamma.ok:
        out["backtest_set"] = bst = _per_second(st, time_unit_s)
        out["backtest_check"] = chk = _backtest_check(ev, policy, bst)
        warnings += [f"backtest check: {w}" for w in chk["warnings"]]
        if not 0.5 <= chk["q_std"] / target_q_std <= 2.0:
            warnings.append(
                f"backtest check: the replay of this data with these values has q_std "
                f"{chk['q_std']:.4g} {ev.meta.qty_unit} against the target {target_q_std:g} (simulated "
                f"{gamma.achieved:.4g}): the simulated market (a random-walk mid, fills at rate "
                "A·e^(−kδ) independent of its moves) does not hold this tape's inventory dynamics; "
                "treat γ as a starting point"
            )
    out["set_args"] = [f"{key}={val:.6g}" if isinstance(val, float) else f"{key}={val}" for key, val in st.items()]
    out["units"] = {
        "sigma": f"price units per √({time_unit_s:g} s)",
        "A": f"per {time_unit_s:g} s",
        "k": "per price unit",
        "gamma": "per (price unit × quantity unit)",
        "delta": "price units",
        "q": "quantity units",
        "horizon": f"time units of {time_unit_s:g} s",
        "size": "quantity units",
        "limit": "quantity units",
    }
    out["warnings"] = warnings
    out["ok"] = bool(vol.ok and quoting.ok and (gamma is None or gamma.ok))
    return jsonable(out)


def _gamma_run(ev, policy: str, time_unit_s: float, T, horizon, size, limit, A: float, dt) -> dict:
    """The simulated run the γ search matches: as the backtest will run ``policy`` on ``ev``.

    T: the data's span (time units) unless given; dt: T/max(200, ⌈2AT⌉) unless given;
    overrides: size, limit, tick and s0 as given, else as :func:`data_defaults` derives them
    for the replay, and for avellaneda-stoikov variant=stationary with horizon τ.
    """
    d = data_defaults(ev, "linear-skew")
    span_tu = max((int(ev.ts[-1]) - int(ev.ts[0])) / 1e9 / time_unit_s, 1e-9)
    T_ = float(T) if T is not None else span_tu
    dt_ = float(dt) if dt is not None else T_ / max(200, math.ceil(2.0 * A * T_))
    size_ = float(size) if size is not None else d["size"]
    ov = {"size": size_, "limit": float(limit) if limit is not None else d["limit"], "tick": d["tick"], "s0": d["s0"]}
    run = {"T": T_, "dt": dt_, "overrides": ov}
    if policy == "avellaneda-stoikov":
        tau = float(horizon) if horizon is not None else DEFAULT_HORIZON_S / time_unit_s
        ov.update(variant="stationary", horizon=tau)
        run["horizon"] = tau
    return run


def _per_second(st: dict, time_unit_s: float) -> dict:
    """``st`` in the replay's time unit, 1 s: σ/√u, A/u, horizon·u for a time unit of u seconds."""
    f = {"sigma": 1.0 / math.sqrt(time_unit_s), "A": 1.0 / time_unit_s, "horizon": time_unit_s}
    return {k: v * f[k] if k in f else v for k, v in st.items()}


def _backtest_check(ev, policy: str, st: dict) -> dict:
    """The backtest of ``ev`` with the suggested values (zero latency, the replay's defaults
    otherwise): fills, mean quoted spread and depth, the market's mean spread (price units),
    q_std (quantity units) and the backtest's own warnings."""
    s = run_backtest(ev, replay_config(ev, policy, st)).summary
    keys = ("fills", "spread_mean", "quote_depth_mean", "market_spread_mean", "q_std", "max_abs_q", "pnl_final")
    return {**{k: s.get(k) for k in keys}, "latency_ms": 0.0, "warnings": list(s.get("warnings", []))}
