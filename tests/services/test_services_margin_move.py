"""The margin-move service: the amount checked and the account that moves it, before sending."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from perphedge.errors import InputError
from perphedge.services.margin_move import MAX_MOVE_USD, MarginMoveRequest, prepare_move


def test_a_paper_move_names_the_perpetual_and_rounds_to_cents(tmp_path: Path) -> None:
    request = MarginMoveRequest("add", "BTCUSDT", 100.004, "binance", paper=True)
    move = prepare_move(request, tmp_path)
    assert (move.symbol, move.amount, move.kind) == ("BTC/USDT:USDT", Decimal("100.0"), "add")
    assert move.ports.paper


@pytest.mark.parametrize("usd", [0.0, -5.0, float("nan"), MAX_MOVE_USD * 2])
def test_an_amount_outside_the_bounds_names_usd(tmp_path: Path, usd: float) -> None:
    with pytest.raises(InputError, match="USD"):
        prepare_move(MarginMoveRequest("add", "BTC", usd, "binance", paper=True), tmp_path)
