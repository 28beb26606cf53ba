"""Stress scenarios: flat full hedges, liquidation, top-up re-checked, funding and squeeze."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from perphedge.hedge.sizing import HedgeSpec, LegMarket, build_plan
from perphedge.hedge.stress import (
    StressSpec,
    basis_shock,
    funding_regime,
    price_shock,
    run_stress,
    safe_leverages,
    short_squeeze,
)
from perphedge.instruments import ContractKind
from perphedge.margin import MarginMode, liquidation
from perphedge.portfolio import Holding, Portfolio
from perphedge.units import rel_close
from perphedge.venues import contract_specs
from tests.strategies import shocks


def make_plan(holdings, spec, rate=0.0001):
    portfolio = Portfolio(tuple(holdings))
    markets = {}
    for asset, price in portfolio.given_prices().items():
        inst = contract_specs.find("binance", asset, spec.kind)
        markets[asset] = LegMarket(inst, price, rate, 8.0) if inst else None
    return build_plan(portfolio, spec, {}, markets)


ISSUE = [Holding("BTC", 0.5, 60_000), Holding("ETH", 8, 3_000)]


@settings(max_examples=150)
@given(
    qty=st.integers(min_value=1, max_value=100_000).map(lambda n: n / 1000),  # whole steps
    price=st.floats(min_value=100, max_value=200_000, allow_nan=False),
    leverage=st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    shock=shocks,
)
def test_full_linear_hedge_is_flat_under_any_shock(qty, price, leverage, shock):
    assume(qty * price >= 100)  # BTCUSDT minimum notional: smaller hedges are not opened
    plan = make_plan([Holding("BTC", qty, price)], HedgeSpec(leverage=leverage))
    out = price_shock(plan, shock, 30)
    if out.liquidated:  # beyond the liquidation price the hedge is lost, by design
        assert out.hedge_pnl < 0 and shock > 0
        return
    assert rel_close(out.spot_pnl, -out.hedge_pnl, rel=1e-9, abs_tol=1e-9 * qty * price)


@settings(max_examples=100)
@given(shock=st.floats(min_value=-0.9, max_value=3.0, allow_nan=False))
def test_inverse_one_x_hedge_is_flat_and_never_liquidated(shock):
    plan = make_plan([Holding("BTC", 1.0, 60_000)], HedgeSpec(kind=ContractKind.INVERSE))
    out = price_shock(plan, shock, 30)
    assert not out.liquidated
    # coins gain 60,000 * s; the 600-contract short loses 600 * 100 * (P1/P0 - 1) in USD at P1
    assert out.spot_pnl + out.hedge_pnl == pytest.approx(0.0, abs=1e-6)


def test_issue_example_ten_percent_fall():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    out = price_shock(plan, -0.10, 30)
    assert (out.spot_pnl, out.hedge_pnl) == (pytest.approx(-5_400), pytest.approx(5_400))
    # 90 funding events at 0.01 % on the fallen notional 48,600: +437.4 USDT to the short
    assert out.funding == pytest.approx(0.0001 * 48_600 * 90)
    assert out.fees == pytest.approx(10.8 + 24.3)  # maker to open, taker to close at -10 %
    assert out.value_before == pytest.approx(54_000 + 10_800)  # coins + USDT margin posted


def test_top_up_puts_the_liquidation_price_exactly_at_the_shocked_price():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    out = price_shock(plan, 0.5, 30)
    assert out.liquidated and out.liquidated_symbols == ("BTC/USDT:USDT", "ETH/USDT:USDT")
    # BTC at 90,000: notional 45,000 (tier 1) MM 180, balance 6,000 - 15,000 -> add 9,180
    # ETH at 4,500: notional 36,000 MM 144, balance 4,800 - 12,000 -> add 7,344
    assert out.top_up == pytest.approx(9_180 + 7_344)
    btc = plan.legs[0]
    lp = liquidation(btc.position, btc.wallet + 9_180, btc.instrument.tiers).price
    assert lp == pytest.approx(90_000, rel=1e-12)  # bracket re-checked at the new LP
    # the coins are unhedged from the liquidation price on: net = spot gain - lost margin - fee
    assert out.net == pytest.approx(27_000 - 10_800 - 10.8)
    assert out.value_after == pytest.approx(64_800 + out.net)


def test_funding_regimes_scale_with_the_rate_and_the_horizon():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    paid = funding_regime(plan, -0.001, 30)
    # -0.1 % per 8 h on 54,000 for 90 intervals: the short pays 4,860
    assert paid.funding == pytest.approx(-4_860.0)
    assert funding_regime(plan, 0.001, 10).funding == pytest.approx(1_620.0)


def test_price_shocks_at_a_chosen_funding_rate():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    # -10 % and -0.1 % per 8 h for 30 days: 90 payments of 0.1 % of 48,600 (the moved
    # notional) paid by the short = -4,374
    moved = price_shock(plan, -0.1, 30, -0.001)
    assert moved.funding == pytest.approx(-4_374.0)
    assert price_shock(plan, 0.0, 30, -0.001).funding == funding_regime(plan, -0.001, 30).funding
    planned = price_shock(plan, -0.1, 30)  # the plan's 0.01 % per 8 h
    assert planned.funding == pytest.approx(437.4)
    spec = StressSpec(shocks=(-0.1,), shock_funding_per_8h=-0.001)
    assert run_stress(plan, spec).price_shocks[0] == moved
    with pytest.raises(ValueError, match="funding rate"):
        StressSpec(shock_funding_per_8h=0.2)


def test_basis_shock_moves_only_the_perpetual():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    out = basis_shock(plan, 200, 30)
    assert out.spot_pnl == 0.0
    assert out.hedge_pnl == pytest.approx(-0.02 * 54_000)  # perp 2 % above spot


def test_squeeze_liquidates_at_5x_but_not_at_1x():
    at5 = short_squeeze(make_plan(ISSUE, HedgeSpec(leverage=5)), 0.25, 30)
    assert at5.liquidated and at5.spot_pnl == 0.0
    assert at5.net == pytest.approx(-10_800 - 10.8)  # margin lost, prices back where they were
    at1 = short_squeeze(make_plan(ISSUE, HedgeSpec(leverage=1)), 0.25, 30)
    assert not at1.liquidated and at1.top_up == 0.0


def test_run_stress_covers_every_family_and_rejects_bad_specs():
    result = run_stress(make_plan(ISSUE, HedgeSpec(leverage=2)), StressSpec())
    assert [o.shock for o in result.price_shocks] == [-0.5, -0.25, -0.1, 0, 0.1, 0.25, 0.5, 1.0]
    assert len(result.funding) == 7 and len(result.basis) == 4 and len(result.squeezes) == 2
    with pytest.raises(ValueError, match="horizon_days"):
        StressSpec(horizon_days=0)
    with pytest.raises(ValueError, match="100 %"):
        StressSpec(shocks=(-1.0,))


def test_cross_margin_legs_share_the_wallet_and_die_together():
    plan = make_plan(ISSUE, HedgeSpec(leverage=5, margin_mode=MarginMode.CROSS))
    calm = price_shock(plan, 0.10, 30)
    # MM 0.4 % of 59,400 = 237.6 over balance 10,800 - 5,400 = 5,400, plus the funding the
    # shorts earn in the wallet over 30 days: 59,400 x 0.01 % x 90 = 534.6
    assert calm.margin_ratio == pytest.approx(237.6 / (5_400 + 534.6))
    assert calm.value_before == pytest.approx(54_000 + 10_800)  # the cross wallet counted once
    lost = price_shock(plan, 0.25, 30)
    assert lost.liquidated_symbols == ("BTC/USDT:USDT", "ETH/USDT:USDT")
    assert lost.hedge_pnl == pytest.approx(-10_800)  # the whole cross wallet
    # top-up: MM 0.4 % of 67,500 = 270 minus balance 10,800 - 13,500 = -2,700
    assert lost.top_up == pytest.approx(2_970)


def test_safe_leverage_is_the_highest_lower_leverage_the_same_scenario_lives_at():
    btc = [Holding("BTC", 1.0, 60_000)]
    spec = StressSpec(shocks=(0.1, 0.4, 2.0), funding_per_8h=(), basis_bp=(), squeezes=())

    def at(leverage):
        return run_stress(make_plan(btc, HedgeSpec(leverage=leverage)), spec)

    result = at(5.0)
    # a 5x short is liquidated near +19 %: +10 % lives; +40 % needs the 2x short (liquidated
    # near +49 %; 3x goes near +32 %); +200 % kills even a 1x short (near +98 %)
    assert [o.liquidated for o in result.outcomes] == [False, True, True]
    assert safe_leverages(result, 5.0, at) == (None, 2.0, None)
    for lev, o in zip((2.0, 3.0), (at(2.0).outcomes[1], at(3.0).outcomes[1]), strict=True):
        assert o.liquidated is (lev == 3.0)  # the claim, checked at 2x and just above it
