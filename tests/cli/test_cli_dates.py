"""Every command that takes a day refuses a bad one in the same line, with exit 2."""

from __future__ import annotations

import pytest

from perphedge.dates import DAY_FIX
from tests.factories import portfolio_file

BTC = [{"asset": "BTC", "quantity": 1}]
HEDGE = {"ratio": 1.0, "leverage": 2, "exchange": "binance"}
BAD = "2024-02-30"  # no such day


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["backtest", "{file}", "--from", BAD, "--to", "2024-03-01"], "--from"),
        (
            [
                "sweep",
                "{file}",
                "--from",
                "2024-01-01",
                "--to",
                BAD,
                "--grid",
                "policy=band;band=0.1",
            ],
            "--to",
        ),
        (["funding", "BTC", "--since", BAD], "--since"),
        (["beta", "ETH", "--until", BAD], "--until"),
        (["data", "show", "binance", "BTC/USDT:USDT", "--until", BAD], "--until"),
        (["paper", "reset", "{file}", "--at", BAD, "--yes"], "--at"),
    ],
)
def test_a_bad_day_is_one_line_and_exit_2(run_cli, tmp_path, args: list[str], field: str) -> None:
    file = str(portfolio_file(tmp_path, BTC, **HEDGE))
    r = run_cli(*(file if a == "{file}" else a for a in args))
    assert r.code == 2, r.out + r.err
    assert r.err == f"error: {field}='{BAD}' is invalid: {DAY_FIX}\n"
