"""Margin moved by hand: `hedge margin add|remove SYMBOL USD` on an isolated leg, `hedge margin
transfer to-futures|to-spot USD` between the spot and the futures wallet. The account that
moves it, the checked amount, then the move, journaled first and sent once; an unknown outcome
is settled from the venue's margin or transfer history before anything else is sent
(`perphedge.live.margin`, the path the keeper's own moves take)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.errors import CapabilityError, InputError, require_positive
from perphedge.exchanges.paper_state import paper_path
from perphedge.live.execute import LiveSession, check_kill_switch, exclusive_run
from perphedge.live.keep import move_amount
from perphedge.live.margin import MoveOutcome, Mover, move_margin
from perphedge.live.session import Ports, live_ports, paper_account, paper_ports
from perphedge.ports import Clock, MarginControl, WalletTransfer
from perphedge.store.journal import Journal
from perphedge.symbols import market_symbol
from perphedge.venues.registry import venue

MAX_MOVE_USD = 10_000_000.0
CURRENCY = "USDT"
# DIRECTION as typed -> the journal's kind of move, and the wallets it goes (from, to)
DIRECTIONS = {
    "to-futures": ("transfer", "spot", "futures"),
    "to-spot": ("transfer_out", "futures", "spot"),
}


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


def prepare_move(request: MarginMoveRequest, home: Path, wall: Clock | None = None) -> PreparedMove:
    """The checked amount and the account that can move isolated margin (CapabilityError when
    it cannot)."""
    amount = _amount(request.usd)
    unified = market_symbol(request.symbol, "perp")
    ports = _account(request.exchange, request.paper, request.base_url, home, [unified], wall)
    control = ports.execution
    if not isinstance(control, MarginControl):
        raise CapabilityError(
            f"{ports.exchange}{' (paper)' if request.paper else ''} cannot move isolated margin "
            "through its API here: move it on the exchange's own page"
        )
    return PreparedMove(request.kind, ports, control, unified, amount)


def _amount(usd: float) -> Decimal:
    """USD as sent: at most `MAX_MOVE_USD`, rounded to the cent (InputError naming USD)."""
    require_positive("USD", usd)
    if usd > MAX_MOVE_USD:
        raise InputError("USD", usd, f"give at most {MAX_MOVE_USD:,.0f} per move")
    amount = Decimal(str(round(usd, 2)))
    if amount <= 0:
        raise InputError("USD", usd, "give at least 0.01 (a cent)")
    return amount


def _account(
    exchange: str,
    paper: bool,
    base_url: str | None,
    home: Path,
    symbols: list[str],
    wall: Clock | None,
) -> Ports:
    """The account: the paper one (its simulated time running with `wall`), or the venue's."""
    name = venue(exchange).name
    return paper_ports(name, home, symbols, wall=wall) if paper else live_ports(name, base_url)


def send_move(move: PreparedMove, home: Path) -> MoveOutcome:
    """Send `move` once, journaled first, alone on this home (kill switch checked first)."""
    return _send(move.ports, move.control, move.symbol, move.kind, move.amount, home)


@dataclass(frozen=True)
class TransferRequest:
    """`direction`: "to-futures" (spot -> futures wallet) or "to-spot" (back)."""

    direction: str
    usd: float
    exchange: str
    paper: bool = False
    base_url: str | None = None


@dataclass(frozen=True)
class PreparedTransfer:
    """A transfer up to sending: the journal's kind, the wallets (from, to), the amount in USDT
    and what the wallet it leaves holds free now."""

    kind: str
    wallets: tuple[str, str]
    ports: Ports
    control: WalletTransfer
    amount: Decimal
    source_free: Decimal


def prepare_transfer(
    request: TransferRequest, home: Path, wall: Clock | None = None
) -> PreparedTransfer:
    """The checked direction and amount (InputError naming DIRECTION or USD, also when the
    wallet it leaves has less free), and the account that can transfer (CapabilityError)."""
    if request.direction not in DIRECTIONS:
        raise InputError(
            "DIRECTION", request.direction,
            "give to-futures (spot wallet -> futures wallet) or to-spot (futures -> spot)",
        )  # fmt: skip
    kind, source, target = DIRECTIONS[request.direction]
    amount = _amount(request.usd)
    name = venue(request.exchange).name
    if request.paper and not paper_path(home, paper_account(name, False)).exists():
        raise InputError(
            "--exchange", name,
            "no paper account there yet: run `perphedge paper reset FILE --spot USD` first",
        )  # fmt: skip
    ports = _account(name, request.paper, request.base_url, home, [], wall)
    control = ports.execution
    if not isinstance(control, WalletTransfer):
        raise CapabilityError(
            f"{ports.exchange}{' (paper)' if request.paper else ''} cannot transfer between its "
            "wallets through its API here: transfer on the exchange's own page"
        )
    free = _free(ports, control, source)
    if amount > free:
        raise InputError(
            "USD", request.usd,
            f"the {source} wallet holds {move_amount(float(free), CURRENCY)} {CURRENCY} free: "
            "give at most that",
        )  # fmt: skip
    return PreparedTransfer(kind, (source, target), ports, control, amount, free)


def _free(ports: Ports, control: WalletTransfer, wallet: str) -> Decimal:
    """USDT free in the spot wallet, or available in the futures wallet."""
    if wallet == "spot":
        return control.spot_free(CURRENCY)
    free = sum((b.free for b in ports.account.balances() if b.currency == CURRENCY), Decimal(0))
    return max(free, Decimal(0))


def send_transfer(transfer: PreparedTransfer, home: Path) -> MoveOutcome:
    """Send `transfer` once, journaled first, alone on this home (kill switch checked first)."""
    return _send(transfer.ports, transfer.control, "", transfer.kind, transfer.amount, home)


def _send(
    ports: Ports, control: Mover, symbol: str, kind: str, amount: Decimal, home: Path
) -> MoveOutcome:
    check_kill_switch(home)
    with Journal.in_home() as journal, exclusive_run(home):
        session = LiveSession(
            ports.exchange, ports.account, ports.execution, ports.market, ports.clock, journal,
            home, account_id=ports.account_id,
        )  # fmt: skip
        return move_margin(session, control, symbol, kind, amount, CURRENCY)
