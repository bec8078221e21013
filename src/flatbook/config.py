"""A validated run: preset + policy + overrides (``--set`` / TOML) → :class:`RunConfig`."""
from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .errors import InputError
from .params import PARAMS, defaults, parse_value
from .policies.registry import policy_spec
from .presets import preset

MAX_STEPS = 10_000_000
MAX_PATHS = 1_000_000_000


@dataclass(frozen=True)
class RunConfig:
    """Everything one simulation needs; immutable, validated."""

    preset: str
    policy: str
    values: Mapping[str, float | str]
    paths: int
    seed: int
    user_keys: frozenset[str]

    @property
    def steps(self) -> int:
        """Number of time steps, T/dt."""
        return int(round(self.values["T"] / self.values["dt"]))

    def as_dict(self) -> dict:
        """JSON-ready description of the run."""
        return {"preset": self.preset, "policy": self.policy, "paths": self.paths, "seed": self.seed,
                "steps": self.steps, "params": dict(self.values)}


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


def check_int(field: str, raw: object, lo: int, hi: int) -> int:
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


def build_config(preset_name: str, policy: str, overrides: Mapping[str, object] | None = None,
                 paths: int = 10_000, seed: int = 0) -> RunConfig:
    """Validate and assemble a run; every problem raises :class:`InputError` naming the field."""
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
    finite = [v[z] for z in ("yellow", "red", "critical") if not math.isinf(v[z])]
    if finite != sorted(finite):
        raise InputError("yellow", f"zone thresholds must satisfy yellow <= red <= critical; got "
                         f"{v['yellow']:g}, {v['red']:g}, {v['critical']:g} (lots)")
    if abs(v["q0"]) > v["limit"]:
        raise InputError("q0", f"|q0| = {abs(v['q0']):g} exceeds the hard limit {v['limit']:g} (lots)")
    cfg = RunConfig(pre.name, spec.name, MappingProxyType(v), paths, seed, frozenset(user))
    spec.pack(v, cfg.steps)  # policy-level checks (e.g. glft exact needs a finite limit)
    return cfg


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


def load_toml(path: str | Path) -> tuple[dict, dict]:
    """Read a TOML config: ``[run]`` (preset, policy, paths, seed) and ``[params]``.

    Returns (run, params). Unknown tables or keys raise :class:`InputError`.
    """
    p = Path(path)
    data = read_toml(p)
    unknown = set(data) - {"run", "params"}
    if unknown:
        raise InputError("--config", f"unknown table(s) {sorted(unknown)} in {p}; allowed: [run], [params]")
    run = data.get("run", {})
    params = data.get("params", {})
    if not isinstance(run, dict) or not isinstance(params, dict):
        raise InputError("--config", f"[run] and [params] in {p} must be tables")
    bad = set(run) - _RUN_KEYS
    if bad:
        raise InputError(f"run.{sorted(bad)[0]}", f"unknown key in {p}; allowed: {', '.join(sorted(_RUN_KEYS))}")
    for key in params:
        if key not in PARAMS:
            raise InputError(f"params.{key}", f"unknown parameter in {p}; allowed: {', '.join(sorted(PARAMS))}")
    return dict(run), dict(params)
