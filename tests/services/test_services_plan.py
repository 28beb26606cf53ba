"""The plan service on fakes of its ports: inputs with their as-of times, stale data, live port."""

from __future__ import annotations

import pytest

from perphedge.clocks import ManualClock
from perphedge.config import parse_portfolio
from perphedge.errors import DataError, InputError
from perphedge.hedge.stress import StressSpec
from perphedge.services.inputs import BASELINE_RATE_PER_8H
from perphedge.services.plan import PlanRequest, plan_portfolio, stress_portfolio
from tests.factories import portfolio_text
from tests.fakes.ports import DAY_MS, FakeHistory, FakeMarket

T0 = 1_780_000_000_000  # 2026-05-28 UTC
BTC_ETH = [{"asset": "BTC", "quantity": 0.5}, {"asset": "ETH", "quantity": 8}]


def history() -> FakeHistory:
    return FakeHistory(
        closes={("BTC/USDT", "spot"): (T0, 60_000.0), ("ETH/USDT:USDT", "mark"): (T0, 3_000.0)},
        rates={"BTC/USDT:USDT": (T0, 0.0002)},
    )


def test_offline_inputs_come_from_history_with_their_time_and_source():
    cfg = parse_portfolio(portfolio_text(BTC_ETH, leverage=5))
    result = plan_portfolio(cfg, PlanRequest(), history(), ManualClock(T0 + DAY_MS))
    btc, eth = result.plan.legs
    assert (btc.mark, eth.mark) == (60_000.0, 3_000.0)  # spot close, else the perpetual's mark
    assert btc.rate_per_interval == pytest.approx(0.0002)  # the stored mean
    assert eth.rate_per_interval == BASELINE_RATE_PER_8H  # nothing stored: the baseline
    by_subject = {a.subject: a for a in result.as_of}
    assert by_subject["BTC price"].ts_ms == T0
    assert by_subject["BTC price"].source == "local store: binance BTC/USDT spot close"
    assert by_subject["ETH price"].source == "local store: binance ETH/USDT:USDT mark close"
    assert by_subject["BTC/USDT:USDT funding"].ts_ms == T0
    assert "ETH/USDT:USDT funding" not in by_subject  # the baseline has no time
    assert result.stale == ()  # one day old


def test_data_older_than_the_limit_is_warned_about_with_its_date():
    cfg = parse_portfolio(portfolio_text(BTC_ETH))
    result = plan_portfolio(cfg, PlanRequest(stale_days=7), history(), ManualClock(T0 + 8 * DAY_MS))
    assert len(result.stale) == 3  # two prices and one funding series
    assert result.stale[0].startswith("BTC price is 8 days old (local store: binance BTC/USDT")
    assert "2026-05-28" in result.stale[0]
    fresh = plan_portfolio(cfg, PlanRequest(stale_days=9), history(), ManualClock(T0 + 8 * DAY_MS))
    assert fresh.stale == ()


def test_prices_in_the_file_are_not_dated_and_never_stale():
    cfg = parse_portfolio(portfolio_text([{"asset": "BTC", "quantity": 1, "price": 50_000}]))
    result = plan_portfolio(cfg, PlanRequest(), FakeHistory(), ManualClock(T0 + 400 * DAY_MS))
    assert result.stale == ()
    assert result.plan.legs[0].mark == 50_000.0


def test_live_port_supplies_marks_contracts_and_funding():
    market = FakeMarket({"BTC/USDT:USDT": 61_000.0, "ETH/USDT:USDT": 3_100.0}, 0.0003, 4.0, T0)
    opened: list[tuple[str, str]] = []

    def open_live(exchange, kind):
        opened.append((exchange, kind.value))
        return market

    cfg = parse_portfolio(portfolio_text(BTC_ETH))
    result = plan_portfolio(cfg, PlanRequest(), FakeHistory(), ManualClock(T0), open_live)
    assert opened == [("binance", "linear")]
    assert [leg.mark for leg in result.plan.legs] == [61_000.0, 3_100.0]
    assert {leg.interval_hours for leg in result.plan.legs} == {4.0}
    assert any(a.source == "BTC/USDT:USDT mark (live)" and a.ts_ms == T0 for a in result.as_of)


def test_a_missing_offline_spec_is_not_called_a_missing_perpetual():
    cfg = parse_portfolio(portfolio_text([{"asset": "PEPE", "quantity": 1000, "price": 1e-5}]))
    result = plan_portfolio(cfg, PlanRequest(), FakeHistory(), ManualClock(T0))
    (warning,) = result.plan.warnings
    assert warning.code == "no_offline_spec" and "plan --live" in warning.message


