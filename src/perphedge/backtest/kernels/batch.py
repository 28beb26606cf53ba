"""The batched kernel: many configurations in one pass over the market arrays.

Configurations that share the data, the legs and their contract kinds but differ in policy (code
and parameters), hedge ratio, leverage, costs, top-up or starting cash (the reserve) run
together: state per configuration (`lgb[L, N_LEG, C]`, `accts[2, C]`) and, for each bar and leg,
an inner loop over the configurations, so each price is read from memory once for all of them
(the configuration is the last axis: that loop reads each state field as a contiguous row).
Each configuration takes the steps of `single.simulate`: the same `leg_step`, inlined, so a
policy or a rule is written once; legs are stepped in leg order, so cash moves in the same
order. Where the single run lets a leg rest in its box of marks (`rest`), a configuration's leg
takes `quiet_linear`, the same conditions tested bar by bar on its quiet state. No per-bar curve is kept (C x T would not fit in memory): the
equity at `rec_bars` (the metrics' period closes) and the maximum drawdown over every bar,
tracked as it runs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from perphedge.backtest.kernels.formulas import jit, jit_bare, jit_inline
from perphedge.backtest.kernels.funding_events import mark_events
from perphedge.backtest.kernels.keeper_step import funding_window
from perphedge.backtest.kernels.layout import (
    A_FUND,
    AC_CASH,
    AC_MIN,
    C_BETA,
    C_INV,
    C_QTY,
    D_PER_SPOT,
    K_FSCALE,
    K_FWINDOW,
    KEEPER,
    N_Q,
    Q_BAND,
    Q_CUM,
    Q_HI,
    Q_LO,
    Q_MMR,
    Q_POS,
    Q_SPOT,
    S_EVENT,
    S_POS,
    S_RATE,
    S_W,
    FloatArray,
    IntArray,
)
from perphedge.backtest.kernels.leg import leg_step
from perphedge.backtest.kernels.quiet import band_or_inf, load_quiet, quiet_funded, quiet_linear
from perphedge.backtest.kernels.resize import close_segment


@jit
def _prepare_batch(
    lgb: FloatArray, codes: IntArray, pvecs: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per configuration: the schedule period and the quiet state q[L, N_Q, C] (`load_quiet`),
    every leg forced through the full step at bar 0; fills D_PER_SPOT as `simulate` does."""
    n_legs, n_cfg = lgb.shape[0], lgb.shape[2]
    every = np.ones(n_cfg, dtype=np.int64)
    q, qw = np.empty((n_legs, N_Q, n_cfg)), np.empty((n_legs, n_cfg))
    for c in range(n_cfg):
        if codes[c] == 2:
            every[c] = int(pvecs[c, 2])
        lgb[:, D_PER_SPOT, c] = pvecs[c, 0] * lgb[:, C_BETA, c] * lgb[:, C_QTY, c]
        for i in range(n_legs):
            load_quiet(i, lgb[:, :, c], q, qw, c, codes[c] <= 2, band_or_inf(pvecs[c, 1]))
    q[:, Q_LO, :] = np.inf  # bar 0: every policy opens its hedges
    return every, q, qw


@jit_inline
def _quiet_pass(
    i: int, q: FloatArray, qw: FloatArray, held: FloatArray, need: npt.NDArray[np.bool_], value: float,
    s: float, m: float, mp: float, high: float, with_highs: bool,
) -> int:  # fmt: skip
    """Leg i's quiet step in every configuration (vectorised over them): moves the margin and
    adds holding + margin to `held` where quiet, flags the others in `need`; returns their count.
    """
    n_need = 0
    for c in range(q.shape[2]):
        w0 = qw[i, c]
        quiet, w = quiet_linear(
            q[i, Q_POS, c], w0, q[i, Q_LO, c], q[i, Q_HI, c], q[i, Q_MMR, c], q[i, Q_CUM, c],
            q[i, Q_SPOT, c], q[i, Q_BAND, c], s, m, mp, high, with_highs,
        )  # fmt: skip
        qw[i, c] = w if quiet else w0
        held[c] += value + w if quiet else 0.0
        need[c] = not quiet
        n_need += not quiet
    return n_need


