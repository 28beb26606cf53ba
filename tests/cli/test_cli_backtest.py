"""`perphedge backtest` end to end on the bundled real sample, checked against the shared CSVs."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import UTC, datetime

import pytest

from tests.factories import portfolio_file
from tests.report_pages import figures

BTC = [{"asset": "BTC", "quantity": 1}]
HEDGE = {"ratio": 1.0, "leverage": 2, "exchange": "binance", "contract": "linear"}

JAN = ["--from", "2024-01-01", "--to", "2024-02-01"]


@pytest.fixture
def btc(tmp_path):
    return str(portfolio_file(tmp_path, BTC, "btc.toml", **HEDGE))


@pytest.fixture
def eth(tmp_path):
    return str(portfolio_file(tmp_path, [{"asset": "ETH", "quantity": 10}], "eth.toml", **HEDGE))


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _closes(path) -> dict[int, float]:
    """8-hour candles by close time (open + 8 h), from a shared Binance CSV."""
    with open(path, newline="") as f:
        return {_ms(r["openTime"]) + 8 * 3_600_000: float(r["close"]) for r in csv.DictReader(f)}


def _funding(path) -> dict[int, tuple[float, float]]:
    """Settlement time floored to the minute -> (rate, mark) where the mark is reported."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["markPrice"]:
                t = _ms(r["fundingTime"]) // 60_000 * 60_000
                out[t] = (float(r["fundingRate"]), float(r["markPrice"]))
    return out


