"""Funding events: flag the legs that settle at a bar, book the funding on a short."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import _funding_cash, _notional, jit
from perphedge.backtest.kernels.layout import (
    A_FUND,
    C_CS,
    C_HEDGE,
    C_INV,
    S_EVENT,
    S_NEG,
    S_POS,
    S_RATE,
    S_UP,
    S_W,
    FloatArray,
    IntArray,
)


@jit
def mark_events(
    t: int, e: int, ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lg: FloatArray, hysteresis: float,
) -> int:  # fmt: skip
    """Flag the legs whose perpetual settles funding at bar t; count the funding runs."""
    while e < ev_bar.size and ev_bar[e] == t:
        rate = ev_rate[e]
        for i in range(lg.shape[0]):
            if int(lg[i, C_HEDGE]) == ev_col[e]:
                lg[i, S_RATE] = rate
                lg[i, S_EVENT] = 1.0
                negative, high = rate < 0.0, rate > hysteresis
                lg[i, S_NEG] = lg[i, S_NEG] + 1.0 if negative else 0.0
                lg[i, S_UP] = lg[i, S_UP] + 1.0 if high else 0.0
        e += 1
    return e


@jit
def apply_funding(i: int, m: float, lg: FloatArray) -> float:
    """Step 2: book the funding settling now on leg i's short; returns it in USD."""
    inverse = lg[i, C_INV] > 0.0
    per_size = _notional(1.0, m, lg[i, C_CS], inverse)  # notional of one unit of size
    cash = _funding_cash(-lg[i, S_POS], lg[i, S_RATE], per_size)
    lg[i, S_W] += cash
    usd: float = cash * m if inverse else cash
    lg[i, A_FUND] += usd
    return usd
