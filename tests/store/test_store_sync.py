"""store.sync with a fake history source (implements sync.HistorySource): chunks, resume, candles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from perphedge.errors import InputError
from perphedge.ports import Candles, FundingPoints
from perphedge.store import sync
from perphedge.store.market import MarketStore

H = 3_600_000
DAY = 24 * H
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
PERP = "BTC/USDT:USDT"


class FakeHistory:
    """A venue with 8-hourly funding and hourly mark candles from T0 on; logs every call."""

    def __init__(self, hours: int = 400 * 24) -> None:
        self.end = T0 + hours * H
        self.calls: list[tuple[str, int, int]] = []

    def funding_history(
        self, symbol: str, since_ms: int, until_ms: int, progress: Callable[[int], None] | None
    ) -> FundingPoints:
        self.calls.append(("funding", since_ms, until_ms))
        ts = np.arange(T0, self.end, 8 * H, dtype=np.int64)
        ts = ts[(ts >= since_ms) & (ts < until_ms)]
        if progress is not None:
            progress(until_ms)
        return FundingPoints(symbol, ts, np.full(ts.size, 0.0001), np.full(ts.size, np.nan))

    def funding_interval_hours(self, symbol: str) -> float:
        return 8.0

    def ohlcv(
        self,
        symbol: str,
        kind: str,
        timeframe: str,
        since_ms: int,
        until_ms: int,
        progress: Callable[[int], None] | None,
    ) -> Candles:
        self.calls.append((f"{kind}:{timeframe}", since_ms, until_ms))
        ts = np.arange(T0, self.end, H, dtype=np.int64)
        ts = ts[(ts >= since_ms) & (ts < until_ms)]
        price = 100.0 + (ts - T0) / H
        return Candles(ts, price, price + 1, price - 1, price + 0.5)


@pytest.fixture
def store(tmp_path: Path) -> MarketStore:
    return MarketStore(tmp_path / "s.duckdb", seed=False)


def test_chunks_of_330_days_each_committed(store: MarketStore) -> None:
    source = FakeHistory()
    (task,) = sync.plan(store, "binance", [PERP], ["funding"], T0, T0 + 400 * DAY)
    assert task.resumed is False
    reached: list[int] = []
    result = sync.run(store, source, task, PERP, reached.append)
    # 400 days = 330 + 70 -> two chunks; 400 x 3 settlements
    assert [c[1:] for c in source.calls] == [
        (T0, T0 + 330 * DAY),
        (T0 + 330 * DAY, T0 + 400 * DAY),
    ]
    assert reached == [T0 + 330 * DAY, T0 + 400 * DAY]
    assert (result.fetched, result.new_rows) == (1200, 1200)
    assert len(store.funding("binance", PERP)) == 1200


def test_second_plan_resumes_at_the_last_stored_row(store: MarketStore) -> None:
    source = FakeHistory()
    (task,) = sync.plan(store, "binance", [PERP], ["funding"], T0, T0 + 10 * DAY)
    sync.run(store, source, task, PERP)
    (again,) = sync.plan(store, "binance", [PERP], ["funding"], T0, T0 + 12 * DAY)
    last = T0 + 10 * DAY - 8 * H  # 2024-01-10 16:00
    assert (again.start_ms, again.resumed) == (last, True)
    result = sync.run(store, source, again, PERP)
    # refetches the last row (replaced, not duplicated) + 2 days x 3 new settlements
    assert (result.fetched, result.new_rows) == (7, 6)
    assert len(store.funding("binance", PERP)) == 36


def test_only_complete_candles_are_stored(store: MarketStore) -> None:
    source = FakeHistory()
    now = T0 + 5 * H + 20 * 60_000  # 05:20: the 05:00 candle is still forming
    (task,) = sync.plan(store, "binance", [PERP], ["mark:1h"], T0, now)
    result = sync.run(store, source, task, PERP)
    # candles open at 00:00 .. 05:00 (6), of which 00:00 .. 04:00 are complete (5)
    assert (result.fetched, result.new_rows) == (6, 5)
    marks = store.prices("binance", PERP, "mark", "1h")
    assert marks.ts_ms[-1] == T0 + 4 * H
    assert marks.close.tolist() == [100.5, 101.5, 102.5, 103.5, 104.5]


def test_spot_is_stored_under_the_spot_symbol(store: MarketStore) -> None:
    tasks = sync.plan(store, "binance", [PERP], ["funding", "spot:1h"], T0, T0 + 2 * H)
    assert [(t.symbol, t.dataset) for t in tasks] == [(PERP, "funding"), ("BTC/USDT", "spot:1h")]
    sync.run(store, FakeHistory(), tasks[1], PERP)
    assert len(store.prices("binance", "BTC/USDT", "spot", "1h")) == 2


def test_dataset_parsing_and_plan_errors(store: MarketStore) -> None:
    assert sync.parse_datasets(" funding , spot:1d,funding ") == ("funding", "spot:1d")
    for bad, needle in (("", "--datasets=''"), ("mark", "--datasets='mark'"), ("x:1d", "kind='x'")):
        with pytest.raises(InputError, match=needle):
            sync.parse_datasets(bad)
    with pytest.raises(InputError, match="coin-margined"):
        sync.plan(store, "binance", ["BTC/USD:BTC"], ["spot:1d"], T0, T0 + DAY)
    with pytest.raises(InputError, match="--since"):
        sync.plan(store, "binance", [PERP], ["funding"], T0, T0)
    assert sync.is_inverse("ETH/USD:ETH") and not sync.is_inverse(PERP)
