"""The [keeper] section of the portfolio file: defaults, values, and one-line errors (exit 2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.config import ConfigError, parse_portfolio
from perphedge.hedge.keeper import FundingAction, KeeperPolicy, Shortfall
from tests.factories import portfolio_text

HOLDING = portfolio_text([{"asset": "BTC", "quantity": 1, "price": 60_000}])


def test_no_keeper_section_gives_the_default_policy() -> None:
    cfg = parse_portfolio(HOLDING)
    assert cfg.keeper == KeeperPolicy()
    assert cfg.reserve_usd is None


def test_values_reach_the_policy() -> None:
    cfg = parse_portfolio(
        HOLDING + "[keeper]\nmin_distance = 0.25\ntarget_distance = 0.6\n"
        'on_shortfall = "delever"\nfunding_action = "reduce"\nreserve_usd = 5000\n'
        "return_surplus = true\n"
    )
    assert cfg.keeper.min_distance == 0.25 and cfg.keeper.target_distance == 0.6
    assert cfg.keeper.on_shortfall is Shortfall.DELEVER
    assert cfg.keeper.funding_action is FundingAction.REDUCE
    assert cfg.keeper.return_surplus
    assert cfg.reserve_usd == 5000.0


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("min_distnce = 0.3", "portfolio.toml: keeper.min_distnce: unknown key"),
        ("min_distance = 1.5", "keeper.min_distance=1.5: give a fraction in (0, 1)"),
        ("target_distance = 0.2", "keeper.target_distance=0.2: give a distance above min_distance"),
        ('on_shortfall = "pray"', "keeper.on_shortfall='pray': use one of"),
        ('reopen = "maybe"', "keeper.reopen='maybe': give true or false"),
        ("reserve_usd = -1", "keeper.reserve_usd=-1: give USD >= 0"),
        ('drift_band = "x"', "keeper.drift_band='x': give a number"),
    ],
)
def test_bad_keeper_values_give_one_line(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_portfolio(HOLDING + "[keeper]\n" + section + "\n")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@settings(max_examples=40, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_min_distance_either_loads_or_names_the_field(value: float) -> None:
    text = HOLDING + f"[keeper]\nmin_distance = {value!r}\n"
    try:
        cfg = parse_portfolio(text)
    except ConfigError as bad:
        # out of (0, 1), or not below target_distance (0.5): both messages name min_distance
        assert "keeper.min_distance" in str(bad) or "above min_distance" in str(bad)
    else:
        assert 0.0 < cfg.keeper.min_distance < cfg.keeper.target_distance


def test_cli_exits_2_on_a_bad_keeper_key(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.toml"
    path.write_text(HOLDING + "[keeper]\ncooldown = 3\n", encoding="utf-8")
    result = run_cli("plan", str(path))
    assert result.code == 2
    assert "keeper.cooldown: unknown key" in result.err
    assert "\n" not in result.err.strip()
