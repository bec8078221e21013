"""Per-path counter-based random numbers for the compiled kernels.

Each path owns a SplitMix64 stream (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA; the generator behind Java's
SplittableRandom): ``state += GOLDEN; x = mix(state)``. The stream's start is
``mix(seed XOR path * C)``, so path ``p`` draws the same numbers whatever the
number of paths, the block it runs in, the thread, or the policy. That gives
common random numbers across policies and bit-identical results per seed.

Why not numpy: ``np.random`` inside numba is one Mersenne Twister per thread,
so results would depend on scheduling; numpy's ``Generator`` cannot be called
from a vectorised numba loop. SplitMix64 is five integer ops, vectorises, and
passes BigCrush.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

U64 = nb.uint64
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PATH_MULT = np.uint64(0xD1B54A32D192ED03)
_INV31 = 1.0 / 2147483648.0  # 2**-31
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@nb.njit(inline="always", cache=True, error_model="numpy")
def mix64(z):
    """SplitMix64 finaliser (Steele et al. 2014, Fig. 4 'mix64')."""
    x = z
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


@nb.njit(inline="always", cache=True, error_model="numpy")
def stream_start(seed, path):
    """Initial state of path ``path``'s stream for ``seed``."""
    return mix64(U64(seed) ^ (U64(path) * U64(0xD1B54A32D192ED03)))


@nb.njit(inline="always", cache=True, error_model="numpy")
def next_u64(state):
    """Advance a stream: returns (new_state, 64 random bits)."""
    z = state + U64(0x9E3779B97F4A7C15)
    return z, mix64(z)


@nb.njit(inline="always", cache=True, error_model="numpy")
def hi31(x):
    """Uniform on [0, 1) from bits 33..63 (31 bits)."""
    return np.int64(x >> U64(33)) * _INV31


@nb.njit(inline="always", cache=True, error_model="numpy")
def mid31(x):
    """Uniform on [0, 1) from bits 1..31 (31 bits), independent of ``hi31``."""
    return np.int64((x >> U64(1)) & U64(0x7FFFFFFF)) * _INV31


@nb.njit(inline="always", cache=True, error_model="numpy")
def low_bit(x):
    """Bit 0 as 0 or 1."""
    return np.int64(x & U64(1))


@nb.njit(inline="always", cache=True, error_model="numpy")
def unit53(x):
    """Uniform on (0, 1] from bits 11..63 (never 0, safe for log). Above 1/2, m + 0.5 (m the 53-bit
    integer) rounds to even, so the grid there is 2^-52, and the top word gives exactly 1.0 (probability
    2^-53)."""
    return (np.int64(x >> U64(11)) + 0.5) * _INV53


@nb.njit(inline="always", cache=True, error_model="numpy")
def box_muller(x):
    """Two independent N(0,1) draws from 64 bits (Box & Muller 1958).

    The two 32-bit halves give u1, u2 in (0,1); returns
    (sqrt(-2 ln u1) cos 2πu2, sqrt(-2 ln u1) sin 2πu2).
    """
    u1 = (np.int64(x >> U64(32)) + 0.5) * (1.0 / 4294967296.0)
    u2 = (np.int64(x & U64(0xFFFFFFFF)) + 0.5) * (1.0 / 4294967296.0)
    r = math.sqrt(-2.0 * math.log(u1))
    a = 2.0 * math.pi * u2
    return r * math.cos(a), r * math.sin(a)
