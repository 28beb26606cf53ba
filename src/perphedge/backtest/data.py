"""Backtest inputs on one time grid: native price and funding series -> aligned arrays.

Pure: numpy arrays in, numpy arrays out; no I/O, no clock. The shell
(`perphedge.services.backtest_inputs`) reads the market store and hands the series here.

Rules (one place for each):

* **Grid.** The funding settlement times of the hedge instruments inside [since, until], floored
  to the minute (Binance stamps settlements a few milliseconds late), deduplicated and sorted.
  With the bundled Binance data that is 00:00, 08:00 and 16:00 UTC. When no hedge instrument
  has funding in the range, the grid is the close times of the spot series instead.
* **Prices at a grid time** (as-of): the close of the latest candle that has *closed* by then
  (candle open + interval <= t). A daily spot candle opened 2024-01-01 00:00 closes at
  2024-01-02 00:00, so it values the holdings from that instant until the next close: between
  daily closes spot is held at the last close. Nothing is interpolated.
* **Funding events** sit at their real settlement time with their real rate. The mark of an
  event is the mark the exchange reported with it; where the exchange did not report one, the
  as-of mark-price close at that time.
* **Mark high and low of a bar** (intrabar liquidation): the highest high and lowest low of the
  mark candles that closed within the bar (after the previous grid time, up to this one), never
  inside the bar's mark close (so a reported settlement mark off the candle close still lies
  within them); the close alone where no candle closed within the bar, and on the first bar.
  A mark candle longer than the grid step counts in the bar in which it closes. Where the
  last-trade series stands in for the mark, its highs and lows stand in too.
* **Perpetual price** (fills): the perpetual's last-trade close where the store has a fresh one
  (closed within one interval of the grid time), else the mark; it does not limit coverage.
* **Coverage.** The run starts at the first grid time every series covers and ends at the last;
  a range that the data cuts short is reported as a note. No grid time left -> DataError.
* **Gaps.** A step between consecutive native bars (or settlements) longer than the series'
  interval is a gap; each is reported with its dates. `strict=True` refuses data with gaps
  (DataError naming the first); otherwise the last known value carries across and a missed
  settlement simply pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perphedge.errors import DataError, InputError
from perphedge.units import utc_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def fmt_ms(ts_ms: int) -> str:
    """Epoch ms -> '2024-01-31 08:00' (UTC)."""
    return utc_text(ts_ms, "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class PriceInput:
    """One native candle series: `ts_ms` are candle open times, `close` their closes; `high` and
    `low` (optional) their highs and lows."""

    name: str  # e.g. "BTC spot 1d"
    ts_ms: IntArray
    close: FloatArray
    interval_ms: int
    high: FloatArray | None = None
    low: FloatArray | None = None

    def __post_init__(self) -> None:
        _check_series(self.name, self.ts_ms, self.close)
        for label in ("high", "low"):
            values = getattr(self, label)
            if values is not None and values.shape != self.close.shape:
                raise DataError(f"{self.name}: one {label} per candle expected")
        if self.interval_ms <= 0:
            raise InputError(
                f"{self.name}.interval_ms", self.interval_ms, "give a positive interval"
            )

    @property
    def close_ms(self) -> IntArray:
        """When each candle's close becomes known: open + interval."""
        result: IntArray = self.ts_ms + np.int64(self.interval_ms)
        return result


@dataclass(frozen=True)
class FundingInput:
    """One settlement series: time, rate per interval, exchange-reported mark (NaN if unknown)."""

    name: str  # e.g. "BTC/USDT:USDT funding"
    ts_ms: IntArray
    rate: FloatArray
    mark: FloatArray
    interval_hours: FloatArray  # the interval each rate covers (venues change it, e.g. 8h -> 1h)

    def __post_init__(self) -> None:
        _check_series(self.name, self.ts_ms, self.rate)
        for label in ("mark", "interval_hours"):
            if getattr(self, label).shape != self.rate.shape:
                raise DataError(f"{self.name}: one {label} per settlement expected")
        if self.rate.size and not bool(np.all(self.interval_hours > 0)):
            raise DataError(f"{self.name}: funding intervals must be positive hours")


