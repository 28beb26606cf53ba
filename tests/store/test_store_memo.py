"""MemoHistory reads each series once and keeps no failure."""

from __future__ import annotations

import pytest

from perphedge.errors import DataError
from perphedge.ports import History
from perphedge.store.memo import MemoHistory
from tests.fakes.ports import FakeHistory


def test_a_series_is_read_once_and_a_failure_is_asked_again():
    inner = FakeHistory(closes={("BTC/USDT", "spot"): (5, 60_000.0)})
    memo = MemoHistory(inner)
    assert isinstance(memo, History)
    assert memo.latest_price("binance", "BTC/USDT", "spot") == (5, 60_000.0)
    assert memo.latest_price("binance", "BTC/USDT", "spot") == (5, 60_000.0)
    assert inner.asked == ["spot BTC/USDT"]
    for _ in range(2):
        with pytest.raises(DataError):
            memo.latest_price("binance", "ETH/USDT", "spot")
    assert inner.asked == ["spot BTC/USDT", "spot ETH/USDT", "spot ETH/USDT"]
