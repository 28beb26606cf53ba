"""The defects of the fault review, through the CLI on the paper exchange: close closes every leg
perphedge opened, manual orders are not ours, the dry run checks margin, child orders respect
the venue minimum, a position changed by hand stops the next run (exit 5) until adopted, and
monitor flags positions that are not in the file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from perphedge.live.session import paper_ports
from perphedge.ports import OrderRequest, OrderSide, OrderType
from tests.cli.test_cli_hedge import HEDGE, holdings, home, portfolio  # noqa: F401 (fixtures)
from tests.factories import portfolio_file

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def positions(run_cli, file: Path) -> dict[str, float]:
    r = run_cli("monitor", str(file), "--paper", "--once", "--json")
    assert r.code == 0, r.err
    snap = json.loads(r.out)
    held = {leg["symbol"]: leg["position_contracts"] for leg in snap["legs"]}
    held.update({symbol: float(c) for symbol, c in snap["not_in_file"]})
    return held


def execute(run_cli, kind: str, file: Path, *extra: str):
    return run_cli("hedge", kind, str(file), "--paper", "--execute", "--yes", *extra)


def by_hand(folder: Path, req: OrderRequest) -> None:
    """An order placed on the account without perphedge (a person on the website)."""
    paper_ports("binance", folder, [BTC, ETH]).execution.place_order(req)


def test_close_closes_a_leg_removed_from_the_file(run_cli, portfolio, home):  # noqa: F811
    assert execute(run_cli, "open", portfolio).code == 0
    # ETH sold and removed from the file: its short stays open
    portfolio_file(portfolio.parent, holdings(btc=0.5)[:1], portfolio.name, **HEDGE)
    shown = run_cli("monitor", str(portfolio), "--paper", "--once")
    assert "ETH/USDT:USDT" in shown.out and "NOT IN THE FILE" in shown.out
    assert "ALERT not_in_file ETH/USDT:USDT" in shown.out
    only = execute(run_cli, "close", portfolio, "--only")
    assert only.code == 0, only.err
    assert "ETH/USDT:USDT: -8.000 contracts left open (not in the file" in only.err
    assert positions(run_cli, portfolio) == {BTC: 0.0, ETH: -8.0}
    closed = execute(run_cli, "close", portfolio)
    assert closed.code == 0, closed.err
    assert positions(run_cli, portfolio) == {BTC: 0.0}


def test_a_manual_order_is_not_ours(run_cli, portfolio, home):  # noqa: F811
    assert execute(run_cli, "open", portfolio).code == 0
    far = OrderRequest(ETH, OrderSide.SELL, Decimal(3), OrderType.LIMIT, "web-1", Decimal(9000))
    by_hand(home, far)
    rebalanced = execute(run_cli, "rebalance", portfolio)
    assert rebalanced.code == 0, rebalanced.err
    assert positions(run_cli, portfolio) == {BTC: -0.5, ETH: -8.0}  # not bought back to -5
    assert execute(run_cli, "close", portfolio).code == 0
    again = execute(run_cli, "close", portfolio)  # flat, with the manual order still resting
    assert again.code == 0, again.err
    assert "nothing to do" in again.err
    check = run_cli("hedge", "check", str(portfolio), "--paper")
    assert check.code == 0 and "1 order(s) placed by hand, left alone" in check.out


def test_a_position_changed_by_hand_stops_the_next_run_until_adopted(run_cli, portfolio, home):  # noqa: F811
    assert execute(run_cli, "open", portfolio).code == 0
    by_hand(home, OrderRequest(BTC, OrderSide.BUY, Decimal("0.2"), OrderType.MARKET, "web-2"))
    stopped = execute(run_cli, "rebalance", portfolio)
    assert stopped.code == 5
    assert (
        "BTC/USDT:USDT: the exchange holds -0.300 contracts, the journal explains -0.500"
        in stopped.err
    )
    assert positions(run_cli, portfolio)[BTC] == -0.3  # nothing was sent
    assert run_cli("hedge", "check", str(portfolio), "--paper").code == 5
    adopted = run_cli("hedge", "check", str(portfolio), "--paper", "--adopt")
    assert adopted.code == 0, adopted.err
    resumed = execute(run_cli, "rebalance", portfolio)
    assert resumed.code == 0, resumed.err
    assert positions(run_cli, portfolio) == {BTC: -0.5, ETH: -8.0}
    assert run_cli("hedge", "check", str(portfolio), "--paper").code == 0


def test_the_dry_run_checks_margin_against_the_available_balance(run_cli, portfolio, home):  # noqa: F811
    portfolio_file(portfolio.parent, holdings(btc=0.5), portfolio.name, **(HEDGE | {"leverage": 1}))
    # 0.5 BTC + 8 ETH at 1x: ~58k of notional, all of it margin, on a 20,000 USDT paper account
    reset = run_cli("paper", "reset", "--deposit", "20000", "--yes")
    assert reset.code == 0, reset.err
    dry = run_cli("hedge", "open", str(portfolio), "--paper")
    assert dry.code == 3
    assert "not enough margin: these orders need" in dry.err and "USD missing" in dry.err
    assert positions(run_cli, portfolio) == {BTC: 0.0, ETH: 0.0}


def test_child_orders_below_the_venue_minimum_are_refused(run_cli, portfolio, home):  # noqa: F811
    r = run_cli("hedge", "open", str(portfolio), "--paper", "--child-notional", "2.32")
    assert r.code == 2
    assert "--child-notional=2.32 is invalid: give at least" in r.err
    assert "venue's minimum order" in r.err
