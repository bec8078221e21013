"""Memory bounds on the risk engine's sizes: a size this machine cannot hold is refused before any array is made.

Each size that sets an array's length (Monte Carlo scenarios, simulated history days, liquidation steps) has
its peak memory written out here from the code that allocates it (:mod:`flatbook.risk.var`,
:mod:`flatbook.risk.stress`), in bytes of float64 (8 bytes) arrays alive at the same time. :func:`require`
compares it with the memory available now (Linux ``MemAvailable``; elsewhere the physical memory) and raises
:class:`~flatbook.errors.InputError` naming the field, the largest value this machine allows, and the bytes
the asked value would need.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import InputError

F8 = 8
MC_CHUNK_VALUES = 1 << 22
"""Monte Carlo normals drawn per chunk by :func:`flatbook.risk.var.monte_carlo_var` (rows × instruments): 32 MB."""


def available_bytes() -> int:
    """Memory this process can use now, bytes: ``MemAvailable`` from /proc/meminfo (Linux), else the
    physical memory (``sysconf``); 2**62 when neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return 2**62


def human(n: float) -> str:
    """Bytes in binary units (``12.3 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024.0
    return f"{n:,.1f} PiB"  # pragma: no cover


def mc_bytes(n: int, d: int, n_options: int = 0, confidence: float = 0.5) -> int:
    """Peak bytes of :func:`flatbook.risk.var.monte_carlo_var` with n scenarios, d instruments, m options.

    Per scenario: the loss vector and its copies in ``var_es`` / ``quantile_ci`` (4 × 8 B) plus a mask, and the
    kept tail's normals (a share 1 − α of the scenarios, d values each, held up to three times while merged).
    Per chunk: the normals, their products and, with options, the repriced values (rows × m, ~10 arrays)."""
    n = int(n)
    rows = max(1, MC_CHUNK_VALUES // max(d, 1))
    keep = int(n * (1.0 - confidence)) + 2 * (int(n**0.5) // 4 + 3)  # the tail and the VaR window
    chunk = 4 * F8 * MC_CHUNK_VALUES + 10 * F8 * rows * n_options
    return n * (4 * F8 + 1) + 3 * F8 * d * keep + chunk


def history_bytes(days: int, d: int, n_options: int = 0) -> int:
    """Peak bytes of a simulated history of ``days`` × d normal changes and its historical VaR: the normals and
    their correlated copy, ΔS and the per-instrument P&L with their sorted copies (6 × 8·d B a day), the loss
    vector and its sorted copies (8 × 8 B), and with options ~4 arrays of days × m repriced values."""
    return int(days) * (6 * F8 * d + 8 * F8 + 4 * F8 * n_options)


def liquidation_bytes(steps: int, d: int) -> int:
    """Peak bytes of :func:`flatbook.risk.stress.liquidation_costs` with N steps over d instruments: about ten
    d × (N + 1) float64 arrays (schedule, holdings, trades and their squares)."""
    return 10 * F8 * d * (int(steps) + 1)


def require(field: str, n: int, need: Callable[[int], int], what: str) -> None:
    """Refuse ``n`` (of ``what``) when ``need(n)`` bytes exceed the available memory: one line naming ``field``,
    the largest n that fits, and the bytes n would need. ``need`` must increase with n."""
    avail = available_bytes()
    got = need(n)
    if got <= avail:
        return
    lo, hi = 0, int(n)  # largest m with need(m) <= avail (need(0) may already not fit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if need(mid) <= avail:
            lo = mid
        else:
            hi = mid - 1
    raise InputError(
        field,
        f"{n:,} {what} would need {human(got)} of memory; this machine has {human(avail)} "
        f"available: allowed at most {lo:,}",
    )