def test_json_runs_and_unhedged_equity_is_coins_at_spot_closes(run_cli, btc, shared_data):
    r = run_cli("backtest", btc, *JAN, "--policy", "band", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [run["name"] for run in data["runs"]] == ["unhedged", "hedged", "band"]
    for run in data["runs"]:
        for key in ("total_return", "max_drawdown", "volatility", "funding_pnl", "fees"):
            assert isinstance(run[key], float)
        assert isinstance(run["liquidations"], int)
        assert "hedge_effectiveness" in run
    spot = _closes(shared_data / "prices" / "binance_spot_btcusdt_8h.csv")
    first, last = spot[_ms("2024-01-01T00:00+00:00")], spot[_ms("2024-02-01T00:00+00:00")]
    assert (first, last) == (42283.58, 42580.0)  # closes of the 8 h candles opened 16:00 before
    # default cash: the hedge's initial margin, 1 BTC x 42,283.58 x ratio 1 / 2x = 21,141.79
    assert data["initial_cash_usd"] == pytest.approx(21141.79, rel=1e-12)
    unhedged = data["runs"][0]  # the holdings alone: the cash is reported separately
    assert unhedged["final_equity"] == pytest.approx(42580.0, rel=1e-12)
    # 42,580 / 42,283.58 - 1, whatever the leverage
    assert unhedged["total_return"] == pytest.approx(296.42 / 42283.58, rel=1e-9)
    assert data["runs"][1]["hedge_effectiveness"] > 0.9  # a full hedge removes most variance
    assert data["bars"] == 94  # 2024-01-01 00:00 .. 2024-02-01 00:00 every 8 h: 31 * 3 + 1


def test_funding_of_a_static_full_hedge_is_the_plain_sum(run_cli, btc, shared_data):
    r = run_cli("backtest", btc, *JAN, "--slippage-bp", "0", "--json")
    assert r.code == 0, r.err
    hedged = json.loads(r.out)["runs"][1]
    assert hedged["liquidations"] == 0 and hedged["trades"] == 1
    events = _funding(shared_data / "funding" / "binance_btcusdt_funding.csv")
    start, end = _ms("2024-01-01T00:00+00:00"), _ms("2024-02-01T00:00+00:00")
    spot0 = _closes(shared_data / "prices" / "binance_spot_btcusdt_8h.csv")[start]
    _, mark0 = events[start]
    # the short opens on bar 0 at target notional 1 x spot0, i.e. spot0 / mark0 BTC at the mark,
    # after bar 0's settlement; it then receives q x mark x rate at every later settlement
    qty = spot0 / mark0
    expected = math.fsum(qty * m * rate for t, (rate, m) in events.items() if start < t <= end)
    assert len([t for t in events if start < t <= end]) == 93
    assert hedged["funding_pnl"] == pytest.approx(expected, rel=1e-9)
    assert expected > 0  # January 2024: positive rates, the short earned


def test_table_names_the_metrics(run_cli, btc):
    r = run_cli("backtest", btc, *JAN, "--policy", "funding", "--param", "min_hold_bars=2d")
    assert r.code == 0, r.err
    for label in ("total return", "annualised volatility", "max drawdown", "worst month",
                  "VaR 95 %", "CVaR 95 %", "hedge effectiveness", "funding P&L", "fees",
                  "basis P&L", "liquidations", "share of time hedged", "upside given up"):  # fmt: skip
        assert label in r.out
    assert re.search(r"unhedged\s+┃\s+hedged\s+┃\s+funding", r.out)


def test_report_is_one_self_contained_page_with_the_data(run_cli, btc, tmp_path, shared_data):
    page_path = tmp_path / "bt.html"
    r = run_cli("backtest", btc, *JAN, "--report", str(page_path), "--json")
    assert r.code == 0, r.err
    page = page_path.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js inlined, nothing fetched
    (figure,) = figures(page)
    traces = figure["data"]
    unhedged = next(t for t in traces if t["name"] == "unhedged")
    spot = _closes(shared_data / "prices" / "binance_spot_btcusdt_8h.csv")
    assert len(unhedged["y"]) == 94
    # every bar: 1 BTC at the last spot close, no cash (the chart carries float32: 7 digits)
    expected = [spot[t] for t in unhedged["t_ms"]]
    assert unhedged["y"] == pytest.approx(expected, rel=1e-6)
    assert "<h2>Inputs</h2>" in page and "what it means" in page
    assert {t["name"] for t in traces} == {"unhedged", "hedged", "keeper"}  # keeper: default
    assert "<td>hedge effectiveness</td>" in page
    # panels: unhedged has equity, drawdown, funding; hedged also the margin ratio (4th trace)
    hedged = [t for t in traces if t["name"] == "hedged"]
    assert len(hedged) == 4
    # right after opening, MM / margin = (N x 0.4 %) / (N / 2x) = 0.008 (tier 1: N < 50,000)
    assert hedged[3]["y"][0] == pytest.approx(0.008, rel=1e-6)
    assert max(hedged[3]["y"]) < 1.0  # never at the liquidation threshold in January 2024


def test_gaps_warn_with_dates_or_refuse_under_strict(run_cli, eth):
    window = ["--from", "2026-01-01", "--to", "2026-01-31"]
    r = run_cli("backtest", eth, *window, "--json")
    assert r.code == 0, r.err
    assert "warning: gap: binance ETH/USDT spot 1d: 1 bar missing at 2026-01-08 00:00" in r.err
    assert "1 bar missing at 2026-01-20 00:00" in r.err
    assert json.loads(r.out)["gaps"][0].endswith("1 bar missing at 2026-01-08 00:00")
    r = run_cli("backtest", eth, *window, "--strict")
    assert r.code == 2
    assert r.err.strip().count("\n") == 0
    assert r.err.startswith("error: gap in the data: binance ETH/USDT spot 1d: 1 bar missing")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2010-01-01", "--to", "2010-02-01"], "no spot prices for BTC/USDT"),
        (["--from", "2024-02-01", "--to", "2024-01-01"], "--from='2024-02-01'"),
        (["--from", "2024-01-01", "--to", "2024-01-01"], "only one bar (2024-01-01 00:00)"),
        (["--from", "2024-13-01", "--to", "2024-02-01"], "give a day as YYYY-MM-DD (UTC)"),
        ([*JAN, "--policy", "band", "--param", "band=2"], "band=2.0 is invalid"),
        ([*JAN, "--policy", "band", "--param", "ratio=-0.5"], "ratio=-0.5 is invalid"),
        ([*JAN, "--policy", "funding", "--param", "negative_window=0"], "negative_window=0"),
        ([*JAN, "--policy", "static", "--param", "band=0.1"], "--param band='0.1'"),
        ([*JAN, "--policy", "martingale"], "--policy='martingale'"),
        ([*JAN, "--param", "band"], "name=value"),
        ([*JAN, "--leverage", "0"], "--leverage=0.0"),
        ([*JAN, "--leverage", "200"], "leverage=200.0"),
        ([*JAN, "--contract", "quanto"], "--contract='quanto'"),
        ([*JAN, "--report", "out.png"], "--report='out.png'"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, btc, args, message):
    r = run_cli("backtest", btc, *args)
    assert r.code == 2, r.out
    assert r.err.startswith("error: ") and r.err.strip().count("\n") == 0
    assert message in r.err


def test_missing_portfolio_file(run_cli, tmp_path):
    r = run_cli("backtest", str(tmp_path / "nope.toml"), *JAN)
    assert r.code == 2
    assert "PORTFOLIO" in r.err and "no such file" in r.err


def _daily_closes(path) -> dict[int, float]:
    """Daily candles (CryptoDataDownload export: banner line, newest first) by close time."""
    with open(path, newline="") as f:
        next(f)
        return {int(r["Unix"]) + 86_400_000: float(r["Close"]) for r in csv.DictReader(f)}


def test_proxy_hedge_with_beta_funding_is_the_plain_sum(run_cli, tmp_path, shared_data):
    sol = {"asset": "SOL", "quantity": 100, "proxy": "BTC", "beta": 1.2}
    path = portfolio_file(tmp_path, [sol], "sol.toml", ratio=1.0, leverage=2, exchange="binance")
    r = run_cli("backtest", str(path), *JAN, "--slippage-bp", "0", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    start, end = _ms("2024-01-01T00:00+00:00"), _ms("2024-02-01T00:00+00:00")
    sol0 = _daily_closes(shared_data / "prices" / "binance_spot_solusdt_1d_cryptodatadownload.csv")
    events = _funding(shared_data / "funding" / "binance_btcusdt_funding.csv")
    # SOL is valued at its daily close; the BTC short is 1.2 x 100 SOL x SOL price in notional
    notional0 = 1.2 * 100 * sol0[start]
    assert data["initial_cash_usd"] == pytest.approx(notional0 / 2, rel=1e-12)
    qty_btc = notional0 / events[start][1]
    expected = math.fsum(qty_btc * m * rate for t, (rate, m) in events.items() if start < t <= end)
    assert data["runs"][1]["funding_pnl"] == pytest.approx(expected, rel=1e-9)


def test_inverse_contract_runs_on_the_coin_margined_sample(run_cli, btc):
    r = run_cli("backtest", btc, *JAN, "--contract", "inverse", "--leverage", "1", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["contract"] == "inverse"
    assert "binance BTC/USD:BTC: no mark prices stored, last-trade price used as the mark" in r.err
    hedged = data["runs"][1]
    assert hedged["trades"] == 1 and hedged["liquidations"] == 0


def test_venue_with_assumed_maintenance_tiers_is_noted(run_cli, tmp_path):
    path = portfolio_file(tmp_path, BTC, "bybit.toml", **(HEDGE | {"exchange": "bybit"}))
    r = run_cli("backtest", str(path), "--from", "2023-06-01", "--to", "2023-07-01", "--json")
    assert r.code == 0, r.err
    # the spec is generic (or bundled with assumed tiers): either way a note says so
    note = next(line for line in r.err.splitlines() if "flat 1%" in line)
    assert note.startswith("note: bybit BTC/USDT:USDT")
    assert json.loads(r.out)["exchange"] == "bybit"


def test_nothing_to_hedge_is_an_input_error(run_cli, tmp_path):
    path = portfolio_file(tmp_path, BTC, "zero.toml", **(HEDGE | {"ratio": 0.0}))
    r = run_cli("backtest", str(path), *JAN)
    assert r.code == 2
    assert "nothing to backtest" in r.err


EIGHT_H = 8 * 3_600_000


def _mark_highs_8h(path) -> dict[int, float]:
    """Highest hourly mark high of each complete 8-hour bucket (00/08/16 UTC) by its close time:
    the bundled sample's 8 h mark candles are these buckets of the shared hourly CSV."""
    buckets: dict[int, list[float]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            opened = _ms(r["open_time_utc"].replace("Z", "+00:00"))
            buckets.setdefault(opened // EIGHT_H * EIGHT_H + EIGHT_H, []).append(float(r["high"]))
    return {t: max(highs) for t, highs in buckets.items() if len(highs) == 8}


def test_liquidation_replayed_by_hand_from_the_csv(run_cli, btc, shared_data):
    # 1 BTC hedged 1:1 at 2x from 2024-01-01; BTC rallied ~70 % by March: the short dies when
    # the mark's 8-hour high reaches its liquidation price.
    r = run_cli("backtest", btc, "--from", "2024-01-01", "--to", "2024-06-30", "--json")
    assert r.code == 0, r.err
    hedged = json.loads(r.out)["runs"][1]
    events = _funding(shared_data / "funding" / "binance_btcusdt_funding.csv")
    spot = _closes(shared_data / "prices" / "binance_spot_btcusdt_8h.csv")
    perp = _closes(shared_data / "prices" / "binance_usdm_perp_btcusdt_8h.csv")
    highs = _mark_highs_8h(shared_data / "prices" / "binance_usdm_mark_btcusdt_1h.csv")
    start = _ms("2024-01-01T00:00+00:00")
    m0 = m_prev = events[start][1]
    qty = spot[start] / m_prev  # short sized to 1 x spot value at the mark
    margin = qty * m_prev / 2  # isolated margin N / 2x
    funding = 0.0
    for t in sorted(t for t in events if t > start):
        rate, m = events[t]
        # liquidation price P: margin - qty (P - m_prev) = MM(qty P), Binance BTCUSDT brackets
        # < 50k: 0.4 % cum 0, else (< 600k) 0.5 % cum 50
        p = (margin + qty * m_prev) / (qty * 1.004)
        if qty * p >= 50_000:
            p = (margin + qty * m_prev + 50) / (qty * 1.005)
        if p <= max(highs.get(t, m), m_prev, m):  # the bar's high reaches it: no funding
            break
        margin += -qty * (m - m_prev)  # variation margin to the close
        margin += qty * m * rate  # funding settled at the close, to the short still open
        funding += qty * m * rate
        m_prev = m
    (leg,) = hedged["legs"]
    assert leg["liquidated_at"] == datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    assert leg["liquidated_at"] == "2024-03-04 16:00"
    # the mark rose from 64,121 through P = 64,735 to a close of 66,504 (high 66,628) in this bar
    assert m_prev < p < m <= highs[t]
    assert hedged["liquidations"] == 1
    assert hedged["funding_pnl"] == pytest.approx(funding, rel=1e-9)
    # closed at P: hedge P&L = the opening fill against the mark + the variation margin to P
    assert hedged["hedge_pnl"] == pytest.approx(qty * (perp[start] - m0) - qty * (p - m0), rel=1e-9)
    # left at P: its maintenance margin 0.5 % x N - 50, less than the 1.25 % fee cap, so the fee
    # takes all of it and nothing more is forfeited (closes only, the leg was closed at the bar's
    # close, past its bankruptcy price: margin - qty (m - m_prev) < 0, a 'loss' of about -1,495)
    assert margin - qty * (m - m_prev) < 0
    assert hedged["liquidation_loss"] == pytest.approx(0.0, abs=1e-6)
    assert 0.005 * qty * p - 50 < 0.0125 * qty * p
    assert (
        f"hedged: BTC liquidated at {leg['liquidated_at']}"
        in run_cli("backtest", btc, "--from", "2024-01-01", "--to", "2024-06-30").out
    )


def test_cross_margin_file_is_modelled_isolated_and_says_so(run_cli, tmp_path):
    path = portfolio_file(tmp_path, BTC, "cross.toml", **HEDGE, margin_mode="cross")
    r = run_cli("backtest", str(path), *JAN, "--json")
    assert r.code == 0, r.err
    assert "note: margin_mode cross: modelled as isolated per leg" in r.err


def test_top_up_without_cash_keeps_a_reserve_that_saves_the_hedge(run_cli, btc):
    # The same 2024 rally that liquidates the 2x short above: with --top-up and no --cash the
    # account starts with the initial margin plus an equal reserve, and tops the margin up from it.
    span = ["--from", "2024-01-01", "--to", "2024-06-30", "--json"]
    plain = json.loads(run_cli("backtest", btc, *span).out)
    topped = json.loads(run_cli("backtest", btc, *span, "--top-up").out)
    assert topped["initial_cash_usd"] == pytest.approx(2 * plain["initial_cash_usd"], rel=1e-12)
    assert plain["runs"][1]["liquidations"] == 1
    assert topped["runs"][1]["liquidations"] == 0
