"""Compiled building blocks: the vectorisable exp and the per-path SplitMix64 streams."""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest
from scipy.stats import chi2

from conftest import Z, mean_se, var_se
from flatbook.numerics.fastexp import fast_exp
from flatbook.numerics.rng import box_muller, hi31, low_bit, mid31, mix64, next_u64, stream_start, unit53


@nb.njit(cache=True)
def _fast_exp_array(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = fast_exp(x[i])
    return out


@nb.njit(cache=True)
def _raw_stream(state, n):
    """n outputs of next_u64 starting from a raw state."""
    out = np.empty(n, np.uint64)
    for i in range(n):
        state, x = next_u64(state)
        out[i] = x
    return out


@nb.njit(cache=True)
def _draws(seed, path, n):
    """n draws of path ``path``'s stream: columns hi31, mid31, unit53, low_bit, bm0, bm1."""
    st = stream_start(seed, path)
    out = np.empty((n, 6))
    for i in range(n):
        st, x = next_u64(st)
        out[i, 0] = hi31(x)
        out[i, 1] = mid31(x)
        out[i, 2] = unit53(x)
        out[i, 3] = low_bit(x)
        z0, z1 = box_muller(x)
        out[i, 4] = z0
        out[i, 5] = z1
    return out


@nb.njit(cache=True)
def _starts(seed, n):
    out = np.empty(n, np.uint64)
    for p in range(n):
        out[p] = stream_start(seed, p)
    return out


# ------------------------------------------------------------------------------ fast_exp
def test_fast_exp_dense_grid_against_math_exp():
    x = np.linspace(-700.0, 700.0, 1_400_001)  # spacing 1e-3
    x = np.concatenate((x, np.random.default_rng(1).uniform(-700.0, 700.0, 200_000)))
    got = _fast_exp_array(x)
    ref = np.array([math.exp(v) for v in x])
    rel = np.abs(got - ref) / ref
    assert rel.max() < 1e-13


@pytest.mark.parametrize(
    "x",
    [
        0.0,
        1.0,
        -1.0,
        math.log(2.0),
        -math.log(2.0),
        0.5 * math.log(2.0),
        1e-300,
        -1e-300,
        5e-324,
        1e-8,
        20.0 * math.log(2.0),
        709.0 - 9.0,
        -700.0,
        700.0,
        -699.999999,
        350.5,
        -0.3465735902799726,
    ],
)
def test_fast_exp_special_points(x):
    assert fast_exp(x) == pytest.approx(math.exp(x), rel=1e-13, abs=0)


def test_fast_exp_exact_where_it_should_be():
    assert fast_exp(0.0) == 1.0
    assert fast_exp(-0.0) == 1.0


@pytest.mark.parametrize("x", [700.0, 701.0, 800.0, 1e10, math.inf])
def test_fast_exp_clamps_above(x):
    assert fast_exp(x) == fast_exp(700.0) == pytest.approx(math.exp(700.0), rel=1e-13)


@pytest.mark.parametrize("x", [-700.0, -701.0, -800.0, -1e10, -math.inf])
def test_fast_exp_clamps_below(x):
    """Clamped to e^−700 ≈ 9.9e-305 > 0: as a fill probability that is zero for all purposes."""
    assert fast_exp(x) == fast_exp(-700.0) == pytest.approx(math.exp(-700.0), rel=1e-13)
    assert 0.0 < fast_exp(x) < 1e-300


def test_fast_exp_is_monotone_on_a_fine_grid():
    x = np.linspace(-5.0, 5.0, 1_000_001)
    assert np.all(np.diff(_fast_exp_array(x)) >= 0.0)


# ----------------------------------------------------------------------------- SplitMix64
def test_splitmix64_reference_vectors():
    """Steele, Lea & Flood's SplitMix64 (Vigna's splitmix64.c): state 0 gives
    0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f; state 1234567 gives
    6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
    16408922859458223821 (Rosetta Code, "Pseudo-random numbers/Splitmix64")."""
    assert [int(v) for v in _raw_stream(np.uint64(0), 3)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]
    assert [int(v) for v in _raw_stream(np.uint64(1234567), 5)] == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]
    # the stream start is the same finaliser applied to seed ^ path·C
    assert int(stream_start(np.uint64(0), 0)) == int(mix64(np.uint64(0))) == 0
    assert int(mix64(np.uint64(0x9E3779B97F4A7C15))) == 0xE220A8397B1DCDAF


