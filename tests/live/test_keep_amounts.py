"""The keeper's margin moves are rounded down to what the exchange takes, never past the limit
it was capped at (a top-up of the whole free balance once rounded 2210.2967 up to 2210.30)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from perphedge.live.keep import move_amount


def test_a_top_up_capped_at_the_free_balance_rounds_down_to_the_cent() -> None:
    assert move_amount(2210.2967, "USDT") == Decimal("2210.29")
    assert move_amount(-15.999, "USDT") == Decimal("15.99")
    assert move_amount(0.004, "USDC") == Decimal("0.00")


def test_a_coin_margined_move_keeps_satoshis() -> None:
    assert move_amount(0.012345678912, "BTC") == Decimal("0.01234567")


@given(st.floats(-1e7, 1e7, allow_nan=False), st.sampled_from(["USDT", "USDC", "BTC", "ETH"]))
def test_never_more_than_asked_and_less_than_one_step_short(amount: float, currency: str) -> None:
    sent = move_amount(amount, currency)
    step = Decimal("0.01") if currency.startswith("USD") else Decimal("1e-8")
    exact = Decimal(str(abs(amount)))
    assert Decimal(0) <= sent <= exact
    assert exact - sent < step
