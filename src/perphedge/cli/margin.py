"""`perphedge hedge margin add|remove SYMBOL USD`: move isolated margin by hand.

Dry run by default; with `--execute` (and a confirmation, or `--yes`) the move is journaled
first and sent once; an unknown outcome is settled from the venue's margin history before
anything else is sent (`perphedge.services.margin_move`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from perphedge.report.render import console, err_console
from perphedge.services.margin_move import MarginMoveRequest, prepare_move, send_move
from perphedge.store.paths import home_dir

margin_app = typer.Typer(help="Move isolated margin onto or off a hedge leg.", no_args_is_help=True)


def _move(
    kind: str, symbol: str, usd: float, exchange: str, paper: bool, execute: bool, yes: bool,
    base_url: str | None,
) -> None:  # fmt: skip
    home = home_dir()
    move = prepare_move(MarginMoveRequest(kind, symbol, usd, exchange, paper, base_url), home)
    where, amount = move.ports.exchange, move.amount
    verb = "add to" if kind == "add" else "take from"
    console.print(f"{verb} {move.symbol} isolated margin: {amount} USDT on {where}")
    if not execute:
        err_console.print("dry run: nothing sent (add --execute to move the margin)")
        return
    if not yes and not typer.confirm(f"Move {amount} USDT on {where}?", err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    outcome = send_move(move, home)
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
