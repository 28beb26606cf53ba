"""The paper account's engine: its state file, marks, funding, fills, margin and liquidation.

`PaperBook` holds the rules; `perphedge.exchanges.paper.PaperExchange` puts the ports on top
(its module docstring describes the model).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from filelock import FileLock

from perphedge.errors import DataError
from perphedge.exchanges.paper_isolated import (
    carry_isolated_wallet,
    isolated_wallet_after,
    max_addable,
    max_removable,
)
from perphedge.exchanges.paper_state import (
    PaperSettings,
    apply_to_position,
    check_shape,
    new_fill,
    new_state,
    record_fill,
    settle_value,
    upgrade,
)
from perphedge.funding import funding_payment
from perphedge.instruments import Perpetual
from perphedge.margin import (
    MarginMode,
    Position,
    Side,
    maintenance_margin,
    unrealized_pnl,
)
from perphedge.ports import (
    Clock,
    MarketData,
    OrderSide,
    OrderStatus,
    OrderType,
)
from perphedge.store.crashpoint import durable_write_done
from perphedge.store.private import FILE_MODE, private_file, write_atomic
from perphedge.units import round_qty_to_step, to_decimal

HOUR_MS = 3_600_000
DEFAULT_LEVERAGE = 20
Z = Decimal(0)
# (symbol, since_ms exclusive, until_ms inclusive) -> [(settlement ts_ms, rate, mark or nan)]
FundingEvents = Callable[[str, int, int], Sequence[tuple[int, float, float]]]


class PaperBook:
    """The simulated account's state and its rules (see `perphedge.exchanges.paper`)."""

    def __init__(
        self,
        path: Path,
        market: MarketData,
        clock: Clock,
        settings: PaperSettings | None = None,
        funding_events: FundingEvents | None = None,
    ) -> None:
        self.path = path
        self.market = market
        self.clock = clock
        self._settings = settings or PaperSettings()
        self._funding_events = funding_events
        self._state: dict[str, Any] = {}

    # -- persistence ---------------------------------------------------------------------------

    @contextmanager
    def _session(self, symbols: Sequence[str], write: bool = True) -> Iterator[dict[str, Any]]:
        """Lock, load, bring `symbols` up to now (marks, funding, fills, liquidation), save."""
        with FileLock(private_file(self.path.with_suffix(".lock")), mode=FILE_MODE):
            self._state = self._load()
            before = json.dumps(self._state, sort_keys=True)
            self._advance(symbols)
            yield self._state
            if write or json.dumps(self._state, sort_keys=True) != before:
                self._save()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return new_state(self._settings, self.clock.now_ms())
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError) as bad:
            raise DataError(
                f"paper account {self.path} is unreadable ({bad}): run perphedge paper reset"
            ) from bad
        return check_shape(upgrade(state) if isinstance(state, dict) else state, self.path)

    def _save(self) -> None:
        write_atomic(self.path, json.dumps(self._state, indent=1, sort_keys=True))
        durable_write_done()

    def account_uid(self) -> str:
        """The account's tag: new with every new account (a reset), stable until then."""
        with self._session([], write=not self.path.exists()) as state:
            return str(state["uid"])

    def _next_id(self, prefix: str) -> str:
        """Unique across paper accounts and resets (the journal keys fills by trade id)."""
        self._state["seq"] += 1
        return f"{prefix}{self._state['seq']}-{self._state['uid']}"

    # -- market and time -----------------------------------------------------------------------

    def _instrument(self, symbol: str) -> Perpetual:
        return self.market.instrument(symbol)

    def _settle(self, symbol: str) -> str:
        return self._instrument(symbol).settle

    def _wallet(self, currency: str) -> Decimal:
        return Decimal(self._state["wallets"].get(currency, "0"))

    def _credit(self, currency: str, amount: Decimal) -> None:
        self._state["wallets"][currency] = str(self._wallet(currency) + amount)

    def _mark(self, symbol: str) -> Decimal:
        return Decimal(self._state["marks"][symbol]["price"])

    def _advance(self, symbols: Sequence[str]) -> None:
        now_ms = self.clock.now_ms()
        known = set(self._state["positions"]) | {o["symbol"] for o in self._open()}
        for symbol in sorted(known | set(symbols)):
            quote = self.market.mark_price(symbol)
            self._state["marks"][symbol] = {"price": str(quote.price), "ts_ms": quote.ts_ms}
        self._settle_funding(now_ms)
        for order in self._open():
            self._try_fill(order, now_ms, taker=False)
        self._check_liquidation(now_ms)

    def _settlements(
        self, symbol: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, float, float]]:
        if self._funding_events is not None:
            return list(self._funding_events(symbol, since_ms, until_ms))
        quote = self.market.funding_rate(symbol)
        step = int(quote.interval_hours * HOUR_MS)
        first = (since_ms // step + 1) * step
        return [
            (t, quote.rate_per_interval, float("nan")) for t in range(first, until_ms + 1, step)
        ]

    def _settle_funding(self, now_ms: int) -> None:
        since = int(self._state["funding_until_ms"])
        if now_ms <= since:
            return
        for symbol in sorted(self._state["positions"]):
            settle = self._settle(symbol)
            for ts_ms, rate, mark in self._settlements(symbol, since, now_ms):
                price = mark if math.isfinite(mark) and mark > 0 else float(self._mark(symbol))
                amount = to_decimal(round(funding_payment(self._position(symbol), price, rate), 8))
                self._credit(settle, amount)
                if self._isolated(symbol):  # settled into the position's own wallet
                    raw = self._state["positions"][symbol]
                    raw["isolated_wallet"] = str(self._isolated_margin(symbol) + amount)
                self._state["funding"].append(
                    {"symbol": symbol, "ts_ms": ts_ms, "amount": str(amount), "rate": rate,
                     "currency": settle}
                )  # fmt: skip
        self._state["funding_until_ms"] = now_ms

    def _position(self, symbol: str) -> Position:
        """The held position of `symbol` in the core's terms (size: coin or contracts)."""
        inst = self._instrument(symbol)
        pos = self._state["positions"][symbol]
        contracts = Decimal(pos["contracts"])
        side = Side.LONG if contracts > 0 else Side.SHORT
        size = inst.size_from_contracts(float(abs(contracts)))
        return Position(side, size, float(pos["entry_price"]), inst.kind, inst.contract_size)

    # -- fills ---------------------------------------------------------------------------------

    def _open(self) -> list[dict[str, Any]]:
        return [
            o
            for o in self._state["orders"].values()
            if o["status"] in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value)
        ]

    def _fill_price(self, order: dict[str, Any], taker: bool) -> Decimal | None:
        """Execution price if the order can trade at the current mark, else None."""
        sign = OrderSide(order["side"]).sign
        mark = self._mark(order["symbol"])
        slipped = mark * (1 + sign * to_decimal(self._state["settings"]["slippage"]))
        if order["type"] == OrderType.MARKET.value:
            return slipped
        limit = Decimal(order["price"])
        if (limit - mark) * sign < 0:
            return None  # does not cross
        if not taker:
            return limit
        return min(limit, slipped) if sign > 0 else max(limit, slipped)

    def _try_fill(self, order: dict[str, Any], now_ms: int, taker: bool) -> None:
        price = self._fill_price(order, taker)
        if price is None:
            return
        inst = self._instrument(order["symbol"])
        remaining = Decimal(order["qty"]) - Decimal(order["filled"])
        ratio = to_decimal(self._state["settings"]["partial_fill_ratio"])
        qty = remaining
        if ratio < 1:
            step = to_decimal(inst.qty_step)
            qty = max(round_qty_to_step(remaining * ratio, step), min(remaining, step))
        self._execute(order, inst, qty, price, now_ms, taker)
        if order["type"] == OrderType.MARKET.value and Decimal(order["filled"]) < Decimal(
            order["qty"]
        ):
            order["status"] = OrderStatus.EXPIRED.value
            order["reason"] = "market order remainder expired (no liquidity in simulation)"

    def _execute(
        self,
        order: dict[str, Any],
        inst: Perpetual,
        qty: Decimal,
        price: Decimal,
        now_ms: int,
        taker: bool,
    ) -> None:
        signed = qty * OrderSide(order["side"]).sign
        fee_rate = to_decimal(inst.taker_fee if taker else inst.maker_fee)
        fee = (settle_value(inst, qty, price) * fee_rate).quantize(Decimal("1e-8"))
        symbol = order["symbol"]
        held = self._state["positions"].get(symbol)
        before = (Decimal(held["contracts"]), self._isolated_margin(symbol)) if held else (Z, Z)
        realized = apply_to_position(self._state["positions"], symbol, signed, price, inst)
        if self._isolated(symbol):
            carry_isolated_wallet(
                self._state["positions"], symbol, before, price, inst, self._leverage(symbol)
            )
        self._credit(inst.settle, realized - fee)
        record_fill(order, qty, price, now_ms)
        self._state["fills"].append(
            new_fill(
                self._next_id("pt"), order, qty, price, (fee, inst.settle), now_ms, maker=not taker
            )
        )

    # -- margin and liquidation (per wallet: the positions that settle in it) -------------------

    def _risk_parts(self, symbol: str) -> tuple[Position, float, Perpetual]:
        return self._position(symbol), float(self._mark(symbol)), self._instrument(symbol)

    def _isolated(self, symbol: str) -> bool:
        """An isolated USDT-margined position: margined by its own isolated wallet alone."""
        mode = self._state.get("margin_mode", {}).get(symbol, MarginMode.CROSS.value)
        return mode == MarginMode.ISOLATED.value and not self._instrument(symbol).is_inverse

    def _isolated_margin(self, symbol: str) -> Decimal:
        """The position's isolated wallet (`perphedge.exchanges.paper_isolated`); a state
        written before these were kept: the initial margin at entry, as it was then."""
        raw = self._state["positions"][symbol]
        if "isolated_wallet" in raw:
            return Decimal(raw["isolated_wallet"])
        value = settle_value(
            self._instrument(symbol), Decimal(raw["contracts"]), Decimal(raw["entry_price"])
        )
        return value / self._leverage(symbol)

    def _cross_wallet(self, settle: str) -> Decimal:
        """The wallet less what isolated positions settling in it hold aside."""
        aside = sum(
            (self._isolated_margin(s) for s in self._state["positions"] if self._isolated(s)
             and self._settle(s) == settle),
            Decimal(0),
        )  # fmt: skip
        return self._wallet(settle) - aside

    def _upnl_and_mm(self, settle: str, exclude: str | None = None) -> tuple[float, float]:
        """Unrealised PnL and maintenance margin of the cross positions settling in `settle`."""
        upnl = mm = 0.0
        for symbol in self._state["positions"]:
            if symbol == exclude or self._settle(symbol) != settle or self._isolated(symbol):
                continue
            pos, mark, inst = self._risk_parts(symbol)
            upnl += unrealized_pnl(pos, mark)
            mm += maintenance_margin(pos, mark, inst.tiers)
        return upnl, mm

    def _initial_margin(self, settle: str, extra: tuple[str, Decimal] | None = None) -> Decimal:
        """Margin `settle`'s positions hold, with `extra` (symbol, signed contracts) added:
        |notional at mark| / leverage of a cross position, the isolated wallet of an isolated
        one (plus the initial margin at mark of what `extra` opens on it)."""
        held = {s: Decimal(p["contracts"]) for s, p in self._state["positions"].items()}
        sizes = dict(held)
        if extra is not None:
            sizes[extra[0]] = sizes.get(extra[0], Z) + extra[1]
        total = Z
        for symbol, contracts in sizes.items():
            inst = self._instrument(symbol)
            if inst.settle != settle:
                continue
            mark, leverage = self._mark(symbol), self._leverage(symbol)
            if self._isolated(symbol):
                old = held.get(symbol, Z)
                wallet = self._isolated_margin(symbol) if old else Z
                total += isolated_wallet_after((old, wallet), contracts, mark, inst, leverage)
            else:
                total += settle_value(inst, contracts, mark) / leverage
        return total

    def _leverage(self, symbol: str) -> int:
        return int(self._state["leverage"].get(symbol, DEFAULT_LEVERAGE))

    def _equity(self, settle: str) -> Decimal:
        """The wallet plus the unrealised P&L of its cross positions (an isolated position's
        P&L is its own wallet's: it counts in its margin, not in what the account may use)."""
        upnl, _ = self._upnl_and_mm(settle)
        return self._wallet(settle) + to_decimal(round(upnl, 8))

    def _available(self, settle: str) -> Decimal:
        """Available for orders: the equity less the margin every position holds."""
        return self._equity(settle) - self._initial_margin(settle)

    def _check_liquidation(self, now_ms: int) -> None:
        for symbol in sorted(s for s in self._state["positions"] if self._isolated(s)):
            pos, mark, inst = self._risk_parts(symbol)
            margin = self._isolated_margin(symbol)
            if float(margin) + unrealized_pnl(pos, mark) <= maintenance_margin(
                pos, mark, inst.tiers
            ):
                self._liquidate(symbol, now_ms, loss_cap=margin)
        for settle in sorted({self._settle(s) for s in self._state["positions"]}):
            cross = [s for s in self._state["positions"] if not self._isolated(s)]
            upnl, mm = self._upnl_and_mm(settle)
            if not cross or float(self._cross_wallet(settle)) + upnl > mm:
                continue
            for symbol in sorted(cross):
                if self._settle(symbol) == settle:
                    self._liquidate(symbol, now_ms)
            if self._wallet(settle) < 0:  # the loss beyond the margin: insurance fund
                self._state["wallets"][settle] = "0"
            for order in self._open():
                if self._settle(order["symbol"]) == settle:
                    order.update(
                        status=OrderStatus.CANCELED.value, reason="liquidation", updated_ms=now_ms
                    )

    def _liquidate(self, symbol: str, now_ms: int, loss_cap: Decimal | None = None) -> None:
        """Close `symbol` at the mark and charge the clearance fee; an isolated position loses
        at most its margin (`loss_cap`), the rest is the insurance fund's."""
        inst = self._instrument(symbol)
        closing = Decimal(self._state["positions"][symbol]["contracts"])
        price = self._mark(symbol)
        realized = apply_to_position(self._state["positions"], symbol, -closing, price, inst)
        fee = settle_value(inst, closing, price) * to_decimal(inst.liquidation_fee)
        change = realized - fee.quantize(Decimal("1e-8"))
        if loss_cap is not None:
            change = max(change, -loss_cap.quantize(Decimal("1e-8")))
        self._credit(inst.settle, change)
        self._state["liquidations"].append(
            {"symbol": symbol, "ts_ms": now_ms, "contracts": str(closing), "price": str(price),
             "lost": str(max(-change, Decimal(0))), "currency": inst.settle}
        )  # fmt: skip

    def _max_addable(self, settle: str) -> Decimal:
        _, cross_mm = self._upnl_and_mm(settle)
        cross_mm_d = to_decimal(round(cross_mm, 8))
        return max_addable(self._cross_wallet(settle), cross_mm_d, self._available(settle))

    def _max_removable(self, symbol: str) -> Decimal:
        pos, mark, inst = self._risk_parts(symbol)
        raw = self._state["positions"][symbol]
        im_at_mark = settle_value(inst, Decimal(raw["contracts"]), self._mark(symbol))
        return max_removable(
            self._isolated_margin(symbol),
            to_decimal(round(unrealized_pnl(pos, mark), 8)),
            to_decimal(round(maintenance_margin(pos, mark, inst.tiers), 8)),
            im_at_mark / self._leverage(symbol),
        )
