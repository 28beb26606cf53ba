"""The single run's resting legs: a box of marks per leg, and runs of bars booked at once.

After its full step at mark m_ref, a linear short of size q keeps the margin
w = w_ref - q * (m - m_ref) until its next full step (the exchange's own form: wallet plus
unrealised P&L from the entry). Its next full step does nothing more than move that margin as
long as, at every mark of a bar, the notional q * m stays in its bracket [lo, hi) and the margin
above maintenance q * m * mmr - cum, i.e. m stays under the liquidation mark
(w_ref + q * m_ref + cum) / (q * (1 + mmr)), and, at the close, the short stays in its band:
|q * m - target| <= band * target with target = per_spot * spot. These are bounds on the mark
and on mark / spot: the leg's box, fixed at its full step (`rest_after_step`). Inside it the
leg rests; the first bar that leaves it (or a funding event, a schedule bar) takes the full
step, which decides exactly: every bound is moved inward by EDGE, so a mark that close to it
takes the full step too.

Rows of the rest state rs[N_R, lanes]: the box (R_LO, R_HI: the marks; R_RLO, R_RHI: mark /
spot), the holding, the short and its margin at its last full step (R_QTY, R_POS, R_W, R_M).
Leg i is lane i; the lanes come in blocks of LANES (`rest_state`).
"""

from __future__ import annotations

import numba
import numpy as np

from perphedge.backtest.kernels.formulas import _pnl, jit, jit_inline
from perphedge.backtest.kernels.layout import (
    C_INV,
    C_QTY,
    D_PER_SPOT,
    S_ALIVE,
    S_CUM,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_W,
    FloatArray,
    IntArray,
    UIntArray,
)
from perphedge.backtest.kernels.liquidation import bar_marks
from perphedge.backtest.kernels.sampling import sampled

R_LO, R_HI, R_RLO, R_RHI, R_QTY, R_POS, R_W, R_M = range(8)
N_R = 8
# A mark within this relative distance of a bound of the box takes the full step.
EDGE = 1e-9


@jit_inline
def margin_at(rs: FloatArray, i: int, m: float) -> float:
    """Leg i's margin at mark m since its last full step (linear legs)."""
    return float(rs[R_W, i] + _pnl(-rs[R_POS, i], rs[R_M, i], m, 1.0, False))


@jit_inline
def _raised(x: float) -> float:
    """A lower bound moved inward by EDGE (infinite bounds stay)."""
    return x + abs(x) * EDGE if abs(x) < np.inf else x


@jit_inline
def _lowered(x: float) -> float:
    """An upper bound moved inward by EDGE (infinite bounds stay)."""
    return x - abs(x) * EDGE if abs(x) < np.inf else x


@jit_inline
def rest_after_step(
    i: int, lg: FloatArray, m: float, fast: bool, band: float, rs: FloatArray
) -> None:
    """Leg i's rest state after its full step closed at mark m: its short, margin and box.

    Legs that always take the full step (inverse, or a policy other than static, band or
    schedule) get an empty box; a leg without a short rests only if the band would not open
    one (no target, or a band of 100 % or more). `band`: inf without one.
    """
    pos, w = lg[i, S_POS], lg[i, S_W]
    per_spot = lg[i, D_PER_SPOT] if lg[i, S_ALIVE] > 0.0 else 0.0
    lo, hi, r_lo, r_hi = -np.inf, np.inf, -np.inf, np.inf
    if not fast or lg[i, C_INV] > 0.0:
        lo = np.inf
    elif pos > 0.0:
        liquidation = (w + pos * m + lg[i, S_CUM]) / (pos * (1.0 + lg[i, S_MMR]))
        lo, hi = _raised(lg[i, S_LO] / pos), _lowered(min(lg[i, S_HI] / pos, liquidation))
        if band < np.inf:
            r_lo = _raised(per_spot * (1.0 - band) / pos)
            r_hi = _lowered(per_spot * (1.0 + band) / pos)
    elif per_spot > 0.0 and band < 1.0:
        lo = np.inf
    rs[R_LO, i], rs[R_HI, i], rs[R_RLO, i], rs[R_RHI, i] = lo, hi, r_lo, r_hi
    rs[R_QTY, i], rs[R_POS, i], rs[R_W, i], rs[R_M, i] = lg[i, C_QTY], pos, w, m


