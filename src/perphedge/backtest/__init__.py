"""Backtests of hedging policies: spec and policies (inputs), kernels (numba engine), reference (plain Python),
result (outputs). Entry point: `run_backtest(spec, data) -> BacktestResult`."""

from perphedge.backtest.engine import run_backtest
from perphedge.backtest.policies import (
    DriftBand,
    FundingAware,
    Keeper,
    Policy,
    Schedule,
    StaticRatio,
    VolTriggered,
)
from perphedge.backtest.result import BacktestResult
from perphedge.backtest.spec import BacktestSpec, Costs, HedgeLeg, MarketArrays, RecordOptions

__all__ = [
    "BacktestResult",
    "BacktestSpec",
    "Costs",
    "DriftBand",
    "FundingAware",
    "HedgeLeg",
    "Keeper",
    "MarketArrays",
    "Policy",
    "RecordOptions",
    "Schedule",
    "StaticRatio",
    "VolTriggered",
    "run_backtest",
]
