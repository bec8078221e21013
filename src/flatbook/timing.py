"""Wall-clock fields of a result, kept apart from its numbers.

Everything in a ``summary.json`` or ``results.parquet`` row is a deterministic
function of the seed and the config, except how long the run took and where it
ran. Those fields live under one ``timing`` key, so that "same seed and config
give the same numbers, bit for bit" holds for everything outside it.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Wall-clock or machine-dependent fields: seconds, rates per wall second, worker address, UTC stamp.
TIMING_KEYS = ("elapsed_s", "path_steps_per_s", "events_per_s", "wall_s", "worker", "finished_utc")


def group_timing(summary: Mapping) -> dict:
    """Return a copy of ``summary`` with its wall-clock fields moved under ``"timing"``.

    Nested mappings are grouped too. A ``"timing"`` mapping already present is merged into.
    """
    out: dict = {}
    timing: dict = dict(summary.get("timing", {})) if isinstance(summary.get("timing"), Mapping) else {}
    for key, val in summary.items():
        if key == "timing":
            continue
        if key in TIMING_KEYS:
            timing[key] = val
        elif isinstance(val, Mapping):
            out[key] = group_timing(val)
        else:
            out[key] = val
    if timing:
        out["timing"] = timing
    return out


def without_timing(summary: Mapping) -> dict:
    """``summary`` with every ``"timing"`` entry (at any depth) removed: the part that must be bit-identical."""
    return {
        k: (without_timing(v) if isinstance(v, Mapping) else v)
        for k, v in group_timing(summary).items()
        if k != "timing"
    }
