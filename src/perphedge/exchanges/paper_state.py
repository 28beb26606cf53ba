"""The paper account's state file: its layout and the bookkeeping that changes it.

One JSON object (see `new_state`): one wallet per settle currency ({"USDT": ...} for
USDT-margined contracts, {"BTC": ..., "ETH": ...} for coin-margined ones), marks last seen,
leverage per symbol, positions {symbol: {contracts, entry_price}} (signed contracts, average
entry), orders by client order id, fills, funding settlements and liquidations. Numbers are
decimal strings. A version-1 file (one "wallet", USDT) is read as {"USDT": wallet}.

Amounts are in the contract's settle currency: linear contracts * size * price (USDT), inverse
contracts * size / price (coin), as `perphedge.margin.notional`; realised PnL follows
`perphedge.margin.unrealized_pnl` (inverse: s * Q * (1/EP - 1/P)) in Decimal for the ledger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from perphedge.errors import DataError
from perphedge.instruments import Perpetual
from perphedge.ports import Fill, OrderRequest, OrderSide, OrderState, OrderStatus, OrderType

SETTLE = "USDT"
CENT = Decimal("1e-8")


@dataclass(frozen=True)
class PaperSettings:
    """Fill model knobs; `slippage` a fraction of the mark (0.0005 = 5 bp).

    A new account holds `initial_usdt` in its USDT wallet or, when `deposits` is given (a
    coin-margined account), exactly those (currency, amount) wallets; `spot_usdt` sits in its
    spot wallet (what a cross account's keeper transfers to the futures wallet).
    """

    slippage: float = 0.0005
    partial_fill_ratio: float = 1.0
    initial_usdt: Decimal = Decimal(20_000)
    deposits: tuple[tuple[str, Decimal], ...] | None = None
    spot_usdt: Decimal = Decimal(0)

    @property
    def wallets(self) -> dict[str, str]:
        if self.deposits is not None:
            return {currency: str(amount) for currency, amount in self.deposits}
        return {SETTLE: str(self.initial_usdt)}


def paper_path(home: Path, exchange: str) -> Path:
    return home / "paper" / f"{exchange}.json"


def new_state(settings: PaperSettings, now_ms: int) -> dict[str, Any]:
    return {
        "version": 2,
        "created_ms": now_ms,
        "funding_until_ms": now_ms,
        "wallets": settings.wallets,
        "marks": {},
        "leverage": {},
        "positions": {},
        "orders": {},
        "fills": [],
        "funding": [],
        "liquidations": [],
        "margin_moves": [],
        "spot": {SETTLE: str(settings.spot_usdt)} if settings.spot_usdt else {},
        "transfers": [],
        "seq": 0,
        "uid": secrets.token_hex(4),
        "settings": {
            "slippage": settings.slippage,
            "partial_fill_ratio": settings.partial_fill_ratio,
        },
    }


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A version-1 state (one USDT "wallet") in the current layout; a state without an account
    tag gets one (ids it issues from now on differ from other accounts' and earlier ones')."""
    if "wallet" in state:
        state["wallets"] = {SETTLE: state.pop("wallet")}
        state["version"] = 2
    state.setdefault("uid", secrets.token_hex(4))
    return state


_SHAPE: dict[str, type | tuple[type, ...]] = {
    "wallets": dict, "marks": dict, "leverage": dict, "positions": dict, "orders": dict,
    "fills": list, "funding": list, "liquidations": list, "seq": int, "uid": str,
    "settings": dict, "funding_until_ms": int,
}  # fmt: skip


def check_shape(state: object, path: Path) -> dict[str, Any]:
    """`state` if it has the layout of `new_state`, else DataError naming the file, the first
    wrong key and the fix (a hand-edited or foreign file must not become a traceback)."""
    if not isinstance(state, dict):
        problem = f"holds {type(state).__name__}, not an object"
    else:
        wrong = [k for k, kind in _SHAPE.items() if not isinstance(state.get(k), kind)]
        if not wrong:
            return state
        problem = f"key {wrong[0]!r} is missing or not {_SHAPE[wrong[0]]}"
    raise DataError(f"paper account {path} {problem}: run perphedge paper reset")


def settle_value(inst: Perpetual, contracts: Decimal, price: Decimal) -> Decimal:
    """|contracts| in the settle currency at `price`: * size * price (linear), * size / price
    (inverse), like `perphedge.margin.notional`."""
    face = abs(contracts) * Decimal(str(inst.contract_size))
    return face / price if inst.is_inverse else face * price


def new_order(req: OrderRequest, exchange_order_id: str, now_ms: int) -> dict[str, Any]:
    return {
        "cid": req.client_order_id,
        "oid": exchange_order_id,
        "symbol": req.symbol,
        "side": req.side.value,
        "type": req.order_type.value,
        "qty": str(req.qty),
        "price": None if req.price is None else str(req.price),
        "reduce_only": req.reduce_only,
        "status": OrderStatus.OPEN.value,
        "filled": "0",
        "cost": "0",
        "avg_price": None,
        "reason": "",
        "updated_ms": now_ms,
    }


def record_fill(order: dict[str, Any], qty: Decimal, price: Decimal, now_ms: int) -> None:
    """Add `qty` at `price` to the order's filled quantity, average price and status."""
    filled = Decimal(order["filled"]) + qty
    cost = Decimal(order["cost"]) + qty * price
    complete = filled == Decimal(order["qty"])
    order.update(
        filled=str(filled),
        cost=str(cost),
        avg_price=str((cost / filled).quantize(CENT)),
        updated_ms=now_ms,
        status=(OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED).value,
    )


def new_fill(
    trade_id: str,
    order: dict[str, Any],
    qty: Decimal,
    price: Decimal,
    fee: tuple[Decimal, str],
    now_ms: int,
    maker: bool,
) -> dict[str, Any]:
    """One trade; `fee` is (amount paid, currency)."""
    return {
        "trade_id": trade_id, "cid": order["cid"], "oid": order["oid"], "symbol": order["symbol"],
        "side": order["side"], "qty": str(qty), "price": str(price), "fee": str(fee[0]),
        "fee_currency": fee[1], "ts_ms": now_ms, "maker": maker,
    }  # fmt: skip


def order_state(o: dict[str, Any]) -> OrderState:
    return OrderState(
        client_order_id=o["cid"],
        exchange_order_id=o["oid"],
        symbol=o["symbol"],
        side=OrderSide(o["side"]),
        order_type=OrderType(o["type"]),
        status=OrderStatus(o["status"]),
        qty=Decimal(o["qty"]),
        filled_qty=Decimal(o["filled"]),
        price=None if o["price"] is None else Decimal(o["price"]),
        avg_price=None if o["avg_price"] is None else Decimal(o["avg_price"]),
        reduce_only=bool(o["reduce_only"]),
        updated_ms=int(o["updated_ms"]),
        reason=o["reason"],
    )


def fill_of(f: dict[str, Any]) -> Fill:
    return Fill(
        f["trade_id"], f["cid"], f["oid"], f["symbol"], OrderSide(f["side"]), Decimal(f["qty"]),
        Decimal(f["price"]), Decimal(f["fee"]), f.get("fee_currency", SETTLE), int(f["ts_ms"]),
        bool(f["maker"]),
    )  # fmt: skip


def apply_to_position(
    positions: dict[str, Any], symbol: str, signed: Decimal, price: Decimal, inst: Perpetual
) -> Decimal:
    """Add `signed` contracts at `price` to `positions[symbol]`; returns realised PnL in the
    settle currency.

    Increasing: the entry becomes the contract-weighted average price (linear) or the
    contract-weighted harmonic mean (inverse: 1/EP averages, as coin-margined venues keep it).
    Reducing: PnL on the closed part at the old entry. Flipping through zero: the new side's
    entry is `price`.
    """
    size = Decimal(str(inst.contract_size))
    pos = positions.get(symbol)
    old = Decimal(pos["contracts"]) if pos else Decimal(0)
    entry = Decimal(pos["entry_price"]) if pos else price
    new = old + signed
    realized = Decimal(0)
    if old != 0 and (old > 0) != (signed > 0):  # reducing (maybe flipping)
        closed = min(abs(signed), abs(old)) * size * (1 if old > 0 else -1)
        realized = closed * (1 / entry - 1 / price) if inst.is_inverse else closed * (price - entry)
        if abs(signed) > abs(old):
            entry = price
    elif old != 0 and inst.is_inverse:
        entry = abs(new) / (abs(old) / entry + abs(signed) / price)
    elif old != 0:
        entry = (abs(old) * entry + abs(signed) * price) / abs(new)
    if new == 0:
        positions.pop(symbol, None)
    else:
        positions[symbol] = {"contracts": str(new), "entry_price": str(entry.quantize(CENT))}
    return realized.quantize(CENT)
