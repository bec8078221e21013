"""Realised volatility of the mid price, previous-tick sampled on a regular grid.

The mid m(t) (price units) is sampled every Δ seconds at the grid times
t_i = t_0 + iΔ by the previous-tick rule m(t_i) = the last mid at or before t_i
(Andersen, Bollerslev, Diebold & Labys 2001, JASA 96, §2; Hansen & Lunde 2006,
JBES 24, §3.1), giving n increments x_i = m(t_i) − m(t_{i−1}). Then

    σ̂² = Σ x_i² / (n·Δ)                 (realised variance per second, no demeaning)
    SE(σ̂) = σ̂ / √(2n)                   (Var σ̂² = 2σ⁴/n for n iid N(0, σ²Δ) increments; delta method)

in price units per √second (the simulator's ``sigma`` for a time unit of one
second; per time unit of τ seconds multiply by √τ), and likewise for log returns
r_i = ln m(t_i) − ln m(t_{i−1}) (per √second, a fraction). Per day is ×√86 400
and annualised ×√(365.25·86 400): calendar time, right for 24/7 markets; for an
exchange that trades 6.5 h a day, per-day here means "per 24 h of trading",
not per session.

Caveats: at a 1-s grid the mid carries microstructure noise (bid–ask bounce,
discreteness), which inflates σ̂; the lag-1 autocorrelation ``acf1`` of the
increments is reported as a diagnostic (clearly negative: noise; use a coarser
``grid_s``). A gap in the data (an outage, the night) puts its whole move in one
increment.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..jsonutil import jsonable
from . import CalibrationError

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY


@dataclass(frozen=True)
class Volatility:
    """Realised volatility of the mid (see the module docstring for the estimator).

    ok / reason: False and why when there is too little data or the mid never moved.
    n: number of grid increments used. grid_s: grid spacing Δ (seconds).
    sigma: σ of mid changes, price units per √second; sigma_se its standard error.
    sigma_day / sigma_annual: σ·√86 400 and σ·√(365.25·86 400) (price units per √day, per √year).
    sigma_log, sigma_log_se, sigma_log_day, sigma_log_annual: the same for log returns
    (fraction per √second, per √day, per √year); NaN when a mid is not positive.
    acf1: lag-1 autocorrelation of the increments (noise diagnostic).
    mid_first, mid_last, mid_mean: the sampled mid (price units). span_s: t_n − t_0 (seconds).
    """

    ok: bool
    reason: str | None
    n: int
    grid_s: float
    sigma: float
    sigma_se: float
    sigma_day: float
    sigma_annual: float
    sigma_log: float
    sigma_log_se: float
    sigma_log_day: float
    sigma_log_annual: float
    acf1: float
    mid_first: float
    mid_last: float
    mid_mean: float
    span_s: float

    def per_time_unit(self, time_unit_s: float) -> float:
        """σ in price units per √(time unit), for a time unit of ``time_unit_s`` seconds: σ·√time_unit_s."""
        return self.sigma * math.sqrt(time_unit_s)

    def require(self) -> Volatility:
        """Self, or :class:`CalibrationError` (field ``sigma``) when not ok."""
        if not self.ok:
            raise CalibrationError("sigma", self.reason or "volatility not estimated")
        return self

    def as_dict(self) -> dict:
        return jsonable(asdict(self))


def sample_previous_tick(ts_ns: np.ndarray, values: np.ndarray, grid_s: float) -> np.ndarray:
    """``values`` sampled at t_0 + iΔ (i = 0 .. ⌊(t_last − t_0)/Δ⌋) by the previous-tick rule.

    ``ts_ns`` non-decreasing int64 nanoseconds; non-finite values are ignored.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    good = np.isfinite(v)
    ts, v = ts[good], v[good]
    if ts.size == 0:
        return np.empty(0)
    step = int(round(grid_s * 1e9))
    if step <= 0:
        raise CalibrationError("grid_s", f"must be at least 1 ns; got {grid_s!r} s")
    n = int((ts[-1] - ts[0]) // step)
    grid = ts[0] + step * np.arange(n + 1, dtype=np.int64)
    return v[np.searchsorted(ts, grid, side="right") - 1]


def _failed(reason: str, n: int, grid_s: float, m: np.ndarray) -> Volatility:
    nan = math.nan
    first, last, mean = (float(m[0]), float(m[-1]), float(m.mean())) if m.size else (nan, nan, nan)
    return Volatility(
        False,
        reason,
        n,
        grid_s,
        nan,
        nan,
        nan,
        nan,
        nan,
        nan,
        nan,
        nan,
        nan,
        first,
        last,
        mean,
        max(m.size - 1, 0) * grid_s,
    )


def _rv(x: np.ndarray, grid_s: float) -> tuple[float, float]:
    """(σ̂ per √s, SE) from increments x over a grid of ``grid_s`` seconds."""
    s = math.sqrt(float(np.dot(x, x)) / (x.size * grid_s))
    return s, s / math.sqrt(2.0 * x.size)


def realized_volatility(
    ev_or_ts, mid: np.ndarray | None = None, *, grid_s: float = 1.0, min_increments: int = 30
) -> Volatility:
    """Realised volatility of the mid from an :class:`~flatbook.data.events.EventTable`
    (its ``mid`` column) or from arrays ``ts_ns`` (int64 ns) and ``mid`` (price units).

    ``grid_s`` the sampling interval Δ (seconds); fewer than ``min_increments``
    grid increments, or a mid that never changes on the grid, give ``ok=False``.
    """
    if mid is None:
        ts, m = ev_or_ts.ts, ev_or_ts.mid
    else:
        ts, m = np.asarray(ev_or_ts), np.asarray(mid, dtype=float)
        if ts.shape != m.shape:
            raise CalibrationError("mid", f"ts and mid must have the same shape; got {ts.shape} and {m.shape}")
    if not (isinstance(grid_s, (int, float)) and math.isfinite(grid_s) and grid_s > 0):
        raise CalibrationError("grid_s", f"must be a positive number of seconds; got {grid_s!r}")
    if min_increments < 2:
        raise CalibrationError("min_increments", f"must be at least 2; got {min_increments}")
    s = sample_previous_tick(ts, m, grid_s)
    n = max(s.size - 1, 0)
    if n < min_increments:
        return _failed(
            f"only {n} increments of {grid_s:g} s (need at least {min_increments}): the data span too short a time",
            n,
            grid_s,
            s,
        )
    x = np.diff(s)
    if not np.any(x != 0.0):
        return _failed(f"the mid never changed over {n} increments of {grid_s:g} s", n, grid_s, s)
    sig, se = _rv(x, grid_s)
    xc = x - x.mean()
    den = float(np.dot(xc, xc))
    acf1 = float(np.dot(xc[1:], xc[:-1]) / den) if den > 0 else math.nan
    if np.all(s > 0):
        slog, slog_se = _rv(np.diff(np.log(s)), grid_s)
    else:
        slog = slog_se = math.nan
    day, year = math.sqrt(SECONDS_PER_DAY), math.sqrt(SECONDS_PER_YEAR)
    return Volatility(
        True,
        None,
        n,
        float(grid_s),
        sig,
        se,
        sig * day,
        sig * year,
        slog,
        slog_se,
        slog * day,
        slog * year,
        acf1,
        float(s[0]),
        float(s[-1]),
        float(s.mean()),
        n * float(grid_s),
    )
