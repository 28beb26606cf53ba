"""Crash safety of `hedge rebalance` and `hedge close` through the CLI, over ccxt, against the fake
Binance: each command runs as its own process, dies at its N-th durable write (as by SIGKILL:
PERPHEDGE_TEST_CRASH_AFTER), and the same command run again finishes exactly at the target with
exchange and journal in agreement. Two homes on one account: a second run from another data
folder refuses (exit 3) while the first has an order on the exchange."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.store.crashpoint import ENV_VAR
from tests.factories import portfolio_file
from tests.fakes.agreement import assert_journal_agrees, assert_orders_journaled
from tests.fakes.binance_usdm import FakeBinance, Fault
from tests.live.test_live_e2e_hedge import BTC_ETH, CROSS_5X

pytestmark = pytest.mark.slow  # a few perphedge processes per case

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        server.state.wallet = D(20000)
        yield server


def perphedge(
    fake: FakeBinance, home: Path, *args: str, crash_after: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PERPHEDGE_HOME": str(home),
        "PERPHEDGE_BINANCE_API_KEY": fake.api_key,
        "PERPHEDGE_BINANCE_SECRET": fake.secret,
        "PYTHONPATH": str(ROOT),
    }
    env.pop(ENV_VAR, None)
    if crash_after is not None:
        env[ENV_VAR] = str(crash_after)
    command = [sys.executable, "-m", "perphedge", "hedge", *args, "--base-url", fake.base_url]
    return subprocess.run(
        command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def run(
    fake: FakeBinance, home: Path, kind: str, file: Path, crash_after: int | None = None
) -> int:
    done = perphedge(
        fake, home, kind, str(file), "--execute", "--yes", "--order-timeout", "0.5",
        crash_after=crash_after,
    )  # fmt: skip
    assert done.returncode in (0, 137), done.stderr[-2000:]
    return done.returncode


def positions(fake: FakeBinance) -> tuple[Decimal, Decimal]:
    return fake.state.position_amt("BTCUSDT"), fake.state.position_amt("ETHUSDT")


@pytest.fixture
def opened(fake: FakeBinance, tmp_path: Path) -> Path:
    file = portfolio_file(tmp_path, BTC_ETH, **CROSS_5X)
    assert run(fake, tmp_path / "home", "open", file) == 0
    assert positions(fake) == (D("-0.5"), D(-8))
    return file


@pytest.mark.parametrize("crash_after", [1, 2, 4, 5])
def test_rebalance_killed_then_rerun(fake, tmp_path, opened, crash_after):
    home = tmp_path / "home"
    bought = [{"asset": "BTC", "quantity": 0.6}, *BTC_ETH[1:]]  # 0.1 BTC more
    portfolio_file(opened.parent, bought, opened.name, **CROSS_5X)
    assert run(fake, home, "rebalance", opened, crash_after) == 137
    assert_orders_journaled(fake, home)
    assert run(fake, home, "rebalance", opened) == 0
    assert positions(fake) == (D("-0.6"), D(-8))
    assert_journal_agrees(fake, home)


@pytest.mark.parametrize("crash_after", [2, 9, 17])
def test_close_killed_then_rerun(fake, tmp_path, opened, crash_after):
    home = tmp_path / "home"
    assert run(fake, home, "close", opened, crash_after) == 137
    assert_orders_journaled(fake, home)
    assert run(fake, home, "close", opened) == 0
    assert positions(fake) == (D(0), D(0))
    assert_journal_agrees(fake, home)


def test_a_run_from_another_home_refuses_while_the_first_is_trading(fake, tmp_path):
    """Home A's first order is on the exchange (its answer held back); a run from home B on the
    same account sees an order of perphedge's its own journal never sent and refuses (exit 3)
    instead of doubling the hedge. A then finishes alone, exactly at the target."""
    file = portfolio_file(tmp_path, BTC_ETH, **CROSS_5X)
    second: list[subprocess.CompletedProcess[str]] = []

    def run_home_b() -> None:
        second.append(perphedge(fake, tmp_path / "b", "open", str(file), "--execute", "--yes"))

    fake.inject(Fault.lost(drop=False, on_hit=run_home_b))  # executed, then B runs, then a 502
    assert run(fake, tmp_path / "a", "open", file) == 0
    [b] = second
    assert b.returncode == 3, b.stderr[-2000:]
    assert "another perphedge run (another data folder) is trading this account" in b.stderr
    assert positions(fake) == (D("-0.5"), D(-8))  # not doubled
    assert_journal_agrees(fake, tmp_path / "a")
    forced = perphedge(fake, tmp_path / "b", "open", str(file), "--execute", "--yes", "--force")
    assert forced.returncode == 5  # past the guard, B's journal explains none of A's position
    assert positions(fake) == (D("-0.5"), D(-8))


def test_paper_and_live_in_one_home_never_mix(fake, tmp_path, opened):
    """The same home trades the real (fake) account and the paper one: each run checks only its
    own account, funding and fills stay apart, and each account agrees with the journal."""
    home = tmp_path / "home"
    paper = perphedge(fake, home, "open", str(opened), "--paper", "--execute", "--yes")
    assert paper.returncode == 0, paper.stderr[-2000:]
    fake.state.settle_funding("BTCUSDT")
    for extra in ([], ["--paper"]):
        checked = perphedge(fake, home, "check", str(opened), *extra)
        assert checked.returncode == 0, checked.stderr[-2000:]
    closed = perphedge(fake, home, "close", str(opened), "--execute", "--yes")
    assert closed.returncode == 0, closed.stderr[-2000:]
    assert positions(fake) == (D(0), D(0))
    assert_journal_agrees(fake, home, "binance")  # the real account's, apart from paper's
    still = perphedge(fake, home, "check", str(opened), "--paper")
    assert still.returncode == 0 and "-0.5" in still.stdout  # the paper hedge is untouched
