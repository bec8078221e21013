"""What can be chosen: ``flatbook.list_parameters()``, ``list_presets()`` and ``list_policies()`` as DataFrames
(the same registries ``flatbook params``, ``presets`` and ``policies`` list)."""

from __future__ import annotations

import os
from typing import Any

from ..params import PARAMS, defaults
from ..presets import PRESETS, Preset
from ..suggest import unknown

__all__ = [
    "list_parameters",
    "list_policies",
    "list_presets",
    "load_policies",
    "params_data",
    "config_schema",
    "load_cost_stage",
    "load_fill_stage",
    "load_impact_stage",
    "load_market_stages",
    "load_mid_stage",
    "policies_data",
    "presets_data",
]

#: the parameter groups, in the order ``flatbook params`` lists them
GROUPS = ("run", "policy", "market", "controls", "hedging", "costs")


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


# --------------------------------------------------------------------------- catalogues as JSON objects


def _preset_values(p: Preset) -> tuple[dict, set[str]]:
    """The preset's resolved values (registry defaults + preset + derived) and the derived names."""

    class _Recording(dict):
        def __setitem__(self, key, value):
            written.add(key)
            super().__setitem__(key, value)

    written: set[str] = set()
    v = _Recording(defaults())
    v.update(p.values)  # dict.update bypasses __setitem__: only derive's writes are recorded
    if p.derive is not None:
        p.derive(v, set())
    return dict(v), written


def presets_data() -> dict:
    """Every preset: description, source, time unit, and each parameter it sets."""
    out = {}
    for name, p in PRESETS.items():
        v, derived = _preset_values(p)
        params = {}
        for key in [*p.values, *sorted(derived - set(p.values))]:
            spec = PARAMS[key]
            params[key] = {
                "value": v[key],
                "unit": spec.unit,
                "allowed": spec.allowed(),
                "group": spec.group,
                "derived": key in derived,
                "doc": spec.doc,
            }
        out[name] = {"description": p.description, "source": p.source, "time_unit": p.time_unit, "params": params}
    return out


def policies_data() -> dict:
    """Every policy: rung, summary, source, each parameter its formula reads, and a ladder's ``levels`` per side."""
    from ..policies.registry import POLICIES  # lazy: start-up (the registry imports numba)

    out = {}
    for name, s in POLICIES.items():
        params = {
            k: {
                "default": PARAMS[k].default,
                "unit": PARAMS[k].unit,
                "allowed": PARAMS[k].allowed(),
                "group": PARAMS[k].group,
                "doc": PARAMS[k].doc,
            }
            for k in s.params
        }
        out[name] = {"rung": s.rung, "summary": s.summary, "source": s.source, "params": params}
        if s.levels > 1:  # a ladder: levels per side (quote() shows them; the engines match one level today)
            out[name]["levels"] = s.levels
    return out


def params_data() -> dict:
    """The whole parameter registry, grouped (run, policy, market, controls, costs)."""
    out: dict[str, dict] = {g: {} for g in GROUPS}
    for name, p in PARAMS.items():
        out.setdefault(p.group, {})[name] = {"default": p.default, "unit": p.unit, "allowed": p.allowed(), "doc": p.doc}
    return out


#: what :func:`config_schema` describes: a run config, LIVE.toml, a risk book
SCHEMA_KINDS = ("run", "live", "book")


