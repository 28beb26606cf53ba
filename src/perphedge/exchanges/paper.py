"""The paper exchange: a simulated perpetual account behind the ports.

It implements `Account`, `Execution`, `MarginControl` and `WalletTransfer` (see
`perphedge.ports`) so that every live command runs offline with `--paper`. State lives in one JSON file in the data directory
(PERPHEDGE_HOME/paper/<exchange>.json), replaced atomically (write, fsync, rename) under an
exclusive file lock, so separate commands see the same account and a kill never leaves half a file.

Model (one-way positions): one wallet per settle currency. USDT for USDT-margined (linear)
contracts; the coin itself for coin-margined (inverse) ones, where sizes are contracts of
`contract_size` USD and fees, PnL, funding and margin are in coin (the core's inverse formulas).
A USDT-margined position set to isolated margin (`set_margin_mode`, as a hedge run does with the
plan's mode) is margined by its own isolated wallet alone: the initial margin put aside when it
opened, plus its funding and the margin moved onto it (`move_margin` add/reduce within Binance's
limits, recorded in a history `margin_moves` reads; `perphedge.exchanges.paper_isolated`). The
rest of a wallet margins its other positions (cross within it).
* Prices come from a `MarketData` port (live or replayed marks) and time from a `Clock` port.
* Market orders fill at mark * (1 +/- slippage) as taker. A limit order that crosses the mark
  fills at once as taker at that price capped by its limit; otherwise it rests and fills at its
  limit as maker when a later mark crosses it. `partial_fill_ratio` < 1 fills only that share of
  the remainder per look (on the quantity step), to exercise partial-fill handling.
* Rejections as a venue would: quantity off the step, below the minimum notional (unless
  reduce-only), reduce-only that would grow the position, initial margin above what is available. For
  coin-margined contracts the margin may exceed equity by the taker fee plus slippage on it, so
  that a 1x short of all the coins (what the planner sizes) fits after its own trading costs; a
  venue that counts fees and open loss may refuse the last sliver of such an order.
* Fees: notional in the settle currency at the fill price * maker or taker rate (inverse:
  contracts * size / price * rate, in coin).
* Funding settles at the real settlement times (multiples of the interval from 00:00 UTC, or the
  times of a replayed funding history): cash = `perphedge.funding.funding_payment` of the position
  held at that time (positive rate: the short receives), in the settle currency (an isolated
  position's into its isolated wallet).
* Liquidation: an isolated position when its isolated wallet + unrealised PnL falls to its
  maintenance margin at the mark (it loses at most its isolated wallet); the cross positions of a wallet when its Binance margin
  ratio (maintenance margin / (wallet less isolated margins + unrealised PnL), tiered) reaches 1.
  Positions are closed at the mark and the clearance fee charged; a loss beyond the margin is
  the insurance fund's (the wallet stops at zero). A 1x coin-margined short backed by its coins is never liquidated.
A spot wallet (USDT) beside the futures wallets funds `transfer_in` and receives
`transfer_out`, each recorded in a history `transfers_in` / `transfers_out` reads (a cross
account's keeper tops up its futures wallet from it; `hedge margin transfer` moves either way).
Client order ids are unique: placing a known id returns that order and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from perphedge.errors import PermanentExchangeError
from perphedge.exchanges.paper_book import PaperBook
from perphedge.exchanges.paper_isolated import (
    MOVE_KINDS,
    move_of,
    move_record,
)
from perphedge.exchanges.paper_state import (
    fill_of,
    new_order,
    order_state,
    settle_value,
)
from perphedge.hedge.orders import notional_usd
from perphedge.instruments import Perpetual
from perphedge.margin import (
    MarginMode,
    liquidation,
    maintenance_margin,
    unrealized_pnl,
)
from perphedge.ports import (
    Balance,
    Fill,
    FundingPayment,
    Liquidation,
    MarginMove,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    PositionState,
)
from perphedge.units import CENT, round_qty_to_step, to_decimal


class PaperExchange(PaperBook):
    """Account + Execution + MarginControl over a JSON state file (see the module docstring)."""

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

    # -- MarginControl port (isolated legs; `perphedge.exchanges.paper_isolated`) ---------------

    def move_margin(self, symbol: str, kind: str, amount: Decimal) -> MarginMove:
        """Add to or take from `symbol`'s isolated wallet, within Binance's limits; refused
        (PermanentExchangeError, nothing changed) beyond them or without an isolated position."""
        if kind not in MOVE_KINDS or not amount.is_finite() or amount <= 0:
            raise PermanentExchangeError(f"paper: cannot {kind} {amount} of margin")
        with self._session([symbol]) as state:
            if symbol not in state["positions"] or not self._isolated(symbol):
                raise PermanentExchangeError(
                    f"paper: {symbol} has no isolated position to move margin on"
                )
            settle = self._settle(symbol)
            limit = self._max_addable(settle) if kind == "add" else self._max_removable(symbol)
            if amount > limit:
                raise PermanentExchangeError(
                    f"paper: {kind} {amount} {settle} of margin on {symbol} refused: at most "
                    f"{limit.quantize(CENT)} now"
                )
            signed = amount if kind == "add" else -amount
            raw = state["positions"][symbol]
            raw["isolated_wallet"] = str(self._isolated_margin(symbol) + signed)
            row = move_record(
                self._next_id("pm"), symbol, kind, amount, settle, self.clock.now_ms()
            )
            state.setdefault("margin_moves", []).append(row)
            return move_of(row)

    def margin_moves(self, symbol: str, since_ms: int) -> list[MarginMove]:
        with self._session([symbol], write=False) as state:
            rows = state.get("margin_moves", [])
            return [
                move_of(r) for r in rows if r["symbol"] == symbol and int(r["ts_ms"]) >= since_ms
            ]

    # -- WalletTransfer port (a cross account's top-up) -----------------------------------------

    def transfer_in(self, currency: str, amount: Decimal) -> MarginMove:
        """Move `amount` from the spot wallet into the futures wallet; refused (nothing
        changed) beyond what the spot wallet holds."""
        return self._transfer(currency, amount, "transfer")

    def transfer_out(self, currency: str, amount: Decimal) -> MarginMove:
        """Move `amount` from the futures wallet back to the spot wallet; refused (nothing
        changed) beyond what the futures wallet has available, nor more than its cross wallet
        (isolated margin stays on its legs)."""
        return self._transfer(currency, amount, "transfer_out")

    def _transfer(self, currency: str, amount: Decimal, kind: str) -> MarginMove:
        if not amount.is_finite() or amount <= 0:
            raise PermanentExchangeError(f"paper: cannot transfer {amount} {currency}")
        with self._session([]) as state:
            spot = state.setdefault("spot", {})
            held = Decimal(spot.get(currency, "0"))
            if kind == "transfer":
                limit, where = held, "the spot wallet holds"
            else:
                limit = max(
                    min(self._available(currency), self._cross_wallet(currency)), Decimal(0)
                )
                where = "the futures wallet has available"
            if amount > limit:
                raise PermanentExchangeError(
                    f"paper: transfer of {amount} {currency} refused: {where} "
                    f"{limit.quantize(CENT)}"
                )
            signed = amount if kind == "transfer" else -amount
            spot[currency] = str(held - signed)
            self._credit(currency, signed)
            row = move_record(self._next_id("px"), "", kind, amount, currency, self.clock.now_ms())
            state.setdefault("transfers", []).append(row)
            return move_of(row)

    def transfers_in(self, currency: str, since_ms: int) -> list[MarginMove]:
        return self._transfers(currency, since_ms, "transfer")

    def transfers_out(self, currency: str, since_ms: int) -> list[MarginMove]:
        return self._transfers(currency, since_ms, "transfer_out")

    def _transfers(self, currency: str, since_ms: int, kind: str) -> list[MarginMove]:
        with self._session([], write=False) as state:
            return [
                move_of(r)
                for r in state.get("transfers", [])
                if r["currency"] == currency and r["kind"] == kind and int(r["ts_ms"]) >= since_ms
            ]

    def spot_free(self, currency: str) -> Decimal:
        with self._session([], write=False) as state:
            return Decimal(state.get("spot", {}).get(currency, "0"))

    # -- Account port --------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        """One balance per wallet: total = wallet, used = initial margin of its positions."""
        with self._session([]) as state:
            out = []
            for currency in state["wallets"]:
                used = self._initial_margin(currency).quantize(Decimal("1e-8"))
                free = self._equity(currency) - used  # = _available
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
                self._isolated_margin(symbol)
                if mode is MarginMode.ISOLATED
                else settle_value(inst, Decimal(raw["contracts"]), self._mark(symbol)) / leverage
            ).quantize(Decimal("1e-8")),
            maintenance_margin=to_decimal(round(maintenance_margin(pos, mark, inst.tiers), 8)),
            isolated_margin=(
                (self._isolated_margin(symbol) + to_decimal(round(unrealized_pnl(pos, mark), 8)))
                if mode is MarginMode.ISOLATED
                else None
            ),
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

    def my_liquidations(self, symbol: str, since_ms: int) -> list[Liquidation]:
        """`LiquidationHistory`: the paper account's own liquidations of `symbol` (id: the
        symbol and time; the position closed is `contracts`, so the change is its negative)."""
        with self._session([symbol]) as state:
            rows = state["liquidations"]
        return [
            Liquidation(
                f"{x['symbol']}@{x['ts_ms']}",
                x["symbol"],
                int(x["ts_ms"]),
                -Decimal(x["contracts"]),
                Decimal(x["price"]),
                Decimal(x["lost"]) if "lost" in x else None,
                x.get("currency", "USDT"),
            )
            for x in rows
            if x["symbol"] == symbol and int(x["ts_ms"]) >= since_ms
        ]
