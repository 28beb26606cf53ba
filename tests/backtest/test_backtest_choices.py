"""Policies by name, `k=v` parameters and sweep grids."""

from __future__ import annotations

import pytest

from perphedge.backtest.choices import (
    bars_from,
    make_policy,
    parse_grid,
    parse_params,
    policy_name,
)
from perphedge.backtest.policies import DriftBand, FundingAware, Schedule, StaticRatio, VolTriggered
from perphedge.errors import InputError

H8 = 8 * 3_600_000


def test_durations_become_bars_of_the_grid():
    assert bars_from("21", H8, "every_bars") == 21
    assert bars_from("7d", H8, "every_bars") == 21  # 7 * 24 h / 8 h
    assert bars_from("36h", H8, "every_bars") == 4  # 36 / 8 = 4.5 -> 4 (round half to even)
    assert bars_from("1h", H8, "every_bars") == 1  # never below one bar
    with pytest.raises(InputError, match="every_bars='soon'"):
        bars_from("soon", H8, "every_bars")


def test_make_policy_defaults_and_params():
    assert make_policy("static", {}, 0.5, H8) == StaticRatio(0.5)
    assert make_policy("band", {"band": "0.1"}, 1.0, H8) == DriftBand(1.0, 0.1)
    assert make_policy("schedule", {}, 1.0, H8) == Schedule(1.0, 21)  # default 7d on 8 h bars
    funding = make_policy("funding", {"negative_window": "6", "reduced_ratio": "0.5"}, 1.0, H8)
    assert funding == FundingAware(
        ratio=1.0, negative_window=6, min_hold_bars=9, reduced_ratio=0.5
    )  # min_hold_bars default 3d = 9 bars
    vol = make_policy("vol", {"vol_window": "10d"}, 0.8, H8)
    assert vol == VolTriggered(ratio_high=0.8, vol_window=30)
    assert policy_name(vol) == "vol"


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("band", {"band": "2"}, "band"),  # out of bounds: (0, 1]
        ("band", {"ratio": "-1"}, "ratio"),
        ("static", {"band": "0.1"}, "--param band"),  # static takes no band
        ("funding", {"negative_window": "1.5"}, "negative_window"),
        ("vol", {"vol_threshold": "x"}, "vol_threshold"),
        ("magic", {}, "--policy"),
    ],
)
def test_bad_policy_input_names_the_field(name, params, field):
    with pytest.raises(InputError) as info:
        make_policy(name, params, 1.0, H8)
    assert info.value.field == field


def test_parse_params():
    assert parse_params(["band=0.1", " Ratio = 1 "]) == {"band": "0.1", "ratio": "1"}
    with pytest.raises(InputError, match="name=value"):
        parse_params(["band"])


def test_grid_is_the_product_without_duplicates():
    combos = parse_grid("policy=static,band;ratio=0.5,1;band=0.02,0.05;leverage=2,3")
    # static ignores band: 2 ratios x 2 leverages = 4; band: 2 x 2 x 2 = 8
    assert len(combos) == 12
    assert combos[0] == {"policy": "static", "ratio": "0.5", "leverage": "2"}
    assert {"policy": "band", "ratio": "1", "band": "0.05", "leverage": "3"} in combos


def test_grid_defaults_to_static_and_rejects_nonsense():
    assert parse_grid("leverage=2,5") == [
        {"leverage": "2", "policy": "static"},
        {"leverage": "5", "policy": "static"},
    ]
    for bad, match in [
        ("colour=red", "colour"),
        ("policy=static,magic", "magic"),
        ("ratio", "key=v1,v2"),
        ("ratio=1;ratio=2", "once"),
    ]:
        with pytest.raises(InputError, match=match):
            parse_grid(bad)
