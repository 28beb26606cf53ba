"""WEEX (contract API v3) through the unmodified ccxt client, served recorded bodies locally.

Bodies: ccxt's WEEX fixture subset in ../shared/data/venues/weex (GENUINE, 2026) for funding,
mark price, positions, balance, order query, cancel and leverage; the contract spec is the WEEX
documentation sample (jkorf, DOC EXAMPLE) plus CONSTRUCTED ETHUSDT/DOGEUSDT rows
(tests/fixtures/venues/weex/exchange_info_extra.json). WEEX has no recorded plain swap
createOrder: placement is exercised on a MOCK body and therefore stays 'unverified'.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from perphedge.venues.registry import Capability as Cap
from tests.recorded_venue import (
    RecordedServer,
    Venue,
    adapter,
    ccxt_case,
    disproves,
    open_venue,
    proves,
    recorded,
)


def _case(method: str, description: str) -> Any:
    return ccxt_case("weex", method, description)["httpResponse"]


def _routes() -> dict[str, Any]:
    info = recorded("weex", "jkorf_Futures_ExchangeData_GetExchangeInfo.json")
    extra = recorded("weex", "exchange_info_extra.json")
    return {
        "GET /capi/v3/market/exchangeInfo": {**info, "symbols": info["symbols"] + extra["symbols"]},
        "GET /api/v3/exchangeInfo": {"symbols": []},
        "GET /api/v3/coins": [],
        "GET /capi/v3/market/premiumIndex": _case("fetchFundingRate", "fetch funding rate"),
        "GET /capi/v3/market/symbolPrice": _case("fetchMarkPrice", "fetch mark price"),
        "GET /capi/v3/market/fundingRate": _case(
            "fetchFundingRateHistory", "fetch funding rate history"
        ),
        "GET /capi/v3/account/position/allPosition": _case("fetchPositions", "default"),
        "GET /capi/v3/account/balance": _case("fetchBalance", "fetch contract balance"),
        "GET /capi/v3/order": _case("fetchOrder", "fetch swap order"),
        "DELETE /capi/v3/batchOrders": _case("cancelOrders", "cancel swap orders by ids"),
        "POST /capi/v3/account/leverage": _case("setLeverage", "set cross leverage"),
        "POST /capi/v3/order": recorded("weex", "jkorf_Futures_Trading_PlaceOrder.json"),  # MOCK
    }


@pytest.fixture(scope="module")
def weex() -> Iterator[Venue]:
    yield from open_venue("weex", _routes())


@proves("weex", Cap.MARKETS)
def test_markets_from_the_documented_spec(weex):
    btc = weex.exchange.market("BTC/USDT:USDT")  # DOC EXAMPLE row
    assert btc["linear"] and btc["settle"] == "USDT"
    assert btc["contractSize"] == 0.000001  # contractVal
    assert btc["precision"]["amount"] == 0.000001  # quantityPrecision 6
    assert btc["precision"]["price"] == 0.1  # pricePrecision 1
    assert btc["limits"]["leverage"]["max"] == 408.0
    assert btc["taker"] == 0.001
    assert not weex.server.unknown


@proves("weex", Cap.FUNDING_RATE, Cap.FUNDING_INTERVAL, Cap.MARK_PRICE)
def test_funding_rate_interval_and_mark(weex):
    rate = weex.exchange.fetch_funding_rate("ETH/USDT:USDT")
    assert rate["fundingRate"] == pytest.approx(0.00001031)
    assert rate["markPrice"] == pytest.approx(2128.98)
    assert rate["interval"] == "8h"  # collectCycle 480 minutes
    assert rate["nextFundingTimestamp"] == 1775606400000
    assert weex.exchange.fetch_mark_price("ETH/USDT:USDT")["markPrice"] == pytest.approx(1927.49)


@proves("weex", Cap.FUNDING_HISTORY)
def test_funding_history(weex):
    (row,) = weex.exchange.fetch_funding_rate_history("ETH/USDT:USDT")
    assert (row["timestamp"], row["fundingRate"]) == (1775577600000, 0.00001031)  # 2026-04-07 16:00


@proves("weex", Cap.BALANCES, Cap.POSITIONS)
def test_balance_and_position(weex):
    usdt = weex.exchange.fetch_balance({"type": "swap"})["USDT"]
    assert (usdt["free"], usdt["total"]) == (20.0, 20.0)
    (pos,) = weex.exchange.fetch_positions(["ETH/USDT:USDT"])
    # openValue 82.06416 / size 0.036 = entry 2279.56
    assert pos["side"] == "long" and pos["contracts"] == pytest.approx(0.036)
    assert pos["entryPrice"] == pytest.approx(82.06416 / 0.036)
    assert pos["liquidationPrice"] == pytest.approx(2019.83)
    assert pos["leverage"] == 20.0 and pos["marginMode"] == "cross"


@proves("weex", Cap.FETCH_ORDER, Cap.CANCEL_ORDER)
def test_order_query_and_cancel(weex):
    order = weex.exchange.fetch_order("737191855984214376", "DOGE/USDT:USDT")
    assert order["status"] == "open" and order["side"] == "sell"
    assert order["reduceOnly"] is True and order["amount"] == 100.0
    assert order["clientOrderId"] == "41b45025-6f69-40d1-a9d1-908d92ac35e9"
    (cancelled,) = weex.exchange.cancel_orders(["737191914192765288"], "DOGE/USDT:USDT")
    assert cancelled["id"] == "737191914192765288"


@proves("weex", Cap.SET_LEVERAGE)
def test_set_leverage(weex):
    weex.exchange.set_leverage(11, "DOGE/USDT:USDT", {"marginMode": "cross"})
    (req,) = weex.server.sent("POST", "/capi/v3/account/leverage")
    assert json.loads(req.body) == {
        "symbol": "DOGEUSDT",
        "marginType": "CROSSED",
        "crossLeverage": 11,
    }


def test_reduce_only_order_request_on_a_mock_answer(weex):
    # Request shape only: the answer is a MOCK body, so create_order stays 'unverified'.
    order = weex.exchange.create_order(
        "DOGE/USDT:USDT", "limit", "sell", 100, 0.1, {"reduceOnly": True, "clientOrderId": "ph1"}
    )
    assert order["id"] == "702345678901234567"
    (req,) = weex.server.sent("POST", "/capi/v3/order")
    sent = json.loads(req.body)
    assert sent["reduceOnly"] is True and sent["newClientOrderId"] == "ph1"
    assert (sent["side"], sent["type"], sent["quantity"], sent["price"]) == (
        "SELL",
        "LIMIT",
        "100",
        "0.1",
    )


@disproves("weex", Cap.CLIENT_ORDER_ID)
def test_a_swap_order_cannot_be_looked_up_by_client_id(weex):
    with pytest.raises(ccxt.ArgumentsRequired, match="requires an id"):
        weex.exchange.fetch_order(None, "DOGE/USDT:USDT", {"clientOrderId": "ph1"})


def test_through_perphedges_adapter():
    with RecordedServer(_routes()) as server:
        md, account = adapter("weex", server)
        eth = md.instrument("ETH/USDT:USDT")  # CONSTRUCTED spec row
        assert eth.tiers.source.startswith("assumed")  # WEEX publishes no tiers through ccxt
        quote = md.funding_rate("ETH/USDT:USDT")
        assert (quote.rate_per_interval, quote.interval_hours) == (0.00001031, 8.0)
        assert md.mark_price("ETH/USDT:USDT").price == Decimal("2128.98")
        history = md.funding_history("ETH/USDT:USDT", 1_775_500_000_000, 1_775_600_000_000)
        assert history.rate.tolist() == [0.00001031] and history.mark.tolist() == [2079.26]
        (usdt,) = account.balances()
        assert usdt.total == Decimal("20")
        (pos,) = account.positions(["ETH/USDT:USDT"])
        assert pos.contracts == Decimal("0.036") and pos.liquidation_price == Decimal("2019.83")
