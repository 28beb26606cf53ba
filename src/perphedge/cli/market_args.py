"""Parsing shared by the market-data analytics commands: dates, venues, windows.

Symbols are parsed by perphedge.symbols (symbol_pattern).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from perphedge.errors import DataError, InputError
from perphedge.store.market import Coverage
from perphedge.symbols import SymbolPattern
from perphedge.venues.registry import VENUES

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
