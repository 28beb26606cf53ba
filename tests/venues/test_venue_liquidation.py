"""OKX-style liquidation (MM = value x rate, no deduction) at bracket edges.

Without a maintenance amount, MM jumps up where a bracket starts; the margin can run out exactly
there, a point no per-bracket solve finds. These tests pin that the liquidation price is the
first point on the losing side where equity + PnL <= MM.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.instruments import MarginTier, TierTable
from perphedge.margin import Position, Rules, Side, liquidation, notional, unrealized_pnl
from perphedge.venues import tier_tables

TWO_BRACKETS = TierTable(
    (
        MarginTier(0.0, 100_000.0, 100.0, 0.01, 0.0),
        MarginTier(100_000.0, math.inf, 10.0, 0.10, 9_000.0),  # cum = 100,000 x (10 % - 1 %)
    )
)


def test_a_short_is_liquidated_at_the_bracket_edge():
    # Short 1 BTC @ 90,000 with 15,000 margin, OKX rule, no fee.
    # bracket 1 root: (15,000 + 90,000) / 1.01 = 103,960.4 -> notional above 100,000: not in it
    # bracket 2 root: 105,000 / 1.10 = 95,454.5 -> notional below 100,000: not in it either
    # At 100,000: equity 15,000 - 10,000 = 5,000 <= MM 100,000 x 10 % = 10,000 -> liquidated;
    # just below it: equity ~5,000 > MM ~1,000. So the liquidation price is the edge itself.
    pos = Position(Side.SHORT, 1.0, 90_000.0)
    liq = liquidation(pos, 15_000.0, TWO_BRACKETS, rules=Rules.OKX)
    assert liq.price == 100_000.0
    assert liq.tier is TWO_BRACKETS.tiers[1]
    # Binance keeps cum, so MM is continuous: (15,000 + 9,000 + 90,000) / 1.1 = 103,636.36
    binance = liquidation(pos, 15_000.0, TWO_BRACKETS, rules=Rules.BINANCE)
    assert binance.price is not None
    assert math.isclose(binance.price, 114_000 / 1.1, rel_tol=1e-12)


def _under_margined(pos: Position, wallet: float, tiers: TierTable, price: float) -> bool:
    value = notional(pos, price)
    return wallet + unrealized_pnl(pos, price) <= value * tiers.tier_for(value).mmr


@settings(max_examples=120)
@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    qty=st.floats(0.5, 5000.0),
    entry=st.floats(1000.0, 150_000.0),
    lev_share=st.floats(0.05, 1.0),
)
def test_okx_liquidation_is_the_first_under_margined_price(side, qty, entry, lev_share):
    tiers = tier_tables.bundled("binance:BTCUSDT")
    pos = Position(side, qty, entry)
    leverage = max(1.0, lev_share * tiers.max_leverage_for(qty * entry))
    wallet = qty * entry / leverage
    price = liquidation(pos, wallet, tiers, rules=Rules.OKX).price
    if price is None or _under_margined(pos, wallet, tiers, entry):
        return
    # no point strictly between entry and the liquidation price is already under-margined
    steps = 400
    assert not any(
        _under_margined(pos, wallet, tiers, entry + (price - entry) * k / steps)
        for k in range(1, steps)
    )
    step_past = price * (1 + 1e-9) if side is Side.SHORT else price * (1 - 1e-9)
    assert _under_margined(pos, wallet, tiers, step_past)
