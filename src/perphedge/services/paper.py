"""Paper account services: fund it from the plan, show every position, advance time atomically.

A new USDT-margined paper account is funded with the plan's initial margin plus the keeper's
reserve for it (without stored history to size it on: a reserve equal to the initial margin, and
the note says so), unless a deposit is given. `paper_view` lists every position the account holds, its funding and whether
the portfolio file plans it. `advance_paper` moves simulated time and brings the account up to
it, or, when the replayed data ends before then, changes nothing and says what to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.config import PortfolioConfig
from perphedge.errors import DataError, InputError, PerphedgeError
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import paper_path
from perphedge.exchanges.replay import ReplayClock, StoreMarketData
from perphedge.hedge.model import HedgePlan
from perphedge.hedge.reserve import ReservePlan
from perphedge.instruments import ContractKind
from perphedge.live.session import Ports, paper_account, paper_ports
from perphedge.ports import (
    Balance,
    Clock,
    FundingPayment,
    History,
    OrderState,
    PositionState,
    PriceQuote,
)
from perphedge.services.plan import PlanRequest, plan_portfolio
from perphedge.services.targets import coin_deposits, hedge_symbols
from perphedge.units import to_decimal

MAX_SPOT_USD = 1e12
NO_RESERVE_NOTE = (
    "reserve = the initial margin (no stored history to size the keeper's reserve on); "
    "paper reset --deposit USD funds it otherwise"
)


@dataclass(frozen=True)
class PaperDeposit:
    """What a new paper account starts with, and why."""

    usdt: Decimal
    initial_margin_usd: float
    reserve_usd: float
    note: str


def paper_deposit(plan: HedgePlan, reserve: ReservePlan | None = None) -> PaperDeposit:
    """The plan's initial margin (linear legs) plus the keeper's reserve for it (the worst case
    of stored history), or, without one, a reserve equal to the initial margin (noted)."""
    margin = sum(leg.initial_margin_usd for leg in plan.legs if not leg.instrument.is_inverse)
    if reserve is None:
        extra, note = margin, NO_RESERVE_NOTE
    else:
        extra = reserve.reserve_usd
        note = (
            f"reserve = the keeper's, sized on the worst {reserve.window_days:g}-day windows stored"
        )
    return PaperDeposit(to_decimal(round(margin + extra, 2)), margin, extra, note)


@dataclass(frozen=True)
class PaperPosition:
    """One position of the paper account, its funding and whether the file plans it."""

    state: PositionState
    funding: tuple[FundingPayment, ...]
    in_file: bool | None  # None: no portfolio file given

    @property
    def funding_total(self) -> Decimal:
        return sum((p.amount for p in self.funding), Decimal(0))


@dataclass(frozen=True)
class PaperView:
    """The account at simulated now: balances, every position, open orders, and the USDT in its
    spot wallet (what a cross account's keeper transfers from)."""

    now_ms: int
    balances: tuple[Balance, ...]
    positions: tuple[PaperPosition, ...]
    funding: tuple[FundingPayment, ...]
    open_orders: tuple[OrderState, ...]
    spot_usdt: Decimal = Decimal(0)


def paper_view(
    paper: PaperExchange, clock: ReplayClock, planned_symbols: frozenset[str] | None = None
) -> PaperView:
    """Every position the account holds (no fixed symbol list), with its funding; a position
    is flagged when `planned_symbols` (the file's legs) does not name it."""
    symbols = paper.symbols()
    funding = tuple(p for s in symbols for p in paper.funding_received(s, 0))
    positions = tuple(
        PaperPosition(
            state,
            tuple(p for p in funding if p.symbol == state.symbol),
            None if planned_symbols is None else state.symbol in planned_symbols,
        )
        for state in paper.positions(symbols)
    )
    orders = tuple(paper.open_orders())
    spot = paper.spot_free("USDT")
    return PaperView(clock.now_ms(), tuple(paper.balances()), positions, funding, orders, spot)


def advance_paper(
    paper: PaperExchange, market: StoreMarketData, clock: ReplayClock, hours: float
) -> int:
    """Move simulated time `hours` ahead and settle funding and fills up to it; returns the new
    now. Past the stored prices nothing changes and DataError says to sync or reset earlier."""
    before = clock.jump_ms
    clock.advance(hours)
    try:
        for symbol in paper.symbols() or market.symbols():  # held, else the ones replayed
            market.mark_price(symbol)
        paper.balances()
    except PerphedgeError as failed:
        clock.set_jump_ms(before)
        raise DataError(
            f"the stored prices end before then ({failed}); nothing changed: run perphedge data "
            "sync, or perphedge paper reset --at YYYY-MM-DD to start the replay earlier"
        ) from None
    return clock.now_ms()


def paper_parts(ports: Ports) -> tuple[PaperExchange, StoreMarketData, ReplayClock]:
    """The replayed paper account's exchange, market and clock (InputError for another)."""
    paper, market, clock = ports.account, ports.market, ports.clock
    if not (
        isinstance(paper, PaperExchange)
        and isinstance(market, StoreMarketData)
        and isinstance(clock, ReplayClock)
    ):
        raise InputError("--exchange", ports.exchange, "give a replayed paper account")
    return paper, market, clock


def given_deposit(deposit_usd: float) -> PaperDeposit:
    """A deposit the user gave (--deposit), checked."""
    if not (math.isfinite(deposit_usd) and deposit_usd > 0):
        raise InputError("--deposit", deposit_usd, "give the USDT to deposit, > 0")
    return PaperDeposit(to_decimal(deposit_usd), 0.0, 0.0, "deposit as given")


@dataclass(frozen=True)
class PaperOpening:
    """What a new paper account starts from: the plan's deposit (None: coin-margined, it holds
    the coins) and the plan's as-of time, where its replay starts (None: the plan read nothing
    stored; the replay starts where the stored marks end)."""

    deposit: PaperDeposit | None
    as_of_ms: int | None


def plan_opening(
    config: PortfolioConfig, history: History, clock: Clock, exchange: str | None = None
) -> PaperOpening:
    """The offline plan's deposit (initial margin plus reserve, see `paper_deposit`) and time."""
    planned = plan_portfolio(config, PlanRequest(exchange=exchange), history, clock)
    inverse = config.hedge.kind is ContractKind.INVERSE
    deposit = None if inverse else paper_deposit(planned.plan, planned.reserve)
    return PaperOpening(deposit, planned.as_of_ms)


@dataclass(frozen=True)
class PaperMarks:
    """The replayed marks a paper command uses, at simulated now."""

    now_ms: int
    marks: tuple[PriceQuote, ...]
    start_note: str | None  # a new replay that started before the plan's time: why


def paper_marks(ports: Ports, symbols: Sequence[str]) -> PaperMarks:
    """The marks of `symbols` the paper account trades at now (a symbol without one is left
    out: the command using it says why)."""
    quotes = []
    for symbol in dict.fromkeys(symbols):
        try:
            quotes.append(ports.market.mark_price(symbol))
        except PerphedgeError:
            continue
    return PaperMarks(ports.clock.now_ms(), tuple(quotes), ports.start_note)


# where a replay starts when nothing names the coins: the bundled sample's perpetuals
DEFAULT_SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
COIN_MARGINED_SYMBOLS = ("BTC/USD:BTC", "ETH/USD:ETH")


def default_symbols(coin_margined: bool) -> list[str]:
    """The perpetuals a paper account without a portfolio file replays."""
    return list(COIN_MARGINED_SYMBOLS if coin_margined else DEFAULT_SYMBOLS)


@dataclass(frozen=True)
class PaperReset:
    """Which paper account `paper reset` deletes, and where a new one starts (`--at`)."""

    exchange: str
    coin_margined: bool = False
    start_ms: int | None = None  # None: the plan's as-of time, else where the marks end
    spot_usd: float = 0.0  # USDT in the new account's spot wallet (--spot)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.spot_usd) and 0.0 <= self.spot_usd <= MAX_SPOT_USD):
            raise InputError(
                "--spot", self.spot_usd, f"give the USDT for the spot wallet, 0 to {MAX_SPOT_USD:g}"
            )


@dataclass(frozen=True)
class PaperFresh:
    """The new account a reset opens: its deposit, the plan's time, perpetuals and coins."""

    opening: PaperOpening
    symbols: tuple[str, ...]
    coins: tuple[tuple[str, Decimal], ...] | None


@dataclass(frozen=True)
class PaperOpened:
    """A new paper account: its wallets, its marks at simulated now, and how it was funded."""

    balances: tuple[Balance, ...]
    marks: PaperMarks
    deposit: PaperDeposit | None


def plan_reset(
    config: PortfolioConfig | None,
    request: PaperReset,
    deposit_usd: float | None,
    history: History,
    clock: Clock,
) -> PaperFresh | None:
    """What a reset opens afterwards (None: nothing, only the deletion): with a file, an account
    funded from its plan (or `deposit_usd`) starting at the plan's as-of time; without one, with
    `deposit_usd` or a start time, one on the bundled sample's perpetuals. Checked before
    anything is deleted."""
    given = None if deposit_usd is None else given_deposit(deposit_usd)
    if config is None:
        if given is None and request.start_ms is None:
            return None
        return PaperFresh(
            PaperOpening(given, None), tuple(default_symbols(request.coin_margined)), None
        )
    opening = plan_opening(config, history, clock, request.exchange)
    if given is not None or request.coin_margined:
        opening = PaperOpening(given, opening.as_of_ms)
    symbols = tuple(hedge_symbols(config))
    return PaperFresh(opening, symbols, tuple(sorted(coin_deposits(config).items())))


def delete_paper(home: Path, request: PaperReset) -> None:
    """Delete the paper account, its clock and its lock (the journal keeps its history)."""
    path = paper_path(home, paper_account(request.exchange, request.coin_margined))
    for file in (path, path.with_suffix(".clock.json"), path.with_suffix(".lock")):
        file.unlink(missing_ok=True)


def reopen_paper(home: Path, request: PaperReset, fresh: PaperFresh) -> PaperOpened:
    """Open the account `plan_reset` described, at `request.start_ms` or the plan's time."""
    deposit = fresh.opening.deposit
    ports = paper_ports(
        request.exchange, home, list(fresh.symbols), request.coin_margined,
        None if fresh.coins is None else dict(fresh.coins),
        initial_usdt=None if deposit is None else deposit.usdt,
        start_ms=request.start_ms, as_of_ms=fresh.opening.as_of_ms,
        spot_usdt=to_decimal(request.spot_usd) if request.spot_usd else None,
    )  # fmt: skip
    marks = paper_marks(ports, fresh.symbols)
    return PaperOpened(tuple(ports.account.balances()), marks, deposit)


def restart_paper(
    config: PortfolioConfig, request: PaperReset, history: History, clock: Clock, home: Path
) -> PaperOpened:
    """`paper reset PORTFOLIO --at DAY` in one call: a new account funded from `config`'s plan
    in place of the old one, starting at `request.start_ms` (checked before deleting)."""
    fresh = plan_reset(config, request, None, history, clock)
    if fresh is None:  # with a portfolio there is always an account to open
        raise InputError("portfolio", None, "give the portfolio the new account hedges")
    delete_paper(home, request)
    return reopen_paper(home, request, fresh)
