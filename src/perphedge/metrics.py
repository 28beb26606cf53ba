"""Performance and risk metrics of equity curves: flat, pure functions.

Inputs: `equity` is a 1-D float64 array of portfolio values in USD (one per bar, ascending time);
`times_ms` the bars' int64 epoch milliseconds. Period statistics use the closes of UTC periods of
`period_ms` (default one day): the first equity value is the opening value, then the last value
in each period. Years have 365 days (crypto trades every day).

Units: returns, drawdowns, VaR/CVaR and effectiveness are fractions (0.05 = 5 %); drawdowns are
negative or zero; VaR and CVaR are losses, positive numbers.
NaN policy: a metric that is not defined for the input (fewer than two periods, no variance,
non-positive starting equity, no up-period) returns NaN rather than raising; NaN inside the
equity propagates.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365.0


def total_return(equity: FloatArray) -> float:
    """Last / first - 1; NaN when the first value is not positive."""
    first = float(equity[0])
    return float(equity[-1]) / first - 1.0 if first > 0 else math.nan


def drawdown_curve(equity: FloatArray) -> FloatArray:
    """Equity / running maximum - 1 at each point (<= 0)."""
    peak = np.maximum.accumulate(equity)
    out: FloatArray = equity / peak - 1.0
    return out


def max_drawdown(equity: FloatArray) -> float:
    """Deepest fall from a running peak, as a negative fraction (0 when never below a peak)."""
    return float(drawdown_curve(equity).min())


def period_closes(
    equity: FloatArray, times_ms: IntArray, period_ms: int = MS_PER_DAY
) -> FloatArray:
    """Opening value, then the last value of each UTC period of `period_ms`.

    A time is the instant a value applies at (a bar's close), so a value at 00:00 UTC closes the
    day before it: periods are (start, end], `_period`. The opening value is the first bar's; it
    is left out when that bar is already the close of its period (so no spurious zero return is
    added).
    """
    return equity[_close_index(_period(times_ms, period_ms))]


def _period(times_ms: IntArray, period_ms: int) -> IntArray:
    """The UTC period each time closes: (k x period, (k + 1) x period] -> k."""
    out: IntArray = (times_ms - 1) // period_ms
    return out


def _close_index(period: IntArray) -> IntArray:
    """Index of the first bar (if it is not its period's last) and of each period's last bar."""
    last = np.concatenate((np.flatnonzero(np.diff(period) != 0), [period.size - 1]))
    index: IntArray = last if last[0] == 0 else np.concatenate(([0], last))
    return index


def statistics_bars(times_ms: IntArray) -> IntArray:
    """The bars the period statistics read (first, daily and monthly closes, last): equity kept
    at these bars alone gives the same volatility, VaR, worst month, hedge effectiveness, upside
    and total return as every bar (the maximum drawdown needs every bar)."""
    days = _close_index(_period(times_ms, MS_PER_DAY))
    out: IntArray = np.union1d(days, _close_index(_months(times_ms))).astype(np.int64)
    return out


def _months(times_ms: IntArray) -> IntArray:
    """The UTC calendar month each time closes (months since 1970; 00:00 on the 1st closes the
    month before, as `_period`)."""
    out: IntArray = (times_ms - 1).astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    return out


def period_returns(
    equity: FloatArray, times_ms: IntArray, period_ms: int = MS_PER_DAY
) -> FloatArray:
    """Simple returns between consecutive period closes."""
    closes = period_closes(equity, times_ms, period_ms)
    out: FloatArray = closes[1:] / closes[:-1] - 1.0
    return out


def annualised_volatility(
    equity: FloatArray, times_ms: IntArray, period_ms: int = MS_PER_DAY
) -> float:
    """Sample standard deviation of period returns x sqrt(periods per year); NaN below 2 periods."""
    rets = period_returns(equity, times_ms, period_ms)
    if rets.size < 2:
        return math.nan
    per_year = DAYS_PER_YEAR * MS_PER_DAY / period_ms
    return float(np.std(rets, ddof=1) * math.sqrt(per_year))


def worst_month(equity: FloatArray, times_ms: IntArray) -> float:
    """Lowest return over a UTC calendar month (partial first/last months included)."""
    closes = equity[_close_index(_months(times_ms))]
    if closes.size < 2:
        return math.nan
    return float((closes[1:] / closes[:-1] - 1.0).min())


def var_cvar(
    equity: FloatArray, times_ms: IntArray, level: float = 0.95, period_ms: int = MS_PER_DAY
) -> tuple[float, float]:
    """Historical value at risk and conditional VaR of one period's return at `level`.

    VaR = -(the (1 - level) quantile of period returns, linear interpolation);
    CVaR = -(mean of the returns at or below that quantile). Both NaN below 2 periods.
    """
    rets = period_returns(equity, times_ms, period_ms)
    if rets.size < 2:
        return math.nan, math.nan
    cut = float(np.quantile(rets, 1.0 - level))
    return -cut, -float(rets[rets <= cut].mean())


def _period_changes(equity: FloatArray, times_ms: IntArray, period_ms: int) -> FloatArray:
    out: FloatArray = np.diff(period_closes(equity, times_ms, period_ms))
    return out


def hedge_effectiveness(
    hedged: FloatArray, unhedged: FloatArray, times_ms: IntArray, period_ms: int = MS_PER_DAY
) -> float:
    """Variance reduction of period USD changes: 1 - Var(hedged) / Var(unhedged) (Ederington).

    1 = all variance removed, 0 = none, negative = the hedge added variance. NaN when the
    unhedged changes have no variance or there are fewer than 2 periods.
    """
    dh = _period_changes(hedged, times_ms, period_ms)
    du = _period_changes(unhedged, times_ms, period_ms)
    if du.size < 2:
        return math.nan
    var_u = float(np.var(du, ddof=1))
    return 1.0 - float(np.var(dh, ddof=1)) / var_u if var_u > 0 else math.nan


def upside_given_up(
    hedged: FloatArray, unhedged: FloatArray, times_ms: IntArray, period_ms: int = MS_PER_DAY
) -> float:
    """Share of the unhedged portfolio's up-period gains that the hedged one did not keep.

    1 - sum(hedged change) / sum(unhedged change) over periods where the unhedged change > 0.
    ~1 for a full hedge, 0 for none; NaN when there is no up-period.
    """
    dh = _period_changes(hedged, times_ms, period_ms)
    du = _period_changes(unhedged, times_ms, period_ms)
    up = du > 0
    if not up.any():
        return math.nan
    return 1.0 - float(dh[up].sum()) / float(du[up].sum())
