"""Rough edges a new user hits walking through the README, each pinned by a test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
LINEAR, INVERSE = EXAMPLES / "portfolio.toml", EXAMPLES / "portfolio_inverse.toml"


def _execute(run_cli, kind: str, portfolio: Path) -> dict[str, Any]:
    r = run_cli("hedge", kind, str(portfolio), "--paper", "--execute", "--yes", "--json")
    assert r.code == 0, r.err
    report: dict[str, Any] = json.loads(r.out)["report"]
    return report


def _journaled_fills(run_cli) -> int:
    history = run_cli("hedge", "history", "--json")
    assert history.code == 0, history.err
    return int(json.loads(history.out)["fills"])


def test_fills_of_a_second_paper_account_reach_the_journal(run_cli):
    # The linear example fills 4 BTC + 2 ETH child orders; the coin-margined example, in its own
    # paper file, then fills 7 BTCUSD + 4 ETHUSD children. Both accounts numbered their trades
    # from 1 and the journal keeps one fill per trade id, so the second one's fills were lost.
    first = _execute(run_cli, "open", LINEAR)
    second = _execute(run_cli, "open", INVERSE)
    assert first["new_fills"] == len(first["orders"]) == 6
    assert second["new_fills"] == len(second["orders"]) == 11
    assert _journaled_fills(run_cli) == 6 + 11


def test_fills_after_paper_reset_reach_the_journal(run_cli):
    opened = _execute(run_cli, "open", LINEAR)
    closed = _execute(run_cli, "close", LINEAR)
    assert run_cli("paper", "reset", "--yes").code == 0
    again = _execute(run_cli, "open", LINEAR)  # a fresh account: trade ids start over
    assert (opened["new_fills"], closed["new_fills"], again["new_fills"]) == (6, 6, 6)
    assert _journaled_fills(run_cli) == 18


def test_plan_and_stress_help_show_the_toml_table_names(run_cli):
    # Typer renders help as rich markup, where "[hedge]" is a style tag and vanished:
    # "Portfolio TOML file ([] and )." and "Override .exchange."
    for command in ("plan", "stress"):
        r = run_cli(command, "--help")
        assert r.code == 0
        text = " ".join(r.out.split())
        assert "Portfolio TOML file ([[holdings]] and [hedge])" in text
        assert "Override [hedge].exchange" in text


def test_an_80_column_terminal_folds_values_instead_of_cutting_them(run_cli, monkeypatch):
    # At 80 columns rich cut cells to "79,82…" (a mark price) or "bina…"; values must stay whole
    # (folded onto the next line); only header words may be shortened.
    from perphedge.report import render

    monkeypatch.setattr(render.console, "width", 80)
    r = run_cli("funding", "BTC", "--exchange", "binance", "--until", "2019-12-31")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┡")) + 1
    body = lines[start : next(i for i, line in enumerate(lines) if line.startswith("└"))]
    assert body and max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(body)
    # the venue cell "binance" folds into two lines of its column and nothing is lost
    first_col = "".join(line.split("│")[1].strip() for line in body if line.startswith("│"))
    assert first_col.startswith("binance")


def test_exporting_a_spot_symbol_without_table_prices_says_how(run_cli, tmp_path):
    # `data export --symbol ETH/USDT` looks in the funding table by default; the error printed a
    # Python dict ({'exchange': 'binance', ...}) and no way out.
    out = tmp_path / "eth.csv"
    r = run_cli("data", "export", str(out), "--exchange", "binance", "--symbol", "ETH/USDT")
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and "{" not in r.err
    assert "--exchange binance --symbol ETH/USDT" in r.err
    assert "--table prices" in r.err and "perphedge data list" in r.err
    assert not out.exists()
    fixed = run_cli(
        "data", "export", str(out), "--exchange", "binance", "--symbol", "ETH/USDT",
        "--table", "prices", "--interval", "1d", "--until", "2017-08-18",
    )  # fmt: skip
    assert fixed.code == 0, fixed.err
    # the first two Binance ETH/USDT daily candles (2017-08-17 and 2017-08-18) plus the header
    assert len(out.read_text().splitlines()) == 3


def test_a_misspelled_key_is_named_rather_than_the_key_it_stands_for(run_cli, tmp_path):
    # `qty = 0.5` instead of `quantity`: the error said "holdings[0].quantity: required; add
    # it", hiding the typo that caused it.
    path = tmp_path / "mine.toml"
    path.write_text('[[holdings]]\nasset = "BTC"\nqty = 0.5\n\n[hedge]\nleverage = 2\n')
    r = run_cli("plan", str(path))
    assert r.code == 2 and r.out == ""
    assert (
        r.err == "error: mine.toml: holdings[0].qty: unknown key; remove it or fix its spelling\n"
    )


def test_a_bare_command_group_shows_its_help_without_an_empty_error_line(run_cli):
    # `perphedge`, `perphedge hedge` printed their help and then "error: " with nothing after it;
    # `perphedge data` printed only "error: Missing command."
    for args in ((), ("hedge",), ("paper",), ("data",)):
        r = run_cli(*args)
        assert r.code == 2, args
        assert "Usage: perphedge" in r.out and "Commands" in r.out, args
        assert r.err == "", args


def test_a_proxy_holdings_ratio_cell_says_beta(run_cli):
    # The proxy example's TAO row read "0.8 x b 1.3"; "b" is not a term the README uses.
    r = run_cli("plan", str(EXAMPLES / "portfolio_proxy.toml"))
    assert r.code == 0, r.err
    tao = next(line for line in r.out.splitlines() if line.startswith("│ TAO"))
    assert "0.8 x beta 1.3" in tao


class _UnreachableMarket:
    """A MarketData port whose exchange cannot be reached (what ccxt gives with no network)."""

    def _down(self, symbol: str) -> Any:
        from perphedge.errors import TemporaryExchangeError

        raise TemporaryExchangeError(
            "binance: load markets failed (NetworkError): binanceusdm GET "
            "https://fapi.binance.com/fapi/v1/exchangeInfo; try again later"
        )

    instrument = mark_price = funding_rate = _down


def test_plan_live_with_the_exchange_unreachable_fails_instead_of_leaving_coins_unhedged(
    run_cli,
):
    # `plan --live` offline printed a plan with no legs, "no linear perpetual for BTC on binance:
    # left unhedged; hedge it with a proxy, e.g. proxy = "BTC"" and exit 0.
    from perphedge.cli.wiring import Adapters

    adapters = Adapters(live_market=lambda exchange, kind: _UnreachableMarket())
    r = run_cli("plan", str(LINEAR), "--live", adapters=adapters)
    assert r.code == 4 and r.out == ""
    assert r.err.startswith("error: binance: load markets failed (NetworkError)")
    assert r.err.count("\n") == 1 and "proxy" not in r.err


def test_hedge_targets_with_the_exchange_failing_stop_the_run(run_cli):
    # `hedge open --paper --live-prices` offline printed an empty target table and "nothing to
    # do: the exchange already matches the target" (exit 0): a failed contract lookup was read as
    # "no perpetual for this coin". On a real account a rebalance would then aim at no hedge.
    # Nothing listens on 127.0.0.1:9: the unmodified ccxt client fails to load the markets.
    r = run_cli(
        "hedge", "open", str(LINEAR), "--paper", "--live-prices",
        "--base-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert r.code == 4, r.out + r.err
    assert "nothing to do" not in r.out + r.err
    assert r.err.splitlines()[-1].startswith("error: binance: load markets failed")


def test_liquidation_with_the_mark_past_the_liquidation_price_says_so(run_cli):
    # A 1 BTC short from 60,000 at 5x on Binance's BTCUSDT tiers is liquidated at
    # (12,000 + 60,000 + 50) / (1 + 0.005) = 71,691.54; at a mark of 80,000 the table said
    # "distance to liquidation 10.39 %" (|71,691.54 - 80,000| / 80,000) as if it were still alive.
    args = ("liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "5")
    args += ("--tiers", "binance:BTCUSDT", "--mark", "80000")
    r = run_cli(*args)
    assert r.code == 0, r.err
    row = next(line for line in r.out.splitlines() if "distance to liquidation" in line)
    assert "10.39" not in row and "past" in row
    assert "∞ (balance ≤ 0)" in next(line for line in r.out.splitlines() if "margin ratio" in line)
    data = json.loads(run_cli(*args, "--json").out)
    # margin balance 12,000 - (80,000 - 60,000) = -8,000 <= 0
    assert data["margin_balance"] == -8000.0 and data["liquidated"] is True
    alive = json.loads(run_cli(*args[:-1], "70000", "--json").out)
    # at 70,000: distance (71,691.54 - 70,000) / 70,000 = 2.42 %, still alive
    assert alive["liquidated"] is False
    assert alive["distance_to_liquidation"] == pytest.approx((72050 / 1.005 - 70000) / 70000)


def test_monitor_thresholds_are_percent_as_in_plan(run_cli, tmp_path):
    # plan --min-liq-distance 30 is percent; monitor --min-liq-distance 30 was taken as 3000 %
    # (every leg alerts) with help saying only "this fraction".
    text = " ".join(run_cli("monitor", "--help").out.split())
    assert "(30 = 30 %, as in plan)" in text
    assert "(5 = 5 %)" in text and "(50 = 50 %)" in text
    r = run_cli("monitor", str(LINEAR), "--paper", "--once", "--min-liq-distance", "0.3")
    assert r.code == 0, r.err
    assert "limit 0%" not in r.out  # 0.3 % now: no leg is that close
    r = run_cli("monitor", str(LINEAR), "--paper", "--once", "--min-liq-distance", "3000")
    assert r.code == 2 and r.err == (
        "error: --min-liq-distance=3000.0 is invalid: give a percent, 0-100 (30 = 30 %)\n"
    )


def test_paper_commands_without_a_coin_margined_account_say_how_to_make_one(run_cli):
    # "--exchange='binance' is invalid: no paper account yet": the exchange was not the problem.
    r = run_cli("paper", "show", "--coin-margined")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "error: --coin-margined='binance' is invalid: no paper account yet: run `perphedge hedge "
        'open FILE --paper` on a contract = "inverse" portfolio first\n'
    )


def test_an_unanswered_prompt_ends_its_line_before_the_error(run_cli, monkeypatch):
    # `paper reset < /dev/null` printed "...binance.json? [y/N]:error: aborted" on one line.
    import io

    assert run_cli("hedge", "open", str(LINEAR), "--paper", "--execute", "--yes").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    r = run_cli("paper", "reset")
    assert r.code == 130
    assert r.err.endswith("[y/N]: \nerror: aborted\n") or r.err.endswith("[y/N]:\nerror: aborted\n")


def test_json_prints_no_negative_zero(run_cli):
    # The README's coin-margined example printed "unrealized_pnl": -0.0 (a short at its entry).
    r = run_cli(
        "liquidation", "--side", "short", "--contract", "inverse", "--contracts", "600",
        "--contract-size", "100", "--entry", "60000", "--leverage", "1", "--wallet", "1",
        "--mmr", "0.004", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert '"unrealized_pnl": 0.0' in r.out and "-0.0" not in r.out


def test_offline_plan_says_a_missing_perpetual_may_only_be_missing_from_the_bundle(run_cli):
    # `plan --exchange okx` offline: "no linear perpetual for ETH on okx: left unhedged; hedge it
    # with a proxy" although OKX lists ETH-USDT-SWAP; only the bundled specs lack it.
    r = run_cli("plan", str(LINEAR), "--exchange", "okx")
    assert r.code == 0, r.err
    text = " ".join((r.out + r.err).split())
    assert "no linear perpetual for ETH" not in text
    assert (
        "warning ETH: no okx linear contract spec for ETH is bundled for offline use: left "
        "unhedged in this plan; plan --live reads the exchange's"
    ) in text
    assert "BTC: no okx" not in text  # BTC's spec is bundled


def test_hedge_open_warns_about_a_holding_it_leaves_unhedged(run_cli):
    # On the bybit paper account the ETH leg has no bundled contract spec: `hedge open` planned
    # the BTC leg alone and said nothing about the 8 ETH left unhedged (`plan` warns about it).
    r = run_cli("hedge", "open", str(LINEAR), "--paper", "--exchange", "bybit", "--json")
    assert r.code == 0, r.err
    assert [leg["symbol"] for leg in json.loads(r.out)["legs"]] == ["BTC/USDT:USDT"]
    err = " ".join(r.err.split())
    assert "warning ETH: no linear perpetual for ETH on bybit: left unhedged" in err
    assert "warning BTC" not in err


def test_a_missing_option_is_called_missing_not_none(run_cli):
    # `perphedge liquidation --side short --entry 60000 --leverage 5` said "--qty=None is invalid"
    r = run_cli("liquidation", "--side", "short", "--entry", "60000", "--leverage", "5")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "error: --qty is missing: a linear position needs --qty in base units, e.g. 0.5\n"
    )
    r = run_cli(
        "liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "5"
    )
    assert r.err == (
        "error: --mmr is missing: give --mmr (with --cum) or --tiers such as binance:BTCUSDT\n"
    )


def test_the_command_list_wraps_only_where_the_terminal_ends(run_cli):
    # `perphedge --help` broke the funding and beta summaries mid-sentence at the docstrings'
    # source line ends ("... worst days," / "longest negative streak ...") on a 200-column screen.
    r = run_cli("--help")
    rows = [line for line in r.out.splitlines() if line.startswith("│ ")]
    funding = next(i for i, line in enumerate(rows) if line.startswith("│ funding "))
    beta = next(i for i, line in enumerate(rows) if line.startswith("│ beta "))
    assert rows[funding + 1].startswith("│ beta "), rows[funding + 1]
    assert rows[beta + 1].startswith("│ plan "), rows[beta + 1]
