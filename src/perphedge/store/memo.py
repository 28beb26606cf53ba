"""A History port that reads each stored series once per command.

A plan asks for the same funding series twice (the planning rate, then the keeper's reserve);
each read of the market store opens the database. `MemoHistory` answers repeated reads of the
same arguments from memory; failures are not kept (they are raised again from the store).
"""

from __future__ import annotations

from typing import Any

from perphedge.ports import FundingRows, History, PriceRows


class MemoHistory:
    """History over `inner`, remembering every answer by its arguments."""

    def __init__(self, inner: History) -> None:
        self._inner = inner
        self._answers: dict[tuple[Any, ...], Any] = {}

    def _ask(self, key: tuple[Any, ...], read: Any) -> Any:
        if key not in self._answers:
            self._answers[key] = read()
        return self._answers[key]

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]:
        key = ("latest", exchange, symbol, kind)
        answer: tuple[int, float] = self._ask(
            key, lambda: self._inner.latest_price(exchange, symbol, kind)
        )
        return answer

    def prices(
        self,
        exchange: str,
        symbol: str,
        kind: str = "spot",
        interval: str = "1d",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> PriceRows:
        key = ("prices", exchange, symbol, kind, interval, since_ms, until_ms)
        answer: PriceRows = self._ask(
            key,
            lambda: self._inner.prices(exchange, symbol, kind, interval, since_ms, until_ms),
        )
        return answer

    def funding(
        self, exchange: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> FundingRows:
        key = ("funding", exchange, symbol, since_ms, until_ms)
        answer: FundingRows = self._ask(
            key, lambda: self._inner.funding(exchange, symbol, since_ms, until_ms)
        )
        return answer
