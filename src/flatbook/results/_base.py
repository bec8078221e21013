"""What every result object shares: the JSON dict, timing, warnings, parquet writing and notebook display."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..jsonutil import jsonable
from ..timing import group_timing
from .summary import Summary, html_table


class Result:
    """Base of the result objects: ``summary``, ``timing``, ``warnings``, ``to_dict()`` and ``_repr_html_``.

    Subclasses set ``summary`` (a :class:`~flatbook.results.Summary`), ``_obj`` (the command
    line's JSON object of the same run) and ``_key_figures`` (the keys shown first in notebooks).
    """

    summary: Summary
    _obj: dict
    _key_figures: Sequence[str] = ()

    @property
    def timing(self) -> dict[str, Any]:
        """Wall-clock fields (seconds, rates): the only part that differs between two identical runs."""
        return dict(self._obj.get("timing", {}))

    @property
    def warnings(self) -> tuple[str, ...]:
        """The run's warnings (the command line prints each as one ``warning:`` line on stderr)."""
        return tuple(str(w) for w in self._obj.get("warnings") or ())

    def to_dict(self) -> dict[str, Any]:
        """The run as the command line's ``--json`` prints it (wall-clock fields under ``timing``)."""
        return jsonable(group_timing(self._obj))

    def _html_head(self) -> str:
        return f"<p><b>{html.escape(type(self).__name__)}</b>: {html.escape(self.summary.title)}</p>"

    def _repr_html_(self) -> str:
        keys = [k for k in self._key_figures if k in self.summary] or None
        warn = "".join(f"<p style='color:#b35900'>warning: {html.escape(w)}</p>" for w in self.warnings)
        more = f"<p><i>{len(self.summary)} figures in .summary</i></p>" if keys else ""
        return self._html_head() + html_table(self.summary, keys, caption=False) + more + warn

    def __repr__(self) -> str:
        keys = [k for k in self._key_figures if k in self.summary] or list(self.summary)[:8]
        width = max(len(k) for k in keys) if keys else 0
        lines = [f"<{type(self).__name__}: {self.summary.title}>"]
        lines += [f"  {k:<{width}}  {self.summary[k]}" for k in keys]
        return "\n".join(lines)


def out_dir(path: str | os.PathLike) -> Path:
    """``path`` as a directory to write into (created with its parents), or :class:`InputError` naming ``dir``."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError("dir", f"{p} exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError("dir", f"cannot create {p}: {e.strerror or e}") from None
    return p


def write_frames(directory: str | os.PathLike, frames: Mapping[str, Any]) -> dict[str, Path]:
    """Write each DataFrame of ``frames`` as ``<name>.parquet`` (pyarrow) into ``directory``; name → path."""
    d = out_dir(directory)
    written = {}
    for name, df in frames.items():
        p = d / f"{name}.parquet"
        df.to_parquet(p, index=False, engine="pyarrow")
        written[name] = p
    return written


__all__ = ["Result", "out_dir", "write_frames"]
