"""`hedge keep --paper` keeps a 3x half hedge of BTC, ETH and SOL alive through the
February-March 2024 rally of the bundled real sample, with the default keeper and the reserve
the plan sizes; every margin move is journaled once, also when the process dies at each
durable write of a top-up (and of a cross account's transfer from its spot wallet).

The loop runs as a user runs it (`--interval 28800`, one step per 8-hour mark); the test's wall
clock moves 8 hours at each wait instead of waiting (`Adapters(clock, sleep)`), so the replayed
paper account's simulated time steps through the two months, and ends the loop (as Ctrl-C
would: exit 130) after the last step. Without the keeper acting (the same loop as a dry run),
the same rally liquidates all three shorts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.cli.wiring import Adapters
from perphedge.exchanges.paper import PaperExchange
from perphedge.live.session import paper_ports
from perphedge.store.crashpoint import ENV_VAR
from perphedge.store.journal import Journal
from tests.factories import portfolio_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
LEVERAGE = 3
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
HOLDINGS = [
    {"asset": "BTC", "quantity": 0.5},
    {"asset": "ETH", "quantity": 8},
    {"asset": "SOL", "quantity": 100},
]
HEDGE = {"ratio": 0.5, "leverage": LEVERAGE, "exchange": "binance", "margin_mode": "isolated"}
STEP_S = 8 * 3600
STEPS = 60 * 3  # 2024-02-01 .. 2024-03-31, every 8-hour mark


class FastWall:
    """A wall clock that moves instead of sleeping; after `steps` waits it interrupts."""

    def __init__(self, steps: int) -> None:
        self.offset_ms = 0
        self.left = steps

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def sleep(self, seconds: float) -> None:
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        self.offset_ms += int(seconds * 1000)


def opened(run_cli, tmp_path: Path) -> Path:
    file = portfolio_file(tmp_path, HOLDINGS, **HEDGE)
    reset = run_cli("paper", "reset", str(file), "--at", "2024-02-01", "--yes")
    assert reset.code == 0, reset.err
    r = run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes")
    assert r.code == 0, r.err
    return file


def paper(home: Path, wall: FastWall | None = None) -> tuple[PaperExchange, str]:
    """The paper account in `home` (at the simulated now `wall` has reached)."""
    ports = paper_ports("binance", home, SYMBOLS, wall=wall)
    assert isinstance(ports.account, PaperExchange)
    return ports.account, ports.account_id


def journaled(home: Path, account: str) -> list[tuple[str, str, Decimal, int | None]]:
    with Journal(home / "journal.sqlite") as journal:
        moves = journal.margin_moves(account)
    return [(m.status, m.kind, m.amount, m.exchange_ts_ms) for m in moves]


def assert_journal_and_account_agree(
    home: Path, wall: FastWall | None = None
) -> list[tuple[str, str, Decimal, int]]:
    """Every margin move of the paper account is journaled 'done' exactly once (matched by its
    history entry), no journaled move is left open, and each isolated wallet is exactly its
    opening margin + its funding + the margin moved onto it."""
    exchange, account = paper(home, wall)
    history = sorted(
        (m.symbol, m.kind, m.amount, m.ts_ms) for s in SYMBOLS for m in exchange.margin_moves(s, 0)
    )
    journal = journaled(home, account)
    assert all(status in ("done", "not_sent") for status, *_ in journal), journal
    done = sorted((kind, amount, ts) for status, kind, amount, ts in journal if status == "done")
    assert done == sorted((kind, amount, ts) for _, kind, amount, ts in history)
    for pos in exchange.positions(SYMBOLS):
        fills = exchange.fills(pos.symbol, 0)
        assert {f.side for f in fills} == {fills[0].side}  # opened once, never re-sized
        opening = sum((f.qty * f.price / LEVERAGE for f in fills), D(0))
        funding = sum((p.amount for p in exchange.funding_received(pos.symbol, 0)), D(0))
        moved = sum((a if k == "add" else -a for s, k, a, _ in history if s == pos.symbol), D(0))
        assert pos.margin is not None
        assert abs(pos.margin - (opening + funding + moved)) <= D("1e-6")
    return history


def distances_found(out: str) -> list[float]:
    """Each leg's distance to liquidation as the loop found it, step after step (in %)."""
    return [float(d) for d in re.findall(r"distance to liquidation (-?[\d.]+)%", out)]


def test_without_the_keeper_acting_the_rally_liquidates_all_three(run_cli, tmp_path):
    file = opened(run_cli, tmp_path)
    wall = FastWall(STEPS)
    dry = run_cli(
        "hedge", "keep", str(file), "--paper", "--interval", str(STEP_S),
        adapters=Adapters(clock=wall, sleep=wall.sleep),
    )  # fmt: skip
    assert dry.code == 130, dry.err  # stopped after the last step
    assert "added from the reserve" in dry.out  # the keeper wanted top-ups; none was sent
    exchange, _ = paper(tmp_path / "home", wall)
    lost = exchange.liquidations()
    assert sorted(x["symbol"] for x in lost) == sorted(SYMBOLS)
    assert all(m == [] for m in (exchange.margin_moves(s, 0) for s in SYMBOLS))


