"""Incremental download of market data into the store (`perphedge data sync`).

Each series (symbol x dataset) resumes from its newest stored timestamp, inclusive, so the last
row is fetched again and replaced (a candle that was still open gets its final values); rows are
keyed, so nothing is ever duplicated. Work is fetched and committed in chunks (`CHUNK_DAYS`): an
interrupted sync keeps every finished chunk and the next run starts where it stopped.

Datasets: "funding", or "<kind>:<interval>" with kind spot|perp|mark (e.g. "spot:1d",
"mark:8h"). Spot candles are read for the perpetual's spot counterpart ("BTC/USDT:USDT" ->
"BTC/USDT") and stored under that symbol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from perphedge.errors import InputError
from perphedge.ports import Candles, FundingPoints
from perphedge.store.market import MarketStore, check_kind, interval_ms

# 330 days: one Binance page of 8-hourly funding or 8 h candles (999 x 8 h = 333 days), so a
# chunk usually costs one request per dataset; finished chunks survive an interruption.
CHUNK_DAYS = 330
DAY_MS = 86_400_000
DEFAULT_DATASETS = ("funding", "spot:1d", "mark:8h")


class HistorySource(Protocol):
    """What a sync reads from (CcxtMarketData implements it)."""

    def funding_history(
        self, symbol: str, since_ms: int, until_ms: int, progress: Callable[[int], None] | None
    ) -> FundingPoints: ...

    def funding_interval_hours(self, symbol: str) -> float: ...

    def ohlcv(
        self,
        symbol: str,
        kind: str,
        timeframe: str,
        since_ms: int,
        until_ms: int,
        progress: Callable[[int], None] | None,
    ) -> Candles: ...


@dataclass(frozen=True)
class SyncTask:
    """One series to bring up to date: fetch [start_ms, until_ms)."""

    exchange: str
    symbol: str  # the symbol stored (spot counterpart for spot datasets)
    dataset: str
    start_ms: int
    until_ms: int
    resumed: bool  # True when the store already held this series


@dataclass(frozen=True)
class SyncResult:
    task: SyncTask
    fetched: int  # rows received
    new_rows: int  # rows that were not in the store before


def parse_datasets(text: str) -> tuple[str, ...]:
    """'funding,spot:1d' -> ("funding", "spot:1d"), each checked; InputError otherwise."""
    out = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        if item != "funding":
            kind, _, interval = item.partition(":")
            if not interval:
                raise InputError("--datasets", item, "use funding or kind:interval, e.g. spot:1d")
            check_kind(kind)
            interval_ms(interval)
        out.append(item)
    if not out:
        raise InputError("--datasets", text, "give funding and/or kind:interval, e.g. spot:1d")
    return tuple(dict.fromkeys(out))


def spot_symbol(symbol: str) -> str:
    """The spot counterpart of a perpetual: "BTC/USDT:USDT" -> "BTC/USDT"."""
    return symbol.split(":", 1)[0]


def is_inverse(symbol: str) -> bool:
    """'BTC/USD:BTC' (settles in its base coin) -> True."""
    return symbol.split("/", 1)[0] == symbol.rpartition(":")[2]


def plan(
    store: MarketStore,
    exchange: str,
    symbols: Sequence[str],
    datasets: Sequence[str],
    since_ms: int,
    until_ms: int,
) -> list[SyncTask]:
    """One task per symbol and dataset, resuming after what the store already holds."""
    if since_ms >= until_ms:
        raise InputError("--since", since_ms, "must be before now / --until")
    held = {(c.exchange, c.symbol, c.dataset): c.last_ts_ms for c in store.available()}
    tasks = []
    for symbol in symbols:
        if ":" not in symbol:
            raise InputError("--symbols", symbol, "give perpetual symbols such as BTC/USDT:USDT")
        for dataset in datasets:
            if dataset.startswith("spot:") and is_inverse(symbol):
                raise InputError(
                    "--datasets",
                    dataset,
                    f"{symbol} is coin-margined and has no spot twin; sync spot with the USDT "
                    "perpetual or leave spot out",
                )
            stored = spot_symbol(symbol) if dataset.startswith("spot:") else symbol
            last = held.get((exchange, stored, dataset))
            start = since_ms if last is None else max(since_ms, last)
            if start < until_ms:
                tasks.append(SyncTask(exchange, stored, dataset, start, until_ms, last is not None))
    return tasks


def run(
    store: MarketStore,
    source: HistorySource,
    task: SyncTask,
    perp_symbol: str,
    progress: Callable[[int], None] | None = None,
) -> SyncResult:
    """Fetch `task` chunk by chunk, committing each chunk; returns counts.

    Only complete candles are stored (open time + interval <= task.until_ms): the one still
    forming at "now" is left for the next sync.
    """
    fetched = new = 0
    chunk_start = task.start_ms
    while chunk_start < task.until_ms:
        chunk_end = min(task.until_ms, chunk_start + CHUNK_DAYS * DAY_MS)
        if task.dataset == "funding":
            got, added = _funding_chunk(
                store, source, task, perp_symbol, (chunk_start, chunk_end), progress
            )
        else:
            got, added = _candle_chunk(
                store, source, task, perp_symbol, (chunk_start, chunk_end), progress
            )
        fetched += got
        new += added
        chunk_start = chunk_end
    return SyncResult(task, fetched, new)


def _funding_chunk(
    store: MarketStore,
    source: HistorySource,
    task: SyncTask,
    perp_symbol: str,
    window: tuple[int, int],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    points = source.funding_history(perp_symbol, *window, progress)
    if not len(points):
        return 0, 0
    hours = source.funding_interval_hours(perp_symbol)
    return len(points), store.upsert_funding(
        funding_table(task.exchange, task.symbol, points, hours)
    )


def _candle_chunk(
    store: MarketStore,
    source: HistorySource,
    task: SyncTask,
    perp_symbol: str,
    window: tuple[int, int],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    kind, _, interval = task.dataset.partition(":")
    symbol = task.symbol if kind == "spot" else perp_symbol
    candles = source.ohlcv(symbol, kind, interval, *window, progress)
    done = candles.ts_ms + interval_ms(interval) <= task.until_ms
    complete = Candles(
        candles.ts_ms[done], candles.open[done], candles.high[done], candles.low[done],
        candles.close[done],
    )  # fmt: skip
    if not len(complete):
        return len(candles), 0
    table = prices_table(task.exchange, task.symbol, kind, interval, complete)
    return len(candles), store.upsert_prices(table)


def funding_table(exchange: str, symbol: str, points: FundingPoints, hours: float) -> pa.Table:
    """Store rows (market.FUNDING_COLUMNS) from fetched funding points."""
    n = len(points)
    mark = pa.array(points.mark, pa.float64(), from_pandas=True)  # NaN -> NULL
    return pa.table(
        {
            "exchange": pa.array([exchange] * n, pa.string()),
            "symbol": pa.array([symbol] * n, pa.string()),
            "ts_ms": pa.array(points.ts_ms, pa.int64()),
            "rate": pa.array(points.rate, pa.float64()),
            "interval_hours": pa.array([hours] * n, pa.float64()),
            "mark": mark,
        }
    )


def prices_table(
    exchange: str, symbol: str, kind: str, interval: str, candles: Candles
) -> pa.Table:
    """Store rows (market.PRICE_COLUMNS) from fetched candles."""
    n = len(candles)
    return pa.table(
        {
            "exchange": pa.array([exchange] * n, pa.string()),
            "symbol": pa.array([symbol] * n, pa.string()),
            "kind": pa.array([kind] * n, pa.string()),
            "interval": pa.array([interval] * n, pa.string()),
            "ts_ms": pa.array(candles.ts_ms, pa.int64()),
            "open": pa.array(candles.open, pa.float64()),
            "high": pa.array(candles.high, pa.float64()),
            "low": pa.array(candles.low, pa.float64()),
            "close": pa.array(candles.close, pa.float64()),
        }
    )
