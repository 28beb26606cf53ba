"""Small backtests computed by hand (arithmetic in the comments), run through the engine and the
plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perphedge.backtest import (
    BacktestResult,
    BacktestSpec,
    Costs,
    DriftBand,
    FundingAware,
    HedgeLeg,
    MarketArrays,
    Schedule,
    StaticRatio,
    VolTriggered,
    run_backtest,
)
from perphedge.backtest.reference import simulate_reference
from perphedge.instruments import ContractKind, TierTable
from perphedge.tier_tables import bundled

T0 = 1_700_000_000_000
NO_COSTS = Costs(maker_fee=0.0, taker_fee=0.0, slippage_bp=0.0, liquidation_fee=0.0)


def market(
    spot: list[float],
    perp: list[float] | None = None,
    mark: list[float] | None = None,
    funding: dict[int, float] | None = None,
) -> MarketArrays:
    """One spot and one perpetual column; `funding` maps bar -> rate."""
    n = len(spot)
    s = np.array(spot, dtype=np.float64).reshape(n, 1)
    p = s if perp is None else np.array(perp, dtype=np.float64).reshape(n, 1)
    m = p if mark is None else np.array(mark, dtype=np.float64).reshape(n, 1)
    events = sorted((funding or {}).items())
    return MarketArrays(
        np.arange(n, dtype=np.int64) * 60_000 + T0,
        s,
        p,
        m,
        np.array([b for b, _ in events], dtype=np.int64),
        np.zeros(len(events), dtype=np.int64),
        np.array([r for _, r in events], dtype=np.float64),
        ("BTC",),
        ("BTCUSDT",),
    )


def run_both(spec: BacktestSpec, data: MarketArrays) -> BacktestResult:
    """Run the engine, check the reference gives the same equity, return the engine's result."""
    result = run_backtest(spec, data)
    ref = simulate_reference(spec, data)
    np.testing.assert_allclose(result.equity_usd, ref["equity"], rtol=1e-12)
    np.testing.assert_allclose(result.leg_hedge_pnl_usd, ref["hedge_pnl"], rtol=1e-9, atol=1e-9)
    return result


def test_linear_short_with_fees_slippage_mark_and_funding() -> None:
    data = market(
        spot=[100.0, 110.0, 105.0],
        perp=[100.5, 110.4, 105.2],
        mark=[100.2, 110.1, 105.1],
        funding={2: 0.0002},
    )
    costs = Costs(taker_fee=0.001, slippage_bp=10.0, liquidation_fee=0.01)
    spec = BacktestSpec(
        (HedgeLeg(2.0, 0, 0, tiers=TierTable.flat(0.005)),),
        StaticRatio(1.0),
        initial_cash_usd=1_000.0,
        leverage=2.0,
        costs=costs,
    )
    r = run_both(spec, data)
    # bar 0: target 1 x 2 BTC x 100 = 200 USD -> q = 200 / mark 100.2 BTC, sold at
    # 100.5 x (1 - 0.001) = 100.3995; the fill beats the mark by 0.1995 per BTC
    q = 200.0 / 100.2
    fill = 100.5 * (1 - 0.001)
    fee = q * fill * 0.001
    w0 = q * (fill - 100.2) - fee  # margin after the fill, before re-margining
    cash = 1_000.0 - (q * 100.2 / 2.0 - w0)  # margin re-set to N / L = 100
    w1 = 100.0 - q * (110.1 - 100.2)  # bar 1: variation margin at the mark
    funding = q * 105.1 * 0.0002  # bar 2: positive rate, the short receives mark x q x rate
    w2 = w1 - q * (105.1 - 110.1) + funding
    assert r.equity_usd == pytest.approx([cash + 200.0 + 100.0, cash + 220.0 + w1, cash + 210 + w2])
    assert r.equity_unhedged_usd.tolist() == [1_200.0, 1_220.0, 1_210.0]
    assert r.funding_pnl == pytest.approx(funding)
    # fees = exchange fee + slippage (q x 100.5 x 10 bp)
    assert r.fees == pytest.approx(fee + q * 100.5 * 0.001)
    # hedge P&L = fill at the perpetual against the mark (0.3 per BTC) + variation margin
    assert r.hedge_pnl == pytest.approx(q * 0.3 - q * (105.1 - 100.2))
    # basis = hedge P&L + covered 2 BTC x (105 - 100)
    assert r.basis_pnl == pytest.approx(q * 0.3 - q * (105.1 - 100.2) + 2.0 * 5.0)
    assert r.trades == 1
    assert r.share_hedged == 1.0
    # margin ratio = 0.5 % x q x mark / margin
    assert r.margin_ratio[:, 0] == pytest.approx(
        [0.005 * q * 100.2 / 100.0, 0.005 * q * 110.1 / w1, 0.005 * q * 105.1 / w2]
    )


