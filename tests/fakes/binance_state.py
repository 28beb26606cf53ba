"""The account and matching engine behind the fake Binance USDⓈ-M server (one-way mode, cross).

Numbers are `Decimal`, as the exchange keeps them. Rules follow Binance's USDⓈ-M docs:
* a LIMIT buy fills when the mark is at or below its price (sell: at or above); an order that
  crosses on arrival is a taker and fills at the mark, a resting order is a maker and fills at its
  price when a later mark crosses it; MARKET orders fill at the mark;
* fees: maker 0.02 %, taker 0.05 % of the fill's quote value, charged to the USDT wallet;
* realised PnL of the reduced part goes to the wallet; entry price is the size-weighted average;
* cross margin: an order that opens size needs open_qty * price / leverage of available balance
  (wallet + unrealised PnL - position and open-order initial margin), else -2019;
* `newClientOrderId` must be unique among OPEN orders (Binance: "A unique id among open
  orders"); `client_id_scope="all"` makes it unique for ever, as some venues do;
* funding: cash per position = perphedge.funding.funding_cash (positive rate: longs pay shorts).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from perphedge.funding import funding_cash

ZERO = Decimal(0)
TRANSFER_TYPES = ("MAIN_UMFUTURE", "UMFUTURE_MAIN")  # spot -> USDⓈ-M futures, and back


class ApiError(Exception):
    """A Binance error body {"code": code, "msg": msg} with an HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


@dataclass(frozen=True)
class SymbolSpec:
    """Filters of one USDⓈ-M perpetual (Binance exchangeInfo values for BTCUSDT and ETHUSDT)."""

    symbol: str
    base: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal
    max_price: Decimal
    price_precision: int
    qty_precision: int


SPECS = {
    "BTCUSDT": SymbolSpec(
        "BTCUSDT", "BTC", Decimal("0.10"), Decimal("0.001"), Decimal("0.001"), Decimal(1000),
        Decimal(120), Decimal(100), Decimal("556.80"), Decimal(4529764), 2, 3,
    ),
    "ETHUSDT": SymbolSpec(
        "ETHUSDT", "ETH", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal(10000),
        Decimal(2000), Decimal(20), Decimal("39.86"), Decimal(306177), 2, 3,
    ),
}  # fmt: skip


@dataclass
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # LIMIT | MARKET
    qty: Decimal
    price: Decimal
    reduce_only: bool
    time_in_force: str
    time_ms: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_ms: int = 0

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time_ms: int


@dataclass
class PositionRow:
    amt: Decimal = ZERO  # + long, - short (base coin)
    entry: Decimal = ZERO
    update_ms: int = 0


