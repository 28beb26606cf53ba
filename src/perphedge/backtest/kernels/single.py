"""The single run: every bar, every leg, curves and samples."""

from __future__ import annotations

import numpy as np

from perphedge.backtest.kernels.formulas import _maintenance, _notional, jit
from perphedge.backtest.kernels.funding_events import mark_events
from perphedge.backtest.kernels.keeper_step import funding_window
from perphedge.backtest.kernels.layout import (
    AC_CASH,
    AC_MIN,
    C_BETA,
    C_CS,
    C_HEDGE,
    C_INV,
    C_QTY,
    CF_STRIDE,
    D_PER_SPOT,
    K_FSCALE,
    K_FWINDOW,
    KEEPER,
    N_Q,
    Q_CUM,
    Q_HI,
    Q_LO,
    Q_MMR,
    Q_POS,
    Q_SPOT,
    S_CUM,
    S_EVENT,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_W,
    FloatArray,
    IntArray,
)
from perphedge.backtest.kernels.leg import leg_step
from perphedge.backtest.kernels.liquidation import retier
from perphedge.backtest.kernels.quiet import band_or_inf, load_quiet, quiet_linear
from perphedge.backtest.kernels.resize import close_segment


@jit
def simulate(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lg: FloatArray, tiers: FloatArray, code: int, pvec: FloatArray, cfg: FloatArray,
    acct: FloatArray, curves: FloatArray, funding_at: FloatArray, samples: FloatArray,
    cols: IntArray, mark_high: FloatArray | None,
) -> None:  # fmt: skip
    """Run the model over all bars; fills `curves`, `funding_at`, `samples`, `acct`, `lg`.

    `mark_high` None (closes only) or T x J. numba compiles one version per case and drops the
    `mark_high is None` tests from each, so the run without highs is today's loop, unchanged.

    curves[2, T]: equity and unhedged equity at each bar's close. funding_at[u]: cumulative
    funding after the u-th bar with funding events (funding changes at no other bar).
    samples[S, L, 2]: leg i's margin ratio and hedge notional every `stride` bars.
    cols[L, 2]: each leg's spot and perpetual column (as in lg, as integers). `lg` must start with the constants filled,
    S_ALIVE = 1, S_SWITCH = -inf, A_LIQBAR = -1 and everything else 0 (D_PER_SPOT is set here).

    Each bar takes two passes over the legs. The first is the common case, kept small: a linear
    leg under a static, band or schedule policy with no funding event carries its variation
    margin, and if that leaves it above maintenance and inside its band (nothing else to do),
    it is done. Every other leg (inverse, funding event, re-tiering, liquidation, re-size,
    funding-aware or volatility policy) goes, untouched, through the full step in the second
    pass, in leg order, so cash moves in the same order as in the reference. Helpers that take
    arrays run only on rare events, because numba reference-counts every array handed to a
    function; for the same reason covered spot P&L and hedged bars are booked per hedge segment.
    """
    n_legs, stride = lg.shape[0], int(cfg[CF_STRIDE])
    pp = (
        pvec[0], pvec[1], pvec[2], pvec[3], pvec[4], pvec[5], pvec[6], pvec[7], pvec[8],
        pvec[9], pvec[10], pvec[11],
    )  # fmt: skip
    regime = code == KEEPER and pp[K_FSCALE] >= 0.0  # the keeper's funding regime is on
    with_highs = mark_high is not None
    highs = mark if mark_high is None else mark_high  # leg_step reads it only with highs
    every = int(pp[2]) if code == 2 else 1
    e, u, funding_total, n_bars = 0, 0, 0.0, spot.shape[0]
    full_step = np.empty(n_legs, dtype=np.int64)
    # ratio x beta x qty in lg (the same product, in the same order as the full step's)
    lg[:, D_PER_SPOT] = pp[0] * lg[:, C_BETA] * lg[:, C_QTY]
    band = band_or_inf(pp[1])
    q, qw = np.empty((n_legs, N_Q, 1)), lg[:, S_W : S_W + 1].copy()
    for i in range(n_legs):
        load_quiet(i, lg, q, qw, 0, code <= 2, band)
    ucols = cols.astype(np.uint64)  # unsigned: no negative-index wrap per access
    next_sample, row = 0, 0
    for t in range(n_bars):
        funding_bar = e < ev_bar.size and ev_bar[e] == t
        if funding_bar:
            e = mark_events(t, e, ev_bar, ev_col, ev_rate, lg, pp[3])
        if regime:
            funding_window(t, e, ev_bar, ev_col, ev_rate, lg, pp[K_FWINDOW])
        held, base, n_full = 0.0, 0.0, 0
        scheduled = t == 0 or (code == 2 and t % every == 0)
        for i in range(n_legs):  # first pass: the quiet linear leg
            # S_EVENT is set only on funding bars and cleared by the full step of the same bar
            if not (scheduled or (funding_bar and lg[i, S_EVENT] > 0.0)):
                k, j = ucols[i, 0], ucols[i, 1]
                s, m = spot[t, k], mark[t, j]
                # a linear leg on the quiet path without a hedge and none to open: nothing moves
                if q[i, Q_POS, 0] == 0.0 and q[i, Q_SPOT, 0] == 0.0 and q[i, Q_LO, 0] < 0.0:
                    value = lg[i, C_QTY] * s
                    base += value
                    held += value + qw[i, 0]
                    continue
                quiet, w = quiet_linear(
                    q[i, Q_POS, 0], qw[i, 0], q[i, Q_LO, 0], q[i, Q_HI, 0], q[i, Q_MMR, 0],
                    q[i, Q_CUM, 0], q[i, Q_SPOT, 0], band, s, m, mark[t - 1, j],
                    highs[t, j] if with_highs else m, with_highs,
                )  # fmt: skip
                if quiet:
                    qw[i, 0] = w
                    value = lg[i, C_QTY] * s
                    base += value
                    held += value + w
                    continue
            full_step[n_full] = i
            n_full += 1
        for f in range(n_full):  # second pass: the full step, in leg order
            i = full_step[f]
            lg[i, S_W] = qw[i, 0]
            value, funding_usd = leg_step(
                i, t, spot, perp, mark, highs, with_highs, lg, tiers, code, pp, cfg, acct, cols,
                every,
            )  # fmt: skip
            load_quiet(i, lg, q, qw, 0, code <= 2, band)
            base += lg[i, C_QTY] * spot[t, cols[i, 0]]
            held += value
            funding_total += funding_usd
        acct[AC_MIN] = min(acct[AC_MIN], acct[AC_CASH])
        curves[0, t] = acct[AC_CASH] + held
        curves[1, t] = base
        if funding_bar:
            funding_at[u] = funding_total
            u += 1
        if t == next_sample:  # t % stride == 0, without a division per bar
            lg[:, S_W] = qw[:, 0]
            record(t, row, mark, lg, tiers, samples)
            next_sample += stride
            row += 1
    lg[:, S_W] = qw[:, 0]
    for i in range(n_legs):
        if lg[i, S_POS] > 0.0:
            close_segment(i, n_bars, spot[-1, cols[i, 0]], mark[-1, cols[i, 1]], lg)


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


@jit
def sampled(
    pos: float, w: float, notional: float, mmr: float, cum: float, hedge_usd: float
) -> tuple[float, float]:
    """(margin ratio MM / w, hedge notional in USD) of a leg; (NaN, 0) without a hedge."""
    if pos <= 0.0:
        return np.nan, 0.0
    mm = _maintenance(notional, mmr, cum)
    return (mm / w if w > 0.0 else np.inf), hedge_usd
