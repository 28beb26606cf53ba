"""Market data service: bring the local store up to date from a venue, and read one series.

`sync_store` plans every series of every perpetual (funding and candles; spot for its coin) from
where the store ends and fetches it through the venue's ccxt adapter (`perphedge.store.sync`),
reporting progress per series to the caller. `series_rows` reads one stored series as rows;
`stored_series` lists what is stored; `import_rows` and `export_rows` move tidy CSV or Parquet
in and out (`perphedge.store.files`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from perphedge.errors import InputError
from perphedge.ports import Coverage, MarketHistory
from perphedge.store import files, sync
from perphedge.store.market import MarketStore

if TYPE_CHECKING:
    from perphedge.exchanges.client import MarketType
    from perphedge.exchanges.market_data import CcxtMarketData

# per series: a callback told how far (epoch ms) the fetch has reached
OnTask = Callable[[sync.SyncTask], Callable[[int], None]]


def sync_store(
    store: MarketStore,
    exchange: str,
    perps: Sequence[str],
    datasets: tuple[str, ...],
    window: tuple[int, int],
    base_url: str | None = None,
    on_task: OnTask | None = None,
) -> list[sync.SyncResult]:
    """Fetch what the store lacks of `datasets` for each perpetual in `window` (resumes, never
    duplicates); one ccxt client per market type."""
    from perphedge.exchanges.market_data import CcxtMarketData

    sources: dict[MarketType, CcxtMarketData] = {}
    results = []
    for perp in perps:
        mtype: MarketType = "inverse" if sync.is_inverse(perp) else "linear"
        if mtype not in sources:
            sources[mtype] = CcxtMarketData(exchange, mtype, base_url=base_url)
        for task in sync.plan(store, exchange, [perp], datasets, *window):
            progress = None if on_task is None else on_task(task)
            results.append(sync.run(store, sources[mtype], task, perp, progress))
            if progress is not None:
                progress(task.until_ms)
    return results


@dataclass(frozen=True)
class SeriesRows:
    """One stored series: column names and rows, time (epoch ms) first."""

    dataset: str
    headers: tuple[str, ...]
    rows: tuple[tuple[float | None, ...], ...]


def series_rows(
    store: MarketHistory,
    exchange: str,
    symbol: str,
    dataset: str,
    span: tuple[int | None, int | None],
    tail: int = 0,
) -> SeriesRows:
    """The last `tail` rows (0: all) of one stored series ("funding" or "kind:interval")."""
    if tail < 0:
        raise InputError("--tail", tail, "give 0 (all rows) or a positive number")
    if dataset == "funding":
        f = store.funding(exchange, symbol, *span)
        cols = zip(f.ts_ms, f.rate, f.interval_hours, f.mark, strict=True)
        rows: list[tuple[float | None, ...]] = [
            (int(t), float(r), float(h), float(m) if np.isfinite(m) else None)
            for t, r, h, m in cols
        ]
        headers: tuple[str, ...] = ("time", "rate", "interval_hours", "mark")
    else:
        kind, _, interval = dataset.partition(":")
        p = store.prices(exchange, symbol, kind, interval, *span)
        rows = [
            (int(t), float(o), float(h), float(lo), float(c))
            for t, o, h, lo, c in zip(p.ts_ms, p.open, p.high, p.low, p.close, strict=True)
        ]
        headers = ("time", "open", "high", "low", "close")
    return SeriesRows(dataset, headers, tuple(rows[-tail:] if tail else rows))


@dataclass(frozen=True)
class StoredSeries:
    """What the store at `path` holds (`created`: False while only the bundled sample is read)."""

    path: Path
    created: bool
    series: list[Coverage]


def stored_series(store: MarketStore) -> StoredSeries:
    """Each stored series with its first and last time and row count."""
    return StoredSeries(store.path, store.exists, store.available())


@dataclass(frozen=True)
class Imported:
    """A file added to the store: its table, its rows, and how many of them were new."""

    table_name: str
    rows: int
    new_rows: int
    store_path: Path


def import_rows(store: MarketStore, path: Path) -> Imported:
    """Add a CSV or Parquet file to the store (all rows checked first; all or nothing)."""
    table_name, rows, new = files.import_file(store, path)
    return Imported(table_name, rows, new, store.path)


@dataclass(frozen=True)
class ExportQuery:
    """Which rows `export_rows` writes; `kind` and `interval` select prices only."""

    table_name: str
    exchange: str | None = None
    symbol: str | None = None
    kind: str | None = None
    interval: str | None = None
    span: tuple[int | None, int | None] = (None, None)


def export_rows(store: MarketStore, query: ExportQuery, out: Path) -> int:
    """Write the store's rows matching `query` to `out` (CSV or Parquet); returns the count."""
    pairs = (("exchange", query.exchange and query.exchange.lower()), ("symbol", query.symbol))
    where = {k: v for k, v in pairs if v}
    if query.table_name == "prices":
        where |= {k: v for k, v in (("kind", query.kind), ("interval", query.interval)) if v}
    elif query.kind or query.interval:
        raise InputError(
            "--kind/--interval", query.kind or query.interval, "only with --table prices"
        )
    return files.export_file(store, query.table_name, out, where, *query.span)
