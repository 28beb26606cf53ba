"""The numba engine: one pass over the bars, all path-dependent logic inside.

Model (the plain-Python `reference` module implements the same, line for line):

* Holdings: leg i holds `qty` coins valued at the spot close; they are never traded.
* Hedge: a short perpetual per leg, isolated margin `w` in the settle currency (USD for linear,
  coin for inverse; coin amounts are converted to USD at the bar's mark whenever they are booked
  or valued). Cash moves between the shared cash account and `w` at the mark.
* Each bar t, for each leg, in this order:
  1. Variation margin at the mark: linear `w += -q * (m_t - m_{t-1})`; inverse
     `w += -q * CS * (1/m_{t-1} - 1/m_t)` (coin).
  2. Funding, if the hedge's perpetual settles a rate at t (only positions open at the event
     pay or receive; a hedge opened at bar t is opened after step 4 and misses t's event):
     `w += funding_cash(-q, rate, m_t)` linear, `funding_cash(-q, rate, CS / m_t)` inverse —
     the core sign rule: positive rate, the short receives.
  3. Liquidation at the mark: notional N = q*m (linear, USD) or q*CS/m (inverse, coin);
     maintenance margin MM = N*MMR - cum of the bracket containing N. If w <= MM: with
     auto top-up, cash (only what is left, never borrowed) is moved to bring w back to N / L;
     if still w <= MM, the position is closed at the mark, the liquidation fee
     min(max(w, 0), N * liquidation_fee) is paid and the rest of w is forfeited (clearance; a
     negative w is absorbed by the insurance fund). The leg is not hedged again.
  4. Policy: a target ratio h (policy code + parameter vector, see `spec`); the target notional
     is h * beta * qty * spot (USD). If the policy asks (opening, schedule, band breach, regime
     switch), the short is re-sized to the target: fill at the perpetual price moved against
     the trade by the slippage, fee = |traded notional at the fill| * fee rate, both out of w;
     then w is re-set to N / L from cash (cash may go negative: `min_cash_usd` reports it).
* Equity = cash + sum(qty * spot + w converted at the mark); unhedged = initial cash +
  sum(qty * spot).
* Accounting per leg (USD): hedge P&L (variation margin, fill versus mark without slippage,
  revaluation of coin margin), funding, fees (exchange fees + slippage + liquidation fee),
  liquidation loss (forfeited margin beyond the fee). Exactly:
  equity - unhedged = sum(hedge P&L + funding - fees - liquidation loss).
  Basis P&L = hedge P&L + covered spot units * spot change, covered units = target notional /
  (beta * spot) fixed at each re-size: what the hedge did not offset.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from perphedge.funding import funding_cash

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_funding_cash = numba.njit(cache=True, inline="always")(funding_cash)

# leg constants lc[L, 7]
C_SPOT, C_HEDGE, C_QTY, C_BETA, C_INV, C_CS, C_NTIER = range(7)
# tier table rows tiers[L, NT, 4]
T_FLOOR, T_CAP, T_MMR, T_CUM = range(4)
# leg state st[L, 14]
(S_POS, S_W, S_MPREV, S_SPREV, S_COV, S_VAR, S_NEG, S_UP, S_FLAG, S_SWITCH, S_TIER, S_ALIVE,
 S_RATE, S_EVENT) = range(14)  # fmt: skip
N_STATE = 14
# per-leg accumulators acc[L, 9]
A_FUND, A_FEES, A_HPNL, A_BASIS, A_LIQ, A_TOPUP, A_TRADES, A_HBARS, A_LIQBAR = range(9)
N_ACC = 9
# config cfg[7]
CF_LEV, CF_FEE, CF_SLIP, CF_LIQFEE, CF_TOPUP, CF_BPY, CF_STRIDE = range(7)
# account acct[2]: cash, min cash
AC_CASH, AC_MIN = range(2)

_jit = numba.njit(cache=True, nogil=True, fastmath=False)


@_jit
def settle_notional(pos: float, m: float, inverse: bool, cs: float) -> float:
    """Notional in the settle currency: q*m (linear, USD) or q*CS/m (inverse, coin)."""
    return pos * cs / m if inverse else pos * m


@_jit
def maintenance(
    i: int, notional: float, tiers: FloatArray, lc: FloatArray, st: FloatArray
) -> float:
    """N*MMR - cum of the bracket containing N (the cached bracket index moves as N moves)."""
    k = int(st[i, S_TIER])
    last = int(lc[i, C_NTIER]) - 1
    while k < last and notional >= tiers[i, k, T_CAP]:
        k += 1
    while k > 0 and notional < tiers[i, k, T_FLOOR]:
        k -= 1
    st[i, S_TIER] = k
    mm: float = notional * tiers[i, k, T_MMR] - tiers[i, k, T_CUM]
    return mm


@_jit
def mark_events(
    t: int, e: int, ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lc: FloatArray, st: FloatArray, pp: FloatArray,
) -> int:  # fmt: skip
    """Flag the legs whose perpetual settles funding at bar t; count the funding runs."""
    while e < ev_bar.size and ev_bar[e] == t:
        rate = ev_rate[e]
        for i in range(lc.shape[0]):
            if int(lc[i, C_HEDGE]) == ev_col[e]:
                st[i, S_RATE] = rate
                st[i, S_EVENT] = 1.0
                if rate < 0.0:
                    st[i, S_NEG] += 1.0
                    st[i, S_UP] = 0.0
                elif rate > pp[3]:
                    st[i, S_UP] += 1.0
                    st[i, S_NEG] = 0.0
                else:
                    st[i, S_NEG] = 0.0
                    st[i, S_UP] = 0.0
        e += 1
    return e


@_jit
def liquidate_or_top_up(
    i: int, t: int, m: float, conv: float, lc: FloatArray, tiers: FloatArray,
    cfg: FloatArray, acct: FloatArray, st: FloatArray, acc: FloatArray,
) -> None:  # fmt: skip
    """Step 3: top up from cash if allowed, else liquidate when w <= maintenance margin."""
    notional = settle_notional(st[i, S_POS], m, lc[i, C_INV] > 0.0, lc[i, C_CS])
    mm = maintenance(i, notional, tiers, lc, st)
    if st[i, S_W] > mm:
        return
    if cfg[CF_TOPUP] > 0.0 and acct[AC_CASH] > 0.0:
        moved = min(acct[AC_CASH], (notional / cfg[CF_LEV] - st[i, S_W]) * conv)
        acct[AC_CASH] -= moved
        st[i, S_W] += moved / conv
        acc[i, A_TOPUP] += moved
        if st[i, S_W] > mm:
            return
    w = st[i, S_W]
    fee = min(max(w, 0.0), notional * cfg[CF_LIQFEE])
    acc[i, A_FEES] += fee * conv
    acc[i, A_LIQ] += (w - fee) * conv
    acc[i, A_LIQBAR] = t
    st[i, S_W] = 0.0
    st[i, S_POS] = 0.0
    st[i, S_ALIVE] = 0.0


@_jit
def carry(
    i: int, t: int, s: float, m: float, lc: FloatArray, tiers: FloatArray, cfg: FloatArray,
    acct: FloatArray, st: FloatArray, acc: FloatArray,
) -> float:  # fmt: skip
    """Steps 1-3 for an open hedge; returns the funding booked at this bar in USD."""
    pos = st[i, S_POS]
    w = st[i, S_W]
    mp = st[i, S_MPREV]
    if lc[i, C_INV] > 0.0:
        cs = lc[i, C_CS]
        vm = -pos * cs * (1.0 / mp - 1.0 / m)
        hedge_pnl = vm * m + w * (m - mp)
        per_size = cs / m
        conv = m
    else:
        vm = -pos * (m - mp)
        hedge_pnl = vm
        per_size = m
        conv = 1.0
    w += vm
    acc[i, A_HPNL] += hedge_pnl
    acc[i, A_BASIS] += hedge_pnl + st[i, S_COV] * (s - st[i, S_SPREV])
    funding_usd = 0.0
    if st[i, S_EVENT] > 0.0:
        cash = _funding_cash(-pos, st[i, S_RATE], per_size)
        w += cash
        funding_usd = cash * conv
        acc[i, A_FUND] += funding_usd
    st[i, S_W] = w
    liquidate_or_top_up(i, t, m, conv, lc, tiers, cfg, acct, st, acc)
    return funding_usd


@_jit
def target_ratio(
    i: int, t: int, s: float, code: int, pp: FloatArray, cfg: FloatArray, st: FloatArray
) -> tuple[float, bool]:
    """Step 4's policy: (target ratio, whether to re-size regardless of the band)."""
    if code == 0:  # StaticRatio
        return pp[0], t == 0
    if code == 1:  # DriftBand
        return pp[0], t == 0
    if code == 2:  # Schedule
        return pp[0], t % int(pp[2]) == 0
    if code == 3:  # FundingAware: S_FLAG = 1 while reduced
        run = st[i, S_UP] if st[i, S_FLAG] == 1.0 else st[i, S_NEG]
        switch = t - st[i, S_SWITCH] >= pp[4] and run >= pp[2]
        if switch:
            st[i, S_FLAG] = 1.0 - st[i, S_FLAG]
            st[i, S_SWITCH] = t
        return (pp[5] if st[i, S_FLAG] == 1.0 else pp[0]), switch or t == 0
    # VolTriggered: EWMA of squared returns, S_FLAG = 1 while volatility is high
    if t > 0:
        r = s / st[i, S_SPREV] - 1.0
        alpha = 2.0 / (pp[2] + 1.0)
        st[i, S_VAR] = alpha * r * r + (1.0 - alpha) * st[i, S_VAR]
    high = t < pp[2] or st[i, S_VAR] * cfg[CF_BPY] > pp[3] * pp[3]
    flag = 1.0 if high else 0.0
    switch = flag != st[i, S_FLAG]
    st[i, S_FLAG] = flag
    return (pp[0] if high else pp[4]), switch or t == 0


