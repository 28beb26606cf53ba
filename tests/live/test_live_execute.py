"""Reconcile + execute against the paper exchange, with fakes for lost responses, rejections
and keys that can withdraw. Every run ends with exchange and journal in agreement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perphedge.clocks import ManualClock
from perphedge.errors import PermanentExchangeError, SafetyError, TemporaryExchangeError
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.live.execute import (
    KILL_FILE,
    RunOptions,
    execute,
    propose,
    resume_open_intents,
    run_intent,
)
from perphedge.live.reconcile import read_exchange
from perphedge.ports import OrderRequest, OrderSide, OrderState, OrderType
from perphedge.store.journal import Intent, Journal
from tests.live_support import (
    BTC,
    ETH,
    T0,
    StaticMarket,
    assert_agree,
    make_paper,
    make_session,
    positions,
)

D = Decimal
TARGETS = [LegTarget(BTC, D("-0.5"), 5), LegTarget(ETH, D("-8"), 5)]
LIMITS = ExecutionLimits()


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def market(clock):
    return StaticMarket(clock)


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as j:
        yield j


class LosesFirstResponse:
    """Execution whose first answer per order is lost after the exchange accepted it."""

    def __init__(self, inner, accept: bool = True):
        self.inner, self.accept, self.lost = inner, accept, set()

    def place_order(self, req: OrderRequest) -> OrderState:
        if req.client_order_id not in self.lost:
            self.lost.add(req.client_order_id)
            if self.accept:
                self.inner.place_order(req)
            raise TemporaryExchangeError("read timeout")
        return self.inner.place_order(req)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class RejectsSymbol(LosesFirstResponse):
    def place_order(self, req: OrderRequest) -> OrderState:
        if req.symbol == ETH:
            raise PermanentExchangeError("binance -2019 Margin is insufficient")
        return self.inner.place_order(req)


class CanWithdraw:
    def __init__(self, inner):
        self.inner = inner

    def can_withdraw(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_open_from_scratch_in_children(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    proposal = propose(session, TARGETS, "open", LIMITS)
    # BTC: 0.5 in 4 x 0.125 (10,000 USD children at 60,000); ETH: 8 in 2.667, 2.667, 2.666
    assert [len(leg.orders) for leg in proposal.legs] == [4, 3]
    assert proposal.gross_after_usd == pytest.approx(54_000.0)  # 0.5 * 60,000 + 8 * 3,000
    assert paper.open_orders() == [] and positions(paper) == {}  # proposing sends nothing
    report = execute(session, proposal, "p.toml")
    assert report is not None and report.problems == () and report.new_fills == 7
    assert positions(paper) == {BTC: D("-0.5"), ETH: D("-8")}
    assert_agree(journal, paper)
    again = propose(session, TARGETS, "open", LIMITS)
    assert not again.has_orders  # the exchange already matches


def test_lost_response_after_acceptance_is_found_not_resent(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    flaky = LosesFirstResponse(paper, accept=True)
    session = make_session(tmp_path, paper, journal)
    session.execution = flaky
    report = execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    assert report is not None and report.problems == ()
    assert len(flaky.lost) == 7 and positions(paper) == {BTC: D("-0.5"), ETH: D("-8")}
    assert_agree(journal, paper)


def test_timeout_before_acceptance_is_sent_again_once(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    session.execution = LosesFirstResponse(paper, accept=False)
    execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    assert positions(paper) == {BTC: D("-0.5"), ETH: D("-8")}
    assert_agree(journal, paper)


def test_unknown_outcome_stops_and_the_next_run_reconciles(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)

    class Down(LosesFirstResponse):
        def place_order(self, req):
            self.lost.add(req.client_order_id)
            raise TemporaryExchangeError("503")

        def fetch_order(self, symbol, cid):  # answers until an order was tried, then 503
            if cid in self.lost:
                raise TemporaryExchangeError("503")
            return self.inner.fetch_order(symbol, cid)

    session = make_session(tmp_path, paper, journal)
    session.execution = Down(paper)
    with pytest.raises(TemporaryExchangeError, match="run the same command again"):
        execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    assert [o.status for o in journal.orders()][:1] == ["sending"]
    session.execution = paper
    [report] = resume_open_intents(session)
    assert report.problems == () and positions(paper) == {BTC: D("-0.5"), ETH: D("-8")}
    assert_agree(journal, paper)


def test_rejection_stops_that_leg_only(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    session.execution = RejectsSymbol(paper)
    report = execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    assert report is not None
    statuses = [(o.symbol, o.status) for o in report.orders]
    assert statuses.count((ETH, "rejected")) == 1 and statuses.count((ETH, "not_sent")) == 2
    assert statuses.count((BTC, "filled")) == 4
    assert any("Margin is insufficient" in p for p in report.problems)
    assert positions(paper) == {BTC: D("-0.5")}
    assert_agree(journal, paper)


def test_partial_fill_then_cancel_and_replan_the_rest(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market, ratio=0.5)
    session = make_session(tmp_path, paper, journal, RunOptions(order_timeout_s=0.0))
    target = [LegTarget(BTC, D("-0.1"), 5)]
    report = execute(session, propose(session, target, "open", LIMITS), "p.toml")
    assert report is not None
    [order] = report.orders
    # first look fills 0.05, the cancel's look 0.025 more, then the rest is cancelled
    assert (order.status, order.filled_qty) == ("canceled", D("0.075"))
    assert_agree(journal, paper)
    rest = propose(session, target, "open", LIMITS)
    assert [o.qty for leg in rest.legs for o in leg.orders] == [D("0.025")]


def test_close_is_reduce_only_back_to_zero(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    zero = [LegTarget(t.symbol, D(0), 5) for t in TARGETS]
    proposal = propose(session, zero, "close", LIMITS)
    assert all(o.reduce_only and o.side.value == "buy" for leg in proposal.legs for o in leg.orders)
    execute(session, proposal, "p.toml")
    assert positions(paper) == {}
    assert_agree(journal, paper)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s, m: (s.home / KILL_FILE).write_text(""), "kill switch"),
        (lambda s, m: setattr(s, "account", CanWithdraw(s.account)), "can withdraw funds"),
    ],
)
def test_execute_refuses_and_sends_nothing(tmp_path, clock, market, journal, setup, message):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    proposal = propose(session, TARGETS, "open", LIMITS)
    setup(session, market)
    with pytest.raises(SafetyError, match=message):
        execute(session, proposal, "p.toml")
    assert journal.orders() == [] and positions(paper) == {} and paper.open_orders() == []


@pytest.mark.parametrize(
    ("change", "limits", "message"),
    [
        ("stale", LIMITS, r"stale price for BTC/USDT:USDT: 200 s old"),
        ("none", ExecutionLimits(max_order_notional=20_000), r"orders total 30,000.00 USD"),
        # gross 54,000 / equity 10,000 = 5.4x > 5x
        ("poor", LIMITS, r"leverage after these orders would be 5.40x"),
    ],
)
def test_guardrails_refuse_before_anything_is_journaled(
    tmp_path, clock, market, journal, change, limits, message
):
    paper = make_paper(tmp_path, clock, market, usdt=10_000 if change == "poor" else 20_000)
    market.stale_ms = 200_000 if change == "stale" else 0
    session = make_session(tmp_path, paper, journal)
    with pytest.raises(SafetyError, match=message):
        propose(session, TARGETS, "open", limits)
    assert journal.orders() == [] and positions(paper) == {}


def test_resume_after_crash_between_send_and_record(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    proposal = propose(session, TARGETS, "open", LIMITS)
    intent = Intent("crashed", "open", session.exchange, "p.toml", clock.now_ms(), "open")
    requests = [(o.child_index, o.request("crashed")) for leg in proposal.legs for o in leg.orders]
    journal.begin_intent(intent, requests)
    journal.mark_order(requests[0][1].client_order_id, "sending", clock.now_ms())
    paper.place_order(requests[0][1])  # accepted, then the process died before recording it
    [report] = resume_open_intents(session)
    assert report.problems == () and report.new_fills == 7
    assert positions(paper) == {BTC: D("-0.5"), ETH: D("-8")}
    assert_agree(journal, paper)


def test_an_old_interrupted_run_is_not_resumed_blindly(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    proposal = propose(session, TARGETS, "open", LIMITS)
    intent = Intent("old", "open", session.exchange, "p.toml", clock.now_ms(), "open")
    journal.begin_intent(
        intent, [(o.child_index, o.request("old")) for leg in proposal.legs for o in leg.orders]
    )
    clock.advance(0.2)  # 12 minutes later: older than the 10-minute resume window
    report = run_intent(session, intent)
    assert {o.status for o in report.orders} == {"not_sent"}
    assert positions(paper) == {} and journal.open_intents(session.exchange) == []
    assert propose(session, TARGETS, "open", LIMITS).has_orders  # re-planned from the exchange


def test_reconcile_reads_positions_and_orders_from_the_exchange(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    paper.place_order(OrderRequest(BTC, *_limit_sell()))
    ours = OrderRequest(BTC, OrderSide.SELL, D("0.1"), OrderType.LIMIT, "ph0123", D(70000))
    paper.place_order(ours)
    state = read_exchange(paper, [BTC, ETH])
    # only our order (perphedge's "ph" prefix) is pending; the one placed by hand is not ours
    assert state.leg(BTC).pending_contracts == D("-0.1")
    assert [o.client_order_id for o in state.leg(BTC).foreign_orders] == ["manual-1"]
    assert state.equity_usd == pytest.approx(20_000.0)


def _limit_sell():
    from perphedge.ports import OrderSide, OrderType

    return OrderSide.SELL, D("0.2"), OrderType.LIMIT, "manual-1", D(70000)


def test_kill_switch_mid_run_stops_before_the_next_order(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)

    class TouchesKill(LosesFirstResponse):
        def place_order(self, req):
            state = self.inner.place_order(req)
            (tmp_path / KILL_FILE).write_text("")  # the operator pulls the switch
            return state

    session = make_session(tmp_path, paper, journal)
    session.execution = TouchesKill(paper)
    report = execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")
    assert report is not None
    assert [o.status for o in report.orders].count("filled") == 1
    assert [o.status for o in report.orders].count("not_sent") == 6
    assert all("kill switch" in p for p in report.problems)
    assert positions(paper) == {BTC: D("-0.125")}
    assert_agree(journal, paper)


def test_coin_margined_equity_counts_the_coins(tmp_path, clock, journal):
    from perphedge.ports import Balance

    inverse = "BTC/USD:BTC"

    class CoinAccount:
        def balances(self):
            return [Balance("BTC", D(1), D(1), D(0))]

        def positions(self, symbols):
            return []

        def open_orders(self, symbol=None):
            return []

        def can_withdraw(self):
            return None

    market = StaticMarket(clock, marks={inverse: D(60000)}, rates={inverse: 0.0001})
    session = make_session(tmp_path, make_paper(tmp_path, clock, market), journal)
    session.account = CoinAccount()
    session.market = market
    # 1 BTC at 60,000 backs a 600-contract short (100 USD each): 60,000 / 60,000 = 1x
    proposal = propose(
        session,
        [LegTarget(inverse, D(-600), 1)],
        "open",
        ExecutionLimits(max_order_notional=60_000, child_notional=60_000),
    )
    assert proposal.equity_usd == pytest.approx(60_000.0)
    assert [(o.side.value, o.qty) for leg in proposal.legs for o in leg.orders] == [
        ("sell", D(600))
    ]
    # 700 contracts = 70,000 USD on 60,000 of coins: 1.17x > 1x
    with pytest.raises(SafetyError, match=r"would be 1.17x .* above the cap 1x"):
        propose(
            session,
            [LegTarget(inverse, D(-700), 1)],
            "open",
            ExecutionLimits(max_order_notional=70_000, max_leverage=1.0),
        )


def test_leverage_caps_block_growth_never_reduction(tmp_path, clock, market, journal):
    paper = make_paper(tmp_path, clock, market)
    session = make_session(tmp_path, paper, journal)
    with pytest.raises(SafetyError, match=r"asks for 10x, above the cap 5x"):
        propose(session, [LegTarget(BTC, D("-0.5"), 10)], "open", LIMITS)
    execute(session, propose(session, TARGETS, "open", LIMITS), "p.toml")  # 54,000 on 20,000
    tight = ExecutionLimits(max_leverage=2.0)  # 2.7x now: growing is refused ...
    eth = LegTarget(ETH, D(-8), 2)
    # gross 0.6 x 60,000 + 8 x 3,000 = 60,000; equity 20,000 - 26.98 fees - 27 unrealised
    # (0.5 x 30 + 8 x 1.5 of slippage) = 19,946.01 -> 3.01x
    with pytest.raises(
        SafetyError, match=r"would be 3.01x \(notional 60,000.00 / equity 19,946.01\)"
    ):
        propose(session, [LegTarget(BTC, D("-0.6"), 2), eth], "rebalance", tight)
    # ... but reducing toward the cap, and closing with any leverage setting, is not
    smaller = propose(session, [LegTarget(BTC, D("-0.3"), 2), eth], "rebalance", tight)
    assert [o.qty for o in smaller.legs[0].orders] == [D("0.1")] * 2  # 12,000 USD in two
    close = propose(session, [LegTarget(t.symbol, D(0), 10) for t in TARGETS], "close", tight)
    assert close.has_orders
