"""The Monte Carlo kernel compiles each of its functions for one signature (issue 14 §7: a first
``flatbook simulate`` pays numba's cold compile, so it must not compile the block kernel twice)."""

from __future__ import annotations

import inspect

import flatbook.sim.kernel as K
from conftest import run


def _signatures(disp) -> set:
    """The signatures of numba dispatcher ``disp``: compiled in this process, or on disk for its current source
    (numba's cache index, keyed by (signature, target, …); loading the engine from the cache compiles nothing)."""
    on_disk = disp._cache._cache_file._load_index()
    return set(disp.signatures) | {key[0] for key in on_disk}


def test_block_kernel_compiles_once():
    """prange's index becomes unsigned when numba lowers the parallel loop: passed as it is, it typed
    ``_run_block`` a second time (int64, then uint64), about 17 s of CPU on a cold first run."""
    run(paths=64, record=(0,))
    blocks = _signatures(K._run_block)
    assert len(blocks) == 1, blocks
    (sig,) = blocks
    blk = list(inspect.signature(K._run_block.py_func).parameters).index("blk")  # the block's index into ou
    assert str(sig[blk]) == "int64"
    marks = _signatures(K._record_marks)  # called with step 0 and i + 1: one signature, not a literal 0 too
    assert len(marks) == 1, marks
