"""The engines' compiled kernels: will a first call compile them, and compiling them ahead of a run.

numba compiles a kernel on its first call in a process unless its on-disk cache holds machine code
for the current source. A run's numbers never depend on it; only its first call's wall time does.
The command line uses these two functions to show "compiling kernels (first run only)…" while it
happens (and only then); a script can call :func:`warm_up` before timing a run.

Start-up: numba and the kernels are imported inside the functions (``flatbook --help`` imports
the command line, which imports this module).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..config import check_stats
from ..errors import InputError

__all__ = ["ENGINES", "kernels_need_compiling", "needs_compiling", "warm_up"]

#: the engines whose kernels :func:`needs_compiling` and :func:`warm_up` know
ENGINES = ("simulate", "backtest", "multi")


def kernels_need_compiling(*dispatchers: Any) -> bool:
    """Will calling these numba dispatchers compile rather than load machine code?

    True when a dispatcher has no compiled signature in this process and numba's on-disk
    cache index holds no entry for its current source (numba invalidates the index when
    the source file changes). False when this cannot be told (numba internals moved):
    a caller then claims nothing.
    """
    for d in dispatchers:
        if d.signatures:
            continue
        try:
            index = d._cache._cache_file._load_index()
        except AttributeError:
            return False
        if not index:
            return True
    return False


def _dispatchers(engine: str, stats: str = "full", config: Any = None) -> list[Any]:
    if engine == "simulate" and stats == "lean":
        if config is None:
            raise InputError(
                "config", "the lean kernel is the policy's own: needs_compiling(..., config=) names the run"
            )
        from ..sim import simulator  # lazy: start-up (numba and the kernel)

        return [simulator.lean_kernel(config)]
    if engine == "simulate":
        from ..sim import kernel as K  # lazy: start-up (numba and the kernel)

        return [K.simulate_paths]
    if engine == "backtest":
        from ..backtest import engine as E  # lazy: start-up (numba and the kernel)

        return [E.replay]
    if engine == "multi":
        from ..multi import kernel as MK  # lazy: start-up (numba and the kernel)

        return [MK.simulate_multi]
    from ..suggest import unknown  # lazy: only on bad input

    raise unknown("engine", "engine", engine, ENGINES)


def needs_compiling(engine: str = "simulate", stats: str = "full", config: Any = None) -> bool:
    """Whether the first run of ``engine`` (simulate, backtest or multi) in this process will compile its
    kernel rather than load it from numba's cache (see :func:`kernels_need_compiling`); ``stats``: simulate's
    ``"full"`` or ``"lean"`` kernel (:func:`flatbook.simulate`); the lean one is the policy's own, so it needs
    the run's ``config`` (a :class:`~flatbook.config.RunConfig`)."""
    return kernels_need_compiling(*_dispatchers(engine, check_stats(stats), config))


def warm_up(engine: str = "simulate", config: Any = None, stats: str = "full") -> None:
    """Compile (or load from numba's cache) ``engine``'s kernel, changing no number.

    Parameters
    ----------
    engine : str, default "simulate"
        ``"simulate"`` (one path of ``config``, a :class:`~flatbook.config.RunConfig`), ``"backtest"`` (a
        two-event tape; ``config`` unused) or ``"multi"`` (one path of ``config``, a
        :class:`~flatbook.multi.simulator.MultiConfig`).
    config : RunConfig or MultiConfig, optional
        The run whose kernel to compile (simulate and multi need it).
    stats : {"full", "lean"}, default "full"
        simulate's kernel for these statistics (:func:`flatbook.simulate`).
    """
    check_stats(stats)
    _dispatchers(engine)  # checks the name
    if engine == "backtest":
        from ..backtest.backtester import warm_up as warm_replay  # lazy: start-up (numba)

        warm_replay()
        return
    if config is None:
        raise InputError("config", f"warm_up({engine!r}) needs the run's config")
    if engine == "simulate":
        from ..sim import simulator  # lazy: start-up (numba)

        simulator.simulate(replace(config, paths=1), stats=stats)
    else:
        from ..multi.simulator import simulate_multi  # lazy: start-up (numba)

        simulate_multi(replace(config, paths=1))
