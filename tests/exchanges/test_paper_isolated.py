"""Isolated margin on the paper exchange as Binance USDⓈ-M keeps it: the isolated wallet set
aside at the open, margin added and removed within Binance's limits (FAQ "How to Adjust Margin
Balance in Isolated Margin Mode"), funding settled into it, liquidation at the maintenance
margin, a move history, and a shared state file.

Hand numbers: a 3x isolated short of 0.5 BTC at 60,000 (no slippage, taker fee 0.05 %,
BTCUSDT bracket 1: MMR 0.4 %, cum 0). Isolated wallet 30,000 / 3 = 10,000; fee 15.
Binance isolated short: LP = (WB + cum + q * EP) / (q * (1 + MMR)).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.clocks import ManualClock
from perphedge.errors import PermanentExchangeError
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import PaperSettings
from perphedge.ports import MarginControl, OrderRequest, OrderSide, OrderType
from tests.live_support import BTC, T0, StaticMarket

D = Decimal


def open_short(tmp_path, name: str = "binance") -> tuple[PaperExchange, StaticMarket, ManualClock]:
    clock = ManualClock(T0)
    market = StaticMarket(clock)
    settings_ = PaperSettings(slippage=0.0, initial_usdt=D(20000))
    paper = PaperExchange(tmp_path / "paper" / f"{name}.json", market, clock, settings_)
    paper.set_leverage(BTC, 3)
    paper.set_margin_mode(BTC, "isolated")
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, D("0.5"), OrderType.MARKET, "o1"))
    return paper, market, clock


def test_the_open_sets_the_isolated_wallet_aside(tmp_path):
    paper, _, _ = open_short(tmp_path)
    assert isinstance(paper, MarginControl)
    [pos] = paper.positions([BTC])
    assert (pos.margin_mode, pos.margin, pos.isolated_margin) == ("isolated", D(10000), D(10000))
    [usdt] = paper.balances()
    assert (usdt.total, usdt.used, usdt.free) == (D(19985), D(10000), D(9985))
    assert float(pos.liquidation_price) == pytest.approx(40000 / 0.502, abs=1e-6)  # 79,681.27


def test_adding_margin_moves_the_liquidation_away_and_is_in_the_history(tmp_path):
    paper, _, _ = open_short(tmp_path)
    with pytest.raises(PermanentExchangeError, match=r"at most 9985\.00"):
        paper.move_margin(BTC, "add", D("9985.01"))  # more than the cross wallet has free
    moved = paper.move_margin(BTC, "add", D(2000))
    assert (moved.symbol, moved.kind, moved.amount, moved.currency, moved.ts_ms) == (
        BTC, "add", D(2000), "USDT", T0
    )  # fmt: skip
    [pos] = paper.positions([BTC])
    assert (pos.margin, pos.isolated_margin) == (D(12000), D(12000))
    assert float(pos.liquidation_price) == pytest.approx(42000 / 0.502, abs=1e-6)  # 83,665.34
    [usdt] = paper.balances()
    assert (usdt.total, usdt.free) == (D(19985), D(7985))  # the wallet is unchanged
    again = PaperExchange(paper.path, paper.market, paper.clock)  # another command
    assert again.margin_moves(BTC, 0) == [moved] and again.margin_moves(BTC, T0 + 1) == []


def test_removing_margin_stops_at_the_initial_requirement(tmp_path):
    paper, market, _ = open_short(tmp_path)
    paper.move_margin(BTC, "add", D(2000))
    market.marks[BTC] = D(70000)
    # min(12,000 - MM 140, 12,000 - 5,000 - 35,000 / 3) < 0: nothing may leave
    with pytest.raises(PermanentExchangeError, match=r"at most 0\.00"):
        paper.move_margin(BTC, "reduce", D(1))
    market.marks[BTC] = D(60000)
    with pytest.raises(PermanentExchangeError, match=r"at most 2000\.00"):
        paper.move_margin(BTC, "reduce", D("2000.01"))  # min(12,000 - 120, 12,000 - 10,000)
    paper.move_margin(BTC, "reduce", D(2000))
    assert paper.positions([BTC])[0].margin == D(10000)
    assert [m.kind for m in paper.margin_moves(BTC, 0)] == ["add", "reduce"]


def test_refusals_change_nothing(tmp_path):
    paper, _, _ = open_short(tmp_path)
    before = paper.path.read_text()
    for symbol, kind, amount in [
        (BTC, "add", D(0)), (BTC, "add", D("NaN")), (BTC, "move", D(1)),
        ("ETH/USDT:USDT", "add", D(1)),  # no position there
    ]:  # fmt: skip
        with pytest.raises(PermanentExchangeError):
            paper.move_margin(symbol, kind, amount)
    assert paper.path.read_text() == before


def test_funding_is_settled_into_the_isolated_wallet(tmp_path):
    paper, _, clock = open_short(tmp_path)
    clock.advance(8)  # one settlement at +0.01 %: the short receives 3 USDT
    [pos] = paper.positions([BTC])
    assert pos.margin == D(10003)
    assert paper.balances()[0].total == D(19988)


def test_a_reduced_position_releases_the_same_share_of_its_margin(tmp_path):
    paper, _, _ = open_short(tmp_path)
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, D("0.25"), OrderType.MARKET, "o2"))
    [pos] = paper.positions([BTC])
    [usdt] = paper.balances()
    assert pos.margin == D(5000) and (usdt.total, usdt.free) == (D("19977.5"), D("14977.5"))


def test_a_top_up_keeps_the_short_alive_at_a_mark_that_liquidates_it_without(tmp_path):
    # at 79,700: 10,000 - 0.5 * 19,700 = 150 <= MM 0.5 * 79,700 * 0.4 % = 159.4
    bare, bare_market, _ = open_short(tmp_path, "bare")
    kept, kept_market, _ = open_short(tmp_path, "kept")
    kept.move_margin(BTC, "add", D(2000))
    bare_market.marks[BTC] = kept_market.marks[BTC] = D(79700)
    assert bare.positions([BTC]) == [] and len(bare.liquidations()) == 1
    assert bare.balances()[0].total == D(9985)  # lost its isolated wallet, no more
    [pos] = kept.positions([BTC])
    assert pos.isolated_margin == D(2150) and kept.liquidations() == []


@settings(max_examples=40)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["add", "reduce"]),
            st.decimals(min_value=D("0.01"), max_value=D(15000), places=2),
            st.integers(min_value=50_000, max_value=75_000),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_moves_keep_the_wallet_and_stay_within_the_limits(tmp_path_factory, steps):
    """Whatever is asked: the wallet never changes by a move, an accepted move changes the
    isolated wallet by exactly its amount and leaves it at least its maintenance margin, a
    refused one changes nothing, and the history holds exactly the accepted ones."""
    paper, market, _ = open_short(tmp_path_factory.mktemp("paper"))
    accepted = []
    for kind, amount, mark in steps:
        market.marks[BTC] = D(mark)
        before = paper.positions([BTC])
        if not before:
            break  # liquidated by the mark: nothing left to move
        try:
            paper.move_margin(BTC, kind, amount)
        except PermanentExchangeError:
            assert paper.positions([BTC])[0].margin == before[0].margin
            continue
        accepted.append((kind, amount))
        [after] = paper.positions([BTC])
        assert after.margin == before[0].margin + (amount if kind == "add" else -amount)
        assert after.margin - after.maintenance_margin >= 0
        assert paper.balances()[0].total == D(19985)
    assert [(m.kind, m.amount) for m in paper.margin_moves(BTC, 0)] == accepted
