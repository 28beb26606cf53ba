"""HedgeSpec + portfolio + market inputs -> HedgePlan: the short perpetuals that insure holdings.

Pure: prices, marks, funding rates and contract specs come in as arguments (`LegMarket`);
nothing is fetched, nothing is sent. The plan's orders are what *would* open the hedge.

Sizing, per holding: target notional (USD) = value x ratio x beta (beta 1 unless the holding is
proxy-hedged). Holdings hedged with the same perpetual share one leg (one position, one order).
Contracts per leg:
  linear   contracts = target / (mark x contract size)
  inverse  contracts = target / contract size  (= coins x price / contract size)
both rounded TOWARD ZERO to the quantity step (`units.round_qty_to_step`: never more hedge than
asked), after dropping float noise beyond 12 significant digits (so 0.07 stays 0.07 and never
becomes 0.069...). What rounding leaves unhedged is the leg's `residual_usd`.

Margin: linear isolated legs each get wallet = initial margin (notional / leverage); cross legs
share the sum of initial margins, and each leg's liquidation price is the price where it alone
would be liquidated with the other legs' maintenance margin at entry (`margin.position_risk`).
Inverse (coin-margined) legs are backed by the coins themselves: the whole holding sits in the
coin-margined wallet, so a short of at most 1x has no liquidation price (`position_risk` gives
None). Funding per interval comes from `funding.funding_payment` (positive rate: the short earns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from perphedge.config import HedgeConfig
from perphedge.errors import InputError, require_finite
from perphedge.funding import funding_payment
from perphedge.hedge.advice import leg_notes, leg_warnings, market_notes, no_perpetual_warnings
from perphedge.hedge.model import (
    INVERSE_RESIDUAL_RISKS,
    ExposureLine,
    HedgePlan,
    HedgeSpec,
    LegMarket,
    PlanLeg,
    PlanOrder,
    PlanWarning,
)
from perphedge.instruments import Perpetual
from perphedge.margin import MarginMode, Position, PositionRisk, Side, position_risk, trade_fee
from perphedge.portfolio import Holding, Portfolio, Valuation, valuation
from perphedge.ports import OrderSide, OrderType
from perphedge.units import periods_per_year, round_price_to_tick, round_qty_to_step
from perphedge.venues.registry import venue

__all__ = [
    "INVERSE_RESIDUAL_RISKS",
    "ExposureLine",
    "HedgePlan",
    "HedgeSpec",
    "LegMarket",
    "PlanLeg",
    "PlanOrder",
    "PlanWarning",
    "build_plan",
    "hedge_spec",
    "round_contracts",
]


def hedge_spec(
    hedge: HedgeConfig,
    exchange: str | None = None,
    min_liquidation_distance: float = 0.30,
    max_funding_cost_apr: float = 0.05,
) -> HedgeSpec:
    """THE HedgeSpec of a portfolio file's [hedge] table (every command and loop builds it here).

    `exchange` overrides the file's venue; the limits are fractions (0.30 = 30 %)."""
    venue_info = venue(exchange or hedge.exchange)
    return HedgeSpec(
        ratio=hedge.ratio,
        leverage=hedge.leverage,
        exchange=venue_info.name,
        kind=hedge.kind,
        margin_mode=hedge.mode,
        rules=venue_info.liquidation_rules,
        order_type=hedge.order,
        min_liquidation_distance=min_liquidation_distance,
        max_funding_cost_apr=max_funding_cost_apr,
    )


def round_contracts(contracts: float, step: float) -> Decimal:
    """Contracts rounded toward zero to `step`, after dropping float noise beyond 12 digits."""
    require_finite("contracts", contracts)
    return round_qty_to_step(Decimal(f"{contracts:.12g}"), Decimal(f"{step:.12g}"))


@dataclass(frozen=True)
class _Group:
    """Holdings that share one hedge instrument."""

    market: LegMarket
    target_usd: float
    coins_backing: float  # inverse: coins of the hedged asset held (the collateral)


def _ratio_beta(holding: Holding, spec: HedgeSpec) -> tuple[float, float]:
    ratio = spec.ratio if holding.ratio is None else holding.ratio
    beta = 1.0 if holding.beta is None else holding.beta
    return ratio, beta


