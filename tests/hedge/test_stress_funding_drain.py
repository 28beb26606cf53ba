"""Stress with funding in the margin: the issue's example, computed by hand."""

from __future__ import annotations

import pytest

from perphedge.hedge.sizing import HedgeSpec
from perphedge.hedge.stress import funding_regime, price_shock
from perphedge.margin import MarginMode
from tests.hedge.test_scenarios import ISSUE, make_plan


def test_minus_0_1_percent_per_8h_for_90_days_drains_the_example_by_hand() -> None:
    # The example portfolio: shorts of 0.5 BTC @ 60,000 (30,000 USD) and 8 ETH @ 3,000
    # (24,000 USD) at 5x isolated: margins 6,000 and 4,800; Binance's first brackets hold
    # MM = 0.4 % x 30,000 = 120 (BTC) and 0.4 % x 24,000 = 96 (ETH; cum 0 there).
    # -0.1 % per 8 h: BTC pays 30 per event, ETH 24. 270 events in 90 days (14,580 in all).
    # BTC: 6,000 - 30 k <= 120 first at k = 196: day 196 x 8 / 24 = 65.33.
    # ETH: 4,800 - 24 k <= 96 first at k = 196: day 65.33.
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    btc, eth = plan.legs
    assert (btc.wallet, eth.wallet) == pytest.approx((6_000.0, 4_800.0))
    assert btc.maintenance_margin == pytest.approx(120.0)
    assert eth.maintenance_margin == pytest.approx(96.0)
    out = funding_regime(plan, -0.001, 90)
    assert out.liquidated and set(out.drained_symbols) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert out.drain_day == pytest.approx(196 * 8 / 24)
    assert out.margin_ratio == float("inf")
    # both margins are lost: 10,800; the funding paid until then (5,880 + 4,704) came out of them
    assert out.funding == pytest.approx(-(196 * 30.0 + 196 * 24.0))
    assert out.hedge_pnl + out.funding == pytest.approx(-10_800.0)
    # the top-up that carries both through the 90 days: MM - (margin - funding) per leg:
    # BTC 120 - (6,000 - 8,100) = 2,220; ETH 96 - (4,800 - 6,480) = 1,776
    assert out.top_up == pytest.approx(2_220.0 + 1_776.0)


def test_after_30_days_the_real_margin_ratio_counts_the_funding_paid() -> None:
    # 90 events: BTC's margin 6,000 - 2,700 = 3,300, ratio 120 / 3,300 = 3.64 %; ETH
    # 4,800 - 2,160 = 2,640, ratio 96 / 2,640 = 3.64 % too
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    out = funding_regime(plan, -0.001, 30)
    assert not out.liquidated and out.drain_day is None
    assert out.margin_ratio == pytest.approx(120.0 / 3_300.0)
    assert out.top_up == 0.0


def test_cross_wallet_is_drained_by_the_sum_of_the_legs_funding() -> None:
    # one cross wallet of 10,800, MM 216, paying 54 per event: 10,800 - 54 k <= 216 at k = 196
    plan = make_plan(ISSUE, HedgeSpec(leverage=5, margin_mode=MarginMode.CROSS))
    out = funding_regime(plan, -0.001, 90)
    assert out.liquidated and out.drain_day == pytest.approx(196 * 8 / 24)
    assert out.top_up == pytest.approx(216.0 - (10_800.0 - 14_580.0))


def test_positive_funding_only_adds_to_the_margin() -> None:
    plan = make_plan(ISSUE, HedgeSpec(leverage=5))
    flat = price_shock(plan, 0.0, 30)
    assert not flat.liquidated and flat.drained_symbols == ()