@_jit
def resize(
    i: int, s: float, m: float, px: float, target_usd: float, lc: FloatArray, cfg: FloatArray,
    acct: FloatArray, st: FloatArray, acc: FloatArray,
) -> None:  # fmt: skip
    """Re-size leg i's short to `target_usd` of notional, pay costs, re-margin to N / L."""
    inverse = lc[i, C_INV] > 0.0
    cs = lc[i, C_CS]
    new_pos = target_usd / cs if inverse else target_usd / m
    dq = new_pos - st[i, S_POS]  # > 0: sell (the short grows)
    fill = px * (1.0 - cfg[CF_SLIP]) if dq > 0.0 else px * (1.0 + cfg[CF_SLIP])
    if inverse:
        conv = m
        gain = dq * cs * (1.0 / m - 1.0 / fill)
        gain0 = dq * cs * (1.0 / m - 1.0 / px)
        fee = abs(dq) * cs / fill * cfg[CF_FEE]
    else:
        conv = 1.0
        gain = dq * (fill - m)
        gain0 = dq * (px - m)
        fee = abs(dq) * fill * cfg[CF_FEE]
    w = st[i, S_W] + gain - fee
    acc[i, A_HPNL] += gain0 * conv
    acc[i, A_BASIS] += gain0 * conv
    acc[i, A_FEES] += (fee + gain0 - gain) * conv
    margin = settle_notional(new_pos, m, inverse, cs) / cfg[CF_LEV]
    acct[AC_CASH] -= (margin - w) * conv
    acct[AC_MIN] = min(acct[AC_MIN], acct[AC_CASH])
    st[i, S_W] = margin
    st[i, S_POS] = new_pos
    st[i, S_COV] = target_usd / (lc[i, C_BETA] * s)
    acc[i, A_TRADES] += 1.0


