"""`perphedge plan --exchange` on every venue: bundled contracts, approximate flags, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perphedge.instruments import ContractKind
from perphedge.venues import contract_specs

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
LINEAR = str(EXAMPLES / "portfolio.toml")  # 0.5 BTC @ 60,000 and 8 ETH @ 3,000, 5x isolated
INVERSE = str(EXAMPLES / "portfolio_inverse.toml")


def _plan(run_cli, *args: str) -> dict:
    r = run_cli("plan", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.mark.parametrize(
    ("venue", "approximate"),
    [("binance", False), ("bybit", False), ("okx", False), ("bingx", True),
     ("mexc", True), ("weex", True)],
)  # fmt: skip
def test_every_venue_plans_a_btc_short(run_cli, venue, approximate):
    plan = _plan(run_cli, LINEAR, "--exchange", venue)
    legs = {leg["symbol"]: leg for leg in plan["legs"]}
    btc = legs["BTC/USDT:USDT"]
    assert btc["notional"] == pytest.approx(30_000.0)  # 0.5 BTC x 60,000
    assert btc["qty"] * btc["contract_size"] == pytest.approx(0.5)  # contracts x BTC each
    assert btc["initial_margin"] == pytest.approx(6_000.0)  # 30,000 / 5
    assert btc["liquidation_approximate"] is approximate


def test_bingx_eth_uses_the_recorded_tiers_and_the_conservative_rule(run_cli):
    plan = _plan(run_cli, LINEAR, "--exchange", "bingx")
    eth = next(leg for leg in plan["legs"] if leg["symbol"] == "ETH/USDT:USDT")
    # 8 ETH short @ 3,000, WB 4,800; BingX ETH-USDT tier 1 (recorded): MMR 0.33 %, taker 0.05 %
    # LP = (WB + q*EP) / (q*(1 + MMR + taker)) = 28,800 / (8 * 1.0038) = 3,586.3718...
    assert eth["liquidation_price"] == pytest.approx(28_800 / (8 * 1.0038), rel=1e-12)
    assert "BingX" in eth["tiers_source"] and "recorded" in eth["tiers_source"]


def test_mexc_contracts_are_sized_in_its_contract_unit(run_cli):
    plan = _plan(run_cli, LINEAR, "--exchange", "mexc")
    legs = {leg["symbol"]: leg for leg in plan["legs"]}
    assert legs["BTC/USDT:USDT"]["qty"] == 5000  # 0.5 BTC / 0.0001 BTC per contract
    assert legs["ETH/USDT:USDT"]["qty"] == 800  # 8 ETH / 0.01 ETH per contract


def test_table_marks_approximate_liquidation(run_cli):
    r = run_cli("plan", LINEAR, "--exchange", "weex")
    assert r.code == 0, r.err
    assert "(approx.)" in r.out
    published = run_cli("plan", LINEAR, "--exchange", "binance")
    assert "(approx.)" not in published.out


def test_inverse_plan_on_a_venue_without_coin_margined_contracts_is_refused(run_cli):
    r = run_cli("plan", INVERSE, "--exchange", "weex")
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert line.startswith("error: weex cannot trade coin-margined")
    assert "coin_margined" in line
    assert r.out == ""


def test_live_plan_on_mexc_is_refused_before_any_request(run_cli):
    # ccxt drops MEXC's mark price (tests/venues/test_venue_mexc.py), so a live plan cannot price.
    r = run_cli("plan", LINEAR, "--exchange", "mexc", "--live")
    assert r.code == 2
    assert "mark_price" in r.err and "mexc" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_bundled_rows_keep_their_source():
    for venue in ("bybit", "okx", "bingx", "mexc", "weex"):
        perp = contract_specs.find(venue, "BTC", ContractKind.LINEAR)
        assert perp is not None and perp.exchange == venue
    okx = contract_specs.by_symbol("okx", "BTC/USDT:USDT")
    assert okx.contract_size == 0.01  # ctVal, mechanics.md §1.4
    bingx_inverse = contract_specs.by_symbol("bingx", "BTC/USD:BTC")
    assert bingx_inverse.is_inverse and bingx_inverse.contract_size == 100.0


def test_coin_margined_plans_on_bybit_and_mexc(run_cli):
    # 1 BTC @ 60,000 and 10 ETH @ 3,000 backing 1x coin-margined shorts
    mexc = {leg["symbol"]: leg for leg in _plan(run_cli, INVERSE, "--exchange", "mexc")["legs"]}
    assert mexc["BTC/USD:BTC"]["qty"] == 600  # 60,000 USD / 100 USD per contract
    assert mexc["ETH/USD:ETH"]["qty"] == 3000  # 30,000 USD / 10 USD per contract
    assert all(leg["liquidation_price"] is None for leg in mexc.values())  # coin-backed 1x
    assert all(leg["liquidation_approximate"] for leg in mexc.values())
    bybit = _plan(run_cli, INVERSE, "--exchange", "bybit")["legs"]
    (btc,) = [leg for leg in bybit if leg["symbol"] == "BTC/USD:BTC"]
    assert btc["qty"] == 60_000  # 1 USD contracts
    # Bybit's isolated inverse formula keeps MM at entry: PV = Q/EP = 1 BTC = WB,
    # MM0 = 1 % (assumed flat tier) of PV = 0.01 BTC -> LP = Q / (PV - (WB - MM0)) = 60,000 / 0.01
    assert btc["liquidation_price"] == pytest.approx(6_000_000.0, rel=1e-9)
    assert btc["liquidation_approximate"] is False
