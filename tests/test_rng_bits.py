"""The random numbers and ``fast_exp`` bit for bit: compiled (vectorised loops), plain Python, and
the textbook formulas, on a million random 64-bit words and on every edge value; and the same bits
whatever LLVM's loop interleave count (:func:`flatbook.numerics.fastexp.interleave_vector_loops`).

Every comparison is of float64 bit patterns (``view(np.uint64)``), so -0.0 ≠ 0.0 and a one-ulp
difference fails. The reference formulas are exact by construction: a k-bit integer with k ≤ 53
converts to float64 exactly (IEEE 754 §5.4.1), and a product by a power of two is exact.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest

from flatbook.numerics import fastexp
from flatbook.numerics.fastexp import INTERLEAVE, fast_exp, interleave_vector_loops
from flatbook.numerics.rng import box_muller, hi31, low_bit, mid31, next_u64, unit53

N = 1_000_000


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def _edge_words() -> np.ndarray:
    """0, 2^64 − 1, every power of two and its neighbours, and words with only one bit field set."""
    v = {0, 2**64 - 1, 2**63 - 1}
    for k in range(64):
        v |= {2**k, 2**k - 1, (2**k + 1) % 2**64, 2**64 - 2**k}
    v |= {0x7FFFFFFF << 33, 0x7FFFFFFF << 1, (2**53 - 1) << 11, 0xFFFFFFFF, 0xFFFFFFFF << 32}
    return np.array(sorted(v), dtype=np.uint64)


@pytest.fixture(scope="module")
def words() -> np.ndarray:
    rnd = np.random.default_rng(20261207).integers(0, 2**64 - 1, size=N, dtype=np.uint64, endpoint=True)
    return np.concatenate([_edge_words(), rnd])


@nb.njit(cache=True, error_model="numpy")
def _fields(xs, out):
    """The kernel's conversions of each word, in one vectorisable loop (rows: hi31, mid31, low_bit, unit53)."""
    for i in range(xs.size):
        x = xs[i]
        out[0, i] = hi31(x)
        out[1, i] = mid31(x)
        out[2, i] = low_bit(x)
        out[3, i] = unit53(x)


@nb.njit(cache=True, error_model="numpy")
def _uniforms_bm(xs, out):
    """Box–Muller's two uniforms as :func:`box_muller` forms them, and its two normals."""
    for i in range(xs.size):
        x = xs[i]
        out[0, i] = (np.int64(x >> np.uint64(32)) + 0.5) * (1.0 / 4294967296.0)
        out[1, i] = (np.int64(x & np.uint64(0xFFFFFFFF)) + 0.5) * (1.0 / 4294967296.0)
        out[2, i], out[3, i] = box_muller(x)


