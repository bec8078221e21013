"""flatbook: inventory management for market makers.

Quoting policies (symmetric, linear skew, Stoll, Avellaneda–Stoikov, GLFT),
controls that wrap them (hard limit, soft zones, kill switch, never-cross), and
a compiled Monte Carlo simulator that compares them on identical order flow.
"""
from __future__ import annotations

__version__ = "0.1.0"
