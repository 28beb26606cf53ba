"""The journal's margin moves: intents written before a margin move is sent.

A margin move (add to or take from an isolated leg's margin) carries no client id on the
venues, so it cannot be looked up by id like an order. Each one is journaled first:

  intended -> sending -> done        (the venue confirmed it, or its history shows it)
  intended|sending -> not_sent       (the venue's history shows it never happened)
  sending -> unknown                 (no answer and no history: never re-sent automatically)
  sending -> failed                  (the venue refused it)

`exchange_ts_ms` is the time of the venue's history entry matched to a move, so that one entry
never confirms two moves of the same size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MARGIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS margin_moves (
  move_id TEXT PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, kind TEXT NOT NULL,
  amount TEXT NOT NULL, currency TEXT NOT NULL, created_ms INTEGER NOT NULL,
  status TEXT NOT NULL, exchange_ts_ms INTEGER, reason TEXT NOT NULL DEFAULT '',
  updated_ms INTEGER NOT NULL)
"""
OPEN_MOVES = ("intended", "sending", "unknown")


@dataclass(frozen=True)
class JournalMarginMove:
    """A margin move as the journal knows it. `kind` "add" or "reduce"; `amount` > 0 in
    `currency` (the leg's settle currency)."""

    move_id: str
    account: str
    symbol: str
    kind: str
    amount: Decimal
    currency: str
    created_ms: int
    status: str
    exchange_ts_ms: int | None
    reason: str


class MarginMoveLog:
    """Mixed into `Journal`: needs its `_db` connection and `_write` transaction."""

    _db: sqlite3.Connection

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def begin_margin_move(self, move: JournalMarginMove) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO margin_moves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    move.move_id, move.account, move.symbol, move.kind, str(move.amount),
                    move.currency, move.created_ms, move.status, move.exchange_ts_ms,
                    move.reason, move.created_ms,
                ),
            )  # fmt: skip

    def mark_margin_move(
        self,
        move_id: str,
        status: str,
        ts_ms: int,
        exchange_ts_ms: int | None = None,
        reason: str = "",
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE margin_moves SET status = ?, exchange_ts_ms = ?, reason = ?, "
                "updated_ms = ? WHERE move_id = ?",
                (status, exchange_ts_ms, reason, ts_ms, move_id),
            )

    def margin_moves(self, account: str, symbol: str | None = None) -> list[JournalMarginMove]:
        sql = "SELECT * FROM margin_moves WHERE account = ?"
        args: tuple[Any, ...] = (account,)
        if symbol is not None:
            sql += " AND symbol = ?"
            args += (symbol,)
        rows: Iterator[Any] = self._db.execute(sql + " ORDER BY created_ms, move_id", args)
        return [
            JournalMarginMove(r[0], r[1], r[2], r[3], Decimal(r[4]), r[5], r[6], r[7], r[8], r[9])
            for r in rows
        ]

    def open_margin_moves(self, account: str) -> list[JournalMarginMove]:
        return [m for m in self.margin_moves(account) if m.status in OPEN_MOVES]
