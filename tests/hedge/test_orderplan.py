"""Order planning and guardrails (pure): exact children, prices, reduce-only, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perphedge.errors import InputError, SafetyError
from perphedge.hedge.orders import (
    ExecutionLimits,
    LegTarget,
    check_gross_leverage,
    check_order_notional,
    check_price_fresh,
    client_order_id,
    limit_price,
    plan_leg,
    split_children,
)
from perphedge.ports import OrderSide, OrderType, check_client_order_id
from perphedge.venues import contract_specs

BTC = "BTC/USDT:USDT"
INST = contract_specs.by_symbol("binance", BTC)  # step 0.001, tick 0.1, min notional 100
D = Decimal


def test_client_order_id_is_deterministic_and_accepted_everywhere():
    cid = client_order_id("open-1-abc", BTC, 0)
    assert cid == client_order_id("open-1-abc", BTC, 0)
    assert cid.startswith("ph") and len(cid) == 26
    assert int(cid[2:], 16) >= 0  # 24 hex digits
    assert check_client_order_id(cid) == cid
    others = {client_order_id("open-1-abc", BTC, 1), client_order_id("open-2-abc", BTC, 0)}
    assert cid not in others and len(others) == 2


def test_split_children_fewest_equal_children_on_step():
    # max child 0.16666 -> 0.166 on the step; ceil(0.5 / 0.166) = 4; 0.5 / 4 = 0.125
    assert split_children(D("0.5"), D("0.16666"), D("0.001")) == [D("0.125")] * 4
    # ceil(8 / 3.333) = 3; 8 / 3 = 2.6666 -> 2.666; 8 - 3 * 2.666 = 0.002 = two steps spread
    assert split_children(D("8"), D("3.333"), D("0.001")) == [D("2.667"), D("2.667"), D("2.666")]
    # 1.177 in children <= 0.083: 15 children, 1.177 / 15 = 0.0784 -> 0.078, 0.007 left -> 7 x 0.079
    children = split_children(D("1.177"), D("0.083"), D("0.001"))
    assert children == [D("0.079")] * 7 + [D("0.078")] * 8 and sum(children) == D("1.177")
    assert split_children(D("0.002"), D("0.0001"), D("0.001")) == [D("0.001"), D("0.001")]


def test_limit_price_is_capped_and_on_tick():
    # 60,000 * (1 - 0.002) = 59,880.0; * (1 + 0.002) = 60,120.0
    assert limit_price(OrderSide.SELL, D(60000), 0.002, 0.1) == D("59880.0")
    assert limit_price(OrderSide.BUY, D(60000), 0.002, 0.1) == D("60120.0")
    # 100.05 * 1.002 = 100.2501 -> nearest tick 100.3 is beyond the cap -> 100.2
    assert limit_price(OrderSide.BUY, D("100.05"), 0.002, 0.1) == D("100.2")
    # 100.05 * 0.998 = 99.8499 -> nearest 99.8 is below a sell's cap -> 99.9
    assert limit_price(OrderSide.SELL, D("100.05"), 0.002, 0.1) == D("99.9")


def test_open_short_in_children_with_limit_prices():
    plan = plan_leg(LegTarget(BTC, D("-0.5")), D(0), D(0), D(60000), INST, ExecutionLimits())
    # child cap 10,000 USD / 60,000 = 0.1666 BTC -> four children of 0.125
    assert [o.qty for o in plan.orders] == [D("0.125")] * 4
    assert {(o.side, o.order_type, o.price, o.reduce_only) for o in plan.orders} == {
        (OrderSide.SELL, OrderType.LIMIT, D("59880.0"), False)
    }
    assert [o.child_index for o in plan.orders] == [0, 1, 2, 3]
    assert plan.notional_usd == pytest.approx(30_000.0)  # 0.5 * 60,000
    assert plan.planned_contracts == D("-0.5")


def test_flip_long_to_short_reduces_first_then_opens():
    limits = ExecutionLimits(child_notional=100_000)
    plan = plan_leg(LegTarget(BTC, D("-0.3")), D("0.2"), D(0), D(60000), INST, limits)
    assert [(o.side, o.qty, o.reduce_only) for o in plan.orders] == [
        (OrderSide.SELL, D("0.200"), True),
        (OrderSide.SELL, D("0.300"), False),
    ]


def test_close_is_reduce_only_and_exempt_from_min_notional():
    tiny = plan_leg(LegTarget(BTC, D(0)), D("-0.001"), D(0), D(60000), INST, ExecutionLimits())
    assert [(o.side, o.qty, o.reduce_only) for o in tiny.orders] == [
        (OrderSide.BUY, D("0.001"), True)
    ]  # 60 USD < 100 minimum, allowed because reduce-only


def test_small_increase_below_min_notional_is_skipped_with_a_note():
    plan = plan_leg(LegTarget(BTC, D("-0.001")), D(0), D(0), D(60000), INST, ExecutionLimits())
    assert plan.orders == ()
    assert "below the minimum" in plan.notes[0] and "60.00 USD" in plan.notes[0]


def test_rounding_residual_and_pending_orders():
    plan = plan_leg(
        LegTarget(BTC, D("-0.5004")), D(0), D("-0.2"), D(60000), INST, ExecutionLimits()
    )
    # gap = -0.5004 - 0 - (-0.2) = -0.3004 -> 0.300 sent, 0.0004 left by the step
    assert sum(o.qty for o in plan.orders) == D("0.300")
    assert plan.notes == ("0.0004 contracts left unhedged by the 0.001 step",)


def test_market_orders_have_no_price():
    plan = plan_leg(
        LegTarget(BTC, D("-0.1")), D(0), D(0), D(60000), INST, ExecutionLimits(use_market=True)
    )
    assert [(o.order_type, o.price) for o in plan.orders] == [(OrderType.MARKET, None)]


def test_bad_mark_and_limits_are_input_errors():
    with pytest.raises(InputError, match="mark"):
        plan_leg(LegTarget(BTC, D(-1)), D(0), D(0), D("NaN"), INST, ExecutionLimits())
    with pytest.raises(InputError, match="slippage_cap"):
        ExecutionLimits(slippage_cap=0.5)
    with pytest.raises(InputError, match="child_notional"):
        ExecutionLimits(child_notional=-1)
    with pytest.raises(InputError, match="leverage"):
        LegTarget(BTC, D(-1), leverage=0)


def test_guardrails_refuse_with_clear_messages():
    check_price_fresh(BTC, 1_000, 121_000, 120_000)  # exactly 120 s old: allowed
    with pytest.raises(SafetyError, match=r"stale price for BTC/USDT:USDT: 121 s old"):
        check_price_fresh(BTC, 1_000, 122_000, 120_000)
    plan = plan_leg(LegTarget(BTC, D("-0.5")), D(0), D(0), D(60000), INST, ExecutionLimits())
    with pytest.raises(SafetyError, match=r"orders total 30,000.00 USD, above .* 20,000.00"):
        check_order_notional(plan, ExecutionLimits(max_order_notional=20_000))
    closing = plan_leg(LegTarget(BTC, D(0)), D("-0.5"), D(0), D(60000), INST, ExecutionLimits())
    check_order_notional(closing, ExecutionLimits(max_order_notional=20_000))  # reduce-only: ok
    check_gross_leverage(50_000, 10_000, 5.0)  # exactly 5x: allowed
    with pytest.raises(SafetyError, match=r"would be 6.00x .* above the cap 5x"):
        check_gross_leverage(60_000, 10_000, 5.0)
    with pytest.raises(SafetyError, match="deposit margin"):
        check_gross_leverage(1, 0, 5.0)


steps = st.integers(min_value=-3000, max_value=3000)


@given(target=steps, position=steps)
def test_children_on_step_within_cap_and_reduce_only_never_overshoots(target, position):
    step = D("0.001")
    limits = ExecutionLimits(child_notional=5_000)
    plan = plan_leg(LegTarget(BTC, target * step), position * step, D(0), D(60000), INST, limits)
    reduce = sum((o.qty for o in plan.orders if o.reduce_only), D(0))
    assert reduce <= abs(position * step)
    for order in plan.orders:
        assert order.qty % step == 0 and order.qty > 0
        assert order.notional_usd <= 5_000
    reached = position * step + plan.planned_contracts
    if plan.orders and not plan.notes:
        assert reached == target * step  # nothing skipped: the target is met exactly
