"""Portfolio risk of a multi-asset book: Greeks, VaR/ES, stress tests and survivability.

- :mod:`.book` — the validated book (instruments, covariance, options, limits, capital,
  liquidity, scenarios), loaded from TOML: :func:`load_book`, :func:`book_from_dict`.
- :mod:`.greeks` — Black–Scholes price, delta, gamma, vega (per 1.00 vol); the book's Greeks
  and delta-equivalent inventory: :func:`bs_greeks`, :func:`book_greeks`.
- :mod:`.var` — VaR and ES (parametric, historical, Monte Carlo), marginal and component VaR,
  the correlation report: :func:`parametric_var`, :func:`historical_var`,
  :func:`monte_carlo_var`, :func:`book_var`, :func:`correlation_report`.
- :mod:`.stress` — the seed scenarios, user scenarios, the liquidation check and the largest
  survivable hard limit Q_max: :func:`run_stress`.

Time unit: the trading day (vols per √day); option expiries in years. Names load their
submodule on first use (PEP 562), so importing the CLI does not import scipy.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_LAZY = {
    **{
        n: "book"
        for n in (
            "Book",
            "Instrument",
            "OptionPosition",
            "Scenario",
            "RiskSettings",
            "StressSettings",
            "book_from_dict",
            "load_book",
            "SEED_SCENARIOS",
        )
    },
    **{n: "greeks" for n in ("bs_price", "bs_greeks", "BSGreeks", "OptionSet", "BookGreeks", "book_greeks")},
    **{
        n: "var"
        for n in (
            "VaRResult",
            "Revaluation",
            "var_es",
            "parametric_var",
            "historical_var",
            "monte_carlo_var",
            "book_var",
            "correlation_report",
            "simulated_history",
            "cov_factor",
            "METHODS",
        )
    },
    **{
        n: "stress"
        for n in (
            "ScenarioResult",
            "Survivability",
            "StressReport",
            "run_stress",
            "liquidation_costs",
            "scenario_names",
        )
    },
}
__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
