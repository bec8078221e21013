"""A branch-free ``exp`` that LLVM can vectorise inside numba kernels.

numba compiles ``math.exp`` to a libm call, which stops LLVM from vectorising
the paths-inner loop of the simulator (the PyPI llvmlite has no SVML). This is
the textbook Cody–Waite range reduction with a degree-11 Taylor polynomial
(Cody & Waite 1980, "Software Manual for the Elementary Functions", ch. 6):

    exp(x) = 2**n * exp(r),  n = round(x / ln 2),  r = x - n ln 2,  |r| <= ln2/2

``2**n`` is built from its IEEE-754 bits. Relative error < 1e-14 on
[-700, 700] (checked in ``tests/test_kernels.py``); arguments are clamped to
that range, which only matters for probabilities that are 0 or capped at 1.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.core import types
from numba.core.extending import intrinsic

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125
_LN2_LO = 1.4286068203094173e-06


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
