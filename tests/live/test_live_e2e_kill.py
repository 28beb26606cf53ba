"""End-to-end crash safety: kill the process mid-run, restart it, nothing lost or doubled.

A separate Python process (`tests.fakes.drive_hedge`: the live core's resume -> propose ->
journal -> send, over ccxt) opens the hedge BTC -0.5 / ETH -8 against the fake Binance, and
is killed
* at the N-th durable write of the run (PERPHEDGE_TEST_CRASH_AFTER=N: `os._exit(137)`, as by
  SIGKILL, right after a journal commit), for N = 1, 13, 25 (a clean run makes ~27), and
  at every 3rd write of a run resumed again and again until it finishes;
* by the exchange itself with SIGKILL, right after it accepted the k-th order and before any
  answer left (the order exists; the journal says "sending"), for k = 1, 4, 7.
The same command is then run again, with no fault. Each case ends with the exchange at the
target and `assert_journal_agrees`. The last test runs the same live core in-process with a
500 ms ccxt timeout through answer-too-late and never-answered orders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.store.crashpoint import ENV_VAR
from tests.fakes import drive_hedge
from tests.fakes.agreement import assert_journal_agrees, assert_orders_journaled
from tests.fakes.binance_usdm import FakeBinance, Fault

# two Python processes per case
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TARGET = (Decimal("-0.5"), Decimal(-8))


def start(fake: FakeBinance, home: Path, crash_after: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PERPHEDGE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_after is not None:
        env[ENV_VAR] = str(crash_after)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.drive_hedge", fake.base_url, str(home)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> int:
    _, err = proc.communicate(timeout=60)
    if proc.returncode not in (0, 137, -9):
        pytest.fail(f"driver failed with {proc.returncode}: {err[-1500:]}")
    return proc.returncode


def positions(fake: FakeBinance) -> tuple[Decimal, Decimal]:
    return fake.state.position_amt("BTCUSDT"), fake.state.position_amt("ETHUSDT")


@pytest.mark.parametrize("crash_after", [1, 13, 25])
def test_killed_at_a_journal_write_then_restarted(
    fake: FakeBinance, tmp_path: Path, crash_after: int
) -> None:
    first = finish(start(fake, tmp_path, crash_after))
    assert_orders_journaled(fake, tmp_path)  # journal first: the exchange has nothing unknown
    assert finish(start(fake, tmp_path)) == 0
    assert positions(fake) == TARGET
    assert_journal_agrees(fake, tmp_path)
    assert first == 137  # a clean run makes ~27 durable writes


def test_killed_every_third_write_until_done(fake: FakeBinance, tmp_path: Path) -> None:
    """Each run dies at its 3rd durable write; the next resumes. (At every 2nd write the
    resume never gets past its fills and the intent's close, 3 writes: no progress, though
    nothing is doubled.)"""
    codes = []
    for _ in range(20):
        codes.append(finish(start(fake, tmp_path, crash_after=3)))
        assert_orders_journaled(fake, tmp_path)
        if codes[-1] == 0:
            break
    assert codes[-1] == 0 and codes.count(137) >= 5, codes
    assert positions(fake) == TARGET
    assert_journal_agrees(fake, tmp_path)


@pytest.mark.parametrize("kth_order", [1, 4, 7])
def test_killed_after_the_exchange_accepted_an_order(
    fake: FakeBinance, tmp_path: Path, kth_order: int
) -> None:
    running: list[subprocess.Popen[str]] = []

    def kill_the_client() -> None:
        running[0].kill()

    fake.inject(Fault.lost(after=kth_order - 1, on_hit=kill_the_client))
    running.append(start(fake, tmp_path))
    assert finish(running[0]) == -9  # SIGKILL
    accepted = len(fake.state.orders)
    assert accepted == kth_order
    assert finish(start(fake, tmp_path)) == 0
    assert positions(fake) == TARGET
    # the restart found the accepted order by its client id instead of sending it again
    assert len(fake.calls("POST", "/fapi/v1/order")) == len(fake.state.orders)
    assert_journal_agrees(fake, tmp_path)


def test_timeouts_through_the_live_core(fake: FakeBinance, tmp_path: Path) -> None:
    fake.inject(
        Fault.timeout(process=True),  # executed, answered after the 500 ms timeout
        Fault.timeout(process=False),  # never executed, answered late
        Fault.timeout(process=True, method="DELETE"),  # the cancel is executed, answered late
        Fault.timeout(method="GET", path="/fapi/v1/order", after=2),  # a lookup times out too
    )
    fake.state.partial_next("1", "1", "1", "0.5")  # the 4th order fills half and rests
    drive_hedge.main(fake.base_url, tmp_path, timeout_ms=500)
    outcomes = [r.outcome for r in fake.calls("POST", "/fapi/v1/order")]
    assert outcomes[:2] == ["ok, answer late", "fault timeout"]
    assert [r.outcome for r in fake.calls("DELETE", "/fapi/v1/order")] == ["ok, answer late"]
    assert fake.calls("GET", "/fapi/v1/order", "fault timeout")
    assert positions(fake) != TARGET  # the cancelled half is missing ...
    assert_journal_agrees(fake, tmp_path)
    drive_hedge.main(fake.base_url, tmp_path, timeout_ms=500)  # ... until the next run
    assert positions(fake) == TARGET
    assert len(fake.state.orders) == len([o for o in outcomes if o.startswith("ok")]) + 1
    assert_journal_agrees(fake, tmp_path)
