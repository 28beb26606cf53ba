"""`run_backtest(spec, data) -> BacktestResult`: the front of the numba engine.

Flattens the frozen spec into plain arrays, runs `kernels.simulate`, wraps the arrays in a
BacktestResult. The model is described in `perphedge.backtest.kernels`.
"""

from __future__ import annotations

from perphedge.backtest.result import BacktestResult
from perphedge.backtest.spec import BacktestSpec, MarketArrays


def run_backtest(spec: BacktestSpec, data: MarketArrays) -> BacktestResult:
    """Simulate `spec` over `data` with the compiled kernel."""
    spec.check_against(data)
    raise NotImplementedError("the kernel lands in the next commit")
