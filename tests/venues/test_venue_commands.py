"""`funding`, `monitor` and `hedge` on every venue: data from recorded responses, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
LINEAR = str(EXAMPLES / "portfolio.toml")


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "mexc"])
def test_funding_on_each_venue_with_bundled_history(run_cli, venue):
    r = run_cli("funding", "BTC", "--exchange", venue, "--json")
    assert r.code == 0, r.err
    row = json.loads(r.out)["symbols"]["BTC"]["venues"][venue]
    assert row["interval_hours"] == 8.0
    assert row["apr"] == pytest.approx(row["mean_rate"] * 3 * 365)  # 1,095 settlements a year


@pytest.mark.parametrize("venue", ["bingx", "weex"])
def test_funding_without_bundled_history_says_how_to_get_it(run_cli, venue):
    # Their recordings hold one to three settlements: too few to bundle as history.
    r = run_cli("funding", "BTC", "--exchange", venue)
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert f"no funding data stored for {venue}" in line
    assert f"perphedge data sync --exchange {venue}" in line


def test_the_venue_comparison_ranks_every_venue_with_data(run_cli):
    r = run_cli("funding", "BTC", "--json")
    assert r.code == 0, r.err
    btc = json.loads(r.out)["symbols"]["BTC"]
    ranked = {row["venue"] for row in btc["comparison"]["ranking"]}
    assert ranked == set(btc["venues"])
    assert {"binance", "bybit", "okx", "mexc"} <= ranked


def test_monitor_refuses_a_venue_without_mark_price(run_cli):
    r = run_cli("monitor", LINEAR, "--exchange", "mexc", "--once")
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert line == (
        "error: mexc cannot report the mark price (capability 'mark_price' missing); use one of "
        "binance, bybit, okx, bingx, weex or see `perphedge exchanges`"
    )


def test_hedge_refuses_a_venue_that_cannot_find_orders_by_client_id(run_cli):
    r = run_cli("hedge", "open", LINEAR, "--exchange", "weex")
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert "weex" in line and "'client_order_id' missing" in line
    assert r.out == ""
