"""Ports: the small interfaces the live shell talks to, and the domain values they exchange.

    Clock        now_ms()
    MarketData   mark_price(symbol), instrument(symbol), funding_rate(symbol)
    History      latest_price(exchange, symbol, kind), prices(...), funding(...)   (stored data)
    MarketHistory  History and available() (what is stored)
    Account      balances(), positions(symbols), open_orders(symbol), can_withdraw(),
                 funding_received(symbol, since_ms)                       (read only)
    Execution    place_order(req), cancel_order(symbol, id), fetch_order(symbol, id),
                 fills(symbol, since_ms), set_leverage(symbol, leverage),
                 set_margin_mode(symbol, mode)
    MarginControl  move_margin(symbol, kind, amount), margin_moves(symbol, since_ms)
    WalletTransfer transfer_in(currency, amount), transfers_in(currency, since_ms),
                   transfer_out(currency, amount), transfers_out(currency, since_ms),
                   spot_free(currency)

Adapters implement them: `perphedge.exchanges.paper` (simulated, offline) and
`perphedge.exchanges.ccxt_account` (real venues). Nothing past an adapter sees a ccxt dict.

Units: symbols are ccxt unified symbols ("BTC/USDT:USDT"); order sizes are in **contracts**
(Binance USDⓈ-M: 1 contract = 1 coin) as `Decimal`; prices are `Decimal` in the quote currency;
times are int64 epoch milliseconds (UTC). Signed position sizes: + long, - short.

Idempotency contract of `Execution.place_order`: placing a `client_order_id` the venue already
knows returns the existing order unchanged and sends nothing new. Callers look an order up with
`fetch_order` before re-sending after any error whose outcome is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from perphedge.errors import InputError
from perphedge.instruments import Perpetual

if TYPE_CHECKING:  # arrays in annotations only: commands start without numpy
    import numpy as np
    import numpy.typing as npt

# Binance allows ^[.A-Z:/a-z0-9_-]{1,36}$; Bybit 36, OKX 32 alphanumerics. "ph" + 24 hex fits all.
CLIENT_ORDER_ID_MAX_LEN = 32
_CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy (adds to a long / reduces a short), -1 for sell."""
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # immediate or cancel
    GTX = "GTX"  # post only (Binance name)


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True when the order can no longer fill."""
        return self in (
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        )


def check_client_order_id(client_order_id: str) -> str:
    """Return the id if every venue accepts it (1-32 of [A-Za-z0-9_-]), else InputError."""
    if not _CLIENT_ORDER_ID.match(client_order_id):
        raise InputError(
            "client_order_id", client_order_id, "use 1-32 characters of A-Z a-z 0-9 _ -"
        )
    return client_order_id


@dataclass(frozen=True)
class OrderRequest:
    """One order to send. `qty` in contracts (> 0); `price` required for limit orders."""

    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType
    client_order_id: str
    price: Decimal | None = None
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC

    def __post_init__(self) -> None:
        if not self.qty.is_finite() or self.qty <= 0:
            raise InputError("qty", self.qty, "an order quantity is a number of contracts > 0")
        if self.order_type is OrderType.LIMIT and (
            self.price is None or not self.price.is_finite() or self.price <= 0
        ):
            raise InputError("price", self.price, "a limit order needs a price > 0")
        check_client_order_id(self.client_order_id)

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is OrderSide.BUY else -self.qty


@dataclass(frozen=True)
class OrderState:
    """What the venue says about one order. `filled_qty` in contracts; `avg_price` of the fills."""

    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    qty: Decimal
    filled_qty: Decimal
    price: Decimal | None = None
    avg_price: Decimal | None = None
    reduce_only: bool = False
    updated_ms: int = 0
    reason: str = ""  # why it was rejected or cancelled, when the venue says

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def signed_filled_qty(self) -> Decimal:
        return self.filled_qty if self.side is OrderSide.BUY else -self.filled_qty


@dataclass(frozen=True)
class Fill:
    """One execution (trade) of an order. `fee` is paid (positive) in `fee_currency`."""

    trade_id: str
    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts_ms: int
    maker: bool = False


@dataclass(frozen=True)
class PositionState:
    """A one-way perpetual position as the venue reports it. `contracts`: + long, - short."""

    symbol: str
    contracts: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    margin_mode: str = "cross"
    leverage: Decimal | None = None
    unrealized_pnl: Decimal = Decimal(0)
    margin: Decimal | None = None  # isolated margin / initial margin the venue reports
    maintenance_margin: Decimal | None = None
    # an isolated position's margin balance (its wallet + unrealised PnL); None for cross
    isolated_margin: Decimal | None = None


@dataclass(frozen=True)
class Balance:
    """One currency of the account: total = free + used (wallet balance, not equity)."""

    currency: str
    total: Decimal
    free: Decimal
    used: Decimal


@dataclass(frozen=True)
class FundingPayment:
    """One funding settlement: `amount` > 0 received, < 0 paid, in `currency`."""

    symbol: str
    ts_ms: int
    amount: Decimal
    currency: str
    payment_id: str = ""


@dataclass(frozen=True)
class PriceQuote:
    """A mark (or last) price and when it was observed."""

    symbol: str
    price: Decimal
    ts_ms: int


@dataclass(frozen=True)
class FundingRateQuote:
    """The current/next funding rate of a perpetual (positive: longs pay shorts)."""

    symbol: str
    rate_per_interval: float
    interval_hours: float
    next_funding_ms: int | None
    ts_ms: int


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:
        """Current time, epoch milliseconds UTC."""
        ...


@runtime_checkable
class MarketData(Protocol):
    def mark_price(self, symbol: str) -> PriceQuote:
        """Latest mark price with its timestamp (DataError when there is none)."""
        ...

    def instrument(self, symbol: str) -> Perpetual:
        """The contract spec (steps, min notional, tiers, fees)."""
        ...

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        """Current funding rate and next settlement time."""
        ...


@runtime_checkable
class Account(Protocol):
    """Read-only view of an account; a read-only API key suffices."""

    def balances(self) -> Sequence[Balance]: ...

    def positions(self, symbols: Sequence[str]) -> Sequence[PositionState]:
        """Non-zero positions among `symbols`; every non-zero position when `symbols` is empty."""
        ...

    def open_orders(self, symbol: str | None = None) -> Sequence[OrderState]: ...

    def can_withdraw(self) -> bool | None:
        """Whether the key may withdraw funds; None when the venue does not say."""
        ...

    def funding_received(self, symbol: str, since_ms: int) -> Sequence[FundingPayment]: ...


@runtime_checkable
class Execution(Protocol):
    """Order entry. Every method that changes state is idempotent on the client order id."""

    def place_order(self, req: OrderRequest) -> OrderState:
        """Send `req`; if its client id already exists, return that order and send nothing."""
        ...

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Cancel if open; returns the final state, or None when the venue does not know it."""
        ...

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with this client id, or None when the venue has never seen it."""
        ...

    def fills(self, symbol: str, since_ms: int) -> Sequence[Fill]: ...

    def set_leverage(self, symbol: str, leverage: int) -> None: ...

    def set_margin_mode(self, symbol: str, mode: str) -> None:
        """Put `symbol` in "isolated" or "cross" margin; a no-op when it already is.

        Venues refuse a change while a position or order is open: that raises ExchangeError
        before anything is sent."""
        ...


class FundingRows(Protocol):
    """Funding settlements, oldest first: epoch ms, rate per interval, interval hours, and the
    mark at each (NaN where the venue gives none)."""

    @property
    def ts_ms(self) -> npt.NDArray[np.int64]: ...
    @property
    def rate(self) -> npt.NDArray[np.float64]: ...
    @property
    def interval_hours(self) -> npt.NDArray[np.float64]: ...
    @property
    def mark(self) -> npt.NDArray[np.float64]: ...


class PriceRows(Protocol):
    """Candles, oldest first: open time in epoch ms, open, high, low and close."""

    @property
    def ts_ms(self) -> npt.NDArray[np.int64]: ...
    @property
    def open(self) -> npt.NDArray[np.float64]: ...
    @property
    def high(self) -> npt.NDArray[np.float64]: ...
    @property
    def low(self) -> npt.NDArray[np.float64]: ...
    @property
    def close(self) -> npt.NDArray[np.float64]: ...


@runtime_checkable
class History(Protocol):
    """Stored market data (the local store: perphedge.store.market.MarketStore).

    Every read raises DataError when the store holds nothing for the request."""

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]:
        """(epoch ms the price applies at, close) of the latest stored candle of `kind`."""
        ...

    def prices(
        self,
        exchange: str,
        symbol: str,
        kind: str = "spot",
        interval: str = "1d",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> PriceRows: ...

    def funding(
        self,
        exchange: str,
        symbol: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> FundingRows: ...


@dataclass(frozen=True)
class Coverage:
    """What the store holds for one series."""

    exchange: str
    symbol: str
    dataset: str  # "funding" or "<kind>:<interval>"
    first_ts_ms: int
    last_ts_ms: int
    rows: int


class MarketHistory(History, Protocol):
    """Stored market data and what is stored (the local store: MarketStore), for backtests and
    funding reports."""

    def available(self) -> list[Coverage]:
        """Every stored series with its first and last time and row count."""
        ...


@dataclass(frozen=True)
class FundingPoints:
    """Funding settlements, oldest first: rate per interval (positive: longs pay shorts)."""

    symbol: str
    ts_ms: npt.NDArray[np.int64]
    rate: npt.NDArray[np.float64]
    mark: npt.NDArray[np.float64]  # NaN where the venue gives none

    def __len__(self) -> int:
        return int(self.ts_ms.size)


@dataclass(frozen=True)
class Candles:
    """OHLC candles, oldest first; `ts_ms` is each candle's open time."""

    ts_ms: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ts_ms.size)


