"""Plan, paper and live agree on one portfolio: the same legs, the same margin mode, and the same
distance to liquidation at the same leverage; paper prices at the plan's as-of time.

The store gets spot and mark candles that end together (as after `data sync`), at the prices the
fake Binance quotes (60,000 and 3,000), so the plan, the paper replay and the venue price alike.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.factories import portfolio_file
from tests.fakes.binance_state import SPECS
from tests.fakes.binance_usdm import FakeBinance

EIGHT_HOURS_MS = 8 * 3_600_000
FIRST_MS = 1_782_864_000_000  # 2026-07-01 00:00 UTC
CANDLES = 9  # 2026-07-01 00:00 .. 2026-07-03 16:00 opens: the last closes 2026-07-04 00:00
PRICES = {"BTC": 60_000.0, "ETH": 3_000.0}


def store_with_aligned_candles(run_cli, tmp_path: Path) -> None:
    rows = ["exchange,symbol,kind,interval,ts_ms,open,high,low,close"]
    for asset, price in PRICES.items():
        for kind, symbol in (("spot", f"{asset}/USDT"), ("mark", f"{asset}/USDT:USDT")):
            for i in range(CANDLES):
                ts = FIRST_MS + i * EIGHT_HOURS_MS
                rows.append(f"binance,{symbol},{kind},8h,{ts},{price},{price},{price},{price}")
    csv = tmp_path / "candles.csv"
    csv.write_text("\n".join(rows) + "\n")
    done = run_cli("data", "import", str(csv))
    assert done.code == 0, done.err


def test_plan_paper_and_live_agree_on_legs_margin_mode_and_liquidation(run_cli, tmp_path):
    store_with_aligned_candles(run_cli, tmp_path)
    holdings = [{"asset": "BTC", "quantity": 0.5}, {"asset": "ETH", "quantity": 8}]
    path = str(portfolio_file(tmp_path, holdings, leverage=3, margin_mode="isolated"))

    plan = json.loads(run_cli("plan", path, "--json").out)
    prices = {a["input"]: a["time"] for a in plan["as_of"] if a["input"].endswith(" price")}
    assert prices == {"BTC price": "2026-07-04T00:00:00Z", "ETH price": "2026-07-04T00:00:00Z"}
    planned = {leg["symbol"]: leg for leg in plan["legs"]}

    opened = run_cli("hedge", "open", path, "--paper", "--execute", "--yes")
    assert opened.code == 0, opened.err
    # the replay starts at the plan's as-of time and says the marks it trades at
    said = " ".join(opened.out.split())
    assert (
        "paper prices at simulated now 2026-07-04 00:00 UTC: "
        "BTC/USDT:USDT 60,000.00, ETH/USDT:USDT 3,000.00"
    ) in said
    shown = json.loads(run_cli("paper", "show", "--json").out)
    assert shown["simulated_now"] == "2026-07-04 00:00 UTC"
    paper = {p["symbol"]: p for p in shown["positions"]}

    with FakeBinance() as fake:
        fake.state.wallet = Decimal(40_000)  # 18,000 USD of initial margin at 3x
        url = ["--base-url", fake.base_url]
        env = {"PERPHEDGE_BINANCE_API_KEY": fake.api_key, "PERPHEDGE_BINANCE_SECRET": fake.secret}
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            sent = run_cli(
                "hedge", "open", path, *url, "--execute", "--yes", "--order-timeout", "0"
            )
            assert sent.code == 0, sent.err
            watched = json.loads(run_cli("monitor", path, *url, "--once", "--json").out)
        live = {leg["symbol"]: leg for leg in watched["legs"]}
        entries = {f"{s.base}/USDT:USDT": float(p.entry) for s, p in _held(fake)}
        margin_types = {
            f"{s.base}/USDT:USDT": fake.state.margin_types.get(s.symbol) for s, _ in _held(fake)
        }

    assert set(planned) == set(paper) == set(live) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    for symbol, leg in planned.items():
        assert plan["margin_mode"] == "isolated" and plan["leverage"] == 3
        # same legs
        assert -float(paper[symbol]["contracts"]) == leg["qty"]
        assert -live[symbol]["position_contracts"] == leg["qty"]
        # same margin mode and leverage
        assert (paper[symbol]["margin_mode"], float(paper[symbol]["leverage"])) == ("isolated", 3)
        assert margin_types[symbol] == "ISOLATED"
        # the same distance to liquidation from the entry (the plan's: from its price)
        paper_entry = float(paper[symbol]["entry_price"])
        paper_distance = float(paper[symbol]["liquidation_price"]) / paper_entry - 1
        live_distance = live[symbol]["liquidation_price"] / entries[symbol] - 1
        assert paper_distance == pytest.approx(leg["liquidation_distance"], rel=1e-4)
        assert live_distance == pytest.approx(leg["liquidation_distance"], rel=1e-4)


def _held(fake: FakeBinance):
    return [
        (spec, fake.state.positions[m]) for m, spec in SPECS.items() if m in fake.state.positions
    ]
