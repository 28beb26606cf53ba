"""The memory floor the benchmarks compare against."""

from __future__ import annotations

from perphedge.backtest.kernels.formulas import jit
from perphedge.backtest.kernels.layout import FloatArray


@jit
def read_once(spot: FloatArray, perp: FloatArray) -> float:
    """The memory floor: read every input price once (sum), nothing else."""
    total = 0.0
    for t in range(spot.shape[0]):
        for k in range(spot.shape[1]):
            total += spot[t, k]
        for j in range(perp.shape[1]):
            total += perp[t, j]
    return total
