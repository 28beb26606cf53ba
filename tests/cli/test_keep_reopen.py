"""After a liquidation, `hedge keep --paper --execute` journals it once (with the margin lost),
alerts in plain words, and re-opens the short at the planned leverage once the cooldown has
passed; a restart in the middle of the cooldown changes nothing. A short that vanished with no
liquidation on record is not re-opened: the step stops with exit 5.

The replayed rally is the bundled real SOL marks from 2024-02-26: a 3x short of 50 SOL with no
reserve and `on_shortfall = "alert"` (nothing keeps it alive) is liquidated on 2024-03-05
16:00, the 26th 8-hour step. The wall clock moves 8 hours at each wait instead of waiting.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.cli.wiring import Adapters
from perphedge.exchanges.paper import PaperExchange
from perphedge.live.session import paper_ports
from perphedge.ports import OrderRequest, OrderSide, OrderType
from perphedge.store.journal import Journal
from tests.cli.test_keep_paper_rally import FastWall

pytestmark = pytest.mark.slow

SOL = "SOL/USDT:USDT"
HOUR_MS = 3_600_000
STEP_S = 8 * 3600
LIQUIDATED_AT_STEP = 26
PORTFOLIO = """
[[holdings]]
asset = "SOL"
quantity = 100

[hedge]
ratio = 0.5
leverage = 3
exchange = "binance"
margin_mode = "isolated"

[keeper]
reserve_usd = 0
on_shortfall = "alert"
reopen_cooldown_hours = 24
"""


def opened(run_cli, tmp_path: Path) -> Path:
    file = tmp_path / "portfolio.toml"
    file.write_text(PORTFOLIO)
    assert run_cli("paper", "reset", str(file), "--at", "2024-02-26", "--yes").code == 0
    r = run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes")
    assert r.code == 0, r.err
    return file


def paper(home: Path, wall: FastWall | None = None) -> tuple[PaperExchange, str]:
    ports = paper_ports("binance", home, [SOL], wall=wall)
    assert isinstance(ports.account, PaperExchange)
    return ports.account, ports.account_id


def keep(run_cli, file: Path, wall: FastWall, *extra: str):
    return run_cli(
        "hedge", "keep", str(file), "--paper", "--interval", str(STEP_S), *extra,
        adapters=Adapters(clock=wall, sleep=wall.sleep),
    )  # fmt: skip


def after(wall: FastWall, steps: int) -> FastWall:
    """A wall that goes on where `wall` stopped (a restart), for `steps` more waits."""
    later = FastWall(steps)
    later.offset_ms = wall.offset_ms
    return later


def held(exchange: PaperExchange) -> Decimal:
    return sum((p.contracts for p in exchange.positions([SOL])), Decimal(0))


def test_a_liquidated_short_is_journaled_once_and_reopened_after_the_cooldown(run_cli, tmp_path):
    file = opened(run_cli, tmp_path)
    home = tmp_path / "home"
    wall = FastWall(LIQUIDATED_AT_STEP + 1)  # stops 8 hours into the cooldown
    first = keep(run_cli, file, wall, "--execute", "--yes")
    assert first.code == 130, first.err
    exchange, account = paper(home, wall)
    [lost] = exchange.my_liquidations(SOL, 0)
    assert held(exchange) == 0 and lost.contracts == Decimal(50)
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(account) == [lost]
    assert lost.margin_lost is not None and lost.margin_lost > 0
    said = first.out + first.err
    assert said.count("was liquidated at") == 1  # alerted once, in plain words
    assert f"{lost.margin_lost:,.2f} USDT of margin lost" in said
    assert "re-opens after 24 h" in said and "re-opened" not in first.out
    log = (home / "logs" / "monitor.log").read_text()
    assert log.count("was liquidated at") == 1
    assert "SOL/USDT:USDT: SOL/USDT:USDT" not in said + log  # the subject is named once

    wall = after(wall, 4)  # the restart: steps at +8 h (again), +16, +24 and +32 h
    second = keep(run_cli, file, wall, "--execute", "--yes")
    assert second.code == 130, second.err
    assert "was liquidated at" not in second.out + second.err  # journaled once, alerted once
    [line] = [x for x in second.out.splitlines() if "short re-opened at 3x" in x]
    assert line.strip().startswith(f"{SOL}: short re-opened at 3x (")  # the symbol once
    assert line.count(SOL) == 1 and re.search(r"\): \d+ order\(s\) in run \S+$", line), line
    exchange, account = paper(home, wall)
    assert held(exchange) == Decimal(-50)
    reopened = [f for f in exchange.fills(SOL, lost.ts_ms + 1)]
    assert [f.side for f in reopened] == [OrderSide.SELL]
    assert reopened[0].ts_ms >= lost.ts_ms + 24 * HOUR_MS  # not before the cooldown
    [position] = exchange.positions([SOL])
    assert position.leverage == 3
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(account) == [lost]
        assert journal.expected_position(account, SOL) == Decimal(-50)
    check = run_cli("hedge", "check", str(file), "--paper", adapters=Adapters(clock=wall))
    assert check.code == 0, check.out + check.err


def test_a_dry_run_shows_the_liquidation_and_the_reopen_but_journals_nothing(run_cli, tmp_path):
    file = opened(run_cli, tmp_path)
    home = tmp_path / "home"
    wall = FastWall(LIQUIDATED_AT_STEP + 4)
    dry = keep(run_cli, file, wall)
    assert dry.code == 130, dry.err
    assert "was liquidated at" in dry.out + dry.err
    assert dry.out.count("short re-opened at 3x") >= 1  # what it would do, step after step
    exchange, account = paper(home, wall)
    assert held(exchange) == 0  # nothing sent
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(account) == []


def test_a_short_closed_by_hand_is_not_reopened(run_cli, tmp_path):
    file = opened(run_cli, tmp_path)
    exchange, _ = paper(tmp_path / "home")
    hand = OrderRequest(
        SOL, OrderSide.BUY, Decimal(50), OrderType.MARKET, "byhand1", reduce_only=True
    )
    exchange.place_order(hand)
    r = run_cli("hedge", "keep", str(file), "--paper", "--once", "--execute", "--yes")
    assert r.code == 5
    assert "the exchange holds 0 contracts" in r.err and "hedge check --adopt" in r.err
    assert held(paper(tmp_path / "home")[0]) == 0  # not re-opened
