"""A CROSS-margined short liquidated on paper is re-opened by `hedge keep --paper --execute`
after the cooldown. A cross liquidation takes the whole futures wallet, so the re-open is
margined first: the keeper transfers from the spot wallet (its reserve) before it sends the
order; with no reserve it sends nothing, alerts with the amount the futures wallet lacks, and
re-opens once `hedge margin transfer to-futures` has moved it.

The rally is the bundled real SOL marks from 2024-02-26 (as in `test_keep_reopen`): a 3x cross
short of 50 SOL on a futures wallet of 1,750 USDT is liquidated at 2024-03-05 16:00, while no
keeper runs (`paper advance`, 8 hours at a time). The keeper then starts; its wall clock moves 8 hours at each wait.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.cli.wiring import Adapters
from perphedge.ports import OrderSide
from perphedge.store.journal import Journal
from tests.cli.test_keep_paper_rally import FastWall
from tests.cli.test_keep_reopen import HOUR_MS, SOL, STEP_S, after, held, paper

pytestmark = pytest.mark.slow

PORTFOLIO = """
[[holdings]]
asset = "SOL"
quantity = 100

[hedge]
ratio = 0.5
leverage = 3
exchange = "binance"
margin_mode = "cross"

[keeper]
reserve_usd = {reserve}
on_shortfall = "alert"
reopen_cooldown_hours = 24
"""


def liquidated(run_cli, tmp_path: Path, reserve: int) -> Path:
    file = tmp_path / "portfolio.toml"
    file.write_text(PORTFOLIO.format(reserve=reserve))
    reset = run_cli(
        "paper", "reset", str(file), "--at", "2024-02-26", "--deposit", "1750", "--spot", "5000",
        "--yes",
    )  # fmt: skip
    assert reset.code == 0, reset.err
    opened = run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes")
    assert opened.code == 0, opened.err
    for _ in range(26):  # 8 hours at a time, funding settled as it comes: to 2024-03-05 16:00
        advanced = run_cli("paper", "advance", "--hours", "8")
        assert advanced.code == 0, advanced.err
    return file


def keep(run_cli, file: Path, wall: FastWall):
    return run_cli(
        "hedge", "keep", str(file), "--paper", "--interval", str(STEP_S), "--execute", "--yes",
        adapters=Adapters(clock=wall, sleep=wall.sleep),
    )  # fmt: skip


def test_a_liquidated_cross_short_is_reopened_after_a_transfer_from_spot(run_cli, tmp_path):
    file = liquidated(run_cli, tmp_path, reserve=3000)
    home = tmp_path / "home"
    exchange, account = paper(home)
    [lost] = exchange.my_liquidations(SOL, 0)
    assert held(exchange) == 0 and lost.contracts == Decimal(50)
    assert exchange.positions([]) == [] and exchange.balances()[0].total == 0  # wallet gone
    assert exchange.spot_free("USDT") == Decimal(5000)

    wall = FastWall(4)  # steps at +0 (found), +8, +16, +24 h (re-open), +32 h
    kept = keep(run_cli, file, wall)
    assert kept.code == 130, kept.err
    said = kept.out + kept.err
    assert said.count("the short of 50 contracts was liquidated at") == 1
    assert f"{lost.margin_lost:,.2f} USDT of margin lost" in said
    assert "re-opens after 24 h" in said
    assert kept.out.count("short re-opened at 3x") == 1
    assert re.search(r"cross wallet: transfer [\d.]+ USDT from spot: done", kept.out), kept.out

    exchange, account = paper(home, wall)
    assert held(exchange) == Decimal(-50)
    [position] = exchange.positions([SOL])
    assert position.leverage == 3 and position.isolated_margin is None  # cross again
    [sold] = exchange.fills(SOL, lost.ts_ms + 1)
    assert sold.side is OrderSide.SELL and sold.ts_ms >= lost.ts_ms + 24 * HOUR_MS
    [moved] = exchange.transfers_in("USDT", lost.ts_ms)
    assert moved.ts_ms <= sold.ts_ms  # the wallet was funded before the order went out
    assert Decimal(0) < moved.amount <= Decimal(3000)
    assert exchange.spot_free("USDT") == Decimal(5000) - moved.amount
    with Journal(home / "journal.sqlite") as journal:
        assert journal.liquidations(account) == [lost]
        moves = [(m.status, m.kind, m.amount) for m in journal.margin_moves(account)]
        assert moves == [("done", "transfer", moved.amount)]
        assert journal.expected_position(account, SOL) == Decimal(-50)
    check = run_cli("hedge", "check", str(file), "--paper", adapters=Adapters(clock=wall))
    assert check.code == 0, check.out + check.err


def test_without_a_reserve_the_reopen_waits_for_a_transfer_by_hand(run_cli, tmp_path):
    file = liquidated(run_cli, tmp_path, reserve=0)
    home = tmp_path / "home"
    wall = FastWall(4)
    first = keep(run_cli, file, wall)
    assert first.code == 130, first.err  # the loop goes on: no exit 3 on an empty wallet
    lacking = re.findall(r"lacks ([\d,.]+) USD of initial margin", first.err)
    assert lacking, first.err
    assert "perphedge hedge margin transfer to-futures" in first.err
    unfunded = [x for x in first.err.splitlines() if "of initial margin" in x]  # each step's
    assert len(unfunded) == len(lacking)
    for line in unfunded:  # the symbol once, as the alert's subject
        assert line.startswith(f"ALERT alert {SOL}: not sent (short re-opened at 3x (")
        assert line.count(SOL) == 1, line
    exchange, _ = paper(home, wall)
    assert held(exchange) == 0 and exchange.transfers_in("USDT", 0) == []  # nothing sent

    amount = float(lacking[-1].replace(",", "")) + 50  # what it said, and a little more
    moved = run_cli(
        "hedge", "margin", "transfer", "to-futures", f"{amount:.2f}", "--paper", "--execute",
        "--yes", adapters=Adapters(clock=wall),
    )  # fmt: skip
    assert moved.code == 0, moved.err
    wall = after(wall, 1)
    second = keep(run_cli, file, wall)
    assert second.code == 130, second.err
    assert second.out.count("short re-opened at 3x") == 1
    exchange, _ = paper(home, wall)
    assert held(exchange) == Decimal(-50)