def _liquidation_spec(cash: float, top_up: bool) -> BacktestSpec:
    return BacktestSpec(
        (HedgeLeg(1.0, 0, 0, tiers=TierTable.flat(0.05)),),
        DriftBand(1.0, 0.05),
        initial_cash_usd=cash,
        leverage=2.0,
        costs=Costs(0.0, 0.0, 0.0, liquidation_fee=0.02),
        auto_top_up=top_up,
    )


def test_liquidation_charges_the_fee_forfeits_the_rest_and_ends_the_hedge() -> None:
    data = market([100.0, 100.0, 145.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=False), data)
    # bar 0: short 1 BTC, margin 100 / 2 = 50 from cash -> cash 950
    # bar 2: margin 50 - (145 - 100) = 5 <= maintenance 145 x 5 % = 7.25 -> liquidated:
    # fee min(5, 145 x 2 % = 2.9) = 2.9, the remaining 2.1 forfeited
    assert r.liquidations == 1
    assert r.liquidated_legs == (0,)
    assert r.liquidation_times_ms == (T0 + 2 * 60_000,)
    assert r.fees == pytest.approx(2.9)
    assert r.liquidation_loss == pytest.approx(2.1)
    assert r.hedge_pnl == pytest.approx(-45.0)
    # the hedge is gone: bar 3 is unhedged although the band is breached
    assert r.equity_usd.tolist() == pytest.approx([1_100.0, 1_100.0, 1_095.0, 1_050.0])
    assert r.trades == 1
    assert r.share_hedged == 0.5  # hedged at the close of bars 0 and 1 out of 4
    assert r.margin_ratio[1, 0] == pytest.approx(100 * 0.05 / 50)
    assert math.isnan(r.margin_ratio[2, 0])


def test_auto_top_up_from_the_cash_reserve_saves_the_hedge() -> None:
    data = market([100.0, 100.0, 145.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=True), data)
    # bar 2: margin 5 <= 7.25 -> move 145 / 2 - 5 = 67.5 from cash (950 -> 882.5): margin 72.5
    assert r.liquidations == 0
    assert r.top_ups == pytest.approx(67.5)
    assert r.final_cash_usd == pytest.approx(882.5)
    # fully hedged: equity stays 1,100 (882.5 + 145 + 72.5; then 882.5 + 100 + 117.5)
    np.testing.assert_allclose(r.equity_usd, 1_100.0, rtol=1e-12)


def test_auto_top_up_without_cash_left_still_liquidates() -> None:
    data = market([100.0, 100.0, 145.0, 100.0])
    r = run_both(_liquidation_spec(50.0, top_up=True), data)
    # the 50 of cash went into the margin at bar 0; nothing is left to move at bar 2
    assert r.liquidations == 1
    assert r.top_ups == 0.0
    assert r.min_cash_usd == 0.0


def test_inverse_short_margined_with_the_holding_coins() -> None:
    data = market([10_000.0, 12_500.0, 8_000.0], funding={1: 0.0001})
    leg = HedgeLeg(
        1.0, 0, 0, kind=ContractKind.INVERSE, contract_size=100.0, tiers=TierTable.flat(0.005)
    )
    r = run_both(BacktestSpec((leg,), StaticRatio(1.0), 500.0, 1.0, NO_COSTS), data)
    # bar 0: 1 coin x 10,000 -> 100 contracts of 100 USD; margin 100 x 100 / 10,000 / 1 = 1 coin,
    # taken from the holding (0 coins left held)
    # bar 1: variation -100 x 100 x (1/10,000 - 1/12,500) = -0.2 coin -> margin 0.8;
    # funding 100 x (100 / 12,500) x 0.0001 = 0.00008 coin = 1.0 USD at 12,500
    # bar 2: variation -10,000 x (1/12,500 - 1/8,000) = +0.45 coin -> margin 1.25008 coin
    assert r.equity_usd == pytest.approx(
        [10_500.0, 500.0 + 0.80008 * 12_500, 500 + 1.25008 * 8_000]
    )
    assert r.equity_unhedged_usd.tolist() == [10_500.0, 13_000.0, 8_500.0]
    assert r.funding_pnl == pytest.approx(1.0)
    # equity - unhedged = hedge P&L + funding: 10,500.64 - 8,500 = 1,999.64 + 1.0
    assert r.hedge_pnl == pytest.approx(1_999.64)
    # basis = 1,999.64 + 1 coin x (8,000 - 10,000): the funding coin revalued, 0.00008 x -4,500
    assert r.basis_pnl == pytest.approx(-0.36)
    assert r.final_cash_usd == 500.0  # coin margin never touches the cash


