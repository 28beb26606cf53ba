"""The single run lets a linear leg rest between full steps inside a box of marks fixed at its
last full step (`kernels.rest`). Marks on, just inside and just outside each side of the box
must give what the full step at every bar gives: the plain-Python reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from perphedge.backtest import (
    BacktestSpec,
    Costs,
    DriftBand,
    HedgeLeg,
    MarketArrays,
    StaticRatio,
    run_backtest,
)
from perphedge.backtest.kernels.rest import EDGE, FEW, LANES
from perphedge.backtest.reference import simulate_reference
from perphedge.instruments import TierTable
from tests.backtest.test_backtest_cases import market, run_both

FEES = Costs(taker_fee=0.0005, slippage_bp=0.0, liquidation_fee=0.01)
TIERS = TierTable.from_rates([(0, 1_000, 50, 0.01), (1_000, 1e15, 10, 0.05)])
# relative offsets of a mark from a bound of the box: on it, within EDGE on either side, and
# a little further out
NEAR = st.sampled_from([0.0, EDGE / 2, -EDGE / 2, EDGE, -EDGE, 3 * EDGE, -3 * EDGE, 1e-12])
OFFSETS = st.one_of(NEAR, st.floats(-1e-8, 1e-8))


def _held(path: list[float]) -> list[float]:
    """The path, then its last price for more bars than a block of lanes: the resting loop
    reads a bar's row past the last leg into the next rows, so it stops that many bars before
    the end; with the tail it books the bars under test."""
    return path + [path[-1]] * (LANES + 2)


def _liquidation_mark(qty: float, m0: float, leverage: float, mmr: float) -> float:
    """The mark where a short of qty opened at m0 with margin N / L meets maintenance
    (flat tier): w - q (m - m0) = q m mmr."""
    w = qty * m0 / leverage
    return (w + qty * m0) / (qty * (1.0 + mmr))


@settings(max_examples=120, deadline=None)
@given(
    offset=OFFSETS,
    leverage=st.sampled_from([2.0, 3.0, 5.0, 10.0]),
    approach=st.integers(1, 6),
    after=st.floats(0.5, 0.99),
)
@example(offset=0.0, leverage=5.0, approach=3, after=0.9)
def test_a_mark_at_the_liquidation_bound_liquidates_as_the_full_step_does(
    offset: float, leverage: float, approach: int, after: float
) -> None:
    mmr = 0.005
    liq = _liquidation_mark(1.0, 100.0, leverage, mmr)
    # the mark climbs towards the liquidation mark, touches it (give or take `offset`), falls
    path = [100.0, *np.linspace(100.0, liq * 0.999, approach + 1)[1:], liq * (1 + offset)]
    path += [liq * after, 100.0]
    spec = BacktestSpec(
        (HedgeLeg(1.0, 0, 0, tiers=TierTable.flat(mmr)),), StaticRatio(1.0), 1_000.0, leverage,
        FEES,
    )  # fmt: skip
    data = market(_held(path))
    r = run_both(spec, data)
    assert r.trades == 1  # the opening only: a static hedge is never re-sized
    ref = simulate_reference(spec, data)
    # the liquidation (and its fee) shows in the equity, which the reference matches to 1e-12
    assert r.liquidations in (0, 1)
    if offset >= 1e-12:
        assert r.liquidations == 1
    if offset <= -3 * EDGE:
        assert r.liquidations == 0
    np.testing.assert_allclose(r.equity_usd, ref["equity"], rtol=1e-12)


@settings(max_examples=120, deadline=None)
@given(offset=OFFSETS, band=st.sampled_from([0.001, 0.01, 0.05, 0.2]), up=st.booleans())
@example(offset=0.0, band=0.01, up=True)
def test_a_short_at_the_edge_of_its_band_resizes_as_the_full_step_does(
    offset: float, band: float, up: bool
) -> None:
    # spot moves while the mark stays: the short's notional drifts from its target by
    # exactly the band (give or take `offset`) at bar 2
    edge = 1.0 / (1.0 - band) if up else 1.0 / (1.0 + band)
    spot = [100.0, 100.0, 100.0 * edge * (1 + (offset if up else -offset)), 100.0]
    spec = BacktestSpec(
        (HedgeLeg(1.0, 0, 0, tiers=TierTable.flat(0.005)),), DriftBand(1.0, band), 1_000.0,
        3.0, FEES,
    )  # fmt: skip
    # each re-size pays a fee: in the equity
    r = run_both(spec, market(_held(spot), perp=_held([100.0] * 4)))
    if offset >= 3 * EDGE:  # clearly outside the band: re-sized at bar 2
        assert r.trades >= 2
    if offset <= -3 * EDGE:  # clearly inside: the opening only
        assert r.trades == 1


@settings(max_examples=80, deadline=None)
@given(offset=OFFSETS, start=st.floats(900.0, 999.0))
def test_a_notional_crossing_into_the_next_bracket_takes_its_maintenance_there(
    offset: float, start: float
) -> None:
    # 1 coin short from `start` USD; the mark climbs to the bracket edge at 1,000 USD of
    # notional (give or take `offset`), where the maintenance rate goes from 1 % to 5 %
    path = [start, (start + 1_000.0) / 2, 1_000.0 * (1 + offset), start]
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0, tiers=TIERS),), StaticRatio(1.0), 10_000.0, 8.0, FEES)
    r = run_both(spec, market(_held(path)))
    assert r.trades == 1
    # the margin at bar 2: N / L at the opening, less the mark's rise; maintenance in the
    # bracket of the notional there (cum of the 5 % bracket: 1,000 x (5 % - 1 %) = 40)
    mark = 1_000.0 * (1 + offset)
    margin = start / 8.0 - (mark - start)
    if offset >= 3 * EDGE:
        np.testing.assert_allclose(r.margin_ratio[2, 0], (mark * 0.05 - 40.0) / margin, rtol=1e-9)
    if offset <= -3 * EDGE:
        np.testing.assert_allclose(r.margin_ratio[2, 0], mark * 0.01 / margin, rtol=1e-9)


def _legs_market(n_bars: int, n_coins: int, n_perps: int, highs: bool) -> MarketArrays:
    """n_coins spot columns, n_perps perpetuals (perpetual j on coin j % n_coins, a basis of
    1 bp sd, funding every 480 bars), with mark highs up to 0.1 % over the bar's closes and,
    once in 2,000, a spike of 25 % (through a 5x short's liquidation price)."""
    rng = np.random.default_rng(3)
    spot = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, (n_bars, n_coins)), axis=0))
    perp = spot[:, np.arange(n_perps) % n_coins] * (1 + rng.normal(0, 1e-4, (n_bars, n_perps)))
    bars = np.arange(480, n_bars, 480, dtype=np.int64)
    high = None
    if highs:
        high = np.maximum(perp, np.vstack([perp[:1], perp[:-1]]))
        high *= 1 + rng.uniform(0, 1e-3, perp.shape)
        high[rng.uniform(size=perp.shape) < 5e-4] *= 1.25
    return MarketArrays(
        np.arange(n_bars, dtype=np.int64) * 60_000,
        spot,
        perp,
        perp,
        bars.repeat(n_perps),
        np.tile(np.arange(n_perps, dtype=np.int64), bars.size),
        rng.normal(1e-4, 3e-4, n_perps * bars.size),
        tuple(f"s{k}" for k in range(n_coins)),
        tuple(f"p{j}" for j in range(n_perps)),
        mark_high=high,
    )