@dataclass(frozen=True)
class MarginMove:
    """Margin added to ("add") or taken from ("reduce") an isolated position, or moved from
    the spot wallet into the futures wallet ("transfer", `symbol` "") or back
    ("transfer_out"), as the venue reports it: `amount` > 0 in `currency`, at `ts_ms`."""

    symbol: str
    kind: str
    amount: Decimal
    currency: str
    ts_ms: int


@runtime_checkable
class MarginControl(Protocol):
    """Margin moves of isolated legs. They carry no client id: callers journal each one before
    sending and, when the outcome is unknown, look it up in `margin_moves` before any re-send."""

    def move_margin(self, symbol: str, kind: str, amount: Decimal) -> MarginMove:
        """Add ("add") or take ("reduce") `amount` of the settle currency; sent once, never
        retried here (TemporaryExchangeError: the outcome is unknown)."""
        ...

    def margin_moves(self, symbol: str, since_ms: int) -> Sequence[MarginMove]:
        """The venue's history of margin moves of `symbol` from `since_ms` on, oldest first."""
        ...


@runtime_checkable
class WalletTransfer(Protocol):
    """Transfers between the spot wallet and the futures wallet (a cross account's top-up, or
    `hedge margin transfer`). Like margin moves they carry no client id: journaled before
    sending, looked up in `transfers_in` / `transfers_out` before any re-send."""

    def transfer_in(self, currency: str, amount: Decimal) -> MarginMove:
        """Move `amount` of `currency` from spot to futures; sent once, never retried here."""
        ...

    def transfers_in(self, currency: str, since_ms: int) -> Sequence[MarginMove]:
        """The venue's history of such transfers from `since_ms` on, oldest first."""
        ...

    def transfer_out(self, currency: str, amount: Decimal) -> MarginMove:
        """Move `amount` of `currency` from futures back to spot ("transfer_out"); sent once."""
        ...

    def transfers_out(self, currency: str, since_ms: int) -> Sequence[MarginMove]:
        """The venue's history of transfers from futures to spot from `since_ms` on."""
        ...

    def spot_free(self, currency: str) -> Decimal:
        """What the spot wallet holds free of `currency` (what a transfer can move)."""
        ...


@dataclass(frozen=True)
class Liquidation:
    """A position the venue closed by liquidation, as the venue reports it: `contracts` is the
    signed change to the position (+ for a short closed), `margin_lost` (settle currency) is
    the margin the leg lost, None when the venue does not say."""

    liquidation_id: str
    symbol: str
    ts_ms: int
    contracts: Decimal
    price: Decimal
    margin_lost: Decimal | None
    currency: str


@runtime_checkable
class LiquidationHistory(Protocol):
    """The venue's record of this account's liquidations."""

    def my_liquidations(self, symbol: str, since_ms: int) -> Sequence[Liquidation]:
        """Liquidations of `symbol` from `since_ms` on, oldest first."""
        ...
