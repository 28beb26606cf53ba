"""Hedging policies of a backtest: small frozen objects with documented parameters, defaults
and bounds; a bad value raises InputError naming the field, the value and the fix, on one line.

Each policy has a numeric `code` and a parameter vector (`params()`, laid out for the kernels by
`policy_vector`) that the numba kernel dispatches on. To add one: a new dataclass here with the
next code and its name (and in `POLICIES`), its branch in `kernels.policy_target` and in
`reference.Simulator.target_ratio`, and its strategy in tests/backtest/test_backtest_agreement.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from perphedge.errors import (
    InputError,
    require_finite,
    require_fraction,
    require_non_negative,
    require_positive,
    require_whole,
)

FloatArray = npt.NDArray[np.float64]

MAX_RATIO = 3.0  # hedge ratios are fractions of the holding's value; 3x is already absurd


def _ratio(field_name: str, value: float) -> float:
    require_finite(field_name, value)
    if not 0.0 <= value <= MAX_RATIO:
        raise InputError(field_name, value, f"give a hedge ratio between 0 and {MAX_RATIO:g}")
    return float(value)


@dataclass(frozen=True)
class StaticRatio:
    """Open the hedge at `ratio` x holding value on the first bar and never touch it again.

    ratio: 0..3, default 1 (dollar-neutral).
    """

    code: ClassVar[int] = 0
    name: ClassVar[str] = "static"  # as `--policy` and sweep grids spell it
    ratio: float = 1.0

    def __post_init__(self) -> None:
        _ratio("ratio", self.ratio)

    def params(self) -> tuple[float, ...]:
        return (self.ratio,)


@dataclass(frozen=True)
class DriftBand:
    """Keep the hedge at `ratio`; re-size it when |notional - target| > `band` x target.

    ratio: 0..3, default 1. band: relative drift in (0, 1], default 0.05 (5 %).
    """

    code: ClassVar[int] = 1
    name: ClassVar[str] = "band"  # as `--policy` and sweep grids spell it
    ratio: float = 1.0
    band: float = 0.05

    def __post_init__(self) -> None:
        _ratio("ratio", self.ratio)
        require_positive("band", self.band)
        require_fraction("band", self.band)

    def params(self) -> tuple[float, ...]:
        return (self.ratio, self.band)


@dataclass(frozen=True)
class Schedule:
    """Re-size the hedge to `ratio` every `every_bars` bars (and open it on the first bar).

    ratio: 0..3, default 1. every_bars: >= 1, default 1440 (daily on one-minute bars).
    """

    code: ClassVar[int] = 2
    name: ClassVar[str] = "schedule"  # as `--policy` and sweep grids spell it
    ratio: float = 1.0
    every_bars: int = 1440

    def __post_init__(self) -> None:
        _ratio("ratio", self.ratio)
        require_whole("every_bars", self.every_bars, 1)

    def params(self) -> tuple[float, ...]:
        return (self.ratio, 0.0, float(self.every_bars))


@dataclass(frozen=True)
class FundingAware:
    """Hedge at `ratio`, but cut to `reduced_ratio` while funding stays negative.

    The hedge is cut after `negative_window` consecutive funding events of its perpetual with a
    negative rate (the short pays), and restored after `negative_window` consecutive events with a
    rate above `hysteresis` (rate per interval, e.g. 5e-5 = 0.005 %). A switch happens only when at
    least `min_hold_bars` bars have passed since the previous switch. Between switches the hedge is
    kept within `band` of its target like DriftBand.

    ratio: 0..3, default 1. reduced_ratio: 0..ratio, default 0 (drop). negative_window: 1..1000
    events, default 3. hysteresis: 0..0.01, default 5e-5. min_hold_bars: >= 0, default 4320.
    band: (0, 1], default 0.05.
    """

    code: ClassVar[int] = 3
    name: ClassVar[str] = "funding"  # as `--policy` and sweep grids spell it
    ratio: float = 1.0
    negative_window: int = 3
    hysteresis: float = 5e-5
    min_hold_bars: int = 4320
    reduced_ratio: float = 0.0
    band: float = 0.05

    def __post_init__(self) -> None:
        _ratio("ratio", self.ratio)
        _ratio("reduced_ratio", self.reduced_ratio)
        if self.reduced_ratio > self.ratio:
            raise InputError(
                "reduced_ratio", self.reduced_ratio, f"give at most ratio={self.ratio}"
            )
        require_whole("negative_window", self.negative_window, 1)
        if self.negative_window > 1000:
            raise InputError("negative_window", self.negative_window, "give at most 1000 events")
        require_non_negative("hysteresis", self.hysteresis)
        if self.hysteresis > 0.01:
            raise InputError("hysteresis", self.hysteresis, "give a rate per interval <= 0.01")
        require_whole("min_hold_bars", self.min_hold_bars, 0)
        require_positive("band", self.band)
        require_fraction("band", self.band)

    def params(self) -> tuple[float, ...]:
        return (
            self.ratio,
            self.band,
            float(self.negative_window),
            self.hysteresis,
            float(self.min_hold_bars),
            self.reduced_ratio,
        )


@dataclass(frozen=True)
class VolTriggered:
    """Hedge at `ratio_high` while the holding's volatility is above `vol_threshold`, else at
    `ratio_low`.

    Volatility: exponentially weighted (span `vol_window` bars) mean of squared simple spot
    returns, annualised with the bar length of the data; during the first `vol_window` bars
    (warm-up) the high ratio applies. Re-sizes within `band` like DriftBand.
    ratio_low: 0..3, default 0.5. ratio_high: 0..3, default 1. vol_window: >= 2 bars, default
    10080 (a week of minutes). vol_threshold: annualised, (0, 10], default 0.8 (80 %).
    band: (0, 1], default 0.05.
    """

    code: ClassVar[int] = 4
    name: ClassVar[str] = "vol"  # as `--policy` and sweep grids spell it
    ratio_low: float = 0.5
    ratio_high: float = 1.0
    vol_window: int = 10080
    vol_threshold: float = 0.8
    band: float = 0.05

    def __post_init__(self) -> None:
        _ratio("ratio_low", self.ratio_low)
        _ratio("ratio_high", self.ratio_high)
        require_whole("vol_window", self.vol_window, 2)
        require_positive("vol_threshold", self.vol_threshold)
        if self.vol_threshold > 10:
            raise InputError("vol_threshold", self.vol_threshold, "give an annualised vol <= 10")
        require_positive("band", self.band)
        require_fraction("band", self.band)

    def params(self) -> tuple[float, ...]:
        return (
            self.ratio_high,
            self.band,
            float(self.vol_window),
            self.vol_threshold,
            self.ratio_low,
        )

    @property
    def ratio(self) -> float:
        return self.ratio_high


SHORTFALL_CODES = {"alert": 0.0, "sell_spot": 1.0, "delever": 2.0}
FUNDING_ACTIONS = ("keep", "reduce", "unwind")


@dataclass(frozen=True)
class Keeper:
    """The keeper (`perphedge.hedge.keeper`, the live policy) at each bar's close: keep the
    short at `ratio` within `band`; below `min_distance` from liquidation, top up from cash to
    `target_distance`; when cash runs out, `on_shortfall`: sell_spot (sell just enough coins,
    the short reduced in step), delever, or alert (nothing moves; counted); re-open a liquidated
    short after `reopen_cooldown_bars` (-1: never); with `surplus_distance` > 0, margin above
    what that distance needs goes back to cash, down to the target (never below N / L).
    Funding regime (`hedge.keeper.funding_switch`, the live rule): with `funding_action` reduce
    or unwind, when the trailing funding cost of a leg's perpetual (the settlements in the last
    `funding_window_bars` bars, as an APR, `hedge.keeper.trailing_cost_apr`) passes
    `funding_limit_apr`, its short goes to `funding_reduced_ratio` x target (reduce) or 0
    (unwind); below `funding_limit_apr - funding_hysteresis_apr` it is restored; no switch
    within `funding_min_hold_bars` of the previous one.

    ratio: 0..3, default 1. band: [0, 1], default 0.1. min_distance: (0, 1), default 0.3.
    target_distance: (min_distance, 5], default 0.5. reopen_cooldown_bars: >= -1, default 3
    (24 h of 8-hour bars). on_shortfall: sell_spot|delever|alert. surplus_distance: 0 (off) or
    (target_distance, 10]. funding_action: keep|reduce|unwind, default keep.
    funding_limit_apr: [0, 10], default 0.3. funding_reduced_ratio: [0, 1], default 0.5.
    funding_hysteresis_apr: [0, funding_limit_apr], default 0.1. funding_min_hold_bars: >= 0,
    default 9 (72 h of 8-hour bars). funding_window_bars: >= 1, default 21 (7 days of 8-hour
    bars). The defaults are `hedge.keeper.KeeperPolicy`'s.
    """

    code: ClassVar[int] = 5
    name: ClassVar[str] = "keeper"  # as `--policy` and sweep grids spell it
    ratio: float = 1.0
    band: float = 0.10
    min_distance: float = 0.30
    target_distance: float = 0.50
    reopen_cooldown_bars: int = 3
    on_shortfall: str = "sell_spot"
    surplus_distance: float = 0.0
    funding_action: str = "keep"
    funding_limit_apr: float = 0.30
    funding_reduced_ratio: float = 0.5
    funding_hysteresis_apr: float = 0.10
    funding_min_hold_bars: int = 9
    funding_window_bars: int = 21

    def __post_init__(self) -> None:
        _ratio("ratio", self.ratio)
        require_fraction("band", self.band)
        require_finite("min_distance", self.min_distance)
        if not 0.0 < self.min_distance < 1.0:
            raise InputError("min_distance", self.min_distance, "give a fraction in (0, 1)")
        require_finite("target_distance", self.target_distance)
        if not self.min_distance < self.target_distance <= 5.0:
            raise InputError(
                "target_distance", self.target_distance, "give a distance above min_distance, <= 5"
            )
        require_whole("reopen_cooldown_bars", self.reopen_cooldown_bars, -1)
        if self.on_shortfall not in SHORTFALL_CODES:
            raise InputError("on_shortfall", self.on_shortfall, "use sell_spot, delever or alert")
        require_finite("surplus_distance", self.surplus_distance)
        if self.surplus_distance and not self.target_distance < self.surplus_distance <= 10.0:
            raise InputError(
                "surplus_distance", self.surplus_distance, "give 0 (off) or above target_distance"
            )
        self._check_funding()

    def _check_funding(self) -> None:
        if self.funding_action not in FUNDING_ACTIONS:
            raise InputError("funding_action", self.funding_action, "use keep, reduce or unwind")
        require_finite("funding_limit_apr", self.funding_limit_apr)
        if not 0.0 <= self.funding_limit_apr <= 10.0:
            raise InputError(
                "funding_limit_apr", self.funding_limit_apr, "give an APR fraction in [0, 10]"
            )
        require_fraction("funding_reduced_ratio", self.funding_reduced_ratio)
        require_finite("funding_hysteresis_apr", self.funding_hysteresis_apr)
        if not 0.0 <= self.funding_hysteresis_apr <= self.funding_limit_apr:
            raise InputError(
                "funding_hysteresis_apr", self.funding_hysteresis_apr,
                f"give an APR fraction between 0 and funding_limit_apr ({self.funding_limit_apr:g})",
            )  # fmt: skip
        require_whole("funding_min_hold_bars", self.funding_min_hold_bars, 0)
        require_whole("funding_window_bars", self.funding_window_bars, 1)

    @property
    def funding_scale(self) -> float:
        """Fraction of the target kept while the funding regime is on; -1: no regime (keep)."""
        if self.funding_action == "keep":
            return -1.0
        return 0.0 if self.funding_action == "unwind" else self.funding_reduced_ratio

    def params(self) -> tuple[float, ...]:
        return (
            self.ratio,
            self.band,
            self.min_distance,
            self.target_distance,
            float(self.reopen_cooldown_bars),
            SHORTFALL_CODES[self.on_shortfall],
            self.surplus_distance,
            self.funding_scale,
            self.funding_limit_apr,
            self.funding_hysteresis_apr,
            float(self.funding_min_hold_bars),
            float(self.funding_window_bars),
        )


Policy = StaticRatio | DriftBand | Schedule | FundingAware | VolTriggered | Keeper
POLICIES: tuple[type[Policy], ...] = (
    StaticRatio, DriftBand, Schedule, FundingAware, VolTriggered, Keeper,
)  # fmt: skip
N_POLICY_PARAMS = 12


def policy_vector(policy: Policy) -> FloatArray:
    """The policy's `params()` as the kernel's fixed-length vector (unused slots are 0).

    Slot 0 is always the (full) hedge ratio and slot 1 the drift band (0: none).
    """
    values = policy.params()
    out = np.zeros(N_POLICY_PARAMS, dtype=np.float64)
    out[: len(values)] = values
    return out
