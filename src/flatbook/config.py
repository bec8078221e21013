"""A validated run: preset + policy + overrides (``--set`` / TOML) → :class:`RunConfig`."""

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
from .params import PARAMS, defaults, parse_value
from .presets import preset
from .suggest import unknown

MAX_STEPS = 10_000_000
MAX_PATHS = 1_000_000_000


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


def parse_set(items: list[str] | None) -> dict[str, str]:
    """Parse ``--set key=value`` items; a malformed item raises :class:`InputError`."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--set", f"expected key=value, got {item!r}")
        out[key] = val.strip()
    return out


def check_int(field: str, raw: Any, lo: int, hi: int) -> int:
    """An integer in [lo, hi], or :class:`InputError` naming ``field``."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        val = int(raw)
        if isinstance(raw, float) and raw != val:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(field, f"got {raw!r}; allowed: an integer from {lo} to {hi}") from None
    if not lo <= val <= hi:
        raise InputError(field, f"got {val}; allowed: an integer from {lo} to {hi}")
    return val


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
    user = set()
    for key, raw in (overrides or {}).items():
        v[key] = parse_value(key, raw)
        user.add(key)
    if pre.derive is not None:
        pre.derive(v, user)
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


_RUN_KEYS = {"preset", "policy", "paths", "seed"}


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


def load_toml(path: str | os.PathLike[str]) -> tuple[dict, dict]:
    """Read a TOML config: ``[run]`` (preset, policy, paths, seed) and ``[params]``.

    Returns (run, params). Unknown tables or keys raise :class:`InputError`.
    """
    p = Path(path)
    data = read_toml(p)
    for table in data:
        if table not in ("run", "params"):
            raise unknown("--config", "table", f"[{table}]", ("[run]", "[params]"), see=f"in {p}")
    run = data.get("run", {})
    params = data.get("params", {})
    if not isinstance(run, dict) or not isinstance(params, dict):
        raise InputError("--config", f"[run] and [params] in {p} must be tables")
    for key in run:
        if key not in _RUN_KEYS:
            raise unknown(f"run.{key}", "key", key, _RUN_KEYS, see=f"in {p}")
    for key in params:
        if key not in PARAMS:
            raise unknown(
                f"params.{key}", "parameter", key, PARAMS, list_all=False, see=f"in {p}; see 'flatbook params'"
            )
    return dict(run), dict(params)
