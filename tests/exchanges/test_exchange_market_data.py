"""The ccxt market-data adapter, fed recorded exchange responses from a server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.errors import (
    CapabilityError,
    InputError,
    PermanentExchangeError,
    TemporaryExchangeError,
)
from perphedge.exchanges import parse
from perphedge.exchanges.client import Credentials, ccxt_id, credentials_for, make_exchange
from perphedge.exchanges.errors import backoff_delays, call, translate
from perphedge.exchanges.market_data import CcxtMarketData, walk_windows
from perphedge.instruments import ContractKind
from perphedge.ports import MarketData
from perphedge.store.market import MarketStore
from tests.market_server import RAW_API, BinanceMarketData, MarketServer

BTC = "BTC/USDT:USDT"
H8 = 8 * 3_600_000
JUNE_2026 = (1780272000000, 1782864000000)  # 2026-06-01 00:00 to 2026-07-01 00:00 UTC
SAMPLE_STORE = MarketStore(Path("/nonexistent/never-created.duckdb"))  # bundled sample
VENUES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "venues"


@pytest.fixture(scope="module")
def server() -> Iterator[MarketServer]:
    data = BinanceMarketData.from_sample()
    data.add_recorded_june_2026()
    with MarketServer(data) as srv:
        yield srv


@pytest.fixture
def md(server: MarketServer) -> CcxtMarketData:
    server.requests.clear()
    ex = make_exchange("binance", credentials=Credentials("k", "s"), base_url=server.base_url)
    return CcxtMarketData("binance", exchange=ex, base_url=server.base_url, sleep=lambda s: None)


def test_binance_instrument_from_exchange_info_and_recorded_brackets(md: CcxtMarketData) -> None:
    perp = md.instrument(BTC)
    assert (perp.base, perp.quote, perp.settle, perp.kind) == ("BTC", "USDT", "USDT", "linear")
    assert (perp.qty_step, perp.price_tick, perp.min_qty, perp.min_notional) == (
        0.001,
        0.1,
        0.001,
        100.0,
    )
    assert perp.contract_size == 1.0
    raw = json.loads((RAW_API / "binance_fapi_v1_leverageBracket_BTCUSDT_2023.json").read_text())
    brackets = raw[0]["brackets"]
    assert len(perp.tiers.tiers) == len(brackets) == 10
    for tier, b in zip(perp.tiers.tiers, brackets, strict=True):
        assert tier.floor == float(b["notionalFloor"])
        assert tier.mmr == float(b["maintMarginRatio"])
        assert tier.cum == float(b["cum"])  # Binance sends cum: taken as given
        assert tier.max_leverage == float(b["initialLeverage"])
    # the recorded cum follows the recursion: 50 = 50,000 x (0.005 - 0.004)
    assert perp.tiers.cum_is_consistent()


def test_current_funding_and_prices_from_recorded_premium_index(md: CcxtMarketData) -> None:
    quote = md.funding_rate(BTC)
    # recorded: lastFundingRate "0.00004558", nextFundingTime 1790784000000, time 1790767764002
    assert quote.rate_per_interval == 0.00004558
    assert quote.next_funding_ms == 1790784000000
    assert quote.interval_hours == 8.0  # not in fundingInfo: the venue default
    snap = md.prices(BTC)
    assert snap.mark == Decimal("83829.80000000")
    assert snap.index == Decimal("83844.93847826")
    assert snap.last == Decimal("83832.50")
    assert md.mark_price(BTC).price == Decimal("83829.8")


def test_funding_history_equals_the_recorded_june_2026_body(
    md: CcxtMarketData, server: MarketServer
) -> None:
    raw = json.loads((RAW_API / "binance_fapi_v1_fundingRate_BTCUSDT_2026-06.json").read_text())
    points = md.funding_history(BTC, *JUNE_2026)
    assert len(points) == len(raw) == 90
    # times floored to the minute: 1780272000001 -> 1780272000000
    assert points.ts_ms.tolist() == [r["fundingTime"] // 60_000 * 60_000 for r in raw]
    assert points.rate.tolist() == [float(r["fundingRate"]) for r in raw]
    assert points.mark.tolist() == [float(r["markPrice"]) for r in raw]
    assert len(server.data_requests("/fapi/v1/fundingRate")) == 1  # 90 rows fit one page


def test_funding_history_paginates_from_2020(md: CcxtMarketData, server: MarketServer) -> None:
    since, until = 1577836800000, 1767225600000  # 2020-01-01 to 2026-01-01
    points = md.funding_history(BTC, since, until)
    # 6 years: 2020 and 2024 are leap years -> 2192 days x 3 settlements
    assert len(points) == 2192 * 3
    assert np.all(np.diff(points.ts_ms) == H8)
    calls = server.data_requests("/fapi/v1/fundingRate")
    # windows of 999 settlements: ceil(6576 / 999) = 7 requests, contiguous, no overlap
    assert len(calls) == 7
    starts = [int(c["startTime"]) for c in calls]
    ends = [int(c["endTime"]) for c in calls]
    assert starts[0] == since and ends[-1] == until - 1
    assert all(e + 1 == s for e, s in zip(ends, starts[1:], strict=False))


def test_mark_and_spot_candles_paginate(md: CcxtMarketData, server: MarketServer) -> None:
    since, until = 1577836800000, 1672531200000  # 2020-01-01 to 2023-01-01: 1096 days
    marks = md.ohlcv(BTC, "mark", "8h", since, until)
    assert len(marks) == 1096 * 3
    assert len(server.data_requests("/fapi/v1/markPriceKlines")) == 4  # ceil(3288 / 999)
    spot = md.ohlcv("BTC/USDT", "spot", "8h", since, until)
    assert len(spot) == 1096 * 3
    assert np.all(spot.high >= np.maximum(spot.open, spot.close))


def test_temporary_errors_are_retried_with_backoff(server: MarketServer) -> None:
    slept: list[float] = []
    md = CcxtMarketData("binance", base_url=server.base_url, sleep=slept.append)
    server.inject("/fapi/v1/fundingRate", 503, times=2)
    assert len(md.funding_history(BTC, *JUNE_2026)) == 90
    assert slept == [0.5, 1.0]
    server.inject("/fapi/v1/fundingRate", 503, times=4)
    with pytest.raises(TemporaryExchangeError, match="binance: fetch funding history failed"):
        md.funding_history(BTC, *JUNE_2026)
    assert slept == [0.5, 1.0, 0.5, 1.0, 2.0]  # 4 attempts, 3 waits, then give up


def test_unknown_and_non_perpetual_symbols(md: CcxtMarketData) -> None:
    with pytest.raises(InputError, match=r"symbol='DOGE/USDT:USDT'.*BTC/USDT:USDT"):
        md.funding_history("DOGE/USDT:USDT", *JUNE_2026)
    with pytest.raises(InputError, match="symbol='BTC/USDT'"):
        md.instrument("BTC/USDT")


def test_tiers_fall_back_to_the_bundled_table_without_credentials(server: MarketServer) -> None:
    md = CcxtMarketData("binance", base_url=server.base_url, sleep=lambda s: None)
    md._ex.apiKey = ""  # no key: Binance's leverageBracket endpoint is private
    md._ex.secret = ""
    tiers = md.tiers(BTC)
    assert "freqtrade" in tiers.source  # perphedge.venues.tier_tables' bundled binance:BTCUSDT
    assert not any(p == "/fapi/v1/leverageBracket" for p, _ in server.requests[-1:])


def test_okx_inverse_funding_history_through_ccxt(tmp_path: Path) -> None:
    """OKX answers newest first and ccxt reads `realizedRate`; the window end goes as `after`."""
    body = json.loads(
        (VENUES / "okx" / "jkorf_UnifiedApi_ExchangeData_GetFundingRateHistory.json").read_text()
    )
    with MarketServer(BinanceMarketData(), {"/api/v5/public/funding-rate-history": body}) as srv:
        ex = make_exchange("okx", "inverse", base_url=srv.base_url)
        ex.set_markets([_okx_btc_usd_swap()])
        md = CcxtMarketData("okx", "inverse", exchange=ex, sleep=lambda s: None)
        points = md.funding_history("BTC/USD:BTC", 1703030400000, 1703059200001)
        assert points.ts_ms.tolist() == [1703030400000, 1703059200000]  # sorted oldest first
        assert points.rate.tolist() == [0.0002279755647389, 0.0000746572360545]
        assert np.isnan(points.mark).all()
        (params,) = [p for path, p in srv.requests if path.endswith("funding-rate-history")]
        assert params["instId"] == "BTC-USD-SWAP"
        assert params["after"] == "1703059200000"
        assert params["limit"] == "100"


def test_bybit_funding_history_through_ccxt() -> None:
    body = json.loads(
        (VENUES / "bybit" / "jkorf_V5Api_ExchangeData_GetFundingRateHistory.json").read_text()
    )
    with MarketServer(BinanceMarketData(), {"/v5/market/funding/history": body}) as srv:
        ex = make_exchange("bybit", base_url=srv.base_url)
        ex.set_markets([_bybit_eth_perp()])
        md = CcxtMarketData("bybit", exchange=ex, sleep=lambda s: None)
        points = md.funding_history("ETH/USDC:USDC", 1672041600000, 1672041600000 + H8)
        assert points.ts_ms.tolist() == [1672041600000]
        assert points.rate.tolist() == [0.0001]
        (params,) = [p for path, p in srv.requests if path == "/v5/market/funding/history"]
        assert (params["category"], params["symbol"], params["limit"]) == (
            "linear",
            "ETHPERP",
            "200",
        )
        assert params["startTime"] == "1672041600000"


def test_inverse_market_parses_contract_size_and_kind() -> None:
    perp = parse.perpetual(_okx_btc_usd_swap(), "okx")
    assert perp.kind is ContractKind.INVERSE
    assert (perp.contract_size, perp.settle, perp.qty_step, perp.price_tick) == (
        100.0,
        "BTC",
        1.0,
        0.1,
    )


def test_tier_cum_derived_by_recursion_when_venue_omits_it() -> None:
    raw = [
        {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004, "maxLeverage": 125},
        {"minNotional": 50_000, "maxNotional": 250_000, "maintenanceMarginRate": 0.005, "maxLeverage": 100},
        {"minNotional": 250_000, "maxNotional": None, "maintenanceMarginRate": 0.01, "maxLeverage": 50},
    ]  # fmt: skip
    table = parse.tier_table(raw, "test")
    # cum_2 = 0 + 50,000 x (0.005 - 0.004) = 50; cum_3 = 50 + 250,000 x (0.01 - 0.005) = 1,300
    # (exactly Binance's recorded cum for BTCUSDT brackets 2 and 3)
    assert [t.cum for t in table.tiers] == pytest.approx([0.0, 50.0, 1300.0], abs=1e-9)
    assert table.tiers[-1].cap == float("inf")


@pytest.mark.parametrize(
    ("error", "expected", "needle"),
    [
        (ccxt.RequestTimeout("slow"), TemporaryExchangeError, "RequestTimeout"),
        (ccxt.RateLimitExceeded("429"), TemporaryExchangeError, "try again later"),
        (ccxt.ExchangeNotAvailable("down"), TemporaryExchangeError, "ExchangeNotAvailable"),
        (ccxt.OperationFailed("-1001 internal"), TemporaryExchangeError, "OperationFailed"),
        (ccxt.AuthenticationError("bad key"), PermanentExchangeError, "check the API key"),
        (ccxt.BadSymbol("no such"), PermanentExchangeError, "unknown market"),
        (ccxt.NotSupported("nope"), CapabilityError, "does not support"),
        (ccxt.InsufficientFunds("poor"), PermanentExchangeError, "poor"),
        (ccxt.NullResponse("empty"), PermanentExchangeError, "returned no data"),
    ],
)
def test_ccxt_errors_are_translated_once(error: Exception, expected: type, needle: str) -> None:
    got = translate(error, "binance", "do it")
    assert type(got) is expected
    assert needle in str(got)
    with pytest.raises(expected) as info:
        call(lambda: (_ for _ in ()).throw(error), "binance", "do it", sleep=lambda s: None)
    assert info.value.__cause__ is error


def test_permanent_errors_are_not_retried() -> None:
    tries: list[int] = []

    def boom() -> Any:
        tries.append(1)
        raise ccxt.AuthenticationError("invalid key")

    with pytest.raises(PermanentExchangeError):
        call(boom, "bybit", "fetch balance", sleep=lambda s: pytest.fail("slept"))
    assert tries == [1]
    assert backoff_delays(6, 0.5, 3.0) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_credentials_from_env_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPHEDGE_OKX_API_KEY", "key-123")
    monkeypatch.setenv("PERPHEDGE_OKX_SECRET", "secret-456")
    monkeypatch.setenv("PERPHEDGE_OKX_PASSWORD", "pass-789")
    creds = credentials_for("okx", use_keyring=False)
    assert creds is not None
    assert creds.ccxt_config() == {
        "apiKey": "key-123",
        "secret": "secret-456",
        "password": "pass-789",
    }
    for secret in ("key-123", "secret-456", "pass-789"):
        assert secret not in repr(creds)
    monkeypatch.delenv("PERPHEDGE_OKX_SECRET")
    assert credentials_for("okx", use_keyring=False) is None


def test_venue_routing_and_rate_limiter() -> None:
    assert ccxt_id("binance") == "binanceusdm"
    assert ccxt_id("binance", "inverse") == "binancecoinm"
    assert ccxt_id("binance", "spot") == "binance"
    assert make_exchange("bybit", use_keyring=False).enableRateLimit is True
    with pytest.raises(CapabilityError, match="weex offers no inverse markets"):
        ccxt_id("weex", "inverse")
    with pytest.raises(InputError, match="exchange='kraken'"):
        ccxt_id("kraken")


def _okx_btc_usd_swap() -> dict[str, Any]:
    """ccxt's market structure for OKX BTC-USD-SWAP (ctVal 100 USD, lot 1, tick 0.1)."""
    return {
        "id": "BTC-USD-SWAP", "symbol": "BTC/USD:BTC", "base": "BTC", "quote": "USD",
        "settle": "BTC", "baseId": "BTC", "quoteId": "USD", "settleId": "BTC", "type": "swap",
        "spot": False, "margin": False, "swap": True, "future": False, "option": False,
        "active": True, "contract": True, "linear": False, "inverse": True,
        "contractSize": 100.0, "precision": {"amount": 1.0, "price": 0.1},
        "limits": {"amount": {"min": 1.0}, "leverage": {"max": 125.0}, "cost": {}},
        "maker": 0.0002, "taker": 0.0005, "info": {"instId": "BTC-USD-SWAP", "instFamily": "BTC-USD"},
    }  # fmt: skip


