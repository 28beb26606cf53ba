"""The trade journal: SQLite in WAL mode under the data directory (PERPHEDGE_HOME/journal.sqlite).

Tables:
  intents  one row per `hedge open|rebalance|close` run that decided to trade
           (intent_id, kind, exchange, portfolio, created_ms, status open|done|aborted)
  orders   every order an intent will send, written BEFORE anything is sent, keyed by its
           deterministic client order id; status follows the order:
             intended -> sending -> open|partially_filled|filled|canceled|rejected|expired
             intended|sending -> not_sent   (the exchange never saw it and it will not be sent)
             sending -> unknown   (lookups could not settle whether it exists: never re-sent)
  fills    every execution, keyed by (account, symbol, trade id): venues number trades per
           symbol, and paper and real accounts never share a row (inserted once, never lost)
  funding  funding received (+) or paid (-), keyed by (account, symbol, settlement time)
  margin_moves  margin added to or taken from isolated legs, journaled before sending
           (see `perphedge.store.journal_margin`)
  adopted  per (account, symbol): the position perphedge's fills do not explain, taken as the
           truth by `hedge check --adopt` (position = adopted + net journaled fills)
  events   an append-only log of what happened, for humans

Crash rule (see `perphedge.live.execute`): an order in `intended` or `sending` is looked up on
the exchange by its client id before anything is sent; it is sent only if the exchange does not
know it, with the same client id, so the venue itself refuses a duplicate.
Every write is its own transaction (synchronous=FULL), then `crashpoint.durable_write_done()`.
The file is created 0600 in a 0700 folder. `PRAGMA user_version` holds the schema version; an
older journal is migrated in place when opened (`_migrate`), in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perphedge.errors import DataError, InputError
from perphedge.ports import (
    Fill,
    FundingPayment,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
)
from perphedge.store.crashpoint import durable_write_done
from perphedge.store.journal_liquidations import LIQUIDATION_SCHEMA, LiquidationLog
from perphedge.store.journal_margin import MARGIN_SCHEMA, MarginMoveLog
from perphedge.store.paths import home_dir
from perphedge.store.private import private_file

JOURNAL_FILE = "journal.sqlite"
UNSENT = ("intended", "sending")
SCHEMA_VERSION = 4  # 2: account keys on fills and funding; 3: margin moves; 4: liquidations
LEGACY_ACCOUNT = "unknown"  # funding rows of a version-1 journal name no account

# Version 1 keyed fills by trade id alone and funding by (symbol, time). Fills get the account of
# the intent that placed their order; funding rows cannot be attributed and get LEGACY_ACCOUNT.
_MIGRATE_1_TO_2 = """
ALTER TABLE fills RENAME TO fills_v1;
ALTER TABLE funding RENAME TO funding_v1;
CREATE TABLE fills (
  account TEXT NOT NULL, trade_id TEXT NOT NULL, client_order_id TEXT NOT NULL,
  exchange_order_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
  price TEXT NOT NULL, fee TEXT NOT NULL, fee_currency TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  maker INTEGER NOT NULL, PRIMARY KEY (account, symbol, trade_id));
CREATE TABLE funding (
  account TEXT NOT NULL, symbol TEXT NOT NULL, ts_ms INTEGER NOT NULL, amount TEXT NOT NULL,
  currency TEXT NOT NULL, PRIMARY KEY (account, symbol, ts_ms));
INSERT INTO fills SELECT COALESCE(i.exchange, 'unknown'), f.trade_id, f.client_order_id,
  f.exchange_order_id, f.symbol, f.side, f.qty, f.price, f.fee, f.fee_currency, f.ts_ms, f.maker
  FROM fills_v1 f LEFT JOIN orders o ON o.client_order_id = f.client_order_id
  LEFT JOIN intents i ON i.intent_id = o.intent_id;
