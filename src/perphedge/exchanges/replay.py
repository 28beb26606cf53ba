"""Clocks and a replayed market for the paper exchange: offline prices from the market store.

`ReplayClock` runs simulated time: a new replay starts at the plan's as-of time (the time of the
store prices `perphedge plan` uses), or at the end of the stored marks when they end before it, and
advances with the wall clock; `advance(hours)` jumps ahead (to watch funding settle) as far as the
stored prices go. Its anchor lives beside the paper account (paper/<exchange>.clock.json), so
separate commands share one simulated "now".
`StoreMarketData` implements the `MarketData` port from `perphedge.store.market.MarketStore`:
the mark is the close of the last mark candle that ended at or before simulated now and counts as
observed at that now (the replay plays the role of a live feed; series are read once per
process). Where the store has no mark candles for a symbol (the bundled coin-margined
perpetuals), the perpetual's last-trade candles stand in for the mark, and `notes` says so once,
as the backtest does. Instruments come from the bundled `perphedge.venues.contract_specs`; funding
settlements are the store's real ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from perphedge.clocks import SystemClock
from perphedge.errors import DataError, InputError
from perphedge.instruments import Perpetual
from perphedge.ports import Clock, FundingRateQuote, PriceQuote
from perphedge.store.market import FundingSeries, MarketStore, interval_ms
from perphedge.store.private import write_atomic
from perphedge.units import to_decimal, utc_text
from perphedge.venues import contract_specs

HOUR_MS = 3_600_000
MARK_INTERVALS = ("1h", "8h", "1d")
MAX_REPLAY_GAP_MS = 2 * 24 * HOUR_MS  # a mark older than this means the replay ran out


class ReplayClock:
    """Simulated now = start + (wall now - wall at start) + jumps; persisted in `path`."""

    def __init__(self, path: Path, start_ms: int, wall: Clock | None = None) -> None:
        self.path = path
        self.wall = wall or SystemClock()
        if path.exists():
            data = _read_clock(path)
        else:
            data = {"start_ms": start_ms, "wall_start_ms": self.wall.now_ms(), "jump_ms": 0}
            self._write(data)
        self._data = data

    def _write(self, data: dict[str, int]) -> None:
        write_atomic(self.path, json.dumps(data))

    def now_ms(self) -> int:
        d = self._data
        return int(d["start_ms"] + self.wall.now_ms() - d["wall_start_ms"] + d["jump_ms"])

    @property
    def jump_ms(self) -> int:
        """Simulated time added by `advance` so far."""
        return int(self._data["jump_ms"])

    def set_jump_ms(self, jump_ms: int) -> None:
        """Put the jump back to `jump_ms` (undo an advance that could not be completed)."""
        self._data["jump_ms"] = int(jump_ms)
        self._write(self._data)

    def advance(self, hours: float) -> None:
        if not (math.isfinite(hours) and hours > 0):
            raise InputError("hours", hours, "give a number of hours > 0")
        self._data["jump_ms"] += int(hours * HOUR_MS)
        self._write(self._data)


CLOCK_KEYS = ("start_ms", "wall_start_ms", "jump_ms")


def _read_clock(path: Path) -> dict[str, int]:
    """The clock file's three integers; DataError naming the file and the fix otherwise."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as bad:
        raise DataError(
            f"paper clock {path} is unreadable ({bad}): run perphedge paper reset"
        ) from bad
    if not isinstance(data, dict) or any(type(data.get(k)) is not int for k in CLOCK_KEYS):
        raise DataError(
            f"paper clock {path} needs integer {', '.join(CLOCK_KEYS)}: run perphedge paper reset"
        )
    return {k: int(data[k]) for k in CLOCK_KEYS}