@dataclass(frozen=True)
class InstrumentInputs:
    """What the backtest needs of one hedge instrument (a perpetual)."""

    funding: FundingInput
    mark: PriceInput
    perp: PriceInput | None = None


@dataclass(frozen=True)
class Gap:
    """Bars missing from one series between two present ones (candle open or settlement times)."""

    series: str
    last_before_ms: int
    first_after_ms: int
    missing: int

    @property
    def first_missing_ms(self) -> int:
        step = (self.first_after_ms - self.last_before_ms) // (self.missing + 1)
        return self.last_before_ms + step

    @property
    def last_missing_ms(self) -> int:
        step = (self.first_after_ms - self.last_before_ms) // (self.missing + 1)
        return self.first_after_ms - step

    def describe(self) -> str:
        """'ETH spot 1d: 1 bar missing at 2026-01-08 00:00' (or 'n bars missing from .. to ..')."""
        if self.missing == 1:
            return f"{self.series}: 1 bar missing at {fmt_ms(self.first_missing_ms)}"
        return (
            f"{self.series}: {self.missing} bars missing from {fmt_ms(self.first_missing_ms)} "
            f"to {fmt_ms(self.last_missing_ms)}"
        )


@dataclass(frozen=True)
class AlignedMarket:
    """Everything on one grid. Columns: spot per holding (K), instruments per hedge leg (J)."""

    times_ms: IntArray
    spot: FloatArray  # [T, K]
    perp: FloatArray  # [T, J]
    mark: FloatArray  # [T, J]
    funding_rate: FloatArray  # [T, J], 0 where no settlement
    funding_event: BoolArray  # [T, J]
    spot_names: tuple[str, ...]
    instrument_names: tuple[str, ...]
    gaps: tuple[Gap, ...] = ()
    notes: tuple[str, ...] = field(default=())
    mark_high: FloatArray | None = None  # [T, J]; None when a mark series has no highs/lows
    mark_low: FloatArray | None = None


def _check_series(name: str, ts_ms: IntArray, values: FloatArray) -> None:
    if ts_ms.ndim != 1 or ts_ms.shape != values.shape:
        raise DataError(f"{name}: times and values differ in shape {ts_ms.shape} {values.shape}")
    if ts_ms.size > 1 and bool(np.any(np.diff(ts_ms) <= 0)):
        raise DataError(f"{name}: times are not strictly ascending")


def find_gaps(name: str, ts_ms: IntArray, interval_ms: int | IntArray) -> list[Gap]:
    """Steps longer than the interval (plus a minute of jitter) between consecutive times.

    `interval_ms` is one interval, or one per time (the step *into* time i is checked against
    interval i, so a venue that moves from 8-hour to hourly settlements shows no false gap).
    """
    if ts_ms.size < 2:
        return []
    steps = np.diff(ts_ms)
    expected = np.broadcast_to(np.asarray(interval_ms, dtype=np.int64), ts_ms.shape)[1:]
    where = np.flatnonzero(steps > expected + MINUTE_MS)
    return [
        Gap(name, int(ts_ms[i]), int(ts_ms[i + 1]), round(float(steps[i] / expected[i])) - 1)
        for i in where
    ]


def asof(
    known_ms: IntArray, values: FloatArray, grid_ms: IntArray, max_age_ms: int | None = None
) -> FloatArray:
    """The value known at each grid time: the last `values[i]` with known_ms[i] <= t.

    NaN before the first value, and where the last value is older than `max_age_ms` (if given).
    """
    index = np.searchsorted(known_ms, grid_ms, side="right") - 1
    out = np.full(grid_ms.shape, np.nan)
    ok = index >= 0
    if max_age_ms is not None:
        ok &= grid_ms - known_ms[np.maximum(index, 0)] <= max_age_ms
    out[ok] = values[index[ok]]
    return out


