"""`perphedge beta` through the real CLI entry point, on the bundled real sample."""

from __future__ import annotations

import csv
import itertools
import json
import statistics

import pytest

DAY = 86_400_000


def _beta_json(run_cli, *args):
    r = run_cli("beta", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _spot_closes(shared_data, coin: str) -> dict[int, float]:
    path = shared_data / "prices" / f"binance_spot_{coin}usdt_1d_cryptodatadownload.csv"
    with path.open(newline="") as f:
        next(f)  # banner line
        return {int(r["Unix"]): float(r["Close"]) for r in csv.DictReader(f)}


def test_eth_vs_btc_spot_equals_a_plain_regression_of_the_csv(run_cli, shared_data):
    (row,) = _beta_json(run_cli, "ETH", "--vs", "BTC", "--hedge-kind", "spot", "--ci", "fisher-z")
    eth, btc = _spot_closes(shared_data, "eth"), _spot_closes(shared_data, "btc")
    days = sorted(set(eth) & set(btc))
    days = [d for d in days if d >= days[-1] - 365 * DAY]  # --window 365d back from the last close
    ret_eth = [eth[b] / eth[a] - 1 for a, b in itertools.pairwise(days)]
    ret_btc = [btc[b] / btc[a] - 1 for a, b in itertools.pairwise(days)]
    slope, _ = statistics.linear_regression(ret_btc, ret_eth)
    rho = statistics.correlation(ret_btc, ret_eth)
    assert row["beta"] == pytest.approx(slope, rel=1e-10)
    assert row["rho"] == pytest.approx(rho, rel=1e-10)
    assert row["hedge_effectiveness"] == pytest.approx(rho**2, rel=1e-10)
    assert row["n_obs"] == len(ret_eth)
    assert row["beta_ci"][0] < row["beta"] < row["beta_ci"][1]
    assert row["ci_method"] == "fisher-z"
    assert (row["asset_symbol"], row["hedge_symbol"]) == ("ETH/USDT", "BTC/USDT")


def test_default_hedge_is_the_btc_perpetual_mark_with_a_seeded_bootstrap(run_cli):
    one = _beta_json(run_cli, "ETH", "SOL", "--vs", "BTC")
    two = _beta_json(run_cli, "ETH", "SOL", "--vs", "BTC")
    assert one == two  # the bootstrap is seeded (--seed 0)
    assert [r["asset"] for r in one] == ["ETH", "SOL"]
    for row in one:
        assert row["hedge_symbol"] == "BTC/USDT:USDT" and row["hedge_kind"] == "mark"
        assert row["ci_method"] == "block-bootstrap"
        assert row["he_ci"][0] <= row["hedge_effectiveness"] <= row["he_ci"][1]
        assert 1.0 < row["beta"] < 2.0  # alts move more than BTC
    other_seed = _beta_json(run_cli, "ETH", "--seed", "7")
    assert other_seed[0]["beta"] == one[0]["beta"]
    assert other_seed[0]["beta_ci"] != one[0]["beta_ci"]


def test_interval_window_and_ewma_options(run_cli):
    (weekly,) = _beta_json(run_cli, "ETH", "--interval", "1w", "--window", "2y", "--ci", "fisher-z")
    # 730 days back from the last close in 7-day steps: 730 // 7 = 104 weekly returns at most
    assert weekly["interval_days"] == 7
    assert 95 <= weekly["n_obs"] <= 104
    (flat,) = _beta_json(run_cli, "ETH", "--ci", "fisher-z")
    (ewma,) = _beta_json(run_cli, "ETH", "--ci", "fisher-z", "--ewma-halflife", "30")
    assert ewma["ewma_halflife"] == 30
    assert ewma["effective_n"] < flat["effective_n"] == pytest.approx(flat["n_obs"])
    assert ewma["beta"] != flat["beta"]


def test_until_moves_the_window_back(run_cli):
    (row,) = _beta_json(
        run_cli, "ETH", "--until", "2022-12-31", "--window", "365d", "--ci", "fisher-z"
    )
    assert row["end"] == "2022-12-31"
    assert row["start"] == "2021-12-31"
    assert row["n_obs"] == 365


def test_table_explains_beta_and_he(run_cli):
    r = run_cli("beta", "ETH", "--vs", "BTC")
    assert r.code == 0, r.err
    assert "Minimum-variance hedge ratio vs BTC/USDT:USDT" in r.out
    assert "HE = share of return variance the hedge removes" in r.out
    assert "ETH/USDT" in r.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["DOGEFOO"], "no data for binance DOGEFOO/USDT"),
        (["ETH", "--vs", "NOPE"], "NOPE/USDT:USDT"),
        (["ETH", "--exchange", "nosuchvenue"], "nosuchvenue"),
        (["ETH", "--window", "a year"], "--window='a year'"),
        (["ETH", "--window", "20d", "--interval", "1w"], "--interval='1w'"),
        (["ETH", "--ci", "jackknife"], "--ci='jackknife'"),
        (["ETH", "--hedge-kind", "index"], "--hedge-kind='index'"),
        (["ETH", "--until", "31/12/2022"], "--until='31/12/2022'"),
        (["ETH", "--until", "2010-01-01"], "no mark:1d for binance BTC/USDT:USDT"),
        (["ETH", "--until", "2019-12-27"], "need at least 5 returns"),
        (["ETH", "--ewma-halflife", "-3"], "ewma_halflife=-3.0"),
        (["ETH", "--ci-level", "95"], "ci_level=95.0"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(run_cli, args, needle):
    r = run_cli("beta", *args)
    assert r.code == 2, r.out
    assert needle in r.err
    assert r.err.startswith("error: ")
    assert r.err.count("\n") == 1


def test_planner_entry_point_gives_the_cli_numbers(run_cli):
    from perphedge.services.beta import BetaRequest, estimate_beta
    from perphedge.store.market import MarketStore

    (cli_row,) = _beta_json(run_cli, "SOL", "--vs", "BTC", "--window", "180d")
    row = estimate_beta(MarketStore(), "SOL", BetaRequest(vs="BTC", window_days=180))
    assert row.estimate.beta == cli_row["beta"]
    assert list(row.estimate.he_ci) == cli_row["he_ci"]
    assert row.hedge_symbol == "BTC/USDT:USDT"