def test_keep_paper_keeps_a_3x_hedge_alive_through_the_rally(run_cli, tmp_path):
    file = opened(run_cli, tmp_path)
    home = tmp_path / "home"
    wall = FastWall(STEPS)
    kept = run_cli(
        "hedge", "keep", str(file), "--paper", "--interval", str(STEP_S), "--execute", "--yes",
        adapters=Adapters(clock=wall, sleep=wall.sleep),
    )  # fmt: skip
    assert kept.code == 130, kept.err
    exchange, _ = paper(home, wall)
    assert exchange.liquidations() == []
    held = {p.symbol: p.contracts for p in exchange.positions(SYMBOLS)}
    assert held == {SYMBOLS[0]: D("-0.25"), SYMBOLS[1]: D(-4), SYMBOLS[2]: D(-50)}
    history = assert_journal_and_account_agree(home, wall)
    adds = [amount for _, kind, amount, _ in history if kind == "add"]
    assert len(adds) == len(history) >= 3  # every leg was topped up, nothing taken back
    assert {s for s, *_ in history} == set(SYMBOLS)
    assert kept.out.count(": done") == len(history)
    found = distances_found(kept.out)
    assert len(found) >= 3 * STEPS
    assert 0 < min(found) < 30  # the rally pushed legs below min_distance; the keeper answered
    print(  # the figures of the run (pytest -s shows them)
        f"top-ups {len(adds)}, {sum(adds)} USDT; closest to liquidation {min(found)}%"
    )


def keep_once(home: Path, file: Path, crash_after: int | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PERPHEDGE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_after is not None:
        env[ENV_VAR] = str(crash_after)
    command = [sys.executable, "-m", "perphedge", "hedge", "keep", str(file), "--paper",
               "--once", "--execute", "--yes"]  # fmt: skip
    return subprocess.run(
        command, check=False, cwd=ROOT, env=env, text=True, capture_output=True, timeout=120
    )


KILL_CASES = {  # the journal's statuses left by a kill, and whether the account had moved
    (("intended",), False), (("sending",), False), (("sending",), True), (("done",), True)
}  # fmt: skip


def kill_at_each_write(
    base: Path,
    file: Path,
    moved: Callable[[PaperExchange], bool],
    settled: Callable[[Path], None],
) -> set[tuple[tuple[str, ...], bool]]:
    """Run one `hedge keep --once --execute` step on copies of `base`, killed at its 1st, 2nd,
    ... durable write (journal commits and paper-account saves, `os._exit` as by SIGKILL) until
    a run gets through. After each kill that left a journaled move, the next run finishes the
    step and `settled(home)` checks the outcome. Returns what the kills left: the journal's
    statuses and `moved(account)`, whether the account had moved the money."""
    seen = set()
    for n in range(1, 40):
        home = base.parent / f"home-{n}"
        shutil.copytree(base, home)
        crashed = keep_once(home, file, n)
        if crashed.returncode == 0:
            return seen
        assert crashed.returncode == 137, crashed.stderr[-1500:]
        exchange, account = paper(home)
        statuses = tuple(status for status, *_ in journaled(home, account))
        seen.add((statuses, moved(exchange)))
        if not statuses:
            continue  # died before the top-up began: a plain restart, nothing to settle
        again = keep_once(home, file, None)
        assert again.returncode == 0, again.stderr[-1500:]
        settled(home)
    pytest.fail("the step never got through")


def test_a_top_up_killed_at_each_durable_write_is_journaled_once(run_cli, tmp_path):
    """From the step where SOL needs its first top-up, the step dies at each durable write;
    each time the next run finishes the step. Among the cases: the move journaled 'intended'
    only, 'sending' with the account untouched, 'sending' with the margin moved on the
    account, and 'done'."""
    file = opened(run_cli, tmp_path)
    assert run_cli("paper", "advance", "--hours", "36").code == 0  # SOL's mark is up 20 %
    due = run_cli("hedge", "keep", str(file), "--paper", "--once")
    assert "SOL/USDT:USDT: liquidation" in due.out and "added from the reserve" in due.out

    def moved_once(home: Path) -> None:
        history = assert_journal_and_account_agree(home)
        assert [(s, k) for s, k, *_ in history] == [(SYMBOLS[2], "add")]

    def sol_moved(exchange: PaperExchange) -> bool:
        return bool(exchange.margin_moves(SYMBOLS[2], 0))

    seen = kill_at_each_write(tmp_path / "home", file, sol_moved, moved_once)
    assert seen >= KILL_CASES


def test_a_cross_top_up_killed_at_each_durable_write_is_journaled_once(run_cli, tmp_path):
    """The same for a cross account: two weeks into the rally the wallet is 13 % from
    liquidation and the keeper transfers from the spot wallet into the futures wallet; killed
    at each durable write, the next run finishes it, and it is transferred and journaled once."""
    file = portfolio_file(tmp_path, HOLDINGS, **(HEDGE | {"margin_mode": "cross"}))
    # the futures wallet holds the initial margin and a little more; the reserve waits in spot
    reset = ["paper", "reset", str(file), "--at", "2024-02-01", "--deposit", "9000"]
    assert run_cli(*reset, "--spot", "20000", "--yes").code == 0
    assert run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes").code == 0
    base = tmp_path / "home"
    assert run_cli("paper", "advance", "--hours", "340").code == 0
    spot_before = paper(base)[0].spot_free("USDT")

    def transferred_once(home: Path) -> None:
        exchange, account = paper(home)
        [moved] = exchange.transfers_in("USDT", 0)
        journal = journaled(home, account)
        assert [(s, k, a, ts) for s, k, a, ts in journal if s == "done"] == [
            ("done", "transfer", moved.amount, moved.ts_ms)
        ]
        assert all(s in ("done", "not_sent") for s, *_ in journal)
        assert exchange.spot_free("USDT") == spot_before - moved.amount

    def wallet_moved(exchange: PaperExchange) -> bool:
        return bool(exchange.transfers_in("USDT", 0))

    seen = kill_at_each_write(base, file, wallet_moved, transferred_once)
    assert seen >= KILL_CASES