@jit_inline
def in_bounds(low: float, top: float, rs: FloatArray, i: int | np.uint64) -> bool:
    """Whether marks spanning [low, top] keep leg i above maintenance and inside its bracket
    (only its band can still ask for a step)."""
    return bool((low >= rs[R_LO, i]) & (top < rs[R_HI, i]))


@jit_inline
def in_box(low: float, top: float, m: float, s: float, rs: FloatArray, i: int | np.uint64) -> bool:
    """Whether a bar whose marks span [low, top], closing at mark m and spot s, leaves leg i
    resting."""
    return bool(in_bounds(low, top, rs, i) & (m >= rs[R_RLO, i] * s) & (m <= rs[R_RHI, i] * s))


@jit_inline
def bar_span(
    t: int, j: int | np.uint64, mark: FloatArray, highs: FloatArray, with_highs: bool
) -> tuple[float, float]:
    """The marks bar t spans on column j: its close alone, or with highs from the previous close
    through the high to the close."""
    m = mark[t, j]
    if not with_highs:
        return m, m
    return bar_marks(mark[t - 1, j] if t > 0 else m, m, highs[t, j])


@jit
def settle_margins(
    t: int, mark: FloatArray, ucols: UIntArray, rs: FloatArray, lg: FloatArray
) -> None:
    """Write each linear leg's margin at bar t's close into lg[:, S_W] (a leg that stepped at t
    gets the margin it has)."""
    for i in range(lg.shape[0]):
        if lg[i, C_INV] == 0.0:
            lg[i, S_W] = margin_at(rs, i, mark[t, ucols[1, i]])


# Lanes per block of the resting loop: a loop of this constant length compiles to whole vector
# registers with no remainder loop (measured with the benchmark's ten legs: 16 lanes took 13 ns a
# bar, a loop over the ten legs 18 ns, 12 lanes 41 ns: LLVM vectorised those across blocks).
LANES = 16
FEW = 2  # up to this many legs, the resting loop takes them one by one (16 lanes cost more)


