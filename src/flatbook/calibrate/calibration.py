"""All of the calibration from one event table, JSON-ready, with ``--set`` values.

- σ: realised volatility of the mid (:mod:`.volatility`), reported per second,
  day and year, and per time unit as ``sigma`` = σ_s·√time_unit_s.
- A, k: λ(δ) = A·e^(−kδ) per side and pooled (:mod:`.intensity`); ``A`` per
  time unit = A_s·time_unit_s, ``k`` per price unit.
- OU κ and half-life of an inventory path, when one is given: the path is
  previous-tick sampled on the volatility grid and fitted by
  :func:`flatbook.sim.metrics.ou_fit` (AR(1) with a Dickey–Fuller test).
- γ for a target inventory std, when one is given (:mod:`.gamma_target`).

Warnings (list of strings): pieces that failed, k differing between the sides
by more than 3 SEs, the fitted law's rate at the floor off the observed one by
more than a factor 2 (``floor_ratio`` outside [0.5, 2]: the reaches are not
exponential near the touch), and mid increments with lag-1 autocorrelation
below −0.2 (microstructure noise). These thresholds are for the warnings only.

``set``: the values the policies take, in their units with the time unit
stated (``sigma`` price units per √time unit, ``A`` per time unit, ``k`` per
price unit, ``gamma`` per price unit·lot), only for the pieces that are ok;
``set_args`` the same as ``key=value`` strings for ``--set``.
"""
from __future__ import annotations

import math

from . import CalibrationError, jsonable
from .intensity import fit_intensity
from .inventory import inventory_ou
from .gamma_target import suggest_gamma
from .volatility import realized_volatility


def calibrate(ev, *, time_unit_s: float = 1.0, grid_s: float = 1.0, target_q_std: float | None = None,
              T: float | None = None, dt: float | None = None, policy: str = "avellaneda-stoikov",
              paths: int = 4000, seed: int = 0, inventory=None, delta0: float | None = None,
              floor_quantile: float = 0.05, lattice: float | str = "auto", min_trades: int = 30,
              min_tail: int = 10, group_sweeps: bool = True, level: float = 0.95) -> dict:
    """Calibrate σ, A, k (and optionally OU κ and γ) from an :class:`~flatbook.data.events.EventTable`.

    ``time_unit_s``: seconds per simulator time unit (A per time unit, σ per √time unit).
    ``grid_s``: the volatility sampling grid (seconds). ``inventory``: optional (ts_ns, q)
    arrays for the OU fit. ``target_q_std`` (lots) with ``T`` and ``dt`` (time units;
    dt defaults to T/max(200, ⌈2AT⌉), so that A·dt <= 0.5): suggest γ for ``policy``
    from ``paths`` simulated paths.
    The intensity options are those of :func:`~flatbook.calibrate.intensity.fit_reach`.
    """
    if not (isinstance(time_unit_s, (int, float)) and math.isfinite(time_unit_s) and time_unit_s > 0):
        raise CalibrationError("time_unit_s", f"must be a positive number of seconds; got {time_unit_s!r}")
    warnings: list[str] = []
    vol = realized_volatility(ev, grid_s=grid_s)
    inten = fit_intensity(ev, time_unit_s=time_unit_s, delta0=delta0, floor_quantile=floor_quantile,
                          lattice=lattice, min_trades=min_trades, min_tail=min_tail,
                          group_sweeps=group_sweeps, level=level)
    sig_tu = vol.per_time_unit(time_unit_s) if vol.ok else math.nan
    pooled = inten.pooled
    out: dict = {
        "instrument": ev.meta.instrument, "source": ev.meta.source,
        "price_unit": ev.meta.price_unit, "tick_size": ev.meta.tick_size,
        "time_unit": {"seconds": time_unit_s, "label": f"{time_unit_s:g} s"},
        "window": {"start_ns": int(ev.ts[0]) if len(ev) else None, "end_ns": int(ev.ts[-1]) if len(ev) else None,
                   "duration_s": inten.reach["duration_s"], "events": len(ev),
                   "trades": int(ev.is_trade.sum())},
        "volatility": {**vol.as_dict(), "sigma_per_time_unit": sig_tu},
        "intensity": inten.as_dict(),
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
            warnings.append(f"k differs between the sides ({inten.bid.k:.4g} bid, {inten.ask.k:.4g} ask; "
                            f"z = {z:.2g}): the pooled fit averages an asymmetric market")
    if pooled.ok and not 0.5 <= pooled.floor_ratio <= 2.0:
        warnings.append(f"the fitted law predicts {1 / pooled.floor_ratio:.2g}× the observed rate of orders "
                        f"reaching the floor δ = {pooled.floor:.4g}"
                        " (the touch): the reach distribution is not exponential there (most orders stop at "
                        "the touch, a few sweep deep); λ(δ) is fitted above the floor")
    if vol.ok and vol.acf1 < -0.2:
        warnings.append(f"mid increments at {grid_s:g} s have lag-1 autocorrelation {vol.acf1:.2f}: "
                        "microstructure noise inflates σ; try a coarser grid_s")
    out["inventory_ou"] = None if inventory is None else inventory_ou(
        inventory[0], inventory[1], grid_s=grid_s, time_unit_s=time_unit_s)
    gamma = None
    if target_q_std is not None:
        if T is None:
            raise CalibrationError("T", "the horizon T (time units) is needed to suggest γ for a target std")
        # default: at least 200 steps, and A·dt <= 0.5 so that the per-step fill probability
        # min(1, A·e^(−kδ)·dt) stays well inside (0, 1)
        a_ = pooled.A if pooled.ok else 0.0
        dt_ = dt if dt is not None else T / max(200, math.ceil(2.0 * a_ * T))
        if not (vol.ok and pooled.ok):
            why = "; ".join(r for r in (vol.reason, pooled.reason) if r)
            out["gamma"] = {"ok": False, "reason": f"σ, A and k are needed first ({why})"}
        else:
            gamma = suggest_gamma(sig_tu, pooled.A, pooled.k, T, dt_, target_q_std, policy=policy,
                                  paths=paths, seed=seed)
            out["gamma"] = gamma.as_dict()
            if not gamma.ok:
                warnings.append(f"gamma: {gamma.reason}")
    else:
        out["gamma"] = None
    st: dict = {}
    if vol.ok:
        st["sigma"] = sig_tu
    if pooled.ok:
        st["A"] = pooled.A
        st["k"] = pooled.k
    if gamma is not None and gamma.ok:
        st["gamma"] = gamma.gamma
    out["set"] = st
    out["set_args"] = [f"{key}={val:.6g}" for key, val in st.items()]
    out["units"] = {"sigma": f"price units per √({time_unit_s:g} s)", "A": f"per {time_unit_s:g} s",
                    "k": "per price unit", "gamma": "per (price unit × lot)", "delta": "price units",
                    "q": "lots"}
    out["warnings"] = warnings
    out["ok"] = bool(vol.ok and pooled.ok and (gamma is None or gamma.ok))
    return jsonable(out)
