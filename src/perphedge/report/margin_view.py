"""Lines of `perphedge hedge margin add|remove|transfer`: the move, then what became of it."""

from __future__ import annotations

from perphedge.live.margin import MoveOutcome
from perphedge.services.margin_move import CURRENCY, PreparedMove, PreparedTransfer


def _where(paper: bool, exchange: str) -> str:
    return f"{exchange} (paper)" if paper else exchange


def move_line(move: PreparedMove) -> str:
    """The isolated-margin move about to be sent (or not, in a dry run)."""
    verb = "add to" if move.kind == "add" else "take from"
    where = _where(move.ports.paper, move.ports.exchange)
    return f"{verb} {move.symbol} isolated margin: {move.amount} {CURRENCY} on {where}"


def transfer_lines(transfer: PreparedTransfer) -> list[str]:
    """The transfer about to be sent, and what the wallet it leaves holds free now."""
    source, target = transfer.wallets
    where = _where(transfer.ports.paper, transfer.ports.exchange)
    return [
        f"transfer {transfer.amount} {CURRENCY} from the {source} wallet to the {target} wallet "
        f"on {where}",
        f"{source} wallet: {transfer.source_free:,.2f} {CURRENCY} free before the transfer",
    ]


def confirm_question(amount_text: str, paper: bool, exchange: str) -> str:
    where = _where(paper, exchange) if paper else f"{exchange} (REAL MONEY)"
    return f"Move {amount_text} {CURRENCY} on {where}?"


def outcome_lines(outcome: MoveOutcome, what: str) -> list[str]:
    """Earlier moves settled first, then the move's status ("done")."""
    settled = [f"settled earlier move {line}" for line in outcome.settled]
    return [*settled, f"{what} {outcome.move_id}: {outcome.status}"]
