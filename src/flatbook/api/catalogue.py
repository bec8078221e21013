"""What can be chosen: ``flatbook.list_parameters()``, ``list_presets()`` and ``list_policies()`` as DataFrames
(the same registries ``flatbook params``, ``presets`` and ``policies`` list)."""

from __future__ import annotations

from ..params import PARAMS
from ..presets import PRESETS

__all__ = ["list_parameters", "list_policies", "list_presets"]


def list_parameters(group: str | None = None):
    """Every parameter: group, unit, default, allowed values and meaning, indexed by name.

    Parameters
    ----------
    group : str, optional
        Only this group: run, policy, market, controls, hedging or costs.
    """
    import pandas as pd  # lazy: start-up

    groups = sorted({p.group for p in PARAMS.values()})
    if group is not None and group not in groups:
        from ..suggest import unknown  # lazy: only on bad input

        raise unknown("group", "parameter group", group, groups)
    rows = [
        {"name": p.name, "group": p.group, "unit": p.unit, "default": p.default, "allowed": p.allowed(), "doc": p.doc}
        for p in PARAMS.values()
        if group is None or p.group == group
    ]
    return pd.DataFrame(rows).set_index("name")


def list_presets():
    """Every preset: time unit, description, source and the parameters it sets, indexed by name."""
    import pandas as pd  # lazy: start-up

    rows = [
        {
            "name": p.name,
            "time_unit": p.time_unit,
            "description": p.description,
            "source": p.source,
            "sets": ", ".join(p.values),
        }
        for p in PRESETS.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def list_policies():
    """Every built-in policy: rung, summary, source and the parameters its formula reads, indexed by name."""
    import pandas as pd  # lazy: start-up

    from ..policies.registry import (
        POLICIES,  # lazy: start-up (the registry imports numba)
    )

    rows = [
        {"name": name, "rung": s.rung, "summary": s.summary, "source": s.source, "params": ", ".join(s.params)}
        for name, s in POLICIES.items()
    ]
    return pd.DataFrame(rows).set_index("name")
