"""Re-sizing a short: the fill, the fee, the margin re-set, the per-segment bookkeeping."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import _fee, _notional, _pnl, jit
from perphedge.backtest.kernels.layout import (
    A_COVERED,
    A_FEES,
    A_HBARS,
    A_HPNL,
    A_TRADES,
    AC_CASH,
    C_CS,
    C_INV,
    C_QTY,
    CF_FEE,
    CF_LEV,
    CF_SLIP,
    S_COV,
    S_HOLD,
    S_MREF,
    S_OPEN,
    S_POS,
    S_POSTED,
    S_SREF,
    S_W,
    FloatArray,
)


@jit
def close_segment(i: int, t: int, s: float, m: float, lg: FloatArray) -> None:
    """Book what accrued since the last re-size of an open hedge, at spot s and mark m:
    covered spot P&L, hedged bars and (linear legs) the variation margin -q * (m - m_ref)."""
    if lg[i, C_INV] == 0.0:
        lg[i, A_HPNL] += _pnl(-lg[i, S_POS], lg[i, S_MREF], m, 1.0, False)
    lg[i, A_COVERED] += lg[i, S_COV] * (s - lg[i, S_SREF])
    lg[i, A_HBARS] += t - lg[i, S_OPEN]
    lg[i, S_COV] = 0.0


@jit
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


@jit
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
