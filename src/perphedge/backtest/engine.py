"""`run_backtest(spec, data) -> BacktestResult`: the front of the numba engine.

Flattens the frozen spec into plain arrays (`flatten`), runs `kernels.simulate`, wraps the arrays
in a BacktestResult. The model is described in `perphedge.backtest.kernels`; the plain-Python
`perphedge.backtest.reference` implements the same and is tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perphedge.backtest import kernels as kn
from perphedge.backtest.policies import policy_vector
from perphedge.backtest.result import BacktestResult
from perphedge.backtest.spec import BacktestSpec, MarketArrays
from perphedge.errors import InputError
from perphedge.instruments import ContractKind
from perphedge.metrics import DAYS_PER_YEAR, MS_PER_DAY

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FlatSpec:
    """The spec as the kernel's arrays (see the column constants in `kernels`)."""

    legs: FloatArray  # [L, N_LEG]: constants filled, state and accumulators at their start
    tiers: FloatArray  # [L, NT, 4]
    code: int
    params: FloatArray  # [N_POLICY_PARAMS]
    config: FloatArray  # [8]


def bars_per_year(times_ms: npt.NDArray[np.int64]) -> float:
    """Bars in a 365-day year at the median bar length of the first 100,000 bars."""
    step_ms = float(np.median(np.diff(times_ms[:100_001])))
    return DAYS_PER_YEAR * MS_PER_DAY / step_ms


def _check_leverage(spec: BacktestSpec, data: MarketArrays) -> None:
    """Refuse a leverage above a leg's bracket maximum at its initial target notional."""
    ratio = spec.policy.params()[0]
    for i, leg in enumerate(spec.legs):
        target_usd = ratio * leg.beta * leg.qty_base * float(data.spot[0, leg.spot_col])
        mark0 = float(data.mark[0, leg.hedge_col])
        settle = target_usd / mark0 if leg.kind is ContractKind.INVERSE else target_usd
        cap = leg.tiers.max_leverage_for(settle)
        if spec.leverage > cap:
            raise InputError(
                "leverage", spec.leverage, f"leg {i} allows at most {cap:g}x at its notional"
            )


def flatten(spec: BacktestSpec, data: MarketArrays, bpy: float | None = None) -> FlatSpec:
    """Validate `spec` against `data` and turn it into the kernel's plain arrays (`bpy`: the
    data's `bars_per_year`, when the caller has it already)."""
    spec.check_against(data)
    _check_leverage(spec, data)
    n_tiers = max(len(leg.tiers.tiers) for leg in spec.legs)
    legs = np.zeros((len(spec.legs), kn.N_LEG))
    tiers = np.zeros((len(spec.legs), n_tiers, 4))
    for i, leg in enumerate(spec.legs):
        inverse = leg.kind is ContractKind.INVERSE
        legs[i, : kn.C_NTIER + 1] = (
            leg.spot_col,
            leg.hedge_col,
            leg.qty_base,
            leg.beta,
            1.0 if inverse else 0.0,
            leg.contract_size,
            len(leg.tiers.tiers),
        )
        for k, tier in enumerate(leg.tiers.tiers):
            tiers[i, k] = (tier.floor, tier.cap, tier.mmr, tier.cum)
    legs[:, kn.S_HOLD] = legs[:, kn.C_QTY]
    legs[:, kn.S_ALIVE] = 1.0
    legs[:, kn.S_SWITCH] = -np.inf
    legs[:, kn.S_FLAST] = -np.inf
    legs[:, kn.C_FINT] = [leg.funding_interval_hours for leg in spec.legs]
    legs[:, kn.A_LIQBAR] = -1.0
    costs = spec.costs
    config = np.array(  # float64: every entry is cast
        [
            spec.leverage,
            costs.trade_fee,
            costs.slippage,
            costs.liquidation_fee,
            1.0 if spec.auto_top_up else 0.0,
            bars_per_year(data.times_ms) if bpy is None else bpy,
            spec.record.stride(data.n_bars),
            costs.spot_taker_fee,
        ]
    )
    return FlatSpec(legs, tiers, spec.policy.code, policy_vector(spec.policy), config)


def run_backtest(spec: BacktestSpec, data: MarketArrays) -> BacktestResult:
    """Simulate `spec` over `data` with the compiled kernel."""
    flat = flatten(spec, data)
    n_bars, n_legs = data.n_bars, len(spec.legs)
    stride = int(flat.config[kn.CF_STRIDE])
    n_samples = (n_bars - 1) // stride + 1
    acct = np.full(2, float(spec.initial_cash_usd), dtype=np.float64)
    lg = flat.legs
    curves = np.empty((2, n_bars))
    funding_bars = np.unique(data.funding_bar)
    funding_at = np.empty(funding_bars.size)
    samples = np.empty((n_samples, n_legs, 2))
    cols = np.array([(leg.spot_col, leg.hedge_col) for leg in spec.legs], dtype=np.int64)
    # the kernel reads the price arrays flat, in C order (a copy only of arrays in another order)
    spot, perp = np.ascontiguousarray(data.spot), np.ascontiguousarray(data.perp)
    mark = perp if data.mark is data.perp else np.ascontiguousarray(data.mark)
    high = None if data.mark_high is None else np.ascontiguousarray(data.mark_high)
    kn.simulate(
        spot, perp, mark, data.funding_bar, data.funding_col, data.rate_per_interval,
        lg, flat.tiers, flat.code, flat.params, flat.config, acct, curves, funding_at, samples,
        cols, high,
    )  # fmt: skip
    return BacktestResult(
        spec=spec,
        times_ms=data.times_ms,
        equity_usd=curves[0],
        equity_unhedged_usd=curves[1],
        funding_bars=funding_bars,
        funding_at_usd=funding_at,
        sample_bars=np.arange(0, n_bars, stride, dtype=np.int64),
        margin_ratio=samples[:, :, 0],
        hedge_notional_usd=samples[:, :, 1],
        leg_funding_usd=lg[:, kn.A_FUND].copy(),
        leg_fees_usd=lg[:, kn.A_FEES].copy(),
        leg_hedge_pnl_usd=lg[:, kn.A_HPNL].copy(),
        leg_basis_usd=lg[:, kn.A_HPNL] + lg[:, kn.A_COVERED],
        leg_liquidation_loss_usd=lg[:, kn.A_LIQ].copy(),
        leg_top_up_usd=lg[:, kn.A_TOPUP].copy(),
        leg_trades=lg[:, kn.A_TRADES].astype(np.int64),
        leg_hedged_bars=lg[:, kn.A_HBARS].astype(np.int64),
        leg_liquidation_bar=lg[:, kn.A_LIQBAR].astype(np.int64),
        min_cash_usd=float(acct[kn.AC_MIN]),
        final_cash_usd=float(acct[kn.AC_CASH]),
        leg_liquidations=lg[:, kn.A_NLIQ].astype(np.int64),
        leg_margin_lost_usd=lg[:, kn.A_LOST].copy(),
        leg_spot_sold=lg[:, kn.A_SOLD].copy(),
        leg_spot_proceeds_usd=lg[:, kn.A_PROCEEDS].copy(),
        leg_reopens=lg[:, kn.A_REOPEN].astype(np.int64),
        leg_margin_returned_usd=lg[:, kn.A_RETURNED].copy(),
        leg_alert_bars=lg[:, kn.A_ALERTS].astype(np.int64),
        leg_spot_fees_usd=lg[:, kn.A_SPOTFEE].copy(),
        leg_funding_switches=lg[:, kn.A_FSWITCH].astype(np.int64),
    )
