"""The keeper in `perphedge backtest` on the bundled real history (the issue's targets)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perphedge.backtest import (
    BacktestSpec,
    HedgeLeg,
    Keeper,
    MarketArrays,
    StaticRatio,
    run_backtest,
)
from tests.factories import portfolio_file

ONE_BTC = [{"asset": "BTC", "quantity": 1}]


def test_default_keeper_keeps_1_btc_at_2x_hedged_2021_to_2024(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = portfolio_file(tmp_path, ONE_BTC, "btc.toml", leverage=2)
    r = run_cli("backtest", str(path), "--from", "2021-01-01", "--to", "2024-12-31", "--json")
    assert r.code == 0, r.err
    runs = {run["name"]: run for run in json.loads(r.out)["runs"]}
    keeper, hedged = runs["keeper"], runs["hedged"]
    assert keeper["liquidations"] == 0
    assert keeper["share_hedged"] >= 0.95
    assert keeper["hedge_effectiveness"] >= 0.9
    # the plain hedge dies in the February 2021 rally and shows what it lost
    assert hedged["liquidations"] == 1 and hedged["margin_lost"] > 10_000
    assert "keeper reserve for BTC/USDT:USDT" in r.err  # the reserve and its window are named


def test_a_liquidation_names_what_was_lost_and_what_would_have_prevented_it(
    run_cli, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = portfolio_file(tmp_path, ONE_BTC, "btc.toml", leverage=2)
    r = run_cli("backtest", str(path), "--from", "2021-01-01", "--to", "2021-06-01")
    assert r.code == 0, r.err
    assert "hedged: BTC liquidated at 2021-02-09 00:00 (lost 14," in r.out
    words = " ".join(r.out.split())  # the terminal wraps lines
    # the same history run again: at 1.5x the plain short still dies in February, at 1x it
    # lives to June; the keeper column kept it alive at 2x
    assert "what would have prevented it (hedged): a leverage of 1x instead of 2x" in words
    assert "or the keeper (min_distance 30%, target_distance 50%, on_shortfall sell_spot" in words
    assert "USD of the reserve" in words and "(the keeper column)" in words


def _rally(n_bars: int = 200) -> MarketArrays:
    price = np.linspace(100.0, 400.0, n_bars).reshape(-1, 1)
    times = np.arange(n_bars, dtype=np.int64) * 8 * 3_600_000
    none_i, none_f = np.zeros(0, np.int64), np.zeros(0)
    return MarketArrays(
        times, price, price.copy(), price.copy(), none_i, none_i, none_f, ("s",), ("p",)
    )


def test_keeper_sells_spot_in_step_when_cash_runs_out() -> None:
    data = _rally()
    legs = (HedgeLeg(1.0, 0, 0),)
    static = run_backtest(BacktestSpec(legs, StaticRatio(), initial_cash_usd=50.0), data)
    kept = run_backtest(BacktestSpec(legs, Keeper(), initial_cash_usd=60.0), data)
    assert static.liquidations == 1 and static.margin_lost == pytest.approx(50.0)
    assert kept.liquidations == 0 and kept.share_hedged == 1.0
    # all the cash beyond the initial margin (50) and the opening fee and slippage (0.06)
    assert kept.top_ups == pytest.approx(9.94, abs=1e-4)
    assert kept.final_cash_usd == pytest.approx(0.0, abs=1e-9)
    assert kept.leg_spot_sold[0] > 0.5
    # hedged all along with no costs but fees: the value stays near the 160 USD it started with
    assert kept.equity_usd[-1] == pytest.approx(160.0, rel=0.01)


def test_keeper_alert_mode_lets_the_short_go_then_reopens() -> None:
    data = _rally()
    legs = (HedgeLeg(1.0, 0, 0),)
    spec = BacktestSpec(
        legs, Keeper(on_shortfall="alert", reopen_cooldown_bars=2), initial_cash_usd=60.0
    )
    r = run_backtest(spec, data)
    assert r.liquidations >= 1 and r.reopens >= 1
    assert r.leg_alert_bars[0] > 0
    assert r.margin_lost > 0


def test_policy_keeper_runs_the_files_keeper_settings_with_params_on_top(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keeper = {"min_distance": 0.2, "target_distance": 0.6}
    path = portfolio_file(tmp_path, ONE_BTC, "btc.toml", leverage=2, keeper=keeper)
    span = ["--from", "2024-01-01", "--to", "2024-02-01", "--json", "--policy", "keeper"]
    runs = json.loads(run_cli("backtest", str(path), *span).out)["runs"]
    assert (
        runs[-1]["params"]["min_distance"] == 0.2 and runs[-1]["params"]["target_distance"] == 0.6
    )
    again = json.loads(run_cli("backtest", str(path), *span, "--param", "min_distance=0.25").out)
    assert again["runs"][-1]["params"]["min_distance"] == 0.25
    assert again["runs"][-1]["params"]["target_distance"] == 0.6
