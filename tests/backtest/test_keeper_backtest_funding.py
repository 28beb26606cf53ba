"""The backtest keeper's funding regime, the spot fee on coins it sells, and its reserve sized
without look-ahead."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from perphedge.backtest import BacktestSpec, Costs, HedgeLeg, Keeper, MarketArrays, run_backtest
from perphedge.backtest.from_portfolio import (
    FALLBACK_RESERVE_OF_NOTIONAL,
    keeper_for,
    reserve_before_start,
)
from perphedge.backtest.reference import simulate_reference
from perphedge.hedge.keeper import KeeperPolicy, LegMemory, LegState, funding_cost_apr, keep
from perphedge.hedge.keeper_model import FundingAction
from perphedge.hedge.reserve import LegHistory
from perphedge.instruments import ContractKind, Perpetual, TierTable
from tests.factories import portfolio_file

EIGHT_H = 8 * 3_600_000
DAY = 86_400_000
NONE_I, NONE_F = np.zeros(0, np.int64), np.zeros(0)


def _flat_with_funding(rates: list[float]) -> MarketArrays:
    """Price 100 throughout, 8-hour bars, one settlement per bar at `rates`."""
    n = len(rates)
    price = np.full((n, 1), 100.0)
    times = np.arange(n, dtype=np.int64) * EIGHT_H
    bars = np.arange(n, dtype=np.int64)
    return MarketArrays(
        times, price, price.copy(), price.copy(), bars, np.zeros(n, np.int64),
        np.array(rates), ("s",), ("p",),
    )  # fmt: skip


# bars 0-9 earn 0.01 %, bars 10-19 pay 0.1 %, bars 20-29 earn 0.01 % again (per 8 h)
RATES = [1e-4] * 10 + [-1e-3] * 10 + [1e-4] * 10
NO_COSTS = Costs(0.0, 0.0, 0.0, 0.0, spot_taker_fee=0.0)


def _run(policy: Keeper) -> tuple[object, dict[str, np.ndarray]]:
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), policy, initial_cash_usd=1_000.0, costs=NO_COSTS)
    data = _flat_with_funding(RATES)
    return run_backtest(spec, data), simulate_reference(spec, data)


def test_unwind_when_the_trailing_cost_passes_the_limit_and_restore_below_the_hysteresis() -> None:
    # window 3 bars, limit 30 %, restore below 20 %. Cost = -mean rate x 1095 (8-hour rates):
    # bar 10: (1e-4 + 1e-4 - 1e-3) / 3 -> 29.2 %, not above 30 %; bar 11: (1e-4 - 2e-3) / 3
    # -> 69.4 %: unwound at bar 11's close. Bar 21 (bars 19-21): (-1e-3 + 2e-4) / 3 -> 29.2 %,
    # not below 20 %; bar 22: 3e-4 / 3 -> -11 %: restored at bar 22's close.
    keeper = Keeper(
        funding_action="unwind", funding_limit_apr=0.3, funding_hysteresis_apr=0.1,
        funding_min_hold_bars=0, funding_window_bars=3,
    )  # fmt: skip
    got, ref = _run(keeper)
    assert got.funding_switches == 2 == int(ref["funding_switches"][0])  # type: ignore[attr-defined]
    # hedged bars 0-10 and 22-29: 19 of 30
    assert got.leg_hedged_bars.tolist() == [19]  # type: ignore[attr-defined]
    # the short (100 USD) earns 0.01 at bars 1-9, pays 0.10 at bars 10 and 11 (open at the
    # settlement, closed after it), earns 0.01 at bars 23-29 (re-opened after bar 22's)
    assert got.funding_pnl == pytest.approx(9 * 0.01 - 2 * 0.10 + 7 * 0.01, abs=1e-12)  # type: ignore[attr-defined]
    kept, _ = _run(Keeper())  # funding_action keep: no regime, the short pays it all
    assert kept.funding_switches == 0  # type: ignore[attr-defined]
    assert kept.funding_pnl == pytest.approx(9 * 0.01 - 10 * 0.10 + 10 * 0.01, abs=1e-12)  # type: ignore[attr-defined]


def test_reduce_keeps_the_reduced_ratio_and_the_minimum_hold_delays_the_restore() -> None:
    keeper = Keeper(
        funding_action="reduce", funding_reduced_ratio=0.25, funding_limit_apr=0.3,
        funding_hysteresis_apr=0.1, funding_min_hold_bars=15, funding_window_bars=3,
    )  # fmt: skip
    got, ref = _run(keeper)
    # reduced at bar 11 to 25 USD of short; restore is due at bar 22 but held to bar 26
    assert got.funding_switches == 2  # type: ignore[attr-defined]
    notional = got.hedge_notional_usd[:, 0]  # type: ignore[attr-defined]
    assert notional[10] == pytest.approx(100.0) and notional[11] == pytest.approx(25.0)
    assert notional[25] == pytest.approx(25.0) and notional[26] == pytest.approx(100.0)
    np.testing.assert_allclose(got.equity_usd, ref["equity"], rtol=1e-12)  # type: ignore[attr-defined]


def test_keeper_for_turns_the_live_hours_and_days_into_bars() -> None:
    live = KeeperPolicy(
        funding_action=FundingAction.REDUCE, funding_min_hold_hours=72.0,
        funding_window_days=7.0, funding_limit_apr=0.4, funding_hysteresis_apr=0.15,
        funding_reduced_ratio=0.3,
    )  # fmt: skip
    k = keeper_for(live, 1.0, EIGHT_H)
    assert (k.funding_min_hold_bars, k.funding_window_bars) == (9, 21)
    assert (k.funding_action, k.funding_limit_apr, k.funding_hysteresis_apr) == (
        "reduce", 0.4, 0.15,
    )  # fmt: skip
    assert k.funding_reduced_ratio == 0.3
    assert keeper_for(live, 1.0, 3_600_000).funding_window_bars == 168  # hourly bars


def _rally(n_bars: int = 200) -> MarketArrays:
    price = np.linspace(100.0, 400.0, n_bars).reshape(-1, 1)
    times = np.arange(n_bars, dtype=np.int64) * EIGHT_H
    return MarketArrays(
        times, price, price.copy(), price.copy(), NONE_I, NONE_I, NONE_F, ("s",), ("p",)
    )


def test_coins_sold_for_margin_pay_the_spot_fee() -> None:
    data, legs = _rally(), (HedgeLeg(1.0, 0, 0),)
    free = Costs(spot_taker_fee=0.0)
    paid = Costs()  # the default: 0.1 % (Binance spot, regular tier, taker)
    assert paid.spot_taker_fee == 0.001
    r0 = run_backtest(BacktestSpec(legs, Keeper(), initial_cash_usd=60.0, costs=free), data)
    r1 = run_backtest(BacktestSpec(legs, Keeper(), initial_cash_usd=60.0, costs=paid), data)
    assert r0.spot_fees == 0.0 and r1.spot_sold_usd > 100.0
    # 0.1 % of every coin sold at its price; more coins are sold as the fee takes its share
    assert r1.spot_fees == pytest.approx(0.001 * r1.spot_sold_usd, rel=1e-12)
    assert r1.leg_spot_sold[0] > r0.leg_spot_sold[0]
    assert r1.fees - r0.fees > r1.spot_fees * 0.99  # the spot fee is in the fees
    inverse = (HedgeLeg(1.0, 0, 0, kind=ContractKind.INVERSE, contract_size=10.0),)
    coin = run_backtest(BacktestSpec(inverse, Keeper(), initial_cash_usd=0.0, costs=paid), data)
    assert coin.spot_fees == 0.0  # an inverse leg's margin is the coin itself: no trade


def _perp() -> Perpetual:
    return Perpetual(
        symbol="BTC/USDT:USDT", base="BTC", quote="USDT", settle="USDT",
        kind=ContractKind.LINEAR, contract_size=1.0, tiers=TierTable.flat(0.004),
    )  # fmt: skip


def _history(days: int, rally: float) -> LegHistory:
    """Daily marks ending the day before the start: flat at 100, with one 20-day rise."""
    times = np.arange(-days, 0, dtype=np.int64) * DAY
    marks = np.full(days, 100.0)
    marks[days // 2 : days // 2 + 20] = np.linspace(100.0, 100.0 * (1 + rally), 20)
    marks[days // 2 + 20 :] = 100.0 * (1 + rally)
    return LegHistory("BTC/USDT:USDT", times, marks, NONE_I, NONE_F)


def test_reserve_is_sized_on_the_history_before_the_start_never_on_the_window() -> None:
    calm, wild = _rally(), _rally()
    wild.mark[1:] *= 3.0  # a far bigger rally after the first bar
    legs, policy = (HedgeLeg(1.0, 0, 0),), KeeperPolicy()
    sized = [
        reserve_before_start(legs, [_perp()], [_history(200, 0.5)], m, policy, 1.0, 2.0)[0]
        for m in (calm, wild)
    ]
    assert sized[0] == sized[1]  # nothing after the first bar counts
    assert sized[0].sized is not None and sized[0].sized.rally.move == pytest.approx(0.5)
    assert sized[0].history_to_ms == -DAY  # the window used ends before the start
    bigger = reserve_before_start(legs, [_perp()], [_history(200, 0.9)], calm, policy, 1.0, 2.0)
    assert bigger[0].reserve_usd > sized[0].reserve_usd


def test_too_little_history_before_the_start_falls_back_to_the_notional() -> None:
    data, legs = _rally(), (HedgeLeg(2.0, 0, 0),)
    short, none = _history(60, 0.5), None
    for h in (short, none):
        r = reserve_before_start(legs, [_perp()], [h], data, KeeperPolicy(), 1.0, 2.0)[0]
        assert r.sized is None
        # 2 coins at 100 USD hedged at ratio 1: 200 USD of notional
        assert r.reserve_usd == FALLBACK_RESERVE_OF_NOTIONAL * 200.0 == r.reserve_usd


ONE_BTC = [{"asset": "BTC", "quantity": 1}]


def test_backtest_names_the_history_before_the_start_or_the_fallback(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = portfolio_file(tmp_path, ONE_BTC, "btc.toml", leverage=2)
    r = run_cli("backtest", str(path), "--from", "2021-01-01", "--to", "2021-03-01", "--json")
    assert r.code == 0, r.err
    assert "before the start only (daily marks 2019-12-24 00:00 to 2020-12-31 00:00)" in r.err
    early = run_cli("backtest", str(path), "--from", "2020-01-15", "--to", "2020-03-01", "--json")
    assert early.code == 0, early.err
    assert "of the hedge notional on the first bar (fallback: only 21 days" in early.err
    keeper = json.loads(early.out)["runs"][-1]
    assert keeper["name"] == "keeper" and "spot_fees" in keeper and "funding_switches" in keeper


def test_margin_lost_after_a_surplus_return_is_the_margin_left_in() -> None:
    # 1 coin short at 100, 1x: margin 100. At 50 the short gained 50 (margin 150) and the
    # surplus above the initial margin at that mark (50 / 1 = 50) goes back: 100 returned.
    # The gap to 200 liquidates it: what it loses is the 50 left in, not 100 - 100 = 0.
    price = np.array([100.0, 50.0, 50.0, 200.0]).reshape(-1, 1)
    times = np.arange(4, dtype=np.int64) * EIGHT_H
    data = MarketArrays(
        times, price, price.copy(), price.copy(), NONE_I, NONE_I, NONE_F, ("s",), ("p",)
    )
    keeper = Keeper(surplus_distance=2.5, on_shortfall="alert", reopen_cooldown_bars=-1)
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), keeper, leverage=1.0, costs=NO_COSTS)
    r, ref = run_backtest(spec, data), simulate_reference(spec, data)
    assert r.liquidations == 1
    assert r.leg_margin_returned_usd.tolist() == [100.0]
    assert r.leg_margin_lost_usd.tolist() == [50.0] == ref["lost"].tolist()


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.integers(-12, 6), min_size=2, max_size=40),
    window=st.integers(1, 8),
    hold=st.integers(0, 6),
    limit=st.sampled_from([0.05, 0.2, 0.5]),
    hysteresis=st.sampled_from([0.0, 0.05, 0.1]),
)
@example(steps=[2, -7, 5], window=3, hold=0, limit=0.05, hysteresis=0.05)  # once a tie at 0 APR
def test_the_backtest_switches_where_the_live_keeper_does(
    steps: list[int], window: int, hold: int, limit: float, hysteresis: float
) -> None:
    # rates in steps of 0.01 % per 8 h: no trailing cost can tie with these limits exactly, as
    # long as the release threshold (limit - hysteresis) is not 0, which a zero mean would hit
    rates = [k * 1e-4 for k in steps]
    hysteresis = min(hysteresis, limit / 2)
    keeper = Keeper(
        band=0.0, funding_action="reduce", funding_reduced_ratio=0.5, funding_limit_apr=limit,
        funding_hysteresis_apr=hysteresis, funding_min_hold_bars=hold, funding_window_bars=window,
    )  # fmt: skip
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), keeper, initial_cash_usd=1e6, costs=NO_COSTS)
    got = run_backtest(spec, _flat_with_funding(rates)).hedge_notional_usd[:, 0]
    live = KeeperPolicy(
        funding_action=FundingAction.REDUCE, funding_reduced_ratio=0.5, funding_limit_apr=limit,
        funding_hysteresis_apr=hysteresis, funding_min_hold_hours=8.0 * hold,
    )  # fmt: skip
    memory, size = LegMemory(), 0.0
    for t in range(len(rates)):
        cost = funding_cost_apr(rates[max(0, t - window + 1) : t + 1], 8.0)
        state = LegState(
            instrument=_perp(), coins_held=1.0, spot_price=100.0, mark=100.0, hedge_ratio=1.0,
            size=size, margin=1e6, leverage=2.0, funding_cost_apr=cost, memory=memory,
        )  # fmt: skip
        (leg,) = keep(live, [state], 0.0, t * EIGHT_H).legs
        memory, size = leg.memory, leg.size
        assert got[t] == pytest.approx(100.0 * (0.5 if memory.reduced else 1.0)), t


def test_spot_fee_option_sets_the_fee_on_coins_sold(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = portfolio_file(tmp_path, ONE_BTC, "btc.toml", leverage=2)
    span = ["--from", "2021-01-01", "--to", "2021-04-01", "--json"]
    runs = {}
    for bp in ("10", "0"):
        r = run_cli("backtest", str(path), *span, "--spot-fee-bp", bp)
        assert r.code == 0, r.err
        runs[bp] = json.loads(r.out)["runs"][-1]
    # the February 2021 rally spends the reserve: the keeper sells coins into the margin
    assert runs["10"]["spot_sold_usd"] > 1_000.0
    assert runs["10"]["spot_fees"] == pytest.approx(0.001 * runs["10"]["spot_sold_usd"])
    assert runs["0"]["spot_fees"] == 0.0
    bad = run_cli("backtest", str(path), *span, "--spot-fee-bp", "-1")
    assert bad.code == 2 and "--spot-fee-bp" in bad.err
