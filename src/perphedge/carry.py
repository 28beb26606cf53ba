"""Funding carry statistics of a short perpetual hedge: pure functions over funding-rate arrays.

Units, everywhere in this module:
* `ts_ms`: int64 epoch milliseconds (UTC) of each funding settlement, strictly ascending.
* `rate`: float64 fraction of notional per funding interval (0.0001 = 0.01 % per interval), in the
  exchanges' sign: positive means longs pay shorts.
* `interval_hours`: float64 hours covered by each settlement (8 for Binance BTCUSDT, 1 for hourly
  venues); a scalar is broadcast to every event.
* "short funding" is what a short of 1 unit of notional receives per event, from
  `perphedge.funding.funding_payments` (the one place the sign lives): +rate, so a positive rate is
  income for the hedge and a negative one a cost.
* Cumulative figures (worst 1-day / 7-day) are fractions of notional: -0.003 means the short paid
  0.3 % of its notional over that window.

NaN policy: `RateSeries` refuses NaN or infinite rates and intervals (InputError naming the field),
so every statistic below is computed on finite numbers. The low-level array functions assume
validated input and propagate NaN if given it. Statistics of an empty window are None (no NaN in
results). Missing settlements (gaps) count as no funding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perphedge.errors import InputError
from perphedge.funding import SIGN_RULE, apr, apy, funding_payments

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
JITTER_MS = (
    60_000  # settlement stamps drift by a few ms (Binance 08:00:00.006); windows allow 1 min
)

SHORT_SIDE_NOTE = (
    f"{SIGN_RULE}. Figures are for the SHORT hedge: + is funding received, - funding paid; "
    "'worst' windows are the most negative cumulative short-side funding."
)


@dataclass(frozen=True, eq=False)
class RateSeries:
    """One venue's funding history for one perpetual, validated at construction."""

    ts_ms: IntArray
    rate: FloatArray
    interval_hours: FloatArray

    def __post_init__(self) -> None:
        ts = np.asarray(self.ts_ms, dtype=np.int64)
        rate = np.asarray(self.rate, dtype=np.float64)
        hours = np.broadcast_to(np.asarray(self.interval_hours, dtype=np.float64), rate.shape)
        if ts.ndim != 1 or ts.shape != rate.shape:
            raise InputError("rate", rate.shape, f"give one rate per timestamp ({ts.shape[0]})")
        if ts.size and np.any(np.diff(ts) <= 0):
            raise InputError("ts_ms", "unsorted", "timestamps must be strictly ascending")
        if not np.all(np.isfinite(rate)):
            raise InputError("rate", "NaN", "funding rates must be finite numbers")
        if not (np.all(np.isfinite(hours)) and np.all(hours > 0)):
            raise InputError("interval_hours", "NaN/<=0", "give each interval in hours, > 0")
        object.__setattr__(self, "ts_ms", ts)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "interval_hours", np.array(hours, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.ts_ms.size)

    def between(self, since_ms: int | None = None, until_ms: int | None = None) -> RateSeries:
        """Events with since_ms <= ts <= until_ms (either bound optional)."""
        keep = np.ones(self.ts_ms.shape, dtype=bool)
        if since_ms is not None:
            keep &= self.ts_ms >= since_ms
        if until_ms is not None:
            keep &= self.ts_ms <= until_ms
        return RateSeries(self.ts_ms[keep], self.rate[keep], self.interval_hours[keep])


@dataclass(frozen=True)
class Window:
    """A stretch of consecutive settlements: its cumulative short funding and first/last event."""

    total: float  # fraction of notional received by the short (negative: paid)
    start_ms: int
    end_ms: int
    count: int


@dataclass(frozen=True)
class CarryStats:
    """Carry of a short hedge over one period. Rates per interval; apr/apy per year."""

    n_intervals: int
    first_ms: int
    last_ms: int
    interval_hours: float  # mean hours per settlement (the series' own interval)
    mean_rate: float  # mean rate per interval (exchange sign)
    apr: float  # simple annualisation, funding.apr
    apy: float  # compounded, funding.apy
    negative_share: float  # share of settlements where the short paid
    total_short_funding: float  # sum of short funding, fraction of notional
    worst_1d: Window | None  # most negative 1-day cumulative short funding
    worst_7d: Window | None
    longest_negative_streak: Window | None  # most consecutive settlements the short paid


@dataclass(frozen=True)
class CarryReport:
    """Whole-period statistics and the same statistics by calendar year (UTC)."""

    overall: CarryStats
    by_year: Mapping[int, CarryStats] = field(default_factory=dict)