def _groups(
    portfolio: Portfolio,
    values: tuple[Valuation, ...],
    spec: HedgeSpec,
    markets: Mapping[str, LegMarket | None],
) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for index, (holding, value) in enumerate(zip(portfolio.holdings, values, strict=True)):
        market = markets.get(holding.hedge_asset)
        if market is None:
            continue
        if market.instrument.is_inverse and holding.proxy is not None:
            raise InputError(
                f"holdings[{index}].proxy",
                holding.proxy,
                'a coin-margined hedge is backed by the coin itself; use contract = "linear"',
            )
        ratio, beta = _ratio_beta(holding, spec)
        symbol = market.instrument.symbol
        old = groups.get(symbol, _Group(market, 0.0, 0.0))
        groups[symbol] = _Group(
            market, old.target_usd + value.value_usd * ratio * beta, old.coins_backing
        )
        if market.instrument.is_inverse:
            groups[symbol] = _Group(
                market, groups[symbol].target_usd, old.coins_backing + holding.qty_base
            )
    return groups


def _position(market: LegMarket, target_usd: float) -> tuple[Decimal, Position | None]:
    inst = market.instrument
    contracts = round_contracts(inst.contracts_for_usd(target_usd, market.mark), inst.qty_step)
    if contracts <= 0:
        return contracts, None
    size = inst.size_from_contracts(float(contracts))
    pos = Position(Side.SHORT, size, market.mark, inst.kind, inst.contract_size)
    return contracts, pos


def _below_minimum(inst: Perpetual, contracts: Decimal, notional_quote: float) -> str | None:
    if contracts <= 0:
        return "rounds to zero contracts"
    if float(contracts) < inst.min_qty:
        return f"{contracts} contracts is below the minimum quantity {inst.min_qty:g}"
    if not inst.is_inverse and notional_quote < inst.min_notional:
        return (
            f"{notional_quote:,.2f} {inst.quote} is below the minimum notional "
            f"{inst.min_notional:,.0f} {inst.quote}"
        )
    return None


def _risk(
    pos: Position, group: _Group, spec: HedgeSpec, wallet: float | None, other_mm: float
) -> PositionRisk:
    inst = group.market.instrument
    mode = spec.margin_mode if not inst.is_inverse else MarginMode.ISOLATED
    return position_risk(
        pos,
        leverage=spec.leverage,
        wallet=wallet,
        tiers=inst.tiers,
        rules=spec.rules,
        mode=mode,
        other_mm=other_mm if mode is MarginMode.CROSS else 0.0,
        taker_fee=inst.taker_fee,
        settle_unit=inst.settle,
    )


def _empty_leg(group: _Group, contracts: Decimal) -> PlanLeg:
    m = group.market
    inst = m.instrument
    return PlanLeg(
        inst.symbol, inst.kind, inst.settle, "short", contracts, 0.0, m.mark,
        group.target_usd, 0.0, group.target_usd, 0.0, 0.0, 0.0, 0.0, None, None,
        m.rate_per_interval, m.interval_hours, m.funding_source, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, inst.tiers.source, False, inst, None,
    )  # fmt: skip


def _leg(
    group: _Group, contracts: Decimal, pos: Position, risk: PositionRisk, spec: HedgeSpec
) -> PlanLeg:
    m = group.market
    inst = m.instrument
    to_usd = m.mark if inst.is_inverse else 1.0  # settle currency -> USD
    per_interval = funding_payment(pos, m.mark, m.rate_per_interval)
    per_year = per_interval * periods_per_year(m.interval_hours)
    notional_usd = risk.notional * to_usd
    fee_rate = inst.maker_fee if spec.order_type is OrderType.LIMIT else inst.taker_fee
    wallet = risk.margin_balance - risk.unrealized_pnl
    fee_open = trade_fee(pos, m.mark, fee_rate)
    return PlanLeg(
        symbol=inst.symbol,
        kind=inst.kind,
        settle=inst.settle,
        side="short",
        qty=contracts,
        qty_base=pos.size if not inst.is_inverse else notional_usd / m.mark,
        mark=m.mark,
        target_notional_usd=group.target_usd,
        notional_usd=notional_usd,
        residual_usd=group.target_usd - notional_usd,
        wallet=wallet,
        initial_margin=risk.initial_margin,
        initial_margin_usd=risk.initial_margin * to_usd,
        maintenance_margin=risk.maintenance_margin,
        liquidation_price=risk.liquidation_price,
        liquidation_distance=risk.distance_to_liquidation,
        rate_per_interval=m.rate_per_interval,
        interval_hours=m.interval_hours,
        funding_source=m.funding_source,
        funding_per_interval=per_interval,
        funding_per_day_usd=per_interval * to_usd * 24.0 / m.interval_hours,
        funding_per_year_usd=per_year * to_usd,
        funding_apr=per_year * to_usd / notional_usd,
        fee_open=fee_open,
        fee_open_usd=fee_open * to_usd,
        tiers_source=inst.tiers.source,
        approximate=risk.approximate,
        instrument=inst,
        position=pos,
    )


