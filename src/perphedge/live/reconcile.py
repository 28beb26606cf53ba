"""Read the account back from the exchange and compare it with the journal.

Positions and open orders always come from the exchange (the `Account` port), never from memory
alone; the journal says what perphedge meant to do. `compare_with_journal` lists every
disagreement in plain words, so that a run after a crash starts from the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from perphedge.hedge.orders import CLIENT_ID_PREFIX
from perphedge.ports import Account, Balance, Execution, OrderState, OrderStatus
from perphedge.store.journal import UNSENT, Journal


@dataclass(frozen=True)
class LegState:
    """One perpetual as the exchange reports it: position and our working orders."""

    symbol: str
    position_contracts: Decimal
    open_orders: tuple[OrderState, ...]
    unrealized_pnl: Decimal = Decimal(0)  # in the contract's settle currency

    @property
    def pending_contracts(self) -> Decimal:
        """Signed quantity still working in OUR open orders (+ buys, - sells); orders placed by
        hand are not ours and never count (see `foreign_orders`)."""
        return sum(
            (
                o.remaining_qty * o.side.sign
                for o in self.open_orders
                if o.client_order_id.startswith(CLIENT_ID_PREFIX)
            ),
            Decimal(0),
        )

    @property
    def foreign_orders(self) -> tuple[OrderState, ...]:
        """Open orders perphedge did not place (no "ph" client id)."""
        return tuple(
            o for o in self.open_orders if not o.client_order_id.startswith(CLIENT_ID_PREFIX)
        )


STABLE = ("USDT", "USDC", "USD", "BUSD", "FDUSD")


@dataclass(frozen=True)
class ExchangeState:
    legs: dict[str, LegState]
    balances: tuple[Balance, ...]

    @property
    def equity_usd(self) -> float:
        """Stablecoin balances plus the legs' unrealised PnL (all legs stablecoin-settled)."""
        return self.equity_in_usd({}, {})

    def equity_in_usd(
        self, settle_of: Mapping[str, str], usd_per_coin: Mapping[str, float]
    ) -> float:
        """Wallet plus unrealised PnL in USD: stablecoins at 1, coins at `usd_per_coin` (coins
        without a price are not counted). `settle_of`: symbol -> settle currency (default USDT)."""
        wallet = 0.0
        for b in self.balances:
            rate = 1.0 if b.currency in STABLE else usd_per_coin.get(b.currency, 0.0)
            wallet += float(b.total) * rate
        upnl = 0.0
        for symbol, leg in self.legs.items():
            settle = settle_of.get(symbol, "USDT")
            upnl += float(leg.unrealized_pnl) * (
                1.0 if settle in STABLE else usd_per_coin.get(settle, 0.0)
            )
        return wallet + upnl

    def free_in_usd(self, usd_per_coin: Mapping[str, float]) -> float:
        """Balance available for new margin in USD: stablecoins at 1, coins at `usd_per_coin`."""
        return sum(
            float(b.free) * (1.0 if b.currency in STABLE else usd_per_coin.get(b.currency, 0.0))
            for b in self.balances
        )

    def leg(self, symbol: str) -> LegState:
        return self.legs[symbol]


def read_exchange(account: Account, symbols: Sequence[str]) -> ExchangeState:
    """Positions, open orders and balances of `symbols`, fetched now."""
    reported = {p.symbol: p for p in account.positions(symbols)}
    legs = {}
    for s in symbols:
        pos = reported.get(s)
        held = pos.contracts if pos else Decimal(0)
        upnl = pos.unrealized_pnl if pos else Decimal(0)
        legs[s] = LegState(s, held, tuple(account.open_orders(s)), upnl)
    return ExchangeState(legs, tuple(account.balances()))


def compare_with_journal(
    journal: Journal,
    execution: Execution,
    intent_id: str | None = None,
    account: str | None = None,
) -> list[str]:
    """Every journal order (of `intent_id`, else all) whose state differs from the exchange's,
    in words (empty: agree). Also checks that the fills journaled (for `account`, else all) add
    up to each order's filled quantity.
    """
    problems: list[str] = []
    fills_by_id: dict[str, Decimal] = {}
    for fill in journal.fills(account=account):
        fills_by_id[fill.client_order_id] = (
            fills_by_id.get(fill.client_order_id, Decimal(0)) + fill.qty
        )
    for order in journal.orders(intent_id):
        remote = execution.fetch_order(order.symbol, order.client_order_id)
        if remote is None:
            if order.status not in (*UNSENT, "not_sent", OrderStatus.REJECTED.value):
                problems.append(
                    f"{order.client_order_id}: journal {order.status}, exchange unknown"
                )
            continue
        if order.status in UNSENT or order.status == "not_sent":
            problems.append(f"{order.client_order_id}: exchange has it, journal {order.status}")
            continue
        if remote.status.value != order.status or remote.filled_qty != order.filled_qty:
            problems.append(
                f"{order.client_order_id}: journal {order.status} {order.filled_qty}, "
                f"exchange {remote.status.value} {remote.filled_qty}"
            )
        if fills_by_id.get(order.client_order_id, Decimal(0)) != remote.filled_qty:
            problems.append(
                f"{order.client_order_id}: journal fills "
                f"{fills_by_id.get(order.client_order_id, Decimal(0))}, exchange filled "
                f"{remote.filled_qty}"
            )
    return problems
