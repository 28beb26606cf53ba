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
from decimal import Decimal

from perphedge.config import PortfolioConfig
from perphedge.errors import ExchangeError, InputError, PerphedgeError
from perphedge.hedge.model import PlanWarning
from perphedge.hedge.orders import LegTarget, within_drift
from perphedge.hedge.sizing import HedgePlan, LegMarket, build_plan, hedge_spec
from perphedge.instruments import ContractKind
from perphedge.live.reconcile import read_exchange
from perphedge.portfolio import Portfolio
from perphedge.ports import Account, MarketData
from perphedge.symbols import perp_symbol
from perphedge.units import to_decimal


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


def hedge_symbols(config: PortfolioConfig) -> list[str]:
    """The perpetuals the file's hedge trades, each once, in the file's order."""
    kind = config.hedge.kind
    return list(dict.fromkeys(perp_symbol(h.hedge_asset, kind) for h in config.portfolio.holdings))


def coin_deposits(config: PortfolioConfig) -> dict[str, Decimal]:
    """Coins a new coin-margined paper account starts with: every holding hedged by its own
    coin's perpetual, as if moved to the COIN-M wallet (proxied holdings stay outside)."""
    coins: dict[str, Decimal] = {}
    for h in config.portfolio.holdings:
        if h.hedge_asset == h.asset:
            coins[h.asset] = coins.get(h.asset, Decimal(0)) + to_decimal(h.qty_base)
    return coins


@dataclass(frozen=True)
class RunTargets:
    """What a hedge run aims at, and the plan's warnings about coins it leaves unhedged."""

    targets: tuple[LegTarget, ...]
    unhedged: tuple[PlanWarning, ...]


def run_targets(
    kind: str, config: PortfolioConfig, market: MarketData, account: Account, min_drift: float
) -> RunTargets:
    """Targets of `hedge open|rebalance|close`: the plan's, zero to close; a rebalance leaves a
    leg whose position plus working orders is within `min_drift` of its target as it is."""
    found = hedge_targets(config, market)
    unhedged = tuple(w for w in found.plan.warnings if w.code in ("no_perpetual", "below_minimum"))
    planned = found.targets
    if kind == "close":
        return RunTargets(tuple(replace(t, target_contracts=Decimal(0)) for t in planned), unhedged)
    if kind == "open":
        return RunTargets(planned, unhedged)
    state = read_exchange(account, [t.symbol for t in planned])
    kept = []
    for t in planned:
        leg = state.leg(t.symbol)
        held = leg.position_contracts + leg.pending_contracts
        within = within_drift(held, t.target_contracts, min_drift)
        kept.append(replace(t, target_contracts=held) if within else t)
    return RunTargets(tuple(kept), unhedged)
