"""Account and Execution ports over a ccxt exchange (Binance USDⓈ-M first; venue-generic calls).

The one rule that keeps money safe here: **an order is never blindly re-sent.** When sending it
fails with an error whose outcome is unknown (timeout, dropped connection, 5xx, 429), the order
is looked up by its client order id first; it is sent again only when the venue answers that it
does not know that id. A duplicate-id rejection also resolves to the existing order. So a
`place_order` call, repeated any number of times with the same request, leaves at most one order.

Reads (balances, positions, orders, fills, funding) retry temporary errors with bounded
exponential backoff (honouring Retry-After on 429). Venue rejections of an order (insufficient
margin, filter failures, reduce-only conflicts) come back as an OrderState with status REJECTED
and the venue's reason; authentication and other permanent errors raise PermanentExchangeError.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ccxt

from perphedge.errors import ExchangeError, PermanentExchangeError, TemporaryExchangeError
from perphedge.exchanges import account_parse as parse
from perphedge.ports import (
    Balance,
    Fill,
    FundingPayment,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    PositionState,
)

T = TypeVar("T")
_PAGE = 500
_DUPLICATE_ID = ("-4116", "ClientOrderId is duplicated", "Duplicate clOrdId", "10014")
_SECRETS_IN_URL = re.compile(r"(signature|apiKey|api_key|sign)=[^&\s]+", re.IGNORECASE)
_BINANCE_IDS = ("binance", "binanceusdm", "binancecoinm")


def translate(error: ccxt.BaseError) -> ExchangeError:
    """A ccxt error as perphedge's: network trouble is temporary, the rest permanent."""
    message = _SECRETS_IN_URL.sub(r"\1=***", f"{type(error).__name__}: {error}")
    if isinstance(error, ccxt.NetworkError):
        return TemporaryExchangeError(message)
    return PermanentExchangeError(message)


def _is_duplicate_id(error: ccxt.BaseError) -> bool:
    return isinstance(error, ccxt.DuplicateOrderId) or any(m in str(error) for m in _DUPLICATE_ID)


