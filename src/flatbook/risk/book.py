"""A validated multi-asset book: instruments, their covariance, option positions, limits, capital,
liquidity, the VaR and stress settings and user scenarios, loaded from TOML.

Units (one set for the whole risk layer):

- **time unit: the trading day.** VaR horizons, drought lengths (converted from hours with
  ``hours_per_day``) and liquidation horizons are in days; an annualised volatility σ_yr
  (a fraction per √year) becomes σ_day = σ_yr·S/√``days_per_year`` price units per √day.
  Option expiries are in **years** and implied vols are annualised (Black–Scholes convention);
  a horizon of h days rolls an expiry down by h/``days_per_year`` years.
- prices, strikes, half-spreads: **price units**; instrument vol σ: **price units per √day**;
  covariance: (price units)²/day.
- positions and limits: **lots** (signed: > 0 long). A lot is ``multiplier`` units of the
  instrument, so one lot gains ``multiplier`` cash per 1 price unit; cash (P&L, VaR, capital) is
  price units × units. Option ``contracts`` are signed; one contract controls ``multiplier``
  **lots** of its underlying.
- ADV: lots per day; η (temporary impact): price units per (lot per day), as in
  :mod:`flatbook.hedging.schedules`.

The TOML layout (every table but ``[[instruments]]`` is optional; arrays are indexed from 0 in
error messages, e.g. ``instruments[2].vol``)::

    [book]        name, capital, max_loss, rate, days_per_year = 252, hours_per_day = 6.5
    [risk]        confidence = 0.99, horizon = 1, mc_scenarios = 100000, seed = 0,
                  full_revaluation = true, history_days = 1000, top_pairs = 10
    [history]     file (CSV, header = instrument names), kind = "changes" | "returns" | "prices"
    [limits]      position, gamma, vega (defaults per instrument), book_vega
    [stress]      gap = 0.05, drought_hours = 2, sigmas = 3, max_move_sigmas = 5,
                  participation = 0.1, liquidation = "almgren-chriss", liquidation_steps = 20,
                  risk_aversion = 0, step_minutes = 5
    [[instruments]]  name, price, vol | vol_annual, position = 0, multiplier = 1, limit,
                  gamma_limit, vega_limit, adv, half_spread = 0, eta = 0, max_daily_move
    [correlation] matrix  |  default = 0, pairs = [{a, b, rho}, …]
    [covariance]  matrix (instead of vols + correlation; (price units)²/day)
    [[options]]   name, underlying, type = "call" | "put", strike, expiry, vol, contracts,
                  multiplier = 1
    [[scenarios]] name, price (fraction: one number for all, or {instrument = fraction}),
                  both_directions = false, vol (relative: σ → σ·(1 + vol)), correlation, hours

Every bad field raises :class:`~flatbook.errors.InputError` naming its key path and what is
allowed.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field, replace
from numbers import Real
from pathlib import Path

import numpy as np

from ..config import read_toml
from ..errors import InputError
from ..validate import check_count, check_real
from .greeks import OptionSet
from .memory import history_bytes, liquidation_bytes, mc_bytes, require

LIQUIDATION_METHODS = ("almgren-chriss", "immediate")
OPTION_TYPES = ("call", "put")
HISTORY_KINDS = ("changes", "returns", "prices")
SEED_SCENARIOS = ("overnight-gap", "no-liquidity", "worst-case", "liquidation")
PSD_TOL = 1e-10
"""A matrix is accepted as positive semi-definite when its smallest eigenvalue is >= −PSD_TOL·(largest)."""

_TABLES = (
    "book",
    "risk",
    "history",
    "limits",
    "stress",
    "instruments",
    "correlation",
    "covariance",
    "options",
    "scenarios",
)
_BOOK_KEYS = ("name", "capital", "max_loss", "rate", "days_per_year", "hours_per_day")
_RISK_KEYS = ("confidence", "horizon", "mc_scenarios", "seed", "full_revaluation", "history_days", "top_pairs")
_HISTORY_KEYS = ("file", "kind")
_LIMIT_KEYS = ("position", "gamma", "vega", "book_vega")
_STRESS_KEYS = (
    "gap",
    "drought_hours",
    "sigmas",
    "max_move_sigmas",
    "participation",
    "liquidation",
    "liquidation_steps",
    "risk_aversion",
    "step_minutes",
)
_INSTRUMENT_KEYS = (
    "name",
    "price",
    "vol",
    "vol_annual",
    "position",
    "multiplier",
    "limit",
    "gamma_limit",
    "vega_limit",
    "adv",
    "half_spread",
    "eta",
    "max_daily_move",
)
_CORR_KEYS = ("matrix", "default", "pairs")
_PAIR_KEYS = ("a", "b", "rho")
_OPTION_KEYS = ("name", "underlying", "type", "strike", "expiry", "vol", "contracts", "multiplier")
_SCENARIO_KEYS = ("name", "price", "both_directions", "vol", "correlation", "hours")


# --------------------------------------------------------------------------- validated records


def _ro(a, dtype=float) -> np.ndarray:
    a = np.array(a, dtype=dtype)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Instrument:
    """One instrument (units: see the module docstring). ``limit``, ``gamma_limit``,
    ``vega_limit`` are None when unset; ``adv`` is +inf when unknown (no participation cap)."""

    name: str
    price: float
    vol: float
    position: float
    multiplier: float = 1.0
    limit: float | None = None
    gamma_limit: float | None = None
    vega_limit: float | None = None
    adv: float = math.inf
    half_spread: float = 0.0
    eta: float = 0.0
    max_daily_move: float | None = None


@dataclass(frozen=True)
class OptionPosition:
    """A European option position: ``contracts`` (signed) × ``multiplier`` lots of ``underlying``."""

    name: str
    underlying: str
    index: int
    type: str
    strike: float
    expiry: float
    vol: float
    contracts: float
    multiplier: float = 1.0


@dataclass(frozen=True)
class Scenario:
    """A user scenario. ``price``: fractional shock per instrument (length d); ``vol``: relative
    shock of every volatility (σ → σ·(1 + vol)); ``correlation``: every off-diagonal correlation
    set to this value (None: unchanged); ``hours``: liquidity drought, the position is held this
    long after the shock."""

    name: str
    price: np.ndarray
    both_directions: bool = False
    vol: float = 0.0
    correlation: float | None = None
    hours: float = 0.0


@dataclass(frozen=True)
class RiskSettings:
    confidence: float = 0.99
    horizon: float = 1.0
    mc_scenarios: int = 100_000
    seed: int = 0
    full_revaluation: bool = True
    history_days: int = 1000
    top_pairs: int = 10


@dataclass(frozen=True)
class StressSettings:
    gap: float = 0.05
    drought_hours: float = 2.0
    sigmas: float = 3.0
    max_move_sigmas: float = 5.0
    participation: float = 0.1
    liquidation: str = "almgren-chriss"
    liquidation_steps: int = 20
    risk_aversion: float = 0.0
    step_minutes: float = 5.0


@dataclass(frozen=True, eq=False)
class Book:
    """A validated book. Arrays are read-only; ``cov`` is (price units)²/day, ``corr`` the
    correlation matrix; ``history`` is None or n × d daily price changes (price units),
    ``history_source`` says where they came from and ``history_file`` is the ``[history]`` file's path."""

    name: str
    instruments: tuple[Instrument, ...]
    options: tuple[OptionPosition, ...]
    cov: np.ndarray
    corr: np.ndarray
    rate: float = 0.0
    days_per_year: float = 252.0
    hours_per_day: float = 6.5
    capital: float | None = None
    max_loss: float | None = None
    position_limit: float | None = None
    book_vega_limit: float | None = None
    risk: RiskSettings = field(default_factory=RiskSettings)
    stress: StressSettings = field(default_factory=StressSettings)
    scenarios: tuple[Scenario, ...] = ()
    history: np.ndarray | None = None
    history_source: str | None = None
    history_file: str | None = None
    source: str = ""

    # ---- vectors over instruments
    @property
    def d(self) -> int:
        return len(self.instruments)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.instruments]

    def _vec(self, attr: str) -> np.ndarray:
        return np.array([getattr(i, attr) for i in self.instruments], dtype=float)

    @property
    def prices(self) -> np.ndarray:
        return self._vec("price")

    @property
    def vols(self) -> np.ndarray:
        """σ_j, price units per √day (√ of the covariance diagonal)."""
        return np.sqrt(np.diag(self.cov))

    @property
    def positions(self) -> np.ndarray:
        return self._vec("position")

    @property
    def multipliers(self) -> np.ndarray:
        return self._vec("multiplier")

    def option_set(self) -> OptionSet | None:
        """The options as arrays (None when the book has none)."""
        if not self.options:
            return None
        o = self.options
        m = self.multipliers
        lots = [p.contracts * p.multiplier for p in o]
        return OptionSet.build(
            [p.index for p in o],
            [p.strike for p in o],
            [p.expiry for p in o],
            [p.vol for p in o],
            [p.type == "call" for p in o],
            lots,
            [lots[k] * m[p.index] for k, p in enumerate(o)],
            self.rate,
            self.d,
        )

    def with_positions(self, scale: float) -> Book:
        """The same book with every position and option contract count multiplied by ``scale``."""
        ins = tuple(replace(i, position=i.position * scale) for i in self.instruments)
        ops = tuple(replace(o, contracts=o.contracts * scale) for o in self.options)
        return replace(self, instruments=ins, options=ops)