@jit
def rest_state(n_legs: int) -> FloatArray:
    """The rest state of `n_legs` legs, in blocks of LANES: lanes past the last leg rest
    forever and weigh nothing (an unbounded box, no holding, no short)."""
    rs = np.zeros((N_R, -(-n_legs // LANES) * LANES))
    rs[R_LO, :], rs[R_RLO, :] = -np.inf, -np.inf
    rs[R_HI, :], rs[R_RHI, :] = np.inf, np.inf
    return rs


@jit_inline
def quiet_end(n_bars: int, n_lanes: int, width: int, diagonal: bool) -> int:
    """The last bar `quiet_run` may read. Diagonal (leg i on column i, read without columns):
    lane i reads element i of a bar's row and lanes past the row's end read into the next
    rows, so the last bars are left to the full step."""
    return n_bars - 1 - (-(-n_lanes // width) if diagonal else 0)


@jit  # not inlined in numba's IR: the `is None` branch is pruned per type, as for arguments
def column(ucols: UIntArray | None, c: int, i: np.uint64) -> np.uint64:
    """Lane i's offset in a bar's row of spot (c = 0) or perpetual (c = 1) prices; `ucols`
    None: offset i in both."""
    if ucols is None:
        return i
    return np.uint64(ucols[c, i])


@jit  # not inlined in numba's IR: the `is None` branches are pruned per type (LLVM inlines it)
def lane(
    i: np.uint64, row_s: np.uint64, row_m: np.uint64, w_mark: np.uint64, flat_spot: FloatArray,
    flat_mark: FloatArray, flat_high: FloatArray | None, ucols: UIntArray | None, rs: FloatArray,
) -> tuple[bool, float, float]:  # fmt: skip
    """Lane i of the bar whose prices start at row_s (spot) and row_m (marks): whether it leaves
    its box, the value of its holding and of its short."""
    j = row_m + column(ucols, 1, i)
    s, m = flat_spot[row_s + column(ucols, 0, i)], flat_mark[j]
    low, top = m, m
    if flat_high is not None:  # from the previous close through the high
        low, top = bar_marks(flat_mark[j - w_mark], m, flat_high[j])
    return not in_box(low, top, m, s, rs, i), rs[R_QTY, i] * s, rs[R_POS, i] * m


@jit_inline
def sample_resting(
    row_m: np.uint64, flat_mark: FloatArray, r: int, ucols: UIntArray | None, rs: FloatArray,
    lg: FloatArray, samples: FloatArray,
) -> None:  # fmt: skip
    """Sample row r at the close of the bar whose marks start at flat_mark[row_m] when every leg
    rests (linear, its notional in the bracket cached in lg)."""
    for i in range(lg.shape[0]):
        m = flat_mark[row_m + column(ucols, 1, np.uint64(i))]
        notional = rs[R_POS, i] * m
        samples[r, i, 0], samples[r, i, 1] = sampled(
            rs[R_POS, i], margin_at(rs, i, m), notional, lg[i, S_MMR], lg[i, S_CUM], notional
        )


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def quiet_run(
    stop: int, flat_spot: FloatArray, flat_mark: FloatArray, flat_high: FloatArray | None,
    widths: tuple[int, int], ucols: UIntArray | None, rs: FloatArray, fixed_usd: float,
    curves: FloatArray, lg: FloatArray, samples: FloatArray, clock: IntArray,
) -> None:  # fmt: skip
    """Book bars from clock[0] on while every leg (all linear) rests, up to `stop` (not
    included, at most `quiet_end`); leave in clock[0] the first bar that needs more (`stop`, or
    one where a leg left its box).

    A booked bar's equity is fixed_usd + sum(qty * spot) - sum(q * mark), fixed_usd = cash +
    sum(w_ref + q * m_ref); its unhedged value sum(qty * spot). Sample bars among them are
    recorded (clock = bar, next sample bar, its row, stride). The prices are read flat (the
    T x columns arrays in C order, `widths` their columns): lane i of bar t is element
    t x width + column(i). Up to FEW legs are read one by one; more run in blocks of LANES
    lanes (`rest_state`): a loop of constant length that LLVM turns into whole vector
    registers. The loop stores nothing per lane, its sums may be added in any order, and numba
    compiles it apart with and without mark highs (`flat_high` None) and columns (`ucols`
    None).
    """
    w_spot, w_mark = np.uint64(widths[0]), np.uint64(widths[1])
    t, next_sample = clock[0], clock[1]
    while True:
        if t >= stop:
            clock[0], clock[1] = t, next_sample
            return
        row_s, row_m = np.uint64(t) * w_spot, np.uint64(t) * w_mark
        out, held, short = False, 0.0, 0.0
        if lg.shape[0] <= FEW:  # one by one
            for leg in range(lg.shape[0]):
                o, h, q = lane(
                    np.uint64(leg), row_s, row_m, w_mark, flat_spot, flat_mark, flat_high, ucols, rs
                )  # fmt: skip
                out, held, short = out | o, held + h, short + q
        else:
            for b in range(rs.shape[1] // LANES):
                for k in range(LANES):
                    i = np.uint64(b * LANES + k)
                    o, h, q = lane(
                        i, row_s, row_m, w_mark, flat_spot, flat_mark, flat_high, ucols, rs
                    )  # fmt: skip
                    out, held, short = out | o, held + h, short + q
        if out:
            clock[0], clock[1] = t, next_sample
            return
        curves[0, t] = fixed_usd + held - short
        curves[1, t] = held
        if t == next_sample:
            sample_resting(row_m, flat_mark, clock[2], ucols, rs, lg, samples)
            next_sample += clock[3]
            clock[2] += 1
        t += 1