def _bybit_eth_perp() -> dict[str, Any]:
    """ccxt's market structure for Bybit's USDC perpetual ETHPERP (linear)."""
    return {
        "id": "ETHPERP", "symbol": "ETH/USDC:USDC", "base": "ETH", "quote": "USDC",
        "settle": "USDC", "baseId": "ETH", "quoteId": "USDC", "settleId": "USDC", "type": "swap",
        "spot": False, "margin": False, "swap": True, "future": False, "option": False,
        "active": True, "contract": True, "linear": True, "inverse": False, "contractSize": 1.0,
        "precision": {"amount": 0.01, "price": 0.05}, "limits": {"amount": {"min": 0.01}},
        "info": {"symbol": "ETHPERP", "fundingInterval": 480},
    }  # fmt: skip


def test_binance_coin_m_contracts_funding_and_candles() -> None:
    """COIN-M through binancecoinm: inverse BTCUSD_PERP, 100 USD contracts, real panel data."""
    since, until = 1672531200000, 1719792000000  # 2023-01-01 to 2024-07-01
    with MarketServer(BinanceMarketData.from_sample()) as srv:
        md = CcxtMarketData("binance", "inverse", base_url=srv.base_url, sleep=lambda s: None)
        (perp,) = md.instruments()
        assert (perp.symbol, perp.kind, perp.settle) == ("BTC/USD:BTC", ContractKind.INVERSE, "BTC")
        assert (perp.contract_size, perp.qty_step, perp.price_tick) == (100.0, 1.0, 0.1)
        assert perp.tiers.source.startswith("placeholder")  # instruments() fetches no tiers
        points = md.funding_history("BTC/USD:BTC", since, until)
        # 2023-01-01 .. 2024-06-30: 365 + 182 days x 3 settlements
        assert len(points) == (365 + 182) * 3
        stored = SAMPLE_STORE.funding("binance", "BTC/USD:BTC", since, until)
        assert points.rate.tolist() == stored.rate.tolist()
        candles = md.ohlcv("BTC/USD:BTC", "perp", "8h", since, until)
        assert len(candles) == (365 + 182) * 3
        assert {p for p, _ in srv.requests} >= {"/dapi/v1/exchangeInfo", "/dapi/v1/fundingRate"}
        assert srv.unknown == []


