"""From a portfolio (holdings, hedge settings) to backtest legs, costs and specs (pure).

* One spot column per held coin, one perpetual column per coin whose perpetual hedges something
  (the coin itself, or its proxy).
* Holdings of the same coin with the same hedge (proxy, beta, ratio) are merged into one leg.
* A holding's own `ratio` overrides the portfolio's: the leg's beta is scaled by
  holding ratio / portfolio ratio, so every policy's ratio applies to it in proportion (a holding
  with ratio 0 is left unhedged; with a portfolio ratio of 0 the holding's ratio is used as is).
  A proxy hedge uses the holding's beta (1 when none is given).
* Starting cash (the margin account): unless given, the initial margin the hedge needs on the
  first bar, sum(value x ratio x beta) / leverage, so hedged and unhedged runs start from the
  same capital and the hedge is funded.
* Costs: the maker, taker and liquidation fees of the hedge perpetual (the highest among legs).
* The keeper: the portfolio's [keeper] settings as the backtest's `Keeper` policy (`keeper_for`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perphedge.backtest.spec import Costs, HedgeLeg, Keeper, MarketArrays
from perphedge.hedge.keeper import KeeperPolicy, LegState, Shortfall
from perphedge.hedge.reserve import LegReserve, Window, leg_reserve, worst_funding, worst_rally
from perphedge.instruments import Perpetual
from perphedge.portfolio import Portfolio


@dataclass(frozen=True)
class HedgedGroup:
    """One hedged group of holdings: coins of `asset` hedged on `hedge_asset`'s perpetual."""

    asset: str
    hedge_asset: str
    qty_base: float
    beta: float  # effective: proxy beta x (holding ratio / portfolio ratio)


@dataclass(frozen=True)
class Layout:
    """Column layout of the market data and the legs on it."""

    assets: tuple[str, ...]  # spot columns
    hedge_assets: tuple[str, ...]  # perpetual columns
    legs: tuple[HedgedGroup, ...]
    unhedged: tuple[str, ...]  # coins held with ratio 0


def layout(portfolio: Portfolio, portfolio_ratio: float) -> Layout:
    """Spot and perpetual columns and merged legs (see the module docstring)."""
    merged: dict[tuple[str, str, float], float] = {}
    unhedged: list[str] = []
    for h in portfolio.holdings:
        own = h.ratio if h.ratio is not None else portfolio_ratio
        scale = own / portfolio_ratio if portfolio_ratio > 0 else own
        beta = (h.beta if h.beta is not None else 1.0) * scale
        if beta <= 0:
            unhedged.append(h.asset)
            continue
        key = (h.asset, h.hedge_asset, beta)
        merged[key] = merged.get(key, 0.0) + h.qty_base
    legs = tuple(HedgedGroup(a, ha, qty, b) for (a, ha, b), qty in merged.items())
    return Layout(
        assets=tuple(dict.fromkeys(h.asset for h in portfolio.holdings)),
        hedge_assets=tuple(dict.fromkeys(leg.hedge_asset for leg in legs)),
        legs=legs,
        unhedged=tuple(dict.fromkeys(unhedged)),
    )


def hedge_legs(plan: Layout, instruments: Mapping[str, Perpetual]) -> tuple[HedgeLeg, ...]:
    """HedgeLeg per planned leg; `instruments` maps each hedge asset to its perpetual."""
    return tuple(
        HedgeLeg(
            qty_base=leg.qty_base,
            spot_col=plan.assets.index(leg.asset),
            hedge_col=plan.hedge_assets.index(leg.hedge_asset),
            beta=leg.beta,
            kind=instruments[leg.hedge_asset].kind,
            contract_size=instruments[leg.hedge_asset].contract_size,
            tiers=instruments[leg.hedge_asset].tiers,
            name=leg.asset
            if leg.asset == leg.hedge_asset
            else f"{leg.asset} via {leg.hedge_asset}",
        )
        for leg in plan.legs
    )


def hedge_notional_usd(
    legs: Sequence[HedgeLeg], spot: np.ndarray, ratio: float
) -> dict[int, float]:
    """Hedge notional per perpetual column at `spot`: sum(qty x spot x ratio x beta) of its legs
    (the plan's target notional of that perpetual, perphedge.hedge.sizing)."""
    out: dict[int, float] = {}
    for leg in legs:
        value = leg.qty_base * float(spot[leg.spot_col]) * leg.beta * ratio
        out[leg.hedge_col] = out.get(leg.hedge_col, 0.0) + value
    return out


def start_margin_usd(
    legs: Sequence[HedgeLeg], first_spot: np.ndarray, ratio: float, leverage: float
) -> float:
    """Initial margin of the hedge on the first bar: sum(qty x spot x ratio x beta) / leverage."""
    return sum(hedge_notional_usd(legs, first_spot, ratio).values()) / leverage


def costs_for(instruments: Sequence[Perpetual], slippage_bp: float) -> Costs:
    """Fees of the hedge perpetuals (the highest of each among them) and the given slippage."""
    return Costs(
        maker_fee=max(p.maker_fee for p in instruments),
        taker_fee=max(p.taker_fee for p in instruments),
        slippage_bp=slippage_bp,
        liquidation_fee=max(p.liquidation_fee for p in instruments),
    )


def keeper_for(policy: KeeperPolicy, ratio: float, bar_ms: int) -> Keeper:
    """The live keeper's settings as the backtest policy: the cooldown in whole bars (rounded
    up; -1 when re-open is off), sell_spot without the coins on the exchange is an alert, and
    surplus_distance 0 when surplus is kept. The funding regime is not modelled (see Keeper)."""
    cooldown = math.ceil(policy.reopen_cooldown_hours * 3_600_000 / bar_ms)
    shortfall = policy.on_shortfall
    if shortfall is Shortfall.SELL_SPOT and not policy.spot_on_exchange:
        shortfall = Shortfall.ALERT
    return Keeper(
        ratio=ratio,
        band=policy.drift_band,
        min_distance=policy.min_distance,
        target_distance=policy.target_distance,
        reopen_cooldown_bars=cooldown if policy.reopen else -1,
        on_shortfall=shortfall.value,
        surplus_distance=policy.surplus_distance if policy.return_surplus else 0.0,
    )


def reserve_from_history(
    legs: Sequence[HedgeLeg],
    instruments: Sequence[Perpetual],
    market: MarketArrays,
    policy: KeeperPolicy,
    ratio: float,
    leverage: float,
) -> tuple[LegReserve, ...]:
    """Each leg's keeper reserve sized on `market` (`perphedge.hedge.reserve`): the worst 30-day
    rally of the hedge's mark and the worst 30-day funding of its perpetual, for the short opened
    on the first bar. `instruments[i]` is leg i's perpetual."""
    out = []
    for leg, inst in zip(legs, instruments, strict=True):
        marks, times = market.mark[:, leg.hedge_col], market.times_ms
        events = market.funding_col == leg.hedge_col
        rate_times = times[market.funding_bar[events]]
        rates = market.rate_per_interval[events]
        funding = (
            worst_funding(rate_times, rates)
            if rates.size
            else Window(0.0, int(times[0]), int(times[0]))
        )
        state = LegState(
            instrument=inst,
            coins_held=leg.qty_base,
            spot_price=float(market.spot[0, leg.spot_col]),
            mark=float(marks[0]),
            hedge_ratio=ratio * leg.beta,
            size=0.0,
            margin=0.0,
            leverage=leverage,
        )
        out.append(leg_reserve(state, policy, worst_rally(times, marks), funding))
    return tuple(out)
