"""Typed parameter groups: the registry's parameters as frozen, validated pydantic records.

The registry (:data:`flatbook.params.PARAMS`) tags every parameter with one group of
:data:`flatbook.params.GROUPS`:

- ``run``: the time grid (T, dt, s0, q0), with the run's preset, policy, paths and seed;
- ``policy``: the policy's own parameters (per policy: :func:`policy_group_model`; a user
  policy's ``@policy`` parameters join the registry with this tag when it is registered);
- ``market``: mid price, order flow, regimes, jumps, informed flow, scheduled events;
- ``controls``: hard limit, zones, kill switch, never-cross, tick, size, event pause;
- ``hedge``: hedge trigger, sizing, execution, impact, proxy, option, daily sessions;
- ``costs``: financing, borrow, funding, capital, fees, markout.

Each group is a pydantic v2 model generated from the registry: one field per parameter whose
validator *is* :meth:`flatbook.params.Param.parse` (so a group, ``--set``, a TOML section, a
sweep grid and LIVE.toml accept the same values and say the same one-line error), and whose JSON
schema carries the description, the unit (``json_schema_extra``), the bounds (``minimum``,
``exclusiveMinimum``, ``maximum``; none above when ``inf`` means "off") and the choices (``enum``).
pydantic, not msgspec: it is already a core dependency (LIVE.toml) and its JSON schema export is
what editors read (Even Better TOML / taplo, VS Code), so no second library is needed.

The groups are views of a run: :class:`flatbook.config.RunConfig` keeps the flat ``values`` every
engine packs (bit-identical), and builds its groups from them on first use (:func:`run_groups`).
``pack()`` on a group delegates to the kernel stage's existing packer with the whole run's values
(the packers also read parameters of other groups, e.g. the market stage reads ``max_loss``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, PrivateAttr, ValidationError, WithJsonSchema
from pydantic import create_model as _create_model

from .errors import InputError
from .params import BIG, GROUPS, MAX_PATHS, PARAMS, STATS, Param, check_stats, defaults, group_of, names_in
from .presets import PRESETS
from .suggest import did_you_mean, unknown
from .validate import check_int

if TYPE_CHECKING:
    import numpy as np

    from .config import RunConfig
    from .policies.base import Policy

__all__ = [
    "GROUP_MODELS",
    "ControlsGroup",
    "CostsGroup",
    "Group",
    "HedgeGroup",
    "MarketGroup",
    "PolicyGroup",
    "RunGroup",
    "config_schema",
    "group_model",
    "input_error",
    "policy_group_model",
    "run_groups",
    "validate_group",
]

#: the ``[run]`` keys that are not parameters (as :data:`flatbook.config.RUN_KEYS`)
_RUN_EXTRA = ("preset", "policy", "paths", "seed", "stats")
_SECTION_DOC = {
    "run": "the run: preset, policy, paths, seed and the time grid (T, dt, s0, q0)",
    "policy": "the policy's own parameters (those of every built-in and registered policy)",
    "market": "the market model: mid price, order flow, regimes, jumps, informed flow, scheduled events",
    "controls": "the controls: hard limit, zones, kill switch, never-cross, tick, size, event pause",
    "hedge": "the hedge: trigger, sizing, execution, impact, proxy instrument, option, daily sessions",
    "costs": "the costs: financing, borrow, funding, capital, fees, markout",
}


def _field_schema(p: Param) -> dict[str, Any]:
    """The JSON schema of one parameter's value (type, bounds or enum); description and unit are added
    by the field."""
    if p.choices:
        return {"type": "string", "enum": list(p.choices)}
    out: dict[str, Any] = {"type": "integer" if p.integer else "number"}
    if p.lo > -BIG:
        out["exclusiveMinimum" if p.lo_open else "minimum"] = p.lo
    if p.hi < BIG and not p.inf_allowed:
        out["maximum"] = p.hi
    return out


def _schema_extra(unit: str, inf_allowed: bool):
    """The field's ``json_schema_extra``: its unit; for an "inf = off" parameter, no ``default`` (JSON has
    no Infinity: the description says it) and ``inf_allowed``."""

    def extra(schema: dict[str, Any]) -> None:
        schema["unit"] = unit
        if inf_allowed:
            schema.pop("default", None)
            schema["inf_allowed"] = True

    return extra


def param_field(p: Param) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of a group field for the registry parameter ``p``: validated by
    :meth:`Param.parse`, documented (description, unit, bounds or enum) in the JSON schema."""

    def parse(raw: object, _p: Param = p) -> float | str:
        return _p.parse(raw)

    doc = p.doc + ("; inf = off (the default)" if p.inf_allowed else "")
    ann = Annotated[Any, PlainValidator(parse), WithJsonSchema(_field_schema(p))]
    field = Field(default=p.default, description=doc, json_schema_extra=_schema_extra(p.unit, p.inf_allowed))
    return ann, field


