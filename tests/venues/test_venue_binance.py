"""Binance USDⓈ-M through the unmodified ccxt client, served recorded bodies from 127.0.0.1.

Bodies: ../shared/data/raw_api (GENUINE Binance responses: June 2026 fundingRate, a 2026-09-30
premiumIndex capture, BTCUSDT leverage brackets as ccxt dumped them in 2023),
../shared/data/ccxt_fixtures (GENUINE positionRisk row) and the exchangeInfo shape in
tests/fixtures/market (see NOTES.md there). Order placement is exercised against the fake
Binance server of the live tests, not against recordings, so it stays 'unverified' here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perphedge.instruments import ContractKind
from perphedge.margin import Position, Side, notional, unrealized_pnl
from perphedge.venues.registry import Capability as Cap
from tests.recorded_venue import RecordedServer, Venue, adapter, connect, open_venue, proves

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MARKET_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "market"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _routes() -> dict[str, Any]:
    raw = SHARED / "raw_api"
    ccxt_fixture = _json(SHARED / "ccxt_fixtures" / "binance_response_subset.json")
    positions = ccxt_fixture["methods"]["fetchPositions"][0]["httpResponse"]
    premium = _json(raw / "binance_fapi_v1_premiumIndex_BTCUSDT_2026-09-30.json")
    return {
        "GET /fapi/v1/exchangeInfo": _json(MARKET_FIXTURES / "binance_fapi_v1_exchangeInfo.json"),
        "GET /fapi/v1/fundingRate": _json(raw / "binance_fapi_v1_fundingRate_BTCUSDT_2026-06.json"),
        "GET /fapi/v1/premiumIndex": premium["samples"]["BTCUSDT"],
        "GET /fapi/v1/leverageBracket": _json(
            raw / "binance_fapi_v1_leverageBracket_BTCUSDT_2023.json"
        ),
        "GET /fapi/v3/positionRisk": positions,
    }


@pytest.fixture(scope="module")
def binance() -> Iterator[Venue]:
    yield from open_venue("binanceusdm", _routes())


@proves("binance", Cap.MARKETS)
def test_markets(binance):
    btc = binance.exchange.market("BTC/USDT:USDT")
    assert btc["contractSize"] == 1.0
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (0.001, 0.1)
    assert btc["limits"]["cost"]["min"] == 100.0  # MIN_NOTIONAL
    assert not binance.server.unknown


@proves("binance", Cap.FUNDING_HISTORY)
def test_funding_history_june_2026(binance):
    rows = binance.exchange.fetch_funding_rate_history("BTC/USDT:USDT")
    assert len(rows) == 90  # 30 days x 3 settlements
    assert (rows[0]["timestamp"], rows[0]["fundingRate"]) == (1780272000001, 0.00005703)
    assert rows[-1]["fundingRate"] == 0.00003327


@proves("binance", Cap.FUNDING_RATE, Cap.MARK_PRICE)
def test_premium_index(binance):
    rate = binance.exchange.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] == 0.00004558 and rate["markPrice"] == 83829.8


@proves("binance", Cap.LEVERAGE_TIERS)
def test_leverage_brackets_with_cum(binance):
    tiers = binance.exchange.fetch_market_leverage_tiers("BTC/USDT:USDT")
    assert [
        (t["minNotional"], t["maintenanceMarginRate"], t["maxLeverage"]) for t in tiers[:3]
    ] == [
        (0.0, 0.004, 125.0),
        (50_000.0, 0.005, 100.0),
        (250_000.0, 0.01, 50.0),
    ]
    # cum of bracket 3 = 50 + 250,000 x (1 % - 0.5 %) = 1,300 (Binance FAQ)
    assert float(tiers[2]["info"]["cum"]) == 1300.0


@proves("binance", Cap.POSITIONS)
def test_position(binance):
    (pos,) = binance.exchange.fetch_positions(["BTC/USDT:USDT"])
    assert pos["side"] == "long" and pos["contracts"] == 0.009 and pos["entryPrice"] == 67445.9
    assert pos["liquidationPrice"] == pytest.approx(64846.9875379)
    # maintMargin 2.43009666 = 0.4 % x notional 607.52416678 (tier 1, cum 0)
    assert pos["maintenanceMargin"] == pytest.approx(0.004 * 607.52416678)


def test_through_perphedges_adapter():
    with RecordedServer(_routes()) as server:
        md, _account = adapter("binance", server)
        tiers = md.tiers("BTC/USDT:USDT")
        assert tiers.cum_is_consistent() and tiers.tiers[2].cum == 1300.0
        assert float(md.mark_price("BTC/USDT:USDT").price) == 83829.8


@proves("binance", Cap.COIN_MARGINED)
def test_coin_margined_position_and_our_inverse_pnl():
    # GENUINE COIN-M positionRisk row (ccxt fixture); brackets from the same fixture's options,
    # as ccxt's own static tests load them; exchangeInfo shape from tests/fixtures/market.
    fixture = _json(SHARED / "ccxt_fixtures" / "binance_response_subset.json")
    routes = {
        "GET /dapi/v1/exchangeInfo": _json(MARKET_FIXTURES / "binance_dapi_v1_exchangeInfo.json"),
        "GET /dapi/v1/positionRisk": fixture["methods"]["fetchPositions"][1]["httpResponse"],
    }
    with RecordedServer(routes) as server:
        exchange = connect("binancecoinm", server)
        exchange.options["leverageBrackets"] = fixture["options"]["leverageBrackets"]
        (raw,) = exchange.fetch_positions(["BTC/USD:BTC"])
    assert (raw["side"], raw["contracts"], raw["contractSize"]) == ("short", 3.0, 100.0)
    # perphedge's inverse formulas reproduce Binance's own numbers for this position:
    # notional = Q / P = 300 / 68,234.2 = 0.00439662 BTC
    # PnL = s*Q*(1/EP - 1/P) = -300 * (1/68,911.00000037 - 1/68,234.2) = +0.00004318 BTC
    pos = Position(Side.SHORT, 3, 68911.00000037, ContractKind.INVERSE, 100.0)
    assert notional(pos, 68234.2) == pytest.approx(0.00439662, abs=5e-9)
    assert unrealized_pnl(pos, 68234.2) == pytest.approx(0.00004318, abs=5e-9)
    assert raw["unrealizedPnl"] == 0.00004318 and raw["notional"] == 0.00439662
