"""Idempotent margin moves: journal first, send once, settle unknown outcomes from the history.

A move is "add" / "reduce" on an isolated leg (`MarginControl`), or "transfer" from the spot
wallet into the futures wallet (a cross account's top-up) or "transfer_out" back to spot
(`WalletTransfer`, symbol ""); all go the same way:

    move_margin(session, control, symbol, kind, amount, currency)
        1. settle every earlier move left open by a crash or an unknown outcome (`settle_open`);
        2. journal the move as "intended", then "sending" (each its own durable write);
        3. send it once; the venue's answer marks it "done" (a refusal: "failed");
        4. no answer (temporary error): look it up in the venue's margin history, with growing
           waits; found -> "done"; not found -> "unknown" and ReconcileError (exit 5): it is
           never sent again automatically.
    settle_open(session, control)
        an "intended" move was never sent (the crash came first): "not_sent"; a "sending" or
        "unknown" one is looked up in the history since its creation: "done" if an entry of the
        same symbol, kind and amount is there and no other move claimed it, else "not_sent"
        (time has passed since: the history is complete).
A crash at any point therefore never moves margin twice: the next run settles the move from
the venue's own history before it decides anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from perphedge.errors import (
    CapabilityError,
    InputError,
    PermanentExchangeError,
    ReconcileError,
    TemporaryExchangeError,
)
from perphedge.live.execute import LiveSession
from perphedge.ports import MarginControl, MarginMove, WalletTransfer
from perphedge.store.journal_margin import JournalMarginMove

HISTORY_SKEW_MS = 60_000  # venue and local clocks may disagree by this much
LOOKUPS = 3
KINDS = ("add", "reduce", "transfer", "transfer_out")
TAKEN_BACK = ("reduce", "transfer_out")  # moves that take margin back off the futures side
Mover = MarginControl | WalletTransfer


@dataclass(frozen=True)
class MoveOutcome:
    move_id: str
    status: str
    settled: tuple[str, ...]  # earlier moves settled first, in words


def move_margin(
    session: LiveSession,
    control: Mover,
    symbol: str,
    kind: str,
    amount: Decimal,
    currency: str,
) -> MoveOutcome:
    """Add or take `amount` of `currency` on `symbol`'s isolated margin (see module doc)."""
    if kind not in KINDS:
        raise InputError("kind", kind, "add, reduce, transfer or transfer_out")
    if not amount.is_finite() or amount <= 0:
        raise InputError("amount", amount, "give an amount greater than zero")
    settled = settle_open(session, control)
    now = session.clock.now_ms()
    move = JournalMarginMove(
        f"m-{now}-{uuid.uuid4().hex[:8]}", session.account_key, symbol, kind, amount, currency,
        now, "intended", None, "",
    )  # fmt: skip
    journal = session.journal
    journal.begin_margin_move(move)
    journal.mark_margin_move(move.move_id, "sending", session.clock.now_ms())
    try:
        done = _send(control, move)
    except PermanentExchangeError as refused:
        journal.mark_margin_move(move.move_id, "failed", session.clock.now_ms(), None, str(refused))
        raise
    except TemporaryExchangeError as unknown:
        return MoveOutcome(move.move_id, _after_unknown(session, control, move, unknown), settled)
    journal.mark_margin_move(move.move_id, "done", session.clock.now_ms(), done.ts_ms)
    return MoveOutcome(move.move_id, "done", settled)


def _after_unknown(
    session: LiveSession, control: Mover, move: JournalMarginMove, error: Exception
) -> str:
    """The answer was lost: the history decides; "done", or ReconcileError after "unknown"."""
    for k in range(LOOKUPS):
        session.sleep(session.options.retry_backoff_s * 2**k)
        try:
            found = _in_history(session, control, move)
        except TemporaryExchangeError:
            continue
        if found is not None:
            session.journal.mark_margin_move(
                move.move_id, "done", session.clock.now_ms(), found.ts_ms
            )
            return "done"
    session.journal.mark_margin_move(
        move.move_id, "unknown", session.clock.now_ms(), None, str(error)
    )
    raise ReconcileError(
        f"margin move {move.move_id} ({move.kind} {move.amount} {move.currency} on "
        f"{move.symbol}): outcome unknown, the exchange did not answer and its margin history "
        "does not show it yet. It was not sent again; the next run settles it from the "
        "history, or check the position's margin on the exchange"
    )


def settle_open(session: LiveSession, control: Mover) -> tuple[str, ...]:
    """Settle every open move of the account from the venue's history (see module doc)."""
    said = []
    for move in session.journal.open_margin_moves(session.account_key):
        now = session.clock.now_ms()
        if move.status == "intended":
            session.journal.mark_margin_move(move.move_id, "not_sent", now, None, "never sent")
            said.append(f"{move.move_id}: never sent (the run stopped first)")
            continue
        found = _in_history(session, control, move)
        status = "done" if found is not None else "not_sent"
        ts = None if found is None else found.ts_ms
        session.journal.mark_margin_move(move.move_id, status, now, ts)
        said.append(f"{move.move_id}: {move.kind} {move.amount} on {move.symbol} was {status}")
    return tuple(said)


def _in_history(session: LiveSession, control: Mover, move: JournalMarginMove) -> MarginMove | None:
    """The venue's entry for `move`: same symbol, kind and amount, not before it was created
    (less the clock skew), and not claimed by another journaled move."""
    since = move.created_ms - HISTORY_SKEW_MS
    if move.kind == "transfer":
        history = _transfers(control).transfers_in(move.currency, since)
    elif move.kind == "transfer_out":
        history = _transfers(control).transfers_out(move.currency, since)
    else:
        history = _margins(control).margin_moves(move.symbol, since)
    claimed = {
        m.exchange_ts_ms
        for m in session.journal.margin_moves(move.account, move.symbol)
        if m.move_id != move.move_id and m.kind == move.kind and m.exchange_ts_ms is not None
    }
    return _first_match(history, move, claimed)


def _first_match(
    history: Sequence[MarginMove], move: JournalMarginMove, claimed: set[int]
) -> MarginMove | None:
    for entry in history:
        if (
            entry.kind == move.kind
            and entry.amount == move.amount
            and entry.ts_ms >= move.created_ms - HISTORY_SKEW_MS
            and entry.ts_ms not in claimed
        ):
            return entry
    return None


def _margins(control: Mover) -> MarginControl:
    if not isinstance(control, MarginControl):
        raise CapabilityError("this account cannot move isolated margin")
    return control


def _transfers(control: Mover) -> WalletTransfer:
    if not isinstance(control, WalletTransfer):
        raise CapabilityError("this account cannot transfer between its spot and futures wallets")
    return control


def _send(control: Mover, move: JournalMarginMove) -> MarginMove:
    if move.kind == "transfer":
        return _transfers(control).transfer_in(move.currency, move.amount)
    if move.kind == "transfer_out":
        return _transfers(control).transfer_out(move.currency, move.amount)
    return _margins(control).move_margin(move.symbol, move.kind, move.amount)
