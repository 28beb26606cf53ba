"""Instruments, tier tables and exchange rounding."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from perphedge.errors import InputError
from perphedge.instruments import ContractKind, MarginTier, Perpetual, TierTable
from perphedge.margin import tier_maintenance
from perphedge.units import periods_per_year, rel_close, round_price_to_tick, round_qty_to_step
from perphedge.venues import tier_tables


def test_bundled_tables_have_source_and_date():
    table = tier_tables.bundled("binance:BTCUSDT")
    assert table.as_of == "2024-10-24"
    assert "leverageBracket" in table.source
    assert len(table.tiers) == 12
    assert tier_tables.bundled("BINANCE:ethusdt").tiers[5].floor == 50_000_000
    assert tier_tables.for_symbol("binance", "ETHUSDT") is not None
    assert tier_tables.for_symbol("binance", "DOGEUSDT") is None


def test_tier_lookup_by_notional_edges():
    table = tier_tables.bundled("binance:BTCUSDT")
    assert table.tier_for(49_999.99).mmr == 0.004
    assert table.tier_for(50_000).mmr == 0.005  # floors are inclusive
    assert table.tier_for(5e9).mmr == 0.5  # beyond the last cap: last bracket
    assert table.max_leverage_for(600_000) == 75
    # maintenance margin is continuous at a bracket boundary thanks to cum:
    # 600,000 * 0.5 % - 50 = 2,950 = 600,000 * 0.65 % - 950
    assert tier_maintenance(table, 599_999.999999) == pytest.approx(2_950, rel=1e-9)
    assert tier_maintenance(table, 600_000) == pytest.approx(2_950, rel=1e-12)


def test_tier_table_validation():
    with pytest.raises(InputError, match="contiguous"):
        TierTable((MarginTier(0, 10, 10, 0.01, 0), MarginTier(20, 30, 5, 0.02, 0.2)))
    with pytest.raises(InputError, match=r"tier\.mmr"):
        MarginTier(0, 10, 10, 1.5, 0)
    with pytest.raises(InputError, match=r"tier\.cap"):
        MarginTier(10, 10, 10, 0.01, 0)
    with pytest.raises(InputError, match="tiers"):
        TierTable(())
    with pytest.raises(InputError, match="use one of"):
        tier_tables.bundled("okx:BTC-USDT-SWAP")


def test_perpetual_spec_and_conversions():
    btcusd = Perpetual(
        "BTC/USD:BTC", "BTC", "USD", "BTC", ContractKind.INVERSE, contract_size=100, qty_step=1
    )
    assert btcusd.contracts_for_usd(60_000, 60_000) == 600  # 60,000 USD / 100 USD
    assert btcusd.size_from_contracts(600) == 600
    okx = Perpetual("BTC/USDT:USDT", "BTC", "USDT", "USDT", contract_size=0.01, qty_step=1)
    assert okx.contracts_for_usd(6_000, 60_000) == pytest.approx(10)  # 0.1 BTC = 10 x 0.01
    assert okx.size_from_contracts(10) == pytest.approx(0.1)
    with pytest.raises(InputError, match="settle"):
        Perpetual("BTC/USD:BTC", "BTC", "USD", "USDT", ContractKind.INVERSE)
    with pytest.raises(InputError, match="qty_step"):
        Perpetual("BTC/USDT:USDT", "BTC", "USDT", "USDT", qty_step=0)
    with pytest.raises(InputError, match="taker_fee"):
        Perpetual("BTC/USDT:USDT", "BTC", "USDT", "USDT", taker_fee=math.nan)


def test_rounding_to_exchange_steps():
    assert round_qty_to_step(0.123456, "0.001") == Decimal("0.123")
    assert round_qty_to_step(-0.123456, "0.001") == Decimal("-0.123")  # toward zero
    assert round_qty_to_step(0.3, 0.1) == Decimal("0.3")  # no float noise: 0.3/0.1 != 2.99..
    assert round_qty_to_step(1234, 10) == Decimal("1230")
    assert round_price_to_tick(60_000.06, "0.1") == Decimal("60000.1")
    assert round_price_to_tick(60_000.05, "0.1") == Decimal("60000.0")  # ties to even
    with pytest.raises(InputError, match="step"):
        round_qty_to_step(1, 0)


def test_periods_and_tolerance():
    assert periods_per_year(8) == 1095
    assert periods_per_year(1) == 8760
    assert rel_close(1.0, 1.0 + 1e-10) and not rel_close(1.0, 1.0001)
    with pytest.raises(InputError, match="interval_hours"):
        periods_per_year(0)
