"""The live keeper's trailing funding cost: the stored settlements in (now - window, now],
`hedge.keeper.trailing_cost_apr`, the backtest's definition; checked by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from perphedge.errors import DataError
from perphedge.hedge.keeper import FundingAction, KeeperPolicy
from perphedge.services.keep import trailing_funding_cost, unmeasured

HOUR_MS = 3_600_000
NOW = 1_709_251_200_000  # 2024-03-01 00:00 UTC, a settlement time
SOL = "SOL/USDT:USDT"


@dataclass(frozen=True)
class Rows:
    ts_ms: np.ndarray
    rate: np.ndarray
    interval_hours: np.ndarray
    mark: np.ndarray


class StoredFunding:
    """The `History` port's funding read over fixed rows (the other reads are not used)."""

    def __init__(self, ts_ms: list[int], rates: list[float]) -> None:
        n = len(ts_ms)
        self.rows = Rows(
            np.array(ts_ms, np.int64), np.array(rates), np.full(n, 8.0), np.full(n, np.nan)
        )
        self.asked: list[tuple[str, str, int | None, int | None]] = []

    def funding(self, exchange: str, symbol: str, since_ms=None, until_ms=None) -> Rows:
        self.asked.append((exchange, symbol, since_ms, until_ms))
        if symbol != SOL:
            raise DataError(f"no funding stored for {symbol}")
        return self.rows


def test_cost_is_minus_the_mean_rate_of_the_window_as_an_apr():
    # 8-hour settlements from exactly 7 days before now to now: 22 of them; the one at
    # now - 7 days is outside (t - window, t], and carries a rate that would show if counted
    ts = [NOW - 7 * 24 * HOUR_MS + i * 8 * HOUR_MS for i in range(22)]
    rates = [-0.05] + [-0.0001] * 20 + [-0.0004]
    history = StoredFunding(ts, rates)
    cost = trailing_funding_cost(history, "binance", 7.0)(SOL, NOW)
    # by hand: 21 settlements, sum -0.0024, mean -0.000114285..., 3 a day, 1095 a year
    assert cost == pytest.approx(0.0024 / 21 * 1095, rel=1e-12)
    assert history.asked == [("binance", SOL, NOW - 7 * 24 * HOUR_MS, NOW)]


def test_no_stored_settlement_is_not_measured():
    assert trailing_funding_cost(StoredFunding([], []), "binance", 7.0)(SOL, NOW) is None
    assert trailing_funding_cost(StoredFunding([NOW], [-0.01]), "binance", 7.0)("X", NOW) is None


def test_a_leg_the_store_cannot_measure_is_named_when_the_policy_acts_on_funding():
    cost = trailing_funding_cost(StoredFunding([NOW], [-0.01]), "binance", 7.0)
    acting = KeeperPolicy(funding_action=FundingAction.REDUCE)
    (note,) = unmeasured(acting, [SOL, "ETH/USDT:USDT"], cost, NOW)
    assert note.startswith("ETH/USDT:USDT: no stored funding in the last 7 days")
    assert "will not reduce" in note and "perphedge data sync" in note
    assert unmeasured(KeeperPolicy(), [SOL, "ETH/USDT:USDT"], cost, NOW) == ()  # keep: moot