def config_schema(kind: str = "run") -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a TOML file, for editors that complete and check config files
    (``flatbook params --schema KIND``).

    Parameters
    ----------
    kind : {"run", "live", "book"}
        ``run``: a run config (``--config``: ``[run]``, ``[policy]``, ``[market]``, ``[controls]``, ``[hedge]``,
        ``[costs]``; units and ranges on every field); ``live``: LIVE.toml; ``book``: a risk book.
    """
    if kind not in SCHEMA_KINDS:
        raise unknown("kind", "schema", kind, SCHEMA_KINDS)
    # lazy: start-up (pydantic, and the live and risk modules, only for the schema)
    if kind == "run":
        from ..paramgroups import config_schema as make
    elif kind == "live":
        from ..live.settings import schema as make
    else:
        from ..risk.book import schema as make
    return make()


def load_policies(path: str | os.PathLike) -> dict[str, Any]:
    """Import the Python file ``path`` and register every policy it defines (``@flatbook.policy``,
    :func:`flatbook.table_policy`), as ``--policy-file`` does: they are then known by name to every call, as
    the built-in ones. Returns them by name; errors are one line (:class:`~flatbook.errors.InputError` naming
    ``--policy-file``). :func:`flatbook.load_policy_file` returns one of them."""
    from ..policies.loader import load_policies as load  # lazy: start-up (numba)

    return load(os.fspath(path))


def load_mid_stage(path: str | os.PathLike, name: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """Your own mid-price stage from the Python file ``path`` (``@flatbook.market.stage.mid_stage``), with its
    parameters ``params`` checked: the :class:`~flatbook.market.stage.BoundStage` that ``simulate(mid=...)`` and
    ``compare(mid=...)`` run in place of the preset's ``mid_model`` (``--market-file``, ``--mid``, ``--mid-set``).
    ``name``: the stage (None: the file's only one). Errors are one line naming the flag."""
    from ..market.stage import load_stage_file  # lazy: start-up (numba)

    return load_stage_file(os.fspath(path), name).bind(params or {})


def load_fill_stage(path: str | os.PathLike, name: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """Your own fill stage from the Python file ``path`` (``@flatbook.market.fill_stage.fill_stage``), with its
    parameters ``params`` checked: the :class:`~flatbook.market.stage.BoundStage` that ``simulate(fill=...)`` and
    ``compare(fill=...)`` run in place of the flow's fill probability A·e^(−kδ)·dt (``--market-file``, ``--fill``,
    ``--fill-set``). ``name``: the stage (None: the file's only fill stage). Errors are one line naming the flag."""
    from ..market.stage import load_stage_file  # lazy: start-up (numba)

    return load_stage_file(os.fspath(path), name, kind="fill").bind(params or {})


def load_cost_stage(path: str | os.PathLike, name: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """Your own cost stage from the Python file ``path`` (``@flatbook.market.cost_stage.cost_stage``), with its
    parameters ``params`` checked: the :class:`~flatbook.market.stage.BoundStage` that ``simulate(cost=...)`` and
    ``compare(cost=...)`` run in place of the maker fee and financing (``--market-file``, ``--cost``,
    ``--cost-set``). ``name``: the stage (None: the file's only cost stage). Errors are one line naming the flag."""
    from ..market.stage import load_stage_file  # lazy: start-up (numba)

    return load_stage_file(os.fspath(path), name, kind="cost").bind(params or {})


def load_impact_stage(path: str | os.PathLike, name: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """Your own impact stage from the Python file ``path`` (``@flatbook.hedging.impact_stage.impact_stage``), with
    its parameters ``params`` checked: the :class:`~flatbook.market.stage.BoundStage` that ``simulate(impact=...)``
    and ``compare(impact=...)`` run in place of the hedge's execution price and permanent impact
    (``--market-file``, ``--impact``, ``--impact-set``). ``name``: the stage (None: the file's only impact stage).
    Errors are one line naming the flag."""
    from ..market.stage import load_stage_file  # lazy: start-up (numba)

    return load_stage_file(os.fspath(path), name, kind="impact").bind(params or {})


def load_market_stages(
    path: str | os.PathLike,
    mid: str | None = None,
    mid_params: dict[str, Any] | None = None,
    fill: str | None = None,
    fill_params: dict[str, Any] | None = None,
    cost: str | None = None,
    cost_params: dict[str, Any] | None = None,
    impact: str | None = None,
    impact_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bound stages a ``--market-file`` selects, by kind (``{"mid": ..., "fill": ..., "cost": ...,
    "impact": ...}``, None for a kind not asked for: the keyword arguments of :func:`flatbook.simulate`), as
    :func:`flatbook.market.stage.load_market_stages`: a kind named or given parameters is loaded (its only stage
    if unnamed); with none, the file's only stage. The file is imported once; errors are one line."""
    from ..market.stage import load_market_stages as load  # lazy: start-up (numba)

    chosen = {
        "mid": (mid, mid_params),
        "fill": (fill, fill_params),
        "cost": (cost, cost_params),
        "impact": (impact, impact_params),
    }
    return load(os.fspath(path), chosen)
