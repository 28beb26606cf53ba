"""The batched kernel's quiet path: the common step of a linear leg, on a small quiet state
per leg and configuration. (The single run tests the same conditions as a box of marks: `rest`.)
"""

from __future__ import annotations

import numpy as np

from perphedge.backtest.kernels.formulas import (
    _funding_cash,
    _maintenance,
    _notional,
    _pnl,
    jit_inline,
)
from perphedge.backtest.kernels.layout import (
    C_INV,
    D_PER_SPOT,
    Q_BAND,
    Q_CUM,
    Q_HI,
    Q_LO,
    Q_MMR,
    Q_POS,
    Q_SPOT,
    S_ALIVE,
    S_CUM,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_W,
    FloatArray,
)
from perphedge.backtest.kernels.liquidation import bar_marks


@jit_inline
def quiet_linear(
    pos: float, w: float, lo: float, hi: float, mmr: float, cum: float, per_spot: float,
    band: float, s: float, m: float, mp: float, high: float, with_highs: bool,
) -> tuple[bool, float]:  # fmt: skip
    """The common case of a linear leg at a bar without its funding event: (nothing else to do,
    margin after the variation margin), on the leg's quiet state (`load_quiet`).

    Quiet when the hedge stays in its bracket above maintenance (with highs: the whole path
    mp -> high -> m) and inside its band; then the full step would only move the margin. The test
    may say no where the full step does nothing more (the full step decides), never the reverse.
    """
    # Straight-line code, every load at the call site, `&` rather than `and`: a loop of this over
    # many configurations runs in vector registers (the batched kernel's quiet pass).
    w_close = w + _pnl(-pos, mp, m, 1.0, False)
    notional = _notional(pos, m, 1.0, False)
    n_low, n_top, w_top = notional, notional, w_close
    if with_highs:  # the whole path mp -> high -> m in one bracket, above MM at the high
        low, top = bar_marks(mp, m, high)
        n_low, n_top = _notional(pos, low, 1.0, False), _notional(pos, top, 1.0, False)
        w_top = w + _pnl(-pos, mp, top, 1.0, False)
    target = max(per_spot * s, 0.0)
    in_bracket = (lo <= n_low) & (n_top < hi)
    above = w_top > _maintenance(n_top, mmr, cum)
    in_band = not (abs(notional - target) > band * target)  # NaN (no band, no target): in
    return in_bracket & above & in_band, w_close


@jit_inline
def quiet_funded(
    pos: float, w: float, lo: float, hi: float, mmr: float, cum: float, per_spot: float,
    band: float, s: float, m: float, mp: float, high: float, with_highs: bool, rate: float,
) -> tuple[bool, float, float]:  # fmt: skip
    """`quiet_linear` at the leg's funding event: (nothing else to do, margin after the variation
    margin and the funding, the funding): quiet also needs the margin above maintenance after
    the funding is booked (step 3's second check)."""
    quiet, w_close = quiet_linear(
        pos, w, lo, hi, mmr, cum, per_spot, band, s, m, mp, high, with_highs
    )
    funding = _funding_cash(-pos, rate, _notional(1.0, m, 1.0, False))
    w_funded = w_close + funding
    still = w_funded > _maintenance(_notional(pos, m, 1.0, False), mmr, cum)
    return quiet & still, w_funded, funding


@jit_inline
def load_quiet(
    i: int, lg: FloatArray, q: FloatArray, qw: FloatArray, c: int, fast: bool, band: float
) -> None:
    """Leg i's quiet state q[i, :, c] and margin qw[i, c] from its full state `lg` (one
    configuration's), after a full step: size, margin and what `quiet_linear` tests against.
    The margin has an array of its own: the quiet pass writes only that one, so the compiler
    can tell that its stores never alias its loads and vectorise the loop. `fast`: a static, band or
    schedule policy (the others always take the full step); `band`: inf without one.

    Sentinels keep the test one straight line: a leg that never takes the quiet path gets the
    bracket floor +inf; a leg without a hedge the bracket (-inf, inf) and cum +inf (never under
    maintenance); a liquidated leg no target.
    """
    pos = lg[i, S_POS]
    q[i, Q_POS, c], qw[i, c] = pos, lg[i, S_W]
    hedged = pos > 0.0
    q[i, Q_LO, c] = lg[i, S_LO] if hedged else -np.inf
    q[i, Q_HI, c] = lg[i, S_HI] if hedged else np.inf
    q[i, Q_MMR, c] = lg[i, S_MMR] if hedged else 0.0
    q[i, Q_CUM, c] = lg[i, S_CUM] if hedged else np.inf
    q[i, Q_SPOT, c] = lg[i, D_PER_SPOT] if lg[i, S_ALIVE] > 0.0 else 0.0
    q[i, Q_BAND, c] = band
    if not fast or lg[i, C_INV] > 0.0:
        q[i, Q_LO, c] = np.inf


@jit_inline
def band_or_inf(band: float) -> float:
    """The drift band as the quiet test takes it: inf without one."""
    return band if band > 0.0 else np.inf
