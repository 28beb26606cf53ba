"""`hedge keep` service: what the keeper keeps, from the portfolio file and the venue.

`keep_plan(config, portfolio, market, history, clock)`: the hedge targets at the venue's prices
(`perphedge.services.targets`), the coins each leg hedges, the file's `[keeper]` policy and
its reserve: `[keeper] reserve_usd` when the file sets it, else the reserve `plan` sizes on
stored history (`perphedge.services.plan.keeper_reserve`; zero, and a note, without history).
`executed_step` is one step that sends, after the checks every sending run makes (kill switch,
the key's withdrawal right, the run lock); `margin_mover` is what moves margin on an account.
`hedge keep --execute` and the page's paper keeper (`perphedge.services.paper_keep`) use both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from perphedge.config import PortfolioConfig
from perphedge.errors import DataError
from perphedge.hedge.keeper import FundingAction, KeeperPolicy, trailing_cost_apr
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.execute import LiveSession, check_kill_switch, check_withdrawals, exclusive_run
from perphedge.live.keep import KeepPlan, KeepStep, keep_step
from perphedge.live.margin import Mover
from perphedge.live.session import Ports
from perphedge.ports import Clock, History, MarginControl, MarketData, WalletTransfer
from perphedge.services.plan import PlanRequest, plan_portfolio
from perphedge.services.targets import hedge_targets
from perphedge.symbols import perp_symbol

DAY_MS = 86_400_000

NO_RESERVE = (
    "no stored history to size the keeper's reserve on: reserve 0 ([keeper] reserve_usd sets one)"
)


@dataclass(frozen=True)
class KeepSetup:
    plan: KeepPlan
    notes: tuple[str, ...]


def coins_per_leg(config: PortfolioConfig) -> dict[str, float]:
    """Coins each perpetual hedges (a proxied holding counts on its proxy's leg)."""
    coins: dict[str, float] = {}
    for h in config.portfolio.holdings:
        symbol = perp_symbol(h.hedge_asset, config.hedge.kind)
        coins[symbol] = coins.get(symbol, 0.0) + h.qty_base
    return coins


def keep_plan(
    config: PortfolioConfig, portfolio: str, market: MarketData, history: History, clock: Clock
) -> KeepSetup:
    """The keeper's plan for `config` (module docstring)."""
    targets = hedge_targets(config, market).targets
    notes: tuple[str, ...] = ()
    reserve = config.reserve_usd
    if reserve is None:
        sized = plan_portfolio(config, PlanRequest(), history, clock).reserve
        reserve = 0.0 if sized is None else sized.reserve_usd
        notes = (NO_RESERVE,) if sized is None else ()
    cost = trailing_funding_cost(history, config.hedge.exchange, config.keeper.funding_window_days)
    plan = KeepPlan(
        portfolio, targets, coins_per_leg(config), config.keeper, reserve, ExecutionLimits(),
        margin_mode=config.hedge.margin_mode, funding_cost=cost,
    )  # fmt: skip
    symbols = [t.symbol for t in targets]
    return KeepSetup(plan, notes + unmeasured(config.keeper, symbols, cost, clock.now_ms()))


def unmeasured(
    policy: KeeperPolicy,
    symbols: list[str],
    cost: Callable[[str, int], float | None],
    now_ms: int,
) -> tuple[str, ...]:
    """A note for each leg whose funding cost the store cannot measure now, when the policy
    acts on it (`funding_action` reduce or unwind): the keeper then counts it as 0."""
    if policy.funding_action is FundingAction.KEEP:
        return ()
    return tuple(
        f"{symbol}: no stored funding in the last {policy.funding_window_days:g} days, so the "
        f"keeper counts its funding cost as 0 and will not {policy.funding_action.value}: run "
        "`perphedge data sync` to measure it"
        for symbol in symbols
        if cost(symbol, now_ms) is None
    )


def trailing_funding_cost(
    history: History, exchange: str, window_days: float
) -> Callable[[str, int], float | None]:
    """A leg's trailing funding cost to the short at `now_ms` (APR, > 0: the short pays), over
    the stored settlements in (now - window, now], as the backtest measures it
    (`hedge.keeper.trailing_cost_apr`); None when the store holds none there."""
    window_ms = int(window_days * DAY_MS)

    def cost(symbol: str, now_ms: int) -> float | None:
        try:
            rows = history.funding(exchange, symbol, now_ms - window_ms, now_ms)
        except DataError:
            return None
        inside = (rows.ts_ms > now_ms - window_ms) & (rows.ts_ms <= now_ms)
        rates = rows.rate[inside]
        if rates.size == 0:
            return None
        interval = float(rows.interval_hours[inside][-1])
        return trailing_cost_apr(math.fsum(rates.tolist()), float(rates.size), interval)

    return cost


def margin_mover(ports: Ports) -> Mover | None:
    """What moves margin on this account: isolated margin moves and wallet transfers, when the
    exchange adapter can (None: the keeper alerts instead)."""
    movers = (MarginControl, WalletTransfer)
    return ports.execution if isinstance(ports.execution, movers) else None


def executed_step(session: LiveSession, plan: KeepPlan, control: Mover | None) -> KeepStep:
    """One keeper step that sends, with the checks every sending run makes first."""
    check_kill_switch(session.home)
    check_withdrawals(session.account)
    with exclusive_run(session.home):
        return keep_step(session, plan, control, True)