def test_maintenance_margin_follows_the_bracket_of_the_notional() -> None:
    tiers = bundled("binance:BTCUSDT")
    data = market([50_000.0, 40_000.0, 25_000.0])
    spec = BacktestSpec((HedgeLeg(20.0, 0, 0, tiers=tiers),), StaticRatio(1.0), 0.0, 10.0, NO_COSTS)
    r = run_both(spec, data)
    # bar 0: N = 20 x 50,000 = 1,000,000 -> bracket 600k-3M: 0.65 % x 1,000,000 - 950 = 5,550;
    # margin 1,000,000 / 10 = 100,000
    # bar 1: N = 800,000 (same bracket): 5,200 - 950 = 4,250; margin 100,000 + 20 x 10,000
    # bar 2: N = 500,000 -> bracket 50k-600k: 0.5 % x 500,000 - 50 = 2,450; margin 600,000
    assert r.margin_ratio[:, 0] == pytest.approx(
        [5_550 / 100_000, 4_250 / 300_000, 2_450 / 600_000]
    )
    assert tiers.maintenance_margin(500_000.0) == pytest.approx(2_450.0)


def test_funding_aware_drops_the_hedge_after_negative_funding_and_restores_it() -> None:
    rates = {1: -1e-4, 2: -1e-4, 3: -1e-4, 4: 0.0, 5: 2e-4, 6: 2e-4, 7: 2e-4}
    rates |= {8: 1e-4, 9: 1e-4, 10: 3e-4}
    data = market([100.0] * 12, funding=rates)
    policy = FundingAware(1.0, negative_window=3, hysteresis=5e-5, min_hold_bars=0)
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), policy, 100.0, 2.0, NO_COSTS)
    r = run_both(spec, data)
    # open at bar 0; third negative rate at bar 3 (paid: 3 x -1e-4 x 100 = -0.03) -> dropped;
    # third rate above 5e-5 at bar 7 -> re-opened after bar 7's event; then bars 8-10 pay the
    # short (1e-4 + 1e-4 + 3e-4) x 100 = 0.05
    assert r.trades == 3
    assert r.funding_pnl == pytest.approx(-0.03 + 0.05)
    assert r.leg_hedged_bars.tolist() == [3 + 5]  # bars 0-2 and 7-11
    # a minimum holding time of 5 bars delays the re-opening to bar 8 (3 + 5)
    slow = BacktestSpec((HedgeLeg(1.0, 0, 0),), FundingAware(1.0, 3, 5e-5, 5), 100.0, 2.0, NO_COSTS)
    assert run_both(slow, data).leg_hedged_bars.tolist() == [3 + 4]


def test_schedule_resizes_on_its_bars_only() -> None:
    data = market([100.0, 101.0, 102.0, 103.0, 104.0], perp=[100.0, 102.0, 101.0, 104.0, 103.0])
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), Schedule(1.0, 2), 1_000.0, 2.0, NO_COSTS)
    r = run_both(spec, data)
    # bar 0: q = 100 / 100; bar 2: 102 / 101; bar 4: 104 / 103 (notional back to the spot value)
    assert r.trades == 3
    notional = [100.0, 102.0, 102.0, 104.0 * 102 / 101, 104.0]
    assert r.hedge_notional_usd[:, 0] == pytest.approx(notional)


def test_vol_triggered_switches_between_its_two_ratios() -> None:
    data = market([100.0, 100.0, 100.0, 110.0, 110.0])
    policy = VolTriggered(ratio_low=0.5, ratio_high=1.0, vol_window=2, vol_threshold=0.8)
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), policy, 1_000.0, 2.0, NO_COSTS)
    r = run_both(spec, data)
    # bars 0-1: warm-up, the high ratio (100 USD); bar 2: no move, EWMA variance 0 -> low ratio
    # (50); bar 3: +10 %, variance 2/3 x 0.01 x 525,600 bars a year >> 0.8^2 -> high (110);
    # bar 4: still high (1/3 x 0.00667 x 525,600), no trade
    assert r.hedge_notional_usd[:, 0] == pytest.approx([100.0, 100.0, 50.0, 110.0, 110.0])
    assert r.trades == 3
