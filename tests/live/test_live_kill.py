"""Kill tests: a `hedge open` (paper exchange, 7 child orders) dies at every durable write, or by a
real SIGKILL at random moments, and is run again. Afterwards the exchange and the journal agree,
every order exists exactly once, no fill is lost and the position is exactly the target.

The run is forked (no interpreter start-up per kill point); the child sets
PERPHEDGE_TEST_CRASH_AFTER=N so that it ends with os._exit(137) right after its N-th durable write
(journal commit or paper-account save). Two further cases drive the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.clocks import ManualClock
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.live.execute import execute, propose, resume_open_intents
from perphedge.store import crashpoint
from perphedge.store.journal import Journal
from tests.factories import portfolio_file
from tests.live_support import (
    BTC,
    ETH,
    T0,
    StaticMarket,
    assert_agree,
    make_paper,
    make_session,
    positions,
    run_forked,
)

TARGETS = [LegTarget(BTC, Decimal("-0.5"), 5), LegTarget(ETH, Decimal("-8"), 5)]
EXPECTED = {BTC: Decimal("-0.5"), ETH: Decimal("-8")}
CRASHED = 137


def open_hedge(home: Path) -> None:
    """What `perphedge hedge open --execute --yes` does: resume, plan from the exchange, send."""
    clock = ManualClock(T0)
    paper = make_paper(home, clock, StaticMarket(clock))
    with Journal(home / "journal.sqlite") as journal:
        session = make_session(home, paper, journal)
        resume_open_intents(session)
        proposal = propose(session, TARGETS, "open", ExecutionLimits())
        if proposal.has_orders:
            execute(session, proposal, "portfolio.toml")


def forked(home: Path, crash_after: int | None) -> int:
    return run_forked(open_hedge, home, crash_after)


def total_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Durable writes of one uninterrupted run (counted, never reached)."""
    monkeypatch.setenv(crashpoint.ENV_VAR, str(10**9))
    before = crashpoint._writes[0]
    open_hedge(tmp_path / "count")
    count = crashpoint._writes[0] - before
    monkeypatch.delenv(crashpoint.ENV_VAR)
    return count


def check_consistent(home: Path) -> None:
    clock = ManualClock(T0)
    paper = make_paper(home, clock, StaticMarket(clock))
    with Journal(home / "journal.sqlite") as journal:
        assert positions(paper) == EXPECTED
        assert_agree(journal, paper)
        assert journal.open_intents("paper:binance") == []
        filled = sum(f.qty * f.side.sign for f in journal.fills() if f.symbol == BTC)
        assert filled == EXPECTED[BTC]  # every fill journaled once


def test_every_kill_point(tmp_path, monkeypatch):
    writes = total_writes(tmp_path, monkeypatch)
    assert writes >= 40  # 47 today: per order lookup, sending, place, record x2, + intent, fills
    for n in range(1, writes + 1):
        home = tmp_path / f"kill-{n}"
        assert forked(home, n) == CRASHED, f"run did not stop at write {n}"
        assert forked(home, None) == 0, f"restart after write {n} failed"
        check_consistent(home)


def test_killed_twice_in_a_row(tmp_path):
    home = tmp_path / "twice"
    assert forked(home, 9) == CRASHED
    assert forked(home, 7) == CRASHED  # the restart dies too, mid-resume
    assert forked(home, None) == 0
    check_consistent(home)


def test_real_sigkill_at_random_moments(tmp_path):
    rng = random.Random(6)
    for i in range(12):
        home = tmp_path / f"sigkill-{i}"
        pid = os.fork()
        if pid == 0:
            try:
                open_hedge(home)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.04))  # one uninterrupted run takes about 0.03 s
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert forked(home, None) == 0
        check_consistent(home)


BTC_ETH = [{"asset": "BTC", "quantity": 0.5}, {"asset": "ETH", "quantity": 8}]


def test_cli_subprocess_killed_then_rerun(tmp_path):
    crash_after = 27  # inside the third child order
    portfolio_file(tmp_path, BTC_ETH, "p.toml", leverage=5, exchange="binance")
    env = {**os.environ, "PERPHEDGE_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "perphedge", "hedge", "open", str(tmp_path / "p.toml"), "--paper", "--execute", "--yes", "--json"]  # fmt: skip
    first = subprocess.run(cmd, check=False, env={**env, crashpoint.ENV_VAR: str(crash_after)}, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert first.returncode == CRASHED, first.stderr
    second = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    third = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "nothing to do" in third.stderr
    with Journal(tmp_path / "home" / "journal.sqlite") as journal:
        orders = journal.orders()
        ids = [o.client_order_id for o in orders]
        assert len(ids) == len(set(ids))
        assert all(o.status in ("filled", "not_sent") for o in orders)
        sold = {s: sum(f.qty for f in journal.fills(s)) for s in (BTC, ETH)}
        assert sold == {BTC: Decimal("0.5"), ETH: Decimal("8")}
