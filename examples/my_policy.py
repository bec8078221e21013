"""A user policy in its own file: a cubic inventory skew.

    centre = s − skew·(q − q*) − cubic·(q − q*)³,   bid/ask = centre ∓ half_spread

Run it like a built-in one::

    flatbook simulate --policy-file examples/my_policy.py --policy cubic_skew --set cubic=1e-4
    flatbook compare  --policy-file examples/my_policy.py --policy cubic_skew --policy glft
    flatbook backtest ../shared/data/binance/usdm_btcusdt_20240808.gz \\
        --policy-file examples/my_policy.py --policy cubic_skew

With ``cubic = 0`` it is the built-in ``linear-skew``, number for number.
"""

from flatbook.policies import Param, policy


@policy(
    params={
        "half_spread": Param(unit="price units", default=0.5, ge=0, doc="half-spread h around the centre"),
        "skew": Param(unit="price units per lot", default=0.01, ge=0, doc="linear skew per lot"),
        "q_target": Param(unit="lots", default=0.0, doc="target inventory q*"),
        "cubic": Param(unit="price units per lot³", default=0.0, ge=0, doc="cubic skew per lot³"),
    },
    moves_with_time=False,
)
def cubic_skew(p, t, tau, s, q):
    """Cubic inventory skew: centre = s − skew·x − cubic·x³, x = q − q*; bid/ask = centre ∓ h."""
    x = q - p.q_target
    c = p.skew * x + p.cubic * x * x * x
    return p.half_spread + c, p.half_spread - c
