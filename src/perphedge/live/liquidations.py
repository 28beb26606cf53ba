"""Liquidations found by reconciling: a leg the journal says is open, that the exchange holds
0 contracts of, is looked up in the exchange's record of this account's liquidations
(`perphedge.ports.LiquidationHistory`).

`find_liquidations` returns the ones the journal does not know yet (read only: a dry run
shows them); `journal_liquidations` journals each once (keyed by the exchange's id) and says,
in plain words, what was lost. Once journaled, `hedge check` explains the closed position.
`last_lost` is the one rule for "this leg is lost": each leg's last confirmed liquidation
(journaled, or found now) after its last journaled fill, so a leg re-opened since has none.
The keeper starts its re-open cooldown there (`lost_since`); `hedge check` and `monitor` alert
on it (exit 5) until the short is re-opened.
A leg that vanished with no liquidation on record stays a mismatch (`gate_before`, exit 5).
"""

from __future__ import annotations

from collections.abc import Sequence

from perphedge.errors import CapabilityError, LiquidatedError
from perphedge.live.monitor import Alert, liquidation_alert, liquidation_words
from perphedge.ports import Account, Liquidation, LiquidationHistory
from perphedge.store.journal import Journal


def _last_fill_ms(journal: Journal, account_key: str, symbol: str) -> int:
    fills = journal.fills(symbol, account_key)
    return max((f.ts_ms for f in fills), default=0)


def find_liquidations(
    account: Account, journal: Journal, account_key: str, symbols: Sequence[str]
) -> list[Liquidation]:
    """The exchange's liquidations, not yet journaled, of legs the journal says are open and
    the exchange holds none of (since the leg's last journaled fill)."""
    if not isinstance(account, LiquidationHistory) or not symbols:
        return []
    held = {p.symbol: p.contracts for p in account.positions(symbols)}
    known = {x.liquidation_id for x in journal.liquidations(account_key)}
    found: list[Liquidation] = []
    for symbol in symbols:
        if held.get(symbol, 0) != 0 or journal.expected_position(account_key, symbol) == 0:
            continue
        since = _last_fill_ms(journal, account_key, symbol)
        try:
            reported = account.my_liquidations(symbol, since)
        except CapabilityError:  # no record to confirm it: the leg stays a mismatch (exit 5)
            continue
        found += [x for x in reported if x.liquidation_id not in known]
    return found


def journal_liquidations(
    journal: Journal, account_key: str, found: Sequence[Liquidation]
) -> list[Alert]:
    """Journal each liquidation once; an alert for each one journaled now."""
    return [liquidation_alert(liq) for liq in found if journal.record_liquidation(account_key, liq)]


def last_lost(
    journal: Journal,
    account_key: str,
    symbols: Sequence[str],
    found: Sequence[Liquidation] = (),
) -> dict[str, Liquidation]:
    """Symbol -> the last liquidation of its short (journaled, or `found` not yet journaled)
    after the leg's last journaled fill; a leg re-opened since has none."""
    lost: dict[str, Liquidation] = {}
    for symbol in symbols:
        since = _last_fill_ms(journal, account_key, symbol)
        after = [
            x
            for x in (*journal.liquidations(account_key, symbol), *found)
            if x.symbol == symbol and x.ts_ms > since
        ]
        if after:
            lost[symbol] = max(after, key=lambda x: (x.ts_ms, x.liquidation_id))
    return lost


def lost_since(
    journal: Journal,
    account_key: str,
    symbols: Sequence[str],
    found: Sequence[Liquidation] = (),
) -> dict[str, int]:
    """Symbol -> time its short was lost (`last_lost`)."""
    return {s: x.ts_ms for s, x in last_lost(journal, account_key, symbols, found).items()}


def unhedged(
    account: Account, journal: Journal, account_key: str, symbols: Sequence[str]
) -> tuple[tuple[Liquidation, ...], tuple[Liquidation, ...]]:
    """(every leg lost to a confirmed liquidation and not re-opened since, the ones of them
    the journal does not know yet): what `hedge check` and `monitor` alert on."""
    found = find_liquidations(account, journal, account_key, symbols)
    lost = last_lost(journal, account_key, symbols, found)
    return tuple(lost[s] for s in symbols if s in lost), tuple(found)


def require_hedged(lost: Sequence[Liquidation]) -> None:
    """LiquidatedError (exit 5) naming every leg in `lost` (`unhedged`) and the way back."""
    if lost:
        said = "; ".join(f"{x.symbol}: {liquidation_words(x)}" for x in lost)
        raise LiquidatedError(
            f"liquidated: {said}. Re-open the short with perphedge hedge keep --execute (after "
            "its cooldown) or perphedge hedge rebalance PORTFOLIO --execute"
        )