class CcxtAccount:
    """Account + Execution for one ccxt exchange object (markets are loaded on first use).

    `sleep` is injectable so tests run without waiting; `attempts` bounds every retry loop;
    backoff doubles from `backoff_s` up to `max_backoff_s`.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 4,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
    ) -> None:
        self._ex = exchange
        self._sleep = sleep
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._client_ids: dict[str, str] = {}  # exchange order id -> client order id
        self._markets_loaded = False

    # ------------------------------------------------------------------ Account
    def balances(self) -> list[Balance]:
        return parse.balances(self._read(self._ex.fetch_balance))

    def positions(self, symbols: Sequence[str]) -> list[PositionState]:
        raw = self._read(self._ex.fetch_positions, list(symbols) or None)
        states = [parse.position_state(p) for p in raw]
        return [s for s in states if s.contracts != 0 and (not symbols or s.symbol in symbols)]

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return [self._remember(o) for o in self._read(self._ex.fetch_open_orders, symbol)]

    def can_withdraw(self) -> bool | None:
        """Binance reports `enableWithdrawals` of the key; other venues: None (unknown)."""
        if self._ex.id not in _BINANCE_IDS:
            return None
        raw = self._read(self._ex.sapi_get_account_apirestrictions)
        return bool(raw.get("enableWithdrawals"))

    def funding_received(self, symbol: str, since_ms: int) -> list[FundingPayment]:
        rows = self._pages(self._ex.fetch_funding_history, symbol, since_ms)
        return sorted((parse.funding_payment(r) for r in rows), key=lambda p: p.ts_ms)

    # ------------------------------------------------------------------ Execution
    def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with this client id, or None when the venue says it does not know it."""
        try:
            raw = self._read(
                self._ex.fetch_order, None, symbol, {"origClientOrderId": client_order_id}
            )
        except ccxt.OrderNotFound:
            return None
        return self._remember(raw)

    def place_order(self, req: OrderRequest) -> OrderState:
        """Send `req` unless the venue already knows its client id; never sends it twice."""
        existing = self.fetch_order(req.symbol, req.client_order_id)
        if existing is not None:
            return existing
        last: ccxt.BaseError | None = None
        for attempt in range(self._attempts):
            try:
                return self._remember(self._create(req))
            except ccxt.NetworkError as unknown_outcome:
                last = unknown_outcome
                self._pause(attempt, unknown_outcome)
                found = self.fetch_order(req.symbol, req.client_order_id)
                if found is not None:
                    return found
            except (ccxt.InvalidOrder, ccxt.InsufficientFunds) as rejected:
                if _is_duplicate_id(rejected):
                    found = self.fetch_order(req.symbol, req.client_order_id)
                    if found is not None:
                        return found
                return _rejected(req, translate(rejected))
            except ccxt.BaseError as e:
                raise translate(e) from e
        assert last is not None
        raise TemporaryExchangeError(
            f"order {req.client_order_id} was not accepted after {self._attempts} attempts "
            f"(the venue does not know it; safe to retry later): {translate(last)}"
        ) from last

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Cancel if open; the final state, or None when the venue never saw the id."""
        for attempt in range(self._attempts):
            try:
                raw = self._ex.cancel_order(None, symbol, {"origClientOrderId": client_order_id})
                return self._remember(raw)
            except ccxt.OrderNotFound:  # already done, or never placed
                return self.fetch_order(symbol, client_order_id)
            except ccxt.NetworkError as unknown_outcome:
                self._pause(attempt, unknown_outcome)
                state = self.fetch_order(symbol, client_order_id)
                if state is None or state.status.is_terminal:
                    return state
            except ccxt.BaseError as e:
                raise translate(e) from e
        raise TemporaryExchangeError(
            f"could not cancel {client_order_id} after {self._attempts} attempts"
        )

    def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        rows = self._pages(self._ex.fetch_my_trades, symbol, since_ms)
        fills = [parse.fill(r, self._client_id_of(symbol, r.get("order"))) for r in rows]
        return sorted(fills, key=lambda f: (f.ts_ms, f.trade_id))

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self._read(self._ex.set_leverage, leverage, symbol)

    # ------------------------------------------------------------------ internals
    def _create(self, req: OrderRequest) -> Any:
        params: dict[str, Any] = {"newClientOrderId": req.client_order_id}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.order_type is OrderType.LIMIT:
            params["timeInForce"] = req.time_in_force.value
        self._load_markets()
        price = None if req.price is None else float(req.price)
        return self._ex.create_order(
            req.symbol, req.order_type.value, req.side.value, float(req.qty), price, params
        )

    def _remember(self, raw: Any) -> OrderState:
        state = parse.order_state(raw)
        if state.exchange_order_id and state.client_order_id:
            self._client_ids[state.exchange_order_id] = state.client_order_id
        return state

    def _client_id_of(self, symbol: str, order_id: object) -> str:
        """Client id of one of our orders (trades carry only the exchange id)."""
        if order_id is None:
            return ""
        key = str(order_id)
        if key not in self._client_ids:
            self._remember(self._read(self._ex.fetch_order, key, symbol))
        return self._client_ids.get(key, "")

    def _pages(self, method: Callable[..., list[Any]], symbol: str, since_ms: int) -> list[Any]:
        """All rows from `since_ms` on, page by page, de-duplicated by id."""
        seen: dict[str, Any] = {}
        since = since_ms
        for _ in range(1000):
            page = self._read(method, symbol, since, _PAGE)
            fresh = [r for r in page if str(r.get("id")) not in seen]
            seen.update((str(r.get("id")), r) for r in fresh)
            if len(page) < _PAGE or not fresh:
                break
            since = max(int(r.get("timestamp") or since) for r in page)
        return list(seen.values())

    def _load_markets(self) -> None:
        if not self._markets_loaded:
            self._read(self._ex.load_markets)
            self._markets_loaded = True

    def _read(self, method: Callable[..., T], *args: Any) -> T:
        """Call a read (or idempotent) method, retrying temporary errors with backoff."""
        for attempt in range(self._attempts):
            try:
                return method(*args)
            except ccxt.OrderNotFound:
                raise
            except ccxt.NetworkError as e:
                if attempt == self._attempts - 1:
                    raise translate(e) from e
                self._pause(attempt, e)
            except ccxt.BaseError as e:
                raise translate(e) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, error: ccxt.BaseError) -> None:
        delay = min(self._max_backoff_s, self._backoff_s * 2**attempt)
        if isinstance(error, ccxt.DDoSProtection):
            headers = getattr(self._ex, "last_response_headers", None) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            if retry_after is not None and str(retry_after).isdigit():
                delay = max(delay, min(float(retry_after), self._max_backoff_s))
        self._sleep(delay)


def _rejected(req: OrderRequest, reason: ExchangeError) -> OrderState:
    return OrderState(
        client_order_id=req.client_order_id,
        exchange_order_id=None,
        symbol=req.symbol,
        side=req.side,
        order_type=req.order_type,
        status=OrderStatus.REJECTED,
        qty=req.qty,
        filled_qty=parse.dec0(0),
        price=req.price,
        reduce_only=req.reduce_only,
        reason=str(reason),
    )
