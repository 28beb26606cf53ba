"""Portfolio -> backtest columns, legs, starting cash and costs."""

from __future__ import annotations

import numpy as np
import pytest

from perphedge.backtest.from_portfolio import costs_for, hedge_legs, layout, start_margin_usd
from perphedge.instruments import ContractKind
from perphedge.portfolio import Holding, Portfolio
from perphedge.venues import contract_specs


def _portfolio():
    return Portfolio(
        (
            Holding("BTC", 0.5, location="ledger"),
            Holding("ETH", 8.0),
            Holding("BTC", 0.25, location="exchange"),  # merged with the first BTC
            Holding("SOL", 100.0, proxy="BTC", beta=1.2),
            Holding("DOGE", 1000.0, ratio=0.0),  # held, not hedged
            Holding("ETH", 2.0, ratio=0.5),  # its own ratio: a separate leg
        )
    )


def test_columns_and_merged_legs():
    plan = layout(_portfolio(), portfolio_ratio=1.0)
    assert plan.assets == ("BTC", "ETH", "SOL", "DOGE")
    assert plan.hedge_assets == ("BTC", "ETH")
    assert plan.unhedged == ("DOGE",)
    legs = {(leg.asset, leg.hedge_asset, leg.beta): leg.qty_base for leg in plan.legs}
    assert legs == {
        ("BTC", "BTC", 1.0): 0.75,  # 0.5 + 0.25
        ("ETH", "ETH", 1.0): 8.0,
        ("SOL", "BTC", 1.2): 100.0,
        ("ETH", "ETH", 0.5): 2.0,  # ratio 0.5 / portfolio ratio 1.0
    }


def test_holding_ratio_scales_with_the_portfolio_ratio():
    plan = layout(Portfolio((Holding("ETH", 2.0, ratio=0.25),)), portfolio_ratio=0.5)
    assert plan.legs[0].beta == 0.5  # 0.25 / 0.5: the policy's ratio 0.5 x 0.5 = 0.25


def test_hedge_legs_carry_the_instrument_and_columns():
    plan = layout(_portfolio(), 1.0)
    kind = ContractKind.LINEAR
    instruments = {a: contract_specs.find("binance", a, kind) for a in plan.hedge_assets}
    legs = hedge_legs(plan, instruments)
    sol = next(leg for leg in legs if leg.name == "SOL via BTC")
    assert (sol.spot_col, sol.hedge_col, sol.beta, sol.qty_base) == (2, 0, 1.2, 100.0)
    assert sol.tiers is instruments["BTC"].tiers
    # first-bar margin at 4x: (0.75*60000 + 8*3000 + 100*150*1.2 + 2*3000*0.5) / 4
    first = np.array([60_000.0, 3_000.0, 150.0, 0.2])
    assert start_margin_usd(legs, first, 1.0, 4.0) == pytest.approx(
        (45_000 + 24_000 + 18_000 + 3_000) / 4
    )
    assert start_margin_usd(legs, first, 0.5, 2.0) == pytest.approx(90_000 * 0.5 / 2)


def test_inverse_legs_and_costs():
    plan = layout(Portfolio((Holding("BTC", 1.0),)), 1.0)
    perp = contract_specs.find("binance", "BTC", ContractKind.INVERSE)
    (leg,) = hedge_legs(plan, {"BTC": perp})
    assert (leg.kind, leg.contract_size) == (ContractKind.INVERSE, 100.0)
    costs = costs_for([perp], slippage_bp=2.0)
    assert (costs.maker_fee, costs.taker_fee, costs.slippage) == (0.0002, 0.0005, 0.0002)
    assert costs.liquidation_fee == perp.liquidation_fee
