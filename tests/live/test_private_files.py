"""Files a run leaves behind: private (0600 in 0700), written atomically, and refused by name when
corrupt; a paper account and a real one (or a reset paper account) never share funding rows."""

from __future__ import annotations

import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.clocks import ManualClock
from perphedge.errors import DataError, InputError
from perphedge.exchanges.replay import ReplayClock
from perphedge.live.execute import exclusive_run
from perphedge.live.monitor import Alert, log_alerts
from perphedge.ports import OrderRequest, OrderSide, OrderType
from perphedge.store.private import private_dir, write_atomic
from tests.live_support import BTC, T0, StaticMarket, make_paper


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_paper_state_lock_log_and_clock_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = ManualClock(T0)
    paper = make_paper(home, clock, StaticMarket(clock))
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, Decimal("0.1"), OrderType.MARKET, "ph1"))
    ReplayClock(home / "paper" / "binance.clock.json", T0).advance(1)
    with exclusive_run(home):
        pass
    log_alerts(home, T0, "binance", [Alert("drift", BTC, "off")])
    files = [
        home / "paper" / "binance.json",
        home / "paper" / "binance.lock",
        home / "paper" / "binance.clock.json",
        home / "run.lock",
        home / "logs" / "monitor.log",
    ]
    assert {str(f): mode(f) for f in files} == {str(f): 0o600 for f in files}
    folders = [home, home / "paper", home / "logs"]
    assert {str(f): mode(f) for f in folders} == {str(f): 0o700 for f in folders}
    assert not list((home / "paper").glob("*.tmp"))  # nothing half-written left behind


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "a" / "state.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]


@pytest.mark.parametrize(
    "text",
    ["{not json", "[]", '{"wallets": []}', json.dumps({"wallets": {}, "positions": 3})],
)
def test_a_corrupt_paper_account_is_named_with_the_fix(tmp_path: Path, text: str) -> None:
    clock = ManualClock(T0)
    paper = make_paper(tmp_path, clock, StaticMarket(clock))
    paper.path.parent.mkdir(parents=True)
    paper.path.write_text(text)
    with pytest.raises(DataError, match=r"paper account .* paper reset"):
        paper.balances()


@pytest.mark.parametrize(
    "text", ["", "{", "[1, 2]", '{"start_ms": "x", "wall_start_ms": 1, "jump_ms": 0}', '{"a": 1}']
)
def test_a_corrupt_paper_clock_is_named_with_the_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "binance.clock.json"
    path.write_text(text)
    with pytest.raises(DataError, match=r"paper clock .* paper reset"):
        ReplayClock(path, T0)


def test_a_home_that_is_a_file_is_named(tmp_path: Path) -> None:
    afile = tmp_path / "home"
    afile.write_text("")
    with pytest.raises(InputError, match=r"PERPHEDGE_HOME=.*is a file"):
        private_dir(afile)
    with pytest.raises(InputError, match=r"PERPHEDGE_HOME=.*cannot create"):
        private_dir(afile / "inside")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_home_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(InputError, match=r"PERPHEDGE_HOME=.*(not writable|cannot create)"):
            private_dir(locked / "home")
    finally:
        locked.chmod(0o700)


def test_a_paper_reset_is_a_new_account(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    first = make_paper(tmp_path, clock, StaticMarket(clock)).account_uid()
    assert make_paper(tmp_path, clock, StaticMarket(clock)).account_uid() == first
    (tmp_path / "paper" / "binance.json").unlink()  # what paper reset does
    assert make_paper(tmp_path, clock, StaticMarket(clock)).account_uid() != first
