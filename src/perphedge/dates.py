"""Days and times as the user types them (command options, page fields) -> epoch ms, UTC.

One parser for every entry point, so that `--from`, `--since`, `--at` and the page's date fields
accept the same text and refuse it with the same one-line message (field, value, fix; InputError,
exit 2 in the CLI).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from perphedge.errors import InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_FORMAT = "YYYY-MM-DD"
DAY_FIX = f"give a day as {DAY_FORMAT} (UTC) or a time as 2024-01-31T08:00Z"


def parse_day_ms(field: str, text: str, *, end_of_day: bool = False) -> int:
    """Epoch ms of a day 'YYYY-MM-DD' (00:00 UTC; the next day's 00:00 with `end_of_day`, so a
    last day given as a date is included whole) or of an ISO time '2024-01-31T08:00' (UTC unless
    it carries 'Z' or an offset). Anything else raises InputError naming `field`."""
    raw = text.strip()
    if not raw:
        raise InputError(field, None, DAY_FIX)
    try:
        if len(raw) == len(DAY_FORMAT):
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return _ms(start + timedelta(days=1 if end_of_day else 0))
        moment = datetime.fromisoformat(raw)
        return _ms(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        raise InputError(field, text, DAY_FIX) from None


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
