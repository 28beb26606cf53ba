"""Honesty fixes: the sample's Hyperliquid switch, the plan's 30-day funding window."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from perphedge.services.inputs import _store_funding
from perphedge.store.market import sample_dir
from perphedge.venues import contract_specs

SWITCH_MS = 1_686_182_400_000  # 2023-06-08 00:00 UTC


def test_the_hyperliquid_settlement_at_the_switch_is_an_8h_rate() -> None:
    rows = pq.read_table(sample_dir() / "funding.parquet").to_pylist()
    sol = {r["ts_ms"]: r["interval_hours"] for r in rows if r["exchange"] == "hyperliquid"}
    assert sol[SWITCH_MS] == 8.0  # paid 2023-06-08 00:00:00.254 for the 8 h before it
    assert sol[SWITCH_MS + 3_600_000] == 1.0


class _Funding:
    def __init__(self, ts_ms: np.ndarray, rate: np.ndarray) -> None:
        self.ts_ms, self.rate = ts_ms, rate
        self.interval_hours = np.full(ts_ms.size, 8.0)
        self.mark = np.full(ts_ms.size, np.nan)


class _History:
    """A History port with only funding: 8-hour settlements over 40 days."""

    def __init__(self, rows: _Funding) -> None:
        self.rows = rows

    def funding(self, exchange: str, symbol: str, since_ms=None, until_ms=None):  # type: ignore[no-untyped-def]
        return self.rows


def test_plan_rate_is_the_mean_of_the_90_settlements_in_the_last_30_days() -> None:
    n = 120  # 40 days of 8-hour settlements; the last 90 pay 0.01 %, the one before 1 %
    ts = np.arange(n, dtype=np.int64) * 8 * 3_600_000
    rate = np.full(n, 0.0001)
    rate[n - 91] = 0.01  # exactly 30 days before the last settlement: outside (t - 30 d, t]
    inst = contract_specs.by_symbol("binance", "BTC/USDT:USDT")
    found = _store_funding(_History(_Funding(ts, rate)), "binance", inst)  # type: ignore[arg-type]
    assert found is not None
    assert found[0] == pytest.approx(0.0001)
