"""The JSON objects of ``flatbook risk`` and ``flatbook stress`` (what ``--json`` prints and the Python
API returns), with the units of every figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jsonutil import jsonable

UNITS = {
    "cash": "price units × units (P&L, VaR, ES, value, capital)",
    "position": "lots (options: contracts)",
    "delta": "lots of the underlying",
    "gamma": "lots of the underlying per price unit",
    "vega": "cash per 1.00 of implied volatility (÷100 for one vol point)",
    "exposure": "cash per price unit",
    "marginal_var": "cash per price unit of exposure (∂VaR/∂w)",
    "horizon": "days",
    "q_max": "lots (|delta-equivalent inventory| per instrument)",
}


def risk_object(book, greeks, results: dict, corr: Mapping[str, Any]) -> dict:
    """``risk --json``: book, settings, units, positions, instruments, greeks, limit_breaches,
    var (per method, with per-instrument contributions), correlation."""
    r = book.risk
    inst = []
    for j, i in enumerate(book.instruments):
        inst.append(
            {
                "instrument": i.name,
                "price": i.price,
                "vol_per_sqrt_day": float(book.vols[j]),
                "multiplier": i.multiplier,
                "position": i.position,
                "option_delta": float(greeks.option_delta[j]),
                "delta_equivalent": float(greeks.delta_equivalent[j]),
                "gamma": float(greeks.gamma[j]),
                "vega": float(greeks.vega[j]),
                "exposure": float(greeks.exposure[j]),
                "value": float(greeks.value[j]),
                "limit": i.limit,
                "gamma_limit": i.gamma_limit,
                "vega_limit": i.vega_limit,
            }
        )
    return jsonable(
        {
            "book": {
                "name": book.name,
                "source": book.source,
                "instruments": book.d,
                "options": len(book.options),
                "capital": book.capital,
                "rate": book.rate,
                "days_per_year": book.days_per_year,
            },
            "settings": {
                "confidence": next(iter(results.values())).confidence if results else r.confidence,
                "horizon_days": next(iter(results.values())).horizon if results else r.horizon,
                "mc_scenarios": results["monte-carlo"].n_scenarios if "monte-carlo" in results else None,
                "seed": r.seed,
                "full_revaluation": r.full_revaluation,
                "history": (
                    f"{book.history_file}: {book.history_source}"
                    if book.history is not None
                    else f"simulated normal history ({r.history_days} days): no [history] file given"
                ),
            },
            "units": UNITS,
            "positions": greeks.rows,
            "instruments": inst,
            "greeks": greeks.totals,
            "limit_breaches": greeks.breaches,
            "var": {m: res.as_dict(book.names) for m, res in results.items()},
            "correlation": corr,
        }
    )


def stress_object(book, report) -> dict:
    """``stress --json``: book, capital, settings, scenarios (loss, breach, details), worst_scenario,
    survivability (q_max, binding, per_scenario)."""
    return jsonable(
        {
            "book": {"name": book.name, "source": book.source, "instruments": book.d, "options": len(book.options)},
            "units": UNITS,
            **report.as_dict(),
        }
    )
