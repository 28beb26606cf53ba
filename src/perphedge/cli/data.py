"""`perphedge data sync|list|show|import|export`: the local market-data store.

The store starts as the bundled real sample; `sync` adds to it from an exchange (incremental,
resumable, never duplicating rows); `import` / `export` move tidy CSV or Parquet in and out.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from perphedge.cli.market_args import date_range, parse_day_or_time
from perphedge.errors import InputError
from perphedge.exchanges.client import MarketType
from perphedge.exchanges.market_data import CcxtMarketData
from perphedge.ports import Coverage
from perphedge.report.render import console, err_console, fmt_num, print_json, table
from perphedge.store import files, sync
from perphedge.store.market import MarketStore
from perphedge.venues.registry import venue

data_app = typer.Typer(
    help="The local market-data store: sync, list, show, import, export.", no_args_is_help=True
)

FILE_ARGUMENT = typer.Argument(..., help="CSV or Parquet with the store's columns.")
OUT_ARGUMENT = typer.Argument(..., help="Output .csv or .parquet file.")
STORE_OPTION = typer.Option(
    None, "--store", help="Store file (default: $PERPHEDGE_HOME/market.duckdb)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _when(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "not created yet"


def _market_type(symbol: str) -> MarketType:
    return "inverse" if sync.is_inverse(symbol) else "linear"


def _symbols(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    if not out:
        raise InputError(
            "--symbols", text, "give perpetual symbols, e.g. BTC/USDT:USDT,ETH/USDT:USDT"
        )
    return list(dict.fromkeys(out))


@data_app.command("sync")
def sync_command(
    exchange: str = typer.Option(..., "--exchange", help="Venue, e.g. binance, bybit, okx."),
    symbols: str = typer.Option(
        ..., "--symbols", help="Perpetuals, e.g. BTC/USDT:USDT,ETH/USDT:USDT"
    ),
    since: str = typer.Option("2020-01-01", "--since", help="Start date (UTC) for new series."),
    until: str | None = typer.Option(None, "--until", help="End date (default: now)."),
    datasets: str = typer.Option(
        ",".join(sync.DEFAULT_DATASETS), "--datasets", help="funding and/or kind:interval list."
    ),
    store_path: Path | None = STORE_OPTION,
    base_url: str | None = typer.Option(None, "--base-url", hidden=True),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fetch new funding and candles from the exchange into the store (resumes, no duplicates)."""
    name = venue(exchange).name
    wanted = sync.parse_datasets(datasets)
    now_ms = int(time.time() * 1000)
    since_ms = parse_day_or_time("--since", since)
    until_ms = now_ms if until is None else parse_day_or_time("--until", until, end_of_day=True)
    if since_ms >= until_ms:
        raise InputError("--since", since, f"must be before {until or 'now'}")
    store = MarketStore(store_path)
    results = _run_sync(store, name, _symbols(symbols), wanted, (since_ms, until_ms), base_url)
    _print_sync(results, store, as_json)


def _run_sync(
    store: MarketStore,
    name: str,
    perps: list[str],
    wanted: tuple[str, ...],
    window: tuple[int, int],
    base_url: str | None,
) -> list[sync.SyncResult]:
    """Plan and run every series with one progress bar per series (stderr)."""
    sources: dict[MarketType, CcxtMarketData] = {}
    results = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
    )
    with Progress(
        *columns,
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,  # no bar (nor its blank line) in logs and pipes
    ) as bar:
        for perp in perps:
            mtype = _market_type(perp)
            if mtype not in sources:
                sources[mtype] = CcxtMarketData(name, mtype, base_url=base_url)
            for task in sync.plan(store, name, [perp], wanted, *window):
                total = task.until_ms - task.start_ms
                job = bar.add_task(f"{task.symbol} {task.dataset}", total=total)

                def advance(
                    reached: int, job: TaskID = job, start: int = task.start_ms, total: int = total
                ) -> None:
                    bar.update(job, completed=min(total, reached - start))

                results.append(sync.run(store, sources[mtype], task, perp, advance))
                bar.update(job, completed=total)
    return results


def _print_sync(results: list[sync.SyncResult], store: MarketStore, as_json: bool) -> None:
    rows = [
        {
            "exchange": r.task.exchange,
            "symbol": r.task.symbol,
            "dataset": r.task.dataset,
            "from": _when(r.task.start_ms),
            "until": _when(r.task.until_ms),
            "resumed": r.task.resumed,
            "fetched": r.fetched,
            "new_rows": r.new_rows,
        }
        for r in results
    ]
    if as_json:
        print_json({"store": str(store.path), "series": rows})
        return
    console.print(
        table(
            "data sync",
            ["exchange", "symbol", "dataset", "from", "until", "fetched", "new rows"],
            [
                [
                    r["exchange"],
                    r["symbol"],
                    r["dataset"],
                    r["from"],
                    r["until"],
                    r["fetched"],
                    r["new_rows"],
                ]
                for r in rows
            ],
        )
    )
    if not rows:
        console.print("everything already up to date")
    console.print(f"store: {store.path} ({_size(store.path)})", markup=False, highlight=False)


