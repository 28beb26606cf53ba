"""The margin check: brackets, the liquidation price inside a bar, top-up or liquidation."""

from __future__ import annotations

import numpy as np

from perphedge.backtest.kernels.formulas import _fee, _maintenance, _notional, _pnl, jit, jit_inline
from perphedge.backtest.kernels.layout import (
    A_FEES,
    A_HPNL,
    A_LIQ,
    A_LIQBAR,
    A_LOST,
    A_NLIQ,
    A_TOPUP,
    AC_CASH,
    C_CS,
    C_INV,
    C_NTIER,
    CF_LEV,
    CF_LIQFEE,
    CF_TOPUP,
    S_ALIVE,
    S_CUM,
    S_HI,
    S_LO,
    S_MMR,
    S_POS,
    S_POSTED,
    S_TIER,
    S_W,
    T_CAP,
    T_CUM,
    T_FLOOR,
    T_MMR,
    FloatArray,
)
from perphedge.backtest.kernels.resize import close_segment


@jit
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


@jit
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


@jit_inline
def bar_marks(mp: float, m: float, high: float) -> tuple[float, float]:
    """The lowest and the highest mark of a bar taken to move from the previous close mp
    through its high to the close m (the high H = max(mark high, mp, m) of the module's step b.)."""
    return min(mp, m), max(high, mp, m)


@jit
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


@jit
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


@jit
def variation(
    pos: float, w: float, mp: float, m: float, inverse: bool, cs: float
) -> tuple[float, float]:
    """Step 1: (variation margin in the settle currency, hedge P&L in USD incl. coin revaluation)."""
    vm = _pnl(-pos, mp, m, cs, inverse)
    return (vm, vm * m + w * (m - mp)) if inverse else (vm, vm)


@jit_inline
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
