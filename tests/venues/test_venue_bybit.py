"""Bybit (v5) through the unmodified ccxt client, served recorded bodies from 127.0.0.1.

Bodies: ../shared/data/venues/bybit (all Bybit v5 DOCUMENTATION SAMPLES, 2022-2023) plus
CONSTRUCTED instrument rows for the symbols those samples use
(tests/fixtures/venues/bybit/instruments_extra.json). An empty coin list and the unified-account
options stand in for two account-setup calls ccxt makes first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from perphedge.ports import OrderRequest, OrderSide, OrderStatus, OrderType
from perphedge.venues.registry import Capability as Cap
from tests.recorded_venue import (
    RecordedServer,
    Request,
    Venue,
    adapter,
    open_venue,
    proves,
    recorded,
)

_UNIFIED = {"enableUnifiedAccount": True, "enableUnifiedMargin": False}


def _body(name: str) -> Any:
    return recorded("bybit", f"jkorf_V5Api_{name}.json")


def _routes() -> dict[str, Any]:
    linear = _body("ExchangeData_GetLinearInverseSymbols")
    extra = recorded("bybit", "instruments_extra.json")
    by_category = {
        "linear": linear["result"]["list"] + extra["linear"],
        "inverse": extra["inverse"],
    }

    def instruments(req: Request) -> Any:
        category = req.query.get("category", [""])[0]
        rows = [] if req.query.get("status") else by_category.get(category, [])
        return {**linear, "result": {"category": category, "list": rows, "nextPageCursor": ""}}

    return {
        "GET /v5/market/instruments-info": instruments,
        "GET /v5/asset/coin/query-info": {"retCode": 0, "retMsg": "", "result": {"rows": []}},
        "GET /v5/market/tickers": _body("ExchangeData_GetLinearInverseTickers"),
        "GET /v5/market/funding/history": _body("ExchangeData_GetFundingRateHistory"),
        "GET /v5/market/risk-limit": _body("ExchangeData_GetRiskLimit"),
        "GET /v5/position/list": _body("Trading_GetPositions"),
        "GET /v5/account/wallet-balance": _body("Account_GetBalances"),
        "POST /v5/order/create": _body("Trading_PlaceOrder"),
        "GET /v5/order/realtime": _body("Trading_GetOrders"),
        "POST /v5/position/set-leverage": _body("Account_SetLeverage"),
    }


@pytest.fixture(scope="module")
def bybit() -> Iterator[Venue]:
    yield from open_venue("bybit", _routes(), **_UNIFIED)


@proves("bybit", Cap.MARKETS, Cap.COIN_MARGINED)
def test_markets(bybit):
    btc = bybit.exchange.market("BTC/USDT:USDT")  # documentation sample row
    assert btc["linear"] and btc["contractSize"] == 1.0
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (0.001, 0.1)
    assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 5.0
    assert btc["limits"]["leverage"]["max"] == 100.0
    inverse = bybit.exchange.market("BTC/USD:BTC")
    assert inverse["inverse"] and inverse["settle"] == "BTC" and inverse["contractSize"] == 1.0
    assert not bybit.server.unknown


@proves("bybit", Cap.FUNDING_RATE, Cap.MARK_PRICE)
def test_funding_rate_and_mark_from_the_ticker(bybit):
    rate = bybit.exchange.fetch_funding_rate("BTC/USD:BTC")
    assert rate["fundingRate"] == pytest.approx(-0.001034)  # the short PAYS at this rate
    assert rate["markPrice"] == 16596.0
    req = bybit.server.sent("GET", "/v5/market/tickers")[-1]
    assert req.query["category"] == ["inverse"] and req.query["symbol"] == ["BTCUSD"]


@proves("bybit", Cap.FUNDING_HISTORY)
def test_funding_history(bybit):
    (row,) = bybit.exchange.fetch_funding_rate_history("ETH/USDC:USDC")
    assert (row["timestamp"], row["fundingRate"]) == (1672041600000, 0.0001)


@proves("bybit", Cap.LEVERAGE_TIERS)
def test_risk_limit_tiers(bybit):
    (tier,) = bybit.exchange.fetch_market_leverage_tiers("BTC/USD:BTC")
    assert (tier["maxNotional"], tier["maxLeverage"]) == (150.0, 100.0)
    # The 2022 documentation sample wrote rates in percent ("0.5" = 0.5 %, with initialMargin
    # "1" at 100x); ccxt reads them as fractions, as the live API now sends ("0.005").
    assert tier["info"]["maintenanceMargin"] == "0.5"
    assert tier["maintenanceMarginRate"] == 0.5


@proves("bybit", Cap.POSITIONS, Cap.BALANCES)
def test_inverse_position_and_balance(bybit):
    (pos,) = bybit.exchange.fetch_positions(["BTC/USD:BTC"])
    assert pos["side"] == "short" and pos["contracts"] == 300.0  # 300 contracts of 1 USD
    assert pos["entryPrice"] == pytest.approx(27464.50441675)
    assert pos["markPrice"] == 28224.5 and pos["leverage"] == 10.0
    balance = bybit.exchange.fetch_balance()
    assert balance["BTC"]["total"] == 0.0  # walletBalance "0" in the sample


@proves("bybit", Cap.CREATE_ORDER, Cap.REDUCE_ONLY, Cap.CLIENT_ORDER_ID, Cap.FETCH_ORDER)
def test_reduce_only_order_with_client_id_and_lookup_by_it(bybit):
    order = bybit.exchange.create_order(
        "ETH/USDT:USDT", "limit", "sell", 0.1, 1600, {"reduceOnly": True, "clientOrderId": "ph1"}
    )
    assert order["id"] == "1321003749386327552"
    (req,) = bybit.server.sent("POST", "/v5/order/create")
    assert json.loads(req.body) == {
        "symbol": "ETHUSDT", "side": "Sell", "orderType": "Limit", "orderLinkId": "ph1",
        "price": "1600", "category": "linear", "qty": "0.1", "reduceOnly": True,
    }  # fmt: skip
    (found,) = bybit.exchange.fetch_open_orders(
        "ETH/USDT:USDT", None, None, {"orderLinkId": "test-000005"}
    )
    assert found["clientOrderId"] == "test-000005" and found["status"] == "open"
    assert Decimal(str(found["amount"])) == Decimal("0.1") and found["price"] == 1600.0
    lookup = bybit.server.sent("GET", "/v5/order/realtime")[-1]
    assert lookup.query["orderLinkId"] == ["test-000005"]


@proves("bybit", Cap.SET_LEVERAGE)
def test_set_leverage(bybit):
    bybit.exchange.set_leverage(5, "ETH/USDT:USDT")
    (req,) = bybit.server.sent("POST", "/v5/position/set-leverage")
    assert json.loads(req.body) == {
        "symbol": "ETHUSDT", "buyLeverage": "5", "sellLeverage": "5", "category": "linear",
    }  # fmt: skip


def test_orders_through_perphedges_adapter():
    # The recorded open-order list holds orderLinkId "test-000005"; the closed list is answered
    # empty (CONSTRUCTED, the documented envelope), so "ph1" is unknown until placed.
    routes = {
        **_routes(),
        "GET /v5/order/history": {
            "retCode": 0, "retMsg": "OK",
            "result": {"list": [], "nextPageCursor": "", "category": "linear"},
        },
    }  # fmt: skip
    with RecordedServer(routes) as server:
        _md, account = adapter("bybit", server)
        account._ex.options.update(_UNIFIED)
        known = account.fetch_order("ETH/USDT:USDT", "test-000005")
        assert known is not None and known.status is OrderStatus.OPEN
        assert known.exchange_order_id == "fd4300ae-7847-404e-b947-b46980a4d140"
        assert account.fetch_order("ETH/USDT:USDT", "ph1") is None
        req = OrderRequest(
            "ETH/USDT:USDT", OrderSide.SELL, Decimal("0.1"), OrderType.LIMIT, "ph1",
            price=Decimal("1600"), reduce_only=True,
        )  # fmt: skip
        placed = account.place_order(req)  # the venue answers with ids only
        assert placed.exchange_order_id == "1321003749386327552"
        assert (placed.client_order_id, placed.status) == ("ph1", OrderStatus.OPEN)
        assert (placed.qty, placed.reduce_only, placed.side) == (
            Decimal("0.1"),
            True,
            OrderSide.SELL,
        )
        (sent,) = server.sent("POST", "/v5/order/create")
        body = json.loads(sent.body)
        assert (body["orderLinkId"], body["reduceOnly"], body["qty"]) == ("ph1", True, "0.1")
        lookups = server.sent("GET", "/v5/order/realtime")
        assert {r.query["orderLinkId"][0] for r in lookups} == {"test-000005", "ph1"}
