"""`perphedge hedge margin add|remove SYMBOL USD`: move isolated margin by hand.

Dry run by default; with `--execute` (and a confirmation, or `--yes`) the move is journaled
first and sent once; an unknown outcome is settled from the venue's margin history before
anything else is sent (`perphedge.live.margin`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from perphedge.errors import CapabilityError, InputError, require_positive
from perphedge.live.execute import LiveSession, check_kill_switch, exclusive_run
from perphedge.live.margin import move_margin
from perphedge.live.session import live_ports, paper_ports
from perphedge.ports import MarginControl
from perphedge.report.render import console, err_console
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.symbols import market_symbol
from perphedge.venues.registry import venue

margin_app = typer.Typer(help="Move isolated margin onto or off a hedge leg.", no_args_is_help=True)
MAX_MOVE_USD = 10_000_000.0


def _move(
    kind: str, symbol: str, usd: float, exchange: str, paper: bool, execute: bool, yes: bool,
    base_url: str | None,
) -> None:  # fmt: skip
    require_positive("USD", usd)
    if usd > MAX_MOVE_USD:
        raise InputError("USD", usd, f"give at most {MAX_MOVE_USD:,.0f} per move")
    amount = Decimal(str(round(usd, 2)))
    unified = market_symbol(symbol, "perp")
    name = venue(exchange).name
    ports = paper_ports(name, home_dir(), [unified]) if paper else live_ports(name, base_url)
    control = ports.execution
    if not isinstance(control, MarginControl):
        raise CapabilityError(
            f"{ports.exchange}{' (paper)' if paper else ''} cannot move isolated margin: the paper "
            "account margins every position from one cross wallet"
        )
    verb = "add to" if kind == "add" else "take from"
    console.print(f"{verb} {unified} isolated margin: {amount} USDT on {ports.exchange}")
    if not execute:
        err_console.print("dry run: nothing sent (add --execute to move the margin)")
        return
    if not yes and not typer.confirm(f"Move {amount} USDT on {ports.exchange}?", err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    home = home_dir()
    check_kill_switch(home)
    with Journal.in_home() as journal, exclusive_run(home):
        session = LiveSession(
            ports.exchange, ports.account, ports.execution, ports.market, ports.clock, journal,
            home, account_id=ports.account_id,
        )  # fmt: skip
        outcome = move_margin(session, control, unified, kind, amount, "USDT")
    for line in outcome.settled:
        err_console.print(f"settled earlier move {line}", markup=False, highlight=False)
    console.print(f"margin move {outcome.move_id}: {outcome.status}", highlight=False)


SYMBOL = typer.Argument(help="Perpetual: BTC, BTCUSDT or BTC/USDT:USDT.")
USD = typer.Argument(help="Amount in USDT.")
_EXCHANGE = typer.Option("binance", "--exchange", help="Venue.")
_PAPER = typer.Option(False, "--paper", help="The paper account.")
_EXECUTE = typer.Option(False, "--execute", help="Move the margin (asks first).")
_YES = typer.Option(False, "--yes", help="Do not ask for confirmation.")
_BASE_URL = typer.Option(None, "--base-url", hidden=True)


@margin_app.command("add")
def add(
    symbol: Annotated[str, SYMBOL], usd: Annotated[float, USD], exchange: str = _EXCHANGE,
    paper: bool = _PAPER, execute: bool = _EXECUTE, yes: bool = _YES,
    base_url: str | None = _BASE_URL,
) -> None:  # fmt: skip
    """Add USD of margin to an isolated leg (its liquidation price moves away)."""
    _move("add", symbol, usd, exchange, paper, execute, yes, base_url)


@margin_app.command("remove")
def remove(
    symbol: Annotated[str, SYMBOL], usd: Annotated[float, USD], exchange: str = _EXCHANGE,
    paper: bool = _PAPER, execute: bool = _EXECUTE, yes: bool = _YES,
    base_url: str | None = _BASE_URL,
) -> None:  # fmt: skip
    """Take USD of margin back from an isolated leg (its liquidation price comes closer)."""
    _move("reduce", symbol, usd, exchange, paper, execute, yes, base_url)
