"""The paper account follows the plan: funded from it, every position shown, atomic advance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perphedge.store.market import MarketStore
from tests.factories import portfolio_file

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "data" / "examples"
LINEAR = str(EXAMPLES / "portfolio.toml")


def test_a_new_paper_account_holds_the_plan_s_margin_and_reserve(run_cli):
    plan = json.loads(run_cli("plan", LINEAR, "--json").out)
    assert run_cli("hedge", "open", LINEAR, "--paper").code == 0  # creates the account
    shown = json.loads(run_cli("paper", "show", "--json").out)
    (usdt,) = shown["balances"]
    # initial margin 10,800 (54,000 / 5x) plus the keeper's reserve the plan sizes
    assert plan["initial_margin"] == pytest.approx(10_800.0)
    expected = plan["initial_margin"] + plan["reserve_usd"]
    assert float(usdt["total"]) == pytest.approx(expected, abs=0.01)


def test_reset_funds_the_account_as_asked_and_says_where_the_reserve_comes_from(run_cli):
    plan = json.loads(run_cli("plan", LINEAR, "--json").out)
    r = run_cli("paper", "reset", LINEAR, "--yes")
    assert r.code == 0, r.err
    expected = round(plan["initial_margin"] + plan["reserve_usd"], 2)
    assert f"new paper account: {expected:,.2f} USDT" in r.out
    assert "reserve = the keeper's, sized on the worst 30-day windows" in " ".join(r.out.split())
    r = run_cli("paper", "reset", "--deposit", "5000", "--at", "2026-06-01", "--yes")
    assert r.code == 0, r.err
    assert "new paper account: 5,000.00 USDT; simulated now 2026-06-01 00:00 UTC" in r.out
    bad = run_cli("paper", "reset", "--deposit", "-5", "--yes")
    assert bad.code == 2 and bad.err == (
        "error: --deposit=-5.0 is invalid: give the USDT to deposit, > 0\n"
    )


def test_show_lists_every_position_and_flags_those_the_file_does_not_plan(run_cli, tmp_path):
    assert run_cli("hedge", "open", LINEAR, "--paper", "--execute", "--yes").code == 0
    only_btc = portfolio_file(tmp_path, [{"asset": "BTC", "quantity": 0.5}])
    data = json.loads(run_cli("paper", "show", str(only_btc), "--json").out)
    flags = {p["symbol"]: p["in_file"] for p in data["positions"]}
    assert flags == {"BTC/USDT:USDT": True, "ETH/USDT:USDT": False}
    text = run_cli("paper", "show", str(only_btc)).out
    assert "NOT IN THE FILE" in text


def test_advance_past_the_stored_prices_changes_nothing_and_says_what_to_do(run_cli):
    assert run_cli("hedge", "open", LINEAR, "--paper", "--execute", "--yes").code == 0
    before = json.loads(run_cli("paper", "show", "--json").out)
    r = run_cli("paper", "advance", "--hours", "100000")
    assert r.code == 2
    assert "nothing changed: run perphedge data sync, or perphedge paper reset --at" in r.err
    assert r.err.count("\n") == 1
    after = json.loads(run_cli("paper", "show", "--json").out)
    assert after == before
    assert run_cli("paper", "advance", "--hours", "8").code == 0  # still usable


def test_paper_legs_have_the_plan_s_margin_mode_and_distance_to_liquidation(run_cli):
    # plan: 5x isolated; paper cross from a 20,000 USDT wallet showed another distance
    assert run_cli("hedge", "open", LINEAR, "--paper", "--execute", "--yes").code == 0
    paper = {
        p["symbol"]: p for p in json.loads(run_cli("paper", "show", "--json").out)["positions"]
    }
    plan = {leg["symbol"]: leg for leg in json.loads(run_cli("plan", LINEAR, "--json").out)["legs"]}
    assert set(paper) == set(plan)
    for symbol, leg in plan.items():
        held = paper[symbol]
        assert (held["margin_mode"], float(held["leverage"])) == ("isolated", 5.0)
        assert -float(held["contracts"]) == leg["qty"]
        entry = float(held["entry_price"])
        distance = float(held["liquidation_price"]) / entry - 1
        # the same tiered formula at the same leverage: the same distance from the entry
        assert distance == pytest.approx(leg["liquidation_distance"], rel=1e-6)


def test_reset_starts_the_replay_at_the_plan_s_time_as_far_as_the_stored_marks_go(run_cli):
    plan = json.loads(run_cli("plan", LINEAR, "--json").out)
    # the file gives every price: the plan is dated by its latest stored figure (BTC funding)
    assert max(a["time"] for a in plan["as_of"]) == "2026-06-29T00:00:00Z"
    r = run_cli("paper", "reset", LINEAR, "--yes")
    assert r.code == 0, r.err
    said = " ".join(r.out.split())
    # the bundled sample's marks end earlier: the replay starts there and says why
    assert "simulated now 2026-05-17 00:00 UTC" in said
    assert (
        "note: the stored marks of BTC/USDT:USDT end at 2026-05-17 00:00 UTC, before the plan's "
        "prices (2026-06-29 00:00 UTC)"
    ) in said
    store = MarketStore()
    closes = [
        store.prices("binance", f"{s}/USDT:USDT", "mark", "8h").close[-1] for s in ("BTC", "ETH")
    ]
    assert (
        f"paper prices at simulated now 2026-05-17 00:00 UTC: BTC/USDT:USDT {closes[0]:,.2f}, "
        f"ETH/USDT:USDT {closes[1]:,.2f}"
    ) in said
    # two days on, the stored prices have run out: nothing changes and the fix is named
    late = run_cli("paper", "advance", "--hours", "72")
    assert late.code == 2 and "paper reset --at YYYY-MM-DD" in late.err
    shown = json.loads(run_cli("paper", "show", "--json").out)
    assert shown["simulated_now"].startswith("2026-05-17 00:0")  # (the wall clock moves it)
