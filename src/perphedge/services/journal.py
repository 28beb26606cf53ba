"""Journal service: the recent runs of `perphedge hedge history`, with their orders and fills."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perphedge.store.journal import Intent, Journal, JournalOrder


@dataclass(frozen=True)
class RunRecord:
    """One run (intent) and its orders."""

    intent: Intent
    orders: tuple[JournalOrder, ...]

    @property
    def filled(self) -> int:
        return sum(1 for o in self.orders if o.status == "filled")


@dataclass(frozen=True)
class RunHistory:
    """The last runs of a journal, its fills and the funding it received."""

    path: Path
    runs: tuple[RunRecord, ...]
    fills: int
    funding_received: float


def run_history(journal: Journal, limit: int) -> RunHistory:
    """The last `limit` (> 0) runs of `journal`."""
    runs = tuple(
        RunRecord(i, tuple(journal.orders(i.intent_id))) for i in journal.intents()[-limit:]
    )
    return RunHistory(journal.path, runs, len(journal.fills()), float(journal.funding_total()))
