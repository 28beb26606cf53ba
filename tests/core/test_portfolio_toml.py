"""The portfolio file written by `perphedge init` and the page: same questions, same rules."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.config import ConfigError, HoldingConfig, parse_portfolio, portfolio_from_dict
from perphedge.portfolio_toml import (
    HOLDING_QUESTIONS,
    portfolio_toml,
    section_models,
    section_questions,
)
from perphedge.web.forms import document_to_fields, field_of, form_to_document

EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"

holdings = st.fixed_dictionaries(
    {
        "asset": st.sampled_from(["BTC", "eth", "SOL", "TAO"]),
        "quantity": st.floats(1e-6, 1e6, allow_nan=False),
    },
    optional={
        "price": st.floats(1e-4, 1e7, allow_nan=False),
        "ratio": st.floats(0, 1),
        "location": st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s),
    },
)
documents = st.fixed_dictionaries(
    {
        "holdings": st.lists(holdings, min_size=1, max_size=4),
        "hedge": st.fixed_dictionaries(
            {
                "ratio": st.floats(0, 1),
                "leverage": st.floats(1, 20),
                "exchange": st.sampled_from(["binance", "bybit", "okx"]),
                "contract": st.sampled_from(["linear", "inverse"]),
                "margin_mode": st.sampled_from(["isolated", "cross"]),
            }
        ),
    }
)


def test_holding_questions_are_the_file_keys() -> None:
    assert sorted(q.key for q in HOLDING_QUESTIONS) == sorted(HoldingConfig.model_fields)


def test_every_section_question_has_help_and_its_default() -> None:
    assert "hedge" in section_models()
    for section in section_models():
        for question in section_questions(section):
            assert question.label
            if section == "hedge":
                assert question.help and question.default is not None
    contract = {q.key: q for q in section_questions("hedge")}["contract"]
    assert contract.choices == ("linear", "inverse")


@settings(max_examples=40)
@given(documents)
def test_the_written_file_reads_back_as_the_same_portfolio(document: dict) -> None:
    text = portfolio_toml(document)
    assert tomllib.loads(text) == document  # every value survives, comments aside
    assert parse_portfolio(text) == portfolio_from_dict(document, "portfolio.toml")


@settings(max_examples=40)
@given(documents)
def test_the_form_carries_a_document_unchanged(document: dict) -> None:
    fields = {k: v for k, v in document_to_fields(document).items()}
    back = form_to_document(fields)
    assert portfolio_from_dict(back) == portfolio_from_dict(document)


def test_every_key_is_explained_in_the_file() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    lines = portfolio_toml(document).splitlines()
    for index, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[index - 1].startswith("# "), line


@pytest.mark.parametrize(
    ("form", "field", "fix"),
    [
        (
            {"holdings-0-asset": "BTC", "holdings-0-quantity": "-3"},
            "holdings-0-quantity",
            "greater",
        ),
        (
            {"holdings-0-asset": "BTC", "holdings-0-quantity": "lots"},
            "holdings-0-quantity",
            "number",
        ),
        ({"holdings-0-asset": "B!C", "holdings-0-quantity": "1"}, "holdings-0-asset", "ticker"),
        (
            {"holdings-0-asset": "BTC", "holdings-0-quantity": "1", "hedge-ratio": "2"},
            "hedge-ratio",
            "between 0 and 1",
        ),
        (
            {"holdings-0-asset": "BTC", "holdings-0-quantity": "1", "hedge-contract": "future"},
            "hedge-contract",
            "linear",
        ),
        ({"hedge-ratio": "1"}, "holdings", "at least one"),
    ],
)
def test_a_bad_field_is_named_by_the_file_rules(form: dict, field: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        portfolio_from_dict(form_to_document(form), "portfolio")
    assert field_of(raised.value.path) == field
    assert fix in raised.value.fix


def test_init_asks_again_and_writes_a_file_plan_reads(run_cli, tmp_path: Path) -> None:
    import json

    out = tmp_path / "mine.toml"
    answers = [
        "btc", "-1", "0.5", "ledger", "n",  # a wrong quantity is asked again
        "eth", "8", "", "y", "3000", "", "", "",  # more options: the price only
        "",  # no more holdings
        "", "x", "5", "", "", "", "",  # hedge: ratio 1, a wrong leverage, then 5
        "y", "0.5", "0.4", "0.8", *[""] * 13, "2000",  # keeper: a target below the minimum
    ]  # fmt: skip
    from typer.testing import CliRunner

    from perphedge.cli.app import app

    result = CliRunner().invoke(app, ["init", str(out)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "quantity=-1: give a number greater than zero" in result.output
    assert "leverage='x': give a number" in result.output
    assert "target_distance=0.4: give a distance above min_distance" in result.output
    written = tomllib.loads(out.read_text())
    assert written["holdings"] == [
        {"asset": "btc", "quantity": 0.5, "location": "ledger"},
        {"asset": "eth", "quantity": 8, "price": 3000},
    ]
    assert written["hedge"]["leverage"] == 5
    assert written["keeper"]["min_distance"] == 0.5 and written["keeper"]["reserve_usd"] == 2000
    assert written["keeper"]["reopen"] is True
    planned = run_cli("plan", str(out), "--json")
    assert planned.code == 0 and json.loads(planned.out)["legs"][1]["qty"] == 8.0


def test_init_never_overwrites_without_force(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "mine.toml"
    out.write_text("keep me")
    result = run_cli("init", str(out))
    assert result.code == 2 and "--force" in result.err
    assert out.read_text() == "keep me"
    assert run_cli("init", str(tmp_path / "mine.txt")).code == 2


def test_version_and_completion(run_cli) -> None:
    from perphedge import __version__

    assert run_cli("--version").out.strip() == f"perphedge {__version__}"
    assert "--install-completion" in run_cli("--help").out
