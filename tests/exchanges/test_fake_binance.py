"""The fake Binance USDⓈ-M server itself: auth checks, accounting, funding sign, unknown paths.

The end-to-end tests trust its bookkeeping, so it is checked here by hand arithmetic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal

import pytest

from perphedge.exchanges.market_data import CcxtMarketData
from tests.fakes.binance_state import ApiError, ExchangeState
from tests.fakes.binance_usdm import FakeBinance, make_ccxt

D = Decimal


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


def call(fake: FakeBinance, path: str, query: str, key: str | None = None,
         secret: str | None = None) -> tuple[int, object]:  # fmt: skip
    signature = hmac.new((secret or fake.secret).encode(), query.encode(), hashlib.sha256)
    url = f"{fake.base_url}{path}?{query}&signature={signature.hexdigest()}"
    req = urllib.request.Request(url, headers={"X-MBX-APIKEY": key or fake.api_key})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_signed_request_passes_and_bad_ones_get_binance_codes(fake: FakeBinance) -> None:
    query = f"timestamp={now_ms()}"
    assert call(fake, "/fapi/v3/account", query)[0] == 200
    assert call(fake, "/fapi/v3/account", query, secret="wrong") == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."}
    )  # fmt: skip
    assert call(fake, "/fapi/v3/account", query, key="other")[1] == {
        "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."
    }  # fmt: skip
    stale = f"timestamp={now_ms() - 6000}"  # older than the 5,000 ms default recvWindow
    assert call(fake, "/fapi/v3/account", stale)[1]["code"] == -1021  # type: ignore[index]
    assert call(fake, "/fapi/v9/nothing", query)[0] == 404
    assert fake.unknown_paths == ["GET /fapi/v9/nothing"]


def order(side: str, qty: str, price: str, cid: str, **extra: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "quantity": qty,
            "price": price, "newClientOrderId": cid, "timeInForce": "GTC", **extra}  # fmt: skip


def test_round_trip_accounting_by_hand() -> None:
    state = ExchangeState(clock=lambda: 1)
    state.place(order("SELL", "0.010", "59000", "a"))  # crosses at once: taker at mark 60,000
    state.set_mark("BTCUSDT", "59000")
    closing = state.place(order("BUY", "0.010", "59000", "b", reduceOnly="true"))
    assert closing.status == "FILLED" and state.position_amt("BTCUSDT") == 0
    # open fee 0.010 * 60,000 * 0.0005 = 0.30; realised 0.010 * (60,000 - 59,000) = +10;
    # close fee 0.010 * 59,000 * 0.0005 = 0.295 -> 10,000 - 0.30 + 10 - 0.295 = 10,009.405
    assert state.wallet == D("10009.405")
    assert [t.realized_pnl for t in state.trades] == [0, D("10.000")]


def test_flip_through_zero_and_average_entry() -> None:
    state = ExchangeState(clock=lambda: 1, taker_fee=D(0))
    state.place(order("BUY", "0.010", "60000", "a"))
    state.set_mark("BTCUSDT", "62000")
    state.place(order("BUY", "0.010", "62000", "b"))
    assert state.positions["BTCUSDT"].entry == D(61000)  # (60,000 + 62,000) / 2
    state.place(order("SELL", "0.030", "62000", "c"))  # closes 0.020 and opens 0.010 short
    row = state.positions["BTCUSDT"]
    assert (row.amt, row.entry) == (D("-0.010"), D(62000))
    assert state.wallet == D(10000) + D("0.020") * (62000 - 61000)


def test_funding_sign_positive_rate_longs_pay_shorts() -> None:
    state = ExchangeState(clock=lambda: 1, taker_fee=D(0))
    state.place(order("BUY", "0.010", "60000", "a"))
    assert state.settle_funding("BTCUSDT") == D("-0.06")  # -0.010 * 60,000 * 0.0001
    state.funding_rates["BTCUSDT"] = D("-0.0002")
    assert state.settle_funding("BTCUSDT") == D("0.12")  # negative rate: the long receives


def test_client_id_unique_among_open_orders_only_unless_scoped_all() -> None:
    state = ExchangeState(clock=lambda: 1)
    state.place(order("SELL", "0.010", "70000", "open-1"))  # rests
    with pytest.raises(ApiError, match="-4116"):
        state.place(order("SELL", "0.010", "70000", "open-1"))
    strict = ExchangeState(clock=lambda: 1, client_id_scope="all")
    strict.place(order("SELL", "0.010", "60000", "done-1"))  # fills
    with pytest.raises(ApiError, match="-4116"):
        strict.place(order("SELL", "0.010", "60000", "done-1"))


def test_recorded_funding_history_through_perphedges_market_data(fake: FakeBinance) -> None:
    market = CcxtMarketData("binance", exchange=make_ccxt(fake), sleep=lambda s: None)
    june = market.funding_history("BTC/USDT:USDT", 1780272000000, 1782864000000)  # June 2026
    # the recorded body: 90 settlements, 00/08/16 UTC, first 0.00005703, last 0.00003327,
    # rates summing to 0.00203063 (python: sum of Decimal(row["fundingRate"]))
    assert len(june.ts_ms) == 90
    assert (june.rate[0], june.rate[-1]) == (0.00005703, 0.00003327)
    assert float(june.rate.sum()) == pytest.approx(0.00203063, abs=1e-12)
    first_week = market.funding_history("BTC/USDT:USDT", 1780272000000, 1780876800000)
    assert len(first_week.ts_ms) == 21  # 7 days x 3 settlements


def test_margin_type_through_ccxt(fake: FakeBinance) -> None:
    exchange = make_ccxt(fake)
    exchange.set_margin_mode("isolated", "BTC/USDT:USDT")
    assert fake.state.margin_types == {"BTCUSDT": "ISOLATED"}
    with pytest.raises(Exception, match="No need to change margin type") as info:  # -4046
        exchange.set_margin_mode("isolated", "BTC/USDT:USDT")
    assert type(info.value).__name__ == "MarginModeAlreadySet"  # ccxt's class for -4046
