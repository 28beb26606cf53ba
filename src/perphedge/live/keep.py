"""`hedge keep`: one step of the loop that keeps the hedge alive, and the loop around it.

`keep_step(session, plan, control, execute)`:
  1. with `execute`: settle margin moves left open, finish interrupted runs, and check the
     account against the journal (`perphedge.live.check.gate_before`; a mismatch is exit 5);
  2. read every leg from the exchange (position, isolated margin balance, mark) into the
     keeper's `LegState`;
  3. ask the keeper (`perphedge.hedge.keeper.keep`, the same policy as the backtest); a
     cross-margined plan asks `perphedge.hedge.keeper_cross.keep_cross`, whose margin step is
     the futures wallet's (its margin balance: wallet + the legs' unrealised P&L);
  4. with `execute`: re-size legs through the journaled order path of `hedge rebalance`
     (`propose` / `execute`), move margin (isolated) or transfer from the spot wallet into the
     futures wallet (cross) through the journaled, idempotent
     `perphedge.live.margin.move_margin`; a dry run does nothing of it.
  It returns the decision, what was done (in words) and the alerts (a person must act).
`keep_loop` repeats it every interval; a temporary exchange error never ends it: `Outage` backs
off and alerts "exchange unreachable since ..." (`perphedge.live.watch.AlertSinks`).
Selling spot is not done here (perphedge trades perpetuals only): a SELL_SPOT decision becomes
an alert with the amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from perphedge.errors import CapabilityError, TemporaryExchangeError
from perphedge.hedge.keeper import (
    ActionKind,
    FundingAction,
    KeeperDecision,
    KeeperPolicy,
    distance,
    keep,
)
from perphedge.hedge.keeper_cross import WALLET, CrossDecision, keep_cross
from perphedge.hedge.keeper_model import Action, LegMemory, LegState
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.live.check import gate_before
from perphedge.live.execute import LiveSession, execute, propose, resume_open_intents
from perphedge.live.liquidations import find_liquidations, journal_liquidations, lost_since
from perphedge.live.margin import TAKEN_BACK, Mover, move_margin, settle_open
from perphedge.live.monitor import Alert, liquidation_alert
from perphedge.live.outage import Outage
from perphedge.live.watch import AlertSinks
from perphedge.ports import Liquidation, WalletTransfer
from perphedge.units import CENT, round_qty_to_step

SIZING = (
    ActionKind.RESIZE, ActionKind.REOPEN, ActionKind.DELEVER, ActionKind.SELL_SPOT,
    ActionKind.FUNDING_REDUCE, ActionKind.FUNDING_RESTORE,
)  # fmt: skip
MARGIN = (ActionKind.TOP_UP, ActionKind.RETURN_SURPLUS)
USD_LIKE = ("USDT", "USDC", "USD")
CROSS_CURRENCY = "USDT"  # what a cross account's keeper transfers into its futures wallet


def move_amount(amount: float, currency: str) -> Decimal:
    """A margin move or transfer of |amount| `currency` as sent: rounded DOWN to a cent of a
    stablecoin or 1e-8 of a coin, so a top-up capped at the free balance never rounds past it."""
    return round_qty_to_step(abs(amount), CENT if currency in USD_LIKE else Decimal("1e-8"))


@dataclass
class KeepPlan:
    """What the loop keeps: targets of the plan, coins per leg, the policy and the reserve.

    `reserve_usd` is the reserve the file sets aside; what is left of it at a step is
    `reserve_left`."""

    portfolio: str
    targets: Sequence[LegTarget]
    coins: Mapping[str, float]  # symbol -> coins the leg hedges
    policy: KeeperPolicy
    reserve_usd: float
    limits: ExecutionLimits
    memory: dict[str, LegMemory] = field(default_factory=dict)
    margin_mode: str = "isolated"  # "cross": one futures wallet margins every leg
    # symbol, now_ms -> trailing funding cost to the short (APR, None: no settlement stored
    # in the window); no function, or None: counted as 0
    funding_cost: Callable[[str, int], float | None] | None = None

    @property
    def cross(self) -> bool:
        return self.margin_mode == "cross"


@dataclass(frozen=True)
class Done:
    """One thing a step did (or, as a dry run, would do): its subject (a symbol, or the cross
    wallet) and the words, which do not name it."""

    subject: str
    text: str

    @property
    def line(self) -> str:
        return f"{self.subject}: {self.text}"


@dataclass(frozen=True)
class KeepStep:
    """One step: the decision, what was done, alerts, and each leg's distance to liquidation
    as found before acting (None: no short); for a cross account, the wallet's."""

    decision: KeeperDecision
    done: tuple[Done, ...]
    alerts: tuple[Alert, ...]
    found: tuple[float | None, ...] = ()
    wallet: CrossDecision | None = None


