"""Your own queue model: hftbacktest's power-law probability queue, as a flatbook queue model.

When the level our order rests in shrinks by c more than the prints there explain (cancels), which part
of c was ahead of us? The built-in ``prorata`` spreads it evenly; hftbacktest's probability queue models
(``PowerProbQueueModel``, https://hftbacktest.readthedocs.io, "Queue Models") take the share behind us
with probability p = b^n / (b^n + a^n), a the size ahead of us and b the size behind, so a cancel is more
likely to come from the longer side, and est_ahead = a − (1 − p)·c + min(b − p·c, 0) (what the part
behind cannot absorb comes off the front).

Load it with ``--queue-file`` on the command line::

    flatbook backtest ../shared/data/binance/usdm_btcusdt_20240808.gz --queue-file examples/my_queue.py \\
        --queue power_prob --queue-set n=3

or from Python, ``flatbook.api.backtest(data, queue=load_queue_file("examples/my_queue.py"))``.
Run as a script (optionally with the path of a data file), it replays linear-skew on the first 60 s of the
USDⓈ-M BTCUSDT capture with ``prorata`` and with this model for n = 1 and n = 3, and prints the fills.
"""

import sys
from pathlib import Path

from flatbook.backtest.queue_model import Param, queue_model


@queue_model(params={"n": Param(unit="1", default=3.0, gt=0, le=20, doc="power of the sizes ahead and behind")})
def power_prob(p, ahead, level_before, level_after, cancelled, u):
    """hftbacktest's PowerProbQueueModel: a − (1 − p)·c + min(b − p·c, 0), p = bⁿ/(bⁿ + aⁿ)."""
    behind = max(level_before - ahead, 0.0)
    fa = ahead**p.n
    fb = behind**p.n
    share_behind = fb / (fa + fb) if fa + fb > 0.0 else 0.0
    return ahead - (1.0 - share_behind) * cancelled + min(behind - share_behind * cancelled, 0.0)


if __name__ == "__main__":
    import flatbook
    from flatbook.backtest.queue_model import load_queue_file

    repo = Path(__file__).resolve().parents[1]
    data = sys.argv[1] if len(sys.argv) > 1 else repo / "../shared/data/binance/usdm_btcusdt_20240808.gz"
    ev = flatbook.load_data(data)
    ev = ev.between(int(ev.ts[0]), int(ev.ts[0]) + 60 * 10**9)
    model = load_queue_file(__file__, "power_prob")
    runs = {
        "prorata": flatbook.api.backtest_options(queue="prorata"),
        "power_prob n=1": flatbook.api.backtest_options(queue=model, queue_params={"n": 1}),
        "power_prob n=3": flatbook.api.backtest_options(queue=model, queue_params={"n": 3}),
    }
    for name, opts in runs.items():
        s = flatbook.backtest(ev, "linear-skew", options=opts).raw.summary
        print(
            f"{name:15s} fills {s['fills']:5,d}  maker volume {s['maker_volume']:.3f} BTC  pnl_final {s['pnl_final']:.2f} USDT"
        )
