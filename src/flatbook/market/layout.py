"""The layouts the Monte Carlo kernel and its market stages share.

- ``mp``, the market parameters: :func:`flatbook.market.pack.pack_market` writes it
  (each stage packs its own slots) and :mod:`flatbook.sim.kernel` reads it;
- the block state ``w``, one ``(W_LEN, BLOCK)`` array (one row per variable, one
  column per path of the block), and the hedge state ``wh`` (``WH_*`` rows): the
  rows every stage reads and writes (:mod:`flatbook.market`);
- ``BLOCK``, the paths per block.

They live here, in the model layer, so that the stages and the packer do not import
the engine.
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
MODEL_USER = 3  # a user's mid-price stage (flatbook.market.stage)

BLOCK = 64  # paths per block: W_LEN rows × 64 × 8 B = 28 KiB, inside L1 (32–48 KiB)

# block state: rows of one (W_LEN, BLOCK) array, so that every access is a
# constant offset from one pointer and LLVM vectorises without alias checks
(
    W_S,
    W_Q,
    W_CASH,
    W_PEAK,
    W_KILLED,
    W_HIVOL,
    W_MU,
    W_PZONE,
    W_MXQ,
    W_FILLS,
    W_VOL,
    W_SPR,
    W_SPRN,
    W_GUP,
    W_FIN,
    W_FEES,
    W_ATLIM,
    W_Z1,
    W_Z2,
    W_Z3,
    W_HREQ,
    W_SQ,
    W_SQ2,
    W_SQDQ,
    W_MDD,
    W_KSTEP,
    W_KREASON,
    W_DB0,
    W_DA0,
    W_DB,
    W_DA,
    W_BSZ,
    W_ASZ,
    W_ZN,
    W_FB,
    W_FA,
    W_UB,
    W_UA,
    W_OSZ,
    W_DS,
    W_QMID,
    W_SDQ2,
    W_BORROW,
    W_REQ,
    W_DQ,
    W_MTM,
    W_SPRCAP,
    W_ADV,
    W_FWIN,
    W_QEFF,
    W_OPTV,
    W_OD,
    W_QPOL,
    W_PB,
    W_PA,
) = range(55)
W_LEN = 55  # W_PB, W_PA: a user fill stage's probabilities (flatbook.market.fill_stage)
# hedge state (flatbook.hedging.model): a second block array, touched only when hedging
(
    WH_Y,
    WH_H,
    WH_PREM,
    WH_PX0,
    WH_PK,
    WH_PNH,
    WH_PSTART,
    WH_J,
    WH_COUNT,
    WH_TRADES,
    WH_COST,
    WH_VOL,
    WH_FUND,
    WH_CAP,
    WH_PPNL,
    WH_HPNL,
    WH_VWIN,
    WH_NEED,
    WH_GOAL,
    WH_B,
) = range(20)
WH_LEN = 20
