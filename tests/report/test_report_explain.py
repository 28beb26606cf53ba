"""Plain words: the funding sign reads right, a liquidation reads as a loss, every metric is
explained."""

from __future__ import annotations

from perphedge.funding import funding_payment
from perphedge.margin import Position, Side
from perphedge.report.backtest_view import ROWS
from perphedge.report.explain import EXPLAIN, RISKS, cash_words, net_words, outcome_words


def test_a_positive_rate_reads_as_the_short_earning():
    short = Position(Side.SHORT, 1.0, 60_000.0)
    # 1 BTC short at 60,000, +0.01 % per 8 h: the short receives 6 USD
    assert cash_words(funding_payment(short, 60_000.0, 0.0001)) == "you earn 6.00 USD"
    assert cash_words(funding_payment(short, 60_000.0, -0.0001)) == "you pay 6.00 USD"
    assert cash_words(0.0) == "0 USD"


def test_a_liquidation_reads_as_a_loss_even_when_the_coins_gained():
    # +50 % at 5x: coins +27,000, the short's 10,800 of margin lost; net +16,189
    words = outcome_words(16_189.0, -10_800.0, liquidated=True)
    assert words.startswith("LOSS") and "10,800 USD of margin lost" in words
    assert "gain" not in words
    assert outcome_words(-5.2, 27_000.0, liquidated=False) == "you lose 5 USD"
    assert net_words(0.4) == "about even" and net_words(2.0) == "you gain 2 USD"


def test_every_reported_metric_and_risk_is_explained():
    for _, key, _ in ROWS:
        assert EXPLAIN[key].endswith("."), key
    for title, words in RISKS.values():
        assert title and words.count(". ") >= 1  # two sentences
