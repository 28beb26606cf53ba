"""The SQLite journal: WAL mode, one transaction per intent, fills and funding inserted once."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from perphedge.ports import (
    Fill,
    FundingPayment,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    OrderType,
)
from perphedge.store.journal import Intent, Journal

BTC = "BTC/USDT:USDT"
D = Decimal


def req(cid: str, qty: str = "0.1") -> OrderRequest:
    return OrderRequest(BTC, OrderSide.SELL, D(qty), OrderType.LIMIT, cid, D("59880.0"))


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as j:
        yield j


def test_wal_mode_and_full_sync(journal):
    mode = journal._db.execute("PRAGMA journal_mode").fetchone()[0]
    sync = journal._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL


def test_intent_and_orders_round_trip(journal):
    journal.begin_intent(
        Intent("i1", "open", "paper:binance", "p.toml", 5, "open"),
        [(0, req("ph1")), (1, req("ph2", "0.2"))],
    )
    assert [i.intent_id for i in journal.open_intents("paper:binance")] == ["i1"]
    assert journal.open_intents("binance") == []
    orders = journal.orders("i1")
    assert [(o.client_order_id, o.child_index, o.qty, o.status) for o in orders] == [
        ("ph1", 0, D("0.1"), "intended"),
        ("ph2", 1, D("0.2"), "intended"),
    ]
    assert orders[0].request() == req("ph1")
    journal.mark_order("ph1", "sending", 6)
    state = OrderState(
        "ph1",
        "42",
        BTC,
        OrderSide.SELL,
        OrderType.LIMIT,
        OrderStatus.FILLED,
        D("0.1"),
        D("0.1"),
        D("59880.0"),
        D("59970"),
    )
    journal.record_order(state, 7)
    first = journal.orders("i1")[0]
    assert (first.status, first.exchange_order_id, first.filled_qty, first.avg_price) == (
        "filled",
        "42",
        D("0.1"),
        D("59970"),
    )
    journal.finish_intent("i1", "done", 8)
    assert journal.open_intents("paper:binance") == []


def test_an_intent_is_written_whole_or_not_at_all(journal):
    journal.begin_intent(Intent("i1", "open", "x", "p", 1, "open"), [(0, req("ph1"))])
    with pytest.raises(sqlite3.IntegrityError):  # ph1 already exists: the whole intent is refused
        journal.begin_intent(
            Intent("i2", "open", "x", "p", 2, "open"), [(0, req("ph9")), (1, req("ph1"))]
        )
    assert [i.intent_id for i in journal.intents()] == ["i1"]
    assert [o.client_order_id for o in journal.orders()] == ["ph1"]


def test_fills_and_funding_are_inserted_once(journal):
    fill = Fill(
        "t1", "ph1", "42", BTC, OrderSide.SELL, D("0.1"), D("59970"), D("2.9985"), "USDT", 10
    )
    assert journal.record_fills([fill]) == 1
    assert journal.record_fills([fill, fill]) == 0
    assert journal.fills(BTC) == [fill]
    pays = [FundingPayment(BTC, 100, D("3.0"), "USDT"), FundingPayment(BTC, 200, D("-1.5"), "USDT")]
    assert journal.record_funding(pays) == 2
    assert journal.record_funding(pays) == 0
    assert journal.funding_total(BTC) == D("1.5")  # 3.0 - 1.5
    assert journal.last_funding_ms(BTC) == 200


def test_reopening_keeps_everything(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.begin_intent(Intent("i1", "close", "x", "p", 1, "open"), [(0, req("ph1"))])
    with Journal(tmp_path / "j.sqlite") as j:
        assert [o.client_order_id for o in j.orders()] == ["ph1"]
