"""Parameter sweeps: grids, random and adaptive search over any ``--set``-able parameter, run on a
Dask cluster with common random numbers, streamed to Parquet and resumable; objectives, Pareto
frontiers, figures and the built-in studies (``flatbook sweep``).

Modules: :mod:`.grid` (``--grid`` items, random search), :mod:`.runner` (points, tasks, cluster,
storage), :mod:`.objectives` (figures and SEs, objectives, frontier), :mod:`.report` (figures),
:mod:`.studies` (``--study skew-frontier``, ``--study as-gamma``).
"""

from __future__ import annotations
