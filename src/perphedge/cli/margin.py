"""`perphedge hedge margin add|remove SYMBOL USD`: move isolated margin by hand, and
`perphedge hedge margin transfer to-futures|to-spot USD`: move USDT between the spot and the
futures wallet.

Dry run by default; with `--execute` (and a confirmation, or `--yes`) the move is journaled
first and sent once; an unknown outcome is settled from the venue's margin or transfer history
before anything else is sent (`perphedge.services.margin_move`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from perphedge.cli import wiring
from perphedge.live.margin import MoveOutcome
from perphedge.report.margin_view import (
    confirm_question,
    move_line,
    outcome_lines,
    transfer_lines,
)
from perphedge.report.render import console, err_console
from perphedge.services.margin_move import (
    MarginMoveRequest,
    TransferRequest,
    prepare_move,
    prepare_transfer,
    send_move,
    send_transfer,
)
from perphedge.store.paths import home_dir

margin_app = typer.Typer(
    help="Move margin onto or off an isolated leg, or between the spot and futures wallets.",
    no_args_is_help=True,
)
# "-5" reaches the amount's own check (one line naming USD) instead of "no such option"
_NUMBERS = {"ignore_unknown_options": True}


def _confirmed(question: str, execute: bool, yes: bool) -> bool:
    """True to send; a dry run says so, a refused confirmation ends with exit 1."""
    if not execute:
        err_console.print("dry run: nothing sent (add --execute to move the margin)")
        return False
    if not yes and not typer.confirm(question, err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    return True


def _said(outcome: MoveOutcome, what: str) -> None:
    for line in outcome_lines(outcome, what):
        console.print(line, markup=False, highlight=False)


def _move(
    kind: str, symbol: str, usd: float, exchange: str, paper: bool, execute: bool, yes: bool,
    base_url: str | None,
) -> None:  # fmt: skip
    home = home_dir()
    request = MarginMoveRequest(kind, symbol, usd, exchange, paper, base_url)
    move = prepare_move(request, home, wiring.current().clock)
    console.print(move_line(move), markup=False, highlight=False)
    question = confirm_question(str(move.amount), paper, move.ports.exchange)
    if _confirmed(question, execute, yes):
        _said(send_move(move, home), "margin move")


SYMBOL = typer.Argument(help="Perpetual: BTC, BTCUSDT or BTC/USDT:USDT.")
USD = typer.Argument(help="Amount in USDT.")
DIRECTION = typer.Argument(
    help="to-futures (spot wallet -> futures wallet) or to-spot (futures wallet -> spot wallet)."
)
_EXCHANGE = typer.Option("binance", "--exchange", help="Venue.")
_PAPER = typer.Option(False, "--paper", help="The paper account.")
_EXECUTE = typer.Option(False, "--execute", help="Move the margin (asks first).")
_YES = typer.Option(False, "--yes", help="Do not ask for confirmation.")
_BASE_URL = typer.Option(None, "--base-url", hidden=True)


@margin_app.command("add", context_settings=_NUMBERS)
def add(
    symbol: Annotated[str, SYMBOL], usd: Annotated[float, USD], exchange: str = _EXCHANGE,
    paper: bool = _PAPER, execute: bool = _EXECUTE, yes: bool = _YES,
    base_url: str | None = _BASE_URL,
) -> None:  # fmt: skip
    """Add USD of margin to an isolated leg (its liquidation price moves away)."""
    _move("add", symbol, usd, exchange, paper, execute, yes, base_url)


@margin_app.command("remove", context_settings=_NUMBERS)
def remove(
    symbol: Annotated[str, SYMBOL], usd: Annotated[float, USD], exchange: str = _EXCHANGE,
    paper: bool = _PAPER, execute: bool = _EXECUTE, yes: bool = _YES,
    base_url: str | None = _BASE_URL,
) -> None:  # fmt: skip
    """Take USD of margin back from an isolated leg (its liquidation price comes closer)."""
    _move("reduce", symbol, usd, exchange, paper, execute, yes, base_url)


@margin_app.command("transfer", context_settings=_NUMBERS)
def transfer(
    direction: Annotated[str, DIRECTION], usd: Annotated[float, USD],
    exchange: str = _EXCHANGE, paper: bool = _PAPER, execute: bool = _EXECUTE,
    yes: bool = _YES, base_url: str | None = _BASE_URL,
) -> None:  # fmt: skip
    """Move USDT between the spot wallet and the futures wallet (a cross hedge's margin)."""
    home = home_dir()
    request = TransferRequest(direction, usd, exchange, paper, base_url)
    prepared = prepare_transfer(request, home, wiring.current().clock)
    for line in transfer_lines(prepared):
        console.print(line, markup=False, highlight=False)
    question = confirm_question(str(prepared.amount), paper, prepared.ports.exchange)
    if _confirmed(question, execute, yes):
        _said(send_transfer(prepared, home), "transfer")
