"""The bundled coin-margined example through the CLI, offline on the paper exchange: dry run,
--execute --yes, paper advance, monitor --once --json, rebalance, close; the journal agrees with
the account.

A new replay starts at the plan's time, or where the bundled Binance COIN-M candles end
(2024-07-01 08:00 UTC close) when that is earlier; these tests start it 14 days before then with
`paper reset --at`: 2024-06-17 08:00 UTC, where the last-trade closes stand in for the mark:
BTCUSD 66,118.0, ETHUSD 3,549.8 (the candles opened 2024-06-17 00:00 UTC).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.live.reconcile import compare_with_journal
from perphedge.live.session import paper_ports
from perphedge.store.journal import Journal

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "perphedge"
    / "data"
    / "examples"
    / "portfolio_inverse.toml"
)
BTCUSD, ETHUSD = "BTC/USD:BTC", "ETH/USD:ETH"
NOTE = "no mark prices stored, last-trade price used as the mark"


@pytest.fixture
def home_path(tmp_path: Path) -> Path:
    return tmp_path / "home"  # run_cli sets PERPHEDGE_HOME here


def start_replay(run_cli) -> None:
    """The coin-margined paper account for the example, its replay 14 days before the data end."""
    args = ("paper", "reset", str(EXAMPLE), "--coin-margined", "--at", "2024-06-17T08:00Z")
    started = run_cli(*args, "--yes")
    assert started.code == 0, started.err


def run_json(run_cli, *args: str) -> dict[str, object]:
    r = run_cli(*args)
    assert r.code == 0, r.err
    data: dict[str, object] = json.loads(r.out)
    return data


def value_usd(snap: dict, show: dict) -> float:
    """USD value of the coin wallets plus the shorts' unrealised PnL, at each leg's mark."""
    marks = {leg["symbol"].split("/")[0]: leg["mark"] for leg in snap["legs"]}
    upnl = {p["symbol"].split("/")[0]: p["unrealized_pnl"] for p in show["positions"]}
    return sum((b["total"] + upnl.get(b["currency"], 0.0)) * marks[b["currency"]]
               for b in show["balances"])  # fmt: skip


def test_dry_run_sizes_the_1x_coin_backed_short(run_cli, home_path):
    start_replay(run_cli)
    r = run_cli("hedge", "open", str(EXAMPLE), "--exchange", "binance", "--paper", "--json")
    assert r.code == 0, r.err
    assert r.err.count(NOTE) == 2  # said once per symbol
    data = json.loads(r.out)
    assert data["dry_run"] and data["report"] is None
    # contracts = coins x mark / contract size, toward zero: 1 x 66,118 / 100 = 661.18 -> 661;
    # 10 x 3,549.8 / 10 = 3,549.8 -> 3,549
    assert [leg["target_contracts"] for leg in data["legs"]] == [-661.0, -3549.0]
    # children of at most 10,000 USD: 66,100 USD in 7 (95, 95, 95, 94 x 4); 35,490 USD in 4
    sizes = [[o["qty"] for o in leg["orders"]] for leg in data["legs"]]
    assert sizes == [[95.0] * 3 + [94.0] * 4, [888.0, 887.0, 887.0, 887.0]]
    assert (
        not (home_path / "journal.sqlite").exists()
        or Journal(home_path / "journal.sqlite").orders() == []
    )


def test_open_advance_monitor_close_on_the_coin_margined_paper_account(run_cli, home_path):  # noqa: PLR0915 (one walkthrough)
    start_replay(run_cli)
    opened = run_json(
        run_cli, "hedge", "open", str(EXAMPLE), "--exchange", "binance", "--paper",
        "--execute", "--yes", "--json",
    )  # fmt: skip
    report = opened["report"]
    assert {o["status"] for o in report["orders"]} == {"filled"} and report["new_fills"] == 11
    snap = run_json(run_cli, "monitor", str(EXAMPLE), "--paper", "--once", "--json")
    assert snap["exchange"] == "paper:binance-coinm"
    btc, eth = snap["legs"]
    assert (btc["position_contracts"], eth["position_contracts"]) == (-661.0, -3549.0)
    assert btc["drift_fraction"] == 0.0 and eth["drift_fraction"] == 0.0
    # inverse: next funding in USD = face (661 x 100 USD) x rate, whatever the price
    assert btc["next_funding_usd"] == pytest.approx(66_100 * btc["rate_per_interval"], rel=1e-9)
    assert btc["notional_usd"] == 66_100.0 and eth["notional_usd"] == 35_490.0
    # the coins back the short: liquidation, if any, more than 100x the mark away
    assert all(leg["distance_to_liquidation"] is None or leg["distance_to_liquidation"] > 100
               for leg in snap["legs"])  # fmt: skip
    assert snap["alerts"] == []
    # holdings on the exchange: the coins less the taker fees in coin (taker 0.05 % of
    # 661 x 100 / 66,084.941 = 0.00050011 BTC at the slipped fill 66,118 x 0.9995)
    held = {h["asset"]: h["qty_exchange"] for h in snap["holdings"]}
    assert held["BTC"] == pytest.approx(1 - 0.0005 * 66_100 / 66_084.941, abs=1e-8)
    before = run_json(run_cli, "paper", "show", "--coin-margined", "--json")
    assert snap["equity_usd"] == pytest.approx(value_usd(snap, before), rel=1e-9)
    # margin ratio: the most loaded coin wallet's maintenance margin / (wallet + PnL), about
    # the first bracket's MMR for a fully backed 1x short (equity ~ notional in coin)
    wallets = {b["currency"]: b["total"] for b in before["balances"]}
    ratios = [p["maintenance_margin"] / (wallets[p["symbol"][-3:]] + p["unrealized_pnl"])
              for p in before["positions"]]  # fmt: skip
    assert snap["margin_ratio"] == pytest.approx(max(ratios), rel=1e-6)

    r = run_cli("paper", "advance", "--hours", "24", "--coin-margined")
    assert r.code == 0 and "2024-06-18 08:00 UTC" in r.out
    after = run_json(run_cli, "paper", "show", "--coin-margined", "--json")
    pays = after["funding_payments"]
    assert len(pays) == 6 and {p["currency"] for p in pays} == {"BTC", "ETH"}
    later = run_json(run_cli, "monitor", str(EXAMPLE), "--paper", "--once", "--json")
    # a day later BTC 65,642 (-0.7 %), ETH 3,442 (-3.0 %): unhedged the coins lost
    # 1 x 476 + 10 x 107.8 = 1,554 USD; hedged the value moved by funding and slivers only
    unhedged = sum(
        q * (leg2["mark"] - leg1["mark"])
        for q, leg1, leg2 in zip((1, 10), snap["legs"], later["legs"], strict=True)
    )
    assert unhedged == pytest.approx(-1554.0, abs=1e-6)
    funding_usd = sum(leg["funding_received_usd"] for leg in later["legs"])
    moved = value_usd(later, after) - value_usd(snap, before)
    assert abs(moved - funding_usd) < 0.002 * abs(unhedged)  # measured: 16.24 vs 15.06 USD
    history = run_json(run_cli, "hedge", "history", "--json")
    assert history["funding_received"] == pytest.approx(
        sum(p["amount"] for p in pays), abs=1e-12
    )  # journaled by monitor, in coin

    # targets at the new marks: 1 x 65,642 / 100 -> 656 (0.76 % off, left alone under the 2 %
    # default); 10 x 3,442 / 10 = 3,442 (3.1 % off): buy back 3,549 - 3,442 = 107
    rebalanced = run_json(
        run_cli, "hedge", "rebalance", str(EXAMPLE), "--paper", "--execute", "--yes", "--json"
    )
    orders = [o for leg in rebalanced["legs"] for o in leg["orders"]]
    assert [(o["symbol"], o["side"], o["qty"]) for o in orders] == [(ETHUSD, "buy", 107.0)]
    assert rebalanced["report"]["new_fills"] == 1

    closed = run_json(
        run_cli, "hedge", "close", str(EXAMPLE), "--paper", "--execute", "--yes", "--json"
    )
    orders = [o for leg in closed["legs"] for o in leg["orders"]]
    assert all(o["reduce_only"] and o["side"] == "buy" for o in orders)
    assert sum(o["qty"] for o in orders if o["symbol"] == BTCUSD) == 661.0
    assert sum(o["qty"] for o in orders if o["symbol"] == ETHUSD) == 3442.0
    final = run_json(run_cli, "paper", "show", "--coin-margined", "--json")
    assert final["positions"] == []
    ports = paper_ports("binance", home_path, [BTCUSD, ETHUSD], coin_margined=True)
    with Journal(home_path / "journal.sqlite") as journal:
        assert compare_with_journal(journal, ports.execution) == []
        assert sum(f.qty * f.side.sign for f in journal.fills(BTCUSD)) == Decimal(0)
        assert {f.fee_currency for f in journal.fills()} == {"BTC", "ETH"}
    # the USDT-margined paper account was never created: its commands say so
    r = run_cli("paper", "show")
    assert r.code == 2 and "no paper account yet" in r.err
    assert run_cli("paper", "reset", "--coin-margined", "--yes").code == 0
    assert not (home_path / "paper" / "binance-coinm.json").exists()


def test_live_prices_are_refused_for_coin_margined_contracts(run_cli):
    r = run_cli("hedge", "open", str(EXAMPLE), "--paper", "--live-prices")
    assert r.code == 2 and "USDT-margined contracts only" in r.err
    assert len(r.err.strip().splitlines()) == 1
