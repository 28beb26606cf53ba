"""`perphedge liquidation` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest


def test_json_keys_and_numbers(run_cli):
    # V5 (freqtrade ft-mock): short, L 5, EP 10, q 1, MMR 0.01, cum 0.01 -> LP 11.891089108910891
    r = run_cli(
        "liquidation", "--side", "short", "--qty", "1", "--entry", "10",
        "--leverage", "5", "--mmr", "0.01", "--cum", "0.01", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["liquidation_price"] == pytest.approx(11.89108910891089, rel=1e-12)
    assert data["bankruptcy_price"] == pytest.approx(12.0)  # 10 + WB/q = 10 + 2/1
    assert data["initial_margin"] == pytest.approx(2.0)  # 10 / 5
    assert data["maintenance_margin"] == pytest.approx(0.09)  # 10 * 0.01 - 0.01
    assert data["margin_ratio"] == pytest.approx(0.045)  # 0.09 / 2
    assert data["distance_to_liquidation"] == pytest.approx(0.1891089108910891)


def test_inverse_one_x_short_has_no_liquidation(run_cli):
    r = run_cli(
        "liquidation", "--side", "short", "--contract", "inverse", "--contracts", "600",
        "--contract-size", "100", "--entry", "60000", "--leverage", "1", "--mmr", "0.004", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["liquidation_price"] is None
    assert data["distance_to_liquidation"] is None
    assert data["initial_margin"] == pytest.approx(1.0)  # 600 * 100 / 60000 BTC


def test_table_output_names_the_numbers(run_cli):
    r = run_cli(
        "liquidation", "--side", "short", "--qty", "1", "--entry", "60000",
        "--leverage", "5", "--tiers", "binance:BTCUSDT",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "liquidation price" in r.out
    assert "71,691.54" in r.out  # (12,000 + 50 + 60,000) / 1.005, tier 2 at the LP notional


def test_cross_uses_other_positions(run_cli):
    # Binance cross, short: LP = (WB - TMM1 + UPNL1 + cum + q*EP) / (q*(MMR+1))
    # = (5000 - 100 + 200 + 0 + 60000) / (1 * 1.004) = 64,840.6375
    r = run_cli(
        "liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "20",
        "--wallet", "5000", "--margin-mode", "cross", "--other-mm", "100", "--other-upnl", "200",
        "--mmr", "0.004", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["liquidation_price"] == pytest.approx(65100 / 1.004, rel=1e-12)


BASE = ["liquidation", "--side", "short", "--entry", "100", "--leverage", "2"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--qty", "0", "--mmr", "0.01"], "--qty"),
        (["--qty", "-1", "--mmr", "0.01"], "--qty"),
        (["--qty", "nan", "--mmr", "0.01"], "--qty"),
        (["--qty", "inf", "--mmr", "0.01"], "--qty"),
        (["--qty", "1", "--tiers", "binance:NOPE"], "tiers"),
        (["--qty", "1", "--mmr", "1.5"], "--mmr"),
        (["--qty", "1"], "--mmr"),
        (["--qty", "1", "--mmr", "0.01", "--rules", "kraken"], "--rules"),
        (["--qty", "1", "--mmr", "0.01", "--contract", "quanto"], "--contract"),
        (["--qty", "1", "--mmr", "0.01", "--other-mm", "5"], "--other-mm"),
        (["--contract", "inverse", "--contracts", "10", "--mmr", "0.01"], "--contracts"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, extra, field):
    r = run_cli(*BASE, *extra)
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("error: ")
    assert field in lines[0]
    assert "Traceback" not in r.err
    assert r.out == ""


def test_leverage_above_tier_maximum(run_cli):
    r = run_cli(*BASE[:-1], "200", "--qty", "1", "--tiers", "binance:BTCUSDT")
    assert r.code == 2
    assert "leverage" in r.err and "125x" in r.err


def test_missing_option(run_cli):
    r = run_cli("liquidation", "--side", "short", "--qty", "1", "--entry", "10")
    assert r.code == 2
    assert "--leverage" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_debug_shows_traceback(run_cli):
    with pytest.raises(Exception, match="qty"):
        run_cli("--debug", *BASE, "--qty", "-1", "--mmr", "0.01")
