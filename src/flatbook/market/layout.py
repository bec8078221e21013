"""The market parameter layout ``mp`` that the Monte Carlo kernel reads.

:func:`flatbook.market.pack.pack_market` writes it and :mod:`flatbook.sim.kernel`
reads it; both import these constants from here (the model layer), so the
packer does not import the engine.
"""

from __future__ import annotations

# market parameter layout (see flatbook.market.pack.pack_market)
(
    MP_DT,
    MP_T,
    MP_S0,
    MP_Q0,
    MP_SIGMA,
    MP_MODEL,
    MP_JRATE,
    MP_JMEAN,
    MP_JSTD,
    MP_RMULT,
    MP_RUP,
    MP_RDOWN,
    MP_FLOW,
    MP_A,
    MP_K,
    MP_BIAS,
    MP_BIAS_STD,
    MP_BIAS_STEPS,
    MP_OSIZE,
    MP_ODIST,
    MP_INF_FRAC,
    MP_INF_MOVE,
    MP_FIN_L,
    MP_FIN_S,
    MP_FEE,
    MP_MAX_LOSS,
    MP_MAX_DD,
) = range(27)
MP_LEN = 27
MODEL_BINOMIAL, MODEL_ABM, MODEL_GBM = 0, 1, 2
FLOW_INTENSITY, FLOW_ORDERS = 0, 1