@_jit
def policy_step(
    i: int, t: int, s: float, m: float, px: float, lc: FloatArray, code: int, pp: FloatArray,
    cfg: FloatArray, acct: FloatArray, st: FloatArray, acc: FloatArray,
) -> None:  # fmt: skip
    """Step 4: ask the policy for a target; re-size when forced or out of the band."""
    ratio, force = target_ratio(i, t, s, code, pp, cfg, st)
    target_usd = ratio * lc[i, C_BETA] * lc[i, C_QTY] * s
    pos = st[i, S_POS]
    current_usd = pos * lc[i, C_CS] if lc[i, C_INV] > 0.0 else pos * m
    if current_usd == target_usd:
        return
    if force or (pp[1] > 0.0 and abs(current_usd - target_usd) > pp[1] * target_usd):
        resize(i, s, m, px, target_usd, lc, cfg, acct, st, acc)


@_jit
def sample(
    r: int, i: int, m: float, lc: FloatArray, tiers: FloatArray, st: FloatArray,
    margin_ratio: FloatArray, hedge_usd: FloatArray,
) -> None:  # fmt: skip
    """Record leg i's margin ratio (MM / w) and hedge notional (USD) in sample row r."""
    pos = st[i, S_POS]
    if pos <= 0.0:
        margin_ratio[r, i] = np.nan
        hedge_usd[r, i] = 0.0
        return
    inverse = lc[i, C_INV] > 0.0
    mm = maintenance(i, settle_notional(pos, m, inverse, lc[i, C_CS]), tiers, lc, st)
    w = st[i, S_W]
    margin_ratio[r, i] = mm / w if w > 0.0 else np.inf
    hedge_usd[r, i] = pos * lc[i, C_CS] if inverse else pos * m


