"""The single run: every bar, every leg, curves and samples."""

from __future__ import annotations

import numpy as np

from perphedge.backtest.kernels.formulas import jit, jit_bare
from perphedge.backtest.kernels.funding_events import mark_events
from perphedge.backtest.kernels.keeper_step import funding_window
from perphedge.backtest.kernels.layout import (
    AC_CASH,
    AC_MIN,
    C_BETA,
    C_INV,
    C_QTY,
    CF_STRIDE,
    D_PER_SPOT,
    K_FSCALE,
    K_FWINDOW,
    KEEPER,
    S_EVENT,
    S_HOLD,
    S_POS,
    S_W,
    FloatArray,
    IntArray,
    UIntArray,
)
from perphedge.backtest.kernels.leg import band_step, leg_step
from perphedge.backtest.kernels.quiet import band_or_inf
from perphedge.backtest.kernels.resize import close_segment
from perphedge.backtest.kernels.rest import (
    R_M,
    R_POS,
    R_QTY,
    R_W,
    bar_span,
    in_bounds,
    in_box,
    margin_at,
    quiet_end,
    quiet_run,
    rest_after_step,
    rest_state,
    settle_margins,
)
from perphedge.backtest.kernels.sampling import record


@jit
def simulate(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lg: FloatArray, tiers: FloatArray, code: int, pvec: FloatArray, cfg: FloatArray,
    acct: FloatArray, curves: FloatArray, funding_at: FloatArray, samples: FloatArray,
    cols: IntArray, mark_high: FloatArray | None,
) -> None:  # fmt: skip
    """Run the model over all bars; fills `curves`, `funding_at`, `samples`, `acct`, `lg`.

    `mark_high` None (closes only) or T x J. numba compiles one version per case.

    curves[2, T]: equity and unhedged equity at each bar's close. funding_at[u]: cumulative
    funding after the u-th bar with funding events (funding changes at no other bar).
    samples[S, L, 2]: leg i's margin ratio and hedge notional every `stride` bars.
    cols[L, 2]: each leg's spot and perpetual column (as in lg, as integers). `lg` must start
    with the constants filled, S_ALIVE = 1, S_SWITCH = -inf, A_LIQBAR = -1 and everything else
    0 (D_PER_SPOT is set here).

    A leg takes the full step (`leg_step`) at a bar only when it has something to do there:
    bar 0 and schedule bars, its funding event, or a bar outside the box fixed at its last
    full step (`rest.rest_after_step`; inverse legs and policies other than static, band and
    schedule have an empty box, so they step every bar); a leg whose marks stayed in bounds
    and only left its band takes the band's re-size alone (`band_step`). Between its full
    steps a resting leg's margin is w_ref - q * (m - m_ref): it is written to lg[i, S_W] only
    when read (the leg's next step, a sample, the end). When every leg is linear under such a
    policy, runs of bars where all legs rest are booked by `quiet_run` in one call. Legs step
    in leg order, so cash moves in the same order as in the reference.

    The allocations are made here (they need numba's runtime); `walk` runs the bars without
    it (`formulas.jit_bare`).
    """
    n_legs = lg.shape[0]
    for i in range(n_legs):  # ratio x beta x qty (the same product, in the order of the step's)
        lg[i, D_PER_SPOT] = pvec[0] * lg[i, C_BETA] * lg[i, C_QTY]
    rs = rest_state(n_legs)
    # each lane's columns, unsigned: no negative-index wrap per access (C order: the leg loop
    # reads rows; lanes past the last leg read column 0)
    ucols = np.zeros((2, rs.shape[1]), dtype=np.uint64)
    for i in range(n_legs):
        ucols[0, i], ucols[1, i] = cols[i, 0], cols[i, 1]
    diagonal = bool(np.all(cols == np.arange(n_legs).reshape(-1, 1)))  # leg i on columns i
    clock = np.array([0, 0, 0, int(cfg[CF_STRIDE])], dtype=np.int64)
    # quiet_run reads the prices flat: C-order views, no copy
    flat_high = None if mark_high is None else mark_high.reshape(mark_high.size)
    walk(
        spot, perp, mark, ev_bar, ev_col, ev_rate, lg, tiers, code, pvec, cfg, acct, curves,
        funding_at, samples, cols, mark_high, rs, ucols, diagonal,
        spot.reshape(spot.size), mark.reshape(mark.size), flat_high, clock,
    )  # fmt: skip


