"""`hedge check` and `monitor --once` look liquidations up as `hedge keep` does: a leg the
exchange's record shows liquidated, and not re-opened since, is said in plain words (symbol,
price, time, the margin lost or that the exchange does not report it) and exits 5, whether the
journal knows it yet or not; once the short is re-opened both agree again (exit 0).

Paper: the bundled real SOL marks from 2024-02-26 liquidate a 3x short of 50 SOL on
2024-03-05 16:00 (the rally of `test_keep_reopen`); `paper advance` gets there. Fake Binance: a
force order (GET /fapi/v1/forceOrders), which carries no margin lost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.live.session import paper_ports
from perphedge.store.journal import Journal
from tests.factories import portfolio_file

pytestmark = pytest.mark.slow

D = Decimal
SOL = "SOL/USDT:USDT"
SOL_HALF = [{"asset": "SOL", "quantity": 100}]
SOL_HEDGE = {"ratio": 0.5, "leverage": 3, "exchange": "binance", "margin_mode": "isolated"}
KEEPER = {"reserve_usd": 0, "on_shortfall": "alert"}
BTC_HALF = [{"asset": "BTC", "quantity": 0.5}]
BTC_HEDGE = {"leverage": 3, "exchange": "binance", "margin_mode": "isolated"}


def liquidated_on_paper(run_cli, tmp_path: Path) -> Path:
    file = portfolio_file(tmp_path, SOL_HALF, **SOL_HEDGE, keeper=KEEPER)
    assert run_cli("paper", "reset", str(file), "--at", "2024-02-26", "--yes").code == 0
    opened = run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes")
    assert opened.code == 0, opened.err
    advanced = run_cli("paper", "advance", "--hours", "208")  # to 2024-03-05 16:00
    assert advanced.code == 0, advanced.err
    return file


def test_check_and_monitor_report_a_paper_liquidation_until_the_short_is_reopened(
    run_cli, tmp_path
):
    file = liquidated_on_paper(run_cli, tmp_path)
    home = tmp_path / "home"
    ports = paper_ports("binance", home, [SOL])
    [lost] = ports.account.my_liquidations(SOL, 0)  # type: ignore[attr-defined]
    words = (
        f"the short of 50 contracts was liquidated at {lost.price.normalize():f} on 2024-03-05 16:00 UTC; "
        f"{lost.margin_lost:,.2f} USDT of margin lost"
    )

    check = run_cli("hedge", "check", str(file), "--paper")
    assert check.code == 5, check.out + check.err
    assert "the journal does not know yet that " + words in " ".join(check.err.split())
    monitor = run_cli("monitor", str(file), "--paper", "--once")
    assert monitor.code == 5, monitor.out + monitor.err
    assert f"liquidated {SOL}: {words}" in " ".join(monitor.out.split())
    assert "error: liquidated: " in monitor.err
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(ports.account_id) == []  # both only read

    adopted = run_cli("hedge", "check", str(file), "--paper", "--adopt")
    assert adopted.code == 0, adopted.err
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(ports.account_id) == [lost]  # journaled, not adopted away
        assert journal.adopted(ports.account_id) == {SOL: D(0)}
    again = run_cli("hedge", "check", str(file), "--paper", "--json")
    assert again.code == 5  # the journal agrees, but the coins are unhedged
    body = json.loads(again.out)
    assert body["problems"] == [] and [x["symbol"] for x in body["liquidated"]] == [SOL]
    assert "error: liquidated: " + SOL + ": " + words in " ".join(again.err.split())
    assert run_cli("monitor", str(file), "--paper", "--once", "--json").code == 5

    reopened = run_cli("hedge", "rebalance", str(file), "--paper", "--execute", "--yes")
    assert reopened.code == 0, reopened.err
    assert run_cli("hedge", "check", str(file), "--paper").code == 0
    monitor = run_cli("monitor", str(file), "--paper", "--once")
    assert monitor.code == 0, monitor.err
    assert "liquidated" not in monitor.out + monitor.err


def test_check_and_monitor_report_a_force_order_of_the_fake_binance(run_cli, fake, tmp_path):
    file = portfolio_file(tmp_path, BTC_HALF, **BTC_HEDGE, keeper={"reserve_usd": 10000})
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    fake.state.set_mark("BTCUSDT", "90000")
    fake.state.liquidate("BTCUSDT")
    said = "the short of 0.5 contracts was liquidated at 90000 on "
    unknown = "margin lost: not reported by the exchange"

    check = run_cli("hedge", "check", str(file), *url)
    assert check.code == 5, check.out + check.err
    err = " ".join(check.err.split())
    assert "the journal does not know yet that " + said in err and unknown in err
    monitor = run_cli("monitor", str(file), *url, "--once", "--json")
    assert monitor.code == 5, monitor.err
    body = json.loads(monitor.out)
    [liq] = body["liquidated"]
    assert (liq["symbol"], liq["price"], liq["margin_lost"]) == ("BTC/USDT:USDT", 90000, None)
    [alert] = [a for a in body["alerts"] if a["code"] == "liquidated"]
    assert alert["subject"] == "BTC/USDT:USDT" and alert["message"].startswith(said)

    kept = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert kept.code == 0, kept.err  # journals it; the re-open waits for the cooldown
    check = run_cli("hedge", "check", str(file), *url)
    assert check.code == 5
    assert "the account agrees with the journal" in check.err
    assert "error: liquidated: BTC/USDT:USDT: " + said in " ".join(check.err.split())
    assert run_cli("monitor", str(file), *url, "--once").code == 5
