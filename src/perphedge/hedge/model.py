"""The hedge plan's value types: what goes in (HedgeSpec, LegMarket) and what comes out.

Pure data with validation; `perphedge.hedge.sizing` builds them (see its docstring for the rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from perphedge.errors import require_finite, require_fraction, require_positive
from perphedge.instruments import ContractKind, Perpetual
from perphedge.margin import MarginMode, Position, Rules
from perphedge.ports import OrderSide, OrderType

INVERSE_RESIDUAL_RISKS = (
    "funding is paid or received in the coin, so its USD value moves with the price",
    "trading fees are charged in the coin",
    "basis: the perpetual's mark can differ from the spot price you value the coins at",
    "rebalancing: when the coins held change, the number of contracts must be recomputed",
    "exchange risk: the coins backing the short sit on the exchange",
)


@dataclass(frozen=True)
class HedgeSpec:
    """How to hedge: ratio, leverage, venue rules, contract type, order type and warning limits.

    `min_liquidation_distance`: warn when the short is liquidated closer than this fraction of the
    mark. `max_funding_cost_apr`: warn when the short pays funding above this yearly fraction.
    """

    ratio: float = 1.0
    leverage: float = 1.0
    exchange: str = "binance"
    kind: ContractKind = ContractKind.LINEAR
    margin_mode: MarginMode = MarginMode.ISOLATED
    rules: Rules = Rules.BINANCE
    order_type: OrderType = OrderType.LIMIT
    min_liquidation_distance: float = 0.30
    max_funding_cost_apr: float = 0.05

    def __post_init__(self) -> None:
        require_fraction("ratio", self.ratio)
        require_positive("leverage", self.leverage)
        require_fraction("min_liquidation_distance", self.min_liquidation_distance)
        require_finite("max_funding_cost_apr", self.max_funding_cost_apr)


@dataclass(frozen=True)
class LegMarket:
    """Market inputs for one hedge instrument: spec, mark and the funding rate to plan with."""

    instrument: Perpetual
    mark: float
    rate_per_interval: float
    interval_hours: float
    funding_source: str = "given"
    mark_source: str = "given"

    def __post_init__(self) -> None:
        require_positive("mark", self.mark)
        require_finite("rate_per_interval", self.rate_per_interval)
        require_positive("interval_hours", self.interval_hours)


@dataclass(frozen=True)
class ExposureLine:
    """One holding: its value, what it is hedged with, and what stays unhedged (USD)."""

    asset: str
    qty_base: float
    price: float
    value_usd: float
    location: str | None
    ratio: float
    beta: float
    hedge_symbol: str | None
    target_notional_usd: float
    hedged_notional_usd: float
    unhedged_usd: float


@dataclass(frozen=True)
class PlanLeg:
    """One short perpetual position. Settle-currency amounts are USDT (linear) or coin (inverse).

    `qty` is the order size in contracts (Binance USDⓈ-M: 1 contract = 1 coin); `qty_base` the
    size in coins (linear) or the coins' worth at the mark (inverse). `position` is None when
    rounding or a venue minimum leaves nothing to open.
    """

    symbol: str
    kind: ContractKind
    settle: str
    side: str
    qty: Decimal
    qty_base: float
    mark: float
    target_notional_usd: float
    notional_usd: float
    residual_usd: float
    wallet: float
    initial_margin: float
    initial_margin_usd: float
    maintenance_margin: float
    liquidation_price: float | None
    liquidation_distance: float | None
    rate_per_interval: float
    interval_hours: float
    funding_source: str
    funding_per_interval: float
    funding_per_day_usd: float
    funding_per_year_usd: float
    funding_apr: float
    fee_open: float
    fee_open_usd: float
    tiers_source: str
    approximate: bool
    instrument: Perpetual
    position: Position | None


@dataclass(frozen=True)
class PlanOrder:
    """An order that would open a leg. Printed, never sent by the planner."""

    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType
    price: Decimal | None
    reduce_only: bool = False


@dataclass(frozen=True)
class PlanWarning:
    """Something the user should act on. `code` is stable for scripts."""

    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class HedgePlan:
    """Everything `perphedge plan` shows. USD totals; legs and exposures in file order."""

    spec: HedgeSpec
    exposures: tuple[ExposureLine, ...]
    legs: tuple[PlanLeg, ...]
    orders: tuple[PlanOrder, ...]
    warnings: tuple[PlanWarning, ...]
    notes: tuple[str, ...]

    @property
    def total_exposure(self) -> float:
        return math.fsum(e.value_usd for e in self.exposures)

    @property
    def hedge_notional(self) -> float:
        return math.fsum(leg.notional_usd for leg in self.legs)

    @property
    def initial_margin(self) -> float:
        return math.fsum(leg.initial_margin_usd for leg in self.legs)

    @property
    def unhedged_usd(self) -> float:
        return math.fsum(e.unhedged_usd for e in self.exposures)

    @property
    def fees_open_usd(self) -> float:
        return math.fsum(leg.fee_open_usd for leg in self.legs)

    @property
    def funding_per_day_usd(self) -> float:
        return math.fsum(leg.funding_per_day_usd for leg in self.legs)

    @property
    def funding_per_year_usd(self) -> float:
        return math.fsum(leg.funding_per_year_usd for leg in self.legs)
