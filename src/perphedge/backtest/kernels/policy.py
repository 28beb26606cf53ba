"""Step 4's policies on scalars: the target ratio and whether to re-size now."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import jit
from perphedge.backtest.kernels.layout import Params


@jit
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
