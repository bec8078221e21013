"""What the result objects share: the JSON dict and text, timing, warnings and notebook display
(:class:`Result`); the output directory of ``--out`` (:class:`SavedResult`, :class:`FramesResult`); the HTML
report of ``--report`` (:class:`ReportedResult`). A result has the writers its command has: a quote has
neither ``save`` nor ``report``, a risk result ``save`` only, a simulation both."""

from __future__ import annotations

import html
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..jsonutil import jsonable
from ..timing import group_timing
from ._files import dumps, publish_dir
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

    def to_json(self) -> str:
        """The text the command line's ``--json`` prints (without the final newline): strict JSON, indented by 2,
        non-finite numbers as null; also the ``summary.json`` of :meth:`save`."""
        return dumps(self._obj)

    def summary_object(self) -> dict[str, Any]:
        """The run's JSON object (as :meth:`to_json` writes it): a fresh plain dict."""
        return jsonable(self._obj)

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


class SavedResult(Result, ABC):
    """A result with an output directory (``--out DIR``): :meth:`save`. Subclasses write its files in ``_files``."""

    @abstractmethod
    def _files(self, tmp: Path) -> list[str]:
        """Write the output files into the fresh directory ``tmp``; return their names."""

    def save(self, directory: str | os.PathLike) -> list[Path]:
        """Write the files the command line's ``--out DIR`` writes for this run into ``directory``, all of them
        or none (written into a temporary directory beside it, then moved into place; see
        :mod:`flatbook.results._files`). Files already in ``directory`` that the run does not write are kept.
        A result whose command has no ``--out`` (risk, stress, schedule, calibrate, data inspect) writes
        summary.json (its ``--json``) and its DataFrames as parquet files.

        Returns
        -------
        list of pathlib.Path
            The files written.

        Raises
        ------
        flatbook.errors.InputError
            ``dir``: not a directory, not writable, or a write failed (nothing is left behind).
        """
        return publish_dir(directory, self._files)


class FramesResult(SavedResult):
    """A saved result whose files are summary.json (:meth:`to_json`) and its DataFrames (``_frames``) as parquet."""

    @abstractmethod
    def _frames(self) -> Mapping[str, Any]:
        """The DataFrames :meth:`save` writes as ``<name>.parquet`` beside summary.json."""

    def _files(self, tmp: Path) -> list[str]:
        frames = self._frames()
        (tmp / "summary.json").write_text(self.to_json() + "\n", encoding="utf-8")
        names = ["summary.json"]
        for name, df in frames.items():
            df.to_parquet(tmp / f"{name}.parquet", index=False, engine="pyarrow")
            names.append(f"{name}.parquet")
        return names


class ReportedResult(Result, ABC):
    """A result with an HTML report (``--report FILE.html``): :meth:`report`, :meth:`report_html`."""

    @abstractmethod
    def _report_html(self) -> str:
        """The self-contained HTML report of the run."""

    def report_html(self) -> str:
        """The self-contained interactive HTML report (:mod:`flatbook.report.html`; plotly embedded, opens
        offline) as text: what ``--report FILE.html`` writes. Needs the extra ``flatbook[report]``."""
        from ..extras import require  # lazy: start-up

        require("report", "plotly", field="report")
        return self._report_html()

    def report(self, path: str | os.PathLike) -> Path:
        """Write the HTML report (:meth:`report_html`) to ``path`` (ending in .html) atomically, as the command
        line's ``--report`` does; missing parent directories are created. Returns the path written.

        Raises
        ------
        flatbook.errors.InputError
            ``path``: not ending in .html, a directory, not writable, or plotly missing.
        """
        from ..report.html import check_report_path, write_report  # lazy: start-up (numpy, plotly)

        target = check_report_path(str(path), field="path")
        return write_report(target, self._report_html(), field="path")


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
