"""The paper exchange: fills, fees, slippage, rejections, funding at settlement times,
liquidation, idempotent client ids and a state file shared between instances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.clocks import ManualClock
from perphedge.errors import PermanentExchangeError
from perphedge.exchanges.paper import PaperExchange
from perphedge.ports import Account, Execution, OrderRequest, OrderSide, OrderStatus, OrderType
from tests.live_support import BTC, T0, StaticMarket, make_paper

D = Decimal


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def market(clock: ManualClock) -> StaticMarket:
    return StaticMarket(clock)


@pytest.fixture
def paper(tmp_path, clock, market) -> PaperExchange:
    return make_paper(tmp_path, clock, market)


def sell(cid: str, qty: str, price: str | None = None, **kw: object) -> OrderRequest:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return OrderRequest(
        BTC, OrderSide.SELL, D(qty), kind, cid, None if price is None else D(price), **kw
    )  # type: ignore[arg-type]


def buy(cid: str, qty: str, **kw: object) -> OrderRequest:
    return OrderRequest(BTC, OrderSide.BUY, D(qty), OrderType.MARKET, cid, **kw)  # type: ignore[arg-type]


def test_implements_the_ports(paper):
    assert isinstance(paper, Account) and isinstance(paper, Execution)
    assert paper.can_withdraw() is False


def test_market_sell_fills_with_slippage_and_taker_fee(paper):
    state = paper.place_order(sell("a1", "0.5"))
    # 60,000 * (1 - 0.0005) = 59,970; fee 0.5 * 59,970 * 0.0005 = 14.9925
    assert (state.status, state.filled_qty, state.avg_price) == (
        OrderStatus.FILLED, D("0.5"), D("59970.00000000"))  # fmt: skip
    [fill] = paper.fills(BTC, 0)
    assert (fill.qty, fill.price, fill.fee, fill.maker) == (
        D("0.5"),
        D("59970.0000"),
        D("14.99250000"),
        False,
    )
    [pos] = paper.positions([BTC])
    assert pos.contracts == D("-0.5") and pos.entry_price == D("59970")
    assert pos.unrealized_pnl == D("-15")  # -0.5 * (60,000 - 59,970)
    [usdt] = paper.balances()
    assert usdt.total == D("19985.0075")  # 20,000 - 14.9925


def test_marketable_limit_fills_at_slipped_price_within_its_limit(paper):
    state = paper.place_order(sell("a1", "0.5", "59880.0"))
    assert state.avg_price == D("59970")  # max(limit 59,880, slipped 59,970)


def test_resting_limit_fills_as_maker_when_the_mark_crosses(paper, market):
    state = paper.place_order(sell("r1", "0.5", "61000"))
    assert state.status is OrderStatus.OPEN and [
        o.client_order_id for o in paper.open_orders(BTC)
    ] == ["r1"]
    market.marks[BTC] = D(61500)
    state = paper.fetch_order(BTC, "r1")
    assert state is not None and state.status is OrderStatus.FILLED and state.avg_price == D(61000)
    [fill] = paper.fills(BTC, 0)
    assert fill.maker and fill.fee == D("6.10000000")  # 0.5 * 61,000 * 0.0002
    assert paper.open_orders(BTC) == []


def test_partial_fills_then_cancel_keeps_what_filled(tmp_path, clock, market):
    paper = make_paper(tmp_path, clock, market, ratio=0.5)
    first = paper.place_order(sell("p1", "0.5", "59880.0"))
    assert (first.status, first.filled_qty) == (
        OrderStatus.PARTIALLY_FILLED,
        D("0.25"),
    )  # 0.5 * 0.5
    second = paper.fetch_order(BTC, "p1")
    assert second is not None and second.filled_qty == D("0.375")  # + 0.25 * 0.5
    final = paper.cancel_order(BTC, "p1")  # every look fills half the rest first: + 0.062
    assert final is not None and (final.status, final.filled_qty) == (
        OrderStatus.CANCELED,
        D("0.437"),
    )
    assert sum(f.qty for f in paper.fills(BTC, 0)) == D("0.437")
    assert paper.positions([BTC])[0].contracts == D("-0.437")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (sell("x1", "0.0005"), "not a multiple of the step"),
        (sell("x2", "0.001"), "below the minimum 100"),  # 0.001 * 60,000 = 60 USD
        (buy("x3", "0.1", reduce_only=True), "would increase the position"),
        (sell("x4", "10"), "margin is insufficient"),  # 600,000 / 20x = 30,000 > 20,000
    ],
)
def test_rejections_like_a_venue(paper, request_, reason):
    state = paper.place_order(request_)
    assert state.status is OrderStatus.REJECTED and reason in state.reason
    assert paper.positions([BTC]) == [] and paper.fills(BTC, 0) == []


def test_same_client_id_twice_is_one_order(paper):
    first = paper.place_order(sell("dup", "0.1"))
    again = paper.place_order(sell("dup", "0.1"))
    assert again == first
    assert len(paper.fills(BTC, 0)) == 1 and paper.positions([BTC])[0].contracts == D("-0.1")
    assert paper.fetch_order(BTC, "never-sent") is None
    assert paper.cancel_order(BTC, "never-sent") is None


def test_funding_settles_at_real_times_with_the_core_sign(paper, clock, market):
    paper.place_order(sell("f1", "0.5"))
    # T0 = 1,700,000,000,000; 8 h settlements at 1,700,006,400,000 and 1,700,035,200,000
    clock.advance(10)
    paid = paper.funding_received(BTC, 0)
    assert [p.ts_ms for p in paid] == [1_700_006_400_000, 1_700_035_200_000]
    # short 0.5 at mark 60,000, rate +0.01 %: the short earns 0.5 * 60,000 * 0.0001 = 3.00
    assert [p.amount for p in paid] == [D("3.0"), D("3.0")]
    market.rates[BTC] = -0.0002
    clock.advance(8)
    assert paper.funding_received(BTC, 1_700_035_200_001)[0].amount == D("-6.0")  # now it pays
    assert paper.balances()[0].total == D("19985.0075") + 3 + 3 - 6


def test_cross_liquidation_at_the_tiered_price(paper, market):
    paper.place_order(sell("big", "6"))  # 360,000 notional, IM 18,000 at 20x
    # wallet 20,000 - 6 * 59,970 * 0.0005 = 19,820.09; tier 0.5 % / cum 50
    # LP = (19,820.09 + 50 + 6 * 59,970) / (6 * 1.005) = 62,966.847...
    [pos] = paper.positions([BTC])
    assert float(pos.liquidation_price) == pytest.approx(379_690.09 / 6.03, rel=1e-9)
    market.marks[BTC] = D(62900)
    assert paper.positions([BTC])[0].contracts == D(-6)  # still alive below LP
    market.marks[BTC] = D(63000)
    assert paper.positions([BTC]) == []
    [liq] = paper.liquidations()
    assert D(liq["price"]) == 63000 and D(liq["contracts"]) == -6
    # loss 6 * 3,030 = 18,180 plus 4,725 clearance fee > 19,820.09: the wallet stops at zero
    assert paper.balances()[0].total == D(0)


def test_state_is_shared_by_separate_instances(tmp_path, clock, market, paper):
    paper.place_order(sell("s1", "0.2"))
    other = make_paper(tmp_path, clock, market)
    assert other.positions([BTC])[0].contracts == D("-0.2")
    assert other.fetch_order(BTC, "s1") is not None
    assert not list(tmp_path.glob("paper/*.tmp"))  # written atomically, no leftovers


trades = st.lists(
    st.tuples(
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(min_value=2, max_value=300),  # x 0.001 BTC (>= 100 USD at >= 50,000)
        st.integers(min_value=50_000, max_value=70_000),  # mark before the trade
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40)
@given(trades=trades)
def test_money_is_conserved_through_any_sequence_of_fills(tmp_path_factory, trades):
    """wallet + unrealised PnL = start - fees + sum of signed qty x (final mark - fill price),
    and the position is the sum of signed fills (entries, flips and realised PnL all agree)."""
    home = tmp_path_factory.mktemp("paper")
    clock = ManualClock(T0)
    market = StaticMarket(clock)
    paper = make_paper(home, clock, market, usdt=10**7)
    for i, (side, steps, mark) in enumerate(trades):
        market.marks[BTC] = D(mark)
        kind = OrderType.MARKET
        paper.place_order(OrderRequest(BTC, side, D(steps) / 1000, kind, f"t{i}"))
    fills = paper.fills(BTC, 0)
    assert len(fills) == len(trades)
    signed = [f.qty * f.side.sign for f in fills]
    final = D(trades[-1][2])
    held = paper.positions([BTC])
    assert (held[0].contracts if held else D(0)) == sum(signed, D(0))
    expected = (
        D(10**7)
        - sum(f.fee for f in fills)
        + sum((q * (final - f.price) for q, f in zip(signed, fills, strict=True)), D(0))
    )
    equity = paper.balances()[0].total + (held[0].unrealized_pnl if held else D(0))
    assert float(equity) == pytest.approx(float(expected), abs=1e-4)


def test_margin_mode_is_kept_and_refused_to_change_under_a_position(paper):
    paper.set_margin_mode(BTC, "isolated")
    paper.set_margin_mode(BTC, "isolated")  # already so: a no-op, like Binance's -4046
    paper.place_order(sell("m1", "0.5"))
    with pytest.raises(PermanentExchangeError, match="position is open"):
        paper.set_margin_mode(BTC, "cross")
    paper.set_margin_mode(BTC, "isolated")  # unchanged mode stays allowed