@jit_inline
def _funded_pass(
    i: int, q: FloatArray, qw: FloatArray, held: FloatArray, need: npt.NDArray[np.bool_],
    value: float, s: float, m: float, mp: float, high: float, with_highs: bool, rate: float,
    funding_usd: FloatArray,
) -> int:  # fmt: skip
    """`_quiet_pass` at leg i's funding event (`quiet_funded`); books the funding of the quiet
    configurations in `funding_usd` (leg i's A_FUND row)."""
    n_need = 0
    for c in range(q.shape[2]):
        w0 = qw[i, c]
        quiet, w, funding = quiet_funded(
            q[i, Q_POS, c], w0, q[i, Q_LO, c], q[i, Q_HI, c], q[i, Q_MMR, c], q[i, Q_CUM, c],
            q[i, Q_SPOT, c], q[i, Q_BAND, c], s, m, mp, high, with_highs, rate,
        )  # fmt: skip
        qw[i, c] = w if quiet else w0
        funding_usd[c] += funding if quiet else 0.0
        held[c] += value + w if quiet else 0.0
        need[c] = not quiet
        n_need += not quiet
    return n_need


@jit_inline
def _close_bar(
    accts: FloatArray, held: FloatArray, eq: FloatArray, peak: FloatArray,
    low: FloatArray, dd: FloatArray, book: npt.NDArray[np.bool_],
) -> None:  # fmt: skip
    """The bar's close in every configuration: lowest cash, equity (into `eq`), and the maximum
    drawdown min(eq / running peak - 1), tracked as it runs: between peaks the deepest point is
    the lowest equity (division by a positive peak is monotonic), booked at the next peak."""
    n_book, cash, lowest = 0, accts[AC_CASH], accts[AC_MIN]
    for c in range(eq.size):  # vectorised: no division
        lowest[c] = min(lowest[c], cash[c])
        eq[c] = cash[c] + held[c]
        held[c] = 0.0
        p = peak[c]
        up = eq[c] > p
        # a dip ends at a new positive peak; a non-positive peak reverses the order: every point
        book[c] = (up & (p > 0.0) & (low[c] < p)) | ((p <= 0.0) & (not up))
        n_book += book[c]
    for c in range(eq.size if n_book > 0 else 0):
        if book[c]:
            p = peak[c]
            dd[c] = min(dd[c], (low[c] if eq[c] > p else eq[c]) / p - 1.0)
    for c in range(eq.size):
        up = eq[c] > peak[c]
        low[c] = eq[c] if up else min(low[c], eq[c])
        peak[c] = eq[c] if up else peak[c]


@jit
def simulate_batch(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lgb: FloatArray, tiers: FloatArray, codes: IntArray, pvecs: FloatArray, cfgs: FloatArray,
    accts: FloatArray, cols: IntArray, mark_high: FloatArray | None,
    rec_bars: IntArray, eq_rec: FloatArray, dd: FloatArray,
) -> None:  # fmt: skip
    """Run C configurations over all bars; fills `eq_rec[C, R]` (equity at `rec_bars`, ascending,
    ending at the last bar), `dd[C]` (maximum drawdown), `accts[2, C]` (cash and lowest cash at
    a close, each a row) and `lgb` (accumulators).

    lgb[:, :, c] starts as `simulate`'s lg; codes[C], pvecs[C, 12] and cfgs[C, 8] are each
    configuration's policy code, parameter vector and config row.

    For each bar and leg, the quiet pass runs over the configurations' quiet state (one
    contiguous row per field, in vector registers); the configurations it leaves (and every
    configuration of a leg with its funding event or an inverse contract) take the full step on
    their own state, in leg order, so cash moves in the same order as in the single run. A
    configuration's schedule forces all its legs through the full step on the bar it is due.

    The allocations are made here (they need numba's runtime); `_walk_batch` runs the bars
    without it (`formulas.jit_bare`).
    """
    n_legs, n_cfg = lgb.shape[0], lgb.shape[2]
    every, q, qw = _prepare_batch(lgb, codes, pvecs)
    next_sched = every.copy()  # bar 0 is scheduled for every policy
    held, eq, peak, low = np.zeros(n_cfg), np.empty(n_cfg), np.full(n_cfg, -np.inf), np.zeros(n_cfg)
    need = np.empty(n_cfg, dtype=np.bool_)
    linear = np.empty(n_legs, dtype=np.bool_)
    for i in range(n_legs):
        linear[i] = lgb[i, C_INV, 0] == 0.0
    _walk_batch(
        spot, perp, mark, ev_bar, ev_col, ev_rate, lgb, tiers, codes, pvecs, cfgs, accts, cols,
        mark_high, rec_bars, eq_rec, dd, every, next_sched, q, qw, held, eq, peak, low, need,
        linear,
    )  # fmt: skip


