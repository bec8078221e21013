"""Turning the API's keyword arguments into a validated :class:`~flatbook.config.RunConfig`.

One rule for every call: a run is a preset (default ``as2008``) + a policy + parameter
values, given in any of three ways, later ones winning:

1. ``config=``: a :class:`~flatbook.config.RunConfig` (e.g. from :func:`flatbook.run_config`) or the
   path of a TOML file with ``[run]`` and ``[params]`` tables (as ``flatbook ... --config``);
2. ``params={"gamma": 0.1, ...}``: a mapping of parameter names to values;
3. keyword arguments, ``gamma=0.1``: the same names as keywords.

Every value is validated by :func:`flatbook.config.build_config` (the command line's own
check): a bad one raises :class:`~flatbook.errors.InputError` naming the field and what is
allowed, an unknown name adds "did you mean …?" (:mod:`flatbook.suggest`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..config import RunConfig, build_config, load_toml
from ..errors import InputError
from ..params import PARAMS
from ..policies.base import Policy
from ..policies.registry import register
from ..suggest import unknown

DEFAULT_PRESET = "as2008"
DEFAULT_POLICY = "avellaneda-stoikov"
DEFAULT_PATHS = 10_000
DEFAULT_SEED = 0

ConfigLike = RunConfig | str | os.PathLike | None


def policy_name(policy: Any) -> Any:
    """A policy given as an object (``@flatbook.policy``-decorated function, :func:`flatbook.table_policy`, a
    loaded file's) is registered under its name, which is returned, so that its parameters validate like
    built-in ones; names (and lists of them) are returned as they are."""
    if isinstance(policy, Policy):
        return register(policy).name
    if isinstance(policy, (list, tuple)):
        return [policy_name(p) for p in policy]
    return policy


def merge_params(
    params: Mapping[str, Any] | None, overrides: Mapping[str, Any], arguments: Iterable[str] = ()
) -> dict[str, Any]:
    """``params`` and the keyword ``overrides`` as one dict; a name given in both, a ``params`` that is not a
    mapping, or a name that is no parameter (``arguments``: the call's own keywords, for the suggestion)
    raises :class:`InputError`."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InputError("params", f"expected a mapping of parameter names to values, got {type(params).__name__}")
    for key in overrides:
        if key not in PARAMS:
            raise unknown(
                key,
                "keyword argument or parameter",
                key,
                [*PARAMS, *arguments],
                list_all=False,
                see="see flatbook.list_parameters() or 'flatbook params'",
            )
        if key in params:
            raise InputError(key, "given both in params= and as a keyword argument; give it once")
    for key in params:
        if not isinstance(key, str):
            raise InputError("params", f"parameter names are strings; got {key!r}")
    return {**params, **overrides}


def resolve(
    config: ConfigLike, preset: str | None, policy: Any, paths: Any, seed: Any, values: Mapping[str, Any]
) -> tuple[str, Any, dict[str, Any], Any, Any]:
    """``(preset, policy, values, paths, seed)`` after merging ``config`` (a RunConfig or a TOML path) under
    the arguments; None means "not given". ``policy`` may come back as a list (a TOML's ``run.policy``)."""
    if config is None:
        base_run: dict[str, Any] = {}
        base_values: dict[str, Any] = {}
    elif isinstance(config, RunConfig):
        base_run = {"preset": config.preset, "policy": config.policy, "paths": config.paths, "seed": config.seed}
        base_values = {k: config.values[k] for k in config.user_keys}
    elif isinstance(config, (str, os.PathLike)):
        base_run, base_values = load_toml(config)
    else:
        raise InputError("config", f"expected a RunConfig or the path of a TOML file, got {type(config).__name__}")
    return (
        preset if preset is not None else base_run.get("preset", DEFAULT_PRESET),
        policy if policy is not None else base_run.get("policy"),
        {**base_values, **values},
        paths if paths is not None else base_run.get("paths", DEFAULT_PATHS),
        seed if seed is not None else base_run.get("seed", DEFAULT_SEED),
    )


def one_policy(policy: Any) -> Any:
    """The policy of a single run: the default when not given; a list (from a TOML) is refused."""
    if policy is None:
        return DEFAULT_POLICY
    if isinstance(policy, (list, tuple)):
        raise InputError("policy", "expected one policy name here; give a list only to flatbook.compare")
    return policy


def run_config(
    preset: str | None = None,
    policy: Any = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    params: Mapping[str, Any] | None = None,
    config: ConfigLike = None,
    **overrides: Any,
) -> RunConfig:
    """A validated run configuration (preset + policy + parameter values + paths + seed).

    Parameters
    ----------
    preset : str, optional
        A market set-up (``flatbook.list_presets()``); default ``"as2008"`` (Avellaneda & Stoikov 2008, §3).
    policy : str or Policy, optional
        A quoting policy by name (``flatbook.list_policies()``) or a policy object of your own
        (``@flatbook.policy``); default ``"avellaneda-stoikov"``.
    paths : int, optional
        Monte Carlo paths, >= 1 (default 10 000).
    seed : int, optional
        Random seed, >= 0 (default 0). Same seed ⇒ same random numbers (common random numbers).
    params : mapping, optional
        Parameter values by name (``flatbook.list_parameters()`` lists names, units and ranges).
    config : RunConfig or path, optional
        A config to start from (its user-set values are kept), or a TOML file with ``[run]`` and ``[params]``.
    **overrides
        Parameter values as keywords, e.g. ``gamma=0.1`` (per price unit × lot).

    Returns
    -------
    flatbook.config.RunConfig
        Frozen and validated; pass it as ``config=`` to :func:`flatbook.simulate` and friends.

    Raises
    ------
    flatbook.errors.InputError
        A bad or unknown value, naming the field (with "did you mean …?").
    """
    policy = policy_name(policy)  # first: a user policy's parameters become known
    values = merge_params(params, overrides, RUN_ARGUMENTS)
    pre, pol, vals, n, s = resolve(config, preset, policy, paths, seed, values)
    return build_config(pre, one_policy(pol), vals, paths=n, seed=s)


RUN_ARGUMENTS = ("preset", "policy", "paths", "seed", "params", "config")
