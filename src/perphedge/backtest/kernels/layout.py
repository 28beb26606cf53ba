"""The kernels' plain arrays: one row per leg of constants, state and accumulators, the tier
table, the config row, the account, the quiet state. The column constants name every slot."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

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
