"""One leg's full step (steps 1-4 of the model), shared by the single and batched kernels."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import jit_inline
from perphedge.backtest.kernels.funding_events import apply_funding
from perphedge.backtest.kernels.keeper_step import funding_regime, keep_margin, reopen_due
from perphedge.backtest.kernels.layout import (
    A_HPNL,
    C_BETA,
    C_CS,
    C_INV,
    C_QTY,
    CF_BPY,
    K_COOLDOWN,
    KEEPER,
    S_ALIVE,
    S_EVENT,
    S_FLAG,
    S_HOLD,
    S_NEG,
    S_POS,
    S_SWITCH,
    S_UP,
    S_VAR,
    S_W,
    FloatArray,
    IntArray,
    Params,
)
from perphedge.backtest.kernels.liquidation import (
    bar_marks,
    check_close,
    through_the_bar,
    variation,
)
from perphedge.backtest.kernels.policy import policy_target
from perphedge.backtest.kernels.resize import resize


@jit_inline
def resize_due(current: float, target: float, force: bool, band: float) -> bool:
    """Step 4's rule: re-size a short of `current` USD to `target` when forced, or when a band
    (> 0) is set and the short drifted more than band x target."""
    return current != target and (force or (band > 0.0 and abs(current - target) > band * target))


@jit_inline
def band_step(
    i: int, t: int, s: float, m: float, px: float, ratio: float, band: float, lg: FloatArray,
    cfg: FloatArray, acct: FloatArray,
) -> None:  # fmt: skip
    """The full step of a linear short under a static, band or schedule policy at a bar without
    its funding event or schedule, when its marks stayed above maintenance and inside its
    bracket (so steps 1-3 only moved its margin, already in S_W at the close m): step 4's band
    re-size, if due."""
    target = max(ratio * lg[i, C_BETA] * lg[i, S_HOLD] * s, 0.0)
    if resize_due(lg[i, S_POS] * m, target, False, band):
        resize(i, t, s, m, px, target, ratio, False, lg, cfg, acct)


@jit_inline
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
            hi = bar_marks(mp, m, highs[t, j])[1]
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
        if resize_due(current, target, force, pp[1]):
            resize(i, t, s, m, perp[t, j], target, ratio, code == KEEPER, lg, cfg, acct)
        if code == KEEPER and lg[i, S_POS] > 0.0:
            keep_margin(i, t, s, m, perp[t, j], pp, ratio, lg, tiers, cfg, acct)
    w = lg[i, S_W]
    return lg[i, S_HOLD] * s + (w * m if inverse else w), funding_usd
