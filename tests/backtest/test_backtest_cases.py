"""Small backtests computed by hand (arithmetic in the comments), run through the engine and the
plain-Python reference."""

from __future__ import annotations

import dataclasses
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
from perphedge.margin import tier_maintenance
from perphedge.venues.tier_tables import bundled

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
    assert r.equity_unhedged_usd.tolist() == [200.0, 220.0, 210.0]  # the holdings alone
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
    assert r.equity_unhedged_usd.tolist() == [10_000.0, 12_500.0, 8_000.0]  # the coin alone
    assert r.funding_pnl == pytest.approx(1.0)
    # equity - cash - unhedged = hedge P&L + funding: 10,500.64 - 500 - 8,000 = 1,999.64 + 1.0
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
    assert tier_maintenance(tiers, 500_000.0) == pytest.approx(2_450.0)


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


def _with_high(data: MarketArrays, high: list[float]) -> MarketArrays:
    column = np.array(high, dtype=np.float64).reshape(-1, 1)
    return dataclasses.replace(data, mark_high=column, mark_low=np.minimum(column, data.mark))


def test_the_bar_high_touching_the_liquidation_price_liquidates_there() -> None:
    closes = market([100.0, 100.0, 130.0, 100.0])
    # closes only: bar 2 margin 50 - (130 - 100) = 20 > MM 130 x 5 % = 6.5 -> the hedge lives
    assert run_both(_liquidation_spec(1_000.0, top_up=False), closes).liquidations == 0
    data = _with_high(closes, [100.0, 100.0, 145.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=False), data)
    # bar 2 with high 145: margin at P is 50 - (P - 100) = MM 0.05 P -> P = 150 / 1.05 = 1000 / 7
    # (142.857..., <= 145, touched); closed there: margin 0.05 P = 50 / 7, fee min(50 / 7,
    # 2 % x P = 20 / 7) = 20 / 7, forfeited 30 / 7 (>= 0: never more than the margin)
    p = 1_000.0 / 7.0
    assert r.liquidations == 1
    assert r.liquidation_times_ms == (T0 + 2 * 60_000,)
    assert r.fees == pytest.approx(20.0 / 7.0)
    assert r.liquidation_loss == pytest.approx(30.0 / 7.0)
    assert r.hedge_pnl == pytest.approx(-(p - 100.0))
    # cash 950 + spot: 1,100; 1,100; 950 + 130; 950 + 100
    assert r.equity_usd.tolist() == pytest.approx([1_100.0, 1_100.0, 1_080.0, 1_050.0])
    # a high below P (140) changes nothing
    calm = _with_high(closes, [100.0, 100.0, 140.0, 100.0])
    kept = run_both(_liquidation_spec(1_000.0, top_up=False), calm)
    assert kept.liquidations == 0
    np.testing.assert_allclose(kept.equity_usd, 1_100.0, rtol=1e-12)


def test_top_up_happens_at_the_touched_liquidation_price() -> None:
    data = _with_high(market([100.0, 100.0, 130.0, 100.0]), [100.0, 100.0, 145.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=True), data)
    # at P = 1000 / 7 the margin 50 / 7 is topped up to N / L = 500 / 7: 450 / 7 moved from cash
    # (950 -> 6200 / 7); the next liquidation price, (500 / 7 + P) / 1.05 = 204.08, is above the
    # high 145: no second touch. Close 130: margin 500 / 7 + (P - 130) = 590 / 7
    assert r.liquidations == 0
    assert r.top_ups == pytest.approx(450.0 / 7.0)
    assert r.final_cash_usd == pytest.approx(6_200.0 / 7.0)
    np.testing.assert_allclose(r.equity_usd, 1_100.0, rtol=1e-12)  # 6200/7 + 130 + 590/7


def test_a_short_liquidated_within_the_bar_earns_none_of_its_funding() -> None:
    # margin 50 at 100, MM 5 %: P = 150 / 1.05 = 142.857, reached by the bar's high 150.
    # The +1 % settling at that bar's close would pay the short 1.3, but it is gone by then.
    closes = market([100.0, 100.0, 130.0, 100.0], funding={2: 0.01})
    data = _with_high(closes, [100.0, 100.0, 150.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=False), data)
    p = 150.0 / 1.05
    assert r.liquidations == 1
    assert r.funding_pnl == 0.0
    assert r.fees + r.liquidation_loss == pytest.approx(0.05 * p)  # the margin left at P
    assert r.hedge_pnl == pytest.approx(-(p - 100.0))


