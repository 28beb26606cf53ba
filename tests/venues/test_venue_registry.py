"""Venue registry: capability states, `require`, `perphedge exchanges`, per-venue liquidation."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.errors import CapabilityError, InputError
from perphedge.exchanges.capabilities import ccxt_claims, require, require_for, support
from perphedge.margin import Position, Rules, Side, liquidation, position_risk
from perphedge.venues import tier_tables
from perphedge.venues.registry import (
    VENUES,
    Capability,
    Support,
    venue,
)
from tests.recorded_venue import DISPROOFS, PROOFS

_TESTS = Path(__file__).resolve().parents[1]


def _all_proofs() -> set[tuple[str, Capability]]:
    for path in sorted(_TESTS.glob("test_venue_*.py")):
        importlib.import_module(f"tests.{path.stem}")
    return set(PROOFS)


def test_every_claimed_capability_has_a_recorded_proof_and_vice_versa():
    proofs = _all_proofs()
    claimed = {(v.name, cap) for v in VENUES.values() for cap in v.proven}
    assert claimed - proofs == set(), "claimed in venues.py without a recorded-response test"
    assert proofs - claimed == set(), "proven by a test but not claimed in venues.py"
    disclaimed = {(v.name, cap) for v in VENUES.values() for cap in v.disproven}
    assert disclaimed == DISPROOFS, "venues.py disproven differs from the disproving tests"
    assert not claimed & disclaimed


def test_a_proven_capability_is_also_claimed_by_ccxt():
    for v in VENUES.values():
        claims = ccxt_claims(v)
        assert [cap for cap in v.proven if not claims[cap]] == [], v.name


def test_states_follow_ccxt_flags_and_proofs():
    weex = venue("weex")
    # ccxt 4.5.90: weex has fetchLeverageTiers False and fetchMarketLeverageTiers False
    assert support(weex, Capability.LEVERAGE_TIERS) is Support.NO
    assert support(weex, Capability.COIN_MARGINED) is Support.NO  # no ccxt inverse id
    for v in VENUES.values():
        for cap in Capability:
            state = support(v, cap)
            assert (state is Support.YES) == (cap in v.proven and ccxt_claims(v)[cap])
            if cap in v.disproven:
                assert state is Support.NO


def test_require_refuses_a_missing_capability_naming_it():
    with pytest.raises(CapabilityError) as err:
        require("weex", Capability.LEVERAGE_TIERS)
    message = str(err.value)
    assert "weex" in message and "leverage_tiers" in message
    assert "bingx" in message  # a venue that has it is suggested
    assert "\n" not in message


def test_require_for_checks_coin_margined_contracts():
    with pytest.raises(CapabilityError, match="coin_margined"):
        require_for("plan", "weex", coin_margined=True)
    assert require_for("funding", "bingx") == []  # proven, so nothing unverified


def test_require_unknown_venue_is_input_error():
    with pytest.raises(InputError, match="use one of binance, bingx, bybit, mexc, okx, weex"):
        require("kraken", Capability.MARKETS)


def test_exchanges_table(run_cli):
    r = run_cli("exchanges")
    assert r.code == 0, r.err
    for name in VENUES:
        assert name in r.out
    # cells fold on narrow terminals (80 columns): check the words, not whole cells
    assert "approxim" in r.out and "published" in r.out and "unverified" in r.out


def test_exchanges_json(run_cli):
    r = run_cli("exchanges", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    rows = {row["venue"]: row for row in data["venues"]}
    assert list(rows) == ["binance", "bybit", "okx", "bingx", "mexc", "weex"]
    assert rows["weex"]["support"]["leverage_tiers"] == "no"
    assert rows["bingx"]["liquidation"] == "approximate (conservative)"
    for name, row in rows.items():
        assert set(row["support"]) == {c.value for c in Capability}
        for cap in VENUES[name].proven:
            assert row["support"][cap.value] == "yes"


def test_exchanges_selects_and_rejects(run_cli):
    r = run_cli("exchanges", "mexc", "--json")
    assert [row["venue"] for row in json.loads(r.out)["venues"]] == ["mexc"]
    bad = run_cli("exchanges", "kraken")
    assert bad.code == 2
    assert bad.err.strip().splitlines() == [
        "error: exchange='kraken' is invalid: use one of binance, bingx, bybit, mexc, okx, weex"
    ]


# --- liquidation per venue ------------------------------------------------------------------


def test_published_and_approximate_rules_per_venue():
    assert {v.name for v in VENUES.values() if v.liquidation_published} == {
        "binance",
        "bybit",
        "okx",
    }
    for name in ("bingx", "mexc", "weex"):
        assert venue(name).liquidation_rules is Rules.CONSERVATIVE


def test_conservative_rule_by_hand():
    # Short 1 BTC @ 60,000, 5x isolated: WB = 12,000; tiers binance:BTCUSDT, taker 0.05 %.
    # Conservative: LP = (WB + cum + q*EP) / (q*(1 + MMR + taker))
    #   tier 1 (0.4 %, cum 0): 72,000 / 1.0045 = 71,677.45 -> notional above 50,000: not tier 1;
    #   tier 2 (0.5 %, cum 50): 72,050 / 1.0055 = 71,655.89 -> inside [50,000, 600,000): accepted.
    # Binance: tier 2 with cum 50: (72,000 + 50) / 1.005 = 71,691.54 (further from entry).
    tiers = tier_tables.bundled("binance:BTCUSDT")
    pos = Position(Side.SHORT, 1.0, 60_000.0)
    cons = liquidation(pos, 12_000.0, tiers, rules=Rules.CONSERVATIVE, taker_fee=0.0005)
    assert cons.price == pytest.approx(72_050 / 1.0055, rel=1e-12)
    assert cons.approximate is True
    binance = liquidation(pos, 12_000.0, tiers, rules=Rules.BINANCE)
    assert binance.price == pytest.approx(72_050 / 1.005, rel=1e-12)
    assert binance.approximate is False
    risk = position_risk(pos, leverage=5, tiers=tiers, rules=venue("mexc").liquidation_rules)
    assert risk.approximate is True


@settings(max_examples=150)
@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    qty=st.floats(0.01, 5000.0),
    entry=st.floats(100.0, 200_000.0),
    leverage=st.floats(1.0, 20.0),
    taker=st.floats(0.0, 0.001),
)
def test_conservative_rule_never_lets_the_price_run_further(side, qty, entry, leverage, taker):
    # MM_cons(N) = N*(MMR+fee) >= N*MMR - cum = MM_binance(N) at every notional, so the
    # conservative liquidation price is at least as close to entry on the losing side.
    tiers = tier_tables.bundled("binance:BTCUSDT")
    pos = Position(side, qty, entry)
    wallet = qty * entry / leverage
    cons = liquidation(pos, wallet, tiers, rules=Rules.CONSERVATIVE, taker_fee=taker).price
    pub = liquidation(pos, wallet, tiers, rules=Rules.BINANCE).price
    if side is Side.SHORT:
        assert cons is not None and pub is not None
        assert cons <= pub * (1 + 1e-12)
    elif pub is not None:
        assert cons is not None and cons >= pub * (1 - 1e-12)


def test_liquidation_cli_flags_conservative_as_approximate(run_cli):
    r = run_cli(
        "liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "5",
        "--tiers", "binance:BTCUSDT", "--rules", "conservative",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "conservative rules (approximate)" in r.out


def test_liquidation_takes_the_venues_rules(run_cli):
    base = ["liquidation", "--side", "short", "--qty", "1", "--entry", "60000", "--leverage", "5",
            "--tiers", "binance:BTCUSDT", "--json"]  # fmt: skip
    mexc = json.loads(run_cli(*base, "--exchange", "mexc").out)
    assert mexc["rules"] == "conservative" and mexc["approximate"] is True
    assert mexc["liquidation_price"] == pytest.approx(72_050 / 1.0055, rel=1e-12)  # see above
    okx = json.loads(run_cli(*base, "--exchange", "okx").out)
    assert okx["rules"] == "okx" and okx["approximate"] is False
    clash = run_cli(*base, "--exchange", "weex", "--rules", "binance")
    assert clash.code == 2
    assert clash.err.strip() == (
        "error: --rules='binance' is invalid: weex uses conservative rules; "
        "drop --rules or --exchange"
    )


_README_ROWS = {
    "markets (contract size, steps, max leverage)": Capability.MARKETS,
    "maintenance-margin tiers": Capability.LEVERAGE_TIERS,
    "coin-margined (inverse) contracts": Capability.COIN_MARGINED,
    "mark price": Capability.MARK_PRICE,
    "the symbol's own funding interval": Capability.FUNDING_INTERVAL,
    "reduce-only orders": Capability.REDUCE_ONLY,
    "client order ids (sent and looked up)": Capability.CLIENT_ORDER_ID,
    "set leverage": Capability.SET_LEVERAGE,
    "hedge (long + short) position mode": Capability.HEDGE_MODE,
}


def test_readme_venue_table_matches_the_registry():
    readme = (_TESTS.parent / "README.md").read_text()
    header = "| capability | binance | bybit | okx | bingx | mexc | weex |"
    lines = readme[readme.index(header) :].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip().rstrip("¹²³⁴") for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    for label, cap in _README_ROWS.items():
        expected = [support(VENUES[n], cap).value for n in VENUES]
        assert rows[label] == expected, label