@dataclass
class ExchangeState:
    """Everything the fake exchange knows; every public method holds `lock`."""

    clock: Callable[[], int]
    wallet: Decimal = Decimal(10000)
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    client_id_scope: str = "open"
    can_withdraw: bool = False
    key_can_trade: bool = True  # False: a read-only API key (trading calls answer -2015)
    marks: dict[str, Decimal] = field(
        default_factory=lambda: {"BTCUSDT": Decimal(60000), "ETHUSDT": Decimal(3000)}
    )
    funding_rates: dict[str, Decimal] = field(
        default_factory=lambda: {"BTCUSDT": Decimal("0.0001"), "ETHUSDT": Decimal("0.0001")}
    )
    leverage: dict[str, int] = field(default_factory=dict)
    margin_types: dict[str, str] = field(default_factory=dict)  # recorded only: margin is cross
    orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    income: list[dict[str, object]] = field(default_factory=list)
    positions: dict[str, PositionRow] = field(default_factory=dict)
    # margin moved onto (+) or off (-) isolated positions, and Binance's history rows of it
    isolated_extra: dict[str, Decimal] = field(default_factory=dict)
    margin_history: list[dict[str, str]] = field(default_factory=list)
    # the spot wallet (USDT) and its universal transfers to and from the USDⓈ-M futures wallet
    spot_wallet: Decimal = ZERO
    transfers: list[dict[str, str]] = field(default_factory=list)
    # GET /fapi/v1/forceOrders: the liquidation engine's orders (`liquidate`)
    force_orders: list[dict[str, object]] = field(default_factory=list)
    partial_fills: deque[Decimal] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(4_000_000_001))

    # ----------------------------------------------------------------- test controls
    def set_mark(self, symbol: str, price: Decimal | str) -> None:
        """Move the mark; resting orders that it crosses fill (as makers, at their price)."""
        with self.lock:
            self.marks[symbol] = Decimal(price)
            for order in sorted(self.orders.values(), key=lambda o: o.order_id):
                if order.symbol == symbol and order.is_open and self._crosses(order):
                    self._fill(order, order.price, maker=True)

    def partial_next(self, *fractions: str) -> None:
        """The next fills execute only these fractions of their order's remaining size."""
        with self.lock:
            self.partial_fills.extend(Decimal(f) for f in fractions)

    def settle_funding(self, symbol: str) -> Decimal:
        """Pay one funding event on `symbol` at the current mark and rate; returns the cash."""
        with self.lock:
            pos = self.positions.get(symbol)
            if pos is None or pos.amt == 0:
                return ZERO
            cash = funding_cash(float(pos.amt), float(self.funding_rates[symbol]),
                                float(self.marks[symbol]))  # fmt: skip
            amount = Decimal(repr(cash)).quantize(Decimal("0.00000001"))
            self.wallet += amount
            now = self.clock()
            self.income.append({
                "symbol": symbol, "incomeType": "FUNDING_FEE", "income": f"{amount:f}",
                "asset": "USDT", "info": "FUNDING_FEE", "time": now,
                "tranId": next(self._ids), "tradeId": "",
            })  # fmt: skip
            return amount

    def move_margin(self, p: dict[str, str]) -> dict[str, object]:
        """POST /fapi/v1/positionMargin: type 1 adds `amount` from the wallet to an isolated
        position's margin, type 2 takes it back; one history row each."""
        with self.lock:
            symbol = self._spec(p.get("symbol", "")).symbol
            kind, amount = int(p.get("type", "0")), Decimal(p.get("amount", "0"))
            if self.margin_types.get(symbol) != "ISOLATED" or self.position_amt(symbol) == 0:
                raise ApiError(-4046, "No need to change margin type.")  # not isolated / none
            if kind not in (1, 2) or amount <= 0:
                raise ApiError(-1102, "Mandatory parameter 'amount' was not sent or invalid.")
            extra = self.isolated_extra.get(symbol, ZERO)
            if kind == 2 and amount > extra:
                raise ApiError(-4051, "Isolated balance insufficient.")
            signed = amount if kind == 1 else -amount
            self.isolated_extra[symbol] = extra + signed
            self.wallet -= signed
            now = self.clock()
            self.margin_history.append({
                "symbol": symbol, "type": str(kind), "deltaType": "TRADE", "amount": f"{amount:f}",
                "asset": "USDT", "time": str(now), "positionSide": "BOTH", "clientTranId": "",
            })  # fmt: skip
            return {"code": 200, "msg": "Successfully modify position margin.",
                    "amount": float(amount), "type": kind}  # fmt: skip

    def transfer(self, p: dict[str, str]) -> dict[str, object]:
        """POST /sapi/v1/asset/transfer: type MAIN_UMFUTURE moves spot wallet -> futures
        wallet, UMFUTURE_MAIN back (at most the futures wallet's available balance)."""
        with self.lock:
            amount, kind = Decimal(p.get("amount", "0")), p.get("type")
            if kind not in TRANSFER_TYPES or p.get("asset") != "USDT" or amount <= 0:
                raise ApiError(-1102, "Mandatory parameter 'type' was not sent or invalid.")
            source = self.spot_wallet if kind == "MAIN_UMFUTURE" else self.available()
            if amount > source:
                raise ApiError(-5013, "Asset transfer failed: insufficient balance")
            signed = amount if kind == "MAIN_UMFUTURE" else -amount
            self.spot_wallet -= signed
            self.wallet += signed
            tran_id = next(self._ids)
            self.transfers.append({
                "asset": "USDT", "amount": f"{amount:f}", "type": kind,
                "status": "CONFIRMED", "tranId": str(tran_id), "timestamp": str(self.clock()),
            })  # fmt: skip
            return {"tranId": tran_id}

    def liquidate(self, symbol: str) -> dict[str, object]:
        """Close `symbol`'s position at the mark as the liquidation engine does: a force order
        (no userTrades row of ours), the realised loss taken from the wallet and the isolated
        margin moved onto it lost."""
        with self.lock:
            pos, price, now = self.positions[symbol], self.marks[symbol], self.clock()
            qty, side = abs(pos.amt), "BUY" if pos.amt < 0 else "SELL"
            self.wallet += self._apply_position(symbol, qty if side == "BUY" else -qty, price)
            self.isolated_extra.pop(symbol, None)
            row: dict[str, object] = {
                "orderId": next(self._ids), "symbol": symbol, "status": "FILLED",
                "clientOrderId": f"autoclose-{now}", "price": f"{price:f}", "avgPrice": f"{price:f}",
                "origQty": f"{qty:f}", "executedQty": f"{qty:f}", "cumQuote": f"{qty * price:f}",
                "timeInForce": "IOC", "type": "LIMIT", "reduceOnly": False, "closePosition": False,
                "side": side, "positionSide": "BOTH", "stopPrice": "0",
                "workingType": "CONTRACT_PRICE", "origType": "LIMIT", "time": now, "updateTime": now,
            }  # fmt: skip
            self.force_orders.append(row)
            return row

    def force_orders_of(self, p: dict[str, str]) -> list[dict[str, object]]:
        """GET /fapi/v1/forceOrders: `symbol`'s (or all) in [startTime, endTime], newest last."""
        start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(self.clock())))
        kind = p.get("autoCloseType", "LIQUIDATION")
        with self.lock:
            rows = [
                r for r in self.force_orders
                if p.get("symbol") in (None, r["symbol"]) and kind == "LIQUIDATION"
                and start <= int(str(r["time"])) <= end
            ]  # fmt: skip
        return rows[: int(p.get("limit", "50"))]

    def position_amt(self, symbol: str) -> Decimal:
        with self.lock:
            row = self.positions.get(symbol)
            return row.amt if row else ZERO

    # ----------------------------------------------------------------- orders
    def place(self, p: dict[str, str]) -> Order:
        """POST /fapi/v1/order: validate, check margin, match at once if the mark crosses."""
        with self.lock:
            spec = self._spec(p.get("symbol", ""))
            order = self._new_order(spec, p)
            self._check_filters(spec, order)
            self._check_reduce_only(order)
            self._check_margin(order)
            self.orders[order.order_id] = order
            if order.type == "MARKET" or self._crosses(order):
                self._fill(order, self.marks[order.symbol], maker=False)
            if order.time_in_force == "IOC" and order.is_open:
                order.status = "EXPIRED"
            return order

    def find(self, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        with self.lock:
            self._spec(symbol)
            matches = [
                o
                for o in self.orders.values()
                if o.symbol == symbol
                and (
                    (order_id is not None and str(o.order_id) == order_id)
                    or (order_id is None and client_id is not None and o.client_id == client_id)
                )
            ]
            if not matches:
                raise ApiError(-2013, "Order does not exist.")
            return max(matches, key=lambda o: o.order_id)  # the newest with that client id

    def cancel(self, symbol: str, order_id: str | None, client_id: str | None) -> Order:
        with self.lock:
            try:
                order = self.find(symbol, order_id, client_id)
            except ApiError:
                raise ApiError(-2011, "Unknown order sent.") from None
            if not order.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            order.status = "CANCELED"
            order.update_ms = self.clock()
            return order

    def open_orders(self, symbol: str | None) -> list[Order]:
        with self.lock:
            return [o for o in self.orders.values() if o.is_open and symbol in (None, o.symbol)]

    # ----------------------------------------------------------------- account figures
    def upnl(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.amt * (self.marks[symbol] - pos.entry) if pos and pos.amt else ZERO

    def position_im(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return abs(pos.amt) * self.marks[symbol] / self._lev(symbol) if pos else ZERO

    def order_im(self, symbol: str | None = None) -> Decimal:
        return sum(
            (self._opening_qty(o, o.remaining) * o.price / self._lev(o.symbol)
             for o in self.open_orders(symbol)),
            ZERO,
        )  # fmt: skip

    def available(self) -> Decimal:
        """availableBalance: an isolated position's P&L stays in its own margin (Binance's
        cross wallet + cross unrealised P&L - initial margins)."""
        with self.lock:
            syms = list(self.marks)
            cross = [s for s in syms if self.margin_types.get(s) != "ISOLATED"]
            upnl = sum((self.upnl(s) for s in cross), ZERO)
            used = sum((self.position_im(s) for s in syms), ZERO) + self.order_im()
            return self.wallet + upnl - used

    def set_leverage(self, symbol: str, leverage: int) -> None:
        with self.lock:
            self._spec(symbol)
            if not 1 <= leverage <= 125:
                raise ApiError(-4028, f"Leverage {leverage} is not valid")
            self.leverage[symbol] = leverage

    # ----------------------------------------------------------------- internals
    def _lev(self, symbol: str) -> int:
        return self.leverage.get(symbol, 20)

    def _spec(self, symbol: str) -> SymbolSpec:
        spec = SPECS.get(symbol)
        if spec is None:
            raise ApiError(-1121, "Invalid symbol.")
        return spec

    def _new_order(self, spec: SymbolSpec, p: dict[str, str]) -> Order:
        client_id = p.get("newClientOrderId") or f"auto{next(self._ids)}"
        if self._client_id_taken(spec.symbol, client_id):
            raise ApiError(-4116, "ClientOrderId is duplicated.")
        kind = p.get("type", "")
        if kind not in ("LIMIT", "MARKET") or p.get("side") not in ("BUY", "SELL"):
            raise ApiError(-1116, "Invalid orderType.")
        if kind == "LIMIT" and "price" not in p:
            raise ApiError(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")  # fmt: skip
        now = self.clock()
        return Order(
            order_id=next(self._ids), client_id=client_id, symbol=spec.symbol, side=p["side"],
            type=kind, qty=Decimal(p.get("quantity", "0")),
            price=Decimal(p.get("price", "0")), reduce_only=p.get("reduceOnly") == "true",
            time_in_force=p.get("timeInForce", "GTC"), time_ms=now, update_ms=now,
        )  # fmt: skip

    def _client_id_taken(self, symbol: str, client_id: str) -> bool:
        return any(
            o.client_id == client_id and (o.is_open or self.client_id_scope == "all")
            for o in self.orders.values()
            if o.symbol == symbol
        )

    def _check_filters(self, spec: SymbolSpec, order: Order) -> None:
        max_qty = spec.market_max_qty if order.type == "MARKET" else spec.max_qty
        if order.qty < spec.min_qty or order.qty > max_qty or order.qty % spec.step != 0:
            raise ApiError(-1013, "Filter failure: LOT_SIZE")
        if order.type == "LIMIT" and (
            order.price % spec.tick != 0 or not spec.min_price <= order.price <= spec.max_price
        ):
            raise ApiError(-1013, "Filter failure: PRICE_FILTER")
        price = order.price if order.type == "LIMIT" else self.marks[spec.symbol]
        if not order.reduce_only and order.qty * price < spec.min_notional:
            raise ApiError(
                -4164,
                f"Order's notional must be no smaller than {spec.min_notional} "
                "(unless you choose reduce only).",
            )

    def _check_reduce_only(self, order: Order) -> None:
        amt = self.position_amt(order.symbol)
        if order.reduce_only and (amt == 0 or (amt > 0) == (order.sign > 0)):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")

    def _opening_qty(self, order: Order, qty: Decimal) -> Decimal:
        """The part of `qty` that would add to the position (the rest reduces it)."""
        amt = self.position_amt(order.symbol)
        if amt == 0 or (amt > 0) == (order.sign > 0):
            return qty
        return max(qty - abs(amt), ZERO)

    def _check_margin(self, order: Order) -> None:
        price = order.price if order.type == "LIMIT" else self.marks[order.symbol]
        needed = self._opening_qty(order, order.qty) * price / self._lev(order.symbol)
        if needed > self.available():
            raise ApiError(-2019, "Margin is insufficient.")

    def _crosses(self, order: Order) -> bool:
        mark = self.marks[order.symbol]
        return mark <= order.price if order.side == "BUY" else mark >= order.price

    def _fill(self, order: Order, price: Decimal, maker: bool) -> None:
        qty = order.remaining
        if self.partial_fills:
            step = SPECS[order.symbol].step
            part = (qty * self.partial_fills.popleft() / step).to_integral_value(ROUND_DOWN)
            qty = max(part * step, step)
        if order.reduce_only:
            qty = min(qty, abs(self.position_amt(order.symbol)))
        if qty <= 0:
            order.status = "EXPIRED"
            return
        fee = (qty * price * (self.maker_fee if maker else self.taker_fee)).quantize(
            Decimal("0.00000001")
        )
        realized = self._apply_position(order.symbol, order.sign * qty, price)
        self.wallet += realized - fee
        now = self.clock()
        self.trades.append(Trade(next(self._ids), order.order_id, order.symbol, order.side,
                                 price, qty, fee, realized, maker, now))  # fmt: skip
        order.executed += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        order.update_ms = now

    def _apply_position(self, symbol: str, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Add a fill to the one-way position; returns the realised PnL of the reduced part."""
        pos = self.positions.setdefault(symbol, PositionRow())
        pos.update_ms = self.clock()
        if pos.amt == 0 or (pos.amt > 0) == (signed_qty > 0):
            new_amt = pos.amt + signed_qty
            pos.entry = (pos.entry * abs(pos.amt) + price * abs(signed_qty)) / abs(new_amt)
            pos.amt = new_amt
            return ZERO
        closed = min(abs(signed_qty), abs(pos.amt))
        realized = closed * (price - pos.entry) * (1 if pos.amt > 0 else -1)
        pos.amt += signed_qty
        if pos.amt == 0:
            pos.entry = ZERO
        elif (pos.amt > 0) == (signed_qty > 0):  # flipped through zero
            pos.entry = price
        return realized
