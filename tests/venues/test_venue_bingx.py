"""BingX through the unmodified ccxt client, served recorded bodies from 127.0.0.1.

Bodies: ../shared/data/venues/bingx (ccxt fixture subset: GENUINE unless noted; jkorf: DOC
EXAMPLE unless noted) and tests/fixtures/venues/bingx/contracts_extra.json (CONSTRUCTED contract
rows for the symbols of the recorded bodies). Empty spot-symbol and currency lists are answered
so that load_markets completes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from perphedge.ports import OrderRequest, OrderSide, OrderType
from perphedge.venues.registry import Capability as Cap
from tests.recorded_venue import (
    RecordedServer,
    Venue,
    adapter,
    ccxt_case,
    open_venue,
    proves,
    recorded,
)


def _case(method: str, description: str) -> Any:
    return ccxt_case("bingx", method, description)["httpResponse"]


def _routes() -> dict[str, Any]:
    linear = recorded("bingx", "jkorf_PerpetualFutures_ExchangeData_GetContracts.json")
    inverse = _case("fetchInverseSwapMarkets", "active Coin-M contract metadata")
    extra = recorded("bingx", "contracts_extra.json")
    linear = {**linear, "data": linear["data"] + extra["linear"]}
    inverse = {**inverse, "data": inverse["data"] + extra["inverse"]}

    def positions(req: Any) -> Any:
        return _case("fetchPositions", "fetch position")

    return {
        "GET /openApi/swap/v2/quote/contracts": linear,
        "GET /openApi/cswap/v1/market/contracts": inverse,
        "GET /openApi/spot/v1/common/symbols": {"code": 0, "msg": "", "data": {"symbols": []}},
        "GET /openApi/wallets/v1/capital/config/getall": {"code": 0, "timestamp": 0, "data": []},
        "GET /openApi/swap/v2/quote/premiumIndex": _case(
            "fetchFundingRate", "fetch funding rate linear"
        ),
        "GET /openApi/cswap/v1/market/premiumIndex": _case(
            "fetchFundingRate", "fetch funding rate inverse"
        ),
        "GET /openApi/swap/v2/quote/fundingRate": recorded(
            "bingx", "jkorf_PerpetualFutures_ExchangeData_GetFundingRateHistory.json"
        ),
        "GET /openApi/swap/v1/maintMarginRatio": _case(
            "fetchMarketLeverageTiers", "fetch leverage tiers for ETH/USDT:USDT market"
        ),
        "GET /openApi/swap/v3/user/balance": _case("fetchBalance", "swap fetch balance"),
        "GET /openApi/swap/v2/user/positions": positions,
        "GET /openApi/cswap/v1/user/positions": _case("fetchPositions", "fetch inverse position"),
        "POST /openApi/swap/v2/trade/order": _case("createOrder", "swap create order limit"),
        "GET /openApi/swap/v2/trade/order": _case("fetchOrder", "fetch swap order"),
        "POST /openApi/swap/v2/trade/leverage": recorded(
            "bingx", "jkorf_PerpetualFutures_Account_SetLeverage.json"
        ),
    }


@pytest.fixture(scope="module")
def bingx() -> Iterator[Venue]:
    yield from open_venue("bingx", _routes())


@proves("bingx", Cap.MARKETS, Cap.COIN_MARGINED)
def test_markets_to_contract_specs(bingx):
    btc = bingx.exchange.market("BTC/USDT:USDT")
    assert btc["linear"] and btc["swap"] and btc["settle"] == "USDT"
    assert btc["contractSize"] == 1.0
    assert btc["precision"]["amount"] == 0.0001  # quantityPrecision 4
    assert btc["precision"]["price"] == 0.1  # pricePrecision 1
    assert btc["limits"]["amount"]["min"] == 0.0001  # tradeMinQuantity
    assert btc["taker"] == 0.0005 and btc["maker"] == 0.0002
    assert int(btc["info"]["maxLongLeverage"]) == 125  # ccxt leaves limits.leverage empty
    inverse = bingx.exchange.market("BTC/USD:BTC")  # GENUINE coin-M contract row
    assert inverse["inverse"] and inverse["settle"] == "BTC"
    assert inverse["contractSize"] == 100.0  # 100 USD per contract
    assert not bingx.server.unknown


@proves("bingx", Cap.MARK_PRICE, Cap.FUNDING_RATE)
def test_current_funding_and_mark_price(bingx):
    rate = bingx.exchange.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] == pytest.approx(0.000049)
    assert rate["markPrice"] == pytest.approx(104701.1)
    assert rate["nextFundingTimestamp"] == 1749830400000  # 2025-06-13 16:00 UTC
    inverse = bingx.exchange.fetch_funding_rate("BTC/USD:BTC")
    assert inverse["fundingRate"] == pytest.approx(0.0001)
    assert inverse["markPrice"] == pytest.approx(76881.8)
    (req,) = bingx.server.sent("GET", "/openApi/swap/v2/quote/premiumIndex")
    assert req.query["symbol"] == ["BTC-USDT"]


@proves("bingx", Cap.FUNDING_INTERVAL)
@pytest.mark.parametrize("hours", [1, 2, 4, 8])
def test_funding_interval_is_the_venues_own(hours):
    # ccxt-edited variants of the GENUINE premiumIndex body (values MOCK, shape valid)
    body = _case("fetchFundingRate", f"linear funding metadata {hours}h")
    routes = {**_routes(), "GET /openApi/swap/v2/quote/premiumIndex": body}
    for venue in open_venue("bingx", routes):
        rate = venue.exchange.fetch_funding_rate("BTC/USDT:USDT")
        assert rate["interval"] == f"{hours}h"


@proves("bingx", Cap.FUNDING_HISTORY)
def test_funding_history(bingx):
    rows = bingx.exchange.fetch_funding_rate_history("QNT/USDT:USDT")  # DOC EXAMPLE body
    assert [(r["timestamp"], r["fundingRate"]) for r in rows] == [
        (1702684800000, 0.000128),  # 2023-12-16 00:00 UTC
        (1702713600000, 0.000271),  # 08:00 UTC: 8 h later
    ]


@proves("bingx", Cap.LEVERAGE_TIERS)
def test_leverage_tiers_and_maintenance_amount(bingx):
    tiers = bingx.exchange.fetch_market_leverage_tiers("ETH/USDT:USDT")  # GENUINE, 25 tiers
    assert len(tiers) == 25
    assert (tiers[0]["minNotional"], tiers[0]["maxNotional"]) == (0.0, 900_000.0)
    assert tiers[0]["maintenanceMarginRate"] == pytest.approx(0.0033)
    # BingX's maintAmount follows the Binance recursion cum_k = cum_k-1 + floor_k*(mmr_k-mmr_k-1)
    cum, prev_mmr = 0.0, 0.0
    for low, high in itertools.pairwise(tiers):
        assert low["maxNotional"] == high["minNotional"]  # contiguous
    for tier in tiers:
        cum += tier["minNotional"] * (tier["maintenanceMarginRate"] - prev_mmr)
        prev_mmr = tier["maintenanceMarginRate"]
        assert cum == pytest.approx(float(tier["info"]["maintAmount"]), rel=1e-9, abs=1e-6)
    assert float(tiers[-1]["info"]["maintAmount"]) == 262_535_750.0


@proves("bingx", Cap.BALANCES)
def test_balance(bingx):
    balance = bingx.exchange.fetch_balance({"type": "swap"})
    # GENUINE: availableMargin 193.7609 + usedMargin 1.0602 = 194.8211
    assert balance["USDT"]["free"] == pytest.approx(193.7609)
    assert balance["USDT"]["used"] == pytest.approx(1.0602)
    assert balance["USDT"]["total"] == pytest.approx(194.8211)


@proves("bingx", Cap.POSITIONS, Cap.HEDGE_MODE)
def test_positions(bingx):
    (pos,) = bingx.exchange.fetch_positions(["LTC/USDT:USDT"])  # GENUINE, hedge-mode LONG leg
    assert pos["side"] == "long" and pos["contracts"] == pytest.approx(0.1)
    assert pos["entryPrice"] == pytest.approx(95.61)
    assert pos["markPrice"] == pytest.approx(95.62)
    assert pos["leverage"] == 5 and pos["marginMode"] == "cross"
    assert pos["info"]["positionSide"] == "LONG"
    (inv,) = bingx.exchange.fetch_positions(["SOL/USD:SOL"])  # GENUINE coin-M position
    assert inv["side"] == "long" and inv["contracts"] == pytest.approx(1.0)
    assert inv["liquidationPrice"] == pytest.approx(23.968303426677032)


@proves("bingx", Cap.CREATE_ORDER, Cap.REDUCE_ONLY)
def test_reduce_only_close_with_client_order_id(bingx):
    order = bingx.exchange.create_order(
        "LTC/USDT:USDT", "limit", "sell", 0.17, 30, {"reduceOnly": True, "clientOrderId": "ph1"}
    )
    assert order["id"] == "1735119588833849344"  # GENUINE create body
    (req,) = bingx.server.sent("POST", "/openApi/swap/v2/trade/order")
    sent = {k: v[0] for k, v in req.query.items()}
    assert sent["symbol"] == "LTC-USDT" and sent["side"] == "SELL" and sent["type"] == "LIMIT"
    assert sent["quantity"] == "0.17" and sent["price"] == "30"
    assert sent["reduceOnly"] == "true"
    assert sent["clientOrderID"] == "ph1"


@proves("bingx", Cap.FETCH_ORDER)
def test_fetch_order_reports_reduce_only_and_client_id(bingx):
    order = bingx.exchange.fetch_order("1770683446830788608", "LTC/USDT:USDT")  # GENUINE
    assert order["status"] == "closed" and order["filled"] == pytest.approx(0.1)
    assert order["average"] == pytest.approx(83.71)
    assert order["reduceOnly"] is True
    assert order["clientOrderId"] == "b39b0316-1f99-4099-8f4b-bac0f46731f8"


@proves("bingx", Cap.SET_LEVERAGE)
def test_set_leverage(bingx):
    bingx.exchange.set_leverage(8, "ETH/USDT:USDT", {"side": "BOTH"})
    (req,) = bingx.server.sent("POST", "/openApi/swap/v2/trade/leverage")
    assert req.query["leverage"] == ["8"] and req.query["symbol"] == ["ETH-USDT"]


def test_lookup_by_client_id_also_sends_a_bogus_order_id(bingx):
    # Not a proof: ccxt passes clientOrderId through but also sends orderId=None as text, and
    # no recording shows how BingX answers that. CLIENT_ORDER_ID stays 'unverified'.
    cid = "b39b0316-1f99-4099-8f4b-bac0f46731f8"
    order = bingx.exchange.fetch_order(None, "LTC/USDT:USDT", {"clientOrderId": cid})
    assert order["clientOrderId"] == cid
    req = bingx.server.sent("GET", "/openApi/swap/v2/trade/order")[-1]
    assert req.query["clientOrderId"] == [cid]
    assert req.query["orderId"] == ["None"]


def test_through_perphedges_adapter():
    with RecordedServer(_routes()) as server:
        md, account = adapter("bingx", server)
        eth = md.instrument("ETH/USDT:USDT")
        assert (eth.contract_size, eth.qty_step, eth.price_tick) == (1.0, 0.01, 0.01)
        assert (eth.min_qty, eth.min_notional, eth.taker_fee) == (0.01, 2.0, 0.0005)
        assert eth.max_leverage == 125.0  # maxLongLeverage, read from the raw row by parse
        # 25 recorded brackets; BingX's own maintAmount kept (it equals the recursion)
        assert len(eth.tiers.tiers) == 25 and eth.tiers.cum_is_consistent()
        assert eth.tiers.tiers[-1].cum == 262_535_750.0
        assert eth.tiers.tiers[0].max_leverage == 125.0  # none sent: 1/(2*0.33 %) = 151, capped
        quote = md.funding_rate("BTC/USDT:USDT")
        assert (quote.rate_per_interval, quote.interval_hours) == (0.000049, 8.0)
        assert md.mark_price("BTC/USDT:USDT").price == Decimal("104701.1")
        history = md.funding_history("QNT/USDT:USDT", 1_702_600_000_000, 1_702_800_000_000)
        assert history.rate.tolist() == [0.000128, 0.000271]
        (usdt,) = account.balances()
        assert (usdt.currency, usdt.total, usdt.free) == (
            "USDT",
            Decimal("194.8211"),
            Decimal("193.7609"),
        )
        (pos,) = account.positions(["LTC/USDT:USDT"])
        assert pos.contracts == Decimal("0.1") and pos.entry_price == Decimal("95.61")


def test_reduce_only_close_through_perphedges_adapter():
    # The lookup before sending is answered with BingX's error 80016 "order does not exist"
    # (CONSTRUCTED envelope); the order then goes out once, reduce-only, with our client id.
    missing = {"code": 80016, "msg": "order does not exist", "data": {}}
    with RecordedServer({**_routes(), "GET /openApi/swap/v2/trade/order": missing}) as server:
        _md, account = adapter("bingx", server)
        req = OrderRequest(
            "LTC/USDT:USDT", OrderSide.SELL, Decimal("0.17"), OrderType.LIMIT, "ph3",
            price=Decimal("30"), reduce_only=True,
        )  # fmt: skip
        placed = account.place_order(req)
        assert placed.exchange_order_id == "1735119588833849344"  # GENUINE create answer
        assert (placed.client_order_id, placed.qty, placed.reduce_only) == (
            "ph3",
            Decimal("0.17"),
            True,
        )
        (sent,) = server.sent("POST", "/openApi/swap/v2/trade/order")
        assert sent.query["clientOrderID"] == ["ph3"] and sent.query["reduceOnly"] == ["true"]
