"""OKX (v5) through the unmodified ccxt client, served recorded bodies from 127.0.0.1.

Bodies: ../shared/data/venues/okx (all OKX v5 DOCUMENTATION SAMPLES, 2020-2024) plus CONSTRUCTED
SWAP/FUTURES instrument rows for the instruments those samples name
(tests/fixtures/venues/okx/instruments_extra.json). An empty currency list stands in for the
account-setup call ccxt makes first. OKX publishes no sample of swap position tiers (the recorded
one is a MARGIN tier), so tiers stay 'unverified'.
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


def _body(name: str) -> Any:
    return recorded("okx", f"jkorf_UnifiedApi_{name}.json")


def _routes() -> dict[str, Any]:
    extra = recorded("okx", "instruments_extra.json")
    spot = _body("ExchangeData_GetSymbols")

    def instruments(req: Request) -> Any:
        kind = req.query.get("instType", [""])[0]
        return {
            "code": "0",
            "msg": "",
            "data": spot["data"] if kind == "SPOT" else extra.get(kind, []),
        }

    return {
        "GET /api/v5/public/instruments": instruments,
        "GET /api/v5/asset/currencies": {"code": "0", "msg": "", "data": []},
        "GET /api/v5/public/funding-rate": _body("ExchangeData_GetFundingRates"),
        "GET /api/v5/public/funding-rate-history": _body("ExchangeData_GetFundingRateHistory"),
        "GET /api/v5/public/mark-price": _body("ExchangeData_GetMarkPrices"),
        "GET /api/v5/account/balance": _body("Account_GetAccountBalance"),
        "GET /api/v5/account/positions": _body("Account_GetAccountPositions"),
        "POST /api/v5/trade/batch-orders": _body("Trading_PlaceOrder"),
        "GET /api/v5/trade/order": _body("Trading_GetOrderDetails"),
        "POST /api/v5/account/set-leverage": _body("Account_SetAccountLeverage"),
    }


_TYPES = {"fetchMarkets": {"types": ["spot", "swap", "future"]}}


@pytest.fixture(scope="module")
def okx() -> Iterator[Venue]:
    yield from open_venue("okx", _routes(), **_TYPES)


@proves("okx", Cap.MARKETS, Cap.COIN_MARGINED)
def test_swap_markets(okx):
    linear = okx.exchange.market("BTC/USDT:USDT")
    assert linear["contractSize"] == 0.01  # ctVal: BTC per contract
    assert (linear["precision"]["amount"], linear["precision"]["price"]) == (0.01, 0.1)
    assert linear["limits"]["leverage"]["max"] == 100.0
    inverse = okx.exchange.market("BTC/USD:BTC")
    assert inverse["inverse"] and inverse["contractSize"] == 100.0  # USD per contract
    assert not okx.server.unknown


@proves("okx", Cap.FUNDING_RATE, Cap.FUNDING_INTERVAL)
def test_funding_rate_and_its_interval(okx):
    rate = okx.exchange.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] == pytest.approx(0.000079238688534)
    # interval from fundingTime 1703088000000 -> nextFundingTime 1703116800000: 8 h
    assert rate["interval"] == "8h"
    assert rate["markPrice"] is None  # OKX sends the mark on its own endpoint (next test)


@proves("okx", Cap.MARK_PRICE)
def test_mark_price(okx):
    assert okx.exchange.fetch_mark_price("BTC/USDT:USDT")["markPrice"] == 200.0  # doc value


@proves("okx", Cap.FUNDING_HISTORY)
def test_funding_history_uses_the_realized_rate(okx):
    rows = okx.exchange.fetch_funding_rate_history("BTC/USD:BTC")
    assert [(r["timestamp"], r["fundingRate"]) for r in rows] == [
        (1703030400000, 0.0002279755647389),  # realizedRate, not the estimate 0.000227985...
        (1703059200000, 0.0000746572360545),
    ]


@proves("okx", Cap.BALANCES, Cap.POSITIONS)
def test_balance_and_position(okx):
    usdt = okx.exchange.fetch_balance()["USDT"]
    assert usdt["total"] == pytest.approx(4992.890093622894)  # eq
    assert usdt["free"] == pytest.approx(4834.3170936228935)  # availEq
    (pos,) = okx.exchange.fetch_positions()
    assert pos["symbol"] == "ETH/USD:ETH-210430" and pos["side"] == "long"
    assert pos["entryPrice"] == 2566.31 and pos["liquidationPrice"] == pytest.approx(2352.84966818)


@proves("okx", Cap.CREATE_ORDER, Cap.REDUCE_ONLY, Cap.CLIENT_ORDER_ID, Cap.FETCH_ORDER)
def test_reduce_only_order_with_client_id_and_lookup_by_it(okx):
    order = okx.exchange.create_order(
        "BTC/USDT:USDT", "limit", "sell", 1, 60000, {"reduceOnly": True, "clientOrderId": "ph1"}
    )
    assert (order["id"], order["clientOrderId"]) == ("312269865356374016", "oktswap6")
    (req,) = okx.server.sent("POST", "/api/v5/trade/batch-orders")
    assert json.loads(req.body) == [
        {"instId": "BTC-USDT-SWAP", "side": "sell", "ordType": "limit", "sz": "1",
         "tdMode": "cross", "px": "60000", "clOrdId": "ph1", "reduceOnly": True}
    ]  # fmt: skip
    found = okx.exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "ph1"})
    assert found["id"] == "680800019749904384" and found["status"] == "closed"
    lookup = okx.server.sent("GET", "/api/v5/trade/order")[-1]
    assert lookup.query["clOrdId"] == ["ph1"] and "ordId" not in lookup.query


@proves("okx", Cap.SET_LEVERAGE)
def test_set_leverage(okx):
    okx.exchange.set_leverage(30, "BTC/USDT:USDT", {"mgnMode": "isolated", "posSide": "long"})
    (req,) = okx.server.sent("POST", "/api/v5/account/set-leverage")
    assert json.loads(req.body)["instId"] == "BTC-USDT-SWAP"


def test_through_perphedges_adapter():
    with RecordedServer(_routes()) as server:
        md, account = adapter("okx", server)
        quote = md.funding_rate("BTC/USDT:USDT")
        assert (quote.rate_per_interval, quote.interval_hours) == (0.000079238688534, 8.0)
        # the funding-rate body has no mark: the adapter asks OKX's mark-price endpoint
        mark = md.mark_price("BTC/USDT:USDT")
        assert (mark.price, mark.ts_ms) == (Decimal("200"), 1597026383085)
        history = md.funding_history("BTC/USD:BTC", 1_703_000_000_000, 1_703_100_000_000)
        assert history.rate.tolist() == [0.0002279755647389, 0.0000746572360545]
        balances = {b.currency: b for b in account.balances()}
        assert balances["USDT"].total == Decimal("4992.890093622894")
        # the adapter's lookup by client order id (before any send) reaches OKX as clOrdId
        found = account.fetch_order("BTC/USDT:USDT", "ph1")
        assert found is not None and found.exchange_order_id == "680800019749904384"
        assert server.sent("GET", "/api/v5/trade/order")[-1].query["clOrdId"] == ["ph1"]


def test_reduce_only_close_through_perphedges_adapter():
    # OKX's documented error 51603 "Order does not exist" (CONSTRUCTED envelope) for the
    # lookup before sending; the new order is then placed and acknowledged with ids only.
    missing = {"code": "51603", "msg": "Order does not exist", "data": []}
    with RecordedServer({**_routes(), "GET /api/v5/trade/order": missing}) as server:
        _md, account = adapter("okx", server)
        req = OrderRequest(
            "BTC/USDT:USDT", OrderSide.BUY, Decimal("1"), OrderType.LIMIT, "ph2",
            price=Decimal("60000"), reduce_only=True,
        )  # fmt: skip
        placed = account.place_order(req)
        assert placed.exchange_order_id == "312269865356374016"
        assert (placed.client_order_id, placed.status, placed.reduce_only) == (
            "ph2",
            OrderStatus.OPEN,
            True,
        )
        (sent,) = server.sent("POST", "/api/v5/trade/batch-orders")
        (order,) = json.loads(sent.body)
        assert (order["clOrdId"], order["reduceOnly"], order["side"]) == ("ph2", True, "buy")
