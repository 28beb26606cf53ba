"""Margin moved by hand (`hedge margin add|remove SYMBOL USD`): the account that moves it, then
the move, journaled first and sent once; an unknown outcome is settled from the venue's margin
history before anything else is sent (`perphedge.live.margin`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.errors import CapabilityError, InputError, require_positive
from perphedge.live.execute import LiveSession, check_kill_switch, exclusive_run
from perphedge.live.margin import MoveOutcome, move_margin
from perphedge.live.session import Ports, live_ports, paper_ports
from perphedge.ports import MarginControl
from perphedge.store.journal import Journal
from perphedge.symbols import market_symbol
from perphedge.venues.registry import venue

MAX_MOVE_USD = 10_000_000.0


@dataclass(frozen=True)
class MarginMoveRequest:
    """`kind`: "add" or "reduce"; `symbol` as given (BTC, BTCUSDT or BTC/USDT:USDT)."""

    kind: str
    symbol: str
    usd: float
    exchange: str
    paper: bool = False
    base_url: str | None = None


@dataclass(frozen=True)
class PreparedMove:
    """A move up to sending: the account's ports, the perpetual, the amount in USDT."""

    kind: str
    ports: Ports
    control: MarginControl
    symbol: str
    amount: Decimal


def prepare_move(request: MarginMoveRequest, home: Path) -> PreparedMove:
    """The checked amount and the account that can move isolated margin (CapabilityError when
    it cannot)."""
    require_positive("USD", request.usd)
    if request.usd > MAX_MOVE_USD:
        raise InputError("USD", request.usd, f"give at most {MAX_MOVE_USD:,.0f} per move")
    amount = Decimal(str(round(request.usd, 2)))
    unified = market_symbol(request.symbol, "perp")
    name = venue(request.exchange).name
    ports = (
        paper_ports(name, home, [unified]) if request.paper else live_ports(name, request.base_url)
    )
    control = ports.execution
    if not isinstance(control, MarginControl):
        raise CapabilityError(
            f"{ports.exchange}{' (paper)' if request.paper else ''} cannot move isolated margin "
            "through its API here: move it on the exchange's own page"
        )
    return PreparedMove(request.kind, ports, control, unified, amount)


def send_move(move: PreparedMove, home: Path) -> MoveOutcome:
    """Send `move` once, journaled first, alone on this home (kill switch checked first)."""
    check_kill_switch(home)
    ports = move.ports
    with Journal.in_home() as journal, exclusive_run(home):
        session = LiveSession(
            ports.exchange, ports.account, ports.execution, ports.market, ports.clock, journal,
            home, account_id=ports.account_id,
        )  # fmt: skip
        return move_margin(session, move.control, move.symbol, move.kind, move.amount, "USDT")
