"""The numba engine and the plain-Python reference agree on random scenarios; invariants hold."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.backtest import (
    BacktestSpec,
    Costs,
    DriftBand,
    FundingAware,
    HedgeLeg,
    Keeper,
    MarketArrays,
    Policy,
    Schedule,
    StaticRatio,
    VolTriggered,
    run_backtest,
)
from perphedge.backtest.reference import simulate_reference
from perphedge.instruments import ContractKind, TierTable

SMALL_TIERS = TierTable.from_rates(
    [(0, 500, 50, 0.01), (500, 2_000, 20, 0.02), (2_000, 1e15, 5, 0.05)]
)


@dataclass(frozen=True)
class Scenario:
    spec: BacktestSpec
    data: MarketArrays


def _intrabar(rng: np.random.Generator, mark: np.ndarray, vol: float) -> tuple[np.ndarray, ...]:
    """Random bar highs and lows around the path previous close -> close; one bar in ten has a
    high below its close (as when a reported settlement mark replaces the candle close)."""
    prev = np.vstack([mark[:1], mark[:-1]])
    reach = np.abs(rng.standard_t(3, size=(2, *mark.shape))) * vol
    high = np.maximum(prev, mark) * (1.0 + reach[0])
    low = np.minimum(prev, mark) / (1.0 + reach[1])
    below = rng.random(mark.shape) < 0.1
    return np.where(below, mark * 0.999, high), low


def _market(
    seed: int, n_bars: int, n_spot: int, n_perp: int, vol: float, highs: bool = False
) -> MarketArrays:
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(3, size=(n_bars, n_spot)) * vol
    spot = 100.0 * np.exp(np.cumsum(shocks, axis=0))
    cols = np.arange(n_perp) % n_spot
    perp = spot[:, cols] * (1.0 + rng.normal(0.0003, 0.002, size=(n_bars, n_perp)))
    mark = perp if rng.random() < 0.5 else perp * (1.0 + rng.normal(0, 5e-4, perp.shape))
    event = rng.random((n_bars, n_perp)) < 0.3
    rate = np.round(rng.normal(1e-4, 6e-4, size=(n_bars, n_perp)), 6)
    times = np.arange(n_bars, dtype=np.int64) * 60_000 + 1_700_000_000_000
    high, low = _intrabar(rng, mark, vol) if highs else (None, None)
    return MarketArrays.from_dense_funding(
        times,
        spot,
        perp,
        mark,
        np.where(event, rate, 0.0),
        event,
        tuple(f"s{k}" for k in range(n_spot)),
        tuple(f"p{j}" for j in range(n_perp)),
        mark_high=high,
        mark_low=low,
    )


ratios = st.floats(0.0, 1.5, allow_subnormal=False)  # subnormal hedges underflow every margin
bands = st.floats(0.001, 0.5)


@st.composite
def keepers(draw: st.DrawFn) -> Keeper:
    limit = draw(st.floats(0.0, 1.0))
    return Keeper(
        ratio=draw(ratios),
        band=draw(st.floats(0.0, 0.5)),
        min_distance=draw(st.floats(0.05, 0.5)),
        target_distance=draw(st.floats(0.55, 2.0)),
        reopen_cooldown_bars=draw(st.integers(-1, 5)),
        on_shortfall=draw(st.sampled_from(["sell_spot", "delever", "alert"])),
        surplus_distance=draw(st.sampled_from([0.0, 2.5, 4.0])),
        funding_action=draw(st.sampled_from(["keep", "reduce", "unwind"])),
        funding_limit_apr=limit,
        funding_reduced_ratio=draw(st.floats(0.0, 1.0, allow_subnormal=False)),
        funding_hysteresis_apr=draw(st.floats(0.0, 1.0)) * limit,
        funding_min_hold_bars=draw(st.integers(0, 5)),
        funding_window_bars=draw(st.integers(1, 10)),
    )


policies: st.SearchStrategy[Policy] = st.one_of(
    st.builds(StaticRatio, ratios),
    st.builds(DriftBand, ratios, bands),
    st.builds(Schedule, ratios, st.integers(1, 10)),
    st.builds(
        FundingAware,
        ratio=st.just(1.0),
        negative_window=st.integers(1, 3),
        hysteresis=st.floats(0.0, 2e-4),
        min_hold_bars=st.integers(0, 10),
        reduced_ratio=st.floats(0.0, 1.0),
        band=bands,
    ),
    st.builds(
        VolTriggered,
        ratio_low=st.floats(0.0, 1.0, allow_subnormal=False),
        ratio_high=ratios,
        vol_window=st.integers(2, 8),
        vol_threshold=st.floats(0.5, 10.0),
        band=bands,
    ),
    keepers(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_spot, n_perp = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    data = _market(
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(2, 60)),
        n_spot,
        n_perp,
        draw(st.sampled_from([0.001, 0.01, 0.05, 0.1])),
        highs=draw(st.booleans()),
    )
    small_tiers = draw(st.booleans())
    legs = []
    for k in range(n_spot):
        inverse = draw(st.booleans())
        legs.append(
            HedgeLeg(
                qty_base=draw(st.floats(0.1, 50.0)),
                spot_col=k,
                hedge_col=draw(st.integers(0, n_perp - 1)),
                beta=draw(st.floats(0.5, 1.5)),
                kind=ContractKind.INVERSE if inverse else ContractKind.LINEAR,
                contract_size=draw(st.sampled_from([10.0, 100.0])) if inverse else 1.0,
                tiers=SMALL_TIERS if small_tiers else TierTable.flat(draw(st.floats(0.004, 0.1))),
            )
        )
    costs = Costs(
        maker_fee=draw(st.floats(-0.0001, 0.0005)),
        taker_fee=draw(st.floats(0.0, 0.001)),
        slippage_bp=draw(st.floats(0.0, 20.0)),
        liquidation_fee=draw(st.floats(0.0, 0.02)),
        maker_rebalances=draw(st.booleans()),
    )
    spec = BacktestSpec(
        legs=tuple(legs),
        policy=draw(policies),
        initial_cash_usd=draw(st.floats(0.0, 5_000.0)),
        leverage=draw(st.floats(1.0, 5.0 if small_tiers else 20.0)),
        costs=costs,
        auto_top_up=draw(st.booleans()),
    )
    return Scenario(spec, data)


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale)


@settings(max_examples=150)
@given(scenarios())
def test_engine_agrees_with_reference(sc: Scenario) -> None:
    got = run_backtest(sc.spec, sc.data)
    ref = simulate_reference(sc.spec, sc.data)
    scale = 1.0 + float(np.abs(ref["unhedged"]).max())
    _close(got.equity_usd, ref["equity"], scale)
    _close(got.equity_unhedged_usd, ref["unhedged"], scale)
    _close(got.funding_cum_usd, ref["funding_cum"], scale)
    _close(got.leg_funding_usd, ref["funding"], scale)
    _close(got.leg_fees_usd, ref["fees"], scale)
    _close(got.leg_hedge_pnl_usd, ref["hedge_pnl"], scale)
    _close(got.leg_basis_usd, ref["basis"], scale)
    _close(got.leg_liquidation_loss_usd, ref["liq_loss"], scale)
    _close(got.leg_top_up_usd, ref["top_up"], scale)
    _close(np.array([got.final_cash_usd, got.min_cash_usd]), ref["cash"], scale)
    assert got.leg_trades.tolist() == ref["trades"].astype(int).tolist()
    assert got.leg_hedged_bars.tolist() == ref["hedged_bars"].astype(int).tolist()
    assert got.leg_liquidation_bar.tolist() == ref["liq_bar"].astype(int).tolist()
    # the keeper's books
    _close(got.leg_spot_sold, ref["sold"], 1.0 + float(ref["sold"].max(initial=0.0)))
    _close(got.leg_spot_proceeds_usd, ref["proceeds"], scale)
    _close(got.leg_margin_lost_usd, ref["lost"], scale)
    _close(got.leg_margin_returned_usd, ref["returned"], scale)
    assert got.leg_reopens.tolist() == ref["reopens"].astype(int).tolist()
    assert got.leg_liquidations.tolist() == ref["liquidations"].astype(int).tolist()
    assert got.leg_alert_bars.tolist() == ref["alerts"].astype(int).tolist()
    _close(got.leg_spot_fees_usd, ref["spot_fees"], scale)
    assert got.leg_funding_switches.tolist() == ref["funding_switches"].astype(int).tolist()


@settings(max_examples=150)
@given(scenarios())
def test_equity_gap_is_hedge_pnl_plus_funding_minus_costs(sc: Scenario) -> None:
    r = run_backtest(sc.spec, sc.data)
    gap = r.equity_usd[-1] - sc.spec.initial_cash_usd - r.equity_unhedged_usd[-1]
    parts = r.hedge_pnl + r.funding_pnl - r.fees - r.liquidation_loss
    scale = 1.0 + float(np.abs(r.equity_unhedged_usd).max())
    assert abs(gap - parts) <= 1e-9 * scale
    assert 0.0 <= r.share_hedged <= 1.0
    assert r.fees >= -1e-9 * scale or sc.spec.costs.maker_fee < 0
    # a re-opened (keeper) leg can be liquidated again; the last time of each leg is listed
    assert r.liquidations >= len(r.liquidation_times_ms) == (r.leg_liquidation_bar >= 0).sum()
    assert (r.leg_margin_lost_usd[r.leg_liquidations > 0] > 0).all()


@settings(max_examples=150)
@given(scenarios())
def test_with_bar_highs_a_liquidated_leg_never_loses_more_than_its_margin(sc: Scenario) -> None:
    # liquidated at the touch of its liquidation price, a leg's margin there is its maintenance
    # margin (>= 0): the forfeited rest is never negative. (Only funding larger than the whole
    # margin could make it so; the rates here are far from that.)
    data = sc.data
    if data.mark_high is None:
        high, low = _intrabar(np.random.default_rng(0), data.mark, 0.05)
        data = dataclasses.replace(data, mark_high=high, mark_low=low)
    r = run_backtest(sc.spec, data)
    scale = 1.0 + float(np.abs(r.equity_unhedged_usd).max())
    assert (r.leg_liquidation_loss_usd >= -1e-9 * scale).all()


@settings(max_examples=100)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_bars=st.integers(2, 300),
    policy=st.one_of(
        st.builds(DriftBand, st.just(1.0), bands),
        st.builds(Schedule, st.just(1.0), st.integers(1, 20)),
        st.just(StaticRatio(1.0)),
    ),
    leverage=st.floats(1.0, 3.0),
)
def test_full_hedge_without_costs_funding_or_basis_stays_flat(  # linear and inverse
    seed: int, n_bars: int, policy: Policy, leverage: float
) -> None:
    rng = np.random.default_rng(seed)
    spot = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.003, size=(n_bars, 2)), axis=0))
    times = np.arange(n_bars, dtype=np.int64) * 60_000
    zero_i, zero_f = np.zeros(0, np.int64), np.zeros(0)
    data = MarketArrays(times, spot, spot, spot, zero_i, zero_i, zero_f, ("a", "b"), ("A", "B"))
    inverse = HedgeLeg(7.5, 1, 1, kind=ContractKind.INVERSE, contract_size=100.0)
    legs = (HedgeLeg(3.0, 0, 0), inverse)  # a linear and a coin-margined (inverse) hedge
    spec = BacktestSpec(
        legs, policy, initial_cash_usd=1_000.0, leverage=leverage, costs=Costs(0, 0, 0, 0)
    )
    r = run_backtest(spec, data)
    assert r.liquidations == 0
    start = r.equity_usd[0]
    assert abs(start - (1_000.0 + 3.0 * spot[0, 0] + 7.5 * spot[0, 1])) <= 1e-12 * start
    np.testing.assert_allclose(r.equity_usd, start, rtol=1e-12)
    assert abs(r.basis_pnl) <= 1e-9 * start
