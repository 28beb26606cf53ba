"""End-to-end: perphedge's ccxt adapter -> the unmodified ccxt client -> a local fake Binance.

Every test ends with `assert_agree`: each client order id exists at most once on the exchange,
and the exchange's position equals the sum of the fills the adapter reports (nothing lost,
nothing doubled). Mark 60,000 BTCUSDT, wallet 10,000 USDT, leverage 20, taker 0.05 %, maker
0.02 % unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal

import pytest

from perphedge.errors import PermanentExchangeError, ReconcileError, TemporaryExchangeError
from perphedge.exchanges.ccxt_account import CcxtAccount
from perphedge.ports import (
    Account,
    Execution,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
)
from tests.fakes.binance_usdm import FakeBinance, Fault, make_ccxt

BTC = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def account(fake: FakeBinance, sleeps: list[float]) -> CcxtAccount:
    return CcxtAccount(make_ccxt(fake), sleep=sleeps.append, attempts=4)


def short(cid: str, qty: str = "0.010", price: str | None = "60000", **kw: object) -> OrderRequest:
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest(
        BTC, OrderSide.SELL, D(qty), kind, cid, None if price is None else D(price), **kw
    )  # type: ignore[arg-type]


def posted(fake: FakeBinance) -> list[str]:
    """Outcomes of every POST /fapi/v1/order the server saw, in order."""
    return [r.outcome for r in fake.calls("POST", "/fapi/v1/order")]


def assert_agree(fake: FakeBinance, account: CcxtAccount) -> None:
    """Exchange and adapter agree: no client id twice; position == sum of reported fills."""
    ids = [o.client_id for o in fake.state.orders.values()]
    assert len(ids) == len(set(ids)), f"a client order id was placed twice: {ids}"
    fills = account.fills(BTC, 0)
    signed = sum((f.qty if f.side is OrderSide.BUY else -f.qty for f in fills), D(0))
    assert signed == fake.state.position_amt("BTCUSDT")
    assert {f.client_order_id for f in fills} <= set(ids)


def test_adapter_implements_the_ports(account: CcxtAccount) -> None:
    assert isinstance(account, Account)
    assert isinstance(account, Execution)


def test_limit_short_crossing_on_arrival_fills_as_taker(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    state = account.place_order(short("ph-open-1"))
    assert state.status is OrderStatus.FILLED
    assert (state.filled_qty, state.avg_price) == (D("0.010"), D(60000))
    [fill] = account.fills(BTC, 0)
    # taker fee 0.010 * 60,000 * 0.0005 = 0.30 USDT
    assert (fill.client_order_id, fill.fee, fill.fee_currency, fill.maker) == (
        "ph-open-1", D("0.3"), "USDT", False
    )  # fmt: skip
    [pos] = account.positions([BTC])
    assert (pos.contracts, pos.entry_price) == (D("-0.01"), D(60000))
    [usdt] = [b for b in account.balances() if b.currency == "USDT"]
    # wallet 10,000 - 0.30 fee; uPnL 0 at the entry mark; IM 600 / 20 = 30 used
    assert (usdt.total, usdt.used, usdt.free) == (D("9999.7"), D(30), D("9969.7"))
    assert_agree(fake, account)


def test_balance_total_is_the_wallet_not_equity(fake: FakeBinance, account: CcxtAccount) -> None:
    account.place_order(short("ph-bal-1"))
    fake.state.set_mark("BTCUSDT", "61000")
    [usdt] = [b for b in account.balances() if b.currency == "USDT"]
    [pos] = account.positions([BTC])
    # wallet 10,000 - 0.30 fee = 9,999.70 (uPnL -0.010 * 1,000 = -10 is the position's);
    # free = 9,999.70 - 10 - 0.010 * 61,000 / 20 = 9,959.20; used = 9,999.70 - 9,959.20 = 40.50
    assert (usdt.total, usdt.free, usdt.used) == (D("9999.7"), D("9959.2"), D("40.5"))
    assert pos.unrealized_pnl == D(-10)
    assert_agree(fake, account)


def test_resting_order_fills_as_maker_when_the_mark_crosses(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    state = account.place_order(short("ph-rest-1", price="61000"))
    assert state.status is OrderStatus.OPEN
    assert [o.client_order_id for o in account.open_orders(BTC)] == ["ph-rest-1"]
    fake.state.set_mark("BTCUSDT", "61000.5")
    done = account.fetch_order(BTC, "ph-rest-1")
    assert done is not None and done.status is OrderStatus.FILLED
    [fill] = account.fills(BTC, 0)
    # maker fee at its own price: 0.010 * 61,000 * 0.0002 = 0.122 USDT
    assert (fill.price, fill.fee, fill.maker) == (D(61000), D("0.122"), True)
    assert account.open_orders(BTC) == []
    assert_agree(fake, account)


def test_open_orders_of_every_symbol(fake: FakeBinance, account: CcxtAccount) -> None:
    account.place_order(short("ph-all-1", price="70000"))
    eth = OrderRequest(
        "ETH/USDT:USDT", OrderSide.SELL, D("0.010"), OrderType.LIMIT, "ph-all-2", D(3500)
    )
    account.place_order(eth)
    assert sorted(o.client_order_id for o in account.open_orders()) == ["ph-all-1", "ph-all-2"]
    assert [o.client_order_id for o in account.open_orders(BTC)] == ["ph-all-1"]
    assert_agree(fake, account)


def test_partial_fill_then_cancel_keeps_the_filled_part(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    fake.state.partial_next("0.5")
    state = account.place_order(short("ph-part-1", qty="0.020"))
    assert (state.status, state.filled_qty, state.remaining_qty) == (
        OrderStatus.PARTIALLY_FILLED, D("0.01"), D("0.01")
    )  # fmt: skip
    cancelled = account.cancel_order(BTC, "ph-part-1")
    assert cancelled is not None
    assert (cancelled.status, cancelled.filled_qty) == (OrderStatus.CANCELED, D("0.01"))
    assert fake.state.position_amt("BTCUSDT") == D("-0.010")
    assert_agree(fake, account)


@pytest.mark.parametrize(
    ("fault", "outcomes"),
    [
        (Fault.timeout(process=False), ["fault timeout", "ok"]),
        (Fault.server_error(503), ["fault status", "ok"]),
        (Fault.server_error(500), ["fault status", "ok"]),
        (Fault.rate_limit(retry_after_s=2), ["fault rate_limit", "ok"]),
        (
            Fault.reject(-1021, "Timestamp for this request is outside of the recvWindow."),
            ["fault reject", "ok"],
        ),
    ],
    ids=["timeout-not-executed", "503", "500", "429", "clock-skew-1021"],
)
def test_order_not_executed_is_sent_again_after_a_lookup(
    fake: FakeBinance, account: CcxtAccount, fault: Fault, outcomes: list[str]
) -> None:
    fake.inject(fault)
    state = account.place_order(short("ph-retry-1"))
    assert state.status is OrderStatus.FILLED
    assert posted(fake) == outcomes
    # the retry came only after the venue said at every lookup that it did not know the id, and
    # neither its open orders nor its trades since the send held it
    lookups = fake.calls("GET", "/fapi/v1/order")
    assert [r.outcome for r in lookups[:5]] == ["error -2013"] * 5
    assert fake.calls("GET", "/fapi/v1/openOrders") and fake.calls("GET", "/fapi/v1/userTrades")
    assert fake.state.position_amt("BTCUSDT") == D("-0.010")
    assert_agree(fake, account)


def test_429_waits_at_least_retry_after(
    fake: FakeBinance, account: CcxtAccount, sleeps: list[float]
) -> None:
    fake.inject(Fault.rate_limit(retry_after_s=3))
    account.place_order(short("ph-429-1"))
    # before the first lookup: backoff 0.25 s raised to the Retry-After of 3 s; then growing
    # waits before the confirming lookups
    assert sleeps == [3.0, 0.5, 1.0, 2.0]
    assert_agree(fake, account)


@pytest.mark.parametrize(
    "fault",
    [Fault.lost(drop=True), Fault.lost(drop=False), Fault.timeout(process=True)],
    ids=["connection-dropped", "502-after-accept", "answer-too-late"],
)
def test_response_lost_after_accept_is_never_sent_twice(
    fake: FakeBinance, account: CcxtAccount, fault: Fault
) -> None:
    fake.inject(fault)
    state = account.place_order(short("ph-lost-1"))
    assert state.status is OrderStatus.FILLED and state.client_order_id == "ph-lost-1"
    assert len(posted(fake)) == 1  # executed once; the adapter found it instead of re-sending
    assert fake.state.position_amt("BTCUSDT") == D("-0.010")  # not -0.020
    assert_agree(fake, account)


def test_a_stale_not_found_after_a_lost_answer_does_not_double(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    """The venue accepted and filled the order, but the first lookup still says -2013 (still
    processing). Binance would accept the same id again (the first is no longer open); the
    adapter asks a second time, finds the order and sends nothing more."""
    fake.inject(
        Fault.lost(),
        Fault.reject(-2013, "Order does not exist.", method="GET", path="/fapi/v1/order", after=1),
    )
    state = account.place_order(short("ph-stale-1"))
    assert state.status is OrderStatus.FILLED
    assert [r.outcome for r in fake.calls("GET", "/fapi/v1/order")] == [
        "error -2013", "fault reject", "ok"
    ]  # fmt: skip
    assert len(posted(fake)) == 1 and fake.state.position_amt("BTCUSDT") == D("-0.010")
    assert_agree(fake, account)


@pytest.mark.parametrize("stale", [2, 3])
def test_stale_lookups_in_a_row_after_a_lost_answer_do_not_double(
    fake: FakeBinance, account: CcxtAccount, sleeps: list[float], stale: int
) -> None:
    """The venue filled the order, the answer was lost, and the next `stale` lookups by client
    id still say -2013. The waits grow; a later lookup finds it; nothing is sent again."""
    fake.inject(
        Fault.lost(),
        Fault.reject(
            -2013,
            "Order does not exist.",
            method="GET",
            path="/fapi/v1/order",
            times=stale,
            after=1,  # the lookup before sending rightly finds nothing
        ),
    )
    state = account.place_order(short("ph-stale-n", price=None))
    assert state.status is OrderStatus.FILLED and state.filled_qty == D("0.010")
    assert len(posted(fake)) == 1 and fake.state.position_amt("BTCUSDT") == D("-0.010")
    assert sleeps == [0.25, 0.5, 1.0, 2.0][: stale + 1]  # waits grow
    assert_agree(fake, account)


def test_lookups_that_never_find_it_but_a_trade_since_the_send_stop_with_exit_5(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    """Every lookup by client id is stale and the order is no longer open, but the account
    traded since the send: the order may exist. Not sent again; ReconcileError says so."""
    fake.inject(
        Fault.lost(),
        Fault.reject(
            -2013, "Order does not exist.", method="GET", path="/fapi/v1/order", times=4, after=1
        ),
    )
    with pytest.raises(ReconcileError, match=r"outcome unknown .* trade .* may be it") as info:
        account.place_order(short("ph-stale-x", price=None))
    assert info.value.exit_code == 5
    assert len(posted(fake)) == 1 and fake.state.position_amt("BTCUSDT") == D("-0.010")


def test_lookups_that_all_fail_stop_with_exit_5(fake: FakeBinance, account: CcxtAccount) -> None:
    fake.inject(
        Fault.lost(),
        Fault.server_error(503, method="GET", path="/fapi/v1/order", times=99, after=1),
    )
    with pytest.raises(ReconcileError, match="did not answer any lookup"):
        account.place_order(short("ph-dark-1", price=None))
    assert len(posted(fake)) == 1


def test_lost_market_order_is_found_filled(fake: FakeBinance, account: CcxtAccount) -> None:
    fake.inject(Fault.lost())
    state = account.place_order(short("ph-mkt-1", price=None))
    assert (state.status, state.filled_qty) == (OrderStatus.FILLED, D("0.01"))
    assert len(posted(fake)) == 1
    assert_agree(fake, account)


def test_placing_the_same_request_again_sends_nothing(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    first = account.place_order(short("ph-idem-1"))
    again = account.place_order(short("ph-idem-1"))
    assert again == first
    assert len(posted(fake)) == 1
    assert fake.state.position_amt("BTCUSDT") == D("-0.010")
    assert_agree(fake, account)


def test_binance_would_accept_a_reused_id_of_a_filled_order(fake: FakeBinance) -> None:
    """Why the adapter looks up first: Binance only rejects ids of OPEN orders (-4116)."""
    raw = make_ccxt(fake)
    params = {"newClientOrderId": "ph-raw-1"}
    raw.create_order(BTC, "limit", "sell", 0.01, 60000, params)
    raw.create_order(BTC, "limit", "sell", 0.01, 60000, params)  # filled one: accepted again
    assert fake.state.position_amt("BTCUSDT") == D("-0.020")
    raw.create_order(BTC, "limit", "sell", 0.01, 70000, {"newClientOrderId": "ph-raw-2"})
    with pytest.raises(Exception, match="-4116"):  # an open one: duplicate
        raw.create_order(BTC, "limit", "sell", 0.01, 70000, {"newClientOrderId": "ph-raw-2"})


def test_duplicate_id_rejection_resolves_to_the_existing_order(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    resting = account.place_order(short("ph-dup-1", price="70000"))
    # the lookup before sending misses (a stale replica), the send hits -4116
    fake.inject(Fault.reject(-2013, "Order does not exist.", method="GET", path="/fapi/v1/order"))
    again = account.place_order(short("ph-dup-1", price="70000"))
    assert posted(fake) == ["ok", "error -4116"]
    assert again.exchange_order_id == resting.exchange_order_id
    assert_agree(fake, account)


def test_margin_insufficient_is_a_rejected_order(fake: FakeBinance, account: CcxtAccount) -> None:
    # 4 BTC at 60,000 / 20x needs 12,000 USDT of margin; the wallet holds 10,000
    state = account.place_order(short("ph-big-1", qty="4"))
    assert state.status is OrderStatus.REJECTED
    assert "Margin is insufficient" in state.reason and "-2019" in state.reason
    assert posted(fake) == ["error -2019"]
    assert fake.state.orders == {} and fake.state.position_amt("BTCUSDT") == 0
    assert_agree(fake, account)


@pytest.mark.parametrize(
    ("request_", "fault", "reason"),
    [
        (short("ph-f-1", qty="0.001"), None, "-4164"),  # 0.001 * 60,000 = 60 < 100 USDT
        (short("ph-f-2"), Fault.reject(-1013, "Filter failure: LOT_SIZE"), "LOT_SIZE"),
        (short("ph-f-3", reduce_only=True), None, "-2022"),  # nothing to reduce
    ],
    ids=["min-notional", "lot-size", "reduce-only-without-position"],
)
def test_filter_rejections(
    fake: FakeBinance,
    account: CcxtAccount,
    request_: OrderRequest,
    fault: Fault | None,
    reason: str,
) -> None:
    if fault is not None:
        fake.inject(fault)
    state = account.place_order(request_)
    assert state.status is OrderStatus.REJECTED and reason in state.reason
    assert len(posted(fake)) == 1 and fake.state.orders == {}
    assert_agree(fake, account)


def test_exhausted_retries_raise_temporary_and_send_nothing(
    fake: FakeBinance, account: CcxtAccount, sleeps: list[float]
) -> None:
    fake.inject(Fault.server_error(503, times=4))
    with pytest.raises(TemporaryExchangeError, match="not accepted after 4 attempts"):
        account.place_order(short("ph-down-1"))
    # four lookups per attempt, the waits before them growing
    assert sleeps == [0.25, 0.5, 1.0, 2.0] * 4
    assert fake.state.orders == {}
    state = account.place_order(short("ph-down-1"))  # the venue is back: exactly one order
    assert state.status is OrderStatus.FILLED and posted(fake)[-1] == "ok"
    assert_agree(fake, account)


def test_cancel_whose_answer_is_lost_is_confirmed_by_lookup(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    account.place_order(short("ph-cxl-1", price="70000"))
    fake.inject(Fault.lost(method="DELETE"))
    state = account.cancel_order(BTC, "ph-cxl-1")
    assert state is not None and state.status is OrderStatus.CANCELED
    assert account.cancel_order(BTC, "ph-never") is None
    assert_agree(fake, account)


def test_reads_retry_temporary_errors(fake: FakeBinance, account: CcxtAccount) -> None:
    fake.inject(Fault.server_error(502, method="GET", path="/fapi/v3/account"))
    fake.inject(Fault.timeout(method="GET", path="/fapi/v3/positionRisk"))
    assert [b.currency for b in account.balances()] == ["USDT"]
    assert account.positions([BTC]) == []
    assert [r.outcome for r in fake.calls("GET", "/fapi/v3/account")] == ["fault status", "ok"]


def test_fills_older_than_a_week_are_walked_week_by_week(
    fake: FakeBinance, account: CcxtAccount
) -> None:
    account.place_order(short("ph-old-1"))
    day_ms = 86_400_000
    [trade] = fake.state.trades
    fake.state.trades[0] = dataclasses.replace(trade, time_ms=trade.time_ms - 20 * day_ms)
    since = trade.time_ms - 30 * day_ms
    [fill] = account.fills(BTC, since)
    assert fill.client_order_id == "ph-old-1"
    # Binance answers at most 7 days per request: 30 days back -> 5 windows (4 x 7 + 2 days)
    windows = [r.params for r in fake.calls("GET", "/fapi/v1/userTrades")]
    assert len(windows) == 5
    assert all(int(w["endTime"]) - int(w["startTime"]) < 7 * day_ms for w in windows)
    assert_agree(fake, account)


def test_funding_received_by_the_short(fake: FakeBinance, account: CcxtAccount) -> None:
    account.place_order(short("ph-fund-1"))
    fake.state.settle_funding("BTCUSDT")
    [payment] = account.funding_received(BTC, 0)
    # positive rate, longs pay shorts: +0.010 * 60,000 * 0.0001 = +0.06 USDT to the short
    assert (payment.amount, payment.currency, payment.symbol) == (D("0.06"), "USDT", BTC)
    assert_agree(fake, account)


def test_can_withdraw_reads_the_key_restrictions(fake: FakeBinance, account: CcxtAccount) -> None:
    assert account.can_withdraw() is False
    fake.state.can_withdraw = True
    assert account.can_withdraw() is True


def test_bad_secret_is_permanent_and_never_echoed(fake: FakeBinance) -> None:
    wrong = CcxtAccount(make_ccxt(fake, secret="not-the-secret-zzzz"), sleep=lambda s: None)
    with pytest.raises(PermanentExchangeError, match="-1022") as info:
        wrong.balances()
    assert "not-the-secret-zzzz" not in str(info.value) and fake.api_key not in str(info.value)
    assert "signature=***" in str(info.value) or "signature" not in str(info.value)
