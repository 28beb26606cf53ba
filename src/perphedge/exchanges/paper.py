"""The paper exchange: a simulated perpetual account behind the ports.

It implements `Account` and `Execution` (see `perphedge.ports`) so that every live command runs
offline with `--paper`. State lives in one JSON file in the data directory
(PERPHEDGE_HOME/paper/<exchange>.json), replaced atomically (write, fsync, rename) under an
exclusive file lock, so separate commands see the same account and a kill never leaves half a file.

Model (one-way positions): one wallet per settle currency. USDT for USDT-margined (linear)
contracts; the coin itself for coin-margined (inverse) ones, where sizes are contracts of
`contract_size` USD and fees, PnL, funding and margin are in coin (the core's inverse formulas).
A USDT-margined position set to isolated margin (`set_margin_mode`, as a hedge run does with the
plan's mode) is margined by its initial margin at entry alone (notional at entry / leverage),
like the plan's isolated leg; the rest of a wallet margins its other positions (cross within it).
* Prices come from a `MarketData` port (live or replayed marks) and time from a `Clock` port.
* Market orders fill at mark * (1 +/- slippage) as taker. A limit order that crosses the mark
  fills at once as taker at that price capped by its limit; otherwise it rests and fills at its
  limit as maker when a later mark crosses it. `partial_fill_ratio` < 1 fills only that share of
  the remainder per look (on the quantity step), to exercise partial-fill handling.
* Rejections as a venue would: quantity off the step, below the minimum notional (unless
  reduce-only), reduce-only that would grow the position, initial margin above equity. For
  coin-margined contracts the margin may exceed equity by the taker fee plus slippage on it, so
  that a 1x short of all the coins (what the planner sizes) fits after its own trading costs; a
  venue that counts fees and open loss may refuse the last sliver of such an order.
* Fees: notional in the settle currency at the fill price * maker or taker rate (inverse:
  contracts * size / price * rate, in coin).
* Funding settles at the real settlement times (multiples of the interval from 00:00 UTC, or the
  times of a replayed funding history): cash = `perphedge.funding.funding_payment` of the position
  held at that time (positive rate: the short receives), in the settle currency.
* Liquidation: an isolated position when its margin + unrealised PnL falls to its maintenance
  margin (it loses at most its margin); the cross positions of a wallet when its Binance margin
  ratio (maintenance margin / (wallet less isolated margins + unrealised PnL), tiered) reaches 1.
  Positions are closed at the mark and the clearance fee charged; a loss beyond the margin is
  the insurance fund's (the wallet stops at zero). A 1x coin-margined short backed by its coins is never liquidated.
Client order ids are unique: placing a known id returns that order and changes nothing.
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

from perphedge.errors import DataError, PermanentExchangeError
from perphedge.exchanges.paper_state import (
    PaperSettings,
    apply_to_position,
    check_shape,
    fill_of,
    new_fill,
    new_order,
    new_state,
    order_state,
    record_fill,
    settle_value,
    upgrade,
)
from perphedge.funding import funding_payment
from perphedge.hedge.orders import notional_usd
from perphedge.instruments import Perpetual
from perphedge.margin import (
    MarginMode,
    Position,
    Side,
    liquidation,
    maintenance_margin,
    unrealized_pnl,
)
from perphedge.ports import (
    Balance,
    Clock,
    Fill,
    FundingPayment,
    MarketData,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
    PositionState,
)
from perphedge.store.crashpoint import durable_write_done
from perphedge.store.private import FILE_MODE, private_file, write_atomic
from perphedge.units import round_qty_to_step, to_decimal

HOUR_MS = 3_600_000
DEFAULT_LEVERAGE = 20
# (symbol, since_ms exclusive, until_ms inclusive) -> [(settlement ts_ms, rate, mark or nan)]
FundingEvents = Callable[[str, int, int], Sequence[tuple[int, float, float]]]


class PaperExchange:
    """Account + Execution over a JSON state file (see the module docstring)."""

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
        realized = apply_to_position(self._state["positions"], order["symbol"], signed, price, inst)
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
        """An isolated USDT-margined position: margined by its own initial margin alone."""
        mode = self._state.get("margin_mode", {}).get(symbol, MarginMode.CROSS.value)
        return mode == MarginMode.ISOLATED.value and not self._instrument(symbol).is_inverse

    def _isolated_margin(self, symbol: str) -> Decimal:
        """Initial margin at entry: |notional at the entry price| / leverage (as a venue puts
        aside when an isolated position opens; the plan's wallet of an isolated leg)."""
        raw = self._state["positions"][symbol]
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
        """Sum of |notional at mark| / leverage over `settle`'s positions, with `extra`
        (symbol, signed contracts) added."""
        sizes = {s: Decimal(p["contracts"]) for s, p in self._state["positions"].items()}
        if extra is not None:
            sizes[extra[0]] = sizes.get(extra[0], Decimal(0)) + extra[1]
        total = Decimal(0)
        for symbol, contracts in sizes.items():
            inst = self._instrument(symbol)
            if inst.settle == settle:
                value = settle_value(inst, contracts, self._mark(symbol))
                total += value / self._leverage(symbol)
        return total

    def _leverage(self, symbol: str) -> int:
        return int(self._state["leverage"].get(symbol, DEFAULT_LEVERAGE))

    def _equity(self, settle: str) -> Decimal:
        upnl = sum(
            unrealized_pnl(self._position(s), float(self._mark(s)))
            for s in self._state["positions"]
            if self._settle(s) == settle
        )
        return self._wallet(settle) + to_decimal(round(upnl, 8))

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
            {"symbol": symbol, "ts_ms": now_ms, "contracts": str(closing), "price": str(price)}
        )

    # -- Execution port ------------------------------------------------------------------------

    def _rejection(self, req: OrderRequest, inst: Perpetual) -> str:
        qty = req.qty
        if round_qty_to_step(qty, inst.qty_step) != qty or qty < to_decimal(inst.min_qty):
            return f"quantity {qty} is not a multiple of the step {inst.qty_step}"
        mark = self._mark(req.symbol)
        notional = notional_usd(inst, qty, mark)
        held = Decimal(self._state["positions"].get(req.symbol, {}).get("contracts", "0"))
        if req.reduce_only:
            if held == 0 or (held > 0) == (req.side is OrderSide.BUY) or qty > abs(held):
                return "reduce-only order would increase the position"
            return ""
        if notional < inst.min_notional:
            return f"notional {notional:.2f} is below the minimum {inst.min_notional}"
        needed = self._initial_margin(inst.settle, (req.symbol, req.signed_qty))
        allowance = Decimal(0)
        if inst.is_inverse:  # the coins back the whole short; its costs come out of them
            costs = to_decimal(inst.taker_fee) + to_decimal(self._state["settings"]["slippage"])
            allowance = needed * costs
        if needed > self._equity(inst.settle) + allowance:
            return "margin is insufficient"
        return ""

    def place_order(self, req: OrderRequest) -> OrderState:
        with self._session([req.symbol]) as state:
            existing = state["orders"].get(req.client_order_id)
            if existing is not None:
                return order_state(existing)
            inst = self._instrument(req.symbol)
            now_ms = self.clock.now_ms()
            order = new_order(req, self._next_id("po"), now_ms)
            state["orders"][req.client_order_id] = order
            reason = self._rejection(req, inst)
            if reason:
                order.update(status=OrderStatus.REJECTED.value, reason=reason)
            else:
                self._try_fill(order, now_ms, taker=True)
            return order_state(order)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        with self._session([symbol]) as state:
            order = state["orders"].get(client_order_id)
            if order is None:
                return None
            if order["status"] in (OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value):
                order.update(status=OrderStatus.CANCELED.value, updated_ms=self.clock.now_ms())
            return order_state(order)

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        with self._session([symbol]) as state:
            order = state["orders"].get(client_order_id)
            return None if order is None else order_state(order)

    def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        with self._session([symbol]) as state:
            return [
                fill_of(f)
                for f in state["fills"]
                if f["symbol"] == symbol and int(f["ts_ms"]) >= since_ms
            ]

    def set_leverage(self, symbol: str, leverage: int) -> None:
        with self._session([symbol]) as state:
            state["leverage"][symbol] = int(leverage)

    def set_margin_mode(self, symbol: str, mode: str) -> None:
        """Recorded like a venue would (refused while a position is open and the mode differs).
        An isolated USDT-margined position is margined by its initial margin at entry alone."""
        with self._session([symbol]) as state:
            modes = state.setdefault("margin_mode", {})
            if modes.get(symbol, "cross") == mode:
                return
            if Decimal(state["positions"].get(symbol, {}).get("contracts", "0")) != 0:
                raise PermanentExchangeError(
                    f"paper: {symbol} margin mode cannot change to {mode} while a position is open"
                )
            modes[symbol] = mode

    # -- Account port --------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        """One balance per wallet: total = wallet, used = initial margin of its positions."""
        with self._session([]) as state:
            out = []
            for currency in state["wallets"]:
                used = self._initial_margin(currency).quantize(Decimal("1e-8"))
                free = self._equity(currency) - used
                out.append(Balance(currency, self._wallet(currency), free, used))
            return out

    def positions(self, symbols: Sequence[str]) -> list[PositionState]:
        """Positions among `symbols`; every position of the account when `symbols` is empty."""
        with self._session(symbols) as state:
            wanted = list(symbols) or sorted(state["positions"])
            return [self._position_state(s) for s in wanted if s in state["positions"]]

    def _position_state(self, symbol: str) -> PositionState:
        pos, mark, inst = self._risk_parts(symbol)
        mode = MarginMode.ISOLATED if self._isolated(symbol) else MarginMode.CROSS
        if mode is MarginMode.ISOLATED:
            liq = liquidation(pos, float(self._isolated_margin(symbol)), inst.tiers, mode=mode)
        else:
            other_upnl, other_mm = self._upnl_and_mm(inst.settle, exclude=symbol)
            liq = liquidation(
                pos,
                float(self._cross_wallet(inst.settle)),
                inst.tiers,
                mode=mode,
                other_mm=other_mm,
                other_upnl=other_upnl,
            )
        raw = self._state["positions"][symbol]
        leverage = self._leverage(symbol)
        return PositionState(
            symbol=symbol,
            contracts=Decimal(raw["contracts"]),
            entry_price=Decimal(raw["entry_price"]),
            mark_price=self._mark(symbol),
            liquidation_price=None if liq.price is None else to_decimal(round(liq.price, 8)),
            margin_mode=mode.value,
            leverage=Decimal(leverage),
            unrealized_pnl=to_decimal(round(unrealized_pnl(pos, mark), 8)),
            margin=(
                settle_value(inst, Decimal(raw["contracts"]), self._mark(symbol)) / leverage
            ).quantize(Decimal("1e-8")),
            maintenance_margin=to_decimal(round(maintenance_margin(pos, mark, inst.tiers), 8)),
        )

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        with self._session([] if symbol is None else [symbol]):
            return [order_state(o) for o in self._open() if symbol is None or o["symbol"] == symbol]

    def symbols(self) -> list[str]:
        """Every symbol the account has a position, an order or a funding payment in."""
        with self._session([], write=False) as state:
            return sorted(
                {
                    *state["positions"],
                    *(o["symbol"] for o in state["orders"].values()),
                    *(p["symbol"] for p in state["funding"]),
                }
            )

    def can_withdraw(self) -> bool | None:
        """A paper account has no API key: it cannot withdraw anything."""
        return False

    def funding_received(self, symbol: str, since_ms: int) -> list[FundingPayment]:
        with self._session([symbol]) as state:
            return [
                FundingPayment(
                    p["symbol"], int(p["ts_ms"]), Decimal(p["amount"]), p.get("currency", "USDT")
                )
                for p in state["funding"]
                if p["symbol"] == symbol and int(p["ts_ms"]) >= since_ms
            ]

    def all_orders(self) -> list[OrderState]:
        """Every order the account has ever received, in any state."""
        with self._session([]) as state:
            return [order_state(o) for o in state["orders"].values()]

    def liquidations(self) -> list[dict[str, Any]]:
        with self._session([]) as state:
            return list(state["liquidations"])
