"""Hedge run service: open, rebalance or close the hedge, previewed first, sent only as shown.

`preview_run` computes the orders that move the account's positions (read back through the
Account port) to the plan's targets, without sending anything. `send_run` sends them only when a
fresh preview has exactly the orders the caller showed (symbol, side, quantity, type, limit price,
reduce-only); if prices or positions moved meanwhile it refuses (SafetyError, nothing sent), so
what was confirmed is what goes out. Sending holds the run lock, respects the kill switch and
refuses keys that can withdraw, first finishes any interrupted run from the journal, refuses
beside another perphedge run on the account, and checks the account against the journal before
and after sending (`perphedge.live.check`) — as `perphedge hedge ... --execute` does. `open_paper` opens the offline paper account for a
portfolio; `advance_paper` lets simulated time pass (funding settles at its real times);
`account_status` is the monitor's snapshot of the account against the plan, with its alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.config import PortfolioConfig
from perphedge.errors import SafetyError
from perphedge.exchanges.capabilities import require_for
from perphedge.exchanges.paper_state import paper_path
from perphedge.hedge.model import PlanWarning
from perphedge.hedge.orders import ExecutionLimits
from perphedge.instruments import ContractKind
from perphedge.live.check import gate_after, gate_before
from perphedge.live.execute import (
    LiveSession,
    Proposal,
    RunReport,
    check_kill_switch,
    check_withdrawals,
    exclusive_run,
    execute,
    propose,
    resume_open_intents,
)
from perphedge.live.guard import other_runs, require_alone
from perphedge.live.monitor import Snapshot, Thresholds
from perphedge.live.session import Ports, paper_account, paper_ports
from perphedge.ports import Clock, History
from perphedge.services import paper as paper_service
from perphedge.services.monitor import monitor_snapshot
from perphedge.services.targets import coin_deposits, run_targets
from perphedge.symbols import perp_symbol
from perphedge.venues.registry import venue

KINDS = ("open", "rebalance", "close")
OrderKey = tuple[str, str, Decimal, str, Decimal | None, bool]


@dataclass(frozen=True)
class HedgePreview:
    """What a run would send: the proposal (legs and orders), coins it cannot hedge, and whether
    an interrupted run waits in the journal (sending finishes it first)."""

    kind: str
    proposal: Proposal
    unhedged: tuple[PlanWarning, ...]
    interrupted: bool

    @property
    def orders(self) -> tuple[OrderKey, ...]:
        return order_keys(self.proposal)


@dataclass(frozen=True)
class HedgeSent:
    """What sending did: interrupted runs finished first, then this run (None: nothing to do)."""

    resumed: tuple[RunReport, ...]
    report: RunReport | None


def order_keys(proposal: Proposal) -> tuple[OrderKey, ...]:
    """Every order of a proposal as (symbol, side, contracts, type, limit price, reduce-only)."""
    return tuple(
        (o.symbol, o.side.value, o.qty, o.order_type.value, o.price, o.reduce_only)
        for leg in proposal.legs
        for o in leg.orders
    )


def journal_key(ports: Ports) -> str:
    """Journal rows of paper and real accounts never mix: "paper:binance:<tag>" vs "binance";
    each paper account (a reset makes a new one) has its own tag."""
    return ports.account_id


def new_paper_deposit(
    config: PortfolioConfig, exchange: str, home: Path, history: History, clock: Clock
) -> Decimal | None:
    """What a new USDT paper account starts with: the plan's initial margin plus its reserve
    (None: the account exists, or it is coin-margined and holds the coins instead)."""
    inverse = config.hedge.kind is ContractKind.INVERSE
    if inverse or paper_path(home, paper_account(exchange, False)).exists():
        return None
    return paper_service.planned_deposit(config, history, clock).usdt


def open_paper(config: PortfolioConfig, home: Path, history: History, clock: Clock) -> Ports:
    """The paper account for `config`'s venue and contract type (created, funded from the plan,
    on first use)."""
    name = venue(config.hedge.exchange).name
    inverse = config.hedge.kind is ContractKind.INVERSE
    require_for("hedge", name, coin_margined=inverse, live=False)
    symbols = [perp_symbol(h.hedge_asset, config.hedge.kind) for h in config.portfolio.holdings]
    deposit = new_paper_deposit(config, name, home, history, clock)
    return paper_ports(
        name, home, list(dict.fromkeys(symbols)), inverse, coin_deposits(config),
        initial_usdt=deposit,
    )  # fmt: skip


def advance_paper(ports: Ports, hours: float) -> None:
    """Move the paper account's simulated clock `hours` ahead and settle what fell due; past
    the stored prices nothing changes (perphedge.services.paper.advance_paper)."""
    if not ports.paper or not hasattr(ports.clock, "advance"):
        raise SafetyError("only the paper account's clock can be moved; nothing changed")
    paper_service.advance_paper(*paper_service.paper_parts(ports), hours)


def preview_run(
    config: PortfolioConfig,
    kind: str,
    session: LiveSession,
    limits: ExecutionLimits,
    min_drift: float = 0.02,
) -> HedgePreview:
    """The orders `kind` would send now (nothing is sent)."""
    found = run_targets(kind, config, session.market, session.account, min_drift)
    proposal = propose(session, list(found.targets), kind, limits)
    interrupted = bool(session.journal.open_intents(session.exchange))
    return HedgePreview(kind, proposal, found.unhedged, interrupted)


def send_run(
    config: PortfolioConfig,
    shown: HedgePreview,
    session: LiveSession,
    limits: ExecutionLimits,
    portfolio_name: str,
    min_drift: float = 0.02,
) -> HedgeSent:
    """Send the orders of `shown`, exactly, after the same checks as `hedge --execute`."""
    with exclusive_run(session.home):
        check_kill_switch(session.home)
        check_withdrawals(session.account)
        resumed = tuple(resume_open_intents(session))
        fresh = preview_run(config, shown.kind, session, limits, min_drift)
        if fresh.orders != shown.orders:
            raise SafetyError(
                "the orders changed since they were shown (prices or positions moved); "
                "review them again: nothing was sent"
            )
        symbols = [leg.symbol for leg in fresh.proposal.legs]
        now_ms = session.clock.now_ms()
        seen = other_runs(session.journal, session.account, session.execution, symbols, now_ms)
        require_alone(seen, force=False)
        gate_before(session, symbols)  # the account agrees with the journal (else exit 5)
        report = execute(session, fresh.proposal, portfolio_name) if fresh.orders else None
        if report is not None:
            gate_after(session, fresh.proposal, report.problems, "preview and send again")
    return HedgeSent(resumed, report)


def account_status(
    config: PortfolioConfig, session: LiveSession, limits: Thresholds | None = None
) -> Snapshot:
    """The account against `config`'s targets now: positions, margin, funding and alerts."""
    ports = (session.market, session.account, session.clock)
    view = monitor_snapshot(
        config, session.exchange, ports, session.journal, limits or Thresholds()
    )
    return view.snapshot
