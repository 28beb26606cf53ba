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

A leg's full step does nothing but move its margin at most bars. Both entry points skip it
there, on the same conditions: `quiet` (the batched kernel's common step, per configuration)
and `rest` (the single run's box of marks per leg, fixed at its full step, and `quiet_run`,
which books runs of bars where every leg rests at once; between its full steps a linear
short's margin is w_ref - q * (m - m_ref), the exchange's wallet plus unrealised P&L).

The kernels live in small modules: `leg` (one leg's full step) built from `liquidation`,
`funding_events`, `policy`, `resize` and `keeper_step`; `quiet` and `rest`; `sampling` (the
margin-ratio samples); the entry points `single.simulate` and `batch.simulate_batch`; `layout`
names the arrays' slots and `formulas` compiles the core's formulas. numba keys a compiled
kernel on its own file only, while the kernels carry code from their sibling modules (and from
margin.py, funding.py and hedge/keeper.py): `cache` drops the cached kernels when any of those
files changed, so an edit or an upgrade compiles them afresh.
"""

from __future__ import annotations

from perphedge.backtest.kernels.batch import simulate_batch
from perphedge.backtest.kernels.cache import cache_dir_of, drop_stale, sources_digest
from perphedge.backtest.kernels.floor import read_once
from perphedge.backtest.kernels.layout import (
    A_ALERTS,
    A_COVERED,
    A_FEES,
    A_FSWITCH,
    A_FUND,
    A_HBARS,
    A_HPNL,
    A_LIQ,
    A_LIQBAR,
    A_LOST,
    A_NLIQ,
    A_PROCEEDS,
    A_REOPEN,
    A_RETURNED,
    A_SOLD,
    A_SPOTFEE,
    A_TOPUP,
    A_TRADES,
    AC_CASH,
    AC_MIN,
    C_BETA,
    C_CS,
    C_FINT,
    C_HEDGE,
    C_INV,
    C_NTIER,
    C_QTY,
    C_SPOT,
    CF_BPY,
    CF_FEE,
    CF_LEV,
    CF_LIQFEE,
    CF_SLIP,
    CF_SPOTFEE,
    CF_STRIDE,
    CF_TOPUP,
    D_PER_SPOT,
    K_COOLDOWN,
    K_FHOLD,
    K_FHYST,
    K_FLIMIT,
    K_FSCALE,
    K_FWINDOW,
    K_MIN,
    K_SHORTFALL,
    K_SURPLUS,
    K_TARGET,
    KEEPER,
    N_LEG,
    N_Q,
    Q_BAND,
    Q_CUM,
    Q_HI,
    Q_LO,
    Q_MMR,
    Q_POS,
    Q_SPOT,
    S_ALIVE,
    S_COV,
    S_CUM,
    S_EVENT,
    S_FCOST,
    S_FLAG,
    S_FLAST,
    S_FPTR,
    S_FRED,
    S_HI,
    S_HOLD,
    S_LO,
    S_MMR,
    S_MREF,
    S_NEG,
    S_OPEN,
    S_POS,
    S_POSTED,
    S_RATE,
    S_SREF,
    S_SWITCH,
    S_TIER,
    S_UP,
    S_VAR,
    S_W,
    T_CAP,
    T_CUM,
    T_FLOOR,
    T_MMR,
)
from perphedge.backtest.kernels.single import simulate

drop_stale(cache_dir_of(simulate), sources_digest())  # before any kernel is loaded from it

__all__ = [
    "AC_CASH",
    "AC_MIN",
    "A_ALERTS",
    "A_COVERED",
    "A_FEES",
    "A_FSWITCH",
    "A_FUND",
    "A_HBARS",
    "A_HPNL",
    "A_LIQ",
    "A_LIQBAR",
    "A_LOST",
    "A_NLIQ",
    "A_PROCEEDS",
    "A_REOPEN",
    "A_RETURNED",
    "A_SOLD",
    "A_SPOTFEE",
    "A_TOPUP",
    "A_TRADES",
    "CF_BPY",
    "CF_FEE",
    "CF_LEV",
    "CF_LIQFEE",
    "CF_SLIP",
    "CF_SPOTFEE",
    "CF_STRIDE",
    "CF_TOPUP",
    "C_BETA",
    "C_CS",
    "C_FINT",
    "C_HEDGE",
    "C_INV",
    "C_NTIER",
    "C_QTY",
    "C_SPOT",
    "D_PER_SPOT",
    "KEEPER",
    "K_COOLDOWN",
    "K_FHOLD",
    "K_FHYST",
    "K_FLIMIT",
    "K_FSCALE",
    "K_FWINDOW",
    "K_MIN",
    "K_SHORTFALL",
    "K_SURPLUS",
    "K_TARGET",
    "N_LEG",
    "N_Q",
    "Q_BAND",
    "Q_CUM",
    "Q_HI",
    "Q_LO",
    "Q_MMR",
    "Q_POS",
    "Q_SPOT",
    "S_ALIVE",
    "S_COV",
    "S_CUM",
    "S_EVENT",
    "S_FCOST",
    "S_FLAG",
    "S_FLAST",
    "S_FPTR",
    "S_FRED",
    "S_HI",
    "S_HOLD",
    "S_LO",
    "S_MMR",
    "S_MREF",
    "S_NEG",
    "S_OPEN",
    "S_POS",
    "S_POSTED",
    "S_RATE",
    "S_SREF",
    "S_SWITCH",
    "S_TIER",
    "S_UP",
    "S_VAR",
    "S_W",
    "T_CAP",
    "T_CUM",
    "T_FLOOR",
    "T_MMR",
    "read_once",
    "simulate",
    "simulate_batch",
]
