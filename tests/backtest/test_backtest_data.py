"""Aligning native price and funding series on the backtest grid (pure, hand-checked)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.backtest.data import (
    DAY_MS,
    HOUR_MS,
    FundingInput,
    InstrumentInputs,
    PriceInput,
    align,
    asof,
    find_gaps,
)
from perphedge.errors import DataError, InputError
from perphedge.services.backtest_inputs import load_aligned
from perphedge.store.market import MarketStore

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
H8 = 8 * HOUR_MS


def _prices(name, opens, closes, interval_ms):
    return PriceInput(
        name, np.asarray(opens, np.int64), np.asarray(closes, np.float64), interval_ms
    )


def _funding(name, times, rates, marks=None):
    rates = np.asarray(rates, np.float64)
    marks = np.full(rates.shape, np.nan) if marks is None else np.asarray(marks, np.float64)
    return FundingInput(name, np.asarray(times, np.int64), rates, marks, np.full(rates.shape, 8.0))


def _btc(days=3, funding_marks=None):
    """Daily spot 100, 110, 120 ...; 8h marks 100, 101, ...; funding every 8 h at 0.0001 * n."""
    spot = _prices("BTC spot 1d", [T0 + d * DAY_MS for d in range(days)],
                   [100.0 + 10 * d for d in range(days)], DAY_MS)  # fmt: skip
    n = 3 * days
    mark = _prices("BTC mark 8h", [T0 + i * H8 for i in range(n)],
                   [100.0 + i for i in range(n)], H8)  # fmt: skip
    times = [T0 + i * H8 + 7 for i in range(1, n + 1)]  # ms jitter like Binance
    fund = _funding("BTC funding", times, [0.0001 * i for i in range(1, n + 1)], funding_marks)
    return spot, InstrumentInputs(fund, mark)


def test_asof_takes_the_last_known_value():
    known = np.array([10, 20, 30], np.int64)
    values = np.array([1.0, 2.0, 3.0])
    got = asof(known, values, np.array([5, 10, 25, 30, 99], np.int64))
    assert np.array_equal(got, [np.nan, 1.0, 2.0, 3.0, 3.0], equal_nan=True)


def test_grid_is_funding_times_and_spot_is_held_between_daily_closes():
    spot, inst = _btc(days=3)
    m = align([inst], [spot], T0, T0 + 3 * DAY_MS)
    # funding at T0+8h ... T0+72h (jitter floored); spot's first close is known at T0+1d,
    # so the run starts there: grid = T0+24h, +32h, ..., +72h (7 points)
    assert list(m.times_ms) == [T0 + h * HOUR_MS for h in range(24, 73, 8)]
    # daily candle opened T0 closes 100 at T0+1d; opened T0+1d closes 110 at T0+2d, etc.
    assert list(m.spot[:, 0]) == [100, 100, 100, 110, 110, 110, 120]
    # mark candle i (open T0+8h*i) closes 100+i at T0+8h*(i+1): at T0+24h -> candle 2 -> 102
    assert list(m.mark[:, 0]) == [102, 103, 104, 105, 106, 107, 108]
    assert np.array_equal(m.perp, m.mark)  # no last-trade series: fills at mark
    # settlement k (k = 1..9) at T0+8h*k with rate 0.0001*k; grid starts at k = 3
    assert m.funding_rate[:, 0] == pytest.approx([0.0001 * k for k in range(3, 10)])
    assert m.funding_event.all()
    assert any("covers" in n for n in m.notes)  # spot starts later than --from


def test_reported_funding_mark_wins_over_the_kline():
    marks = [np.nan] * 4 + [555.0] + [np.nan] * 4  # settlement 5 at T0+40h reports 555
    spot, inst = _btc(days=3, funding_marks=marks)
    m = align([inst], [spot], T0, T0 + 3 * DAY_MS)
    row = list(m.times_ms).index(T0 + 40 * HOUR_MS)
    assert m.mark[row, 0] == 555.0
    assert m.mark[row - 1, 0] == 103.0 and m.mark[row + 1, 0] == 105.0  # klines around it


def test_gaps_are_found_and_named():
    ts = np.array([T0, T0 + DAY_MS, T0 + 4 * DAY_MS], np.int64)
    (gap,) = find_gaps("ETH spot 1d", ts, DAY_MS)
    assert gap.missing == 2  # days 2 and 3 absent
    assert gap.describe() == "ETH spot 1d: 2 bars missing from 2024-01-03 00:00 to 2024-01-04 00:00"


def test_gap_warns_or_refuses_under_strict():
    spot, inst = _btc(days=4)
    holey = _prices("BTC spot 1d", np.delete(spot.ts_ms, 2), np.delete(spot.close, 2), DAY_MS)
    m = align([inst], [holey], T0, T0 + 4 * DAY_MS)
    assert [g.series for g in m.gaps] == ["BTC spot 1d"]
    # candle opened T0+2d is missing: its close (120, due at T0+3d) never arrives; 110 carries
    assert m.spot[list(m.times_ms).index(T0 + 3 * DAY_MS), 0] == 110.0
    with pytest.raises(
        DataError, match=r"gap in the data: BTC spot 1d: 1 bar missing at 2024-01-03"
    ):
        align([inst], [holey], T0, T0 + 4 * DAY_MS, strict=True)


def test_no_data_in_range_is_a_data_error():
    spot, inst = _btc(days=3)
    with pytest.raises(DataError, match="no data"):
        align([inst], [spot], T0 + 100 * DAY_MS, T0 + 200 * DAY_MS)


def test_from_after_to_is_an_input_error():
    spot, inst = _btc(days=3)
    with pytest.raises(InputError, match="--from"):
        align([inst], [spot], T0 + DAY_MS, T0)


def test_unsorted_series_are_refused():
    with pytest.raises(DataError, match="ascending"):
        _prices("x", [2, 1], [1.0, 2.0], DAY_MS)


def test_a_venue_moving_to_hourly_funding_is_not_a_gap():
    times = np.array([0, 8, 16, 17, 18, 20], np.int64) * HOUR_MS
    hours = np.array([8, 8, 8, 1, 1, 1], np.int64)
    (gap,) = find_gaps("HL funding", times, hours * HOUR_MS)
    assert (gap.last_before_ms, gap.first_after_ms, gap.missing) == (18 * HOUR_MS, 20 * HOUR_MS, 1)
    assert gap.first_missing_ms == gap.last_missing_ms == 19 * HOUR_MS


@st.composite
def _markets(draw):
    """An 8 h funding series and daily spot / 8 h mark candles with random holes."""
    n_days = draw(st.integers(3, 12))
    n = 3 * n_days
    keep_fund = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keep_mark = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keep_spot = draw(st.lists(st.booleans(), min_size=n_days, max_size=n_days))
    keep_fund[0] = keep_mark[0] = keep_spot[0] = True
    price = st.floats(1.0, 1e5, allow_nan=False)
    rate = st.floats(-0.003, 0.003, allow_nan=False)
    f_idx = [i for i in range(n) if keep_fund[i]]
    m_idx = [i for i in range(n) if keep_mark[i]]
    s_idx = [d for d in range(n_days) if keep_spot[d]]
    fund = _funding("F", [T0 + (i + 1) * H8 + 3 for i in f_idx],
                    [draw(rate) for _ in f_idx])  # fmt: skip
    mark = _prices("M", [T0 + i * H8 for i in m_idx], [draw(price) for _ in m_idx], H8)
    spot = _prices("S", [T0 + d * DAY_MS for d in s_idx], [draw(price) for _ in s_idx], DAY_MS)
    return InstrumentInputs(fund, mark), spot, n_days


@given(_markets())
@settings(max_examples=150)
def test_alignment_invariants(market):
    inst, spot, n_days = market
    try:
        m = align([inst], [spot], T0, T0 + n_days * DAY_MS)
    except DataError:
        return  # the holes left nothing every series covers: refused, never half-aligned
    # every price on the grid is one of the inputs' closes, finite and positive
    assert set(m.spot[:, 0]) <= set(spot.close)
    assert set(m.mark[:, 0]) <= set(inst.mark.close)
    assert np.all(np.isfinite(m.spot)) and np.all(m.spot > 0) and np.all(m.mark > 0)
    # each settlement inside the run is on the grid exactly once, with its own rate
    settle = inst.funding.ts_ms // 60_000 * 60_000
    inside = (settle >= m.times_ms[0]) & (settle <= m.times_ms[-1])
    assert m.funding_event[:, 0].sum() == inside.sum()
    assert list(m.funding_rate[m.funding_event[:, 0], 0]) == list(inst.funding.rate[inside])
    # as-of: a price is never taken from a candle that closes after the grid time
    for t, value in zip(m.times_ms, m.spot[:, 0], strict=True):
        closes = spot.close_ms[spot.close == value]
        assert closes.min() <= t


def test_bar_high_and_low_are_the_extremes_of_the_candles_closed_within_the_bar():
    # hourly mark candles opened T0 .. T0+23h, close 100 + h, high close + 1 (+ 30 at h = 11),
    # low close - 1 (- 20 at h = 20); settlements at T0+8h, +16h, +24h, the last reporting 130
    opens = np.asarray([T0 + h * HOUR_MS for h in range(24)], np.int64)
    closes = 100.0 + np.arange(24.0)
    highs = closes + np.where(np.arange(24) == 11, 30.0, 1.0)
    lows = closes - np.where(np.arange(24) == 20, 20.0, 1.0)
    hourly = PriceInput("BTC mark 1h", opens, closes, HOUR_MS, highs, lows)
    _, inst = _btc(days=1, funding_marks=[np.nan, np.nan, 130.0])
    spot = _prices("BTC spot 8h", [T0 - H8 + i * H8 for i in range(5)], [100.0] * 5, H8)
    m = align([InstrumentInputs(inst.funding, hourly)], [spot], T0, T0 + DAY_MS)
    assert m.times_ms.tolist() == [T0 + H8, T0 + 2 * H8, T0 + 3 * H8]
    assert m.mark[:, 0].tolist() == [107.0, 115.0, 130.0]
    # bar 0: its close; bar 1 (candles opened T0+8h .. T0+15h): high 111 + 30, low 108 - 1;
    # bar 2 (opened T0+16h .. T0+23h): high 123 + 1 = 124 but the reported mark 130 closes the
    # bar above it, so 130; low 120 - 20
    assert m.mark_high is not None and m.mark_low is not None
    assert m.mark_high[:, 0].tolist() == [107.0, 141.0, 130.0]
    assert m.mark_low[:, 0].tolist() == [107.0, 107.0, 100.0]
    # a mark series without highs and lows: closes only
    plain = align([inst], [spot], T0, T0 + DAY_MS)
    assert plain.mark_high is None and plain.mark_low is None
    with pytest.raises(DataError, match="BTC mark 1h: one low per candle expected"):
        PriceInput("BTC mark 1h", opens, closes, HOUR_MS, highs, lows[:3])


def test_the_bundled_sample_gives_each_bar_its_mark_high_and_low(tmp_path):
    store = MarketStore(tmp_path / "market.duckdb")  # reads the bundled sample until written
    since, until = T0 + 63 * DAY_MS, T0 + 64 * DAY_MS  # 2024-03-04 .. 2024-03-05
    m = load_aligned(store, "binance", ["BTC"], ["BTC/USDT:USDT"], since, until)
    assert m.mark_high is not None and m.mark_low is not None
    assert (m.mark_low <= m.mark).all() and (m.mark <= m.mark_high).all()
    # the bar closing 2024-03-04 16:00 holds the hourly candles opened 08:00 .. 15:00 of the
    # shared CSV: highest high 66,628.01488652 (15:00), lowest low 64,080.0 (08:00)
    bar = m.times_ms.tolist().index(T0 + 63 * DAY_MS + 2 * H8)
    assert m.mark_high[bar, 0] == 66_628.01488652
    assert m.mark_low[bar, 0] == 64_080.0
    # no mark candles stored for the coin-margined perpetual: the last-trade candles stand in,
    # highs and lows included
    inv = load_aligned(store, "binance", ["BTC"], ["BTC/USD:BTC"], T0, T0 + 2 * DAY_MS)
    assert inv.mark_high is not None and (inv.mark_high >= inv.mark).all()
    assert (inv.mark_high[1:] > inv.mark[1:]).any()
