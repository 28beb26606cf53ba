"""Margin, liquidation and bankruptcy prices against the published vectors.

Vector numbers refer to ../shared/reference/mechanics.md section 7; each test cites the original
source. "ft-mock" = freqtrade's test with MMR 0.01, cum 0.01 and WB = q * EP / L.
"""

from __future__ import annotations

import pytest

from perphedge.errors import InputError
from perphedge.instruments import ContractKind, TierTable
from perphedge.margin import (
    MarginMode,
    Position,
    Rules,
    Side,
    bankruptcy_price,
    initial_margin,
    liquidation,
    maintenance_margin,
    margin_ratio,
    notional,
    position_risk,
    tier_maintenance,
    trade_fee,
    unrealized_pnl,
)
from perphedge.venues import tier_tables

LONG, SHORT = Side.LONG, Side.SHORT
INV = ContractKind.INVERSE


def lp(pos, wallet, tiers, **kw):
    return liquidation(pos, wallet, tiers, **kw).price


def test_v3_binance_worked_example_isolated_long_eth():
    """V3: Binance USDⓈ-M FAQ worked example as tested by freqtrade test_get_liquidation_price.

    ETHUSDT long 3683.979 @ 1456.84, WB 1,535,443.01, MMR 10 %, cum 135,365 -> LP 1,114.78.
    """
    pos = Position(LONG, 3683.979, 1456.84)
    price = lp(pos, 1_535_443.01, TierTable.flat(0.10, 135_365))
    assert round(price, 2) == 1114.78


FT_MOCK = TierTable.flat(0.01, 0.01)


@pytest.mark.parametrize(
    ("vector", "side", "leverage", "entry", "qty", "expected"),
    [
        ("V5", SHORT, 5, 10, 1, 11.89108910891089),
        ("V6", SHORT, 3, 10, 1, 13.2112211221122),  # exact algebra; freqtrade prints ...079207
        ("V7", SHORT, 5, 8, 1, 9.514851485148514),
        ("V8", SHORT, 5, 10, 0.6, 11.897689768976898),
        ("V9", LONG, 5, 10, 1, 8.070707070707071),
        ("V10", LONG, 5, 8, 1, 6.454545454545454),
        ("V11", LONG, 3, 10, 1, 6.723905723905723),
        ("V12", LONG, 5, 10, 0.6, 8.063973063973064),
    ],
)
def test_v5_v12_binance_isolated(vector, side, leverage, entry, qty, expected):
    """V5-V12: freqtrade tests/exchange/test_exchange.py::test_get_liquidation_price @ c9ae5e1."""
    pos = Position(side, qty, entry)
    wallet = qty * entry / leverage
    assert lp(pos, wallet, FT_MOCK) == pytest.approx(expected, rel=1e-12), vector


@pytest.mark.parametrize(
    ("vector", "side", "leverage", "entry", "qty", "expected"),
    [
        ("V13", SHORT, 5, 10, 1, 11.87413417771621),
        ("V14", SHORT, 5, 10, 2, 11.87413417771621),
        ("V15", SHORT, 3, 10, 1, 13.193482419684678),
        ("V16", SHORT, 5, 8, 1, 9.499307342172967),
        ("V17", LONG, 5, 10, 1, 8.085708510208207),
        ("V18", LONG, 3, 10, 1, 6.738090425173506),
    ],
)
def test_v13_v18_okx_isolated(vector, side, leverage, entry, qty, expected):
    """V13-V18: freqtrade generic (OKX/Gate) liquidation, MMR 0.01, taker 0.0006 @ c9ae5e1.

    OKX isolated margin ratio = (margin + UPL) / (MM + value * taker): LP_short =
    (EP + v) / (1 + MMR + taker) with v = margin / q.
    """
    pos = Position(side, qty, entry)
    wallet = qty * entry / leverage
    price = lp(pos, wallet, TierTable.flat(0.01), rules=Rules.OKX, taker_fee=0.0006)
    assert price == pytest.approx(expected, rel=1e-12), vector


