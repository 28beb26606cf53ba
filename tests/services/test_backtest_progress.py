"""The backtest service reports its progress in bars simulated (the page shows it)."""

from __future__ import annotations

from pathlib import Path

from perphedge.config import load_portfolio
from perphedge.services.backtest import BacktestRequest, run_backtests
from perphedge.store.market import MarketStore

EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"
JAN_2024 = (1704067200000, 1706745600000)  # 2024-01-01 .. 2024-02-01 UTC


def test_ticks_add_up_to_every_bar_of_every_run() -> None:
    ticks: list[tuple[int, int]] = []
    request = BacktestRequest(*JAN_2024, policies=("band", "schedule"))
    outcome = run_backtests(
        load_portfolio(EXAMPLE), request, MarketStore(), lambda n, t: ticks.append((n, t))
    )
    bars = outcome.prep.market.n_bars
    runs = len(outcome.runs) - 1  # the unhedged figures come with the hedged run
    assert runs == 3 and bars > 30
    assert ticks == [(0, bars * runs), *[(bars, bars * runs)] * runs]
