"""Every error of a portfolio document at once (the Start page shows them all beside their
fields), and the first of them is what loading the file says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.config import ConfigError, portfolio_errors, portfolio_from_dict


def _paths(document: dict[str, Any]) -> list[str]:
    return [error.path for error in portfolio_errors(document)]


def test_a_valid_document_has_no_error() -> None:
    document = {"holdings": [{"asset": "BTC", "quantity": 0.5}], "hedge": {"leverage": 3}}
    assert portfolio_errors(document) == []
    assert portfolio_from_dict(document).hedge.leverage == 3


def test_errors_in_several_holdings_and_sections_are_all_named() -> None:
    document = {
        "holdings": [
            {"asset": "BTC", "quantity": -3},
            {"asset": "ETH", "quantity": "lots"},  # a wrong type
            {"asset": "b t c", "quantity": 1, "price": -5, "ratio": 2},  # three in one
        ],
        "hedge": {"ratio": 1.5, "leverage": 0.5, "contract": "forward"},
        "keeper": {"min_distance": 2, "reserve_usd": -1},
    }
    errors = portfolio_errors(document)
    assert [e.path for e in errors] == [
        "holdings[1].quantity",  # types first (pydantic), then the values
        "hedge.contract",
        "holdings[0].quantity",
        "holdings[2].asset",
        "holdings[2].price",
        "holdings[2].ratio",
        "hedge.ratio",  # checked although the section's contract has a wrong type
        "hedge.leverage",
        "keeper.reserve_usd",
        "keeper.min_distance",
    ]
    assert str(errors[0]) == "portfolio.toml: holdings[1].quantity='lots': give a number"
    assert str(errors[3]) == (
        "portfolio.toml: holdings[2].asset='b t c': give a coin ticker such as BTC "
        "(letters and digits)"
    )
    assert str(errors[4]).endswith("holdings[2].price=-5: give a number greater than zero")


def test_a_wrong_type_does_not_hide_the_other_fields_of_its_holding() -> None:
    holding = {"asset": "e t h", "quantity": "lots", "colour": "red"}
    assert _paths({"holdings": [holding]}) == [
        "holdings[0].colour",
        "holdings[0].quantity",
        "holdings[0].asset",
    ]


def test_a_replaced_field_never_invents_an_error() -> None:
    # proxy = asset is wrong; replacing it must not make the beta 'need a proxy'
    holding = {"asset": "ETH", "quantity": 1, "proxy": "eth", "beta": 1.2}
    assert _paths({"holdings": [holding]}) == ["holdings[0].proxy"]
    # a bad asset replaced by a stand-in must not clash with the proxy
    holding = {"asset": "?", "quantity": 1, "proxy": "X", "beta": 1.2}
    assert _paths({"holdings": [holding]}) == ["holdings[0].asset"]


def test_a_misspelled_key_is_named_before_the_missing_one() -> None:
    paths = _paths({"holdings": [{"asset": "BTC", "quantiy": 1}]})
    assert paths == ["holdings[0].quantiy", "holdings[0].quantity"]


def test_no_holdings() -> None:
    assert _paths({"holdings": []}) == ["holdings"]
    assert _paths({}) == ["holdings"]  # missing


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, 10),
    st.sampled_from(["", "BTC", "eth", "x y", "12"]),
    st.none(),
)
holdings = st.lists(
    st.dictionaries(
        st.sampled_from(["asset", "quantity", "price", "ratio", "proxy", "beta", "qty"]),
        values,
    ),
    max_size=3,
)
sections = st.dictionaries(
    st.sampled_from(["ratio", "leverage", "min_distance", "target_distance", "reserve_usd"]),
    values,
)


@settings(max_examples=150, deadline=None)
@given(holdings, sections, sections)
def test_loading_names_the_first_of_the_listed_errors(
    rows: list[dict[str, Any]], hedge: dict[str, Any], keeper: dict[str, Any]
) -> None:
    keeper = {k: v for k, v in keeper.items() if k not in ("ratio", "leverage")}
    hedge = {k: v for k, v in hedge.items() if k in ("ratio", "leverage")}
    document = {"holdings": rows, "hedge": hedge, "keeper": keeper}
    errors = portfolio_errors(document)
    assert len({str(e) for e in errors}) == len(errors)  # no error twice
    if not errors:
        portfolio_from_dict(document)  # loads
        return
    with pytest.raises(ConfigError) as raised:
        portfolio_from_dict(document)
    assert str(raised.value) == str(errors[0])
