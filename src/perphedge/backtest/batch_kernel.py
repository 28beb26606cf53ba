"""The batched numba kernel: many configurations in one pass over the market arrays.

Configurations that share the data, the legs and their contract kinds but differ in policy
(code and parameters), hedge ratio, leverage, costs, top-up or starting cash (the reserve) run
together: state arrays per configuration (`lgb[L, N_LEG, C]`, `accts[C, 2]`), and for each bar
and leg an inner loop over the configurations, so each price is read from memory once for all
of them. The configuration is the last axis, so that loop reads each state field as a
contiguous row. Each configuration takes exactly the steps of the single run (`kernels.simulate`): the
same quiet-path test (`kernels.quiet_linear`) and the same full step (`kernels.leg_step`), both
inlined, so a policy or a rule is written once. Legs are stepped in leg order within each
configuration, so cash moves in the same order as in the single run.

A batch keeps no per-bar curve (C x T would not fit in memory): the equity of each configuration
at the bars listed in `rec_bars` (the metrics' period closes) and its maximum drawdown over
every bar, tracked as it runs.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from perphedge.backtest.kernels import (
    AC_CASH,
    AC_MIN,
    C_BETA,
    C_INV,
    C_QTY,
    D_PER_SPOT,
    S_ALIVE,
    S_CUM,
    S_EVENT,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_W,
    close_segment,
    leg_step,
    mark_events,
    quiet_linear,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def _prepare(
    lgb: FloatArray, codes: IntArray, pvecs: FloatArray
) -> tuple[IntArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per configuration: the schedule period, the band (inf: none) and whether the quiet path
    may take it (static, band and schedule policies); fills D_PER_SPOT as `simulate` does."""
    n_cfg = lgb.shape[2]
    every = np.ones(n_cfg, dtype=np.int64)
    band = np.empty(n_cfg)
    fast = np.zeros(n_cfg, dtype=np.bool_)
    for c in range(n_cfg):
        if codes[c] == 2:
            every[c] = int(pvecs[c, 2])
        band[c] = pvecs[c, 1] if pvecs[c, 1] > 0.0 else np.inf
        fast[c] = codes[c] <= 2
        lgb[:, D_PER_SPOT, c] = pvecs[c, 0] * lgb[:, C_BETA, c] * lgb[:, C_QTY, c]
    return every, band, fast


