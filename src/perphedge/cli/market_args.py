"""Parsing shared by the market-data analytics commands: date ranges, venues, windows.

Symbols are parsed by perphedge.symbols (symbol_pattern), days and times by perphedge.dates.
"""

from __future__ import annotations

import re

from perphedge.dates import parse_day_ms
from perphedge.errors import InputError

_DAYS = re.compile(r"^(\d+)\s*([dwy])$")
_DAYS_PER = {"d": 1, "w": 7, "y": 365}


def date_range(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """[since_ms, until_ms) from --since/--until; a bare --until date includes that whole day."""
    since_ms = None if since is None else parse_day_ms("--since", since)
    until_ms = None if until is None else parse_day_ms("--until", until, end_of_day=True)
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InputError("--since", since, f"must be before --until {until}")
    return since_ms, until_ms


def parse_days(field: str, text: str) -> int:
    """'365d' -> 365, '52w' -> 364, '2y' -> 730 (days); InputError otherwise."""
    match = _DAYS.match(text.strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise InputError(field, text, "give a number of days, weeks or years, e.g. 365d, 8w, 2y")
    return int(match.group(1)) * _DAYS_PER[match.group(2)]
