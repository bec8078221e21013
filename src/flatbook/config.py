"""A validated run: preset + policy + overrides (``--set`` / TOML) → :class:`RunConfig`.

A parameter is named by its short name (``limit``) or its dotted long name (``controls.limit``,
:func:`flatbook.params.resolve`). A run config TOML has the sections ``[run]`` (preset, policy,
paths, seed and the time grid T, dt, s0, q0), ``[policy]``, ``[market]``, ``[controls]``,
``[hedge]`` and ``[costs]`` (:data:`flatbook.params.GROUPS`); the flat ``[params]`` table of
earlier versions is still read. :class:`RunConfig` keeps the flat ``values`` every engine packs
and carries the typed groups (:mod:`flatbook.paramgroups`, built on first use: pydantic is not
imported by ``flatbook --help``).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import InputError
from .params import GROUPS, MAX_PATHS, MAX_STEPS, PARAMS, STATS, check_stats, defaults, group_of, names_in, resolve
from .presets import preset
from .suggest import did_you_mean, unknown
from .validate import check_int

__all__ = [
    "MAX_PATHS",
    "MAX_STEPS",
    "RUN_KEYS",
    "STATS",
    "check_stats",
    "RunConfig",
    "build_config",
    "check_consistent",
    "check_int",
    "load_toml",
    "parse_set",
    "read_toml",
    "section_params",
]

#: ``[run]`` keys that are not parameters (the run's other keys are the ``run`` group's: T, dt, s0, q0)
RUN_KEYS = ("preset", "policy", "paths", "seed", "stats")


def _rebuild(preset: str, policy: str, values: dict, paths: int, seed: int, user_keys: frozenset) -> RunConfig:
    return RunConfig(preset, policy, MappingProxyType(values), paths, seed, user_keys)


@dataclass(frozen=True)
class RunConfig:
    """Everything one simulation needs; immutable, validated."""

    preset: str
    policy: str
    # name -> value: a float for a numeric parameter, a str for a choice parameter (params.Param.parse).
    # Any, not float | str: which kind a name holds is fixed by params.PARAMS, which mypy cannot see.
    values: Mapping[str, Any]
    paths: int
    seed: int
    user_keys: frozenset[str]

    @property
    def steps(self) -> int:
        """Number of time steps, T/dt."""
        return int(round(self.values["T"] / self.values["dt"]))

    def __reduce__(self):
        # MappingProxyType does not pickle: rebuild from a plain copy (a Dask worker, pickle.dumps(result))
        return _rebuild, (self.preset, self.policy, dict(self.values), self.paths, self.seed, self.user_keys)

    def as_dict(self) -> dict:
        """JSON-ready description of the run."""
        return {
            "preset": self.preset,
            "policy": self.policy,
            "paths": self.paths,
            "seed": self.seed,
            "steps": self.steps,
            "params": dict(self.values),
        }

    # ---- the typed groups (flatbook.paramgroups): frozen pydantic records of the same values
    @property
    def groups(self) -> dict[str, Any]:
        """``{group: record}`` for every group of :data:`flatbook.params.GROUPS` (``policy``: the run's
        policy's own parameters). Built once, on first use."""
        got = self.__dict__.get("_groups")
        if got is None:
            # lazy: start-up (pydantic; 'flatbook --help' and --version import this module, not pydantic)
            from .paramgroups import run_groups

            got = run_groups(self)
            object.__setattr__(self, "_groups", got)
        return got

    @property
    def run(self) -> Any:
        """The ``run`` group: preset, policy, paths, seed, T, dt, s0, q0."""
        return self.groups["run"]

    @property
    def policy_params(self) -> Any:
        """The ``policy`` group of the run's policy (``cfg.policy`` is the policy's name)."""
        return self.groups["policy"]

    @property
    def market(self) -> Any:
        """The ``market`` group: mid price, flow, regimes, jumps, informed flow, events."""
        return self.groups["market"]

    @property
    def controls(self) -> Any:
        """The ``controls`` group: limit, zones, kill switch, tick, size, pause."""
        return self.groups["controls"]

    @property
    def hedge(self) -> Any:
        """The ``hedge`` group: trigger, sizing, execution, impact, proxy, option, sessions."""
        return self.groups["hedge"]

    @property
    def costs(self) -> Any:
        """The ``costs`` group: financing, borrow, funding, capital, fees."""
        return self.groups["costs"]


def parse_set(items: list[str] | None) -> dict[str, str]:
    """Parse ``--set key=value`` items; a malformed item raises :class:`InputError`.

    A known key, short or dotted (``controls.limit``), is returned by its short name, so that a TOML
    value and a ``--set`` of the same parameter meet under one key; the same parameter set twice is
    refused. An unknown key is returned as given: :func:`build_config` names it (a user policy's
    parameters are known only once its file is loaded).
    """
    out: dict[str, str] = {}
    given: dict[str, str] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--set", f"expected key=value, got {item!r}")
        try:
            name = resolve(key)
        except InputError:
            name = key
        if name in given and given[name] != key:
            raise InputError(f"--set {key}", f"{name} is already set by --set {given[name]}=…; give it once")
        given[name] = key
        out[name] = val.strip()
    return out


def build_config(
    preset_name: str,
    policy: str,
    overrides: Mapping[str, object] | None = None,
    paths: int | str = 10_000,
    seed: int | str = 0,
) -> RunConfig:
    """Validate and assemble a run; every problem raises :class:`InputError` naming the field.

    ``paths`` and ``seed`` may be given as text (a flag or TOML value); they are checked as integers.
    """
    # lazy: start-up (the registry imports numba and the compiled kernel; 'flatbook --help' needs neither)
    from .policies.registry import policy_spec

    pre = preset(preset_name)
    spec = policy_spec(policy)
    paths = check_int("paths", paths, 1, MAX_PATHS)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    v: dict = defaults()
    v.update(pre.values)
    user: dict[str, str] = {}
    for key, raw in (overrides or {}).items():
        name = resolve(str(key))
        if name in user:
            raise InputError(str(key), f"{name} is also given as {user[name]}; give it once")
        v[name] = PARAMS[name].parse(raw)
        user[name] = str(key)
    if pre.derive is not None:
        pre.derive(v, set(user))
    steps = v["T"] / v["dt"]
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
        raise InputError("dt", f"T/dt must be a whole number of steps >= 1; got T={v['T']:g}, dt={v['dt']:g}")
    if round(steps) > MAX_STEPS:
        raise InputError("dt", f"T/dt = {round(steps)} steps; allowed: at most {MAX_STEPS}")
    check_consistent(v)
    cfg = RunConfig(pre.name, spec.name, MappingProxyType(v), paths, seed, frozenset(user))
    spec.pack(v, cfg.steps)  # policy-level checks (e.g. glft exact needs a finite limit)
    return cfg


def check_consistent(v: Mapping[str, Any]) -> None:
    """Checks that involve two parameters; each failure names both, in lots or time units.

    - zones: yellow <= red <= critical, and a finite threshold at most the hard limit
      (beyond it the zone could never be entered);
    - |q0| <= limit and |q_target| <= limit (the controls hold |q| <= limit at every step);
    - a threshold hedge with a fixed target must be able to fire: hedge_threshold < limit + |q_target|,
      and band sizing needs hedge_band < hedge_threshold (else a hedge would trade nothing);
    - pause_before needs a scheduled event (event_time finite);
    - the cost-mode hedge target needs both carry costs > 0 or both 0 (else it is ±inf);
    - a session (session_length) and a hedge program (hedge_horizon) span at most MAX_STEPS steps of dt.
    """
    lim = v["limit"]
    finite = [v[z] for z in ("yellow", "red", "critical") if not math.isinf(v[z])]
    if finite != sorted(finite):
        raise InputError(
            "yellow",
            f"zone thresholds must satisfy yellow <= red <= critical; got "
            f"{v['yellow']:g}, {v['red']:g}, {v['critical']:g} (lots)",
        )
    for z in ("yellow", "red", "critical"):
        if math.isfinite(v[z]) and v[z] > lim:
            raise InputError(
                z,
                f"{z} = {v[z]:g} exceeds the hard limit limit = {lim:g} (lots): "
                "the zone could never be entered; use inf for no zone",
            )
    for key in ("q0", "q_target"):
        if abs(v[key]) > lim:
            raise InputError(key, f"|{key}| = {abs(v[key]):g} exceeds the hard limit limit = {lim:g} (lots)")
    if v["hedge_trigger"] == "threshold" and v["hedge_target_mode"] == "fixed" and v["option_type"] == "none":
        th, reach = v["hedge_threshold"], lim + abs(v["q_target"])
        if math.isfinite(th) and th >= reach:
            raise InputError(
                "hedge_threshold",
                f"{th:g} >= limit + |q_target| = {reach:g} (lots): |q − q_target| "
                "can never pass it, so the hedge would never fire; use "
                "hedge_trigger=none for no hedge",
            )
        if v["hedge_sizing"] == "band" and not v["hedge_band"] < th:
            raise InputError(
                "hedge_band",
                f"{v['hedge_band']:g} must be below hedge_threshold = {th:g} (lots): "
                "a hedge down to the band edge would trade nothing",
            )
    if v["pause_before"] > 0 and math.isinf(v["event_time"]):
        raise InputError("pause_before", f"{v['pause_before']:g} (time units) needs a scheduled event: set event_time")
    if v["hedge_target_mode"] == "cost":
        c_long, c_short = v["financing_long"], v["financing_short"] + v["borrow_htb"]
        if (c_long > 0) != (c_short > 0):
            raise InputError(
                "hedge_target_mode",
                f"cost needs both carry costs > 0 (or both 0, target 0); got "
                f"financing_long = {c_long:g}, financing_short + borrow_htb = "
                f"{c_short:g} (price units per lot per time unit): the target "
                "would be infinite",
            )
    for key in ("session_length", "hedge_horizon"):  # both become arrays of that many steps
        if key == "hedge_horizon" and v["hedge_exec"] == "immediate":
            continue
        if math.isfinite(v[key]) and v[key] / v["dt"] > MAX_STEPS:
            raise InputError(
                key,
                f"{v[key]:g} time units is more than {MAX_STEPS:,} steps of dt = {v['dt']:g}; "
                f"allowed: at most {MAX_STEPS * v['dt']:g}",
            )


def read_toml(path: str | Path, field: str = "--config") -> dict:
    """Parse a TOML file; a missing, unreadable or invalid file raises :class:`InputError` naming ``field``."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(field, f"no such file: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(field, f"cannot read {p}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(field, f"{p} is not valid TOML: {e}") from None


_TABLES = ("run", *GROUPS[1:], "params")


def _section_key(table: str, key: str, where: str) -> str:
    """The registry name of ``key`` in ``[table]``, or :class:`InputError` ``table.key: …`` (a key of
    another section says which; an unknown one gets "did you mean …?"). ``where``: e.g. "in FILE"."""
    field = f"{table}.{key}"
    see = f"{where}; see 'flatbook params'" if where else "see 'flatbook params'"
    if table == "params":
        if key not in PARAMS:
            raise unknown(field, "parameter", key, PARAMS, list_all=False, see=see)
        return key
    if key in PARAMS and group_of(key) == table:
        return key
    if key in PARAMS:
        raise InputError(field, f"unknown key; {key} is in [{group_of(key)}]" + (f" ({where})" if where else ""))
    if table == "run":
        raise unknown(field, "key", key, (*RUN_KEYS, *names_in("run")), see=where)
    pool = names_in(table) if did_you_mean(key, names_in(table)) else PARAMS
    raise unknown(field, "key", key, pool, list_all=False, see=see)


def section_params(tables: Mapping[str, Mapping[str, Any]], where: str = "") -> dict[str, Any]:
    """The parameters of TOML sections ``{section: {key: value}}`` (sections: a group of
    :data:`flatbook.params.GROUPS` or ``params``, the flat table), by short name, values as given.

    A key that is not a parameter of its section (``[controls] sigma`` → "sigma is in [market]"),
    an unknown key ("did you mean …?") and a parameter given in two sections raise :class:`InputError`
    naming ``section.key``; ``where`` (e.g. "in FILE") is added to the message.
    """
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for table, body in tables.items():
        for key, val in body.items():
            name = _section_key(table, str(key), where)
            if name in seen:
                also = f"also given in [{seen[name]}]" + (f" ({where})" if where else "")
                raise InputError(f"{table}.{key}", f"{also}; give it once")
            seen[name] = table
            out[name] = val
    return out


def load_toml(path: str | os.PathLike[str]) -> tuple[dict, dict]:
    """Read a TOML run config: ``[run]`` (preset, policy, paths, seed, and the run group's T, dt, s0,
    q0), the group sections ``[policy]`` ``[market]`` ``[controls]`` ``[hedge]`` ``[costs]``, and the
    flat ``[params]`` table (any parameter; still read, the sections are preferred).

    Returns (run, params): ``run`` the keys of :data:`RUN_KEYS`, ``params`` every parameter by its
    short name. Unknown tables or keys, a key in the wrong section and a parameter given twice raise
    :class:`InputError`.
    """
    p = Path(path)
    data = read_toml(p)
    for table in data:
        if table not in _TABLES:
            raise unknown("--config", "table", f"[{table}]", [f"[{t}]" for t in _TABLES], see=f"in {p}")
    for table, body in data.items():
        if not isinstance(body, dict):
            raise InputError("--config", f"[{table}] in {p} must be a table")
    body = {t: data.get(t, {}) for t in _TABLES}
    run = {k: v for k, v in body["run"].items() if k in RUN_KEYS}
    body["run"] = {k: v for k, v in body["run"].items() if k not in RUN_KEYS}
    params = section_params(body, f"in {p}")
    return run, params
