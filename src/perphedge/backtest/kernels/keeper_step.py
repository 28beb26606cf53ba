"""The keeper in the kernels: its funding regime, re-opening, and its margin step (top-ups,
surplus returned, spot sold or de-levering)."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import (
    _fee,
    _funding_switch,
    _maintenance,
    _notional,
    _pnl,
    _trailing_cost,
    jit,
)
from perphedge.backtest.kernels.layout import (
    A_ALERTS,
    A_FEES,
    A_FSWITCH,
    A_LIQBAR,
    A_PROCEEDS,
    A_REOPEN,
    A_RETURNED,
    A_SOLD,
    A_SPOTFEE,
    A_TOPUP,
    AC_CASH,
    C_CS,
    C_FINT,
    C_HEDGE,
    C_INV,
    C_NTIER,
    CF_LEV,
    CF_SPOTFEE,
    K_FHOLD,
    K_FHYST,
    K_FLIMIT,
    K_FSCALE,
    K_MIN,
    K_SHORTFALL,
    K_SURPLUS,
    K_TARGET,
    S_ALIVE,
    S_EVENT,
    S_FCOST,
    S_FLAST,
    S_FPTR,
    S_FRED,
    S_HOLD,
    S_POS,
    S_POSTED,
    S_W,
    T_CAP,
    T_CUM,
    T_MMR,
    FloatArray,
    IntArray,
    Params,
)
from perphedge.backtest.kernels.resize import resize


@jit
def reopen_due(i: int, t: int, cooldown_bars: float, lg: FloatArray) -> None:
    """Keeper: bring a liquidated leg back to life once the cooldown has passed (re-open is off
    when `cooldown_bars` < 0); step 4 then opens it at the target."""
    if cooldown_bars >= 0.0 and t - lg[i, A_LIQBAR] >= cooldown_bars:
        lg[i, S_ALIVE] = 1.0
        lg[i, A_REOPEN] += 1.0


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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
