"""Bad backtest input fails at construction with one line naming the field, value and fix."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from perphedge.backtest import (
    BacktestSpec,
    Costs,
    DriftBand,
    FundingAware,
    HedgeLeg,
    Keeper,
    MarketArrays,
    Schedule,
    StaticRatio,
    VolTriggered,
    run_backtest,
)
from perphedge.backtest.policies import policy_vector
from perphedge.errors import DataError, InputError
from perphedge.venues.tier_tables import bundled

NONE_I = np.zeros(0, dtype=np.int64)
NONE_F = np.zeros(0)


def prices(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(-1, 1)


def arrays(spot: np.ndarray, times: np.ndarray | None = None) -> MarketArrays:
    t = np.arange(spot.shape[0], dtype=np.int64) * 60_000 if times is None else times
    return MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("BTC",), ("BTCUSDT",))


def test_a_missing_price_is_refused_with_its_bar_and_column() -> None:
    with pytest.raises(DataError, match=r"spot has a missing, zero or negative price at bar 2"):
        arrays(prices([100.0, 101.0, float("nan"), 99.0]))


def test_a_bad_price_past_the_first_check_chunk_names_its_own_bar() -> None:
    spot = np.full((70_000, 1), 100.0)
    spot[66_000, 0] = -1.0  # validation runs in chunks of 65,536 rows
    with pytest.raises(DataError, match="price at bar 66000, column 0"):
        arrays(spot)


def test_times_must_ascend() -> None:
    times = np.array([0, 60_000, 60_000], dtype=np.int64)
    with pytest.raises(DataError, match="strictly ascending; bar 2"):
        arrays(prices([1.0, 2.0, 3.0]), times)


def test_funding_events_must_point_inside_the_data() -> None:
    spot = prices([1.0, 2.0])
    t = np.array([0, 1], dtype=np.int64)
    with pytest.raises(DataError, match="funding_bar must be sorted and within"):
        MarketArrays(t, spot, spot, spot, np.array([5]), np.array([0]), np.array([1e-4]), ("a",), ("A",))  # fmt: skip


def test_dense_funding_is_turned_into_events() -> None:
    spot = prices([1.0, 2.0, 3.0])
    rate = np.array([[0.0], [1e-4], [0.0]])
    event = np.array([[False], [True], [False]])
    t = np.arange(3, dtype=np.int64)
    data = MarketArrays.from_dense_funding(t, spot, spot, spot, rate, event, ("a",), ("A",))
    assert data.funding_bar.tolist() == [1]
    assert data.rate_per_interval.tolist() == [1e-4]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DriftBand(1.0, 0.0), "band=0.0 is invalid: give a number greater than zero"),
        (lambda: StaticRatio(5.0), "ratio=5.0 is invalid: give a hedge ratio between 0 and 3"),
        (lambda: Schedule(1.0, 0), "every_bars=0 is invalid: give a whole number >= 1"),
        (lambda: FundingAware(0.5, reduced_ratio=0.8), "reduced_ratio=0.8 is invalid"),
        (lambda: FundingAware(negative_window=0), "negative_window=0 is invalid"),
        (lambda: VolTriggered(vol_threshold=20.0), "vol_threshold=20.0 is invalid"),
        (lambda: VolTriggered(vol_window=1), "vol_window=1 is invalid"),
        (lambda: Costs(slippage_bp=-1.0), "slippage_bp=-1.0 is invalid"),
        (lambda: HedgeLeg(1.0, 0, 0, beta=0.0), "beta=0.0 is invalid"),
    ],
)
def test_parameters_out_of_bounds_are_named(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        build()


def test_spec_checks_columns_and_leverage_against_the_data() -> None:
    data = arrays(prices([100.0, 101.0]))
    with pytest.raises(InputError, match=r"legs\[0\].hedge_col=3 is invalid: no such perp column"):
        run_backtest(BacktestSpec((HedgeLeg(1.0, 0, 3),)), data)
    with pytest.raises(InputError, match="leverage=200 is invalid"):
        BacktestSpec((HedgeLeg(1.0, 0, 0),), leverage=200)
    # 20,000 BTC x 100 = 2,000,000 USD sits in Binance's 75x bracket: 100x is refused
    leg = HedgeLeg(20_000.0, 0, 0, tiers=bundled("binance:BTCUSDT"))
    with pytest.raises(InputError, match="leg 0 allows at most 75x"):
        run_backtest(BacktestSpec((leg,), leverage=100.0), data)


def test_policy_vectors_put_the_ratio_first_and_the_band_second() -> None:
    assert policy_vector(DriftBand(0.8, 0.1)).tolist() == [0.8, 0.1] + [0.0] * 10
    assert (
        policy_vector(VolTriggered(0.25, 0.9, 30, 0.7, 0.02)).tolist()
        == [
            0.9,
            0.02,
            30.0,
            0.7,
            0.25,
        ]
        + [0.0] * 7
    )
    # the keeper: ratio, band, min and target distance, cooldown bars, shortfall code, surplus,
    # then the funding regime: scale (-1: keep, no regime), limit, hysteresis, hold, window
    assert policy_vector(Keeper(on_shortfall="delever")).tolist() == [
        1.0, 0.1, 0.3, 0.5, 3.0, 2.0, 0.0, -1.0, 0.3, 0.1, 9.0, 21.0,
    ]  # fmt: skip
    reduce = Keeper(funding_action="reduce", funding_reduced_ratio=0.25)
    assert policy_vector(reduce).tolist()[7] == 0.25
    assert policy_vector(Keeper(funding_action="unwind")).tolist()[7] == 0.0


def test_mark_highs_and_lows_follow_the_price_rules() -> None:
    spot = prices([100.0, 101.0, 102.0])
    t = np.arange(3, dtype=np.int64)
    good = MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("a",), ("A",), spot, spot)
    assert good.nbytes == 3 * 8 + 3 * 8 * 2 + 3 * 8 * 2  # times, spot, perp (= mark), high, low
    with pytest.raises(DataError, match="mark_high has a missing, zero or negative price at bar 1"):
        MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("a",), ("A",),
                     prices([101.0, 0.0, 103.0]))  # fmt: skip
    with pytest.raises(DataError, match="mark_low must be float64"):
        MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("a",), ("A",),
                     mark_low=spot.astype(np.float32))  # fmt: skip
    with pytest.raises(DataError, match=r"mark_high must be a T x columns array with T=3"):
        MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("a",), ("A",), spot[:2])
    wide = np.hstack([spot, spot])
    with pytest.raises(DataError, match=r"mark_low \(3, 2\) and mark \(3, 1\) shapes differ"):
        MarketArrays(t, spot, spot, spot, NONE_I, NONE_I, NONE_F, ("a",), ("A",), None, wide)