@jit_bare
def walk(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lg: FloatArray, tiers: FloatArray, code: int, pvec: FloatArray, cfg: FloatArray,
    acct: FloatArray, curves: FloatArray, funding_at: FloatArray, samples: FloatArray,
    cols: IntArray, mark_high: FloatArray | None, rs: FloatArray, ucols: UIntArray,
    diagonal: bool, flat_spot: FloatArray, flat_mark: FloatArray, flat_high: FloatArray | None,
    clock: IntArray,
) -> None:  # fmt: skip
    """`simulate`'s bars, on the scratch state it made: the rest state `rs` (`rest_state`),
    each lane's columns `ucols`, whether leg i is on columns i (`diagonal`), the price arrays
    flat (`flat_*`), the clock (bar, next sample bar, its row, stride)."""
    n_legs, n_bars, stride = lg.shape[0], spot.shape[0], clock[3]
    pp = (
        pvec[0], pvec[1], pvec[2], pvec[3], pvec[4], pvec[5], pvec[6], pvec[7], pvec[8],
        pvec[9], pvec[10], pvec[11],
    )  # fmt: skip
    regime = code == KEEPER and pp[K_FSCALE] >= 0.0  # the keeper's funding regime is on
    with_highs = mark_high is not None
    highs = mark if mark_high is None else mark_high  # read only with highs
    every = int(pp[2]) if code == 2 else 1
    e, u, funding_total, fixed_usd = 0, 0, 0.0, 0.0
    band, fast = band_or_inf(pp[1]), code <= 2
    for i in range(n_legs):  # bar 0 steps every leg
        rest_after_step(i, lg, mark[0, ucols[1, i]], fast, band, rs)
    # bars can be booked a run at a time only when every leg can rest
    runs = fast
    for i in range(n_legs):
        runs = runs and lg[i, C_INV] == 0.0
    widths = (spot.shape[1], mark.shape[1])
    last_quiet = quiet_end(n_bars, rs.shape[1], min(widths), diagonal)
    while clock[0] < n_bars:
        # the next bar where legs must step whatever their marks: bar 0, funding, schedule
        stop = clock[0]
        if runs and stop > 0:
            stop = ev_bar[e] if e < ev_bar.size else n_bars - 1
            if code == 2:
                stop = min(stop, -(-clock[0] // every) * every)
            stop = min(stop, last_quiet + 1)
            fixed_usd = acct[AC_CASH]
            for i in range(n_legs):
                fixed_usd += rs[R_W, i] + rs[R_POS, i] * rs[R_M, i]
            if diagonal:  # read without columns
                quiet_run(
                    stop, flat_spot, flat_mark, flat_high, widths, None, rs, fixed_usd,
                    curves, lg, samples, clock,
                )  # fmt: skip
            else:
                quiet_run(
                    stop, flat_spot, flat_mark, flat_high, widths, ucols, rs, fixed_usd,
                    curves, lg, samples, clock,
                )  # fmt: skip
        t = clock[0]
        funding_bar = e < ev_bar.size and ev_bar[e] == t
        if funding_bar:
            e = mark_events(t, e, ev_bar, ev_col, ev_rate, lg, pp[3])
        if regime:
            funding_window(t, e, ev_bar, ev_col, ev_rate, lg, pp[K_FWINDOW])
        scheduled = t == 0 or (code == 2 and t % every == 0)
        held, unhedged = 0.0, 0.0
        for i in range(n_legs):
            s, m = spot[t, ucols[0, i]], mark[t, ucols[1, i]]
            unhedged += lg[i, C_QTY] * s
            low, top = bar_span(t, ucols[1, i], mark, highs, with_highs)
            # S_EVENT is set only on funding bars and cleared by the full step of the same bar
            due = scheduled or (funding_bar and lg[i, S_EVENT] > 0.0)
            if not due and in_box(low, top, m, s, rs, i):  # resting
                held += rs[R_QTY, i] * s + margin_at(rs, i, m)
                continue
            if not due and rs[R_POS, i] > 0.0 and in_bounds(low, top, rs, i):  # its band only
                lg[i, S_W] = margin_at(rs, i, m)
                band_step(i, t, s, m, perp[t, ucols[1, i]], pp[0], pp[1], lg, cfg, acct)
                held += lg[i, S_HOLD] * s + lg[i, S_W]
            else:
                if lg[i, C_INV] == 0.0:  # the margin at the previous close
                    lg[i, S_W] = margin_at(rs, i, mark[max(t - 1, 0), ucols[1, i]])
                value, funding_usd = leg_step(
                    i, t, spot, perp, mark, highs, with_highs, lg, tiers, code, pp, cfg, acct,
                    cols, every,
                )  # fmt: skip
                funding_total += funding_usd
                held += value
            rest_after_step(i, lg, m, fast, band, rs)
        acct[AC_MIN] = min(acct[AC_MIN], acct[AC_CASH])
        curves[0, t] = acct[AC_CASH] + held
        curves[1, t] = unhedged
        if funding_bar:
            funding_at[u] = funding_total
            u += 1
        if t == clock[1]:  # t % stride == 0, without a division per bar
            settle_margins(t, mark, ucols, rs, lg)
            record(t, clock[2], mark, lg, tiers, samples)
            clock[1] += stride
            clock[2] += 1
        clock[0] = t + 1
    settle_margins(n_bars - 1, mark, ucols, rs, lg)
    for i in range(n_legs):
        if lg[i, S_POS] > 0.0:
            close_segment(i, n_bars, spot[-1, cols[i, 0]], mark[-1, cols[i, 1]], lg)
