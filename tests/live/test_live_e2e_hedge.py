"""End-to-end: `perphedge hedge open|rebalance|close --execute --yes` -> ccxt -> fake Binance.

The command runs in-process exactly as a user runs it, with the API key and secret in the
environment and the unmodified ccxt client sent to the local server by the hidden --base-url
option. Portfolio: 0.5 BTC and 8 ETH, hedged 1:1 at 5x cross; marks 60,000 and 3,000; wallet
20,000 USDT. Limit sells are priced at the slippage cap (0.2 % below the mark) and so cross at
once; orders are split into children of at most 10,000 USD (BTC 4 x 0.125 = 4 x 7,485 USD at
59,880). Every test ends with `assert_journal_agrees`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.factories import portfolio_file
from tests.fakes.agreement import assert_journal_agrees
from tests.fakes.binance_state import PositionRow
from tests.fakes.binance_usdm import FakeBinance, Fault

# several full command runs each, paced by ccxt's client-side rate limiter as in production
pytestmark = pytest.mark.slow

D = Decimal
BTC_ETH = [{"asset": "BTC", "quantity": 0.5}, {"asset": "ETH", "quantity": 8}]
CROSS_5X = {
    "ratio": 1.0,
    "leverage": 5,
    "exchange": "binance",
    "contract": "linear",
    "margin_mode": "cross",
}
Hedge = Callable[..., CliResult]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"  # PERPHEDGE_HOME of the run_cli fixture


@pytest.fixture
def hedge(run_cli: Callable[..., CliResult], fake: FakeBinance, tmp_path: Path) -> Hedge:
    portfolio = portfolio_file(tmp_path, BTC_ETH, **CROSS_5X)

    def run(kind: str, *extra: str) -> CliResult:
        return run_cli(
            "hedge", kind, str(portfolio), "--base-url", fake.base_url,
            "--execute", "--yes", "--order-timeout", "0.5", *extra,
        )  # fmt: skip

    return run


def positions(fake: FakeBinance) -> tuple[Decimal, Decimal]:
    return fake.state.position_amt("BTCUSDT"), fake.state.position_amt("ETHUSDT")


def posts(fake: FakeBinance) -> list[dict[str, str]]:
    return [r.params for r in fake.calls("POST", "/fapi/v1/order")]


def test_open_rebalance_close_round_trip(fake: FakeBinance, hedge: Hedge, home: Path) -> None:
    opened = hedge("open")
    assert opened.code == 0, opened.err
    assert positions(fake) == (D("-0.5"), D(-8))
    # the venue margins each leg as the plan assumed (the example portfolio: isolated)
    # each leg is put in the plan's margin mode before its orders (already cross: -4046, fine)
    modes = {r.params["symbol"]: r.params["marginType"] for r in fake.requests if r.path == "/fapi/v1/marginType"}  # fmt: skip
    assert modes == {"BTCUSDT": "CROSSED", "ETHUSDT": "CROSSED"}
    sent = posts(fake)
    for symbol, total in (("BTCUSDT", D("0.5")), ("ETHUSDT", D(8))):
        children = [D(p["quantity"]) for p in sent if p["symbol"] == symbol]
        assert sum(children) == total and len(children) >= 2
        # children of at most 10,000 USD at the limit price, on the 0.001 step
        assert all(
            q * D(p) <= 10_000
            for q, p in zip(
                children, [p["price"] for p in sent if p["symbol"] == symbol], strict=True
            )
        )
        assert all(q % D("0.001") == 0 for q in children)
    # limit at the slippage cap: 60,000 * (1 - 0.002) = 59,880; 3,000 * 0.998 = 2,994
    assert {p["price"] for p in sent} == {"59880", "2994"}
    assert {p["type"] for p in sent} == {"LIMIT"} and not any("reduceOnly" in p for p in sent)
    assert_journal_agrees(fake, home)

    again = hedge("rebalance")
    assert again.code == 0 and "nothing to do" in again.err
    assert len(posts(fake)) == len(sent)

    closed = hedge("close")
    assert closed.code == 0, closed.err
    assert positions(fake) == (D(0), D(0))
    closing = posts(fake)[len(sent) :]
    assert closing and all(p["reduceOnly"] == "true" and p["side"] == "BUY" for p in closing)
    assert_journal_agrees(fake, home)


def test_open_through_a_storm_of_order_faults_sends_each_order_once(
    fake: FakeBinance, hedge: Hedge, home: Path, tmp_path: Path
) -> None:
    """Successive sends meet: an accepted order whose connection drops (and the next two
    lookups fail with 503), one answered by a 502 after acceptance, a 503 and a 429 before
    execution; the rest go through."""
    fake.inject(
        Fault.lost(drop=True),
        Fault.server_error(503, method="GET", path="/fapi/v1/order", after=2, times=2),
        Fault.lost(drop=False),
        Fault.server_error(503),
        Fault.rate_limit(retry_after_s=0),
    )
    result = hedge("open", "--json")
    assert result.code == 0, result.err
    lookups = [r.outcome for r in fake.calls("GET", "/fapi/v1/order")]
    # journal lookup, adapter lookup, (lost POST), two failed lookups, the one that finds it
    assert lookups[:5] == ["error -2013", "error -2013", "fault status", "fault status", "ok"]
    outcomes = [r.outcome for r in fake.calls("POST", "/fapi/v1/order")]
    assert outcomes[:4] == [
        "ok, answer lost", "ok, answer lost", "fault status", "fault rate_limit"
    ]  # fmt: skip
    assert positions(fake) == (D("-0.5"), D(-8))  # not one child more or less
    planned = sum(len(leg["orders"]) for leg in json.loads(result.out)["legs"])
    executed = [o for o in outcomes if o.startswith("ok")]
    assert len(fake.state.orders) == len(executed) == planned  # each planned order once
    assert_journal_agrees(fake, home)
    assert_no_secrets(fake, result, tmp_path)


def assert_no_secrets(fake: FakeBinance, result: CliResult, tmp_path: Path) -> None:
    """Neither the key nor the secret is printed or written; on the wire only the signature."""
    assert fake.secret not in result.out + result.err
    assert fake.api_key not in result.out + result.err
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("journal") for p in written)
    for path in written:
        data = path.read_bytes()
        assert fake.secret.encode() not in data and fake.api_key.encode() not in data, path
    assert not any(fake.secret in v for r in fake.requests for v in r.params.values())


def test_rejection_stops_the_leg_and_a_rerun_completes_it(
    fake: FakeBinance, hedge: Hedge, home: Path
) -> None:
    fake.inject(Fault.margin_insufficient())
    first = hedge("open")
    assert first.code == 4 and "-2019" in first.err and "Margin is insufficient" in first.err
    # the BTC leg stopped at its rejected first child; the ETH leg went through
    assert positions(fake) == (D(0), D(-8))
    assert_journal_agrees(fake, home)
    second = hedge("open")
    assert second.code == 0, second.err
    assert positions(fake) == (D("-0.5"), D(-8))
    assert_journal_agrees(fake, home)


def test_partial_fill_is_kept_and_rebalance_tops_up(
    fake: FakeBinance, hedge: Hedge, home: Path
) -> None:
    fake.state.partial_next("0.5")  # 0.125 * 0.5 = 0.0625 -> 0.062 on the 0.001 step fills
    result = hedge("open")
    # a hedge short of its target is a failure, with how far it got and the next step
    assert result.code == 4, result.err
    assert "partial: BTC/USDT:USDT: -0.437 of -0.500 contracts" in result.err
    assert "Next: run perphedge hedge rebalance" in result.err
    # the resting remainder is cancelled after --order-timeout; the filled half is kept
    assert positions(fake) == (D("-0.437"), D(-8))  # 3 x 0.125 + 0.062
    canceled = [o for o in fake.state.orders.values() if o.status == "CANCELED"]
    assert [(o.qty, o.executed) for o in canceled] == [(D("0.125"), D("0.062"))]
    assert_journal_agrees(fake, home)
    # 0.063 / 0.5 = 12.6 % off target > --min-drift 2 %: rebalance sells the difference
    topped = hedge("rebalance")
    assert topped.code == 0, topped.err
    assert positions(fake) == (D("-0.5"), D(-8))
    assert_journal_agrees(fake, home)


def test_key_that_can_withdraw_is_refused_before_anything_is_sent(
    fake: FakeBinance, hedge: Hedge, home: Path
) -> None:
    fake.state.can_withdraw = True
    result = hedge("open")
    assert result.code == 3 and "can withdraw" in result.err
    assert posts(fake) == [] and fake.calls("POST", "/fapi/v1/leverage") == []


def test_margin_mode_the_venue_refuses_stops_before_any_order(
    fake: FakeBinance, hedge: Hedge, run_cli: Callable[..., CliResult]
) -> None:
    # the account holds an isolated BTC position; the plan wants cross: Binance answers -4048
    fake.state.margin_types["BTCUSDT"] = "ISOLATED"
    fake.state.positions["BTCUSDT"] = PositionRow(D("-0.1"), D(60_000))
    before = len(posts(fake))
    unknown = hedge("open")  # a position the journal cannot explain stops the run first
    assert unknown.code == 5 and "hedge check --adopt" in unknown.err
    adopted = run_cli(
        "hedge", "check", "--exchange", "binance", "--base-url", fake.base_url, "--adopt"
    )
    assert adopted.code == 0, adopted.err
    refused = hedge("open")
    assert refused.code == 4
    assert "-4048" in refused.err or "Margin type cannot be changed" in refused.err
    assert len(posts(fake)) == before


def test_a_lost_answer_and_stale_lookups_stop_with_exit_5_and_never_double(
    fake: FakeBinance, hedge: Hedge, home: Path
) -> None:
    """The first BTC child is filled, its answer lost, and every lookup by client id (and of
    the trade's order) says -2013. Before: a re-send and BTC at -0.625, exit 0. Now: exit 5 with
    what is known, nothing re-sent; once the venue answers, the same command finishes exactly."""
    stale = Fault.reject(-2013, "Order does not exist.", method="GET", path="/fapi/v1/order")
    fake.inject(Fault.lost(), dataclasses.replace(stale, times=5, after=1))
    first = hedge("open")
    assert first.code == 5, first.err
    assert "outcome unknown" in first.err and "may be it" in first.err
    assert positions(fake) == (D("-0.125"), D(0))  # one child, never doubled
    second = hedge("open")
    assert second.code == 0, second.err
    assert positions(fake) == (D("-0.5"), D(-8))
    assert_journal_agrees(fake, home)