class Group(BaseModel):
    """A parameter group: frozen, no unknown keys; each value validated by its :class:`Param`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    group: ClassVar[str] = ""
    #: the whole run's values, when the record was made from a run (:func:`run_groups`); packers read them
    _values: dict[str, Any] | None = PrivateAttr(default=None)

    def as_dict(self) -> dict[str, Any]:
        """``{name: value}`` of this group."""
        return {k: getattr(self, k) for k in type(self).model_fields}

    def context(self) -> dict[str, Any]:
        """The run's values: those the record was made from, else the registry's defaults with this group's."""
        if self._values is not None:
            return dict(self._values)
        v = defaults()
        v.update(self.as_dict())
        return v


class ControlsBase(Group):
    group: ClassVar[str] = "controls"

    def pack(self) -> np.ndarray:
        """The controls' ``cp`` array: :func:`flatbook.controls.quote_controls.pack_controls`."""
        # lazy: start-up (numba kernels; validation and the schema need none)
        from .controls.quote_controls import pack_controls

        return pack_controls(self.context())


class MarketBase(Group):
    group: ClassVar[str] = "market"

    def pack(self) -> np.ndarray:
        """The market stage's array: :func:`flatbook.market.pack.pack_market`."""
        # lazy: start-up (numba kernels; validation and the schema need none)
        from .market.pack import pack_market

        return pack_market(self.context())


class HedgeBase(Group):
    group: ClassVar[str] = "hedge"

    def pack(self, nsteps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The hedge stage's arrays for ``nsteps`` steps: :func:`flatbook.hedging.model.pack_hedge`."""
        # lazy: start-up (numba kernels; validation and the schema need none)
        from .hedging.model import pack_hedge

        return pack_hedge(self.context(), nsteps)


class CostsBase(Group):
    group: ClassVar[str] = "costs"


class PolicyBase(Group):
    group: ClassVar[str] = "policy"
    policy: ClassVar[str] = ""

    def pack(self, nsteps: int) -> tuple[np.ndarray, np.ndarray]:
        """The policy's packed parameters and table ``(pp, tab)``: :meth:`flatbook.policies.base.Policy.pack`."""
        # lazy: start-up (numba kernels; validation and the schema need none)
        from .policies.registry import policy_spec

        return policy_spec(self.policy or str(self.context().get("policy", ""))).pack(self.context(), nsteps)


def _check_paths(raw: object) -> int:
    return check_int("paths", raw, 1, MAX_PATHS)


def _check_seed(raw: object) -> int:
    return check_int("seed", raw, 0, 2**63 - 1)


def _check_preset(raw: object) -> str:
    if not isinstance(raw, str) or raw not in PRESETS:
        raise unknown("preset", "preset", raw, PRESETS)
    return raw


def _check_policy(raw: object) -> str | list[str]:
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, list) and raw and all(isinstance(x, str) and x for x in raw):
        return list(raw)  # compare: several policies
    raise InputError("policy", f"got {raw!r}; allowed: a policy name, or a list of names (compare)")


class RunBase(Group):
    group: ClassVar[str] = "run"


def _make(name: str, base: type[Group], names: tuple[str, ...], **extra: Any) -> type[Group]:
    fields = {n: param_field(PARAMS[n]) for n in names}
    fields.update(extra)
    return _create_model(name, __base__=base, __module__=__name__, **fields)  # type: ignore[call-overload]


RunGroup = _make(
    "RunGroup",
    RunBase,
    names_in("run"),
    preset=(
        Annotated[str, PlainValidator(_check_preset), WithJsonSchema({"type": "string", "enum": list(PRESETS)})],
        Field("as2008", description="market preset (see 'flatbook presets')"),
    ),
    policy=(
        Annotated[
            Any,
            PlainValidator(_check_policy),
            WithJsonSchema(
                {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
            ),
        ],
        Field(
            "avellaneda-stoikov",
            description="quoting policy (see 'flatbook policies'; a list for compare)",
        ),
    ),
    paths=(
        Annotated[
            int, PlainValidator(_check_paths), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PATHS})
        ],
        Field(10_000, description="Monte Carlo paths", json_schema_extra={"unit": "paths"}),
    ),
    seed=(
        Annotated[
            int, PlainValidator(_check_seed), WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**63 - 1})
        ],
        Field(0, description="random seed (same seed ⇒ same random numbers)", json_schema_extra={"unit": "-"}),
    ),
    stats=(
        Annotated[str, PlainValidator(check_stats), WithJsonSchema({"type": "string", "enum": list(STATS)})],
        Field(
            "full",
            description="simulate/compare statistics: full (every per-path column) or lean (pnl, final_q, "
            "max_abs_q, fills, spread_mean only: the same numbers, faster)",
        ),
    ),
)
MarketGroup = _make("MarketGroup", MarketBase, names_in("market"))
ControlsGroup = _make("ControlsGroup", ControlsBase, names_in("controls"))
HedgeGroup = _make("HedgeGroup", HedgeBase, names_in("hedge"))
CostsGroup = _make("CostsGroup", CostsBase, names_in("costs"))
#: every policy parameter of the registry at import (the built-ins'): the ``[policy]`` section of any run
PolicyGroup = _make("PolicyGroup", PolicyBase, names_in("policy"))

