"""Feed and order latencies: constant, or drawn from a distribution.

A spec is a string, in milliseconds:

- ``"5"`` or ``"const:5"``: always 5 ms;
- ``"exp:5"``: exponential with mean 5 ms;
- ``"uniform:2,8"``: uniform on [2, 8] ms;
- ``"lognormal:5,0.5"``: lognormal with median 5 ms and log-sd 0.5.

Draws come from ``numpy.random.Generator(PCG64(seed))``, one per event, so a
run is reproducible bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

KINDS = ("const", "exp", "uniform", "lognormal")
_NARGS = {"const": 1, "exp": 1, "uniform": 2, "lognormal": 2}
MAX_MS = 3_600_000.0


@dataclass(frozen=True)
class Latency:
    """A latency distribution in milliseconds (see the module docstring)."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, field: str, spec: str | float | int) -> Latency:
        """Parse a spec; a bad one raises :class:`InputError` naming ``field`` and the forms allowed."""
        allowed = "allowed: MS, const:MS, exp:MEAN_MS, uniform:LO_MS,HI_MS, lognormal:MEDIAN_MS,LOG_SD"
        text = str(spec).strip()
        kind, sep, rest = text.partition(":")
        if not sep:
            kind, rest = ("const", text) if text.lower() not in KINDS else (text, "")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise InputError(field, f"unknown latency distribution {kind!r} in {text!r}; {allowed}")
        try:
            args = [float(x) for x in rest.split(",")] if rest.strip() else []
        except ValueError:
            raise InputError(field, f"not a number in {text!r}; {allowed}") from None
        if len(args) != _NARGS[kind] or not all(math.isfinite(x) and 0.0 <= x <= MAX_MS for x in args):
            raise InputError(field, f"{text!r} needs {_NARGS[kind]} number(s) from 0 to {MAX_MS:g} ms; {allowed}")
        if kind == "uniform" and args[0] > args[1]:
            raise InputError(field, f"uniform needs LO <= HI, got {text!r}")
        return cls(kind, args[0], args[1] if len(args) > 1 else 0.0)

    def draw_ns(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n latencies as int64 nanoseconds."""
        if self.kind == "const":
            ms = np.full(n, self.a)
        elif self.kind == "exp":
            ms = rng.exponential(self.a, n) if self.a > 0 else np.zeros(n)
        elif self.kind == "uniform":
            ms = rng.uniform(self.a, self.b, n)
        else:
            ms = self.a * np.exp(self.b * rng.standard_normal(n))
        return np.round(np.minimum(ms, MAX_MS) * 1e6).astype(np.int64)

    def describe(self) -> str:
        if self.kind == "const":
            return f"{self.a:g} ms"
        if self.kind == "exp":
            return f"exponential, mean {self.a:g} ms"
        if self.kind == "uniform":
            return f"uniform {self.a:g}–{self.b:g} ms"
        return f"lognormal, median {self.a:g} ms, log-sd {self.b:g}"
