"""`perphedge hedge open|rebalance|close` and `perphedge monitor` through the CLI entry point:
offline on the paper exchange, and against the local fake Binance through unmodified ccxt."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from perphedge.cli.wiring import Adapters
from perphedge.store.journal import Journal
from perphedge.store.market import MarketStore
from tests.factories import portfolio_file
from tests.fakes.binance_usdm import FakeBinance

HEDGE = {"leverage": 5, "exchange": "binance"}


def holdings(btc: float) -> list[dict[str, object]]:
    return [{"asset": "BTC", "quantity": btc}, {"asset": "ETH", "quantity": 8}]


@pytest.fixture
def portfolio(tmp_path: Path) -> Path:
    return portfolio_file(tmp_path, holdings(btc=0.5), **HEDGE)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"  # run_cli sets PERPHEDGE_HOME here


def legs(run_cli, portfolio: Path, *extra: str) -> dict[str, dict[str, object]]:
    r = run_cli("monitor", str(portfolio), "--paper", "--once", "--json", *extra)
    assert r.code == 0, r.err
    return {leg["symbol"]: leg for leg in json.loads(r.out)["legs"]}


def test_dry_run_prints_orders_and_sends_nothing(run_cli, portfolio, home):
    r = run_cli("hedge", "open", str(portfolio), "--paper")
    assert r.code == 0, r.err
    assert "dry run: nothing sent" in r.err
    # replayed marks 14 days before the sample ends: BTC 78,654.91, ETH 2,315.98; children of at
    # most 10,000 USD: BTC 0.5 in ceil(0.5 / 0.127) = 4, ETH 8 in ceil(8 / 4.317) = 2
    assert r.out.count("sell") == 6
    assert not (home / "journal.sqlite").exists() or Journal(home / "journal.sqlite").orders() == []
    assert {s: leg["position_contracts"] for s, leg in legs(run_cli, portfolio).items()} == {
        "BTC/USDT:USDT": 0.0,
        "ETH/USDT:USDT": 0.0,
    }


def test_open_rebalance_close_on_paper(run_cli, portfolio, home):
    r = run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)["report"]
    assert {o["status"] for o in report["orders"]} == {"filled"} and report["new_fills"] == 6
    after = legs(run_cli, portfolio)
    assert [after[s]["position_contracts"] for s in after] == [-0.5, -8.0]
    assert [after[s]["drift_fraction"] for s in after] == [0.0, 0.0]
    portfolio_file(portfolio.parent, holdings(btc=0.6), portfolio.name, **HEDGE)  # 0.1 BTC more
    r = run_cli("hedge", "rebalance", str(portfolio), "--paper", "--execute", "--yes", "--json")
    assert r.code == 0, r.err
    orders = [o for leg in json.loads(r.out)["legs"] for o in leg["orders"]]
    assert [(o["symbol"], o["side"], o["qty"]) for o in orders] == [("BTC/USDT:USDT", "sell", 0.1)]
    r = run_cli("hedge", "close", str(portfolio), "--paper", "--execute", "--yes", "--json")
    assert r.code == 0, r.err
    closing = [o for leg in json.loads(r.out)["legs"] for o in leg["orders"]]
    assert all(o["reduce_only"] and o["side"] == "buy" for o in closing)
    assert sum(o["qty"] for o in closing if o["symbol"] == "ETH/USDT:USDT") == 8.0
    assert [leg["position_contracts"] for leg in legs(run_cli, portfolio).values()] == [0.0, 0.0]


def test_declining_the_confirmation_sends_nothing(run_cli, portfolio, home, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = run_cli("hedge", "open", str(portfolio), "--paper", "--execute")
    assert r.code == 1 and "cancelled: nothing sent" in r.err
    assert "Send 6 order(s) to binance (paper)?" in r.err
    assert [leg["position_contracts"] for leg in legs(run_cli, portfolio).values()] == [0.0, 0.0]


def test_kill_switch_refuses_with_exit_3(run_cli, portfolio, home):
    home.mkdir(parents=True)
    (home / "KILL").write_text("")
    r = run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes")
    assert r.code == 3
    assert (
        r.err.strip()
        == f"error: kill switch {home / 'KILL'} is present: remove it to trade again (nothing was sent)"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--max-order-notional", "1000"], 3, "above the maximum order notional 1,000.00"),
        (["--max-leverage", "2"], 3, "above the cap 2x"),
        (["--max-leverage", "0"], 2, "--max-leverage=0.0 is invalid"),
        (["--order-timeout", "-1"], 2, "--order-timeout=-1.0 is invalid: give a number of zero"),
        (["--exchange", "nowhere"], 2, "exchange='nowhere' is invalid"),
    ],
)
def test_bad_options_and_guardrails(run_cli, portfolio, args, code, message):
    r = run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes", *args)
    assert r.code == code and message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_missing_portfolio_and_bad_monitor_options(run_cli, tmp_path, portfolio):
    r = run_cli("hedge", "close", str(tmp_path / "nope.toml"), "--paper")
    assert r.code == 2 and "no such file" in r.err
    r = run_cli("monitor", str(portfolio), "--paper", "--interval", "0")
    assert r.code == 2 and "--interval" in r.err
    r = run_cli("monitor", str(portfolio), "--paper", "--once", "--webhook", "ftp://x/y")
    assert r.code == 2 and "http:// or https://" in r.err


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_monitor_alerts_go_to_terminal_log_and_webhook(run_cli, portfolio, home, webhook):
    url, received = webhook
    r = run_cli("monitor", str(portfolio), "--paper", "--once", "--webhook", url)
    assert r.code == 0, r.err
    assert r.out.count("ALERT drift") == 2  # no hedge yet: both legs 100 % off target
    [body] = received
    assert [(a["code"], a["subject"]) for a in body["alerts"]] == [
        ("drift", "BTC/USDT:USDT"),
        ("drift", "ETH/USDT:USDT"),
    ]
    lines = (home / "logs" / "monitor.log").read_text().splitlines()
    assert [json.loads(line)["code"] for line in lines] == ["drift", "drift"]


def test_monitor_snapshot_numbers(run_cli, portfolio):
    assert run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes").code == 0
    r = run_cli("monitor", str(portfolio), "--paper", "--once", "--json")
    snap = json.loads(r.out)
    btc = snap["legs"][0]
    # next funding of a 0.5 BTC short = 0.5 * mark * rate (positive rate: the short earns)
    assert btc["next_funding_usd"] == pytest.approx(0.5 * btc["mark"] * btc["rate_per_interval"])
    assert btc["liquidation_price"] > btc["mark"] and 0 < btc["distance_to_liquidation"] < 1
    assert 0 < snap["margin_ratio"] < 0.05
    # isolated at 5x as the plan: each leg is liquidated about 19.5 % above its entry, closer
    # than monitor's 30 % limit, as plan warns
    assert [(a["code"], a["subject"]) for a in snap["alerts"]] == [
        ("liquidation", "BTC/USDT:USDT"),
        ("liquidation", "ETH/USDT:USDT"),
    ]
    assert [h["asset"] for h in snap["holdings"]] == ["BTC", "ETH"]


def test_secrets_never_leave_the_process(run_cli, portfolio, home, fake, tmp_path):
    """A whole flow through ccxt against the local fake with a secret in the environment:
    the secret and key appear in no output and in no file written under PERPHEDGE_HOME."""
    url = ["--base-url", fake.base_url]
    # 10,800 USD of margin at 5x on a 10,000 USD wallet: refused before any order (exit 3)
    fake.state.wallet = Decimal(10_000)
    short = run_cli("hedge", "open", str(portfolio), *url, "--max-leverage", "6")
    assert short.code == 3 and "800.00 USD missing" in short.err, short.err
    fake.state.wallet = Decimal(20_000)
    outputs = [
        short,
        run_cli("hedge", "open", str(portfolio), *url, "--execute", "--yes", "--max-leverage", "6", "--order-timeout", "0"),
        run_cli("monitor", str(portfolio), *url, "--once", "--json"),
        run_cli("hedge", "close", str(portfolio), *url, "--execute", "--yes", "--order-timeout", "0"),
    ]  # fmt: skip
    assert [o.code for o in outputs] == [3, 0, 0, 0], outputs[1].err
    assert fake.state.position_amt("BTCUSDT") == Decimal(0)  # closed
    texts = [o.out + o.err for o in outputs]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file()]
    assert len(texts) > 3 and any(p.name == "journal.sqlite" for p in home.rglob("*"))
    for text in texts:
        assert fake.secret not in text and fake.api_key not in text


def test_paper_advance_settles_funding_at_real_times(run_cli, portfolio, home):
    r = run_cli("paper", "show")
    assert r.code == 2 and "no paper account yet" in r.err
    # the replay starts at the plan's time, where the sample's marks end: start it earlier
    started = run_cli("paper", "reset", str(portfolio), "--at", "2026-05-01", "--yes")
    assert started.code == 0, started.err
    assert run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes").code == 0
    before = json.loads(run_cli("paper", "show", "--json").out)
    assert before["funding_payments"] == []
    r = run_cli("paper", "advance", "--hours", "24")
    assert r.code == 0 and "simulated now" in r.out
    after = json.loads(run_cli("paper", "show", "--json").out)
    pays = after["funding_payments"]
    # 24 h cross three 8-hourly settlements per leg (00:00, 08:00, 16:00 UTC)
    assert len(pays) == 6 and all(p["ts_ms"] % (8 * 3_600_000) == 0 for p in pays)
    store = MarketStore()
    for pay in pays:  # the store's real rate at that settlement; positive: the short earns
        series = store.funding("binance", pay["symbol"], pay["ts_ms"], pay["ts_ms"] + 1)
        size = 0.5 if pay["symbol"] == "BTC/USDT:USDT" else 8.0
        assert pay["amount"] / size / float(series.rate[0]) > 0  # same sign as the rate
    wallet = after["balances"][0]["total"] - before["balances"][0]["total"]
    assert wallet == pytest.approx(after["funding_received"], abs=1e-6)  # only funding moved it
    watched = json.loads(run_cli("monitor", str(portfolio), "--paper", "--once", "--json").out)
    received = sum(leg["funding_received_usd"] for leg in watched["legs"])
    assert received == pytest.approx(after["funding_received"], abs=1e-9)  # journaled by monitor
    assert json.loads(run_cli("hedge", "history", "--json").out)["funding_received"] == received
    assert run_cli("paper", "advance", "--hours", "-1").code == 2
    assert run_cli("paper", "reset", "--yes").code == 0
    assert not (home / "paper" / "binance.json").exists()


def test_key_that_can_withdraw_is_refused_but_monitor_reads(run_cli, portfolio, fake):
    fake.state.can_withdraw = True
    url = ["--base-url", fake.base_url]
    r = run_cli("hedge", "open", str(portfolio), *url, "--execute", "--yes")
    assert r.code == 3 and "this API key can withdraw funds" in r.err
    assert fake.calls("POST", "/fapi/v1/order") == []  # nothing sent
    r = run_cli("monitor", str(portfolio), *url, "--once", "--json")
    assert r.code == 0 and len(json.loads(r.out)["legs"]) == 2


def test_monitor_loop_sends_an_alert_once_until_it_clears(run_cli, portfolio, webhook):
    url, received = webhook
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the third wait

    args = ("monitor", str(portfolio), "--paper", "--interval", "7", "--webhook", url)
    r = run_cli(*args, adapters=Adapters(sleep=nap))
    assert r.code == 130  # interrupted
    assert naps == [7.0, 7.0, 7.0]  # three snapshots, each followed by a wait
    assert r.out.count("ALERT drift") == 6  # shown on every refresh (2 legs x 3)
    assert len(received) == 1  # but sent once: the drift never cleared


def test_paper_on_live_prices_sends_nothing_to_the_venue(run_cli, portfolio, home, monkeypatch):
    monkeypatch.delenv("PERPHEDGE_BINANCE_API_KEY", raising=False)
    with FakeBinance() as fake:  # public prices only: marks 60,000 and 3,000, no key
        url = ["--base-url", fake.base_url, "--paper", "--live-prices"]
        r = run_cli("hedge", "open", str(portfolio), *url, "--execute", "--yes", "--json")
        assert r.code == 0, r.err
        # children of at most 10,000 USD: BTC 4 x 0.125 at 60,000; ETH 2.667, 2.667, 2.666
        qtys = [o["qty"] for leg in json.loads(r.out)["legs"] for o in leg["orders"]]
        assert qtys == [0.125] * 4 + [2.667, 2.667, 2.666]
        assert fake.calls("POST", "/fapi/v1/order") == []  # the venue saw no order
        r = run_cli("monitor", str(portfolio), *url, "--once", "--json")
        marks = [leg["mark"] for leg in json.loads(r.out)["legs"]]
        positions = [leg["position_contracts"] for leg in json.loads(r.out)["legs"]]
        assert (marks, positions) == ([60000.0, 3000.0], [-0.5, -8.0])
    assert (home / "paper" / "binance-live.json").exists()


def test_a_second_executing_run_is_refused_while_one_holds_the_lock(run_cli, portfolio, home):
    from filelock import FileLock

    home.mkdir(parents=True)
    with FileLock(home / "run.lock"):  # another run is sending right now
        r = run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes")
        assert r.code == 3 and "another perphedge run is sending orders" in r.err
        assert run_cli("hedge", "open", str(portfolio), "--paper").code == 0  # dry runs may read
    assert run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes").code == 0


def test_history_lists_runs_from_the_journal(run_cli, portfolio, home):
    assert run_cli("hedge", "open", str(portfolio), "--paper", "--execute", "--yes").code == 0
    assert run_cli("hedge", "close", str(portfolio), "--paper", "--execute", "--yes").code == 0
    data = json.loads(run_cli("hedge", "history", "--json").out)
    assert data["journal"] == str(home / "journal.sqlite")
    assert [run["intent"]["kind"] for run in data["runs"]] == ["open", "close"]
    assert [len(run["orders"]) for run in data["runs"]] == [6, 6] and data["fills"] == 12
    r = run_cli("hedge", "history", "--limit", "1")
    assert r.code == 0 and "│ close-" in r.out and "│ open-" not in r.out
    assert run_cli("hedge", "history", "--limit", "0").code == 2


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_once_with_the_exchange_unreachable_alerts_and_exits_4(
    run_cli,
    portfolio,
    home,
    webhook,
    monkeypatch,
) -> None:
    monkeypatch.setenv("PERPHEDGE_BINANCE_API_KEY", "k")
    monkeypatch.setenv("PERPHEDGE_BINANCE_SECRET", "s")
    url, received = webhook
    r = run_cli("monitor", str(portfolio), "--once", "--base-url", _closed_port(), "--webhook", url)
    assert r.code == 4, r.err
    assert "ALERT unreachable" in r.err and "exchange unreachable since" in r.err
    [body] = received
    assert [a["code"] for a in body["alerts"]] == ["unreachable"]
    lines = (home / "logs" / "monitor.log").read_text().splitlines()
    assert [json.loads(line)["code"] for line in lines] == ["unreachable"]
