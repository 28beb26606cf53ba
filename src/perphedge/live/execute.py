"""Plan orders from reconciled exchange state, journal them, send them, record what happened.

    propose(session, targets, kind, limits)   read positions + open orders back from the exchange,
                                               plan each leg (perphedge.hedge.orders), check the
                                               guardrails; sends nothing
    execute(session, proposal, portfolio)      kill switch, key-can-withdraw check, write the
                                               intent and ALL its orders to the journal, then
                                               `run_intent`
    resume_open_intents(session)               finish runs a crash interrupted (first thing an
                                               executing command does)
    run_intent(session, intent)                per order, in order:
        1. look the client id up on the exchange (never send blind);
        2. unknown there and still unsent in the journal -> mark "sending", send with the SAME
           client id (a lost response is recovered by looking it up again; the venue refuses a
           duplicate id), unless the kill switch appeared, its leg had a rejection or the
           intent is too old to resume (then "not_sent": the next run re-plans from the exchange);
        3. record the state; wait for a resting order up to `order_timeout_s`, then cancel the
           remainder and record the final state (partial fills kept);
        4. fetch fills since the intent began and insert the new ones (by trade id).
A crash at any point leaves the journal at one of these steps; running the same command again
resumes there, and the exchange is asked before anything is sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from filelock import FileLock, Timeout

from perphedge.errors import (
    InputError,
    PermanentExchangeError,
    ReconcileError,
    SafetyError,
    TemporaryExchangeError,
)
from perphedge.hedge.orders import (
    ExecutionLimits,
    LegPlan,
    LegTarget,
    check_gross_leverage,
    check_leverage_setting,
    check_order_notional,
    check_price_fresh,
    notional_usd,
    plan_leg,
)
from perphedge.ports import Account, Clock, Execution, MarketData, OrderRequest, OrderState
from perphedge.store.journal import UNSENT, Intent, Journal, JournalOrder
from perphedge.store.private import FILE_MODE, private_file

KILL_FILE = "KILL"


@dataclass(frozen=True)
class RunOptions:
    """How patiently orders are worked. Times in seconds."""

    poll_interval_s: float = 1.0
    order_timeout_s: float = 30.0
    send_attempts: int = 3
    retry_backoff_s: float = 0.5
    max_resume_age_ms: int = 600_000


@dataclass
class LiveSession:
    """The ports and files one command works with."""

    exchange: str
    account: Account
    execution: Execution
    market: MarketData
    clock: Clock
    journal: Journal
    home: Path
    options: RunOptions = field(default_factory=RunOptions)
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[int, int, str], None] | None = None  # (done, total, what happened)
    account_id: str = ""  # the journal's key for fills (default: `exchange`)

    @property
    def account_key(self) -> str:
        return self.account_id or self.exchange


@dataclass(frozen=True)
class Proposal:
    kind: str
    targets: tuple[LegTarget, ...]
    legs: tuple[LegPlan, ...]
    equity_usd: float
    gross_after_usd: float
    notes: tuple[str, ...]

    @property
    def has_orders(self) -> bool:
        return any(leg.orders for leg in self.legs)


@dataclass(frozen=True)
class RunReport:
    intent_id: str
    orders: tuple[JournalOrder, ...]
    new_fills: int
    problems: tuple[str, ...]


RUN_LOCK = "run.lock"


@contextmanager
def exclusive_run(home: Path) -> Iterator[None]:
    """Hold PERPHEDGE_HOME/run.lock while sending; SafetyError if another run holds it.

    Two runs planning from the same positions at once could both send the same difference.
    """
    lock = FileLock(private_file(home / RUN_LOCK), mode=FILE_MODE, blocking=False)
    try:
        lock.acquire()
    except Timeout:
        raise SafetyError(
            "another perphedge run is sending orders from this data directory; wait for it "
            "to finish (nothing was sent)"
        ) from None
    try:
        yield
    finally:
        lock.release()


def check_kill_switch(home: Path) -> None:
    """SafetyError when the kill-switch file exists."""
    path = home / KILL_FILE
    if path.exists():
        raise SafetyError(
            f"kill switch {path} is present: remove it to trade again (nothing was sent)"
        )


def check_withdrawals(account: Account) -> None:
    """SafetyError when the exchange says this API key may withdraw funds."""
    if account.can_withdraw() is True:
        raise SafetyError(
            "this API key can withdraw funds: create a key with withdrawals disabled "
            "(trading only) and try again (nothing was sent)"
        )


def propose(
    session: LiveSession, targets: Sequence[LegTarget], kind: str, limits: ExecutionLimits
) -> Proposal:
    """Orders that move the reconciled exchange positions to `targets` (nothing is sent)."""
    from perphedge.live.reconcile import read_exchange

    state = read_exchange(session.account, [t.symbol for t in targets])
    now_ms = session.clock.now_ms()
    legs: list[LegPlan] = []
    notes: list[str] = []
    gross_after = 0.0
    settle_of: dict[str, str] = {}
    usd_per_coin: dict[str, float] = {}
    gross_before = 0.0
    for target in targets:
        if kind != "close":  # closing only lowers risk: never blocked by the leverage caps
            check_leverage_setting(target, limits.max_leverage)
        quote = session.market.mark_price(target.symbol)
        check_price_fresh(target.symbol, quote.ts_ms, now_ms, limits.max_price_age_ms)
        inst = session.market.instrument(target.symbol)
        if inst.min_notional and limits.child_notional < inst.min_notional:
            raise InputError(
                "--child-notional",
                limits.child_notional,
                f"give at least {inst.min_notional:g} USD, the venue's minimum order for "
                f"{target.symbol}",
            )
        settle_of[target.symbol] = inst.settle
        if inst.is_inverse:
            usd_per_coin[inst.settle] = float(quote.price)
        held = state.leg(target.symbol)
        if held.foreign_orders:
            notes.append(
                f"{target.symbol}: {len(held.foreign_orders)} open order(s) not placed by "
                "perphedge are counted as pending"
            )
        leg = plan_leg(
            target, held.position_contracts, held.pending_contracts, quote.price, inst, limits
        )
        check_order_notional(leg, limits)
        before = leg.position_contracts + leg.pending_contracts
        gross_before += notional_usd(inst, before, quote.price)
        gross_after += notional_usd(inst, before + leg.planned_contracts, quote.price)
        legs.append(leg)
        notes.extend(f"{leg.symbol}: {n}" for n in leg.notes)
    equity = state.equity_in_usd(settle_of, usd_per_coin)
    proposal = Proposal(kind, tuple(targets), tuple(legs), equity, gross_after, tuple(notes))
    if proposal.has_orders and gross_after > gross_before:  # reducing is always allowed
        check_gross_leverage(gross_after, equity, limits.max_leverage)
        check_margin(proposal, state.free_in_usd(usd_per_coin))
    return proposal


def check_margin(proposal: Proposal, free_usd: float) -> None:
    """SafetyError, before any order, when the orders that add exposure need more initial margin
    (their notional / the leg's leverage) than the account has available."""
    leverage = {t.symbol: t.leverage for t in proposal.targets}
    needed = sum(leg.adding_notional_usd / max(1, leverage[leg.symbol]) for leg in proposal.legs)
    if needed > free_usd:
        raise SafetyError(
            f"not enough margin: these orders need {needed:,.2f} USD of initial margin, "
            f"{free_usd:,.2f} USD is available ({needed - free_usd:,.2f} USD missing): deposit "
            "it, hedge less or use more leverage (nothing was sent)"
        )


def execute(session: LiveSession, proposal: Proposal, portfolio: str) -> RunReport | None:
    """Journal the proposal as one intent and work its orders. None when there is nothing to do."""
    check_kill_switch(session.home)
    check_withdrawals(session.account)
    if not proposal.has_orders:
        return None
    now_ms = session.clock.now_ms()
    intent = Intent(
        f"{proposal.kind}-{now_ms}-{uuid.uuid4().hex[:8]}",
        proposal.kind,
        session.exchange,
        portfolio,
        now_ms,
        "open",
    )
    requests: list[tuple[int, OrderRequest]] = [
        (order.child_index, order.request(intent.intent_id))
        for leg in proposal.legs
        for order in leg.orders
    ]
    for target in proposal.targets:
        has_orders = any(leg.symbol == target.symbol and leg.orders for leg in proposal.legs)
        if has_orders and proposal.kind != "close":
            # the venue must margin the leg as the plan assumed, before any order is sent
            session.execution.set_margin_mode(target.symbol, target.margin_mode)
            session.execution.set_leverage(target.symbol, target.leverage)
    session.journal.begin_intent(intent, requests)
    return run_intent(session, intent)


def resume_open_intents(session: LiveSession) -> list[RunReport]:
    """Finish every intent a crash left open on this exchange (oldest first)."""
    return [
        run_intent(session, intent) for intent in session.journal.open_intents(session.exchange)
    ]


def run_intent(session: LiveSession, intent: Intent) -> RunReport:
    """Work every unfinished order of `intent` (see the module docstring)."""
    journal = session.journal
    problems: list[str] = []
    stopped_legs: set[str] = set()
    too_old = session.clock.now_ms() - intent.created_ms > session.options.max_resume_age_ms
    orders = journal.orders(intent.intent_id)
    for done, order in enumerate(orders, start=1):
        if order.status not in ("not_sent", "filled", "canceled", "rejected", "expired"):
            status = _work_order(session, order, stopped_legs, too_old, problems)
            if session.progress is not None:
                session.progress(done, len(orders), f"{order.symbol} #{order.child_index} {status}")
    new_fills = _record_fills(session, intent, {o.client_order_id for o in orders})
    journal.finish_intent(intent.intent_id, "done", session.clock.now_ms())
    return RunReport(
        intent.intent_id, tuple(journal.orders(intent.intent_id)), new_fills, tuple(problems)
    )


def _work_order(
    session: LiveSession,
    order: JournalOrder,
    stopped_legs: set[str],
    too_old: bool,
    problems: list[str],
) -> str:
    """Look up, send if unknown and allowed, work and record one order; its final status."""
    journal = session.journal
    state = session.execution.fetch_order(order.symbol, order.client_order_id)
    if state is None and order.status == "unknown":  # its outcome was never settled: ask a human
        problems.append(f"{order.client_order_id}: outcome unknown ({order.reason})")
        stopped_legs.add(order.symbol)
        return "unknown"
    if state is None:
        reason = _why_not_send(session, order, stopped_legs, too_old)
        if reason:
            journal.mark_order(order.client_order_id, "not_sent", session.clock.now_ms(), reason)
            problems.append(f"{order.client_order_id} not sent: {reason}")
            return "not_sent"
        state = _send(session, order)
    journal.record_order(state, session.clock.now_ms())
    state = _work(session, state)
    journal.record_order(state, session.clock.now_ms())
    if state.status.value == "rejected":
        stopped_legs.add(order.symbol)
        problems.append(f"{order.symbol} rejected: {state.reason or 'no reason given'}")
    return state.status.value


FILL_LOOKBACK_MS = 300_000  # exchange and local clocks may disagree by this much


def _record_fills(session: LiveSession, intent: Intent, client_ids: set[str]) -> int:
    """Journal the fills of the intent's orders (by trade id, so each one once)."""
    since_ms = intent.created_ms - FILL_LOOKBACK_MS
    new = 0
    for symbol in sorted({o.symbol for o in session.journal.orders(intent.intent_id)}):
        fills = session.execution.fills(symbol, since_ms)
        ours = (f for f in fills if f.client_order_id in client_ids)
        new += session.journal.record_fills(ours, session.account_key)
    return new


def _why_not_send(
    session: LiveSession, order: JournalOrder, stopped_legs: set[str], too_old: bool
) -> str:
    if order.status not in UNSENT:
        return f"the exchange no longer knows an order the journal marked {order.status}"
    if (session.home / KILL_FILE).exists():
        return "kill switch present"
    if order.symbol in stopped_legs:
        return "an earlier order of this leg was rejected"
    if too_old:
        return "the run is too old to resume; re-plan from the exchange"
    return ""


def _send(session: LiveSession, order: JournalOrder) -> OrderState:
    """Send once; after a temporary error look the id up before sending it again."""
    journal = session.journal
    journal.mark_order(order.client_order_id, "sending", session.clock.now_ms())
    request = order.request()
    last_error: Exception | None = None
    for attempt in range(session.options.send_attempts):
        try:
            return session.execution.place_order(request)
        except PermanentExchangeError as bad:
            return _rejected(order, str(bad), session.clock.now_ms())
        except ReconcileError as unknown:  # never re-sent by a later run either
            journal.mark_order(
                order.client_order_id, "unknown", session.clock.now_ms(), str(unknown)
            )
            raise
        except TemporaryExchangeError as bad:
            last_error = bad
            session.sleep(session.options.retry_backoff_s * 2**attempt)
            try:
                found = session.execution.fetch_order(order.symbol, order.client_order_id)
            except TemporaryExchangeError:
                continue
            if found is not None:
                return found
    raise TemporaryExchangeError(
        f"order {order.client_order_id} outcome unknown after {session.options.send_attempts} "
        f"attempts ({last_error}); run the same command again to reconcile, nothing will be doubled"
    )


def _rejected(order: JournalOrder, reason: str, now_ms: int) -> OrderState:
    from perphedge.ports import OrderStatus

    return OrderState(
        order.client_order_id,
        None,
        order.symbol,
        order.side,
        order.order_type,
        OrderStatus.REJECTED,
        order.qty,
        Decimal(0),
        order.price,
        None,
        order.reduce_only,
        now_ms,
        reason,
    )


def _work(session: LiveSession, state: OrderState) -> OrderState:
    """Wait for a working order to finish; cancel what remains after the timeout."""
    waited = 0.0
    while not state.status.is_terminal and waited < session.options.order_timeout_s:
        session.sleep(session.options.poll_interval_s)
        waited += session.options.poll_interval_s
        found = session.execution.fetch_order(state.symbol, state.client_order_id)
        state = found or state
    if state.status.is_terminal:
        return state
    return session.execution.cancel_order(state.symbol, state.client_order_id) or state
