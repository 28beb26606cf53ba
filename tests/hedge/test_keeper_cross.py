"""The cross keeper: the wallet's distance to liquidation under a rally of every mark, and the
transfer from the reserve that puts it back at target_distance.

Hand numbers (Binance BTCUSDT and ETHUSDT bracket 1: MMR 0.4 %, cum 0). A short of notional N
at mark P needs WB(P (1 + x)) = N (1 + x) * 1.004 - N at a rally x, so a wallet of margin
balance B over shorts of total notional S liquidates at x = (B + S) / (1.004 S) - 1.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.errors import InputError
from perphedge.hedge.keeper import KeeperPolicy, distance
from perphedge.hedge.keeper_cross import keep_cross, opening_margin, wallet_distance, wallet_needed
from perphedge.hedge.keeper_model import ActionKind, LegMemory, LegState
from perphedge.venues import contract_specs

BTC = contract_specs.by_symbol("binance", "BTC/USDT:USDT")
ETH = contract_specs.by_symbol("binance", "ETH/USDT:USDT")
T0 = 1_700_000_000_000


def leg(inst=BTC, mark: float = 60_000.0, coins: float = 0.5) -> LegState:
    return LegState(inst, coins, mark, mark, 1.0, coins, 0.0, 3.0)


def test_one_leg_is_its_isolated_distance_on_the_same_money():
    btc = leg()
    # (10,000 + 30,000) / (0.5 * 1.004) = 79,681.27: 32.80 % above 60,000
    assert wallet_distance([(btc, 0.5)], 10_000) == pytest.approx(40_000 / 30_120 - 1, abs=1e-9)
    assert wallet_distance([(btc, 0.5)], 10_000) == pytest.approx(distance(btc, 0.5, 10_000))


def test_two_legs_liquidate_together_at_one_rally():
    legs = [(leg(), 0.5), (leg(ETH, 3_000.0, 8.0), 8.0)]  # notionals 30,000 + 24,000
    x = wallet_distance(legs, 15_000)
    assert x == pytest.approx(69_000 / 54_216 - 1, abs=1e-9)  # 27.27 %
    assert wallet_needed(legs, x) == pytest.approx(15_000, abs=1e-6)
    assert wallet_distance(legs, 15_000) < min(distance(s, q, 15_000) for s, q in legs)


def test_edges():
    assert wallet_distance([(leg(), 0.0)], 1_000) is None  # no short
    assert wallet_distance([(leg(), 0.5)], 50) == 0.0  # below maintenance now
    assert wallet_distance([(leg(), 0.5)], 1e12) == float("inf")
    inverse = contract_specs.by_symbol("binance", "BTC/USD:BTC")
    with pytest.raises(InputError, match="isolated"):
        wallet_distance([(LegState(inverse, 1.0, 60_000.0, 60_000.0, 1.0, 600.0, 0.0, 1.0), 600.0)], 1.0)  # fmt: skip


def test_a_close_wallet_is_topped_up_to_target_from_the_reserve():
    legs = [leg(), leg(ETH, 3_000.0, 8.0)]
    policy = KeeperPolicy()
    kept = keep_cross(policy, legs, 15_000, 50_000, T0)  # 27.3 % < 30 %
    # to 50 %: B = 1.5 * 1.004 * 54,000 - 54,000 = 27,324
    assert kept.transfer_usd == pytest.approx(27_324 - 15_000, abs=1e-6)
    assert kept.distance_after == pytest.approx(0.5, abs=1e-9)
    assert kept.reserve_usd == pytest.approx(50_000 - kept.transfer_usd)
    assert kept.missing_usd == 0.0 and "moved from the reserve" in kept.message
    assert all(not d.actions for d in kept.legs.legs)  # on target: no re-size, no leg top-up


def test_a_short_reserve_is_spent_and_the_rest_alerted():
    kept = keep_cross(KeeperPolicy(), [leg(), leg(ETH, 3_000.0, 8.0)], 15_000, 1_000, T0)
    assert kept.transfer_usd == 1_000 and kept.missing_usd == pytest.approx(11_324, abs=1e-6)
    assert kept.distance_after == pytest.approx(70_000 / 54_216 - 1, abs=1e-9)
    assert "move 11,324.00 USD more" in kept.message


def test_far_enough_moves_nothing():
    kept = keep_cross(KeeperPolicy(), [leg()], 20_000, 50_000, T0)
    assert (kept.transfer_usd, kept.message, kept.reserve_usd) == (0.0, "", 50_000)


@settings(max_examples=60)
@given(
    balance=st.floats(min_value=0.0, max_value=200_000.0),
    reserve=st.floats(min_value=0.0, max_value=200_000.0),
    btc_mark=st.floats(min_value=20_000.0, max_value=120_000.0),
)
def test_the_transfer_never_exceeds_the_reserve_and_reaches_target_when_it_can(
    balance, reserve, btc_mark
):
    legs = [leg(mark=btc_mark), leg(ETH, 3_000.0, 8.0)]
    policy = KeeperPolicy()
    kept = keep_cross(policy, legs, balance, reserve, T0)
    assert 0.0 <= kept.transfer_usd <= reserve
    assert kept.reserve_usd == pytest.approx(reserve - kept.transfer_usd)
    if kept.transfer_usd and not kept.missing_usd:
        assert kept.distance_after == pytest.approx(policy.target_distance, abs=1e-6)
    if kept.distance is not None and kept.distance >= policy.min_distance:
        assert kept.transfer_usd == 0.0


HOUR_MS = 3_600_000
TIGHT = KeeperPolicy(min_distance=0.05, target_distance=0.06)


def lost(hours_ago: float) -> LegState:
    """A BTC leg whose 0.5 BTC short was liquidated `hours_ago` (size 0, an empty wallet)."""
    return replace(leg(), size=0.0, memory=LegMemory(liquidated_ms=int(T0 - hours_ago * HOUR_MS)))


def test_a_reopen_on_an_empty_wallet_first_moves_its_initial_margin_and_fee():
    kept = keep_cross(TIGHT, [lost(25)], 0.0, 50_000, T0)
    [decided] = kept.legs.legs
    assert decided.size == 0.5 and decided.actions[0].kind is ActionKind.REOPEN
    # IM 0.5 * 60,000 / 3 = 10,000 plus the taker fee 30,000 * 0.05 % = 15; the 6 % target
    # alone would need only 30,000 * 1.06 * 1.004 - 30,000 = 1,927.20
    assert kept.transfer_usd == pytest.approx(10_015.0, abs=1e-6)
    assert (kept.missing_usd, kept.unfunded_usd) == (0.0, 0.0)
    assert "10,015.00 USD moved from the reserve" in kept.message
    # the wallet is the subject: its line names it once, the message (an alert's) not at all
    # the reason is the opening, not a distance measured with shorts the wallet does not hold
    assert kept.message.startswith("initial margin for the shorts that grow: 10,015.00 USD")
    assert kept.message.endswith(f"(liquidation then {kept.distance_after:.1%} away)")
    assert kept.distance_after is not None and kept.distance_after > TIGHT.target_distance
    assert kept.line == f"cross wallet: {kept.message}"


def test_a_reopen_the_reserve_cannot_margin_is_unfunded():
    kept = keep_cross(TIGHT, [lost(25)], 0.0, 4_000, T0)
    assert kept.transfer_usd == 4_000
    assert kept.unfunded_usd == pytest.approx(6_015.0, abs=1e-6)
    assert "the shorts that grow wait for it" in kept.message


def test_no_growth_asks_for_no_initial_margin():
    assert opening_margin([leg()], [0.5]) == 0.0  # held as it is
    assert opening_margin([leg()], [0.25]) == 0.0  # reduced
    # grown by 0.1 BTC: IM of 0.6 BTC at 3x = 12,000, fee 6,000 * 0.05 % = 3
    assert opening_margin([leg()], [0.6]) == pytest.approx(12_003.0)
    waiting = keep_cross(TIGHT, [lost(1)], 0.0, 50_000, T0)  # in its cooldown
    assert (waiting.transfer_usd, waiting.message) == (0.0, "")
