"""The trade journal: SQLite in WAL mode under the data directory (PERPHEDGE_HOME/journal.sqlite).

Tables:
  intents  one row per `hedge open|rebalance|close` run that decided to trade
           (intent_id, kind, exchange, portfolio, created_ms, status open|done|aborted)
  orders   every order an intent will send, written BEFORE anything is sent, keyed by its
           deterministic client order id; status follows the order:
             intended -> sending -> open|partially_filled|filled|canceled|rejected|expired
             intended|sending -> not_sent   (the exchange never saw it and it will not be sent)
  fills    every execution, keyed by the venue's trade id (inserted once, never lost)
  funding  funding received (+) or paid (-) per symbol and settlement time
  events   an append-only log of what happened, for humans

Crash rule (see `perphedge.live.execute`): an order in `intended` or `sending` is looked up on
the exchange by its client id before anything is sent; it is sent only if the exchange does not
know it, with the same client id, so the venue itself refuses a duplicate.
Every write is its own transaction (synchronous=FULL), then `crashpoint.durable_write_done()`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.errors import DataError
from perphedge.ports import (
    Fill,
    FundingPayment,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
)
from perphedge.store.crashpoint import durable_write_done
from perphedge.store.paths import home_dir

JOURNAL_FILE = "journal.sqlite"
UNSENT = ("intended", "sending")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
  intent_id TEXT PRIMARY KEY, kind TEXT NOT NULL, exchange TEXT NOT NULL,
  portfolio TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  client_order_id TEXT PRIMARY KEY, intent_id TEXT NOT NULL REFERENCES intents(intent_id),
  symbol TEXT NOT NULL, child_index INTEGER NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
  order_type TEXT NOT NULL, price TEXT, reduce_only INTEGER NOT NULL, status TEXT NOT NULL,
  exchange_order_id TEXT, filled_qty TEXT NOT NULL DEFAULT '0', avg_price TEXT,
  reason TEXT NOT NULL DEFAULT '', updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
  trade_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, exchange_order_id TEXT,
  symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL, price TEXT NOT NULL,
  fee TEXT NOT NULL, fee_currency TEXT NOT NULL, ts_ms INTEGER NOT NULL, maker INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS funding (
  symbol TEXT NOT NULL, ts_ms INTEGER NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
  PRIMARY KEY (symbol, ts_ms));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, intent_id TEXT,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Intent:
    intent_id: str
    kind: str
    exchange: str
    portfolio: str
    created_ms: int
    status: str


@dataclass(frozen=True)
class JournalOrder:
    """An order as the journal knows it (status may be a journal-only state, see module doc)."""

    client_order_id: str
    intent_id: str
    symbol: str
    child_index: int
    side: OrderSide
    qty: Decimal
    order_type: OrderType
    price: Decimal | None
    reduce_only: bool
    status: str
    exchange_order_id: str | None
    filled_qty: Decimal
    avg_price: Decimal | None
    reason: str

    def request(self) -> OrderRequest:
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            order_type=self.order_type,
            client_order_id=self.client_order_id,
            price=self.price,
            reduce_only=self.reduce_only,
        )


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class Journal:
    """One SQLite connection to the journal file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as bad:
            raise DataError(f"journal {path} is unreadable: {bad}; move it aside") from bad

    @classmethod
    def in_home(cls) -> Journal:
        return cls(home_dir() / JOURNAL_FILE)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        durable_write_done()

    def _event(
        self, db: sqlite3.Connection, ts_ms: int, intent_id: str | None, kind: str, detail: object
    ) -> None:
        db.execute(
            "INSERT INTO events (ts_ms, intent_id, kind, detail) VALUES (?, ?, ?, ?)",
            (ts_ms, intent_id, kind, json.dumps(detail, sort_keys=True, default=str)),
        )

    # -- intents -------------------------------------------------------------------------------

    def begin_intent(self, intent: Intent, requests: Sequence[tuple[int, OrderRequest]]) -> None:
        """Write the intent and all its orders (child index, request) in ONE transaction."""
        with self._write() as db:
            db.execute(
                "INSERT INTO intents VALUES (?, ?, ?, ?, ?, ?)",
                (
                    intent.intent_id,
                    intent.kind,
                    intent.exchange,
                    intent.portfolio,
                    intent.created_ms,
                    intent.status,
                ),
            )
            for child_index, req in requests:
                db.execute(
                    "INSERT INTO orders (client_order_id, intent_id, symbol, child_index, side, "
                    "qty, order_type, price, reduce_only, status, updated_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'intended', ?)",
                    (
                        req.client_order_id,
                        intent.intent_id,
                        req.symbol,
                        child_index,
                        req.side.value,
                        str(req.qty),
                        req.order_type.value,
                        None if req.price is None else str(req.price),
                        int(req.reduce_only),
                        intent.created_ms,
                    ),
                )
            self._event(
                db,
                intent.created_ms,
                intent.intent_id,
                "intent",
                {"kind": intent.kind, "orders": len(requests)},
            )

    def open_intents(self, exchange: str) -> list[Intent]:
        rows = self._db.execute(
            "SELECT * FROM intents WHERE exchange = ? AND status = 'open' ORDER BY created_ms",
            (exchange,),
        ).fetchall()
        return [Intent(*row) for row in rows]

    def intents(self) -> list[Intent]:
        rows = self._db.execute("SELECT * FROM intents ORDER BY created_ms").fetchall()
        return [Intent(*row) for row in rows]

    def finish_intent(self, intent_id: str, status: str, ts_ms: int) -> None:
        with self._write() as db:
            db.execute("UPDATE intents SET status = ? WHERE intent_id = ?", (status, intent_id))
            self._event(db, ts_ms, intent_id, "finish", {"status": status})

    # -- orders --------------------------------------------------------------------------------

    def orders(self, intent_id: str | None = None) -> list[JournalOrder]:
        sql = (
            "SELECT client_order_id, intent_id, symbol, child_index, side, qty, order_type, "
            "price, reduce_only, status, exchange_order_id, filled_qty, avg_price, reason "
            "FROM orders"
        )
        args: tuple[str, ...] = ()
        if intent_id is not None:
            sql += " WHERE intent_id = ?"
            args = (intent_id,)
        rows = self._db.execute(sql + " ORDER BY intent_id, symbol, child_index", args)
        return [
            JournalOrder(
                r[0],
                r[1],
                r[2],
                r[3],
                OrderSide(r[4]),
                Decimal(r[5]),
                OrderType(r[6]),
                _dec(r[7]),
                bool(r[8]),
                r[9],
                r[10],
                Decimal(r[11]),
                _dec(r[12]),
                r[13],
            )
            for r in rows
        ]

    def mark_order(self, client_order_id: str, status: str, ts_ms: int, reason: str = "") -> None:
        """Set a journal-only status (sending, not_sent, unknown)."""
        with self._write() as db:
            db.execute(
                "UPDATE orders SET status = ?, reason = ?, updated_ms = ? WHERE client_order_id = ?",
                (status, reason, ts_ms, client_order_id),
            )
            self._event(
                db, ts_ms, None, status, {"client_order_id": client_order_id, "reason": reason}
            )

    def record_order(self, state: OrderState, ts_ms: int) -> None:
        """Store what the exchange says about an order."""
        with self._write() as db:
            db.execute(
                "UPDATE orders SET status = ?, exchange_order_id = ?, filled_qty = ?, "
                "avg_price = ?, reason = ?, updated_ms = ? WHERE client_order_id = ?",
                (
                    state.status.value,
                    state.exchange_order_id,
                    str(state.filled_qty),
                    None if state.avg_price is None else str(state.avg_price),
                    state.reason,
                    ts_ms,
                    state.client_order_id,
                ),
            )
            self._event(
                db,
                ts_ms,
                None,
                "order",
                {
                    "client_order_id": state.client_order_id,
                    "status": state.status.value,
                    "filled_qty": str(state.filled_qty),
                },
            )

    # -- fills and funding ---------------------------------------------------------------------

    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Insert fills not seen before (by trade id); returns how many were new."""
        new = 0
        with self._write() as db:
            for f in fills:
                cur = db.execute(
                    "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f.trade_id,
                        f.client_order_id,
                        f.exchange_order_id,
                        f.symbol,
                        f.side.value,
                        str(f.qty),
                        str(f.price),
                        str(f.fee),
                        f.fee_currency,
                        f.ts_ms,
                        int(f.maker),
                    ),
                )
                new += cur.rowcount
        return new

    def fills(self, symbol: str | None = None) -> list[Fill]:
        sql = (
            "SELECT * FROM fills"
            + (" WHERE symbol = ?" if symbol else "")
            + " ORDER BY ts_ms, trade_id"
        )
        rows = self._db.execute(sql, (symbol,) if symbol else ()).fetchall()
        return [
            Fill(
                r[0],
                r[1],
                r[2],
                r[3],
                OrderSide(r[4]),
                Decimal(r[5]),
                Decimal(r[6]),
                Decimal(r[7]),
                r[8],
                r[9],
                bool(r[10]),
            )
            for r in rows
        ]

    def record_funding(self, payments: Iterable[FundingPayment]) -> int:
        """Insert funding settlements not seen before; returns how many were new."""
        new = 0
        with self._write() as db:
            for p in payments:
                cur = db.execute(
                    "INSERT OR IGNORE INTO funding VALUES (?, ?, ?, ?)",
                    (p.symbol, p.ts_ms, str(p.amount), p.currency),
                )
                new += cur.rowcount
        return new

    def funding_total(self, symbol: str | None = None) -> Decimal:
        sql = "SELECT amount FROM funding" + (" WHERE symbol = ?" if symbol else "")
        rows = self._db.execute(sql, (symbol,) if symbol else ()).fetchall()
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def last_funding_ms(self, symbol: str) -> int | None:
        row = self._db.execute(
            "SELECT MAX(ts_ms) FROM funding WHERE symbol = ?", (symbol,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])
