"""Which run parameters a replay reads (a constant, kept light so that reports can import it)."""

#: What a replay reads besides its policy's own parameters (PolicySpec.params): see
#: flatbook.backtest.backtester._pack and its summary. The tape is the market: the simulator's
#: market model (sigma, A, k, mid_model, flow, jumps, …), s0 and hedge execution do not apply.
REPLAY_PARAMS = (
    "T",
    "dt",
    "q0",
    "limit",
    "size",
    "yellow",
    "red",
    "critical",
    "yellow_action",
    "red_action",
    "critical_action",
    "zone_widen",
    "zone_skew",
    "max_loss",
    "max_drawdown",
    "tick",
    "min_spread",
    "financing_long",
    "financing_short",
    "maker_fee",
    "maker_fee_bps",
    "taker_fee",
    "taker_fee_bps",
    "markout_steps",
)
