"""The ccxt border (perphedge.exchanges.parse) on ccxt's own parse output and bad values."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from perphedge.errors import DataError
from perphedge.exchanges import parse

RAW_API = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw_api"


def test_binance_funding_rows_through_ccxts_own_parser() -> None:
    """ccxt.binanceusdm.parse_funding_rate_history on the recorded body, then our border."""
    raw = json.loads((RAW_API / "binance_fapi_v1_fundingRate_BTCUSDT_2026-06.json").read_text())
    exchange = ccxt.binanceusdm()
    rows = [exchange.parse_funding_rate_history(r) for r in reversed(raw)]  # order must not matter
    points = parse.funding_points("BTC/USDT:USDT", rows)
    assert len(points) == 90
    assert points.ts_ms[0] == 1780272000000  # recorded 1780272000001, floored to the minute
    assert points.rate[0] == 0.00005703
    assert points.mark[0] == 73653.56663043  # carried from info.markPrice


def test_binance_premium_index_through_ccxts_parser() -> None:
    capture = json.loads(
        (RAW_API / "binance_fapi_v1_premiumIndex_BTCUSDT_2026-09-30.json").read_text()
    )
    exchange = ccxt.binanceusdm()
    rate = exchange.parse_funding_rate(capture["samples"]["BTCUSDT"])
    quote = parse.funding_quote(rate, default_interval_hours=8.0)
    assert (quote.rate_per_interval, quote.next_funding_ms) == (0.00004558, 1790784000000)
    snap = parse.price_snapshot("BTC/USDT:USDT", rate, None)
    assert (snap.mark, snap.index, snap.last) == (
        Decimal("83829.8"),
        Decimal("83844.93847826"),
        None,
    )


def test_duplicate_funding_rows_keep_one_per_minute() -> None:
    rows = [
        {"timestamp": 28_800_006, "fundingRate": 0.0002, "info": {}},
        {"timestamp": 28_800_000, "fundingRate": 0.0001, "info": {"markPrice": "5.0"}},
    ]
    points = parse.funding_points("X/USDT:USDT", rows)
    assert points.ts_ms.tolist() == [28_800_000]
    assert points.rate.tolist() == [0.0001]  # the later row in the answer wins


@pytest.mark.parametrize(("text", "hours"), [("8h", 8.0), ("1h", 1.0), ("30m", 0.5), ("1d", 24.0)])
def test_interval_text(text: str, hours: float) -> None:
    assert parse.interval_hours(text) == hours


def test_interval_unknown_is_none() -> None:
    assert parse.interval_hours(None) is None
    assert parse.interval_hours("soon") is None
    assert parse.market_funding_interval_hours({"info": {"fundingInterval": 240}}) == 4.0
    assert parse.market_funding_interval_hours({"info": {}}) is None


def test_bad_numbers_fail_at_the_border() -> None:
    with pytest.raises(DataError, match="fundingRate=None"):
        parse.funding_points("X/USDT:USDT", [{"timestamp": 1, "fundingRate": None}])
    with pytest.raises(DataError, match="without a timestamp"):
        parse.funding_points("X/USDT:USDT", [{"fundingRate": 0.1}])
    with pytest.raises(DataError, match="incomplete candle"):
        parse.candles([[1, 2.0, None, 1.0, 2.0, 0]])
    with pytest.raises(DataError, match="expected a finite number"):
        parse.decimal("price", "nan")
    with pytest.raises(DataError, match="not a perpetual swap"):
        parse.perpetual({"symbol": "BTC/USDT", "swap": False}, "binance")
    assert parse.optional_decimal("") is None
    assert parse.optional_decimal("0.1") == Decimal("0.1")


def test_decimal_places_precision_mode() -> None:
    market = {
        "symbol": "BTC/USDT:USDT", "swap": True, "base": "BTC", "quote": "USDT", "settle": "USDT",
        "linear": True, "contractSize": 1, "precision": {"amount": 3, "price": 1},
        "limits": {"amount": {"min": 0.001}, "cost": {"min": 5}, "leverage": {"max": 50}},
    }  # fmt: skip
    perp = parse.perpetual(market, "x", precision_mode=2)  # ccxt DECIMAL_PLACES
    assert (perp.qty_step, perp.price_tick) == (0.001, 0.1)
    assert perp.max_leverage == 50.0
    assert math.isclose(perp.min_notional, 5.0)
