"""A cross account's top-up: a transfer from the spot wallet into the USDⓈ-M futures wallet
over ccxt against the fake Binance (POST /sapi/v1/asset/transfer type MAIN_UMFUTURE, history
GET /sapi/v1/asset/transfer), and on the paper exchange; journaled before sending, a lost
answer settled from the transfer history, never sent twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.clocks import ManualClock
from perphedge.errors import PermanentExchangeError, ReconcileError
from perphedge.exchanges.ccxt_account import CcxtAccount
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import PaperSettings
from perphedge.hedge.keeper_model import KeeperPolicy
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.execute import LiveSession
from perphedge.live.keep import KeepPlan, reserve_left
from perphedge.live.margin import move_margin, settle_open
from perphedge.ports import WalletTransfer
from perphedge.store.journal import Journal
from tests.fakes.binance_usdm import FakeBinance, Fault, make_ccxt
from tests.live_support import T0, StaticMarket, binance_session

D = Decimal
PATH = "/sapi/v1/asset/transfer"


@pytest.fixture
def fake(fake: FakeBinance) -> FakeBinance:
    """The shared fake Binance with 10,000 USDT in its futures wallet and 5,000 in spot."""
    fake.state.wallet = D(10000)
    fake.state.spot_wallet = D(5000)
    return fake


def session(fake: FakeBinance, home: Path, journal: Journal) -> LiveSession:
    return binance_session(fake.base_url, home, journal)


def journaled(home: Path, account: str = "binance") -> list[tuple[str, str, Decimal]]:
    with Journal(home / "journal.sqlite") as journal:
        return [(m.status, m.kind, m.amount) for m in journal.margin_moves(account)]


def test_the_adapter_transfers_and_reads_the_history_and_the_spot_wallet(fake):
    account = CcxtAccount(make_ccxt(fake), sleep=lambda _s: None)
    assert isinstance(account, WalletTransfer)
    assert account.spot_free("USDT") == D(5000)
    moved = account.transfer_in("USDT", D(1200))
    assert (moved.kind, moved.amount, moved.currency) == ("transfer", D(1200), "USDT")
    assert (fake.state.spot_wallet, fake.state.wallet) == (D(3800), D(11200))
    assert [(m.kind, m.amount) for m in account.transfers_in("USDT", 0)] == [("transfer", D(1200))]
    [posted] = fake.calls("POST", PATH)
    assert (posted.params["type"], posted.params["asset"]) == ("MAIN_UMFUTURE", "USDT")
    assert account.spot_free("USDT") == D(3800)


def test_a_lost_answer_is_settled_from_the_history_not_sent_again(fake, tmp_path):
    fake.inject(Fault.lost(path=PATH))
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        outcome = move_margin(s, s.execution, "", "transfer", D(700), "USDT")  # type: ignore[arg-type]
    assert outcome.status == "done"
    assert len(fake.state.transfers) == 1 and fake.state.spot_wallet == D(4300)
    assert journaled(tmp_path) == [("done", "transfer", D(700))]


def test_no_answer_and_no_history_yet_is_exit_5_then_settled_once(fake, tmp_path):
    fake.inject(
        Fault.lost(path=PATH),
        Fault.server_error(503, method="GET", path=PATH, times=99),
    )
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        with pytest.raises(ReconcileError, match="outcome unknown") as info:
            move_margin(s, s.execution, "", "transfer", D(700), "USDT")  # type: ignore[arg-type]
        assert info.value.exit_code == 5
        assert journaled(tmp_path) == [("unknown", "transfer", D(700))]
        fake.faults.clear()
        settled = settle_open(s, s.execution)  # type: ignore[arg-type]
    assert settled and "was done" in settled[0]
    assert journaled(tmp_path) == [("done", "transfer", D(700))]
    assert len(fake.state.transfers) == 1


def test_a_transfer_never_sent_is_settled_not_sent(fake, tmp_path):
    fake.inject(Fault.server_error(503, method="POST", path=PATH))  # refused before executing
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)
        with pytest.raises(ReconcileError):
            move_margin(s, s.execution, "", "transfer", D(700), "USDT")  # type: ignore[arg-type]
        settle_open(s, s.execution)  # type: ignore[arg-type]
    assert journaled(tmp_path) == [("not_sent", "transfer", D(700))]
    assert fake.state.transfers == [] and fake.state.spot_wallet == D(5000)


def test_the_paper_spot_wallet_funds_transfers_and_refuses_beyond_it(tmp_path):
    clock = ManualClock(T0)
    settings = PaperSettings(initial_usdt=D(1000), spot_usdt=D(500))
    paper = PaperExchange(tmp_path / "paper.json", StaticMarket(clock), clock, settings)
    assert isinstance(paper, WalletTransfer) and paper.spot_free("USDT") == D(500)
    with pytest.raises(PermanentExchangeError, match="spot wallet holds 500"):
        paper.transfer_in("USDT", D("500.01"))
    moved = paper.transfer_in("USDT", D(200))
    assert (moved.symbol, moved.kind, moved.amount, moved.ts_ms) == ("", "transfer", D(200), T0)
    assert paper.spot_free("USDT") == D(300) and paper.balances()[0].total == D(1200)
    assert paper.transfers_in("USDT", 0) == [moved] and paper.transfers_in("USDT", T0 + 1) == []


def test_the_paper_futures_wallet_transfers_back_within_what_it_has_available(tmp_path):
    clock = ManualClock(T0)
    settings = PaperSettings(initial_usdt=D(1000), spot_usdt=D(500))
    paper = PaperExchange(tmp_path / "paper.json", StaticMarket(clock), clock, settings)
    with pytest.raises(PermanentExchangeError, match=r"futures wallet has available 1000\.00"):
        paper.transfer_out("USDT", D("1000.01"))
    moved = paper.transfer_out("USDT", D(300))
    assert (moved.kind, moved.amount) == ("transfer_out", D(300))
    assert paper.spot_free("USDT") == D(800) and paper.balances()[0].total == D(700)
    assert paper.transfers_out("USDT", 0) == [moved] and paper.transfers_in("USDT", 0) == []


def test_the_adapter_transfers_back_to_spot_and_reads_that_history_apart(fake):
    account = CcxtAccount(make_ccxt(fake), sleep=lambda _s: None)
    account.transfer_in("USDT", D(100))
    moved = account.transfer_out("USDT", D(250))
    assert (moved.kind, moved.amount, moved.currency) == ("transfer_out", D(250), "USDT")
    assert (fake.state.spot_wallet, fake.state.wallet) == (D(5150), D(9850))
    assert [(m.kind, m.amount) for m in account.transfers_out("USDT", 0)] == [
        ("transfer_out", D(250))
    ]
    assert [(m.kind, m.amount) for m in account.transfers_in("USDT", 0)] == [("transfer", D(100))]
    assert [c.params["type"] for c in fake.calls("POST", PATH)] == [
        "MAIN_UMFUTURE",
        "UMFUTURE_MAIN",
    ]


def test_a_transfer_back_to_spot_returns_reserve_only_up_to_what_was_moved(fake, tmp_path):
    plan = KeepPlan("p", [], {}, KeeperPolicy(), 1000.0, ExecutionLimits(), margin_mode="cross")
    with Journal(tmp_path / "journal.sqlite") as journal:
        s = session(fake, tmp_path, journal)

        def move(kind: str, usd: int) -> float:
            move_margin(s, s.execution, "", kind, D(usd), "USDT")  # type: ignore[arg-type]
            return reserve_left(s, plan, free_usd=1e9)

        # the futures wallet's own money moved to spot is no reserve the keeper may draw
        assert move("transfer_out", 1500) == 1000.0
        assert move("transfer", 400) == 600.0
        assert move("transfer_out", 300) == 900.0  # 300 of the 400 drawn, returned
        assert move("transfer_out", 500) == 1000.0  # never more than the file's reserve
    assert (fake.state.spot_wallet, fake.state.wallet) == (D(6900), D(8100))
