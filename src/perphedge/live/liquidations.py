"""Liquidations found by reconciling: a leg the journal says is open, that the exchange holds
0 contracts of, is looked up in the exchange's record of this account's liquidations
(`perphedge.ports.LiquidationHistory`).

`find_liquidations` returns the ones the journal does not know yet (read only: a dry run
shows them); `journal_liquidations` journals each once (keyed by the exchange's id) and says,
in plain words, what was lost. Once journaled, `hedge check` explains the closed position, and
`lost_since` gives the keeper the time each short was lost (its re-open cooldown starts there).
A leg that vanished with no liquidation on record stays a mismatch (`gate_before`, exit 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from perphedge.errors import CapabilityError
from perphedge.live.execute import LiveSession
from perphedge.live.monitor import Alert
from perphedge.ports import Liquidation, LiquidationHistory


def _last_fill_ms(session: LiveSession, symbol: str) -> int:
    fills = session.journal.fills(symbol, session.account_key)
    return max((f.ts_ms for f in fills), default=0)


def find_liquidations(session: LiveSession, symbols: Sequence[str]) -> list[Liquidation]:
    """The exchange's liquidations, not yet journaled, of legs the journal says are open and
    the exchange holds none of (since the leg's last journaled fill)."""
    venue = session.account
    if not isinstance(venue, LiquidationHistory):
        return []
    held = {p.symbol: p.contracts for p in venue.positions(symbols)}
    journal, account = session.journal, session.account_key
    known = {x.liquidation_id for x in journal.liquidations(account)}
    found: list[Liquidation] = []
    for symbol in symbols:
        if held.get(symbol, 0) != 0 or journal.expected_position(account, symbol) == 0:
            continue
        since = _last_fill_ms(session, symbol)
        try:
            reported = venue.my_liquidations(symbol, since)
        except CapabilityError:  # no record to confirm it: the leg stays a mismatch (exit 5)
            continue
        found += [x for x in reported if x.liquidation_id not in known]
    return found


def describe(liq: Liquidation) -> str:
    """The liquidation in plain words, with the margin it cost (an alert's message: its
    subject names the symbol)."""
    when = datetime.fromtimestamp(liq.ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lost = (
        "margin lost: not reported by the exchange"
        if liq.margin_lost is None
        else f"{liq.margin_lost:,.2f} {liq.currency} of margin lost"
    )
    return (
        f"the short of {abs(liq.contracts).normalize():f} contracts was liquidated at "
        f"{liq.price:f} on {when}; {lost}; the coins are unhedged until it is re-opened"
    )


def journal_liquidations(session: LiveSession, found: Sequence[Liquidation]) -> list[Alert]:
    """Journal each liquidation once; an alert for each one journaled now."""
    account = session.account_key
    return [
        Alert("liquidated", liq.symbol, describe(liq))
        for liq in found
        if session.journal.record_liquidation(account, liq)
    ]


def lost_since(
    session: LiveSession, symbols: Sequence[str], found: Sequence[Liquidation] = ()
) -> dict[str, int]:
    """Symbol -> time its short was lost: the last liquidation (journaled, or `found` in a dry
    run) after the leg's last journaled fill; a leg re-opened since has none."""
    lost: dict[str, int] = {}
    for symbol in symbols:
        since = _last_fill_ms(session, symbol)
        times = [
            x.ts_ms
            for x in (*session.journal.liquidations(session.account_key, symbol), *found)
            if x.symbol == symbol and x.ts_ms > since
        ]
        if times:
            lost[symbol] = max(times)
    return lost
