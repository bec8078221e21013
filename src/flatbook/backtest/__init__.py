"""Event-driven historical backtests: our quotes replayed against a real tape."""

from .backtester import BacktestOptions, BacktestResult, data_defaults, replay_config, run_backtest
from .latency import Latency

__all__ = ["BacktestOptions", "BacktestResult", "Latency", "data_defaults", "replay_config", "run_backtest"]
