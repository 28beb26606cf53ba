"""Fakes of the ports the services take: a History of fixed series, a MarketData of fixed marks,
a MarketHistory (FakeStore) of in-memory funding series."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from perphedge.errors import DataError
from perphedge.instruments import Perpetual
from perphedge.ports import Coverage, FundingRateQuote, PriceQuote
from perphedge.venues import contract_specs

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Rows:
    """Funding or price rows (the History port's result shapes)."""

    ts_ms: npt.NDArray[np.int64]
    rate: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    interval_hours: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    close: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    open: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    high: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    low: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    mark: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass
class FakeHistory:
    """History port: latest closes per (symbol, kind) and flat funding per symbol.

    `closes`: {(symbol, kind): (ts_ms, price)}; `funding`: {symbol: (last ts_ms, rate per 8 h)}
    (ten days of 8-hourly settlements ending then). Everything else raises DataError."""

    closes: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    rates: dict[str, tuple[int, float]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]:
        self.asked.append(f"{kind} {symbol}")
        if (symbol, kind) not in self.closes:
            raise DataError(f"no {kind} prices for {exchange} {symbol}")
        return self.closes[(symbol, kind)]

    def prices(
        self,
        exchange: str,
        symbol: str,
        kind: str = "spot",
        interval: str = "1d",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Rows:
        raise DataError(f"no {kind}:{interval} for {exchange} {symbol}")

    def funding(
        self, exchange: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> Rows:
        if symbol not in self.rates:
            raise DataError(f"no funding for {exchange} {symbol}")
        last, rate = self.rates[symbol]
        ts = np.arange(last - 29 * 8 * 3_600_000, last + 1, 8 * 3_600_000, dtype=np.int64)
        return Rows(
            ts, np.full(ts.size, rate), np.full(ts.size, 8.0), mark=np.full(ts.size, np.nan)
        )


@dataclass
class FakeMarket:
    """MarketData port: fixed marks and funding; contracts from the bundled Binance specs."""

    marks: dict[str, float]
    rate_per_interval: float = 0.0001
    interval_hours: float = 8.0
    ts_ms: int = 0

    def mark_price(self, symbol: str) -> PriceQuote:
        if symbol not in self.marks:
            raise DataError(f"no mark for {symbol}")
        return PriceQuote(symbol, Decimal(str(self.marks[symbol])), self.ts_ms)

    def instrument(self, symbol: str) -> Perpetual:
        return contract_specs.by_symbol("binance", symbol)

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        return FundingRateQuote(
            symbol, self.rate_per_interval, self.interval_hours, None, self.ts_ms
        )


@dataclass(frozen=True)
class Settlements:
    """Funding rows with the mark at each (the MarketHistory port's funding shape)."""

    ts_ms: npt.NDArray[np.int64]
    rate: npt.NDArray[np.float64]
    interval_hours: npt.NDArray[np.float64]
    mark: npt.NDArray[np.float64]


@dataclass
class FakeStore:
    """MarketHistory port over in-memory series: funding {(exchange, symbol): Settlements} and
    8-hour candles {(exchange, symbol, kind): Rows}.

    `flat(exchange, symbol, rate, days)` adds 8-hourly settlements at one rate ending 2026-01-01;
    `candles(exchange, symbol, kind, price, days)` flat 8-hour candles opening up to then;
    `available()` lists them as the store does."""

    series: dict[tuple[str, str], Settlements] = field(default_factory=dict)
    bars: dict[tuple[str, str, str], Rows] = field(default_factory=dict)

    END_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC

    def flat(self, exchange: str, symbol: str, rate: float, days: int) -> FakeStore:
        n = days * 3
        ts = self.END_MS - np.arange(n, dtype=np.int64)[::-1] * 8 * 3_600_000
        nan = np.full(n, np.nan)
        self.series[(exchange, symbol)] = Settlements(ts, np.full(n, rate), np.full(n, 8.0), nan)
        return self

    def candles(self, exchange: str, symbol: str, kind: str, price: float, days: int) -> FakeStore:
        n = days * 3
        ts = self.END_MS - np.arange(n, dtype=np.int64)[::-1] * 8 * 3_600_000
        flat = np.full(n, price)
        self.bars[(exchange, symbol, kind)] = Rows(ts, close=flat, open=flat, high=flat, low=flat)
        return self

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]:
        if (exchange, symbol, kind) not in self.bars:
            raise DataError(f"no {kind} prices for {exchange} {symbol}")
        rows = self.bars[(exchange, symbol, kind)]
        return int(rows.ts_ms[-1]) + 8 * 3_600_000, float(rows.close[-1])

    def available(self) -> list[Coverage]:
        funding = [
            Coverage(ex, sym, "funding", int(s.ts_ms[0]), int(s.ts_ms[-1]), int(s.ts_ms.size))
            for (ex, sym), s in sorted(self.series.items())
        ]
        return funding + [
            Coverage(ex, sym, f"{kind}:8h", int(r.ts_ms[0]), int(r.ts_ms[-1]), int(r.ts_ms.size))
            for (ex, sym, kind), r in sorted(self.bars.items())
        ]

    def prices(
        self,
        exchange: str,
        symbol: str,
        kind: str = "spot",
        interval: str = "1d",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Rows:
        rows = self.bars.get((exchange, symbol, kind))
        if rows is None or interval != "8h":
            raise DataError(f"no {kind}:{interval} for {exchange} {symbol}")
        keep = (rows.ts_ms >= (since_ms or 0)) & (rows.ts_ms < (until_ms or 2**62))
        c = rows.close[keep]
        return Rows(rows.ts_ms[keep], close=c, open=c, high=c, low=c)

    def funding(
        self, exchange: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> Settlements:
        if (exchange, symbol) not in self.series:
            raise DataError(f"no funding for {exchange} {symbol}")
        s = self.series[(exchange, symbol)]
        keep = (s.ts_ms >= (since_ms or 0)) & (s.ts_ms < (until_ms or 2**62))
        if not keep.any():
            raise DataError(f"no funding for {exchange} {symbol} in the range")
        return Settlements(s.ts_ms[keep], s.rate[keep], s.interval_hours[keep], s.mark[keep])
