"""Thinning for charts: every line resampled on one regular time grid, under a point budget.

A chart only shows so many points (a screen is a few thousand pixels wide); the files and pages
carry no more than `POINT_BUDGET` points over all their lines together. Each line keeps its value
at the grid times (the last value at or before each one, so a cumulative sum stays exact there)
and the grid ends on the line's last point. Values go out as float32 (plotly sends them as typed
arrays), times as a start and a step, so a point costs about five bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

POINT_BUDGET = 10_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Resampled:
    """A line on a regular grid: its first time, the step and the values (float32)."""

    start_ms: int
    step_ms: int
    values: npt.NDArray[np.float32]


def common_step(spans_ms: Sequence[int], min_step_ms: int, budget: int = POINT_BUDGET) -> int:
    """The smallest multiple of `min_step_ms` that keeps lines of these spans within `budget`."""
    points = sum(span // min_step_ms + 1 for span in spans_ms)
    return min_step_ms * max(1, math.ceil(points / budget))


def on_grid(ts_ms: IntArray, values: FloatArray, step_ms: int) -> Resampled:
    """`values` (at ascending `ts_ms`) at grid times step_ms apart, the last one at ts_ms[-1]."""
    times = np.asarray(ts_ms, dtype=np.int64)
    count = int((times[-1] - times[0]) // step_ms) + 1
    grid = times[-1] - step_ms * np.arange(count - 1, -1, -1, dtype=np.int64)
    index = np.searchsorted(times, grid, side="right") - 1
    picked = np.asarray(values, dtype=np.float64)[index]
    return Resampled(int(grid[0]), step_ms, picked.astype(np.float32))
