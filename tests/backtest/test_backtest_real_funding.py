"""On real Binance BTCUSDT funding history, the engine's funding P&L of a constant 1 BTC short is
the plain sum of mark x rate over the same events."""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from perphedge.backtest import (
    BacktestSpec,
    Costs,
    HedgeLeg,
    MarketArrays,
    StaticRatio,
    run_backtest,
)
from perphedge.funding import funding_payments

EIGHT_HOURS_MS = 8 * 3_600_000


def _rows_with_mark(shared_data: Path) -> list[tuple[int, float, float]]:
    """(time ms, rate, mark) of the rows of binance_btcusdt_funding.csv that carry a markPrice."""
    path = shared_data / "funding" / "binance_btcusdt_funding.csv"
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["markPrice"]]
    return [
        (
            int(datetime.fromisoformat(r["fundingTime"]).timestamp() * 1000),
            float(r["fundingRate"]),
            float(r["markPrice"]),
        )
        for r in rows
    ]


def test_constant_short_funding_equals_sum_of_mark_times_rate(shared_data: Path) -> None:
    rows = _rows_with_mark(shared_data)
    assert len(rows) == 2_916  # PROVENANCE.md: 2,916 rows carry markPrice
    times = np.array([rows[0][0] - EIGHT_HOURS_MS] + [t for t, _, _ in rows], dtype=np.int64)
    marks = np.array([rows[0][2]] + [m for _, _, m in rows]).reshape(-1, 1)
    rates = np.array([r for _, r, _ in rows])
    # bar 0 opens the short 8 h before the first event; events settle at bars 1..N
    data = MarketArrays(
        times,
        marks,
        marks,
        marks,
        np.arange(1, len(rows) + 1, dtype=np.int64),
        np.zeros(len(rows), dtype=np.int64),
        rates,
        ("BTC",),
        ("BTCUSDT",),
    )
    # 1 BTC held and shorted 1:1 at 1x; a large reserve tops the margin up so the short lives
    spec = BacktestSpec(
        (HedgeLeg(1.0, 0, 0),),
        StaticRatio(1.0),
        initial_cash_usd=1e9,
        leverage=1.0,
        costs=Costs(0.0, 0.0, 0.0, 0.0),
        auto_top_up=True,
    )
    result = run_backtest(spec, data)
    assert result.liquidations == 0
    assert result.hedge_notional_usd[0, 0] == pytest.approx(rows[0][2])  # exactly 1 BTC
    plain = sum(m * r for _, r, m in rows)  # positive rate: the short receives mark x rate
    assert result.funding_pnl == pytest.approx(plain, rel=1e-9)
    assert result.funding_cum_usd[-1] == pytest.approx(plain, rel=1e-9)
    core = funding_payments(np.full(len(rows), -1.0), marks[1:, 0], rates)
    assert math.fsum(core) == pytest.approx(plain, rel=1e-9)
    assert plain > 0  # BTC funding was mostly positive over 2023-10 .. 2026-06
