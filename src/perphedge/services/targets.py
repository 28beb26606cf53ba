"""Hedge targets service for a live or paper run: the portfolio file through the planner, at the venue's prices.

`hedge_targets(config, market)` builds the same `HedgePlan` as `perphedge plan` (perphedge.hedge.sizing),
with the instrument, mark and funding rate of each hedge asset read from the `MarketData` port
(the exchange, or the replayed store for `--paper`), and returns one `LegTarget` per leg: the
signed number of contracts (- short) the account should hold. Every coin is valued at its
perpetual's mark, so that a full linear hedge is exactly coins x ratio x beta in contracts; a
price in the file is used only for a coin the venue has no perpetual for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from perphedge.config import PortfolioConfig
from perphedge.errors import ExchangeError, InputError, PerphedgeError
from perphedge.hedge.orders import LegTarget
from perphedge.hedge.sizing import HedgePlan, LegMarket, build_plan, hedge_spec
from perphedge.instruments import ContractKind
from perphedge.portfolio import Portfolio
from perphedge.ports import MarketData
from perphedge.symbols import perp_symbol


@dataclass(frozen=True)
class HedgeTargets:
    plan: HedgePlan
    targets: tuple[LegTarget, ...]


def _leg_market(market: MarketData, symbol: str) -> LegMarket | None:
    try:
        inst = market.instrument(symbol)
    except ExchangeError:  # unreachable or refusing: not "no perpetual for this coin"
        raise
    except PerphedgeError:
        return None
    quote = market.mark_price(symbol)
    rate = market.funding_rate(symbol)
    return LegMarket(
        inst,
        float(quote.price),
        rate.rate_per_interval,
        rate.interval_hours,
        "exchange",
        "exchange",
    )


def hedge_targets(config: PortfolioConfig, market: MarketData) -> HedgeTargets:
    """The plan and per-leg targets (see the module docstring)."""
    spec = hedge_spec(config.hedge)
    holdings = config.portfolio.holdings
    markets = {
        asset: _leg_market(market, perp_symbol(asset, spec.kind))
        for asset in dict.fromkeys(h.hedge_asset for h in holdings)
    }
    prices: dict[str, float] = {}
    for asset in config.portfolio.assets():
        leg = markets.get(asset) or _leg_market(market, perp_symbol(asset, ContractKind.LINEAR))
        if leg is not None:
            prices[asset] = leg.mark
    # value every coin at the venue's mark, so that contracts = coins x ratio x beta; a file
    # price is used only for a coin the venue has no perpetual for
    live = Portfolio(tuple(replace(h, price=None) if h.asset in prices else h for h in holdings))
    plan = build_plan(live, spec, prices, markets)
    if spec.leverage != int(spec.leverage):
        raise InputError("hedge.leverage", spec.leverage, "exchanges take a whole leverage")
    targets = tuple(
        LegTarget(
            leg.symbol,
            -leg.qty if leg.side == "short" else leg.qty,
            int(spec.leverage),
            spec.margin_mode.value,
        )
        for leg in plan.legs
    )
    return HedgeTargets(plan, targets)
