"""The margin-move service: the amount checked and the account that moves it, before sending."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perphedge.errors import InputError
from perphedge.live.session import paper_ports
from perphedge.services.margin_move import (
    MAX_MOVE_USD,
    MarginMoveRequest,
    TransferRequest,
    prepare_move,
    prepare_transfer,
)


def test_a_paper_move_names_the_perpetual_and_rounds_to_cents(tmp_path: Path) -> None:
    request = MarginMoveRequest("add", "BTCUSDT", 100.004, "binance", paper=True)
    move = prepare_move(request, tmp_path)
    assert (move.symbol, move.amount, move.kind) == ("BTC/USDT:USDT", Decimal("100.0"), "add")
    assert move.ports.paper


@pytest.mark.parametrize("usd", [0.0, -5.0, float("nan"), MAX_MOVE_USD * 2])
def test_an_amount_outside_the_bounds_names_usd(tmp_path: Path, usd: float) -> None:
    with pytest.raises(InputError, match="USD"):
        prepare_move(MarginMoveRequest("add", "BTC", usd, "binance", paper=True), tmp_path)


def test_a_transfer_names_its_wallets_and_what_the_source_holds(tmp_path: Path) -> None:
    paper_ports("binance", tmp_path, ["BTC/USDT:USDT"], initial_usdt=Decimal(1000))
    request = TransferRequest("to-spot", 250.004, "binance", paper=True)
    transfer = prepare_transfer(request, tmp_path)
    assert (transfer.kind, transfer.wallets, transfer.amount) == (
        "transfer_out", ("futures", "spot"), Decimal("250.0"),
    )  # fmt: skip
    assert transfer.source_free == Decimal(1000)  # the new paper account's futures wallet


@given(usd=st.floats(max_value=0.0) | st.just(float("nan")) | st.just(float("inf")))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_transfer_amount_that_is_no_positive_number_names_usd(tmp_path: Path, usd: float) -> None:
    with pytest.raises(InputError, match=r"^USD="):
        prepare_transfer(TransferRequest("to-futures", usd, "binance", paper=True), tmp_path)


def test_more_than_the_spot_wallet_holds_names_usd_and_the_amount_free(tmp_path: Path) -> None:
    paper_ports("binance", tmp_path, ["BTC/USDT:USDT"])
    with pytest.raises(InputError, match=r"the spot wallet holds 0\.00 USDT free"):
        prepare_transfer(TransferRequest("to-futures", 1.0, "binance", paper=True), tmp_path)


def test_a_transfer_on_a_paper_account_not_made_yet_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"paper reset FILE --spot USD"):
        prepare_transfer(TransferRequest("to-futures", 1.0, "binance", paper=True), tmp_path)
