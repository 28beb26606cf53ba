"""`perphedge data sync|list|show|import|export`: the local market-data store.

The store starts as the bundled real sample; `sync` adds to it from an exchange (incremental,
resumable, never duplicating rows); `import` / `export` move tidy CSV or Parquet in and out.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import RenderableType

from perphedge.cli.market_args import date_range
from perphedge.cli.wiring import current
from perphedge.dates import parse_day_ms
from perphedge.errors import InputError
from perphedge.report.data_view import (
    coverage_renderables,
    series_json,
    series_table,
    sync_progress,
    sync_renderables,
    sync_rows,
)
from perphedge.report.render import console, print_json
from perphedge.services.data import (
    ExportQuery,
    export_rows,
    import_rows,
    series_rows,
    stored_series,
    sync_store,
)
from perphedge.store import sync
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
    now_ms = current().clock.now_ms()
    since_ms = parse_day_ms("--since", since)
    until_ms = now_ms if until is None else parse_day_ms("--until", until, end_of_day=True)
    if since_ms >= until_ms:
        raise InputError("--since", since, f"must be before {until or 'now'}")
    store = current().market_store(store_path)
    with sync_progress() as on_task:
        results = sync_store(
            store, name, _symbols(symbols), wanted, (since_ms, until_ms), base_url, on_task
        )
    if as_json:
        print_json({"store": str(store.path), "series": sync_rows(results)})
        return
    _say(sync_renderables(results, store.path))


def _say(items: list[RenderableType]) -> None:
    for item in items:
        console.print(item, highlight=False)


@data_app.command("list")
def list_command(
    store_path: Path | None = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What the store holds: each series with its first and last time and row count."""
    stored = stored_series(current().market_store(store_path))
    if as_json:
        print_json({"store": str(stored.path), "created": stored.created, "series": stored.series})
        return
    _say(coverage_renderables(stored.series, stored.path, stored.created))


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
    span = date_range(since, until)
    series = series_rows(
        current().market_history(store_path), exchange, symbol, picked[0], span, tail
    )
    if as_json:
        print_json(series_json(series))
        return
    console.print(series_table(series, f"{exchange} {symbol} {picked[0]}"))


@data_app.command("import")
def import_command(
    file: Path = FILE_ARGUMENT,
    store_path: Path | None = STORE_OPTION,
) -> None:
    """Add a CSV or Parquet file to the store (all rows checked first; all or nothing)."""
    done = import_rows(current().market_store(store_path), file)
    console.print(
        f"imported {done.rows:,} {done.table_name} rows from {file} ({done.new_rows:,} new); "
        f"store: {done.store_path}",
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
    query = ExportQuery(table_name, exchange, symbol, kind, interval, date_range(since, until))
    n = export_rows(current().market_store(store_path), query, out)
    console.print(f"wrote {n:,} {table_name} rows to {out}", markup=False, highlight=False)