@pytest.mark.parametrize(
    ("leverage", "long_lp", "short_lp"),
    [(1, 0.1, 19.9), (3, 6.766666666666667, 13.233333333333333), (5, 8.1, 11.9), (10, 9.1, 10.9)],
)
def test_v19_v26_bybit_isolated(leverage, long_lp, short_lp):
    """V19-V26: Bybit "Liquidation Price (USDT Contract)", as freqtrade's Bybit dry-run formula.

    LP_long = EP * (1 - 1/L + MMR), LP_short = EP * (1 + 1/L - MMR); EP 10, MMR 0.01.
    """
    tiers = TierTable.flat(0.01)
    for side, expected in ((LONG, long_lp), (SHORT, short_lp)):
        pos = Position(side, 1, 10)
        price = lp(pos, 10 / leverage, tiers, rules=Rules.BYBIT)
        assert price == pytest.approx(expected, rel=1e-12)


def test_v29_bybit_inverse_isolated_long_both_forms():
    """V29: Bybit UTA isolated page, inverse: 60,000 USD long @ 50,000, 10x, MMR 0.5 %.

    PV = 60,000 / 50,000 = 1.2 BTC, IM = 0.12, MM = 0.006.
    Old form: LP = Q / (PV + IM - MM) = 60,000 / 1.314 = 45,662.10.
    Newer form (= Binance COIN-M algebra with WB = IM): Q (1 + MMR) / (PV + IM) = 45,681.82.
    """
    pos = Position(LONG, 60_000, 50_000, INV, 1.0)
    tiers = TierTable.flat(0.005)
    wallet = initial_margin(pos, 10)
    assert wallet == pytest.approx(0.12)
    assert round(lp(pos, wallet, tiers, rules=Rules.BYBIT), 2) == 45_662.10
    assert round(lp(pos, wallet, tiers, rules=Rules.BINANCE), 2) == 45_681.82


def test_v30_bybit_inverse_cross_bankruptcy_price():
    """V30: Bybit "How to calculate Liquidation Price (Inverse Contract)" cross example.

    Balance 0.5 BTC, 10,000 contracts (1 USD) long @ 8,000, taker 0.075 %:
    BP = Q (1 + fee) / (WB + Q / EP) = 10,000 * 1.00075 / (0.5 + 1.25) = 5,718.57.
    (The page's LP 5,739.50 does not follow from its own equation, so it is not asserted.)
    """
    pos = Position(LONG, 10_000, 8_000, INV, 1.0)
    assert round(bankruptcy_price(pos, 0.5, close_fee_rate=0.00075), 2) == 5_718.57


def test_v32_coin_margined_one_x_short_has_no_liquidation():
    """V32: derived in mechanics.md 3.4 — WB = Q / EP makes the denominator equal cum >= 0."""
    pos = Position(SHORT, 1_000, 50_000, INV, 100.0)  # Q = 100,000 USD, 2 BTC
    for tiers in (TierTable.flat(0.004), TierTable.flat(0.005, 0.01)):
        result = liquidation(pos, 2.0, tiers)
        assert result.price is None
    assert bankruptcy_price(pos, 2.0) is None


def test_coin_deficit_creates_remote_liquidation():
    """mechanics.md 3.4: deficit d = 0.01 BTC, cum 0 -> LP ~ Q (1 - MMR) / d ~ 9.96 M USD."""
    pos = Position(SHORT, 100_000, 50_000, INV, 1.0)
    price = lp(pos, 2.0 - 0.01, TierTable.flat(0.004))
    assert price == pytest.approx(100_000 * 0.996 / 0.01, rel=1e-12)


def test_v33_inverse_short_pnl():
    """V33: nautilus_trader test_calculate_pnl_for_inverse1 @ 095a892 (XBTUSD, 1 USD contracts).

    Short 100,000 @ 10,000 -> 11,000: PnL = -100,000 (1/10,000 - 1/11,000) = -0.90909091 BTC;
    notional at 11,000 = 9.09090909 BTC.
    """
    pos = Position(SHORT, 100_000, 10_000, INV, 1.0)
    assert round(unrealized_pnl(pos, 11_000), 8) == -0.90909091
    assert round(notional(pos, 11_000), 8) == 9.09090909


