"""Views of `perphedge data sync|list|show` and `perphedge exchanges`: tables, JSON and the
sync's progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from perphedge.exchanges.capabilities import VenueCapabilities
from perphedge.ports import Coverage
from perphedge.report.render import err_console, fmt_num, table
from perphedge.services.data import SeriesRows
from perphedge.store.sync import SyncResult, SyncTask
from perphedge.units import utc_text
from perphedge.venues.registry import Capability, Support

SYNC_HEADERS = ["exchange", "symbol", "dataset", "from", "until", "fetched", "new rows"]
_MARK = {Support.YES: "yes", Support.UNVERIFIED: "unverified", Support.NO: "no"}


def when(ts_ms: int) -> str:
    """'2026-06-29 08:00' (UTC)."""
    return utc_text(ts_ms, "%Y-%m-%d %H:%M")


def store_line(path: Path) -> Text:
    """'store: PATH (3.1 MB)'."""
    size = f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "not created yet"
    return Text(f"store: {path} ({size})")


@contextmanager
def sync_progress() -> Iterator[Callable[[SyncTask], Callable[[int], None]]]:
    """One progress bar per series on stderr (none in logs and pipes); yields the callback
    `perphedge.services.data.sync_store` takes."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
    )
    with Progress(
        *columns, TimeRemainingColumn(), console=err_console, transient=True,
        disable=not err_console.is_terminal,
    ) as bar:  # fmt: skip

        def on_task(task: SyncTask) -> Callable[[int], None]:
            total = task.until_ms - task.start_ms
            job = bar.add_task(f"{task.symbol} {task.dataset}", total=total)

            def advance(reached: int) -> None:
                bar.update(job, completed=min(total, reached - task.start_ms))

            return advance

        yield on_task


def sync_rows(results: list[SyncResult]) -> list[dict[str, Any]]:
    return [
        {
            "exchange": r.task.exchange, "symbol": r.task.symbol, "dataset": r.task.dataset,
            "from": when(r.task.start_ms), "until": when(r.task.until_ms),
            "resumed": r.task.resumed, "fetched": r.fetched, "new_rows": r.new_rows,
        }
        for r in results
    ]  # fmt: skip


def sync_renderables(results: list[SyncResult], path: Path) -> list[RenderableType]:
    rows = sync_rows(results)
    shown = [
        [r["exchange"], r["symbol"], r["dataset"], r["from"], r["until"], r["fetched"],
         r["new_rows"]]
        for r in rows
    ]  # fmt: skip
    out: list[RenderableType] = [table("data sync", SYNC_HEADERS, shown)]
    if not rows:
        out.append(Text("everything already up to date"))
    return [*out, store_line(path)]


def coverage_renderables(covs: list[Coverage], path: Path, created: bool) -> list[RenderableType]:
    origin = "" if created else " (bundled sample; nothing synced or imported yet)"
    rows = [
        [c.exchange, c.symbol, c.dataset, when(c.first_ts_ms), when(c.last_ts_ms), f"{c.rows:,}"]
        for c in covs
    ]
    headers = ["exchange", "symbol", "dataset", "first", "last", "rows"]
    return [table(f"market store{origin}", headers, rows), store_line(path)]


def series_json(series: SeriesRows) -> list[dict[str, Any]]:
    keys = ["ts_ms", *series.headers[1:]]
    return [dict(zip(keys, r, strict=True)) for r in series.rows]


def series_table(series: SeriesRows, title: str) -> Table:
    digits = (8, 0, 2) if series.dataset == "funding" else (2, 2, 2, 2)
    shown = [
        [when(int(r[0] or 0)), *(fmt_num(v, d) for v, d in zip(r[1:], digits, strict=True))]
        for r in series.rows
    ]
    return table(title, list(series.headers), shown)


def capability_rows(selected: list[VenueCapabilities]) -> list[list[str]]:
    """One row per capability, then funding interval, liquidation formula and ccxt ids."""
    rows = [[cap.value, *(_MARK[r.support[cap.value]] for r in selected)] for cap in Capability]
    rows.append(["funding interval", *(r.funding_interval for r in selected)])
    rows.append(["liquidation formula", *(r.liquidation for r in selected)])
    rows.append(["ccxt ids", *(", ".join(r.ccxt_ids) for r in selected)])
    return rows
