"""Performance and risk metrics: hand-computed values and the NaN policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from perphedge import metrics

DAY = metrics.MS_PER_DAY


def daily(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Equity sampled at noon of consecutive UTC days."""
    times = np.arange(len(values), dtype=np.int64) * DAY + DAY // 2
    return np.array(values, dtype=np.float64), times


def test_total_return_and_drawdown() -> None:
    assert metrics.total_return(np.array([100.0, 110.0, 99.0])) == pytest.approx(-0.01)
    eq = np.array([100.0, 120.0, 90.0, 130.0])
    assert metrics.max_drawdown(eq) == pytest.approx(90 / 120 - 1)  # -25 %
    assert metrics.drawdown_curve(eq).tolist() == pytest.approx([0.0, 0.0, -0.25, 0.0])
    assert math.isnan(metrics.total_return(np.array([0.0, 1.0])))


def test_period_closes_take_the_last_value_of_each_day() -> None:
    times = np.array([0, 3_600_000, DAY + 1, DAY + 2, 2 * DAY, 2 * DAY + 1], dtype=np.int64)
    eq = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    # a value at 00:00 closes the day before: 1 (time 0) closes day -1, day 0 closes at 2
    # (01:00), day 1 at 5 (the 00:00 of day 2), day 2 at 6
    assert metrics.period_closes(eq, times).tolist() == [1.0, 2.0, 5.0, 6.0]


def test_eight_hour_bars_close_their_day_at_midnight() -> None:
    # bars at 08:00, 16:00, 00:00: the 00:00 value is the day's close, not the next day's open
    times = np.array([8, 16, 24, 32, 40, 48], dtype=np.int64) * 3_600_000
    eq = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert metrics.period_closes(eq, times).tolist() == [1.0, 3.0, 6.0]


def test_annualised_volatility_of_daily_returns() -> None:
    eq, times = daily([100.0, 100.0, 110.0, 99.0, 108.9])
    # daily returns 0, +10 %, -10 %, +10 %: mean 0.025, squared deviations
    # 0.000625 + 0.005625 + 0.015625 + 0.005625 = 0.0275, sample variance 0.0275 / 3
    expected = math.sqrt(0.0275 / 3) * math.sqrt(365)
    assert metrics.annualised_volatility(eq, times) == pytest.approx(expected)
    assert math.isnan(metrics.annualised_volatility(*daily([100.0, 101.0])))


def test_worst_month_is_the_lowest_calendar_month_return() -> None:
    days = [datetime(2024, 1, 15), datetime(2024, 1, 31), datetime(2024, 2, 20)]
    days += [datetime(2024, 3, 5)]
    times = np.array([int(d.replace(tzinfo=UTC).timestamp() * 1000) for d in days])
    eq = np.array([100.0, 120.0, 90.0, 99.0])
    # January: 100 -> 120 (+20 %), February: 120 -> 90 (-25 %), March: 90 -> 99 (+10 %)
    assert metrics.worst_month(eq, times) == pytest.approx(-0.25)


def test_historical_var_and_cvar() -> None:
    eq, times = daily([100.0, 90.0, 99.0, 89.1, 98.01, 97.0299])
    # returns -10 %, +10 %, -10 %, +10 %, -1 %; 5 % quantile (linear): sorted
    # [-0.1, -0.1, -0.01, 0.1, 0.1], position 0.05 x 4 = 0.2 -> -0.1; mean of returns <= it: -0.1
    var, cvar = metrics.var_cvar(eq, times, level=0.95)
    assert var == pytest.approx(0.1)
    assert cvar == pytest.approx(0.1)
    # 50 % level: position 2 -> -0.01; mean of [-0.1, -0.1, -0.01] = -0.07
    var50, cvar50 = metrics.var_cvar(eq, times, level=0.5)
    assert (var50, cvar50) == pytest.approx((0.01, 0.07))


def test_hedge_effectiveness_and_upside_given_up() -> None:
    unhedged, times = daily([100.0, 110.0, 104.5, 120.0, 111.0])
    flat = np.full(5, 100.0)
    assert metrics.hedge_effectiveness(flat, unhedged, times) == 1.0
    assert metrics.hedge_effectiveness(unhedged, unhedged, times) == 0.0
    assert metrics.upside_given_up(flat, unhedged, times) == 1.0
    assert metrics.upside_given_up(unhedged, unhedged, times) == 0.0
    half = 50.0 + unhedged / 2  # keeps half of every move
    assert metrics.hedge_effectiveness(half, unhedged, times) == pytest.approx(0.75)  # 1 - 1/4
    assert metrics.upside_given_up(half, unhedged, times) == pytest.approx(0.5)
    falling, _ = daily([100.0, 90.0, 80.0, 70.0, 60.0])
    assert math.isnan(metrics.upside_given_up(falling, falling, times))
