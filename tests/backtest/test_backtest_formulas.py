"""The kernel's money formulas are the core's functions, compiled: one formula per quantity."""

from __future__ import annotations

import pytest

from perphedge import funding, margin
from perphedge.backtest.kernels import formulas


@pytest.mark.parametrize(
    ("helper", "core"),
    [
        (formulas._notional, margin.notional_of),
        (formulas._pnl, margin.pnl_of),
        (formulas._fee, margin.fee_of),
        (formulas._maintenance, margin.maintenance_of),
        (formulas._funding_cash, funding.funding_cash),
    ],
)
def test_kernel_helpers_compile_the_core_functions(helper, core):
    assert helper.py_func is core


def test_compiled_formulas_give_the_published_numbers():
    # Binance FAQ 360033544231: 1 BTC @ 10,104 taker 0.05 % = 5.052 USDT;
    # 10 BTCUSD contracts (100 USD) @ 11,104 = 1,000 / 11,104 = 0.0900576 BTC of notional
    assert formulas._fee(formulas._notional(1.0, 10_104.0, 1.0, False), 0.0005) == pytest.approx(
        5.052, rel=1e-12
    )
    assert formulas._notional(10.0, 11_104.0, 100.0, True) == pytest.approx(0.0900576, rel=1e-6)
    # a short of 2 BTC from 100 to 110 loses 20 USD; inverse 1,000 contracts of 100 USD short
    # from 50,000 to 40,000: -100,000 * (1/50,000 - 1/40,000) = +0.5 BTC
    assert formulas._pnl(-2.0, 100.0, 110.0, 1.0, False) == -20.0
    assert formulas._pnl(-1_000.0, 50_000.0, 40_000.0, 100.0, True) == pytest.approx(0.5)
    # Binance FAQ: 3,500,032.458 * 2.5 % - 16,300 = 71,200.81145
    assert formulas._maintenance(3_500_032.458, 0.025, 16_300.0) == pytest.approx(
        71_200.81145, rel=1e-12
    )
    # a short of 1 BTC at 40,000 and +0.01 %: receives 4 USD
    assert formulas._funding_cash(-1.0, 0.0001, 40_000.0) == pytest.approx(4.0)
