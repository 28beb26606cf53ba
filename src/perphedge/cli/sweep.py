"""`perphedge sweep`: a grid of policies, ratios, leverages and reserves, ranked.

Options -> `services.sweep.run_sweep` -> `report.sweep_view`. The grid runs as batches (one pass
over the market data for many configurations), on this machine's cores or, with
`--executor ray`, on a Ray cluster (the `perphedge[cluster]` extra).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perphedge.cli import wiring
from perphedge.cli.backtest import print_notes
from perphedge.config import load_portfolio
from perphedge.dates import parse_day_ms
from perphedge.errors import InputError, require_non_negative
from perphedge.report.render import console, err_console
from perphedge.report.sweep_view import (
    heatmap_html,
    sweep_csv,
    sweep_json,
    sweep_table,
    unhedged_line,
    write_text,
)
from perphedge.services.sweep import (
    DEFAULT_RANK,
    RANKABLE,
    WHY_DEFAULT_RANK,
    SweepRequest,
    SweepRunner,
    local_runner,
    run_sweep,
)

EXECUTORS = ("local", "ray")


def _runner(executor: str, address: str | None) -> SweepRunner:
    if executor not in EXECUTORS:
        raise InputError("--executor", executor, f"use one of {'|'.join(EXECUTORS)}")
    if executor == "local":
        if address is not None:
            raise InputError("--address", address, "give it with --executor ray")
        return local_runner
    from perphedge.cluster.ray_runner import RayRunner, default_temp_dir

    return RayRunner(address, None, default_temp_dir())


def _check_heatmap(heatmap: Path | None, x: str | None, y: str | None) -> None:
    if heatmap is not None and (x is None or y is None):
        raise InputError("--heatmap", str(heatmap), "name its axes with --x PARAM --y PARAM")
    if heatmap is None and (x is not None or y is not None):
        raise InputError("--x/--y", x or y, "give them with --heatmap FILE.html")


def sweep(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio file (TOML).")],
    grid: Annotated[
        str,
        typer.Option(
            help='e.g. "policy=static,band;ratio=0.5,1;band=0.01,0.05;leverage=2,3;'
            'reserve=0,5000" (reserve: USD of cash beside the initial margin)'
        ),
    ],
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last instant, YYYY-MM-DD (UTC).")],
    rank: Annotated[
        str, typer.Option(help=f"Metric to rank by: {', '.join(RANKABLE)}. {WHY_DEFAULT_RANK}")
    ] = DEFAULT_RANK,
    jobs: Annotated[int, typer.Option(help="Threads on this machine (default: all cores).")] = 0,
    executor: Annotated[
        str, typer.Option(help="local (this machine) or ray (a Ray cluster; perphedge[cluster]).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join (auto, HOST:6379, ray://HOST:10001); "
            "default: start a private Ray here."
        ),
    ] = None,
    cash: Annotated[float | None, typer.Option(help="Starting cash USD of every run.")] = None,
    top_up: Annotated[bool, typer.Option("--top-up", help="Top margin up from cash.")] = False,
    slippage_bp: Annotated[float, typer.Option(help="Slippage per trade, basis points.")] = 1.0,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse data with gaps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write every run to this .csv file.")
    ] = None,
    heatmap: Annotated[
        Path | None,
        typer.Option(help="Also write a heatmap page (.html) of the ranking metric over --x, --y."),
    ] = None,
    x: Annotated[str | None, typer.Option(help="Heatmap x axis: a grid parameter.")] = None,
    y: Annotated[str | None, typer.Option(help="Heatmap y axis: a grid parameter.")] = None,
    store: Annotated[Path | None, typer.Option(help="Market store file.")] = None,
) -> None:
    """Run a grid of policies, ratios, leverages and reserves and rank the results."""
    if jobs < 0:
        raise InputError("--jobs", jobs, "give a number of threads >= 1 (0: all cores)")
    _check_heatmap(heatmap, x, y)
    runner = _runner(executor, address)
    since, until = parse_day_ms("--from", date_from), parse_day_ms("--to", date_to)
    if since > until:
        raise InputError("--from", date_from, f"must not be after --to {date_to}")
    request = SweepRequest(
        grid, since, until, rank,
        None if cash is None else require_non_negative("--cash", cash),
        top_up, require_non_negative("--slippage-bp", slippage_bp), strict,
        jobs or os.cpu_count() or 1,
    )  # fmt: skip
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    quiet = not err_console.is_terminal  # no bar, and no stray blank line, when piped
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task("sweep", total=None)
        outcome = run_sweep(
            load_portfolio(portfolio), request, wiring.current().market_history(store), runner,
            lambda n, total: progress.update(task, total=total, advance=n),
        )  # fmt: skip
    for prep in outcome.prepared:
        print_notes(prep)
    page = heatmap_html(outcome, x, y, grid) if heatmap and x and y else None  # checks the axes
    if csv_path is not None:
        write_text("--csv", csv_path, sweep_csv(outcome), ".csv")
    if heatmap is not None and page is not None:
        write_text("--heatmap", heatmap, page, ".html")
    if as_json:
        print(sweep_json(outcome))
    else:
        console.print(sweep_table(outcome))
        console.print(unhedged_line(outcome), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
