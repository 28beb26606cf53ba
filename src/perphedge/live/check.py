"""`hedge check`: is the account what the journal says it is? The gate of every `--execute` run.

`check_account` compares, for one account, per symbol:
* the exchange's position with what the journal explains: the position adopted by the last
  `hedge check --adopt` plus the net of every fill journaled since (a hand trade, a liquidation
  or a doubled order shows up here);
* the orders of the account's last run with the exchange's view of them (status, filled
  quantity, and the journaled fills adding up to it);
* after a run, the position with its target: beyond it is a mismatch (more was traded than
  planned); short of it is a partial run (`shortfalls`, exit 4 in the caller);
* our open orders (ids with perphedge's prefix) apart from orders placed by hand, which are
  reported and never touched;
* legs lost to a confirmed liquidation and not re-opened since (`liquidated`, looked up by
  `perphedge.live.liquidations.unhedged`): a position the exchange closed that the journal does
  not know yet is a mismatch named as the liquidation it is; once journaled it is no mismatch
  (a run may re-open the short); `hedge check` says it with exit 5
  (`perphedge.live.liquidations.require_hedged`).
Every `--execute` run calls it before planning (after finishing interrupted runs) and after
sending; any problem raises `ReconcileError` (exit 5) and nothing more is sent.
`adopt` takes the exchange as the truth and journals that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from perphedge.errors import PartialRunError, ReconcileError
from perphedge.live.execute import LiveSession, Proposal
from perphedge.live.liquidations import journal_liquidations, unhedged
from perphedge.live.monitor import liquidation_words
from perphedge.live.reconcile import compare_with_journal, read_exchange
from perphedge.ports import Account, Execution, Liquidation
from perphedge.store.journal import Journal


@dataclass(frozen=True)
class LegCheck:
    """One symbol of the account: exchange, journal and target side by side (contracts)."""

    symbol: str
    exchange_contracts: Decimal
    journal_contracts: Decimal
    target_contracts: Decimal | None  # None: not in the portfolio file
    pending_contracts: Decimal  # our open orders
    manual_orders: int

    @property
    def agrees(self) -> bool:
        return self.exchange_contracts == self.journal_contracts


@dataclass(frozen=True)
class CheckResult:
    account: str
    legs: tuple[LegCheck, ...]
    problems: tuple[str, ...]  # mismatches: exit 5
    shortfalls: tuple[str, ...]  # short of target after a run: exit 4
    notes: tuple[str, ...]
    liquidated: tuple[Liquidation, ...] = ()  # legs lost, not re-opened since
    unjournaled: tuple[Liquidation, ...] = ()  # of them, those the journal does not know yet

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AccountRef:
    """Which account: `journal_key` keys its runs (intents), `account_id` its fills."""

    journal_key: str
    account_id: str


def check_account(
    journal: Journal,
    account: Account,
    execution: Execution,
    ref: AccountRef,
    symbols: Sequence[str],
    targets: Mapping[str, Decimal] | None = None,
) -> CheckResult:
    """Compare the account with the journal (and `targets`, after a run); see the module doc."""
    known = dict.fromkeys([*symbols, *journal.symbols(ref.account_id)])
    held = {p.symbol: p.contracts for p in account.positions([])}
    every = sorted(dict.fromkeys([*known, *held]))
    state = read_exchange(account, every)
    lost, found = unhedged(account, journal, ref.account_id, every)
    legs: list[LegCheck] = []
    problems: list[str] = []
    short: list[str] = []
    notes: list[str] = []
    for symbol in every:
        leg = state.leg(symbol)
        target = None if targets is None else targets.get(symbol)
        line = LegCheck(
            symbol,
            leg.position_contracts,
            journal.expected_position(ref.account_id, symbol),
            target,
            leg.pending_contracts,
            len(leg.foreign_orders),
        )
        legs.append(line)
        if not line.agrees:
            problems.append(_disagreement(line, [x for x in found if x.symbol == symbol]))
        if line.manual_orders:
            notes.append(f"{symbol}: {line.manual_orders} order(s) placed by hand, left alone")
        if target is not None:
            _against_target(line, target, problems, short)
    problems += _last_run(journal, execution, ref)
    return CheckResult(
        ref.account_id, tuple(legs), tuple(problems), tuple(short), tuple(notes), lost, found
    )


def _disagreement(line: LegCheck, found: Sequence[Liquidation]) -> str:
    """The mismatch of one leg in words; one the exchange's record of liquidations explains
    is named as that liquidation."""
    held = f"the exchange holds {line.exchange_contracts} contracts, the journal "
    explained = line.journal_contracts + sum((x.contracts for x in found), Decimal(0))
    if found and explained == line.exchange_contracts:
        return (
            f"{line.symbol}: {held}does not know yet that {liquidation_words(found[-1])} "
            "(hedge keep --execute journals it and re-opens the short; hedge check --adopt "
            "journals it)"
        )
    return (
        f"{line.symbol}: {held}explains {line.journal_contracts} (changed by hand, liquidated "
        "or doubled)"
    )


def _against_target(line: LegCheck, target: Decimal, problems: list[str], short: list[str]) -> None:
    """Beyond the target (further from zero, or across it) is a mismatch; between zero and the
    target is a shortfall."""
    held = line.exchange_contracts
    if held == target:
        return
    if (target != 0 and (held - target) * target > 0) or held * target < 0:
        problems.append(f"{line.symbol}: {held} contracts is beyond the target {target}")
    else:
        short.append(f"{line.symbol}: {held} of {target} contracts")


def _last_run(journal: Journal, execution: Execution, ref: AccountRef) -> list[str]:
    """The last run of the account (since the last adoption) as the exchange sees it."""
    runs = [
        i
        for i in journal.intents(ref.journal_key)
        if i.created_ms > journal.last_adopted_ms(ref.account_id)
    ]
    if not runs:
        return []
    last = runs[-1]
    found = compare_with_journal(journal, execution, last.intent_id, ref.account_id)
    if last.status == "open":
        found.append(f"run {last.intent_id} is unfinished: run the command again to finish it")
    return [f"run {last.intent_id}: {p}" for p in found if not p.startswith("run ")] + [
        p for p in found if p.startswith("run ")
    ]


def require_agreement(result: CheckResult, when: str) -> None:
    """ReconcileError (exit 5) listing every problem; nothing more may be sent."""
    if result.problems:
        raise ReconcileError(
            f"{when}: the account does not match the journal: "
            + "; ".join(result.problems)
            + ". Nothing more was sent. Check the account on the exchange, then run "
            "perphedge hedge check --adopt to take the exchange as the truth"
        )


def adopt(journal: Journal, result: CheckResult, now_ms: int) -> None:
    """Take every position of `result` as the truth (journaled; later checks start there),
    journaling first the liquidations the exchange reports that explain a closed leg."""
    journal_liquidations(journal, result.account, result.unjournaled)
    journal.adopt(
        result.account, {leg.symbol: leg.exchange_contracts for leg in result.legs}, now_ms
    )


def require_complete(result: CheckResult, problems: Sequence[str], next_step: str) -> None:
    """PartialRunError (exit 4) when the run ended short of target or an order failed."""
    if result.shortfalls or problems:
        shown = "; ".join([*result.shortfalls, *problems])
        raise PartialRunError(f"partial: {shown}. Next: {next_step}")


def session_check(
    session: LiveSession, symbols: Sequence[str], targets: Mapping[str, Decimal] | None = None
) -> CheckResult:
    """`check_account` for the account a live session trades."""
    ref = AccountRef(session.exchange, session.account_key)
    return check_account(session.journal, session.account, session.execution, ref, symbols, targets)


def gate_before(session: LiveSession, symbols: Sequence[str]) -> CheckResult:
    """Before planning an executing run: ReconcileError unless the account agrees."""
    result = session_check(session, symbols)
    require_agreement(result, "before sending")
    return result


def gate_after(
    session: LiveSession, proposal: Proposal, problems: Sequence[str], next_step: str
) -> CheckResult:
    """After sending: ReconcileError on a mismatch (more traded than planned, unknown orders),
    PartialRunError when a leg ended short of where the proposal meant it to be."""
    ends = {
        leg.symbol: leg.position_contracts + leg.pending_contracts + leg.planned_contracts
        for leg in proposal.legs
    }
    result = session_check(session, list(ends), ends)
    require_agreement(result, "after sending")
    require_complete(result, problems, next_step)
    return result