def floor_minute(ts_ms: IntArray) -> IntArray:
    result: IntArray = (ts_ms // MINUTE_MS) * MINUTE_MS
    return result


def build_grid(
    instruments: Sequence[InstrumentInputs],
    spots: Sequence[PriceInput],
    since_ms: int,
    until_ms: int,
) -> IntArray:
    """Funding settlement times inside [since, until] (see module docstring), else spot closes."""
    if since_ms > until_ms:
        raise InputError("--from", fmt_ms(since_ms), f"must not be after --to {fmt_ms(until_ms)}")
    times = [floor_minute(inst.funding.ts_ms) for inst in instruments]
    if not any(t.size for t in times):
        times = [spot.close_ms for spot in spots]
    grid = np.unique(np.concatenate(times)) if times else np.empty(0, np.int64)
    inside: IntArray = grid[(grid >= since_ms) & (grid <= until_ms)].astype(np.int64)
    return inside


def _coverage_note(label: str, first: int, last: int, since: int, until: int) -> str | None:
    if first > since or last < until:
        return f"{label} covers {fmt_ms(first)} to {fmt_ms(last)} only"
    return None


def _spans(
    instruments: Sequence[InstrumentInputs], spots: Sequence[PriceInput]
) -> list[tuple[str, int, int]]:
    """(series name, first, last time it gives a value) of every series that limits coverage."""
    spans = [(s.name, int(s.close_ms[0]), int(s.close_ms[-1])) for s in spots if s.ts_ms.size]
    for inst in instruments:
        mark = inst.mark
        if mark.ts_ms.size:
            spans.append((mark.name, int(mark.close_ms[0]), int(mark.close_ms[-1])))
        fund = inst.funding
        if fund.ts_ms.size:
            first = int(floor_minute(fund.ts_ms[:1])[0])
            spans.append((fund.name, first, int(fund.ts_ms[-1])))
    return spans


def _clip_to_coverage(
    grid: IntArray,
    instruments: Sequence[InstrumentInputs],
    spots: Sequence[PriceInput],
    since_ms: int,
    until_ms: int,
) -> tuple[IntArray, list[str]]:
    """Keep grid times every series covers; a note per series that cuts the range short."""
    window = f"between {fmt_ms(since_ms)} and {fmt_ms(until_ms)}"
    empty = [s.name for s in spots if not s.ts_ms.size]
    empty += [i.mark.name for i in instruments if not i.mark.ts_ms.size]
    if empty or not grid.size:
        what = ", ".join(empty) if empty else "the hedge instruments' funding"
        raise DataError(
            f"no data for {what} {window}: "
            "pick a range inside the data (perphedge data list) or run perphedge data sync"
        )
    spans = _spans(instruments, spots)
    start = max(first for _, first, _ in spans)
    end = min(last for _, _, last in spans)
    kept: IntArray = grid[(grid >= start) & (grid <= end)]
    if kept.size == 1:
        raise DataError(
            f"only one bar ({fmt_ms(int(kept[0]))}) {window}: "
            "give a range spanning at least two funding settlements"
        )
    if not kept.size:
        held = "; ".join(f"{n} {fmt_ms(a)} to {fmt_ms(b)}" for n, a, b in spans)
        raise DataError(f"the series do not overlap {window}: {held}")
    notes = [
        note
        for name, first, last in spans
        if (note := _coverage_note(name, first, last, int(grid[0]), int(grid[-1])))
    ]
    for perp in (i.perp for i in instruments if i.perp is not None and i.perp.ts_ms.size):
        first, last = int(perp.close_ms[0]), int(perp.close_ms[-1])
        if note := _coverage_note(perp.name, first, last, int(kept[0]), int(kept[-1])):
            notes.append(f"{note}; fills at the mark price elsewhere")
    return kept, notes


def _gaps_inside(
    instruments: Sequence[InstrumentInputs], spots: Sequence[PriceInput], start: int, end: int
) -> list[Gap]:
    gaps: list[Gap] = []
    for spot in spots:
        gaps += find_gaps(spot.name, spot.ts_ms, spot.interval_ms)
    for inst in instruments:
        gaps += find_gaps(inst.mark.name, inst.mark.ts_ms, inst.mark.interval_ms)
        if inst.perp is not None:
            gaps += find_gaps(inst.perp.name, inst.perp.ts_ms, inst.perp.interval_ms)
        fund = inst.funding
        expected = np.round(fund.interval_hours * HOUR_MS).astype(np.int64)
        gaps += find_gaps(fund.name, floor_minute(fund.ts_ms), expected)
    return [g for g in gaps if g.first_after_ms > start and g.last_before_ms < end]


def bar_extremes(
    series: PriceInput, grid: IntArray, close: FloatArray
) -> tuple[FloatArray, FloatArray] | None:
    """(high, low) of each grid bar from `series`' candles that closed within it, never inside
    `close` (the series on the grid); None when the series has no highs/lows (module docstring)."""
    if series.high is None or series.low is None:
        return None
    bar = np.searchsorted(grid, series.close_ms, side="left")  # grid[bar - 1] < close <= grid[bar]
    inside = (bar > 0) & (bar < grid.size)
    high, low = close.copy(), close.copy()
    np.maximum.at(high, bar[inside], series.high[inside])
    np.minimum.at(low, bar[inside], series.low[inside])
    return high, low


def _mark_extremes(
    instruments: Sequence[InstrumentInputs], grid: IntArray, mark: FloatArray
) -> tuple[FloatArray, FloatArray] | None:
    """[T, J] mark highs and lows, when every instrument's mark series has them."""
    extremes = [bar_extremes(inst.mark, grid, mark[:, j]) for j, inst in enumerate(instruments)]
    known = [e for e in extremes if e is not None]
    if not known or len(known) < len(extremes):
        return None
    return np.column_stack([e[0] for e in known]), np.column_stack([e[1] for e in known])


def _instrument_columns(
    inst: InstrumentInputs, grid: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """perp, mark, funding rate and event flags of one instrument on the grid."""
    mark = asof(inst.mark.close_ms, inst.mark.close, grid)
    fund = inst.funding
    settle = floor_minute(fund.ts_ms)
    at = np.searchsorted(grid, settle)
    on_grid = (at < grid.size) & (grid[np.minimum(at, grid.size - 1)] == settle)
    rows = at[on_grid]
    event = np.zeros(grid.shape, dtype=np.bool_)
    event[rows] = True
    rate = np.zeros(grid.shape)
    rate[rows] = fund.rate[on_grid]
    reported = fund.mark[on_grid]
    known = np.isfinite(reported)
    mark[rows[known]] = reported[known]
    perp = mark.copy()
    if inst.perp is not None:
        last = asof(inst.perp.close_ms, inst.perp.close, grid, inst.perp.interval_ms)
        perp = np.where(np.isfinite(last), last, mark)
    return perp, mark, rate, event


def align(
    instruments: Sequence[InstrumentInputs],
    spots: Sequence[PriceInput],
    since_ms: int,
    until_ms: int,
    *,
    strict: bool = False,
) -> AlignedMarket:
    """Put spot (one column per holding) and hedge instruments on one grid (module docstring)."""
    grid = build_grid(instruments, spots, since_ms, until_ms)
    grid, notes = _clip_to_coverage(grid, instruments, spots, since_ms, until_ms)
    gaps = _gaps_inside(instruments, spots, int(grid[0]), int(grid[-1]))
    if strict and gaps:
        more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
        raise DataError(f"gap in the data: {gaps[0].describe()}{more}; drop --strict to carry over")
    spot = np.column_stack([asof(s.close_ms, s.close, grid) for s in spots])
    columns = [_instrument_columns(inst, grid) for inst in instruments]

    def stack(i: int) -> FloatArray:
        return np.column_stack([c[i] for c in columns]).astype(np.float64)

    high_low = _mark_extremes(instruments, grid, stack(1))
    return AlignedMarket(
        times_ms=grid,
        spot=spot,
        perp=stack(0),
        mark=stack(1),
        funding_rate=stack(2),
        funding_event=np.column_stack([c[3] for c in columns]).astype(np.bool_),
        spot_names=tuple(s.name for s in spots),
        instrument_names=tuple(i.funding.name for i in instruments),
        gaps=tuple(gaps),
        notes=tuple(notes),
        mark_high=None if high_low is None else high_low[0],
        mark_low=None if high_low is None else high_low[1],
    )