def leg_states(session: LiveSession, plan: KeepPlan) -> list[LegState]:
    """Each leg as the keeper sees it, read from the exchange now."""
    held = {p.symbol: p for p in session.account.positions([t.symbol for t in plan.targets])}
    measured = plan.funding_cost if plan.policy.funding_action is not FundingAction.KEEP else None
    now = session.clock.now_ms()
    states = []
    for target in plan.targets:
        inst = session.market.instrument(target.symbol)
        mark = float(session.market.mark_price(target.symbol).price)
        pos = held.get(target.symbol)
        size = inst.size_from_contracts(float(abs(pos.contracts))) if pos else 0.0
        if pos is not None and pos.isolated_margin is None and not plan.cross:
            raise CapabilityError(
                f"{target.symbol} is cross-margined on {session.exchange}: the keeper keeps "
                'isolated legs (margin_mode = "isolated" in the [hedge] section)'
            )
        margin = pos.isolated_margin if pos is not None else None
        coins = plan.coins.get(target.symbol, 0.0)
        hedged = inst.size_from_contracts(float(abs(target.target_contracts)))
        ratio = hedged / coins if coins else 0.0
        if inst.is_inverse:  # contracts of `contract_size` USD: ratio of USD value
            ratio = hedged * inst.contract_size / (coins * mark) if coins else 0.0
        states.append(
            LegState(
                inst, coins, mark, mark, ratio, size,
                float(margin) if margin is not None else 0.0, float(target.leverage),
                funding_cost_apr=(measured(target.symbol, now) if measured else None) or 0.0,
                memory=plan.memory.get(target.symbol, LegMemory()),
            )
        )  # fmt: skip
    return states


def keep_step(
    session: LiveSession, plan: KeepPlan, control: Mover | None, do_execute: bool
) -> KeepStep:
    """One step (see the module docstring)."""
    symbols = [t.symbol for t in plan.targets]
    if do_execute:
        if control is not None:
            settle_open(session, control)
        resume_open_intents(session)
    journal, account = session.journal, session.account_key
    lost = find_liquidations(session.account, journal, account, symbols)
    if do_execute:
        said = journal_liquidations(journal, account, lost)
    else:
        said = [liquidation_alert(x) for x in lost]
    if do_execute:
        gate_before(session, symbols)
    _remember_lost(session, plan, [] if do_execute else lost)
    states = leg_states(session, plan)
    if plan.cross:
        step = _cross_step(session, plan, control, do_execute, states)
        return replace(step, alerts=(*said, *step.alerts))
    found = tuple(distance(s, s.size, s.margin) for s in states)
    decision = keep(plan.policy, states, reserve_left(session, plan), session.clock.now_ms())
    alerts = [*said, *alerts_of(decision)]
    done: list[Done] = []
    for leg in decision.legs:
        plan.memory[leg.symbol] = leg.memory
    if not do_execute:
        return KeepStep(decision, _planned(decision), tuple(alerts), found)
    for action in decision.actions:
        if action.kind in SIZING:
            done += _sized(session, plan, action)
        if action.kind is ActionKind.SELL_SPOT:
            text = f"sell {action.spot_sold:.8g} coins of spot and move the proceeds to margin"
            alerts.append(Alert("sell_spot", action.symbol, text))
        if action.kind in MARGIN and action.margin_move and control is not None:
            done.append(_move(session, control, action.symbol, action.margin_move))
    return KeepStep(decision, tuple(done), tuple(alerts), found)


