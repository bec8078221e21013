"""Typed, read-only summaries: every figure with its unit and, where the project has one, its standard error.

A :class:`Summary` is a read-only mapping ``key → Quantity``. Its keys are those of the
command line's ``summary.json`` (nested mappings flattened to ``outer.inner``), minus the
wall-clock fields (kept apart in ``result.timing``, see :mod:`flatbook.timing`) and the
``warnings`` (``result.warnings``), so ``summary.to_dict()`` is bit for bit what the command
line prints. A :class:`Quantity` behaves like its number in arithmetic contexts
(``float(q)``), prints as ``value ± se unit`` and keeps the three parts as attributes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..units import fmt

__all__ = ["Difference", "Quantity", "Summary"]

Value = float | int | str | bool | None


@dataclass(frozen=True, slots=True)
class Quantity:
    """One figure of a result.

    Attributes
    ----------
    value : float, int, str, bool or None
        The number exactly as the command line's JSON has it (None: not defined, e.g. an SE of one path).
    unit : str
        Its unit, e.g. ``"price units × lots"`` (empty when it has none).
    se : float or None
        Its standard error, when the project computes one (e.g. ``pnl_mean`` carries ``pnl_se``).
    """

    value: Value
    unit: str = ""
    se: float | None = None

    def __float__(self) -> float:
        if self.value is None:
            return math.nan
        return float(self.value)

    def __str__(self) -> str:
        s = fmt(self.value)
        if self.se is not None:
            s += f" ± {fmt(self.se, 2)}"
        return f"{s} {self.unit}".rstrip()


@dataclass(frozen=True, slots=True)
class Difference(Quantity):
    """A paired difference (a policy minus the baseline) with its SE over paired paths and, for
    contrast, the SE the same difference would have if the runs were independent (``se_unpaired``)."""

    se_unpaired: float | None = None


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``outer.inner`` keys (lists and scalars kept as they are)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class Summary(Mapping[str, Quantity]):
    """A read-only mapping ``key → Quantity`` (see the module docstring).

    Parameters
    ----------
    quantities : mapping of str to Quantity
        The figures, in display order.
    title : str
        A caption for tables and notebooks.
    """

    __slots__ = ("_q", "title")

    def __init__(self, quantities: Mapping[str, Quantity], title: str = ""):
        self._q = MappingProxyType(dict(quantities))
        self.title = title

    @classmethod
    def build(
        cls, values: Mapping[str, Any], units: Mapping[str, str], title: str = "", se: Mapping[str, str] | None = None
    ) -> Summary:
        """A summary of ``values`` (flattened), units from ``units``; ``se`` maps a key to the key of its
        standard error (by default ``key_se``, and ``pnl_se`` for ``pnl_mean``)."""
        flat = flatten(values)
        se_keys = {"pnl_mean": "pnl_se", **{k[:-3]: k for k in flat if k.endswith("_se")}, **(se or {})}
        q = {}
        for k, v in flat.items():
            s = flat.get(se_keys.get(k, ""))
            q[k] = Quantity(v, units.get(k, ""), s if isinstance(s, (int, float)) and not isinstance(s, bool) else None)
        return cls(q, title)

    def __getitem__(self, key: str) -> Quantity:
        try:
            return self._q[key]
        except KeyError:
            from ..suggest import did_you_mean  # lazy: only on a miss

            raise KeyError(f"{key!r}{did_you_mean(key, self._q)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._q)

    def __len__(self) -> int:
        return len(self._q)

    @property
    def units(self) -> dict[str, str]:
        """``key → unit``."""
        return {k: q.unit for k, q in self._q.items()}

    def to_dict(self) -> dict[str, Value]:
        """``key → value`` (the plain numbers, as in the command line's JSON, flattened)."""
        return {k: q.value for k, q in self._q.items()}

    def to_pandas(self):
        """A DataFrame indexed by key with columns value, se, unit (and se_unpaired for differences)."""
        import pandas as pd  # lazy: start-up

        rows = {
            k: {
                "value": q.value,
                "se": q.se,
                "unit": q.unit,
                **({"se_unpaired": q.se_unpaired} if isinstance(q, Difference) else {}),
            }
            for k, q in self._q.items()
        }
        df = pd.DataFrame.from_dict(rows, orient="index")
        df.index.name = "key"
        return df

    def __repr__(self) -> str:
        width = max((len(k) for k in self._q), default=0)
        lines = [self.title] if self.title else []
        lines += [f"{k:<{width}}  {q}" for k, q in self._q.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return html_table(self)


def html_table(summary: Summary, keys: list[str] | None = None, caption: bool = True) -> str:
    """An HTML table of ``summary`` (only ``keys`` when given): key, value ± SE, unit; its title as caption."""
    cap = (
        f"<caption style='text-align:left'><b>{html.escape(summary.title)}</b></caption>"
        if caption and summary.title
        else ""
    )
    rows = []
    for k in keys if keys is not None else list(summary):
        if k not in summary:
            continue
        q = summary[k]
        val = fmt(q.value) + (f" ± {fmt(q.se, 2)}" if q.se is not None else "")
        rows.append(
            f"<tr><td style='text-align:left'>{html.escape(k)}</td><td style='text-align:right'>"
            f"{html.escape(val)}</td><td style='text-align:left'>{html.escape(q.unit)}</td></tr>"
        )
    return (
        f"<table>{cap}<thead><tr><th>key</th><th>value</th><th>unit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