class StoreMarketData:
    """MarketData port over the local market store, at the time of `clock`."""

    def __init__(self, store: MarketStore, exchange: str, clock: Clock) -> None:
        self.store = store
        self.exchange = exchange
        self.clock = clock
        self._mark_cache: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        self._funding_cache: dict[str, FundingSeries] = {}
        self.notes: list[str] = []  # one line per symbol whose mark is a stand-in

    def symbols(self) -> list[str]:
        """The symbols whose marks this replay has read."""
        return list(self._mark_cache)

    def last_mark_ms(self, symbol: str) -> int:
        """When the stored marks of `symbol` end."""
        return int(self._marks(symbol)[0][-1])

    def _marks(self, symbol: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(time each close applies, close) of the finest stored mark candles, loaded once."""
        if symbol not in self._mark_cache:
            for kind, interval in [(k, i) for k in ("mark", "perp") for i in MARK_INTERVALS]:
                try:
                    series = self.store.prices(self.exchange, symbol, kind, interval)
                except DataError:
                    continue
                self._mark_cache[symbol] = (series.ts_ms + interval_ms(interval), series.close)
                if kind == "perp":
                    self.notes.append(
                        f"{self.exchange} {symbol}: no mark prices stored, "
                        "last-trade price used as the mark"
                    )
                break
            else:
                raise DataError(f"no stored mark prices for {symbol} on {self.exchange}")
        return self._mark_cache[symbol]

    def _funding(self, symbol: str) -> FundingSeries:
        if symbol not in self._funding_cache:
            self._funding_cache[symbol] = self.store.funding(self.exchange, symbol)
        return self._funding_cache[symbol]

    def mark_price(self, symbol: str) -> PriceQuote:
        now_ms = self.clock.now_ms()
        ends, closes = self._marks(symbol)
        index = int(np.searchsorted(ends, now_ms, side="right")) - 1
        if index < 0 or now_ms - int(ends[index]) > MAX_REPLAY_GAP_MS:
            raise DataError(
                f"no replayed mark price for {symbol} on {self.exchange} at {now_ms}: the replay "
                "ran past the stored prices; run perphedge data sync or reset the paper account"
            )
        return PriceQuote(symbol, to_decimal(float(closes[index])), now_ms)

    def instrument(self, symbol: str) -> Perpetual:
        return contract_specs.by_symbol(self.exchange, symbol)

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        now_ms = self.clock.now_ms()
        series = self._funding(symbol)
        index = int(np.searchsorted(series.ts_ms, now_ms, side="right")) - 1
        if index < 0:
            raise DataError(f"no stored funding for {symbol} on {self.exchange} before {now_ms}")
        interval_hours = float(series.interval_hours[index])
        last = int(series.ts_ms[index])
        return FundingRateQuote(
            symbol,
            float(series.rate[index]),
            interval_hours,
            last + int(interval_hours * HOUR_MS),
            now_ms,
        )

    def funding_events(
        self, symbol: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, float, float]]:
        """Stored settlements in (since_ms, until_ms]: (ts_ms, rate, mark or NaN)."""
        try:
            series = self._funding(symbol)
        except DataError:
            return []
        lo = int(np.searchsorted(series.ts_ms, since_ms, side="right"))
        hi = int(np.searchsorted(series.ts_ms, until_ms, side="right"))
        return [
            (int(series.ts_ms[i]), float(series.rate[i]), float(series.mark[i]))
            for i in range(lo, hi)
        ]


def replay_start(
    market: StoreMarketData, symbols: list[str], as_of_ms: int | None
) -> tuple[int, str | None]:
    """Where a new replay starts, and a note when not where asked: at `as_of_ms` (the plan's
    prices), or at the earliest end of the symbols' stored marks when they end before it (or
    when no as-of time is given: the latest time every mark is known)."""
    if not symbols:
        raise InputError("symbols", symbols, "name at least one perpetual to replay")
    ends = {s: market.last_mark_ms(s) for s in symbols}
    first = min(ends, key=lambda s: ends[s])
    end = ends[first]
    if as_of_ms is None or as_of_ms <= end:
        return (end if as_of_ms is None else as_of_ms), None
    return end, (
        f"the stored marks of {first} end at {utc_text(end)}, before the plan's prices "
        f"({utc_text(as_of_ms)}): the paper clock starts at {utc_text(end)}; run perphedge data sync "
        "to replay from the plan's time"
    )