def short_funding(rate: FloatArray) -> FloatArray:
    """Funding received per event by a short of 1 unit of notional (mark 1), via funding's sign rule."""
    return funding_payments(np.full(rate.shape, -1.0), np.ones(rate.shape), rate)


def mean_rate(rate: FloatArray) -> float:
    """Arithmetic mean rate per interval (exchange sign); NaN for an empty array."""
    return float(np.mean(rate))


def mean_interval_hours(interval_hours: FloatArray) -> float:
    """Mean hours per settlement; for a constant interval this is that interval exactly."""
    return float(np.mean(interval_hours))


def annualised(rate: FloatArray, interval_hours: FloatArray) -> tuple[float, float]:
    """(APR, APY) of the mean rate at the series' own interval.

    APR = funding.apr(mean rate, mean interval) = sum(rate) / sum(hours) * 8760, which for a
    constant 8 h interval is mean * 3 * 365 and stays right when a venue changes its interval.
    """
    hours = mean_interval_hours(interval_hours)
    mean = mean_rate(rate)
    return apr(mean, hours), apy(mean, hours)


def negative_share(short_cash: FloatArray) -> float:
    """Share (0..1) of settlements at which the short paid funding (short cash < 0)."""
    return float(np.count_nonzero(short_cash < 0) / short_cash.size)


def worst_window(
    ts_ms: IntArray, short_cash: FloatArray, interval_hours: FloatArray, window_ms: int
) -> Window | None:
    """Most negative sum of short funding over any `window_ms` ending at a settlement.

    A window ending at event i holds the events with ts in (ts_i - window_ms, ts_i], give or take
    JITTER_MS (so a 1-day window of an 8 h series holds 3 settlements); only windows lying wholly
    inside the series count (they start no earlier than the first interval). None when the series
    is shorter than the window.
    """
    if ts_ms.size == 0:
        return None
    cum = np.concatenate(([0.0], np.cumsum(short_cash)))
    left = ts_ms - window_ms + JITTER_MS
    first = np.searchsorted(ts_ms, left, side="right")
    sums = cum[1:] - cum[first]
    series_start = ts_ms[0] - round(float(interval_hours[0]) * MS_PER_HOUR)
    valid = left >= series_start
    if not np.any(valid):
        return None
    end = int(np.flatnonzero(valid)[np.argmin(sums[valid])])
    start = int(first[end])
    return Window(float(sums[end]), int(ts_ms[start]), int(ts_ms[end]), end - start + 1)


def longest_negative_streak(ts_ms: IntArray, short_cash: FloatArray) -> Window | None:
    """Longest run of consecutive settlements at which the short paid; earliest wins ties.

    None when the short never paid.
    """
    negative = np.concatenate(([0], (short_cash < 0).astype(np.int8), [0]))
    edges = np.diff(negative)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # one past the last negative event of each run
    if starts.size == 0:
        return None
    k = int(np.argmax(ends - starts))
    first, last = int(starts[k]), int(ends[k]) - 1
    total = float(np.sum(short_cash[first : last + 1]))
    return Window(total, int(ts_ms[first]), int(ts_ms[last]), last - first + 1)


def calendar_year(ts_ms: IntArray) -> IntArray:
    """UTC calendar year of each epoch-ms timestamp."""
    years = ts_ms.astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64) + 1970
    return np.asarray(years, dtype=np.int64)


def carry_stats(series: RateSeries) -> CarryStats:
    """All carry statistics of one series; InputError if it has no settlements."""
    if len(series) == 0:
        raise InputError("range", "empty", "the period holds no funding settlements; widen it")
    cash = short_funding(series.rate)
    year_apr, year_apy = annualised(series.rate, series.interval_hours)
    ts, hours = series.ts_ms, series.interval_hours
    return CarryStats(
        n_intervals=len(series),
        first_ms=int(ts[0]),
        last_ms=int(ts[-1]),
        interval_hours=mean_interval_hours(hours),
        mean_rate=mean_rate(series.rate),
        apr=year_apr,
        apy=year_apy,
        negative_share=negative_share(cash),
        total_short_funding=float(np.sum(cash)),
        worst_1d=worst_window(ts, cash, hours, MS_PER_DAY),
        worst_7d=worst_window(ts, cash, hours, 7 * MS_PER_DAY),
        longest_negative_streak=longest_negative_streak(ts, cash),
    )


def carry_by_year(series: RateSeries) -> dict[int, CarryStats]:
    """`carry_stats` of each UTC calendar year present in the series (partial years included)."""
    years = calendar_year(series.ts_ms)
    out: dict[int, CarryStats] = {}
    for year in np.unique(years):
        keep = years == year
        part = RateSeries(series.ts_ms[keep], series.rate[keep], series.interval_hours[keep])
        out[int(year)] = carry_stats(part)
    return out


