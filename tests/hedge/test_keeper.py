"""The keeper policy (hedge/keeper.py): top-ups, sell-spot-and-reduce, de-lever, alerts,
re-open, funding regime and surplus, checked against margin.py's liquidation solver."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.errors import InputError
from perphedge.hedge.keeper import (
    HOUR_MS,
    ActionKind,
    FundingAction,
    KeeperPolicy,
    LegMemory,
    LegState,
    Shortfall,
    distance,
    funding_cost_apr,
    funding_switch,
    keep,
    margin_for_distance,
    trailing_cost_apr,
)
from perphedge.instruments import ContractKind, Perpetual
from perphedge.live.keep import move_amount
from perphedge.margin import Position, Side, liquidation
from perphedge.venues.tier_tables import bundled

BTC = Perpetual("BTC/USDT:USDT", "BTC", "USDT", "USDT", tiers=bundled("binance:BTCUSDT"))
BTC_INV = Perpetual(
    "BTC/USD:BTC", "BTC", "USD", "BTC", kind=ContractKind.INVERSE, contract_size=100.0,
    tiers=bundled("binance:BTCUSDT"),
)  # fmt: skip
NOW = 1_700_000_000_000


def leg(mark: float = 60_000.0, margin: float = 30_000.0, **kw: object) -> LegState:
    """1 BTC held, 1 BTC short opened at 2x at 60,000 whose mark is now `mark`:
    margin balance = 30,000 wallet - (mark - 60,000) unless given."""
    values: dict[str, object] = dict(
        instrument=BTC, coins_held=1.0, spot_price=mark, mark=mark, hedge_ratio=1.0,
        size=1.0, margin=margin, leverage=2.0, coins_on_exchange=1.0,
    )  # fmt: skip
    values.update(kw)
    return LegState(**values)  # type: ignore[arg-type]


def test_defaults_are_the_documented_ones() -> None:
    p = KeeperPolicy()
    assert (p.min_distance, p.target_distance, p.drift_band) == (0.30, 0.50, 0.10)
    assert p.on_shortfall is Shortfall.SELL_SPOT and p.reopen and not p.return_surplus


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_distance", 0.0), ("min_distance", 1.0), ("target_distance", 0.2),
     ("drift_band", -0.1), ("reopen_cooldown_hours", 1000.0), ("funding_hysteresis_apr", 0.5),
     ("surplus_distance", 0.4), ("funding_window_days", 0.0), ("on_shortfall", "pray")],
)  # fmt: skip
def test_out_of_bounds_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(InputError) as bad:
        KeeperPolicy(**{field: value})  # type: ignore[arg-type]
    assert bad.value.field == field


def test_a_healthy_leg_is_left_alone() -> None:
    decision = keep(KeeperPolicy(), [leg()], reserve_usd=10_000.0, now_ms=NOW)
    assert decision.actions == ()
    assert decision.reserve_usd == 10_000.0


def test_top_up_from_the_reserve_restores_the_target_distance_hand_computed() -> None:
    # Mark 80,000 after a rally from 60,000: margin balance 30,000 - 20,000 = 10,000.
    # Binance BTCUSDT bracket 0-50k: MMR 0.4 %, cum 0; notional at the target liquidation
    # price 120,000 is 120,000 -> bracket 50k-250k: MMR 0.5 %, cum 50.
    # Margin for a liquidation at 120,000 (entry = mark 80,000):
    #   MM(120k) - PnL(120k) = 120,000 * 0.005 - 50 + (120,000 - 80,000) = 40,550.
    state = leg(mark=80_000.0, margin=10_000.0)
    assert distance(state, 1.0, 10_000.0) < 0.30
    decision = keep(KeeperPolicy(), [state], reserve_usd=50_000.0, now_ms=NOW)
    (top_up,) = decision.actions
    assert top_up.kind is ActionKind.TOP_UP
    assert top_up.margin_move == pytest.approx(30_550.0, abs=1e-6)
    assert decision.reserve_usd == pytest.approx(50_000.0 - 30_550.0, abs=1e-6)
    assert top_up.distance_after == pytest.approx(0.50, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    mark=st.floats(1_000.0, 200_000.0),
    size=st.floats(0.01, 50.0),
    margin_frac=st.floats(-0.05, 0.2),  # liquidation under 30 % away
    target=st.floats(0.35, 3.0),
    inverse=st.booleans(),
)
def test_after_a_top_up_the_solver_puts_the_liquidation_at_target(
    mark: float, size: float, margin_frac: float, target: float, inverse: bool
) -> None:
    inst = BTC_INV if inverse else BTC
    contracts = size * mark / inst.contract_size if inverse else size
    settle_notional = size if inverse else size * mark
    state = LegState(
        instrument=inst, coins_held=size, spot_price=mark, mark=mark, hedge_ratio=1.0,
        size=contracts, margin=margin_frac * settle_notional, leverage=2.0,
    )  # fmt: skip
    policy = KeeperPolicy(min_distance=0.3, target_distance=target, surplus_distance=10.0)
    decision = keep(policy, [state], reserve_usd=1e12, now_ms=NOW)
    (leg_after,) = decision.legs
    pos = Position(Side.SHORT, contracts, mark, inst.kind, inst.contract_size)
    lp = liquidation(pos, leg_after.margin, inst.tiers).price
    assert lp is not None
    assert (lp - mark) / mark == pytest.approx(target, rel=1e-9, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    rally=st.floats(1.2, 3.0),
    coins=st.floats(0.05, 20.0),
    ratio=st.floats(0.2, 1.0),
    reserve_frac=st.floats(0.0, 0.9),
)
def test_sell_spot_keeps_the_hedge_ratio_and_reaches_the_target(
    rally: float, coins: float, ratio: float, reserve_frac: float
) -> None:
    mark = 60_000.0 * rally
    size = ratio * coins  # opened at 60,000 at 2x, the rally took its margin
    margin = size * 30_000.0 - size * (mark - 60_000.0)
    state = LegState(
        instrument=BTC, coins_held=coins, spot_price=mark, mark=mark, hedge_ratio=ratio,
        size=size, margin=margin, leverage=2.0, coins_on_exchange=coins,
    )  # fmt: skip
    policy = KeeperPolicy(drift_band=0.5)
    reserve = reserve_frac * (margin_for_distance(state, size, 0.5) - margin)  # not enough
    decision = keep(policy, [state], reserve_usd=reserve, now_ms=NOW)
    (after,) = decision.legs
    kinds = [a.kind for a in after.actions]
    assert ActionKind.SELL_SPOT in kinds
    assert ActionKind.ALERT not in kinds
    assert after.size / after.coins_held == pytest.approx(ratio, rel=1e-12)
    assert after.distance == pytest.approx(0.50, abs=1e-9)
    sold = next(a for a in after.actions if a.kind is ActionKind.SELL_SPOT).spot_sold
    assert after.coins_held == pytest.approx(coins - sold, rel=1e-12)
    assert 0.0 <= decision.reserve_usd < 1e-6 * mark * coins + 1e-9


def test_spot_elsewhere_alerts_with_the_exact_amount() -> None:
    state = leg(mark=80_000.0, margin=10_000.0)
    policy = KeeperPolicy(spot_on_exchange=False)
    decision = keep(policy, [state], reserve_usd=10_000.0, now_ms=NOW)
    kinds = [a.kind for a in decision.actions]
    assert kinds == [ActionKind.TOP_UP, ActionKind.ALERT]
    alert = decision.alerts[0]
    # 40,550 needed (see the hand computation above), 10,000 + 10,000 there
    assert alert.amount_usd == pytest.approx(20_550.0, abs=1e-6)
    assert "move 20,550.00 USD" in alert.message
    assert decision.reserve_usd == 0.0


def test_delever_shrinks_the_short_to_what_the_margin_carries() -> None:
    state = leg(mark=80_000.0, margin=10_000.0)
    policy = KeeperPolicy(on_shortfall=Shortfall.DELEVER)
    decision = keep(policy, [state], reserve_usd=0.0, now_ms=NOW)
    (after,) = decision.legs
    assert [a.kind for a in after.actions] == [ActionKind.DELEVER]
    assert after.coins_held == 1.0
    assert 0.0 < after.size < 1.0
    assert margin_for_distance(state, after.size, 0.5) <= 10_000.0
    assert after.distance == pytest.approx(0.5, abs=1e-9)


def test_a_lost_short_alerts_during_the_cooldown_then_reopens() -> None:
    lost = LegMemory(liquidated_ms=NOW)
    state = leg(size=0.0, margin=0.0, memory=lost)
    early = keep(KeeperPolicy(), [state], reserve_usd=100_000.0, now_ms=NOW + HOUR_MS)
    assert [a.kind for a in early.actions] == [ActionKind.ALERT]
    assert "liquidated" in early.actions[0].message
    late = keep(KeeperPolicy(), [state], reserve_usd=100_000.0, now_ms=NOW + 24 * HOUR_MS)
    (after,) = late.legs
    assert after.actions[0].kind is ActionKind.REOPEN
    assert after.size == pytest.approx(1.0)
    assert after.margin == pytest.approx(30_000.0)  # 60,000 / 2x
    assert after.memory.liquidated_ms is None
    assert late.reserve_usd == pytest.approx(70_000.0)


def test_reopen_off_keeps_alerting() -> None:
    state = leg(size=0.0, margin=0.0, memory=LegMemory(liquidated_ms=NOW))
    decision = keep(KeeperPolicy(reopen=False), [state], 1e6, NOW + 1000 * HOUR_MS)
    assert [a.kind for a in decision.actions] == [ActionKind.ALERT]


RALLY = leg(mark=80_000.0, margin=10_000.0)  # 12 % from liquidation (the top-up case above)
LOST = leg(size=0.0, margin=0.0, memory=LegMemory(liquidated_ms=NOW))


@pytest.mark.parametrize(
    ("policy", "state", "reserve_usd", "now_ms", "kinds"),
    [
        (KeeperPolicy(spot_on_exchange=False), RALLY, 10_000.0, NOW, ["top_up", "alert"]),
        (KeeperPolicy(), RALLY, 0.0, NOW, ["sell_spot_and_reduce"]),
        (KeeperPolicy(on_shortfall=Shortfall.DELEVER), RALLY, 0.0, NOW, ["delever"]),
        (KeeperPolicy(), LOST, 1e5, NOW + HOUR_MS, ["alert"]),
        (KeeperPolicy(), LOST, 1e5, NOW + 24 * HOUR_MS, ["reopen"]),
        (KeeperPolicy(), leg(coins_held=1.5, coins_on_exchange=1.5), 5e4, NOW, ["resize"]),
    ],
)  # fmt: skip
def test_an_action_names_its_symbol_once_on_its_own_line_and_not_in_its_message(
    policy: KeeperPolicy, state: LegState, reserve_usd: float, now_ms: int, kinds: list[str]
) -> None:
    """A table shows the symbol in a column of its own beside the message; `hedge keep`
    prints each action on a line of its own, the symbol first."""
    actions = keep(policy, [state], reserve_usd, now_ms).actions
    assert [a.kind.value for a in actions] == kinds
    for action in actions:
        assert action.message and "BTC" not in action.message
        assert action.line == f"BTC/USDT:USDT: {action.message}"


def test_drift_resizes_and_draws_the_added_initial_margin() -> None:
    state = leg(coins_held=1.5, coins_on_exchange=1.5)  # holding grew by half
    decision = keep(KeeperPolicy(), [state], reserve_usd=50_000.0, now_ms=NOW)
    (resize,) = decision.actions
    assert resize.kind is ActionKind.RESIZE and resize.size_after == pytest.approx(1.5)
    assert resize.reserve_usd == pytest.approx(15_000.0)  # 0.5 BTC x 60,000 / 2x


def test_funding_reduce_with_hysteresis_and_minimum_hold() -> None:
    policy = KeeperPolicy(
        funding_action=FundingAction.REDUCE, funding_limit_apr=0.2, funding_hysteresis_apr=0.1,
        funding_min_hold_hours=48, funding_reduced_ratio=0.5,
    )  # fmt: skip
    costly = leg(funding_cost_apr=0.25)
    first = keep(policy, [costly], 0.0, NOW).legs[0]
    assert first.actions[0].kind is ActionKind.FUNDING_REDUCE
    assert first.size == pytest.approx(0.5) and first.memory.reduced
    # cost falls to 0.15: inside the hysteresis band, stays reduced
    calm = leg(size=0.5, funding_cost_apr=0.15, memory=first.memory)
    assert keep(policy, [calm], 0.0, NOW + 100 * HOUR_MS).legs[0].actions == ()
    # cost 0.05 but within the minimum hold: stays reduced
    cheap = leg(size=0.5, funding_cost_apr=0.05, memory=first.memory)
    assert keep(policy, [cheap], 0.0, NOW + 10 * HOUR_MS).legs[0].actions == ()
    restored = keep(policy, [cheap], 1e6, NOW + 48 * HOUR_MS).legs[0]
    assert restored.actions[0].kind is ActionKind.FUNDING_RESTORE
    assert restored.size == pytest.approx(1.0) and not restored.memory.reduced


def test_funding_unwind_closes_the_short() -> None:
    policy = KeeperPolicy(funding_action=FundingAction.UNWIND, funding_limit_apr=0.2)
    after = keep(policy, [leg(funding_cost_apr=0.5)], 0.0, NOW).legs[0]
    assert after.size == 0.0 and after.actions[0].kind is ActionKind.FUNDING_REDUCE


def test_surplus_goes_back_to_the_reserve_down_to_the_target() -> None:
    # after a fall to 40,000 the margin balance is 50,000: far from liquidation
    state = leg(mark=40_000.0, margin=50_000.0)
    policy = KeeperPolicy(return_surplus=True)
    decision = keep(policy, [state], 0.0, NOW)
    (back,) = decision.actions
    assert back.kind is ActionKind.RETURN_SURPLUS
    # keep max(margin for 50 %, initial margin 40,000 / 2 = 20,000): liquidation at 60,000,
    # bracket 50k-250k (0.5 %, cum 50): 60,000 x 0.005 - 50 + 20,000 = 20,250
    assert back.margin_after == pytest.approx(20_250.0)
    assert decision.reserve_usd == pytest.approx(29_750.0)


def test_the_reserve_is_shared_in_leg_order() -> None:
    a, b = leg(mark=80_000.0, margin=10_000.0), leg(mark=80_000.0, margin=10_000.0)
    policy = KeeperPolicy(spot_on_exchange=False)
    decision = keep(policy, [a, b], reserve_usd=40_000.0, now_ms=NOW)
    first, second = decision.legs
    assert first.actions[0].reserve_usd == pytest.approx(30_550.0)
    assert second.actions[0].reserve_usd == pytest.approx(40_000.0 - 30_550.0)
    assert second.actions[-1].kind is ActionKind.ALERT


def test_funding_cost_apr_sign_and_scale() -> None:
    # -0.01 % per 8 h paid by the short: 0.0001 x 1095 = 10.95 % a year
    assert funding_cost_apr([-0.0001] * 21, 8.0) == pytest.approx(0.1095)
    assert funding_cost_apr([0.0001], 8.0) < 0
    assert funding_cost_apr([], 8.0) == 0.0
    assert math.isfinite(funding_cost_apr([0.0], 1.0))


def test_trailing_cost_is_the_mean_rate_annualised_with_the_short_paying_positive() -> None:
    # 0.01 % per 8 h is 10.95 % a year (3 x 365 settlements; Binance's funding FAQ); a short
    # pays it when the rate is negative
    assert trailing_cost_apr(-0.0003, 3.0, 8.0) == pytest.approx(0.1095)
    assert trailing_cost_apr(0.0001, 1.0, 8.0) == pytest.approx(-0.1095)
    assert trailing_cost_apr(-0.0001, 8.0, 1.0) == pytest.approx(0.1095)  # hourly, 8 of them
    assert trailing_cost_apr(0.0, 0.0, 8.0) == 0.0  # no settlement in the window
    assert funding_cost_apr([-0.0001, -0.0002], 8.0) == pytest.approx(0.1095 * 1.5)


def test_funding_switch_has_hysteresis_and_a_minimum_hold() -> None:
    limit, hyst, hold = 0.3, 0.1, 72.0
    assert funding_switch(False, math.inf, 0.31, limit, hyst, hold)  # above the limit: reduce
    assert not funding_switch(False, math.inf, 0.30, limit, hyst, hold)  # at it: not yet
    assert not funding_switch(True, math.inf, 0.25, limit, hyst, hold)  # inside the band: stay
    assert funding_switch(True, math.inf, 0.19, limit, hyst, hold)  # below limit - hyst
    assert not funding_switch(False, 71.9, 5.0, limit, hyst, hold)  # held since the last one
    assert funding_switch(False, 72.0, 5.0, limit, hyst, hold)


@pytest.mark.parametrize("reserve_usd", [1_234.567, 1_234.5649, 2_000.999, 0.291])
def test_a_top_up_states_the_amount_sent_rounded_down_to_the_cent(reserve_usd: float) -> None:
    # the reserve caps the top-up at a fraction of a cent; the move is sent rounded down to
    # the cent (live.keep.move_amount), and the message says that amount, not a rounded-up one
    [top_up, *_] = keep(KeeperPolicy(spot_on_exchange=False), [RALLY], reserve_usd, NOW).actions
    assert top_up.kind is ActionKind.TOP_UP and top_up.margin_move == pytest.approx(reserve_usd)
    sent = move_amount(top_up.margin_move, "USDT")
    assert top_up.message.endswith(f": {sent:,.2f} USD of margin added from the reserve")
