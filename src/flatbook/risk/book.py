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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from numbers import Real
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic_core import CoreSchema, core_schema

from ..config import read_toml
from ..errors import InputError
from ..suggest import did_you_mean
from ..validate import check_count, check_real
from .greeks import OptionSet
from .memory import history_bytes, liquidation_bytes, mc_bytes, require

LIQUIDATION_METHODS = ("almgren-chriss", "immediate")
OPTION_TYPES = ("call", "put")
HISTORY_KINDS = ("changes", "returns", "prices")
SEED_SCENARIOS = ("overnight-gap", "no-liquidity", "worst-case", "liquidation")
PSD_TOL = 1e-10
"""A matrix is accepted as positive semi-definite when its smallest eigenvalue is >= −PSD_TOL·(largest)."""

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


# --------------------------------------------------------------------------- the tables (pydantic)
#
# Each TOML table is a frozen pydantic model (extra keys refused); each field's validator is one of
# the range checks of flatbook.validate (check_real / check_count) or _bool / _str below, so a bad
# value says what it always said, and the JSON schema (schema()) carries the same bounds and units.
# What depends on other tables (vol or vol_annual or [covariance], defaults from [limits], instrument
# names, matrices) is checked after, in book_from_dict.


def _is_num(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _bool(path: str, v) -> bool:
    if not isinstance(v, bool):
        raise InputError(path, f"got {v!r}; allowed: true or false")
    return v


def _str(path: str, v, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v.strip() or (choices is not None and v not in choices):
        allowed = ", ".join(repr(c) for c in choices) if choices else "a non-empty string"
        raise InputError(path, f"got {v!r}; allowed: {allowed}")
    return v


def _bounds(lo, lo_open, hi, hi_open) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lo is not None:
        out["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        out["exclusiveMaximum" if hi_open else "maximum"] = hi
    return out


@dataclass(frozen=True)
class _Check:
    """Pydantic field metadata: validate with ``fn`` (plain: no other check) and document with ``json``."""

    fn: Callable[[Any], Any]
    json: dict[str, Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.fn)

    def __get_pydantic_json_schema__(self, cs: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return dict(self.json)


def _real(
    unit: str,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    allow_inf: bool = False,
) -> _Check:
    """A number checked by :func:`flatbook.validate.check_real` (finite unless ``allow_inf``: +inf too)."""

    def check(v):
        return check_real("value", v, lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, unit=unit, allow_inf=allow_inf)

    schema: dict[str, Any] = {"type": "number", **_bounds(lo, lo_open, hi, hi_open), "unit": unit}
    if allow_inf:
        schema["inf_allowed"] = True
    return _Check(check, schema)


def _count(lo: int, unit: str = "") -> _Check:
    """An integer >= ``lo`` (:func:`flatbook.validate.check_count`)."""
    schema = {"type": "integer", "minimum": lo, **({"unit": unit} if unit else {})}
    return _Check(lambda v: check_count("value", v, lo, unit), schema)


def _choice(choices: tuple[str, ...]) -> _Check:
    """One of ``choices``."""
    return _Check(lambda v: _str("value", v, choices), {"type": "string", "enum": list(choices)})


_BOOL = _Check(lambda v: _bool("value", v), {"type": "boolean"})
_NAME = _Check(lambda v: _str("value", v), {"type": "string", "minLength": 1})
_MATRIX = _Check(lambda v: v, {"type": "array", "items": {"type": "array", "items": {"type": "number"}}})


def _any(json: dict[str, Any]) -> _Check:
    """Any value (checked in book_from_dict, where other tables are known)."""
    return _Check(lambda v: v, json)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_T = TypeVar("_T", bound=_Table)


def _required(*names: str) -> ConfigDict:
    """A table whose ``names`` are required (checked in book_from_dict, with the allowed values in the message)."""
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra={"required": list(names)})


class BookTable(_Table):
    """[book]: name, capital and loss limits, rate, calendar."""

    name: Annotated[Any, _NAME] = Field(None, description="the book's name (default: the file's stem)")
    capital: Annotated[Any, _real("cash", lo=0.0, lo_open=True)] = Field(None, description="capital, cash")
    max_loss: Annotated[Any, _real("cash", lo=0.0, lo_open=True)] = Field(None, description="loss limit, cash")
    rate: Annotated[Any, _real("per year, continuous", lo=-1.0, hi=1.0)] = Field(
        0.0, description="risk-free rate (options)"
    )
    days_per_year: Annotated[Any, _real("trading days", lo=0.0, lo_open=True, hi=366.0)] = Field(
        252.0, description="trading days a year"
    )
    hours_per_day: Annotated[Any, _real("trading hours", lo=0.0, lo_open=True, hi=24.0)] = Field(
        6.5, description="trading hours a day"
    )


class RiskTable(_Table):
    """[risk]: VaR/ES settings."""

    confidence: Annotated[Any, _real("VaR/ES confidence α", lo=0.5, lo_open=True, hi=1.0, hi_open=True)] = Field(
        0.99, description="VaR/ES confidence α"
    )
    horizon: Annotated[Any, _real("days", lo=0.0, lo_open=True)] = Field(1.0, description="VaR horizon, days")
    mc_scenarios: Annotated[Any, _count(100, "Monte Carlo scenarios")] = Field(
        100_000, description="Monte Carlo scenarios"
    )
    seed: Annotated[Any, _count(0)] = Field(0, description="Monte Carlo seed")
    full_revaluation: Annotated[Any, _BOOL] = Field(True, description="revalue options in full (else delta-gamma)")
    history_days: Annotated[Any, _count(100, "simulated history, days")] = Field(
        1000, description="simulated history, days"
    )
    top_pairs: Annotated[Any, _count(0)] = Field(10, description="pairs listed in the contributions")


class HistoryTable(_Table):
    """[history]: a CSV of daily data, one column per instrument."""

    model_config = _required("file")
    file: Annotated[Any, _NAME] = Field(
        None, description="CSV file whose header names the instruments (relative: to the book)"
    )
    kind: Annotated[Any, _choice(HISTORY_KINDS)] = Field("changes", description="what the columns hold")


class LimitsTable(_Table):
    """[limits]: defaults of the instruments' limits, and the book's vega limit."""

    position: Annotated[Any, _real("lots", lo=0.0, lo_open=True, allow_inf=True)] = Field(
        None, description="position limit, lots"
    )
    gamma: Annotated[Any, _real("lots per price unit", lo=0.0, allow_inf=True)] = Field(None, description="gamma limit")
    vega: Annotated[Any, _real("cash per 1.00 vol", lo=0.0, allow_inf=True)] = Field(None, description="vega limit")
    book_vega: Annotated[Any, _real("cash per 1.00 vol", lo=0.0, allow_inf=True)] = Field(
        None, description="the book's vega limit"
    )


class StressTable(_Table):
    """[stress]: the seed scenarios' sizes and the liquidation model."""

    gap: Annotated[Any, _real("fraction of the price", lo=0.0, lo_open=True, hi=1.0, hi_open=True)] = Field(
        0.05, description="overnight gap"
    )
    drought_hours: Annotated[Any, _real("hours", lo=0.0, lo_open=True)] = Field(2.0, description="no-liquidity drought")
    sigmas: Annotated[Any, _real("k, standard deviations", lo=0.0, lo_open=True)] = Field(
        3.0, description="worst-case move"
    )
    max_move_sigmas: Annotated[
        Any, _real("default max daily move, daily standard deviations", lo=0.0, lo_open=True)
    ] = Field(5.0, description="default max daily move")
    participation: Annotated[Any, _real("fraction of ADV", lo=0.0, lo_open=True, hi=1.0)] = Field(
        0.1, description="liquidation participation cap"
    )
    liquidation: Annotated[Any, _choice(LIQUIDATION_METHODS)] = Field(
        "almgren-chriss", description="liquidation schedule"
    )
    liquidation_steps: Annotated[Any, _count(1, "steps")] = Field(20, description="liquidation steps")
    risk_aversion: Annotated[Any, _real("λ, 1/cash", lo=0.0)] = Field(0.0, description="Almgren–Chriss risk aversion")
    step_minutes: Annotated[Any, _real("minutes", lo=0.0, lo_open=True)] = Field(5.0, description="liquidation step")


class InstrumentTable(_Table):
    """[[instruments]]: one instrument (vol, vol_annual or a [covariance] matrix)."""

    model_config = _required("name", "price")
    name: Annotated[Any, _NAME] = Field(None, description="unique name")
    price: Annotated[Any, _real("price units", lo=0.0, lo_open=True)] = Field(None, description="price")
    vol: Annotated[Any, _real("price units per √day", lo=0.0, lo_open=True)] = Field(None, description="volatility σ")
    vol_annual: Annotated[Any, _real("fraction per √year", lo=0.0, lo_open=True)] = Field(
        None, description="annualised volatility"
    )
    position: Annotated[Any, _real("lots, signed")] = Field(0.0, description="position (> 0 long)")
    multiplier: Annotated[Any, _real("units per lot", lo=0.0, lo_open=True)] = Field(1.0, description="units per lot")
    limit: Annotated[Any, _real("lots", lo=0.0, lo_open=True, allow_inf=True)] = Field(
        None, description="position limit"
    )
    gamma_limit: Annotated[Any, _real("lots per price unit", lo=0.0, allow_inf=True)] = Field(
        None, description="gamma limit"
    )
    vega_limit: Annotated[Any, _real("cash per 1.00 vol", lo=0.0, allow_inf=True)] = Field(
        None, description="vega limit"
    )
    adv: Annotated[Any, _real("lots per day", lo=0.0, lo_open=True, allow_inf=True)] = Field(
        None, description="average daily volume (default: unknown, no participation cap)"
    )
    half_spread: Annotated[Any, _real("price units", lo=0.0)] = Field(
        0.0, description="half-spread paid when liquidating"
    )
    eta: Annotated[Any, _real("price units per lot/day", lo=0.0)] = Field(0.0, description="temporary impact η")
    max_daily_move: Annotated[Any, _real("fraction of the price", lo=0.0, lo_open=True)] = Field(
        None, description="max daily move"
    )


class PairTable(_Table):
    """One entry of [correlation] pairs."""

    model_config = _required("a", "b", "rho")
    a: Annotated[Any, _any({"type": "string"})] = Field(None, description="an instrument name")
    b: Annotated[Any, _any({"type": "string"})] = Field(None, description="another instrument name")
    rho: Annotated[Any, _real("correlation", lo=-1.0, hi=1.0)] = Field(None, description="their correlation")


class CorrelationTable(_Table):
    """[correlation]: a matrix, or a default and pairs."""

    matrix: Annotated[Any, _MATRIX] = Field(None, description="d×d correlation matrix, in the order of [[instruments]]")
    default: Annotated[Any, _real("correlation", lo=-1.0, hi=1.0)] = Field(
        0.0, description="correlation of every pair not listed"
    )
    pairs: Annotated[Any, _any({"type": "array", "items": PairTable.model_json_schema()})] = Field(
        None, description="pairs {a, b, rho}"
    )


class CovarianceTable(_Table):
    """[covariance]: the covariance matrix, (price units)²/day (instead of vols and [correlation])."""

    model_config = _required("matrix")
    matrix: Annotated[Any, _MATRIX] = Field(None, description="d×d covariance, (price units)²/day")


class OptionTable(_Table):
    """[[options]]: a European option position."""

    model_config = _required("underlying", "type", "strike", "expiry", "vol", "contracts")
    name: Annotated[Any, _NAME] = Field(None, description="name (default: underlying, strike, type, expiry)")
    underlying: Annotated[Any, _any({"type": "string"})] = Field(None, description="an instrument name")
    type: Annotated[Any, _choice(OPTION_TYPES)] = Field(None, description="call or put")
    strike: Annotated[Any, _real("price units", lo=0.0, lo_open=True)] = Field(None, description="strike")
    expiry: Annotated[Any, _real("years", lo=0.0, lo_open=True)] = Field(None, description="expiry, years")
    vol: Annotated[Any, _real("implied volatility, fraction per √year", lo=0.0, lo_open=True)] = Field(
        None, description="implied vol"
    )
    contracts: Annotated[Any, _real("contracts, signed")] = Field(None, description="contracts (> 0 long)")
    multiplier: Annotated[Any, _real("lots of the underlying per contract", lo=0.0, lo_open=True)] = Field(
        1.0, description="lots of the underlying per contract"
    )


class ScenarioTable(_Table):
    """[[scenarios]]: a user stress scenario."""

    model_config = _required("name")
    name: Annotated[Any, _NAME] = Field(None, description="unique name (not a built-in scenario's)")
    price: Annotated[Any, _any({"anyOf": [{"type": "number", "exclusiveMinimum": -1.0}, {"type": "object"}]})] = Field(
        None, description="fractional price shock: one number for all, or {instrument = change}"
    )
    both_directions: Annotated[Any, _BOOL] = Field(False, description="also the opposite shock")
    vol: Annotated[Any, _real("relative: σ → σ·(1 + vol)", lo=-1.0, lo_open=True)] = Field(
        0.0, description="volatility shock"
    )
    correlation: Annotated[Any, _any({"type": "number", "minimum": -1.0, "maximum": 1.0})] = Field(
        None, description="every off-diagonal correlation (>= −1/(d−1))"
    )
    hours: Annotated[Any, _real("liquidity drought: hours the position is held", lo=0.0)] = Field(
        0.0, description="hours the position is held"
    )


class BookFile(_Table):
    """A book TOML (the JSON schema of :func:`schema`; the tables are validated one by one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"required": ["instruments"]})
    book: BookTable | None = None
    risk: RiskTable | None = None
    history: HistoryTable | None = None
    limits: LimitsTable | None = None
    stress: StressTable | None = None
    instruments: list[InstrumentTable] | None = None
    correlation: CorrelationTable | None = None
    covariance: CovarianceTable | None = None
    options: list[OptionTable] | None = None
    scenarios: list[ScenarioTable] | None = None


_TABLES = tuple(BookFile.model_fields)


def schema() -> dict[str, Any]:
    """The JSON schema of a risk book TOML (every table, bounds and units)."""
    out = BookFile.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "flatbook risk book (TOML)"
    return out


def _table(path: str, v, model: type[_T]) -> _T:
    """``v`` validated as ``model``; the first problem (an unknown key first) as :class:`InputError`
    naming ``path.key``."""
    keys = tuple(model.model_fields)
    if not isinstance(v, dict):
        raise InputError(path, f"got {type(v).__name__} {v!r}; allowed: a table with keys {', '.join(keys)}")
    try:
        return model.model_validate(v)
    except ValidationError as e:
        err = sorted(e.errors(), key=lambda r: r["type"] != "extra_forbidden")[0]
        key = str(err["loc"][0])
        field = f"{path}.{key}" if path else key
        if err["type"] == "extra_forbidden":
            raise InputError(field, f"unknown key; allowed: {', '.join(keys)}{did_you_mean(key, keys)}") from None
        exc = (err.get("ctx") or {}).get("error")
        if isinstance(exc, InputError):
            raise InputError(field, str(exc).removeprefix(f"{exc.field}: ")) from None
        raise InputError(field, f"{err['msg']} (got {err.get('input')!r})") from None


def _array_of_tables(path: str, v) -> list:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise InputError(path, f"got {v!r}; allowed: an array of tables ([[{path}]])")
    return v


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
    m = _table(p, t, InstrumentTable)
    if m.name is None:
        raise InputError(f"{p}.name", "missing; allowed: a non-empty string")
    if m.price is None:
        raise InputError(f"{p}.price", "missing; allowed: a number > 0 (price units)")
    has_v, has_va = m.vol is not None, m.vol_annual is not None
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
        vol = m.vol if has_v else m.vol_annual * m.price / math.sqrt(days_per_year)

    def dflt(x, d):
        return d if x is None else x

    return Instrument(
        m.name,
        m.price,
        vol,
        m.position,
        m.multiplier,
        dflt(m.limit, defaults.get("position")),
        dflt(m.gamma_limit, defaults.get("gamma")),
        dflt(m.vega_limit, defaults.get("vega")),
        dflt(m.adv, math.inf),
        m.half_spread,
        m.eta,
        m.max_daily_move,
    )


def _correlation(tab, names: list[str]) -> np.ndarray:
    d = len(names)
    t = _table("correlation", tab, CorrelationTable)
    if t.matrix is not None:
        if "default" in t.model_fields_set or t.pairs is not None:
            raise InputError("correlation.matrix", "give matrix, or default and pairs, not both")
        c = _matrix("correlation.matrix", t.matrix, d)
        _check_corr("correlation.matrix", c)
        return c
    c = np.full((d, d), t.default)
    np.fill_diagonal(c, 1.0)
    index = {n: k for k, n in enumerate(names)}
    pairs = t.pairs if t.pairs is not None else []
    if not isinstance(pairs, list):
        raise InputError("correlation.pairs", f"got {pairs!r}; allowed: an array of {{a, b, rho}} tables")
    for k, raw in enumerate(pairs):
        pp = f"correlation.pairs[{k}]"
        pr = _table(pp, raw, PairTable)
        ab = []
        for key in ("a", "b"):
            x = getattr(pr, key)
            if x is None:
                raise InputError(f"{pp}.{key}", f"missing; allowed: an instrument name ({', '.join(names)})")
            if not isinstance(x, str) or x not in index:
                raise InputError(f"{pp}.{key}", f"got {x!r}; allowed: an instrument name ({', '.join(names)})")
            ab.append(index[x])
        if ab[0] == ab[1]:
            raise InputError(f"{pp}.b", "same instrument as a; allowed: two different instruments")
        if pr.rho is None:
            raise InputError(f"{pp}.rho", "missing; allowed: a number from -1 to 1")
        c[ab[0], ab[1]] = c[ab[1], ab[0]] = pr.rho
    _check_psd("correlation", c)
    return c


def _option(k: int, t, index: dict[str, int]) -> OptionPosition:
    p = f"options[{k}]"
    m = _table(p, t, OptionTable)
    for key, allowed in (
        ("underlying", f"an instrument name ({', '.join(index)})"),
        ("type", "'call' or 'put'"),
        ("strike", "a number > 0 (price units)"),
        ("expiry", "a number > 0 (years)"),
        ("vol", "a number > 0 (implied, annualised)"),
        ("contracts", "a number (signed contracts)"),
    ):
        if getattr(m, key) is None:
            raise InputError(f"{p}.{key}", f"missing; allowed: {allowed}")
    und = m.underlying
    if not isinstance(und, str) or und not in index:
        raise InputError(f"{p}.underlying", f"got {und!r}; allowed: an instrument name ({', '.join(index)})")
    typ, strike, expiry = m.type, m.strike, m.expiry
    name = m.name if m.name is not None else f"{und} {strike:g}{typ[0].upper()} {expiry:g}y"
    return OptionPosition(name, und, index[und], typ, strike, expiry, m.vol, m.contracts, m.multiplier)


def _scenario(k: int, t, names: list[str]) -> Scenario:
    p = f"scenarios[{k}]"
    m = _table(p, t, ScenarioTable)
    if m.name is None:
        raise InputError(f"{p}.name", "missing; allowed: a non-empty string")
    d = len(names)
    shock = np.zeros(d)
    if m.price is not None:
        v = m.price
        if isinstance(v, dict):
            index = {n: i for i, n in enumerate(names)}
            for inst, x in v.items():
                if inst not in index:
                    raise InputError(f"{p}.price.{inst}", f"unknown instrument; allowed: {', '.join(names)}")
                shock[index[inst]] = check_real(
                    f"{p}.price.{inst}", x, lo=-1.0, lo_open=True, unit="fractional price change"
                )
        else:
            shock[:] = check_real(
                f"{p}.price",
                v,
                lo=-1.0,
                lo_open=True,
                unit="fractional price change of every instrument, or a table {instrument = change}",
            )
    corr = None
    if m.correlation is not None:
        lo = -1.0 / (d - 1) if d > 1 else -1.0
        corr = check_real(
            f"{p}.correlation",
            m.correlation,
            lo=lo,
            hi=1.0,
            unit=f"every off-diagonal correlation; >= −1/(d−1) = {lo:.4g} keeps the matrix valid",
        )
    if corr is not None and m.hours == 0.0:
        raise InputError(f"{p}.hours", "a correlation shock acts only on a held position: give hours > 0")
    return Scenario(m.name, _ro(shock), m.both_directions, m.vol, corr, m.hours)


def _history(tab, names: list[str], prices: np.ndarray, base: Path | None) -> tuple[np.ndarray, str, str]:
    """(daily price changes n × d, a description, the file's path)."""
    t = _table("history", tab, HistoryTable)
    if t.file is None:
        raise InputError("history.file", "missing; allowed: a CSV file whose header names the instruments")
    f, kind = t.file, t.kind
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
            raise InputError(k, f"unknown table; allowed: {', '.join(_TABLES)}{did_you_mean(k, _TABLES)}")
    bt = _table("book", data.get("book", {}), BookTable)
    name = bt.name if bt.name is not None else (Path(source).stem if source else "book")
    capital, max_loss, rate = bt.capital, bt.max_loss, bt.rate
    dpy, hpd = bt.days_per_year, bt.hours_per_day
    rt = _table("risk", data.get("risk", {}), RiskTable)
    risk = RiskSettings(**{k: getattr(rt, k) for k in RiskTable.model_fields})
    lt = _table("limits", data.get("limits", {}), LimitsTable)
    defaults = {"position": lt.position, "gamma": lt.gamma, "vega": lt.vega}
    book_vega = lt.book_vega
    st = _table("stress", data.get("stress", {}), StressTable)
    stress = StressSettings(**{k: getattr(st, k) for k in StressTable.model_fields})

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
        ct = _table("covariance", data["covariance"], CovarianceTable)
        if ct.matrix is None:
            raise InputError("covariance.matrix", f"missing; allowed: a {d}×{d} matrix ((price units)²/day)")
        cov = _matrix("covariance.matrix", ct.matrix, d)
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
