"""Reserve sizing: the cash (USD) that carries the keeper through the worst rally and the worst
run of negative funding in stored history. Pure.

Per leg (a short of notional N0 USD at mark P0, opened at `leverage`, margin N0 / leverage):

* Worst rally: the largest rise r = max(P[t..t+w]) / P[t] - 1 over every window of `window_days`
  in the price history (at `quantile`: that quantile of the per-start rises instead of the max).
  Through it the short loses N0 x r of margin, and at the peak the keeper wants the short
  `target_distance` from liquidation. Reserve for it = margin the keeper needs at the peak
  (`keeper.margin_for_distance`, entry = the peak) - (N0 / leverage - N0 x r), at least 0.
* Worst funding: the largest sum of rates paid by the short over a window of `window_days`
  (minus the sum of rates; the sign rule of `perphedge.funding`), times N0 (at the peak, so
  the rally and the funding are taken together, the worse case).
* Reserve of the leg = rally part + funding part. The total is the sum over legs (the keeper
  shares one reserve, so this is the cost of every leg's worst month at once: conservative).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perphedge.errors import DataError, InputError, require_positive
from perphedge.hedge.keeper import KeeperPolicy, LegState, margin_for_distance, target_size

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DAY_MS = 86_400_000
DEFAULT_WINDOW_DAYS = 30.0


@dataclass(frozen=True)
class Window:
    """A stretch of history: the move over it (fraction) and where it starts and ends (ms)."""

    move: float
    start_ms: int
    end_ms: int


def _check(times_ms: IntArray, values: FloatArray, name: str) -> None:
    if times_ms.ndim != 1 or times_ms.shape != values.shape or times_ms.size == 0:
        raise DataError(f"{name}: times and values must be 1-D, non-empty, the same length")
    if np.any(np.diff(times_ms) <= 0):
        raise DataError(f"{name}: times must be strictly ascending")
    if not np.isfinite(values).all():
        raise DataError(f"{name}: a value is missing or not a number")


def _pick(moves: FloatArray, quantile: float | None) -> int:
    """Index of the worst move, or of the move at `quantile` (nearest rank)."""
    if quantile is None:
        return int(np.argmax(moves))
    if not 0.0 < quantile <= 1.0:
        raise InputError("quantile", quantile, "give a fraction in (0, 1], e.g. 0.95")
    order = np.argsort(moves, kind="stable")
    rank = min(len(order) - 1, max(0, math.ceil(quantile * len(order)) - 1))
    return int(order[rank])


def worst_rally(
    times_ms: IntArray,
    prices: FloatArray,
    window_days: float = DEFAULT_WINDOW_DAYS,
    quantile: float | None = None,
) -> Window:
    """The largest rise from a close to the highest close within the next `window_days`
    (end: the bar of that high). A history shorter than the window gives its whole rise."""
    _check(times_ms, prices, "prices")
    require_positive("window_days", window_days)
    width = window_days * DAY_MS
    ends = np.searchsorted(times_ms, times_ms + width, side="right")
    moves = np.empty(times_ms.size)
    peaks = np.empty(times_ms.size, dtype=np.int64)
    for k in range(times_ms.size):  # a few thousand closes: plain loop, argmax per window
        top = k + int(np.argmax(prices[k : ends[k]]))
        peaks[k], moves[k] = top, prices[top] / prices[k] - 1.0
    k = _pick(moves, quantile)
    return Window(float(moves[k]), int(times_ms[k]), int(times_ms[peaks[k]]))


def worst_funding(
    times_ms: IntArray,
    rates: FloatArray,
    window_days: float = DEFAULT_WINDOW_DAYS,
    quantile: float | None = None,
) -> Window:
    """The largest funding paid by a short over settlements in (t - window, t] (minus the sum
    of rates per interval, as a fraction of notional; 0 or less: the short earned)."""
    _check(times_ms, rates, "funding")
    require_positive("window_days", window_days)
    cum = np.concatenate(([0.0], np.cumsum(rates)))
    starts = np.searchsorted(times_ms, times_ms - window_days * DAY_MS, side="right")
    paid = -(cum[1:] - cum[starts])
    k = _pick(paid, quantile)
    return Window(float(paid[k]), int(times_ms[starts[k]]), int(times_ms[k]))


@dataclass(frozen=True)
class LegReserve:
    """One leg's reserve (USD) and the windows it was sized on."""

    symbol: str
    rally: Window
    funding: Window
    rally_usd: float
    funding_usd: float

    @property
    def reserve_usd(self) -> float:
        return self.rally_usd + self.funding_usd