def _build_legs(
    groups: dict[str, _Group], spec: HedgeSpec
) -> tuple[list[PlanLeg], list[PlanWarning]]:
    sized: dict[str, tuple[Decimal, Position | None]] = {}
    warnings: list[PlanWarning] = []
    for symbol, group in groups.items():
        contracts, pos = _position(group.market, group.target_usd)
        quote_notional = 0.0 if pos is None else pos.size * group.market.mark
        reason = _below_minimum(group.market.instrument, contracts, quote_notional)
        if reason is not None and group.target_usd > 0:  # ratio 0 asks for no hedge
            warnings.append(PlanWarning("below_minimum", symbol, f"{reason}: not hedged"))
        if reason is not None:
            pos = None
        sized[symbol] = (contracts, pos)
    first = {s: _risk(p, groups[s], spec, None, 0.0) for s, (_, p) in sized.items() if p}
    cross_wallet = math.fsum(r.initial_margin for s, r in first.items() if not _inverse(groups, s))
    total_mm = math.fsum(r.maintenance_margin for s, r in first.items() if not _inverse(groups, s))
    legs = []
    for symbol, (contracts, pos) in sized.items():
        group = groups[symbol]
        if pos is None:
            legs.append(_empty_leg(group, Decimal(0)))
            continue
        risk = first[symbol]
        if group.market.instrument.is_inverse:
            risk = _risk(pos, group, spec, group.coins_backing, 0.0)
        elif spec.margin_mode is MarginMode.CROSS:
            other_mm = total_mm - risk.maintenance_margin
            risk = _risk(pos, group, spec, cross_wallet, other_mm)
        legs.append(_leg(group, contracts, pos, risk, spec))
    return legs, warnings


def _inverse(groups: dict[str, _Group], symbol: str) -> bool:
    return groups[symbol].market.instrument.is_inverse


def _exposures(
    portfolio: Portfolio,
    values: tuple[Valuation, ...],
    spec: HedgeSpec,
    markets: Mapping[str, LegMarket | None],
    legs: dict[str, PlanLeg],
) -> tuple[ExposureLine, ...]:
    lines = []
    for holding, value in zip(portfolio.holdings, values, strict=True):
        ratio, beta = _ratio_beta(holding, spec)
        market = markets.get(holding.hedge_asset)
        target = value.value_usd * ratio * beta
        symbol = None if market is None else market.instrument.symbol
        leg = None if symbol is None else legs[symbol]
        filled = 0.0
        if leg is not None and leg.target_notional_usd > 0:
            filled = leg.notional_usd / leg.target_notional_usd
        hedged = target * filled if market is not None else 0.0
        lines.append(
            ExposureLine(
                holding.asset,
                holding.qty_base,
                value.price,
                value.value_usd,
                holding.location,
                ratio,
                beta,
                symbol,
                target,
                hedged,
                value.value_usd - hedged / beta,
            )
        )
    return tuple(lines)


def _order(leg: PlanLeg, spec: HedgeSpec) -> PlanOrder:
    price = None
    if spec.order_type is OrderType.LIMIT:
        price = round_price_to_tick(leg.mark, leg.instrument.price_tick)
    return PlanOrder(leg.symbol, OrderSide.SELL, leg.qty, spec.order_type, price)


def build_plan(
    portfolio: Portfolio,
    spec: HedgeSpec,
    prices: Mapping[str, float],
    markets: Mapping[str, LegMarket | None],
    unbundled: frozenset[str] = frozenset(),
) -> HedgePlan:
    """The hedge plan for `portfolio` (see the module docstring).

    `prices`: USD per coin for holdings without a price of their own. `markets`: for each hedge
    asset (the coin itself or its proxy), the perpetual to use, or None when there is none
    (`unbundled`: none because no offline contract spec is bundled; the venue may list one).
    Leverage above a bracket's maximum raises InputError (from `margin.position_risk`).
    """
    values = valuation(portfolio, prices)
    groups = _groups(portfolio, values, spec, markets)
    legs, warnings = _build_legs(groups, spec)
    by_symbol = {leg.symbol: leg for leg in legs}
    exposures = _exposures(portfolio, values, spec, markets, by_symbol)
    warnings = no_perpetual_warnings(portfolio, spec, markets, unbundled) + warnings
    notes: list[str] = []
    for leg in legs:
        warnings += leg_warnings(leg, spec)
        notes += leg_notes(leg, groups[leg.symbol].coins_backing)
    for holding in portfolio.holdings:
        if holding.proxy is not None and holding.beta is None:
            notes.append(f"{holding.asset}: hedged with {holding.proxy} at beta 1 (none given)")
    notes += market_notes(markets, set(by_symbol))
    orders = tuple(_order(leg, spec) for leg in legs if leg.position is not None)
    return HedgePlan(spec, exposures, tuple(legs), orders, tuple(warnings), tuple(notes))
