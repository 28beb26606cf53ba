"""The liquidation service: one position from plain values, checked, through margin.position_risk."""

from __future__ import annotations

import pytest

from perphedge.errors import InputError
from perphedge.instruments import ContractKind
from perphedge.margin import Rules, Side
from perphedge.services.liquidation import PositionQuery, position_liquidation


def _short(**given: object) -> PositionQuery:
    base: dict[str, object] = {
        "side": Side.SHORT,
        "kind": ContractKind.LINEAR,
        "entry": 10.0,
        "leverage": 5.0,
        "qty": 1.0,
        "mmr": 0.01,
        "cum": 0.01,
    }
    return PositionQuery(**(base | given))  # type: ignore[arg-type]


def test_flat_rate_short_matches_the_published_vector() -> None:
    # freqtrade ft-mock V5: short, L 5, EP 10, q 1, MMR 0.01, cum 0.01 -> LP 11.891089108910891
    risk = position_liquidation(_short())
    assert risk.liquidation_price == pytest.approx(11.891089108910891, rel=1e-12)
    assert risk.maintenance_margin == pytest.approx(0.09)  # 10 * 0.01 - 0.01
    assert risk.rules is Rules.BINANCE  # no exchange, no rules: Binance's


def test_the_exchange_names_the_rules_and_a_different_choice_is_refused() -> None:
    assert position_liquidation(_short(exchange="okx")).rules is Rules.OKX
    with pytest.raises(InputError, match="okx uses okx rules"):
        position_liquidation(_short(exchange="okx", rules=Rules.BYBIT))


def test_the_tier_source_is_one_of_a_table_or_a_rate() -> None:
    with pytest.raises(InputError, match="--tiers/--mmr"):
        position_liquidation(_short(tiers="binance:BTCUSDT"))
    bundled = position_liquidation(_short(mmr=None, cum=0.0, tiers="binance:BTCUSDT"))
    assert bundled.mmr == pytest.approx(0.004)  # the first bracket at a 10 USDT notional


def test_an_inverse_position_needs_contracts_and_their_size() -> None:
    with pytest.raises(InputError, match="--contracts"):
        position_liquidation(_short(kind=ContractKind.INVERSE, qty=None, contracts=10.0))
