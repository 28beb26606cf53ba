"""The funding report service on a fake of the MarketHistory port (no store)."""

from __future__ import annotations

import pytest

from perphedge.errors import DataError, InputError
from perphedge.services.funding import funding_report
from tests.fakes.ports import FakeStore

BTC = "BTC/USDT:USDT"


def test_ranks_venues_by_what_the_short_earns_and_marks_the_tradable_ones():
    store = FakeStore().flat("binance", BTC, 0.0001, 60).flat("bybit", BTC, 0.0002, 60)
    report = funding_report(store, ["BTC"], [], None, None)
    (btc,) = report.symbols
    # a positive rate: longs pay shorts, the short earns; 3 settlements a day x 365 days
    ranking = [(v.venue, v.apr) for v in btc.comparison.ranking]
    assert ranking == [
        ("bybit", pytest.approx(0.0002 * 3 * 365)),
        ("binance", pytest.approx(0.0001 * 3 * 365)),
    ]
    assert btc.comparison.common  # both over the same 60 days
    assert {v.exchange: v.report.overall.n_intervals for v in btc.venues} == {
        "binance": 180,
        "bybit": 180,
    }
    assert "binance" in report.tradable


def test_a_venue_named_without_data_and_a_spot_symbol_are_said():
    store = FakeStore().flat("binance", BTC, 0.0001, 60)
    with pytest.raises(DataError, match="no funding data stored for bybit"):
        funding_report(store, ["BTC"], ["bybit"], None, None)
    with pytest.raises(InputError, match="--exchange"):
        funding_report(store, ["BTC"], ["nowhere"], None, None)
    with pytest.raises(DataError, match="BTC/USDT is a spot market and has no funding"):
        funding_report(store, ["BTC/USDT"], [], None, None)
