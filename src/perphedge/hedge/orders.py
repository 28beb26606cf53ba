"""From target and reconciled position to the orders that close the gap, and the guardrails.

Pure: no I/O, no clock ("now" is an argument). The live shell (`perphedge.live.execute`) reads the
position and open orders back from the exchange, calls `plan_leg` per perpetual, checks the
guardrails here, journals the result and only then sends anything.

Rules, in order, for one leg (sizes in contracts, signed: + long, - short):
  gap       = target - position - pending (remaining qty of open orders already working)
  reduce    = the part of the gap that shrinks |position| (reduce-only, exempt from minimum
              notional as on Binance: "unless you choose reduce only"), then
  increase  = the rest, rounded toward zero to the quantity step (`units.round_qty_to_step`) and
              skipped with a note when below the minimum quantity or notional;
  children  = each part split into the fewest child orders of at most `child_notional` (and
              never above `max_order_notional`), on the step, sizes differing by one step at most;
  price     = limit at mark * (1 +/- slippage_cap), on the tick and never beyond the cap
              (market orders only when asked).
Client order ids are deterministic: "ph" + 24 hex of sha256(intent id | symbol | child index), so
that a restarted run finds its orders on the exchange instead of sending them again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from perphedge.errors import InputError, SafetyError
from perphedge.instruments import Perpetual
from perphedge.margin import usd_notional_of
from perphedge.ports import OrderRequest, OrderSide, OrderType
from perphedge.units import round_price_to_tick, round_qty_to_step, to_decimal

CLIENT_ID_PREFIX = "ph"


@dataclass(frozen=True)
class LegTarget:
    """Where one perpetual position should be: `target_contracts` signed (- short)."""

    symbol: str
    target_contracts: Decimal
    leverage: int = 1
    margin_mode: str = "isolated"  # what the plan's liquidation prices assume

    def __post_init__(self) -> None:
        if not self.target_contracts.is_finite():
            raise InputError("target_contracts", self.target_contracts, "give a finite size")
        if not 1 <= self.leverage <= 125:
            raise InputError("leverage", self.leverage, "give a whole leverage from 1 to 125")


@dataclass(frozen=True)
class ExecutionLimits:
    """Guardrails and order shaping. Notionals in USD; `slippage_cap` a fraction (0.002 = 0.2 %)."""

    max_order_notional: float = 100_000.0
    child_notional: float = 10_000.0
    slippage_cap: float = 0.002
    max_price_age_ms: int = 120_000
    max_leverage: float = 5.0
    use_market: bool = False

    def __post_init__(self) -> None:
        for name in ("max_order_notional", "child_notional", "slippage_cap", "max_leverage"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and value < float("inf")):
                raise InputError(name, value, "give a number greater than zero")
        if self.slippage_cap >= 0.1:
            raise InputError("slippage_cap", self.slippage_cap, "give a fraction below 0.1 (10 %)")
        if self.max_price_age_ms <= 0:
            raise InputError("max_price_age_ms", self.max_price_age_ms, "give a positive age")


@dataclass(frozen=True)
class PlannedOrder:
    """One child order before it has a client id."""

    symbol: str
    child_index: int
    side: OrderSide
    qty: Decimal
    order_type: OrderType
    price: Decimal | None
    reduce_only: bool
    notional_usd: float

    def request(self, intent_id: str) -> OrderRequest:
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            order_type=self.order_type,
            client_order_id=client_order_id(intent_id, self.symbol, self.child_index),
            price=self.price,
            reduce_only=self.reduce_only,
        )


@dataclass(frozen=True)
class LegPlan:
    """The orders for one leg and why (notes say what was skipped or rounded away)."""

    symbol: str
    position_contracts: Decimal
    pending_contracts: Decimal
    target_contracts: Decimal
    mark: Decimal
    orders: tuple[PlannedOrder, ...]
    notes: tuple[str, ...] = ()

    @property
    def planned_contracts(self) -> Decimal:
        return sum((o.qty * o.side.sign for o in self.orders), Decimal(0))

    @property
    def notional_usd(self) -> float:
        return sum(o.notional_usd for o in self.orders)

    @property
    def adding_notional_usd(self) -> float:
        """USD of the orders that add exposure (not reduce-only)."""
        return sum(o.notional_usd for o in self.orders if not o.reduce_only)


def drift_fraction(held_contracts: Decimal, target_contracts: Decimal) -> Decimal | None:
    """|held - target| / |target|: how far a leg is off its target (None for a target of 0).

    THE drift rule: `hedge rebalance --min-drift` and `monitor --max-drift` both compare it."""
    if target_contracts == 0:
        return None
    return abs(held_contracts - target_contracts) / abs(target_contracts)


def within_drift(held_contracts: Decimal, target_contracts: Decimal, min_drift: float) -> bool:
    """True when the leg needs no rebalance: on target, or off by at most `min_drift`."""
    off = drift_fraction(held_contracts, target_contracts)
    if off is None:
        return held_contracts == target_contracts
    return off <= Decimal(str(min_drift))


def client_order_id(intent_id: str, symbol: str, child_index: int) -> str:
    """Deterministic id, 26 characters, accepted by Binance, Bybit and OKX."""
    digest = hashlib.sha256(f"{intent_id}|{symbol}|{child_index}".encode()).hexdigest()
    return CLIENT_ID_PREFIX + digest[:24]


def notional_usd(instrument: Perpetual, contracts: Decimal, price: Decimal) -> float:
    """|contracts| in USD: contracts * size * price (linear) or contracts * size (inverse)."""
    return usd_notional_of(
        abs(float(contracts)), float(price), instrument.contract_size, instrument.is_inverse
    )


def limit_price(side: OrderSide, mark: Decimal, slippage_cap: float, tick: float) -> Decimal:
    """mark * (1 +/- cap) on the tick, moved one tick inward if rounding crossed the cap."""
    cap = mark * (1 + side.sign * to_decimal(slippage_cap))
    price = round_price_to_tick(cap, tick)
    if (price - cap) * side.sign > 0:
        price -= side.sign * to_decimal(tick)
    if price <= 0:
        raise InputError("price", price, "the mark is too close to zero for this tick")
    return price


def split_children(qty: Decimal, max_child: Decimal, step: Decimal) -> list[Decimal]:
    """Split `qty` (on the step, > 0) into the fewest children <= max_child, on the step, sizes
    differing by at most one step (the larger ones first)."""
    max_child = max(round_qty_to_step(max_child, step), step)
    count = int((qty / max_child).to_integral_value(rounding=ROUND_CEILING))
    base = round_qty_to_step(qty / count, step)
    extra = int((qty - base * count) / step)
    children = [base + step] * extra + [base] * (count - extra)
    return [c for c in children if c > 0]


def _parts(position: Decimal, gap: Decimal) -> list[tuple[Decimal, bool]]:
    """(signed qty, reduce_only) parts of `gap`: first the share that shrinks |position|."""
    if gap == 0:
        return []
    if position == 0 or (gap > 0) == (position > 0):
        return [(gap, False)]
    reduce = -position if abs(gap) >= abs(position) else gap
    rest = gap - reduce
    return [(reduce, True)] + ([(rest, False)] if rest != 0 else [])


def _sized(
    signed: Decimal, reduce_only: bool, mark: Decimal, inst: Perpetual, notes: list[str]
) -> Decimal:
    """|signed| on the step, or 0 when below the minimums (noted); reduce-only is exempt."""
    step = to_decimal(inst.qty_step)
    qty = round_qty_to_step(abs(signed), step)
    if qty < abs(signed):
        notes.append(f"{abs(signed) - qty} contracts left unhedged by the {step} step")
    usd = notional_usd(inst, qty, mark)
    too_small = qty < to_decimal(inst.min_qty) or usd < inst.min_notional
    if qty > 0 and too_small and not reduce_only:
        notes.append(
            f"skipped {qty} contracts ({usd:,.2f} USD): below the minimum "
            f"quantity {inst.min_qty} or notional {inst.min_notional}"
        )
        return Decimal(0)
    return qty


def plan_leg(
    target: LegTarget,
    position_contracts: Decimal,
    pending_contracts: Decimal,
    mark: Decimal,
    instrument: Perpetual,
    limits: ExecutionLimits,
) -> LegPlan:
    """Child orders that move `position + pending` to `target` (see the module docstring)."""
    if not mark.is_finite() or mark <= 0:
        raise InputError("mark", mark, f"no usable price for {target.symbol}; sync prices")
    max_child_usd = min(limits.child_notional, limits.max_order_notional)
    max_child = to_decimal(instrument.contracts_for_usd(max_child_usd, float(mark)))
    order_type = OrderType.MARKET if limits.use_market else OrderType.LIMIT
    gap = target.target_contracts - position_contracts - pending_contracts
    orders: list[PlannedOrder] = []
    notes: list[str] = []
    for signed, reduce_only in _parts(position_contracts + pending_contracts, gap):
        qty = _sized(signed, reduce_only, mark, instrument, notes)
        if qty == 0:
            continue
        side = OrderSide.BUY if signed > 0 else OrderSide.SELL
        price = None
        if not limits.use_market:
            price = limit_price(side, mark, limits.slippage_cap, instrument.price_tick)
        for child in split_children(qty, max_child, to_decimal(instrument.qty_step)):
            usd = notional_usd(instrument, child, mark)
            orders.append(
                PlannedOrder(
                    target.symbol, len(orders), side, child, order_type, price, reduce_only, usd
                )
            )
    return LegPlan(
        target.symbol, position_contracts, pending_contracts, target.target_contracts, mark,
        tuple(orders), tuple(notes),
    )  # fmt: skip


def check_price_fresh(symbol: str, price_ts_ms: int, now_ms: int, max_age_ms: int) -> None:
    """SafetyError when the price is older than `max_age_ms` (or from the future)."""
    age_ms = now_ms - price_ts_ms
    if age_ms > max_age_ms or age_ms < -max_age_ms:
        raise SafetyError(
            f"stale price for {symbol}: {age_ms / 1000:,.0f} s old, limit "
            f"{max_age_ms / 1000:,.0f} s; refresh prices (nothing was sent)"
        )


def check_order_notional(plan: LegPlan, limits: ExecutionLimits) -> None:
    """SafetyError when the leg's orders that add exposure total more than `max_order_notional`
    USD (reduce-only orders cannot overshoot the position, so they never count)."""
    if plan.adding_notional_usd > limits.max_order_notional:
        raise SafetyError(
            f"{plan.symbol}: orders total {plan.adding_notional_usd:,.2f} USD, above the maximum order "
            f"notional {limits.max_order_notional:,.2f}; raise --max-order-notional if this is "
            "intended (nothing was sent)"
        )


def check_leverage_setting(target: LegTarget, max_leverage: float) -> None:
    """SafetyError when the leverage to set on the venue exceeds the cap."""
    if target.leverage > max_leverage:
        raise SafetyError(
            f"{target.symbol}: the portfolio asks for {target.leverage}x, above the cap "
            f"{max_leverage:g}x; lower [hedge].leverage or raise --max-leverage (nothing was sent)"
        )


def check_gross_leverage(
    gross_notional_after_usd: float, equity_usd: float, max_leverage: float
) -> None:
    """SafetyError when gross notional after the orders / equity exceeds `max_leverage`."""
    if equity_usd <= 0:
        raise SafetyError(
            f"account equity is {equity_usd:,.2f} USD: deposit margin first (nothing was sent)"
        )
    leverage = gross_notional_after_usd / equity_usd
    if leverage > max_leverage * (1 + 1e-9):
        raise SafetyError(
            f"leverage after these orders would be {leverage:,.2f}x (notional "
            f"{gross_notional_after_usd:,.2f} / equity {equity_usd:,.2f}), above the cap "
            f"{max_leverage:g}x; add margin or raise --max-leverage (nothing was sent)"
        )
