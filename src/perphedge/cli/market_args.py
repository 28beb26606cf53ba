"""Parsing shared by the market-data analytics commands: dates, symbols, venues, windows.

Symbols may be written "BTC" (every linear perpetual on BTC: USDT, USDC or USD settled),
"BTCUSDT" (BTC/USDT:USDT) or a ccxt unified symbol ("BTC/USDT:USDT", "BTC/USD:BTC", "BTC/USDT").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from perphedge.errors import DataError, InputError
from perphedge.store.market import Coverage
from perphedge.venues.registry import VENUES

QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
_DAYS = re.compile(r"^(\d+)\s*([dwy])$")
_DAYS_PER = {"d": 1, "w": 7, "y": 365}


def parse_day_or_time(field: str, text: str, end_of_day: bool = False) -> int:
    """Epoch ms of "YYYY-MM-DD" (UTC midnight; the next midnight when `end_of_day`) or ISO time."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return int((start + timedelta(days=1 if end_of_day else 0)).timestamp() * 1000)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(field, text, "give a date as YYYY-MM-DD or 2024-01-31T08:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def date_range(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """[since_ms, until_ms) from --since/--until; a bare --until date includes that whole day."""
    since_ms = None if since is None else parse_day_or_time("--since", since)
    until_ms = None if until is None else parse_day_or_time("--until", until, end_of_day=True)
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InputError("--since", since, f"must be before --until {until}")
    return since_ms, until_ms


def parse_days(field: str, text: str) -> int:
    """'365d' -> 365, '52w' -> 364, '2y' -> 730 (days); InputError otherwise."""
    match = _DAYS.match(text.strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise InputError(field, text, "give a number of days, weeks or years, e.g. 365d, 8w, 2y")
    return int(match.group(1)) * _DAYS_PER[match.group(2)]


@dataclass(frozen=True)
class SymbolPattern:
    """What the user asked for: a base coin and, when given, the exact ccxt symbol."""

    text: str
    base: str
    exact: str | None  # None: every linear perpetual on `base`

    def matches(self, symbol: str) -> bool:
        if self.exact is not None:
            return symbol == self.exact
        base, _, rest = symbol.partition("/")
        quote, _, settle = rest.partition(":")
        return base == self.base and settle == quote and quote in QUOTES


def symbol_pattern(text: str) -> SymbolPattern:
    """Parse "BTC", "BTCUSDT" or "BTC/USDT:USDT"; InputError for anything else."""
    raw = text.strip().upper()
    if re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?", raw):
        return SymbolPattern(text, raw.partition("/")[0], raw)
    for quote in QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote) and raw.isalnum():
            base = raw[: -len(quote)]
            return SymbolPattern(text, base, f"{base}/{quote}:{quote}")
    if re.fullmatch(r"[A-Z0-9]{1,15}", raw):
        return SymbolPattern(text, raw, None)
    raise InputError("SYMBOL", text, "write BTC, BTCUSDT or BTC/USDT:USDT")


def check_exchanges(names: Sequence[str], coverage: Sequence[Coverage], dataset: str) -> list[str]:
    """Lower-cased `names`, each one a venue the store holds `dataset` for; InputError otherwise."""
    known = sorted({c.exchange for c in coverage if c.dataset.startswith(dataset)})
    out = []
    for name in names:
        venue = name.strip().lower()
        if venue in VENUES and venue not in known:
            raise DataError(
                f"no {dataset} data stored for {venue}; run `perphedge data sync --exchange "
                f"{venue}` first (stored: {', '.join(known)})"
            )
        if venue not in known:
            raise InputError("--exchange", name, f"use one of {', '.join(known)}")
        out.append(venue)
    return out


def funding_markets(
    pattern: SymbolPattern, exchanges: Sequence[str], coverage: Sequence[Coverage]
) -> list[tuple[str, str]]:
    """(exchange, symbol) pairs with funding history matching `pattern` on `exchanges` (all if
    empty), sorted; DataError naming what is stored when there is none."""
    found = sorted(
        (c.exchange, c.symbol)
        for c in coverage
        if c.dataset == "funding"
        and pattern.matches(c.symbol)
        and (not exchanges or c.exchange in exchanges)
    )
    if found:
        return found
    stored = sorted({c.symbol for c in coverage if c.dataset == "funding"})
    where = f" on {', '.join(exchanges)}" if exchanges else ""
    if pattern.exact is not None and ":" not in pattern.exact:
        raise DataError(
            f"{pattern.text} is a spot market and has no funding; use a perpetual "
            f"such as {pattern.base}/USDT:USDT"
        )
    raise DataError(
        f"no funding history for {pattern.text}{where} in the store (perpetuals with funding: "
        f"{', '.join(stored)}); run `perphedge data sync` or pick one of those"
    )