def test_bybit_markets_from_recorded_instruments_info() -> None:
    body = json.loads(
        (VENUES / "bybit" / "jkorf_V5Api_ExchangeData_GetLinearInverseSymbols.json").read_text()
    )

    def instruments(p: dict[str, str]) -> Any:
        if p.get("category") == "linear":
            return body
        empty = {"category": p.get("category"), "list": [], "nextPageCursor": ""}
        return {"retCode": 0, "retMsg": "OK", "result": empty, "retExtInfo": {}, "time": 0}

    with MarketServer(BinanceMarketData(), {"/v5/market/instruments-info": instruments}) as srv:
        md = CcxtMarketData("bybit", base_url=srv.base_url, sleep=lambda s: None)
        (perp,) = md.instruments()
    # recorded: qtyStep 0.001, tickSize 0.10, minOrderQty 0.001, minNotionalValue 5,
    # maxLeverage 100.00, fundingInterval 480 (minutes)
    assert (perp.symbol, perp.exchange, perp.kind) == (BTC, "bybit", ContractKind.LINEAR)
    assert (perp.qty_step, perp.price_tick, perp.min_qty, perp.min_notional) == (
        0.001,
        0.1,
        0.001,
        5.0,
    )
    assert perp.max_leverage == 100.0
    assert perp.funding_interval_hours == 8.0  # 480 minutes / 60


