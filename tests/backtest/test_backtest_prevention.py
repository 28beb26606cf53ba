"""What would have prevented a liquidation: the same history run again at lower leverage and
with the keeper."""

from __future__ import annotations

import numpy as np

from perphedge.backtest import (
    BacktestSpec,
    HedgeLeg,
    Keeper,
    MarketArrays,
    StaticRatio,
    run_backtest,
)
from perphedge.backtest.prevention import prevent
from perphedge.backtest.result import BacktestResult

EIGHT_H = 8 * 3_600_000
NONE_I, NONE_F = np.zeros(0, np.int64), np.zeros(0)


def _rise(top: float, n_bars: int = 60) -> MarketArrays:
    """From 100 up to `top` over the first half, then flat."""
    price = np.concatenate([np.linspace(100.0, top, n_bars // 2), np.full(n_bars // 2, top)])
    price = price.reshape(-1, 1)
    times = np.arange(n_bars, dtype=np.int64) * EIGHT_H
    return MarketArrays(
        times, price, price.copy(), price.copy(), NONE_I, NONE_I, NONE_F, ("s",), ("p",)
    )


def _static(data: MarketArrays, leverage: float) -> tuple[str, BacktestResult]:
    margin = 100.0 / leverage  # 1 coin at 100, ratio 1
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), StaticRatio(), margin, leverage)
    return "static", run_backtest(spec, data)


def test_names_the_highest_leverage_that_lives_and_a_keeper_that_does() -> None:
    # a +40 % rise: a 3x short (liquidated near +33 %) dies, a 2x one (near +50 %) lives
    data = _rise(140.0)
    name, lost = _static(data, 3.0)
    assert lost.liquidations == 1
    (p,) = prevent([(name, lost)], data, Keeper(), reserve_usd=100.0)
    assert (p.run, p.leverage, p.safe_leverage) == ("static", 3.0, 2.0)
    kept = p.kept_alive
    assert kept is not None and not kept.own_run and kept.reserve_usd == 100.0
    assert kept.reserve_used_usd > 0.0
    # the claim holds: the keeper with that reserve beside the initial margin loses nothing
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), Keeper(), 100.0 / 3.0 + 100.0, 3.0)
    assert run_backtest(spec, data).liquidations == 0


def test_no_leverage_and_no_reserve_keeps_a_short_through_a_tenfold_rise() -> None:
    data = _rise(1_000.0)
    name, lost = _static(data, 2.0)
    keeper = Keeper(on_shortfall="alert", reopen_cooldown_bars=-1)
    (p,) = prevent([(name, lost)], data, keeper, reserve_usd=10.0)
    assert p.safe_leverage is None and p.kept_alive is None


def test_nothing_to_prevent_without_a_liquidation() -> None:
    data = _rise(110.0)
    assert prevent([_static(data, 2.0)], data, Keeper(), 10.0) == ()


def test_at_1x_there_is_no_lower_leverage_to_try() -> None:
    data = _rise(300.0)
    name, lost = _static(data, 1.0)
    assert lost.liquidations == 1
    (p,) = prevent([(name, lost)], data, Keeper(), 1_000.0)
    assert p.safe_leverage is None and p.kept_alive is not None
