"""One parser for the days and times users type: values, and one line for every bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perphedge.dates import DAY_FIX, parse_day_ms
from perphedge.errors import InputError
from perphedge.units import utc_text

DAY_MS = 86_400_000
JAN_31_2024_MS = 1_706_659_200_000  # 19,753 days after 1970-01-01: 19,753 x 86,400,000 ms


def test_a_day_is_its_utc_midnight_and_its_end_the_next_one() -> None:
    assert parse_day_ms("--from", "2024-01-31") == JAN_31_2024_MS
    assert parse_day_ms("--until", "2024-01-31", end_of_day=True) == JAN_31_2024_MS + DAY_MS
    assert parse_day_ms("--from", " 2024-01-31\n") == JAN_31_2024_MS  # as a form may send it


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-31T08:00",
        "2024-01-31T08:00Z",
        "2024-01-31T08:00:00+00:00",
        "2024-01-31T09:00+01:00",
    ],
)
def test_a_time_is_utc_unless_it_says_otherwise(text: str) -> None:
    eight_hours_ms = 8 * 3_600_000
    assert parse_day_ms("--since", text) == JAN_31_2024_MS + eight_hours_ms
    # a time is an instant: the end of its day is not asked for
    assert parse_day_ms("--until", text, end_of_day=True) == JAN_31_2024_MS + eight_hours_ms


def test_an_empty_field_is_said_missing() -> None:
    with pytest.raises(InputError) as caught:
        parse_day_ms("start", "  ")
    assert str(caught.value) == f"start is missing: {DAY_FIX}"


@given(st.dates(min_value=date(1970, 1, 1), max_value=date(9998, 12, 31)))
def test_every_day_round_trips_through_its_text(day: date) -> None:
    ms = parse_day_ms("--from", day.isoformat())
    assert ms == (day - date(1970, 1, 1)).days * DAY_MS
    assert utc_text(ms, "%Y-%m-%d") == day.isoformat()
    assert parse_day_ms("--to", day.isoformat(), end_of_day=True) == ms + DAY_MS


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
    )
)
def test_every_utc_time_round_trips(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_day_ms("--since", moment.isoformat()) == ms
    assert parse_day_ms("--since", moment.replace(tzinfo=None).isoformat()) == ms  # UTC


def _one_line_naming(error: InputError, field: str, text: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message == f"{field}={text!r} is invalid: {DAY_FIX}"


bad_days = st.one_of(
    st.builds("{}-{:02d}-{:02d}".format, st.integers(1970, 2100), st.integers(13, 99),
              st.integers(1, 28)),  # no such month
    st.builds("{}-{:02d}-{:02d}".format, st.integers(1970, 2100), st.integers(1, 12),
              st.integers(32, 99)),  # no such day
    st.builds("{:02d}/{:02d}/{}".format, st.integers(1, 28), st.integers(1, 12),
              st.integers(1970, 2100)),  # a local way of writing it
    st.text(st.characters(categories=["L", "P", "Zs"]), min_size=1).filter(str.strip),
    st.sampled_from(["9999-12-31", "yesterday", "2024-01-31 8am", "31.01.2024", "2024/01/31"]),
)  # fmt: skip


@given(bad_days, st.sampled_from(["--from", "--since", "--until", "--at", "start", "to"]))
def test_a_bad_day_is_one_line_naming_the_field_the_value_and_the_fix(
    text: str, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_day_ms(field, text, end_of_day=True)  # 9999-12-31 has no next day
    assert caught.value.exit_code == 2
    _one_line_naming(caught.value, field, text)


@given(st.text(max_size=40), st.booleans())
def test_any_text_is_a_time_or_an_input_error(text: str, end_of_day: bool) -> None:
    try:
        ms = parse_day_ms("--from", text, end_of_day=end_of_day)
    except InputError as error:
        assert error.field == "--from" and error.fix == DAY_FIX
    else:
        assert isinstance(ms, int)