def test_v34_v35_inverse_pnl():
    """V34-V35: nautilus inverse PnL tests @ 095a892."""
    short = Position(SHORT, 100_000, 10_500, INV, 1.0)
    assert round(unrealized_pnl(short, 10_670.50), 8) == -0.15217745
    long = Position(LONG, 100_000, 10_500, INV, 1.0)
    assert round(unrealized_pnl(long, 11_505.60), 8) == 0.83238969


def test_v37_v38_inverse_margins():
    """V37-V38: nautilus test_margin.py @ 02d6001: 100,000 XBTUSD @ 11,493.60.

    IM = 100,000 / 11,493.60 * 1 % = 0.08700494 BTC; MM at 0.35 % = 0.03045173 BTC.
    """
    pos = Position(LONG, 100_000, 11_493.60, INV, 1.0)
    assert round(initial_margin(pos, 100), 8) == 0.08700494
    mm = maintenance_margin(pos, 11_493.60, TierTable.flat(0.0035))
    assert round(mm, 8) == 0.03045173


def test_v39_v41_linear_pnl():
    """V39-V41: nautilus test_position.py @ 095a892 (linear)."""
    short = Position(SHORT, 10, 10_500)
    assert unrealized_pnl(short, 10_670.50) == pytest.approx(-1_705.0)
    assert notional(short, 10_670.50) == pytest.approx(106_705.0)
    assert unrealized_pnl(Position(LONG, 4, 10_500), 11_505.60) == pytest.approx(4_022.40)
    assert unrealized_pnl(Position(SHORT, 5.912, 10_505.60), 10_407.15) == pytest.approx(582.0364)


def test_v52_tier_lookup_old_btcusdt_table():
    """V52: freqtrade test_get_maintenance_ratio_and_amt_binance (old BTCUSDT table, §2.2)."""
    tiers = tier_tables.bundled("binance-2021:BTCUSDT")
    low = tiers.tier_for(170.30)
    assert (low.mmr, low.cum) == (0.004, 0)
    top = tiers.tier_for(600_000_000)
    assert (top.mmr, top.cum) == (0.5, 199_703_800)


def test_binance_faq_maintenance_examples():
    """Binance FAQ MM examples: 3,500,032.458 * 2.5 % - 16,300 = 71,200.81144 and
    4,918,775.081 * 10 % - 135,365 = 356,512.5081."""
    assert tier_maintenance(TierTable.flat(0.025, 16_300), 3_500_032.458) == pytest.approx(
        71_200.81145, rel=1e-9
    )
    assert tier_maintenance(TierTable.flat(0.10, 135_365), 4_918_775.081) == pytest.approx(
        356_512.5081, rel=1e-9
    )


def test_binance_faq_cum_example_and_bundled_tables_follow_recursion():
    """Binance FAQ: level 3 cum = 250,000 * (1 % - 0.5 %) + 50 = 1,300 (old table); the 2024-10
    BTCUSDT and ETHUSDT tables satisfy cum_k = cum_{k-1} + floor_k (MMR_k - MMR_{k-1})."""
    old = tier_tables.bundled("binance-2021:BTCUSDT")
    assert old.tiers[2].cum == 1_300
    for name in tier_tables.names():
        assert tier_tables.bundled(name).cum_is_consistent(), name
    derived = TierTable.from_rates([(t.floor, t.cap, t.max_leverage, t.mmr) for t in old.tiers])
    assert [t.cum for t in derived.tiers] == pytest.approx([t.cum for t in old.tiers])


def test_tier_recheck_at_liquidation_price():
    """Binance: MMR/cum must be those of the bracket containing q * LP.

    1 BTC short @ 60,000 at 1x on the 2024-10 table: tier 1 gives
    (60,000 + 60,000) / 1.004 = 119,521.9 whose notional lies in tier 2, so tier 2 is used:
    (60,000 + 50 + 60,000) / 1.005 = 119,452.74.
    """
    result = liquidation(Position(SHORT, 1, 60_000), 60_000, tier_tables.bundled("binance:BTCUSDT"))
    assert result.tier.mmr == 0.005
    assert round(result.price, 2) == 119_452.74
    assert result.tier.contains(1 * result.price)


