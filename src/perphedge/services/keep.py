"""Keep service: what `hedge keep` works towards, from the portfolio file at the venue's prices.

`keep_plan` holds the plan's per-leg targets (`perphedge.services.targets`), the coins each
perpetual hedges, the file's [keeper] settings and reserve; `perphedge.live.keep` runs the steps.
"""

from __future__ import annotations

from perphedge.config import PortfolioConfig
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.keep import KeepPlan
from perphedge.ports import MarketData
from perphedge.services.targets import hedge_targets
from perphedge.symbols import perp_symbol


def coins_per_leg(config: PortfolioConfig) -> dict[str, float]:
    """Coins each perpetual hedges (a proxied holding counts on its proxy's leg)."""
    coins: dict[str, float] = {}
    for h in config.portfolio.holdings:
        symbol = perp_symbol(h.hedge_asset, config.hedge.kind)
        coins[symbol] = coins.get(symbol, 0.0) + h.qty_base
    return coins


def keep_plan(config: PortfolioConfig, market: MarketData, portfolio_name: str) -> KeepPlan:
    """The keeper's plan for `config` at `market`'s prices (no reserve in the file: none)."""
    targets = hedge_targets(config, market).targets
    reserve = config.reserve_usd if config.reserve_usd is not None else 0.0
    return KeepPlan(
        portfolio_name, targets, coins_per_leg(config), config.keeper, reserve, ExecutionLimits()
    )