def test_adapter_implements_the_market_data_port(md: CcxtMarketData) -> None:
    assert isinstance(md, MarketData)


@settings(max_examples=150)
@given(
    interval_h=st.sampled_from([1, 4, 8]),
    page=st.integers(min_value=3, max_value=60),
    assumed_h=st.sampled_from([1, 8]),
    n_rows=st.integers(min_value=0, max_value=400),
    offset_h=st.integers(min_value=0, max_value=50),
    span_h=st.integers(min_value=1, max_value=2000),
    newest_first=st.booleans(),
)
def test_windowed_pagination_returns_every_row_once(
    interval_h: int,
    page: int,
    assumed_h: int,
    n_rows: int,
    offset_h: int,
    span_h: int,
    newest_first: bool,
) -> None:
    """Whatever the venue's order and true interval, the walk sees each row in range once."""
    hour = 3_600_000
    listing = 1_600_000_000_000
    venue_rows = [listing + i * interval_h * hour for i in range(n_rows)]
    since = listing - 10 * hour + offset_h * hour
    until = since + span_h * hour
    calls: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> list[int]:
        calls.append((start, end))
        inside = [t for t in venue_rows if start <= t <= end - 1]
        return inside[-page:] if newest_first else inside[:page]  # a venue answers one page

    got = walk_windows(fetch, since, until, (page - 1) * assumed_h * hour, page, None)
    assert sorted(got) == [t for t in venue_rows if since <= t < until]
    assert len(got) == len(set(got))
    assert calls[0][0] == since and calls[-1][1] == until
