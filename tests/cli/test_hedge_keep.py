"""`perphedge hedge keep` over ccxt against the fake Binance: a 3x isolated short in a rally is
topped up from the reserve through POST /fapi/v1/positionMargin, journaled once; the next step
finds it far enough and moves nothing; the dry run sends nothing. A cross account's futures
wallet is topped up by a transfer from the spot wallet (POST /sapi/v1/asset/transfer), on the
fake Binance and on paper, journaled once."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from perphedge.exchanges.paper import PaperExchange
from perphedge.live.session import paper_ports
from perphedge.store.journal import Journal
from tests.factories import portfolio_file

D = Decimal
BTC_HALF = [{"asset": "BTC", "quantity": 0.5}]
HEDGE = {"leverage": 3, "exchange": "binance", "margin_mode": "isolated"}
KEEPER = {"reserve_usd": 10000}


def test_keep_tops_up_a_3x_short_in_a_rally_once(run_cli, fake, tmp_path):
    file = portfolio_file(tmp_path, BTC_HALF, **HEDGE, keeper=KEEPER)
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    assert fake.state.position_amt("BTCUSDT") == D("-0.5")
    assert fake.state.margin_types["BTCUSDT"] == "ISOLATED"
    fake.state.set_mark("BTCUSDT", "75000")  # +25 %: the 3x short's liquidation comes close
    dry = run_cli("hedge", "keep", str(file), *url, "--once")
    assert dry.code == 0, dry.err
    assert "to the margin" in dry.out and "dry run: nothing sent" in dry.err
    assert fake.state.margin_history == []
    kept = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert kept.code == 0, kept.err
    assert "margin add" in kept.out and ": done" in kept.out
    assert len(fake.state.margin_history) == 1
    added = D(fake.state.margin_history[0]["amount"])
    assert 0 < added <= D(10000) and fake.state.isolated_extra["BTCUSDT"] == added
    again = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert again.code == 0, again.err
    assert len(fake.state.margin_history) == 1  # far enough now: nothing moved twice
    with Journal(Path(tmp_path / "home" / "journal.sqlite")) as journal:
        moves = journal.margin_moves("binance")
    assert [(m.status, m.kind, m.amount) for m in moves] == [("done", "add", added)]


def test_keep_on_paper_reads_the_isolated_legs(run_cli, tmp_path):
    file = portfolio_file(tmp_path, BTC_HALF, **HEDGE, keeper=KEEPER)
    assert run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes").code == 0
    r = run_cli("hedge", "keep", str(file), "--paper", "--once")
    assert r.code == 0, r.err
    assert "BTC/USDT:USDT: short 0.5, margin " in r.out and "distance to liquidation" in r.out


CROSS = HEDGE | {"margin_mode": "cross"}


def test_keep_tops_up_a_cross_wallet_from_spot_once(run_cli, fake, tmp_path):
    """A cross account: the futures wallet is topped up by a transfer from the spot wallet
    (POST /sapi/v1/asset/transfer, MAIN_UMFUTURE), journaled once."""
    file = portfolio_file(tmp_path, BTC_HALF, **CROSS, keeper=KEEPER)
    fake.state.spot_wallet = D(10000)
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    fake.state.wallet = D(11000)  # the futures wallet holds about the initial margin
    fake.state.set_mark("BTCUSDT", "75000")
    dry = run_cli("hedge", "keep", str(file), *url, "--once")
    assert dry.code == 0, dry.err
    assert "moved from the reserve to the futures wallet" in dry.out and not fake.state.transfers
    kept = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert kept.code == 0, kept.err
    assert "cross wallet: transfer" in kept.out and ": done" in kept.out
    [moved] = fake.state.transfers
    assert fake.state.spot_wallet == D(10000) - D(moved["amount"])
    again = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert again.code == 0, again.err
    assert len(fake.state.transfers) == 1  # far enough now: nothing moved twice
    with Journal(Path(tmp_path / "home" / "journal.sqlite")) as journal:
        moves = journal.margin_moves("binance")
    assert [(m.status, m.kind, m.amount) for m in moves] == [
        ("done", "transfer", D(moved["amount"]))
    ]


def test_keep_on_a_cross_paper_account_transfers_from_its_spot_wallet(run_cli, tmp_path):
    file = portfolio_file(tmp_path, BTC_HALF, **CROSS, keeper=KEEPER)
    # the futures wallet holds the initial margin and a little more; the reserve waits in spot
    reset = ["paper", "reset", str(file), "--at", "2024-02-01", "--deposit", "8500"]
    assert run_cli(*reset, "--spot", "10000", "--yes").code == 0
    assert run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes").code == 0
    assert run_cli("paper", "advance", "--hours", "336").code == 0  # BTC +22 % by 2024-02-15
    shown = json.loads(run_cli("paper", "show", "--json").out)
    assert shown["spot_usdt"] == 10000
    r = run_cli("hedge", "keep", str(file), "--paper", "--once", "--execute", "--yes")
    assert r.code == 0, r.err
    assert "BTC/USDT:USDT: short 0.5 (cross)" in r.out
    assert re.search(r"cross wallet: distance to liquidation [\d.]+% -> 50.0%", r.out), r.out
    assert "cross wallet: transfer" in r.out and ": done" in r.out
    again = run_cli("hedge", "keep", str(file), "--paper", "--once", "--execute", "--yes")
    assert again.code == 0 and "cross wallet: transfer" not in again.out
    ports = paper_ports("binance", tmp_path / "home", ["BTC/USDT:USDT"])
    assert isinstance(ports.account, PaperExchange)
    [moved] = ports.account.transfers_in("USDT", 0)
    assert json.loads(run_cli("paper", "show", "--json").out)["spot_usdt"] == float(
        10000 - moved.amount
    )
    with Journal(Path(tmp_path / "home" / "journal.sqlite")) as journal:
        moves = journal.margin_moves(ports.account_id)
    assert [(m.status, m.kind, m.amount, m.exchange_ts_ms) for m in moves] == [
        ("done", "transfer", moved.amount, moved.ts_ms)
    ]


def test_keep_journals_a_liquidation_the_exchange_reports_once(run_cli, fake, tmp_path):
    """A short the fake Binance liquidated is confirmed by its force order (GET
    /fapi/v1/forceOrders), journaled once and alerted; `hedge check` then agrees, and the
    re-open waits for the cooldown."""
    file = portfolio_file(tmp_path, BTC_HALF, **HEDGE, keeper=KEEPER)
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    fake.state.set_mark("BTCUSDT", "90000")
    force = fake.state.liquidate("BTCUSDT")
    assert fake.state.position_amt("BTCUSDT") == 0
    dry = run_cli("hedge", "keep", str(file), *url, "--once")
    assert dry.code == 0, dry.err
    assert "was liquidated at 90000" in dry.err and "re-opens after 24 h" in dry.out
    kept = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert kept.code == 0, kept.err
    assert kept.err.count("BTC/USDT:USDT: the short of 0.5 contracts was liquidated at 90000") == 1
    assert "margin lost: not reported by the exchange" in kept.err
    again = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert again.code == 0, again.err
    assert "was liquidated at" not in again.err  # journaled and alerted once
    assert fake.state.position_amt("BTCUSDT") == 0  # the cooldown has not passed
    with Journal(Path(tmp_path / "home" / "journal.sqlite")) as journal:
        [lost] = journal.liquidations("binance")
    assert (lost.liquidation_id, lost.contracts) == (str(force["orderId"]), D("0.5"))
    check = run_cli("hedge", "check", str(file), *url)  # agrees, but the BTC is unhedged
    assert check.code == 5 and "the account agrees with the journal" in check.err


def test_keep_stops_when_a_short_vanished_without_a_liquidation(run_cli, fake, tmp_path):
    file = portfolio_file(tmp_path, BTC_HALF, **HEDGE, keeper=KEEPER)
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    fake.state.positions["BTCUSDT"].amt = D(0)  # gone, with no force order on record
    r = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert r.code == 5
    assert "the exchange holds 0 contracts" in r.err and "hedge check --adopt" in r.err
    assert fake.state.position_amt("BTCUSDT") == 0
