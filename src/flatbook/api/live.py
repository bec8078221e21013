"""``flatbook.api.live.run_live``: the live engine (``flatbook live``) from Python."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..results._files import check_out_dir

__all__ = ["load_live_settings", "run_live"]


def load_live_settings(path: str | os.PathLike) -> Any:
    """A live configuration TOML (see ``examples/live/*.toml``) as validated
    :class:`flatbook.live.settings.LiveSettings`; a bad value raises :class:`~flatbook.errors.InputError`."""
    from ..live.settings import load_settings  # lazy: start-up (the live engine)

    return load_settings(os.fspath(path))


def run_live(
    settings: Any,
    *,
    out: str | os.PathLike | None = None,
    port: int | None = None,
    hold: bool = False,
    flatten_on_exit: bool = False,
    announce: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the live engine (:mod:`flatbook.live`) until its feed ends or a stop signal (Ctrl-C, SIGTERM): quote
    through a venue (trade mode) or advise another bot (monitor mode). Needs the extra ``flatbook[live]``.

    Parameters
    ----------
    settings : path or LiveSettings
        The live configuration (a TOML path, or :func:`load_live_settings`'s result).
    out : path, optional
        Write the summary there as ``summary.json``.
    port : int, optional
        The API's port (overrides ``api.port``; 0: any free port).
    hold : bool, default False
        Keep the API up after a replay ends (until a stop signal).
    flatten_on_exit : bool, default False
        On a stop signal, also flatten the position through the venue (resting orders are always cancelled).
    announce : callable(str), optional
        Where the start-up lines go (default: stdout).

    Returns
    -------
    dict
        The summary: position (lots), cash and PnL (settlement currency), fills, orders, events per second and
        tick-to-quote latency percentiles (µs) under ``timing``.
    """
    from ..extras import require  # lazy: start-up

    require("live", "aiohttp", "prometheus_client", field="flatbook live")
    from ..live.runner import main  # lazy: start-up (asyncio, aiohttp)

    s = load_live_settings(settings) if isinstance(settings, (str, os.PathLike)) else settings
    out_dir = None if out is None else check_out_dir(out, "out")
    return main(s, out_dir, port, hold, flatten_on_exit=flatten_on_exit, **({"announce": announce} if announce else {}))