def carry_report(series: RateSeries) -> CarryReport:
    """Whole-period and by-year carry statistics of one series."""
    return CarryReport(carry_stats(series), carry_by_year(series))


# A venue is set aside from the comparison when, with it, the common window would be shorter
# than MIN_COMMON_DAYS and shorter than SET_ASIDE_FACTOR x the window the others share without
# it: a handful of settlements, or a history that barely meets the others', never collapses the
# window of the rest (two short synthetic series of similar length still compare).
MIN_COMMON_DAYS = 30
SET_ASIDE_FACTOR = 0.5


@dataclass(frozen=True)
class VenueCarry:
    """One venue's carry over the comparison window (or its own period when set aside)."""

    venue: str
    apr: float
    negative_share: float
    worst_7d: float | None
    n_intervals: int
    first_ms: int  # first and last settlement counted
    last_ms: int


@dataclass(frozen=True)
class VenueComparison:
    """Venues ranked from best to worst place to hold the short hedge (highest APR first).

    Every ranked venue is measured over the same window [since_ms, until_ms], the overlap of
    their histories; `common` is True when at least two venues share it (one venue alone is
    ranked over its own history). `set_aside` lists every other venue with data, each over its
    own whole period: too few settlements, or too little overlap with the ranked ones, to
    compare (see MIN_COMMON_DAYS).
    """

    ranking: tuple[VenueCarry, ...]
    since_ms: int
    until_ms: int
    common: bool
    set_aside: tuple[VenueCarry, ...] = ()


def _overlap(histories: Mapping[str, RateSeries], names: Sequence[str]) -> tuple[int, int] | None:
    """[latest first settlement, earliest last settlement] of `names`, None when some venue has
    no settlement inside it."""
    since = max(int(histories[n].ts_ms[0]) for n in names)
    until = min(int(histories[n].ts_ms[-1]) for n in names)
    if since > until:
        return None
    if any(len(histories[n].between(since, until)) == 0 for n in names):
        return None
    return since, until


def _span(window: tuple[int, int] | None) -> int:
    return -1 if window is None else window[1] - window[0]


def comparable_venues(histories: Mapping[str, RateSeries]) -> list[str]:
    """The venues ranked together: set aside, one at a time, the venue whose absence leaves the
    longest common window (ties: fewer settlements, then the older history, then the later
    name) while the window is missing or too short (see MIN_COMMON_DAYS)."""
    names = sorted(histories)
    while len(names) > 1:
        span = _span(_overlap(histories, names))
        without = {n: _span(_overlap(histories, [m for m in names if m != n])) for n in names}
        drop = max(
            names,
            key=lambda n: (without[n], -len(histories[n]), -int(histories[n].ts_ms[-1]), n),
        )
        short = span < MIN_COMMON_DAYS * MS_PER_DAY and span < SET_ASIDE_FACTOR * without[drop]
        if span >= 0 and not short:
            break
        names.remove(drop)
    return names


def _venue_carry(venue: str, series: RateSeries) -> VenueCarry:
    stats = carry_stats(series)
    worst = stats.worst_7d.total if stats.worst_7d is not None else None
    return VenueCarry(
        venue,
        stats.apr,
        stats.negative_share,
        worst,
        stats.n_intervals,
        stats.first_ms,
        stats.last_ms,
    )


def compare_venues(histories: Mapping[str, RateSeries]) -> VenueComparison:
    """Rank the comparable venues by the APR a short earns over their common window and list the
    others beside it over their own periods (see VenueComparison).

    Ties keep venue-name order. InputError if no venue or a venue without settlements is given.
    """
    if not histories or any(len(s) == 0 for s in histories.values()):
        raise InputError("venues", sorted(histories), "give at least one non-empty funding series")
    ranked = comparable_venues(histories)
    window = _overlap(histories, ranked)
    if window is None:  # a single venue: its whole history
        only = histories[ranked[0]]
        window = (int(only.ts_ms[0]), int(only.ts_ms[-1]))
    rows = [_venue_carry(v, histories[v].between(*window)) for v in ranked]
    rows.sort(key=lambda row: -row.apr)
    aside = [_venue_carry(v, histories[v]) for v in sorted(histories) if v not in ranked]
    aside.sort(key=lambda row: -row.apr)
    return VenueComparison(
        tuple(rows), window[0], window[1], common=len(rows) > 1, set_aside=tuple(aside)
    )
