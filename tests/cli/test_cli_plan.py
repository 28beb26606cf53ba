"""`perphedge plan` and `perphedge stress` through the real CLI entry point."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.cli import wiring
from perphedge.cli.wiring import Adapters
from perphedge.errors import DataError
from perphedge.instruments import ContractKind, TierTable
from perphedge.ports import FundingRateQuote, MarketData, PriceQuote
from tests.factories import portfolio_file

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
ISSUE = str(EXAMPLES / "portfolio.toml")


def write(tmp_path: Path, text: str, name: str = "p.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_plan_json_of_the_issue_example(run_cli):
    r = run_cli("plan", ISSUE, "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["total_exposure"] == 54_000.0  # 0.5 * 60,000 + 8 * 3,000
    assert data["hedge_notional"] == 54_000.0
    assert data["initial_margin"] == 10_800.0  # 54,000 / 5
    btc, eth = data["legs"]
    assert (btc["symbol"], btc["side"], btc["qty"], btc["notional"]) == (
        "BTC/USDT:USDT", "short", 0.5, 30_000.0,
    )  # fmt: skip
    assert (eth["qty"], eth["initial_margin"]) == (8.0, 4_800.0)
    assert btc["liquidation_price"] == pytest.approx(36_000 / 0.502, rel=1e-12)
    assert data["orders_sent"] is False
    # the funding rate is the store's latest BTCUSDT settlement (bundled real sample)
    assert btc["funding_source"].startswith("store, ")
    assert btc["funding_per_year"] == pytest.approx(30_000 * btc["funding_rate"] * 3 * 365)
    assert [w["code"] for w in data["warnings"]] == ["liquidation_close"] * 2


def test_plan_table_shows_orders_not_sent(run_cli):
    r = run_cli("plan", ISSUE)
    assert r.code == 0, r.err
    assert "Orders that would open the hedge (NOT sent)" in r.out
    assert "71,713.15" in r.out  # BTC liquidation price, (6,000 + 30,000) / 0.502
    assert "54,000.00" in r.out and "10,800.00" in r.out


def test_stress_ten_percent_fall_is_flat_before_funding_and_fees(run_cli):
    r = run_cli("stress", ISSUE, "--json", "--shocks", "-10,0,25", "--horizon-days", "30")
    assert r.code == 0, r.err
    fall, flat, rally = json.loads(r.out)["price_shocks"]
    assert fall["spot_pnl"] == pytest.approx(-5_400.0)  # -10 % of 54,000
    assert fall["hedge_pnl"] == pytest.approx(5_400.0)
    assert fall["spot_pnl"] + fall["hedge_pnl"] == pytest.approx(0.0, abs=1e-9)
    # fees: open 54,000 * 0.02 % (limit) + close 48,600 * 0.05 % (taker) = 10.8 + 24.3
    assert fall["fees"] == pytest.approx(35.1)
    assert fall["net"] == pytest.approx(fall["funding"] - 35.1)
    # 30,000 * 0.4 % / 6,000, with the stored funding of the 30 days in the margin as well
    assert flat["margin_ratio"] == pytest.approx(0.02, rel=0.01)
    # +25 % passes both liquidation prices (+19.5 %): both isolated margins are lost
    assert rally["liquidated"] is True
    assert rally["hedge_pnl"] == pytest.approx(-10_800.0)
    # top-up: BTC 37,500 * 0.4 % - (6,000 - 7,500) = 1,650; ETH 120 - (4,800 - 6,000) = 1,320
    # (at the peak), or more where the stored funding of the 30 days drains the margin further
    # at the moved mark: at most the funding the shorts pay there on top
    assert 2_970.0 - 1e-6 <= rally["top_up"] <= 2_970.0 + 30 * 3 * 0.001 * 67_500


def test_stress_writes_a_self_contained_html_plot(run_cli, tmp_path):
    out = tmp_path / "stress.html"
    r = run_cli("stress", ISSUE, "--plot", str(out), "--shocks", "-50,0,50")
    assert r.code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert "<html" in page and '<script src="http' not in page  # plotly.js inlined
    assert len(page) > 1_000_000 and '"your coins"' in page
    assert "<h2>Inputs</h2>" in page and "LOSS: the short is liquidated" in page
    assert "Price shocks" in r.out


def test_inverse_example_has_no_liquidation_and_names_residual_risks(run_cli):
    r = run_cli("plan", str(EXAMPLES / "portfolio_inverse.toml"), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    btc, eth = data["legs"]
    assert (btc["symbol"], btc["qty"], btc["liquidation_price"]) == ("BTC/USD:BTC", 600, None)
    assert (eth["symbol"], eth["qty"], eth["liquidation_price"]) == ("ETH/USD:ETH", 3000, None)
    assert any("exchange risk" in note for note in data["notes"])


def test_proxy_example_hedges_the_alt_on_btc(run_cli):
    r = run_cli("plan", str(EXAMPLES / "portfolio_proxy.toml"), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    (leg,) = data["legs"]
    # 30,000 (BTC) + 20,000 * 0.8 * 1.3 (TAO on BTC) = 50,800 USD -> 0.84666 -> 0.846 BTC
    assert (leg["symbol"], leg["qty"], leg["residual"]) == ("BTC/USDT:USDT", 0.846, 40.0)


BAD = [
    ('[[holdings]]\nasset = "ETH"\nquantity = -3\nprice = 1', "holdings[0].quantity=-3"),
    ('[[holdings]]\nasset = "ETH"\nquantity = 1\nprice = 1\nratio = 2', "holdings[0].ratio=2"),
    ('[[holdings]]\nasset = "ETH"\nquantity = 1\ncolour = "red"', "holdings[0].colour: unknown"),
    ('[[holdings]]\nasset = "FOO"\nquantity = 1', "unknown asset"),
    ('[[holdings]]\nasset = "ETH"\nquantity = 1\nprice = 3000\n[hedge]\nleverage = 200',
     "at most 125x"),
    ('[[holdings]]\nasset = "ETH"\nquantity = 1\nprice = 1\n[hedge]\nexchange = "nope"',
     "exchange='nope'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, text, expected):
    r = run_cli("plan", write(tmp_path, text))
    assert r.code == 2
    assert expected in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_bad_stress_options_exit_2(run_cli):
    assert "--shocks" in run_cli("stress", ISSUE, "--shocks", "a,b").err
    r = run_cli("stress", ISSUE, "--shocks", "-100")
    assert r.code == 2 and "cannot fall 100 %" in r.err
    r = run_cli("stress", ISSUE, "--plot", "/tmp/x.svg")
    assert r.code == 2 and "--plot" in r.err


def test_missing_file_exit_2(run_cli, tmp_path):
    r = run_cli("plan", str(tmp_path / "none.toml"))
    assert r.code == 2 and "no such file" in r.err


class EmptyStore:
    """A market store that holds nothing."""

    def latest_price(self, exchange, symbol, kind="mark"):
        raise DataError(f"no {kind} prices for {exchange} {symbol}")

    def funding(self, exchange, symbol, since_ms=None, until_ms=None):
        raise DataError(f"no funding for {exchange} {symbol}")

    def prices(self, exchange, symbol, kind="spot", interval="1d", since_ms=None, until_ms=None):
        raise DataError(f"no {kind} prices for {exchange} {symbol}")


def test_missing_price_with_no_store_exit_2(run_cli, tmp_path):
    path = portfolio_file(tmp_path, [{"asset": "ETH", "quantity": 8}], "p.toml")
    r = run_cli("plan", str(path), adapters=Adapters(history=EmptyStore))
    assert r.code == 2
    assert r.err.strip() == (
        "error: no price for ETH: add price = ... to the holding or run perphedge data sync"
    )


def test_no_store_falls_back_to_the_baseline_rate_with_a_note(run_cli):
    data = json.loads(run_cli("plan", ISSUE, "--json", adapters=Adapters(history=EmptyStore)).out)
    assert data["legs"][0]["funding_rate"] == 0.0001
    assert any("baseline" in note for note in data["notes"])


class FakeMarket:
    """A MarketData port with fixed marks and funding, as an exchange adapter would give."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def mark_price(self, symbol: str) -> PriceQuote:
        self.asked.append(symbol)
        return PriceQuote(symbol, Decimal("50000") if symbol.startswith("BTC") else Decimal("2500"), 0)  # fmt: skip

    def instrument(self, symbol: str):
        from perphedge.venues import contract_specs

        inst = contract_specs.by_symbol("binance", symbol)
        return type(inst)(**{**inst.__dict__, "tiers": TierTable.flat(0.01, max_leverage=20)})

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        return FundingRateQuote(symbol, -0.0002, 4.0, None, 0)


