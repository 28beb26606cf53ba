"""Margin moves, liquidation history and wallet transfers over a ccxt exchange: the
`MarginControl`, `LiquidationHistory` and `WalletTransfer` ports of `CcxtAccount`.

A margin move or a transfer is one request, never retried here: it carries no id to look up,
so a temporary error means its outcome is unknown and the caller (`perphedge.live.margin`)
looks it up in the history (`margin_moves`, `transfers_in`, `transfers_out`) before any
re-send. Reads retry temporary errors (`CcxtAccount._read`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from perphedge.errors import CapabilityError
from perphedge.exchanges import account_parse as parse
from perphedge.exchanges import errors
from perphedge.ports import Liquidation, MarginMove

T = TypeVar("T")
# the spot wallet also from a client whose default is the swap one (binanceusdm)
SPOT_BALANCE = {"type": "spot", "subType": "spot"}
# ccxt's (from, to) wallets of a transfer kind: into the futures (swap) wallet, or back to spot
WALLETS = {"transfer": ("spot", "swap"), "transfer_out": ("swap", "spot")}


class CcxtWallets:
    """Mixed into `CcxtAccount`: needs its ccxt exchange `_ex`, `_venue` and `_read`."""

    _ex: Any
    _venue: str

    def _read(self, action: str, fn: Callable[[], T]) -> T:
        raise NotImplementedError

    # ------------------------------------------------------------------ MarginControl
    def move_margin(self, symbol: str, kind: str, amount: Decimal) -> MarginMove:
        """One request, never retried (a margin move has no id to look up): a temporary error
        means the outcome is unknown; the caller looks at `margin_moves` before re-sending."""
        capability = "addMargin" if kind == "add" else "reduceMargin"
        if not self._ex.has.get(capability):
            raise CapabilityError(f"{self._venue} cannot move isolated margin through ccxt")
        method = self._ex.add_margin if kind == "add" else self._ex.reduce_margin
        with errors.translated(self._venue, f"{kind} margin"):
            raw = method(symbol, float(amount))
        return parse.margin_move(raw, symbol, int(self._ex.milliseconds()))

    def margin_moves(self, symbol: str, since_ms: int) -> list[MarginMove]:
        if not self._ex.has.get("fetchMarginAdjustmentHistory"):
            raise CapabilityError(
                f"{self._venue} has no margin-move history through ccxt: a margin move whose "
                "outcome is unknown cannot be settled there"
            )
        rows = self._read(
            "fetch margin history",
            lambda: self._ex.fetch_margin_adjustment_history(symbol, None, since_ms),
        )
        now = int(self._ex.milliseconds())
        return sorted((parse.margin_move(r, symbol, now) for r in rows), key=lambda m: m.ts_ms)

    # ------------------------------------------------------------------ LiquidationHistory
    def my_liquidations(self, symbol: str, since_ms: int) -> list[Liquidation]:
        """The account's liquidations of `symbol` (Binance: GET /fapi/v1/forceOrders)."""
        if not self._ex.has.get("fetchMyLiquidations"):
            raise CapabilityError(f"{self._venue} has no liquidation history through ccxt")
        rows = self._read(
            "fetch liquidations", lambda: self._ex.fetch_my_liquidations(symbol, since_ms)
        )
        settle = str(self._ex.market(symbol).get("settle") or "USDT")
        found = (parse.liquidation(r, symbol, settle) for r in rows)
        return sorted(found, key=lambda x: (x.ts_ms, x.liquidation_id))

    # ------------------------------------------------------------------ WalletTransfer
    def transfer_in(self, currency: str, amount: Decimal) -> MarginMove:
        """Spot wallet -> futures (swap) wallet, one request, never retried (no id to look up:
        the caller looks at `transfers_in` before re-sending). Binance: POST
        /sapi/v1/asset/transfer, type MAIN_UMFUTURE."""
        return self._transfer(currency, amount, "transfer")

    def transfer_out(self, currency: str, amount: Decimal) -> MarginMove:
        """Futures (swap) wallet -> spot wallet, as `transfer_in` the other way (Binance: type
        UMFUTURE_MAIN)."""
        return self._transfer(currency, amount, "transfer_out")

    def transfers_in(self, currency: str, since_ms: int) -> list[MarginMove]:
        return self._transfers(currency, since_ms, "transfer")

    def transfers_out(self, currency: str, since_ms: int) -> list[MarginMove]:
        return self._transfers(currency, since_ms, "transfer_out")

    def _transfer(self, currency: str, amount: Decimal, kind: str) -> MarginMove:
        if not self._ex.has.get("transfer"):
            raise CapabilityError(f"{self._venue} cannot transfer between wallets through ccxt")
        source, target = WALLETS[kind]
        with errors.translated(self._venue, "transfer"):
            raw = self._ex.transfer(currency, float(amount), source, target)
        return parse.transfer_move(raw, currency, amount, int(self._ex.milliseconds()), kind)

    def _transfers(self, currency: str, since_ms: int, kind: str) -> list[MarginMove]:
        if not self._ex.has.get("fetchTransfers"):
            raise CapabilityError(
                f"{self._venue} has no transfer history through ccxt: a transfer whose outcome "
                "is unknown cannot be settled there"
            )
        source, target = WALLETS[kind]
        rows = self._read(
            "fetch transfers",
            lambda: self._ex.fetch_transfers(
                currency, since_ms, None, {"fromAccount": source, "toAccount": target}
            ),
        )
        now = int(self._ex.milliseconds())
        moves = (parse.transfer_move(r, currency, None, now, kind) for r in rows)
        return sorted(moves, key=lambda m: m.ts_ms)

    def spot_free(self, currency: str) -> Decimal:
        raw = self._read("fetch spot balance", lambda: self._ex.fetch_balance(SPOT_BALANCE))
        return parse.spot_free(raw, currency)
