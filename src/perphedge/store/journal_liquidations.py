"""The journal's liquidations: each one the venue reports, journaled once (keyed by the
venue's id), so that `hedge check` explains the closed position and the keeper knows when
the short was lost (its re-open cooldown starts there)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from decimal import Decimal

from perphedge.ports import Liquidation

LIQUIDATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS liquidations (
  account TEXT NOT NULL, liquidation_id TEXT NOT NULL, symbol TEXT NOT NULL,
  ts_ms INTEGER NOT NULL, contracts TEXT NOT NULL, price TEXT NOT NULL, margin_lost TEXT,
  currency TEXT NOT NULL, PRIMARY KEY (account, liquidation_id))
"""


class LiquidationLog:
    """Mixed into `Journal`: needs its `_db` connection and `_write` transaction."""

    _db: sqlite3.Connection

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def record_liquidation(self, account: str, liq: Liquidation) -> bool:
        """Journal `liq` unless it is already; True when it was new."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO liquidations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account, liq.liquidation_id, liq.symbol, liq.ts_ms, str(liq.contracts),
                    str(liq.price), None if liq.margin_lost is None else str(liq.margin_lost),
                    liq.currency,
                ),
            )  # fmt: skip
            return cursor.rowcount == 1

    def liquidations(self, account: str, symbol: str | None = None) -> list[Liquidation]:
        sql = "SELECT * FROM liquidations WHERE account = ?"
        args: tuple[str, ...] = (account,)
        if symbol is not None:
            sql += " AND symbol = ?"
            args += (symbol,)
        rows = self._db.execute(sql + " ORDER BY ts_ms, liquidation_id", args).fetchall()
        return [
            Liquidation(
                r[1],
                r[2],
                int(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
                None if r[6] is None else Decimal(r[6]),
                r[7],
            )
            for r in rows
        ]

    def net_liquidated(self, account: str, symbol: str) -> Decimal:
        """Signed contracts the journaled liquidations of `symbol` changed the position by."""
        return sum((x.contracts for x in self.liquidations(account, symbol)), Decimal(0))
