"""The numba engine: one pass over the bars, all path-dependent logic inside.

Model (the plain-Python `reference` module implements the same, step for step):

* Holdings: leg i holds `qty` coins valued at the spot close; they are never sold.
* Hedge: a short perpetual per leg with isolated margin `w` in the settle currency.
  Linear: size q in coins, `w` in USD, drawn from and returned to the shared cash account.
  Inverse: size q in contracts of CS USD, `w` in the coin, taken from and returned to the
  holding's own coins (the usual coin-margined construction: the coins are the collateral);
  contract, margin and holding are the same coin. Coin amounts are converted to USD at the
  bar's mark whenever they are booked; margin coins are valued at the mark, held coins at spot.
* Each bar t, for each leg, in this order:
  1. Variation margin at the mark: linear `w += -q * (m_t - m_{t-1})`; inverse
     `w += -q * CS * (1/m_{t-1} - 1/m_t)` (coin).
  2. Liquidation at the mark (the rule of step 3), before any funding of the bar: a short
     whose mark crossed its liquidation price within the bar is gone before the settlement at
     the bar's close, and earns no funding there.
  3. Funding, if the hedge's perpetual settles a rate at t and the short is still open (only
     positions open at the event pay or receive; a hedge opened at bar t is opened after
     step 4 and misses t's event): `w += funding_cash(-q, rate, m_t)` linear,
     `funding_cash(-q, rate, CS / m_t)` inverse — the core sign rule: positive rate, the short
     receives. Then the liquidation check again (funding paid can take the margin under).
     The liquidation check: notional N = q*m (linear, USD) or q*CS/m (inverse, coin);
     maintenance margin MM = N*MMR - cum of the bracket containing N. If w <= MM: with
     auto top-up, cash (only what is left, never borrowed) is moved to bring w back to N / L
     (bought as coin at the mark for inverse legs); if still w <= MM, the position is closed
     at the mark, the liquidation fee min(max(w, 0), N * liquidation_fee) is paid and the rest
     of w is forfeited (clearance; a negative w is absorbed by the insurance fund). The leg is
     not hedged again.
  With the bar's mark high known (`MarketArrays.mark_high`), steps 1-2 look inside the bar
  instead, for every open leg (all legs are shorts, which a rising mark hurts, linear and
  inverse alike, so the low is never needed): the mark is taken to move from the previous close
  through the bar's high H = max(mark high, previous close, close) and back to the close.
  a. Funding settling at t is not booked yet: it comes at the close, after the path (step 3).
  b. The liquidation price P is the first mark in [m_{t-1}, H] at which the margin,
     plus the variation margin from m_{t-1} to that mark, is at or below maintenance (same MM
     rule, with the bracket of the notional at that mark: the brackets crossed are walked; the
     margin and MM are linear in the mark, or in 1/mark inverse, inside a bracket, so the
     crossing is solved exactly; where MM jumps up at a bracket edge, the edge). If there is
     one, the check runs at P instead of the close: the variation margin to P, then the top-up
     to N(P) / L or the liquidation at P (fee on the notional at P, the rest forfeited). After a
     top-up the search goes on from P with the new margin, so the reserve can be drawn several
     times in one bar. Coin amounts are still converted to USD at the bar's close mark m_t.
  c. A leg still open takes the variation margin to the close, then the check at the close
     as without highs (a safety net; it cannot trigger when the close is within the walk),
     then step 3: the funding settling at t and the check again.
  A liquidated leg's margin at P equals its maintenance margin there, so its loss (margin minus
  fee) is not negative. Without highs, a bar can still carry the mark past the
  bankruptcy price before the close, as an exchange gap would.
  4. Policy: a target ratio h (policy code + parameter vector, see `spec`); the target notional
     is h * beta * coins * spot (USD, at least 0), coins = qty (linear) or the coins held plus
     those in the margin (inverse; with a proxy contract the margin coins are exchanged for held
     coins at spot and mark, which is only meaningful for a close proxy). If the policy asks (opening, schedule, band breach, regime switch), the
     short is re-sized to the target: fill at the perpetual price moved against the trade by
     the slippage, fee = |traded notional at the fill| * fee rate, both out of w; then w is
     re-set to N / L (linear: from cash, which may go negative — `min_cash_usd`, the lowest
     cash at a bar's close, reports it; inverse: from the held coins).
     The keeper (policy 5) first asks its funding regime (`funding_regime`: the live keeper's
     `funding_switch` on the trailing cost of `funding_window`) for the fraction of the target
     to hold; a switch forces the re-size. Its margin step follows (`keep_margin`).
* Equity = cash + sum(coins held * spot + w at the mark); unhedged = sum(qty * spot): the
  holdings alone, without the cash set aside for margin (which is the same whatever the
  leverage, and is reported separately), so it does not move with leverage.
* Accounting per leg (USD): hedge P&L (variation margin, fill versus mark without slippage,
  revaluation of the coins moved between holding and margin), funding, fees (exchange fees +
  slippage + liquidation fee), liquidation loss (forfeited margin beyond the fee). Exactly:
  equity - initial cash - unhedged = sum(hedge P&L + funding - fees - liquidation loss).
  Basis P&L = hedge P&L + covered spot units * spot change, covered units = target ratio *
  qty (fixed at each re-size): what the hedge did not offset (0 for a perfect hedge).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numba
import numpy as np
import numpy.typing as npt

from perphedge.funding import funding_cash
from perphedge.hedge.keeper import funding_switch, trailing_cost_apr
from perphedge.margin import fee_of, maintenance_of, notional_of, pnl_of

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The money formulas are the core's own functions, compiled and inlined where they are called:
# written once (margin.py, funding.py), so the kernel cannot drift from the core.
_inline = numba.njit(cache=True, inline="always", error_model="numpy")
# typed as the scalar use here (funding_cash is generic over floats and arrays)
_funding_cash = cast(Callable[[float, float, float], float], _inline(funding_cash))
_notional = cast(Callable[[float, float, float, bool], float], _inline(notional_of))
_pnl = cast(Callable[[float, float, float, float, bool], float], _inline(pnl_of))
_fee = cast(Callable[[float, float], float], _inline(fee_of))
_maintenance = cast(Callable[[float, float, float], float], _inline(maintenance_of))
# the keeper's funding regime: the live keeper's own rule and cost
_funding_switch = cast(
    Callable[[bool, float, float, float, float, float], bool], _inline(funding_switch)
)
_trailing_cost = cast(Callable[[float, float, float], float], _inline(trailing_cost_apr))

# One row per leg, lg[L, N_LEG]: constants (C_*), state (S_*) and accumulators (A_*) together,
# so the loop touches few arrays (every array argument holds registers: data, shape, strides).
C_SPOT, C_HEDGE, C_QTY, C_BETA, C_INV, C_CS, C_NTIER = range(7)
# tier table rows tiers[L, NT, 4]
T_FLOOR, T_CAP, T_MMR, T_CUM = range(4)
# leg state: S_SREF = spot at the last re-size, S_OPEN = bar the hedge was opened,
# S_LO..S_CUM cache the current bracket. What the quiet path reads (C_QTY to D_PER_SPOT) sits in
# two cache lines; D_PER_SPOT is derived, filled by the kernels: ratio x beta x qty.
(S_POS, S_W, S_LO, S_HI, S_MMR, S_CUM, S_ALIVE, D_PER_SPOT, S_EVENT, S_SREF, S_OPEN, S_COV,
 S_VAR, S_NEG, S_UP, S_FLAG, S_SWITCH, S_TIER, S_RATE, S_MREF, S_HOLD) = range(7, 28)  # fmt: skip
# per-leg accumulators
# (A_COVERED: P&L of the spot units the hedge covers; basis P&L = A_HPNL + A_COVERED)
A_FUND, A_FEES, A_HPNL, A_COVERED, A_LIQ, A_TOPUP, A_TRADES, A_HBARS, A_LIQBAR = range(28, 37)
# keeper accumulators (USD unless noted): coins sold, their proceeds, re-opens, liquidations,
# margin lost in liquidations, margin returned to cash, closes with an unresolved shortfall (the
# live keeper alerts); S_POSTED: the margin at risk, USD: the whole margin after the last re-size
# or surplus return, plus top-ups since (what a liquidation takes)
(A_SOLD, A_PROCEEDS, A_REOPEN, A_NLIQ, A_LOST, A_RETURNED, A_ALERTS, S_POSTED) = range(37, 45)
# the keeper's funding regime: C_FINT = the perpetual's funding interval (hours); S_FPTR = first
# funding event (of any column) still in the trailing window; S_FCOST = the leg's trailing
# funding cost (APR); S_FRED = 1 while reduced; S_FLAST = bar of the last switch (-inf: none);
# A_FSWITCH = switches made; A_SPOTFEE = spot fees of the coins sold (USD, also in A_FEES)
(C_FINT, S_FPTR, S_FCOST, S_FRED, S_FLAST, A_FSWITCH, A_SPOTFEE) = range(45, 52)
N_LEG = 52
# the keeper's parameter slots (`spec.Keeper.params`); K_FSCALE < 0: no funding regime
K_MIN, K_TARGET, K_COOLDOWN, K_SHORTFALL, K_SURPLUS = 2, 3, 4, 5, 6
K_FSCALE, K_FLIMIT, K_FHYST, K_FHOLD, K_FWINDOW = 7, 8, 9, 10, 11
KEEPER = 5  # the keeper's policy code
# the policy parameters as the kernels pass them: `spec.policy_vector` as a tuple
Params = tuple[float, float, float, float, float, float, float, float, float, float, float, float]
# the quiet state q[L, N_Q, C] and margins qw[L, C] (`load_quiet`): what the quiet path reads
Q_POS, Q_LO, Q_HI, Q_MMR, Q_CUM, Q_SPOT, Q_BAND = range(7)
N_Q = 7
# config cfg[8]
CF_LEV, CF_FEE, CF_SLIP, CF_LIQFEE, CF_TOPUP, CF_BPY, CF_STRIDE, CF_SPOTFEE = range(8)
# account acct[2]: cash, min cash
AC_CASH, AC_MIN = range(2)

# numpy error model: float division by zero gives inf instead of raising (no denominator here is
# ever zero: prices, contract sizes and leverage are validated > 0), which keeps raise paths and
# their reference counting out of the loop.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def retier(i: int, notional: float, tiers: FloatArray, lg: FloatArray) -> None:
    """Cache the bracket containing `notional` (bounds, MMR, cum) in leg i's state.

    The array form of TierTable.tier_for: the bracket with floor <= N < cap, the last beyond it.
    """
    k = int(lg[i, S_TIER])
    last = int(lg[i, C_NTIER]) - 1
    while k < last and notional >= tiers[i, k, T_CAP]:
        k += 1
    while k > 0 and notional < tiers[i, k, T_FLOOR]:
        k -= 1
    lg[i, S_TIER] = k
    lg[i, S_LO] = -np.inf if k == 0 else tiers[i, k, T_FLOOR]
    lg[i, S_HI] = np.inf if k == last else tiers[i, k, T_CAP]
    lg[i, S_MMR] = tiers[i, k, T_MMR]
    lg[i, S_CUM] = tiers[i, k, T_CUM]


@_jit
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


@_jit
def funding_window(
    t: int, e_end: int, ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lg: FloatArray, window_bars: float,
) -> None:  # fmt: skip
    """Keeper: each leg's trailing funding cost (`hedge.keeper.trailing_cost_apr`) over the
    settlements of its perpetual in bars (t - window_bars, t] (events before `e_end`), kept in
    S_FCOST; summed again, oldest first, only when a settlement enters or leaves the window."""
    for i in range(lg.shape[0]):
        col, p = lg[i, C_HEDGE], int(lg[i, S_FPTR])
        changed = lg[i, S_EVENT] > 0.0
        while p < e_end and ev_bar[p] <= t - window_bars:
            changed = changed or ev_col[p] == col
            p += 1
        lg[i, S_FPTR] = p
        if changed:
            total, n = 0.0, 0.0
            for q in range(p, e_end):
                if ev_col[q] == col:
                    total += ev_rate[q]
                    n += 1.0
            lg[i, S_FCOST] = _trailing_cost(total, n, lg[i, C_FINT])


@_jit
def funding_regime(i: int, t: int, pp: Params, lg: FloatArray) -> tuple[float, bool]:
    """Keeper, step 1 (`hedge.keeper.funding_switch`): (the fraction of the target to hold,
    whether the regime switched at this bar)."""
    if pp[K_FSCALE] < 0.0:
        return 1.0, False
    reduced = lg[i, S_FRED] > 0.0
    switched = _funding_switch(
        reduced, t - lg[i, S_FLAST], lg[i, S_FCOST], pp[K_FLIMIT], pp[K_FHYST], pp[K_FHOLD]
    )
    if switched:
        reduced = not reduced
        lg[i, S_FRED] = 1.0 if reduced else 0.0
        lg[i, S_FLAST] = t
        lg[i, A_FSWITCH] += 1.0
    return (pp[K_FSCALE] if reduced else 1.0), switched


@_jit
def apply_funding(i: int, m: float, lg: FloatArray) -> float:
    """Step 2: book the funding settling now on leg i's short; returns it in USD."""
    inverse = lg[i, C_INV] > 0.0
    per_size = _notional(1.0, m, lg[i, C_CS], inverse)  # notional of one unit of size
    cash = _funding_cash(-lg[i, S_POS], lg[i, S_RATE], per_size)
    lg[i, S_W] += cash
    usd: float = cash * m if inverse else cash
    lg[i, A_FUND] += usd
    return usd