def test_live_uses_the_market_data_port(run_cli, tmp_path):
    fake = FakeMarket()
    assert isinstance(fake, MarketData)
    path = portfolio_file(tmp_path, [{"asset": "BTC", "quantity": 1}], "p.toml", leverage=1)
    adapters = Adapters(live_market=lambda exchange, kind: fake)
    r = run_cli("plan", str(path), "--live", "--json", adapters=adapters)
    assert r.code == 0, r.err
    (leg,) = json.loads(r.out)["legs"]
    assert (leg["mark"], leg["notional"], leg["funding_interval_hours"]) == (50_000, 50_000, 4)
    # -0.02 % per 4 h on 50,000: -10 USDT per interval, 6 a day -> -60 a day, the short pays
    assert leg["funding_per_day"] == pytest.approx(-60.0)
    # flat MMR 1 %: LP = (50,000 + 50,000) / (1 * 1.01)
    assert leg["liquidation_price"] == pytest.approx(100_000 / 1.01)
    assert "BTC/USDT:USDT" in fake.asked


def test_live_default_adapter_is_the_ccxt_market_data():
    from perphedge.exchanges.market_data import CcxtMarketData

    market = wiring.open_live("binance", ContractKind.INVERSE)
    assert isinstance(market, CcxtMarketData) and isinstance(market, MarketData)
    assert market.market_type == "inverse"  # built without any network call


