"""`perphedge backtest`: the portfolio unhedged, hedged and under chosen policies, on history.

Shell: reads the portfolio file and the market store, calls the pure backtest core, renders.
`prepare` and `make_spec` are shared with `perphedge sweep`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perphedge.cli import wiring
from perphedge.cli.options import choice
from perphedge.config import load_portfolio
from perphedge.dates import parse_day_ms
from perphedge.errors import InputError
from perphedge.instruments import ContractKind
from perphedge.report.backtest_view import (
    backtest_inputs,
    backtest_json,
    backtest_title,
    chart_runs,
    liquidation_lines,
    metrics_table,
    notes_lines,
    rich_table,
    run_notes,
)
from perphedge.report.html import render_html, write_html
from perphedge.report.render import console, err_console, print_json
from perphedge.services.backtest import BacktestRequest, Prepared, run_backtests

MAX_GAP_LINES = 5


def _say(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_notes(prep: Prepared) -> None:
    """Coverage notes and data gaps, on stderr (stdout stays clean for --json)."""
    for line in notes_lines(prep, MAX_GAP_LINES):
        _say(line)


def backtest(
    portfolio: Annotated[
        Path, typer.Argument(help="Portfolio file (TOML), as for `perphedge plan`.")
    ],
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last instant, YYYY-MM-DD (00:00 UTC).")],
    policy: Annotated[
        list[str] | None,
        typer.Option(
            help="static|band|schedule|funding|vol|keeper (repeatable), beside 'hedged' "
            "(default: keeper, with the file's [keeper] settings and reserve)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Policy parameter k=v (repeatable).")
    ] = None,
    leverage: Annotated[
        float | None, typer.Option(help="Default: the file's hedge leverage.")
    ] = None,
    contract: Annotated[
        str | None, typer.Option(help="linear|inverse (default: the file's).")
    ] = None,
    cash: Annotated[
        float | None, typer.Option(help="Starting cash USD (default: the hedge's initial margin).")
    ] = None,
    top_up: Annotated[
        bool,
        typer.Option(
            "--top-up",
            help="Top margin up from cash before a liquidation (without --cash: a reserve "
            "equal to the initial margin is added).",
        ),
    ] = False,
    slippage_bp: Annotated[float, typer.Option(help="Slippage per trade, basis points.")] = 1.0,
    spot_fee_bp: Annotated[
        float,
        typer.Option(
            help="Spot taker fee on coins the keeper sells to refill a margin, basis points "
            "(10: Binance spot, regular tier)."
        ),
    ] = 10.0,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse data with gaps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page to this .html file.")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Market store file (default: the data directory's).")
    ] = None,
) -> None:
    """Unhedged, hedged and policy runs of a portfolio over stored history."""
    since, until = parse_day_ms("--from", date_from), parse_day_ms("--to", date_to)
    if since > until:
        raise InputError("--from", date_from, f"must not be after --to {date_to}")
    if report is not None and report.suffix.lower() not in {".html", ".htm"}:
        raise InputError("--report", str(report), "give a file name ending in .html")
    request = BacktestRequest(
        since,
        until,
        tuple(policy or ()),
        tuple(param or ()),
        choice(ContractKind, "--contract", contract) if contract else None,
        strict,
        leverage,
        cash,
        top_up,
        slippage_bp,
        spot_fee_bp,
    )
    stored = wiring.current().market_history(store)
    outcome = run_backtests(load_portfolio(portfolio), request, stored)
    prep, settings, runs = outcome.prep, outcome.settings, list(outcome.runs)
    print_notes(prep)
    for note in outcome.keeper_notes:
        _say(f"note: {note}")
    title = backtest_title(prep, settings)
    if report is not None:
        gaps = (f"gap: {g.describe()}" for g in prep.aligned.gaps)
        notes = [*run_notes(prep, runs, outcome.preventions), *gaps]
        inputs = backtest_inputs(prep, settings, runs)
        page = render_html(
            title, prep.market.times_ms, chart_runs(runs), metrics_table(runs), notes, inputs
        )
        write_html(report, page)
    if as_json:
        print_json(backtest_json(prep, settings, runs))
    else:
        console.print(rich_table(title, runs))
        for line in liquidation_lines(runs, outcome.preventions):
            console.print(line, markup=False, highlight=False)
        if report is not None:
            console.print(f"report written to {report}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