def test_closes_only_a_short_past_its_liquidation_price_earns_no_funding_either() -> None:
    # no highs: the close 150 is past P = 142.857, so the liquidation comes first
    r = run_both(
        _liquidation_spec(1_000.0, top_up=False), market([100.0, 100.0, 150.0], funding={2: 0.01})
    )
    assert r.liquidations == 1 and r.funding_pnl == 0.0


def test_a_surviving_short_pays_the_funding_at_the_close() -> None:
    # high 142 < P: the short survives the bar and pays 1 x 130 x 1 % = 1.3 at its close
    closes = market([100.0, 100.0, 130.0, 100.0], funding={2: -0.01})
    data = _with_high(closes, [100.0, 100.0, 142.0, 100.0])
    r = run_both(_liquidation_spec(1_000.0, top_up=False), data)
    assert r.liquidations == 0
    assert r.funding_pnl == pytest.approx(-1.3)


def test_the_touch_is_solved_in_the_bracket_of_its_notional() -> None:
    # brackets: N < 120 at 1 % (cum 0), N >= 120 at 5 % (cum 120 x (5 % - 1 %) = 4.8)
    tiers = TierTable.from_rates([(0, 120, 50, 0.01), (120, 1e15, 20, 0.05)])
    costs = Costs(0.0, 0.0, 0.0, liquidation_fee=0.01)
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0, tiers=tiers),), StaticRatio(1.0), 1_000.0, 2.0, costs)
    data = _with_high(market([100.0, 100.0, 130.0, 100.0]), [100.0, 100.0, 148.0, 100.0])
    r = run_both(spec, data)
    # margin 50 at 100. First bracket: 50 - (P - 100) = 0.01 P -> P = 148.51, but N = P >= 120
    # leaves it; second: 50 - (P - 100) = 0.05 P - 4.8 -> P = 154.8 / 1.05 = 147.43 <= 148.
    # (The close 130: margin 20 > 0.05 x 130 - 4.8 = 1.7, so closes alone keep the hedge.)
    p = 154.8 / 1.05
    margin = 0.05 * p - 4.8  # 2.5714 = 150 - P
    assert r.liquidations == 1
    assert r.fees == pytest.approx(0.01 * p)  # 1.4743 < the margin left
    assert r.liquidation_loss == pytest.approx(margin - 0.01 * p)
    assert r.hedge_pnl == pytest.approx(100.0 - p)


def test_inverse_short_liquidated_at_the_touch_in_coin() -> None:
    leg = HedgeLeg(
        1.0, 0, 0, kind=ContractKind.INVERSE, contract_size=100.0, tiers=TierTable.flat(0.05)
    )
    costs = Costs(0.0, 0.0, 0.0, liquidation_fee=0.02)
    spec = BacktestSpec((leg,), StaticRatio(1.0), 500.0, 2.0, costs)
    data = _with_high(market([10_000.0, 10_000.0, 15_000.0, 10_000.0]), [1e4, 1e4, 2e4, 1e4])
    r = run_both(spec, data)
    # 100 contracts of 100 USD; margin 10,000 / 10,000 / 2 = 0.5 coin from the holding.
    # Margin at P: 0.5 - 10,000 x (1/10,000 - 1/P) = 10,000 / P - 0.5; MM = 0.05 x 10,000 / P
    # -> 9,500 / P = 0.5 -> P = 19,000 <= high 20,000 (the close 15,000 leaves 0.1667 > 0.0333).
    # Left at P: 0.05 x 10,000 / 19,000 = 1/38 coin; fee min(1/38, 2 % x 10,000 / 19,000 = 1/95);
    # coin amounts in USD at the bar's close mark 15,000
    assert r.liquidations == 1
    assert r.fees == pytest.approx(15_000.0 / 95.0)
    assert r.liquidation_loss == pytest.approx(15_000.0 * (1.0 / 38.0 - 1.0 / 95.0))
    # bar 2: 500 cash + 0.5 coin held at 15,000 (the margin coins are gone)
    assert r.equity_usd[2] == pytest.approx(500.0 + 0.5 * 15_000.0)
