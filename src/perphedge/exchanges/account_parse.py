"""The border for account and order dicts: ccxt order/trade/position/balance/funding dicts -> ports.

Exchange numbers become `Decimal(str(x))` (perphedge.units.to_decimal); missing numbers become
None (prices) or 0 (sizes). Nothing past this module sees a ccxt dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from perphedge.errors import DataError
from perphedge.ports import (
    Balance,
    Fill,
    FundingPayment,
    Liquidation,
    MarginMove,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
    PositionState,
)
from perphedge.units import to_decimal

Raw = Mapping[str, Any]

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def dec(x: object) -> Decimal | None:
    """Exact Decimal of an exchange number, None when absent."""
    if x is None or x == "":
        return None
    if not isinstance(x, int | float | str | Decimal):
        raise DataError(f"the exchange sent {x!r} where a number was expected")
    return to_decimal(x)


def dec0(x: object) -> Decimal:
    value = dec(x)
    return Decimal(0) if value is None else value


def _side(raw: Raw) -> OrderSide:
    side = str(raw.get("side") or "").lower()
    if side not in ("buy", "sell"):
        raise DataError(f"the exchange sent an order without a buy/sell side: {side!r}")
    return OrderSide(side)


def order_status(raw: Raw) -> OrderStatus:
    """ccxt status -> OrderStatus; an 'open' order with fills is PARTIALLY_FILLED."""
    status = str(raw.get("status") or "open").lower()
    if status in _STATUS:
        return _STATUS[status]
    return OrderStatus.PARTIALLY_FILLED if dec0(raw.get("filled")) > 0 else OrderStatus.OPEN


def order_state(raw: Raw) -> OrderState:
    """A ccxt order -> OrderState (sizes in contracts)."""
    kind = str(raw.get("type") or "limit").lower()
    updated = raw.get("lastUpdateTimestamp") or raw.get("timestamp") or 0
    return OrderState(
        client_order_id=str(raw.get("clientOrderId") or ""),
        exchange_order_id=None if raw.get("id") is None else str(raw["id"]),
        symbol=str(raw.get("symbol")),
        side=_side(raw),
        order_type=OrderType.MARKET if kind == "market" else OrderType.LIMIT,
        status=order_status(raw),
        qty=dec0(raw.get("amount")),
        filled_qty=dec0(raw.get("filled")),
        price=dec(raw.get("price")) or None,
        avg_price=dec(raw.get("average")) or None,
        reduce_only=bool(raw.get("reduceOnly")),
        updated_ms=int(updated),
    )


def fill(raw: Raw, client_order_id: str) -> Fill:
    """A ccxt trade of ours -> Fill; the fee is what we paid (positive) in its currency."""
    fee = raw.get("fee") or {}
    return Fill(
        trade_id=str(raw.get("id")),
        client_order_id=client_order_id,
        exchange_order_id=None if raw.get("order") is None else str(raw["order"]),
        symbol=str(raw.get("symbol")),
        side=_side(raw),
        qty=dec0(raw.get("amount")),
        price=dec0(raw.get("price")),
        fee=dec0(fee.get("cost")),
        fee_currency=str(fee.get("currency") or ""),
        ts_ms=int(raw.get("timestamp") or 0),
        maker=raw.get("takerOrMaker") == "maker",
    )


def position_state(raw: Raw) -> PositionState:
    """A ccxt position -> PositionState with signed contracts (+ long, - short)."""
    contracts = dec0(raw.get("contracts"))
    if str(raw.get("side") or "").lower() == "short":
        contracts = -contracts
    return PositionState(
        symbol=str(raw.get("symbol")),
        contracts=contracts,
        entry_price=dec(raw.get("entryPrice")) or None,
        mark_price=dec(raw.get("markPrice")) or None,
        liquidation_price=dec(raw.get("liquidationPrice")) or None,
        margin_mode=str(raw.get("marginMode") or "cross"),
        leverage=dec(raw.get("leverage")),
        unrealized_pnl=dec0(raw.get("unrealizedPnl")),
        margin=dec(raw.get("initialMargin")),
        maintenance_margin=dec(raw.get("maintenanceMargin")),
        isolated_margin=dec(raw.get("collateral")) if raw.get("marginMode") == "isolated" else None,
    )


def _wallet_balances(raw: Raw) -> dict[str, Any]:
    """Wallet balance per asset where the venue reports it apart from equity.

    ccxt's `total` for Binance USDⓈ-M is the margin balance (wallet + unrealised PnL); the
    Balance port wants the wallet alone, which Binance sends as assets[].walletBalance.
    """
    info = raw.get("info")
    assets = info.get("assets") if isinstance(info, Mapping) else None
    if not isinstance(assets, list):
        return {}
    return {
        str(a["asset"]): a["walletBalance"]
        for a in assets
        if isinstance(a, Mapping) and "asset" in a and "walletBalance" in a
    }


def balances(raw: Raw) -> list[Balance]:
    """A ccxt balance -> one Balance per currency: total = wallet balance = free + used."""
    totals: Mapping[str, Any] = raw.get("total") or {}
    free: Mapping[str, Any] = raw.get("free") or {}
    wallets = _wallet_balances(raw)
    out = []
    for currency, total in sorted(totals.items()):
        if total is None:
            continue
        wallet = dec0(wallets.get(currency, total))
        available = max(Decimal(0), min(dec0(free.get(currency)), wallet))
        out.append(Balance(currency, wallet, available, wallet - available))
    return out


def funding_payment(raw: Raw) -> FundingPayment:
    """A ccxt funding-history entry -> FundingPayment (amount > 0 received, < 0 paid)."""
    return FundingPayment(
        symbol=str(raw.get("symbol")),
        ts_ms=int(raw.get("timestamp") or 0),
        amount=dec0(raw.get("amount")),
        currency=str(raw.get("code") or ""),
        payment_id=str(raw.get("id") or ""),
    )


def margin_move(raw: Raw, symbol: str, now_ms: int) -> MarginMove:
    """A ccxt margin-modification structure (an answer to add/reduce, or a history row)."""
    amount = dec(raw.get("amount"))
    kind = raw.get("type")
    if amount is None or kind not in ("add", "reduce"):
        raise DataError(f"unreadable margin move from the exchange: {dict(raw)!r:.200}")
    ts = raw.get("timestamp")
    return MarginMove(
        str(raw.get("symbol") or symbol),
        str(kind),
        abs(amount),
        str(raw.get("code") or ""),
        int(ts) if ts is not None else now_ms,
    )


def transfer_move(
    raw: Raw, currency: str, amount: Decimal | None, now_ms: int, kind: str = "transfer"
) -> MarginMove:
    """A ccxt transfer structure (an answer to `transfer`, or a history row) as a move of
    `kind`: "transfer" into the futures wallet, "transfer_out" back to spot; an answer without
    the amount is the `amount` sent."""
    got = dec(raw.get("amount"))
    if got is None:
        got = amount
    if got is None:
        raise DataError(f"unreadable transfer from the exchange: {dict(raw)!r:.200}")
    ts = raw.get("timestamp")
    return MarginMove(
        "", kind, abs(got), str(raw.get("currency") or currency),
        int(ts) if ts is not None else now_ms,
    )  # fmt: skip


def spot_free(raw: Raw, currency: str) -> Decimal:
    """The free amount of `currency` in a ccxt balance structure (0 when absent)."""
    entry = raw.get(currency)
    free = dec(entry.get("free")) if isinstance(entry, Mapping) else None
    return free if free is not None else Decimal(0)


def liquidation(raw: Raw, symbol: str, settle: str) -> Liquidation:
    """A ccxt liquidation structure (`fetch_my_liquidations`): its id is the venue's order id
    (Binance: the force order's `orderId`), else the time; the change to the position is
    + the contracts for a short closed (a "buy"). The venue does not report the margin lost."""
    info = raw.get("info") or {}
    contracts, price, ts = dec(raw.get("contracts")), dec(raw.get("price")), raw.get("timestamp")
    if contracts is None or price is None or ts is None or raw.get("side") not in ("buy", "sell"):
        raise DataError(f"unreadable liquidation from the exchange: {dict(raw)!r:.200}")
    signed = abs(contracts) if raw.get("side") == "buy" else -abs(contracts)
    ident = str(info.get("orderId") or f"{raw.get('symbol') or symbol}@{int(ts)}")
    return Liquidation(
        ident, str(raw.get("symbol") or symbol), int(ts), signed, price, None, settle
    )
