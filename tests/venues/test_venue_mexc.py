"""MEXC (contract API) through the unmodified ccxt client, served recorded bodies from 127.0.0.1.

Bodies: ../shared/data/venues/mexc: `contract/detail` rows = GENUINE rows of ccxt's markets
fixture (scalars stored as strings by ccxt); jkorf_* = DOC EXAMPLE, except PlaceOrder (LIKELY
GENUINE). Empty spot-symbol and currency lists are answered so that load_markets completes.

Gaps found here (stated in `perphedge exchanges`): ccxt drops MEXC's fairPrice (no mark
price); tier bounds come in contracts, not notional; a contract order's side code 2 (close
short = buy) is parsed as 'sell' and externalOid is neither parsed back nor usable by
fetch_order for swaps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from perphedge.errors import DataError
from perphedge.venues.registry import Capability as Cap
from tests.recorded_venue import (
    RecordedServer,
    Venue,
    adapter,
    disproves,
    open_venue,
    proves,
    recorded,
)


def _body(name: str) -> Any:
    return recorded("mexc", f"jkorf_FuturesApi_{name}.json")


def _routes() -> dict[str, Any]:
    subset = recorded("mexc", "ccxt_mexc_markets_swap_subset.json")["markets"]
    detail = {"success": True, "code": 0, "data": [m["info"] for m in subset.values()]}
    return {
        "GET /api/v1/contract/detail": detail,
        "GET /api/v3/exchangeInfo": {"timezone": "CST", "serverTime": 0, "symbols": []},
        "GET /api/v3/capital/config/getall": [],
        "GET /api/v1/contract/funding_rate/BTC_USDT": _body("ExchangeData_GetFundingRate"),
        "GET /api/v1/contract/funding_rate/history": _body("ExchangeData_GetFundingRateHistory"),
        "GET /api/v1/contract/ticker": _body("ExchangeData_GetTickers"),
        "GET /api/v1/private/account/assets": _body("Account_GetBalances"),
        "GET /api/v1/private/position/open_positions": _body("Trading_GetPositions"),
        "POST /api/v1/private/order/create": _body("Trading_PlaceOrder"),
        "GET /api/v1/private/order/get/102015012431820288": _body("Trading_GetOrder"),
        "POST /api/v1/private/position/change_leverage": _body("Account_SetLeverage"),
    }


@pytest.fixture(scope="module")
def mexc() -> Iterator[Venue]:
    yield from open_venue("mexc", _routes())


@proves("mexc", Cap.MARKETS)
def test_markets_to_contract_specs(mexc):
    btc = mexc.exchange.market("BTC/USDT:USDT")
    assert btc["linear"] and btc["settle"] == "USDT"
    assert btc["contractSize"] == 0.0001  # BTC per contract
    assert btc["precision"]["amount"] == 1.0  # whole contracts (volUnit 1)
    assert btc["precision"]["price"] == 0.1  # priceUnit
    assert btc["limits"]["amount"] == {"min": 1.0, "max": 530_000.0}
    assert btc["limits"]["leverage"]["max"] == 200.0
    assert mexc.exchange.market("ETH/USDT:USDT")["contractSize"] == 0.01
    assert mexc.exchange.market("SOL/USDT:USDT")["contractSize"] == 0.1
    assert not mexc.server.unknown


@proves("mexc", Cap.LEVERAGE_TIERS)
def test_tiers_are_in_contracts_not_notional(mexc):
    tiers = mexc.exchange.fetch_leverage_tiers(["BTC/USDT:USDT"])["BTC/USDT:USDT"]
    (tier,) = tiers  # riskLevelLimit 1 in this capture
    assert tier["maintenanceMarginRate"] == 0.004
    assert tier["maxLeverage"] == 200.0
    # ccxt reports riskBaseVol (530,000 contracts) as "maxNotional": in USDT that is
    # 530,000 * 0.0001 BTC = 53 BTC, i.e. 53 * price; an adapter must convert.
    assert tier["maxNotional"] == 530_000.0
    assert tier["maxNotional"] * 0.0001 == pytest.approx(53.0)


@proves("mexc", Cap.FUNDING_RATE, Cap.FUNDING_INTERVAL)
def test_current_funding_and_interval(mexc):
    rate = mexc.exchange.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] == pytest.approx(-0.000489)
    assert rate["interval"] == "8h"  # collectCycle 8 (hours)


@disproves("mexc", Cap.MARK_PRICE)
def test_ccxt_drops_the_mark_price(mexc):
    rate = mexc.exchange.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["markPrice"] is None  # the funding-rate body has no mark price
    (ticker,) = mexc.exchange.fetch_tickers(None, {"type": "swap"}).values()
    assert ticker["last"] == 31199.0
    assert ticker["markPrice"] is None  # although the body carries fairPrice 31199.5
    assert ticker["info"]["fairPrice"] == 31199.5


@proves("mexc", Cap.FUNDING_HISTORY)
def test_funding_history(mexc):
    rows = mexc.exchange.fetch_funding_rate_history("BTC/USDT:USDT")
    assert [(r["timestamp"], r["fundingRate"]) for r in rows] == [
        (1609776000000, 0.00029),  # 2021-01-04 16:00 UTC
        (1609804800000, 0.000266),  # 8 h later
    ]


@proves("mexc", Cap.BALANCES, Cap.POSITIONS)
def test_balance_and_positions(mexc):
    usdt = mexc.exchange.fetch_balance({"type": "swap"})["USDT"]
    assert (usdt["free"], usdt["total"]) == (0.03176562, 0.03176562)
    (pos,) = mexc.exchange.fetch_positions(["ETH/USDT:USDT"])
    assert pos["side"] == "long" and pos["contracts"] == 1.0  # holdVol 1 (x 0.01 ETH)
    assert pos["entryPrice"] == 1217.3 and pos["liquidationPrice"] == 1211.2
    assert pos["leverage"] == 100.0 and pos["marginMode"] == "isolated"


@proves("mexc", Cap.CREATE_ORDER, Cap.REDUCE_ONLY)
def test_reduce_only_becomes_a_close_side(mexc):
    order = mexc.exchange.create_order(
        "ETH/USDT:USDT", "limit", "buy", 1, 1200, {"reduceOnly": True, "clientOrderId": "ph1"}
    )
    assert order["id"] == "739113577038255616"
    sell = mexc.exchange.create_order(
        "ETH/USDT:USDT", "market", "sell", 2, None, {"reduceOnly": True}
    )
    assert sell["id"] == "739113577038255616"
    first, second = mexc.server.sent("POST", "/api/v1/private/order/create")
    # MEXC sides: 1 open long, 2 close short, 3 open short, 4 close long
    assert json.loads(first.body) == {
        "symbol": "ETH_USDT", "vol": 1.0, "type": 1, "openType": 2, "price": 1200.0,
        "side": 2, "externalOid": "ph1",
    }  # fmt: skip
    assert json.loads(second.body)["side"] == 4 and json.loads(second.body)["type"] == 6


@proves("mexc", Cap.FETCH_ORDER)
def test_fetch_order_and_its_gaps(mexc):
    order = mexc.exchange.fetch_order("102015012431820288", "ETH/USDT:USDT")
    assert order["status"] == "closed"  # state 3
    assert order["filled"] == 1.0 and order["average"] == 1208.35
    assert order["info"]["side"] == 2  # close short: a buy
    assert order["side"] == "sell"  # ccxt 4.5.90 maps contract side 2 to 'sell' (wrong)
    assert order["clientOrderId"] is None  # externalOid is not parsed back


@proves("mexc", Cap.SET_LEVERAGE)
def test_set_leverage(mexc):
    mexc.exchange.set_leverage(5, "ETH/USDT:USDT", {"openType": 1, "positionType": 1})
    (req,) = mexc.server.sent("POST", "/api/v1/private/position/change_leverage")
    assert '"leverage":5' in req.body and '"symbol":"ETH_USDT"' in req.body


@disproves("mexc", Cap.CLIENT_ORDER_ID)
def test_a_swap_order_cannot_be_looked_up_by_client_id(mexc):
    # ccxt reads params.clientOrderId for spot only; for swaps it asks for /order/get/None.
    with pytest.raises(ccxt.ExchangeError):
        mexc.exchange.fetch_order(None, "ETH/USDT:USDT", {"clientOrderId": "ph1"})
    assert "GET /api/v1/private/order/get/None" in mexc.server.unknown


def test_through_perphedges_adapter():
    with RecordedServer(_routes()) as server:
        md, account = adapter("mexc", server)
        btc = md.instrument("BTC/USDT:USDT")
        assert (btc.contract_size, btc.qty_step, btc.price_tick) == (0.0001, 1.0, 0.1)
        assert btc.max_leverage == 200.0 and btc.taker_fee == 0.0002
        quote = md.funding_rate("BTC/USDT:USDT")
        assert (quote.rate_per_interval, quote.interval_hours) == (-0.000489, 8.0)
        with pytest.raises(DataError, match="no mark"):  # the gap `perphedge exchanges` states
            md.mark_price("BTC/USDT:USDT")
        (usdt,) = account.balances()
        assert usdt.total == Decimal("0.03176562")
        (pos,) = account.positions(["ETH/USDT:USDT"])
        assert pos.contracts == Decimal("1") and pos.liquidation_price == Decimal("1211.2")
