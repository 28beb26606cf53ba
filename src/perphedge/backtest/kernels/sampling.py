"""Samples of each leg's margin ratio and hedge notional, every `stride` bars."""

from __future__ import annotations

import numpy as np

from perphedge.backtest.kernels.formulas import _maintenance, _notional, jit, jit_inline
from perphedge.backtest.kernels.layout import (
    C_CS,
    C_HEDGE,
    C_INV,
    S_CUM,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_W,
    FloatArray,
)
from perphedge.backtest.kernels.liquidation import retier


@jit
def record(
    t: int, r: int, mark: FloatArray, lg: FloatArray, tiers: FloatArray, samples: FloatArray
) -> None:
    """Sample row r: each leg's margin ratio and hedge notional at the close of bar t."""
    for i in range(lg.shape[0]):
        m, inverse, cs = mark[t, int(lg[i, C_HEDGE])], lg[i, C_INV] > 0.0, lg[i, C_CS]
        pos, w = lg[i, S_POS], lg[i, S_W]
        notional = _notional(pos, m, cs, inverse)
        if pos > 0.0 and (notional < lg[i, S_LO] or notional >= lg[i, S_HI]):
            retier(i, notional, tiers, lg)
        samples[r, i, 0], samples[r, i, 1] = sampled(
            pos, w, notional, lg[i, S_MMR], lg[i, S_CUM], pos * cs if inverse else pos * m
        )


@jit_inline
def sampled(
    pos: float, w: float, notional: float, mmr: float, cum: float, hedge_usd: float
) -> tuple[float, float]:
    """(margin ratio MM / w, hedge notional in USD) of a leg; (NaN, 0) without a hedge."""
    if pos <= 0.0:
        return np.nan, 0.0
    mm = _maintenance(notional, mmr, cum)
    return (mm / w if w > 0.0 else np.inf), hedge_usd
