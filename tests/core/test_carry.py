"""Carry statistics of a short hedge (perphedge.carry), on hand cases and the shared real history."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.carry import (
    RateSeries,
    calendar_year,
    carry_report,
    carry_stats,
    compare_venues,
    short_funding,
)
from perphedge.errors import InputError
from perphedge.funding import describe_for_short
from tests.strategies import funding_rate_arrays

H8 = 8 * 3_600_000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _eight_hourly(rates: list[float], start: int = T0) -> RateSeries:
    return RateSeries(start + H8 * np.arange(len(rates)), np.array(rates), np.float64(8.0))


# --- the sign rule ---------------------------------------------------------------------------


def test_short_receives_positive_rate_as_the_funding_module_says():
    cash = short_funding(np.array([0.0001, -0.0002, 0.0]))
    assert cash.tolist() == [0.0001, -0.0002, 0.0]  # short of 1 notional receives +rate
    assert describe_for_short(0.0001).startswith("short hedge earns")
    assert describe_for_short(-0.0002).startswith("short hedge pays")


# --- a tiny hand-computed case ---------------------------------------------------------------

HAND = [1e-4, -2e-4, -3e-4, 0.5e-4, 4e-4, -1e-4, -1e-4, -1e-4]


def test_hand_case_every_statistic():
    s = carry_stats(_eight_hourly(HAND))
    # mean = (1 - 2 - 3 + 0.5 + 4 - 1 - 1 - 1) / 8 * 1e-4 = -2.5e-4 / 8 = -0.3125e-4
    assert s.mean_rate == pytest.approx(-0.3125e-4, rel=1e-12)
    assert s.apr == pytest.approx(-0.3125e-4 * 3 * 365, rel=1e-12)  # -3.421875 %
    assert s.apy == pytest.approx((1 - 0.3125e-4) ** 1095 - 1, rel=1e-12)
    assert s.negative_share == 5 / 8
    assert s.total_short_funding == pytest.approx(-2.5e-4, rel=1e-12)
    # 1-day windows hold 3 settlements: sums (1e-4) -4, -4.5, 1.5, 3.5, 2, -3 -> worst -4.5
    # ending at event 3, starting at event 1
    assert s.worst_1d is not None
    assert s.worst_1d.total == pytest.approx(-4.5e-4, rel=1e-12)
    assert (s.worst_1d.start_ms, s.worst_1d.end_ms, s.worst_1d.count) == (T0 + H8, T0 + 3 * H8, 3)
    assert s.worst_7d is None  # 8 settlements = 2.67 days < 7 days
    # negative runs: [-2,-3] (2) and [-1,-1,-1] (3) -> the last, events 5..7
    streak = s.longest_negative_streak
    assert streak is not None
    assert (streak.count, streak.start_ms, streak.end_ms) == (3, T0 + 5 * H8, T0 + 7 * H8)
    assert streak.total == pytest.approx(-3e-4, rel=1e-12)


def test_positive_only_series_has_no_negative_streak_and_worst_day_is_smallest_income():
    s = carry_stats(_eight_hourly([1e-4, 2e-4, 3e-4, 1e-4]))
    assert s.longest_negative_streak is None
    assert s.negative_share == 0.0
    assert s.worst_1d is not None
    assert s.worst_1d.total == pytest.approx(6e-4)  # min(1+2+3, 2+3+1) = 6 (1e-4)


def test_millisecond_jitter_keeps_three_settlements_per_day():
    ts = T0 + H8 * np.arange(6) + np.array([6, 0, 2, 1, 0, 9])  # Binance-style stamp jitter
    s = carry_stats(RateSeries(ts, np.array([-1e-4] * 6), np.float64(8.0)))
    assert s.worst_1d is not None
    assert s.worst_1d.count == 3
    assert s.worst_1d.total == pytest.approx(-3e-4)


def test_by_year_splits_on_utc_calendar_year():
    start = _ms("2023-12-31T08:00:00Z")
    report = carry_report(_eight_hourly([1e-4, 2e-4, 3e-4, 4e-4], start))
    assert sorted(report.by_year) == [2023, 2024]
    assert report.by_year[2023].n_intervals == 2  # 08:00 and 16:00 on 31 Dec
    assert report.by_year[2023].mean_rate == pytest.approx(1.5e-4)  # (1 + 2) / 2
    assert report.by_year[2024].mean_rate == pytest.approx(3.5e-4)  # (3 + 4) / 2
    assert calendar_year(np.array([start, start + 2 * H8])).tolist() == [2023, 2024]


# --- the shared real history (acceptance) -------------------------------------------------------


def _binance_btc(shared_data) -> tuple[list[int], list[float]]:
    path = shared_data / "funding" / "binance_btcusdt_funding.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [_ms(r["fundingTime"]) for r in rows], [float(r["fundingRate"]) for r in rows]


def test_binance_btcusdt_by_year_apr_equals_plain_csv_arithmetic(shared_data):
    ts, rates = _binance_btc(shared_data)
    report = carry_report(RateSeries(np.array(ts), np.array(rates), np.float64(8.0)))
    by_year: dict[int, list[float]] = {}
    for t, r in zip(ts, rates, strict=True):
        by_year.setdefault(datetime.fromtimestamp(t / 1000, UTC).year, []).append(r)
    assert sorted(report.by_year) == sorted(by_year) == list(range(2019, 2027))
    for year, year_rates in by_year.items():
        plain = sum(year_rates) / len(year_rates) * 3 * 365
        assert report.by_year[year].apr == pytest.approx(plain, rel=0, abs=1e-12), year
        assert report.by_year[year].n_intervals == len(year_rates)


def test_binance_btcusdt_matches_the_documented_yearly_figures(shared_data):
    # shared/data/PROVENANCE.md: "2019 7.5 % | 2020 17.2 % | 2021 30.6 % | 2022 4.2 % | 2023 7.9 %
    # | 2024 11.9 % | 2025 5.1 % | 2026 H1 1.1 %", 14.7 % negative overall
    ts, rates = _binance_btc(shared_data)
    report = carry_report(RateSeries(np.array(ts), np.array(rates), np.float64(8.0)))
    documented = {2019: 7.5, 2020: 17.2, 2021: 30.6, 2022: 4.2, 2023: 7.9, 2024: 11.9}
    documented |= {2025: 5.1, 2026: 1.1}
    for year, pct in documented.items():
        assert abs(report.by_year[year].apr * 100 - pct) <= 0.05 + 1e-9, year
    assert round(report.overall.negative_share * 100, 1) == 14.7
    assert round(report.by_year[2022].negative_share * 100) == 22
    # worst day: 13 March 2020, the -0.30 % floor hit; the short paid 0.44 % of notional in a day
    worst = report.overall.worst_1d
    assert worst is not None
    assert datetime.fromtimestamp(worst.end_ms / 1000, UTC).date().isoformat() == "2020-03-14"
    assert worst.total == pytest.approx(-0.00441799, abs=1e-10)


def _hyperliquid_sol(shared_data) -> tuple[np.ndarray, np.ndarray]:
    path = shared_data / "funding" / "hyperliquid_sol_funding_1h.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        np.array([int(r["time"]) for r in rows], dtype=np.int64),
        np.array([float(r["fundingRate"]) for r in rows]),
    )


def test_hourly_series_annualises_with_24_times_365(shared_data):
    ts, rates = _hyperliquid_sol(shared_data)
    hourly = ts >= _ms("2023-06-09T00:00:00Z")  # hourly cadence from 2023-06-08 on
    s = carry_stats(RateSeries(ts[hourly], rates[hourly], np.float64(1.0)))
    plain = float(sum(rates[hourly].tolist())) / int(hourly.sum()) * 24 * 365
    assert s.apr == pytest.approx(plain, rel=1e-12)
    assert s.worst_1d is not None
    assert s.worst_1d.count == 24  # a day of hourly settlements


def test_mixed_interval_series_annualises_by_hours_covered(shared_data):
    ts, rates = _hyperliquid_sol(shared_data)
    hours = np.where(ts < _ms("2023-06-08T12:00:00Z"), 8.0, 1.0)
    s = carry_stats(RateSeries(ts, rates, hours))
    # sum of rates / sum of hours covered * 8760 (not mean * 8760 / 8 nor / 1)
    plain = float(sum(rates.tolist())) / float(sum(hours.tolist())) * 8760
    assert s.apr == pytest.approx(plain, rel=1e-12)


# --- venue comparison --------------------------------------------------------------------------


def test_venues_ranked_by_short_carry_over_their_common_window():
    a = _eight_hourly([1e-4] * 6)
    b = _eight_hourly([5e-4, 5e-4, -1e-4, -1e-4, -1e-4, -1e-4, 4e-4], T0 - 2 * H8)
    cmp = compare_venues({"b": b, "a": a})
    assert cmp.common
    assert (cmp.since_ms, cmp.until_ms) == (T0, T0 + 4 * H8)  # overlap of the two histories
    # over the overlap a has 5 x 1e-4 -> 1e-4 * 1095 = 10.95 %; b has its events 2..6 =
    # -1, -1, -1, -1, +4 (1e-4) -> mean 0 -> 0 %, 4 of 5 negative (b's +5e-4 days are outside)
    assert [row.venue for row in cmp.ranking] == ["a", "b"]
    assert cmp.ranking[0].apr == pytest.approx(0.1095, rel=1e-12)
    assert cmp.ranking[1].apr == pytest.approx(0.0, abs=1e-15)
    assert cmp.ranking[1].negative_share == pytest.approx(4 / 5)
    assert cmp.ranking[1].n_intervals == 5


def test_disjoint_histories_rank_one_venue_and_list_the_other_over_its_own_period():
    old = _eight_hourly([3e-4] * 3)
    recent = _eight_hourly([-1e-4] * 3, T0 + 100 * H8)
    cmp = compare_venues({"recent": recent, "old": old})
    # no overlap: equal spans and counts, so the more recent history is the one ranked
    assert not cmp.common
    assert [row.venue for row in cmp.ranking] == ["recent"]
    assert (cmp.since_ms, cmp.until_ms) == (T0 + 100 * H8, T0 + 102 * H8)
    (aside,) = cmp.set_aside
    assert (aside.venue, aside.n_intervals) == ("old", 3)
    assert (aside.first_ms, aside.last_ms) == (T0, T0 + 2 * H8)
    assert aside.apr == pytest.approx(3e-4 * 1095, rel=1e-12)  # over its own period: 32.85 %


def _long(rate: float, days: int, start: int = T0) -> RateSeries:
    return _eight_hourly([rate] * (3 * days), start)


def test_a_handful_of_settlements_never_collapses_the_common_window_of_the_others():
    a = _long(1e-4, 200)  # T0 .. T0 + 599 x 8 h
    b = _long(2e-4, 100, T0 + 30 * 3 * H8)  # from day 30 to day 129
    few = _eight_hourly([5e-4, -1e-4], T0 + 60 * 3 * H8)  # 2 settlements on day 60
    cmp = compare_venues({"a": a, "b": b, "few": few})
    assert cmp.common
    # a and b overlap over b's whole history: day 30 00:00 .. day 129 16:00
    assert (cmp.since_ms, cmp.until_ms) == (T0 + 90 * H8, T0 + 389 * H8)
    assert [row.venue for row in cmp.ranking] == ["b", "a"]  # 2e-4 x 1095 = 21.9 % > 10.95 %
    assert [row.n_intervals for row in cmp.ranking] == [300, 300]  # 100 days x 3
    (aside,) = cmp.set_aside
    assert (aside.venue, aside.n_intervals) == ("few", 2)
    assert (aside.first_ms, aside.last_ms) == (T0 + 180 * H8, T0 + 181 * H8)
    # its own period: mean (5e-4 - 1e-4) / 2 = 2e-4 -> 21.9 % APR; 1 of 2 negative
    assert aside.apr == pytest.approx(2e-4 * 1095, rel=1e-12)
    assert aside.negative_share == 0.5


def test_a_single_settlement_and_a_non_overlapping_venue_are_both_set_aside():
    a = _long(1e-4, 60)
    b = _long(3e-4, 60, T0 + 10 * 3 * H8)
    one = _eight_hourly([1e-3], T0 + 20 * 3 * H8)  # one settlement inside the overlap
    later = _long(-2e-4, 40, T0 + 400 * 3 * H8)  # 400 days on: no overlap
    cmp = compare_venues({"a": a, "b": b, "one": one, "later": later})
    assert [row.venue for row in cmp.ranking] == ["b", "a"]
    assert (cmp.since_ms, cmp.until_ms) == (T0 + 30 * H8, T0 + 179 * H8)  # days 10 .. 59
    assert {row.venue for row in cmp.set_aside} == {"one", "later"}
    assert [row.venue for row in cmp.set_aside] == ["one", "later"]  # best APR first
    every = {row.venue for row in (*cmp.ranking, *cmp.set_aside)}
    assert every == {"a", "b", "one", "later"}  # every venue with data appears


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "rate", "hours", "field"),
    [
        ([1, 2], [0.1, float("nan")], 8.0, "rate"),
        ([2, 1], [0.1, 0.1], 8.0, "ts_ms"),
        ([1, 2], [0.1], 8.0, "rate"),
        ([1, 2], [0.1, 0.2], 0.0, "interval_hours"),
    ],
)
def test_bad_series_is_refused_naming_the_field(ts, rate, hours, field):
    with pytest.raises(InputError) as bad:
        RateSeries(np.array(ts), np.array(rate), np.float64(hours))
    assert bad.value.field == field


def test_empty_series_has_no_statistics():
    with pytest.raises(InputError, match="no funding settlements"):
        carry_stats(_eight_hourly([]))
    with pytest.raises(InputError):
        compare_venues({})


# --- invariants ------------------------------------------------------------------------------


@settings(max_examples=150)
@given(rates=funding_rate_arrays(min_size=1, max_size=60), start_day=st.integers(0, 2000))
def test_invariants_of_carry_statistics(rates, start_day):
    series = _eight_hourly(rates, T0 + start_day * 3 * H8)
    report = carry_report(series)
    s = report.overall
    assert s.apr == pytest.approx(float(np.mean(rates)) * 1095, rel=1e-9, abs=1e-15)
    assert 0.0 <= s.negative_share <= 1.0
    assert sum(y.n_intervals for y in report.by_year.values()) == len(rates)
    assert sum(y.total_short_funding for y in report.by_year.values()) == pytest.approx(
        s.total_short_funding, abs=1e-12
    )
    if len(rates) >= 3:  # a full day: the worst is the minimum over 3 consecutive settlements
        sums = [sum(rates[i - 2 : i + 1]) for i in range(2, len(rates))]
        assert s.worst_1d is not None
        assert s.worst_1d.total == pytest.approx(min(sums), abs=1e-12)
    else:
        assert s.worst_1d is None
    longest, run = 0, 0
    for r in rates:
        run = run + 1 if r < 0 else 0
        longest = max(longest, run)
    streak = s.longest_negative_streak
    assert (0 if streak is None else streak.count) == longest
    if streak is not None:
        first = (streak.start_ms - int(series.ts_ms[0])) // H8
        assert all(r < 0 for r in rates[first : first + streak.count])


def test_hourly_and_eight_hourly_venues_compare_on_apr_not_on_rate_per_interval():
    # 0.002 % per hour = 17.52 % APR beats 0.01 % per 8 h = 10.95 % APR, though its rate is smaller
    hourly = RateSeries(T0 + 3_600_000 * np.arange(48), np.full(48, 2e-5), np.float64(1.0))
    eight = _eight_hourly([1e-4] * 6)
    cmp = compare_venues({"eight": eight, "hourly": hourly})
    assert [row.venue for row in cmp.ranking] == ["hourly", "eight"]
    assert cmp.ranking[0].apr == pytest.approx(2e-5 * 24 * 365, rel=1e-12)
    assert cmp.ranking[1].apr == pytest.approx(1e-4 * 3 * 365, rel=1e-12)
    assert cmp.ranking[0].n_intervals == 41  # hours T0 .. T0 + 40 h, the last 8-hourly settlement


@settings(max_examples=100)
@given(spans=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 400)), min_size=1, max_size=6))
def test_every_venue_appears_once_and_the_ranked_ones_share_the_window(spans):
    histories = {
        f"v{i}": _eight_hourly([1e-4 * (i + 1)] * n, T0 + start * H8)
        for i, (start, n) in enumerate(spans)
    }
    cmp = compare_venues(histories)
    names = [row.venue for row in (*cmp.ranking, *cmp.set_aside)]
    assert sorted(names) == sorted(histories)  # every venue with data, exactly once
    assert cmp.ranking and cmp.common == (len(cmp.ranking) > 1)
    for row in cmp.ranking:  # each ranked venue is counted over exactly the common window
        series = histories[row.venue].between(cmp.since_ms, cmp.until_ms)
        assert row.n_intervals == len(series) > 0
        assert cmp.since_ms <= row.first_ms <= row.last_ms <= cmp.until_ms
    for row in cmp.set_aside:  # the others over their own whole period
        assert row.n_intervals == len(histories[row.venue])
    span = cmp.until_ms - cmp.since_ms
    ranked = [histories[row.venue] for row in cmp.ranking]
    if len(ranked) > 1 and span < 30 * 24 * 3_600_000:
        # a short window is kept only if no single venue's absence would more than double it
        for k in range(len(ranked)):
            rest = ranked[:k] + ranked[k + 1 :]
            alt = min(int(h.ts_ms[-1]) for h in rest) - max(int(h.ts_ms[0]) for h in rest)
            assert span >= 0.5 * alt