def leg_reserve(leg: LegState, policy: KeeperPolicy, rally: Window, funding: Window) -> LegReserve:
    """Reserve of one leg opened at `leg.mark` at `leg.leverage` (module docstring)."""
    size = target_size(leg, leg.coins_held)
    n0 = size * leg.instrument.contract_size if leg.instrument.is_inverse else size * leg.mark
    peak = max(rally.move, 0.0)
    at_peak = LegState(
        instrument=leg.instrument, coins_held=leg.coins_held, spot_price=leg.spot_price * (1 + peak),
        mark=leg.mark * (1 + peak), hedge_ratio=leg.hedge_ratio, size=size, margin=0.0,
        leverage=leg.leverage, rules=leg.rules,
    )  # fmt: skip
    need = margin_for_distance(at_peak, size, policy.target_distance) * at_peak.usd_per_settle
    left = n0 / leg.leverage - n0 * peak
    rally_usd = max(0.0, need - left)
    funding_usd = max(0.0, funding.move) * n0 * (1 + peak)
    return LegReserve(leg.symbol, rally, funding, rally_usd, funding_usd)


def total_reserve_usd(legs: Sequence[LegReserve]) -> float:
    return math.fsum(leg.reserve_usd for leg in legs)


@dataclass(frozen=True)
class LegHistory:
    """A perpetual's stored history for reserve sizing: mark closes and funding settlements."""

    symbol: str
    times_ms: IntArray
    marks: FloatArray
    funding_ms: IntArray
    rates: FloatArray


@dataclass(frozen=True)
class ReservePlan:
    """The keeper's reserve for a plan: per leg and in total, at the worst windows of stored
    history and at `quantile` of them (`reserve_usd` is the worst case)."""

    quantile: float
    window_days: float
    worst: tuple[LegReserve, ...]
    at_quantile: tuple[LegReserve, ...]

    @property
    def reserve_usd(self) -> float:
        return total_reserve_usd(self.worst)

    @property
    def quantile_usd(self) -> float:
        return total_reserve_usd(self.at_quantile)


def _funding_window(h: LegHistory, window_days: float, quantile: float | None) -> Window:
    if h.rates.size == 0:
        return Window(0.0, int(h.times_ms[0]), int(h.times_ms[0]))
    return worst_funding(h.funding_ms, h.rates, window_days, quantile)


def plan_reserve(
    legs: Sequence[LegState],
    histories: Sequence[LegHistory],
    policy: KeeperPolicy,
    quantile: float = 0.95,
    window_days: float = DEFAULT_WINDOW_DAYS,
) -> ReservePlan:
    """Each leg's reserve (`leg_reserve`) at the worst `window_days` rally and funding of its
    history, and at `quantile` of the rolling windows; `histories[i]` is leg i's."""
    worst, typical = [], []
    for leg, h in zip(legs, histories, strict=True):
        worst.append(
            leg_reserve(leg, policy, worst_rally(h.times_ms, h.marks, window_days),
                        _funding_window(h, window_days, None))
        )  # fmt: skip
        typical.append(
            leg_reserve(leg, policy, worst_rally(h.times_ms, h.marks, window_days, quantile),
                        _funding_window(h, window_days, quantile))
        )  # fmt: skip
    return ReservePlan(quantile, window_days, tuple(worst), tuple(typical))