def test_live_port_without_the_contract_says_the_venue_has_none():
    class NoPepe(FakeMarket):
        def instrument(self, symbol):
            raise InputError("symbol", symbol, "no such market")

    cfg = parse_portfolio(portfolio_text([{"asset": "PEPE", "quantity": 1000, "price": 1e-5}]))
    market = NoPepe({})
    result = plan_portfolio(cfg, PlanRequest(), FakeHistory(), ManualClock(T0), lambda e, k: market)
    (warning,) = result.plan.warnings
    assert warning.code == "no_perpetual"


def test_no_price_anywhere_is_a_data_error_naming_the_fix():
    cfg = parse_portfolio(portfolio_text([{"asset": "ETH", "quantity": 8}]))
    with pytest.raises(
        DataError, match=r"add price = \.\.\. to the holding or run perphedge data sync"
    ):
        plan_portfolio(cfg, PlanRequest(), FakeHistory(), ManualClock(T0))


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("--min-liq-distance", {"min_liq_distance_pct": 130.0}),
        ("--min-liq-distance", {"min_liq_distance_pct": float("nan")}),
        ("--max-funding-cost", {"max_funding_cost_pct": float("inf")}),
        ("--stale-days", {"stale_days": 0.0}),
    ],
)
def test_bad_request_names_the_option(field, kwargs):
    with pytest.raises(InputError, match=f"^{field}="):
        PlanRequest(**kwargs)


def test_percent_options_become_fractions_once():
    cfg = parse_portfolio(portfolio_text(BTC_ETH, leverage=5))
    request = PlanRequest(min_liq_distance_pct=25.0, max_funding_cost_pct=3.0)
    plan = plan_portfolio(cfg, request, history(), ManualClock(T0)).plan
    assert (plan.spec.min_liquidation_distance, plan.spec.max_funding_cost_apr) == (0.25, 0.03)


def test_stress_runs_on_the_same_plan():
    cfg = parse_portfolio(portfolio_text(BTC_ETH, leverage=2))
    outcome = stress_portfolio(cfg, PlanRequest(), StressSpec(), history(), ManualClock(T0))
    again = plan_portfolio(cfg, PlanRequest(), history(), ManualClock(T0))
    assert outcome.planned.plan == again.plan
    assert outcome.stress.price_shocks


def test_paper_deposit_is_margin_plus_the_keeper_reserve_or_the_margin_again():
    from perphedge.services.paper import NO_RESERVE_NOTE, paper_deposit

    cfg = parse_portfolio(portfolio_text(BTC_ETH, leverage=5))
    result = plan_portfolio(cfg, PlanRequest(), history(), ManualClock(T0))
    assert result.reserve is None  # the fake history holds no daily marks
    deposit = paper_deposit(result.plan, result.reserve)
    # 0.5 x 60,000 + 8 x 3,000 = 54,000 at 5x: 10,800 margin, and as much again in reserve
    assert (deposit.initial_margin_usd, deposit.reserve_usd) == pytest.approx((10_800, 10_800))
    assert deposit.usdt == 21_600 and deposit.note == NO_RESERVE_NOTE


def test_the_plan_s_time_is_its_latest_stored_price_else_its_latest_stored_figure():
    cfg = parse_portfolio(portfolio_text(BTC_ETH, leverage=5))
    stored = FakeHistory(
        closes={("BTC/USDT", "spot"): (T0, 60_000.0), ("ETH/USDT", "spot"): (T0 - DAY_MS, 3e3)},
        rates={"BTC/USDT:USDT": (T0 + DAY_MS, 0.0002)},  # funding stored a day later
    )
    clock = ManualClock(T0)
    # the paper replay starts here: the latest price, not the later funding
    assert plan_portfolio(cfg, PlanRequest(), stored, clock).as_of_ms == T0
    btc_priced = {"asset": "BTC", "quantity": 0.5, "price": 60_000.0}
    priced = parse_portfolio(portfolio_text([btc_priced], leverage=5))
    # every price given in the file: the stored funding dates the plan
    assert plan_portfolio(priced, PlanRequest(), stored, clock).as_of_ms == T0 + DAY_MS
    # nothing stored at all: no time
    assert plan_portfolio(priced, PlanRequest(), FakeHistory(), clock).as_of_ms is None