@data_app.command("list")
def list_command(
    store_path: Path | None = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the store holds: each series with its first and last time and row count."""
    store = MarketStore(store_path)
    covs = store.available()
    if as_json:
        print_json({"store": str(store.path), "created": store.exists, "series": covs})
        return
    origin = "" if store.exists else " (bundled sample; nothing synced or imported yet)"
    console.print(
        table(
            f"market store{origin}",
            ["exchange", "symbol", "dataset", "first", "last", "rows"],
            [_cov_row(c) for c in covs],
        )
    )
    console.print(f"store: {store.path} ({_size(store.path)})", markup=False, highlight=False)


def _cov_row(c: Coverage) -> list[str]:
    return [
        c.exchange,
        c.symbol,
        c.dataset,
        _when(c.first_ts_ms),
        _when(c.last_ts_ms),
        f"{c.rows:,}",
    ]


@data_app.command("show")
def show_command(
    exchange: str = typer.Argument(..., help="Venue, e.g. binance."),
    symbol: str = typer.Argument(..., help="ccxt symbol, e.g. BTC/USDT:USDT or BTC/USDT."),
    dataset: str = typer.Option("funding", "--dataset", help="funding or kind:interval (spot:1d)."),
    since: str | None = typer.Option(None, "--since"),
    until: str | None = typer.Option(None, "--until"),
    tail: int = typer.Option(10, "--tail", help="Show the last N rows (0: all)."),
    store_path: Path | None = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rows of one series."""
    picked = sync.parse_datasets(dataset)
    if len(picked) != 1:
        raise InputError("--dataset", dataset, "give one dataset, e.g. funding or spot:1d")
    ds = picked[0]
    since_ms, until_ms = date_range(since, until)
    store = MarketStore(store_path)
    if tail < 0:
        raise InputError("--tail", tail, "give 0 (all rows) or a positive number")
    headers, rows = _series_rows(store, exchange, symbol, ds, since_ms, until_ms)
    rows = rows[-tail:] if tail else rows
    if as_json:
        print_json([dict(zip(["ts_ms", *headers[1:]], r, strict=True)) for r in rows])
        return
    digits = (8, 0, 2) if ds == "funding" else (2, 2, 2, 2)
    shown = [
        [_when(int(r[0] or 0)), *(fmt_num(v, d) for v, d in zip(r[1:], digits, strict=True))]
        for r in rows
    ]
    console.print(table(f"{exchange} {symbol} {ds}", headers, shown))


def _series_rows(
    store: MarketStore,
    exchange: str,
    symbol: str,
    ds: str,
    since_ms: int | None,
    until_ms: int | None,
) -> tuple[list[str], list[list[float | None]]]:
    """Column names and rows of one stored series (time first, as epoch ms)."""
    if ds == "funding":
        f = store.funding(exchange, symbol, since_ms, until_ms)
        cols = zip(f.ts_ms, f.rate, f.interval_hours, f.mark, strict=True)
        rows: list[list[float | None]] = [
            [int(t), float(r), float(h), float(m) if np.isfinite(m) else None]
            for t, r, h, m in cols
        ]
        return ["time", "rate", "interval_hours", "mark"], rows
    kind, _, interval = ds.partition(":")
    p = store.prices(exchange, symbol, kind, interval, since_ms, until_ms)
    ohlc = zip(p.ts_ms, p.open, p.high, p.low, p.close, strict=True)
    rows = [[int(t), float(o), float(h), float(lo), float(c)] for t, o, h, lo, c in ohlc]
    return ["time", "open", "high", "low", "close"], rows


@data_app.command("import")
def import_command(
    file: Path = FILE_ARGUMENT,
    store_path: Path | None = STORE_OPTION,
) -> None:
    """Add a CSV or Parquet file to the store (all rows checked first; all or nothing)."""
    store = MarketStore(store_path)
    table_name, rows, new = files.import_file(store, file)
    console.print(
        f"imported {rows:,} {table_name} rows from {file} ({new:,} new); store: {store.path}",
        markup=False,
        highlight=False,
    )


@data_app.command("export")
def export_command(
    out: Path = OUT_ARGUMENT,
    table_name: str = typer.Option("funding", "--table", help="funding or prices."),
    exchange: str | None = typer.Option(None, "--exchange"),
    symbol: str | None = typer.Option(None, "--symbol"),
    kind: str | None = typer.Option(None, "--kind", help="prices only: spot, perp or mark."),
    interval: str | None = typer.Option(None, "--interval", help="prices only: e.g. 1d."),
    since: str | None = typer.Option(None, "--since"),
    until: str | None = typer.Option(None, "--until"),
    store_path: Path | None = STORE_OPTION,
) -> None:
    """Write store rows to CSV or Parquet (the same columns `data import` reads)."""
    since_ms, until_ms = date_range(since, until)
    where = {
        k: v for k, v in (("exchange", exchange and exchange.lower()), ("symbol", symbol)) if v
    }
    if table_name == "prices":
        where |= {k: v for k, v in (("kind", kind), ("interval", interval)) if v}
    elif kind or interval:
        raise InputError("--kind/--interval", kind or interval, "only with --table prices")
    store = MarketStore(store_path)
    n = files.export_file(store, table_name, out, where, since_ms, until_ms)
    console.print(f"wrote {n:,} {table_name} rows to {out}", markup=False, highlight=False)
