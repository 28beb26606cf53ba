"""End-to-end: `perphedge monitor --once --json` with a READ-ONLY key against the fake Binance.

The hedge (BTC -0.5, ETH -8 at 5x cross, wallet 20,000 USDT, marks 60,000 / 3,000) is opened
with a trading key; then one funding event is settled at +0.01 % and the key loses its trading
permission (the fake answers -2015 to trading calls, as Binance does). Monitoring needs only
reads; sending is refused by the exchange and reported with exit code 4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.factories import portfolio_file
from tests.fakes.agreement import assert_journal_agrees
from tests.fakes.binance_usdm import FakeBinance
from tests.live.test_live_e2e_hedge import BTC_ETH, CROSS_5X

# several full command runs each, paced by ccxt's client-side rate limiter as in production
pytestmark = pytest.mark.slow

D = Decimal


@pytest.fixture
def cli(
    run_cli: Callable[..., CliResult], fake: FakeBinance, tmp_path: Path
) -> Callable[..., CliResult]:
    portfolio = portfolio_file(tmp_path, BTC_ETH, **CROSS_5X)

    def run(*args: str) -> CliResult:
        return run_cli(args[0], *args[1:], str(portfolio), "--base-url", fake.base_url)

    opened = run("hedge", "open", "--execute", "--yes", "--order-timeout", "0.5")
    assert opened.code == 0, opened.err
    fake.state.settle_funding("BTCUSDT")
    fake.state.settle_funding("ETHUSDT")
    fake.state.key_can_trade = False
    return run


def test_monitor_with_a_read_only_key_then_alert_then_refused_send(
    fake: FakeBinance, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    result = cli("monitor", "--once", "--json")
    assert result.code == 0, result.err
    snap = json.loads(result.out)
    # fees 30,000 * 0.0005 + 24,000 * 0.0005 = 15 + 12; funding 30,000 * 0.0001 + 24,000 * 0.0001
    # = 3 + 2.4 to the shorts: equity 20,000 - 27 + 5.4 = 19,978.4
    assert snap["equity_usd"] == pytest.approx(19978.4, abs=1e-9)
    btc, eth = snap["legs"]
    assert (btc["position_contracts"], eth["position_contracts"]) == (-0.5, -8.0)
    assert (btc["drift_fraction"], eth["drift_fraction"]) == (0.0, 0.0)
    assert (btc["funding_received_usd"], eth["funding_received_usd"]) == (3.0, 2.4)
    assert (btc["next_funding_usd"], eth["next_funding_usd"]) == (3.0, 2.4)
    # cross liquidation of the BTC short: equity without ETH's maintenance margin
    # 19,978.4 - 24,000 * 0.004 = 19,882.4; 19,882.4 + 0.5 * (60,000 - p) = 0.5 * p * 0.004
    # -> p = 49,882.4 / 0.502 = 99,367.33
    assert btc["liquidation_price"] == pytest.approx(99367.33, abs=0.005)
    assert btc["distance_to_liquidation"] == pytest.approx(99367.33 / 60000 - 1, abs=1e-6)
    assert snap["alerts"] == []

    fake.state.set_mark("BTCUSDT", "80000")  # 99,367.33 / 80,000 - 1 = 24 % < the 30 % default
    moved = cli("monitor", "--once", "--json")
    assert moved.code == 0, moved.err
    alerts = json.dumps(json.loads(moved.out)["alerts"])
    assert "BTC/USDT:USDT" in alerts and "liquidation" in alerts

    orders_before = len(fake.state.orders)
    refused = cli("hedge", "close", "--execute", "--yes", "--order-timeout", "0.5")
    assert refused.code == 4 and "-2015" in refused.err
    assert len(fake.state.orders) == orders_before
    assert fake.state.position_amt("BTCUSDT") == D("-0.5")
    assert_journal_agrees(fake, tmp_path / "home")
