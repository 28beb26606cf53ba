"""Coin-margined (inverse) contracts on the paper exchange: fees, PnL, funding and margin in coin,
a 1x short backed by its coins (flat in USD, no liquidation), and a kill/restart of an open."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.clocks import ManualClock
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import PaperSettings
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.live.execute import execute, propose, resume_open_intents
from perphedge.live.reconcile import compare_with_journal
from perphedge.ports import OrderRequest, OrderSide, OrderType
from perphedge.store.journal import Journal
from tests.live_support import T0, StaticMarket, make_session, run_forked

D = Decimal
BTCUSD = "BTC/USD:BTC"  # Binance BTCUSD_PERP: 100 USD per contract, taker 0.05 %
ETHUSD = "ETH/USD:ETH"  # 10 USD per contract


def coin_market(clock: ManualClock) -> StaticMarket:
    return StaticMarket(
        clock, {BTCUSD: D(60000), ETHUSD: D(3000)}, {BTCUSD: 0.0001, ETHUSD: 0.0001}
    )


def coin_paper(
    home: Path, clock: ManualClock, market: StaticMarket, btc: str = "1"
) -> PaperExchange:
    settings = PaperSettings(slippage=0.0005, deposits=(("BTC", D(btc)), ("ETH", D(10))))
    return PaperExchange(home / "paper" / "binance-coinm.json", market, clock, settings)


def order(symbol: str, side: OrderSide, qty: str, cid: str) -> OrderRequest:
    return OrderRequest(symbol, side, D(qty), OrderType.MARKET, cid)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_fee_pnl_and_funding_in_coin(tmp_path, clock):
    market = coin_market(clock)
    paper = coin_paper(tmp_path, clock, market)
    paper.set_leverage(BTCUSD, 1)
    paper.place_order(order(BTCUSD, OrderSide.SELL, "600", "s1"))
    [fill] = paper.fills(BTCUSD, 0)
    # fill 60,000 * (1 - 0.0005) = 59,970; fee 600 * 100 / 59,970 * 0.0005 = 0.00050025 BTC
    assert (fill.price, fill.fee, fill.fee_currency) == (D("59970.0000"), D("0.00050025"), "BTC")
    btc = {b.currency: b for b in paper.balances()}["BTC"]
    assert btc.total == D("0.99949975")  # 1 - 0.00050025
    # short PnL at 60,000: -60,000 * (1/59,970 - 1/60,000) = -0.000500250125... BTC
    [pos] = paper.positions([BTCUSD])
    assert pos.unrealized_pnl == D("-0.00050025") and pos.margin == D(
        "1.00000000"
    )  # 60,000/60,000/1x
    # funding at 8 h: short receives 600 * 100 / 60,000 * 0.0001 = 0.0001 BTC
    clock.advance(3)  # T0 is 22:13 UTC: the next settlement is 00:00 UTC
    [paid] = paper.funding_received(BTCUSD, 0)
    assert (paid.amount, paid.currency) == (D("0.0001"), "BTC")
    # close at 50,000 (buy 600 at 50,000 * 1.0005 = 50,025): realised
    # -60,000 * (1/59,970 - 1/50,025) = +0.19889... BTC, fee 60,000 / 50,025 * 0.0005 = 0.00059970
    market.marks[BTCUSD] = D(50000)
    paper.place_order(order(BTCUSD, OrderSide.BUY, "600", "b1"))
    realised = (D(60000) * (1 / D(59970) - 1 / D(50025))).quantize(D("1e-8"))
    expected = D("0.99949975") + D("0.0001") - realised - D("0.00059970")
    assert {b.currency: b.total for b in paper.balances()}["BTC"] == expected
    assert paper.positions([BTCUSD]) == []


def test_added_contracts_average_the_entry_harmonically(tmp_path, clock):
    market = coin_market(clock)
    paper = coin_paper(tmp_path, clock, market, btc="5")
    market.marks[BTCUSD] = D("60030.015007503751875938")  # fills at 60,000 exactly
    paper.place_order(order(BTCUSD, OrderSide.SELL, "100", "a"))
    market.marks[BTCUSD] = D("40020.010005002501250625")  # fills at 40,000
    paper.place_order(order(BTCUSD, OrderSide.SELL, "300", "b"))
    # 400 / (100/60,000 + 300/40,000) = 400 / 0.0091666... = 43,636.3636...
    assert paper.positions([BTCUSD])[0].entry_price == D("43636.36363636")


def test_coins_plus_1x_short_stay_flat_in_usd_and_never_liquidate(tmp_path, clock):
    market = coin_market(clock)
    paper = coin_paper(tmp_path, clock, market, btc="1.01")
    paper.set_leverage(BTCUSD, 1)
    paper.place_order(order(BTCUSD, OrderSide.SELL, "600", "h1"))  # 1 BTC at 60,000
    values = []
    for price in (20000, 45000, 60000, 90000, 300000):
        market.marks[BTCUSD] = D(price)
        [pos] = paper.positions([BTCUSD])
        btc = {b.currency: b for b in paper.balances()}["BTC"]
        values.append(float(btc.total + pos.unrealized_pnl) * price)
        assert pos.liquidation_price is None  # wallet 1.0095 > Q/EP = 1.0005: fully covered
    # USD value = (wallet + PnL) * P = (W - Q/EP) * P + Q: only the uncovered 0.0090 BTC moves
    uncovered = 1.01 - 0.00050025 - 60000 / 59970
    for value, price in zip(values, (20000, 45000, 60000, 90000, 300000), strict=True):
        assert value == pytest.approx(
            uncovered * price + 60000, abs=1e-8 * price
        )  # PnL to 1e-8 BTC


def test_margin_and_liquidation_per_coin_wallet(tmp_path, clock):
    market = coin_market(clock)
    paper = coin_paper(tmp_path, clock, market, btc="0.05")
    paper.set_leverage(BTCUSD, 20)
    paper.set_leverage(ETHUSD, 1)
    paper.place_order(order(ETHUSD, OrderSide.SELL, "3000", "e1"))  # 10 ETH, its own wallet
    rejected = paper.place_order(order(BTCUSD, OrderSide.SELL, "1000", "x"))  # IM 1.667 BTC
    assert "margin is insufficient" in rejected.reason
    paper.place_order(order(BTCUSD, OrderSide.SELL, "300", "b1"))  # 300 * 100 = 30,000 USD
    [btc_pos] = paper.positions([BTCUSD])
    assert btc_pos.liquidation_price is not None and btc_pos.liquidation_price > 60000
    mark = btc_pos.liquidation_price * D("1.001")
    market.marks[BTCUSD] = mark
    assert paper.positions([BTCUSD]) == [] and len(paper.liquidations()) == 1
    # wallet 0.05 - fee 300 x 100 / 59,970 x 0.0005 = 0.04974987 BTC; closed at the mark:
    # PnL -30,000 x (1/59,970 - 1/mark), clearance fee 30,000 / mark x 1 %; floored at zero
    q = D(30000)
    pnl = (-q * (1 / D(59970) - 1 / mark)).quantize(D("1e-8"))
    left = D("0.04974987") + pnl - (q / mark * D("0.01")).quantize(D("1e-8"))
    assert {b.currency: b.total for b in paper.balances()}["BTC"] == max(left, D(0))
    assert paper.positions([ETHUSD])[0].contracts == D(-3000)  # the ETH wallet is untouched


def test_a_version_1_state_file_reads_as_a_usdt_wallet(tmp_path, clock):
    path = tmp_path / "paper" / "binance.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        '{"version": 1, "created_ms": 0, "funding_until_ms": T0, "wallet": "123.5", "marks": {},'
        ' "leverage": {}, "positions": {}, "orders": {}, "fills": [], "funding": [],'
        ' "liquidations": [], "seq": 0, "settings": {"slippage": 0.0005,'
        ' "partial_fill_ratio": 1.0}}'.replace("T0", str(T0))
    )
    paper = PaperExchange(path, StaticMarket(clock), clock)
    assert [(b.currency, b.total) for b in paper.balances()] == [("USDT", D("123.5"))]


TARGETS = [LegTarget(BTCUSD, D(-600), 1), LegTarget(ETHUSD, D(-3000), 1)]


def open_inverse(home: Path) -> None:
    clock = ManualClock(T0)
    paper = coin_paper(home, clock, coin_market(clock))
    with Journal(home / "journal.sqlite") as journal:
        session = make_session(home, paper, journal)
        resume_open_intents(session)
        proposal = propose(session, TARGETS, "open", ExecutionLimits(max_leverage=2))
        if proposal.has_orders:
            execute(session, proposal, "portfolio_inverse.toml")


def forked(home: Path, crash_after: int | None) -> int:
    return run_forked(open_inverse, home, crash_after)


def test_inverse_open_killed_mid_run_then_restarted(tmp_path):
    home = tmp_path / "inverse"
    assert forked(home, 12) == 137  # inside the BTC leg's orders
    assert forked(home, None) == 0
    clock = ManualClock(T0)
    paper = coin_paper(home, clock, coin_market(clock))
    with Journal(home / "journal.sqlite") as journal:
        held = {p.symbol: p.contracts for p in paper.positions([BTCUSD, ETHUSD])}
        assert held == {BTCUSD: D(-600), ETHUSD: D(-3000)}
        assert compare_with_journal(journal, paper) == []
        exchange_fills = {f.trade_id for s in (BTCUSD, ETHUSD) for f in paper.fills(s, 0)}
        assert {f.trade_id for f in journal.fills()} == exchange_fills
        assert sum(f.qty for f in journal.fills(BTCUSD)) == 600  # each fill journaled once


def test_a_1x_short_of_all_the_coins_fits_after_its_costs_but_not_more(tmp_path, clock):
    market = coin_market(clock)
    paper = coin_paper(tmp_path, clock, market)
    paper.set_leverage(BTCUSD, 1)
    # 600 contracts = 1 BTC at 60,000: margin 1 BTC, equity 1 BTC; fee and slippage (0.1 %)
    # come out of the coins after the fill
    assert paper.place_order(order(BTCUSD, OrderSide.SELL, "600", "all")).reason == ""
    # one more contract needs 601 / 600 BTC > equity 0.999 + 0.1 % allowance
    extra = paper.place_order(order(BTCUSD, OrderSide.SELL, "1", "more"))
    assert "margin is insufficient" in extra.reason


coin_trades = st.lists(
    st.tuples(
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(min_value=1, max_value=500),  # contracts of 100 USD
        st.integers(min_value=30_000, max_value=90_000),  # mark before the trade
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40)
@given(trades=coin_trades)
def test_coin_is_conserved_through_any_sequence_of_fills(tmp_path_factory, trades):
    """wallet + unrealised PnL = start - fees + sum of signed contracts x 100 x (1/fill - 1/final)
    in BTC: harmonic entries, flips and realised PnL all agree (up to the 1e-8 BTC ledger)."""
    home = tmp_path_factory.mktemp("coin")
    clock = ManualClock(T0)
    market = coin_market(clock)
    paper = coin_paper(home, clock, market, btc="1000")
    for i, (side, contracts, mark) in enumerate(trades):
        market.marks[BTCUSD] = D(mark)
        paper.place_order(order(BTCUSD, side, str(contracts), f"t{i}"))
    fills = paper.fills(BTCUSD, 0)
    assert len(fills) == len(trades)
    signed = [f.qty * f.side.sign for f in fills]
    held = paper.positions([BTCUSD])
    assert (held[0].contracts if held else D(0)) == sum(signed, D(0))
    final = D(trades[-1][2])
    pnl = sum(
        (q * 100 * (1 / f.price - 1 / final) for q, f in zip(signed, fills, strict=True)), D(0)
    )
    expected = D(1000) - sum(f.fee for f in fills) + pnl
    wallet = {b.currency: b.total for b in paper.balances()}["BTC"]
    equity = wallet + (held[0].unrealized_pnl if held else D(0))
    assert float(equity) == pytest.approx(float(expected), abs=1e-7 * len(trades))


def test_replay_uses_last_trade_candles_as_the_mark_and_says_so_once(tmp_path):
    from perphedge.exchanges.replay import StoreMarketData
    from perphedge.store.market import MarketStore

    # 2024-06-17 08:00 UTC: the BTCUSD_PERP 8 h candle opened at 00:00 closed at 66,118.0
    market = StoreMarketData(MarketStore(), "binance", ManualClock(1_718_611_200_000))
    assert market.mark_price(BTCUSD).price == D("66118.0")
    assert market.mark_price(BTCUSD).price == D("66118.0")
    assert market.notes == [
        "binance BTC/USD:BTC: no mark prices stored, last-trade price used as the mark"
    ]
    market.mark_price("BTC/USDT:USDT")  # a stored mark: no note
    assert len(market.notes) == 1
