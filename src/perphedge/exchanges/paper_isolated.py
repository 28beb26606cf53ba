"""Isolated margin of the paper account, kept as Binance USDⓈ-M keeps it.

Each isolated position holds its own wallet (`isolated_wallet` in the state file, settle
currency), which is part of the account's wallet: the cross wallet is the wallet less every
isolated wallet.

* Opening (or flipping) puts notional at the fill price / leverage into it; growing adds the
  added contracts' notional / leverage; reducing releases the same share of it (realised P&L
  and fees are booked on the wallet, the released margin goes back to the cross wallet).
* Funding of an isolated position is settled into its isolated wallet.
* Margin moves (Binance FAQ "How to Adjust Margin Balance in Isolated Margin Mode"):
    max addable   = max(0, min(cross wallet - sum of cross maintenance margins,
                               available for orders))
    max removable = max(0, min(isolated wallet - isolated MM,
                               isolated wallet + size * (mark - entry) - mark * |size| * IMR))
  so a reduce never leaves the position below its initial requirement at the mark.
* Liquidation: when isolated wallet + unrealised P&L reaches the maintenance margin at the mark
  (`perphedge.exchanges.paper`); it loses at most its isolated wallet.

Each move is recorded in the state's `margin_moves` history, which the keeper reads after an
unknown outcome (`perphedge.live.margin`), as it reads the venue's history over ccxt.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perphedge.exchanges.paper_state import CENT, settle_value
from perphedge.instruments import Perpetual
from perphedge.ports import MarginMove

MOVE_KINDS = ("add", "reduce")


def isolated_wallet_after(
    before: tuple[Decimal, Decimal], new: Decimal, price: Decimal, inst: Perpetual, leverage: int
) -> Decimal:
    """The isolated wallet of a position going from `before` (contracts, isolated wallet) to
    `new` contracts by fills at `price` (module doc); zero when it is closed."""
    old, wallet = before
    if new == 0:
        return Decimal(0)
    if old == 0 or (old > 0) != (new > 0):  # opened or flipped: the new side's margin
        return settle_value(inst, new, price) / leverage
    if abs(new) > abs(old):  # grown: the added contracts' initial margin
        return wallet + settle_value(inst, new - old, price) / leverage
    return wallet * abs(new) / abs(old)  # reduced: the same share of the margin is released


def carry_isolated_wallet(
    positions: dict[str, Any],
    symbol: str,
    before: tuple[Decimal, Decimal],
    price: Decimal,
    inst: Perpetual,
    leverage: int,
) -> None:
    """Set the isolated wallet of `symbol` after a fill at `price`; `before` is (contracts,
    isolated wallet) before the fill. A closed position has none."""
    pos = positions.get(symbol)
    if pos is not None:
        after = isolated_wallet_after(before, Decimal(pos["contracts"]), price, inst, leverage)
        pos["isolated_wallet"] = str(after.quantize(CENT))


def max_addable(cross_wallet: Decimal, cross_mm: Decimal, available: Decimal) -> Decimal:
    """Most that may move from the cross wallet into an isolated position (module doc)."""
    return max(Decimal(0), min(cross_wallet - cross_mm, available))


def max_removable(wallet: Decimal, upnl: Decimal, mm: Decimal, im_at_mark: Decimal) -> Decimal:
    """Most that may leave an isolated position's wallet (module doc); `upnl` is
    size * (mark - entry), `im_at_mark` mark * |size| / leverage."""
    return max(Decimal(0), min(wallet - mm, wallet + upnl - im_at_mark))


def move_record(
    move_id: str, symbol: str, kind: str, amount: Decimal, currency: str, ts_ms: int
) -> dict[str, Any]:
    """One row of the account's margin-move history (as the state file keeps it)."""
    return {"id": move_id, "symbol": symbol, "kind": kind, "amount": str(amount),
            "currency": currency, "ts_ms": ts_ms}  # fmt: skip


def move_of(row: dict[str, Any]) -> MarginMove:
    return MarginMove(
        row["symbol"], row["kind"], Decimal(row["amount"]), row["currency"], int(row["ts_ms"])
    )
