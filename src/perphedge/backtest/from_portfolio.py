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
* The keeper: the portfolio's [keeper] settings as the backtest's `Keeper` policy (`keeper_for`)
  and its reserve, sized on the stored history before the backtest's start only, so the run
  does not know the rallies it is about to meet (`reserve_before_start`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perphedge.backtest.policies import Keeper
from perphedge.backtest.spec import SPOT_TAKER_FEE, Costs, HedgeLeg, MarketArrays
from perphedge.hedge.keeper import KeeperPolicy, LegState, Shortfall
from perphedge.hedge.reserve import (
    DAY_MS,
    LegHistory,
    LegReserve,
    Window,
    leg_reserve,
    worst_funding,
    worst_rally,
)
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
            funding_interval_hours=instruments[leg.hedge_asset].funding_interval_hours,
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


def costs_for(
    instruments: Sequence[Perpetual], slippage_bp: float, spot_fee: float = SPOT_TAKER_FEE
) -> Costs:
    """Fees of the hedge perpetuals (the highest of each among them), the given slippage and
    the spot taker fee on coins the keeper sells (a fraction)."""
    return Costs(
        maker_fee=max(p.maker_fee for p in instruments),
        taker_fee=max(p.taker_fee for p in instruments),
        slippage_bp=slippage_bp,
        spot_taker_fee=spot_fee,
        liquidation_fee=max(p.liquidation_fee for p in instruments),
    )


def keeper_for(policy: KeeperPolicy, ratio: float, bar_ms: int) -> Keeper:
    """The live keeper's settings as the backtest policy: the cooldown and the funding minimum
    hold in whole bars (rounded up; cooldown -1 when re-open is off), the funding window in
    whole bars (rounded, at least 1), sell_spot without the coins on the exchange is an alert,
    and surplus_distance 0 when surplus is kept."""
    hour_bars = 3_600_000 / bar_ms
    cooldown = math.ceil(policy.reopen_cooldown_hours * hour_bars)
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
        funding_action=policy.funding_action.value,
        funding_limit_apr=policy.funding_limit_apr,
        funding_reduced_ratio=policy.funding_reduced_ratio,
        funding_hysteresis_apr=policy.funding_hysteresis_apr,
        funding_min_hold_bars=math.ceil(policy.funding_min_hold_hours * hour_bars),
        funding_window_bars=max(1, round(policy.funding_window_days * 24 * hour_bars)),
    )


MIN_HISTORY_DAYS = 90.0  # stored marks before the start needed to size the reserve on them
FALLBACK_RESERVE_OF_NOTIONAL = 1.0  # else: this x the leg's hedge notional on the first bar


@dataclass(frozen=True)
class StartReserve:
    """A leg's keeper reserve for a backtest, sized only on what was known at its start.

    `sized`: the reserve on the stored history before the start (`history_from_ms` to
    `history_to_ms`), or None when that history is shorter than MIN_HISTORY_DAYS: then
    FALLBACK_RESERVE_OF_NOTIONAL x `notional_usd` (the leg's hedge notional on the first bar).
    """

    symbol: str
    reserve_usd: float
    notional_usd: float
    sized: LegReserve | None
    history_from_ms: int | None
    history_to_ms: int | None


def reserve_before_start(
    legs: Sequence[HedgeLeg],
    instruments: Sequence[Perpetual],
    histories: Sequence[LegHistory | None],
    market: MarketArrays,
    policy: KeeperPolicy,
    ratio: float,
    leverage: float,
) -> tuple[StartReserve, ...]:
    """Each leg's keeper reserve, never from the backtest window itself: the worst 30-day rally
    of the daily marks and the worst 30-day funding in `histories[i]` (leg i's stored history,
    all of it before the first bar; None: none), for the short opened on the first bar at
    `leverage` (`hedge.reserve.leg_reserve`); with less than MIN_HISTORY_DAYS of marks, the
    fallback (StartReserve). `instruments[i]` is leg i's perpetual."""
    out = []
    for leg, inst, h in zip(legs, instruments, histories, strict=True):
        mark0 = float(market.mark[0, leg.hedge_col])
        state = LegState(
            instrument=inst, coins_held=leg.qty_base, spot_price=float(market.spot[0, leg.spot_col]),
            mark=mark0, hedge_ratio=ratio * leg.beta, size=0.0, margin=0.0, leverage=leverage,
        )  # fmt: skip
        notional = ratio * leg.beta * leg.qty_base * state.spot_price
        if h is None or h.times_ms.size < 2:
            out.append(StartReserve(inst.symbol, FALLBACK_RESERVE_OF_NOTIONAL * notional,
                                    notional, None, None, None))  # fmt: skip
            continue
        span = (int(h.times_ms[-1]) - int(h.times_ms[0])) / DAY_MS
        sized = None
        if span >= MIN_HISTORY_DAYS:
            funding = (
                worst_funding(h.funding_ms, h.rates)
                if h.rates.size
                else Window(0.0, int(h.times_ms[0]), int(h.times_ms[0]))
            )
            sized = leg_reserve(state, policy, worst_rally(h.times_ms, h.marks), funding)
        usd = sized.reserve_usd if sized else FALLBACK_RESERVE_OF_NOTIONAL * notional
        out.append(StartReserve(inst.symbol, usd, notional, sized, int(h.times_ms[0]),
                                int(h.times_ms[-1])))  # fmt: skip
    return tuple(out)