@pytest.mark.parametrize(
    ("n_legs", "n_coins", "diagonal", "highs"),
    [
        (10, 5, False, False),  # ten legs on five coins: read through the columns
        (10, 10, True, False),  # leg i on column i: one block of lanes, read flat
        (LANES + 4, LANES + 4, True, False),  # two blocks
        (LANES + 4, LANES + 4, True, True),  # and the marks through each bar's high
        (3, 7, True, False),  # more columns than legs: lanes read columns no leg has
        (FEW, FEW, True, True),  # few legs: read one by one
    ],
)
def test_many_legs_resting_for_long_runs_agree_with_the_reference(
    n_legs: int, n_coins: int, diagonal: bool, highs: bool
) -> None:
    # a band tight for the basis (the short is in coins: the band re-sizes it when the mark
    # moves apart from spot): runs of resting bars broken by re-sizes, to the last bar
    n = 3_000
    data = _legs_market(n, n_coins, n_coins if diagonal else n_legs, highs)
    legs = tuple(
        HedgeLeg(1.0 + k, k if diagonal else k % n_coins, k, tiers=TIERS) for k in range(n_legs)
    )
    spec = BacktestSpec(legs, DriftBand(1.0, 4e-4), 100_000.0 * n_legs / 10, 5.0, FEES)
    r = run_both(spec, data)
    assert n_legs < r.trades < n  # re-sized now and then, resting in between
    if highs:  # spikes liquidate some legs inside a bar
        assert 0 < r.liquidations < n_legs


def test_price_arrays_in_any_memory_order_give_the_same_run() -> None:
    # the resting loop reads the prices flat in C order: Fortran-ordered arrays and column
    # slices of wider arrays are copied into that order first, to the same results
    data = _legs_market(2_000, 10, 10, highs=True)
    legs = tuple(HedgeLeg(1.0 + k, k, k, tiers=TIERS) for k in range(10))
    spec = BacktestSpec(legs, DriftBand(1.0, 4e-4), 100_000.0, 5.0, FEES)
    wide = np.hstack([data.spot, data.spot])
    other = dataclasses.replace(
        data,
        spot=wide[:, :10],
        perp=np.asfortranarray(data.perp),
        mark=np.asfortranarray(data.mark),
        mark_high=np.asfortranarray(data.mark_high),
    )
    assert not other.spot.flags.c_contiguous
    assert (
        run_backtest(spec, other).equity_usd.tolist()
        == run_backtest(spec, data).equity_usd.tolist()
    )