# --------------------------------------------------------------------------- field validation


def _is_num(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _num(
    path: str,
    v,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    unit: str = "",
    allow_inf: bool = False,
) -> float:
    return check_real(path, v, lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, unit=unit, allow_inf=allow_inf)


def _int(path: str, v, *, lo: int, unit: str = "") -> int:
    return check_count(path, v, lo, unit)


def _bool(path: str, v) -> bool:
    if not isinstance(v, bool):
        raise InputError(path, f"got {v!r}; allowed: true or false")
    return v


def _str(path: str, v, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v.strip() or (choices is not None and v not in choices):
        allowed = ", ".join(repr(c) for c in choices) if choices else "a non-empty string"
        raise InputError(path, f"got {v!r}; allowed: {allowed}")
    return v


def _table(path: str, v, keys: tuple[str, ...]) -> dict:
    if not isinstance(v, dict):
        raise InputError(path, f"got {type(v).__name__} {v!r}; allowed: a table with keys {', '.join(keys)}")
    for k in v:
        if k not in keys:
            raise InputError(f"{path}.{k}" if path else k, f"unknown key; allowed: {', '.join(keys)}")
    return v


def _array_of_tables(path: str, v) -> list:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise InputError(path, f"got {v!r}; allowed: an array of tables ([[{path}]])")
    return v


def _opt(tab: dict, key: str, path: str, fn, default=None, **kw):
    return fn(f"{path}.{key}", tab[key], **kw) if key in tab else default


def _matrix(path: str, v, d: int) -> np.ndarray:
    ok = (
        isinstance(v, list)
        and len(v) == d
        and all(isinstance(r, list) and len(r) == d and all(_is_num(x) for x in r) for r in v)
    )
    if not ok:
        raise InputError(
            path, f"allowed: a {d}×{d} array of numbers (one row per instrument, in the order of [[instruments]])"
        )
    m = np.array(v, dtype=float)
    if not np.all(np.isfinite(m)):
        raise InputError(path, "allowed: finite numbers only")
    if not np.allclose(m, m.T, rtol=0.0, atol=1e-12 * max(1.0, float(np.max(np.abs(m))))):
        i, j = np.unravel_index(np.argmax(np.abs(m - m.T)), m.shape)
        raise InputError(path, f"not symmetric: [{i}][{j}] = {m[i, j]:g} but [{j}][{i}] = {m[j, i]:g}")
    return 0.5 * (m + m.T)


def _check_psd(path: str, m: np.ndarray) -> None:
    """Positive semi-definite: Cholesky (fast) or, failing that, the smallest eigenvalue."""
    try:
        np.linalg.cholesky(m)
        return
    except np.linalg.LinAlgError:
        pass
    ev = np.linalg.eigvalsh(m)
    if ev[0] < -PSD_TOL * max(abs(ev[-1]), np.finfo(float).tiny):
        raise InputError(
            path,
            f"not positive semi-definite (smallest eigenvalue {ev[0]:.3g}); allowed: a valid "
            "covariance/correlation matrix",
        )


def _check_corr(path: str, c: np.ndarray) -> None:
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=1e-12):
        i = int(np.argmax(np.abs(np.diag(c) - 1.0)))
        raise InputError(path, f"diagonal [{i}][{i}] = {c[i, i]:g}; allowed: 1 on the diagonal")
    if np.any(np.abs(c) > 1.0 + 1e-12):
        row, col = np.unravel_index(np.argmax(np.abs(c)), c.shape)
        raise InputError(path, f"[{row}][{col}] = {c[row, col]:g}; allowed: correlations in [-1, 1]")
    _check_psd(path, c)


# --------------------------------------------------------------------------- sections


def _instrument(i: int, t, days_per_year: float, covariance_given: bool, defaults: dict) -> Instrument:
    p = f"instruments[{i}]"
    t = _table(p, t, _INSTRUMENT_KEYS)
    if "name" not in t:
        raise InputError(f"{p}.name", "missing; allowed: a non-empty string")
    name = _str(f"{p}.name", t["name"])
    if "price" not in t:
        raise InputError(f"{p}.price", "missing; allowed: a number > 0 (price units)")
    price = _num(f"{p}.price", t["price"], lo=0.0, lo_open=True, unit="price units")
    has_v, has_va = "vol" in t, "vol_annual" in t
    if covariance_given:
        if has_v or has_va:
            raise InputError(
                f"{p}.{'vol' if has_v else 'vol_annual'}",
                "not allowed with [covariance]: the vols are the √ of its diagonal",
            )
        vol = math.nan
    else:
        if has_v and has_va:
            raise InputError(f"{p}.vol_annual", "give vol or vol_annual, not both")
        if not (has_v or has_va):
            raise InputError(
                f"{p}.vol",
                "missing; allowed: a number > 0 (price units per √day), or give "
                "vol_annual (fraction per √year), or a [covariance] matrix",
            )
        if has_v:
            vol = _num(f"{p}.vol", t["vol"], lo=0.0, lo_open=True, unit="price units per √day")
        else:
            va = _num(f"{p}.vol_annual", t["vol_annual"], lo=0.0, lo_open=True, unit="fraction per √year")
            vol = va * price / math.sqrt(days_per_year)
    pos = _opt(t, "position", p, _num, 0.0, unit="lots, signed")
    mult = _opt(t, "multiplier", p, _num, 1.0, lo=0.0, lo_open=True, unit="units per lot")
    limit = _opt(t, "limit", p, _num, defaults.get("position"), lo=0.0, lo_open=True, unit="lots", allow_inf=True)
    glim = _opt(t, "gamma_limit", p, _num, defaults.get("gamma"), lo=0.0, unit="lots per price unit", allow_inf=True)
    vlim = _opt(t, "vega_limit", p, _num, defaults.get("vega"), lo=0.0, unit="cash per 1.00 vol", allow_inf=True)
    adv = _opt(t, "adv", p, _num, math.inf, lo=0.0, lo_open=True, unit="lots per day", allow_inf=True)
    hs = _opt(t, "half_spread", p, _num, 0.0, lo=0.0, unit="price units")
    eta = _opt(t, "eta", p, _num, 0.0, lo=0.0, unit="price units per lot/day")
    mdm = _opt(t, "max_daily_move", p, _num, None, lo=0.0, lo_open=True, unit="fraction of the price")
    return Instrument(name, price, vol, pos, mult, limit, glim, vlim, adv, hs, eta, mdm)


def _correlation(tab, names: list[str]) -> np.ndarray:
    d = len(names)
    t = _table("correlation", tab, _CORR_KEYS)
    if "matrix" in t:
        if "default" in t or "pairs" in t:
            raise InputError("correlation.matrix", "give matrix, or default and pairs, not both")
        c = _matrix("correlation.matrix", t["matrix"], d)
        _check_corr("correlation.matrix", c)
        return c
    rho0 = _opt(t, "default", "correlation", _num, 0.0, lo=-1.0, hi=1.0, unit="correlation")
    c = np.full((d, d), rho0)
    np.fill_diagonal(c, 1.0)
    index = {n: k for k, n in enumerate(names)}
    pairs = t.get("pairs", [])
    if not isinstance(pairs, list):
        raise InputError("correlation.pairs", f"got {pairs!r}; allowed: an array of {{a, b, rho}} tables")
    for k, pr in enumerate(pairs):
        pp = f"correlation.pairs[{k}]"
        pr = _table(pp, pr, _PAIR_KEYS)
        ab = []
        for key in ("a", "b"):
            if key not in pr:
                raise InputError(f"{pp}.{key}", f"missing; allowed: an instrument name ({', '.join(names)})")
            if pr[key] not in index:
                raise InputError(f"{pp}.{key}", f"got {pr[key]!r}; allowed: an instrument name ({', '.join(names)})")
            ab.append(index[pr[key]])
        if ab[0] == ab[1]:
            raise InputError(f"{pp}.b", "same instrument as a; allowed: two different instruments")
        if "rho" not in pr:
            raise InputError(f"{pp}.rho", "missing; allowed: a number from -1 to 1")
        rho = _num(f"{pp}.rho", pr["rho"], lo=-1.0, hi=1.0, unit="correlation")
        c[ab[0], ab[1]] = c[ab[1], ab[0]] = rho
    _check_psd("correlation", c)
    return c


def _option(k: int, t, index: dict[str, int]) -> OptionPosition:
    p = f"options[{k}]"
    t = _table(p, t, _OPTION_KEYS)
    for key, allowed in (
        ("underlying", f"an instrument name ({', '.join(index)})"),
        ("type", "'call' or 'put'"),
        ("strike", "a number > 0 (price units)"),
        ("expiry", "a number > 0 (years)"),
        ("vol", "a number > 0 (implied, annualised)"),
        ("contracts", "a number (signed contracts)"),
    ):
        if key not in t:
            raise InputError(f"{p}.{key}", f"missing; allowed: {allowed}")
    und = t["underlying"]
    if not isinstance(und, str) or und not in index:
        raise InputError(f"{p}.underlying", f"got {und!r}; allowed: an instrument name ({', '.join(index)})")
    typ = _str(f"{p}.type", t["type"], OPTION_TYPES)
    strike = _num(f"{p}.strike", t["strike"], lo=0.0, lo_open=True, unit="price units")
    expiry = _num(f"{p}.expiry", t["expiry"], lo=0.0, lo_open=True, unit="years")
    vol = _num(f"{p}.vol", t["vol"], lo=0.0, lo_open=True, unit="implied volatility, fraction per √year")
    contracts = _num(f"{p}.contracts", t["contracts"], unit="contracts, signed")
    mult = _opt(t, "multiplier", p, _num, 1.0, lo=0.0, lo_open=True, unit="lots of the underlying per contract")
    name = _str(f"{p}.name", t["name"]) if "name" in t else f"{und} {strike:g}{typ[0].upper()} {expiry:g}y"
    return OptionPosition(name, und, index[und], typ, strike, expiry, vol, contracts, mult)


def _scenario(k: int, t, names: list[str]) -> Scenario:
    p = f"scenarios[{k}]"
    t = _table(p, t, _SCENARIO_KEYS)
    if "name" not in t:
        raise InputError(f"{p}.name", "missing; allowed: a non-empty string")
    name = _str(f"{p}.name", t["name"])
    d = len(names)
    shock = np.zeros(d)
    if "price" in t:
        v = t["price"]
        if isinstance(v, dict):
            index = {n: i for i, n in enumerate(names)}
            for inst, x in v.items():
                if inst not in index:
                    raise InputError(f"{p}.price.{inst}", f"unknown instrument; allowed: {', '.join(names)}")
                shock[index[inst]] = _num(f"{p}.price.{inst}", x, lo=-1.0, lo_open=True, unit="fractional price change")
        else:
            shock[:] = _num(
                f"{p}.price",
                v,
                lo=-1.0,
                lo_open=True,
                unit="fractional price change of every instrument, or a table {instrument = change}",
            )
    both = _opt(t, "both_directions", p, _bool, False)
    vol = _opt(t, "vol", p, _num, 0.0, lo=-1.0, lo_open=True, unit="relative: σ → σ·(1 + vol)")
    corr = None
    if "correlation" in t:
        lo = -1.0 / (d - 1) if d > 1 else -1.0
        corr = _num(
            f"{p}.correlation",
            t["correlation"],
            lo=lo,
            hi=1.0,
            unit=f"every off-diagonal correlation; >= −1/(d−1) = {lo:.4g} keeps the matrix valid",
        )
    hours = _opt(t, "hours", p, _num, 0.0, lo=0.0, unit="liquidity drought: hours the position is held")
    if corr is not None and hours == 0.0:
        raise InputError(f"{p}.hours", "a correlation shock acts only on a held position: give hours > 0")
    return Scenario(name, _ro(shock), both, vol, corr, hours)


def _history(tab, names: list[str], prices: np.ndarray, base: Path | None) -> tuple[np.ndarray, str, str]:
    """(daily price changes n × d, a description, the file's path)."""
    t = _table("history", tab, _HISTORY_KEYS)
    if "file" not in t:
        raise InputError("history.file", "missing; allowed: a CSV file whose header names the instruments")
    f = _str("history.file", t["file"])
    kind = _opt(t, "kind", "history", _str, "changes", choices=HISTORY_KINDS)
    path = Path(f)
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("history.file", f"cannot read {path}: {e}") from None
    if len(rows) < 2:
        raise InputError("history.file", f"{path}: allowed: a header line of instrument names and data rows")
    header = [h.strip() for h in rows[0]]
    cols = []
    for n in names:
        if n not in header:
            raise InputError("history.file", f"{path}: no column for instrument {n!r}; header: {', '.join(header)}")
        cols.append(header.index(n))
    data = np.empty((len(rows) - 1, len(names)))
    for r, row in enumerate(rows[1:], start=2):
        try:
            vals = [float(row[c]) for c in cols]
        except (ValueError, IndexError):
            raise InputError(
                "history.file", f"{path}, line {r}: allowed: a number in every instrument column"
            ) from None
        data[r - 2] = vals
    if not np.all(np.isfinite(data)):
        raise InputError("history.file", f"{path}: allowed: finite numbers only")
    if kind == "prices":
        if np.any(data <= 0):
            raise InputError("history.file", f"{path}: prices must be > 0 (kind = 'prices')")
        data = (data[1:] / data[:-1] - 1.0) * prices
    elif kind == "returns":
        data = data * prices
    if data.shape[0] < 2:
        raise InputError("history.file", f"{path}: allowed: at least 2 scenarios (daily changes)")
    return _ro(data), f"{path.name} ({kind}, {data.shape[0]} days)", str(path)


# --------------------------------------------------------------------------- loading


def book_from_dict(data: dict, source: str = "", base_dir: str | Path | None = None) -> Book:
    """Validate a parsed TOML document (see the module docstring) into a :class:`Book`."""
    if not isinstance(data, dict):
        raise InputError("--config", "allowed: a TOML document")
    for k in data:
        if k not in _TABLES:
            raise InputError(k, f"unknown table; allowed: {', '.join(_TABLES)}")
    bt = _table("book", data.get("book", {}), _BOOK_KEYS)
    name = _opt(bt, "name", "book", _str, Path(source).stem if source else "book")
    capital = _opt(bt, "capital", "book", _num, None, lo=0.0, lo_open=True, unit="cash")
    max_loss = _opt(bt, "max_loss", "book", _num, None, lo=0.0, lo_open=True, unit="cash")
    rate = _opt(bt, "rate", "book", _num, 0.0, lo=-1.0, hi=1.0, unit="per year, continuous")
    dpy = _opt(bt, "days_per_year", "book", _num, 252.0, lo=0.0, lo_open=True, hi=366.0, unit="trading days")
    hpd = _opt(bt, "hours_per_day", "book", _num, 6.5, lo=0.0, lo_open=True, hi=24.0, unit="trading hours")

    rt = _table("risk", data.get("risk", {}), _RISK_KEYS)
    risk = RiskSettings(
        confidence=_opt(
            rt, "confidence", "risk", _num, 0.99, lo=0.5, lo_open=True, hi=1.0, hi_open=True, unit="VaR/ES confidence α"
        ),
        horizon=_opt(rt, "horizon", "risk", _num, 1.0, lo=0.0, lo_open=True, unit="days"),
        mc_scenarios=_opt(rt, "mc_scenarios", "risk", _int, 100_000, lo=100, unit="Monte Carlo scenarios"),
        seed=_opt(rt, "seed", "risk", _int, 0, lo=0),
        full_revaluation=_opt(rt, "full_revaluation", "risk", _bool, True),
        history_days=_opt(rt, "history_days", "risk", _int, 1000, lo=100, unit="simulated history, days"),
        top_pairs=_opt(rt, "top_pairs", "risk", _int, 10, lo=0),
    )
    lt = _table("limits", data.get("limits", {}), _LIMIT_KEYS)
    defaults = {
        "position": _opt(lt, "position", "limits", _num, None, lo=0.0, lo_open=True, unit="lots", allow_inf=True),
        "gamma": _opt(lt, "gamma", "limits", _num, None, lo=0.0, unit="lots per price unit", allow_inf=True),
        "vega": _opt(lt, "vega", "limits", _num, None, lo=0.0, unit="cash per 1.00 vol", allow_inf=True),
    }
    book_vega = _opt(lt, "book_vega", "limits", _num, None, lo=0.0, unit="cash per 1.00 vol", allow_inf=True)

    st = _table("stress", data.get("stress", {}), _STRESS_KEYS)
    stress = StressSettings(
        gap=_opt(
            st, "gap", "stress", _num, 0.05, lo=0.0, lo_open=True, hi=1.0, hi_open=True, unit="fraction of the price"
        ),
        drought_hours=_opt(st, "drought_hours", "stress", _num, 2.0, lo=0.0, lo_open=True, unit="hours"),
        sigmas=_opt(st, "sigmas", "stress", _num, 3.0, lo=0.0, lo_open=True, unit="k, standard deviations"),
        max_move_sigmas=_opt(
            st,
            "max_move_sigmas",
            "stress",
            _num,
            5.0,
            lo=0.0,
            lo_open=True,
            unit="default max daily move, daily standard deviations",
        ),
        participation=_opt(
            st, "participation", "stress", _num, 0.1, lo=0.0, lo_open=True, hi=1.0, unit="fraction of ADV"
        ),
        liquidation=_opt(st, "liquidation", "stress", _str, "almgren-chriss", choices=LIQUIDATION_METHODS),
        liquidation_steps=_opt(st, "liquidation_steps", "stress", _int, 20, lo=1, unit="steps"),
        risk_aversion=_opt(st, "risk_aversion", "stress", _num, 0.0, lo=0.0, unit="λ, 1/cash"),
        step_minutes=_opt(st, "step_minutes", "stress", _num, 5.0, lo=0.0, lo_open=True, unit="minutes"),
    )

    if "instruments" not in data:
        raise InputError("instruments", "missing; allowed: one or more [[instruments]] tables")
    items = _array_of_tables("instruments", data["instruments"])
    if not items:
        raise InputError("instruments", "empty; allowed: one or more [[instruments]] tables")
    cov_given = "covariance" in data
    if cov_given and "correlation" in data:
        raise InputError("covariance", "give [covariance] or [correlation] (with instrument vols), not both")
    ins = [_instrument(i, t, dpy, cov_given, defaults) for i, t in enumerate(items)]
    names = [x.name for x in ins]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise InputError(f"instruments[{i}].name", f"duplicate name {n!r} (also instruments[{seen[n]}])")
        seen[n] = i
    d = len(ins)
    if cov_given:
        ct = _table("covariance", data["covariance"], ("matrix",))
        if "matrix" not in ct:
            raise InputError("covariance.matrix", f"missing; allowed: a {d}×{d} matrix ((price units)²/day)")
        cov = _matrix("covariance.matrix", ct["matrix"], d)
        dg = np.diag(cov)
        if np.any(dg <= 0):
            i = int(np.argmin(dg))
            raise InputError("covariance.matrix", f"diagonal [{i}][{i}] = {dg[i]:g}; allowed: variances > 0")
        _check_psd("covariance.matrix", cov)
        vols = np.sqrt(dg)
        ins = [replace(x, vol=float(v)) for x, v in zip(ins, vols)]
        corr = cov / np.outer(vols, vols)
        np.fill_diagonal(corr, 1.0)
    else:
        corr = _correlation(data["correlation"], names) if "correlation" in data else np.eye(d)
        vols = np.array([x.vol for x in ins])
        cov = corr * np.outer(vols, vols)

    opts = [_option(k, t, seen) for k, t in enumerate(_array_of_tables("options", data.get("options", [])))]
    scen = [_scenario(k, t, names) for k, t in enumerate(_array_of_tables("scenarios", data.get("scenarios", [])))]
    taken = {n: "a built-in scenario" for n in SEED_SCENARIOS}
    for k, s in enumerate(scen):
        if s.name in taken:
            raise InputError(f"scenarios[{k}].name", f"{s.name!r} is already {taken[s.name]}; give a different name")
        taken[s.name] = f"scenarios[{k}]"

    base = Path(base_dir) if base_dir is not None else (Path(source).parent if source else None)
    history, hsrc, hfile = (None, None, None)
    if "history" in data:
        history, hsrc, hfile = _history(data["history"], names, np.array([x.price for x in ins]), base)
    # sizes that set array lengths: refused up front when this machine's memory cannot hold them
    m = len(opts)
    require(
        "risk.mc_scenarios", risk.mc_scenarios, lambda n: mc_bytes(n, d, m, risk.confidence), "Monte Carlo scenarios"
    )
    if history is None:
        require("risk.history_days", risk.history_days, lambda n: history_bytes(n, d, m), "simulated history days")
    require(
        "stress.liquidation_steps", stress.liquidation_steps, lambda n: liquidation_bytes(n, d), "liquidation steps"
    )

    return Book(
        name=name,
        instruments=tuple(ins),
        options=tuple(opts),
        cov=_ro(cov),
        corr=_ro(corr),
        rate=rate,
        days_per_year=dpy,
        hours_per_day=hpd,
        capital=capital,
        max_loss=max_loss,
        position_limit=defaults["position"],
        book_vega_limit=book_vega,
        risk=risk,
        stress=stress,
        scenarios=tuple(scen),
        history=history,
        history_source=hsrc,
        history_file=hfile,
        source=source,
    )


def load_book(path: str | os.PathLike[str]) -> Book:
    """Read and validate a book TOML file (errors name the ``--config`` file or the TOML key)."""
    p = Path(path)
    return book_from_dict(read_toml(p), source=str(p))