INSERT INTO funding SELECT 'unknown', symbol, ts_ms, amount, currency FROM funding_v1;
DROP TABLE fills_v1;
DROP TABLE funding_v1;
"""

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
  account TEXT NOT NULL, trade_id TEXT NOT NULL, client_order_id TEXT NOT NULL,
  exchange_order_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
  price TEXT NOT NULL, fee TEXT NOT NULL, fee_currency TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  maker INTEGER NOT NULL, PRIMARY KEY (account, symbol, trade_id));
CREATE TABLE IF NOT EXISTS funding (
  account TEXT NOT NULL, symbol TEXT NOT NULL, ts_ms INTEGER NOT NULL, amount TEXT NOT NULL,
  currency TEXT NOT NULL, PRIMARY KEY (account, symbol, ts_ms));
CREATE TABLE IF NOT EXISTS adopted (
  account TEXT NOT NULL, symbol TEXT NOT NULL, contracts TEXT NOT NULL, ts_ms INTEGER NOT NULL,
  PRIMARY KEY (account, symbol));
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


class Journal(MarginMoveLog, LiquidationLog):
    """One SQLite connection to the journal file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise InputError("journal", str(path), "it is a folder: move it aside")
        private_file(path)
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as bad:
            raise DataError(f"journal {path} is unreadable: {bad}; move it aside") from bad

    def _migrate(self) -> None:
        """Create the tables, or bring an older journal to SCHEMA_VERSION (one transaction)."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version >= SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            has_fills = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fills'"
            ).fetchone()
            if has_fills and version < 2:
                for statement in _MIGRATE_1_TO_2.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            for statement in (*_SCHEMA.split(";"), MARGIN_SCHEMA, LIQUIDATION_SCHEMA):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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

    def intents(self, exchange: str | None = None) -> list[Intent]:
        """Every intent (of `exchange`, the journal key of one account), oldest first."""
        where, args = _where(("exchange", exchange))
        rows = self._db.execute("SELECT * FROM intents" + where + " ORDER BY created_ms", args)
        return [Intent(*row) for row in rows.fetchall()]

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

    def knows_order(self, client_order_id: str) -> bool:
        """Whether this journal ever planned an order with this client id."""
        row = self._db.execute(
            "SELECT 1 FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return row is not None

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

    def record_fills(self, fills: Iterable[Fill], account: str) -> int:
        """Insert `account`'s fills not seen before (by symbol and trade id); how many were new."""
        new = 0
        with self._write() as db:
            for f in fills:
                cur = db.execute(
                    "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        account,
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

    def fills(self, symbol: str | None = None, account: str | None = None) -> list[Fill]:
        """Fills of `symbol` and `account` (None: every one)."""
        where, args = _where(("symbol", symbol), ("account", account))
        sql = (
            "SELECT trade_id, client_order_id, exchange_order_id, symbol, side, qty, price, fee, "
            "fee_currency, ts_ms, maker FROM fills" + where + " ORDER BY ts_ms, trade_id"
        )
        rows = self._db.execute(sql, args).fetchall()
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

    def record_funding(self, payments: Iterable[FundingPayment], account: str) -> int:
        """Insert `account`'s funding settlements not seen before; how many were new."""
        new = 0
        with self._write() as db:
            for p in payments:
                cur = db.execute(
                    "INSERT OR IGNORE INTO funding VALUES (?, ?, ?, ?, ?)",
                    (account, p.symbol, p.ts_ms, str(p.amount), p.currency),
                )
                new += cur.rowcount
        return new

    def funding_total(self, symbol: str | None = None, account: str | None = None) -> Decimal:
        where, args = _where(("symbol", symbol), ("account", account))
        rows = self._db.execute("SELECT amount FROM funding" + where, args).fetchall()
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def last_funding_ms(self, symbol: str, account: str) -> int | None:
        row = self._db.execute(
            "SELECT MAX(ts_ms) FROM funding WHERE symbol = ? AND account = ?", (symbol, account)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- positions taken as the truth (hedge check --adopt) ------------------------------------

    def adopt(self, account: str, positions: dict[str, Decimal], ts_ms: int) -> None:
        """Take `positions` (symbol -> contracts on the exchange) as the truth: store what the
        journaled fills do not explain, in one transaction."""
        with self._write() as db:
            for symbol, contracts in sorted(positions.items()):
                base = contracts - self.explained(account, symbol)
                db.execute(
                    "INSERT OR REPLACE INTO adopted VALUES (?, ?, ?, ?)",
                    (account, symbol, str(base), ts_ms),
                )
            self._event(db, ts_ms, None, "adopt", {"account": account, "positions": positions})

    def net_filled(self, account: str, symbol: str) -> Decimal:
        """Signed contracts of `account`'s journaled fills of `symbol` (+ bought, - sold)."""
        rows = self._db.execute(
            "SELECT side, qty FROM fills WHERE account = ? AND symbol = ?", (account, symbol)
        ).fetchall()
        return sum((Decimal(q) * OrderSide(side).sign for side, q in rows), Decimal(0))

    def adopted(self, account: str) -> dict[str, Decimal]:
        rows = self._db.execute(
            "SELECT symbol, contracts FROM adopted WHERE account = ?", (account,)
        ).fetchall()
        return {symbol: Decimal(c) for symbol, c in rows}

    def last_adopted_ms(self, account: str) -> int:
        row = self._db.execute(
            "SELECT MAX(ts_ms) FROM adopted WHERE account = ?", (account,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def symbols(self, account: str) -> list[str]:
        """Every symbol `account` has journaled fills or an adopted position of."""
        rows = self._db.execute(
            "SELECT symbol FROM fills WHERE account = ? UNION "
            "SELECT symbol FROM adopted WHERE account = ? ORDER BY 1",
            (account, account),
        ).fetchall()
        return [r[0] for r in rows]

    def expected_position(self, account: str, symbol: str) -> Decimal:
        """What the exchange should hold: adopted + net journaled fills and liquidations."""
        base = self.adopted(account).get(symbol, Decimal(0))
        return base + self.explained(account, symbol)

    def explained(self, account: str, symbol: str) -> Decimal:
        """Signed contracts the journal explains: net fills plus liquidations."""
        return self.net_filled(account, symbol) + self.net_liquidated(account, symbol)


def _where(*conditions: tuple[str, str | None]) -> tuple[str, tuple[str, ...]]:
    """ " WHERE a = ? AND b = ?" for the conditions whose value is not None, and the values."""
    given = [(column, value) for column, value in conditions if value is not None]
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{c} = ?" for c, _ in given), tuple(v for _, v in given)
