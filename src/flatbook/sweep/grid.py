"""Sweep axes: ``--grid`` items parsed and checked against :data:`flatbook.params.PARAMS`.

Syntax of one ``--grid`` item (any ``--set``-able parameter, by its short name or its dotted long
name, ``controls.limit``: :func:`flatbook.params.resolve`; an axis is keyed by the short name):

- ``key=v1,v2,...``       explicit values (numbers or choices);
- ``key=lo:hi:n``         ``n`` evenly spaced values from lo to hi (numpy ``linspace``);
- ``key=log:lo:hi:n``     ``n`` log-spaced values (``geomspace``; needs lo > 0);
- ``key=lo:hi``, ``key=log:lo:hi``   bounds only (random or optuna search);
- ``key``                 a choice parameter: all its choices; for random search of a
                          number, the parameter's own range (it must be finite).

A grid is the Cartesian product of its axes. Random search draws ``N`` points, seeded,
uniformly (log-uniformly for ``log:``) within each axis's bounds, or uniformly among its
listed values. Every value goes through :meth:`flatbook.params.Param.parse` (the validator of
the parameter's group, :mod:`flatbook.paramgroups`), so a value outside the parameter's range
is refused; every error is an :class:`InputError` whose field names the offending ``--grid`` item.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..params import BIG, PARAMS, resolve
from ..suggest import unknown

MAX_POINTS = 100_000  # a grid larger than this is refused (a typo such as n=10000 on 3 axes)
MAX_AXIS_VALUES = 10_000


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its grid values and, for random search, its domain."""

    key: str
    item: str  # the --grid item as given (for messages)
    values: tuple[float | str, ...]  # grid values; () when only bounds were given
    lo: float | None = None  # numeric domain for random search (inclusive)
    hi: float | None = None
    log: bool = False

    @property
    def unit(self) -> str:
        """The parameter's unit (from PARAMS)."""
        return PARAMS[self.key].unit

    @property
    def numeric(self) -> bool:
        return not PARAMS[self.key].choices


def _field(item: str) -> str:
    return f"--grid {item}"


def _unknown(item: str, key: str) -> InputError:
    return unknown(
        _field(item), "parameter", key, PARAMS, list_all=False, see="see 'flatbook params' for every --set-able name"
    )


def _parse(item: str, key: str, raw: object) -> float | str:
    """One value through the parameter's own check; errors name the grid item."""
    try:
        return PARAMS[key].parse(raw)
    except InputError as e:
        raise InputError(_field(item), str(e)) from None


def _number(item: str, raw: str, what: str) -> float:
    try:
        val = float(raw)
    except ValueError:
        raise InputError(
            _field(item), f"{what} {raw!r} is not a number; expected key=lo:hi:n, key=log:lo:hi:n or key=v1,v2,..."
        ) from None
    if math.isnan(val):
        raise InputError(_field(item), f"{what} is NaN")
    return val


def _count(item: str, raw: str) -> int:
    try:
        n = int(raw)
    except ValueError:
        raise InputError(_field(item), f"n = {raw!r} is not an integer; expected key=lo:hi:n with n >= 2") from None
    if n < 1:
        raise InputError(_field(item), f"empty range: n = {n}; give n >= 2 values")
    if n > MAX_AXIS_VALUES:
        raise InputError(_field(item), f"n = {n}; allowed: at most {MAX_AXIS_VALUES} values per axis")
    return n


def _range(item: str, key: str, body: str) -> Axis:
    """``[log:]lo:hi[:n]``."""
    parts = body.split(":")
    log = parts[0].strip().lower() == "log"
    if log:
        parts = parts[1:]
    if len(parts) not in (2, 3):
        raise InputError(
            _field(item), "expected key=lo:hi:n, key=log:lo:hi:n, key=lo:hi (random search) or key=v1,v2,..."
        )
    lo = _number(item, parts[0].strip(), "lo")
    hi = _number(item, parts[1].strip(), "hi")
    spec = PARAMS[key]
    if spec.choices:
        raise InputError(
            _field(item), f"{key} takes one of {', '.join(spec.choices)}; list them: {key}={','.join(spec.choices)}"
        )
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(_field(item), f"a range needs finite bounds; got lo = {lo:g}, hi = {hi:g} ({spec.unit})")
    if lo > hi:
        raise InputError(_field(item), f"empty range: lo = {lo:g} > hi = {hi:g} ({spec.unit})")
    if log and lo <= 0:
        raise InputError(_field(item), f"a log range needs lo > 0; got lo = {lo:g} ({spec.unit})")
    lo_v, hi_v = _parse(item, key, lo), _parse(item, key, hi)  # the parameter's own range
    if len(parts) == 2:
        return Axis(key, item, (), float(lo_v), float(hi_v), log)
    n = _count(item, parts[2].strip())
    if n == 1 or lo == hi:
        raise InputError(
            _field(item),
            f"empty range: lo = {lo:g}, hi = {hi:g}, n = {n} gives a single value; "
            f"use {key}={lo:g} in --set, or n >= 2 and lo < hi",
        )
    raw = np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)
    vals = tuple(_parse(item, key, float(v)) for v in raw)
    if len(set(vals)) != len(vals):
        raise InputError(
            _field(item),
            f"{n} values between {lo:g} and {hi:g} repeat for the integer parameter {key}; use fewer values",
        )
    return Axis(key, item, vals, float(lo_v), float(hi_v), log)


