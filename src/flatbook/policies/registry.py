"""The quoting policies by name: which formula, which parameters, how packed.

A policy's formula lives in its own module (symmetric.py, linear_skew.py,
stoll.py, avellaneda_stoikov.py, glft.py); this module only maps names to those
compiled functions (by kernel id) and packs validated parameter values into
the arrays they read. The simulator, the backtester and the live engine all go
through :class:`Policy`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..sim import kernel as K
from ..suggest import unknown

_NO_TABLE = np.zeros((1, 1))


def _pp(*values: float) -> np.ndarray:
    """A policy's parameters as the kernel's fixed-length ``pp`` (zero-padded to ``K.PP_LEN``)."""
    pp = np.zeros(K.PP_LEN)
    pp[:len(values)] = values
    return pp


def _pack_symmetric(v, nsteps):
    return K.PID_SYMMETRIC, _pp(v["half_spread"]), _NO_TABLE


def _pack_linear(v, nsteps):
    return K.PID_LINEAR_SKEW, _pp(v["half_spread"], v["skew"], v["q_target"]), _NO_TABLE


def _pack_stoll(v, nsteps):
    return K.PID_STOLL, _pp(v["half_spread"], v["stoll_gamma"], v["q_target"]), _NO_TABLE


def _pack_as(v, nsteps):
    g, sig, k = v["gamma"], v["sigma"], v["k"]
    pp = _pp(g * sig * sig, math.log1p(g / k) / g, v["q_target"],
             1.0 if v["variant"] == "stationary" else 0.0, v["horizon"])
    return K.PID_AS, pp, _NO_TABLE


def _pack_glft(v, nsteps):
    from .glft_solution import glft_constants, glft_exact_table

    g, sig, A, k = v["gamma"], v["sigma"], v["A"], v["k"]
    if v["solution"] == "closed":
        c, omega = glft_constants(g, sig, A, k)
        return K.PID_GLFT_CLOSED, _pp(c, omega, v["q_target"]), _NO_TABLE
    lim = v["limit"]
    if math.isinf(lim) or lim != int(lim) or lim > 2000:
        raise InputError("limit", f"glft solution=exact needs a finite integer limit (the inventory bound Q, lots) of at most 2000; got {lim:g}")
    Q = int(lim)
    db, da = glft_exact_table(g, sig, A, k, Q, v["T"], nsteps, v["q_target"])
    tab = np.ascontiguousarray(np.hstack([db, da]))
    return K.PID_GLFT_EXACT, _pp(float(Q)), tab


@dataclass(frozen=True)
class PolicySpec:
    """A named policy: its summary, the parameters its formula reads, its packer."""

    name: str
    rung: int
    summary: str
    source: str
    params: tuple[str, ...]
    pack: Callable[[Mapping, int], tuple[int, np.ndarray, np.ndarray]]


POLICIES: dict[str, PolicySpec] = {p.name: p for p in (
    PolicySpec("symmetric", 0, "bid/ask = mid ∓ half_spread, whatever the position",
               "seed 001, rung 0", ("half_spread",), _pack_symmetric),
    PolicySpec("linear-skew", 1, "centre = mid − skew·(q − q_target); bid/ask = centre ∓ half_spread",
               "seed 001, rung 1", ("half_spread", "skew", "q_target"), _pack_linear),
    PolicySpec("stoll", 1, "centre = mid − 2·stoll_gamma·(q − q*); half-spread = half_spread + stoll_gamma·|q − q*|",
               "Stoll (1978); seed 000", ("half_spread", "stoll_gamma", "q_target"), _pack_stoll),
    PolicySpec("avellaneda-stoikov", 2, "r = s − (q − q*)γσ²τ; spread = γσ²τ + (2/γ)ln(1+γ/k); τ = T − t or horizon",
               "Avellaneda & Stoikov (2008), eqs. 29–30", ("gamma", "sigma", "k", "T", "q_target", "variant", "horizon"), _pack_as),
    PolicySpec("glft", 2, "GLFT asymptotic closed form (or exact ODE solution) with inventory bound Q = limit",
               "Guéant, Lehalle & Fernandez-Tapia (2013)", ("gamma", "sigma", "A", "k", "q_target", "solution", "limit", "T"), _pack_glft),
)}


def policy_spec(name: str) -> PolicySpec:
    """Look up a policy by name, or raise :class:`InputError` listing the names."""
    spec = POLICIES.get(name)
    if spec is None:
        raise unknown("policy", "policy", name, POLICIES)
    return spec
