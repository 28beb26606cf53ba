"""The paper ledger's Decimal formulas are the core's, in Decimal: tested equal on any fill.

`paper_state.settle_value` is the one Decimal twin of `margin.notional`; fees are it times the
rate (`margin.trade_fee`); realised PnL of `apply_to_position` equals `margin.unrealized_pnl` of
the closed part (entries are kept to 1e-8, so agreement is to that precision).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perphedge.exchanges.paper_state import apply_to_position, settle_value
from perphedge.margin import Position, Side, notional, trade_fee, unrealized_pnl
from perphedge.venues import contract_specs

INSTRUMENTS = [
    contract_specs.by_symbol("binance", s)
    for s in ("BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USD:BTC", "ETH/USD:ETH")
]
prices = st.decimals(min_value="10", max_value="200000", places=2)
contracts = st.integers(1, 5_000).map(Decimal)


def core_position(inst, signed: Decimal, entry: Decimal) -> Position:
    side = Side.LONG if signed > 0 else Side.SHORT
    size = float(abs(signed)) * (1.0 if inst.is_inverse else inst.contract_size)
    return Position(side, size, float(entry), inst.kind, inst.contract_size)


@given(inst=st.sampled_from(INSTRUMENTS), qty=contracts, price=prices)
def test_settle_value_is_the_core_notional(inst, qty, price):
    pos = core_position(inst, -qty, price)
    assert float(settle_value(inst, qty, price)) == pytest.approx(
        notional(pos, float(price)), rel=1e-12
    )
    fee = settle_value(inst, qty, price) * Decimal(str(inst.taker_fee))
    assert float(fee) == pytest.approx(trade_fee(pos, float(price), inst.taker_fee), rel=1e-12)


@given(
    inst=st.sampled_from(INSTRUMENTS),
    qty=contracts,
    entry=prices,
    exit_price=prices,
    short=st.booleans(),
)
def test_realised_pnl_of_a_close_is_the_core_pnl(inst, qty, entry, exit_price, short):
    signed = -qty if short else qty
    positions: dict = {}
    apply_to_position(positions, inst.symbol, signed, entry, inst)
    realised = apply_to_position(positions, inst.symbol, -signed, exit_price, inst)
    assert positions == {}
    expected = unrealized_pnl(core_position(inst, signed, entry), float(exit_price))
    assert float(realised) == pytest.approx(expected, rel=1e-9, abs=2e-8)