def parse_grid_item(item: str) -> Axis:
    """Parse one ``--grid`` item into an :class:`Axis` (see the module docstring)."""
    text = str(item).strip()
    key, sep, body = text.partition("=")
    key = key.strip()
    if not key:
        raise InputError(_field(item), "expected key=v1,v2,... or key=lo:hi:n")
    if key not in PARAMS:
        if "." not in key:
            raise _unknown(item, key)
        key = resolve(key, _field(item))  # a dotted long name: controls.limit
    spec = PARAMS[key]
    if not sep:  # bare key
        if spec.choices:
            return Axis(key, item, tuple(spec.choices))
        if not (-BIG < spec.lo and spec.hi < BIG):  # ±BIG (or inf): a sanity cap, not a range to search
            raise InputError(
                _field(item),
                f"{key} has no finite range ({spec.allowed()}, {spec.unit}); "
                f"give bounds: {key}=lo:hi or values: {key}=v1,v2,...",
            )
        return Axis(key, item, (), float(spec.lo), float(spec.hi), False)
    body = body.strip()
    if not body:
        raise InputError(_field(item), "empty list of values")
    if ":" in body:
        return _range(item, key, body)
    raws = [r.strip() for r in body.split(",")]
    if any(not r for r in raws):
        raise InputError(_field(item), "empty value in the list (check the commas)")
    vals = tuple(_parse(item, key, r) for r in raws)
    if len(set(vals)) != len(vals):
        dup = next(v for v in vals if vals.count(v) > 1)
        raise InputError(_field(item), f"value {dup!r} is listed twice")
    return Axis(key, item, vals)


def parse_grid(items: Sequence[str] | None, *, fixed: Collection[str] = ()) -> list[Axis]:
    """Parse every ``--grid`` item; a key swept twice, or also fixed by ``--set`` (``fixed``), is refused."""
    axes: list[Axis] = []
    seen: dict[str, str] = {}
    fixed_keys = set(fixed)
    for item in items or []:
        ax = parse_grid_item(item)
        if ax.key in seen:
            raise InputError(_field(item), f"{ax.key} is already swept by --grid {seen[ax.key]}; give one item per key")
        if ax.key in fixed_keys:
            raise InputError(_field(item), f"{ax.key} is also fixed with --set; give it in one place")
        seen[ax.key] = item
        axes.append(ax)
    return axes


def grid_points(axes: Sequence[Axis]) -> list[dict[str, float | str]]:
    """The Cartesian product of the axes' values, first axis slowest."""
    for ax in axes:
        if not ax.values:
            raise InputError(
                _field(ax.item),
                f"bounds only; a grid needs values: {ax.key}=lo:hi:n, {ax.key}=v1,v2,..., or use --random N",
            )
    size = math.prod(len(ax.values) for ax in axes)
    if size > MAX_POINTS:
        raise InputError("--grid", f"the grid has {size:,} points; allowed: at most {MAX_POINTS:,}")
    return [dict(zip((ax.key for ax in axes), combo)) for combo in itertools.product(*(ax.values for ax in axes))]


def _draw(ax: Axis, rng: np.random.Generator, n: int) -> list[float | str]:
    spec = PARAMS[ax.key]
    if ax.lo is None:  # listed values or choices: uniform among them
        idx = rng.integers(0, len(ax.values), size=n)
        return [ax.values[i] for i in idx]
    lo, hi = ax.lo, ax.hi
    assert hi is not None  # an Axis with a range has both ends
    if ax.log:
        x = np.exp(rng.uniform(math.log(lo), math.log(hi), size=n))
    else:
        x = rng.uniform(lo, hi, size=n)
    if spec.integer:
        x = np.clip(np.floor(x + 0.5), math.ceil(lo), math.floor(hi))
    if spec.lo_open:  # uniform on [lo, hi] may return lo exactly
        x = np.where(x <= spec.lo, np.nextafter(spec.lo, math.inf), x)
    return [_parse(ax.item, ax.key, float(v)) for v in x]


def random_points(axes: Sequence[Axis], n: int, seed: int) -> list[dict[str, float | str]]:
    """``n`` points drawn independently per axis (seeded: the same seed gives the same points).

    The draws use their own stream, ``default_rng([seed, 1])``, so they do not depend on, or
    disturb, the simulator's random numbers.
    """
    if not axes:
        raise InputError("--random", "give the parameters to search with --grid (key=lo:hi or key=v1,v2,...)")
    if not 1 <= n <= MAX_POINTS:
        raise InputError("--random", f"got {n}; allowed: an integer from 1 to {MAX_POINTS:,}")
    rng = np.random.default_rng([int(seed), 1])
    cols = [_draw(ax, rng, n) for ax in axes]
    return [dict(zip((ax.key for ax in axes), vals)) for vals in zip(*cols)]