@_jit
def simulate(
    spot: FloatArray, perp: FloatArray, mark: FloatArray,
    ev_bar: IntArray, ev_col: IntArray, ev_rate: FloatArray,
    lc: FloatArray, tiers: FloatArray, code: int, pp: FloatArray, cfg: FloatArray,
    acct: FloatArray, st: FloatArray, acc: FloatArray,
    equity: FloatArray, unhedged: FloatArray, funding_cum: FloatArray,
    margin_ratio: FloatArray, hedge_usd: FloatArray,
) -> None:  # fmt: skip
    """Run the model over all bars; fills the output arrays, `acct`, `st` and `acc` in place.

    `st` must start with S_ALIVE = 1, S_SWITCH = -inf, everything else 0.
    """
    n_legs = lc.shape[0]
    stride = int(cfg[CF_STRIDE])
    cash0 = acct[AC_CASH]
    e = 0
    funding_total = 0.0
    for i in range(n_legs):
        st[i, S_MPREV] = mark[0, int(lc[i, C_HEDGE])]
        st[i, S_SPREV] = spot[0, int(lc[i, C_SPOT])]
    for t in range(spot.shape[0]):
        e = mark_events(t, e, ev_bar, ev_col, ev_rate, lc, st, pp)
        held = 0.0
        base = 0.0
        for i in range(n_legs):
            s = spot[t, int(lc[i, C_SPOT])]
            j = int(lc[i, C_HEDGE])
            m = mark[t, j]
            if st[i, S_POS] > 0.0:
                funding_total += carry(i, t, s, m, lc, tiers, cfg, acct, st, acc)
            st[i, S_EVENT] = 0.0
            if st[i, S_ALIVE] > 0.0:
                policy_step(i, t, s, m, perp[t, j], lc, code, pp, cfg, acct, st, acc)
            st[i, S_MPREV] = m
            st[i, S_SPREV] = s
            value = lc[i, C_QTY] * s
            base += value
            held += value + (st[i, S_W] * m if lc[i, C_INV] > 0.0 else st[i, S_W])
            if st[i, S_POS] > 0.0:
                acc[i, A_HBARS] += 1.0
            if t % stride == 0:
                sample(t // stride, i, m, lc, tiers, st, margin_ratio, hedge_usd)
        equity[t] = acct[AC_CASH] + held
        unhedged[t] = cash0 + base
        funding_cum[t] = funding_total


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
