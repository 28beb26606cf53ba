"""`perphedge funding SYMBOL...`: what holding the short hedge earns or pays in funding, per venue.

Options -> perphedge.services.funding.funding_report -> perphedge.report.funding_view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perphedge.cli import wiring
from perphedge.cli.market_args import date_range
from perphedge.report.funding_view import funding_json, funding_renderables, write_funding_chart
from perphedge.report.render import console, print_json
from perphedge.services.funding import funding_report


def funding(
    symbols: Annotated[
        list[str], typer.Argument(metavar="SYMBOL...", help="BTC, BTCUSDT or BTC/USDT:USDT")
    ],
    exchange: Annotated[
        list[str] | None,
        typer.Option(
            "--exchange", "-e", help="Venue(s), repeat or comma-separate (default: every venue)."
        ),
    ] = None,
    since: str | None = typer.Option(None, "--since", help="First day, YYYY-MM-DD (UTC)."),
    until: str | None = typer.Option(None, "--until", help="Last day, included, YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    plot: str | None = typer.Option(
        None, "--plot", help="Write cumulative funding and the rankings to FILE.html (offline)."
    ),
) -> None:
    """Funding carry of a SHORT perpetual hedge per venue, and where it is cheapest to hold.

    Mean rate, APR, negative share, worst days, longest negative streak, by year; venues ranked.
    """
    since_ms, until_ms = date_range(since, until)
    names = [n for item in exchange or [] for n in item.split(",") if n.strip()]
    stored = wiring.current().market_history(None)
    report = funding_report(stored, symbols, names, since_ms, until_ms)
    if plot is not None:
        write_funding_chart(Path(plot), report)
    if as_json:
        print_json(funding_json(report))
    else:
        for item in funding_renderables(report):
            console.print(item, highlight=False)
    if plot is not None and not as_json:
        console.print(f"chart written to {plot}")


def register(app: typer.Typer) -> None:
    app.command(name="funding")(funding)
