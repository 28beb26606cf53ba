"""Funding: sign convention, payments, accrual and annualisation (mechanics.md §4, §7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perphedge.funding import (
    accrue_funding,
    apr,
    apy,
    describe_for_short,
    funding_payment,
    funding_payments,
    position_at,
    short_earns,
)
from perphedge.instruments import ContractKind
from perphedge.margin import Position, Side


def test_v46_v47_short_receives_positive_rate():
    """V46-V47: freqtrade test_calculate_funding_fees @ c9ae5e1: short 10, F 0.0001 @ 2.0 ->
    +0.002; F 0.0002 @ 2.5 -> +0.005 (the short receives)."""
    assert funding_payment(Position(Side.SHORT, 10, 2.0), 2.0, 0.0001) == pytest.approx(0.002)
    assert funding_payment(Position(Side.SHORT, 10, 2.5), 2.5, 0.0002) == pytest.approx(0.005)
    assert funding_payment(Position(Side.LONG, 10, 2.0), 2.0, 0.0001) == pytest.approx(-0.002)


def test_v48_v50_two_negative_intervals():
    """V48/V50: freqtrade test__fetch_and_calculate_funding_fees (ADA/USDT, 8 h):
    marks 2.77 and 2.77, F -0.000008 and -0.000003.
    Short 30: -30 * 2.77 * 0.000011 = -0.00091410; long 30: +0.00091410; short 50: -0.0015235."""
    marks, rates = [2.77, 2.77], [-0.000008, -0.000003]
    assert funding_payments([-30, -30], marks, rates).sum() == pytest.approx(-0.0009141)
    assert funding_payments([30, 30], marks, rates).sum() == pytest.approx(0.0009141)
    assert funding_payments([-50, -50], marks, rates).sum() == pytest.approx(-0.0015235)


def test_v51_annualisation():
    """V51: 0.01 % per 8 h = 0.0001 * 3 * 365 = 10.95 % APR; hourly: 0.01 % * 24 * 365 = 87.6 %."""
    assert apr(0.0001, 8) == pytest.approx(0.1095)
    assert apr(0.0001, 1) == pytest.approx(0.876)
    assert apr(0.0001, 4) == pytest.approx(0.219)
    assert apy(0.0001, 8) == pytest.approx(math.expm1(1095 * math.log1p(0.0001)))
    assert apy(0.0001, 8) > apr(0.0001, 8)


def test_inverse_payment_in_coin():
    """COIN-M: nominal value = contracts * multiplier / mark (Binance funding FAQ).
    Short 600 x 100 USD @ mark 60,000 -> 1 BTC; F 0.0001 -> +0.0001 BTC."""
    pos = Position(Side.SHORT, 600, 60_000, ContractKind.INVERSE, 100.0)
    assert funding_payment(pos, 60_000, 0.0001) == pytest.approx(0.0001)
    vec = funding_payments([-600], [60_000], [0.0001], ContractKind.INVERSE, 100.0)
    assert vec[0] == pytest.approx(0.0001)


def test_accrual_follows_position_changes():
    # events at t=0, 8, 16, 24 h; short 1 opened at t=0 exactly, raised to 2 at 10 h,
    # closed at 20 h. Held: -1, -1, -2, 0. Marks 100; rates 0.001, -0.002, 0.003, 0.004.
    # cash = 1*100*0.001 + 1*100*(-0.002) + 2*100*0.003 + 0 = 0.1 - 0.2 + 0.6 = 0.5
    h = 3_600_000
    events = np.array([0, 8 * h, 16 * h, 24 * h], dtype=np.int64)
    held = position_at(events, [0, 10 * h, 20 * h], [-1.0, -2.0, 0.0])
    assert held.tolist() == [-1.0, -1.0, -2.0, 0.0]
    total = accrue_funding(
        events, [100.0] * 4, [0.001, -0.002, 0.003, 0.004], [0, 10 * h, 20 * h], [-1.0, -2.0, 0.0]
    )
    assert total == pytest.approx(0.5)


def test_words_follow_exchange_rule():
    assert short_earns(0.0001) and not short_earns(-0.0001)
    assert "earns" in describe_for_short(0.0001)
    assert "pays" in describe_for_short(-0.0001)
