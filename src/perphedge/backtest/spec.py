"""What a backtest is made of: market arrays, hedge legs, costs, the whole spec (its policy is
one of `backtest.policies`).

Everything here is frozen and validated at construction; a bad value raises InputError (or
DataError for market data) naming the field, the value and the fix, on one line.

Shapes: T bars, K spot columns (one per holding's spot price), J perpetual columns (hedge
instruments; a leg may hedge through a proxy column with a beta). Times are int64 epoch ms,
prices float64 in USD per coin. Funding is given as a sparse, bar-sorted event list
(`funding_bar`, `funding_col`, `rate_per_interval`): funding is rare (one event per 480 one-minute
bars), so a dense T x J rate array would only waste memory. `MarketArrays.from_dense_funding`
builds it from dense arrays.

"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perphedge.backtest.policies import POLICIES, DriftBand, Policy
from perphedge.errors import (
    DataError,
    InputError,
    require_finite,
    require_non_negative,
    require_positive,
    require_whole,
)
from perphedge.instruments import ContractKind, TierTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SPOT_TAKER_FEE = 0.001  # Binance spot, regular tier, taker: 0.1 %
CHECK_ROWS = 65_536  # validate in row chunks: no temporary as large as the price arrays


def _prices(name: str, arr: FloatArray, rows: int) -> FloatArray:
    """Refuse a price array of the wrong shape or with a NaN, infinite, zero or negative price."""
    if arr.ndim != 2 or arr.shape[0] != rows:
        raise DataError(f"{name} must be a T x columns array with T={rows}; got shape {arr.shape}")
    for start in range(0, rows, CHECK_ROWS):
        chunk = arr[start : start + CHECK_ROWS]
        good = np.isfinite(chunk) & (chunk > 0)
        if not good.all():
            bad = np.argwhere(~good)[0]
            raise DataError(
                f"{name} has a missing, zero or negative price at bar {start + bad[0]}, "
                f"column {bad[1]}: fill or cut the gap before backtesting"
            )
    return arr


@dataclass(frozen=True, eq=False)
class MarketArrays:
    """Aligned market data of one backtest (see the module docstring for shapes and units).

    `perp` is the perpetual's last/trade price (fills); `mark` its mark price (margin, liquidation,
    funding, valuation). Pass the same array for both when only one series exists.
    `mark_high` / `mark_low` (optional, T x J like `mark`): the highest and lowest mark inside each
    bar (since the previous bar's close); with them a leg is liquidated when the mark touches its
    liquidation price inside a bar, at that price (see `kernels`). None: only the closes are known.
    Funding events: `funding_bar[e]` is the bar index at which the rate `rate_per_interval[e]`
    settles on perpetual column `funding_col[e]`; events are sorted by bar.
    """

    times_ms: IntArray
    spot: FloatArray
    perp: FloatArray
    mark: FloatArray
    funding_bar: IntArray
    funding_col: IntArray
    rate_per_interval: FloatArray
    spot_names: tuple[str, ...]
    perp_names: tuple[str, ...]
    mark_high: FloatArray | None = None
    mark_low: FloatArray | None = None

    def __post_init__(self) -> None:
        t = self.times_ms
        if t.ndim != 1 or t.size < 2 or t.dtype != np.int64:
            raise DataError("times_ms must be a 1-D int64 array of at least 2 bars (epoch ms)")
        rising = t[1:] > t[:-1]
        if not rising.all():
            bad = int(np.argmin(rising)) + 1
            raise DataError(f"times_ms must be strictly ascending; bar {bad} is not")
        rows = t.size
        for name in ("spot", "perp", "mark"):
            arr = getattr(self, name)
            if arr.dtype != np.float64:
                raise DataError(f"{name} must be float64, got {arr.dtype}")
            _prices(name, arr, rows)
        if self.perp.shape != self.mark.shape:
            raise DataError(f"perp {self.perp.shape} and mark {self.mark.shape} shapes differ")
        for name in ("mark_high", "mark_low"):
            arr = getattr(self, name)
            if arr is None:
                continue
            if arr.dtype != np.float64:
                raise DataError(f"{name} must be float64, got {arr.dtype}")
            _prices(name, arr, rows)
            if arr.shape != self.mark.shape:
                raise DataError(f"{name} {arr.shape} and mark {self.mark.shape} shapes differ")
        self._check_names()
        self._check_funding()

    def _check_names(self) -> None:
        if len(self.spot_names) != self.spot.shape[1]:
            raise DataError(f"{len(self.spot_names)} spot_names for {self.spot.shape[1]} columns")
        if len(self.perp_names) != self.perp.shape[1]:
            raise DataError(f"{len(self.perp_names)} perp_names for {self.perp.shape[1]} columns")

    def _check_funding(self) -> None:
        bar, col, rate = self.funding_bar, self.funding_col, self.rate_per_interval
        if not (bar.ndim == col.ndim == rate.ndim == 1 and bar.size == col.size == rate.size):
            raise DataError("funding_bar, funding_col and rate_per_interval must be 1-D, same size")
        if bar.dtype != np.int64 or col.dtype != np.int64 or rate.dtype != np.float64:
            raise DataError("funding_bar/funding_col must be int64 and rate_per_interval float64")
        if bar.size == 0:
            return
        if np.any(np.diff(bar) < 0) or bar[0] < 0 or bar[-1] >= self.n_bars:
            raise DataError("funding_bar must be sorted and within [0, T)")
        if col.min() < 0 or col.max() >= self.perp.shape[1]:
            raise DataError("funding_col must index a perpetual column")
        if not np.isfinite(rate).all():
            e = int(np.argmax(~np.isfinite(rate)))
            raise DataError(f"funding rate at bar {bar[e]} (column {col[e]}) is not a number")

    @classmethod
    def from_dense_funding(  # noqa: PLR0913 (one argument per market array)
        cls,
        times_ms: IntArray,
        spot: FloatArray,
        perp: FloatArray,
        mark: FloatArray,
        funding_rate: FloatArray,
        funding_event: BoolArray,
        spot_names: tuple[str, ...],
        perp_names: tuple[str, ...],
        *,
        mark_high: FloatArray | None = None,
        mark_low: FloatArray | None = None,
    ) -> MarketArrays:
        """Build from a dense T x J rate array and a T x J bool array marking the events."""
        if funding_rate.shape != perp.shape or funding_event.shape != perp.shape:
            raise DataError("funding_rate and funding_event must have the perp array's shape")
        bar, col = np.nonzero(funding_event)
        return cls(
            times_ms,
            spot,
            perp,
            mark,
            bar.astype(np.int64),
            col.astype(np.int64),
            np.ascontiguousarray(funding_rate[bar, col], dtype=np.float64),
            spot_names,
            perp_names,
            mark_high,
            mark_low,
        )

    @property
    def n_bars(self) -> int:
        return int(self.times_ms.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct input arrays (mark counted once when it is `perp`)."""
        arrays = [self.times_ms, self.spot, self.perp, self.funding_bar, self.funding_col]
        arrays.append(self.rate_per_interval)
        if self.mark is not self.perp:
            arrays.append(self.mark)
        arrays += [a for a in (self.mark_high, self.mark_low) if a is not None]
        return int(sum(a.nbytes for a in arrays))


@dataclass(frozen=True)
class HedgeLeg:
    """One holding and the short perpetual that insures it.

    `qty_base`: coins of the holding (spot column `spot_col`), held throughout.
    `hedge_col`: the perpetual column used (the same asset, or a proxy); `beta`: USD of hedge
    notional per USD of holding value at ratio 1 (1 for the same asset).
    `kind`: linear (size in base coin, margin in USD) or inverse (size in contracts of
    `contract_size` USD, margin, fees and funding in coin). `tiers`: maintenance brackets keyed by
    notional in the settle currency (USD linear, coin inverse). `funding_interval_hours`: the
    perpetual's funding interval (annualises the keeper's trailing funding cost).
    """

    qty_base: float
    spot_col: int
    hedge_col: int
    beta: float = 1.0
    kind: ContractKind = ContractKind.LINEAR
    contract_size: float = 1.0
    tiers: TierTable = field(default_factory=lambda: TierTable.flat(0.004))
    name: str = ""
    funding_interval_hours: float = 8.0

    def __post_init__(self) -> None:
        require_non_negative("qty_base", self.qty_base)
        require_whole("spot_col", self.spot_col, 0)
        require_whole("hedge_col", self.hedge_col, 0)
        require_finite("beta", self.beta)
        if not 0.0 < self.beta <= 10.0:
            raise InputError("beta", self.beta, "give a beta in (0, 10]; 1 for the same asset")
        require_positive("contract_size", self.contract_size)
        require_positive("funding_interval_hours", self.funding_interval_hours)


@dataclass(frozen=True)
class Costs:
    """Trading costs as fractions of traded notional (0.0005 = 0.05 %).

    Rebalances pay `taker_fee` plus `slippage_bp` (basis points of the perpetual price, against
    the trader); with `maker_rebalances` they pay `maker_fee` and no slippage. A liquidation pays
    `liquidation_fee` of the liquidated notional out of the remaining margin. Coins the keeper
    sells to fund a linear leg's margin pay `spot_taker_fee` of the proceeds (default 0.001:
    Binance spot, regular tier, taker); an inverse leg's margin is the coin itself, moved
    without a trade, so no fee.
    """

    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    slippage_bp: float = 1.0
    liquidation_fee: float = 0.0125
    maker_rebalances: bool = False
    spot_taker_fee: float = SPOT_TAKER_FEE

    def __post_init__(self) -> None:
        for name in ("maker_fee", "taker_fee", "liquidation_fee", "spot_taker_fee"):
            value = require_finite(name, getattr(self, name))
            if not -0.001 <= value < 0.1:
                raise InputError(name, value, "give a fee as a fraction of notional, e.g. 0.0005")
        require_non_negative("slippage_bp", self.slippage_bp)
        if self.slippage_bp > 1000:
            raise InputError("slippage_bp", self.slippage_bp, "give basis points below 1000")

    @property
    def trade_fee(self) -> float:
        return self.maker_fee if self.maker_rebalances else self.taker_fee

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of price (0 for maker rebalances)."""
        return 0.0 if self.maker_rebalances else self.slippage_bp * 1e-4


@dataclass(frozen=True)
class RecordOptions:
    """What to keep besides the per-bar equity curves.

    Per-leg margin ratios and hedge notionals are sampled every `stride` bars, chosen so that at
    most `max_points` samples are kept (default 100,000 per leg).
    """

    max_points: int = 100_000

    def __post_init__(self) -> None:
        require_whole("max_points", self.max_points, 2)

    def stride(self, n_bars: int) -> int:
        return max(1, math.ceil(n_bars / self.max_points))


@dataclass(frozen=True)
class BacktestSpec:
    """Everything that defines one run besides the market data.

    `initial_cash_usd`: the cash account (the reserve) beside the holdings; hedge margins are
    drawn from it and returned to it. `leverage`: every leg's isolated margin is re-set to
    notional / leverage when the leg is (re)sized. `auto_top_up`: when a leg reaches its
    maintenance margin, first move cash (if any is left) to bring its margin back to
    notional / leverage, and liquidate only if that is not enough. Margin mode is isolated per leg.
    """

    legs: tuple[HedgeLeg, ...]
    policy: Policy = field(default_factory=DriftBand)
    initial_cash_usd: float = 0.0
    leverage: float = 2.0
    costs: Costs = field(default_factory=Costs)
    auto_top_up: bool = False
    record: RecordOptions = field(default_factory=RecordOptions)
    margin_mode: str = "isolated"

    def __post_init__(self) -> None:
        if not self.legs:
            raise InputError("legs", "()", "give at least one holding to hedge")
        require_finite("initial_cash_usd", self.initial_cash_usd)
        require_positive("leverage", self.leverage)
        if self.leverage > 125:
            raise InputError("leverage", self.leverage, "give a leverage of at most 125")
        if not isinstance(self.policy, POLICIES):
            raise InputError("policy", self.policy, "use one of the policies in backtest.policies")
        if self.margin_mode != "isolated":
            raise InputError("margin_mode", self.margin_mode, "only 'isolated' is modelled")

    def check_against(self, data: MarketArrays) -> None:
        """Raise InputError when a leg points at a column the data does not have."""
        for i, leg in enumerate(self.legs):
            if leg.spot_col >= data.spot.shape[1]:
                raise InputError(f"legs[{i}].spot_col", leg.spot_col, "no such spot column")
            if leg.hedge_col >= data.perp.shape[1]:
                raise InputError(f"legs[{i}].hedge_col", leg.hedge_col, "no such perp column")