def test_exchange_kind_is_respected(run_cli):
    data = json.loads(run_cli("plan", ISSUE, "--json").out)
    assert data["contract"] == ContractKind.LINEAR.value


def test_demo_plans_and_stresses_the_bundled_examples(run_cli):
    r = run_cli("demo")
    assert r.code == 0, r.err
    out = " ".join(r.out.split())  # notes wrap at the terminal width
    for name in ("portfolio.toml", "portfolio_proxy.toml", "portfolio_inverse.toml"):
        assert f"perphedge plan {name}" in out
    assert "perphedge stress portfolio.toml" in out
    assert "54,000.00" in out and "10,800.00" in out  # the issue example's totals
    assert re.search(r"-10% +-5,400 +5,400 ", out)  # -10 % shock: spot and hedge cancel
    assert "no liquidation price" in out  # the coin-margined example
    assert "TAO" in out


def test_proxy_without_beta_takes_it_from_the_store(run_cli, tmp_path):
    from perphedge.beta import CiMethod
    from perphedge.services.beta import BetaRequest, estimate_beta
    from perphedge.store.market import MarketStore

    sol = {"asset": "SOL", "quantity": 100, "price": 150, "proxy": "BTC"}
    data = json.loads(run_cli("plan", str(portfolio_file(tmp_path, [sol], "p.toml")), "--json").out)
    req = BetaRequest(vs="BTC", ci_method=CiMethod.FISHER_Z)
    beta = estimate_beta(MarketStore(), "SOL", req).estimate.beta
    assert data["exposures"][0]["beta"] == pytest.approx(beta, rel=1e-12)
    assert data["legs"][0]["target_notional"] == pytest.approx(15_000 * beta)  # 100 * 150 * b
    assert any(note.startswith("SOL: beta ") for note in data["notes"])


def test_png_plot_is_refused_in_one_line(run_cli, tmp_path):
    r = run_cli("stress", ISSUE, "--plot", str(tmp_path / "s.png"))
    assert r.code == 2 and "PNG export is not offered" in r.err
    assert not (tmp_path / "s.png").exists()


def test_planning_funding_rate_is_the_trailing_30_day_mean(run_cli, shared_data):
    # Plain arithmetic on the shared Binance CSV: the settlements in (t - 30 d, t] of the last
    # one t (2026-05-30 08:00 .. 2026-06-29 00:00), all 8-hourly: 90 of them, averaged.
    import csv
    from datetime import datetime, timedelta

    with open(shared_data / "funding" / "binance_btcusdt_funding.csv", newline="") as f:
        rows = [
            (datetime.fromisoformat(r["fundingTime"]), float(r["fundingRate"]))
            for r in csv.DictReader(f)
        ]
    last = rows[-1][0].replace(microsecond=0, second=0)
    cut = last - timedelta(days=30) + timedelta(minutes=1)  # stamps drift a few ms past :00
    window = [rate for t, rate in rows if t > cut]
    assert len(window) == 90
    r = run_cli("plan", ISSUE, "--json")
    assert r.code == 0, r.err
    btc = next(leg for leg in json.loads(r.out)["legs"] if leg["symbol"] == "BTC/USDT:USDT")
    assert btc["funding_rate"] == pytest.approx(sum(window) / len(window), rel=1e-12)
    assert btc["funding_source"] == "store, 30-day mean to 2026-06-29"
    # the short earns when the mean rate is positive: 0.5 BTC * 60,000 * rate * 3 per day
    assert btc["funding_per_day"] == pytest.approx(30_000 * btc["funding_rate"] * 3, rel=1e-12)


def test_stress_says_which_leverage_would_have_kept_the_shorts(run_cli):
    r = run_cli("stress", ISSUE, "--shocks", "25,50", "--horizon-days", "30")
    assert r.code == 0, r.err
    words = " ".join(r.out.split())  # the terminal wraps lines
    # 5x shorts die near +19.5 %; the same scenarios were run again at lower leverage
    assert "+25%: BTC/USDT:USDT, ETH/USDT:USDT liquidated; prevented by a top-up of" in words
    assert "a leverage of 3x instead of 5x (not liquidated there)" in words
    assert "a leverage of 1.5x instead of 5x" in words