def alerts_of(decision: KeeperDecision) -> list[Alert]:
    """The keeper's alerts as the monitor's: the symbol is the subject, so the message (which
    does not name it) is said under it."""
    return [Alert(a.kind.value, a.symbol, a.message) for a in decision.alerts]


def _remember_lost(session: LiveSession, plan: KeepPlan, found: Sequence[Liquidation]) -> None:
    """Give the keeper the time each lost short was liquidated (from the journal, plus `found`
    in a dry run), so its re-open cooldown counts from there, across restarts too."""
    symbols = [t.symbol for t in plan.targets]
    lost = lost_since(session.journal, session.account_key, symbols, found)
    for symbol, ts_ms in lost.items():
        memory = plan.memory.get(symbol, LegMemory())
        plan.memory[symbol] = replace(memory, liquidated_ms=ts_ms)


def reserve_left(session: LiveSession, plan: KeepPlan, free_usd: float | None = None) -> float:
    """The reserve the keeper may still draw on (USD): the file's reserve less the margin this
    account's journal has moved onto its legs or into its futures wallet (adds and transfers
    less reductions and transfers back to spot, every run, so a restart does not spend it
    again), and never more than `free_usd` (default: the account's free stablecoin balance).
    What is taken back only returns what was moved before it (the sum, in journal order, never
    drops below 0): moving the futures wallet's own money to spot does not raise the reserve
    beyond the file's."""
    moved = 0.0
    for m in session.journal.margin_moves(session.account_key):
        if m.status != "done":
            continue
        usd = float(m.amount)
        if m.currency not in USD_LIKE:  # a coin-margined leg's margin, valued at the mark
            usd *= float(session.market.mark_price(m.symbol).price)
        moved = max(0.0, moved - usd) if m.kind in TAKEN_BACK else moved + usd
    if free_usd is None:
        free_usd = sum(float(b.free) for b in session.account.balances() if b.currency in USD_LIKE)
    return max(0.0, min(plan.reserve_usd - moved, free_usd))


def _cross_step(
    session: LiveSession,
    plan: KeepPlan,
    control: Mover | None,
    do_execute: bool,
    states: Sequence[LegState],
) -> KeepStep:
    """A cross account's step: the legs re-sized as in `keep`, the futures wallet topped up by
    a journaled transfer from the spot wallet (`perphedge.hedge.keeper_cross`)."""
    symbols = [t.symbol for t in plan.targets]
    upnl = sum(float(p.unrealized_pnl) for p in session.account.positions(symbols))
    wallet = sum(float(b.total) for b in session.account.balances() if b.currency in USD_LIKE)
    spot = control.spot_free(CROSS_CURRENCY) if isinstance(control, WalletTransfer) else 0
    reserve = reserve_left(session, plan, float(spot))
    now = session.clock.now_ms()
    kept = keep_cross(plan.policy, states, wallet + upnl, reserve, now)
    decision = kept.legs
    for leg in decision.legs:
        plan.memory[leg.symbol] = leg.memory
    found = tuple(kept.distance for _ in states)
    alerts = alerts_of(decision)
    if kept.missing_usd > 0.0:
        alerts.append(Alert("alert", WALLET, kept.message))
    if not do_execute:
        said = (*_planned(decision), *([Done(WALLET, kept.message)] if kept.message else []))
        return KeepStep(decision, said, tuple(alerts), found, kept)
    done = _transfer(session, control, kept)  # first: the shorts that grow are margined by it
    size_now = {state.symbol: state.size for state in states}
    for action in decision.actions:
        if action.kind not in SIZING:
            continue
        if kept.unfunded_usd > 0.0 and action.size_after > size_now[action.symbol]:
            alerts.append(Alert("alert", action.symbol, _unfunded(action.message, kept)))
            continue
        done += _sized(session, plan, action)
    return KeepStep(decision, tuple(done), tuple(alerts), found, kept)