@_jit
def simulate_batch(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lgb: FloatArray, tiers: FloatArray, codes: IntArray, pvecs: FloatArray, cfgs: FloatArray,
    accts: FloatArray, cols: IntArray, mark_high: FloatArray | None,
    rec_bars: IntArray, eq_rec: FloatArray, dd: FloatArray,
) -> None:  # fmt: skip
    """Run C configurations over all bars; fills `eq_rec[C, R]` (equity at `rec_bars`, ascending,
    ending at the last bar), `dd[C]` (maximum drawdown), `accts` and `lgb` (accumulators).

    lgb[:, :, c] starts as `simulate`'s lg; codes[C], pvecs[C, 8] and cfgs[C, 7] are each
    configuration's policy code, parameter vector and config row.
    """
    n_legs, n_cfg, n_bars = lgb.shape[0], lgb.shape[2], spot.shape[0]
    with_highs = mark_high is not None
    highs = mark if mark_high is None else mark_high
    every, band, fast = _prepare(lgb, codes, pvecs)
    next_sched = every.copy()  # bar 0 is scheduled for every policy
    scheduled = np.ones(n_cfg, dtype=np.bool_)
    held, peak, low = np.zeros(n_cfg), np.full(n_cfg, -np.inf), np.zeros(n_cfg)
    need = np.empty(n_cfg, dtype=np.bool_)
    # the margins apart from the rest of the state: the quiet pass writes only this array, which
    # lets the compiler prove its loop free of aliasing and vectorise it
    wq = lgb[:, S_W, :].copy()
    linear = np.empty(n_legs, dtype=np.bool_)
    for i in range(n_legs):
        linear[i] = lgb[i, C_INV, 0] == 0.0
    e, r = 0, 0
    for t in range(n_bars):
        funding_bar = e < ev_bar.size and ev_bar[e] == t
        if funding_bar:
            e_next = e
            for c in range(n_cfg):
                e_next = mark_events(t, e, ev_bar, ev_col, ev_rate, lgb[:, :, c], pvecs[c, 3])
            e = e_next
        for i in range(n_legs):
            k, j = cols[i, 0], cols[i, 1]
            s, m, mp = spot[t, k], mark[t, j], mark[t - 1, j]
            high = highs[t, j] if with_highs else m
            # the funding event flags are the same in every configuration (set by column)
            quiet_leg = linear[i] and not (funding_bar and lgb[i, S_EVENT, 0] > 0.0)
            value, n_need = lgb[i, C_QTY, 0] * s, n_cfg
            if quiet_leg:  # first pass: the quiet path, in vector registers
                n_need = 0
                for c in range(n_cfg):
                    w0 = wq[i, c]
                    quiet, w = quiet_linear(
                        lgb[i, S_POS, c], w0, lgb[i, S_LO, c], lgb[i, S_HI, c],
                        lgb[i, S_MMR, c], lgb[i, S_CUM, c], lgb[i, S_ALIVE, c],
                        lgb[i, D_PER_SPOT, c], s, m, mp, high, with_highs, scheduled[c],
                        band[c],
                    )  # fmt: skip
                    quiet &= fast[c]
                    wq[i, c] = w if quiet else w0
                    held[c] += value + w if quiet else 0.0
                    need[c] = not quiet
                    n_need += not quiet
            for c in range(n_cfg if n_need > 0 else 0):  # second pass: the full step
                if quiet_leg and not need[c]:
                    continue
                pv = pvecs[c]
                lgb[i, S_W, c] = wq[i, c]
                held[c] += leg_step(
                    i, t, spot, perp, mark, highs, with_highs, lgb[:, :, c], tiers, codes[c],
                    (pv[0], pv[1], pv[2], pv[3], pv[4], pv[5], pv[6], pv[7]),
                    cfgs[c], accts[c], cols, every[c],
                )[0]  # fmt: skip
                wq[i, c] = lgb[i, S_W, c]
        record = t == rec_bars[r]
        for c in range(n_cfg):  # the bar's close
            cash = accts[c, AC_CASH]
            accts[c, AC_MIN] = min(accts[c, AC_MIN], cash)
            eq = cash + held[c]
            held[c] = 0.0
            # maximum drawdown min(eq / running peak - 1): between peaks the deepest point is the
            # lowest equity (division by a positive peak is monotonic), booked at the next peak
            p = peak[c]
            up = eq > p
            booked = min(dd[c], low[c] / p - 1.0)
            dd[c] = booked if up and p > 0.0 else dd[c]
            low[c] = eq if up else min(low[c], eq)
            peak[c] = eq if up else p
            if p <= 0.0 and not up:  # a non-positive peak reverses the order: every point
                dd[c] = min(dd[c], eq / p - 1.0)
            # the schedule of bar t + 1 (Schedule: every `every` bars from bar 0)
            due = codes[c] == 2 and t + 1 == next_sched[c]
            scheduled[c] = due
            next_sched[c] += every[c] if due else 0
            if record:
                eq_rec[c, r] = eq
        if record:
            r += 1
    lgb[:, S_W, :] = wq
    for c in range(n_cfg):
        if peak[c] > 0.0:
            dd[c] = min(dd[c], low[c] / peak[c] - 1.0)
        for i in range(n_legs):
            if lgb[i, S_POS, c] > 0.0:
                close_segment(i, n_bars, spot[-1, cols[i, 0]], mark[-1, cols[i, 1]], lgb[:, :, c])
