"""Fakes of the ports the services take: a History of fixed series, a MarketData of fixed marks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from perphedge.errors import DataError
from perphedge.instruments import Perpetual
from perphedge.ports import FundingRateQuote, PriceQuote
from perphedge.venues import contract_specs

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Rows:
    """Funding or price rows (the History port's result shapes)."""

    ts_ms: npt.NDArray[np.int64]
    rate: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    interval_hours: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    close: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


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
        return Rows(ts, np.full(ts.size, rate), np.full(ts.size, 8.0))


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
