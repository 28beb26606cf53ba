"""The closing check of every live end-to-end test: exchange state and journal agree.

Nothing doubled: no client order id exists twice on the exchange, and no trade twice in the
journal. Nothing lost: every exchange order and trade is in the journal with the same filled
size, and the journal's fills add up to the exchange's position, symbol by symbol.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from perphedge.ports import OrderSide
from perphedge.store.journal import JOURNAL_FILE, Journal
from tests.fakes.binance_state import SPECS
from tests.fakes.binance_usdm import FakeBinance

_STATUS = {
    "NEW": "open",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
}


def unified(market_id: str) -> str:
    return f"{SPECS[market_id].base}/USDT:USDT"


def assert_orders_journaled(fake: FakeBinance, home: Path) -> None:
    """Mid-run (after a crash): every order the exchange has was journaled before it was sent."""
    with Journal(home / JOURNAL_FILE) as journal:
        known = {o.client_order_id for o in journal.orders()}
    on_exchange = [o.client_id for o in fake.state.orders.values()]
    assert len(on_exchange) == len(set(on_exchange)), f"sent twice: {on_exchange}"
    assert set(on_exchange) <= known, f"sent without a journal entry: {set(on_exchange) - known}"


def assert_journal_agrees(fake: FakeBinance, home: Path, account: str | None = None) -> None:
    """`account`: compare only that account's runs and fills (a home may also hold paper ones)."""
    with Journal(home / JOURNAL_FILE) as journal:
        runs = {i.intent_id for i in journal.intents(account)}
        orders = {o.client_order_id: o for o in journal.orders() if o.intent_id in runs}
        fills = journal.fills(account=account)
    on_exchange = [o.client_id for o in fake.state.orders.values()]
    assert len(on_exchange) == len(set(on_exchange)), f"sent twice: {on_exchange}"
    for o in fake.state.orders.values():
        mine = orders.get(o.client_id)
        assert mine is not None, f"exchange order {o.client_id} missing from the journal"
        assert (mine.exchange_order_id, mine.filled_qty) == (str(o.order_id), o.executed)
        assert mine.status == _STATUS[o.status], (o.client_id, mine.status, o.status)
    for cid, mine in orders.items():
        if cid not in on_exchange:
            assert mine.filled_qty == 0 and mine.status in ("not_sent", "rejected"), mine
    trade_ids = [f.trade_id for f in fills]
    assert len(trade_ids) == len(set(trade_ids)), "a fill was journaled twice"
    assert sorted(trade_ids) == sorted(str(t.trade_id) for t in fake.state.trades)
    for market_id in SPECS:
        signed = sum(
            (f.qty if f.side is OrderSide.BUY else -f.qty)
            for f in fills
            if f.symbol == unified(market_id)
        )
        assert Decimal(signed) == fake.state.position_amt(market_id), market_id
