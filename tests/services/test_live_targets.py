"""Targets of a live run: the planner at the venue's marks, in signed contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perphedge.clocks import ManualClock
from perphedge.config import parse_portfolio
from perphedge.errors import DataError
from perphedge.services.targets import hedge_targets
from tests.factories import portfolio_text
from tests.live_support import BTC, ETH, T0, StaticMarket

HOLDINGS = [
    # stale file price: the venue's mark (60,000) values the coins
    {"asset": "BTC", "quantity": 0.5, "price": 50_000},
    {"asset": "ETH", "quantity": 8},
]


def targets(text: str) -> dict[str, tuple[Decimal, int]]:
    market = StaticMarket(ManualClock(T0))
    result = hedge_targets(parse_portfolio(text), market)
    return {t.symbol: (t.target_contracts, t.leverage) for t in result.targets}


def test_full_hedge_is_coins_in_contracts_at_any_file_price():
    assert targets(portfolio_text(HOLDINGS, leverage=5)) == {
        BTC: (Decimal("-0.500"), 5),
        ETH: (Decimal("-8.000"), 5),
    }


def test_half_hedge_and_proxy_with_beta():
    sol = {"asset": "SOL", "quantity": 100, "price": 150, "proxy": "BTC", "beta": 1.2}
    text = portfolio_text([*HOLDINGS, sol], ratio=0.5, leverage=3)
    # BTC: 0.5 * 0.5 = 0.25; SOL on BTC: 100 * 150 * 0.5 * 1.2 = 9,000 USD / 60,000 = 0.15
    assert targets(text) == {BTC: (Decimal("-0.400"), 3), ETH: (Decimal("-4.000"), 3)}


def test_coin_without_perpetual_or_price_is_a_data_error():
    with pytest.raises(DataError, match="no price for DOGE"):
        targets(portfolio_text([{"asset": "DOGE", "quantity": 10, "proxy": "BTC"}]))
