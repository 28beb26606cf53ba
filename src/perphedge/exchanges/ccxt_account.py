"""Account and Execution ports over a ccxt exchange (Binance USDⓈ-M first; venue-generic calls).

The one rule that keeps money safe here: **an order is never blindly re-sent.** When sending it
fails with an error whose outcome is unknown (timeout, dropped connection, 5xx, 429), the order
is looked up by its client order id, `LOOKUPS` times with growing waits (a venue may answer
"does not exist" for an order it is still booking). It is sent again only when every lookup
says so AND it is absent from the open orders AND no trade of the account on that symbol since
the send may be it. Otherwise, or when the lookups themselves fail past the limit, the outcome
stays unknown: `ReconcileError` (exit 5) says what is known and nothing is re-sent. A
duplicate-id rejection also resolves to the existing order. So a `place_order` call, repeated
any number of times with the same request, leaves at most one order.

Tested end to end against Binance USDⓈ-M only (tests/fakes); other ccxt venues get the unified
`clientOrderId` parameter and are untested here.

Reads (balances, positions, orders, fills, funding) retry temporary errors with bounded
exponential backoff (honouring Retry-After on 429). Venue rejections of an order (insufficient
margin, filter failures, reduce-only conflicts) come back as an OrderState with status REJECTED
and the venue's reason; authentication and other permanent errors raise PermanentExchangeError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import ccxt

from perphedge.errors import (
    CapabilityError,
    PermanentExchangeError,
    PerphedgeError,
    ReconcileError,
    TemporaryExchangeError,
)
from perphedge.exchanges import account_parse as parse
from perphedge.exchanges import errors
from perphedge.exchanges.ccxt_wallets import CcxtWallets
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
_TRADE_WINDOW_MS = 7 * 24 * 3_600_000  # Binance userTrades: at most 7 days per request
_TRADE_HISTORY_MS = 180 * 24 * 3_600_000  # ... and only the last 6 months
_DUPLICATE_ID = (
    "-4116",
    "ClientOrderId is duplicated",
    "Duplicated clOrdId",
    "OrderLinkedID is duplicate",
)
# Binance USDⓈ-M order rejections, also when ccxt maps them to a plain ExchangeError
_REJECTION_CODES = ("-2019", "-2021", "-2022", "-1013", "-1111", "-4003", "-4164", "-5021", "-5022")
_BINANCE_IDS = ("binance", "binanceusdm", "binancecoinm")
LOOKUPS = 4  # lookups by client id after an unknown outcome, before the wider search
_SEND_CLOCK_SKEW_MS = 60_000  # trades this much before the send (clocks disagree) still count
_ALREADY_SET = "No need to change margin type"


def _is_duplicate_id(error: ccxt.BaseError) -> bool:
    return isinstance(error, ccxt.DuplicateOrderId) or any(m in str(error) for m in _DUPLICATE_ID)


def _is_rejection(error: ccxt.BaseError) -> bool:
    """The venue refused this order (margin, filters, reduce-only): not an account problem."""
    if isinstance(error, ccxt.InvalidOrder | ccxt.InsufficientFunds):
        return True
    text = str(error).replace(" ", "")
    return any(f'"code":{code}' in text for code in _REJECTION_CODES)


class CcxtAccount(CcxtWallets):
    """Account + Execution for one ccxt exchange object (with `CcxtWallets`: margin moves,
    liquidation history and wallet transfers).

    `sleep` is injectable so tests run without waiting; `attempts` bounds every retry loop;
    backoff doubles from `backoff_s` up to `max_backoff_s` (at least Retry-After on a 429).
    """

    def __init__(
        self,
        exchange: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = errors.DEFAULT_ATTEMPTS,
        backoff_s: float = 0.25,
        max_backoff_s: float = errors.DEFAULT_MAX_DELAY_S,
    ) -> None:
        self._ex = exchange
        self._venue = str(getattr(exchange, "id", "exchange"))
        self._sleep = sleep
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._client_ids: dict[str, str] = {}  # exchange order id -> client order id
        # Binance's own parameter names; ccxt maps the unified `clientOrderId` elsewhere
        binance = self._venue in _BINANCE_IDS
        self._create_key = "newClientOrderId" if binance else "clientOrderId"
        self._lookup_key = "origClientOrderId" if binance else "clientOrderId"
        if self._venue == "bybit":  # Bybit finds orders by orderLinkId in its order lists
            self._lookup_key = "orderLinkId"

    # ------------------------------------------------------------------ Account
    def balances(self) -> list[Balance]:
        return parse.balances(self._read("fetch balance", self._ex.fetch_balance))

    def positions(self, symbols: Sequence[str]) -> list[PositionState]:
        wanted = list(symbols)
        raw = self._read("fetch positions", lambda: self._ex.fetch_positions(wanted or None))
        states = [parse.position_state(p) for p in raw]
        return [s for s in states if s.contracts != 0 and (not wanted or s.symbol in wanted)]

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        """Open orders of `symbol`, or of every symbol (Binance weighs that 40x: use sparingly)."""
        if symbol is None and self._venue in _BINANCE_IDS:  # ccxt refuses unless acknowledged
            self._ex.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        raw = self._read("fetch open orders", lambda: self._ex.fetch_open_orders(symbol))
        return [self._remember(o) for o in raw]

    def can_withdraw(self) -> bool | None:
        """Binance reports `enableWithdrawals` of the key; other venues: None (unknown)."""
        if self._venue not in _BINANCE_IDS:
            return None
        raw = self._read("read API key restrictions", self._ex.sapi_get_account_apirestrictions)
        return bool(raw.get("enableWithdrawals"))

    def funding_received(self, symbol: str, since_ms: int) -> list[FundingPayment]:
        rows = self._pages(
            "fetch funding history", self._ex.fetch_funding_history, symbol, since_ms
        )
        return sorted((parse.funding_payment(r) for r in rows), key=lambda p: p.ts_ms)

    # ------------------------------------------------------------------ Execution
    def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with this client id, or None when the venue says it does not know it."""
        params = {self._lookup_key: client_order_id}
        if self._venue == "bybit":
            return self._find_listed(symbol, client_order_id, params)
        try:
            raw = self._read("fetch order", lambda: self._ex.fetch_order(None, symbol, params))
        except PerphedgeError as e:
            if isinstance(e.__cause__, ccxt.OrderNotFound):
                return None
            raise
        return self._remember(raw)

    def _find_listed(
        self, symbol: str, client_order_id: str, params: dict[str, str]
    ) -> OrderState | None:
        """Look the id up in the open, then the closed orders (Bybit: ccxt's fetch_order wants
        an exchange id); None when neither list has it."""
        for action, method in (
            ("fetch open orders", self._ex.fetch_open_orders),
            ("fetch closed orders", self._ex.fetch_closed_orders),
        ):
            rows = self._read(action, partial(method, symbol, None, None, params))
            for raw in rows:
                if raw.get("clientOrderId") == client_order_id:
                    return self._remember(raw)
        return None

    def place_order(self, req: OrderRequest) -> OrderState:
        """Send `req` unless the venue already knows its client id; never sends it twice."""
        existing = self.fetch_order(req.symbol, req.client_order_id)
        if existing is not None:
            return existing
        self._read("load markets", self._ex.load_markets)
        last: ccxt.NetworkError | None = None
        for _ in range(self._attempts):
            sent_ms = int(self._ex.milliseconds())
            try:
                return self._accepted(req, self._create(req))
            except ccxt.NetworkError as unknown_outcome:
                last = unknown_outcome
                found = self._find_after_unknown(req, sent_ms, unknown_outcome)
                if found is not None:
                    return found
            except ccxt.BaseError as e:
                return self._after_refusal(req, e)
        assert last is not None
        raise TemporaryExchangeError(
            f"order {req.client_order_id} was not accepted after {self._attempts} attempts "
            f"(the venue does not know it: not in its orders, open orders or trades since the "
            f"send; safe to retry later): {errors.translate(last, self._venue, 'create order')}"
        ) from last

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Cancel if open; the final state, or None when the venue never saw the id."""
        params = {self._lookup_key: client_order_id}
        for attempt in range(self._attempts):
            try:
                return self._remember(self._ex.cancel_order(None, symbol, params))
            except ccxt.OrderNotFound:  # already done, or never placed
                return self.fetch_order(symbol, client_order_id)
            except ccxt.NetworkError as unknown_outcome:
                self._pause(attempt, unknown_outcome)
                state = self.fetch_order(symbol, client_order_id)
                if state is None or state.status.is_terminal:
                    return state
            except ccxt.BaseError as e:
                raise errors.translate(e, self._venue, "cancel order") from e
        raise TemporaryExchangeError(
            f"{self._venue}: could not cancel {client_order_id} after {self._attempts} "
            "attempts; it may still be open"
        )

    def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """Our trades from `since_ms` on (at most the venue's history, 6 months on Binance).

        Binance answers at most 7 days per request, so older starts are walked week by week.
        """
        now = int(self._ex.milliseconds())
        start = max(since_ms, now - _TRADE_HISTORY_MS)
        rows: list[Any] = []
        while True:
            end = min(start + _TRADE_WINDOW_MS - 1, now)
            rows += self._pages(
                "fetch my trades", self._ex.fetch_my_trades, symbol, start, {"until": end}
            )
            if end >= now:
                break
            start = end + 1
        fills = [parse.fill(r, self._client_id_of(symbol, r.get("order"))) for r in rows]
        unique = {f.trade_id: f for f in fills}
        return sorted(unique.values(), key=lambda f: (f.ts_ms, f.trade_id))

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self._read("set leverage", lambda: self._ex.set_leverage(leverage, symbol))

    def set_margin_mode(self, symbol: str, mode: str) -> None:
        if not self._ex.has.get("setMarginMode"):
            raise CapabilityError(
                f"{self._venue} cannot set the margin mode through its API: set {symbol} to "
                f"{mode} on the website, or plan with the mode the account uses"
            )
        try:
            self._read("set margin mode", lambda: self._ex.set_margin_mode(mode, symbol))
        except PermanentExchangeError as error:
            if _ALREADY_SET not in str(error):  # Binance -4046 "No need to change margin type."
                raise

    # ------------------------------------------------------------------ internals
    def _create(self, req: OrderRequest) -> Any:
        params: dict[str, Any] = {self._create_key: req.client_order_id}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.order_type is OrderType.LIMIT:
            params["timeInForce"] = req.time_in_force.value
        price = None if req.price is None else float(req.price)
        return self._ex.create_order(
            req.symbol, req.order_type.value, req.side.value, float(req.qty), price, params
        )

    def _accepted(self, req: OrderRequest, raw: Any) -> OrderState:
        """State of an order the venue accepted. Bybit, OKX and BingX answer a new order with
        its ids only: the rest is the request, open until read back from the venue."""
        if raw.get("side") and raw.get("amount") is not None:
            return self._remember(raw)
        acked = {
            **raw,
            "symbol": req.symbol,
            "side": req.side.value,
            "type": req.order_type.value,
            "amount": str(req.qty),
            "price": None if req.price is None else str(req.price),
            "reduceOnly": req.reduce_only,
            "clientOrderId": req.client_order_id,
            "status": "open",
        }
        return self._remember(acked)

    def _find_after_unknown(
        self, req: OrderRequest, sent_ms: int, error: ccxt.NetworkError
    ) -> OrderState | None:
        """After an unknown outcome: the order if the venue has it; None only when it is
        certainly absent (see the module docstring); ReconcileError when that cannot be told."""
        unanswered = 0
        for k in range(LOOKUPS):  # waits grow: Retry-After (or the backoff), then doubling
            self._sleep(self._delay(k, error if k == 0 else None))
            try:
                found = self.fetch_order(req.symbol, req.client_order_id)
            except TemporaryExchangeError:
                unanswered += 1
                continue
            if found is not None:
                return found
        if unanswered == LOOKUPS:
            raise self._unknown(req, "the venue did not answer any lookup")
        try:
            listed = self.open_orders(req.symbol)
            trades = self._read(
                "fetch my trades",
                partial(self._ex.fetch_my_trades, req.symbol, sent_ms - _SEND_CLOCK_SKEW_MS),
            )
        except PerphedgeError as bad:
            raise self._unknown(req, f"open orders and trades could not be read ({bad})") from bad
        for state in listed:
            if state.client_order_id == req.client_order_id:
                return state
        for trade in trades:
            if self._may_be(req, trade):
                raise self._unknown(
                    req,
                    f"trade {trade.get('id')} of order {trade.get('order')} since the send "
                    "may be it, though lookups by client id say it does not exist",
                )
        return None

    def _may_be(self, req: OrderRequest, trade: Any) -> bool:
        """A trade since the send that is ours, or whose order cannot be identified."""
        try:
            owner = self._client_id_of(req.symbol, trade.get("order"))
        except PerphedgeError:
            return True
        return owner in ("", req.client_order_id)

    def _unknown(self, req: OrderRequest, known: str) -> ReconcileError:
        return ReconcileError(
            f"order {req.client_order_id} ({req.side.value} {req.qty} {req.symbol}): outcome "
            f"unknown after {LOOKUPS} lookups with growing waits: {known}. It was not sent "
            "again; check the account on the exchange, then run perphedge hedge check"
        )

    def _after_refusal(self, req: OrderRequest, error: ccxt.BaseError) -> OrderState:
        """A definite refusal: the existing order for a duplicate id, REJECTED, or raise."""
        if _is_duplicate_id(error):
            found = self.fetch_order(req.symbol, req.client_order_id)
            if found is not None:
                return found
        translated = errors.translate(error, self._venue, "create order")
        if _is_rejection(error):
            return _rejected(req, str(translated))
        raise translated from error

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
            self._remember(self._read("fetch order", lambda: self._ex.fetch_order(key, symbol)))
        return self._client_ids.get(key, "")

    def _pages(
        self,
        action: str,
        method: Callable[..., list[Any]],
        symbol: str,
        since_ms: int,
        params: dict[str, Any] | None = None,
    ) -> list[Any]:
        """All rows from `since_ms` on, page by page, de-duplicated by id."""
        seen: dict[str, Any] = {}
        since = since_ms
        for _ in range(1000):
            page = self._read(action, partial(method, symbol, since, _PAGE, params or {}))
            fresh = [r for r in page if str(r.get("id")) not in seen]
            seen.update((str(r.get("id")), r) for r in fresh)
            if len(page) < _PAGE or not fresh:
                break
            since = max(int(r.get("timestamp") or since) for r in page)
        return list(seen.values())

    def _read(self, action: str, fn: Callable[[], T]) -> T:
        """A read (or idempotent) call: errors translated, temporary ones retried with backoff."""
        return errors.call(
            fn,
            self._venue,
            action,
            attempts=self._attempts,
            base_delay_s=self._backoff_s,
            max_delay_s=self._max_backoff_s,
            sleep=self._sleep,
        )

    def _pause(self, attempt: int, error: ccxt.BaseError) -> None:
        self._sleep(self._delay(attempt, error))

    def _delay(self, attempt: int, error: ccxt.BaseError | None) -> float:
        """Doubling backoff; after a 429, at least its Retry-After (capped)."""
        delay: float = min(self._max_backoff_s, self._backoff_s * 2.0**attempt)
        if isinstance(error, ccxt.DDoSProtection):
            headers = getattr(self._ex, "last_response_headers", None) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            if retry_after is not None and str(retry_after).isdigit():
                delay = max(delay, min(float(retry_after), self._max_backoff_s))
        return delay


def _rejected(req: OrderRequest, reason: str) -> OrderState:
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
        reason=reason,
    )