def test_cross_margin_inverse_uses_others():
    """COIN-M cross, long: LP = Q (MMR + 1) / (WB - TMM1 + UPNL1 + cum + Q/EP).

    Q = 10 * 100 = 1,000 USD @ 20,000; WB 0.02, TMM1 0.001, UPNL1 -0.002, MMR 0.5 %:
    LP = 1,000 * 1.005 / (0.02 - 0.001 - 0.002 + 0.05) = 1,005 / 0.067 = 15,000.
    """
    pos = Position(LONG, 10, 20_000, INV, 100.0)
    price = lp(
        pos,
        0.02,
        TierTable.flat(0.005),
        mode=MarginMode.CROSS,
        other_mm=0.001,
        other_upnl=-0.002,
    )
    assert price == pytest.approx(15_000.0, rel=1e-12)


def test_margin_ratio_binance_definition():
    # 1 BTC short @ 60,000, WB 12,000, mark 66,000: MB = 12,000 - 6,000 = 6,000;
    # MM = 66,000 * 0.5 % - 50 = 280 (tier 2) -> ratio 280 / 6,000
    tiers = tier_tables.bundled("binance:BTCUSDT")
    ratio = margin_ratio(Position(SHORT, 1, 60_000), 12_000, 66_000, tiers)
    assert ratio == pytest.approx(280 / 6_000)


def test_position_risk_refuses_leverage_above_tier_max():
    tiers = tier_tables.bundled("binance:BTCUSDT")
    with pytest.raises(InputError, match="leverage"):
        position_risk(Position(SHORT, 10, 60_000), leverage=101, tiers=tiers)  # 600k -> 75x cap
    risk = position_risk(Position(SHORT, 10, 60_000), leverage=75, tiers=tiers)
    assert risk.initial_margin == pytest.approx(8_000)


def test_isolated_refuses_other_positions():
    with pytest.raises(InputError, match="cross"):
        liquidation(Position(SHORT, 1, 10), 2, FT_MOCK, other_mm=1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_position_rejects_bad_numbers(bad):
    with pytest.raises(InputError, match="size"):
        Position(SHORT, bad, 10)
    with pytest.raises(InputError, match="entry_price"):
        Position(SHORT, 1, bad)


def test_okx_maintenance_margin_includes_the_liquidation_fee():
    """OKX isolated: MM + liquidation fee = value * (MMR + taker); V13's position at entry:
    10 * (0.01 + 0.0006) = 0.106; margin ratio as reported = 0.106 / 2 (margin 10 / 5)."""
    risk = position_risk(
        Position(SHORT, 1, 10),
        leverage=5,
        tiers=TierTable.flat(0.01),
        rules=Rules.OKX,
        taker_fee=0.0006,
    )
    assert risk.maintenance_margin == pytest.approx(0.106, rel=1e-12)
    assert risk.margin_ratio == pytest.approx(0.053, rel=1e-12)
    assert risk.liquidation_price == pytest.approx(11.87413417771621, rel=1e-12)  # V13


def test_v43_v45_trading_fees_linear_and_inverse():
    """V43-V45: Binance fee FAQ 360033544231 examples.

    V44: buy 1 BTC @ 10,104, taker 0.05 % -> 10,104 * 0.0005 = 5.052 USDT.
    V45: sell 1 BTC @ 11,104, maker 0.02 % -> 11,104 * 0.0002 = 2.2208 USDT.
    V43: sell 10 BTCUSD contracts (100 USD) @ 11,104, maker 0.02 %: notional
    1,000 / 11,104 = 0.0900576 BTC (the FAQ prints "0.09"), fee 0.0000180115 BTC ("0.000018").
    """
    assert trade_fee(Position(LONG, 1, 10_104), 10_104, 0.0005) == pytest.approx(5.052)
    assert trade_fee(Position(SHORT, 1, 11_104), 11_104, 0.0002) == pytest.approx(2.2208)
    inverse = Position(SHORT, 10, 11_104, INV, 100.0)
    assert round(notional(inverse, 11_104), 7) == 0.0900576
    fee = trade_fee(inverse, 11_104, 0.0002)
    assert round(fee, 6) == 0.000018
    assert fee == pytest.approx(1_000 / 11_104 * 0.0002, rel=1e-12)
