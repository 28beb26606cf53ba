"""The backtest service on a fake of the MarketHistory port: flat prices, one funding rate."""

from __future__ import annotations

import pytest

from perphedge.config import parse_portfolio
from perphedge.instruments import ContractKind
from perphedge.services.backtest import BacktestRequest, run_backtests
from perphedge.venues import contract_specs
from tests.factories import portfolio_text
from tests.fakes.ports import FakeStore

DAY_MS = 86_400_000
RATE = 0.0001  # per 8 h, positive: longs pay shorts, the short earns


def test_a_flat_market_leaves_the_hedge_with_its_funding_less_its_fees():
    store = (
        FakeStore()
        .candles("binance", "BTC/USDT", "spot", 60_000.0, 40)
        .candles("binance", "BTC/USDT:USDT", "mark", 60_000.0, 40)
        .flat("binance", "BTC/USDT:USDT", RATE, 40)
    )
    cfg = parse_portfolio(portfolio_text([{"asset": "BTC", "quantity": 1.0}], leverage=2) + "\n")
    since = FakeStore.END_MS - 30 * DAY_MS
    request = BacktestRequest(since, FakeStore.END_MS, ("static",), slippage_bp=0.0)
    outcome = run_backtests(cfg, request, store)
    assert [r.name for r in outcome.runs] == ["unhedged", "hedged", "static"]
    hedged = outcome.runs[1].result
    # 30 days of 8-hour bars, both ends in: 91 bars; the short opens on the first and holds
    # through the 90 settlements after it, each paying it 60,000 x 0.0001 = 6 USD
    assert hedged.n_bars == 91
    assert hedged.funding_pnl == pytest.approx(90 * 6.0, rel=1e-12)
    assert hedged.hedge_pnl == pytest.approx(0.0, abs=1e-9)  # the price never moved
    # one taker fill to open: 60,000 x the bundled taker fee (0.05 %)
    taker = contract_specs.find("binance", "BTC", ContractKind.LINEAR).taker_fee
    assert hedged.fees == pytest.approx(60_000.0 * taker, rel=1e-12)
    assert hedged.liquidations == 0
