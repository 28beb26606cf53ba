"""Paper account services: fund it from the plan, show every position, advance time atomically.

A new USDT-margined paper account is funded with the plan's initial margin plus the keeper's
reserve for it (without stored history to size it on: a reserve equal to the initial margin, and
the note says so), unless a deposit is given. `paper_view` lists every position the account holds, its funding and whether
the portfolio file plans it. `advance_paper` moves simulated time and brings the account up to
it, or, when the replayed data ends before then, changes nothing and says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from perphedge.config import PortfolioConfig
from perphedge.errors import DataError, InputError, PerphedgeError
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.replay import ReplayClock, StoreMarketData
from perphedge.hedge.model import HedgePlan
from perphedge.hedge.reserve import ReservePlan
from perphedge.live.session import Ports
from perphedge.ports import Balance, Clock, FundingPayment, History, OrderState, PositionState
from perphedge.services.plan import PlanRequest, plan_portfolio
from perphedge.units import to_decimal

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
    """The account at simulated now: balances, every position, open orders."""

    now_ms: int
    balances: tuple[Balance, ...]
    positions: tuple[PaperPosition, ...]
    funding: tuple[FundingPayment, ...]
    open_orders: tuple[OrderState, ...]


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
    return PaperView(clock.now_ms(), tuple(paper.balances()), positions, funding, orders)


def advance_paper(
    paper: PaperExchange, market: StoreMarketData, clock: ReplayClock, hours: float
) -> int:
    """Move simulated time `hours` ahead and settle funding and fills up to it; returns the new
    now. Past the stored prices nothing changes and DataError says to sync or reset earlier."""
    before = clock.jump_ms
    clock.advance(hours)
    try:
        for symbol in paper.symbols():
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


def planned_deposit(config: PortfolioConfig, history: History, clock: Clock) -> PaperDeposit:
    """The offline plan's initial margin plus its reserve (see `paper_deposit`)."""
    planned = plan_portfolio(config, PlanRequest(), history, clock)
    return paper_deposit(planned.plan, planned.reserve)
