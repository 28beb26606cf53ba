"""The benchmark workload in the smallest loop that still gives the engine's trades and equity.

Only what this workload uses: linear shorts, closes only, a flat maintenance rate, a taker fee
without slippage, a drift band, no top-up. One pass over the bars, every leg every bar, no
samples and no accounting per leg. It is not the engine: it is what a loop of this model
costs at least on this machine, a floor between the read-once floor and the engine.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def smallest_loop(  # type: ignore[no-untyped-def]  # noqa: PLR0913 (the arrays and the terms)
    spot, perp, ev_bar, ev_col, ev_rate, qty, cash, leverage, band, fee, mmr, equity
):
    """Fill `equity` (cash + coins x spot + margins, per bar) and return the number of trades."""
    n_bars, n_legs = spot.shape
    pos, margin, alive = np.zeros(n_legs), np.zeros(n_legs), np.ones(n_legs)
    e, trades = 0, 0
    for t in range(n_bars):
        held = 0.0
        for i in range(n_legs):
            s, m = spot[t, i], perp[t, i]
            if pos[i] > 0.0:
                margin[i] -= pos[i] * (m - perp[t - 1, i])
                if margin[i] <= mmr * pos[i] * m:  # liquidated: the margin is lost
                    pos[i], margin[i], alive[i] = 0.0, 0.0, 0.0
            while e < ev_bar.size and ev_bar[e] == t and ev_col[e] == i:
                if pos[i] > 0.0:  # a positive rate: the short receives
                    margin[i] += pos[i] * m * ev_rate[e]
                    if margin[i] <= mmr * pos[i] * m:
                        pos[i], margin[i], alive[i] = 0.0, 0.0, 0.0
                e += 1
            target = qty[i] * s
            if alive[i] > 0.0 and (t == 0 or abs(pos[i] * m - target) > band * target):
                cash -= abs(target - pos[i] * m) * fee + target / leverage - margin[i]
                pos[i], margin[i] = target / m, target / leverage
                trades += 1
            held += qty[i] * s + margin[i]
        equity[t] = cash + held
    return trades