def _reference_fields(xs: np.ndarray) -> np.ndarray:
    """The textbook formulas in numpy integer arithmetic (every value < 2^53: exact conversions)."""
    out = np.empty((4, xs.size))
    out[0] = (xs >> np.uint64(33)).astype(np.float64) * 2.0**-31
    out[1] = ((xs >> np.uint64(1)) & np.uint64(0x7FFFFFFF)).astype(np.float64) * 2.0**-31
    out[2] = (xs & np.uint64(1)).astype(np.float64)
    out[3] = ((xs >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return out


def test_bit_fields_compiled_equal_the_formulas(words):
    got = np.empty((4, words.size))
    _fields(words, got)
    ref = _reference_fields(words)
    for row in range(4):
        np.testing.assert_array_equal(_bits(got[row]), _bits(ref[row]))
    # the ranges the kernel relies on: [0, 1) for the 31-bit uniforms; (0, 1] for unit53, whose
    # m + 0.5 (m = x >> 11 < 2^53) rounds to even above 2^52: 1.0 exactly for m = 2^53 - 1 only
    assert got[0].min() == 0.0 and got[0].max() == 1.0 - 2.0**-31
    assert got[1].min() == 0.0 and got[1].max() == 1.0 - 2.0**-31
    assert got[3].min() == 0.5 * 2.0**-53 and got[3].max() == 1.0
    np.testing.assert_array_equal(got[3] == 1.0, (words >> np.uint64(11)) == np.uint64(2**53 - 1))
    assert set(np.unique(got[2])) == {0.0, 1.0}


def test_bit_fields_plain_python_equal_the_formulas(words):
    xs = np.concatenate([_edge_words(), words[-20_000:]])
    ref = _reference_fields(xs)
    for row, fn in enumerate((hi31, mid31, low_bit, unit53)):
        got = np.array([float(fn.py_func(x)) for x in xs])
        np.testing.assert_array_equal(_bits(got), _bits(ref[row]))


def test_box_muller_uniforms_compiled_equal_the_formulas(words):
    got = np.empty((4, words.size))
    _uniforms_bm(words, got)
    u1 = ((words >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32
    u2 = ((words & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * 2.0**-32
    np.testing.assert_array_equal(_bits(got[0]), _bits(u1))
    np.testing.assert_array_equal(_bits(got[1]), _bits(u2))
    # the normals: the compiled function and its plain-Python form (the same libm calls), bit for bit
    sub = words[:: words.size // 20_000]
    py = np.array([box_muller.py_func(x) for x in sub])
    idx = np.arange(0, words.size, words.size // 20_000)[: sub.size]
    np.testing.assert_array_equal(_bits(got[2, idx]), _bits(py[:, 0]))
    np.testing.assert_array_equal(_bits(got[3, idx]), _bits(py[:, 1]))


def test_stream_compiled_equals_plain_python():
    @nb.njit(cache=False)
    def stream(state, n):
        out = np.empty(n, np.uint64)
        for i in range(n):
            state, out[i] = next_u64(state)
        return out

    state = np.uint64(0xDEADBEEFCAFEF00D)
    py = []
    s = state
    with np.errstate(over="ignore"):  # numpy warns on the uint64 wrap-around that SplitMix64 relies on
        for _ in range(2000):
            s, x = next_u64.py_func(s)
            py.append(int(x))
    assert [int(v) for v in stream(state, 2000)] == py


# ----------------------------------------------------------------------------- fast_exp
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125
_LN2_LO = 1.4286068203094173e-06
_C = (
    1.0,
    1.0,
    0.5,
    1.6666666666666666e-01,
    4.1666666666666664e-02,
    8.3333333333333332e-03,
    1.3888888888888889e-03,
    1.9841269841269841e-04,
    2.4801587301587302e-05,
    2.7557319223985893e-06,
    2.7557319223985888e-07,
    2.5052108385441720e-08,
)


def _reference_exp(x: float) -> float:
    """Cody–Waite as ``fast_exp`` documents it, in Python floats: clamp to [−700, 700], n = ⌊x·log2e + ½⌋,
    r = (x − n·ln2_hi) − n·ln2_lo, Horner from the top coefficient, times 2^n (``math.ldexp``: exact)."""
    x = min(max(x, -700.0), 700.0)
    n = math.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _C[-1]
    for c in _C[-2::-1]:
        p = c + r * p
    return p * math.ldexp(1.0, n)


@nb.njit(cache=True, error_model="numpy")
def _exp_loop(x, out):
    for i in range(x.size):
        out[i] = fast_exp(x[i])


def _exp_arguments() -> np.ndarray:
    """[−700, 700] densely, ±0, the clamps and beyond, and both sides of every boundary between n and n+1."""
    x = [np.linspace(-700.0, 700.0, 400_001)]
    x.append(np.array([0.0, -0.0, 700.0, -700.0, 701.0, -701.0, 1e300, -1e300, np.inf, -np.inf, 5e-324, -5e-324]))
    x.append(np.nextafter(np.array([700.0, -700.0]), 0.0))
    edges = (np.arange(-1010, 1011) - 0.5) / _LOG2E  # x·log2e + ½ crosses an integer near these
    edges = edges[np.abs(edges) <= 700.0]
    for k in range(-3, 4):
        x.append(edges + k * np.spacing(edges))
    return np.concatenate(x)


def test_fast_exp_compiled_equals_the_formula():
    """The vectorised loop and the scalar call against the formula in Python floats (``fast_exp`` has no
    plain-Python form: its 2^n is a bit cast, a numba intrinsic)."""
    x = _exp_arguments()
    got = np.empty_like(x)
    _exp_loop(x, got)
    ref = np.array([_reference_exp(float(v)) for v in x])
    np.testing.assert_array_equal(_bits(got), _bits(ref))
    one = np.array([fast_exp(float(v)) for v in x[::97]])
    np.testing.assert_array_equal(_bits(one), _bits(ref[::97]))
    # the clamps: beyond ±700 the value at ±700
    assert got[x == np.inf][0] == got[x == 700.0][0] and got[x == -np.inf][0] == got[x == -700.0][0]
    assert fast_exp(0.0) == 1.0 and fast_exp(-0.0) == 1.0


# --------------------------------------------------------------- LLVM's interleave count
def _fill_step(st, q, h, slope, k, adt, out):
    """One step of the as2008 fill for a block of paths (the kernel's arithmetic: SplitMix64, the two
    uniforms, two fast_exp, the fills), written as the kernel's vectorised path loop."""
    for j in range(st.size):
        s, x = next_u64(st[j])
        st[j] = s
        fb = 1.0 if hi31(x) < adt * fast_exp(-k * (h + q[j] * slope)) else 0.0
        fa = 1.0 if mid31(x) < adt * fast_exp(-k * (h - q[j] * slope)) else 0.0
        q[j] += fb - fa
        out[j] = fb + fa + fast_exp(-k * abs(q[j]))


def _run(fn, n=4096, steps=50):
    st = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(12345)
    q = np.zeros(n)
    out = np.zeros(n)
    acc = np.zeros(n)
    for i in range(steps):
        fn(st, q, 0.75 + 0.01 * i, 0.02, 1.5, 0.7, out)
        acc += out
    return st, q, acc


@pytest.mark.parametrize("count", [2, 4])
def test_interleave_count_changes_the_code_not_the_numbers(count):
    """Compiled with interleave count 1 (LLVM's own choice for this loop) and with each count flatbook sets
    (:data:`~flatbook.numerics.fastexp.INTERLEAVE`: 2 on AVX-512, 4 on AVX2), the loop's outputs are the same
    bits; the interleaved code is larger (the setting reaches LLVM)."""
    try:
        interleave_vector_loops(1)
        one = nb.njit(cache=False, error_model="numpy")(_fill_step)
        r1 = _run(one)
        interleave_vector_loops(count)
        many = nb.njit(cache=False, error_model="numpy")(_fill_step)
        r4 = _run(many)
    finally:
        interleave_vector_loops()
    for a, b in zip(r1, r4):
        assert a.tobytes() == b.tobytes()
    assert r1[1].std() > 0.0 and r1[2].sum() > 0.0  # fills happened, inventories moved
    asm1 = one.inspect_asm(one.signatures[0])
    asm4 = many.inspect_asm(many.signatures[0])
    assert asm4.count("mulpd") > asm1.count("mulpd")
    assert fastexp.INTERLEAVE == INTERLEAVE == (2 if fastexp._avx512_target() else 4)
