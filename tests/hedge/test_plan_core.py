"""Portfolio, hedge plan and portfolio-file loading: exact numbers worked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.config import ConfigError, parse_portfolio
from perphedge.errors import DataError, InputError
from perphedge.hedge.sizing import HedgeSpec, LegMarket, build_plan, round_contracts
from perphedge.instruments import ContractKind
from perphedge.margin import MarginMode
from perphedge.portfolio import Holding, Portfolio, exposure_usd
from perphedge.ports import OrderSide, OrderType
from perphedge.venues import contract_specs
from tests.factories import portfolio_text

# the values of the bundled example, data/examples/portfolio.toml
ISSUE_HOLDINGS = [
    {"asset": "BTC", "quantity": 0.5, "price": 60_000},
    {"asset": "ETH", "quantity": 8, "price": 3_000},
]
ISSUE_HEDGE = {
    "ratio": 1.0,
    "leverage": 5,
    "exchange": "binance",
    "contract": "linear",
    "margin_mode": "isolated",
}


def markets(prices, kind=ContractKind.LINEAR, rate=0.0001):
    out = {}
    for asset, price in prices.items():
        inst = contract_specs.find("binance", asset, kind)
        out[asset] = None if inst is None else LegMarket(inst, price, rate, 8.0)
    return out


def plan_of(holdings, spec=None, prices=None, rate=0.0001):
    portfolio = Portfolio(tuple(holdings))
    spec = spec or HedgeSpec(leverage=5)
    all_prices = {**portfolio.given_prices(), **(prices or {})}
    return build_plan(portfolio, spec, prices or {}, markets(all_prices, spec.kind, rate))


def test_issue_example_totals_and_legs():
    cfg = parse_portfolio(portfolio_text(ISSUE_HOLDINGS, **ISSUE_HEDGE))
    spec = HedgeSpec(ratio=cfg.hedge.ratio, leverage=cfg.hedge.leverage)
    plan = build_plan(cfg.portfolio, spec, {}, markets(cfg.portfolio.given_prices()))
    assert plan.total_exposure == 54_000.0  # 0.5 * 60,000 + 8 * 3,000
    assert plan.hedge_notional == 54_000.0  # shorts 0.5 BTC and 8 ETH
    assert plan.initial_margin == 10_800.0  # 54,000 / 5
    btc, eth = plan.legs
    assert (btc.symbol, btc.qty, eth.symbol, eth.qty) == (
        "BTC/USDT:USDT", Decimal("0.500"), "ETH/USDT:USDT", Decimal("8.000"),
    )  # fmt: skip
    # Binance isolated short, tier 1 (MMR 0.4 %, cum 0): LP = (WB + q*EP) / (q * 1.004)
    assert btc.liquidation_price == pytest.approx((6_000 + 30_000) / (0.5 * 1.004), rel=1e-12)
    assert eth.liquidation_price == pytest.approx((4_800 + 24_000) / (8 * 1.004), rel=1e-12)
    assert btc.liquidation_distance == pytest.approx(36_000 / 0.502 / 60_000 - 1, rel=1e-12)
    # funding 0.01 % per 8 h on 30,000: +3 USDT per interval, 9 a day, 3,285 a year (short earns)
    assert btc.funding_per_interval == pytest.approx(3.0)
    assert btc.funding_per_day_usd == pytest.approx(9.0)
    assert btc.funding_per_year_usd == pytest.approx(3_285.0)
    assert btc.funding_apr == pytest.approx(0.1095)
    assert plan.fees_open_usd == pytest.approx(54_000 * 0.0002)  # limit orders pay maker fee
    assert [o.side for o in plan.orders] == [OrderSide.SELL, OrderSide.SELL]
    assert plan.orders[0].order_type is OrderType.LIMIT
    assert plan.orders[0].price == Decimal("60000.0")
    assert plan.unhedged_usd == 0.0


def test_liquidation_too_close_is_warned_at_5x_and_not_at_1x():
    codes = [w.code for w in plan_of([Holding("BTC", 0.5, 60_000)]).warnings]
    assert codes == ["liquidation_close"]  # 19.5 % away < 30 %
    calm = plan_of([Holding("BTC", 0.5, 60_000)], HedgeSpec(leverage=1))
    # 1x: tier 1 would give 60,000 / 0.502 = 119,521.9, notional 59,761 > 50,000 -> tier 2
    # (MMR 0.5 %, cum 50): LP = (30,000 + 50 + 30,000) / (0.5 * 1.005) = 119,502.49 (+99.2 %)
    assert calm.legs[0].liquidation_price == pytest.approx(60_050 / 0.5025, rel=1e-12)
    assert calm.warnings == ()


def test_half_ratio_hedges_half_and_reports_the_rest_unhedged():
    plan = plan_of([Holding("BTC", 0.5, 60_000), Holding("ETH", 8, 3_000)], HedgeSpec(0.5, 2))
    assert [leg.qty for leg in plan.legs] == [Decimal("0.250"), Decimal("4.000")]
    assert plan.hedge_notional == 27_000.0
    assert plan.unhedged_usd == 27_000.0
    assert plan.initial_margin == 13_500.0  # 27,000 / 2


def test_proxy_with_beta_uses_the_proxy_perpetual():
    # 100 TAO at 400 = 40,000 USD, beta 1.5 on BTC: 60,000 USD of BTC short = 1 BTC at 60,000
    alt = Holding("TAO", 100, 400, proxy="BTC", beta=1.5)
    plan = plan_of([alt], HedgeSpec(leverage=2), prices={"BTC": 60_000})
    (leg,) = plan.legs
    assert (leg.symbol, leg.qty, leg.notional_usd) == ("BTC/USDT:USDT", Decimal("1.000"), 60_000)
    (line,) = plan.exposures
    assert line.hedge_symbol == "BTC/USDT:USDT"
    assert line.unhedged_usd == pytest.approx(0.0)  # 40,000 - 60,000 / 1.5


def test_rounding_is_toward_zero_and_leaves_a_residual():
    plan = plan_of([Holding("BTC", 0.12345, 60_000)], HedgeSpec(leverage=2))
    (leg,) = plan.legs
    assert leg.qty == Decimal("0.123")  # 0.12345 -> 0.123 (step 0.001, toward zero)
    assert leg.residual_usd == pytest.approx(0.00045 * 60_000)  # 27 USD left by rounding


def test_float_noise_does_not_lose_a_step():
    assert 0.1 * 0.7 < 0.07  # 0.06999999999999999 in binary floating point
    assert round_contracts(0.1 * 0.7, 0.001) == Decimal("0.070")
    assert round_contracts(0.0699, 0.001) == Decimal("0.069")


def test_inverse_short_backed_by_coins_has_no_liquidation():
    spec = HedgeSpec(leverage=1, kind=ContractKind.INVERSE)
    plan = plan_of([Holding("BTC", 1.0, 60_000), Holding("ETH", 0.12345, 3_000)], spec)
    btc, eth = plan.legs
    assert (btc.symbol, btc.qty) == ("BTC/USD:BTC", Decimal("600"))  # 1 * 60,000 / 100
    assert btc.liquidation_price is None
    assert btc.initial_margin == pytest.approx(1.0)  # 600 * 100 / 60,000 BTC at 1x
    assert btc.wallet == 1.0  # the coins themselves
    # 0.12345 ETH * 3,000 = 370.35 USD -> 37 contracts of 10 USD (toward zero), 0.35 USD residual
    assert eth.qty == Decimal("37")
    assert eth.residual_usd == pytest.approx(0.35)
    assert eth.liquidation_price is None
    # funding in coin: 60,000 USD / 60,000 * 0.0001 = 0.0001 BTC per interval, worth 6 USD
    assert btc.funding_per_interval == pytest.approx(0.0001)
    assert btc.funding_per_day_usd == pytest.approx(18.0)
    assert any("residual risks" in note and "basis" in note for note in plan.notes)


def test_inverse_proxy_is_refused():
    spec = HedgeSpec(leverage=1, kind=ContractKind.INVERSE)
    with pytest.raises(InputError, match=r"holdings\[0\]\.proxy"):
        plan_of([Holding("TAO", 10, 400, proxy="BTC")], spec, prices={"BTC": 60_000})


def test_below_minimum_notional_is_warned_and_not_ordered():
    plan = plan_of([Holding("ETH", 0.005, 3_000)])  # 15 USDT < 20 USDT minimum
    assert [w.code for w in plan.warnings] == ["below_minimum"]
    assert "below the minimum notional 20 USDT" in plan.warnings[0].message
    assert plan.orders == ()
    assert plan.unhedged_usd == pytest.approx(15.0)


def test_asset_without_perpetual_suggests_a_proxy():
    plan = plan_of([Holding("PEPE", 10_000_000, 0.00001)])
    assert [w.code for w in plan.warnings] == ["no_perpetual"]
    assert 'proxy = "BTC"' in plan.warnings[0].message
    assert plan.legs == ()
    assert plan.unhedged_usd == pytest.approx(100.0)


def test_funding_cost_above_threshold_is_warned():
    # -0.02 % per 8 h = -21.9 % a year paid by the short, above the 5 % limit
    plan = plan_of([Holding("BTC", 0.5, 60_000)], HedgeSpec(leverage=1), rate=-0.0002)
    (warning,) = plan.warnings
    assert warning.code == "funding_cost"
    assert plan.legs[0].funding_per_year_usd == pytest.approx(-0.0002 * 30_000 * 3 * 365)


def test_leverage_above_the_bracket_maximum_is_an_error():
    with pytest.raises(InputError, match="at most 125x"):
        plan_of([Holding("BTC", 0.5, 60_000)], HedgeSpec(leverage=150))


def test_cross_margin_shares_the_wallet():
    spec = HedgeSpec(leverage=5, margin_mode=MarginMode.CROSS)
    btc, eth = plan_of([Holding("BTC", 0.5, 60_000), Holding("ETH", 8, 3_000)], spec).legs
    # wallet 10,800 shared; other MM for BTC = ETH's 24,000 * 0.4 % = 96, and for ETH 120
    assert btc.liquidation_price == pytest.approx((10_800 - 96 + 30_000) / 0.502, rel=1e-12)
    assert eth.liquidation_price == pytest.approx((10_800 - 120 + 24_000) / 8.032, rel=1e-12)


def test_missing_price_is_a_data_error_with_the_fix():
    with pytest.raises(DataError, match=r"^no price for ETH: add price = \.\.\. to the holding"):
        exposure_usd(Portfolio((Holding("ETH", 8),)), {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[holdings]]\nasset = "BTC"\nquantity = 1\n[[holdings]]\nasset = "ETH"\nquantity = -3',
            "portfolio.toml: holdings[1].quantity=-3: give a number greater than zero",
        ),
        (
            '[[holdings]]\nasset = "BTC"\nquantity = 1\nqty = 2',
            "portfolio.toml: holdings[0].qty: unknown key; remove it or fix its spelling",
        ),
        (
            '[[holdings]]\nasset = "BTC"\nquantity = 1\nratio = 1.5',
            "portfolio.toml: holdings[0].ratio=1.5: give a fraction between 0 and 1 (0.5 = half)",
        ),
        (
            '[[holdings]]\nasset = "BTC"\nquantity = 1\n[hedge]\nratio = -0.1',
            "portfolio.toml: hedge.ratio=-0.1: give a fraction between 0 and 1 (0.5 = half)",
        ),
        (
            '[[holdings]]\nasset = "BTC"\nquantity = 1\n[hedge]\ncontract = "futures"',
            "portfolio.toml: hedge.contract='futures': use one of 'linear' or 'inverse'",
        ),
        ('[[holdings]]\nquantity = 1', "portfolio.toml: holdings[0].asset: required; add it"),
        ("holdings = []", "portfolio.toml: holdings: add at least one [[holdings]] table"),
        ('[[holdings]]\nasset = "BTC"\nquantity = "a lot"', "holdings[0].quantity='a lot': give a number"),
        ('[[holdings]]\nasset = "B-T"\nquantity = 1', "holdings[0].asset='B-T': give a coin ticker"),
        ("[[holdings]\n", "portfolio.toml: (file): not valid TOML"),
    ],
)  # fmt: skip
def test_bad_files_give_one_line_naming_the_key(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_portfolio(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_ratio_zero_holding_is_left_unhedged_without_a_warning():
    plan = plan_of([Holding("BTC", 0.5, 60_000, ratio=0.0), Holding("ETH", 8, 3_000)])
    btc, eth = plan.legs
    assert btc.position is None and btc.qty == 0 and eth.qty == Decimal("8.000")
    assert [w.code for w in plan.warnings] == ["liquidation_close"]  # ETH only, at 5x
    assert plan.unhedged_usd == 30_000.0


def test_same_coin_in_two_places_counts_twice_and_shares_one_leg():
    cold = Holding("BTC", 0.3, 60_000, location="hardware wallet")
    hot = Holding("BTC", 0.5, location="exchange")  # priced like the first BTC holding
    plan = plan_of([cold, hot], HedgeSpec(leverage=2))
    assert plan.total_exposure == pytest.approx(48_000.0)  # 0.8 BTC * 60,000
    (leg,) = plan.legs
    assert leg.qty == Decimal("0.800")
    assert [e.location for e in plan.exposures] == ["hardware wallet", "exchange"]
    assert [o.qty for o in plan.orders] == [Decimal("0.800")]  # one order for both


@settings(max_examples=150)
@given(
    qty=st.floats(min_value=0.01, max_value=500, allow_nan=False),
    price=st.floats(min_value=500, max_value=200_000, allow_nan=False),
    ratio=st.floats(min_value=0.05, max_value=1.0, allow_nan=False),
    inverse=st.booleans(),
)
def test_rounding_never_over_hedges_and_leaves_less_than_one_step(qty, price, ratio, inverse):
    kind = ContractKind.INVERSE if inverse else ContractKind.LINEAR
    plan = plan_of([Holding("BTC", qty, price)], HedgeSpec(ratio, 1.0, kind=kind))
    (leg,) = plan.legs
    one_step_usd = 100.0 if inverse else 0.001 * price  # BTCUSD_PERP 100 USD, BTCUSDT 0.001 BTC
    if leg.position is None:  # below the venue minimum: nothing opened, all left unhedged
        assert leg.notional_usd == 0.0
        return
    assert leg.notional_usd <= leg.target_notional_usd * (1 + 1e-12)
    assert leg.residual_usd < one_step_usd * (1 + 1e-9)
    assert plan.unhedged_usd == pytest.approx(qty * price - leg.notional_usd, abs=1e-6)
