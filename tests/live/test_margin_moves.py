"""Idempotent margin moves over ccxt against the fake Binance (POST /fapi/v1/positionMargin type 1
add / 2 reduce, GET /fapi/v1/positionMargin/history): journaled before sending, a lost answer
settled from the history, never moved twice, also when the client dies at any step."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.errors import ReconcileError
from perphedge.exchanges.ccxt_account import CcxtAccount
from perphedge.live.execute import LiveSession
from perphedge.live.margin import move_margin, settle_open
from perphedge.ports import MarginControl
from perphedge.store.crashpoint import ENV_VAR
from perphedge.store.journal import Journal
from tests.fakes.binance_state import PositionRow
from tests.fakes.binance_usdm import FakeBinance, Fault, make_ccxt
from tests.live_support import binance_session

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture
def fake(fake: FakeBinance) -> FakeBinance:
    """The shared fake Binance (20,000 USDT) holding an isolated short of 0.5 BTC at 60,000."""
    fake.state.margin_types["BTCUSDT"] = "ISOLATED"
    fake.state.positions["BTCUSDT"] = PositionRow(D("-0.5"), D(60000))
    return fake


def session(fake: FakeBinance, home: Path, journal: Journal) -> LiveSession:
    return binance_session(fake.base_url, home, journal)


def journaled(home: Path) -> list[tuple[str, str, Decimal]]:
    with Journal(home / "journal.sqlite") as journal:
        return [(m.status, m.kind, m.amount) for m in journal.margin_moves("binance")]


def test_the_adapter_adds_and_reduces_and_reads_the_history(fake: FakeBinance) -> None:
    account = CcxtAccount(make_ccxt(fake), sleep=lambda _s: None)
    assert isinstance(account, MarginControl)
    added = account.move_margin(BTC, "add", D(100))
    taken = account.move_margin(BTC, "reduce", D(40))
    assert (added.kind, added.amount, taken.kind, taken.amount) == ("add", D(100), "reduce", D(40))
    assert fake.state.isolated_extra["BTCUSDT"] == D(60) and fake.state.wallet == D(19940)
    history = account.margin_moves(BTC, 0)
    assert [(m.kind, m.amount, m.currency) for m in history] == [
        ("add", D(100), "USDT"), ("reduce", D(40), "USDT")
    ]  # fmt: skip
    posted = fake.calls("POST", "/fapi/v1/positionMargin")
    assert [r.params["type"] for r in posted] == ["1", "2"]


def test_a_lost_answer_is_settled_from_the_history_not_sent_again(fake, tmp_path):
    fake.inject(Fault.lost(path="/fapi/v1/positionMargin"))
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        outcome = move_margin(s, s.execution, BTC, "add", D(250), "USDT")  # type: ignore[arg-type]
    assert outcome.status == "done"
    assert len(fake.state.margin_history) == 1 and fake.state.isolated_extra["BTCUSDT"] == D(250)
    assert journaled(tmp_path) == [("done", "add", D(250))]


def test_no_answer_and_no_history_yet_is_exit_5_then_settled_once(fake, tmp_path):
    fake.inject(
        Fault.lost(path="/fapi/v1/positionMargin"),
        Fault.server_error(503, method="GET", path="/fapi/v1/positionMargin/history", times=99),
    )
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        with pytest.raises(ReconcileError, match="outcome unknown") as info:
            move_margin(s, s.execution, BTC, "add", D(250), "USDT")  # type: ignore[arg-type]
        assert info.value.exit_code == 5
        assert journaled(tmp_path) == [("unknown", "add", D(250))]
        fake.faults.clear()  # the history answers again
        settled = settle_open(s, s.execution)  # type: ignore[arg-type]
    assert settled and "was done" in settled[0]
    assert journaled(tmp_path) == [("done", "add", D(250))]
    assert len(fake.state.margin_history) == 1  # moved once


def test_two_equal_moves_are_two_history_rows_each_claimed_once(fake, tmp_path):
    fake.inject(Fault.lost(path="/fapi/v1/positionMargin", times=2))
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        for _ in range(2):
            move_margin(s, s.execution, BTC, "add", D(100), "USDT")  # type: ignore[arg-type]
        claimed = [m.exchange_ts_ms for m in journal.margin_moves("binance")]
    assert len(fake.state.margin_history) == 2
    assert journaled(tmp_path) == [("done", "add", D(100))] * 2
    assert len(set(claimed)) == 2 and None not in claimed  # each row confirms one move


def cli_margin(fake: FakeBinance, home: Path, crash_after: int | None) -> subprocess.Popen[str]:
    env = {**os.environ, "PERPHEDGE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop(ENV_VAR, None)
    if crash_after is not None:
        env[ENV_VAR] = str(crash_after)
    command = [sys.executable, "-m", "perphedge", "hedge", "margin", "add", "BTC", "300",
               "--execute", "--yes", "--base-url", fake.base_url]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("crash_after", [1, 2, 3, "sent"])
def test_a_top_up_killed_at_each_step_is_journaled_once(fake, tmp_path, crash_after):
    """The client dies after each durable write of a top-up (intent, sending, done) and, with
    "sent", by SIGKILL right after the exchange moved the margin and before it answered. The
    next run settles the move from the history: the journal says done exactly when the
    exchange moved the margin, once."""
    running: list[subprocess.Popen[str]] = []

    def kill_the_client() -> None:
        running[0].kill()

    if crash_after == "sent":
        fake.inject(Fault.lost(path="/fapi/v1/positionMargin", on_hit=kill_the_client))
    running.append(cli_margin(fake, tmp_path, None if crash_after == "sent" else int(crash_after)))
    _, err = running[0].communicate(timeout=60)
    assert running[0].returncode in (137, -9), err[-1500:]
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        settle_open(s, s.execution)  # type: ignore[arg-type]
    moved = len(fake.state.margin_history)
    assert moved == (1 if crash_after in (3, "sent") else 0)
    done = [m for m in journaled(tmp_path) if m[0] == "done"]
    assert len(done) == moved  # every move the exchange made is journaled once, no other
    assert all(status in ("done", "not_sent") for status, _, _ in journaled(tmp_path))