@jit_bare
def _walk_batch(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lgb: FloatArray, tiers: FloatArray, codes: IntArray, pvecs: FloatArray, cfgs: FloatArray,
    accts: FloatArray, cols: IntArray, mark_high: FloatArray | None,
    rec_bars: IntArray, eq_rec: FloatArray, dd: FloatArray, every: IntArray,
    next_sched: IntArray, q: FloatArray, qw: FloatArray, held: FloatArray, eq: FloatArray,
    peak: FloatArray, low: FloatArray, need: npt.NDArray[np.bool_],
    linear: npt.NDArray[np.bool_],
) -> None:  # fmt: skip
    """`simulate_batch`'s bars, on the scratch state it made."""
    n_legs, n_cfg, n_bars = lgb.shape[0], lgb.shape[2], spot.shape[0]
    with_highs = mark_high is not None
    highs = mark if mark_high is None else mark_high
    scheduling = False
    for c in range(n_cfg):
        scheduling = scheduling or codes[c] == 2
    e, r = 0, 0
    for t in range(n_bars):
        funding_bar = e < ev_bar.size and ev_bar[e] == t
        if funding_bar:
            e_next = e
            for c in range(n_cfg):
                e_next = mark_events(t, e, ev_bar, ev_col, ev_rate, lgb[:, :, c], pvecs[c, 3])
            e = e_next
        for c in range(n_cfg):
            if codes[c] == KEEPER and pvecs[c, K_FSCALE] >= 0.0:
                funding_window(t, e, ev_bar, ev_col, ev_rate, lgb[:, :, c], pvecs[c, K_FWINDOW])
        for i in range(n_legs):
            k, j = cols[i, 0], cols[i, 1]
            s, m, mp = spot[t, k], mark[t, j], mark[t - 1, j]
            high = highs[t, j] if with_highs else m
            value = lgb[i, C_QTY, 0] * s
            # the funding event flags are the same in every configuration (set by column)
            event = funding_bar and lgb[i, S_EVENT, 0] > 0.0
            n_need = n_cfg
            if linear[i] and not event:
                n_need = _quiet_pass(i, q, qw, held, need, value, s, m, mp, high, with_highs)
            elif linear[i]:
                n_need = _funded_pass(
                    i, q, qw, held, need, value, s, m, mp, high, with_highs,
                    lgb[i, S_RATE, 0], lgb[i, A_FUND],
                )  # fmt: skip
            else:
                need[:] = True
            for c in range(n_cfg if n_need > 0 else 0):  # the full step
                if need[c]:
                    pv = pvecs[c]
                    lgb[i, S_W, c] = qw[i, c]
                    held[c] += leg_step(
                        i, t, spot, perp, mark, highs, with_highs, lgb[:, :, c], tiers, codes[c],
                        (pv[0], pv[1], pv[2], pv[3], pv[4], pv[5], pv[6], pv[7], pv[8], pv[9],
                         pv[10], pv[11]),
                        cfgs[c], accts[:, c], cols, every[c],
                    )[0]  # fmt: skip
                    load_quiet(i, lgb[:, :, c], q, qw, c, codes[c] <= 2, q[i, Q_BAND, c])
            if event:
                lgb[i, S_EVENT] = 0.0
        _close_bar(accts, held, eq, peak, low, dd, need)
        if t == rec_bars[r]:
            for c in range(n_cfg):
                eq_rec[c, r] = eq[c]
            r += 1
        for c in range(n_cfg if scheduling else 0):  # Schedule: every `every` bars from bar 0
            if codes[c] == 2 and t + 1 == next_sched[c]:
                next_sched[c] += every[c]
                q[:, Q_LO, c] = np.inf  # all its legs take the full step at bar t + 1
    for i in range(n_legs):
        for c in range(n_cfg):
            lgb[i, S_W, c] = qw[i, c]
    for c in range(n_cfg):
        if peak[c] > 0.0:
            dd[c] = min(dd[c], low[c] / peak[c] - 1.0)
        for i in range(n_legs):
            if lgb[i, S_POS, c] > 0.0:
                close_segment(i, n_bars, spot[-1, cols[i, 0]], mark[-1, cols[i, 1]], lgb[:, :, c])