N_DRAWS = 1_000_000


@pytest.fixture(scope="module")
def draws():
    return _draws(np.uint64(20240601), 7, N_DRAWS)


@pytest.mark.parametrize("col", [0, 1, 2])
def test_uniforms_mean_and_variance(draws, col):
    u = draws[:, col]
    assert u.min() >= 0.0 and u.max() < 1.0
    m, se = mean_se(u)
    assert abs(m - 0.5) < Z * se
    v, vse = var_se(u)
    assert abs(v - 1.0 / 12.0) < Z * vse


@pytest.mark.parametrize("col", [0, 1, 2])
def test_uniforms_chi_square(draws, col):
    """K = 1000 equal bins; under uniformity Σ(O−E)²/E ~ χ²(K−1). Critical value at
    p = 1e-4 from scipy (≈ 1.14e3), fixed seed."""
    k = 1000
    counts = np.bincount(np.minimum((draws[:, col] * k).astype(np.int64), k - 1), minlength=k)
    e = N_DRAWS / k
    stat = float(((counts - e) ** 2 / e).sum())
    assert stat < chi2.ppf(1.0 - 1e-4, k - 1)


def test_unit53_never_zero_and_low_bit_fair(draws):
    assert draws[:, 2].min() > 0.0  # safe for log
    b = draws[:, 3]
    assert set(np.unique(b)) <= {0.0, 1.0}
    m, se = mean_se(b)
    assert abs(m - 0.5) < Z * se


def test_bit_fields_of_one_draw_are_uncorrelated(draws):
    """hi31, mid31 and the low bit come from disjoint bits of one draw (the kernel uses
    them for the two sides' fills and the binomial mid step): correlations are 0 within
    Z/√n (the SE of a correlation between independent variables)."""
    c = np.corrcoef(draws[:, [0, 1, 3]].T)
    se = 1.0 / math.sqrt(N_DRAWS)
    assert abs(c[0, 1]) < Z * se and abs(c[0, 2]) < Z * se and abs(c[1, 2]) < Z * se


def test_box_muller_normals(draws):
    for col in (4, 5):
        z = draws[:, col]
        m, se = mean_se(z)
        assert abs(m) < Z * se
        v, vse = var_se(z)
        assert abs(v - 1.0) < Z * vse
        # a tail probability: P(Z > 2) = 0.02275, binomial SE
        p = float(np.mean(z > 2.0))
        assert abs(p - 0.022750131948179195) < Z * math.sqrt(p * (1 - p) / z.size)
    r = np.corrcoef(draws[:, 4], draws[:, 5])[0, 1]
    assert abs(r) < Z / math.sqrt(N_DRAWS)


def test_different_paths_get_different_streams():
    starts = _starts(np.uint64(99), 100_000)
    assert np.unique(starts).size == starts.size
    assert _starts(np.uint64(100), 1)[0] != starts[0]  # and different seeds too
    a = _draws(np.uint64(99), 0, 200_000)[:, 0]
    b = _draws(np.uint64(99), 1, 200_000)[:, 0]
    assert not np.array_equal(a, b)
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < Z / math.sqrt(a.size)
    # a path's stream does not depend on which other paths are drawn: same (seed, path) → same numbers
    np.testing.assert_array_equal(_draws(np.uint64(99), 1, 1000), _draws(np.uint64(99), 1, 1000))
