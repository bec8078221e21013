"""The names :mod:`flatbook.hedging.schedules` accepts, the defaults (Almgren & Chriss 2000, Table 1)
and the units of a schedule, in a module without numpy.

The command line builds its help text from them at start-up (``flatbook --help``), before any
schedule is computed; the Python API (``flatbook.schedule``) takes the same defaults.
"""

METHODS = ("immediate", "twap", "vwap", "almgren-chriss")
"""Execution schedules: immediate, TWAP, VWAP and Almgren & Chriss (2000)."""
VOLUME_CURVES = ("flat", "u")
"""The market's intraday volume curves a VWAP schedule follows: flat, or U-shaped."""

# Almgren & Chriss (2000), §3.4 and Table 1: X shares over T days in N steps; σ ($/share)/√day,
# η ($/share)/(share/day), ε $/share, γ ($/share)/share, λ 1/$
AC_SHARES, AC_HORIZON, AC_STEPS = 1_000_000.0, 5.0, 5
AC_SIGMA, AC_ETA, AC_EPSILON, AC_GAMMA, AC_LAMBDA = 0.95, 2.5e-6, 0.0625, 2.5e-7, 1e-6
DEFAULT_METHOD = "almgren-chriss"
DEFAULT_CURVE = "u"

#: the unit of each figure of a schedule (shares ↔ lots, $/share ↔ price units, days ↔ time units)
UNITS = {
    "shares": "shares (lots)",
    "time": "days (time units)",
    "sigma": "($/share)/√day",
    "eta": "($/share)/(share/day)",
    "epsilon": "$/share",
    "gamma": "($/share)/share",
    "risk_aversion": "1/$",
    "expected_cost": "$",
    "variance": "$²",
    "std": "$",
    "kappa": "1/day",
    "mapping": "shares ↔ lots, $/share ↔ price units, $ ↔ price units × lots, days ↔ time units",
}
