"""A branch-free ``exp`` that LLVM can vectorise inside numba kernels.

numba compiles ``math.exp`` to a libm call, which stops LLVM from vectorising
the paths-inner loop of the simulator (the PyPI llvmlite has no SVML). This is
the textbook Cody–Waite range reduction with a degree-11 Taylor polynomial
(Cody & Waite 1980, "Software Manual for the Elementary Functions", ch. 6):

    exp(x) = 2**n * exp(r),  n = round(x / ln 2),  r = x - n ln 2,  |r| <= ln2/2

``2**n`` is built from its IEEE-754 bits. Relative error < 1e-14 on
[-700, 700] (checked in ``tests/test_kernels.py``); arguments are clamped to
that range, which only matters for probabilities that are 0 or capped at 1.

Importing this module also sets LLVM's loop interleave count for everything numba compiles
afterwards in the process (:data:`INTERLEAVE`, see :func:`interleave_vector_loops`): the kernels'
path loops are latency-bound, and on AVX2 that nearly halved their speed.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba as nb
import numpy as np
from numba.core import config as numba_config
from numba.core import types
from numba.core.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125
_LN2_LO = 1.4286068203094173e-06


def _avx512_target() -> bool:
    """Does numba compile for AVX-512 (8 doubles a vector)? Its target features: ``NUMBA_CPU_FEATURES`` if
    set (empty: the named CPU's own, taken as without AVX-512), else the host's."""
    feats = (
        numba_config.CPU_FEATURES if numba_config.CPU_FEATURES is not None else llvm.get_host_cpu_features().flatten()
    )
    return "+avx512f" in feats


#: Vector iterations of each vectorised loop that LLVM interleaves (its ``-force-vector-interleave``): 16 paths
#: in flight per iteration, 2 vectors of 8 with AVX-512 and 4 of 4 with AVX2 (measured: the kernel at 2/4 on
#: AVX-512 96.0/92.0 M path-steps/s, its lean copy 3.05×/2.94× NumPy; on AVX2, 4 beat 2, 1 and tied 8).
INTERLEAVE = 2 if _avx512_target() else 4


def interleave_vector_loops(count: int = INTERLEAVE) -> None:
    """Make LLVM interleave ``count`` vector iterations of every loop it vectorises from now on.

    Why: one path-step is one long chain of dependent operations (SplitMix64's two 64-bit multiplies,
    then :func:`fast_exp`'s Horner polynomial, 11 multiply-adds in a row, then the fill and the
    accounting): some 90 cycles at the 3-cycle latency of Zen's vector multiply and add. LLVM's cost model
    interleaves only small loops and reductions, so it emits one vector of paths per iteration, and
    the out-of-order core holds little more than that iteration: each vector of paths waits out the
    whole chain. With 4 paths per vector (AVX2) the kernel ran at about half its AVX-512 speed.
    Interleaving puts ``count`` independent vectors of paths in each iteration, whose chains overlap.
    Measured (``benchmarks/bench_simulator.py --quick --ratio-only``, as2008, one thread, old and new
    code alternating, medians of 6 rounds; ``benchmarks/README.md``): the kernel ×1.34 on AVX2 (znver3
    target) and ×1.11 on AVX-512 (znver4), the bare model ×1.72 and ×1.12. The count 4 was the best, or
    within noise of it, of 1, 2, 4 and 8 on AVX2, and 2 on AVX-512 (:data:`INTERLEAVE`); it costs +9% CPU time on the kernel's first compile.

    The numbers do not change: each path's arithmetic is the same IEEE operations in the same
    order. Interleaving can only reorder a floating-point reduction, which LLVM does only when
    allowed to reassociate (fastmath, which flatbook never uses; a user's own fastmath reduction
    compiled in the same process may sum in another order). LLVM options are per process and numba's
    cache key does not include them: code compiled before this call, or cached by a process without
    it, keeps its code (the same numbers, at the old speed).
    """
    llvm.set_option("", f"-force-vector-interleave={int(count)}")


interleave_vector_loops()


@intrinsic
def _i64_as_f64(typingctx, x):
    """Reinterpret the bits of an int64 as a float64 (no conversion)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@nb.njit(inline="always", cache=True, error_model="numpy")
def fast_exp(x: float) -> float:
    """exp(x) by Cody–Waite reduction; vectorisable, rel. error < 1e-14."""
    x = min(max(x, -700.0), 700.0)
    # n stays a float (np.floor), and becomes an integer through int32: math.floor returns an
    # int64, and a vector float64 <-> int64 conversion needs AVX-512DQ; without it (AVX2) LLVM
    # converts lane by lane. Exact either way: |n| <= 1010.
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 + r * (
        1.0
        + r
        * (
            0.5
            + r
            * (
                1.6666666666666666e-01
                + r
                * (
                    4.1666666666666664e-02
                    + r
                    * (
                        8.3333333333333332e-03
                        + r
                        * (
                            1.3888888888888889e-03
                            + r
                            * (
                                1.9841269841269841e-04
                                + r
                                * (
                                    2.4801587301587302e-05
                                    + r
                                    * (
                                        2.7557319223985893e-06
                                        + r * (2.7557319223985888e-07 + r * 2.5052108385441720e-08)
                                    )
                                )
                            )
                        )
                    )
                )
            )
        )
    )
    return p * _i64_as_f64((np.int64(np.int32(n)) + 1023) << 52)
