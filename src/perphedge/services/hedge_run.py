"""Hedge run service: open, rebalance or close the hedge, previewed first, sent only as shown.

One path for `perphedge hedge ... [--execute]` and the page: `prepare_run` does everything a run
does before sending (with sending: the kill switch, keys that can withdraw, interrupted runs
finished first; the targets, a close's from this journal's fills; with sending: no other run on
the symbols, the account against the journal), then the orders; `send_prepared` sends them,
journaled first, and `settle_run` checks the account against the journal afterwards
(`perphedge.live.check`). `preview_run` is `prepare_run` without sending; `send_run` sends only
when a fresh `prepare_run` under the run lock has exactly the orders the caller showed (symbol,
side, quantity, type, limit price, reduce-only), else SafetyError and nothing is sent.
`open_paper` opens the offline paper account for a portfolio (funded from the plan, its replay
at the plan's as-of time); `advance_paper` lets simulated time pass (funding settles at its real
times); `account_status` is the monitor's snapshot of the account against the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.config import PortfolioConfig
from perphedge.errors import PartialRunError, SafetyError
from perphedge.exchanges.capabilities import require_for
from perphedge.exchanges.paper_state import paper_path
from perphedge.hedge.model import PlanWarning
from perphedge.hedge.orders import ExecutionLimits
from perphedge.instruments import ContractKind
from perphedge.live.check import gate_after, gate_before
from perphedge.live.closing import close_targets
from perphedge.live.execute import (
    LiveSession,
    Proposal,
    RunOptions,
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
from perphedge.services.targets import coin_deposits, hedge_symbols, run_targets
from perphedge.store.journal import Journal
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


def open_paper(
    config: PortfolioConfig,
    home: Path,
    history: History,
    clock: Clock,
    exchange: str | None = None,
) -> Ports:
    """The paper account for `config`'s venue (or `exchange`) and contract type. On first use it
    is funded from the plan (its initial margin plus reserve) and its replay starts at the plan's
    as-of time, so that paper marks are the plan's prices (`replay_start`)."""
    name = venue(exchange or config.hedge.exchange).name
    inverse = config.hedge.kind is ContractKind.INVERSE
    require_for("hedge", name, coin_margined=inverse, live=False)
    path = paper_path(home, paper_account(name, inverse))
    opening = paper_service.PaperOpening(None, None)
    if not (path.exists() and path.with_suffix(".clock.json").exists()):
        opening = paper_service.plan_opening(config, history, clock, name)
    deposit = None if path.exists() or opening.deposit is None else opening.deposit.usdt
    return paper_ports(
        name, home, hedge_symbols(config), inverse, coin_deposits(config),
        initial_usdt=deposit, as_of_ms=opening.as_of_ms, wall=clock,
    )  # fmt: skip


def advance_paper(ports: Ports, hours: float) -> None:
    """Move the paper account's simulated clock `hours` ahead and settle what fell due; past
    the stored prices nothing changes (perphedge.services.paper.advance_paper)."""
    if not ports.paper or not hasattr(ports.clock, "advance"):
        raise SafetyError("only the paper account's clock can be moved; nothing changed")
    paper_service.advance_paper(*paper_service.paper_parts(ports), hours)


@dataclass(frozen=True)
class RunChoice:
    """How a `hedge open|rebalance|close` run goes: send or not, drift left alone, legs closed,
    whether to send beside another run."""

    execute: bool = False
    min_drift: float = 0.02
    only: bool = False  # close: only the legs of the file
    force: bool = False


@dataclass(frozen=True)
class PreparedRun:
    """A run up to the point of sending: interrupted runs finished (when sending), the proposal,
    coins the plan leaves unhedged, what a close leaves open, and whether a run is pending."""

    resumed: tuple[RunReport, ...]
    proposal: Proposal
    unhedged: tuple[PlanWarning, ...]
    left: tuple[str, ...]
    interrupted: bool


def hedge_session(
    ports: Ports, journal: Journal, home: Path, order_timeout_s: float
) -> LiveSession:
    """The live session of a run on `ports`, polling orders at most every second."""
    poll_s = min(1.0, order_timeout_s / 5 or 1.0)
    options = RunOptions(order_timeout_s=order_timeout_s, poll_interval_s=poll_s)
    return LiveSession(
        journal_key(ports), ports.account, ports.execution, ports.market, ports.clock, journal,
        home, options, account_id=ports.account_id,
    )  # fmt: skip


