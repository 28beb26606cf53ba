"""`perphedge hedge margin transfer to-futures|to-spot USD`: USDT between the spot and the
futures wallet, on the paper account (`paper reset --spot`) and over ccxt against the fake
Binance (POST /sapi/v1/asset/transfer, MAIN_UMFUTURE and UMFUTURE_MAIN). Dry run by default;
`--execute` asks first; every transfer is journaled before it is sent and a lost answer is
settled from the transfer history, never sent twice. Bad input is one line and exit 2, with
nothing written."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perphedge.live.session import paper_ports
from perphedge.store.journal import Journal
from tests.factories import portfolio_file
from tests.fakes.binance_usdm import FakeBinance, Fault

D = Decimal
PATH = "/sapi/v1/asset/transfer"
BTC_HALF = [{"asset": "BTC", "quantity": 0.5}]
CROSS = {"leverage": 3, "exchange": "binance", "margin_mode": "cross"}


@pytest.fixture
def fake(fake: FakeBinance) -> FakeBinance:
    """The shared fake Binance with 10,000 USDT in its futures wallet and 5,000 in spot."""
    fake.state.wallet = D(10000)
    fake.state.spot_wallet = D(5000)
    return fake


def journaled(home: Path, account: str) -> list[tuple[str, str, str, Decimal]]:
    with Journal(home / "journal.sqlite") as journal:
        return [(m.status, m.kind, m.symbol, m.amount) for m in journal.margin_moves(account)]


def paper_account(run_cli, tmp_path: Path) -> None:
    file = portfolio_file(tmp_path, BTC_HALF, **CROSS)
    reset = run_cli("paper", "reset", str(file), "--deposit", "10000", "--spot", "5000", "--yes")
    assert reset.code == 0, reset.err


def wallets(run_cli) -> tuple[float, float]:
    shown = json.loads(run_cli("paper", "show", "--json").out)
    [usdt] = [b for b in shown["balances"] if b["currency"] == "USDT"]
    return shown["spot_usdt"], usdt["total"]


def test_paper_transfers_both_ways_journaled_and_dry_by_default(run_cli, tmp_path):
    paper_account(run_cli, tmp_path)
    home = tmp_path / "home"
    dry = run_cli("hedge", "margin", "transfer", "to-futures", "1200", "--paper")
    assert dry.code == 0, dry.err
    assert "transfer 1200.0 USDT from the spot wallet to the futures wallet" in dry.out
    assert "spot wallet: 5,000.00 USDT free" in dry.out and "dry run: nothing sent" in dry.err
    assert wallets(run_cli) == (5000, 10000)

    sent = run_cli(
        "hedge", "margin", "transfer", "to-futures", "1200", "--paper", "--execute", "--yes"
    )
    assert sent.code == 0, sent.err
    assert wallets(run_cli) == (3800, 11200)
    back = run_cli(
        "hedge", "margin", "transfer", "to-spot", "200.5", "--paper", "--execute", "--yes"
    )
    assert back.code == 0, back.err
    assert "transfer 200.5 USDT from the futures wallet to the spot wallet" in back.out
    assert ": done" in back.out
    assert wallets(run_cli) == (4000.5, 10999.5)

    ports = paper_ports("binance", home, [])
    assert journaled(home, ports.account_id) == [
        ("done", "transfer", "", D("1200.0")),
        ("done", "transfer_out", "", D("200.5")),
    ]
    assert [m.amount for m in ports.execution.transfers_out("USDT", 0)] == [D("200.5")]  # type: ignore[attr-defined]


def test_paper_refuses_more_than_the_wallet_it_leaves_holds(run_cli, tmp_path):
    paper_account(run_cli, tmp_path)
    r = run_cli("hedge", "margin", "transfer", "to-futures", "5000.01", "--paper", "--execute")
    assert r.code == 2
    assert r.err.strip() == (
        "error: USD=5000.01 is invalid: the spot wallet holds 5000.00 USDT free: give at most that"
    )
    r = run_cli("hedge", "margin", "transfer", "to-spot", "20000", "--paper")
    assert r.code == 2 and "the futures wallet holds 10000.00 USDT free" in r.err
    assert wallets(run_cli) == (5000, 10000)


def test_a_refused_confirmation_sends_nothing(run_cli, tmp_path, monkeypatch):
    paper_account(run_cli, tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = run_cli("hedge", "margin", "transfer", "to-futures", "100", "--paper", "--execute")
    assert r.code == 1 and "cancelled: nothing sent" in r.err
    assert "Move 100.0 USDT on binance (paper)?" in r.err
    assert wallets(run_cli) == (5000, 10000)


BAD = [
    (["sideways", "100"], "error: DIRECTION='sideways' is invalid: give to-futures"),
    (["to-spot", "-5"], "error: USD=-5.0 is invalid: give a number greater than zero"),
    (["to-futures", "0"], "error: USD=0.0 is invalid: give a number greater than zero"),
    (["to-futures", "nan"], "error: USD=nan is invalid: give a finite number"),
    (["to-futures", "0.001"], "error: USD=0.001 is invalid: give at least 0.01"),
    (["to-futures", "2e7"], "error: USD=20000000.0 is invalid: give at most 10,000,000"),
]


@pytest.mark.parametrize(("args", "said"), BAD)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(run_cli, tmp_path, args, said):
    paper_account(run_cli, tmp_path)
    before = sorted(p.name for p in (tmp_path / "home").rglob("*"))
    r = run_cli("hedge", "margin", "transfer", *args, "--paper", "--execute", "--yes")
    assert r.code == 2, r.err
    assert r.err.startswith(said) and r.err.count("\n") == 1, r.err
    assert wallets(run_cli) == (5000, 10000)
    assert (
        not (tmp_path / "home" / "journal.sqlite").exists()
        or journaled(tmp_path / "home", paper_ports("binance", tmp_path / "home", []).account_id)
        == []
    )
    assert sorted(p.name for p in (tmp_path / "home").rglob("*")) == before


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    direction=st.text(min_size=1, max_size=12).filter(lambda d: d not in ("to-futures", "to-spot"))
)
def test_any_other_direction_is_named_with_the_fix(run_cli, direction):
    if direction.startswith("-"):  # an option to the parser, not a direction
        direction = "x" + direction
    r = run_cli("hedge", "margin", "transfer", direction, "10", "--exchange", "binance", "--paper")
    assert r.code == 2
    assert "DIRECTION=" in r.err and "give to-futures" in r.err and r.err.count("\n") == 1


def test_fake_binance_transfers_both_ways_and_settles_a_lost_answer(run_cli, fake, tmp_path):
    url = ["--base-url", fake.base_url]
    home = tmp_path / "home"
    r = run_cli("hedge", "margin", "transfer", "to-spot", "1500", *url, "--execute", "--yes")
    assert r.code == 0, r.err
    assert (fake.state.spot_wallet, fake.state.wallet) == (D(6500), D(8500))
    fake.inject(Fault.lost(path=PATH))  # executed, then the connection dropped
    r = run_cli("hedge", "margin", "transfer", "to-futures", "700", *url, "--execute", "--yes")
    assert r.code == 0, r.err
    assert ": done" in r.out
    assert [(t["type"], t["amount"]) for t in fake.state.transfers] == [
        ("UMFUTURE_MAIN", "1500"),
        ("MAIN_UMFUTURE", "700"),
    ]  # the lost one was found in the history, not sent again
    assert (fake.state.spot_wallet, fake.state.wallet) == (D(5800), D(9200))
    assert journaled(home, "binance") == [
        ("done", "transfer_out", "", D("1500.0")),
        ("done", "transfer", "", D("700.0")),
    ]


def test_fake_binance_unknown_outcome_is_exit_5_then_settled_before_the_next(
    run_cli, fake, tmp_path
):
    url = ["--base-url", fake.base_url]
    home = tmp_path / "home"
    fake.inject(
        Fault.lost(path=PATH),
        Fault.server_error(503, method="GET", path=PATH, times=99),
    )
    r = run_cli("hedge", "margin", "transfer", "to-spot", "300", *url, "--execute", "--yes")
    assert r.code == 5 and "outcome unknown" in r.err
    assert journaled(home, "binance") == [("unknown", "transfer_out", "", D("300.0"))]
    fake.faults.clear()
    r = run_cli("hedge", "margin", "transfer", "to-spot", "100", *url, "--execute", "--yes")
    assert r.code == 0, r.err
    assert "settled earlier move" in r.out and "was done" in r.out
    assert [t["amount"] for t in fake.state.transfers] == ["300", "100"]  # 300 sent once
    assert journaled(home, "binance") == [
        ("done", "transfer_out", "", D("300.0")),
        ("done", "transfer_out", "", D("100.0")),
    ]
