"""What `hedge close` closes: every position this account's journal opened, not only the file's.

A leg removed from the portfolio file after it was opened is still perphedge's position; closing
only the file's legs would leave it open and out of sight. `close_targets` returns target 0 for
every leg of the file and every symbol the journal has fills of on this account that still
holds a position (with `only`: the file's legs alone), and says, in words, every position it
leaves open and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from perphedge.hedge.orders import LegTarget
from perphedge.ports import Account
from perphedge.store.journal import Journal


def close_targets(
    planned: Sequence[LegTarget],
    journal: Journal,
    account: Account,
    account_id: str,
    only: bool,
) -> tuple[list[LegTarget], list[str]]:
    """(targets of the close, what it leaves open); see the module docstring."""
    held = {p.symbol: p.contracts for p in account.positions([])}
    opened = {f.symbol for f in journal.fills(account=account_id)}
    leverage = planned[0].leverage if planned else 1
    symbols = {t.symbol for t in planned}
    if not only:
        symbols |= {s for s in opened if held.get(s)}
    targets = [LegTarget(s, Decimal(0), leverage) for s in sorted(symbols)]
    left = [
        f"{symbol}: {contracts} contracts left open ("
        + ("not in the file; without --only it is closed too" if symbol in opened
           else "not opened by perphedge: close it by hand if it should go")
        + ")"
        for symbol, contracts in sorted(held.items())
        if symbol not in symbols
    ]  # fmt: skip
    return targets, left
