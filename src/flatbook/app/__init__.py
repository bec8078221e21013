"""The interactive explainer (``flatbook app``): inventory skew, see it move.

A Dash page with a quote panel (one state's quotes from
:func:`flatbook.policies.quote.quote`) and a path panel (skew off vs skew on on
identical simulated flow, :func:`flatbook.sim.simulator.simulate`). Build it
with :func:`flatbook.app.server.create_app`, serve it with
:func:`flatbook.app.server.run`.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
