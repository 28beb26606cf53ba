"""Reserve sizing (hedge/reserve.py) and the plan's `reserve_usd`, checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from perphedge.hedge.keeper import KeeperPolicy, LegState
from perphedge.hedge.reserve import Window, leg_reserve, worst_funding, worst_rally
from perphedge.instruments import Perpetual, TierTable
from perphedge.margin import Position, Side, wallet_for_liquidation_at

DAY = 86_400_000
EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
FLAT = Perpetual("BTC/USDT:USDT", "BTC", "USDT", "USDT", tiers=TierTable.flat(0.004))


def test_worst_rally_is_the_largest_rise_to_a_high_within_the_window() -> None:
    times = np.arange(6, dtype=np.int64) * 10 * DAY  # a close every 10 days
    prices = np.array([100.0, 90.0, 120.0, 180.0, 100.0, 300.0])
    w = worst_rally(times, prices, window_days=30)
    # from 90 (day 10) the highest close within 30 days is 180 (day 30): +100 %;
    # from 100 (day 40) to 300 (day 50) is +200 %
    assert w == Window(2.0, 40 * DAY, 50 * DAY)
    assert worst_rally(times, prices, window_days=10).move == pytest.approx(2.0)


def test_worst_funding_sums_the_settlements_in_the_trailing_window() -> None:
    times = np.arange(10, dtype=np.int64) * DAY
    rates = np.array([0.001, -0.002, -0.003, 0.0, -0.001, 0.002, -0.004, -0.004, 0.0, 0.0])
    # 2-day windows (t - 2 d, t]: at day 7 the short pays 0.004 + 0.004 = 0.8 %
    w = worst_funding(times, rates, window_days=2)
    assert w.move == pytest.approx(0.008) and w.end_ms == 7 * DAY and w.start_ms == 6 * DAY


def test_leg_reserve_by_hand() -> None:
    # 1 BTC short at 50,000 at 2x: margin 25,000. A +60 % rally takes 30,000 of it; at the
    # peak 80,000 the keeper wants the liquidation 50 % away, at 120,000:
    # MM(120,000) + (120,000 - 80,000) = 480 + 40,000 = 40,480. Reserve for the rally:
    # 40,480 - (25,000 - 30,000) = 45,480. Funding: 1 % of the notional at the peak = 800.
    leg = LegState(FLAT, 1.0, 50_000.0, 50_000.0, 1.0, 0.0, 0.0, 2.0)
    rally, funding = Window(0.6, 0, 1), Window(0.01, 0, 1)
    r = leg_reserve(leg, KeeperPolicy(), rally, funding)
    peak = Position(Side.SHORT, 1.0, 80_000.0)
    assert wallet_for_liquidation_at(peak, 120_000.0, FLAT.tiers) == pytest.approx(40_480.0)
    assert r.rally_usd == pytest.approx(45_480.0)
    assert r.funding_usd == pytest.approx(800.0)
    assert r.reserve_usd == pytest.approx(46_280.0)


def test_plan_shows_the_reserve_per_leg_and_in_total(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("plan", str(EXAMPLE / "portfolio.toml"), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    legs = data["keeper_reserve"]["legs"]
    assert [leg["symbol"] for leg in legs] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert data["reserve_usd"] == pytest.approx(sum(leg["reserve_usd"] for leg in legs))
    for leg in legs:
        assert leg["reserve_usd"] == pytest.approx(leg["rally_usd"] + leg["funding_usd"])
        assert (
            leg["worst_rally"]["move"] > 0 and leg["worst_rally"]["from"] < leg["worst_rally"]["to"]
        )
        assert 0 < leg["reserve_usd_at_quantile"] <= leg["reserve_usd"]
    table = run_cli("plan", str(EXAMPLE / "portfolio.toml")).out
    assert "Keeper reserve (USD)" in table and "worst 30-day rally" in table
