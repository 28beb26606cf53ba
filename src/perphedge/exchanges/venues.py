"""The venues perphedge knows: ccxt ids, liquidation rules and what is published about them.

This is plain data (no ccxt import); adapters and commands look venues up here, so that a venue's
gaps are stated in one place instead of discovered with money.
"""

from __future__ import annotations

from dataclasses import dataclass

from perphedge.errors import InputError
from perphedge.margin import Rules


@dataclass(frozen=True)
class Venue:
    """One exchange as perphedge uses it.

    `ccxt_linear` / `ccxt_inverse`: ccxt exchange ids for USDT-margined and coin-margined swaps
    (None: not offered through ccxt). `liquidation_rules`: whose formula to apply; when
    `liquidation_published` is False the venue publishes no formula and the result is a
    conservative approximation, flagged as such in every output.
    """

    name: str
    ccxt_linear: str | None
    ccxt_inverse: str | None
    liquidation_rules: Rules
    liquidation_published: bool
    default_funding_interval_hours: float = 8.0


VENUES: dict[str, Venue] = {
    v.name: v
    for v in (
        Venue("binance", "binanceusdm", "binancecoinm", Rules.BINANCE, True),
        Venue("bybit", "bybit", "bybit", Rules.BYBIT, True),
        Venue("okx", "okx", "okx", Rules.OKX, True),
        Venue("bingx", "bingx", "bingx", Rules.BINANCE, False),
        Venue("mexc", "mexc", None, Rules.BINANCE, False),
        Venue("weex", "weex", None, Rules.BINANCE, False),
    )
}


def venue(name: str) -> Venue:
    """The venue called `name` (case-insensitive); InputError listing the known ones otherwise."""
    found = VENUES.get(name.strip().lower())
    if found is None:
        raise InputError("exchange", name, f"use one of {', '.join(sorted(VENUES))}")
    return found
