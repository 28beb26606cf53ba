"""What the account commands share (hedge, monitor, keep): their options, and opening the
account a portfolio names, with its warnings, notes and paper prices said on stderr."""

from __future__ import annotations

import typer

from perphedge.cli import wiring
from perphedge.config import PortfolioConfig
from perphedge.live.session import Ports
from perphedge.report.paper_view import paper_marks_lines
from perphedge.report.render import err_console
from perphedge.services.accounts import AccountRequest, OpenedAccount, open_account
from perphedge.store.paths import home_dir

PORTFOLIO = typer.Argument(help="Portfolio TOML file.")
EXCHANGE = typer.Option(None, "--exchange", help="Venue (default: the file's).")
PAPER = typer.Option(False, "--paper", help="Use the paper exchange (offline).")
LIVE_PRICES = typer.Option(False, "--live-prices", help="With --paper: the venue's live prices.")
BASE_URL = typer.Option(None, "--base-url", hidden=True)  # tests: a local fake exchange
JSON = typer.Option(False, "--json", help="Print JSON.")


def open_ports(
    config: PortfolioConfig,
    exchange: str | None,
    paper: bool,
    base_url: str | None,
    command: str = "hedge",
    live_prices: bool = False,
) -> Ports:
    """Ports for the portfolio's venue (or `exchange`), paper or real; warnings, notes and the
    paper account's prices go to stderr."""
    opened = open_said(config, AccountRequest(exchange, paper, base_url, command, live_prices))
    if opened.marks is not None:
        for line in paper_marks_lines(opened.marks):
            err_console.print(line, markup=False, highlight=False)
    return opened.ports


def open_said(config: PortfolioConfig, request: AccountRequest) -> OpenedAccount:
    """`perphedge.services.accounts.open_account`; its warnings and notes go to stderr."""
    adapters = wiring.current()
    opened = open_account(config, request, home_dir(), adapters.history(), adapters.clock)
    for note in opened.warnings:
        err_console.print(f"warning: {note}", highlight=False)
    for note in opened.ports.notes:
        err_console.print(f"note: {note}", markup=False, highlight=False)
    return opened


def account_name(ports: Ports) -> str:
    """How the account is named to people: "paper:binance" or "binance"."""
    return f"paper:{ports.exchange}" if ports.paper else ports.exchange