GROUP_MODELS: dict[str, type[Group]] = {
    "run": RunGroup,
    "policy": PolicyGroup,
    "market": MarketGroup,
    "controls": ControlsGroup,
    "hedge": HedgeGroup,
    "costs": CostsGroup,
}
assert tuple(GROUP_MODELS) == GROUPS


@cache
def _policy_model(name: str, token: str, names: tuple[str, ...]) -> type[Group]:
    cls = cast("type[PolicyBase]", _make(f"PolicyGroup[{name}]", PolicyBase, names))
    cls.policy = name
    return cls


def policy_group_model(pol: Policy) -> type[Group]:
    """The ``policy`` group of one policy: the registry's policy parameters it reads (a user policy:
    its ``@policy`` parameters), with their registry ranges; the policy's own bounds apply when it
    is bound (:meth:`flatbook.policies.base.Policy.bind`)."""
    names = tuple(n for n in pol.params if n in PARAMS and group_of(n) == "policy")
    return _policy_model(pol.name, pol.token, names)


def group_model(group: str) -> type[Group]:
    """The model of ``group`` (one of :data:`flatbook.params.GROUPS`; ``policy``: every policy parameter
    registered now, user policies' included)."""
    if group not in GROUP_MODELS:
        raise unknown("group", "group", group, GROUPS)
    if group == "policy" and set(names_in("policy")) != set(PolicyGroup.model_fields):
        return _policy_model("", "", names_in("policy"))
    return GROUP_MODELS[group]


def input_error(e: ValidationError, section: str = "") -> InputError:
    """One :class:`InputError` for the first error of a group's validation: a value error keeps the
    parameter's own message (field = its short name); an unknown key names ``section.key`` and says
    which section it belongs to, or "did you mean …?"."""
    err = e.errors()[0]
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("error"), InputError):
        return ctx["error"]
    key = str(err["loc"][-1]) if err["loc"] else ""
    field = f"{section}.{key}" if section else key
    if err["type"] == "extra_forbidden":
        if key in PARAMS:
            return InputError(field, f"unknown key; {key} is in [{group_of(key)}]")
        pool = list(GROUP_MODELS[section].model_fields) if section in GROUP_MODELS else list(PARAMS)
        return unknown(field, "key", key, pool if did_you_mean(key, pool) else PARAMS, list_all=False)
    return InputError(field, f"{err['msg']} (got {err.get('input')!r})")


def validate_group(group: str, data: Mapping[str, Any], model: type[Group] | None = None) -> Group:
    """``data`` as a validated record of ``group`` (errors: :func:`input_error`)."""
    cls = model or group_model(group)
    try:
        return cls.model_validate(dict(data))
    except ValidationError as e:
        raise input_error(e, group) from None


def run_groups(cfg: RunConfig) -> dict[str, Group]:
    """The typed groups of a validated run, from its flat values (which stay what the engines pack)."""
    # lazy: start-up (the policy registry compiles with numba; only a run's groups need it)
    from .policies.registry import policy_spec

    v = cfg.values
    out: dict[str, Group] = {}
    models: dict[str, type[Group]] = dict(GROUP_MODELS)
    models["policy"] = policy_group_model(policy_spec(cfg.policy))
    full = dict(v)
    full["policy"] = cfg.policy
    for g, cls in models.items():
        data: dict[str, Any] = {n: v[n] for n in cls.model_fields if n in v}
        if g == "run":
            data.update(preset=cfg.preset, policy=cfg.policy, paths=cfg.paths, seed=cfg.seed)
        rec = validate_group(g, data, cls)
        rec._values = full
        out[g] = rec
    return out


def config_schema() -> dict[str, Any]:
    """The JSON schema of a run config TOML: ``[run]`` ``[policy]`` ``[market]`` ``[controls]``
    ``[hedge]`` ``[costs]`` and the flat ``[params]`` table (any parameter; the sections are preferred)."""
    props: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for g in GROUPS:
        s = group_model(g).model_json_schema()
        s.pop("title", None)
        s["description"] = _SECTION_DOC[g]
        props[g] = s
        for n, f in s["properties"].items():
            if n not in _RUN_EXTRA:
                flat[n] = f
    props["params"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "every parameter by its short name (the flat table of earlier versions; the sections are preferred)",
        "properties": flat,
    }
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "flatbook run config (TOML)",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }
    return out
