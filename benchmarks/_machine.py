"""What machine a benchmark figure comes from: CPU model, vector extensions, numba's target.

A path-steps/s figure means little without the vector width it ran at. The
simulator's kernel runs 8 paths per instruction where numba compiles for
AVX-512 and 4 where it compiles for AVX2; NumPy picks its own SIMD loops at run
time (``np.exp`` has an AVX-512 loop). So every benchmark prints
:func:`machine_tag` beside its figures and stores :func:`machine` in its JSON.

numba compiles for the host CPU unless ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``
say otherwise (numba docs, "Environment variables": GPU-less targets). Note that
``NUMBA_CPU_NAME`` alone keeps the *host's* features, AVX-512 included: to
compile for an AVX2 machine on an AVX-512 one, set both, e.g.::

    NUMBA_CPU_NAME=znver3 NUMBA_CPU_FEATURES= \\
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" python benchmarks/bench_simulator.py --quick

(``NUMBA_CPU_FEATURES=`` empty: the named CPU's own feature set. The numpy
variable makes NumPy skip its AVX-512 loops too.) Under valgrind the host looks
like a Haswell (AVX2): valgrind 3.19 has no AVX-512.
"""

from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from pathlib import Path

#: The extensions worth printing, narrowest first (Linux /proc/cpuinfo flag names).
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl")

#: LLVM CPU names whose default feature set includes AVX-512F (used when
#: NUMBA_CPU_FEATURES is empty, i.e. "the named CPU's defaults").
_AVX512_CPUS = (
    "knl",
    "knm",
    "skylake-avx512",
    "skx",
    "cascadelake",
    "cooperlake",
    "cannonlake",
    "icelake-client",
    "icelake-server",
    "tigerlake",
    "rocketlake",
    "sapphirerapids",
    "graniterapids",
    "graniterapids-d",
    "emeraldrapids",
    "znver4",
    "znver5",
    "x86-64-v4",
)
_AVX2_CPUS = (
    "haswell",
    "broadwell",
    "skylake",
    "kabylake",
    "coffeelake",
    "cometlake",
    "alderlake",
    "raptorlake",
    "meteorlake",
    "arrowlake",
    "arrowlake-s",
    "lunarlake",
    "gracemont",
    "sierraforest",
    "grandridge",
    "clearwaterforest",
    "znver1",
    "znver2",
    "znver3",
    "bdver4",
    "x86-64-v3",
)


def _cpuinfo() -> tuple[str | None, set[str]]:
    """Model name and flags of the first CPU in /proc/cpuinfo (Linux); (None, set()) elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, set()
    model, flags = None, set()
    for line in text.splitlines():
        if model is None and line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        elif not flags and line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
        if model is not None and flags:
            break
    return model, flags


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    model, _ = _cpuinfo()
    return model or platform.processor() or platform.machine()


def vector_extensions() -> list[str]:
    """The CPU's vector extensions among :data:`VECTOR_FLAGS` (from the OS, not from numba).

    Linux reads /proc/cpuinfo; elsewhere LLVM's view of the host (llvmlite), which
    numba uses too.
    """
    _, flags = _cpuinfo()
    if flags:
        return [f for f in VECTOR_FLAGS if f in flags]
    try:
        import llvmlite.binding as llvm  # only off Linux: the host as LLVM sees it

        host = llvm.get_host_cpu_features()
    except Exception:  # noqa: BLE001  (no LLVM feature query on this platform)
        return []
    names = {"sse4_2": "sse4.2"}
    return [f for f in VECTOR_FLAGS if host.get(names.get(f, f), False)]


def _vector_isa(cpu: str, features: str) -> str:
    """The widest double-precision vector ISA LLVM may use for (cpu, feature string)."""
    feats = {f[1:] for f in features.split(",") if f.startswith("+")}
    if features.strip():
        off = {f[1:] for f in features.split(",") if f.startswith("-")}
    else:  # empty: the named CPU's own defaults
        off = set()
        if cpu in _AVX512_CPUS:
            feats = {"avx512f", "avx2", "avx"}
        elif cpu in _AVX2_CPUS:
            feats = {"avx2", "avx"}
    if "avx512f" in feats and "avx512f" not in off:
        return "avx512 (8 doubles)"
    if "avx2" in feats and "avx2" not in off:
        return "avx2 (4 doubles)"
    if "avx" in feats and "avx" not in off:
        return "avx (4 doubles)"
    return "sse2 (2 doubles)"


@lru_cache(maxsize=1)
def numba_target() -> dict:
    """The CPU numba compiles for: name, vector ISA, and whether it was overridden.

    Reads numba's own settings (``numba.config.CPU_NAME`` / ``CPU_FEATURES``, which
    come from NUMBA_CPU_NAME / NUMBA_CPU_FEATURES) and, when they are unset, the
    host as LLVM detects it, exactly as numba's code generator does.
    """
    try:
        import llvmlite.binding as llvm
        import numba
        from numba.core.codegen import get_host_cpu_features
    except ImportError:
        return {"cpu": None, "isa": None, "overridden": False}
    name = numba.config.CPU_NAME or llvm.get_host_cpu_name()
    feats = numba.config.CPU_FEATURES
    overridden = numba.config.CPU_NAME is not None or feats is not None
    if feats is None:
        feats = get_host_cpu_features()
    return {
        "cpu": name,
        "isa": _vector_isa(name, feats),
        "overridden": overridden,
        "features_override": numba.config.CPU_FEATURES,
        "host_cpu": llvm.get_host_cpu_name(),
    }


def numpy_simd() -> str | None:
    """NumPy's highest SIMD level in use (its run-time dispatch; NPY_DISABLE_CPU_FEATURES applies)."""
    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # numpy < 2
        try:
            from numpy.core import _multiarray_umath as mu
        except ImportError:
            return None
    feats = getattr(mu, "__cpu_features__", {})
    levels = list(getattr(mu, "__cpu_baseline__", [])) + list(getattr(mu, "__cpu_dispatch__", []))
    on = [lv for lv in levels if feats.get(lv, False)]
    return on[-1] if on else None


@lru_cache(maxsize=1)
def machine() -> dict:
    """Everything above as one JSON-ready record."""
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "vector_extensions": vector_extensions(),
        "numba_target": numba_target(),
        "numpy_simd": numpy_simd(),
        "numba_cpu_env": {
            k: os.environ[k]
            for k in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES")
            if k in os.environ
        },
        "python": sys.version.split()[0],
    }


def machine_tag() -> str:
    """One line for beside a figure, e.g. ``AMD EPYC (avx2 fma avx512f …) · numba → znver4, avx512 (8
    doubles) · numpy X86_V4``. Flags an overridden numba target with ``(set by NUMBA_CPU_*)``.
    No square brackets: rich would read them as markup."""
    m = machine()
    t = m["numba_target"]
    ext = " ".join(m["vector_extensions"]) or "?"
    tgt = "numba ?" if t["cpu"] is None else f"numba → {t['cpu']}, {t['isa']}"
    if t.get("overridden"):
        tgt += " (set by NUMBA_CPU_*)"
    return f"{m['cpu']} ({ext}) · {tgt} · numpy {m['numpy_simd'] or '?'}"


def short_target() -> str:
    """The numba target in a few characters, for a table column: ``znver4/avx512``."""
    t = numba_target()
    return "?" if t["cpu"] is None else f"{t['cpu']}/{t['isa'].split()[0]}"


if __name__ == "__main__":
    print(machine_tag())