def prepare_run(
    config: PortfolioConfig,
    kind: str,
    session: LiveSession,
    limits: ExecutionLimits,
    choice: RunChoice,
) -> PreparedRun:
    """Everything `hedge KIND` does before sending: with `choice.execute` the kill switch, the
    key's withdrawal right and interrupted runs first, then the targets (a close: what this
    journal opened), and, when sending, no other run on the symbols and the account agreeing
    with the journal; then the orders (nothing is sent)."""
    resumed: tuple[RunReport, ...] = ()
    if choice.execute:
        check_kill_switch(session.home)
        check_withdrawals(session.account)
        resumed = tuple(resume_open_intents(session))
    interrupted = bool(session.journal.open_intents(session.exchange))
    found = run_targets(kind, config, session.market, session.account, choice.min_drift)
    targets, left = list(found.targets), list[str]()
    if kind == "close":
        targets, left = close_targets(
            found.targets, session.journal, session.account, session.account_key, choice.only
        )
    if choice.execute:
        symbols = [t.symbol for t in targets]
        now_ms = session.clock.now_ms()
        seen = other_runs(session.journal, session.account, session.execution, symbols, now_ms)
        require_alone(seen, choice.force)
        gate_before(session, symbols)
    proposal = propose(session, targets, kind, limits)
    return PreparedRun(resumed, proposal, found.unhedged, tuple(left), interrupted)


def send_prepared(
    session: LiveSession, prepared: PreparedRun, portfolio_name: str
) -> RunReport | None:
    """Send the prepared orders, each journaled before it goes out."""
    return execute(session, prepared.proposal, portfolio_name)


def settle_run(
    session: LiveSession, prepared: PreparedRun, report: RunReport | None, next_step: str
) -> None:
    """After a run: when it sent, the account against the journal (`gate_after`: exit 5 on a
    mismatch, 4 short of target, naming `next_step`); PartialRunError when an interrupted run it
    finished fell short."""
    problems = [p for r in (*prepared.resumed, report) if r is not None for p in r.problems]
    if report is not None:
        gate_after(session, prepared.proposal, problems, next_step)
    elif problems:
        raise PartialRunError("partial: " + "; ".join(problems))


def preview_run(
    config: PortfolioConfig,
    kind: str,
    session: LiveSession,
    limits: ExecutionLimits,
    min_drift: float = 0.02,
) -> HedgePreview:
    """The orders `kind` would send now (nothing is sent): `prepare_run` without sending."""
    prepared = prepare_run(config, kind, session, limits, RunChoice(False, min_drift))
    return HedgePreview(kind, prepared.proposal, prepared.unhedged, prepared.interrupted)


def send_run(
    config: PortfolioConfig,
    shown: HedgePreview,
    session: LiveSession,
    limits: ExecutionLimits,
    portfolio_name: str,
    min_drift: float = 0.02,
) -> HedgeSent:
    """Send the orders of `shown`, exactly, after the same checks as `hedge --execute`
    (`prepare_run` holding the run lock); SafetyError, nothing sent, when they changed."""
    with exclusive_run(session.home):
        prepared = prepare_run(config, shown.kind, session, limits, RunChoice(True, min_drift))
        if order_keys(prepared.proposal) != shown.orders:
            raise SafetyError(
                "the orders changed since they were shown (prices or positions moved); "
                "review them again: nothing was sent"
            )
        report = send_prepared(session, prepared, portfolio_name) if shown.orders else None
        if report is not None:
            settle_run(session, prepared, report, "preview and send again")
    return HedgeSent(prepared.resumed, report)


def account_status(
    config: PortfolioConfig, session: LiveSession, limits: Thresholds | None = None
) -> Snapshot:
    """The account against `config`'s targets now: positions, margin, funding and alerts."""
    ports = (session.market, session.account, session.clock)
    view = monitor_snapshot(
        config, session.exchange, ports, session.journal, limits or Thresholds()
    )
    return view.snapshot