@_jit
def liquidate_or_top_up(
    i: int, t: int, s: float, m: float, px: float, notional: float, mm: float, lg: FloatArray,
    cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """Step 3 once w <= MM at mark `px` (notional and MM there): top up from cash if allowed and
    enough, else liquidate at `px`. Coin amounts are converted at the bar's mark `m`."""
    conv = m if lg[i, C_INV] > 0.0 else 1.0
    if cfg[CF_TOPUP] > 0.0 and acct[AC_CASH] > 0.0:
        moved = min(acct[AC_CASH], (notional / cfg[CF_LEV] - lg[i, S_W]) * conv)
        acct[AC_CASH] -= moved
        lg[i, S_W] += moved / conv
        lg[i, A_TOPUP] += moved
        lg[i, S_POSTED] += moved
        if lg[i, S_W] > mm:
            return
    w = lg[i, S_W]
    fee = min(max(w, 0.0), _fee(notional, cfg[CF_LIQFEE]))
    lg[i, A_FEES] += fee * conv
    lg[i, A_LIQ] += (w - fee) * conv
    lg[i, A_LIQBAR] = t
    lg[i, A_NLIQ] += 1.0
    lg[i, A_LOST] += lg[i, S_POSTED]
    lg[i, S_POSTED] = 0.0
    close_segment(i, t, s, px, lg)
    lg[i, S_W] = 0.0
    lg[i, S_POS] = 0.0
    lg[i, S_ALIVE] = 0.0


@_jit
def touch_price(
    i: int, w: float, a: float, hi: float, tiers: FloatArray, lg: FloatArray
) -> tuple[float, float]:
    """(P, MM at P): the first mark P in [a, hi] at which leg i's short, with margin w at mark a,
    has margin (plus the variation margin a -> P) at or below maintenance; (0, 0) if none.

    Walks the brackets the notional crosses (rising with the mark linear, falling inverse);
    inside one, margin and MM are linear in P (in 1/P inverse), so the crossing is solved exactly.
    """
    pos, cs, inverse = lg[i, S_POS], lg[i, C_CS], lg[i, C_INV] > 0.0
    qc, last = pos * cs, int(lg[i, C_NTIER]) - 1
    retier(i, _notional(pos, a, cs, inverse), tiers, lg)
    k, lo = int(lg[i, S_TIER]), a
    while True:
        mmr, cum = tiers[i, k, T_MMR], tiers[i, k, T_CUM]
        if inverse:
            edge = qc / tiers[i, k, T_FLOOR] if k > 0 else np.inf
        else:
            edge = tiers[i, k, T_CAP] / pos if k < last else np.inf
        up = min(hi, edge)
        for p in (lo, up):
            w_p = w + _pnl(-pos, a, p, cs, inverse)
            if w_p <= _maintenance(_notional(pos, p, cs, inverse), mmr, cum):
                if p == up and up != lo:  # crossed inside the bracket: solve
                    if inverse:
                        p = qc * (1.0 - mmr) / (qc / a - w - cum)
                    else:
                        p = (w + pos * a + cum) / (pos * (1.0 + mmr))
                    p = min(max(p, lo), up)
                return p, _maintenance(_notional(pos, p, cs, inverse), mmr, cum)
        if up >= hi:
            return 0.0, 0.0
        lo, k = edge, k - 1 if inverse else k + 1


@_jit
def through_the_bar(
    i: int, t: int, s: float, m: float, mp: float, hi: float, w_prev: float, lg: FloatArray,
    tiers: FloatArray, cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """Step b. and the variation margin of step c. (module docstring) for an open leg: S_W is
    the margin w_prev at the previous close mp plus this bar's funding; hi is the bar's high."""
    pos, cs, inverse = lg[i, S_POS], lg[i, C_CS], lg[i, C_INV] > 0.0
    a, vm_sum, n = mp, 0.0, 0
    while True:
        px, mm = touch_price(i, lg[i, S_W], a, hi, tiers, lg)
        # none; or touched again where it was just topped up: float noise after a full top-up
        # (cash left), while a partial one (cash spent) left it at maintenance: liquidated here
        if px <= 0.0 or (n > 0 and px <= a and acct[AC_CASH] > 0.0):
            break
        n += 1
        dv = variation(pos, 0.0, a, px, inverse, cs)[0]
        vm_sum += dv
        lg[i, S_W] += dv
        notional = _notional(pos, px, cs, inverse)
        liquidate_or_top_up(i, t, s, m, px, notional, mm, lg, cfg, acct)
        a = px
        if lg[i, S_ALIVE] == 0.0:
            break
    if lg[i, S_ALIVE] > 0.0:
        dv = variation(pos, 0.0, a, m, inverse, cs)[0]
        vm_sum += dv
        lg[i, S_W] += dv
    if inverse:  # linear legs book -q * (m - m_ref) per segment instead
        lg[i, A_HPNL] += vm_sum * m + w_prev * (m - mp)


@_jit
def variation(
    pos: float, w: float, mp: float, m: float, inverse: bool, cs: float
) -> tuple[float, float]:
    """Step 1: (variation margin in the settle currency, hedge P&L in USD incl. coin revaluation)."""
    vm = _pnl(-pos, mp, m, cs, inverse)
    return (vm, vm * m + w * (m - mp)) if inverse else (vm, vm)


@_jit
def policy_target(
    code: int, t: int, s: float, s_prev: float, pp: Params,
    bpy: float, flag: float, neg: float, up: float, last_switch: float, var: float,
) -> tuple[float, bool, float, float, float]:  # fmt: skip
    """Step 4's policy on scalars: (target ratio, force a re-size, flag, last switch, variance).

    pp = (ratio, band, p2, p3, p4, p5) as laid out by `spec.policy_vector`.
    """
    if code <= 1:  # StaticRatio, DriftBand
        return pp[0], t == 0, flag, last_switch, var
    if code == 2:  # Schedule
        return pp[0], t % int(pp[2]) == 0, flag, last_switch, var
    if code == 3:  # FundingAware: flag = 1 while reduced
        run = up if flag == 1.0 else neg
        switch = t - last_switch >= pp[4] and run >= pp[2]
        if switch:
            flag = 1.0 - flag
            last_switch = float(t)
        return (pp[5] if flag == 1.0 else pp[0]), switch or t == 0, flag, last_switch, var
    if t > 0:  # VolTriggered: EWMA of squared returns, flag = 1 while volatility is high
        r = s / s_prev - 1.0
        alpha = 2.0 / (pp[2] + 1.0)
        var = alpha * r * r + (1.0 - alpha) * var
    high = t < pp[2] or var * bpy > pp[3] * pp[3]
    new_flag = 1.0 if high else 0.0
    return (pp[0] if high else pp[4]), new_flag != flag or t == 0, new_flag, last_switch, var


@_jit
def close_segment(i: int, t: int, s: float, m: float, lg: FloatArray) -> None:
    """Book what accrued since the last re-size of an open hedge, at spot s and mark m:
    covered spot P&L, hedged bars and (linear legs) the variation margin -q * (m - m_ref)."""
    if lg[i, C_INV] == 0.0:
        lg[i, A_HPNL] += _pnl(-lg[i, S_POS], lg[i, S_MREF], m, 1.0, False)
    lg[i, A_COVERED] += lg[i, S_COV] * (s - lg[i, S_SREF])
    lg[i, A_HBARS] += t - lg[i, S_OPEN]
    lg[i, S_COV] = 0.0


@_jit
def trade(
    pos: float, w: float, target_usd: float, m: float, px: float, inverse: bool, cs: float,
    slip: float, fee_rate: float, leverage: float,
) -> tuple[float, float, float, float, float]:  # fmt: skip
    """Re-size a short of `pos` with margin `w` to `target_usd` of notional.

    Fill at `px` moved against the trade by `slip`; fee = traded notional at the fill x fee rate;
    the margin is then re-set to N / leverage. Returns (new size, new margin, amount drawn into the
    margin in the settle currency, hedge P&L of the fill against the mark in USD, fees + slippage
    in USD).
    """
    new_pos = target_usd / cs if inverse else target_usd / m
    dq = new_pos - pos  # > 0: sell (the short grows)
    fill = px * (1.0 - slip) if dq > 0.0 else px * (1.0 + slip)
    conv = m if inverse else 1.0
    gain = _pnl(-dq, fill, m, cs, inverse)  # the traded short, from the fill to the mark
    gain0 = _pnl(-dq, px, m, cs, inverse)
    fee = _fee(_notional(abs(dq), fill, cs, inverse), fee_rate)
    w_after = w + gain - fee
    margin = _notional(new_pos, m, cs, inverse) / leverage
    return new_pos, margin, margin - w_after, gain0 * conv, (fee + gain0 - gain) * conv


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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
        top = max(high, mp, m)
        n_low, n_top = _notional(pos, min(mp, m), 1.0, False), _notional(pos, top, 1.0, False)
        w_top = w + _pnl(-pos, mp, top, 1.0, False)
    target = max(per_spot * s, 0.0)
    in_bracket = (lo <= n_low) & (n_top < hi)
    above = w_top > _maintenance(n_top, mmr, cum)
    in_band = not (abs(notional - target) > band * target)  # NaN (no band, no target): in
    return in_bracket & above & in_band, w_close


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


@_jit
def resize(
    i: int, t: int, s: float, m: float, px: float, target: float, ratio: float, keeper: bool,
    lg: FloatArray, cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """Step 4's re-size of leg i's short to `target` USD (see `trade`), booked. Under the keeper
    the margin is kept, plus the added notional / leverage when the short grows (as an exchange
    does), instead of being re-set to N / L; a short opened from nothing gets N / L and a closed
    one returns its margin either way."""
    inverse, cs, pos = lg[i, C_INV] > 0.0, lg[i, C_CS], lg[i, S_POS]
    lev = cfg[CF_LEV]
    new_pos, margin, drawn, pnl, fees = trade(
        pos, lg[i, S_W], target, m, px, inverse, cs, cfg[CF_SLIP], cfg[CF_FEE], lev
    )
    if keeper and pos > 0.0 and new_pos > 0.0:  # a closed short returns its whole margin
        w_after = margin - drawn
        drawn = max(_notional(new_pos - pos, m, cs, inverse), 0.0) / lev
        margin = w_after + drawn
    lg[i, A_HPNL] += pnl
    lg[i, A_FEES] += fees
    if inverse:  # the margin comes from (and returns to) the holding's coins
        lg[i, S_HOLD] -= drawn
        lg[i, A_HPNL] += drawn * (m - s)
    else:
        acct[AC_CASH] -= drawn
    if pos > 0.0:  # close the segment (as close_segment, inline)
        if not inverse:
            lg[i, A_HPNL] += _pnl(-pos, lg[i, S_MREF], m, 1.0, False)
        lg[i, A_COVERED] += lg[i, S_COV] * (s - lg[i, S_SREF])
        lg[i, A_HBARS] += t - lg[i, S_OPEN]
        lg[i, S_COV] = 0.0
    if new_pos > 0.0:
        lg[i, S_OPEN], lg[i, S_SREF], lg[i, S_MREF] = t, s, m
        lg[i, S_COV] = ratio * (lg[i, C_QTY] if inverse else lg[i, S_HOLD])
    # at risk from now on: the whole margin after the re-size (top-ups add to it)
    lg[i, S_POSTED] = margin * (m if inverse else 1.0) if new_pos > 0.0 else 0.0
    lg[i, S_W], lg[i, S_POS] = margin, new_pos
    lg[i, A_TRADES] += 1.0


@_jit
def reopen_due(i: int, t: int, cooldown_bars: float, lg: FloatArray) -> None:
    """Keeper: bring a liquidated leg back to life once the cooldown has passed (re-open is off
    when `cooldown_bars` < 0); step 4 then opens it at the target."""
    if cooldown_bars >= 0.0 and t - lg[i, A_LIQBAR] >= cooldown_bars:
        lg[i, S_ALIVE] = 1.0
        lg[i, A_REOPEN] += 1.0


@_jit
def margin_at_distance(
    i: int, pos: float, m: float, dist: float, tiers: FloatArray, lg: FloatArray
) -> float:
    """Margin balance that puts a short of `pos` on leg i at `dist` from liquidation at mark m
    (entry = m): MM at P = m (1 + dist), bracket of the notional there, minus the PnL to P
    (`margin.wallet_for_liquidation_at`, Binance rules)."""
    cs, inverse = lg[i, C_CS], lg[i, C_INV] > 0.0
    price = m * (1.0 + dist)
    n = _notional(pos, price, cs, inverse)
    k, last = 0, int(lg[i, C_NTIER]) - 1
    while k < last and n >= tiers[i, k, T_CAP]:
        k += 1
    return _maintenance(n, tiers[i, k, T_MMR], tiers[i, k, T_CUM]) - _pnl(
        -pos, m, price, cs, inverse
    )


@_jit
def keep_margin(
    i: int, t: int, s: float, m: float, px: float, pvec: Params, ratio: float, lg: FloatArray,
    tiers: FloatArray, cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """The keeper's margin step at the close (`perphedge.hedge.keeper`, step 4): below
    `min_distance`, top up from cash to `target_distance`; what cash cannot cover comes from
    selling spot (the short reduced in step), or de-levering, or stays (an alert, counted);
    above `surplus_distance` (> 0), margin goes back to cash down to the target (not below N/L).
    """
    pos, inverse = lg[i, S_POS], lg[i, C_INV] > 0.0
    conv = m if inverse else 1.0
    w, target_d = lg[i, S_W], pvec[K_TARGET]
    if w < margin_at_distance(i, pos, m, pvec[K_MIN], tiers, lg):
        need = margin_at_distance(i, pos, m, target_d, tiers, lg) - w
        take = min(need, max(acct[AC_CASH], 0.0) / conv)
        if take > 0.0:
            acct[AC_CASH] -= take * conv
            lg[i, S_W] += take
            lg[i, A_TOPUP] += take * conv
            lg[i, S_POSTED] += take * conv
        if need - take > 1e-9 * max(1.0, need):
            shortfall(i, t, s, m, px, pvec, ratio, lg, tiers, cfg, acct)
    elif pvec[K_SURPLUS] > 0.0 and w > margin_at_distance(i, pos, m, pvec[K_SURPLUS], tiers, lg):
        keep = max(
            margin_at_distance(i, pos, m, target_d, tiers, lg),
            _notional(pos, m, lg[i, C_CS], inverse) / cfg[CF_LEV],
        )
        back = w - keep
        if back > 0.0:
            lg[i, S_W] = keep
            acct[AC_CASH] += back * conv
            lg[i, A_RETURNED] += back * conv
            lg[i, S_POSTED] = keep * conv  # the margin left in is what a liquidation takes


@_jit
def shortfall(
    i: int, t: int, s: float, m: float, px: float, pvec: Params, ratio: float, lg: FloatArray,
    tiers: FloatArray, cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """Cash is spent and leg i is still short of target_distance: sell spot (1), de-lever (2)
    or count an alert (0). Both solves bisect like the core keeper (100 halvings). Coins sold
    for a linear leg pay the spot fee out of the proceeds (an inverse leg moves the coin
    itself); `ratio` is the target ratio in force (the funding regime's)."""
    pos, coins, w, d = lg[i, S_POS], lg[i, S_HOLD], lg[i, S_W], pvec[K_TARGET]
    inverse, cs = lg[i, C_INV] > 0.0, lg[i, C_CS]
    conv = m if inverse else 1.0
    mode = int(pvec[K_SHORTFALL])
    if mode == 1 and coins > 0.0:
        per_coin = pos / coins
        net = s * (1.0 if inverse else 1.0 - cfg[CF_SPOTFEE]) / conv  # settle per coin sold
        lo, hi = 0.0, coins
        if w + hi * net - margin_at_distance(i, 0.0, m, d, tiers, lg) >= 0.0:
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                if w + mid * net >= margin_at_distance(
                    i, per_coin * (coins - mid), m, d, tiers, lg
                ):
                    hi = mid
                else:
                    lo = mid
        spot_fee = 0.0 if inverse else _fee(hi * s, cfg[CF_SPOTFEE])
        lg[i, S_HOLD] = coins - hi
        lg[i, S_W] += hi * net
        lg[i, A_SOLD] += hi
        lg[i, A_PROCEEDS] += hi * s
        lg[i, A_FEES] += spot_fee
        lg[i, A_SPOTFEE] += spot_fee
        new_pos = per_coin * (coins - hi)
        resize(
            i, t, s, m, px, _notional(new_pos, m, cs, inverse) * conv, ratio, True, lg, cfg, acct
        )
    elif mode == 2:
        lo, hi = 0.0, pos
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if margin_at_distance(i, mid, m, d, tiers, lg) <= w:
                lo = mid
            else:
                hi = mid
        resize(i, t, s, m, px, _notional(lo, m, cs, inverse) * conv, ratio, True, lg, cfg, acct)
    # still under min_distance: the live keeper would alert (here nothing more moves)
    if lg[i, S_POS] > 0.0 and lg[i, S_W] < margin_at_distance(
        i, lg[i, S_POS], m, pvec[K_MIN], tiers, lg
    ):
        lg[i, A_ALERTS] += 1.0


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def check_close(
    i: int, t: int, s: float, m: float, lg: FloatArray, tiers: FloatArray, cfg: FloatArray,
    acct: FloatArray,
) -> None:  # fmt: skip
    """The liquidation check of an open leg at the close mark m (top-up or liquidation)."""
    if lg[i, S_ALIVE] == 0.0:
        return
    cs, inverse = lg[i, C_CS], lg[i, C_INV] > 0.0
    notional = _notional(lg[i, S_POS], m, cs, inverse)
    if notional < lg[i, S_LO] or notional >= lg[i, S_HI]:
        retier(i, notional, tiers, lg)
    mm = _maintenance(notional, lg[i, S_MMR], lg[i, S_CUM])
    if lg[i, S_W] <= mm:
        liquidate_or_top_up(i, t, s, m, m, notional, mm, lg, cfg, acct)


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def leg_step(
    i: int, t: int, spot: FloatArray, perp: FloatArray, mark: FloatArray, highs: FloatArray,
    with_highs: bool, lg: FloatArray, tiers: FloatArray, code: int,
    pp: Params, cfg: FloatArray, acct: FloatArray,
    cols: IntArray, every: int,
) -> tuple[float, float]:  # fmt: skip
    """The full step of leg i at bar t (steps 1-4 of the module docstring), on one
    configuration's state `lg`, `cfg`, `acct`. Returns (the leg's holding and margin in USD at
    the close, funding booked in USD). `highs`: the mark highs, read only `with_highs`.

    Inlined where it is called: the single run and the batched kernel share it, so a policy or a
    rule is written once.
    """
    bpy = cfg[CF_BPY]
    funding_usd = 0.0
    k, j = cols[i, 0], cols[i, 1]
    s, m = spot[t, k], mark[t, j]
    inverse, cs, pos = lg[i, C_INV] > 0.0, lg[i, C_CS], lg[i, S_POS]
    event = lg[i, S_EVENT] > 0.0
    if (inverse or code == KEEPER) and t > 0:  # coins moved out of the holding, revalued
        lg[i, A_HPNL] += (lg[i, S_HOLD] - lg[i, C_QTY]) * (s - spot[t - 1, k])
    if pos > 0.0:  # only from t = 1: a hedge opens at the end of a bar
        mp = mark[t - 1, j]
        if not with_highs:
            vm, pnl = variation(pos, lg[i, S_W], mp, m, inverse, cs)
            lg[i, S_W] += vm
            if inverse:  # linear legs book -q * (m - m_ref) per segment instead
                lg[i, A_HPNL] += pnl
        else:  # the path through the high (docstring, a.-c.)
            hi = max(highs[t, j], mp, m)
            through_the_bar(i, t, s, m, mp, hi, lg[i, S_W], lg, tiers, cfg, acct)
        check_close(i, t, s, m, lg, tiers, cfg, acct)
        if event and lg[i, S_ALIVE] > 0.0:  # liquidated in the bar: no funding (step 3)
            funding_usd += apply_funding(i, m, lg)
            check_close(i, t, s, m, lg, tiers, cfg, acct)
    if event:
        lg[i, S_EVENT] = 0.0
    scale, switched = 1.0, False
    if code == KEEPER:
        scale, switched = funding_regime(i, t, pp, lg)
        if lg[i, S_ALIVE] == 0.0:
            reopen_due(i, t, pp[K_COOLDOWN], lg)
    if lg[i, S_ALIVE] > 0.0:
        if code <= 2 or code == KEEPER:  # the keeper opens a missing short at once
            ratio = pp[0] * scale
            force = t == 0 or (code == 2 and t % every == 0) or switched
            force = force or (code == KEEPER and lg[i, S_POS] == 0.0)
        else:
            ratio, force, lg[i, S_FLAG], lg[i, S_SWITCH], lg[i, S_VAR] = policy_target(
                code, t, s, spot[t - 1, k] if t > 0 else s, pp, bpy,
                lg[i, S_FLAG], lg[i, S_NEG], lg[i, S_UP], lg[i, S_SWITCH], lg[i, S_VAR],
            )  # fmt: skip
        # coins held: linear legs keep them in S_HOLD (only the keeper sells any)
        coins = lg[i, S_HOLD] + lg[i, S_W] if inverse else lg[i, S_HOLD]
        target = max(ratio * lg[i, C_BETA] * coins * s, 0.0)  # no coins left: close
        current = lg[i, S_POS] * cs if inverse else lg[i, S_POS] * m
        if current != target and (
            force or (pp[1] > 0.0 and abs(current - target) > pp[1] * target)
        ):
            resize(i, t, s, m, perp[t, j], target, ratio, code == KEEPER, lg, cfg, acct)
        if code == KEEPER and lg[i, S_POS] > 0.0:
            keep_margin(i, t, s, m, perp[t, j], pp, ratio, lg, tiers, cfg, acct)
    w = lg[i, S_W]
    return lg[i, S_HOLD] * s + (w * m if inverse else w), funding_usd


@_jit
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
    band = _band(pp[1])
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


@_jit
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


@_jit
def sampled(
    pos: float, w: float, notional: float, mmr: float, cum: float, hedge_usd: float
) -> tuple[float, float]:
    """(margin ratio MM / w, hedge notional in USD) of a leg; (NaN, 0) without a hedge."""
    if pos <= 0.0:
        return np.nan, 0.0
    mm = _maintenance(notional, mmr, cum)
    return (mm / w if w > 0.0 else np.inf), hedge_usd


@_jit
def read_once(spot: FloatArray, perp: FloatArray) -> float:
    """The memory floor: read every input price once (sum), nothing else."""
    total = 0.0
    for t in range(spot.shape[0]):
        for k in range(spot.shape[1]):
            total += spot[t, k]
        for j in range(perp.shape[1]):
            total += perp[t, j]
    return total


# The batched kernel: many configurations in one pass over the market arrays. Configurations that
# share the data, the legs and their contract kinds but differ in policy (code and parameters),
# hedge ratio, leverage, costs, top-up or starting cash (the reserve) run together: state per
# configuration (`lgb[L, N_LEG, C]`, `accts[C, 2]`) and, for each bar and leg, an inner loop over
# the configurations, so each price is read from memory once for all of them (the configuration
# is the last axis: that loop reads each state field as a contiguous row). Each configuration
# takes exactly the steps of `simulate`: the same `quiet_linear` and `leg_step`, inlined, so a
# policy or a rule is written once; legs are stepped in leg order, so cash moves in the same
# order. No per-bar curve is kept (C x T would not fit in memory): the equity at `rec_bars` (the
# metrics' period closes) and the maximum drawdown over every bar, tracked as it runs.
# It lives in this file because numba keys a cached function on its own source file only: a
# kernel elsewhere that inlines `leg_step` would keep running a stale copy after an edit here.


@_jit
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
            load_quiet(i, lgb[:, :, c], q, qw, c, codes[c] <= 2, _band(pvecs[c, 1]))
    q[:, Q_LO, :] = np.inf  # bar 0: every policy opens its hedges
    return every, q, qw


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _band(band: float) -> float:
    """The drift band as the quiet test takes it: inf without one."""
    return band if band > 0.0 else np.inf


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


@numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


@_jit
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
    """
    n_legs, n_cfg, n_bars = lgb.shape[0], lgb.shape[2], spot.shape[0]
    with_highs = mark_high is not None
    highs = mark if mark_high is None else mark_high
    every, q, qw = _prepare_batch(lgb, codes, pvecs)
    next_sched = every.copy()  # bar 0 is scheduled for every policy
    scheduling = np.any(codes == 2)
    held, eq, peak, low = np.zeros(n_cfg), np.empty(n_cfg), np.full(n_cfg, -np.inf), np.zeros(n_cfg)
    need = np.empty(n_cfg, dtype=np.bool_)
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
            eq_rec[:, r] = eq
            r += 1
        for c in range(n_cfg if scheduling else 0):  # Schedule: every `every` bars from bar 0
            if codes[c] == 2 and t + 1 == next_sched[c]:
                next_sched[c] += every[c]
                q[:, Q_LO, c] = np.inf  # all its legs take the full step at bar t + 1
    lgb[:, S_W, :] = qw
    for c in range(n_cfg):
        if peak[c] > 0.0:
            dd[c] = min(dd[c], low[c] / peak[c] - 1.0)
        for i in range(n_legs):
            if lgb[i, S_POS, c] > 0.0:
                close_segment(i, n_bars, spot[-1, cols[i, 0]], mark[-1, cols[i, 1]], lgb[:, :, c])
