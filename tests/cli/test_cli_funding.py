"""`perphedge funding` through the real CLI entry point, on the bundled real sample."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pytest

from perphedge.cli.wiring import Adapters
from tests.fakes.ports import FakeStore
from tests.report_pages import figures


def _funding_json(run_cli, *args):
    r = run_cli("funding", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_bundled_binance_btcusdt_by_year_apr_equals_plain_csv_arithmetic(run_cli, shared_data):
    data = _funding_json(run_cli, "BTCUSDT", "--exchange", "binance")
    venue = data["symbols"]["BTCUSDT"]["venues"]["binance"]
    with (shared_data / "funding" / "binance_btcusdt_funding.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_year: dict[str, list[float]] = {}
    for row in rows:
        year = str(datetime.fromisoformat(row["fundingTime"]).astimezone(UTC).year)
        by_year.setdefault(year, []).append(float(row["fundingRate"]))
    assert set(venue["by_year"]) == set(by_year)
    for year, rates in by_year.items():
        plain = sum(rates) / len(rates) * 3 * 365  # mean rate per 8 h x 3 x 365
        assert venue["by_year"][year] == pytest.approx(plain, rel=0, abs=1e-12), year
        assert venue["years"][year]["n_intervals"] == len(rates)
    everything = [r for rates in by_year.values() for r in rates]
    assert venue["mean_rate"] == pytest.approx(sum(everything) / len(everything), rel=1e-12)
    assert venue["apr"] == pytest.approx(sum(everything) / len(everything) * 1095, rel=1e-12)
    negative = sum(1 for r in everything if r < 0)
    assert venue["negative_share"] == pytest.approx(negative / len(everything), rel=1e-12)
    assert venue["symbol"] == "BTC/USDT:USDT"
    assert venue["on_average"] == "short hedge earns funding (longs pay shorts)"  # mean > 0
    assert "longs pay shorts" in data["sign_rule"]


def test_symbol_spellings_resolve_to_the_same_perpetual(run_cli):
    aprs = set()
    for text in ("BTC", "btcusdt", "BTC/USDT:USDT"):
        data = _funding_json(run_cli, text, "-e", "binance", "--since", "2021-01-01")
        aprs.add(data["symbols"][text]["venues"]["binance"]["apr"])
    assert len(aprs) == 1


def test_every_venue_by_default_ranked_over_the_common_window(run_cli):
    data = _funding_json(run_cli, "BTC")
    btc = data["symbols"]["BTC"]
    assert {"binance", "bybit", "okx", "gate", "kucoin", "mexc", "htx", "dydx"} <= set(
        btc["venues"]
    )
    assert btc["venues"]["dydx"]["interval_hours"] == 1.0  # hourly venue, its own interval
    assert btc["venues"]["dydx"]["symbol"] == "BTC/USD:USD"
    cmp = btc["comparison"]
    # the overlap of every venue's history: dYdX 2022-2023 and OKX from 2023 -> the year 2023
    assert cmp["common_window"] is True
    assert cmp["since"].startswith("2023-01-01") and cmp["until"].startswith("2023-12-31")
    aprs = [row["apr"] for row in cmp["ranking"]]
    assert aprs == sorted(aprs, reverse=True)  # best place to hold the short first
    assert len(cmp["ranking"]) == len(btc["venues"])


def test_since_until_bound_the_statistics(run_cli):
    data = _funding_json(
        run_cli, "ETH", "-e", "binance", "--since", "2022-01-01", "--until", "2022-12-31"
    )
    eth = data["symbols"]["ETH"]["venues"]["binance"]
    assert list(eth["by_year"]) == ["2022"]
    assert eth["n_intervals"] == 365 * 3  # 8-hourly settlements through 31 Dec 16:00
    assert eth["first"] == "2022-01-01 00:00" and eth["last"] == "2022-12-31 16:00"


def test_table_states_the_sign_rule_and_ranks_venues(run_cli):
    r = run_cli("funding", "SOL")
    assert r.code == 0, r.err
    assert "longs pay shorts, so a short hedge earns" in r.out
    assert "SHORT hedge" in r.out
    assert "cheapest to hold" in r.out
    assert "hyperliquid" in r.out and "binance" in r.out
    assert "by calendar year" in r.out


def test_plot_writes_a_self_contained_html_file(run_cli, tmp_path):
    out = tmp_path / "carry.html"
    r = run_cli("funding", "BTC", "ETH", "-e", "binance,bybit", "--plot", str(out))
    assert r.code == 0, r.err
    page = out.read_text()
    assert out.stat().st_size > 1_000_000  # plotly.js is inlined, so it opens offline
    assert 'src="https://cdn.plot.ly' not in page
    assert "BTC binance" in page and "ETH bybit" in page


def test_png_is_not_offered(run_cli, tmp_path):
    r = run_cli("funding", "BTC", "-e", "binance", "--plot", str(tmp_path / "carry.png"))
    assert r.code == 2 and not (tmp_path / "carry.png").exists()
    assert "ending in .html" in r.err and "PNG export is not offered" in r.err
    assert r.err.count("\n") == 1


def test_three_coins_over_six_years_stay_under_5_mb(run_cli, tmp_path):
    out = tmp_path / "carry.html"
    r = run_cli("funding", "BTC", "ETH", "SOL", "--plot", str(out))
    assert r.code == 0, r.err
    page = out.read_text()
    assert out.stat().st_size < 5_000_000
    (chart,) = figures(page)
    first = min(t["t_ms"][0] for t in chart["data"])
    last = max(t["t_ms"][-1] for t in chart["data"])
    assert last - first > 6 * 365 * 86_400_000 and len(chart["data"]) >= 15
    assert "<h2>Inputs</h2>" in page and "What the numbers mean" in page
    assert "BTC: where the short is cheapest to hold" in page


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["BTC", "--exchange", "nosuchvenue"], "--exchange='nosuchvenue' is invalid"),
        (["BTC", "--exchange", "bingx"], "run `perphedge data sync --exchange bingx`"),
        (["DOGEFOO"], "no funding history for DOGEFOO"),
        (["BTC/USDT"], "is a spot market and has no funding"),
        (["BTC", "-e", "binance", "--since", "2030-01-01"], "no funding for binance BTC/USDT:USDT"),
        (["BTC", "--since", "2030-01-01"], "no funding for BTC in the chosen range"),
        (["BTC", "-e", "gate", "--since", "2025-01-01"], "gate"),
        (["BTC", "--since", "2022-05-01", "--until", "2022-04-01"], "--since='2022-05-01'"),
        (["BTC", "--since", "2021-13-45"], "YYYY-MM-DD"),
        (["BTC", "-e", "binance", "--plot", "carry.txt"], "--plot='carry.txt'"),
        (["B-T-C"], "SYMBOL='B-T-C'"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(run_cli, args, needle):
    r = run_cli("funding", *args)
    assert r.code == 2, r.out
    assert needle in r.err
    assert r.err.startswith("error: ")
    assert r.err.count("\n") == 1
    assert "Traceback" not in r.err


def test_hourly_venue_annualises_with_24_x_365(run_cli, shared_data):
    data = _funding_json(run_cli, "SOL", "-e", "hyperliquid", "--since", "2023-06-09")
    venue = data["symbols"]["SOL"]["venues"]["hyperliquid"]
    since = int(datetime(2023, 6, 9, tzinfo=UTC).timestamp() * 1000)
    with (shared_data / "funding" / "hyperliquid_sol_funding_1h.csv").open(newline="") as f:
        rates = [float(r["fundingRate"]) for r in csv.DictReader(f) if int(r["time"]) >= since]
    assert venue["interval_hours"] == 1.0
    assert venue["n_intervals"] == len(rates)
    assert venue["apr"] == pytest.approx(sum(rates) / len(rates) * 24 * 365, rel=1e-12)
    assert venue["worst_1d"]["settlements"] == 24


def test_funding_reads_the_market_history_port_the_command_is_given(run_cli):
    fake = FakeStore().flat("binance", "BTC/USDT:USDT", 0.0001, 60)
    r = run_cli("funding", "BTC", "--json", adapters=Adapters(market_history=lambda _: fake))
    assert r.code == 0, r.err
    venues = json.loads(r.out)["symbols"]["BTC"]["venues"]
    assert list(venues) == ["binance"]  # the fake's one series, not the bundled sample's venues
    assert venues["binance"]["apr"] == pytest.approx(0.0001 * 3 * 365)
