"""Instruments: spot pairs and perpetual contracts with their whole contract spec.

Units:
* Linear (USDT/USDC-margined) perpetual: position size in base coin; notional, PnL, margin and fees in
  the quote/settle currency. `contract_size` is base coin per contract (Binance 1, OKX BTC-USDT-SWAP 0.01).
* Inverse (coin-margined) perpetual: position size in contracts; `contract_size` is USD per contract
  (Binance BTCUSD_PERP 100, alt COIN-M 10, Bybit BTCUSD 1); notional, PnL, margin and fees in coin.
* Maintenance-margin tiers are keyed by notional in the settle currency (USDT for linear, coin for
  inverse, as Binance's `/dapi` `qtyFloor`/`qtyCap`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from perphedge.errors import InputError, require_non_negative, require_positive


class ContractKind(StrEnum):
    """How a perpetual is margined and settled."""

    LINEAR = "linear"  # quote-margined (USDT/USDC), PnL linear in price
    INVERSE = "inverse"  # coin-margined, quoted in USD, PnL in coin


@dataclass(frozen=True)
class MarginTier:
    """One maintenance-margin bracket: notionals in [floor, cap) use `mmr` and `cum`.

    `cum` is the maintenance amount (Binance `cum`, Bybit `mmDeduction`), so that
    maintenance margin = notional * mmr - cum equals the progressive sum over brackets.
    """

    floor: float
    cap: float
    max_leverage: float
    mmr: float
    cum: float

    def __post_init__(self) -> None:
        require_non_negative("tier.floor", self.floor)
        if not (self.cap > self.floor):
            raise InputError("tier.cap", self.cap, f"the cap must exceed the floor {self.floor}")
        require_positive("tier.max_leverage", self.max_leverage)
        if not (0.0 < self.mmr < 1.0):
            raise InputError("tier.mmr", self.mmr, "a maintenance-margin rate lies in (0, 1)")
        if not math.isfinite(self.cum):
            raise InputError("tier.cum", self.cum, "give a finite maintenance amount")

    def contains(self, notional: float) -> bool:
        return self.floor <= notional < self.cap


@dataclass(frozen=True)
class TierTable:
    """Maintenance-margin brackets of one contract, in ascending order and contiguous.

    `source` and `as_of` say where the numbers come from; exchanges change them often.
    """

    tiers: tuple[MarginTier, ...]
    source: str = "given"
    as_of: str = ""

    def __post_init__(self) -> None:
        if not self.tiers:
            raise InputError("tiers", "[]", "give at least one maintenance-margin tier")
        for lower, upper in zip(self.tiers, self.tiers[1:], strict=False):
            if not math.isclose(lower.cap, upper.floor, rel_tol=1e-12):
                raise InputError(
                    "tiers",
                    f"{lower.cap} -> {upper.floor}",
                    "tiers must be contiguous and ascending",
                )

    @classmethod
    def flat(cls, mmr: float, cum: float = 0.0, max_leverage: float = 125.0) -> TierTable:
        """A single bracket covering every notional (for `--mmr/--cum` style inputs)."""
        return cls((MarginTier(0.0, math.inf, max_leverage, mmr, cum),), source="flat rate")

    @classmethod
    def from_rates(
        cls,
        rows: Sequence[tuple[float, float, float, float]],
        source: str = "given",
        as_of: str = "",
    ) -> TierTable:
        """Build from (floor, cap, max_leverage, mmr) rows, deriving each `cum` by the recursion

        cum_1 = floor_1 * mmr_1 (0 when the first floor is 0),
        cum_k = cum_{k-1} + floor_k * (mmr_k - mmr_{k-1})   [Binance USDⓈ-M liquidation FAQ].
        """
        tiers: list[MarginTier] = []
        cum = 0.0
        prev_mmr = 0.0
        for floor, cap, max_lev, mmr in rows:
            cum += floor * (mmr - prev_mmr)
            tiers.append(MarginTier(floor, cap, max_lev, mmr, cum))
            prev_mmr = mmr
        return cls(tuple(tiers), source=source, as_of=as_of)

    def tier_for(self, notional: float) -> MarginTier:
        """The bracket containing `notional` (by notional, never by margin); the last one beyond it."""
        if notional < 0 or math.isnan(notional):
            raise InputError("notional", notional, "a notional is zero or more")
        for tier in self.tiers:
            if tier.contains(notional):
                return tier
        return self.tiers[-1]

    def max_leverage_for(self, notional: float) -> float:
        return self.tier_for(notional).max_leverage

    def cum_is_consistent(self, rel: float = 1e-9) -> bool:
        """Whether every `cum` follows the recursion, so that MM is continuous across brackets."""
        expected = 0.0
        prev_mmr = 0.0
        for tier in self.tiers:
            expected += tier.floor * (tier.mmr - prev_mmr)
            if not math.isclose(tier.cum, expected, rel_tol=rel, abs_tol=1e-9):
                return False
            prev_mmr = tier.mmr
        return True


@dataclass(frozen=True)
class Spot:
    """A spot market, e.g. BTC/USDT."""

    symbol: str
    base: str
    quote: str


@dataclass(frozen=True)
class Perpetual:
    """A perpetual swap with its whole contract spec.

    `qty_step` and `min_qty` are in contracts; `min_notional` in the quote currency;
    fee rates are fractions of notional (0.0005 = 0.05 %).
    """

    symbol: str  # ccxt unified symbol, e.g. "BTC/USDT:USDT" or "BTC/USD:BTC"
    base: str
    quote: str
    settle: str
    kind: ContractKind = ContractKind.LINEAR
    contract_size: float = 1.0
    qty_step: float = 0.001
    price_tick: float = 0.1
    min_qty: float = 0.0
    min_notional: float = 0.0
    funding_interval_hours: float = 8.0
    tiers: TierTable = field(default_factory=lambda: TierTable.flat(0.004))
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    liquidation_fee: float = 0.0125
    exchange: str = ""
    max_leverage: float = 125.0

    def __post_init__(self) -> None:
        require_positive("contract_size", self.contract_size)
        require_positive("qty_step", self.qty_step)
        require_positive("price_tick", self.price_tick)
        require_non_negative("min_qty", self.min_qty)
        require_non_negative("min_notional", self.min_notional)
        require_positive("funding_interval_hours", self.funding_interval_hours)
        require_positive("max_leverage", self.max_leverage)
        for name in ("maker_fee", "taker_fee", "liquidation_fee"):
            rate = getattr(self, name)
            if not (math.isfinite(rate) and -0.01 < rate < 0.1):
                raise InputError(name, rate, "give a fee as a fraction of notional, e.g. 0.0005")
        if self.kind is ContractKind.INVERSE and self.settle != self.base:
            raise InputError(
                "settle", self.settle, f"an inverse contract settles in its base coin {self.base}"
            )

    @property
    def is_inverse(self) -> bool:
        return self.kind is ContractKind.INVERSE

    def size_from_contracts(self, contracts: float) -> float:
        """Position size in the margin module's unit: base coin (linear) or contracts (inverse)."""
        return contracts if self.is_inverse else contracts * self.contract_size

    def contracts_for_usd(self, notional_usd: float, price: float) -> float:
        """Unrounded number of contracts worth `notional_usd` at `price`."""
        if self.is_inverse:
            return notional_usd / self.contract_size
        return notional_usd / (price * self.contract_size)
