"""`perphedge hedge keep` over ccxt against the fake Binance: a 3x isolated short in a rally is
topped up from the reserve through POST /fapi/v1/positionMargin, journaled once; the next step
finds it far enough and moves nothing; the dry run sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.store.journal import Journal
from tests.fakes.binance_usdm import FakeBinance

D = Decimal
PORTFOLIO = """
[[holdings]]
asset = "BTC"
quantity = 0.5

[hedge]
leverage = 3
exchange = "binance"
margin_mode = "isolated"

[keeper]
reserve_usd = 10000
"""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        server.state.wallet = D(20000)
        monkeypatch.setenv("PERPHEDGE_BINANCE_API_KEY", server.api_key)
        monkeypatch.setenv("PERPHEDGE_BINANCE_SECRET", server.secret)
        yield server


def test_keep_tops_up_a_3x_short_in_a_rally_once(run_cli, fake, tmp_path):
    file = tmp_path / "portfolio.toml"
    file.write_text(PORTFOLIO)
    url = ["--base-url", fake.base_url]
    opened = run_cli(
        "hedge", "open", str(file), *url, "--execute", "--yes", "--order-timeout", "0.5"
    )
    assert opened.code == 0, opened.err
    assert fake.state.position_amt("BTCUSDT") == D("-0.5")
    assert fake.state.margin_types["BTCUSDT"] == "ISOLATED"
    fake.state.set_mark("BTCUSDT", "75000")  # +25 %: the 3x short's liquidation comes close
    dry = run_cli("hedge", "keep", str(file), *url, "--once")
    assert dry.code == 0, dry.err
    assert "to the margin" in dry.out and "dry run: nothing sent" in dry.err
    assert fake.state.margin_history == []
    kept = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert kept.code == 0, kept.err
    assert "margin add" in kept.out and ": done" in kept.out
    assert len(fake.state.margin_history) == 1
    added = D(fake.state.margin_history[0]["amount"])
    assert 0 < added <= D(10000) and fake.state.isolated_extra["BTCUSDT"] == added
    again = run_cli("hedge", "keep", str(file), *url, "--once", "--execute", "--yes")
    assert again.code == 0, again.err
    assert len(fake.state.margin_history) == 1  # far enough now: nothing moved twice
    with Journal(Path(tmp_path / "home" / "journal.sqlite")) as journal:
        moves = journal.margin_moves("binance")
    assert [(m.status, m.kind, m.amount) for m in moves] == [("done", "add", added)]


def test_keep_on_paper_reads_the_isolated_legs(run_cli, tmp_path):
    file = tmp_path / "portfolio.toml"
    file.write_text(PORTFOLIO)
    assert run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes").code == 0
    r = run_cli("hedge", "keep", str(file), "--paper", "--once")
    assert r.code == 0, r.err
    assert "BTC/USDT:USDT: short 0.5, margin " in r.out and "distance to liquidation" in r.out


def test_keep_of_a_cross_leg_says_why_it_cannot(run_cli, tmp_path):
    file = tmp_path / "portfolio.toml"
    file.write_text(PORTFOLIO.replace('"isolated"', '"cross"'))
    assert run_cli("hedge", "open", str(file), "--paper", "--execute", "--yes").code == 0
    r = run_cli("hedge", "keep", str(file), "--paper", "--once")
    assert r.code == 2 and "cross-margined" in r.err and "isolated legs" in r.err