def _planned(decision: KeeperDecision) -> tuple[Done, ...]:
    """A dry run's step: what each action would do."""
    return tuple(Done(a.symbol, a.message) for a in decision.actions)


def _transfer(session: LiveSession, control: Mover | None, kept: CrossDecision) -> list[Done]:
    """The cross wallet's top-up from the spot wallet, journaled (`move_margin`)."""
    amount = move_amount(kept.transfer_usd, CROSS_CURRENCY)
    if amount <= 0 or control is None:
        return []
    outcome = move_margin(session, control, "", "transfer", amount, CROSS_CURRENCY)
    return [Done(WALLET, f"transfer {amount} {CROSS_CURRENCY} from spot: {outcome.status}")]


def _unfunded(action: str, kept: CrossDecision) -> str:
    short = kept.unfunded_usd
    return (
        f"not sent ({action}): the futures wallet lacks {short:,.2f} USD of "
        f"initial margin; move it with perphedge hedge margin transfer to-futures {short:.2f}, "
        "or raise [keeper] reserve_usd"
    )


def _sized(session: LiveSession, plan: KeepPlan, action: Action) -> list[Done]:
    """Send a sizing action: one entry per run (a re-open says so before it)."""
    sent = _resize(session, plan, action.symbol, action.size_after)
    reopen = action.kind is ActionKind.REOPEN
    return [Done(action.symbol, f"{action.message}: {run}" if reopen else run) for run in sent]


def _resize(session: LiveSession, plan: KeepPlan, symbol: str, size_after: float) -> list[str]:
    """Bring `symbol`'s short to `size_after`: a line per run sent (without the symbol)."""
    inst = session.market.instrument(symbol)
    contracts = size_after if inst.is_inverse else size_after / inst.contract_size
    target = next(t for t in plan.targets if t.symbol == symbol)
    wanted = replace(target, target_contracts=-Decimal(str(round(contracts, 12))))
    proposal = propose(session, [wanted], "rebalance", plan.limits)
    report = execute(session, proposal, plan.portfolio)
    if report is None:
        return []
    return [f"{len(report.orders)} order(s) in run {report.intent_id}"]


def _move(session: LiveSession, control: Mover, symbol: str, settle: float) -> Done:
    currency = session.market.instrument(symbol).settle
    amount = move_amount(settle, currency)
    kind = "add" if settle > 0 else "reduce"
    if amount <= 0:
        return Done(symbol, f"margin {kind} of {abs(settle):.2g} {currency} too small to send")
    outcome = move_margin(session, control, symbol, kind, amount, currency)
    return Done(symbol, f"margin {kind} {amount} {currency}: {outcome.status}")


def keep_loop(
    step: Callable[[], KeepStep],
    show: Callable[[KeepStep], None],
    sinks: AlertSinks,
    now_ms: Callable[[], int],
    sleep: Callable[[float], None],
    interval_s: float | None,
    outage: Outage,
) -> None:
    """Repeat `step` every `interval_s` (None: once); temporary errors back off, never end it."""
    while True:
        try:
            result = step()
        except TemporaryExchangeError as bad:
            alert = outage.failed(now_ms(), bad)
            sinks.deliver(now_ms(), [alert] if alert else [], echo=True)
            if interval_s is None:
                raise
            sleep(outage.delay_s(interval_s))
            continue
        back = outage.recovered(now_ms())
        sinks.deliver(now_ms(), [*([back] if back else []), *result.alerts], echo=True)
        show(result)
        if interval_s is None:
            return
        sleep(interval_s)
