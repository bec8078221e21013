"""Progress on a terminal: a bar for counted work, a spinner for the rest.

Both draw on stderr, only when stderr is a terminal, only after the work has
lasted about :data:`DELAY_S` seconds (so quick commands stay silent), and never
under ``--json`` (pass ``enabled=False``). Piped output therefore never carries
progress lines. Built on :mod:`rich.progress`; the delay timer is ours because
rich has no "show only if slow" option.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

DELAY_S = 1.0  # show nothing for work shorter than this (seconds)


class ProgressBar:
    """A transient rich progress bar (or spinner when ``total`` is None) on stderr.

    Parameters
    ----------
    total
        Units of work (e.g. paths or events); None draws a spinner with the elapsed time.
    columns
        Rich columns between the description and the elapsed time (default: bar, n/total, ``unit``).
    description
        The text before the bar.
    unit
        The word after the count (e.g. ``"paths"``, ``"events"``).
    enabled
        False keeps it silent whatever stderr is (use for ``--json``).
    """

    def __init__(
        self,
        total: int | None,
        columns: Sequence | None = None,
        description: str = "simulating",
        unit: str = "paths",
        enabled: bool = True,
        **fields,
    ):
        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        if total is None:
            cols = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        else:
            cols = (
                TextColumn("{task.description}"),
                *(columns or (BarColumn(), MofNCompleteColumn(), TextColumn(unit))),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
        self.progress = Progress(*cols, console=self.console, transient=True)
        self.task = self.progress.add_task(description, total=total, **fields)
        self._lock = threading.Lock()
        self._started = self._closed = False
        self._timer = threading.Timer(DELAY_S, self._start)
        self._timer.daemon = True

    def _start(self) -> None:
        with self._lock:
            if not self._closed:
                self.progress.start()
                self._started = True

    def __enter__(self) -> Self:
        if self.enabled:
            self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._started:
                self.progress.stop()

    def update(self, completed: float | None = None, description: str | None = None, **fields) -> None:
        """Move the bar to ``completed`` units and/or change its text."""
        kw = dict(fields)
        if completed is not None:
            kw["completed"] = completed
        if description is not None:
            kw["description"] = description
        self.progress.update(self.task, **kw)

    def callback(self, label: str, offset: int) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback for one stage whose units start at ``offset`` (e.g. one policy's paths)."""
        self.progress.update(self.task, description=label, completed=offset)
        return lambda done, total: self.progress.update(self.task, completed=offset + done)


def spinner(description: str, enabled: bool = True) -> ProgressBar:
    """A spinner with ``description`` and the elapsed time, for work whose length is not known."""
    return ProgressBar(None, description=description, enabled=enabled)
