"""The SQLite journal: WAL mode, one transaction per intent, fills and funding inserted once."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from perphedge.errors import InputError
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
ETH = "ETH/USDT:USDT"
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
    assert journal.record_fills([fill], "binance") == 1
    assert journal.record_fills([fill, fill], "binance") == 0
    assert journal.fills(BTC) == [fill]
    pays = [FundingPayment(BTC, 100, D("3.0"), "USDT"), FundingPayment(BTC, 200, D("-1.5"), "USDT")]
    assert journal.record_funding(pays, "binance") == 2
    assert journal.record_funding(pays, "binance") == 0
    assert journal.funding_total(BTC) == D("1.5")  # 3.0 - 1.5
    assert journal.last_funding_ms(BTC, "binance") == 200


def test_two_symbols_may_number_a_trade_alike(journal):
    """Binance numbers trades per symbol: trade 7 of BTC and trade 7 of ETH are two fills."""
    btc = Fill("7", "ph1", "1", BTC, OrderSide.SELL, D("0.1"), D("60000"), D("1"), "USDT", 10)
    eth = Fill("7", "ph2", "2", ETH, OrderSide.SELL, D("2"), D("3000"), D("1"), "USDT", 11)
    assert journal.record_fills([btc, eth], "binance") == 2
    assert journal.fills() == [btc, eth]


def test_funding_of_two_accounts_never_mixes(journal):
    """The same settlement on a paper account and a real one (or after a paper reset) is two rows."""
    pay = FundingPayment(BTC, 100, D("3.0"), "USDT")
    assert journal.record_funding([pay], "paper:binance:aaaa") == 1
    assert journal.record_funding([pay], "binance") == 1
    assert journal.record_funding([pay], "paper:binance:bbbb") == 1
    assert journal.funding_total(BTC, "paper:binance:bbbb") == D("3.0")
    assert journal.last_funding_ms(BTC, "paper:binance:cccc") is None
    assert journal.funding_total() == D("9.0")


V1_SCHEMA = """
CREATE TABLE intents (intent_id TEXT PRIMARY KEY, kind TEXT NOT NULL, exchange TEXT NOT NULL,
  portfolio TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, intent_id TEXT NOT NULL,
  symbol TEXT NOT NULL, child_index INTEGER NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
  order_type TEXT NOT NULL, price TEXT, reduce_only INTEGER NOT NULL, status TEXT NOT NULL,
  exchange_order_id TEXT, filled_qty TEXT NOT NULL DEFAULT '0', avg_price TEXT,
  reason TEXT NOT NULL DEFAULT '', updated_ms INTEGER NOT NULL);
CREATE TABLE fills (trade_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL,
  exchange_order_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
  price TEXT NOT NULL, fee TEXT NOT NULL, fee_currency TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  maker INTEGER NOT NULL);
CREATE TABLE funding (symbol TEXT NOT NULL, ts_ms INTEGER NOT NULL, amount TEXT NOT NULL,
  currency TEXT NOT NULL, PRIMARY KEY (symbol, ts_ms));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
  intent_id TEXT, kind TEXT NOT NULL, detail TEXT NOT NULL);
INSERT INTO intents VALUES ('i1', 'open', 'paper:binance', 'p.toml', 1, 'done');
INSERT INTO orders (client_order_id, intent_id, symbol, child_index, side, qty, order_type,
  status, reduce_only, updated_ms) VALUES ('ph1', 'i1', 'BTC/USDT:USDT', 0, 'sell', '0.1',
  'market', 'filled', 0, 1);
INSERT INTO fills VALUES ('t1', 'ph1', '42', 'BTC/USDT:USDT', 'sell', '0.1', '60000', '3',
  'USDT', 10, 0);
INSERT INTO fills VALUES ('t2', 'manual', '43', 'BTC/USDT:USDT', 'buy', '0.1', '60000', '3',
  'USDT', 11, 0);
INSERT INTO funding VALUES ('BTC/USDT:USDT', 100, '2.5', 'USDT');
"""


def test_a_version_1_journal_is_migrated_keeping_every_row(tmp_path):
    path = tmp_path / "journal.sqlite"
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.close()
    with Journal(path) as j:
        assert [f.trade_id for f in j.fills()] == ["t1", "t2"]
        assert [f.trade_id for f in j.fills(account="paper:binance")] == ["t1"]  # via its intent
        assert [f.trade_id for f in j.fills(account="unknown")] == ["t2"]  # no intent: unknown
        assert j.funding_total(BTC, "unknown") == D("2.5")
        assert j._db.execute("PRAGMA user_version").fetchone()[0] == 4
        assert [o.client_order_id for o in j.orders()] == ["ph1"]
        same = Fill("t1", "ph1", "42", ETH, OrderSide.SELL, D("1"), D("3000"), D("1"), "USDT", 12)
        assert j.record_fills([same], "paper:binance") == 1  # the new key: (account, symbol, id)
    with Journal(path) as again:  # opening a migrated journal changes nothing
        assert len(again.fills()) == 3


def test_the_journal_is_private(tmp_path):
    home = tmp_path / "home"
    with Journal(home / "journal.sqlite") as j:
        j.record_funding([FundingPayment(BTC, 1, D("1"), "USDT")], "binance")
    assert (home / "journal.sqlite").stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o777 == 0o700
    for extra in home.glob("journal.sqlite-*"):
        assert extra.stat().st_mode & 0o077 == 0, extra


def test_a_journal_path_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "journal.sqlite").mkdir()
    with pytest.raises(InputError, match=r"journal=.*folder"):
        Journal(tmp_path / "journal.sqlite")


def test_reopening_keeps_everything(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.begin_intent(Intent("i1", "close", "x", "p", 1, "open"), [(0, req("ph1"))])
    with Journal(tmp_path / "j.sqlite") as j:
        assert [o.client_order_id for o in j.orders()] == ["ph1"]
