"""The quoting policies by name.

Each built-in policy is a :class:`~flatbook.policies.base.Policy` defined beside its
formula (symmetric.py, linear_skew.py, stoll.py, avellaneda_stoikov.py, glft.py);
a user's policy (:func:`flatbook.policies.loader.load_policy_file`) is registered
here too, and from then on every engine, the CLI and the config validation find it
by name, exactly as a built-in one: there is no privileged list in the engines.
"""

from __future__ import annotations

from ..errors import InputError
from ..params import PARAMS
from ..params import Param as RegistryParam
from ..suggest import unknown
from .avellaneda_stoikov import avellaneda_stoikov
from .base import Policy
from .glft import glft
from .linear_skew import linear_skew
from .stoll import stoll
from .symmetric import symmetric

#: Deprecated name of :class:`~flatbook.policies.base.Policy`.
PolicySpec = Policy

BUILTIN: tuple[Policy, ...] = (symmetric, linear_skew, stoll, avellaneda_stoikov, glft)
POLICIES: dict[str, Policy] = {p.name: p for p in BUILTIN}
_ADDED: set[str] = set()  # parameters that user policies added to flatbook's registry


def policy_spec(name: str) -> Policy:
    """Look up a policy by name, or raise :class:`InputError` listing the names."""
    spec = POLICIES.get(name)
    if spec is None:
        raise unknown("policy", "policy", name, POLICIES)
    return spec


def register(pol: Policy) -> Policy:
    """Make ``pol`` known by its name (replacing an earlier user policy of that name; a built-in
    name is refused), and add its parameters that flatbook's registry lacks to it (group
    ``policy``), so that ``--set name=value`` and TOML reach them."""
    old = POLICIES.get(pol.name)
    if old is not None and old.builtin and old is not pol:
        raise InputError("--policy", f"{pol.name!r} is a built-in policy; give yours another name")
    for name, spec in pol.param_specs.items():
        if name not in PARAMS or name in _ADDED:
            _ADDED.add(name)
            lo = spec.ge if spec.ge is not None else spec.gt if spec.gt is not None else -1e9
            hi = spec.le if spec.le is not None else spec.lt if spec.lt is not None else 1e9
            PARAMS[name] = RegistryParam(
                name,
                "policy",
                spec.unit,
                float(spec.default),
                f"{pol.name}: {spec.doc}".rstrip(": "),
                lo=lo,
                hi=hi,
                lo_open=spec.ge is None and spec.gt is not None,
            )
    POLICIES[pol.name] = pol
    return pol
