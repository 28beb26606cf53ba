"""`hedge keep` service: what the keeper keeps, from the portfolio file and the venue.

`keep_plan(config, portfolio, market, history, clock)`: the hedge targets at the venue's prices
(`perphedge.services.targets`), the coins each leg hedges, the file's `[keeper]` policy and
its reserve: `[keeper] reserve_usd` when the file sets it, else the reserve `plan` sizes on
stored history (`perphedge.services.plan.keeper_reserve`; zero, and a note, without history).
"""

from __future__ import annotations

from dataclasses import dataclass

from perphedge.config import PortfolioConfig
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.keep import KeepPlan
from perphedge.ports import Clock, History, MarketData
from perphedge.services.plan import PlanRequest, plan_portfolio
from perphedge.services.targets import hedge_targets
from perphedge.symbols import perp_symbol

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
    plan = KeepPlan(
        portfolio, targets, coins_per_leg(config), config.keeper, reserve, ExecutionLimits(),
        margin_mode=config.hedge.margin_mode,
    )  # fmt: skip
    return KeepSetup(plan, notes)
